//! End-to-end tests of upstash-ratelimit over the RESP backend (feature `resp`): straight to
//! the redis-server behind upstash-local, with the flag-less scripts.
#![allow(clippy::unwrap_used)]

use upstash_local::{testing, LocalStack};

use crate::ratelimit_common as common;
use upstash_ratelimit::redis;
use upstash_ratelimit::{Algorithm, LimitOptions, ManualClock, Ratelimit, Reason, RespStore};

async fn resp(stack: &LocalStack) -> RespStore<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(stack.redis_tcp_url()).unwrap();
    RespStore::new(client.get_multiplexed_async_connection().await.unwrap())
}

#[tokio::test]
async fn scripts_agree_with_reference_arithmetic_over_resp() {
    let stack = testing::shared();
    let store = resp(stack).await;
    for tagged in [false, true] {
        for algo in [
            Algorithm::fixed_window(5, "1 h").unwrap(),
            Algorithm::sliding_window(5, "1 h").unwrap(),
            Algorithm::token_bucket(2, "1 h", 5).unwrap(),
            Algorithm::cached_fixed_window(5, "1 h").unwrap(),
        ] {
            let prefix = testing::prefix("rl-resp");
            let store = std::sync::Arc::new(store.clone());
            common::scenario_matches_memory(store, algo, tagged, &prefix).await;
        }
    }
}

#[tokio::test]
async fn batches_decide_like_single_runs_over_resp() {
    let store = resp(testing::shared()).await;
    common::batches_decide_like_single_runs(store, &testing::prefix("rl-resp-batch")).await;
    let store = resp(testing::shared()).await;
    let broken = testing::prefix("rl-resp-batch-broken-limit");
    common::broken_dynamic_limit_leaves_the_same_counters(store, &broken).await;
    let store = resp(testing::shared()).await;
    let random = testing::prefix("rl-resp-batch-random");
    common::random_sliding_batches_match_single_runs(store, &random).await;
}

#[tokio::test]
async fn hash_tagged_keys_share_a_slot() {
    let stack = testing::shared();
    let store = resp(stack).await;
    let clock = ManualClock::new(common::scenario_start());
    let prefix = testing::prefix("rl-tag");
    let p = prefix.trim_end_matches(':');
    let rl = Ratelimit::builder(store.clone(), Algorithm::sliding_window(3, "1 h").unwrap())
        .prefix(p)
        .hash_tagged_keys(true)
        .clock(clock.clone())
        .build()
        .unwrap();
    rl.limit("user").await.unwrap();
    let mut conn = store.connection().clone();
    let key = format!("{p}:{{user}}:{}", common::scenario_start() / 3_600_000);
    let v: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("1"));
    assert!(
        Ratelimit::builder(store, Algorithm::fixed_window(1, "1 s").unwrap())
            .hash_tagged_keys(true)
            .dynamic_limits(true)
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn vanilla_redis_rejects_the_key_locking_flag() {
    let stack = testing::shared();
    let store = resp(stack).await.with_key_locking(true);
    let rl = Ratelimit::builder(store, Algorithm::fixed_window(3, "1 h").unwrap())
        .prefix(testing::prefix("rl-flag"))
        .build()
        .unwrap();
    let err = rl.limit("a").await.unwrap_err();
    assert!(err.to_string().contains("Unexpected flag"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_calls_admit_exactly_the_limit_over_resp() {
    let store = resp(testing::shared()).await;
    common::thousand_concurrent_calls_admit_exactly_100(store, &testing::prefix("rl-resp-conc"))
        .await;
}

#[tokio::test]
async fn script_flush_recovery_and_protection_over_resp() {
    let stack = testing::dedicated(upstash_local::Config::default());
    let store = resp(&stack).await;
    let rl = Ratelimit::builder(store.clone(), Algorithm::token_bucket(1, "1 h", 5).unwrap())
        .prefix("flush")
        .protection(true)
        .build()
        .unwrap();
    assert_eq!(rl.limit("a").await.unwrap().remaining, 4);
    let mut conn = store.connection().clone();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(rl.limit("a").await.unwrap().remaining, 3);
    let _: i64 = redis::cmd("SADD")
        .arg("flush:denyList:all")
        .arg("XX")
        .query_async(&mut conn)
        .await
        .unwrap();
    let r = rl
        .limit_with(
            "b",
            LimitOptions {
                country: Some("XX".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.reason, Some(Reason::DenyList));
    assert_eq!(r.denied_value.as_deref(), Some("XX"));
    stack.shutdown().await;
}
