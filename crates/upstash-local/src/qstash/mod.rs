//! The QStash service: the v2 REST API with real HTTP delivery, signed like QStash does, with
//! the fixed users, tokens and signing keys of the official `qstash dev` server.

pub(crate) mod config;
pub(crate) mod cron;
pub(crate) mod engine;
pub(crate) mod expr;
pub(crate) mod http;
pub(crate) mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::serve::{stop_task, HttpServer};
use crate::Error;
use engine::{Core, Settings};
use state::{State, UserState};

/// A fixed development user of `qstash dev`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DevUser {
    pub token: &'static str,
    pub current_key: &'static str,
    pub next_key: &'static str,
}

/// The four users of `qstash dev`; the first is the one the SDKs' dev mode uses.
pub(crate) const USERS: [DevUser; 4] = [
    DevUser {
        token: "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
        current_key: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
        next_key: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
    },
    DevUser {
        token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        current_key: "sig_7GVPjvuwsfqF65iC8fSrs1dfYruM",
        next_key: "sig_5NoELc3EFnZn4DVS5bDs2Nk4b7Ua",
    },
    DevUser {
        token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjIiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        current_key: "sig_6jWGaWRxHsw4vMSPJprXadyvrybF",
        next_key: "sig_7qHbvhmahe5GwfePDiS5Lg3pi6Qx",
    },
    DevUser {
        token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjMiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        current_key: "sig_5T8FcSsynBjn9mMLBsXhpacRovJf",
        next_key: "sig_7GFR4YaDshFcqsxWRZpRB161jguD",
    },
];

/// A running QStash service.
#[derive(Debug)]
pub(crate) struct QStashService {
    pub addr: SocketAddr,
    pub core: Arc<Core>,
    http: HttpServer,
    engine_stop: Option<oneshot::Sender<()>>,
    engine: Option<JoinHandle<()>>,
}

fn load_state(config: &Config) -> Result<State, Error> {
    let mut st = State::default();
    if let Some(dir) = &config.qstash.data_dir {
        let path = dir.join("qstash.json");
        match std::fs::read(&path) {
            Ok(data) => {
                st = serde_json::from_slice(&data).map_err(|e| {
                    Error::Config(format!(
                        "cannot read the qstash state file {}: {e}",
                        path.display()
                    ))
                })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    for (i, u) in USERS.iter().enumerate() {
        if st.users.len() <= i {
            st.users.push(UserState::new(u.current_key, u.next_key));
        }
    }
    Ok(st)
}

impl QStashService {
    pub(crate) async fn start(config: &Config) -> Result<QStashService, Error> {
        let qc = &config.qstash;
        let state = load_state(config)?;
        let core = Arc::new(Core::new(
            state,
            Settings {
                backoff_scale: qc.retry_backoff_scale,
                default_timeout_ms: qc.delivery_timeout_secs.saturating_mul(1000).max(1),
                max_body: qc.max_request_bytes,
                data_dir: qc.data_dir.clone(),
            },
        )?);
        let (listener, addr) = crate::serve::bind(&config.server.host, qc.port).await?;
        let http = HttpServer::spawn(listener, http::router(core.clone()), "qstash");
        let (etx, erx) = oneshot::channel::<()>();
        let engine = tokio::spawn(engine::run(core.clone(), erx));
        tracing::info!(url = %format!("http://{addr}"), "qstash service listening");
        Ok(QStashService {
            addr,
            core,
            http,
            engine_stop: Some(etx),
            engine: Some(engine),
        })
    }

    /// Takes what is needed to stop the service.
    pub(crate) fn stopper(&mut self) -> Stopper {
        Stopper {
            http: self.http.take(),
            engine_stop: self.engine_stop.take(),
            engine: self.engine.take(),
        }
    }
}

/// Stops a [`QStashService`]: the HTTP server, then the engine (which saves the state).
#[derive(Debug)]
pub(crate) struct Stopper {
    http: HttpServer,
    engine_stop: Option<oneshot::Sender<()>>,
    engine: Option<JoinHandle<()>>,
}

impl Stopper {
    pub(crate) async fn stop(mut self) {
        self.http.stop().await;
        if let Some(tx) = self.engine_stop.take() {
            let _ = tx.send(());
        }
        if let Some(engine) = self.engine.take() {
            stop_task(engine).await;
        }
    }
}
