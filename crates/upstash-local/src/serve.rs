//! Listening and stopping, the same for every service: bind a loopback port (0 = ephemeral),
//! serve an axum router until told to stop, and stop within a bound even if a connection hangs.
//! The Redis REST service, the hot path of rate limiting, serves from threads of its own (one
//! runtime per thread, connections handed out in turn); the others from tasks of the main
//! runtime.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::Error;

/// How long a stopping server or background task may take before it is aborted.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long a new connection of a server with threads of its own may stay silent before it
/// is placed on a thread without knowing which threads are busy.
const FIRST_REQUEST_WAIT: Duration = Duration::from_secs(1);

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

/// An axum server with graceful shutdown: on a task of the calling runtime
/// ([`HttpServer::spawn`]), or on threads of its own ([`HttpServer::spawn_per_thread`]).
#[derive(Debug, Default)]
pub(crate) struct HttpServer {
    shutdown: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
    /// One per server thread; answered (or dropped) when that thread has finished.
    threads: Vec<oneshot::Receiver<()>>,
}

impl HttpServer {
    /// Serves `router` on `listener` from a task of the current runtime (TCP_NODELAY on every
    /// connection, the peer address available to handlers as `ConnectInfo<SocketAddr>`);
    /// `name` labels its log lines.
    pub(crate) fn spawn(listener: TcpListener, router: axum::Router, name: &'static str) -> Self {
        let (tx, rx) = watch::channel(false);
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(serve_until_stopped(listener, router, rx, name));
        HttpServer {
            shutdown: Some(tx),
            task: Some(task),
            threads: Vec::new(),
        }
    }

    /// Serves `router` on `host:port` from `threads` threads, each running a current-thread
    /// runtime. One acceptor task hands the connections to the threads in turn, so a
    /// connection lives on one thread from accept to close and its requests (and their
    /// backend calls) never wake another worker thread; for the Redis REST service that cut
    /// upstash-local's CPU per rate-limit decision by ~20% and raised rate-limit throughput at
    /// concurrency 64 by ~10-15% against tokio's multi-thread scheduler on the same two cores.
    /// With one thread it serves from a task of the current runtime. Returns the server and
    /// the address clients should use (as [`bind`]).
    pub(crate) async fn spawn_per_thread(
        host: &str,
        port: u16,
        router: axum::Router,
        name: &'static str,
        threads: usize,
    ) -> Result<(Self, SocketAddr), Error> {
        let (listener, addr) = bind(host, port).await?;
        if threads <= 1 {
            return Ok((Self::spawn(listener, router, name), addr));
        }
        let (tx, rx) = watch::channel(false);
        let mut server = HttpServer {
            shutdown: Some(tx),
            task: None,
            threads: Vec::with_capacity(threads),
        };
        let mut lanes = Vec::with_capacity(threads);
        for i in 0..threads {
            let (conn_tx, conn_rx) = mpsc::channel(64);
            let (done_tx, done_rx) = oneshot::channel();
            let live = Arc::new(AtomicUsize::new(0));
            let handed = Handed {
                connections: conn_rx,
                local: addr,
                live: Arc::clone(&live),
            };
            let busy = Arc::new(AtomicUsize::new(0));
            let router = counting_requests(router.clone(), Arc::clone(&busy));
            let stop = rx.clone();
            let started = std::thread::Builder::new()
                .name(format!("{name}-http-{i}"))
                .spawn(move || serve_on_own_thread(handed, router, stop, name, done_tx));
            if let Err(e) = started {
                server.stop().await;
                return Err(Error::Io(e));
            }
            server.threads.push(done_rx);
            lanes.push(Lane {
                connections: conn_tx,
                busy,
                live,
            });
        }
        server.task = Some(tokio::spawn(hand_out(listener, lanes, rx, name)));
        Ok((server, addr))
    }

    /// Moves the server out (leaving an empty one), so a stopper can own it.
    pub(crate) fn take(&mut self) -> HttpServer {
        std::mem::take(self)
    }

    /// Asks the server to stop accepting new connections, without waiting.
    pub(crate) fn signal(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
    }

    /// Asks the server to stop accepting and waits for open requests, at most [`STOP_GRACE`]
    /// (a little more for server threads, which enforce the grace period themselves).
    pub(crate) async fn stop(&mut self) {
        self.signal();
        if let Some(task) = self.task.take() {
            stop_task(task).await;
        }
        for done in self.threads.drain(..) {
            let _ = tokio::time::timeout(STOP_GRACE + Duration::from_secs(1), done).await;
        }
    }
}

