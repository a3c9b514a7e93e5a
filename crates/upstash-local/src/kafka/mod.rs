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
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::secret::Secret;
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
    pub username: String,
    pub password: Secret,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
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
        });
        let listener = tokio::net::TcpListener::bind((config.server.host.as_str(), kc.port))
            .await
            .map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("cannot listen on {}:{}: {e}", config.server.host, kc.port),
                ))
            })?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let (tx, rx) = oneshot::channel::<()>();
        let app = http::router(state.clone());
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            let res = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = res {
                tracing::error!(error = %e, "kafka REST server failed");
            }
        });
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
            username: kc.username.clone(),
            password: kc.password.clone(),
            shutdown: Some(tx),
            server: Some(server),
            ticker: Some(ticker),
        })
    }

    /// Takes what is needed to stop the service.
    pub(crate) fn stopper(&mut self) -> Stopper {
        Stopper {
            shutdown: self.shutdown.take(),
            server: self.server.take(),
            ticker: self.ticker.take(),
        }
    }
}

/// Stops a [`KafkaService`]. Data is already on disk (written before each answer).
#[derive(Debug)]
pub(crate) struct Stopper {
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    ticker: Option<JoinHandle<()>>,
}

impl Stopper {
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut h) = self.server.take() {
            // Long-polls may hold connections open; do not wait for them for long.
            if tokio::time::timeout(Duration::from_secs(2), &mut h)
                .await
                .is_err()
            {
                h.abort();
            }
        }
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
    }
}
