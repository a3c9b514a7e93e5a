//! End-to-end tests of the local Kafka REST service: raw HTTP (reqwest) against upstash-local
//! started in-process. Every test creates its own topics (random names) through the local-only
//! `POST /_local/kafka/topics`, so tests run in parallel on one stack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use upstash_local::{testing, Config, KafkaTopicConfig, LocalStack};

fn stack() -> &'static LocalStack {
    static STACK: OnceLock<LocalStack> = OnceLock::new();
    STACK.get_or_init(|| testing::dedicated(Config::default()))
}

/// A small raw client.
#[derive(Clone)]
struct K {
    url: String,
    auth: String,
    http: reqwest::Client,
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

impl K {
    fn of(stack: &LocalStack) -> K {
        K {
            url: stack.kafka_url(),
            auth: basic(&stack.kafka_username(), &stack.kafka_password()),
            http: reqwest::Client::new(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/{path}", self.url))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(60));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, v)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body), &[])
            .await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }

    /// `POST` that must succeed.
    async fn ok(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body).await;
        assert_eq!(s, 200, "{path}: {v}");
        v
    }

    async fn topic(&self, name: &str, partitions: u32) -> String {
        let name = format!("{name}-{:08x}", fastrand::u32(..));
        self.ok(
            "_local/kafka/topics",
            json!({"name": name, "partitions": partitions}),
        )
        .await;
        name
    }

    async fn consume(
        &self,
        group: &str,
        instance: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Vec<Value> {
        let (s, v) = self
            .send(
                reqwest::Method::POST,
                &format!("consume/{group}/{instance}"),
                Some(body),
                headers,
            )
            .await;
        assert_eq!(s, 200, "consume: {v}");
        v.as_array().unwrap().clone()
    }
}

const EARLIEST_MANUAL: &[(&str, &str)] = &[
    ("Kafka-Auto-Offset-Reset", "earliest"),
    ("Kafka-Enable-Auto-Commit", "false"),
];

#[tokio::test]
async fn produce_and_fetch_round_trip_with_keys_and_headers() {
    let k = K::of(stack());
    let t = k.topic("roundtrip", 3).await;
    // As @upstash/kafka's producer.produce sends it: one object, the answer is an array.
    let md = k
        .ok(
            "produce",
            json!({"topic": t, "value": "{\"hello\":\"world\"}", "key": "user-1",
                   "headers": [{"key": "h1", "value": "v1"}]}),
        )
        .await;
    let md = &md.as_array().unwrap()[0];
    assert_eq!(md["topic"], t.as_str());
    assert_eq!(md["offset"], 0);
    assert!(md["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    let p = md["partition"].as_i64().unwrap();
    let got = k
        .ok(
            "fetch",
            json!({"topic": t, "partition": p, "offset": 0, "timeout": 1000}),
        )
        .await;
    let m = &got.as_array().unwrap()[0];
    assert_eq!(m["value"], "{\"hello\":\"world\"}");
    assert_eq!(m["key"], "user-1");
    assert_eq!(m["headers"], json!([{"key": "h1", "value": "v1"}]));
    assert_eq!(m["timestamp"], md["timestamp"]);
    // A keyless message without headers comes back with key "" and headers [].
    let md2 = k
        .ok(
            "produce",
            json!([{"topic": t, "value": "plain", "partition": 2, "timestamp": 1234}]),
        )
        .await;
    assert_eq!(md2[0]["partition"], 2);
    assert_eq!(md2[0]["timestamp"], 1234);
    let got = k
        .ok(
            "fetch",
            json!({"topic": t, "partition": 2, "offset": md2[0]["offset"], "timeout": 0}),
        )
        .await;
    assert_eq!(got[0]["key"], "");
    assert_eq!(got[0]["headers"], json!([]));
    assert_eq!(got[0]["timestamp"], 1234);
    // The GET form answers one object; /produce/{topic} an array in request order.
    let (s, one) = k.get(&format!("produce/{t}/via%20get?key=k2")).await;
    assert_eq!(s, 200, "{one}");
    assert!(one.is_object());
    let many = k
        .ok(
            &format!("produce/{t}"),
            json!([{"value": "a", "partition": 1}, {"value": "b", "partition": 1}]),
        )
        .await;
    assert_eq!(
        many[0]["offset"].as_i64().unwrap() + 1,
        many[1]["offset"].as_i64().unwrap()
    );
    let got = k
        .ok(
            "fetch",
            json!({"topic": t, "partition": one["partition"], "offset": one["offset"]}),
        )
        .await;
    assert_eq!(got[0]["value"], "via get");
    assert_eq!(got[0]["key"], "k2");
    // topicPartitionOffsets: in request order.
    let got = k
        .ok(
            "fetch",
            json!({"topicPartitionOffsets": [
                {"topic": t, "partition": 1, "offset": many[1]["offset"]},
                {"topic": t, "partition": 2, "offset": md2[0]["offset"]}
            ], "timeout": 0}),
        )
        .await;
    assert_eq!(got[0]["value"], "b");
    assert_eq!(got[1]["value"], "plain");
    let (_, topics) = k.get("topics").await;
    assert_eq!(topics[&t], 3);
}

#[tokio::test]
async fn key_partitioner_is_kafkas_murmur2() {
    let k = K::of(stack());
    let t = k.topic("murmur", 7).await;
    // Java's Utils.murmur2 values from Apache Kafka's UtilsTest.testMurmur2
    // (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java); the partition is
    // toPositive(h) % 7 with toPositive(h) = h & 0x7fffffff.
    let cases: [(&str, i64); 6] = [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        ("abc", 479_470_107),
    ];
    for (key, h) in cases {
        let want = (h & 0x7fff_ffff) % 7;
        let md = k
            .ok("produce", json!({"topic": t, "value": "x", "key": key}))
            .await;
        assert_eq!(md[0]["partition"], want, "key {key}");
    }
    // Keyless messages go round-robin over the partitions.
    let msgs: Vec<Value> = (0..7)
        .map(|i| json!({"topic": t, "value": format!("{i}")}))
        .collect();
    let md = k.ok("produce", Value::Array(msgs)).await;
    let parts: BTreeSet<i64> = md
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["partition"].as_i64().unwrap())
        .collect();
    assert_eq!(parts.len(), 7);
}

/// Polls one instance until `want` messages came in total (or a generous deadline).
async fn drain(k: &K, group: &str, inst: &str, t: &str, out: &mut Vec<Value>, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < want && Instant::now() < deadline {
        let got = k
            .consume(
                group,
                inst,
                json!({"topic": t, "timeout": 200}),
                EARLIEST_MANUAL,
            )
            .await;
        out.extend(got);
    }
}

#[tokio::test]
async fn group_instances_split_partitions_and_another_group_sees_everything() {
    let k = K::of(stack());
    let t = k.topic("groups", 4).await;
    let g1 = format!("g1-{:x}", fastrand::u32(..));
    let g2 = format!("g2-{:x}", fastrand::u32(..));
    // Both instances join before anything is produced.
    for inst in ["a", "b"] {
        k.consume(
            &g1,
            inst,
            json!({"topic": t, "timeout": 0}),
            EARLIEST_MANUAL,
        )
        .await;
    }
    let (_, consumers) = k.get("consumers").await;
    let group = consumers
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == g1.as_str())
        .cloned()
        .unwrap();
    let mut assigned: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for i in group["instances"].as_array().unwrap() {
        let ps = i["topics"][0]["partitions"].as_array().unwrap();
        assigned.insert(
            i["name"].as_str().unwrap().into(),
            ps.iter().map(|p| p.as_i64().unwrap()).collect(),
        );
    }
    assert_eq!(assigned["a"], vec![0, 1]);
    assert_eq!(assigned["b"], vec![2, 3]);
    let msgs: Vec<Value> = (0..40)
        .map(|i| json!({"topic": t, "value": format!("m{i}")}))
        .collect();
    k.ok("produce", Value::Array(msgs)).await;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.len() + b.len() < 40 && Instant::now() < deadline {
        a.extend(
            k.consume(
                &g1,
                "a",
                json!({"topic": t, "timeout": 100}),
                EARLIEST_MANUAL,
            )
            .await,
        );
        b.extend(
            k.consume(
                &g1,
                "b",
                json!({"topic": t, "timeout": 100}),
                EARLIEST_MANUAL,
            )
            .await,
        );
    }
    let parts = |v: &[Value]| -> BTreeSet<i64> {
        v.iter().map(|m| m["partition"].as_i64().unwrap()).collect()
    };
    assert_eq!(parts(&a), BTreeSet::from([0, 1]));
    assert_eq!(parts(&b), BTreeSet::from([2, 3]));
    let mut values: Vec<String> = a
        .iter()
        .chain(&b)
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), 40, "every message exactly once");
    // Another group reads everything.
    let mut all = Vec::new();
    drain(&k, &g2, "solo", &t, &mut all, 40).await;
    assert_eq!(all.len(), 40);
    // Removing b gives a every partition.
    let (s, v) = k
        .post(&format!("delete-consumer/{g1}/b"), Value::Null)
        .await;
    assert_eq!((s, v), (200, json!({"result": "Success", "status": 200})));
    k.consume(&g1, "a", json!({"topic": t, "timeout": 0}), EARLIEST_MANUAL)
        .await;
    let (_, consumers) = k.get("consumers").await;
    let group = consumers
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == g1.as_str())
        .cloned()
        .unwrap();
    assert_eq!(group["instances"].as_array().unwrap().len(), 1);
    assert_eq!(
        group["instances"][0]["topics"][0]["partitions"],
        json!([0, 1, 2, 3])
    );
    // Removing an unknown instance is an error.
    let (s, v) = k
        .post(&format!("delete-consumer/{g1}/nobody"), Value::Null)
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["status"], 404);
}

