//! Scenarios shared by the rate-limit tests of every backend (REST, RESP, in-memory), so each
//! backend is held to the very same steps. Included with `#[path]` by the test files.
#![allow(dead_code, clippy::unwrap_used)]

use upstash_ratelimit::{Algorithm, LimitOptions, ManualClock, Ratelimit, Store};

/// Midnight UTC two days ago: a multiple of every window the scenarios use, in the near past
/// (keys get real TTLs, and nothing expires by the server's clock during a test).
pub fn scenario_start() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    now / 86_400_000 * 86_400_000 - 2 * 86_400_000
}

/// One step of a scenario: move the clock, then take `rate` tokens (or read, for `None`).
pub const SCENARIO: &[(i64, Option<i64>)] = &[
    (0, Some(1)),
    (0, Some(2)),
    (1_000, Some(1)),
    (0, None),
    (0, Some(3)),
    (0, Some(1)),
    (0, Some(-2)),
    (0, Some(0)),
    (1_800_000, Some(1)),
    (0, None),
    (900_000, Some(4)),
    (0, Some(1)),
    (1_800_000, Some(-7)),
    (0, Some(5)),
    (0, Some(1)),
    (0, None),
    (1_800_000, Some(2)),
    (0, Some(9)),
];

/// Runs [`SCENARIO`] on identifier `id` from `start`; one `(success, limit, remaining, reset)`
/// per step. A decision must never come from the timeout path.
pub async fn run_scenario(
    rl: &Ratelimit,
    clock: &ManualClock,
    start: i64,
) -> Vec<(bool, i64, i64, i64)> {
    clock.set(start);
    let mut out = Vec::new();
    for &(advance, rate) in SCENARIO {
        clock.advance(advance);
        match rate {
            Some(rate) => {
                let r = rl.limit_with("id", LimitOptions::rate(rate)).await.unwrap();
                assert_eq!(r.reason, None);
                out.push((r.success, r.limit, r.remaining, r.reset));
            }
            None => {
                let r = rl.get_remaining("id").await.unwrap();
                out.push((true, r.limit, r.remaining, r.reset));
            }
        }
    }
    out
}

/// 1,000 concurrent `limit()` calls on one identifier with a limit of 100 admit exactly 100,
/// for fixed window, sliding window and token bucket.
pub async fn thousand_concurrent_calls_admit_exactly_100(
    store: impl Store + Clone + 'static,
    prefix: &str,
) {
    for (i, algo) in [
        Algorithm::fixed_window(100, "1 h").unwrap(),
        Algorithm::sliding_window(100, "1 h").unwrap(),
        Algorithm::token_bucket(1, "1 h", 100).unwrap(),
    ]
    .into_iter()
    .enumerate()
    {
        // One prefix per algorithm: fixed and sliding window would share keys otherwise.
        let rl = Ratelimit::builder(store.clone(), algo)
            .prefix(format!("{prefix}:{i}"))
            .timeout(None)
            .build()
            .unwrap();
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let rl = rl.clone();
                tokio::spawn(async move { rl.limit("hot").await.unwrap().success })
            })
            .collect();
        let mut admitted = 0;
        for t in tasks {
            admitted += usize::from(t.await.unwrap());
        }
        assert_eq!(admitted, 100, "{algo:?}");
    }
}
