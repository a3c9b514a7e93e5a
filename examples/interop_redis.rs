//! The Rust half of the Redis interop scenario (`tests/interop/redis.mjs` drives it).
//!
//! It runs the same checks as the Node script does with `@upstash/redis`, against the server
//! named by `UPSTASH_REDIS_REST_URL` / `UPSTASH_REDIS_REST_TOKEN` (an `upstash-local` in CI),
//! and the Rust side of the cross check: it reads what Node wrote and writes what Node reads.
//!
//! ```text
//! eval "$(upstash-local)"   # or any Upstash database
//! cargo run --example interop_redis -- [--prefix P] [--check-node PREFIX] [--write-for-node PREFIX]
//! ```
//!
//! Each check prints `ok` or `FAIL`; the last line is `rust: N passed, N failed` and the exit
//! status is non-zero when a check failed.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::{Future, IntoFuture};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::{join, join_all};
use upstash_redis::{ErrorKind, Redis, Script, Value};

type BoxError = Box<dyn StdError + Send + Sync>;
type Check = Result<(), BoxError>;

/// Fails the current check (instead of panicking, so the other checks still run).
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+).into());
        }
    };
}

/// Fails the current check when the two values differ.
macro_rules! ensure_eq {
    ($left:expr, $right:expr) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!(
                "{} == {}: {:?} != {:?}",
                stringify!($left),
                stringify!($right),
                left,
                right
            )
            .into());
        }
    }};
}

/// Every printable ASCII character, space to tilde.
fn printable_ascii() -> String {
    (0x20u8..=0x7e).map(char::from).collect()
}

const UNICODE: &str = "héllo wörld ✓ 你好 Ωμέγα";
const JSONISH: &str = r#"{"a":1,"b":[1,2],"c":"x\"y","d":null}"#;
const ESCAPES: &str = "line\nfeed\r\ttab \\ back \"quote\" nul\0 \u{1} \u{1f} \u{7f} end";
const EMOJI: &str = "😀👍🏽🇩🇪👨‍👩‍👧 🦀";

/// Shared state of one run.
struct Ctx {
    redis: Redis,
    url: String,
    token: String,
    http: reqwest::Client,
    prefix: String,
}

impl Ctx {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// `GET /_local/stats` of upstash-local, or `None` against a server without it.
    async fn stats(&self) -> Result<Option<serde_json::Value>, BoxError> {
        let resp = self
            .http
            .get(format!("{}/_local/stats", self.url.trim_end_matches('/')))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !resp.status().is_success() {
            return Ok(None);
        }
        let body = resp.bytes().await?;
        Ok(Some(serde_json::from_slice(&body)?))
    }
}

/// The total of HTTP requests and of commands in an upstash-local stats snapshot.
fn stats_totals(stats: &serde_json::Value) -> Option<(u64, u64)> {
    let redis = stats.get("redis").unwrap_or(stats);
    let http = redis.get("http_requests").and_then(|v| {
        v.as_u64()
            .or_else(|| v.get("total").and_then(serde_json::Value::as_u64))
    })?;
    let commands = redis.get("commands").and_then(|v| {
        v.as_u64()
            .or_else(|| v.get("total").and_then(serde_json::Value::as_u64))
    })?;
    Some((http, commands))
}

/// Counts passed and failed checks.
#[derive(Default)]
struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    async fn check(&mut self, name: &str, fut: impl Future<Output = Check>) {
        match fut.await {
            Ok(()) => {
                self.passed += 1;
                println!("ok   rust {name}");
            }
            Err(e) => {
                self.failed += 1;
                println!("FAIL rust {name}: {e}");
            }
        }
    }
}