#[tokio::test]
async fn idle_instances_expire_and_the_group_rebalances() {
    let k = K::of(stack());
    let t = k.topic("expiry", 2).await;
    let g = format!("gx-{:x}", fastrand::u32(..));
    let short: Vec<(&str, &str)> = vec![("Kafka-Session-Timeout-Ms", "300")];
    k.consume(&g, "short", json!({"topic": t, "timeout": 0}), &short)
        .await;
    k.consume(&g, "long", json!({"topic": t, "timeout": 0}), &[])
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // `long` keeps polling; `short` does not and expires.
        k.consume(&g, "long", json!({"topic": t, "timeout": 50}), &[])
            .await;
        let (_, consumers) = k.get("consumers").await;
        let group = consumers
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == g.as_str())
            .cloned()
            .unwrap();
        let insts = group["instances"].as_array().unwrap();
        if insts.len() == 1 {
            assert_eq!(insts[0]["name"], "long");
            assert_eq!(insts[0]["topics"][0]["partitions"], json!([0, 1]));
            break;
        }
        assert!(Instant::now() < deadline, "the idle instance never expired");
    }
}

#[tokio::test]
async fn commit_committed_and_auto_commit() {
    let k = K::of(stack());
    let t = k.topic("commit", 1).await;
    let g = format!("gc-{:x}", fastrand::u32(..));
    let msgs: Vec<Value> = (0..5)
        .map(|i| json!({"topic": t, "value": format!("{i}")}))
        .collect();
    k.ok("produce", Value::Array(msgs)).await;
    let (_, pre) = k
        .post(
            &format!("committed/{g}/i1"),
            json!([{"topic": t, "partition": 0}]),
        )
        .await;
    assert_eq!(pre, json!([{"topic": t, "partition": 0, "offset": -1}]));
    let mut got = Vec::new();
    drain(&k, &g, "i1", &t, &mut got, 5).await;
    assert_eq!(got.len(), 5);
    // Empty body: commit the position (last consumed + 1).
    let (s, v) = k
        .send(reqwest::Method::POST, &format!("commit/{g}/i1"), None, &[])
        .await;
    assert_eq!((s, &v), (200, &json!({"result": "Success", "status": 200})));
    let post = k
        .ok(
            &format!("committed/{g}/i1"),
            json!({"topic": t, "partition": 0}),
        )
        .await;
    assert_eq!(post[0]["offset"], 5);
    // Explicit offsets are stored as given.
    k.ok(
        &format!("commit/{g}/i1"),
        json!({"topic": t, "partition": 0, "offset": 2}),
    )
    .await;
    let post = k
        .ok(
            &format!("committed/{g}/i1"),
            json!([{"topic": t, "partition": 0}]),
        )
        .await;
    assert_eq!(post[0]["offset"], 2);
    // An empty-body commit for an unknown instance is an error.
    let (s, _) = k
        .send(
            reqwest::Method::POST,
            &format!("commit/{g}/ghost"),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 404);
    // Auto-commit (interval 0): the next consume commits what the previous one returned.
    let ga = format!("ga-{:x}", fastrand::u32(..));
    let auto: &[(&str, &str)] = &[
        ("Kafka-Auto-Offset-Reset", "earliest"),
        ("Kafka-Enable-Auto-Commit", "true"),
        ("Kafka-Auto-Commit-Interval", "0"),
    ];
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while n < 5 && Instant::now() < deadline {
        n += k
            .consume(&ga, "x", json!({"topic": t, "timeout": 100}), auto)
            .await
            .len();
    }
    k.consume(&ga, "x", json!({"topic": t, "timeout": 0}), auto)
        .await;
    let post = k
        .ok(
            &format!("committed/{ga}/x"),
            json!([{"topic": t, "partition": 0}]),
        )
        .await;
    assert_eq!(post[0]["offset"], 5);
    // A new instance of the group resumes at the committed offset (latest reset ignored).
    k.post(&format!("delete-consumer/{g}/i1"), Value::Null)
        .await;
    let got = k
        .consume(
            &g,
            "i2",
            json!({"topic": t, "timeout": 5000}),
            &[("Kafka-Enable-Auto-Commit", "false")],
        )
        .await;
    assert_eq!(got[0]["offset"], 2);
}

