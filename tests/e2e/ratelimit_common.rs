//! Scenarios shared by the rate-limit tests of every backend (REST, RESP, in-memory), so each
//! backend is held to the very same steps. A module of the e2e binary, used by the
//! REST and RESP test modules (and by the memory store's tests through `#[path]`).
#![allow(dead_code, clippy::unwrap_used)]

use upstash_ratelimit::scripts::{self, LuaScript, ScriptKind};
use upstash_ratelimit::{
    Algorithm, Call, LimitOptions, ManualClock, MemoryStore, Ratelimit, Reply, Store,
};

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

/// [`SCENARIO`] decides on `store` exactly as on the in-memory store (the reference
/// arithmetic), for `algo`, with hash-tagged keys or not, under key prefix `prefix`.
pub async fn scenario_matches_memory(
    store: std::sync::Arc<dyn Store>,
    algo: Algorithm,
    tagged: bool,
    prefix: &str,
) {
    let start = scenario_start();
    let clock = ManualClock::new(start);
    let build = |s: std::sync::Arc<dyn Store>| {
        Ratelimit::builder(s, algo)
            .prefix(prefix)
            .ephemeral_cache(matches!(algo, Algorithm::CachedFixedWindow { .. }))
            .hash_tagged_keys(tagged)
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let memory = std::sync::Arc::new(MemoryStore::with_clock(clock.clone()));
    let expected = run_scenario(&build(memory), &clock, start).await;
    let got = run_scenario(&build(store), &clock, start).await;
    assert_eq!(got, expected, "{algo:?} tagged={tagged}");
}

/// Fires `calls` concurrent `limit()` calls spread in turn over `ids` identifiers (`user-0`,
/// `user-1`, ...) and counts the admitted calls of each identifier.
pub async fn admitted_per_id(rl: &Ratelimit, calls: usize, ids: usize) -> Vec<usize> {
    let tasks: Vec<_> = (0..calls)
        .map(|n| {
            let rl = rl.clone();
            tokio::spawn(async move {
                let id = n % ids;
                (id, rl.limit(&format!("user-{id}")).await.unwrap().success)
            })
        })
        .collect();
    let mut admitted = vec![0; ids];
    for t in tasks {
        let (id, ok) = t.await.unwrap();
        admitted[id] += usize::from(ok);
    }
    admitted
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
        // One prefix per algorithm: fixed and sliding window would share keys otherwise. A
        // fixed clock: no window may turn during the run.
        let rl = Ratelimit::builder(store.clone(), algo)
            .prefix(format!("{prefix}:{i}"))
            .clock(ManualClock::new(scenario_start()))
            .timeout(None)
            .build()
            .unwrap();
        assert_eq!(admitted_per_id(&rl, 1000, 1).await, [100], "{algo:?}");
        if store.batches() {
            // The calls that queued behind busy requests were decided in batch script runs.
            assert!(
                rl.metrics().batched > 0,
                "{algo:?}: no decision was batched"
            );
        }
    }
}

fn script(kind: ScriptKind) -> &'static LuaScript {
    scripts::all()
        .into_iter()
        .find(|s| s.kind() == kind)
        .unwrap()
}

/// What a call answered, errors only as "failed" (their texts differ by path).
fn outcome(r: &upstash_ratelimit::Result<Reply>) -> Result<Reply, &'static str> {
    match r {
        Ok(reply) => Ok(reply.clone()),
        Err(_) => Err("failed"),
    }
}

/// Runs `calls` of `kind` as one batch script run, or one by one.
async fn run_calls(
    store: &impl Store,
    kind: ScriptKind,
    calls: Vec<Call>,
    batched: bool,
) -> upstash_ratelimit::Result<Vec<upstash_ratelimit::Result<Reply>>> {
    if batched {
        return store.eval_batch(script(kind), calls).await;
    }
    let mut out = Vec::new();
    for c in calls {
        out.push(store.eval_ints(script(kind), c.keys, &c.args).await);
    }
    Ok(out)
}

/// Each key's value and whether it expires (`None` when it is absent).
async fn counters(
    store: &impl Store,
    keys: impl IntoIterator<Item = String>,
) -> Vec<(Reply, Option<bool>)> {
    let mut out = Vec::new();
    for key in keys {
        let value = store
            .command(vec!["GET".into(), key.clone()])
            .await
            .unwrap();
        let ttl = store.command(vec!["PTTL".into(), key]).await.unwrap();
        out.push((value, ttl.as_i64().filter(|t| *t != -2).map(|t| t > 0)));
    }
    out
}

