//! Fault injection for the Redis client: a server that is down, slow, failing or answering
//! with broken bodies.
//!
//! The servers here are not a model of Upstash: each is a tiny raw-HTTP fault injector on a
//! `tokio::net::TcpListener` that reads one request per connection and then does whatever
//! the test scripted for that attempt (a canned status line and body, a cut body, silence).
//! Everything the client must get right about the *protocol* is tested against upstash-local
//! in `redis_e2e.rs`; these tests only check what the client does when the network or the
//! server misbehaves: typed errors, bounded time, and retries only where they are safe.

use std::future::IntoFuture as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use upstash_redis::core::{Error as CoreError, RetryPolicy};
use upstash_redis::{Error, Redis};

/// Decides the reply to attempt `n` (0-based, over all connections) given the raw request.
type Script = dyn Fn(usize, &[u8]) -> Reply + Send + Sync;

/// What the fault server does with one request.
#[derive(Clone, Debug)]
enum Reply {
    /// Send these exact bytes (status line, headers and body), then close.
    Raw(Vec<u8>),
    /// Read the request and never answer (keep the connection open).
    Hang,
}

/// A complete HTTP/1.1 response with a correct `Content-Length`.
fn http(status: u16, extra_headers: &[(&str, &str)], body: &str) -> Reply {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in extra_headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    Reply::Raw(out.into_bytes())
}

/// A fault server: answers attempt `n` (0-based, counted over all connections) with
/// `script(n)`, and counts attempts.
struct FaultServer {
    url: String,
    attempts: Arc<AtomicUsize>,
    /// Raw bytes of every request received, in arrival order.
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultServer {
    async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_with(move |n, _| script(n)).await
    }

    /// Like [`FaultServer::start`], the script also seeing the raw request.
    async fn start_with(script: impl Fn(usize, &[u8]) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let attempts = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let counter = attempts.clone();
        let log = requests.clone();
        let script = Arc::new(script);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let counter = counter.clone();
                let log = log.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    serve_connection(stream, counter, log, script).await;
                });
            }
        });
        Self {
            url,
            attempts,
            requests,
            task,
        }
    }

    fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }

    /// The value of header `name` (lowercase) in each request received so far.
    fn header_values(&self, name: &str) -> Vec<Option<String>> {
        let requests = self.requests.lock().expect("lock");
        requests
            .iter()
            .map(|raw| {
                let text = String::from_utf8_lossy(raw);
                let head = text.split("\r\n\r\n").next().unwrap_or_default();
                head.lines().skip(1).find_map(|line| {
                    let (n, v) = line.split_once(':')?;
                    n.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_owned())
                })
            })
            .collect()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    counter: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<Vec<u8>>>>,
    script: Arc<Script>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let n = {
        let mut log = log.lock().expect("lock");
        log.push(request.clone());
        counter.fetch_add(1, Ordering::SeqCst)
    };
    match script(n, &request) {
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.flush().await;
            let _ = stream.shutdown().await;
        }
        Reply::Hang => {
            // Keep the socket open far longer than any client timeout in these tests.
            tokio::time::sleep(Duration::from_secs(120)).await;
        }
    }
}

/// Reads one request (headers, then `Content-Length` bytes of body). `None` if the client
/// went away first.
async fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf)
}

/// Short backoff so retry tests stay fast; `max_retries` as given.
fn quick_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(max_retries)
        .with_backoff(Duration::from_millis(5), Duration::from_millis(20))
        .with_deadline(Some(Duration::from_secs(5)))
}

fn client(url: &str, retry: RetryPolicy, auto_pipelining: bool) -> Redis {
    Redis::builder(url, "fault-test-token")
        .retry(retry)
        .timeout(Some(Duration::from_secs(5)))
        .auto_pipelining(auto_pipelining)
        .telemetry(false)
        .build()
        .expect("client")
}

#[tokio::test]
async fn server_down_is_a_typed_transport_error_in_bounded_time() {
    // Bind then drop: the port is closed, connections are refused.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    for auto in [false, true] {
        let redis = client(&format!("http://127.0.0.1:{port}"), quick_retries(3), auto);
        let started = Instant::now();
        let err = redis
            .get::<Option<String>>("fault:down")
            .await
            .expect_err("no server");
        let elapsed = started.elapsed();
        assert!(
            matches!(
                err,
                Error::Core(CoreError::Transport {
                    maybe_sent: false,
                    ..
                })
            ),
            "{err:?}"
        );
        assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
        // A write is just as safe to retry here: it never left.
        let err = redis.incr("fault:down").await.expect_err("no server");
        assert!(
            matches!(err, Error::Core(CoreError::Transport { .. })),
            "{err:?}"
        );
        assert!(!err.to_string().contains("fault:down"), "{err}");
    }
}

