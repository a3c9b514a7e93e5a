//! The algorithms' arithmetic on the in-process store with a manual clock.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
#[path = "../../../tests/e2e/ratelimit_common.rs"]
mod common;

use upstash_ratelimit::scripts::LuaScript;
use upstash_ratelimit::{
    analytics_member, Algorithm, ErrorPolicy, LimitOptions, ManualClock, MemoryStore, Ratelimit,
    Reason, Reply, Store, TimeoutPolicy,
};

/// 2023-11-14T22:13:20Z: a multiple of 10 s, so window fractions are easy to set.
const T0: i64 = 1_700_000_000_000;

fn setup(algo: Algorithm, cache: bool) -> (Ratelimit, MemoryStore, ManualClock) {
    let clock = ManualClock::new(T0);
    let store = MemoryStore::with_clock(clock.clone());
    let rl = Ratelimit::builder(store.clone(), algo)
        .prefix("t")
        .ephemeral_cache(cache)
        .clock(clock.clone())
        .build()
        .unwrap();
    (rl, store, clock)
}

async fn rate(rl: &Ratelimit, id: &str, r: i64) -> upstash_ratelimit::Response {
    rl.limit_with(id, LimitOptions::rate(r)).await.unwrap()
}

#[tokio::test]
async fn fixed_window_counts_rejections() {
    let (rl, store, _) = setup(Algorithm::fixed_window(3, "10 s").unwrap(), false);
    let mut got = Vec::new();
    for _ in 0..5 {
        let r = rl.limit("a").await.unwrap();
        assert_eq!(r.limit, 3);
        assert_eq!(r.reset, (T0 / 10_000 + 1) * 10_000);
        assert_eq!(r.reason, None);
        got.push((r.success, r.remaining));
    }
    assert_eq!(
        got,
        [(true, 2), (true, 1), (true, 0), (false, 0), (false, 0)]
    );
    let key = format!("t:a:{}", T0 / 10_000);
    assert_eq!(store.get(&key).as_deref(), Some("5"));
    assert_eq!(store.pttl(&key), 10_000);
    assert_eq!(store.keys(), vec![key]);
}

#[tokio::test]
async fn fixed_window_rolls_over() {
    let (rl, _, clock) = setup(
        Algorithm::fixed_window(1, Duration::from_secs(10)).unwrap(),
        true,
    );
    assert!(rl.limit("a").await.unwrap().success);
    assert!(!rl.limit("a").await.unwrap().success);
    clock.advance(10_000);
    assert!(rl.limit("a").await.unwrap().success);
}

#[tokio::test]
async fn sliding_window_weighting() {
    let (rl, store, clock) = setup(Algorithm::sliding_window(10, "10 s").unwrap(), false);
    // Previous window: 10 requests. Then half-way through the current window.
    for _ in 0..10 {
        assert!(rl.limit("a").await.unwrap().success);
    }
    clock.advance(15_000);
    let r = rl.limit("a").await.unwrap();
    assert!(r.success);
    assert_eq!(r.remaining, 4, "10 - (1 + floor(0.5 * 10))");
    assert_eq!(r.reset, (T0 / 10_000 + 2) * 10_000);
    let cur = format!("t:a:{}", T0 / 10_000 + 1);
    assert_eq!(store.pttl(&cur), 21_000);
    // 4 left: rate 5 is recorded and reported as failed (the JS quirk).
    let r = rate(&rl, "a", 5).await;
    assert!(!r.success);
    assert_eq!(r.remaining, 0);
    assert_eq!(store.get(&cur).as_deref(), Some("6"));
    // Now carried + current = 5 + 6 >= 10: rejected without a write.
    let r = rl.limit("a").await.unwrap();
    assert!(!r.success);
    assert_eq!(store.get(&cur).as_deref(), Some("6"));
}

#[tokio::test]
async fn sliding_boundary_is_rejected_without_write() {
    let (rl, store, _) = setup(Algorithm::sliding_window(3, "10 s").unwrap(), false);
    for _ in 0..3 {
        assert!(rl.limit("a").await.unwrap().success);
    }
    let r = rl.limit("a").await.unwrap();
    assert!(!r.success);
    assert_eq!(
        store.get(&format!("t:a:{}", T0 / 10_000)).as_deref(),
        Some("3")
    );
    // With a previous window only partly carried.
    let r = rl.get_remaining("a").await.unwrap();
    assert_eq!(r.remaining, 0);
}

