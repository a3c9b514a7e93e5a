//! The Vector service: Upstash-Vector-compatible REST endpoints over in-memory indexes with
//! exact search, optional snapshots on disk.

pub(crate) mod config;
mod embed;
mod http;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::secret::Secret;
use crate::serve::HttpServer;
use crate::{Config, Error};
use config::VectorIndexConfig;
use store::{Namespace, Record};

/// A resumable query: the full ranking computed at start, handed out in slices.
#[derive(Debug)]
pub(crate) struct Resumable {
    namespace: String,
    ranked: Vec<(f32, String)>,
    offset: usize,
    include: http::Include,
    max_idle: Duration,
    last_used: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct IndexData {
    namespaces: BTreeMap<String, Namespace>,
    resumables: HashMap<String, Resumable>,
}

/// One configured index with its data.
#[derive(Debug)]
pub(crate) struct IndexState {
    cfg: VectorIndexConfig,
    token: Secret,
    data: RwLock<IndexData>,
    dirty: AtomicBool,
}

impl IndexState {
    fn new(cfg: VectorIndexConfig) -> IndexState {
        let mut data = IndexData::default();
        data.namespaces
            .insert(String::new(), Namespace::new(cfg.dimension));
        IndexState {
            token: cfg.effective_token(),
            cfg,
            data: RwLock::new(data),
            dirty: AtomicBool::new(false),
        }
    }

    fn snapshot_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("vector-{}.json", self.cfg.name))
    }
}

/// Shared state of the Vector service.
#[derive(Debug)]
pub(crate) struct VectorState {
    indexes: Vec<Arc<IndexState>>,
    max_body: usize,
    max_resumable: usize,
    data_dir: Option<PathBuf>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    namespaces: BTreeMap<String, Vec<Record>>,
}

impl VectorState {
    fn load(&self) -> Result<(), Error> {
        let Some(dir) = &self.data_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)?;
        for ix in &self.indexes {
            let path = ix.snapshot_path(dir);
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::Io(e)),
            };
            let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| {
                Error::Config(format!("cannot read snapshot {}: {e}", path.display()))
            })?;
            let mut data = ix.data.write().map_err(|_| Error::Backend("lock".into()))?;
            for (name, records) in snap.namespaces {
                let ns = data
                    .namespaces
                    .entry(name)
                    .or_insert_with(|| Namespace::new(ix.cfg.dimension));
                for r in records {
                    let dim_ok = r
                        .vector
                        .as_ref()
                        .is_none_or(|v| v.len() == ix.cfg.dimension);
                    if dim_ok {
                        ns.put(r);
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the snapshot of every changed index (all of them when `force`).
    fn flush(&self, force: bool) {
        let Some(dir) = &self.data_dir else { return };
        for ix in &self.indexes {
            if !ix.dirty.swap(false, Ordering::AcqRel) && !force {
                continue;
            }
            let snap = match ix.data.read() {
                Ok(d) => Snapshot {
                    namespaces: d
                        .namespaces
                        .iter()
                        .map(|(k, ns)| (k.clone(), ns.records()))
                        .collect(),
                },
                Err(_) => continue,
            };
            let path = ix.snapshot_path(dir);
            let tmp = path.with_extension("json.tmp");
            let res = serde_json::to_vec(&snap)
                .map_err(std::io::Error::other)
                .and_then(|bytes| std::fs::write(&tmp, bytes))
                .and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(e) = res {
                tracing::error!(index = %ix.cfg.name, error = %e, "cannot write the vector snapshot");
                ix.dirty.store(true, Ordering::Release);
            }
        }
    }
}

/// A running Vector service.
#[derive(Debug)]
pub(crate) struct VectorService {
    pub addr: SocketAddr,
    /// `(name, token)` of each index, in configuration order.
    pub indexes: Vec<(String, Secret)>,
    state: Arc<VectorState>,
    http: HttpServer,
    flusher: Option<JoinHandle<()>>,
}

impl VectorService {
    pub(crate) async fn start(config: &Config) -> Result<VectorService, Error> {
        let vc = &config.vector;
        vc.validate()?;
        let indexes: Vec<Arc<IndexState>> = vc
            .effective_indexes()
            .into_iter()
            .map(|c| Arc::new(IndexState::new(c)))
            .collect();
        let state = Arc::new(VectorState {
            indexes,
            max_body: vc.max_request_bytes,
            max_resumable: vc.max_resumable_queries,
            data_dir: vc.data_dir.clone(),
        });
        state.load()?;
        let (listener, addr) = crate::serve::bind(&config.server.host, vc.port).await?;
        let http = HttpServer::spawn(listener, http::router(state.clone()), "vector");
        let flusher = state.data_dir.is_some().then(|| {
            let st = state.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let s = st.clone();
                    let _ = tokio::task::spawn_blocking(move || s.flush(false)).await;
                }
            })
        });
        tracing::info!(url = %format!("http://{addr}"), "vector service listening");
        Ok(VectorService {
            addr,
            indexes: state
                .indexes
                .iter()
                .map(|i| (i.cfg.name.clone(), i.token.clone()))
                .collect(),
            state,
            http,
            flusher,
        })
    }

    /// Takes what is needed to stop the service.
    pub(crate) fn stopper(&mut self) -> Stopper {
        Stopper {
            state: self.state.clone(),
            http: self.http.take(),
            flusher: self.flusher.take(),
        }
    }
}

/// Stops a [`VectorService`]: HTTP server, then a final snapshot.
#[derive(Debug)]
pub(crate) struct Stopper {
    state: Arc<VectorState>,
    http: HttpServer,
    flusher: Option<JoinHandle<()>>,
}

impl Stopper {
    pub(crate) async fn stop(mut self) {
        self.http.stop().await;
        if let Some(f) = self.flusher.take() {
            f.abort();
        }
        let st = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || st.flush(true)).await;
    }
}
