//! End-to-end tests of the Kafka client against upstash-local's Kafka REST service: produce
//! and consume with keys and headers, consumer groups splitting partitions, fetch by offset,
//! long polls, commits through the message stream, admin and lag, and typed errors.
//!
//! One stack serves the whole binary; each test has its own topics (declared in the config)
//! and its own consumer group names.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use upstash_kafka::{
    ConsumeRequest, Error, FetchRequest, Kafka, Message, OffsetReset, OffsetSpec, Record,
    RetryPolicy, TopicPartition, TopicPartitionOffset,
};
use upstash_local::{testing, Config, KafkaTopicConfig, LocalStack};

/// Generous bound for anything asynchronous (a loaded 2-core CI machine).
const PATIENCE: Duration = Duration::from_secs(60);

fn stack() -> &'static LocalStack {
    static STACK: OnceLock<LocalStack> = OnceLock::new();
    STACK.get_or_init(|| {
        let mut c = Config::default();
        c.kafka.topics = vec![
            KafkaTopicConfig::new("e2e.roundtrip", 3),
            KafkaTopicConfig::new("e2e.groups", 4),
            KafkaTopicConfig::new("e2e.fetch.a", 1),
            KafkaTopicConfig::new("e2e.fetch.b", 2),
            KafkaTopicConfig::new("e2e.longpoll", 1),
            KafkaTopicConfig::new("e2e.stream", 2),
            KafkaTopicConfig::new("e2e.admin", 2),
            KafkaTopicConfig::new("e2e.errors", 1),
            KafkaTopicConfig {
                max_message_size: 1024,
                ..KafkaTopicConfig::new("e2e.small", 1)
            },
            KafkaTopicConfig::new("e2e.produce-forms", 1),
        ];
        testing::dedicated(c)
    })
}

/// A client with its own connection pool.
fn kafka() -> Kafka {
    let s = stack();
    Kafka::new(s.kafka_url(), s.kafka_username(), s.kafka_password()).expect("client")
}

/// A group id unique to this run of `test`.
fn group(test: &str) -> String {
    testing::prefix(test)
        .trim_end_matches(':')
        .replace(':', "-")
}

/// Consumes with `req` until `pred` holds for everything received so far.
async fn consume_until(
    kafka: &Kafka,
    req: &ConsumeRequest,
    pred: impl Fn(&[Message]) -> bool,
) -> Vec<Message> {
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while !pred(&got) {
            got.extend(kafka.consumer().consume(req).await.expect("consume"));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("gave up waiting; received {} messages", got.len()));
    got
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u32,
    item: String,
}

#[tokio::test]
async fn produce_consume_roundtrip_with_keys_and_headers() {
    let kafka = kafka();
    let topic = "e2e.roundtrip";
    let records: Vec<Record> = (0..9)
        .map(|i| {
            Record::json(
                topic,
                &Order {
                    id: i,
                    item: format!("item-{i}"),
                },
            )
            .expect("json")
            .key(format!("key-{}", i % 3))
            .header("trace", format!("t{i}"))
            .header("source", "e2e")
        })
        .collect();
    let written = kafka
        .producer()
        .produce_many(records)
        .await
        .expect("produce");
    assert_eq!(written.len(), 9);
    // One key always lands on one partition.
    for k in 0..3 {
        let parts: BTreeSet<i32> = written
            .iter()
            .skip(k)
            .step_by(3)
            .map(|m| m.partition)
            .collect();
        assert_eq!(parts.len(), 1, "key-{k} spread over {parts:?}");
    }

    let req = ConsumeRequest::new(group("roundtrip"), "i1", [topic])
        .auto_offset_reset(OffsetReset::Earliest)
        .timeout(Duration::from_secs(2));
    let got = consume_until(&kafka, &req, |m| m.len() >= 9).await;
    assert_eq!(got.len(), 9, "each message once");
    let mut orders: Vec<(Order, String, String)> = got
        .iter()
        .map(|m| {
            (
                m.json::<Order>().expect("order"),
                m.key().expect("key").to_owned(),
                m.header("trace").expect("trace header").to_owned(),
            )
        })
        .collect();
    orders.sort_by_key(|(o, _, _)| o.id);
    for (i, (order, key, trace)) in orders.iter().enumerate() {
        assert_eq!(order.id as usize, i);
        assert_eq!(order.item, format!("item-{i}"));
        assert_eq!(key, &format!("key-{}", i % 3));
        assert_eq!(trace, &format!("t{i}"));
    }
    let m = &got[0];
    assert_eq!(m.headers.len(), 2);
    assert_eq!(m.header("source"), Some("e2e"));
    // Offsets and timestamps match what produce reported.
    for m in &got {
        let w = written
            .iter()
            .find(|w| w.partition == m.partition && w.offset == m.offset)
            .expect("produced");
        assert_eq!(w.timestamp, m.timestamp);
    }
    kafka
        .consumer()
        .remove_instance(&req.group, &req.instance)
        .await
        .expect("remove");
}

