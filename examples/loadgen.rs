//! Load generator for the Redis REST client (and, later, the rate limiter).
//!
//! Runs `--concurrency` tasks issuing one kind of operation for `--duration` seconds and prints
//! ONE JSON line:
//!
//! ```text
//! {"mode":"get","concurrency":64,"ops":..,"ops_per_sec":..,"p50_us":..,"p99_us":..,"errors":..,"http_requests":..,"requests_per_decision":..,"auto_pipeline":..}
//! ```
//!
//! `http_requests` is the delta of the server's `GET /_local/stats` counter when the target is
//! upstash-local (always the case without `--target`), else `null`.
//!
//! ```sh
//! cargo run --release --example loadgen -- --command get --concurrency 64 --duration 5
//! cargo run --release --example loadgen -- --target http://127.0.0.1:8079 \
//!     --token upstash-local-redis-token --command incr --no-auto-pipeline
//! ```
//!
//! Options: `--target URL` (default: start an in-process local stack), `--token TOKEN`
//! (default: `UPSTASH_REDIS_REST_TOKEN`, or the local stack's), `--command get|set|incr|ratelimit`,
//! `--concurrency N` (64), `--duration SECS` (5), `--keys N` (key space, 1000),
//! `--no-auto-pipeline`, `--max-in-flight N` (auto-pipeline requests in flight, the client's
//! default when absent).
//!
//! Ratelimit mode (`--command ratelimit`, the same workload as
//! `tests/interop/ratelimit_bench.mjs`): `limit("user:<k>")` of a sliding window of `--limit`
//! per 10 s (default 1,000,000, so no identifier runs out during a run and every call is a real
//! round trip rather than an ephemeral-cache answer), prefix `--prefix` (default
//! `loadgen:ratelimit:<random>`, a fresh key space per run so consecutive runs do not share
//! counters), every other option at its default (ephemeral cache on, auto-pipelining on).
//! The JSON line then also carries `requests_per_decision` (`http_requests / ops`).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use upstash_local::{Config, LocalStack};
use upstash_redis::Redis;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What each operation does. Add a variant (and an arm in [`Workload::run_op`]) per mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Get,
    Set,
    Incr,
    /// `ratelimit.limit(id)` (upstash-ratelimit, sliding window of `--limit` per 10 s, id
    /// `user:<k>`).
    Ratelimit,
}

impl Mode {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "get" => Ok(Self::Get),
            "set" => Ok(Self::Set),
            "incr" => Ok(Self::Incr),
            "ratelimit" => Ok(Self::Ratelimit),
            other => Err(format!(
                "unknown --command {other:?} (expected get|set|incr|ratelimit)"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Set => "set",
            Self::Incr => "incr",
            Self::Ratelimit => "ratelimit",
        }
    }
}

#[derive(Debug)]
struct Args {
    target: Option<String>,
    token: Option<String>,
    mode: Mode,
    concurrency: usize,
    duration: Duration,
    keys: u64,
    auto_pipeline: bool,
    limit: i64,
    prefix: Option<String>,
    max_in_flight: Option<usize>,
    threads: usize,
}

