//! Helpers for tests in this and other crates.
//!
//! Stacks started here run on their own background thread with their own tokio runtime, so
//! they outlive each `#[tokio::test]` runtime. Panics are allowed here (test-only helpers).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::OnceLock;

use crate::{Config, LocalStack};

/// Keeps a background runtime alive; dropping it stops that runtime (and the services on it).
#[derive(Debug)]
pub(crate) struct RuntimeGuard {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl RuntimeGuard {
    pub(crate) fn handle(&self) -> Option<tokio::runtime::Handle> {
        Some(self.handle.clone())
    }
}

/// Runs `start` on a new background thread with its own Tokio runtime, which lives until the
/// returned guard is dropped (so what `start` spawns outlives each `#[tokio::test]` runtime).
fn on_background_runtime<T, F, Fut>(name: &str, start: F) -> (T, RuntimeGuard)
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("upstash-local-rt")
                .enable_all()
                .build()
                .expect("upstash-local: cannot build a tokio runtime");
            let handle = rt.handle().clone();
            rt.block_on(async move {
                let value = start().await;
                let _ = tx.send((value, handle));
                let _ = stop_rx.await;
            });
        })
        .expect("upstash-local: cannot spawn the background thread");
    let (value, handle) = rx
        .recv()
        .expect("upstash-local: background thread died while starting");
    (
        value,
        RuntimeGuard {
            handle,
            _stop: stop_tx,
        },
    )
}

fn start_on_thread(config: Config) -> LocalStack {
    let (res, guard) = on_background_runtime("upstash-local", || LocalStack::start(config));
    let mut stack = res.unwrap_or_else(|e| panic!("upstash-local failed to start: {e}"));
    stack.runtime = Some(guard);
    stack
}

/// One stack per test binary, with [`Config::default()`] (dev tokens, ephemeral port, its own
/// redis-server), started lazily on first use. Its redis-server is killed when the test process
/// exits. Tests sharing it must use distinct key prefixes (see [`prefix`]).
pub fn shared() -> &'static LocalStack {
    static STACK: OnceLock<LocalStack> = OnceLock::new();
    STACK.get_or_init(|| start_on_thread(Config::default()))
}

/// A fresh stack with its own redis-server, on its own background thread and runtime, for
/// tests that count requests or need a special configuration. Dropping the returned stack
/// (or calling [`LocalStack::shutdown`]) stops it and its redis-server.
///
/// Panics if the stack cannot start.
pub fn dedicated(config: Config) -> LocalStack {
    start_on_thread(config)
}

/// A unique key prefix per test: `t:<name>:<random>:`.
pub fn prefix(name: &str) -> String {
    format!("t:{name}:{:016x}:", fastrand::u64(..))
}

/// A Redis Cluster of three private redis-servers (three masters, every slot covered), for
/// tests of cluster support. Started once per test process, on first use; its servers are
/// killed when the process exits (their small `nodes-*.conf` files stay in a temp folder).
pub fn redis_cluster() -> &'static RedisCluster {
    static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let (res, guard) = on_background_runtime("redis-cluster", start_cluster);
        let (nodes, ports) = res.unwrap_or_else(|e| panic!("redis cluster failed to start: {e}"));
        RedisCluster {
            ports,
            _nodes: nodes,
            _runtime: guard,
        }
    })
}

/// See [`redis_cluster`].
#[derive(Debug)]
pub struct RedisCluster {
    ports: Vec<u16>,
    _nodes: Vec<crate::redis::spawn::RedisProcess>,
    _runtime: RuntimeGuard,
}

impl RedisCluster {
    /// `redis://127.0.0.1:<port>` of every node (any one is enough for a cluster client).
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }
}

type ClusterStart = Result<(Vec<crate::redis::spawn::RedisProcess>, Vec<u16>), crate::Error>;