#[tokio::test]
async fn two_instances_split_partitions_and_another_group_sees_all() {
    let kafka = kafka();
    let topic = "e2e.groups";
    let shared = group("split");
    let a = ConsumeRequest::new(&shared, "a", [topic])
        .auto_offset_reset(OffsetReset::Earliest)
        .auto_commit(false)
        .timeout(Duration::from_millis(500));
    let b = ConsumeRequest {
        instance: "b".into(),
        ..a.clone()
    };
    // Both join before anything is produced.
    kafka.consumer().consume(&a).await.expect("join a");
    kafka.consumer().consume(&b).await.expect("join b");
    tokio::time::timeout(PATIENCE, async {
        loop {
            let groups = kafka.admin().consumers().await.expect("consumers");
            let g = groups.iter().find(|g| g.name == shared);
            let assigned: Vec<usize> = g
                .map(|g| {
                    g.instances
                        .iter()
                        .map(|i| i.topics.iter().map(|t| t.partitions.len()).sum())
                        .collect()
                })
                .unwrap_or_default();
            if assigned.len() == 2 && assigned.iter().all(|n| *n > 0) {
                assert_eq!(assigned.iter().sum::<usize>(), 4, "{assigned:?}");
                break;
            }
            // Keep both instances polling so the group settles.
            kafka.consumer().consume(&a).await.expect("a");
            kafka.consumer().consume(&b).await.expect("b");
        }
    })
    .await
    .expect("both instances get partitions");

    let records: Vec<Record> = (0..40)
        .map(|i| Record::new(topic, format!("m{i}")).partition(i % 4))
        .collect();
    kafka
        .producer()
        .produce_many(records)
        .await
        .expect("produce");

    let mut by_instance: BTreeMap<&str, Vec<Message>> = BTreeMap::new();
    tokio::time::timeout(PATIENCE, async {
        while by_instance.values().map(Vec::len).sum::<usize>() < 40 {
            for req in [&a, &b] {
                let got = kafka.consumer().consume(req).await.expect("consume");
                by_instance
                    .entry(if req.instance == "a" { "a" } else { "b" })
                    .or_default()
                    .extend(got);
            }
        }
    })
    .await
    .expect("all 40 consumed by the group");
    let parts = |name: &str| -> BTreeSet<i32> {
        by_instance
            .get(name)
            .map(|v| v.iter().map(|m| m.partition).collect())
            .unwrap_or_default()
    };
    let (pa, pb) = (parts("a"), parts("b"));
    assert!(!pa.is_empty() && !pb.is_empty(), "a {pa:?} b {pb:?}");
    assert!(pa.is_disjoint(&pb), "a {pa:?} b {pb:?}");
    let values: BTreeSet<String> = by_instance
        .values()
        .flatten()
        .map(|m| m.value.clone())
        .collect();
    assert_eq!(values.len(), 40, "no message twice, none missing");

    // A third group, one instance, sees every message.
    let other = ConsumeRequest::new(group("other"), "solo", [topic])
        .auto_offset_reset(OffsetReset::Earliest)
        .timeout(Duration::from_millis(500));
    let all = consume_until(&kafka, &other, |m| m.len() >= 40).await;
    let values: BTreeSet<&str> = all.iter().map(|m| m.value_str()).collect();
    assert_eq!(values.len(), 40);

    for req in [&a, &b, &other] {
        kafka
            .consumer()
            .remove_instance(&req.group, &req.instance)
            .await
            .expect("remove");
    }
}

