//! A guided tour of the SDK against a local stack started in-process: the README's demo.
//!
//! ```sh
//! cargo run --example tour          # needs redis-server on PATH, nothing else
//! ```
//!
//! Each section is one function taking the shared [`Tour`] context; add a section for each
//! new crate (rate limiting, QStash, Vector, ...) and list it in `SECTIONS`.

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture as _};
use std::pin::Pin;
use std::time::Instant;

use upstash_local::{Config, LocalStack};
use upstash_redis::{ErrorKind, Redis, Script, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type SectionResult = Result<(), BoxError>;
type Section = for<'a> fn(&'a Tour) -> Pin<Box<dyn Future<Output = SectionResult> + 'a>>;

/// Everything a section needs: the running stack and a client for it.
struct Tour {
    stack: LocalStack,
    redis: Redis,
    prefix: &'static str,
}

impl Tour {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// HTTP requests the local Redis endpoint has served so far.
    fn server_requests(&self) -> u64 {
        self.stack.redis_stats().snapshot().http_requests
    }
}

/// The sections, in the order they run: (title, function).
const SECTIONS: &[(&str, Section)] = &[
    ("Typed values", |t| Box::pin(typed_values(t))),
    ("Binary values", |t| Box::pin(binary_values(t))),
    ("Pipelines", |t| Box::pin(pipelines(t))),
    ("Transactions", |t| Box::pin(transactions(t))),
    ("Scripts", |t| Box::pin(scripts(t))),
    ("Auto-pipelining", |t| Box::pin(auto_pipelining(t))),
    ("Typed errors", |t| Box::pin(typed_errors(t))),
];

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let tour = start().await?;
    for (i, (title, section)) in SECTIONS.iter().enumerate() {
        println!("\n== {}. {title} ==", i + 1);
        section(&tour).await?;
    }
    println!("\nDone. Stopping the local stack.");
    tour.stack.shutdown().await;
    Ok(())
}

/// Starts upstash-local in-process on ephemeral ports and prints the variables an
/// application (or another SDK) would use to reach it.
async fn start() -> Result<Tour, BoxError> {
    println!("Starting upstash-local in-process (a REST server over a real redis-server)...");
    let stack = LocalStack::start(Config::default()).await?;
    println!("Ready. Any Upstash SDK can use it with:\n");
    print!("{}", stack.env_block());
    let redis = Redis::new(stack.redis_rest_url(), stack.redis_token())?;
    Ok(Tour {
        stack,
        redis,
        prefix: "tour:",
    })
}

/// Replies decode into the type you ask for; nothing is guessed.
async fn typed_values(t: &Tour) -> SectionResult {
    let r = &t.redis;
    let k = t.key("answer");
    r.set(&k, 42).await?;
    let as_text: String = r.get(&k).await?;
    let as_number: i64 = r.get(&k).await?;
    let missing: Option<String> = r.get(t.key("missing")).await?;
    println!("GET as String -> {as_text:?}, as i64 -> {as_number}, missing key -> {missing:?}");

    let big = "12345678901234567890123"; // no float rounding: a string stays a string
    r.set(t.key("big"), big).await?;
    let back: String = r.get(t.key("big")).await?;
    println!("a 23-digit id round-trips exactly: {}", back == big);

    let h = t.key("profile");
    r.hset(&h, [("name", "Ada"), ("visits", "3")]).await?;
    let profile: BTreeMap<String, String> = r.hgetall(&h).await?;
    let empty: BTreeMap<String, String> = r.hgetall(t.key("no-hash")).await?;
    println!("HGETALL -> {profile:?}; of a missing hash -> {empty:?} (an empty map, not null)");
    Ok(())
}

/// Values are bytes: the client asks for base64 replies and decodes them exactly.
async fn binary_values(t: &Tour) -> SectionResult {
    let r = &t.redis;
    let k = t.key("blob");
    let blob: Vec<u8> = (0..=255u8).collect();
    r.set(&k, blob.clone()).await?;
    let back: Vec<u8> = r.get(&k).await?;
    println!(
        "stored all 256 byte values; read back {} bytes, identical: {}",
        back.len(),
        back == blob
    );
    let odd_key = t.key("dir/with space/ключ 🔑");
    r.set(&odd_key, "ok").await?;
    let v: String = r.get(&odd_key).await?;
    println!("keys with '/', spaces and unicode work too: {v:?}");
    Ok(())
}

