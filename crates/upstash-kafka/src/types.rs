//! Wire types: messages, records to produce, partitions and offsets, group assignments.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A Kafka record header. The REST API carries header values as strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: String,
}

impl Header {
    /// A header `key: value`.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Header {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A consumed (or fetched) message.
///
/// The REST API carries keys and values as JSON strings: a missing key arrives as `""` and no
/// headers as `[]`. Decode the value with [`Message::value_str`], [`Message::value_bytes`] or
/// [`Message::json`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// Record timestamp, unix milliseconds.
    pub timestamp: i64,
    /// Record key (`""` when the record has none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub key: String,
    /// Record value.
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: String,
    /// Record headers, in order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub headers: Vec<Header>,
}

fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Message {
    /// The value as text.
    pub fn value_str(&self) -> &str {
        &self.value
    }

    /// The value as bytes (its UTF-8 encoding).
    pub fn value_bytes(&self) -> &[u8] {
        self.value.as_bytes()
    }

    /// The value parsed as JSON into `T` (values produced with [`Record::json`] or by
    /// `@upstash/kafka` from a non-string value).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.value).map_err(|e| {
            Error::Value(format!(
                "{}/{}@{} is not the expected JSON: {e}",
                self.topic, self.partition, self.offset
            ))
        })
    }

    /// The key, or `None` when the record has none (the API reports a missing key as `""`).
    pub fn key(&self) -> Option<&str> {
        (!self.key.is_empty()).then_some(self.key.as_str())
    }

    /// The value of the first header named `key`.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.key == key)
            .map(|h| h.value.as_str())
    }

    /// This message's topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }
}

/// A record to produce: topic, value and the optional key, partition, timestamp and headers.
///
/// The REST API carries values as strings, so a value is text: [`Record::new`] takes any
/// string, [`Record::json`] serialises a value to JSON (as `@upstash/kafka` does with
/// non-string values) and [`Record::bytes`] accepts bytes that are valid UTF-8.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Topic name (omitted from the body of `/produce/{topic}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) topic: Option<String>,
    /// Partition; the broker picks one (by key hash, else round robin) when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// Timestamp in unix milliseconds; the broker uses its clock when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// Record key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Record value.
    pub value: String,
    /// Record headers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values can be large; show their size, not their content.
        f.debug_struct("Record")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("timestamp", &self.timestamp)
            .field("key", &self.key)
            .field("value_len", &self.value.len())
            .field("headers", &self.headers.len())
            .finish()
    }
}

impl Record {
    /// A record with a text value.
    pub fn new(topic: impl Into<String>, value: impl Into<String>) -> Self {
        Record {
            topic: Some(topic.into()),
            partition: None,
            timestamp: None,
            key: None,
            value: value.into(),
            headers: Vec::new(),
        }
    }

    /// A record whose value is `value` serialised as JSON.
    pub fn json<T: Serialize + ?Sized>(topic: impl Into<String>, value: &T) -> Result<Self> {
        let text = serde_json::to_string(value)
            .map_err(|e| Error::InvalidInput(format!("cannot serialise the value: {e}")))?;
        Ok(Self::new(topic, text))
    }

    /// A record whose value is `bytes`, which must be valid UTF-8 (the REST API carries values
    /// as JSON strings; encode binary data, e.g. as base64, before producing it).
    pub fn bytes(topic: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let text = String::from_utf8(bytes.into()).map_err(|e| {
            Error::InvalidInput(format!(
                "the value is not valid UTF-8 (byte {}); the Kafka REST API carries text values only",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Ok(Self::new(topic, text))
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the timestamp (unix milliseconds).
    pub fn timestamp(mut self, millis: i64) -> Self {
        self.timestamp = Some(millis);
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        self.topic.as_deref().unwrap_or_default()
    }
}

/// Where a produced record was written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Metadata {
    /// Topic name.
    pub topic: String,
    /// Partition the record went to.
    pub partition: i32,
    /// Offset of the record.
    pub offset: i64,
    /// Record timestamp, unix milliseconds.
    pub timestamp: i64,
}

impl Metadata {
    /// The position of this record, for [`crate::FetchRequest`] or a commit.
    pub fn position(&self) -> TopicPartitionOffset {
        TopicPartitionOffset::new(self.topic.clone(), self.partition, self.offset)
    }
}

/// A topic and one of its partitions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic` / `partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// A topic, a partition and an offset in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicPartitionOffset {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Offset (`-1` from `committed` when nothing was committed).
    pub offset: i64,
}

impl TopicPartitionOffset {
    /// `topic` / `partition` @ `offset`.
    pub fn new(topic: impl Into<String>, partition: i32, offset: i64) -> Self {
        TopicPartitionOffset {
            topic: topic.into(),
            partition,
            offset,
        }
    }

    /// The topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }
}

/// A consumer group and its instances, from [`crate::Admin::consumers`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAssignments {
    /// Group id.
    pub name: String,
    /// Instances known to the REST server.
    #[serde(default)]
    pub instances: Vec<InstanceAssignments>,
}

/// One instance of a consumer group and what it is assigned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceAssignments {
    /// Instance id.
    pub name: String,
    /// Assigned partitions, by topic.
    #[serde(default)]
    pub topics: Vec<TopicAssignments>,
}

/// Partitions of one topic assigned to an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicAssignments {
    /// Topic name.
    pub topic: String,
    /// Partition numbers.
    #[serde(default)]
    pub partitions: Vec<i32>,
}

