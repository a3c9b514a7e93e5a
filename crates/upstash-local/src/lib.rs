//! `upstash-local`: a local copy of the Upstash services for development and tests.
//!
//! The Redis service is an Upstash-REST-compatible HTTP server in front of a real
//! `redis-server` (spawned on a free loopback port, or an existing one via `redis_url`).
//! Permissions of the read-only token and of configured users are enforced by real Redis
//! ACL users. See the crate README for the configuration format and the endpoints.
//!
//! ```no_run
//! # async fn demo() -> Result<(), upstash_local::Error> {
//! let stack = upstash_local::LocalStack::start(upstash_local::Config::default()).await?;
//! println!("{}", stack.env_block());
//! stack.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod config;
mod kafka;
mod qstash;
mod redis;
mod secret;
mod serve;
mod stats;
pub mod testing;
mod vector;

use std::fmt;

pub use config::{
    Config, QStashConfig, RedisConfig, ServerConfig, UserConfig, DEFAULT_QSTASH_PORT,
    DEFAULT_REDIS_PORT, DEV_REDIS_READONLY_TOKEN, DEV_REDIS_TOKEN,
};
pub use kafka::config::{
    KafkaConfig, KafkaTopicConfig, DEFAULT_KAFKA_PORT, DEV_KAFKA_PASSWORD, DEV_KAFKA_USERNAME,
};
pub use secret::Secret;
pub use stats::{Stats, StatsSnapshot};
pub use vector::config::{IndexKind, Metric, VectorConfig, VectorIndexConfig, DEFAULT_VECTOR_PORT};

/// Errors starting or running the local stack.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The redis-server binary could not be found.
    #[error("{0}")]
    RedisServerMissing(String),
    /// redis-server failed or refused the setup.
    #[error("redis backend: {0}")]
    Backend(String),
    /// I/O error (listening, spawning).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Every configured service, running.
pub struct LocalStack {
    redis: redis::RedisService,
    vector: vector::VectorService,
    qstash: qstash::QStashService,
    kafka: kafka::KafkaService,
    runtime: Option<testing::RuntimeGuard>,
}

impl fmt::Debug for LocalStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStack")
            .field("redis_rest_url", &self.redis_rest_url())
            .field("qstash_url", &self.qstash_url())
            .field("vector_indexes", &self.vector_indexes())
            .field("kafka_url", &self.kafka_url())
            .finish_non_exhaustive()
    }
}

/// Quotes a value for a POSIX shell when needed.
fn shell_quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

impl LocalStack {
    /// Starts every configured service (Redis REST, QStash, Vector, Kafka). Must run inside a
    /// tokio runtime; the services live on that runtime. If one fails to start, the ones
    /// already running are stopped before the error is returned.
    pub async fn start(config: Config) -> Result<LocalStack, Error> {
        config.validate()?;
        let mut vector = vector::VectorService::start(&config).await?;
        let mut kafka = match kafka::KafkaService::start(&config).await {
            Ok(k) => k,
            Err(e) => {
                vector.stopper().stop().await;
                return Err(e);
            }
        };
        let mut qstash = match qstash::QStashService::start(&config).await {
            Ok(q) => q,
            Err(e) => {
                kafka.stopper().stop().await;
                vector.stopper().stop().await;
                return Err(e);
            }
        };
        let redis = match redis::RedisService::start(&config).await {
            Ok(r) => r,
            Err(e) => {
                qstash.stopper().stop().await;
                kafka.stopper().stop().await;
                vector.stopper().stop().await;
                return Err(e);
            }
        };
        Ok(LocalStack {
            redis,
            vector,
            qstash,
            kafka,
            runtime: None,
        })
    }

    /// Base URL of the QStash service, e.g. `http://127.0.0.1:8080` (`QSTASH_URL`).
    pub fn qstash_url(&self) -> String {
        format!("http://{}", self.qstash.addr)
    }

    /// The QStash token of the default development user (`QSTASH_TOKEN`), the same as
    /// `qstash dev` prints.
    pub fn qstash_token(&self) -> String {
        qstash::USERS[0].token.to_string()
    }

    /// The current signing key of the default user (`QSTASH_CURRENT_SIGNING_KEY`); it changes
    /// after `POST /v2/keys/rotate`.
    pub fn qstash_current_signing_key(&self) -> String {
        let st = self.qstash.core.lock();
        st.users.first().map_or_else(
            || qstash::USERS[0].current_key.to_string(),
            |u| u.current_key.clone(),
        )
    }

    /// The next signing key of the default user (`QSTASH_NEXT_SIGNING_KEY`).
    pub fn qstash_next_signing_key(&self) -> String {
        let st = self.qstash.core.lock();
        st.users.first().map_or_else(
            || qstash::USERS[0].next_key.to_string(),
            |u| u.next_key.clone(),
        )
    }

