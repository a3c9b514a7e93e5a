//! Configuration file format (TOML, one section per service).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secret::Secret;
use crate::Error;

/// Fixed development token for the Redis standard (full access) token.
pub const DEV_REDIS_TOKEN: &str = "upstash-local-redis-token";
/// Fixed development token for the Redis read-only token.
pub const DEV_REDIS_READONLY_TOKEN: &str = "upstash-local-redis-readonly-token";
/// REST port used when a config file's `[redis]` section does not set one.
pub const DEFAULT_REDIS_PORT: u16 = 8079;
/// QStash port used when a config file's `[qstash]` section does not set one (as `qstash dev`).
pub const DEFAULT_QSTASH_PORT: u16 = 8080;

/// The whole configuration. Unknown sections (other services) are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `[server]`: settings shared by every service.
    pub server: ServerConfig,
    /// `[redis]`: the Redis REST service.
    pub redis: RedisConfig,
    /// `[vector]` and `[[vector.indexes]]`: the Vector service.
    pub vector: crate::vector::config::VectorConfig,
    /// `[qstash]`: the QStash service.
    pub qstash: QStashConfig,
    /// `[kafka]` and `[[kafka.topics]]`: the Kafka REST service.
    pub kafka: crate::kafka::config::KafkaConfig,
}

/// `[server]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Listen address for every service (default `127.0.0.1`).
    pub host: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
        }
    }
}

/// `[redis]` section.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// REST port; 0 = ephemeral. In a file it defaults to 8079; `Config::default()` uses 0.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Standard (full access) token.
    pub token: Secret,
    /// Read-only token (ACL user `default_ro`).
    pub readonly_token: Secret,
    /// Use an existing redis-server (`redis://[user:pass@]host:port[/db]`) instead of spawning one.
    pub redis_url: Option<String>,
    /// Binary to spawn (looked up in `PATH`).
    pub redis_server: String,
    /// Persist data (append-only file) in this directory; default: nothing persisted.
    pub data_dir: Option<PathBuf>,
    /// Largest accepted request body in bytes.
    pub max_request_bytes: usize,
    /// Most commands accepted in one `/pipeline` or `/multi-exec` request.
    pub max_pipeline_commands: usize,
    /// Connections per ACL user pool.
    pub pool_size: usize,
    /// Extra ACL users, each with its own REST token.
    pub users: Vec<UserConfig>,
}

fn default_port() -> u16 {
    DEFAULT_REDIS_PORT
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            port: 0,
            token: Secret::new(DEV_REDIS_TOKEN),
            readonly_token: Secret::new(DEV_REDIS_READONLY_TOKEN),
            redis_url: None,
            redis_server: "redis-server".into(),
            data_dir: None,
            max_request_bytes: 10 * 1024 * 1024,
            max_pipeline_commands: 10_000,
            pool_size: 16,
            users: Vec::new(),
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("port", &self.port)
            .field("token", &self.token)
            .field("readonly_token", &self.readonly_token)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "[redacted]"))
            .field("redis_server", &self.redis_server)
            .field("data_dir", &self.data_dir)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_pipeline_commands", &self.max_pipeline_commands)
            .field("pool_size", &self.pool_size)
            .field("users", &self.users)
            .finish()
    }
}

/// `[[redis.users]]`: a real Redis ACL user with its own REST token.
#[derive(Debug, Clone, Deserialize)]
pub struct UserConfig {
    /// ACL user name.
    pub name: String,
    /// REST token for this user.
    pub token: Secret,
    /// ACL command rules, e.g. `["+@read", "-@dangerous"]` (default `["+@all"]`).
    #[serde(default = "all_commands")]
    pub commands: Vec<String>,
    /// Key patterns (`cache:*`; a leading `~` or `%R~`-style prefix is kept). Default `["*"]`.
    #[serde(default = "all_patterns")]
    pub keys: Vec<String>,
    /// Pub/Sub channel patterns. Default `["*"]`.
    #[serde(default = "all_patterns")]
    pub channels: Vec<String>,
}

fn all_commands() -> Vec<String> {
    vec!["+@all".into()]
}

fn all_patterns() -> Vec<String> {
    vec!["*".into()]
}