async fn strings(ctx: &Ctx) -> Check {
    let r = &ctx.redis;
    let k = ctx.key("str");
    r.set(&k, "hello").await?;
    let v: Option<String> = r.get(&k).await?;
    ensure_eq!(v.as_deref(), Some("hello"));

    r.set(&k, UNICODE).await?;
    let v: Option<String> = r.get(&k).await?;
    ensure_eq!(v.as_deref(), Some(UNICODE));

    r.set(&k, JSONISH).await?;
    let v: Option<String> = r.get(&k).await?;
    ensure_eq!(v.as_deref(), Some(JSONISH));

    let counter = ctx.key("counter");
    ensure_eq!(r.incr(&counter).await?, 1);
    let n: i64 = r.cmd("INCRBY").arg(&counter).arg(10).query().await?;
    ensure_eq!(n, 11);
    let n: Option<i64> = r.get(&counter).await?;
    ensure_eq!(n, Some(11));

    r.cmd("SET")
        .arg(&k)
        .arg("expiring")
        .arg("EX")
        .arg(60)
        .query::<()>()
        .await?;
    let ttl: i64 = r.cmd("TTL").arg(&k).query().await?;
    ensure!((1..=60).contains(&ttl), "TTL {ttl} not in 1..=60");

    let missing: Option<String> = r.get(ctx.key("missing")).await?;
    ensure_eq!(missing, None);
    Ok(())
}

async fn binary_ish(ctx: &Ctx) -> Check {
    let r = &ctx.redis;
    let k = ctx.key("bin");
    for text in [printable_ascii().as_str(), ESCAPES, EMOJI] {
        r.set(&k, text).await?;
        let v: Option<String> = r.get(&k).await?;
        ensure_eq!(v.as_deref(), Some(text));
        let len: usize = r.cmd("STRLEN").arg(&k).query().await?;
        ensure_eq!(len, text.len());
    }
    // Real binary: every byte value, sent in the raw request body.
    let all: Vec<u8> = (0..=255u8).collect();
    r.set(&k, all.as_slice()).await?;
    let v: Option<Vec<u8>> = r.get(&k).await?;
    ensure_eq!(v.as_deref(), Some(all.as_slice()));
    let len: usize = r.cmd("STRLEN").arg(&k).query().await?;
    ensure_eq!(len, 256);
    Ok(())
}

async fn pipeline(ctx: &Ctx) -> Check {
    let r = &ctx.redis;
    let (k, c) = (ctx.key("p:k"), ctx.key("p:c"));
    let mut p = r.pipeline();
    p.set(&k, EMOJI)
        .incr(&c)
        .incr(&c)
        .get(&k)
        .cmd("DEL", ctx.key("p:none"));
    let (ok, one, two, v, deleted): ((), i64, i64, String, i64) = p.exec().await?;
    ensure_eq!((ok, one, two, v.as_str(), deleted), ((), 1, 2, EMOJI, 0));

    // A failing command fails alone; the others still run.
    let s = ctx.key("p:s");
    let mut p = r.pipeline();
    p.set(&s, "not a number").incr(&s).get(&s);
    let results = p.exec_keep_errors().await?;
    ensure_eq!(results.len(), 3);
    ensure!(results[0].is_ok(), "SET failed: {:?}", results[0]);
    ensure!(
        matches!(&results[1], Err(e) if e.kind() == Some(&ErrorKind::Err)),
        "INCR on text should fail with ERR: {:?}",
        results[1]
    );
    ensure!(
        matches!(&results[2], Ok(Value::Bytes(b)) if b.as_ref() == b"not a number"),
        "GET after the failure: {:?}",
        results[2]
    );
    match p.exec::<Value>().await {
        Err(upstash_redis::Error::Pipeline { index, .. }) => ensure_eq!(index, 1),
        other => return Err(format!("exec should name command 1: {other:?}").into()),
    }
    Ok(())
}

async fn transaction(ctx: &Ctx) -> Check {
    let r = &ctx.redis;
    let k = ctx.key("tx:k");
    let mut tx = r.multi();
    tx.set(&k, 1).incr(&k).get(&k);
    let (ok, n, v): ((), i64, i64) = tx.exec().await?;
    ensure_eq!((ok, n, v), ((), 2, 2));

    // A run-time error inside EXEC does not roll the others back.
    let (s, s2) = (ctx.key("tx:s"), ctx.key("tx:s2"));
    let mut tx = r.multi();
    tx.set(&s, "text").incr(&s).set(&s2, "after");
    let results = tx.exec_keep_errors().await?;
    ensure_eq!(results.len(), 3);
    ensure!(
        results[0].is_ok() && results[1].is_err() && results[2].is_ok(),
        "expected ok, error, ok: {results:?}"
    );
    let v: Option<String> = r.get(&s2).await?;
    ensure_eq!(v.as_deref(), Some("after"));
    Ok(())
}

