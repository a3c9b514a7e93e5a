//! axum integration (feature `axum`): an extractor that verifies `Upstash-Signature` before
//! the handler runs.
//!
//! [`Verified<B>`] reads the raw body (with a size limit), verifies it with the [`Receiver`]
//! taken from the router state (`Receiver: FromRef<S>`), and hands the handler the body as
//! `B` ([`Bytes`], `String`, `Vec<u8>` or [`Json<T>`]), the verified [`Claims`] and the
//! Upstash [`Delivery`] headers. Anything else is rejected before the handler runs: 401 with
//! a short reason for a missing or invalid signature, 413 for a body over the limit, 400 for
//! a verified body that is not valid UTF-8/JSON.
//!
//! The subject (`sub`, the URL QStash called) is not checked by default, like the official
//! SDK helpers: behind proxies the URL the server sees often differs. To check it, add a
//! [`WebhookConfig`] with your public base URL as a request extension; the expected URL is
//! then that base followed by the original path and query.
//!
//! ```no_run
//! use axum::{routing::post, Extension, Router};
//! use upstash_qstash::axum::{Json, Verified, WebhookConfig};
//! use upstash_qstash::Receiver;
//!
//! #[derive(serde::Deserialize)]
//! struct Job { id: u64 }
//!
//! async fn handle(job: Verified<Json<Job>>) -> String {
//!     let attempt = job.delivery.retried + 1;
//!     let Json(job) = job.body;
//!     format!("job {} (attempt {attempt})", job.id)
//! }
//!
//! # fn app() -> Result<Router, upstash_core::Error> {
//! let app = Router::new()
//!     .route("/api/qstash", post(handle))
//!     .layer(Extension(WebhookConfig::new().public_url("https://api.example.com")))
//!     .with_state(Receiver::from_env()?);
//! # Ok(app) }
//! ```

use std::fmt;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, OriginalUri, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;

use crate::{Claims, Receiver, VerifyError, VerifyOptions};

/// Default body limit of [`Verified`]: 10 MiB (QStash's largest message size).
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Settings of the [`Verified`] extractor, read from the request extensions (add it with
/// `axum::Extension(WebhookConfig::new()...)`); defaults apply when absent.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// Public base URL (scheme, host, optional path prefix) QStash calls; when set, `sub`
    /// must equal this base + the request's original path and query.
    pub public_url: Option<String>,
    /// Largest body accepted (default [`DEFAULT_BODY_LIMIT`]).
    pub body_limit: usize,
    /// Clock tolerance for `exp`/`nbf` (default 0).
    pub clock_tolerance: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            body_limit: DEFAULT_BODY_LIMIT,
            clock_tolerance: Duration::ZERO,
        }
    }
}

impl WebhookConfig {
    /// Defaults: no URL check, 10 MiB, no clock tolerance.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `sub` against `base` + original path and query (e.g.
    /// `https://api.example.com`).
    pub fn public_url(mut self, base: impl Into<String>) -> Self {
        self.public_url = Some(base.into());
        self
    }

    /// Sets the body limit.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sets the clock tolerance.
    pub fn clock_tolerance(mut self, tolerance: Duration) -> Self {
        self.clock_tolerance = tolerance;
        self
    }
}

/// The Upstash headers of a delivery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// `Upstash-Message-Id`: use it to make the handler idempotent (delivery is
    /// at-least-once).
    pub message_id: Option<String>,
    /// `Upstash-Retried`: 0 on the first attempt.
    pub retried: u32,
    /// `Upstash-Schedule-Id`, when a schedule created the message.
    pub schedule_id: Option<String>,
    /// `Upstash-Topic-Name`, for URL-group fan-out.
    pub topic_name: Option<String>,
    /// `Upstash-Caller-Ip`: who published the message.
    pub caller_ip: Option<String>,
    /// `Upstash-Region`.
    pub region: Option<String>,
    /// `Content-Type` of the message.
    pub content_type: Option<String>,
}

impl Delivery {
    /// Reads the Upstash delivery headers.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            message_id: get("upstash-message-id"),
            retried: get("upstash-retried")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            schedule_id: get("upstash-schedule-id"),
            topic_name: get("upstash-topic-name"),
            caller_ip: get("upstash-caller-ip"),
            region: get("upstash-region"),
            content_type: get("content-type"),
        }
    }
}

