//! Kafka round trip: produce records with keys and headers, fetch them back by offset, read
//! them through a consumer group stream that commits, and show the group's lag.
//!
//! ```text
//! cargo run --example kafka_roundtrip
//! ```
//!
//! With `UPSTASH_KAFKA_REST_URL`, `UPSTASH_KAFKA_REST_USERNAME` and
//! `UPSTASH_KAFKA_REST_PASSWORD` set it uses that cluster and topic `KAFKA_TOPIC` (default
//! `roundtrip`, which must exist); otherwise it starts upstash-local in-process with a
//! 3-partition topic `roundtrip`.

use std::error::Error as StdError;
use std::time::Duration;

use futures_util::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use upstash_kafka::{ConsumeRequest, FetchRequest, Kafka, OffsetReset, Record};
use upstash_local::{Config, KafkaTopicConfig, LocalStack};

type BoxError = Box<dyn StdError + Send + Sync>;

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: u32,
    amount_cents: u64,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let topic = std::env::var("KAFKA_TOPIC").unwrap_or_else(|_| "roundtrip".to_owned());
    let (kafka, stack) = match Kafka::from_env() {
        Ok(kafka) => {
            println!("Using {} from the environment.", kafka.url());
            (kafka, None)
        }
        Err(missing) => {
            println!("{missing}: starting upstash-local in-process.");
            let mut config = Config::default();
            config.kafka.topics = vec![KafkaTopicConfig::new(&topic, 3)];
            let stack = LocalStack::start(config).await?;
            let kafka = Kafka::new(
                stack.kafka_url(),
                stack.kafka_username(),
                stack.kafka_password(),
            )?;
            println!("Kafka REST at {}", stack.kafka_url());
            (kafka, Some(stack))
        }
    };

    // 1. Produce: JSON values, keys (one key -> one partition), headers.
    let records = (1..=6)
        .map(|id| {
            Ok(Record::json(
                &topic,
                &Order {
                    id,
                    amount_cents: u64::from(id) * 250,
                },
            )?
            .key(format!("customer-{}", id % 2))
            .header("schema", "order/v1"))
        })
        .collect::<Result<Vec<_>, upstash_kafka::Error>>()?;
    let written = kafka.producer().produce_many(records).await?;
    for w in &written {
        println!("produced {}/{}@{}", w.topic, w.partition, w.offset);
    }

    // 2. Fetch the first record back by its offset (no consumer group).
    let first = &written[0];
    let fetched = kafka
        .consumer()
        .fetch(&FetchRequest::new(
            &first.topic,
            first.partition,
            first.offset,
        ))
        .await?;
    if let Some(m) = fetched.first() {
        println!(
            "fetched key={:?} schema={:?} order={:?}",
            m.key(),
            m.header("schema"),
            m.json::<Order>()?
        );
    }

    // 3. A consumer group stream: long-polls, commits each batch once it has been taken.
    let group = format!("roundtrip-{}", std::process::id());
    let worker = kafka.consumer().instance(
        ConsumeRequest::new(&group, "worker-1", [topic.as_str()])
            .auto_commit(false)
            .auto_offset_reset(OffsetReset::Earliest)
            .timeout(Duration::from_secs(2)),
    )?;
    let mut stream = worker.clone().stream();
    let mut seen = 0;
    while seen < written.len() {
        let Some(m) = tokio::time::timeout(Duration::from_secs(60), stream.try_next()).await??
        else {
            break;
        };
        println!(
            "group {group} got {}@{}: {}",
            m.partition,
            m.offset,
            m.value_str()
        );
        seen += 1;
    }
    // The stream commits a batch when the next one is asked for; commit the last one now,
    // then show the lag (0 everywhere: the group has read and committed everything).
    worker.commit_consumed().await?;
    for lag in kafka.admin().group_lag(&group).await? {
        println!(
            "lag {}/{}: committed {:?}, end {}, lag {}",
            lag.topic, lag.partition, lag.committed, lag.latest, lag.lag
        );
    }
    drop(stream);
    worker.remove().await?;

    if let Some(stack) = stack {
        stack.shutdown().await;
    }
    Ok(())
}
