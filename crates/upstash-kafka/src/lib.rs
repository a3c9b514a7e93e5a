//! # upstash-kafka
//!
//! A client for the Upstash Kafka REST API: a [`Producer`], a [`Consumer`] with consumer
//! groups, fetch by offset, commits and a long-polling [`MessageStream`], and an [`Admin`]
//! view for topics, partitions, offsets, groups and lag. It runs on the shared HTTP core
//! `upstash-core` (pooled rustls client, Basic auth with a redacted password, retries).
//!
//! ```no_run
//! # async fn demo() -> upstash_kafka::Result<()> {
//! use futures_util::TryStreamExt as _;
//! use upstash_kafka::{ConsumeRequest, FetchRequest, Kafka, OffsetReset, Record};
//!
//! // UPSTASH_KAFKA_REST_URL / _USERNAME / _PASSWORD
//! let kafka = Kafka::from_env()?;
//!
//! // Produce: text, JSON, or records with key, partition, timestamp and headers.
//! let meta = kafka.producer().send(Record::new("orders", "o-1").key("user-7").header("v", "2")).await?;
//!
//! // Fetch by offset, without a group.
//! let msgs = kafka.consumer().fetch(&FetchRequest::new(&meta.topic, meta.partition, meta.offset)).await?;
//! assert_eq!(msgs[0].key(), Some("user-7"));
//!
//! // Consume with a group: a stream that long-polls and commits what you have processed.
//! let group = kafka.consumer().instance(
//!     ConsumeRequest::new("billing", "worker-1", ["orders"])
//!         .auto_commit(false)
//!         .auto_offset_reset(OffsetReset::Earliest),
//! )?;
//! let mut stream = group.stream();
//! while let Some(msg) = stream.try_next().await? {
//!     println!("{}@{}: {}", msg.topic, msg.offset, msg.value_str());
//! }
//! # Ok(()) }
//! ```
//!
//! ## Retries
//!
//! 4xx answers fail at once with a typed error ([`Error::Unauthorized`],
//! [`Error::BadRequest`], [`Error::NotFound`], [`Error::PayloadTooLarge`]). Requests that never
//! reached the server and 429 answers are retried with backoff. A 5xx, timeout or lost response
//! is retried only for requests that are safe to repeat (fetch, committed, offsets, metadata,
//! commits); **produce and consume are not**, since repeating them could write a record twice
//! or drop a batch (see [`KafkaBuilder`]).
#![forbid(unsafe_code)]

mod admin;
mod client;
mod consumer;
mod error;
mod producer;
mod types;

pub use admin::Admin;
pub use client::{Kafka, KafkaBuilder};
pub use consumer::{
    next_offsets, ConsumeRequest, Consumer, FetchRequest, GroupConsumer, MessageStream,
};
pub use error::{Error, Result};
pub use producer::Producer;
pub use types::{
    GroupAssignments, Header, InstanceAssignments, Message, Metadata, OffsetReset, OffsetSpec,
    PartitionLag, Record, TopicAssignments, TopicPartition, TopicPartitionOffset,
};
pub use upstash_core::RetryPolicy;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
