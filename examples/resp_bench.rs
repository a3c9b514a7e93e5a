//! The RESP backend against `redis-benchmark`, same script, same shape.
//!
//! Runs `limit(id)` of a sliding window through [`RespStore`] (feature `resp`) from
//! `--concurrency` tasks for `--duration` seconds against a Redis you started, then (unless
//! `--no-compare`) runs `redis-benchmark` with `EVALSHA` of the very same flag-less sliding
//! window script, two keys and four arguments, at the same concurrency, and prints ONE JSON line
//! per side plus the ratio:
//!
//! ```text
//! {"side":"upstash-ratelimit/resp","concurrency":64,"connections":1,"ops":..,"ops_per_sec":..,"p50_us":..,"p99_us":..,"errors":0}
//! {"side":"redis-benchmark","command":"redis-benchmark -h .. EVALSHA ..","ops_per_sec":..}
//! {"ratio":..}
//! ```
//!
//! ```sh
//! redis-server --port 6390 --save '' --appendonly no --daemonize yes
//! cargo run --release --example resp_bench -- --redis-url redis://127.0.0.1:6390 \
//!     --concurrency 64 --duration 5
//! redis-cli -p 6390 shutdown nosave
//! ```
//!
//! Workload: a sliding window of `--limit` (1,000,000) per 10 s, so every call runs the script
//! and increments (no identifier is ever refused, the ephemeral cache never answers), ids
//! `user:<k>` for k uniform in `--keys` (10,000), prefix `respbench:<random>` (a fresh key
//! space per run). The redis-benchmark side: `SCRIPT LOAD` of the same text first, then
//! `redis-benchmark -h H -p P -c C -n N -r KEYS -P PIPE EVALSHA <sha> 2 respbench:cmp:{rand}:0
//! respbench:cmp:{rand}:1 <limit> <now> 10000 1` (`{rand}` = redis-benchmark's `__rand_int__`),
//! with N sized to last about `--duration` seconds and `--pipeline` (default 1) as PIPE.
//! Options: `--connections N` spreads the tasks over N multiplexed connections (default 1).

