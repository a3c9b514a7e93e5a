//! Listening and stopping, the same for every service: bind a loopback port (0 = ephemeral),
//! serve an axum router until told to stop, and stop within a bound even if a connection hangs.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Error;

/// How long a stopping server or background task may take before it is aborted.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Binds `host:port` for one service. The returned address is the one clients should use: the
/// real port when `port` is 0, and `127.0.0.1` when listening on every interface.
pub(crate) async fn bind(host: &str, port: u16) -> Result<(TcpListener, SocketAddr), Error> {
    let listener = TcpListener::bind((host, port)).await.map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot listen on {host}:{port}: {e}"),
        ))
    })?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok((listener, addr))
}

/// An axum server running on its own task, with graceful shutdown.
#[derive(Debug, Default)]
pub(crate) struct HttpServer {
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `router` on `listener` (TCP_NODELAY on every connection, the peer address
    /// available to handlers as `ConnectInfo<SocketAddr>`); `name` labels its log lines.
    pub(crate) fn spawn(listener: TcpListener, router: axum::Router, name: &'static str) -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            let res = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = res {
                tracing::error!(error = %e, service = name, "HTTP server failed");
            }
        });
        HttpServer {
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Moves the server out (leaving an empty one), so a stopper can own it.
    pub(crate) fn take(&mut self) -> HttpServer {
        std::mem::take(self)
    }

    /// Asks the server to stop accepting new connections, without waiting.
    pub(crate) fn signal(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Asks the server to stop accepting and waits for open requests, at most [`STOP_GRACE`].
    pub(crate) async fn stop(&mut self) {
        self.signal();
        if let Some(task) = self.task.take() {
            stop_task(task).await;
        }
    }
}

/// Waits for a task that was told to finish, aborting it after [`STOP_GRACE`].
pub(crate) async fn stop_task(mut task: JoinHandle<()>) {
    if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
        task.abort();
    }
}
