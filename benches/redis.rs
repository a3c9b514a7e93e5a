//! Criterion benches of the Redis REST client.
//!
//! - `client/*`: client-side costs without any network (building commands, decoding replies
//!   into Rust types).
//! - `roundtrip/*`: full round trips against upstash-local started in-process (a REST server
//!   over a real redis-server on loopback): one GET, and 16 concurrent GETs with
//!   auto-pipelining on and off.
//!
//! ```sh
//! cargo bench --bench redis                 # everything
//! cargo bench --bench redis -- client/      # no network
//! cargo bench --bench redis -- roundtrip/   # needs redis-server on PATH
//! ```

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::future::IntoFuture as _;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use upstash_local::{Config, LocalStack};
use upstash_redis::{Command, FromValue, Redis, SetOptions, Value};

/// Quick settings: these benches compare orders of magnitude, not nanoseconds.
fn configured() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

/// A pipeline reply as it comes out of the decoder: 16 GET results, some nil, 64-byte values.
fn pipeline_reply() -> Value {
    Value::Array(
        (0..16)
            .map(|i| {
                if i % 5 == 4 {
                    Value::Nil
                } else {
                    Value::Bytes(Bytes::from(format!("{i:02}-{}", "v".repeat(61))))
                }
            })
            .collect(),
    )
}

/// An HGETALL reply with 20 fields.
fn hash_reply() -> Value {
    Value::Array(
        (0..20)
            .flat_map(|i| {
                [
                    Value::Bytes(Bytes::from(format!("field-{i}"))),
                    Value::Bytes(Bytes::from(i.to_string())),
                ]
            })
            .collect(),
    )
}

fn client_side(c: &mut Criterion) {
    let mut g = c.benchmark_group("client");
    let value = "v".repeat(64);

    g.bench_function("build/get", |b| {
        b.iter(|| black_box(Command::new("GET").arg(black_box("user:1234:profile"))))
    });
    g.bench_function("build/set_ex_nx", |b| {
        b.iter(|| {
            black_box(
                Command::new("SET")
                    .arg(black_box("user:1234:profile"))
                    .arg(black_box(value.as_str()))
                    .arg(SetOptions::new().ex(Duration::from_secs(60)).nx()),
            )
        })
    });
    g.throughput(Throughput::Elements(16));
    g.bench_function("build/pipeline_16_sets", |b| {
        b.iter(|| {
            let cmds: Vec<Command> = (0..16)
                .map(|i| Command::new("SET").arg(("key:", i)).arg(value.as_str()))
                .collect();
            black_box(cmds)
        })
    });
    g.bench_function("decode/pipeline_16_gets", |b| {
        let reply = pipeline_reply();
        b.iter(|| {
            let v: Vec<Option<String>> =
                FromValue::from_value(black_box(reply.clone())).unwrap_or_default();
            black_box(v)
        })
    });
    g.throughput(Throughput::Elements(20));
    g.bench_function("decode/hgetall_20_fields", |b| {
        let reply = hash_reply();
        b.iter(|| {
            let v: std::collections::HashMap<String, i64> =
                FromValue::from_value(black_box(reply.clone())).unwrap_or_default();
            black_box(v)
        })
    });
    g.finish();
}

fn round_trips(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("skipping roundtrip benches: no runtime: {e}");
            return;
        }
    };
    let stack = match rt.block_on(LocalStack::start(Config::default())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipping roundtrip benches: cannot start upstash-local: {e}");
            return;
        }
    };
    let client = |auto: bool| {
        Redis::builder(stack.redis_rest_url(), stack.redis_token())
            .auto_pipelining(auto)
            .build()
    };
    let (Ok(auto), Ok(plain)) = (client(true), client(false)) else {
        eprintln!("skipping roundtrip benches: cannot build clients");
        return;
    };
    let keys: Vec<String> = (0..16).map(|i| format!("bench:k{i}")).collect();
    let seeded = rt.block_on(async {
        let mut p = plain.pipeline();
        for k in &keys {
            p.set(k, "v".repeat(64));
        }
        p.exec::<Value>().await
    });
    if let Err(e) = seeded {
        eprintln!("skipping roundtrip benches: seeding failed: {e}");
        return;
    }

    let mut g = c.benchmark_group("roundtrip");
    g.bench_function("get_single", |b| {
        b.to_async(&rt).iter(|| async {
            let v: Option<Bytes> = plain.get(&keys[0]).await.unwrap_or_default();
            black_box(v)
        })
    });
    g.throughput(Throughput::Elements(16));
    for (name, redis) in [("auto_pipeline_on", &auto), ("auto_pipeline_off", &plain)] {
        g.bench_with_input(
            BenchmarkId::new("get_16_concurrent", name),
            redis,
            |b, redis| {
                b.to_async(&rt).iter(|| async {
                    let calls = keys
                        .iter()
                        .map(|k| redis.get::<Option<Bytes>>(k).into_future());
                    black_box(futures_util::future::join_all(calls).await)
                })
            },
        );
    }
    g.finish();
    let requests = stack.redis_stats().snapshot().http_requests;
    eprintln!("upstash-local served {requests} HTTP requests during the roundtrip benches");
    rt.block_on(stack.shutdown());
}

criterion_group! {
    name = redis;
    config = configured();
    targets = client_side, round_trips
}
criterion_main!(redis);