#[tokio::test]
async fn token_bucket_rules() {
    let (rl, store, clock) = setup(Algorithm::token_bucket(5, "10 s", 10).unwrap(), false);
    let r = rate(&rl, "a", 8).await;
    assert!(r.success);
    assert_eq!(r.remaining, 2);
    assert_eq!(r.reset, T0 + 10_000, "refilledAt + interval");
    assert_eq!(store.pttl("t:a"), 20_000, "ceil((10-2)/5) * 10 s");
    // 2.2 rule: tokens < rate rejects, nothing written.
    let r = rate(&rl, "a", 5).await;
    assert!(!r.success);
    assert_eq!(
        r.remaining, 0,
        "refusals report 0 remaining, as @upstash/ratelimit does"
    );
    assert_eq!(rl.get_remaining("a").await.unwrap().remaining, 2);
    // One interval and a half later: min(10, 2 + 1*5) = 7, then take one.
    clock.advance(15_000);
    let r = rl.limit("a").await.unwrap();
    assert_eq!(r.remaining, 6);
    assert_eq!(r.reset, T0 + 20_000, "refill anchored at the first request");
    // get_remaining is the stored balance (stale by design).
    clock.advance(5_000);
    let g = rl.get_remaining("a").await.unwrap();
    assert_eq!((g.remaining, g.reset, g.limit), (6, T0 + 20_000, 10));
    // The bucket expires once it would be full again.
    clock.advance(5_000);
    let g = rl.get_remaining("a").await.unwrap();
    assert_eq!((g.remaining, g.reset), (10, T0 + 25_000 + 10_000));
    // After an expiry the bucket restarts, anchored at the new first request.
    clock.advance(1_000);
    let r = rate(&rl, "a", 10).await;
    assert_eq!((r.success, r.remaining, r.reset), (true, 0, T0 + 36_000));
}

#[tokio::test]
async fn token_bucket_refund_on_fresh_bucket_has_no_ttl() {
    let (rl, store, _) = setup(Algorithm::token_bucket(1, "1 d", 10).unwrap(), false);
    let r = rate(&rl, "a", -3).await;
    assert!(r.success);
    assert_eq!(r.remaining, 13);
    assert_eq!(store.pttl("t:a"), -1);
}

