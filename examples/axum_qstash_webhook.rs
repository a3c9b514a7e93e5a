//! A QStash webhook receiver in axum: the handler runs only for requests whose
//! `Upstash-Signature` verifies against the raw body.
//!
//! ```sh
//! # Serve on 127.0.0.1:3000 (keys from QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY,
//! # or the fixed keys of the local QStash dev server when unset):
//! cargo run --example axum_qstash_webhook
//! # Self-contained demo: serve on an ephemeral port, send one signed and one forged
//! # delivery to itself, print the answers, exit.
//! cargo run --example axum_qstash_webhook -- --demo
//! ```
//!
//! Set `PUBLIC_URL` (e.g. `https://api.example.com`) to also check that the token was issued
//! for this endpoint's public URL.

use axum::routing::post;
use axum::{Extension, Router};
use serde::Deserialize;
use upstash_qstash::axum::{Json, Verified, WebhookConfig};
use upstash_qstash::signer::Signer;
use upstash_qstash::Receiver;

/// The dev server's fixed keys (defaultUser), used when the environment has none.
const DEV_CURRENT: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
const DEV_NEXT: &str = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";

#[derive(Debug, Deserialize)]
struct OrderPlaced {
    order_id: String,
    amount_cents: u64,
}

async fn order_placed(event: Verified<Json<OrderPlaced>>) -> String {
    let Json(order) = &event.body;
    // Delivery is at-least-once: use the message id to make the work idempotent.
    let id = event.delivery.message_id.as_deref().unwrap_or("-");
    println!(
        "order {} for {} cents (message {id}, attempt {})",
        order.order_id,
        order.amount_cents,
        event.delivery.retried + 1
    );
    format!("processed {}", order.order_id)
}

fn receiver() -> Receiver {
    Receiver::from_env().unwrap_or_else(|_| {
        eprintln!("QSTASH_*_SIGNING_KEY not set: using the local dev server's keys");
        Receiver::new(DEV_CURRENT, DEV_NEXT)
    })
}

fn app() -> Router {
    let mut config = WebhookConfig::new().body_limit(1024 * 1024);
    if let Ok(url) = std::env::var("PUBLIC_URL") {
        config = config.public_url(url);
    }
    Router::new()
        .route("/api/qstash/order-placed", post(order_placed))
        .layer(Extension(config))
        .with_state(receiver())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = std::env::args().any(|a| a == "--demo");
    let addr = if demo {
        "127.0.0.1:0".to_owned()
    } else {
        format!(
            "127.0.0.1:{}",
            std::env::var("PORT").unwrap_or_else(|_| "3000".into())
        )
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}/api/qstash/order-placed");
    if !demo {
        axum::serve(listener, app()).await?;
        return Ok(());
    }

    tokio::spawn(async move { axum::serve(listener, app()).await });
    let url = format!("http://{local}/api/qstash/order-placed");
    let body = br#"{"order_id":"ord_1","amount_cents":4200}"#;
    let http = reqwest::Client::new();
    // Signed exactly as QStash signs (with the dev key unless the env has keys).
    let key = std::env::var("QSTASH_CURRENT_SIGNING_KEY").unwrap_or_else(|_| DEV_CURRENT.into());
    let signature = Signer::new(key).sign(body, &url);
    for (label, payload) in [
        ("signed", &body[..]),
        ("tampered", br#"{"order_id":"ord_1","amount_cents":1}"#),
    ] {
        let resp = http
            .post(&url)
            .header("Upstash-Signature", &signature)
            .header("Upstash-Message-Id", "msg_demo")
            .header("Content-Type", "application/json")
            .body(payload.to_vec())
            .send()
            .await?;
        println!("{label}: {} {}", resp.status(), resp.text().await?);
    }
    Ok(())
}
