//! The [`Producer`].

use serde::Serialize;
use upstash_core::http::Method;
use upstash_core::Request;

use crate::client::{check_name, json_request, path, OneOrMany};
use crate::{Error, Kafka, Metadata, Record, Result};

/// Produces records. From [`Kafka::producer`]; cheap to clone.
///
/// Producing is not idempotent: after a timeout, a lost response or a 5xx, a record may or may
/// not have been written, so these are not retried by default (see [`crate::KafkaBuilder`]).
/// Connection failures (the request never left) and 429 answers are retried.
///
/// ```no_run
/// # async fn demo(kafka: upstash_kafka::Kafka) -> upstash_kafka::Result<()> {
/// use upstash_kafka::Record;
/// let producer = kafka.producer();
/// producer.produce("events", "plain text").await?;
/// producer.produce_json("events", &serde_json::json!({"id": 1})).await?;
/// let written = producer
///     .produce_many([
///         Record::new("events", "a").key("user-1").header("source", "web"),
///         Record::new("audit", "b").partition(0).timestamp(1_700_000_000_000),
///     ])
///     .await?;
/// assert_eq!(written.len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Producer {
    pub(crate) kafka: Kafka,
}

impl Producer {
    /// Produces one text value to `topic`; the broker picks the partition.
    pub async fn produce(&self, topic: &str, value: impl Into<String>) -> Result<Metadata> {
        self.send(Record::new(topic, value)).await
    }

    /// Produces `value` serialised as JSON (read it back with [`crate::Message::json`]).
    pub async fn produce_json<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        value: &T,
    ) -> Result<Metadata> {
        self.send(Record::json(topic, value)?).await
    }

    /// Produces one record with its key, partition, timestamp and headers
    /// (`POST /produce` with one object).
    pub async fn send(&self, record: Record) -> Result<Metadata> {
        check_record(&record)?;
        let req = json_request(path(&["produce"]), &record)?;
        let written = self.kafka.call::<OneOrMany<Metadata>>(req).await?;
        written
            .into_vec()
            .into_iter()
            .next()
            .ok_or_else(|| Error::Decode {
                message: "the produce response is an empty array".into(),
                body_snippet: "[]".into(),
            })
    }

    /// Produces several records, possibly to several topics, in one request
    /// (`POST /produce` with an array). The result lists where each record went, in order.
    pub async fn produce_many(
        &self,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<Vec<Metadata>> {
        let records: Vec<Record> = records.into_iter().collect();
        if records.is_empty() {
            return Ok(Vec::new());
        }
        for r in &records {
            check_record(r)?;
        }
        self.post_records(path(&["produce"]), &records).await
    }

    /// Produces records to one `topic` (`POST /produce/{topic}`); the records' own topics are
    /// ignored.
    pub async fn produce_to(
        &self,
        topic: &str,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<Vec<Metadata>> {
        check_name("topic", topic)?;
        let records: Vec<Record> = records
            .into_iter()
            .map(|mut r| {
                r.topic = None;
                r
            })
            .collect();
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.post_records(path(&["produce", topic]), &records).await
    }

    /// Sends an array of records to `path`; the server must report one placement each.
    async fn post_records(&self, path: String, records: &[Record]) -> Result<Vec<Metadata>> {
        let req = json_request(path, &records)?;
        let written = self
            .kafka
            .call::<OneOrMany<Metadata>>(req)
            .await?
            .into_vec();
        check_count(records.len(), written.len())?;
        Ok(written)
    }

    /// Produces with the URL form `GET /produce/{topic}/{value}[?key=..]`, as the console's
    /// curl snippets do (every part percent-encoded).
    pub async fn produce_get(
        &self,
        topic: &str,
        value: &str,
        key: Option<&str>,
    ) -> Result<Metadata> {
        check_name("topic", topic)?;
        let mut p = path(&["produce", topic, value]);
        if let Some(key) = key {
            p.push_str("?key=");
            p.extend(percent_encoding::utf8_percent_encode(
                key,
                percent_encoding::NON_ALPHANUMERIC,
            ));
        }
        let written = self
            .kafka
            .call::<OneOrMany<Metadata>>(Request::new(Method::GET, p))
            .await?;
        written
            .into_vec()
            .into_iter()
            .next()
            .ok_or_else(|| Error::Decode {
                message: "the produce response is empty".into(),
                body_snippet: "[]".into(),
            })
    }
}

fn check_record(r: &Record) -> Result<()> {
    check_name("topic", r.topic())
}

fn check_count(sent: usize, got: usize) -> Result<()> {
    if sent == got {
        Ok(())
    } else {
        Err(Error::Decode {
            message: format!("sent {sent} records but the server reported {got}"),
            body_snippet: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Header, Record};

    #[test]
    fn record_json_shape() {
        let r = Record::new("t", "v");
        assert_eq!(
            serde_json::to_string(&r).ok(),
            Some(r#"{"topic":"t","value":"v"}"#.to_owned())
        );
        let r = Record::new("t", "v")
            .key("k")
            .partition(2)
            .timestamp(1637745834744)
            .header("h", "x");
        assert_eq!(
            serde_json::to_value(&r).ok(),
            Some(serde_json::json!({
                "topic": "t", "partition": 2, "timestamp": 1637745834744i64,
                "key": "k", "value": "v", "headers": [{"key": "h", "value": "x"}]
            }))
        );
        assert_eq!(r.headers, vec![Header::new("h", "x")]);
    }

    #[test]
    fn json_and_bytes_values() {
        let r = Record::json("t", &serde_json::json!({"a": [1, 2]})).map(|r| r.value);
        assert_eq!(r.ok().as_deref(), Some(r#"{"a":[1,2]}"#));
        // A JSON string value is quoted, as JSON.stringify would do for a non-string only;
        // plain strings go through Record::new unchanged.
        let r = Record::json("t", "x").map(|r| r.value);
        assert_eq!(r.ok().as_deref(), Some("\"x\""));
        assert_eq!(
            Record::bytes("t", b"ok".to_vec()).map(|r| r.value).ok(),
            Some("ok".to_owned())
        );
        let err = Record::bytes("t", vec![0x61, 0xff])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("not valid UTF-8 (byte 1)")));
    }

    #[test]
    fn debug_shows_value_size_only() {
        let r = Record::new("t", "secret-ish payload");
        let text = format!("{r:?}");
        assert!(!text.contains("payload"));
        assert!(text.contains("value_len: 18"));
    }
}
