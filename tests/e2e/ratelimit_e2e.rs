//! End-to-end tests of upstash-ratelimit over the Upstash REST backend, against upstash-local
//! (a real Upstash REST server in front of a real redis-server).
//!
//! The scenarios use a manual clock (timestamps come from the client, as in JS) with windows
//! long enough that nothing expires by the server's real clock during a test, and each test
//! works under its own prefix. Tests that count server requests or flush the script cache
//! use a dedicated stack.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use upstash_local::{testing, Config, LocalStack};
use upstash_ratelimit::{
    Algorithm, IpDenyList, LimitOptions, ManualClock, MemoryStore, Ratelimit, Reason, RestStore,
    Store, TimeoutPolicy,
};
use upstash_redis::Redis;

use crate::ratelimit_common as common;

/// A multiple of every window used below, in the near past (keys get real TTLs).
fn t0() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    now / 86_400_000 * 86_400_000
}

fn client(stack: &LocalStack) -> Redis {
    Redis::new(stack.redis_rest_url(), stack.redis_token()).expect("client")
}

fn limiter(store: impl Store, algo: Algorithm, prefix: &str, clock: &ManualClock) -> Ratelimit {
    Ratelimit::builder(store, algo)
        .prefix(prefix)
        .ephemeral_cache(false)
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn algorithms() -> Vec<Algorithm> {
    vec![
        Algorithm::fixed_window(5, "1 h").unwrap(),
        Algorithm::sliding_window(5, "1 h").unwrap(),
        Algorithm::token_bucket(2, "1 h", 5).unwrap(),
    ]
}

/// The Lua scripts on a real redis-server give exactly the decisions of the natively
/// implemented (and unit-tested) arithmetic, step by step.
#[tokio::test]
async fn scripts_agree_with_reference_arithmetic() {
    let stack = testing::shared();
    for algo in algorithms()
        .into_iter()
        .chain([Algorithm::cached_fixed_window(5, "1 h").unwrap()])
    {
        let prefix = testing::prefix("rl-parity");
        let store = std::sync::Arc::new(client(stack));
        common::scenario_matches_memory(store, algo, false, &prefix).await;
    }
}

#[tokio::test]
async fn keys_values_and_ttls_match_js_layout() {
    let stack = testing::shared();
    let redis = client(stack);
    let now = t0() + 12_345;
    let clock = ManualClock::new(now);
    let prefix = testing::prefix("rl-keys");
    let p = prefix.trim_end_matches(':');

    let fixed = limiter(
        redis.clone(),
        Algorithm::fixed_window(10, "10 s").unwrap(),
        p,
        &clock,
    );
    fixed.limit("u").await.unwrap();
    let key = format!("{p}:u:{}", now / 10_000);
    assert_eq!(
        redis.get::<Option<String>>(&key).await.unwrap().as_deref(),
        Some("1")
    );
    let pttl: i64 = redis.cmd("PTTL").arg(&key).query().await.unwrap();
    assert!(pttl > 9_000 && pttl <= 10_000, "{pttl}");

    let sliding = limiter(
        redis.clone(),
        Algorithm::sliding_window(10, "10 s").unwrap(),
        &format!("{p}s"),
        &clock,
    );
    sliding.limit("u").await.unwrap();
    let key = format!("{p}s:u:{}", now / 10_000);
    let pttl: i64 = redis.cmd("PTTL").arg(&key).query().await.unwrap();
    assert!(pttl > 20_000 && pttl <= 21_000, "{pttl}");
    let prev_exists: i64 = redis
        .cmd("EXISTS")
        .arg(format!("{p}s:u:{}", now / 10_000 - 1))
        .query()
        .await
        .unwrap();
    assert_eq!(prev_exists, 0, "only the current window is written");

    let bucket = limiter(
        redis.clone(),
        Algorithm::token_bucket(5, "10 s", 10).unwrap(),
        &format!("{p}t"),
        &clock,
    );
    bucket.limit_with("u", LimitOptions::rate(8)).await.unwrap();
    let key = format!("{p}t:u");
    let kind: String = redis.cmd("TYPE").arg(&key).query().await.unwrap();
    assert_eq!(kind, "hash");
    let fields: Vec<String> = redis
        .cmd("HMGET")
        .arg(&key)
        .arg("refilledAt")
        .arg("tokens")
        .query()
        .await
        .unwrap();
    assert_eq!(fields, vec![now.to_string(), "2".to_owned()]);
    let pttl: i64 = redis.cmd("PTTL").arg(&key).query().await.unwrap();
    assert!(
        pttl > 19_000 && pttl <= 20_000,
        "ceil((10-2)/5)*10s: {pttl}"
    );
}

/// `negative-rate.test.ts` values over REST: window 2 d, limit 10.
#[tokio::test]
async fn negative_rate_suite_over_rest() {
    let stack = testing::shared();
    let prefix = testing::prefix("rl-neg");
    for (i, algo) in [
        Algorithm::fixed_window(10, "2d").unwrap(),
        Algorithm::sliding_window(10, "2d").unwrap(),
        Algorithm::token_bucket(10, "2d", 10).unwrap(),
    ]
    .into_iter()
    .enumerate()
    {
        let rl = Ratelimit::builder(client(stack), algo)
            .prefix(format!("{prefix}{i}"))
            .build()
            .unwrap();
        let rate = |id: &'static str, r: i64| {
            let rl = rl.clone();
            async move { rl.limit_with(id, LimitOptions::rate(r)).await.unwrap() }
        };
        let r = rate("a", -3).await;
        assert!(r.success);
        assert_eq!(r.remaining, 13, "{algo:?}");
        assert_eq!(rl.get_remaining("a").await.unwrap().remaining, 13);
        rate("b", 4).await;
        assert_eq!(rate("b", -2).await.remaining, 8);
        rate("c", 10).await;
        assert_eq!(rate("c", -3).await.remaining, 3);
        for _ in 0..12 {
            rl.limit("d").await.unwrap();
        }
        assert_eq!(
            rl.limit("d").await.unwrap().reason,
            Some(Reason::CacheBlock)
        );
        let r = rate("d", -5).await;
        assert!(r.success && r.remaining > 0, "{algo:?}");
        assert!(
            rl.limit("d").await.unwrap().success,
            "the refund cleared the block"
        );
        rate("e", 4).await;
        assert_eq!(rate("e", 0).await.remaining, 6);
        rate("f", 1).await;
        assert_eq!(rate("f", -3).await.remaining, 12);
        assert_eq!(rate("g", -1000).await.remaining, 1010);
        assert_eq!(rate("h", 8).await.remaining, 2);
        assert_eq!(rate("h", -2).await.remaining, 4);
        assert_eq!(rate("h", -3).await.remaining, 7);
        assert_eq!(rate("h", 5).await.remaining, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_calls_admit_exactly_the_limit() {
    let redis = client(testing::shared());
    common::thousand_concurrent_calls_admit_exactly_100(redis, &testing::prefix("rl-conc")).await;
}

#[tokio::test]
async fn batches_decide_like_single_runs_over_rest() {
    let stack = testing::shared();
    common::batches_decide_like_single_runs(client(stack), &testing::prefix("rl-batch")).await;
    let plain = RestStore::new(client(stack), false);
    common::batches_decide_like_single_runs(plain, &testing::prefix("rl-batch-plain")).await;
    let broken = testing::prefix("rl-batch-broken-limit");
    common::broken_dynamic_limit_leaves_the_same_counters(client(stack), &broken).await;
    let random = testing::prefix("rl-batch-random");
    common::random_sliding_batches_match_single_runs(client(stack), &random).await;
}

/// One HTTP request per decision at concurrency 1; a blocked id cached locally makes none.
#[tokio::test]
async fn requests_per_decision_and_cache_blocks_make_no_calls() {
    let stack = testing::dedicated(Config::default());
    let stats = stack.redis_stats();
    let redis = client(&stack);
    for algo in algorithms() {
        let rl = Ratelimit::builder(redis.clone(), algo)
            .prefix(format!("cache-{}", algo.name()))
            .build()
            .unwrap();
        rl.limit("warm").await.unwrap(); // loads the script (NOSCRIPT, then EVAL)
        stats.reset();
        for _ in 0..5 {
            assert!(rl.limit("a").await.unwrap().success);
        }
        assert_eq!(
            stats.snapshot().http_requests,
            5,
            "{algo:?}: one request per decision"
        );
        let r = rl.limit("a").await.unwrap();
        assert!(!r.success && r.reason.is_none());
        stats.reset();
        for _ in 0..20 {
            let r = rl.limit("a").await.unwrap();
            assert_eq!(r.reason, Some(Reason::CacheBlock));
        }
        assert_eq!(
            stats.snapshot().http_requests,
            0,
            "{algo:?}: a cached block is free"
        );
    }
    stack.shutdown().await;
}

#[tokio::test]
async fn script_flush_recovery() {
    let stack = testing::dedicated(Config::default());
    let redis = client(&stack);
    let rl = Ratelimit::builder(redis.clone(), Algorithm::sliding_window(10, "1 h").unwrap())
        .prefix("flush")
        .build()
        .unwrap();
    assert_eq!(rl.limit("a").await.unwrap().remaining, 9);
    let _: String = redis.cmd("SCRIPT").arg("FLUSH").query().await.unwrap();
    let stats = stack.redis_stats();
    stats.reset();
    assert_eq!(rl.limit("a").await.unwrap().remaining, 8);
    assert_eq!(
        stats.snapshot().http_requests,
        2,
        "EVALSHA (NOSCRIPT), then EVAL"
    );
    stats.reset();
    assert_eq!(rl.limit("a").await.unwrap().remaining, 7);
    assert_eq!(stats.snapshot().http_requests, 1, "EVALSHA only");
    stack.shutdown().await;
}

#[tokio::test]
async fn both_script_flavours_run() {
    let stack = testing::shared();
    for flagged in [true, false] {
        let store = RestStore::new(client(stack), flagged);
        let rl = Ratelimit::builder(store, Algorithm::fixed_window(2, "1 h").unwrap())
            .prefix(testing::prefix("rl-flavour"))
            .build()
            .unwrap();
        assert_eq!(
            rl.limit("a").await.unwrap().remaining,
            1,
            "flagged={flagged}"
        );
    }
}

#[tokio::test]
async fn dynamic_limits_over_rest() {
    let stack = testing::shared();
    for algo in algorithms() {
        let rl = Ratelimit::builder(client(stack), algo)
            .prefix(testing::prefix("rl-dyn"))
            .dynamic_limits(true)
            .build()
            .unwrap();
        rl.set_dynamic_limit(Some(3)).await.unwrap();
        let r = rl.limit_with("a", LimitOptions::rate(3)).await.unwrap();
        assert_eq!((r.success, r.limit, r.remaining), (true, 3, 0), "{algo:?}");
        let r = rl.limit_with("b", LimitOptions::rate(5)).await.unwrap();
        assert_eq!((r.success, r.limit), (false, 3), "{algo:?}");
        rl.set_dynamic_limit(None).await.unwrap();
        assert_eq!(rl.get_dynamic_limit().await.unwrap(), None);
        let r = rl.limit("c").await.unwrap();
        assert_eq!((r.limit, r.remaining), (5, 4), "{algo:?}");
    }
}

#[tokio::test]
async fn deny_list_and_analytics_members() {
    let stack = testing::shared();
    let redis = client(stack);
    let prefix = testing::prefix("rl-deny");
    let p = prefix.trim_end_matches(':').to_owned();
    let now = t0() + 1_000;
    let clock = ManualClock::new(now);
    let rl = Ratelimit::builder(redis.clone(), Algorithm::fixed_window(10, "1 h").unwrap())
        .prefix(&p)
        .protection(true)
        .analytics(true)
        .clock(clock)
        .build()
        .unwrap();
    let _: i64 = redis
        .cmd("SADD")
        .arg(format!("{p}:denyList:all"))
        .arg("evil-agent")
        .query()
        .await
        .unwrap();
    let r = rl
        .limit_with(
            "user1",
            LimitOptions {
                user_agent: Some("evil-agent".into()),
                geo: vec![("country".into(), "DE".into())],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!r.success);
    assert_eq!(r.reason, Some(Reason::DenyList));
    assert_eq!(r.denied_value.as_deref(), Some("evil-agent"));
    r.pending.wait().await;
    let ok = rl.limit("user2").await.unwrap();
    assert!(ok.success);
    ok.pending.wait().await;
    let events = format!("{p}:events:{}", now / 3_600_000 * 3_600_000);
    let members: Vec<String> = redis
        .cmd("ZRANGE")
        .arg(&events)
        .arg(0)
        .arg(-1)
        .query()
        .await
        .unwrap();
    let mut members = members;
    members.sort();
    assert_eq!(
        members,
        vec![
            r#"{"identifier":"evil-agent","success":"denied","country":"DE"}"#.to_owned(),
            r#"{"identifier":"user2","success":true}"#.to_owned(),
        ]
    );
    let ttl: i64 = redis.cmd("TTL").arg(&events).query().await.unwrap();
    assert_eq!(ttl, -1, "JS never expires analytics keys");
    let status: Option<String> = redis.get(format!("{p}:ipDenyListStatus")).await.unwrap();
    assert_eq!(status.as_deref(), Some("pending"));
}

/// A server that accepts connections and never answers: the decision times out.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn timeout_fails_open_or_closed() {
    let url = black_hole().await;
    for (policy, success) in [
        (TimeoutPolicy::FailOpen, true),
        (TimeoutPolicy::FailClosed, false),
    ] {
        let redis = Redis::new(&url, "token").unwrap();
        let rl = Ratelimit::builder(redis, Algorithm::sliding_window(10, "10 s").unwrap())
            .timeout(Some(Duration::from_millis(300)))
            .timeout_policy(policy)
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        let r = rl.limit("a").await.unwrap();
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(290) && elapsed < Duration::from_millis(1_000),
            "{elapsed:?}"
        );
        assert_eq!(r.success, success);
        assert_eq!(r.reason, Some(Reason::Timeout));
        assert_eq!((r.limit, r.remaining, r.reset), (0, 0, 0));
    }
}

#[tokio::test]
async fn reset_and_block_until_ready() {
    let stack = testing::shared();
    let rl = Ratelimit::builder(client(stack), Algorithm::fixed_window(10, "1 h").unwrap())
        .prefix(testing::prefix("rl-reset"))
        .build()
        .unwrap();
    for _ in 0..15 {
        rl.limit("a").await.unwrap();
    }
    rl.reset_used_tokens("a").await.unwrap();
    assert_eq!(rl.limit("a").await.unwrap().remaining, 9);

    let quick = Ratelimit::builder(client(stack), Algorithm::fixed_window(1, "1 s").unwrap())
        .prefix(testing::prefix("rl-block"))
        .build()
        .unwrap();
    assert!(
        quick
            .block_until_ready("b", Duration::from_secs(3))
            .await
            .unwrap()
            .success
    );
    let started = std::time::Instant::now();
    let r = quick
        .block_until_ready("b", Duration::from_secs(3))
        .await
        .unwrap();
    assert!(r.success);
    assert!(started.elapsed() <= Duration::from_millis(1_500));
    let slow = Ratelimit::builder(client(stack), Algorithm::fixed_window(1, "1 h").unwrap())
        .prefix(testing::prefix("rl-block2"))
        .build()
        .unwrap();
    slow.limit("c").await.unwrap();
    let started = std::time::Instant::now();
    let r = slow
        .block_until_ready("c", Duration::from_secs(1))
        .await
        .unwrap();
    assert!(!r.success);
    assert!(started.elapsed() >= Duration::from_millis(950));
}

/// Serves an ipsum-format feed at `/levels/6.txt`, counting the fetches.
async fn ipsum_feed(body: &'static str) -> (String, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let app = axum::Router::new().route(
        "/levels/6.txt",
        axum::routing::get(move || {
            counter.fetch_add(1, AtomicOrdering::SeqCst);
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/levels"), fetches)
}

/// The automatic IP deny list: the call that finds the status missing refreshes it in the
/// background; listed addresses are then denied; values added by hand are never part of the
/// automatic list, so disabling it keeps them.
#[tokio::test]
async fn ip_deny_list_refreshes_from_the_feed_and_can_be_disabled() {
    let (source, fetches) = ipsum_feed("# IPsum\n# level 6\n10.0.0.1\t8\n10.0.0.2\t6\n").await;
    let stack = testing::shared();
    let redis = client(stack);
    let p = testing::prefix("rl-ipsum").trim_end_matches(':').to_owned();
    let all = format!("{p}:denyList:all");
    let _: i64 = redis
        .cmd("SADD")
        .arg((&all, "10.0.0.2", "bad-agent"))
        .query()
        .await
        .unwrap();
    let rl = ipsum_limiter(redis.clone(), &p, &source);

    // No list yet: allowed, and this call refreshes it.
    let first = rl.limit_with("u1", ip("10.0.0.1")).await.unwrap();
    assert!(first.success);
    first.pending.wait().await;
    assert_eq!(fetches.load(AtomicOrdering::SeqCst), 1);
    let mut auto: Vec<String> = redis
        .cmd("SMEMBERS")
        .arg(format!("{p}:denyList:ipDenyList"))
        .query()
        .await
        .unwrap();
    auto.sort();
    assert_eq!(auto, ["10.0.0.1"]);
    let mut denied: Vec<String> = redis.cmd("SMEMBERS").arg(&all).query().await.unwrap();
    denied.sort();
    assert_eq!(denied, ["10.0.0.1", "10.0.0.2", "bad-agent"]);
    let status: Option<String> = redis.get(format!("{p}:ipDenyListStatus")).await.unwrap();
    assert_eq!(status.as_deref(), Some("valid"));
    let pttl: i64 = redis
        .cmd("PTTL")
        .arg(format!("{p}:ipDenyListStatus"))
        .query()
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 86_400_000, "{pttl}");

    // Listed now; the list is valid, so no second fetch.
    let second = rl.limit_with("u2", ip("10.0.0.1")).await.unwrap();
    assert!(!second.success);
    assert_eq!(second.reason, Some(Reason::DenyList));
    assert_eq!(second.denied_value.as_deref(), Some("10.0.0.1"));
    second.pending.wait().await;
    assert_eq!(fetches.load(AtomicOrdering::SeqCst), 1);

    // Disabled: the automatic addresses leave, the manual ones stay, no refresh any more.
    rl.disable_ip_deny_list().await.unwrap();
    let mut denied: Vec<String> = redis.cmd("SMEMBERS").arg(&all).query().await.unwrap();
    denied.sort();
    assert_eq!(denied, ["10.0.0.2", "bad-agent"]);
    let status: Option<String> = redis.get(format!("{p}:ipDenyListStatus")).await.unwrap();
    assert_eq!(status.as_deref(), Some("disabled"));
    let third = rl.limit_with("u3", ip("10.0.0.3")).await.unwrap();
    assert!(third.success);
    third.pending.wait().await;
    assert_eq!(fetches.load(AtomicOrdering::SeqCst), 1);

    // A manual refresh brings it back.
    assert_eq!(rl.refresh_ip_deny_list().await.unwrap(), 1);
    assert_eq!(fetches.load(AtomicOrdering::SeqCst), 2);
}

/// A fixed window of 10 per hour under `prefix`, with the automatic IP deny list read from
/// `source` and no ephemeral cache.
fn ipsum_limiter(store: impl Store, prefix: &str, source: &str) -> Ratelimit {
    Ratelimit::builder(store, Algorithm::fixed_window(10, "1 h").unwrap())
        .prefix(prefix)
        .ephemeral_cache(false)
        .ip_deny_list(IpDenyList::new(6).unwrap().source_url(source))
        .build()
        .unwrap()
}

/// A call from `ip`.
fn ip(ip: &str) -> LimitOptions {
    LimitOptions {
        ip: Some(ip.into()),
        ..Default::default()
    }
}

/// The in-memory store runs the same refresh and disable steps.
#[tokio::test]
async fn ip_deny_list_on_the_memory_store() {
    let (source, fetches) = ipsum_feed("10.9.0.1\n10.9.0.2\n").await;
    let store = MemoryStore::new();
    let rl = ipsum_limiter(
        store.clone(),
        testing::prefix("rl-ipsum-mem").trim_end_matches(':'),
        &source,
    );
    let first = rl.limit_with("a", ip("10.9.0.2")).await.unwrap();
    assert!(first.success);
    first.pending.wait().await;
    assert_eq!(fetches.load(AtomicOrdering::SeqCst), 1);
    let second = rl.limit_with("b", ip("10.9.0.2")).await.unwrap();
    assert_eq!(second.reason, Some(Reason::DenyList));
    rl.disable_ip_deny_list().await.unwrap();
    // A new address (the denied one stays in the process-wide 60 s deny cache).
    let third = rl.limit_with("c", ip("10.9.0.1")).await.unwrap();
    assert!(third.success);
    assert_eq!(rl.refresh_ip_deny_list().await.unwrap(), 2);
}
