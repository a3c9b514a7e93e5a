//! Kafka throughput against upstash-local (or any cluster from the environment): produce_many
//! in batches with several requests in flight, then read everything back through one consumer
//! group instance and through fetch by offset. Prints messages per second for each phase.
//!
//! ```text
//! cargo run --release --example kafka_loadgen -- --messages 50000 --batch 500 --concurrency 4 --size 100
//! ```
//!
//! Without `UPSTASH_KAFKA_REST_*` in the environment it starts upstash-local in-process with a
//! 4-partition topic `loadgen` (in memory). Figures are for comparison between runs on one
//! machine, not a claim about Upstash.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use upstash_kafka::{ConsumeRequest, FetchRequest, Kafka, OffsetReset, Record, TopicPartition};
use upstash_local::{Config, KafkaTopicConfig, LocalStack};

type BoxError = Box<dyn StdError + Send + Sync>;

struct Args {
    messages: usize,
    batch: usize,
    concurrency: usize,
    size: usize,
    topic: String,
}

fn args() -> Result<Args, BoxError> {
    let mut a = Args {
        messages: 20_000,
        batch: 500,
        concurrency: 4,
        size: 100,
        topic: "loadgen".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--messages" => a.messages = v.parse()?,
            "--batch" => a.batch = v.parse()?,
            "--concurrency" => a.concurrency = v.parse()?,
            "--size" => a.size = v.parse()?,
            "--topic" => a.topic = v,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if a.batch == 0 || a.concurrency == 0 {
        return Err("--batch and --concurrency must be positive".into());
    }
    Ok(a)
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:.0} msg/s", n as f64 / d.as_secs_f64().max(1e-9))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let a = args()?;
    let (kafka, stack) = match Kafka::from_env() {
        Ok(k) => (k, None),
        Err(_) => {
            let mut config = Config::default();
            config.kafka.topics = vec![KafkaTopicConfig::new(&a.topic, 4)];
            let stack = LocalStack::start(config).await?;
            let k = Kafka::new(
                stack.kafka_url(),
                stack.kafka_username(),
                stack.kafka_password(),
            )?;
            (k, Some(stack))
        }
    };
    let partitions: Vec<TopicPartition> = kafka.admin().partitions(&a.topic).await?;
    let start_offsets = kafka.admin().latest_offsets(&partitions).await?;
    let payload = Arc::new("x".repeat(a.size));

    // Produce.
    let batches: Vec<usize> = (0..a.messages)
        .step_by(a.batch)
        .map(|s| a.batch.min(a.messages - s))
        .collect();
    let started = Instant::now();
    let producer = kafka.producer();
    let written: usize = stream::iter(batches)
        .map(|n| {
            let producer = producer.clone();
            let payload = payload.clone();
            let topic = a.topic.clone();
            async move {
                let records = (0..n)
                    .map(|i| Record::new(&topic, payload.as_str()).key(format!("k{}", i % 64)));
                producer.produce_many(records).await.map(|w| w.len())
            }
        })
        .buffer_unordered(a.concurrency)
        .try_fold(0, |acc, n| async move { Ok(acc + n) })
        .await?;
    let produce_time = started.elapsed();
    println!(
        "produce_many: {written} messages of {} B, batches of {}, {} in flight: {:.2?} ({})",
        a.size,
        a.batch,
        a.concurrency,
        produce_time,
        rate(written, produce_time)
    );

    // Consume through one group instance (auto-commit off, explicit commit per batch).
    let group = format!("loadgen-{}", std::process::id());
    let worker = kafka.consumer().instance(
        ConsumeRequest::new(&group, "w1", [a.topic.as_str()])
            .auto_commit(false)
            .auto_offset_reset(OffsetReset::Earliest)
            .timeout(Duration::from_millis(500)),
    )?;
    let total: usize = {
        let end = kafka.admin().latest_offsets(&partitions).await?;
        let begin = kafka.admin().earliest_offsets(&partitions).await?;
        end.iter()
            .zip(&begin)
            .map(|(e, b)| (e.offset - b.offset) as usize)
            .sum()
    };
    let started = Instant::now();
    let mut got = 0;
    let mut requests = 0;
    while got < total {
        let batch = worker.consume().await?;
        requests += 1;
        got += batch.len();
        worker.commit_messages(&batch).await?;
    }
    let consume_time = started.elapsed();
    println!(
        "consume (group, commit per batch): {got} messages in {requests} requests: {:.2?} ({})",
        consume_time,
        rate(got, consume_time)
    );
    worker.remove().await?;

    // Fetch by offset, one partition after another, in pages.
    let started = Instant::now();
    let mut fetched = 0;
    let mut fetch_requests = 0;
    for p in &start_offsets {
        let mut offset = p.offset;
        loop {
            let page = kafka
                .consumer()
                .fetch(
                    &FetchRequest::new(&p.topic, p.partition, offset)
                        .timeout(Duration::from_millis(1)),
                )
                .await?;
            fetch_requests += 1;
            let Some(last) = page.last() else { break };
            offset = last.offset + 1;
            fetched += page.len();
        }
    }
    let fetch_time = started.elapsed();
    println!(
        "fetch (by offset, paged): {fetched} messages in {fetch_requests} requests: {:.2?} ({})",
        fetch_time,
        rate(fetched, fetch_time)
    );

    if let Some(stack) = stack {
        stack.shutdown().await;
    }
    Ok(())
}
