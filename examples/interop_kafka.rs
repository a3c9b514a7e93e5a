//! The Rust half of the Kafka interop check (`tests/interop/kafka.mjs` drives it).
//!
//! Runs one `upstash-kafka` operation against the cluster named by `UPSTASH_KAFKA_REST_URL`,
//! `UPSTASH_KAFKA_REST_USERNAME` and `UPSTASH_KAFKA_REST_PASSWORD` (an upstash-local in CI) and
//! prints its result as one JSON line, so that a driver can interleave it with
//! `@upstash/kafka` calls on the same topics and groups.
//!
//! ```text
//! eval "$(upstash-local)"
//! cargo run --example interop_kafka -- produce --topic t --value hello --key k --header a=b
//! cargo run --example interop_kafka -- fetch --topic t --partition 0 --offset 0
//! ```
//!
//! Operations and options:
//! - `produce --topic T --value V [--key K] [--partition P] [--header k=v]...`: one record;
//!   prints the metadata `{topic, partition, offset, timestamp}`
//! - `produce-json --topic T --value JSON`: the value parsed and produced as JSON
//! - `fetch --topic T --partition P --offset O [--and T:P:O]...`: prints the messages array
//! - `consume --group G --instance I --topic T [--earliest] [--no-auto-commit] [--min N]`:
//!   polls (2 s long polls, up to 60 s) until at least N messages (default 1) arrived; prints
//!   them
//! - `commit --group G --instance I --topic T --partition P --offset O`: prints `{"ok":true}`
//! - `committed --group G --instance I --topic T --partition P`: prints the offsets array
//! - `latest --topic T --partition P`: prints the offsets array
//! - `remove --group G --instance I`: prints `{"ok":true}`
//!
//! Errors go to stderr and the exit status is non-zero.

use std::error::Error as StdError;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use upstash_kafka::{
    ConsumeRequest, FetchRequest, Kafka, OffsetReset, Record, TopicPartition, TopicPartitionOffset,
};

type BoxError = Box<dyn StdError + Send + Sync>;

#[derive(Debug, Default)]
struct Opts {
    topic: String,
    value: String,
    key: Option<String>,
    partition: Option<i32>,
    offset: i64,
    headers: Vec<(String, String)>,
    more: Vec<TopicPartitionOffset>,
    group: String,
    instance: String,
    earliest: bool,
    no_auto_commit: bool,
    min: usize,
}

fn parse(args: &[String]) -> Result<Opts, BoxError> {
    let mut o = Opts {
        min: 1,
        ..Opts::default()
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--earliest" => o.earliest = true,
            "--no-auto-commit" => o.no_auto_commit = true,
            _ => {
                let v = it
                    .next()
                    .ok_or_else(|| format!("{flag} needs a value"))?
                    .clone();
                match flag.as_str() {
                    "--topic" => o.topic = v,
                    "--value" => o.value = v,
                    "--key" => o.key = Some(v),
                    "--partition" => o.partition = Some(v.parse()?),
                    "--offset" => o.offset = v.parse()?,
                    "--header" => {
                        let (k, val) = v.split_once('=').ok_or("--header needs k=v")?;
                        o.headers.push((k.to_owned(), val.to_owned()));
                    }
                    "--and" => {
                        let mut parts = v.rsplitn(3, ':');
                        let offset = parts.next().ok_or("--and T:P:O")?.parse()?;
                        let partition = parts.next().ok_or("--and T:P:O")?.parse()?;
                        let topic = parts.next().ok_or("--and T:P:O")?;
                        o.more
                            .push(TopicPartitionOffset::new(topic, partition, offset));
                    }
                    "--group" => o.group = v,
                    "--instance" => o.instance = v,
                    "--min" => o.min = v.parse()?,
                    other => return Err(format!("unknown option {other}").into()),
                }
            }
        }
    }
    Ok(o)
}

async fn run(op: &str, o: Opts) -> Result<serde_json::Value, BoxError> {
    let kafka = Kafka::from_env()?;
    let ok = serde_json::json!({"ok": true});
    Ok(match op {
        "produce" | "produce-json" => {
            let mut r = if op == "produce" {
                Record::new(&o.topic, o.value)
            } else {
                Record::json(
                    &o.topic,
                    &serde_json::from_str::<serde_json::Value>(&o.value)?,
                )?
            };
            if let Some(k) = o.key {
                r = r.key(k);
            }
            if let Some(p) = o.partition {
                r = r.partition(p);
            }
            for (k, v) in o.headers {
                r = r.header(k, v);
            }
            serde_json::to_value(kafka.producer().send(r).await?)?
        }
        "fetch" => {
            let mut req = FetchRequest::new(&o.topic, o.partition.unwrap_or(0), o.offset);
            for p in o.more {
                req = req.and(p);
            }
            serde_json::to_value(kafka.consumer().fetch(&req).await?)?
        }
        "consume" => {
            let mut req = ConsumeRequest::new(&o.group, &o.instance, [o.topic.as_str()])
                .timeout(Duration::from_secs(2));
            if o.earliest {
                req = req.auto_offset_reset(OffsetReset::Earliest);
            }
            if o.no_auto_commit {
                req = req.auto_commit(false);
            }
            let started = Instant::now();
            let mut got = Vec::new();
            while got.len() < o.min {
                if started.elapsed() > Duration::from_secs(60) {
                    return Err(
                        format!("only {} of {} messages after 60 s", got.len(), o.min).into(),
                    );
                }
                got.extend(kafka.consumer().consume(&req).await?);
            }
            serde_json::to_value(got)?
        }
        "commit" => {
            let offsets = [TopicPartitionOffset::new(
                &o.topic,
                o.partition.unwrap_or(0),
                o.offset,
            )];
            kafka
                .consumer()
                .commit(&o.group, &o.instance, &offsets)
                .await?;
            ok
        }
        "committed" => {
            let tps = [TopicPartition::new(&o.topic, o.partition.unwrap_or(0))];
            serde_json::to_value(
                kafka
                    .consumer()
                    .committed(&o.group, &o.instance, &tps)
                    .await?,
            )?
        }
        "latest" => {
            let tps = [TopicPartition::new(&o.topic, o.partition.unwrap_or(0))];
            serde_json::to_value(kafka.admin().latest_offsets(&tps).await?)?
        }
        "remove" => {
            kafka
                .consumer()
                .remove_instance(&o.group, &o.instance)
                .await?;
            ok
        }
        other => return Err(format!("unknown operation {other}").into()),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((op, rest)) = args.split_first() else {
        eprintln!("usage: interop_kafka <operation> [options] (see the doc comment)");
        return ExitCode::from(2);
    };
    let result = match parse(rest) {
        Ok(o) => run(op, o).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("interop_kafka {op}: {e}");
            ExitCode::FAILURE
        }
    }
}