/// `[qstash]` section. Users, tokens and signing keys are the fixed ones of `qstash dev`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct QStashConfig {
    /// HTTP port; 0 = ephemeral. In a file it defaults to 8080; `Config::default()` uses 0.
    #[serde(default = "default_qstash_port")]
    pub port: u16,
    /// Persist messages, schedules, queues, URL groups, DLQ and logs in
    /// `data_dir/qstash.json`; default: nothing persisted.
    pub data_dir: Option<PathBuf>,
    /// Multiplies the default retry backoff (`min(1 day, e^(2.5 n) s)`); e.g. `0.01` in tests.
    /// Explicit `Upstash-Retry-Delay` expressions and `Retry-After` answers are not scaled.
    pub retry_backoff_scale: f64,
    /// Per-attempt HTTP timeout when a message sets no `Upstash-Timeout`, in seconds.
    pub delivery_timeout_secs: u64,
    /// Largest accepted request body in bytes.
    pub max_request_bytes: usize,
}

fn default_qstash_port() -> u16 {
    DEFAULT_QSTASH_PORT
}

impl Default for QStashConfig {
    fn default() -> Self {
        QStashConfig {
            port: 0,
            data_dir: None,
            retry_backoff_scale: 1.0,
            delivery_timeout_secs: 300,
            max_request_bytes: 10 * 1024 * 1024,
        }
    }
}

impl Config {
    /// Parses a TOML document.
    pub fn from_toml_str(s: &str) -> Result<Config, Error> {
        let c: Config = toml::from_str(s).map_err(|e| Error::Config(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let s = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        Config::from_toml_str(&s)
    }

    /// Checks tokens and users for consistency.
    pub fn validate(&self) -> Result<(), Error> {
        self.vector.validate()?;
        self.kafka.validate()?;
        let r = &self.redis;
        let mut tokens: Vec<&str> = vec![r.token.expose(), r.readonly_token.expose()];
        let mut names: Vec<&str> = Vec::new();
        for u in &r.users {
            if u.name.is_empty()
                || u.name
                    .contains(|c: char| c.is_whitespace() || c.is_control())
            {
                return Err(Error::Config(format!(
                    "redis user name {:?} must be non-empty without whitespace",
                    u.name
                )));
            }
            if u.name == "default" || u.name == "default_ro" || names.contains(&u.name.as_str()) {
                return Err(Error::Config(format!(
                    "redis user name {:?} is reserved or duplicated",
                    u.name
                )));
            }
            names.push(&u.name);
            tokens.push(u.token.expose());
        }
        for (i, t) in tokens.iter().enumerate() {
            if t.is_empty() || t.contains(|c: char| c.is_whitespace() || c.is_control()) {
                return Err(Error::Config(
                    "every redis token must be non-empty, without whitespace".into(),
                ));
            }
            if tokens[..i].contains(t) {
                return Err(Error::Config("redis tokens must be distinct".into()));
            }
        }
        if r.max_pipeline_commands == 0 || r.max_request_bytes == 0 {
            return Err(Error::Config(
                "max_request_bytes and max_pipeline_commands must be positive".into(),
            ));
        }
        let q = &self.qstash;
        if !q.retry_backoff_scale.is_finite() || q.retry_backoff_scale < 0.0 {
            return Err(Error::Config(
                "qstash retry_backoff_scale must be a non-negative number".into(),
            ));
        }
        if q.max_request_bytes == 0 || q.delivery_timeout_secs == 0 {
            return Err(Error::Config(
                "qstash max_request_bytes and delivery_timeout_secs must be positive".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_example() {
        let c = Config::from_toml_str(
            r#"
[server]
host = "127.0.0.1"
[redis]
token = "t1"
[[redis.users]]
name = "cache-reader"
token = "cache-reader-token"
commands = ["+@read", "-@dangerous"]
keys = ["cache:*"]
[qstash]
port = 8080
"#,
        )
        .unwrap();
        assert_eq!(c.redis.port, DEFAULT_REDIS_PORT);
        assert_eq!(c.redis.token.expose(), "t1");
        assert_eq!(c.redis.readonly_token.expose(), DEV_REDIS_READONLY_TOKEN);
        assert_eq!(c.redis.users[0].channels, vec!["*".to_string()]);
        assert!(!format!("{c:?}").contains("cache-reader-token"));
        assert!(Config::from_toml_str("[redis]\ntoken = \"x\"\nreadonly_token = \"x\"").is_err());
        assert_eq!(Config::default().redis.port, 0);
        assert_eq!(c.qstash.port, 8080);
        assert_eq!(Config::default().qstash.port, 0);
        let q =
            Config::from_toml_str("[qstash]\nretry_backoff_scale = 0.01\ndata_dir = \"/tmp/x\"")
                .unwrap();
        assert_eq!(q.qstash.retry_backoff_scale, 0.01);
        assert_eq!(q.qstash.port, DEFAULT_QSTASH_PORT);
        assert!(Config::from_toml_str("[qstash]\nretry_backoff_scale = -1.0").is_err());
    }
}