#[tokio::test]
async fn cached_fixed_window_2_2() {
    let (rl, store, _) = setup(Algorithm::cached_fixed_window(3, "10 s").unwrap(), true);
    let mut got = Vec::new();
    for _ in 0..5 {
        let r = rl.limit("a").await.unwrap();
        r.pending.wait().await;
        assert_eq!(r.reason, None);
        got.push((r.success, r.remaining));
    }
    // 2.2: success = count <= tokens (three allowed); remaining not clamped.
    assert_eq!(
        got,
        [(true, 2), (true, 1), (true, 0), (false, -1), (false, -2)]
    );
    let key = format!("t:a:{}", T0 / 10_000);
    assert_eq!(
        store.get(&key).as_deref(),
        Some("3"),
        "only allowed ones are written"
    );
    assert_eq!(store.pttl(&key), 10_000, "unlike JS, the key expires");
    assert!(
        Ratelimit::builder(store, Algorithm::cached_fixed_window(3, "1s").unwrap())
            .ephemeral_cache(false)
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn ephemeral_cache_blocks_without_calls_and_refund_unblocks() {
    for algo in [
        Algorithm::fixed_window(2, "10 s").unwrap(),
        Algorithm::sliding_window(2, "10 s").unwrap(),
        Algorithm::token_bucket(1, "10 s", 2).unwrap(),
    ] {
        let (rl, store, _) = setup(algo, true);
        rl.limit("a").await.unwrap();
        rl.limit("a").await.unwrap();
        let r = rl.limit("a").await.unwrap();
        assert!(!r.success && r.reason.is_none(), "{algo:?}");
        let calls = store.calls();
        for _ in 0..10 {
            let r = rl.limit("a").await.unwrap();
            assert!(!r.success);
            assert_eq!(r.reason, Some(Reason::CacheBlock));
            assert_eq!(r.limit, 2);
            assert_eq!(r.remaining, 0);
        }
        assert_eq!(
            store.calls(),
            calls,
            "{algo:?}: a cached block makes no call"
        );
        let r = rate(&rl, "a", -2).await;
        assert!(r.success, "{algo:?}");
        let r = rl.limit("a").await.unwrap();
        assert!(r.success, "{algo:?}: the refund cleared the block");
        assert_eq!(store.calls(), calls + 2);
    }
}

/// `negative-rate.test.ts` values: window 2 d, limit 10.
#[tokio::test]
async fn negative_rate_suite() {
    let algos = || {
        [
            Algorithm::fixed_window(10, "2d").unwrap(),
            Algorithm::sliding_window(10, "2d").unwrap(),
            Algorithm::token_bucket(10, "2d", 10).unwrap(),
        ]
    };
    for algo in algos() {
        let (rl, _, _) = setup(algo, true);
        // First refund.
        let r = rate(&rl, "r1", -3).await;
        assert!(r.success);
        assert_eq!(r.remaining, 13, "{algo:?}");
        assert_eq!(rl.get_remaining("r1").await.unwrap().remaining, 13);
        // +4 then -2.
        rate(&rl, "r2", 4).await;
        assert_eq!(rate(&rl, "r2", -2).await.remaining, 8, "{algo:?}");
        // Consume 10 then refund 3.
        rate(&rl, "r3", 10).await;
        assert_eq!(rate(&rl, "r3", -3).await.remaining, 3, "{algo:?}");
        // Over the limit, then refund 5.
        for _ in 0..12 {
            rl.limit("r4").await.unwrap();
        }
        let r = rate(&rl, "r4", -5).await;
        assert!(r.success && r.remaining > 0, "{algo:?}");
        // Rate 0 leaves it unchanged.
        rate(&rl, "r5", 4).await;
        assert_eq!(rate(&rl, "r5", 0).await.remaining, 6, "{algo:?}");
        assert_eq!(rate(&rl, "r5", 0).await.remaining, 6, "{algo:?}");
        // Over-refund beyond the limit.
        rate(&rl, "r6", 1).await;
        assert_eq!(rate(&rl, "r6", -3).await.remaining, 12, "{algo:?}");
        // A large refund.
        let r = rate(&rl, "r7", -1000).await;
        assert!(r.success);
        assert_eq!(r.remaining, 1010, "{algo:?}");
        // Chained refunds 2 -> 4 -> 7, then +5 leaves 2.
        assert_eq!(rate(&rl, "r8", 8).await.remaining, 2);
        assert_eq!(rate(&rl, "r8", -2).await.remaining, 4, "{algo:?}");
        assert_eq!(rate(&rl, "r8", -3).await.remaining, 7, "{algo:?}");
        assert_eq!(rate(&rl, "r8", 5).await.remaining, 2, "{algo:?}");
    }
}

#[tokio::test]
async fn dynamic_limits() {
    let clock = ManualClock::new(T0);
    let store = MemoryStore::with_clock(clock.clone());
    for algo in [
        Algorithm::fixed_window(10, "10 s").unwrap(),
        Algorithm::sliding_window(10, "10 s").unwrap(),
        Algorithm::token_bucket(10, "10 s", 10).unwrap(),
    ] {
        let prefix = format!("dyn-{}", algo.name());
        let rl = Ratelimit::builder(store.clone(), algo)
            .prefix(&prefix)
            .dynamic_limits(true)
            .ephemeral_cache(false)
            .clock(clock.clone())
            .build()
            .unwrap();
        assert_eq!(rl.get_dynamic_limit().await.unwrap(), None);
        rl.set_dynamic_limit(Some(3)).await.unwrap();
        assert_eq!(rl.get_dynamic_limit().await.unwrap(), Some(3));
        let r = rate(&rl, "a", 3).await;
        assert!(r.success);
        assert_eq!((r.limit, r.remaining), (3, 0), "{algo:?}");
        let r = rate(&rl, "b", 5).await;
        assert!(!r.success, "{algo:?}");
        assert_eq!(r.limit, 3);
        assert_eq!(rl.get_remaining("c").await.unwrap().limit, 3);
        rl.set_dynamic_limit(None).await.unwrap();
        let r = rl.limit("c").await.unwrap();
        assert_eq!((r.limit, r.remaining), (10, 9), "{algo:?}");
    }
    let off = Ratelimit::builder(store, Algorithm::fixed_window(1, "1s").unwrap())
        .build()
        .unwrap();
    assert!(off.get_dynamic_limit().await.is_err());
    assert!(off.set_dynamic_limit(Some(1)).await.is_err());
}

#[tokio::test]
async fn reset_used_tokens_deletes_exact_keys() {
    for algo in [
        Algorithm::fixed_window(10, "10 s").unwrap(),
        Algorithm::sliding_window(10, "10 s").unwrap(),
        Algorithm::token_bucket(1, "10 s", 10).unwrap(),
    ] {
        let (rl, store, _) = setup(algo, true);
        for _ in 0..15 {
            rl.limit("a").await.unwrap();
        }
        rl.limit("a:x").await.unwrap();
        rl.reset_used_tokens("a").await.unwrap();
        let r = rl.limit("a").await.unwrap();
        assert!(r.success);
        assert_eq!(r.remaining, 9, "{algo:?}");
        assert!(
            store.keys().iter().any(|k| k.starts_with("t:a:x")),
            "other identifiers survive"
        );
    }
}

#[tokio::test]
async fn protection_and_analytics() {
    let clock = ManualClock::new(T0);
    let store = MemoryStore::with_clock(clock.clone());
    let rl = Ratelimit::builder(store.clone(), Algorithm::fixed_window(10, "10 s").unwrap())
        .prefix("prot")
        .protection(true)
        .analytics(true)
        .clock(clock.clone())
        .build()
        .unwrap();
    store
        .command(vec![
            "SADD".into(),
            "prot:denyList:all".into(),
            "1.2.3.4".into(),
        ])
        .await
        .unwrap();
    let opts = LimitOptions {
        ip: Some("1.2.3.4".into()),
        ..Default::default()
    };
    let r = rl.limit_with("user", opts.clone()).await.unwrap();
    assert!(!r.success);
    assert_eq!(r.reason, Some(Reason::DenyList));
    assert_eq!(r.denied_value.as_deref(), Some("1.2.3.4"));
    assert_eq!(r.limit, 10, "the algorithm's limit is kept");
    r.pending.wait().await;
    // Served from the deny cache: no call.
    let calls = store.calls();
    let r = rl.limit_with("other", opts).await.unwrap();
    assert_eq!((r.success, r.limit, r.reset), (false, 0, 0));
    assert_eq!(r.reason, Some(Reason::DenyList));
    r.pending.wait().await;
    assert_eq!(store.calls(), calls + 1, "only the analytics write");
    let r = rl.limit("fine").await.unwrap();
    assert!(r.success);
    r.pending.wait().await;
    let key = format!("prot:events:{}", T0 / 3_600_000 * 3_600_000);
    let score = |m: String| {
        let store = store.clone();
        let key = key.clone();
        async move {
            store
                .command(vec!["ZSCORE".into(), key, m])
                .await
                .unwrap()
                .as_i64()
        }
    };
    assert_eq!(
        score(r#"{"identifier":"1.2.3.4","success":"denied"}"#.into()).await,
        Some(2)
    );
    assert_eq!(
        score(r#"{"identifier":"fine","success":true}"#.into()).await,
        Some(1)
    );
}

#[test]
fn analytics_members_are_js_bytes() {
    assert_eq!(
        analytics_member("a", "true", &[]),
        r#"{"identifier":"a","success":true}"#
    );
    assert_eq!(
        analytics_member(
            "q\"é\n",
            "false",
            &[
                ("country".into(), "DE".into()),
                ("city".into(), "Berlin".into())
            ]
        ),
        "{\"identifier\":\"q\\\"é\\n\",\"success\":false,\"country\":\"DE\",\"city\":\"Berlin\"}"
    );
}

/// A store that never answers in time.
#[derive(Debug)]
struct Slow(MemoryStore, Duration);

impl Store for Slow {
    fn eval<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> BoxFuture<'a, upstash_ratelimit::Result<Reply>> {
        Box::pin(async move {
            tokio::time::sleep(self.1).await;
            self.0.eval(script, keys, args).await
        })
    }

    fn command<'a>(&'a self, args: Vec<String>) -> BoxFuture<'a, upstash_ratelimit::Result<Reply>> {
        self.0.command(args)
    }
}

#[tokio::test]
async fn timeout_policies() {
    use upstash_ratelimit::Clock;
    let store = MemoryStore::new();
    let window_before = upstash_ratelimit::SystemClock.now_ms() / 10_000;
    for (policy, success) in [
        (TimeoutPolicy::FailOpen, true),
        (TimeoutPolicy::FailClosed, false),
    ] {
        let rl = Ratelimit::builder(
            Slow(store.clone(), Duration::from_millis(300)),
            Algorithm::fixed_window(1, "10 s").unwrap(),
        )
        .prefix("slow")
        .timeout(Some(Duration::from_millis(50)))
        .timeout_policy(policy)
        .build()
        .unwrap();
        let started = std::time::Instant::now();
        let r = rl.limit("a").await.unwrap();
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(45) && elapsed < Duration::from_millis(250));
        assert_eq!(r.success, success);
        assert_eq!(r.reason, Some(Reason::Timeout));
        assert_eq!((r.limit, r.remaining, r.reset), (0, 0, 0));
        // The call was not cancelled: it completes in the background.
        r.pending.wait().await;
    }
    // Both calls were applied; they may straddle a window boundary, so sum every
    // window the test ran through.
    let window_after = upstash_ratelimit::SystemClock.now_ms() / 10_000;
    let applied: u64 = (window_before..=window_after)
        .filter_map(|w| store.get(&format!("slow:a:{w}")))
        .map(|v| v.parse::<u64>().unwrap_or(0))
        .sum();
    assert_eq!(applied, 2);
}