async fn scripts(ctx: &Ctx) -> Check {
    let r = &ctx.redis;
    let k = ctx.key("script");
    let script =
        Script::new("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])");
    let v: String = script.exec(r, &k, "v1").await?;
    ensure_eq!(v, "v1");
    let sha = script.load(r).await?;
    ensure_eq!(sha, script.sha1());
    let exists: Vec<i64> = r
        .cmd("SCRIPT")
        .arg("EXISTS")
        .arg(script.sha1())
        .query()
        .await?;
    ensure_eq!(exists, vec![1]);

    let v: String = r
        .cmd("EVAL")
        .arg("return ARGV[1] .. ARGV[2]")
        .arg(0)
        .arg("a")
        .arg("😀")
        .query()
        .await?;
    ensure_eq!(v, "a😀");

    // After SCRIPT FLUSH, EVALSHA answers NOSCRIPT and Script falls back to EVAL.
    r.cmd("SCRIPT").arg("FLUSH").query::<()>().await?;
    let exists: Vec<i64> = r
        .cmd("SCRIPT")
        .arg("EXISTS")
        .arg(script.sha1())
        .query()
        .await?;
    ensure_eq!(exists, vec![0]);
    let err = r
        .cmd("EVALSHA")
        .arg(script.sha1())
        .arg(1)
        .arg(&k)
        .arg("x")
        .query::<Value>()
        .await
        .err()
        .ok_or("EVALSHA after SCRIPT FLUSH should fail")?;
    ensure!(err.is_noscript(), "expected NOSCRIPT, got {err}");
    let v: String = script.exec(r, &k, "v2").await?;
    ensure_eq!(v, "v2");
    let exists: Vec<i64> = r
        .cmd("SCRIPT")
        .arg("EXISTS")
        .arg(script.sha1())
        .query()
        .await?;
    ensure_eq!(exists, vec![1]);

    let ro = Script::read_only("return redis.call('GET', KEYS[1])");
    let v: Option<String> = ro.exec(r, &k, [] as [&str; 0]).await?;
    ensure_eq!(v.as_deref(), Some("v2"));
    Ok(())
}

async fn auto_pipelining(ctx: &Ctx) -> Check {
    let r = &ctx.redis;
    let counter = ctx.key("auto:counter");
    let before = r.auto_pipeline_requests();
    let stats_before = ctx.stats().await?;

    // 50 concurrent commands: 25 SETs and 25 INCRs, issued in order.
    let sets = (0..25).map(|i| r.set(ctx.key(&format!("auto:{i}")), i).into_future());
    let incrs = (0..25).map(|_| r.incr(&counter).into_future());
    let (set_results, incr_results) = join(join_all(sets), join_all(incrs)).await;
    for res in set_results {
        res?;
    }
    let incrs: Vec<i64> = incr_results.into_iter().collect::<Result<_, _>>()?;
    ensure_eq!(incrs, (1..=25).collect::<Vec<i64>>());

    let requests = r.auto_pipeline_requests() - before;
    ensure!(
        (1..50).contains(&requests),
        "50 concurrent commands took {requests} auto-pipeline requests"
    );
    if let (Some(s0), Some(s1)) = (stats_before, ctx.stats().await?) {
        let ((h0, c0), (h1, c1)) = (
            stats_totals(&s0).ok_or("unexpected stats shape")?,
            stats_totals(&s1).ok_or("unexpected stats shape")?,
        );
        // The first stats request itself may be counted.
        let (http, commands) = (h1 - h0, c1 - c0);
        ensure!(
            commands >= 50 && http < 50,
            "server saw {http} HTTP requests for {commands} commands"
        );
        println!("     rust auto-pipelining: 50 commands, {requests} client requests, server saw {http} HTTP requests");
    } else {
        println!("     rust auto-pipelining: server has no /_local/stats; client-side count only");
    }

    let gets = (0..25).map(|i| {
        r.get::<Option<i64>>(ctx.key(&format!("auto:{i}")))
            .into_future()
    });
    let values: Vec<Option<i64>> = join_all(gets).await.into_iter().collect::<Result<_, _>>()?;
    ensure_eq!(values, (0..25).map(Some).collect::<Vec<_>>());
    Ok(())
}