/// Several commands in one HTTP request, results decoded as a tuple.
async fn pipelines(t: &Tour) -> SectionResult {
    let r = &t.redis;
    let before = t.server_requests();
    let mut p = r.pipeline();
    p.set(t.key("p"), 10)
        .incr(t.key("p"))
        .get(t.key("p"))
        .incr(t.key("profile"));
    let results = p.exec_keep_errors().await?;
    println!(
        "4 commands in {} HTTP request; per-command results:",
        t.server_requests() - before
    );
    for (i, res) in results.iter().enumerate() {
        match res {
            Ok(v) => println!("  [{i}] ok    {v:?}"),
            Err(e) => println!("  [{i}] error {e}"),
        }
    }
    let mut p = r.pipeline();
    p.incr(t.key("p")).get(t.key("p"));
    let (n, s): (i64, String) = p.exec().await?;
    println!("typed: exec::<(i64, String)>() -> ({n}, {s:?})");
    Ok(())
}

/// MULTI/EXEC: atomic, and a queue-time error discards the whole transaction.
async fn transactions(t: &Tour) -> SectionResult {
    let r = &t.redis;
    let account = t.key("account");
    let mut tx = r.multi();
    tx.set(&account, 100)
        .decrby(&account, 30)
        .rpush(t.key("ledger"), "debit 30");
    let ((), balance, entries): ((), i64, u64) = tx.exec().await?;
    println!("MULTI: balance {balance}, ledger entries {entries}");

    let mut bad = r.multi();
    bad.decrby(&account, 1000)
        .push(upstash_redis::Command::new("INCR")); // missing its key: rejected at queue time
    match bad.exec::<Value>().await {
        Err(e) if e.kind() == Some(&ErrorKind::ExecAbort) => {
            let still: i64 = r.get(&account).await?;
            println!("a queue-time error aborts everything (EXECABORT); balance still {still}");
        }
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}

/// Scripts go by SHA-1 (EVALSHA); the source is sent only when the server lacks it.
async fn scripts(t: &Tour) -> SectionResult {
    let r = &t.redis;
    let script = Script::new(
        "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) \
         if n > tonumber(ARGV[2]) then return {n, 'over'} end return {n, 'ok'}",
    );
    let k = t.key("quota");
    for _ in 0..3 {
        let (n, verdict): (i64, String) = script.exec(r, &k, (4, 10)).await?;
        println!("script {} -> {n} {verdict}", &script.sha1()[..8]);
    }
    r.script_flush(None).await?;
    let (n, verdict): (i64, String) = script.exec(r, &k, (0, 10)).await?;
    println!("after SCRIPT FLUSH: NOSCRIPT -> EVAL fallback -> {n} {verdict}");
    Ok(())
}

/// Concurrent commands from one client share HTTP requests automatically.
async fn auto_pipelining(t: &Tour) -> SectionResult {
    let r = &t.redis;
    let before = t.server_requests();
    let client_before = r.auto_pipeline_requests();
    let started = Instant::now();
    let calls = (0..500).map(|i| r.incr(t.key(&format!("hits:{}", i % 10))).into_future());
    let results = futures_util::future::join_all(calls).await;
    let elapsed = started.elapsed();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let requests = t.server_requests() - before;
    println!(
        "500 concurrent INCRs: {ok} ok in {elapsed:?}, {requests} HTTP requests \
         (server count before {before}, after {}; client counted {})",
        t.server_requests(),
        r.auto_pipeline_requests() - client_before
    );

    let plain = Redis::builder(t.stack.redis_rest_url(), t.stack.redis_token())
        .auto_pipelining(false)
        .build()?;
    let before = t.server_requests();
    let started = Instant::now();
    let calls = (0..500).map(|i| plain.incr(t.key(&format!("hits:{}", i % 10))).into_future());
    futures_util::future::join_all(calls).await;
    println!(
        "the same without auto-pipelining: {} HTTP requests in {:?}",
        t.server_requests() - before,
        started.elapsed()
    );
    Ok(())
}

/// Errors say what happened, with the Redis error class, never the values.
async fn typed_errors(t: &Tour) -> SectionResult {
    let r = &t.redis;
    if let Err(e) = r.incr(t.key("profile")).await {
        println!("INCR on a hash -> kind {:?}: {e}", e.kind());
    }
    let ro = Redis::new(t.stack.redis_rest_url(), t.stack.redis_readonly_token())?;
    if let Err(e) = ro.set(t.key("x"), 1).await {
        println!("SET with the read-only token -> kind {:?}", e.kind());
    }
    let wrong = Redis::new(t.stack.redis_rest_url(), "wrong-token")?;
    if let Err(e) = wrong.get::<Option<String>>(t.key("x")).await {
        println!("wrong token -> unauthorized: {}", e.is_unauthorized());
    }
    Ok(())
}