use std::fmt::Write as _;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use upstash_ratelimit::redis;
use upstash_ratelimit::scripts::{self, ScriptKind};
use upstash_ratelimit::{Algorithm, Ratelimit, RespStore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: resp_bench [--redis-url URL] [--concurrency N] [--duration SECS] \
[--keys N] [--limit N] [--connections N] [--pipeline N] [--no-compare]";

struct Args {
    url: String,
    concurrency: usize,
    duration: f64,
    keys: u64,
    limit: i64,
    connections: usize,
    pipeline: usize,
    compare: bool,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        url: "redis://127.0.0.1:6390".into(),
        concurrency: 64,
        duration: 5.0,
        keys: 10_000,
        limit: 1_000_000,
        connections: 1,
        pipeline: 1,
        compare: true,
    };
    fn num<T: std::str::FromStr>(v: Option<String>, name: &str) -> Result<T, String> {
        v.and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number\n{USAGE}"))
    }
    while let Some(flag) = argv.next() {
        match flag.as_str() {
            "--redis-url" => a.url = argv.next().ok_or(USAGE)?,
            "--concurrency" => a.concurrency = num(argv.next(), &flag)?,
            "--duration" => a.duration = num(argv.next(), &flag)?,
            "--keys" => a.keys = num(argv.next(), &flag)?,
            "--limit" => a.limit = num(argv.next(), &flag)?,
            "--connections" => a.connections = num(argv.next(), &flag)?,
            "--pipeline" => a.pipeline = num(argv.next(), &flag)?,
            "--no-compare" => a.compare = false,
            _ => return Err(USAGE.into()),
        }
    }
    if a.concurrency == 0 || a.keys == 0 || a.connections == 0 || a.pipeline == 0 {
        return Err(format!("counts must be at least 1\n{USAGE}"));
    }
    if !(a.duration > 0.0 && a.duration.is_finite()) || a.limit <= 0 {
        return Err(format!("--duration and --limit must be positive\n{USAGE}"));
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resp_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    let client = redis::Client::open(args.url.as_str())?;
    let algo = Algorithm::sliding_window(args.limit, "10 s")?;
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() % 1_000_000_007;
    let prefix = format!("respbench:{nonce:x}");
    let mut limiters = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let conn = client.get_multiplexed_async_connection().await?;
        limiters.push(
            Ratelimit::builder(RespStore::new(conn), algo)
                .prefix(prefix.as_str())
                .build()?,
        );
    }
    // Warm-up: loads the script (NOSCRIPT + EVAL once).
    for l in &limiters {
        l.limit("warmup").await?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|t| {
            let limiter = limiters[t % limiters.len()].clone();
            let stop = stop.clone();
            let keys = args.keys;
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut rng = (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut id = String::new();
                while !stop.load(Ordering::Relaxed) {
                    rng ^= rng >> 12;
                    rng ^= rng << 25;
                    rng ^= rng >> 27;
                    let k = rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % keys;
                    id.clear();
                    let _ = write!(id, "user:{k}");
                    let t0 = Instant::now();
                    match limiter.limit(&id).await {
                        Ok(_) => {
                            lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX))
                        }
                        Err(_) => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        let rank = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len().max(1));
        lat.get(rank - 1).copied().unwrap_or(0)
    };
    let ours = lat.len() as f64 / elapsed;
    println!(
        "{{\"side\":\"upstash-ratelimit/resp\",\"concurrency\":{},\"connections\":{},\"ops\":{},\"ops_per_sec\":{:.1},\"p50_us\":{},\"p99_us\":{},\"errors\":{}}}",
        args.concurrency,
        args.connections,
        lat.len(),
        ours,
        pct(0.5),
        pct(0.99),
        errors
    );
    if !args.compare {
        return Ok(());
    }

    // The same script text, loaded under its SHA-1.
    let script = scripts::all()
        .into_iter()
        .find(|s| s.kind() == ScriptKind::SlidingLimit)
        .ok_or("no sliding window script")?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(script.plain().text())
        .query_async(&mut conn)
        .await?;
    let info = client.get_connection_info();
    let (host, port) = match info.addr() {
        redis::ConnectionAddr::Tcp(h, p) => (h.clone(), *p),
        _ => return Err("--redis-url must be a TCP address for redis-benchmark".into()),
    };
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let n = ((ours * args.duration) as u64).max(10_000);
    let argv: Vec<String> = [
        "-h".to_owned(),
        host,
        "-p".into(),
        port.to_string(),
        "-c".into(),
        args.concurrency.to_string(),
        "-n".into(),
        n.to_string(),
        "-r".into(),
        args.keys.to_string(),
        "-P".into(),
        args.pipeline.to_string(),
        "-q".into(),
        "--csv".into(),
        "EVALSHA".into(),
        sha,
        "2".into(),
        format!("respbench:cmp:{nonce:x}:__rand_int__:0"),
        format!("respbench:cmp:{nonce:x}:__rand_int__:1"),
        args.limit.to_string(),
        now_ms.to_string(),
        "10000".into(),
        "1".into(),
    ]
    .into();
    let out = Command::new("redis-benchmark").args(&argv).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // CSV: a header line, then `"EVALSHA ...","<rps>",...`.
    let theirs: f64 = text
        .lines()
        .filter(|l| !l.starts_with("\"test\""))
        .find_map(|l| {
            l.split("\",\"")
                .nth(1)
                .and_then(|v| v.trim_matches('"').parse().ok())
        })
        .ok_or_else(|| format!("cannot read redis-benchmark output: {text}"))?;
    println!(
        "{{\"side\":\"redis-benchmark\",\"command\":{},\"ops_per_sec\":{theirs:.1}}}",
        serde_json::to_string(&format!("redis-benchmark {}", argv.join(" ")))?
    );
    println!("{{\"ratio\":{:.3}}}", ours / theirs);
    Ok(())
}