async fn read_your_writes(ctx: &Ctx) -> Check {
    let r = &ctx.redis;
    let k = ctx.key("ryw");
    r.set(&k, "written").await?;
    let token = r
        .sync_token()
        .ok_or("no upstash-sync-token after a write")?;
    ensure!(!token.is_empty(), "empty upstash-sync-token");

    // Another instance carries the token over and reads the write.
    let other = Redis::new(&ctx.url, &ctx.token)?;
    other.set_sync_token(&token);
    let v: Option<String> = other.get(&k).await?;
    ensure_eq!(v.as_deref(), Some("written"));

    // Made-up tokens are accepted too.
    other.set_sync_token("my-new-sync-token");
    let v: Option<String> = other.get(&k).await?;
    ensure_eq!(v.as_deref(), Some("written"));
    Ok(())
}

async fn errors(ctx: &Ctx) -> Check {
    let r = &ctx.redis;
    let k = ctx.key("err");
    r.set(&k, "text").await?;
    let err = r
        .cmd("LPUSH")
        .arg(&k)
        .arg("x")
        .query::<i64>()
        .await
        .err()
        .ok_or("LPUSH on a string should fail")?;
    ensure_eq!(err.kind(), Some(&ErrorKind::WrongType));

    let err = r
        .cmd("NOSUCHCOMMAND")
        .query::<Value>()
        .await
        .err()
        .ok_or("an unknown command should fail")?;
    ensure_eq!(err.kind(), Some(&ErrorKind::Err));

    let err = r
        .get::<i64>(&k)
        .await
        .err()
        .ok_or("text decoded as i64 should fail")?;
    ensure!(
        matches!(err, upstash_redis::Error::Decode(_)),
        "expected a decode error, got {err}"
    );

    let bad = Redis::new(&ctx.url, "not-the-token")?;
    let err = bad
        .get::<Value>(&k)
        .await
        .err()
        .ok_or("a bad token should fail")?;
    ensure!(err.is_unauthorized(), "expected unauthorized, got {err}");
    Ok(())
}

/// Reads what `redis.mjs` wrote under `prefix` with `@upstash/redis`.
async fn check_node_writes(ctx: &Ctx, prefix: &str) -> Check {
    let r = &ctx.redis;
    let k = |name: &str| format!("{prefix}{name}");
    if let Ok(token) = std::env::var("INTEROP_NODE_SYNC_TOKEN") {
        r.set_sync_token(&token);
    }
    let v: Option<String> = r.get(k("text")).await?;
    ensure_eq!(v.as_deref(), Some("héllo wörld 😀 from node"));
    // Node stores objects as JSON text.
    let v: Option<String> = r.get(k("json")).await?;
    let json: serde_json::Value = serde_json::from_str(v.as_deref().ok_or("json missing")?)?;
    ensure_eq!(
        json,
        serde_json::json!({"a": 1, "list": [1, "two"], "nested": {"ok": true}})
    );
    // ... and numbers and booleans as their text.
    let v: Option<i64> = r.get(k("num")).await?;
    ensure_eq!(v, Some(42));
    let v: Option<String> = r.get(k("bool")).await?;
    ensure_eq!(v.as_deref(), Some("true"));
    let v: Option<String> = r.get(k("ascii")).await?;
    ensure_eq!(v, Some(printable_ascii()));
    let v: Option<String> = r.get(k("escapes")).await?;
    ensure_eq!(v.as_deref(), Some(ESCAPES));
    let v: Option<String> = r.get(k("emoji")).await?;
    ensure_eq!(v.as_deref(), Some(EMOJI));
    let hash: HashMap<String, String> = r.cmd("HGETALL").arg(k("hash")).query().await?;
    ensure_eq!(
        hash,
        HashMap::from([("f1".into(), "v1".into()), ("f2".into(), "2".into())])
    );
    let list: Vec<String> = r
        .cmd("LRANGE")
        .arg(k("list"))
        .arg(0)
        .arg(-1)
        .query()
        .await?;
    ensure_eq!(list, vec!["a", "b", "c"]);
    let v: Option<i64> = r.get(k("counter")).await?;
    ensure_eq!(v, Some(3));
    let v: Option<String> = r.get(k("script")).await?;
    ensure_eq!(v.as_deref(), Some("set by a node script"));
    Ok(())
}

