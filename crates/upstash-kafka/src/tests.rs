//! Retry behaviour against a loopback responder that answers every request with one fixed
//! status and body and counts the requests (this tests the client's retry rules, not the
//! Kafka protocol; end-to-end tests run against upstash-local).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::{Error, FetchRequest, Kafka, RetryPolicy};

async fn responder(status: u16, body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    // Headers end, then a Content-Length body (bodies here are small).
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    buf.drain(..end + 4 + len);
                    seen.fetch_add(1, Ordering::SeqCst);
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if sock.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), count)
}

fn client(url: &str) -> Kafka {
    Kafka::builder(url, "user", "pass")
        .retry(
            RetryPolicy::default()
                .with_max_retries(3)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .expect("client")
}

#[tokio::test]
async fn unauthorized_fails_at_once() {
    let (url, count) = responder(401, r#"{"error":"Unauthorized","status":401}"#).await;
    let err = client(&url).admin().topics().await.err();
    assert!(
        matches!(err, Some(Error::Unauthorized { status: 401, .. })),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_request_fails_at_once_with_message() {
    let (url, count) = responder(400, r#"{"error":"Invalid topic name","status":400}"#).await;
    let err = client(&url).producer().produce("x y", "v").await.err();
    assert!(
        matches!(&err, Some(Error::BadRequest { message }) if message == "Invalid topic name"),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn server_errors_retry_fetch_but_not_produce() {
    let (url, count) = responder(500, r#"{"error":"broker down","status":500}"#).await;
    let kafka = client(&url);
    let err = kafka.producer().produce("t", "v").await.err();
    assert!(
        matches!(err, Some(Error::Api { status: 500, .. })),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1, "produce is not repeated");
    let err = kafka
        .consumer()
        .fetch(&FetchRequest::new("t", 0, 0))
        .await
        .err();
    assert!(
        matches!(err, Some(Error::Api { status: 500, .. })),
        "{err:?}"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        1 + 4,
        "fetch: first try + 3 retries"
    );
}

#[tokio::test]
async fn throttling_is_retried_even_for_produce() {
    let (url, count) = responder(429, r#"{"error":"slow down","status":429}"#).await;
    let err = client(&url).producer().produce("t", "v").await.err();
    assert!(
        matches!(err, Some(Error::Api { status: 429, .. })),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn produce_reads_single_object_or_array() {
    let (url, _) = responder(
        200,
        r#"[{"topic":"t","partition":2,"offset":9,"timestamp":5}]"#,
    )
    .await;
    let meta = client(&url)
        .producer()
        .produce("t", "v")
        .await
        .expect("meta");
    assert_eq!((meta.partition, meta.offset), (2, 9));
    let (url, _) = responder(
        200,
        r#"{"topic":"t","partition":0,"offset":1,"timestamp":5}"#,
    )
    .await;
    let meta = client(&url)
        .producer()
        .produce_get("t", "v", Some("k"))
        .await
        .expect("meta");
    assert_eq!(meta.offset, 1);
    let (url, _) = responder(
        200,
        r#"[{"topic":"t","partition":0,"offset":1,"timestamp":5}]"#,
    )
    .await;
    let err = client(&url)
        .producer()
        .produce_many([crate::Record::new("t", "a"), crate::Record::new("t", "b")])
        .await
        .err();
    assert!(
        matches!(err, Some(Error::Decode { .. })),
        "count mismatch: {err:?}"
    );
}
