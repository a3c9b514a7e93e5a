//! Multi-region limiting over two redis-servers (two dedicated upstash-local stacks).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use upstash_local::{testing, Config, LocalStack};
use upstash_ratelimit::{Algorithm, Clock, MultiRegionRatelimit, Reason};
use upstash_redis::Redis;

fn client(stack: &LocalStack) -> Redis {
    Redis::new(stack.redis_rest_url(), stack.redis_token()).unwrap()
}

async fn hash(redis: &Redis, key: &str) -> HashMap<String, i64> {
    let flat: Vec<String> = redis.cmd("HGETALL").arg(key).query().await.unwrap();
    flat.chunks(2)
        .map(|c| (c[0].clone(), c[1].parse().unwrap()))
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_regions_converge_with_weights_and_ttls() {
    let (a, b) = (
        testing::dedicated(Config::default()),
        testing::dedicated(Config::default()),
    );
    let (ra, rb) = (client(&a), client(&b));
    for algo in [
        Algorithm::fixed_window(10, "1 h").unwrap(),
        Algorithm::sliding_window(10, "1 h").unwrap(),
    ] {
        let prefix = format!("mr-{}", algo.name());
        let rl = MultiRegionRatelimit::builder(algo)
            .region(ra.clone())
            .region(rb.clone())
            .prefix(&prefix)
            .build()
            .unwrap();
        let mut expected_used = 0;
        for rate in [1, 2, 3] {
            let r = rl.limit_rate("u", rate).await.unwrap();
            assert!(r.success, "{algo:?}");
            expected_used += rate;
            assert_eq!(r.remaining, 10 - expected_used, "{algo:?}");
            r.pending.wait().await;
        }
        let key = format!("{prefix}:u:{}", now_ms() / 3_600_000);
        let (ha, hb) = (hash(&ra, &key).await, hash(&rb, &key).await);
        assert_eq!(ha, hb, "{algo:?}: both regions hold the union");
        assert_eq!(ha.len(), 3);
        assert!(ha
            .keys()
            .all(|k| k.len() == 16 && k.chars().all(|c| c.is_ascii_alphanumeric())));
        let mut weights: Vec<i64> = ha.values().copied().collect();
        weights.sort();
        assert_eq!(weights, vec![1, 2, 3], "each id keeps its own weight");
        for r in [&ra, &rb] {
            let pttl: i64 = r.cmd("PTTL").arg(&key).query().await.unwrap();
            assert!(pttl > 0, "{algo:?}: keys expire ({pttl})");
        }
        // Exhaust the limit, then the ephemeral cache blocks.
        let r = rl.limit_rate("u", 5).await.unwrap();
        r.pending.wait().await;
        let r = rl.limit_rate("u", 1).await.unwrap();
        assert!(!r.success, "{algo:?}");
        let r = rl.limit("u").await.unwrap();
        assert_eq!(r.reason, Some(Reason::CacheBlock));
        let g = rl.get_remaining("u").await.unwrap();
        // Fixed windows record rejected requests; sliding windows do not.
        let expected = if matches!(algo, Algorithm::FixedWindow { .. }) {
            0
        } else {
            4
        };
        assert_eq!(g.remaining, expected, "{algo:?}");
        rl.reset_used_tokens("u").await.unwrap();
        assert_eq!(rl.get_remaining("u").await.unwrap().remaining, 10);
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// Ids only one region holds (requests made while the other was unreachable) reach the
/// other region with their own weight, not the current request's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_copies_missing_ids_with_their_weights() {
    let (a, b) = (
        testing::dedicated(Config::default()),
        testing::dedicated(Config::default()),
    );
    let (ra, rb) = (client(&a), client(&b));
    let rl = MultiRegionRatelimit::builder(Algorithm::fixed_window(10, "1 h").unwrap())
        .region(ra.clone())
        .region(rb.clone())
        .prefix("mr-sync")
        .build()
        .unwrap();
    let key = format!("mr-sync:u:{}", now_ms() / 3_600_000);
    let _: i64 = ra
        .cmd("HSET")
        .arg(&key)
        .arg("AAAAAAAAAAAAAAAA")
        .arg(4)
        .query()
        .await
        .unwrap();
    let r = rl.limit("u").await.unwrap();
    assert!(r.success);
    r.pending.wait().await;
    let (ha, hb) = (hash(&ra, &key).await, hash(&rb, &key).await);
    assert_eq!(ha, hb);
    assert_eq!(hb.get("AAAAAAAAAAAAAAAA"), Some(&4));
    assert_eq!(hb.values().sum::<i64>(), 5);
    let pttl: i64 = rb.cmd("PTTL").arg(&key).query().await.unwrap();
    assert!(pttl > 0);
    a.shutdown().await;
    b.shutdown().await;
}

/// A region that never answers does not hold up the decision.
#[tokio::test]
async fn first_answer_wins() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let stalled = Redis::new(format!("http://{addr}"), "token").unwrap();
    let stack = testing::shared();
    let rl = MultiRegionRatelimit::builder(Algorithm::sliding_window(5, "1 h").unwrap())
        .region(stalled)
        .region(client(stack))
        .prefix(testing::prefix("mr-first"))
        .timeout(Some(Duration::from_secs(3)))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let r = rl.limit("a").await.unwrap();
    assert!(r.success);
    assert_eq!(r.reason, None);
    assert_eq!(r.remaining, 4);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// Analytics of a multi-region limiter go to the first region only, one event per call
/// (cache blocks included), in the single-region member format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_go_to_the_first_region() {
    let (a, b) = (
        testing::dedicated(Config::default()),
        testing::dedicated(Config::default()),
    );
    let (ra, rb) = (client(&a), client(&b));
    let clock = upstash_ratelimit::ManualClock::new(now_ms());
    let rl = MultiRegionRatelimit::builder(Algorithm::fixed_window(2, "1 h").unwrap())
        .region(ra.clone())
        .region(rb.clone())
        .prefix("mr-analytics")
        .analytics(true)
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut reasons = Vec::new();
    for _ in 0..4 {
        let r = rl.limit("user-1").await.unwrap();
        reasons.push((r.success, r.reason));
        r.pending.wait().await;
    }
    // Two admitted, one refused by the servers, one by the block cache.
    assert_eq!(
        reasons,
        [
            (true, None),
            (true, None),
            (false, None),
            (false, Some(Reason::CacheBlock))
        ]
    );
    let hour = clock.now_ms() / 3_600_000 * 3_600_000;
    let key = format!("mr-analytics:events:{hour}");
    let events: Vec<String> = ra
        .cmd("ZRANGE")
        .arg((&key, 0, -1, "WITHSCORES"))
        .query()
        .await
        .unwrap();
    assert_eq!(
        events,
        [
            r#"{"identifier":"user-1","success":false}"#,
            "2",
            r#"{"identifier":"user-1","success":true}"#,
            "2"
        ]
    );
    let none: i64 = rb.cmd("EXISTS").arg(&key).query().await.unwrap();
    assert_eq!(none, 0);
    a.shutdown().await;
    b.shutdown().await;
}
