//! A guided tour of the SDK against a local stack started in-process: the README's demo.
//!
//! ```sh
//! cargo run --example tour          # needs redis-server on PATH, nothing else
//! ```
//!
//! It walks through every crate: Redis (typed and binary values, pipelines, transactions,
//! scripts, auto-pipelining, typed errors), rate limiting (a sliding window and its ephemeral
//! block cache), QStash (a publish delivered to a local axum webhook that verifies the
//! signature, and a forged request rejected), Vector (upsert with metadata, a filtered query)
//! and Kafka (produce with keys and headers, read back through a consumer group).
//!
//! Each section is one function taking the shared [`Tour`] context, listed in `SECTIONS`.

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture as _};
use std::pin::Pin;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use upstash_kafka::{ConsumeRequest, Kafka, OffsetReset, Record};
use upstash_local::{Config, KafkaTopicConfig, LocalStack};
use upstash_qstash::axum::{Json, Verified};
use upstash_qstash::Receiver;
use upstash_ratelimit::{Algorithm, Ratelimit};
use upstash_redis::{ErrorKind, Redis, Script, Value};
use upstash_vector::{Index, Query, Upsert};

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
    ("Rate limiting", |t| Box::pin(rate_limiting(t))),
    ("QStash", |t| Box::pin(qstash(t))),
    ("Vector", |t| Box::pin(vector(t))),
    ("Kafka", |t| Box::pin(kafka(t))),
];

/// The topic the Kafka section uses, created with the stack.
const KAFKA_TOPIC: &str = "tour-orders";

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
    let mut config = Config::default(); // every service on an ephemeral port
    config.kafka.topics = vec![KafkaTopicConfig::new(KAFKA_TOPIC, 2)];
    let stack = LocalStack::start(config).await?;
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

/// A sliding window of 5 per 10 s over the same Redis; blocked ids are then answered from
/// the in-process block cache, without a request.
async fn rate_limiting(t: &Tour) -> SectionResult {
    let limiter = Ratelimit::builder(t.redis.clone(), Algorithm::sliding_window(5, "10 s")?)
        .prefix(t.key("ratelimit"))
        .build()?;
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    };
    println!("sliding window, 5 requests per 10 s; 7 calls for id user:42:");
    for i in 1..=7 {
        let before = t.server_requests();
        let res = limiter.limit("user:42").await?;
        let requests = t.server_requests() - before;
        println!(
            "  #{i}: success {:5} remaining {} window ends in {:>5} ms{} ({requests} HTTP request{})",
            res.success,
            res.remaining,
            res.reset - now_ms(),
            res.reason.map(|r| format!(", reason {r}")).unwrap_or_default(),
            if requests == 1 { "" } else { "s" },
        );
    }
    println!(
        "(the first call also loaded the Lua script: EVALSHA -> NOSCRIPT -> EVAL; the last \
         was answered by the in-process block cache, no request)"
    );
    let m = limiter.metrics();
    println!(
        "metrics: {} allowed, {} rejected, {} of them by the cache",
        m.allowed, m.rejected, m.cache_blocks
    );
    let other = limiter.limit("user:7").await?;
    println!(
        "another id has its own window: success {}, remaining {}",
        other.success, other.remaining
    );
    Ok(())
}

/// An order event, the QStash message body.
#[derive(Debug, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: String,
    amount_cents: u64,
}

/// The webhook: runs only once `Verified` has checked the signature against the raw body.
async fn order_webhook(
    Extension(tx): Extension<mpsc::Sender<(String, OrderPlaced)>>,
    event: Verified<Json<OrderPlaced>>,
) -> &'static str {
    let id = event.delivery.message_id.clone().unwrap_or_default();
    let Json(order) = event.body;
    let _ = tx.send((id, order)).await;
    "ok"
}

/// Publish through the local QStash to a local axum webhook that verifies the signature.
async fn qstash(t: &Tour) -> SectionResult {
    let receiver = Receiver::new(
        t.stack.qstash_current_signing_key(),
        t.stack.qstash_next_signing_key(),
    );
    let (tx, mut rx) = mpsc::channel::<(String, OrderPlaced)>(4);
    let app = Router::new()
        .route("/webhooks/order", post(order_webhook))
        .layer(Extension(tx))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/order", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("webhook listening on {url}");

    let client = upstash_qstash::Client::builder(t.stack.qstash_token())
        .base_url(t.stack.qstash_url())
        .build()?;
    let order = OrderPlaced {
        order_id: "ord_1".into(),
        amount_cents: 4200,
    };
    let published = client.publish_json(url.as_str(), &order).await?;
    println!(
        "published message {}",
        published.message_id().unwrap_or("-")
    );
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some((id, order))) => println!("delivered and verified: {order:?} (message {id})"),
        _ => return Err("no verified delivery within 10 s".into()),
    }

    // A forger without the signing keys: a well-formed token signed with another key.
    let body = r#"{"order_id":"ord_1","amount_cents":1}"#;
    let signature =
        upstash_qstash::signer::Signer::new("sig_not_the_real_key").sign(body.as_bytes(), &url);
    let forged = reqwest::Client::new()
        .post(&url)
        .header("Upstash-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await?;
    println!(
        "a request signed with another key is rejected before the handler: {} {}",
        forged.status(),
        forged.text().await?.trim()
    );
    server.abort();
    Ok(())
}

