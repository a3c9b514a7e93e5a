//! Criterion benches of the rate limiter's client-side cost.
//!
//! `client/*` runs `limit()` against the in-process [`MemoryStore`] (the scripts run natively,
//! no network), so the figure is the client's CPU per decision: key building, arguments,
//! reply decoding, cache bookkeeping, plus the in-memory script itself. Target: < 5 µs.
//!
//! ```sh
//! cargo bench --bench ratelimit
//! ```

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use upstash_ratelimit::{Algorithm, MemoryStore, Ratelimit};

fn configured() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

fn client(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let algos = [
        (
            "fixed_window",
            Algorithm::fixed_window(1_000_000_000, "1 h"),
        ),
        (
            "sliding_window",
            Algorithm::sliding_window(1_000_000_000, "1 h"),
        ),
        (
            "token_bucket",
            Algorithm::token_bucket(1, "1 h", 1_000_000_000),
        ),
    ];
    for (name, algo) in algos {
        let Ok(algo) = algo else { continue };
        let Ok(rl) = Ratelimit::builder(MemoryStore::new(), algo).build() else {
            continue;
        };
        let ids: Vec<String> = (0..10_000).map(|i| format!("user:{i}")).collect();
        let mut i = 0usize;
        c.bench_function(&format!("client/limit/{name}"), |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 1) % ids.len();
                let rl = &rl;
                let id = &ids[i];
                async move { black_box(rl.limit(id).await.map(|r| r.success)) }
            });
        });
    }
    // A blocked identifier answered by the ephemeral cache.
    if let Ok(rl) = Algorithm::fixed_window(1, "1 h")
        .and_then(|a| Ratelimit::builder(MemoryStore::new(), a).build())
    {
        rt.block_on(async {
            let _ = rl.limit("blocked").await;
            let _ = rl.limit("blocked").await;
        });
        c.bench_function("client/limit/cache_block", |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(rl.limit("blocked").await.map(|r| r.success)) });
        });
    }
}

criterion_group! {
    name = benches;
    config = configured();
    targets = client
}
criterion_main!(benches);
