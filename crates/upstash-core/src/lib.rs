//! Shared HTTP core of the Upstash Rust SDK.
//!
//! Every client crate of the family (`upstash-redis`, `upstash-qstash`, `upstash-vector`,
//! `upstash-kafka`) talks HTTP through one [`Transport`]: a lean pooled HTTP/1.1 client of its
//! own for request/response exchanges (`reqwest` for streamed bodies, proxies and a caller's own
//! client), rustls and keep-alive, an [`Auth`] scheme whose secrets never show in `Debug` output, a
//! [`RetryPolicy`] that only repeats a request when doing so cannot apply it twice, telemetry
//! headers with an opt-out, and a `tracing` span per request.
//!
//! Service crates wrap [`Error`] in their own error types and decide what a response body means;
//! this crate only decides whether a request reached the server and whether to try again.
#![forbid(unsafe_code)]

mod auth;
pub mod coalesce;
pub mod env;
mod error;
mod h1;
mod options;
mod retry;
mod secret;
mod telemetry;
mod transport;

pub use auth::Auth;
pub use error::{snippet, Error, RetryKind};
pub use options::ClientOptions;
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use telemetry::Telemetry;
pub use transport::{BodyStream, Request, Response, Transport, TransportBuilder};

/// Re-exported HTTP types that appear in this crate's API.
pub mod http {
    pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    pub use reqwest::{Client as HttpClient, Method, StatusCode};
}