#[tokio::test]
async fn fetch_by_offset_and_across_topics_in_request_order() {
    let kafka = kafka();
    let p = kafka.producer();
    let mut first = None;
    for i in 0..5 {
        let m = p
            .send(Record::new("e2e.fetch.a", format!("a{i}")).key("k"))
            .await
            .expect("produce");
        first.get_or_insert(m.offset);
        assert_eq!(m.offset, first.unwrap_or_default() + i);
    }
    let base = first.unwrap_or_default();
    let got = kafka
        .consumer()
        .fetch(&FetchRequest::new("e2e.fetch.a", 0, base + 2))
        .await
        .expect("fetch");
    let values: Vec<&str> = got.iter().map(|m| m.value_str()).collect();
    assert_eq!(values, ["a2", "a3", "a4"]);
    assert!(got.windows(2).all(|w| w[0].offset + 1 == w[1].offset));

    let b = p
        .send(
            Record::new("e2e.fetch.b", "b0")
                .partition(1)
                .header("h", "v"),
        )
        .await
        .expect("produce b");
    assert_eq!(b.partition, 1);
    // The single position comes last, list positions first (the @upstash/kafka order).
    let got = kafka
        .consumer()
        .fetch(&FetchRequest::new("e2e.fetch.a", 0, base + 4).and(b.position()))
        .await
        .expect("fetch two");
    let values: Vec<&str> = got.iter().map(|m| m.value_str()).collect();
    assert_eq!(values, ["b0", "a4"]);
    assert_eq!(got[0].header("h"), Some("v"));
    // An empty request makes no call and returns nothing.
    assert!(kafka
        .consumer()
        .fetch(&FetchRequest::default())
        .await
        .expect("empty")
        .is_empty());
}