    /// Base URL of one Vector index, `http://127.0.0.1:PORT/<index>` (what
    /// `UPSTASH_VECTOR_REST_URL` should hold); `None` for an unknown index.
    pub fn vector_url(&self, index: &str) -> Option<String> {
        self.vector
            .indexes
            .iter()
            .any(|(n, _)| n == index)
            .then(|| format!("http://{}/{index}", self.vector.addr))
    }

    /// REST token of one Vector index.
    pub fn vector_token(&self, index: &str) -> Option<String> {
        self.vector
            .indexes
            .iter()
            .find(|(n, _)| n == index)
            .map(|(_, t)| t.expose().to_string())
    }

    /// Names of the Vector indexes, in configuration order (the first is the default one).
    pub fn vector_indexes(&self) -> Vec<String> {
        self.vector.indexes.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Base URL of the Kafka REST service, e.g. `http://127.0.0.1:8081`
    /// (`UPSTASH_KAFKA_REST_URL`).
    pub fn kafka_url(&self) -> String {
        format!("http://{}", self.kafka.addr)
    }

    /// Basic-auth user name of the Kafka REST service (`UPSTASH_KAFKA_REST_USERNAME`).
    pub fn kafka_username(&self) -> String {
        self.kafka.username.clone()
    }

    /// Basic-auth password of the Kafka REST service (`UPSTASH_KAFKA_REST_PASSWORD`).
    pub fn kafka_password(&self) -> String {
        self.kafka.password.expose().to_string()
    }

    /// Base URL of the Redis REST service, e.g. `http://127.0.0.1:8079`.
    pub fn redis_rest_url(&self) -> String {
        format!("http://{}", self.redis.rest_addr)
    }

    /// The standard (full access) REST token.
    pub fn redis_token(&self) -> String {
        self.redis.token.expose().to_string()
    }

    /// The read-only REST token (ACL user `default_ro`).
    pub fn redis_readonly_token(&self) -> String {
        self.redis.readonly_token.expose().to_string()
    }

    /// The REST token of a configured `[[redis.users]]` entry.
    pub fn redis_user_token(&self, user: &str) -> Option<String> {
        self.redis
            .users
            .iter()
            .find(|(n, _)| n == user)
            .map(|(_, t)| t.expose().to_string())
    }

    /// `redis://user:pass@127.0.0.1:PORT` of the backing redis-server with full rights.
    pub fn redis_tcp_url(&self) -> String {
        self.redis.tcp_url.expose().to_string()
    }

    /// Request counters of the Redis REST service.
    pub fn redis_stats(&self) -> Stats {
        self.redis.stats.clone()
    }

    /// Shell lines (`export NAME=value`) for the variables SDKs read.
    pub fn env_block(&self) -> String {
        let mut block = format!(
            "export UPSTASH_REDIS_REST_URL={}\nexport UPSTASH_REDIS_REST_TOKEN={}\nexport UPSTASH_REDIS_REST_READONLY_TOKEN={}\nexport QSTASH_URL={}\nexport QSTASH_TOKEN={}\nexport QSTASH_CURRENT_SIGNING_KEY={}\nexport QSTASH_NEXT_SIGNING_KEY={}\n",
            shell_quote(&self.redis_rest_url()),
            shell_quote(self.redis.token.expose()),
            shell_quote(self.redis.readonly_token.expose()),
            shell_quote(&self.qstash_url()),
            shell_quote(&self.qstash_token()),
            shell_quote(&self.qstash_current_signing_key()),
            shell_quote(&self.qstash_next_signing_key()),
        );
        if let Some((name, token)) = self.vector.indexes.first() {
            block.push_str(&format!(
                "export UPSTASH_VECTOR_REST_URL={}\nexport UPSTASH_VECTOR_REST_TOKEN={}\n",
                shell_quote(&format!("http://{}/{name}", self.vector.addr)),
                shell_quote(token.expose()),
            ));
        }
        block.push_str(&format!(
            "export UPSTASH_KAFKA_REST_URL={}\nexport UPSTASH_KAFKA_REST_USERNAME={}\nexport UPSTASH_KAFKA_REST_PASSWORD={}\n",
            shell_quote(&self.kafka_url()),
            shell_quote(&self.kafka.username),
            shell_quote(self.kafka.password.expose()),
        ));
        block
    }

    /// Stops every service and the spawned redis-server.
    pub async fn shutdown(mut self) {
        let vector = self.vector.stopper();
        match self.runtime.as_ref().and_then(|r| r.handle()) {
            Some(handle) => {
                let _ = handle.spawn(vector.stop()).await;
            }
            None => vector.stop().await,
        }
        let stopper = self.redis.stopper();
        let qstash = self.qstash.stopper();
        let kafka = self.kafka.stopper();
        let stop = async move {
            kafka.stop().await;
            qstash.stop().await;
            stopper.stop().await;
        };
        match self.runtime.as_ref().and_then(|r| r.handle()) {
            Some(handle) => {
                let _ = handle.spawn(stop).await;
            }
            None => stop.await,
        }
    }
}
