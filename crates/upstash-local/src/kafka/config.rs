//! `[kafka]` and `[[kafka.topics]]` configuration.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::secret::Secret;
use crate::Error;

/// Kafka REST port used when a config file's `[kafka]` section does not set one.
pub const DEFAULT_KAFKA_PORT: u16 = 8081;
/// Fixed development user name of the Kafka REST service.
pub const DEV_KAFKA_USERNAME: &str = "upstash-local-kafka";
/// Fixed development password of the Kafka REST service.
pub const DEV_KAFKA_PASSWORD: &str = "upstash-local-kafka-password";
/// Largest message (key + value + headers, in bytes) a topic accepts unless configured.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1024 * 1024;
/// Most partitions one topic may have.
pub const MAX_PARTITIONS: u32 = 1000;

/// `[kafka]` section.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct KafkaConfig {
    /// REST port; 0 = ephemeral. In a file it defaults to 8081; `Config::default()` uses 0.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Basic-auth user name (`UPSTASH_KAFKA_REST_USERNAME`).
    pub username: String,
    /// Basic-auth password (`UPSTASH_KAFKA_REST_PASSWORD`).
    pub password: Secret,
    /// Keep the topic logs and committed offsets in this directory (append-only files);
    /// default: in memory only.
    pub data_dir: Option<PathBuf>,
    /// Largest accepted request body in bytes.
    pub max_request_bytes: usize,
    /// Session timeout of consumer instances that send no `Kafka-Session-Timeout-Ms` header,
    /// in milliseconds: an instance with no request for that long is removed.
    pub session_timeout_ms: u64,
    /// Topics that exist from the start (more can be created with `POST /_local/kafka/topics`).
    pub topics: Vec<KafkaTopicConfig>,
}

fn default_port() -> u16 {
    DEFAULT_KAFKA_PORT
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            port: 0,
            username: DEV_KAFKA_USERNAME.into(),
            password: Secret::new(DEV_KAFKA_PASSWORD),
            data_dir: None,
            max_request_bytes: 10 * 1024 * 1024,
            session_timeout_ms: 120_000,
            topics: Vec::new(),
        }
    }
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("data_dir", &self.data_dir)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("session_timeout_ms", &self.session_timeout_ms)
            .field("topics", &self.topics)
            .finish()
    }
}

/// `[[kafka.topics]]`: one topic.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct KafkaTopicConfig {
    /// Name: 1 to 249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
    pub name: String,
    /// Number of partitions (default 1, at most 1000).
    #[serde(default = "one")]
    pub partitions: u32,
    /// Drop records older than this many milliseconds (by record timestamp); default: keep all.
    #[serde(default)]
    pub retention_ms: Option<u64>,
    /// Largest message (key + value + header keys and values) in bytes; default 1 MiB.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
}

fn one() -> u32 {
    1
}

fn default_max_message_size() -> usize {
    DEFAULT_MAX_MESSAGE_SIZE
}

impl KafkaTopicConfig {
    /// A topic with `partitions` partitions and the default limits.
    pub fn new(name: impl Into<String>, partitions: u32) -> KafkaTopicConfig {
        KafkaTopicConfig {
            name: name.into(),
            partitions,
            retention_ms: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// Checks the name and the limits; the message is meant for users.
    pub(crate) fn check(&self) -> Result<(), String> {
        check_topic_name(&self.name)?;
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return Err(format!(
                "topic {:?}: partitions must be between 1 and {MAX_PARTITIONS}",
                self.name
            ));
        }
        if self.max_message_size == 0 {
            return Err(format!(
                "topic {:?}: max_message_size must be positive",
                self.name
            ));
        }
        Ok(())
    }
}

/// Kafka's topic name rule: 1..=249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
pub(crate) fn check_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 249 {
        return Err(format!(
            "invalid topic name {name:?}: it must have 1 to 249 characters"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("invalid topic name {name:?}"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
    {
        return Err(format!(
            "invalid topic name {name:?}: only ASCII letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    Ok(())
}

impl KafkaConfig {
    /// Checks credentials and topics.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.username.is_empty() || self.username.contains(':') {
            return Err(Error::Config(
                "kafka username must be non-empty without ':'".into(),
            ));
        }
        if self.password.expose().is_empty() {
            return Err(Error::Config("kafka password must be non-empty".into()));
        }
        if self.max_request_bytes == 0 || self.session_timeout_ms == 0 {
            return Err(Error::Config(
                "kafka max_request_bytes and session_timeout_ms must be positive".into(),
            ));
        }
        for (i, t) in self.topics.iter().enumerate() {
            t.check().map_err(Error::Config)?;
            if self.topics[..i].iter().any(|o| o.name == t.name) {
                return Err(Error::Config(format!(
                    "kafka topic {:?} is declared twice",
                    t.name
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_topic_name("a.b_c-D9").is_ok());
        assert!(check_topic_name("").is_err());
        assert!(check_topic_name("..").is_err());
        assert!(check_topic_name("a/b").is_err());
        assert!(check_topic_name("ä").is_err());
        assert!(check_topic_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn parses_section() {
        let c = crate::Config::from_toml_str(
            r#"
[kafka]
password = "pw"
[[kafka.topics]]
name = "green"
partitions = 3
retention_ms = 60000
[[kafka.topics]]
name = "blue"
"#,
        )
        .unwrap();
        assert_eq!(c.kafka.port, DEFAULT_KAFKA_PORT);
        assert_eq!(c.kafka.username, DEV_KAFKA_USERNAME);
        assert_eq!(c.kafka.password.expose(), "pw");
        assert_eq!(c.kafka.topics[0].retention_ms, Some(60_000));
        assert_eq!(c.kafka.topics[1].partitions, 1);
        assert_eq!(c.kafka.topics[1].max_message_size, DEFAULT_MAX_MESSAGE_SIZE);
        assert!(!format!("{c:?}").contains("\"pw\""));
        assert_eq!(crate::Config::default().kafka.port, 0);
        for bad in [
            "[[kafka.topics]]\nname = \"a/b\"",
            "[[kafka.topics]]\nname = \"a\"\npartitions = 0",
            "[[kafka.topics]]\nname = \"a\"\n[[kafka.topics]]\nname = \"a\"",
            "[kafka]\nusername = \"a:b\"",
        ] {
            assert!(crate::Config::from_toml_str(bad).is_err(), "{bad}");
        }
    }
}
