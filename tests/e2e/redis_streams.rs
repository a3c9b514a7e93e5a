//! End-to-end tests of the streaming side of the Redis client against upstash-local (a real
//! Upstash REST server in front of a real redis-server): SCAN/HSCAN/SSCAN/ZSCAN streams,
//! pub/sub over Server-Sent Events, MONITOR, and the serde JSON helpers.
//!
//! Every test works under its own key prefix (and channel names derived from it) so the
//! tests run in parallel on the shared stack.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::{StreamExt as _, TryStreamExt as _};
use upstash_local::testing;
use upstash_redis::{Json, Message, Redis, ScanOptions, ZAddOptions};

/// A client of the shared stack and a fresh key prefix for one test.
fn setup(name: &str) -> (Redis, String) {
    let stack = testing::shared();
    let redis = Redis::new(stack.redis_rest_url(), stack.redis_token()).expect("client");
    (redis, testing::prefix(name))
}

/// A second, independent client (its own connection pool and auto-pipeline).
fn other_client() -> Redis {
    let stack = testing::shared();
    Redis::new(stack.redis_rest_url(), stack.redis_token()).expect("client")
}

/// The next message, failing the test after a few seconds.
async fn next_message(sub: &mut upstash_redis::Subscription) -> Message {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("no message within 10 s")
        .expect("subscription ended")
        .expect("subscription error")
}

// ---------------------------------------------------------------------------------------------
// SCAN family

#[tokio::test]
async fn scan_with_match_finds_exactly_the_prefixed_keys() {
    let (r, p) = setup("scan");
    let expected: HashSet<String> = (0..250).map(|i| format!("{p}k{i}")).collect();
    let pairs: Vec<(String, String)> = expected.iter().map(|k| (k.clone(), "v".into())).collect();
    r.mset(&pairs).await.expect("mset");

    let found: Vec<String> = r
        .scan_stream(ScanOptions::new().pattern(format!("{p}*")).count(100))
        .try_collect()
        .await
        .expect("scan");
    // SCAN may return a key twice (when the table is resized mid-scan); never misses one.
    assert!(found.len() >= 250);
    let found: HashSet<String> = found.into_iter().collect();
    assert_eq!(found, expected);

    // Binary-safe item type and the server's default COUNT (many pages) give the same set.
    let raw: HashSet<Vec<u8>> = r
        .scan_stream::<Vec<u8>>(ScanOptions::new().pattern(format!("{p}*")))
        .try_collect()
        .await
        .expect("scan bytes");
    assert_eq!(raw.len(), 250);

    // A pattern that matches nothing ends cleanly.
    let none: Vec<String> = r
        .scan_stream(
            ScanOptions::new()
                .pattern(format!("{p}nothing*"))
                .count(1000),
        )
        .try_collect()
        .await
        .expect("scan none");
    assert!(none.is_empty());
}

#[tokio::test]
async fn scan_type_filter_and_laziness() {
    let (r, p) = setup("scantype");
    for i in 0..5 {
        r.set(format!("{p}s{i}"), "v").await.expect("set");
    }
    r.hset(format!("{p}h"), [("f", "v")]).await.expect("hset");
    let hashes: Vec<String> = r
        .scan_stream(
            ScanOptions::new()
                .pattern(format!("{p}*"))
                .key_type("hash")
                .count(1000),
        )
        .try_collect()
        .await
        .expect("scan type");
    assert_eq!(hashes, vec![format!("{p}h")]);

    // Taking the first item only fetches what it needs, then the stream can be dropped.
    let mut stream = r.scan_stream::<String>(ScanOptions::new().pattern(format!("{p}s*")));
    let first = stream.next().await.expect("an item").expect("item");
    assert!(first.starts_with(&p));
    drop(stream);

    // TYPE is refused client-side outside SCAN.
    let err = r
        .hscan_stream::<String, String>(format!("{p}h"), ScanOptions::new().key_type("hash"))
        .try_collect::<Vec<_>>()
        .await;
    assert!(matches!(err, Err(upstash_redis::Error::InvalidArgument(_))));
}