/// The calls of one batch for `script` under key prefix `p`: several identifiers, one of them
/// called past its limit, refunds and zero rates, calls on both sides of a window boundary
/// (a later call's previous window is an earlier call's current one), one identifier whose
/// keys hold the wrong type and one whose state is half broken (see
/// [`batches_decide_like_single_runs`]); those calls fail, the others must not. `dynamic` adds the limit override
/// key, set to 3 by the caller.
fn batch_calls(kind: ScriptKind, p: &str, t0: i64, dynamic: bool) -> Vec<Call> {
    let w = 10_000;
    let steps: &[(&str, i64, i64)] = &[
        ("a", 100, 1),
        ("b", 200, 2),
        ("a", 300, 1),
        ("a", 400, 1),
        ("a", 500, 1),
        ("a", 600, 1),
        ("a", 700, 1),
        ("bad", 750, 1),
        ("half", 760, 1),
        ("a", 800, -2),
        ("a", 900, 1),
        ("b", 1_000, 0),
        ("a", 9_999, 1),
        ("a", 10_001, 1),
        ("a", 14_000, 2),
        ("c", 15_000, 1),
        ("b", 19_999, 5),
        ("a", 25_000, 1),
    ];
    steps
        .iter()
        .map(|&(id, dt, rate)| {
            let now = t0 + dt;
            let bucket = now.div_euclid(w);
            let (mut keys, args) = match kind {
                ScriptKind::FixedLimit => (vec![format!("{p}:{id}:{bucket}")], vec![5, w, rate]),
                ScriptKind::SlidingLimit => (
                    vec![
                        format!("{p}:{id}:{bucket}"),
                        format!("{p}:{id}:{}", bucket - 1),
                    ],
                    vec![5, now, w, rate],
                ),
                _ => (vec![format!("{p}:{id}")], vec![5, w, 2, now, rate]),
            };
            if dynamic {
                keys.push(format!("{p}:dynamic:global"));
            }
            Call { keys, args }
        })
        .collect()
}

/// A batch script run decides exactly as the same calls run one by one: fixed window, sliding
/// window and token bucket, with and without a dynamic limit, including a call that fails.
pub async fn batches_decide_like_single_runs(store: impl Store, prefix: &str) {
    let t0 = scenario_start();
    for kind in [
        ScriptKind::FixedLimit,
        ScriptKind::SlidingLimit,
        ScriptKind::TokenLimit,
    ] {
        for dynamic in [false, true] {
            let mut answers = Vec::new();
            for batched in [false, true] {
                let p = format!("{prefix}:{kind:?}:{dynamic}:{batched}");
                if dynamic {
                    store
                        .command(vec![
                            "SET".into(),
                            format!("{p}:dynamic:global"),
                            "3".into(),
                        ])
                        .await
                        .unwrap();
                }
                for key in batch_calls(kind, &p, t0, false)
                    .into_iter()
                    .flat_map(|c| c.keys)
                    .filter(|k| k.contains(":bad"))
                {
                    // The wrong type for the script: a hash for counters, a string for buckets.
                    let cmd = if kind == ScriptKind::TokenLimit {
                        vec!["SET".into(), key, "x".into()]
                    } else {
                        vec!["HSET".into(), key, "f".into(), "1".into()]
                    };
                    store.command(cmd).await.unwrap();
                }
                // Half broken: the sliding window's previous counter is a hash (its current one
                // is fine), the token bucket holds a non-numeric balance.
                let half = batch_calls(kind, &p, t0, false)
                    .into_iter()
                    .find(|c| c.keys[0].contains(":half:") || c.keys[0].ends_with(":half"))
                    .unwrap();
                let cmd: Option<Vec<String>> = match kind {
                    ScriptKind::SlidingLimit => Some(vec![
                        "HSET".into(),
                        half.keys[1].clone(),
                        "f".into(),
                        "1".into(),
                    ]),
                    ScriptKind::TokenLimit => Some(vec![
                        "HSET".into(),
                        half.keys[0].clone(),
                        "refilledAt".into(),
                        t0.to_string(),
                        "tokens".into(),
                        "abc".into(),
                    ]),
                    _ => None,
                };
                if let Some(cmd) = cmd {
                    store.command(cmd).await.unwrap();
                }
                let calls = batch_calls(kind, &p, t0, dynamic);
                let results = run_calls(&store, kind, calls, batched).await.unwrap();
                answers.push(results.iter().map(outcome).collect::<Vec<_>>());
            }
            assert_eq!(answers[0].len(), 18);
            assert_eq!(answers[1], answers[0], "{kind:?} dynamic={dynamic}");
            assert!(
                answers[1].iter().any(Result::is_err),
                "{kind:?}: the bad call fails"
            );
            let failed = answers[1].iter().filter(|r| r.is_err()).count();
            let expected_failures = if kind == ScriptKind::FixedLimit { 1 } else { 2 };
            assert_eq!(failed, expected_failures, "{kind:?} dynamic={dynamic}");
        }
    }
}