/// Which offsets [`crate::Admin::offsets`] looks up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OffsetSpec {
    /// The log start: the first offset still stored.
    Earliest,
    /// The log end: the offset the next record will get (the high watermark).
    Latest,
    /// The first offset whose timestamp is at or after this unix time in milliseconds.
    Timestamp(i64),
}

impl OffsetSpec {
    /// The path segment of `/offsets/{..}`.
    pub(crate) fn segment(&self) -> String {
        match self {
            OffsetSpec::Earliest => "earliest".to_owned(),
            OffsetSpec::Latest => "latest".to_owned(),
            OffsetSpec::Timestamp(ms) => ms.to_string(),
        }
    }
}

/// Where a new consumer instance starts when its group has no committed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OffsetReset {
    /// From the oldest stored message.
    Earliest,
    /// Only messages produced from now on (the server's default).
    Latest,
    /// Fail when there is no committed offset.
    None,
}

impl OffsetReset {
    /// The `Kafka-Auto-Offset-Reset` header value.
    pub fn as_str(&self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
            OffsetReset::None => "none",
        }
    }
}

/// The lag of a consumer group on one partition, from [`crate::Admin::lag`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PartitionLag {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// The group's committed offset, `None` when it never committed on this partition.
    pub committed: Option<i64>,
    /// The log end offset (next offset to be written).
    pub latest: i64,
    /// Messages not yet committed: `latest - committed`, or `latest - earliest` when nothing
    /// was committed.
    pub lag: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_fixture_from_the_docs() {
        let body = r#"{"topic":"newtopic","partition":0,"offset":282,"timestamp":1639610767445,"key":"","value":"hello","headers":[]}"#;
        let m: Message = crate::client::decode_body(body.as_bytes()).unwrap_or_else(|_| panic!());
        assert_eq!(m.offset, 282);
        assert_eq!(m.key(), None);
        assert_eq!(m.value_str(), "hello");
        assert_eq!(m.value_bytes(), b"hello");
        assert!(m.json::<String>().is_err());
        let body = r#"{"topic":"t","partition":1,"offset":0,"timestamp":1,"key":"k","value":"{\"n\":5}","headers":[{"key":"h","value":"v"}]}"#;
        let m: Message = crate::client::decode_body(body.as_bytes()).unwrap_or_else(|_| panic!());
        assert_eq!(m.key(), Some("k"));
        assert_eq!(m.header("h"), Some("v"));
        assert_eq!(
            m.json::<serde_json::Value>().ok(),
            Some(serde_json::json!({"n": 5}))
        );
        // Missing or null key/headers decode to their defaults.
        let body = r#"{"topic":"t","partition":0,"offset":0,"timestamp":1,"value":"x","key":null}"#;
        let m: Message = crate::client::decode_body(body.as_bytes()).unwrap_or_else(|_| panic!());
        assert!(m.headers.is_empty() && m.key.is_empty());
    }

    #[test]
    fn metadata_fixture_from_the_docs() {
        let body = r#"{"topic":"mytopic","partition":0,"offset":0,"timestamp":1637743323016}"#;
        let m: Metadata = crate::client::decode_body(body.as_bytes()).unwrap_or_else(|_| panic!());
        assert_eq!(m.position(), TopicPartitionOffset::new("mytopic", 0, 0));
    }
}