#[tokio::test]
async fn hscan_sscan_zscan_complete() {
    let (r, p) = setup("xscan");
    let (h, s, z) = (format!("{p}h"), format!("{p}s"), format!("{p}z"));
    // 300 elements: past the listpack limit, so the server really pages.
    let fields: Vec<(String, String)> = (0..300)
        .map(|i| (format!("f{i}"), format!("v{i},with,commas")))
        .collect();
    r.hset(&h, &fields).await.expect("hset");
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    r.sadd(&s, &members).await.expect("sadd");
    let scored: Vec<(f64, String)> = (0..300)
        .map(|i| (i as f64 + 0.5, format!("m{i}")))
        .collect();
    r.zadd(&z, &scored, ZAddOptions::new()).await.expect("zadd");

    let got: HashMap<String, String> = r
        .hscan_stream(&h, ScanOptions::new().count(50))
        .try_collect()
        .await
        .expect("hscan");
    assert_eq!(got, fields.into_iter().collect::<HashMap<_, _>>());

    let got: HashSet<String> = r
        .sscan_stream(&s, ScanOptions::new().count(50))
        .try_collect()
        .await
        .expect("sscan");
    assert_eq!(got, members.iter().cloned().collect::<HashSet<_>>());

    let got: HashMap<String, f64> = r
        .zscan_stream(&z, ScanOptions::new().count(50))
        .try_collect()
        .await
        .expect("zscan");
    assert_eq!(got.len(), 300);
    assert_eq!(got.get("m7"), Some(&7.5));

    // MATCH inside a hash; a missing key is an empty scan.
    let some: Vec<(String, String)> = r
        .hscan_stream(&h, ScanOptions::new().pattern("f1?").count(1000))
        .try_collect()
        .await
        .expect("hscan match");
    assert_eq!(some.len(), 10);
    let empty: Vec<String> = r
        .sscan_stream(format!("{p}missing"), ScanOptions::new())
        .try_collect()
        .await
        .expect("sscan missing");
    assert!(empty.is_empty());

    // Scanning a key of the wrong type yields the server's error, then ends.
    let mut wrong = r.zscan_stream::<String>(&s, ScanOptions::new());
    let first = wrong.next().await.expect("an item");
    assert!(first.is_err_and(|e| e.kind() == Some(&upstash_redis::ErrorKind::WrongType)));
    assert!(wrong.next().await.is_none());
}

// ---------------------------------------------------------------------------------------------
// Pub/sub over SSE