#[derive(Debug)]
struct Broken;

impl Store for Broken {
    fn eval<'a>(
        &'a self,
        _: &'static LuaScript,
        _: Vec<String>,
        _: Vec<String>,
    ) -> BoxFuture<'a, upstash_ratelimit::Result<Reply>> {
        Box::pin(async { Err(upstash_ratelimit::Error::Store("down".into())) })
    }

    fn command<'a>(&'a self, _: Vec<String>) -> BoxFuture<'a, upstash_ratelimit::Result<Reply>> {
        Box::pin(async { Err(upstash_ratelimit::Error::Store("down".into())) })
    }
}

#[tokio::test]
async fn error_policies() {
    let algo = Algorithm::fixed_window(1, "1 s").unwrap();
    let rl = Ratelimit::new(Broken, algo).unwrap();
    assert!(rl.limit("a").await.is_err());
    for (policy, success) in [
        (ErrorPolicy::FailOpen, true),
        (ErrorPolicy::FailClosed, false),
    ] {
        let rl = Ratelimit::builder(Broken, algo)
            .error_policy(policy)
            .build()
            .unwrap();
        let r = rl.limit("a").await.unwrap();
        assert_eq!((r.success, r.reason), (success, Some(Reason::Error)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_admits_exactly_the_limit() {
    common::thousand_concurrent_calls_admit_exactly_100(MemoryStore::new(), "conc").await;
}

#[tokio::test]
async fn block_until_ready() {
    let rl = Ratelimit::builder(
        MemoryStore::new(),
        Algorithm::fixed_window(1, "200ms").unwrap(),
    )
    .build()
    .unwrap();
    assert!(
        rl.block_until_ready("a", Duration::from_secs(2))
            .await
            .unwrap()
            .success
    );
    let started = std::time::Instant::now();
    let r = rl
        .block_until_ready("a", Duration::from_secs(2))
        .await
        .unwrap();
    assert!(r.success);
    assert!(started.elapsed() < Duration::from_millis(1_000));
    assert!(rl.block_until_ready("a", Duration::ZERO).await.is_err());
}

#[test]
fn store_is_object_safe() {
    let _: Arc<dyn Store> = Arc::new(MemoryStore::new());
}

/// The memory store, claiming to batch: drives the limiter's batcher without a network.
#[derive(Debug, Clone)]
struct Batching(MemoryStore);

impl Store for Batching {
    fn batches(&self) -> bool {
        true
    }

    fn eval<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> BoxFuture<'a, upstash_ratelimit::Result<Reply>> {
        self.0.eval(script, keys, args)
    }

    fn eval_ints<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: &[i64],
    ) -> BoxFuture<'a, upstash_ratelimit::Result<Reply>> {
        self.0.eval_ints(script, keys, args)
    }

    fn command<'a>(&'a self, args: Vec<String>) -> BoxFuture<'a, upstash_ratelimit::Result<Reply>> {
        self.0.command(args)
    }
}

/// Polls `fut` on this thread with no Tokio context: a stand-in for another executor.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// Off a Tokio runtime a batching store still gets every decision, one by one (batches are
/// sent from Tokio tasks).
#[test]
fn concurrent_decisions_off_a_tokio_runtime_go_one_by_one() {
    let rl = Ratelimit::builder(
        Batching(MemoryStore::new()),
        Algorithm::sliding_window(3, "1 h").unwrap(),
    )
    .timeout(None)
    .build()
    .unwrap();
    let results = block_on(futures_util::future::join_all(
        (0..10).map(|_| rl.limit("id")),
    ));
    let admitted = results
        .iter()
        .filter(|r| r.as_ref().unwrap().success)
        .count();
    assert_eq!(admitted, 3);
    assert_eq!(rl.metrics().batched, 0);
}

/// The batcher admits exactly the limit under 1,000 concurrent calls (the store's default
/// `eval_batch`, one call after another).
#[tokio::test]
async fn batched_concurrent_calls_admit_exactly_the_limit() {
    common::thousand_concurrent_calls_admit_exactly_100(Batching(MemoryStore::new()), "batching")
        .await;
}