#[tokio::test]
async fn long_poll_returns_when_a_message_arrives() {
    let k = K::of(stack());
    let t = k.topic("longpoll", 1).await;
    let g = format!("gl-{:x}", fastrand::u32(..));
    // Join first (latest reset: nothing old), then wait with a long timeout.
    k.consume(&g, "w", json!({"topic": t, "timeout": 0}), &[])
        .await;
    let k2 = k.clone();
    let (g2, t2) = (g.clone(), t.clone());
    let started = Instant::now();
    let waiter = tokio::spawn(async move {
        k2.consume(&g2, "w", json!({"topic": t2, "timeout": 60_000}), &[])
            .await
    });
    let k3 = k.clone();
    let t3 = t.clone();
    let fetcher = tokio::spawn(async move {
        k3.ok(
            "fetch",
            json!({"topic": t3, "partition": 0, "offset": 0, "timeout": 60_000}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    k.ok("produce", json!({"topic": t, "value": "wake up"}))
        .await;
    let got = waiter.await.unwrap();
    let fetched = fetcher.await.unwrap();
    // Generous bound: far below the 60 s poll timeout.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["value"], "wake up");
    assert_eq!(fetched[0]["value"], "wake up");
}

#[tokio::test]
async fn offsets_earliest_latest_and_by_time() {
    let k = K::of(stack());
    let t = k.topic("offsets", 2).await;
    let msgs: Vec<Value> = [1000, 2000, 3000]
        .iter()
        .map(|ts| json!({"topic": t, "value": "v", "partition": 0, "timestamp": ts}))
        .collect();
    k.ok("produce", Value::Array(msgs)).await;
    let tps = json!([{"topic": t, "partition": 0}, {"topic": t, "partition": 1}]);
    let e = k.ok("offsets/earliest", tps.clone()).await;
    assert_eq!(e[0]["offset"], 0);
    let l = k.ok("offsets/latest", tps.clone()).await;
    assert_eq!(l[0]["offset"], 3);
    assert_eq!(l[1]["offset"], 0);
    let b = k.ok("offsets/1500", tps.clone()).await;
    assert_eq!(b[0]["offset"], 1);
    let b = k
        .ok("offsets/3000", json!({"topic": t, "partition": 0}))
        .await;
    assert_eq!(b[0]["offset"], 2);
    let b = k.ok("offsets/99999999999999", tps).await;
    assert_eq!(b[0]["offset"], 3);
    // Kafka's ListOffsets sentinels: -1 = latest, -2 = earliest.
    let b = k
        .ok("offsets/-1", json!([{"topic": t, "partition": 0}]))
        .await;
    assert_eq!(b[0]["offset"], 3);
    let b = k
        .ok("offsets/-2", json!([{"topic": t, "partition": 0}]))
        .await;
    assert_eq!(b[0]["offset"], 0);
}

#[tokio::test]
async fn wrong_credentials_get_401() {
    let s = stack();
    let mut k = K::of(s);
    let (st, v) = k.get("topics").await;
    assert_eq!(st, 200, "{v}");
    k.auth = basic(&s.kafka_username(), "wrong");
    for path in ["topics", "produce", "no-such-path"] {
        let (st, v) = k.get(path).await;
        assert_eq!(st, 401);
        assert_eq!(v["status"], 401);
        assert!(v["error"].is_string());
        assert!(!v.to_string().contains(&s.kafka_password()));
    }
    k.auth = "Bearer something".into();
    assert_eq!(k.get("topics").await.0, 401);
}

#[tokio::test]
async fn bad_topic_names_unknown_topics_and_oversized_messages() {
    let k = K::of(stack());
    for name in ["bad/name", "with space", "", "..", "ünïcode"] {
        let (s, v) = k
            .post(
                "_local/kafka/topics",
                json!({"name": name, "partitions": 1}),
            )
            .await;
        assert_eq!(s, 400, "{name:?}: {v}");
        assert!(v["error"].as_str().unwrap().contains("topic name"), "{v}");
    }
    let (s, _) = k
        .post(
            "_local/kafka/topics",
            json!({"name": "zero", "partitions": 0}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, v) = k
        .post(
            "produce",
            json!({"topic": "does-not-exist-anywhere", "value": "x"}),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["status"], 404);
    let name = format!("small-{:08x}", fastrand::u32(..));
    k.ok(
        "_local/kafka/topics",
        json!({"name": name, "partitions": 2, "max_message_size": 100}),
    )
    .await;
    let (s, _) = k
        .post(
            "_local/kafka/topics",
            json!({"name": name, "partitions": 2}),
        )
        .await;
    assert_eq!(s, 409);
    k.ok("produce", json!({"topic": name, "value": "x".repeat(100)}))
        .await;
    // One oversized message rejects the whole batch: nothing is written.
    let (s, v) = k
        .post(
            "produce",
            json!([{"topic": name, "value": "ok", "partition": 1},
                   {"topic": name, "value": "x".repeat(101), "partition": 1}]),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("max message size"),
        "{v}"
    );
    let l = k
        .ok("offsets/latest", json!([{"topic": name, "partition": 1}]))
        .await;
    assert_eq!(l[0]["offset"], 0);
    let (s, _) = k
        .post(
            "produce",
            json!({"topic": name, "value": "x", "partition": 2}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = k.post("produce", json!({"topic": name})).await;
    assert_eq!(s, 400);
    let (s, _) = k.post("produce", json!("not an object")).await;
    assert_eq!(s, 400);
    let (s, _) = k
        .post(
            "fetch",
            json!({"topic": name, "partition": 0, "offset": -1}),
        )
        .await;
    assert_eq!(s, 400);
    // Deleting a topic.
    let (s, _) = k
        .send(
            reqwest::Method::DELETE,
            &format!("_local/kafka/topics/{name}"),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200);
    let (_, topics) = k.get("topics").await;
    assert!(topics.get(&name).is_none());
}

#[tokio::test]
async fn data_and_committed_offsets_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("upstash-local-kafka-{:016x}", fastrand::u64(..)));
    let config = || {
        let mut c = Config::default();
        c.kafka.data_dir = Some(dir.clone());
        c.kafka.topics = vec![KafkaTopicConfig::new("persisted", 2)];
        c
    };
    let s1 = testing::dedicated(config());
    let k = K::of(&s1);
    let msgs: Vec<Value> = (0..10)
        .map(|i| json!({"topic": "persisted", "value": format!("v{i}"), "partition": 0, "key": format!("k{i}"),
                        "headers": [{"key": "n", "value": format!("{i}")}]}))
        .collect();
    k.ok("produce", Value::Array(msgs)).await;
    let extra = k
        .ok(
            "_local/kafka/topics",
            json!({"name": "created-later", "partitions": 3}),
        )
        .await;
    assert_eq!(extra["partitions"], 3);
    k.ok(
        "produce",
        json!({"topic": "created-later", "value": "z", "partition": 2}),
    )
    .await;
    let mut got = Vec::new();
    drain(&k, "pg", "i", "persisted", &mut got, 10).await;
    assert_eq!(got.len(), 10);
    k.ok(
        "commit/pg/i",
        json!([{"topic": "persisted", "partition": 0, "offset": 6}]),
    )
    .await;
    s1.shutdown().await;

    let s2 = testing::dedicated(config());
    let k = K::of(&s2);
    let (_, topics) = k.get("topics").await;
    assert_eq!(topics, json!({"persisted": 2, "created-later": 3}));
    let all = k
        .ok(
            "fetch",
            json!({"topic": "persisted", "partition": 0, "offset": 0, "timeout": 0}),
        )
        .await;
    assert_eq!(all.as_array().unwrap().len(), 10);
    assert_eq!(all[9]["key"], "k9");
    assert_eq!(all[9]["headers"], json!([{"key": "n", "value": "9"}]));
    let z = k
        .ok(
            "fetch",
            json!({"topic": "created-later", "partition": 2, "offset": 0, "timeout": 0}),
        )
        .await;
    assert_eq!(z[0]["value"], "z");
    let c = k
        .ok(
            "committed/pg/i",
            json!([{"topic": "persisted", "partition": 0}]),
        )
        .await;
    assert_eq!(c[0]["offset"], 6);
    // A consumer of the group resumes at the committed offset.
    let resumed = k
        .consume(
            "pg",
            "again",
            json!({"topic": "persisted", "timeout": 5000}),
            EARLIEST_MANUAL,
        )
        .await;
    assert_eq!(resumed[0]["offset"], 6);
    assert_eq!(resumed[0]["value"], "v6");
    // New records continue the offsets.
    let md = k
        .ok(
            "produce",
            json!({"topic": "persisted", "value": "v10", "partition": 0}),
        )
        .await;
    assert_eq!(md[0]["offset"], 10);
    s2.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_instance_waiting_in_a_long_poll_does_not_expire() {
    let k = K::of(stack());
    let t = k.topic("busy", 1).await;
    let g = format!("gb-{:x}", fastrand::u32(..));
    let short: &[(&str, &str)] = &[("Kafka-Session-Timeout-Ms", "300")];
    k.consume(&g, "w", json!({"topic": t, "timeout": 0}), short)
        .await;
    let k2 = k.clone();
    let (g2, t2) = (g.clone(), t.clone());
    let waiter = tokio::spawn(async move {
        k2.consume(
            &g2,
            "w",
            json!({"topic": t2, "timeout": 60_000}),
            &[("Kafka-Session-Timeout-Ms", "300")],
        )
        .await
    });
    // Several session timeouts (and expiry ticks) pass while the poll waits.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, consumers) = k.get("consumers").await;
    assert!(
        consumers
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == g.as_str() && x["instances"][0]["name"] == "w"),
        "{consumers}"
    );
    k.ok("produce", json!({"topic": t, "value": "late"})).await;
    let got = waiter.await.unwrap();
    assert_eq!(got[0]["value"], "late");
}
