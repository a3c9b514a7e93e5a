//! # upstash-qstash
//!
//! A client for [QStash](https://upstash.com/docs/qstash) v2 and the tools to receive its
//! webhooks safely.
//!
//! - [`Client`]: publish to a URL or a URL group, enqueue, batch, with every option typed
//!   ([`PublishRequest`]); schedules, URL groups, queues, messages, DLQ, logs (as a
//!   `Stream`), signing keys and flow control. Typed responses that a server can reuse
//!   (`Serialize` + `Deserialize`).
//! - [`Receiver`] verifies the `Upstash-Signature` token of a delivery: HS256 only, constant
//!   time, current then next signing key, `iss`, `exp`, `nbf`, `sub` and the body hash; each
//!   failure is a typed [`VerifyError`].
//! - [`signer::Signer`] creates tokens exactly as QStash does (for tests and local servers).
//! - Feature `axum`: [`axum::Verified`], an extractor that verifies before the handler runs.
//!
//! ```no_run
//! use upstash_qstash::{Client, PublishRequest, Receiver, VerifyOptions};
//!
//! # async fn demo(signature: &str, body: &[u8]) -> upstash_qstash::Result<()> {
//! let qstash = Client::from_env()?; // QSTASH_TOKEN (+ QSTASH_URL)
//! qstash.publish_json("https://example.com/api/jobs", &serde_json::json!({"id": 1})).await?;
//!
//! // In the webhook handler: verify the raw body before trusting it.
//! let receiver = Receiver::from_env()?; // QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY
//! let claims = receiver.verify(signature, body, VerifyOptions::new())?;
//! # let _ = claims;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod api;
#[cfg(feature = "axum")]
pub mod axum;
mod client;
mod error;
mod jwt;
mod publish;
mod receiver;
pub mod signer;
pub mod types;

#[cfg(test)]
mod tests;

pub use api::{
    Dlq, Filter, FlowControlApi, Logs, Messages, Page, Queues, RetryOverrides, ScheduleRequest,
    Schedules, SigningKeysApi, UrlGroups,
};
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL, TOKEN_ENV, URL_ENV};
pub use error::{Error, RateLimitKind, Result};
pub use publish::{
    BatchItem, BatchItemWire, Callback, Destination, FlowControl, PublishRequest, PublishResponse,
    PublishedMessage, Redact,
};
pub use receiver::{
    Claims, Receiver, VerifyError, VerifyOptions, CURRENT_SIGNING_KEY_ENV, DEFAULT_MAX_TOKEN_LEN,
    NEXT_SIGNING_KEY_ENV,
};
pub use upstash_core::http::Method;
pub use upstash_core::RetryPolicy;