#[tokio::test]
async fn long_polls_return_when_a_message_arrives() {
    let kafka = kafka();
    let topic = "e2e.longpoll";
    let req = ConsumeRequest::new(group("longpoll"), "i1", [topic])
        .auto_offset_reset(OffsetReset::Latest)
        .timeout(Duration::from_secs(40));
    // Join (returns at once or after the poll time with nothing: nothing is produced yet).
    let warmup = ConsumeRequest {
        timeout: Some(Duration::from_millis(200)),
        ..req.clone()
    };
    kafka.consumer().consume(&warmup).await.expect("join");
    let end = kafka
        .admin()
        .latest_offsets(&[TopicPartition::new(topic, 0)])
        .await
        .expect("latest")[0]
        .offset;

    let poller = {
        let kafka = kafka.clone();
        let req = req.clone();
        tokio::spawn(async move { kafka.consumer().consume(&req).await })
    };
    let fetcher = {
        let kafka = kafka.clone();
        tokio::spawn(async move {
            kafka
                .consumer()
                .fetch(&FetchRequest::new(topic, 0, end).timeout(Duration::from_secs(40)))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    kafka
        .producer()
        .produce(topic, "wake up")
        .await
        .expect("produce");
    // With a 40 s poll, a result holding the message means the poll returned on arrival.
    let got = poller.await.expect("join").expect("consume");
    assert_eq!(
        got.iter().map(|m| m.value_str()).collect::<Vec<_>>(),
        ["wake up"]
    );
    let got = fetcher.await.expect("join").expect("fetch");
    assert_eq!(
        got.iter().map(|m| m.value_str()).collect::<Vec<_>>(),
        ["wake up"]
    );
    kafka
        .consumer()
        .remove_instance(&req.group, &req.instance)
        .await
        .expect("remove");
}

#[tokio::test]
async fn stream_commits_what_was_taken_and_drop_removes_the_instance() {
    let kafka = kafka();
    let topic = "e2e.stream";
    let g = group("stream");
    let tps = [TopicPartition::new(topic, 0), TopicPartition::new(topic, 1)];
    let written = kafka
        .producer()
        .produce_many((0..6).map(|i| Record::new(topic, format!("s{i}")).partition(i % 2)))
        .await
        .expect("produce");
    let expected: BTreeMap<i32, i64> = written.iter().fold(BTreeMap::new(), |mut acc, m| {
        let e = acc.entry(m.partition).or_insert(0);
        *e = (*e).max(m.offset + 1);
        acc
    });

    let req = ConsumeRequest::new(&g, "s1", [topic])
        .auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        .timeout(Duration::from_millis(500));
    let handle = kafka.consumer().instance(req.clone()).expect("instance");
    let before = handle.committed(&tps).await;
    let mut stream = handle.stream();
    let mut taken = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while taken.len() < 6 {
            let m = stream.next().await.expect("endless").expect("message");
            taken.push(m.value);
        }
    })
    .await
    .expect("six messages");
    taken.sort();
    assert_eq!(taken, ["s0", "s1", "s2", "s3", "s4", "s5"]);
    if let Ok(before) = before {
        // Nothing was committed before (the instance may not have existed yet).
        assert!(before.iter().all(|o| o.offset < 1), "{before:?}");
    }

    // Asking for the next message commits the batch; poll `committed` meanwhile.
    let driver = tokio::spawn(async move {
        let _ = stream.next().await;
        stream
    });
    let committed = tokio::time::timeout(PATIENCE, async {
        loop {
            let got = kafka
                .consumer()
                .committed(&g, "s1", &tps)
                .await
                .expect("committed");
            let got: BTreeMap<i32, i64> = got.iter().map(|o| (o.partition, o.offset)).collect();
            if got == expected {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the stream commits");
    assert_eq!(committed, expected);
    driver.abort();
    let _ = driver.await; // drops the stream: its instance is removed in the background

    tokio::time::timeout(PATIENCE, async {
        loop {
            let groups = kafka.admin().consumers().await.expect("consumers");
            if !groups
                .iter()
                .any(|x| x.name == g && x.instances.iter().any(|i| i.name == "s1"))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("dropping the stream removes the instance");

    // A new instance of the group resumes after the committed offsets.
    kafka
        .producer()
        .produce(topic, "s6")
        .await
        .expect("produce");
    let again = ConsumeRequest {
        instance: "s2".into(),
        ..req
    };
    let got = consume_until(&kafka, &again, |m| !m.is_empty()).await;
    assert_eq!(
        got.iter().map(|m| m.value_str()).collect::<Vec<_>>(),
        ["s6"]
    );
    kafka
        .consumer()
        .remove_instance(&g, "s2")
        .await
        .expect("remove");
}

#[tokio::test]
async fn commit_committed_offsets_and_lag() {
    let kafka = kafka();
    let topic = "e2e.admin";
    let admin = kafka.admin();
    let topics = admin.topics().await.expect("topics");
    assert_eq!(topics.get(topic), Some(&2));
    let tps = admin.partitions(topic).await.expect("partitions");
    assert_eq!(
        tps,
        [TopicPartition::new(topic, 0), TopicPartition::new(topic, 1)]
    );
    assert!(matches!(
        admin.partitions("e2e.no-such-topic").await,
        Err(Error::InvalidInput(_))
    ));

    let start = admin.latest_offsets(&tps).await.expect("latest");
    let t0 = admin.earliest_offsets(&tps).await.expect("earliest");
    assert!(t0.iter().zip(&start).all(|(e, l)| e.offset <= l.offset));
    let written = kafka
        .producer()
        .produce_many((0..5).map(|i| Record::new(topic, format!("v{i}")).partition(0)))
        .await
        .expect("produce");
    let end = admin.latest_offsets(&tps).await.expect("latest");
    assert_eq!(end[0].offset, start[0].offset + 5);
    assert_eq!(end[1].offset, start[1].offset);
    // By time: the first offset at or after the 3rd record's timestamp.
    let at = admin
        .offsets_for_time(written[2].timestamp, &tps[..1])
        .await
        .expect("by time");
    assert!(at[0].offset <= written[2].offset && at[0].offset >= written[0].offset);
    let far = admin
        .offsets(OffsetSpec::Timestamp(i64::MAX / 2), &tps[..1])
        .await
        .expect("future time");
    assert_eq!(far[0].offset, end[0].offset, "no record that late: the end");

    let g = group("lag");
    let req = ConsumeRequest::new(&g, "i1", [topic])
        .auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        .timeout(Duration::from_millis(500));
    let got = consume_until(&kafka, &req, |m| {
        m.iter().filter(|x| x.partition == 0).count() as i64 >= end[0].offset - t0[0].offset
    })
    .await;
    assert!(!got.is_empty());
    let pre = kafka
        .consumer()
        .committed(&g, "i1", &tps)
        .await
        .expect("pre");
    assert!(pre.iter().all(|o| o.offset == -1), "{pre:?}");
    let mid = written[2].offset;
    kafka
        .consumer()
        .commit(&g, "i1", &[TopicPartitionOffset::new(topic, 0, mid)])
        .await
        .expect("commit");
    let post = admin
        .committed_offsets(&g, "i1", &tps[..1])
        .await
        .expect("post");
    assert_eq!(post[0].offset, mid, "stored as given");

    let lag = admin.lag(&g, "i1", &tps).await.expect("lag");
    assert_eq!(lag[0].committed, Some(mid));
    assert_eq!(lag[0].lag, end[0].offset - mid);
    assert_eq!(lag[1].committed, None);
    let group_lag = admin.group_lag(&g).await.expect("group lag");
    assert_eq!(group_lag.len(), 2);
    assert_eq!(group_lag[0].lag, end[0].offset - mid);

    // An empty commit stores the position: everything consumed.
    kafka
        .consumer()
        .commit_consumed(&g, "i1")
        .await
        .expect("commit consumed");
    let post = kafka
        .consumer()
        .committed(&g, "i1", &tps[..1])
        .await
        .expect("post");
    assert_eq!(post[0].offset, end[0].offset);
    kafka
        .consumer()
        .remove_instance(&g, "i1")
        .await
        .expect("remove");
}

#[tokio::test]
async fn wrong_credentials_fail_at_once_with_a_typed_error() {
    let s = stack();
    // A policy that would wait an hour before a retry: a retried 401 would hang the test.
    let patient = RetryPolicy::default()
        .with_max_retries(5)
        .with_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .with_deadline(None);
    let bad = Kafka::builder(s.kafka_url(), s.kafka_username(), "not-the-password")
        .retry(patient)
        .build()
        .expect("client");
    let err = tokio::time::timeout(PATIENCE, bad.producer().produce("e2e.errors", "x"))
        .await
        .expect("no retry of a 401")
        .expect_err("rejected");
    assert!(
        matches!(err, Error::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("not-the-password"));
    let err = tokio::time::timeout(PATIENCE, bad.admin().topics())
        .await
        .expect("no retry")
        .expect_err("rejected");
    assert!(err.is_unauthorized());
}

#[tokio::test]
async fn bad_input_gives_clear_errors() {
    let kafka = kafka();
    let p = kafka.producer();
    // Invalid topic name (percent-encoded in the path, rejected by the server).
    let err = p.produce("bad topic!", "x").await.expect_err("bad name");
    assert!(
        matches!(err, Error::BadRequest { .. } | Error::NotFound { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad topic!"), "{err}");
    // A topic that does not exist.
    let err = p.produce("e2e.missing", "x").await.expect_err("missing");
    assert!(
        err.is_not_found() || matches!(err, Error::BadRequest { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("e2e.missing"), "{err}");
    // A partition that does not exist.
    let err = p
        .send(Record::new("e2e.errors", "x").partition(7))
        .await
        .expect_err("partition");
    assert!(matches!(err, Error::BadRequest { .. }), "{err:?}");
    // Larger than the topic's max message size (1 KiB).
    let err = p
        .produce("e2e.small", "x".repeat(2048))
        .await
        .expect_err("too large");
    assert!(
        matches!(&err, Error::BadRequest { message } | Error::PayloadTooLarge { message } if message.contains("max message size")),
        "{err:?}"
    );
    // Unknown consumer instance.
    let err = kafka
        .consumer()
        .remove_instance("e2e-no-group", "nobody")
        .await
        .expect_err("unknown instance");
    assert!(err.is_not_found(), "{err:?}");
    // Client-side checks need no round trip.
    assert!(matches!(
        p.produce("", "x").await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        Record::bytes("e2e.errors", vec![0xff, 0xfe]),
        Err(Error::InvalidInput(_))
    ));
    // The good path still works after all that.
    p.produce("e2e.errors", "fine").await.expect("produce");

    // Larger than the whole request limit (10 MiB by default): the server reads the body to
    // its end before answering 413, so the client gets the typed error, and the same client
    // (same pooled connection) works afterwards.
    let err = p
        .produce("e2e.errors", "y".repeat(11 * 1024 * 1024))
        .await
        .expect_err("body too large");
    assert!(matches!(err, Error::PayloadTooLarge { .. }), "{err:?}");
    p.produce("e2e.errors", "after")
        .await
        .expect("produce after 413");
}

#[tokio::test]
async fn produce_forms_agree() {
    let kafka = kafka();
    let p = kafka.producer();
    let topic = "e2e.produce-forms";
    let a = p
        .produce_get(topic, "via get/with slash & space", Some("k 1"))
        .await
        .expect("get");
    let b = p
        .produce_to(topic, [Record::new("ignored", "via topic path").key("k2")])
        .await
        .expect("to");
    let c = p
        .produce_json(topic, &serde_json::json!({"n": 1}))
        .await
        .expect("json");
    let got = kafka
        .consumer()
        .fetch(&FetchRequest::new(topic, 0, a.offset))
        .await
        .expect("fetch");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].value_str(), "via get/with slash & space");
    assert_eq!(got[0].key(), Some("k 1"));
    assert_eq!(got[1].offset, b[0].offset);
    assert_eq!(got[1].key(), Some("k2"));
    assert_eq!(got[2].offset, c.offset);
    assert_eq!(
        got[2].json::<serde_json::Value>().expect("json"),
        serde_json::json!({"n": 1})
    );
}