const USAGE: &str = "usage: loadgen [--target URL] [--token TOKEN] \
[--command get|set|incr|ratelimit] [--concurrency N] [--duration SECS] [--keys N] \
[--no-auto-pipeline] [--max-in-flight N] [--limit N] [--prefix P] [--threads N]";

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Args {
            target: None,
            token: None,
            mode: Mode::Get,
            concurrency: 64,
            duration: Duration::from_secs(5),
            keys: 1000,
            auto_pipeline: true,
            limit: 1_000_000,
            prefix: None,
            max_in_flight: None,
            threads: 0,
        };
        while let Some(flag) = argv.next() {
            let mut value = |name: &str| {
                argv.next()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match flag.as_str() {
                "--target" => args.target = Some(value("--target")?),
                "--token" => args.token = Some(value("--token")?),
                "--command" | "--mode" => args.mode = Mode::parse(&value("--command")?)?,
                "--concurrency" => args.concurrency = number(&value("--concurrency")?)?,
                "--duration" => {
                    let secs: f64 = value("--duration")?
                        .parse()
                        .map_err(|_| "--duration takes seconds".to_owned())?;
                    if !(secs > 0.0 && secs.is_finite()) {
                        return Err("--duration must be positive".into());
                    }
                    args.duration = Duration::from_secs_f64(secs);
                }
                "--keys" => args.keys = number(&value("--keys")?)?,
                "--no-auto-pipeline" => args.auto_pipeline = false,
                "--threads" => args.threads = number(&value("--threads")?)?,
                "--limit" => args.limit = number(&value("--limit")?)?,
                "--prefix" => args.prefix = Some(value("--prefix")?),
                "--max-in-flight" => args.max_in_flight = Some(number(&value("--max-in-flight")?)?),
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if args.concurrency == 0 || args.keys == 0 || args.limit <= 0 {
            return Err("--concurrency, --keys and --limit must be at least 1".into());
        }
        Ok(args)
    }
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a valid number"))
}

/// The shared, read-only part of a run.
struct Workload {
    redis: Redis,
    mode: Mode,
    keys: u64,
    value: String,
    /// The limiter of ratelimit mode.
    limiter: Option<upstash_ratelimit::Ratelimit>,
}

impl Workload {
    /// One operation on key number `k`. The extension point for new modes.
    async fn run_op(&self, k: u64) -> Result<(), BoxError> {
        let key = || format!("loadgen:{k}");
        match self.mode {
            Mode::Get => {
                let _: Option<bytes::Bytes> = self.redis.get(key()).await?;
            }
            Mode::Set => self.redis.set(key(), self.value.as_str()).await?,
            Mode::Incr => {
                let _: i64 = self.redis.incr(key()).await?;
            }
            Mode::Ratelimit => {
                // `ratelimit.limit(id)` with identifier `user:<k>` (see the header).
                let limiter = self.limiter.as_ref().ok_or("no limiter")?;
                let _ = limiter.limit(&format!("user:{k}")).await?;
            }
        }
        Ok(())
    }

    /// Per-mode setup before the clock starts (GETs hit existing keys).
    async fn prepare(&self) -> Result<(), BoxError> {
        match self.mode {
            Mode::Get => {}
            Mode::Set | Mode::Incr => return Ok(()),
            Mode::Ratelimit => {
                // Loads the script (the first call costs NOSCRIPT + EVAL), as the JS side does.
                if let Some(l) = &self.limiter {
                    l.limit("user:warmup").await?;
                }
                return Ok(());
            }
        }
        let keys: Vec<u64> = (0..self.keys).collect();
        for chunk in keys.chunks(500) {
            let mut p = self.redis.pipeline();
            for k in chunk {
                p.set(format!("loadgen:{k}"), self.value.as_str());
            }
            p.exec::<upstash_redis::Value>().await?;
        }
        Ok(())
    }
}

/// Per-task results.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    // `--threads 1`: one current-thread runtime, like a Node process (no cross-thread wake-ups);
    // default: tokio's multi-thread runtime with a worker per core.
    let runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<String, BoxError> {
    // Target: a given URL, or a local stack started here.
    let (local, url, token) = match &args.target {
        Some(url) => {
            let token = args
                .token
                .clone()
                .or_else(|| std::env::var("UPSTASH_REDIS_REST_TOKEN").ok())
                .ok_or("--token (or UPSTASH_REDIS_REST_TOKEN) is required with --target")?;
            (None, url.clone(), token)
        }
        None => {
            let stack = LocalStack::start(Config::default()).await?;
            let (url, token) = (stack.redis_rest_url(), stack.redis_token());
            (Some(stack), url, token)
        }
    };
    let mut builder =
        Redis::builder(url.as_str(), token.as_str()).auto_pipelining(args.auto_pipeline);
    if let Some(n) = args.max_in_flight {
        builder = builder.auto_pipeline_max_in_flight(n);
    }
    let redis = builder.build()?;
    let limiter = match args.mode {
        Mode::Ratelimit => {
            let prefix = args.prefix.clone().unwrap_or_else(|| {
                let nonce = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
                    % 1_000_000_007;
                format!("loadgen:ratelimit:{nonce:x}")
            });
            let algo = upstash_ratelimit::Algorithm::sliding_window(args.limit, "10 s")?;
            Some(
                upstash_ratelimit::Ratelimit::builder(redis.clone(), algo)
                    .prefix(prefix)
                    .build()?,
            )
        }
        _ => None,
    };
    let workload = Arc::new(Workload {
        redis,
        mode: args.mode,
        keys: args.keys,
        value: "x".repeat(64),
        limiter,
    });
    workload.prepare().await?;

    let stats = StatsProbe::new(&url, &token);
    let before = stats.http_requests().await;

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|task| {
            let workload = workload.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut rng = XorShift::new(task as u64);
                while !stop.load(Ordering::Relaxed) {
                    let k = rng.next() % workload.keys;
                    let t0 = Instant::now();
                    let outcome = workload.run_op(k).await;
                    let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
                    match outcome {
                        Ok(()) => tally.latencies_us.push(us),
                        Err(e) => {
                            tally.errors += 1;
                            tally.first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                tally
            })
        })
        .collect();
    tokio::time::sleep(args.duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let tally = t.await?;
        latencies.extend(tally.latencies_us);
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
    }
    let elapsed = started.elapsed();
    let after = stats.http_requests().await;
    if let Some(e) = first_error {
        eprintln!("loadgen: {errors} errors, first: {e}");
    }

    latencies.sort_unstable();
    let ops = latencies.len() as u64;
    let percentile = |p: f64| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        u64::from(latencies[rank.clamp(1, latencies.len()) - 1])
    };
    let (http_requests, per_decision) = match (before, after) {
        (Some(b), Some(a)) => {
            let n = a.saturating_sub(b);
            let per = if ops > 0 {
                format!("{:.3}", n as f64 / ops as f64)
            } else {
                "null".to_owned()
            };
            (n.to_string(), per)
        }
        _ => ("null".to_owned(), "null".to_owned()),
    };
    let mut line = String::new();
    write!(
        line,
        "{{\"mode\":\"{}\",\"concurrency\":{},\"ops\":{},\"ops_per_sec\":{:.1},\"p50_us\":{},\"p99_us\":{},\"errors\":{},\"http_requests\":{},\"requests_per_decision\":{},\"auto_pipeline\":{}}}",
        args.mode.name(),
        args.concurrency,
        ops,
        ops as f64 / elapsed.as_secs_f64(),
        percentile(50.0),
        percentile(99.0),
        errors,
        http_requests,
        per_decision,
        args.auto_pipeline,
    )?;
    if let Some(limiter) = &workload.limiter {
        // Decisions the server made inside batch script runs (the rest ran alone).
        line.pop();
        write!(line, ",\"batched\":{}}}", limiter.metrics().batched)?;
    }
    if let Some(stack) = local {
        stack.shutdown().await;
    }
    Ok(line)
}

/// Reads upstash-local's request counter (`GET /_local/stats`); `None` for other servers.
struct StatsProbe {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl StatsProbe {
    fn new(base: &str, token: &str) -> Self {
        // No idle connection kept: the probe must not occupy a server thread during the run.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default();
        Self {
            http,
            url: format!("{}/_local/stats", base.trim_end_matches('/')),
            token: token.to_owned(),
        }
    }

    async fn http_requests(&self) -> Option<u64> {
        let resp = self
            .http
            .get(&self.url)
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await.ok()?).ok()?;
        body.get("http_requests")?.as_u64()
    }
}

/// A tiny per-task PRNG for key choice (xorshift64*).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