#[tokio::test]
async fn subscribe_receives_messages_with_commas_and_newlines() {
    let (r, p) = setup("sub");
    let channel = format!("{p}chat");
    let mut sub = r.subscribe([&channel]).await.expect("subscribe");
    assert_eq!(sub.channels(), std::slice::from_ref(&channel));

    let publisher = other_client();
    let receivers = publisher
        .publish(&channel, "hello, world, with,,commas")
        .await
        .expect("publish");
    assert_eq!(receivers, 1);
    let m = next_message(&mut sub).await;
    assert_eq!(m.channel, channel);
    assert_eq!(m.pattern, None);
    assert_eq!(
        m.payload_str().expect("utf-8"),
        "hello, world, with,,commas"
    );

    // Newlines travel as several data: lines of one event.
    publisher
        .publish(&channel, "line 1\nline 2")
        .await
        .expect("publish");
    let m = next_message(&mut sub).await;
    assert_eq!(m.payload.as_ref(), b"line 1\nline 2");

    // JSON payloads.
    publisher
        .publish(&channel, r#"{"n":1,"s":"a,b"}"#)
        .await
        .expect("publish");
    let m = next_message(&mut sub).await;
    let v: serde_json::Value = m.payload_json().expect("json");
    assert_eq!(v["s"], "a,b");
}

#[tokio::test]
async fn subscribe_merges_channels_and_grows() {
    let (r, p) = setup("submulti");
    let (a, b, c) = (format!("{p}a"), format!("{p}b"), format!("{p}c"));
    let mut sub = r
        .subscribe([&a, &b].map(String::from))
        .await
        .expect("subscribe");
    sub.subscribe([c.clone()]).await.expect("subscribe more");
    let publisher = other_client();
    for ch in [&a, &b, &c] {
        assert_eq!(
            publisher
                .publish(ch, format!("to {ch}"))
                .await
                .expect("publish"),
            1
        );
    }
    let mut got = HashMap::new();
    for _ in 0..3 {
        let m = next_message(&mut sub).await;
        got.insert(
            m.channel.clone(),
            m.payload_str().expect("utf-8").to_owned(),
        );
    }
    for ch in [&a, &b, &c] {
        assert_eq!(got.get(ch.as_str()), Some(&format!("to {ch}")));
    }
}

#[tokio::test]
async fn psubscribe_receives_pmessages_with_the_channel() {
    let (r, p) = setup("psub");
    let pattern = format!("{p}news.*");
    let mut sub = r.psubscribe([&pattern]).await.expect("psubscribe");
    assert_eq!(sub.patterns(), std::slice::from_ref(&pattern));
    let channel = format!("{p}news.tech");
    let publisher = other_client();
    assert_eq!(
        publisher.publish(&channel, "a,b,c").await.expect("publish"),
        1
    );
    // Not matching: not received.
    publisher
        .publish(format!("{p}sports"), "nope")
        .await
        .expect("publish");
    let m = next_message(&mut sub).await;
    assert_eq!(m.channel, channel);
    assert_eq!(m.pattern.as_deref(), Some(pattern.as_str()));
    assert_eq!(m.payload.as_ref(), b"a,b,c");
}

#[tokio::test]
async fn dropping_the_subscription_unsubscribes_on_the_server() {
    let (r, p) = setup("subdrop");
    let channel = format!("{p}gone");
    let numsub = |r: Redis, channel: String| async move {
        let reply: (String, i64) = r
            .cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query()
            .await
            .expect("pubsub numsub");
        reply.1
    };
    let sub = r.subscribe([channel.clone()]).await.expect("subscribe");
    assert_eq!(numsub(r.clone(), channel.clone()).await, 1);
    drop(sub);
    let mut count = 1;
    for _ in 0..100 {
        count = numsub(r.clone(), channel.clone()).await;
        if count == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count, 0, "the server still holds the subscription");
}

#[tokio::test]
async fn subscribe_with_a_bad_token_fails_up_front() {
    let stack = testing::shared();
    let r = Redis::new(stack.redis_rest_url(), "not-a-token").expect("client");
    let err = r.subscribe(["x"]).await.expect_err("must fail");
    assert!(err.is_unauthorized(), "{err:?}");
}

#[tokio::test]
async fn monitor_sees_commands() {
    let (r, p) = setup("monitor");
    let mut monitor = r.monitor().await.expect("monitor");
    let key = format!("{p}watched");
    r.set(&key, "1").await.expect("set");
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = monitor.next().await {
            if line.expect("monitor line").contains(&key) {
                return true;
            }
        }
        false
    })
    .await
    .expect("monitor timed out");
    assert!(seen);
}

// ---------------------------------------------------------------------------------------------
// JSON helpers

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct User {
    name: String,
    tags: Vec<String>,
    age: u32,
}

#[tokio::test]
async fn json_round_trips() {
    let (r, p) = setup("json");
    let key = format!("{p}user");
    let user = User {
        name: "Ada, \"the first\"\n".into(),
        tags: vec!["a".into(), "é".into()],
        age: 36,
    };
    r.set_json(&key, &user).await.expect("set_json");
    let back: Option<User> = r.get_json(&key).await.expect("get_json");
    assert_eq!(back.as_ref(), Some(&user));

    // The stored value is plain JSON text, readable as a string and through Json<T>.
    let text: String = r.get(&key).await.expect("get");
    assert!(text.starts_with('{'));
    let typed: Option<Json<User>> = r.get(&key).await.expect("get Json");
    assert_eq!(typed.map(Json::into_inner), Some(user));

    let missing: Option<User> = r.get_json(format!("{p}missing")).await.expect("missing");
    assert!(missing.is_none());

    // NX via set_json_with: nothing is set the second time.
    let set: bool = r
        .set_json_with(&key, &1, upstash_redis::SetOptions::new().nx())
        .await
        .expect("set nx");
    assert!(!set);

    // Not JSON: a decode error that does not echo the value.
    r.set(format!("{p}bad"), "s3cr3t not json")
        .await
        .expect("set");
    let err = r
        .get_json::<User>(format!("{p}bad"))
        .await
        .expect_err("not json");
    assert!(!err.to_string().contains("s3cr3t"));
}