/// A deterministic unit-length vector near direction `axis` (no embedding model needed).
fn tour_vector(dim: usize, axis: usize, wobble: f32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim)
        .map(|j| {
            if j == axis % dim {
                1.0
            } else {
                wobble * ((j % 7) as f32 - 3.0) / 30.0
            }
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// Upsert records with metadata into the default index and query with a metadata filter.
async fn vector(t: &Tour) -> SectionResult {
    let name = t
        .stack
        .vector_indexes()
        .first()
        .cloned()
        .ok_or("no vector index")?;
    let url = t.stack.vector_url(&name).ok_or("no vector url")?;
    let token = t.stack.vector_token(&name).ok_or("no vector token")?;
    let index = Index::new(url, token)?.namespace("tour");
    let info = index.info().await?;
    let dim = info.dimension as usize;
    println!(
        "index {name:?}: dimension {dim}, {} vectors so far",
        info.vector_count
    );

    let items = [
        ("doc-1", 0, 0.1, "red", 10),
        ("doc-2", 0, 0.3, "blue", 25),
        ("doc-3", 0, 0.6, "red", 40),
        ("doc-4", 1, 0.1, "red", 15),
        ("doc-5", 2, 0.2, "blue", 5),
    ];
    index
        .upsert(items.iter().map(|&(id, axis, wobble, color, price)| {
            Upsert::dense(id, tour_vector(dim, axis, wobble))
                .with_metadata(json!({"color": color, "price": price}))
        }))
        .await?;
    println!(
        "upserted {} vectors (namespace \"tour\") with metadata {{color, price}}",
        items.len()
    );

    for filter in [None, Some("color = 'red' AND price < 30")] {
        let mut q = Query::vector(tour_vector(dim, 0, 0.0))
            .top_k(3)
            .include_metadata(true);
        if let Some(f) = filter {
            q = q.filter(f);
        }
        let hits = index.query(q).await?;
        println!("top 3 near doc-1, filter {filter:?}:");
        for h in hits {
            let meta = h.metadata.unwrap_or_default();
            println!("  {} score {:.4} {meta}", h.id, h.score);
        }
    }
    Ok(())
}

/// Produce keyed records with headers, then read them back through a consumer group.
async fn kafka(t: &Tour) -> SectionResult {
    let kafka = Kafka::new(
        t.stack.kafka_url(),
        t.stack.kafka_username(),
        t.stack.kafka_password(),
    )?;
    let records = (1..=4u64)
        .map(|id| {
            let order = OrderPlaced {
                order_id: format!("ord_{id}"),
                amount_cents: id * 250,
            };
            Ok(Record::json(KAFKA_TOPIC, &order)?
                .key(format!("customer-{}", id % 2))
                .header("schema", "order/v1"))
        })
        .collect::<Result<Vec<_>, upstash_kafka::Error>>()?;
    let written = kafka.producer().produce_many(records).await?;
    for w in &written {
        println!(
            "produced to {}/{} at offset {}",
            w.topic, w.partition, w.offset
        );
    }

    println!("reading the topic back as consumer group tour-group (from the earliest offset):");
    let worker = kafka.consumer().instance(
        ConsumeRequest::new("tour-group", "worker-1", [KAFKA_TOPIC])
            .auto_offset_reset(OffsetReset::Earliest)
            .timeout(Duration::from_secs(1)),
    )?;
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen < written.len() && Instant::now() < deadline {
        for m in worker.consume().await? {
            println!(
                "  partition {} offset {} key={:?} schema={:?}: {}",
                m.partition,
                m.offset,
                m.key(),
                m.header("schema"),
                m.value_str()
            );
            seen += 1;
        }
    }
    worker.commit_consumed().await?;
    let lag: i64 = kafka
        .admin()
        .group_lag("tour-group")
        .await?
        .iter()
        .map(|l| l.lag)
        .sum();
    println!("offsets committed; the group's lag is now {lag}");
    worker.remove().await?;
    if seen < written.len() {
        return Err(format!("consumed {seen} of {} records within 30 s", written.len()).into());
    }
    Ok(())
}