/// One command to a test cluster node; an error reply becomes an error.
async fn cluster_call(
    conn: &mut crate::redis::conn::Conn,
    args: Vec<String>,
) -> Result<crate::redis::resp::Value, crate::Error> {
    use crate::redis::resp::Value;
    let args: Vec<Vec<u8>> = args.into_iter().map(String::into_bytes).collect();
    match conn.call(&args).await {
        Ok(frame) => match frame.value {
            Value::Error(e) => Err(crate::Error::Backend(
                String::from_utf8_lossy(&e).into_owned(),
            )),
            v => Ok(v),
        },
        Err(e) => Err(crate::Error::Backend(e.0)),
    }
}

/// Three cluster-enabled servers, each given a third of the slots, introduced to each other,
/// then awaited until every node reports `cluster_state:ok`.
async fn start_cluster() -> ClusterStart {
    use crate::redis::conn::{Conn, Credentials, RedisAddr};
    use crate::redis::resp::Value;
    use crate::redis::spawn::{free_port, RedisProcess};

    // `--cluster-port` and `CLUSTER ADDSLOTSRANGE` came with Redis 7.0.
    let version = std::process::Command::new("redis-server")
        .arg("--version")
        .output()?;
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let major = version
        .split("v=")
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_none_or(|m| m < 7) {
        return Err(crate::Error::Backend(format!(
            "the test cluster needs redis-server 7.0 or later; found: {}",
            version.trim()
        )));
    }
    let dir = std::env::temp_dir().join(format!("upstash-cluster-{:016x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir)?;
    let mut nodes = Vec::new();
    for i in 0..3 {
        let conf = dir.join(format!("nodes-{i}.conf")).display().to_string();
        let extra = || {
            Ok(vec![
                "--cluster-enabled".to_owned(),
                "yes".to_owned(),
                "--cluster-port".to_owned(),
                free_port()?.to_string(),
                "--cluster-config-file".to_owned(),
                conf.clone(),
            ])
        };
        nodes.push(RedisProcess::start_with(&crate::config::RedisConfig::default(), &extra).await?);
    }
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let creds = Credentials {
        user: None,
        pass: None,
    };
    let mut conns = Vec::new();
    for port in &ports {
        let addr = RedisAddr {
            host_port: format!("127.0.0.1:{port}"),
            db: 0,
        };
        conns.push(
            Conn::connect(&addr, &creds)
                .await
                .map_err(|e| crate::Error::Backend(e.0))?,
        );
    }
    let mut bus_ports = Vec::new();
    for conn in &mut conns {
        let reply = cluster_call(
            conn,
            vec!["CONFIG".into(), "GET".into(), "cluster-port".into()],
        );
        let port = match reply.await? {
            Value::Array(items) => items.into_iter().nth(1).and_then(|v| match v {
                Value::Bulk(b) => String::from_utf8_lossy(&b).parse::<u16>().ok(),
                _ => None,
            }),
            _ => None,
        };
        bus_ports.push(port.ok_or_else(|| {
            crate::Error::Backend("a test cluster node did not report its cluster-port".into())
        })?);
    }
    let ranges = [(0, 5460), (5461, 10922), (10923, 16383)];
    for (conn, (from, to)) in conns.iter_mut().zip(ranges) {
        let args = vec![
            "CLUSTER".into(),
            "ADDSLOTSRANGE".into(),
            from.to_string(),
            to.to_string(),
        ];
        cluster_call(conn, args).await?;
    }
    for (port, bus) in ports.iter().zip(&bus_ports).skip(1) {
        let args = vec![
            "CLUSTER".into(),
            "MEET".into(),
            "127.0.0.1".into(),
            port.to_string(),
            bus.to_string(),
        ];
        cluster_call(&mut conns[0], args).await?;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut ready = true;
        for conn in &mut conns {
            let info = cluster_call(conn, vec!["CLUSTER".into(), "INFO".into()]).await?;
            let text = match info {
                Value::Bulk(b) | Value::Simple(b) => String::from_utf8_lossy(&b).into_owned(),
                _ => String::new(),
            };
            ready &= text.contains("cluster_state:ok") && text.contains("cluster_known_nodes:3");
        }
        if ready {
            return Ok((nodes, ports));
        }
        if std::time::Instant::now() > deadline {
            return Err(crate::Error::Backend(
                "the test cluster did not reach cluster_state:ok within 20 s".into(),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