/// A body type the extractor can produce from verified bytes.
pub trait VerifiedBody: Sized {
    /// Converts the verified raw body.
    fn from_verified(body: Bytes) -> Result<Self, Rejection>;
}

impl VerifiedBody for Bytes {
    fn from_verified(body: Bytes) -> Result<Self, Rejection> {
        Ok(body)
    }
}

impl VerifiedBody for Vec<u8> {
    fn from_verified(body: Bytes) -> Result<Self, Rejection> {
        Ok(body.to_vec())
    }
}

impl VerifiedBody for String {
    fn from_verified(body: Bytes) -> Result<Self, Rejection> {
        String::from_utf8(body.to_vec()).map_err(|_| Rejection::InvalidBody("body is not UTF-8"))
    }
}

/// A verified body parsed as JSON (whatever the `Content-Type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> VerifiedBody for Json<T> {
    fn from_verified(body: Bytes) -> Result<Self, Rejection> {
        serde_json::from_slice(&body)
            .map(Json)
            .map_err(|_| Rejection::InvalidBody("body is not the expected JSON"))
    }
}

/// A request whose `Upstash-Signature` verified against its raw body.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Verified<B = Bytes> {
    /// The body.
    pub body: B,
    /// The verified token claims.
    pub claims: Claims,
    /// The Upstash delivery headers.
    pub delivery: Delivery,
}

/// Why [`Verified`] rejected a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Upstash-Signature` header, or more than one (401).
    MissingSignature,
    /// The signature did not verify (401).
    InvalidSignature(VerifyError),
    /// The body is larger than the limit (413).
    BodyTooLarge,
    /// The body could not be read (400).
    BodyRead,
    /// The verified body could not be converted (400).
    InvalidBody(&'static str),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSignature => f.write_str("missing Upstash-Signature header"),
            Self::InvalidSignature(e) => write!(f, "invalid signature: {e}"),
            Self::BodyTooLarge => f.write_str("body too large"),
            Self::BodyRead => f.write_str("cannot read body"),
            Self::InvalidBody(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Rejection {}

impl Rejection {
    /// The HTTP status of the rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingSignature | Self::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyRead | Self::InvalidBody(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}

impl<S, B> FromRequest<S> for Verified<B>
where
    S: Send + Sync,
    Receiver: FromRef<S>,
    B: VerifiedBody,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let receiver = Receiver::from_ref(state);
        let (parts, body) = req.into_parts();
        let config = parts
            .extensions
            .get::<WebhookConfig>()
            .cloned()
            .unwrap_or_default();

        let mut signatures = parts.headers.get_all("upstash-signature").iter();
        let signature = match (signatures.next(), signatures.next()) {
            (Some(sig), None) => sig
                .to_str()
                .map_err(|_| Rejection::InvalidSignature(VerifyError::MalformedToken("not text")))?
                .to_owned(),
            _ => return Err(Rejection::MissingSignature),
        };

        let declared = parts
            .headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > config.body_limit as u64) {
            return Err(Rejection::BodyTooLarge);
        }
        let bytes = http_body_util::Limited::new(body, config.body_limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    Rejection::BodyTooLarge
                } else {
                    Rejection::BodyRead
                }
            })?
            .to_bytes();

        let expected_url = config.public_url.as_deref().map(|base| {
            let uri = parts
                .extensions
                .get::<OriginalUri>()
                .map(|o| &o.0)
                .unwrap_or(&parts.uri);
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            format!("{}{path}", base.trim_end_matches('/'))
        });
        let mut options = VerifyOptions::new().clock_tolerance(config.clock_tolerance);
        if let Some(url) = expected_url.as_deref() {
            options = options.url(url);
        }
        let claims = receiver
            .verify(&signature, &bytes, options)
            .map_err(Rejection::InvalidSignature)?;
        let delivery = Delivery::from_headers(&parts.headers);
        let body = B::from_verified(bytes)?;
        Ok(Self {
            body,
            claims,
            delivery,
        })
    }
}
