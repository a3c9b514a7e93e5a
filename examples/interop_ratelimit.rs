//! The Rust half of the ratelimit interop check (`tests/interop/ratelimit.mjs` drives it).
//!
//! Runs `--calls N` decisions of `upstash-ratelimit` for one identifier against the server named
//! by `UPSTASH_REDIS_REST_URL` / `UPSTASH_REDIS_REST_TOKEN` (an `upstash-local` in CI) and prints
//! one JSON line per decision, so that a driver can interleave them with `@upstash/ratelimit`
//! calls on the same identifier.
//!
//! ```text
//! eval "$(upstash-local)"   # or any Upstash database
//! cargo run --example interop_ratelimit -- --algo sliding --id user1 --limit 5 --window "1 h" --calls 3
//! ```
//!
//! Options:
//! - `--algo fixed|sliding|token` (required)
//! - `--id ID` (required), `--prefix P` (default `@upstash/ratelimit`)
//! - `--limit N` tokens per window, or the bucket capacity (default 5)
//! - `--window W` window, or the refill interval, in the JS grammar (default `60 s`)
//! - `--refill N` token bucket refill rate per interval (default 1)
//! - `--calls N` decisions to take (default 1), `--rate N` tokens per decision (default 1)
//! - `--concurrent` take the `--calls N` decisions at once (one spawned task each, all on one
//!   limiter) instead of one after another, so that those queued behind busy requests are
//!   decided together in batch script runs
//! - `--get-remaining` also print the `get_remaining` result after the decisions
//!
//! Each decision prints `{"op":"limit","success":..,"remaining":..,"limit":..,"reset":..,"reason":..}`
//! (with `--concurrent` in no particular order, followed by
//! `{"op":"batched","count":..}`, the limiter's `metrics().batched`); `--get-remaining` adds
//! `{"op":"get_remaining","remaining":..,"limit":..,"reset":..}`. Errors go to stderr and the
//! exit status is non-zero.

use std::error::Error as StdError;
use std::process::ExitCode;

use serde_json::{json, Value};
use upstash_ratelimit::{Algorithm, LimitOptions, Ratelimit, DEFAULT_PREFIX};
use upstash_redis::Redis;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The parsed command line.
#[derive(Debug)]
struct Spec {
    algo: String,
    id: String,
    prefix: String,
    limit: i64,
    window: String,
    refill: i64,
    calls: u32,
    rate: i64,
    concurrent: bool,
    get_remaining: bool,
}

fn parse_args() -> Result<Spec, BoxError> {
    let mut spec = Spec {
        algo: String::new(),
        id: String::new(),
        prefix: DEFAULT_PREFIX.to_owned(),
        limit: 5,
        window: "60 s".to_owned(),
        refill: 1,
        calls: 1,
        rate: 1,
        concurrent: false,
        get_remaining: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--get-remaining" {
            spec.get_remaining = true;
            continue;
        }
        if flag == "--concurrent" {
            spec.concurrent = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--algo" => spec.algo = value,
            "--id" => spec.id = value,
            "--prefix" => spec.prefix = value,
            "--limit" => spec.limit = value.parse()?,
            "--window" => spec.window = value,
            "--refill" => spec.refill = value.parse()?,
            "--calls" => spec.calls = value.parse()?,
            "--rate" => spec.rate = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if spec.id.is_empty() {
        return Err("--id is required".into());
    }
    Ok(spec)
}

fn algorithm(spec: &Spec) -> Result<Algorithm, BoxError> {
    let window = spec.window.as_str();
    Ok(match spec.algo.as_str() {
        "fixed" => Algorithm::fixed_window(spec.limit, window)?,
        "sliding" => Algorithm::sliding_window(spec.limit, window)?,
        "token" => Algorithm::token_bucket(spec.refill, window, spec.limit)?,
        _ => return Err("--algo must be fixed, sliding or token".into()),
    })
}

/// Takes one decision, waits for its pending work and returns its JSON line.
async fn decide(limiter: &Ratelimit, id: &str, rate: i64) -> Result<Value, BoxError> {
    let res = limiter.limit_with(id, LimitOptions::rate(rate)).await?;
    let line = json!({
        "op": "limit",
        "success": res.success,
        "remaining": res.remaining,
        "limit": res.limit,
        "reset": res.reset,
        "reason": res.reason.map(|r| r.as_str()),
    });
    res.pending.wait().await;
    Ok(line)
}

async fn run() -> Result<(), BoxError> {
    let spec = parse_args()?;
    let redis = Redis::from_env()?;
    let limiter = Ratelimit::builder(redis, algorithm(&spec)?)
        .prefix(spec.prefix.clone())
        .build()?;
    if spec.concurrent {
        // Every task is spawned before any is awaited, so all decisions are in flight at once.
        let tasks: Vec<_> = (0..spec.calls)
            .map(|_| {
                let limiter = limiter.clone();
                let id = spec.id.clone();
                let rate = spec.rate;
                tokio::spawn(async move { decide(&limiter, &id, rate).await })
            })
            .collect();
        for task in tasks {
            println!("{}", task.await??);
        }
        let line = json!({"op": "batched", "count": limiter.metrics().batched});
        println!("{line}");
    } else {
        for _ in 0..spec.calls {
            println!("{}", decide(&limiter, &spec.id, spec.rate).await?);
        }
    }
    if spec.get_remaining {
        let rem = limiter.get_remaining(&spec.id).await?;
        let line = json!({
            "op": "get_remaining",
            "remaining": rem.remaining,
            "limit": rem.limit,
            "reset": rem.reset,
        });
        println!("{line}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("interop_ratelimit: {err}");
            ExitCode::FAILURE
        }
    }
}
