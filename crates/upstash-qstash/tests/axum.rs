//! The axum extractor served by a real axum server on a loopback port, called with reqwest,
//! signed with our Signer.
#![cfg(feature = "axum")]
#![allow(clippy::unwrap_used)]

use axum::extract::FromRef;
use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use serde::Deserialize;
use upstash_qstash::axum::{Json, Verified, WebhookConfig};
use upstash_qstash::signer::Signer;
use upstash_qstash::Receiver;

const CURRENT: &str = "sig_axum_current";
const NEXT: &str = "sig_axum_next";

#[derive(Clone)]
struct AppState {
    receiver: Receiver,
}

impl FromRef<AppState> for Receiver {
    fn from_ref(state: &AppState) -> Self {
        state.receiver.clone()
    }
}

#[derive(Deserialize)]
struct Job {
    id: u64,
}

async fn json_handler(v: Verified<Json<Job>>) -> String {
    let Json(job) = v.body;
    format!(
        "job={} msg={} retried={} schedule={} sub={}",
        job.id,
        v.delivery.message_id.unwrap_or_default(),
        v.delivery.retried,
        v.delivery.schedule_id.unwrap_or_default(),
        v.claims.sub
    )
}

async fn bytes_handler(v: Verified) -> Bytes {
    v.body
}

async fn text_handler(v: Verified<String>) -> String {
    v.body
}

struct Server {
    base: String,
    http: reqwest::Client,
}

async fn start(config: Option<WebhookConfig>) -> Server {
    let mut app = Router::new()
        .route("/json", post(json_handler))
        .route("/bytes", post(bytes_handler))
        .route("/text", post(text_handler))
        .nest("/nested", Router::new().route("/hook", post(bytes_handler)));
    if let Some(config) = config {
        app = app.layer(Extension(config));
    }
    let app = app.with_state(AppState {
        receiver: Receiver::new(CURRENT, NEXT),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

impl Server {
    async fn post(
        &self,
        path: &str,
        body: &'static [u8],
        signature: Option<&str>,
        extra: &[(&str, &str)],
    ) -> (u16, String) {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body);
        if let Some(sig) = signature {
            req = req.header("Upstash-Signature", sig);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

#[tokio::test]
async fn verified_json_with_delivery_headers() {
    let s = start(None).await;
    let body: &[u8] = br#"{"id":42}"#;
    let sig = Signer::new(CURRENT).sign(body, &s.url("/json"));
    let (status, text) = s
        .post(
            "/json",
            body,
            Some(&sig),
            &[
                ("Upstash-Message-Id", "msg_123"),
                ("Upstash-Retried", "2"),
                ("Upstash-Schedule-Id", "scd_9"),
                ("Content-Type", "application/json"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        text,
        format!(
            "job=42 msg=msg_123 retried=2 schedule=scd_9 sub={}",
            s.url("/json")
        )
    );
}

#[tokio::test]
async fn next_key_and_bytes_body() {
    let s = start(None).await;
    let body: &[u8] = b"\x00\x01binary\xff";
    let sig = Signer::new(NEXT).sign(body, "https://anything/");
    let (status, _) = s.post("/bytes", body, Some(&sig), &[]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn rejections_are_401_with_a_short_reason() {
    let s = start(None).await;
    let body: &[u8] = br#"{"id":1}"#;
    let sig = Signer::new(CURRENT).sign(body, &s.url("/json"));

    let (status, text) = s.post("/json", body, None, &[]).await;
    assert_eq!(
        (status, text.as_str()),
        (401, "missing Upstash-Signature header")
    );

    let (status, text) = s.post("/json", br#"{"id":2}"#, Some(&sig), &[]).await;
    assert_eq!(
        (status, text.as_str()),
        (401, "invalid signature: body hash does not match")
    );

    let wrong = Signer::new("sig_wrong").sign(body, &s.url("/json"));
    let (status, text) = s.post("/json", body, Some(&wrong), &[]).await;
    assert_eq!(
        (status, text.as_str()),
        (401, "invalid signature: invalid signature")
    );

    let (status, text) = s.post("/json", body, Some("a.b"), &[]).await;
    assert_eq!(status, 401);
    assert!(text.starts_with("invalid signature: malformed"), "{text}");

    // Two signature headers: refused.
    let resp = s
        .http
        .post(s.url("/json"))
        .header("Upstash-Signature", &sig)
        .header("Upstash-Signature", &sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // Verified, but not the JSON the handler wants: 400.
    let other: &[u8] = br#"{"name":"x"}"#;
    let sig = Signer::new(CURRENT).sign(other, &s.url("/json"));
    let (status, _) = s.post("/json", other, Some(&sig), &[]).await;
    assert_eq!(status, 400);

    // Not UTF-8 for a String body: 400.
    let bin: &[u8] = b"\xff\xfe";
    let sig = Signer::new(CURRENT).sign(bin, &s.url("/text"));
    let (status, _) = s.post("/text", bin, Some(&sig), &[]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn subject_checked_against_public_url() {
    let s = start(Some(
        WebhookConfig::new().public_url("https://api.example.com/"),
    ))
    .await;
    let body: &[u8] = b"hello";
    let good = Signer::new(CURRENT).sign(body, "https://api.example.com/text?x=1");
    let (status, text) = s.post("/text?x=1", body, Some(&good), &[]).await;
    assert_eq!((status, text.as_str()), (200, "hello"));
    // The original path is used inside nested routers.
    let nested = Signer::new(CURRENT).sign(body, "https://api.example.com/nested/hook");
    let (status, _) = s.post("/nested/hook", body, Some(&nested), &[]).await;
    assert_eq!(status, 200);
    // Signed for another URL: rejected.
    let (status, text) = s.post("/text", body, Some(&good), &[]).await;
    assert_eq!(
        (status, text.as_str()),
        (
            401,
            "invalid signature: subject does not match the expected URL"
        )
    );
}

#[tokio::test]
async fn body_limit() {
    let s = start(Some(WebhookConfig::new().body_limit(8))).await;
    let body: &[u8] = b"0123456789";
    let sig = Signer::new(CURRENT).sign(body, "https://x/");
    let (status, _) = s.post("/bytes", body, Some(&sig), &[]).await;
    assert_eq!(status, 413);
    // Chunked (no Content-Length) bodies are limited while reading.
    let stream = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(Bytes::from_static(b"01234")),
        Ok(Bytes::from_static(b"56789")),
    ]);
    let resp = s
        .http
        .post(s.url("/bytes"))
        .header("Upstash-Signature", &sig)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
}