/// A non-numeric dynamic limit fails every sliding-window call, batched or not, but a refund or
/// a zero rate is applied first (the single script increments before its arithmetic fails), so
/// the counters end the same either way: values and TTLs.
pub async fn broken_dynamic_limit_leaves_the_same_counters(store: impl Store, prefix: &str) {
    let t0 = scenario_start();
    let w = 10_000;
    let steps: &[(&str, i64)] = &[("a", -2), ("a", 1), ("n", 0), ("a", 0), ("a", -1), ("a", 3)];
    let mut ends = Vec::new();
    for batched in [false, true] {
        let p = format!("{prefix}:{batched}");
        let bucket = (t0 + 100).div_euclid(w);
        for (key, value) in [
            (format!("{p}:dynamic"), "abc"),
            (format!("{p}:a:{bucket}"), "5"),
        ] {
            store
                .command(vec!["SET".into(), key, value.into()])
                .await
                .unwrap();
        }
        let calls: Vec<Call> = steps
            .iter()
            .enumerate()
            .map(|(i, &(id, rate))| {
                let now = t0 + 100 + i as i64;
                let bucket = now.div_euclid(w);
                Call {
                    keys: vec![
                        format!("{p}:{id}:{bucket}"),
                        format!("{p}:{id}:{}", bucket - 1),
                        format!("{p}:dynamic"),
                    ],
                    args: vec![5, now, w, rate],
                }
            })
            .collect();
        let failed: Vec<bool> =
            match run_calls(&store, ScriptKind::SlidingLimit, calls, batched).await {
                Ok(results) => results.iter().map(Result::is_err).collect(),
                // The limit the batch reports is missing too: the whole batch fails.
                Err(_) => vec![true; steps.len()],
            };
        assert_eq!(failed, vec![true; steps.len()], "batched={batched}");
        ends.push(counters(&store, ["a", "n"].map(|id| format!("{p}:{id}:{bucket}"))).await);
    }
    assert_eq!(
        ends[0][0].0,
        Reply::Bytes(b"2".to_vec()),
        "5 - 2 - 1, the rest failed"
    );
    assert_eq!(ends[0][1], (Reply::Bytes(b"0".to_vec()), Some(true)));
    assert_eq!(ends[1], ends[0]);
}

/// Random batches (a fixed seed): identifiers from a small set so keys repeat, times spread
/// over three windows so calls read counters earlier calls of the same run wrote, rates from
/// -2 to 3, limits low enough to refuse. Each batch runs once batched and once call by call on
/// separate prefixes; the answers and the final counters (values and whether they expire) must
/// be equal. Sliding window, the batch script with the most logic of its own.
pub async fn random_sliding_batches_match_single_runs(store: impl Store, prefix: &str) {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let t0 = scenario_start();
    let w = 10_000;
    for round in 0..25 {
        let limit = 1 + next(6) as i64;
        let steps: Vec<(u64, i64, i64)> = (0..(2 + next(30)))
            .map(|_| (next(4), next(3 * w as u64) as i64, next(6) as i64 - 2))
            .collect();
        let mut answers = Vec::new();
        let mut ends = Vec::new();
        for batched in [false, true] {
            let p = format!("{prefix}:{round}:{batched}");
            let calls: Vec<Call> = steps
                .iter()
                .map(|&(id, dt, rate)| {
                    let now = t0 + dt;
                    let bucket = now.div_euclid(w);
                    Call {
                        keys: vec![
                            format!("{p}:{id}:{bucket}"),
                            format!("{p}:{id}:{}", bucket - 1),
                        ],
                        args: vec![limit, now, w, rate],
                    }
                })
                .collect();
            let results = run_calls(&store, ScriptKind::SlidingLimit, calls, batched);
            answers.push(
                results
                    .await
                    .unwrap()
                    .iter()
                    .map(outcome)
                    .collect::<Vec<_>>(),
            );
            let buckets = (t0.div_euclid(w) - 1)..=(t0 + 3 * w).div_euclid(w);
            let keys: Vec<String> = (0..4)
                .flat_map(|id| buckets.clone().map(move |b| (id, b)))
                .map(|(id, b)| format!("{p}:{id}:{b}"))
                .collect();
            ends.push(counters(&store, keys).await);
        }
        assert_eq!(answers[1], answers[0], "round {round}: {steps:?}");
        assert_eq!(ends[1], ends[0], "round {round}: {steps:?}");
    }
}
