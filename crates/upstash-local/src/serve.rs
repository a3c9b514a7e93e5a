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

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Larger than the service accepts.
    TooLarge,
    /// The connection broke while the body was being sent.
    Broken,
}

/// Most bytes of an oversized body read and thrown away so that the client, still sending,
/// receives the error response instead of a broken pipe; beyond it the connection is dropped.
const DRAIN_CAP: usize = 64 << 20;

/// Reads a request body of at most `max` bytes. An oversized body is drained (up to
/// [`DRAIN_CAP`]) before [`BodyError::TooLarge`] is returned, so the error response reaches a
/// client that is still writing, and its pooled connection stays usable.
pub(crate) async fn read_body(
    body: axum::body::Body,
    max: usize,
) -> Result<bytes::Bytes, BodyError> {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut first: Option<bytes::Bytes> = None;
    let mut buf: Option<bytes::BytesMut> = None;
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        total = total.saturating_add(chunk.len());
        if total > max {
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(c) => total = total.saturating_add(c.len()),
                    Err(_) => break,
                }
                if total > DRAIN_CAP {
                    break;
                }
            }
            return Err(BodyError::TooLarge);
        }
        if let Some(b) = buf.as_mut() {
            b.extend_from_slice(&chunk);
        } else if let Some(f) = first.take() {
            let mut b = bytes::BytesMut::with_capacity(f.len() + chunk.len());
            b.extend_from_slice(&f);
            b.extend_from_slice(&chunk);
            buf = Some(b);
        } else {
            first = Some(chunk);
        }
    }
    Ok(match (buf, first) {
        (Some(b), _) => b.freeze(),
        (None, Some(f)) => f,
        (None, None) => bytes::Bytes::new(),
    })
}
