//! The connection options every client builder of the family offers.
//!
//! `RedisBuilder`, the QStash and Vector builders and the Kafka builder all let users set the
//! same four things: retry policy, per-request timeout, telemetry, and a shared HTTP client.
//! They keep them in one [`ClientOptions`] and get their setters from
//! [`client_option_setters!`](crate::client_option_setters), so the four behave alike and a fix
//! lands once.

use std::time::Duration;

use crate::{Auth, RetryPolicy, Telemetry, Transport, TransportBuilder};

/// Retry policy, timeout, telemetry and HTTP client of one client being built.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How failed requests are repeated.
    pub retry: RetryPolicy,
    /// Per-attempt timeout; `None` waits forever.
    pub timeout: Option<Duration>,
    /// Whether `Upstash-Telemetry-*` headers are sent (still off when
    /// `UPSTASH_DISABLE_TELEMETRY` is set).
    pub telemetry: bool,
    /// A client (and connection pool) to share instead of building a new one.
    pub http_client: Option<reqwest::Client>,
}

impl ClientOptions {
    /// Defaults of the family (default retry policy, telemetry on, own HTTP client) with the
    /// given per-request timeout.
    pub fn with_timeout(timeout: Option<Duration>) -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            timeout,
            telemetry: true,
            http_client: None,
        }
    }

    /// A transport builder for `base_url` and `auth` carrying these options; `sdk` names the
    /// crate in the telemetry headers (`upstash-redis-rs@v0.1.0`).
    pub fn transport_builder(
        self,
        base_url: impl Into<String>,
        auth: Auth,
        sdk: &str,
    ) -> TransportBuilder {
        let telemetry = if self.telemetry {
            Telemetry::from_env(sdk)
        } else {
            None
        };
        let builder = Transport::builder(base_url, auth)
            .retry(self.retry)
            .timeout(self.timeout)
            .telemetry(telemetry);
        match self.http_client {
            Some(client) => builder.http_client(client),
            None => builder,
        }
    }
}

impl Default for ClientOptions {
    /// [`ClientOptions::with_timeout`] of 30 s.
    fn default() -> Self {
        Self::with_timeout(Some(Duration::from_secs(30)))
    }
}

/// Expands, inside a builder's `impl` block, to the setters `retry`, `timeout`, `telemetry`
/// and `http_client`, writing into the builder's [`ClientOptions`] field of the given name.
///
/// ```
/// use upstash_core::ClientOptions;
///
/// /// Builder of some client.
/// pub struct MyBuilder {
///     options: ClientOptions,
/// }
///
/// impl MyBuilder {
///     upstash_core::client_option_setters!(options);
/// }
///
/// let b = MyBuilder { options: ClientOptions::default() }.timeout(None).telemetry(false);
/// assert!(b.options.timeout.is_none() && !b.options.telemetry);
/// ```
#[macro_export]
macro_rules! client_option_setters {
    ($field:ident) => {
        /// Retry policy (default `RetryPolicy::default()`: a request is repeated only when it
        /// provably did not reach the server, on 429, or when repeating it cannot apply it twice).
        pub fn retry(mut self, policy: $crate::RetryPolicy) -> Self {
            self.$field.retry = policy;
            self
        }

        /// Per-request timeout (`None` waits forever).
        pub fn timeout(mut self, timeout: ::std::option::Option<::std::time::Duration>) -> Self {
            self.$field.timeout = timeout;
            self
        }

        /// Sends `Upstash-Telemetry-*` headers (default on unless `UPSTASH_DISABLE_TELEMETRY`
        /// is set).
        pub fn telemetry(mut self, yes: bool) -> Self {
            self.$field.telemetry = yes;
            self
        }

        /// Shares an existing HTTP client (and its connection pool).
        pub fn http_client(mut self, client: $crate::http::HttpClient) -> Self {
            self.$field.http_client = ::std::option::Option::Some(client);
            self
        }
    };
}