/// Writes what `redis.mjs` reads back with `@upstash/redis`.
async fn write_for_node(ctx: &Ctx, prefix: &str) -> Check {
    let r = &ctx.redis;
    let k = |name: &str| format!("{prefix}{name}");
    r.set(k("text"), "grüße aus Rust 🦀").await?;
    r.set(k("json"), r#"{"from":"rust","n":[1,2,3]}"#).await?;
    r.set(k("num"), 123).await?;
    r.set(k("ascii"), printable_ascii()).await?;
    r.set(k("escapes"), ESCAPES).await?;
    r.set(k("emoji"), EMOJI).await?;
    r.set(k("bin"), [0x00u8, 0xff, 0x41, 0xfe]).await?;
    r.cmd("HSET")
        .arg(k("hash"))
        .arg(["f1", "v1", "f2", "2"])
        .query::<i64>()
        .await?;
    r.cmd("RPUSH")
        .arg(k("list"))
        .arg(["x", "y", "z"])
        .query::<i64>()
        .await?;
    for _ in 0..5 {
        r.incr(k("counter")).await?;
    }
    let mut tx = r.multi();
    tx.set(k("tx"), "from a rust transaction").incr(k("tx:n"));
    tx.exec::<((), i64)>().await?;
    let script = Script::new("return redis.call('SET', KEYS[1], ARGV[1])");
    script
        .exec::<Value>(r, k("script"), "set by a rust script")
        .await?;
    if let Some(token) = r.sync_token() {
        println!("rust-sync-token: {token}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut prefix = None;
    let mut check_node = None;
    let mut write_node = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--prefix" => &mut prefix,
            "--check-node" => &mut check_node,
            "--write-for-node" => &mut write_node,
            other => return Err(format!("unknown argument {other}").into()),
        };
        *slot = Some(args.next().ok_or("missing value after an argument")?);
    }
    let prefix = prefix.unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("interop:rust:{nanos}:")
    });

    let url = upstash_core::env::first_of(&["UPSTASH_REDIS_REST_URL", "KV_REST_API_URL"])?;
    let token = upstash_core::env::first_of(&["UPSTASH_REDIS_REST_TOKEN", "KV_REST_API_TOKEN"])?;
    let ctx = Ctx {
        redis: Redis::from_env()?,
        url,
        token,
        http: reqwest::Client::new(),
        prefix,
    };

    let mut report = Report::default();
    report.check("strings", strings(&ctx)).await;
    report.check("binary-ish values", binary_ish(&ctx)).await;
    report.check("pipeline", pipeline(&ctx)).await;
    report.check("multi-exec", transaction(&ctx)).await;
    report.check("scripts", scripts(&ctx)).await;
    report.check("auto-pipelining", auto_pipelining(&ctx)).await;
    report
        .check("read-your-writes", read_your_writes(&ctx))
        .await;
    report.check("errors", errors(&ctx)).await;
    if let Some(node_prefix) = &check_node {
        report
            .check(
                "reads what node wrote",
                check_node_writes(&ctx, node_prefix),
            )
            .await;
    }
    if let Some(for_node) = &write_node {
        report
            .check("writes for node", write_for_node(&ctx, for_node))
            .await;
    }

    println!("rust: {} passed, {} failed", report.passed, report.failed);
    if report.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
