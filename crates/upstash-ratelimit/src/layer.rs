//! A tower [`Layer`](tower_layer::Layer) for axum (feature `axum`): limits each request by a
//! key taken from it, answers `429 Too Many Requests` with `Retry-After`, and adds
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to every limited response.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use upstash_ratelimit::layer::{PeerIp, RatelimitLayer};
//! use upstash_ratelimit::{Algorithm, Ratelimit};
//!
//! # fn demo(redis: upstash_redis::Redis) -> Result<(), upstash_ratelimit::Error> {
//! let limiter = Ratelimit::new(redis, Algorithm::sliding_window(10, "10 s")?)?;
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(RatelimitLayer::new(limiter, PeerIp));
//! // Serve with `app.into_make_service_with_connect_info::<SocketAddr>()` for PeerIp.
//! # let _ = app; Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};

use crate::clock::{Clock, SystemClock};
use crate::Ratelimit;

/// Takes the rate-limit key from a request.
pub trait KeyExtractor: Send + Sync + 'static {
    /// The key, or `None` when the request carries none.
    fn extract(&self, parts: &Parts) -> Option<String>;
}

impl<F> KeyExtractor for F
where
    F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
{
    fn extract(&self, parts: &Parts) -> Option<String> {
        self(parts)
    }
}

fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The TCP peer's IP address (needs `into_make_service_with_connect_info::<SocketAddr>()`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerIp;

impl KeyExtractor for PeerIp {
    fn extract(&self, parts: &Parts) -> Option<String> {
        peer(parts).map(|ip| ip.to_string())
    }
}

/// The client IP from `X-Forwarded-For`, trusted only when the peer is one of the given
/// proxies: the right-most address that is not a trusted proxy. Falls back to the peer IP
/// when the peer is not trusted (a client cannot spoof its key by sending the header).
#[derive(Clone, Debug, Default)]
pub struct ForwardedFor {
    trusted: Vec<IpAddr>,
}

impl ForwardedFor {
    /// Trusts the given proxy addresses.
    pub fn trusting(proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        Self {
            trusted: proxies.into_iter().collect(),
        }
    }
}

impl KeyExtractor for ForwardedFor {
    fn extract(&self, parts: &Parts) -> Option<String> {
        let peer = peer(parts)?;
        if !self.trusted.contains(&peer) {
            return Some(peer.to_string());
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        for value in parts.headers.get_all("x-forwarded-for") {
            let text = value.to_str().ok()?;
            for hop in text.split(',') {
                hops.push(hop.trim().parse().ok()?);
            }
        }
        let client = hops
            .iter()
            .rev()
            .find(|ip| !self.trusted.contains(ip))
            .or(hops.first())
            .copied()
            .unwrap_or(peer);
        Some(client.to_string())
    }
}

/// The value of a request header (an API key, a user id set by an auth layer, ...).
#[derive(Clone, Debug)]
pub struct Header(pub HeaderName);

impl KeyExtractor for Header {
    fn extract(&self, parts: &Parts) -> Option<String> {
        parts
            .headers
            .get(&self.0)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
}

/// What to do with a request whose key cannot be extracted, or when the limiter fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fallback {
    /// Let the request through unlimited.
    Allow,
    /// Answer with this status.
    Reject(StatusCode),
}

/// The layer; see the [module docs](self).
#[derive(Clone)]
pub struct RatelimitLayer {
    limiter: Ratelimit,
    key: Arc<dyn KeyExtractor>,
    missing_key: Fallback,
    on_error: Fallback,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for RatelimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RatelimitLayer")
            .field("limiter", &self.limiter)
            .field("missing_key", &self.missing_key)
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

impl RatelimitLayer {
    /// Limits with `limiter`, keyed by `key`. Requests without a key get `400`; a failing
    /// limiter lets requests through (fail open; the limiter's own timeout policy applies
    /// first).
    pub fn new(limiter: Ratelimit, key: impl KeyExtractor) -> Self {
        Self {
            limiter,
            key: Arc::new(key),
            missing_key: Fallback::Reject(StatusCode::BAD_REQUEST),
            on_error: Fallback::Allow,
            clock: Arc::new(SystemClock),
        }
    }

    /// What to do when no key can be extracted.
    pub fn on_missing_key(mut self, fallback: Fallback) -> Self {
        self.missing_key = fallback;
        self
    }

    /// What to do when the limiter returns an error.
    pub fn on_error(mut self, fallback: Fallback) -> Self {
        self.on_error = fallback;
        self
    }
}

impl<S> tower_layer::Layer<S> for RatelimitLayer {
    type Service = RatelimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RatelimitService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service the [`RatelimitLayer`] wraps around routes.
#[derive(Clone)]
pub struct RatelimitService<S> {
    inner: S,
    layer: RatelimitLayer,
}

impl<S> fmt::Debug for RatelimitService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RatelimitService")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: i64) {
    headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
}

/// Adds the `RateLimit-*` headers (reset in seconds from now, rounded up).
fn add_headers(headers: &mut HeaderMap, limit: i64, remaining: i64, reset_secs: i64) {
    set(headers, "ratelimit-limit", limit);
    set(headers, "ratelimit-remaining", remaining.max(0));
    set(headers, "ratelimit-reset", reset_secs);
}

impl<S, B> tower_service::Service<Request<B>> for RatelimitService<S>
where
    S: tower_service::Service<Request<B>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // Clone-and-swap: the ready service handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let key = layer.key.extract(&parts);
            let req = Request::from_parts(parts, body);
            let Some(key) = key else {
                return match layer.missing_key {
                    Fallback::Allow => inner.call(req).await.map(IntoResponse::into_response),
                    Fallback::Reject(status) => Ok(status.into_response()),
                };
            };
            let decision = match layer.limiter.limit(&key).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "ratelimit layer: limiter failed");
                    return match layer.on_error {
                        Fallback::Allow => inner.call(req).await.map(IntoResponse::into_response),
                        Fallback::Reject(status) => Ok(status.into_response()),
                    };
                }
            };
            let now = layer.clock.now_ms();
            let reset_secs = (decision.retry_after_ms(now) + 999) / 1000;
            if !decision.success {
                tracing::debug!(reason = ?decision.reason, "ratelimit layer: 429");
                let mut res = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
                let headers = res.headers_mut();
                add_headers(headers, decision.limit, 0, reset_secs);
                set(headers, "retry-after", reset_secs.max(1));
                return Ok(res);
            }
            let mut res = inner.call(req).await?.into_response();
            if decision.reason.is_none() {
                add_headers(
                    res.headers_mut(),
                    decision.limit,
                    decision.remaining,
                    reset_secs,
                );
            }
            Ok(res)
        })
    }
}
