//! Criterion bench of exact vector search through the whole stack: our client sends a query
//! to upstash-local's Vector service (in-process, loopback HTTP), which scans every vector.
//!
//! - `query/100k x 384 cosine top10`: the target is under 10 ms per query on this machine.
//! - `query/100k x 384 cosine top10 + filter`: the same with a metadata filter on every row.
//!
//! ```sh
//! cargo bench --bench vector
//! ```

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use upstash_local::{testing, Config, Metric, VectorIndexConfig};
use upstash_vector::{Index, Query, Upsert};

const N: usize = 100_000;
const DIM: usize = 384;

/// Deterministic pseudo-random vectors (xorshift), values in [-1, 1).
fn vectors(seed: u64) -> impl Iterator<Item = Vec<f32>> {
    let mut s = seed | 1;
    std::iter::repeat_with(move || {
        (0..DIM)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    })
}

fn bench(c: &mut Criterion) {
    let mut config = Config::default();
    config.vector.indexes = vec![VectorIndexConfig::dense("bench", DIM, Metric::Cosine)];
    let stack = testing::dedicated(config);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let index = Index::new(
        stack.vector_url("bench").expect("url"),
        stack.vector_token("bench").expect("token"),
    )
    .expect("client");
    rt.block_on(async {
        let mut gen = vectors(42).enumerate();
        for _ in 0..N / 1000 {
            let batch: Vec<Upsert> = gen
                .by_ref()
                .take(1000)
                .map(|(i, v)| {
                    Upsert::dense(format!("v{i}"), v)
                        .with_metadata(serde_json::json!({"group": i % 10}))
                })
                .collect();
            index.upsert(batch).await.expect("upsert");
        }
        let info = index.info().await.expect("info");
        assert_eq!(info.vector_count, N as u64);
    });
    let queries: Vec<Vec<f32>> = vectors(7).take(16).collect();
    let mut g = c.benchmark_group("query");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(30);
    let mut i = 0;
    g.bench_function("100k x 384 cosine top10", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            let q = Query::vector(queries[i].clone()).top_k(10);
            black_box(rt.block_on(index.query(q)).expect("query"))
        })
    });
    g.bench_function("100k x 384 cosine top10 + filter", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            let q = Query::vector(queries[i].clone())
                .top_k(10)
                .filter("group = 3");
            black_box(rt.block_on(index.query(q)).expect("query"))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
