//! The Kafka service: the Upstash Kafka REST API (produce, fetch, consumer groups with
//! long-poll consume, commits, metadata) over an in-process partitioned log, optionally kept
//! in append-only files. Topics come from `[[kafka.topics]]` or the local-only
//! `POST /_local/kafka/topics`.

mod broker;
pub(crate) mod config;
mod http;
mod partitioner;
mod storage;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::secret::Secret;
use crate::serve::HttpServer;
use crate::{Config, Error};
use broker::Broker;

/// An error answer: `{"error": msg, "status": code}`.
#[derive(Debug)]
pub(crate) struct KafkaErr {
    pub status: u16,
    pub msg: String,
}

impl KafkaErr {
    pub(crate) fn new(status: u16, msg: impl Into<String>) -> KafkaErr {
        KafkaErr {
            status,
            msg: msg.into(),
        }
    }
}

/// Shared state of the Kafka service.
#[derive(Debug)]
pub(crate) struct KafkaState {
    broker: Mutex<Broker>,
    /// Woken on every produce and rebalance (long-polls re-check).
    changed: Notify,
    username: String,
    password: Secret,
    max_body: usize,
    session_timeout: Duration,
    /// Set when the service stops: long-polls answer at once.
    closing: AtomicBool,
}

impl KafkaState {
    fn broker(&self) -> Result<MutexGuard<'_, Broker>, KafkaErr> {
        self.broker
            .lock()
            .map_err(|_| KafkaErr::new(500, "internal error: broker lock poisoned"))
    }
}

/// A running Kafka service.
#[derive(Debug)]
pub(crate) struct KafkaService {
    pub addr: SocketAddr,
    state: Arc<KafkaState>,
    pub username: String,
    pub password: Secret,
    http: HttpServer,
    ticker: Option<JoinHandle<()>>,
}

impl KafkaService {
    pub(crate) async fn start(config: &Config) -> Result<KafkaService, Error> {
        let kc = &config.kafka;
        kc.validate()?;
        let disk = match &kc.data_dir {
            Some(dir) => Some(storage::Disk::open(dir)?),
            None => None,
        };
        let broker = Broker::open(disk, &kc.topics)?;
        let state = Arc::new(KafkaState {
            broker: Mutex::new(broker),
            changed: Notify::new(),
            username: kc.username.clone(),
            password: kc.password.clone(),
            max_body: kc.max_request_bytes,
            session_timeout: Duration::from_millis(kc.session_timeout_ms),
            closing: AtomicBool::new(false),
        });
        let (listener, addr) = crate::serve::bind(&config.server.host, kc.port).await?;
        let http = HttpServer::spawn(listener, http::router(state.clone()), "kafka");
        let st = state.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let expired = st.broker.lock().map(|mut b| b.expire(Instant::now()));
                if matches!(expired, Ok(true)) {
                    st.changed.notify_waiters();
                }
            }
        });
        tracing::info!(url = %format!("http://{addr}"), "kafka service listening");
        Ok(KafkaService {
            addr,
            state,
            username: kc.username.clone(),
            password: kc.password.clone(),
            http,
            ticker: Some(ticker),
        })
    }

    /// Takes what is needed to stop the service.
    pub(crate) fn stopper(&mut self) -> Stopper {
        Stopper {
            state: self.state.clone(),
            http: self.http.take(),
            ticker: self.ticker.take(),
        }
    }
}

/// Stops a [`KafkaService`]. Data is already on disk (written before each answer).
#[derive(Debug)]
pub(crate) struct Stopper {
    state: Arc<KafkaState>,
    http: HttpServer,
    ticker: Option<JoinHandle<()>>,
}

impl Stopper {
    pub(crate) async fn stop(mut self) {
        // Open long-polls answer now instead of holding the graceful shutdown.
        self.state.closing.store(true, Ordering::Release);
        self.state.changed.notify_waiters();
        self.http.stop().await;
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
    }
}