#[tokio::test]
async fn malformed_json_is_a_decode_error() {
    for body in [
        r#"{"result": nope}"#,
        "<html>bad gateway</html>",
        r#"{"foo":1}"#,
    ] {
        let server = FaultServer::start(move |_| http(200, &[], body)).await;
        let redis = client(&server.url, quick_retries(3), false);
        let err = redis
            .get::<Option<String>>("fault:k")
            .await
            .expect_err("bad body");
        assert!(matches!(err, Error::Decode(_)), "{body}: {err:?}");
        // A reply that arrived is not retried, even for a read.
        assert_eq!(server.attempts(), 1, "{body}");
    }
}

#[tokio::test]
async fn malformed_pipeline_reply_is_a_decode_error() {
    // One envelope for two commands.
    let server = FaultServer::start(|_| http(200, &[], r#"[{"result":"T0s="}]"#)).await;
    let redis = client(&server.url, quick_retries(0), false);
    let mut p = redis.pipeline();
    p.set("fault:a", "1").get("fault:a");
    let err = p.exec::<((), String)>().await.expect_err("short reply");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
}

#[tokio::test]
async fn truncated_json_is_a_typed_error() {
    // Content-Length correct, JSON cut short.
    let server = FaultServer::start(|_| http(200, &[], r#"{"result":"YmF"#)).await;
    let redis = client(&server.url, quick_retries(0), false);
    let err = redis
        .get::<Option<String>>("fault:k")
        .await
        .expect_err("truncated");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");

    // Content-Length promises more than arrives before the connection closes.
    let cut = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n{\"result\":\"YmF".to_vec();
    let server = FaultServer::start(move |_| Reply::Raw(cut.clone())).await;
    let redis = client(&server.url, quick_retries(0), false);
    let err = redis
        .get::<Option<String>>("fault:k")
        .await
        .expect_err("cut body");
    assert!(
        matches!(
            err,
            Error::Decode(_)
                | Error::Core(CoreError::Transport {
                    maybe_sent: true,
                    ..
                })
        ),
        "{err:?}"
    );
    // A cut body means the outcome is unknown: a write is not repeated.
    let cut = b"HTTP/1.1 200 OK\r\ncontent-length: 64\r\n\r\n{\"res".to_vec();
    let server = FaultServer::start(move |_| Reply::Raw(cut.clone())).await;
    let redis = client(&server.url, quick_retries(3), false);
    let err = redis.incr("fault:k").await.expect_err("cut body");
    assert!(
        matches!(
            err,
            Error::Decode(_) | Error::Core(CoreError::Transport { .. })
        ),
        "{err:?}"
    );
    assert_eq!(server.attempts(), 1);
}

#[tokio::test]
async fn server_error_on_a_read_is_retried() {
    let server = FaultServer::start(|n| {
        if n < 2 {
            http(500, &[], r#"{"error":"internal"}"#)
        } else {
            http(200, &[], r#"{"result":"YmFy"}"#)
        }
    })
    .await;
    for auto in [false, true] {
        let redis = client(&server.url, quick_retries(3), auto);
        let before = server.attempts();
        let value: Option<String> = redis.get("fault:k").await.expect("retried");
        assert_eq!(value.as_deref(), Some("bar"));
        // First client: 2 failures + 1 success; second client: the server now always answers.
        let expected = if before == 0 { 3 } else { 1 };
        assert_eq!(server.attempts() - before, expected, "auto={auto}");
    }
}

#[tokio::test]
async fn server_error_on_a_write_is_not_retried() {
    let server = FaultServer::start(|_| http(500, &[], r#"{"error":"internal"}"#)).await;
    let redis = client(&server.url, quick_retries(3), true);
    let err = redis.incr("fault:counter").await.expect_err("500");
    assert!(
        matches!(err, Error::Core(CoreError::Http { status: 500, .. })),
        "{err:?}"
    );
    assert_eq!(server.attempts(), 1);

    // A non-JSON 5xx body is typed the same way.
    let server = FaultServer::start(|_| {
        Reply::Raw(
            b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbad"
                .to_vec(),
        )
    })
    .await;
    let redis = client(&server.url, quick_retries(3), false);
    let err = redis.incr("fault:counter").await.expect_err("502");
    assert!(
        matches!(err, Error::Core(CoreError::Http { status: 502, .. })),
        "{err:?}"
    );
    assert_eq!(server.attempts(), 1);

    // A transaction of writes is not repeated either.
    let server = FaultServer::start(|_| http(503, &[], r#"{"error":"unavailable"}"#)).await;
    let redis = client(&server.url, quick_retries(3), false);
    let mut tx = redis.multi();
    tx.incr("fault:a").incr("fault:b");
    let err = tx.exec::<(i64, i64)>().await.expect_err("503");
    assert!(
        matches!(err, Error::Core(CoreError::Http { status: 503, .. })),
        "{err:?}"
    );
    assert_eq!(server.attempts(), 1);
}

#[tokio::test]
async fn throttled_write_is_retried_after_retry_after() {
    let server = FaultServer::start(|n| {
        if n == 0 {
            http(
                429,
                &[("retry-after", "0")],
                r#"{"error":"ERR max requests limit exceeded"}"#,
            )
        } else {
            http(200, &[], r#"{"result":7}"#)
        }
    })
    .await;
    let redis = client(&server.url, quick_retries(3), false);
    let n = redis
        .incr("fault:counter")
        .await
        .expect("retried after 429");
    assert_eq!(n, 7);
    assert_eq!(server.attempts(), 2);

    // Persistent 429: the error is typed and carries the hint.
    let server = FaultServer::start(|_| {
        http(
            429,
            &[("retry-after", "0")],
            r#"{"error":"ERR max requests limit exceeded"}"#,
        )
    })
    .await;
    let redis = client(&server.url, quick_retries(2), false);
    let err = redis.incr("fault:counter").await.expect_err("429");
    assert!(
        matches!(err, Error::Core(CoreError::Http { status: 429, .. })),
        "{err:?}"
    );
    assert_eq!(server.attempts(), 3);
}

#[tokio::test]
async fn silent_server_times_out_within_the_configured_timeout() {
    let server = FaultServer::start(|_| Reply::Hang).await;
    for auto in [false, true] {
        let redis = Redis::builder(server.url.as_str(), "fault-test-token")
            .retry(RetryPolicy::disabled())
            .timeout(Some(Duration::from_millis(300)))
            .auto_pipelining(auto)
            .telemetry(false)
            .build()
            .expect("client");
        let started = Instant::now();
        let err = redis
            .get::<Option<String>>("fault:k")
            .await
            .expect_err("no answer");
        let elapsed = started.elapsed();
        assert!(err.is_timeout(), "{err:?}");
        assert!(
            elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
            "took {elapsed:?}"
        );
    }
    // A write that timed out is not repeated (the server may have applied it).
    let before = server.attempts();
    let redis = Redis::builder(server.url.as_str(), "fault-test-token")
        .retry(quick_retries(3))
        .timeout(Some(Duration::from_millis(200)))
        .auto_pipelining(false)
        .build()
        .expect("client");
    let err = redis.incr("fault:k").await.expect_err("no answer");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(server.attempts() - before, 1);
}

#[tokio::test]
async fn failed_batch_fails_every_auto_pipelined_caller_with_a_typed_error() {
    // The whole /pipeline request fails: each caller gets its own copy of the error.
    let server = FaultServer::start(|_| http(500, &[], r#"{"error":"internal"}"#)).await;
    let redis = Redis::builder(server.url.as_str(), "fault-test-token")
        .retry(RetryPolicy::disabled())
        .auto_pipeline_max_in_flight(1)
        .telemetry(false)
        .build()
        .expect("client");
    let calls = (0..20).map(|i| redis.incr(format!("fault:c{i}")).into_future());
    let results = futures_util::future::join_all(calls).await;
    for r in results {
        assert!(
            matches!(r, Err(Error::Core(CoreError::Http { status: 500, .. }))),
            "{r:?}"
        );
    }
}

/// Read-your-writes on the wire: the token of each response goes out with the very next
/// request (not the one after, the bug of @upstash/redis 1.34.5-1.38.x), and a token handed
/// over with `set_sync_token` is the one sent. The server here only stamps each response with
/// a distinct token and records the requests.
#[tokio::test]
async fn sync_token_of_each_response_is_sent_with_the_next_request() {
    let server = FaultServer::start_with(|n, request| {
        let body = if request.starts_with(b"POST /pipeline") {
            r#"[{"result":"OK"}]"#
        } else {
            r#"{"result":"OK"}"#
        };
        http(200, &[("upstash-sync-token", &format!("tok-{n}"))], body)
    })
    .await;
    for auto in [false, true] {
        let before = server.attempts();
        let redis = client(&server.url, quick_retries(0), auto);
        redis.set("fault:ryw", "1").await.expect("set");
        redis.set("fault:ryw", "2").await.expect("set");
        let mut pipe = redis.pipeline();
        pipe.set("fault:ryw", "3");
        pipe.exec::<((),)>().await.expect("pipeline");
        redis.set_sync_token("handed-over");
        redis.set("fault:ryw", "4").await.expect("set");
        assert_eq!(redis.sync_token(), Some(format!("tok-{}", before + 3)));

        let sent = server.header_values("upstash-sync-token");
        let sent = &sent[before..];
        let expected = [
            None,
            Some(format!("tok-{before}")),
            Some(format!("tok-{}", before + 1)),
            Some("handed-over".to_owned()),
        ];
        assert_eq!(sent, expected.as_slice(), "auto={auto}");

        // Opt-out: never sent.
        let before = server.attempts();
        let plain = Redis::builder(server.url.as_str(), "fault-test-token")
            .read_your_writes(false)
            .auto_pipelining(auto)
            .build()
            .expect("client");
        plain.set("fault:ryw", "5").await.expect("set");
        plain.set("fault:ryw", "6").await.expect("set");
        assert_eq!(
            server.header_values("upstash-sync-token")[before..],
            [None, None]
        );
    }
}
