//! Criterion benches of the QStash webhook verification (no network).
//!
//! - `verify/1KiB`: `Receiver::verify` of a valid token over a 1 KiB body (the target is
//!   under 5 µs).
//! - `verify/1KiB_next_key`: the same token signed with the next key (two HMACs).
//! - `sign/1KiB`: `Signer::sign` of a 1 KiB body.
//!
//! ```sh
//! cargo bench --bench qstash
//! ```

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use upstash_qstash::signer::Signer;
use upstash_qstash::{Receiver, VerifyOptions};

const CURRENT: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
const NEXT: &str = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";
const URL: &str = "https://example.com/api/webhooks/qstash";

fn configured() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

fn body() -> Vec<u8> {
    let mut s = String::from("{\"payload\":\"");
    while s.len() < 1022 {
        s.push('x');
    }
    s.push_str("\"}");
    s.into_bytes()
}

fn bench_verify(c: &mut Criterion) {
    let body = body();
    assert_eq!(body.len(), 1024);
    let receiver = Receiver::new(CURRENT, NEXT);
    let token = Signer::new(CURRENT).sign(&body, URL);
    let token_next = Signer::new(NEXT).sign(&body, URL);
    let opts = VerifyOptions::new().url(URL);
    assert!(receiver.verify(&token, &body, opts).is_ok());

    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("1KiB", |b| {
        b.iter(|| receiver.verify(black_box(&token), black_box(&body), opts))
    });
    group.bench_function("1KiB_next_key", |b| {
        b.iter(|| receiver.verify(black_box(&token_next), black_box(&body), opts))
    });
    group.finish();

    let signer = Signer::new(CURRENT);
    c.bench_function("sign/1KiB", |b| {
        b.iter(|| signer.sign(black_box(&body), black_box(URL)))
    });
}

criterion_group! {
    name = benches;
    config = configured();
    targets = bench_verify
}
criterion_main!(benches);