/// Serves until `stop` turns true (or its sender is gone); open connections then get
/// [`STOP_GRACE`] to finish before they are dropped.
async fn serve_until_stopped<L, F>(
    listener: axum::serve::TapIo<L, F>,
    router: axum::Router,
    stop: watch::Receiver<bool>,
    name: &'static str,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
    F: FnMut(&mut L::Io) + Send + 'static,
{
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(stopped(stop.clone()));
    let grace = async {
        stopped(stop).await;
        tokio::time::sleep(STOP_GRACE).await;
    };
    tokio::select! {
        res = server => {
            if let Err(e) = res {
                tracing::error!(error = %e, service = name, "HTTP server failed");
            }
        }
        () = grace => {}
    }
}

/// Connections accepted elsewhere and handed to this thread's server.
struct Handed {
    connections: mpsc::Receiver<(std::net::TcpStream, SocketAddr)>,
    local: SocketAddr,
    /// This thread's open connections.
    live: Arc<AtomicUsize>,
}

impl axum::serve::Listener for Handed {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.connections.recv().await {
                // Registered with this thread's runtime, which then watches the socket.
                Some((tcp, peer)) => match tokio::net::TcpStream::from_std(tcp) {
                    Ok(tcp) => {
                        let live = Arc::clone(&self.live);
                        return (Counted { tcp, live }, peer);
                    }
                    Err(e) => {
                        self.live.fetch_sub(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "cannot adopt a handed connection");
                    }
                },
                // The acceptor stopped: no more connections; the shutdown signal ends the server.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// A handed connection, counted among its thread's open connections until dropped.
struct Counted {
    tcp: tokio::net::TcpStream,
    live: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// One server thread, as the acceptor sees it.
struct Lane {
    connections: mpsc::Sender<(std::net::TcpStream, SocketAddr)>,
    /// Requests the thread is handling now.
    busy: Arc<AtomicUsize>,
    /// Connections open on the thread (counted from the moment they are handed over).
    live: Arc<AtomicUsize>,
}

/// `router` counting the requests it is handling in `busy`.
fn counting_requests(router: axum::Router, busy: Arc<AtomicUsize>) -> axum::Router {
    /// Counts one request for as long as it lives (also when it is dropped midway).
    struct InFlight(Arc<AtomicUsize>);
    impl Drop for InFlight {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            busy.fetch_add(1, Ordering::Relaxed);
            let guard = InFlight(Arc::clone(&busy));
            async move {
                let res = next.run(req).await;
                drop(guard);
                res
            }
        },
    ))
}

/// The acceptor: hands each new connection, once its first request has arrived, to the
/// thread with the fewest requests in hand, then the fewest open connections (ties in turn),
/// until told to stop. Clients keep their connections, so spreading them when they start
/// carrying requests spreads the load for good: a client's two busy connections end up on
/// different threads.
async fn hand_out(
    listener: TcpListener,
    lanes: Vec<Lane>,
    mut stop: watch::Receiver<bool>,
    name: &'static str,
) {
    let lanes = Arc::new(lanes);
    let turn = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                let (lanes, turn) = (Arc::clone(&lanes), Arc::clone(&turn));
                tokio::spawn(async move {
                    // A connection that stays silent is placed after a while all the same.
                    let _ = tokio::time::timeout(FIRST_REQUEST_WAIT, tcp.readable()).await;
                    let Ok(tcp) = tcp.into_std() else { return };
                    let start = turn.fetch_add(1, Ordering::Relaxed);
                    let lane = (0..lanes.len())
                        .map(|i| (start + i) % lanes.len())
                        .min_by_key(|&i| {
                            let lane = &lanes[i];
                            (
                                lane.busy.load(Ordering::Relaxed),
                                lane.live.load(Ordering::Relaxed),
                            )
                        })
                        .and_then(|i| lanes.get(i));
                    if let Some(lane) = lane {
                        lane.live.fetch_add(1, Ordering::Relaxed);
                        if lane.connections.send((tcp, peer)).await.is_err() {
                            tracing::debug!(service = name, "HTTP thread gone; connection dropped");
                        }
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a little, as axum's own loop does.
                tracing::warn!(error = %e, service = name, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The body of one server thread: its runtime, serving the connections it is handed until
/// told to stop.
fn serve_on_own_thread(
    handed: Handed,
    router: axum::Router,
    stop: watch::Receiver<bool>,
    name: &'static str,
    done: oneshot::Sender<()>,
) {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            // TCP_NODELAY was set by the acceptor.
            let handed = axum::serve::ListenerExt::tap_io(handed, |_: &mut Counted| {});
            runtime.block_on(serve_until_stopped(handed, router, stop, name));
            // Dropping the runtime closes whatever connection outlived the grace period.
            drop(runtime);
        }
        Err(e) => tracing::error!(error = %e, service = name, "cannot start an HTTP thread"),
    }
    let _ = done.send(());
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends `GET /` on `tcp` and returns the body: the name of the thread that served it.
    async fn who(tcp: &mut tokio::net::TcpStream) -> String {
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let n = tcp.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed early");
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if body.len() >= len {
                    return body.to_owned();
                }
            }
        }
    }

    #[tokio::test]
    async fn threads_share_out_connections_and_stop_within_bounds() {
        let router = axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                std::thread::current().name().unwrap_or_default().to_owned()
            }),
        );
        let (mut server, addr) = HttpServer::spawn_per_thread("127.0.0.1", 0, router, "t", 2)
            .await
            .expect("server");
        let mut first = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let a = who(&mut first).await;
        let mut second = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let b = who(&mut second).await;
        assert!(
            a.starts_with("t-http-") && b.starts_with("t-http-"),
            "{a} {b}"
        );
        assert_ne!(a, b, "the second connection goes to the idle thread");
        // A connection stays on its thread; once one closes, the next goes where it was.
        assert_eq!(who(&mut first).await, a);
        drop(first);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut third = tokio::net::TcpStream::connect(addr).await.expect("connect");
        assert_eq!(who(&mut third).await, a);

        let started = std::time::Instant::now();
        server.stop().await;
        assert!(started.elapsed() < STOP_GRACE + Duration::from_secs(2));
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "still listening"
        );
    }
}
