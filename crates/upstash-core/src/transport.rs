use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use tracing::Instrument as _;

use crate::h1::{ExchangeError, H1};
use crate::{Auth, Error, RetryPolicy, Telemetry};

/// One HTTP request, described so that it can be sent again on retry without cloning a body
/// stream (the body is a cheaply clonable [`Bytes`]).
#[derive(Clone, Debug)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// Path (and query) appended to the base URL, starting with `/`.
    pub path: String,
    /// Extra headers for this request.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
    /// Whether sending the request twice has the same effect as sending it once; only then
    /// may a request whose outcome is unknown be repeated.
    pub idempotent: bool,
    /// Overrides the transport's per-attempt timeout.
    pub timeout: Option<Duration>,
}

impl Request {
    /// A request with no body and no extra headers.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            idempotent: false,
            timeout: None,
        }
    }

    /// A `POST` with a JSON body (already serialised).
    pub fn post_json(path: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let mut req = Self::new(Method::POST, path);
        req.headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        req.body = body.into();
        req
    }

    /// Marks the request idempotent (or not).
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The first path segment, the only part of the path that goes into logs (later segments
    /// of path-style requests can hold user data).
    fn endpoint(&self) -> &str {
        let path = self.path.split('?').next().unwrap_or_default();
        let trimmed = path.trim_start_matches('/');
        match trimmed.find('/') {
            Some(i) => &trimmed[..i],
            None => trimmed,
        }
    }
}

/// A complete HTTP response. Any status is returned here; service crates decide what a status
/// and body mean (after the transport has retried 429 and, where allowed, 5xx).
#[derive(Clone, Debug)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Response {
    /// The `Retry-After` header in seconds, if present and numeric.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }

    /// The core error for this response's status (used when a service crate does not
    /// recognise the body).
    pub fn status_error(&self) -> Error {
        Error::from_status(self.status.as_u16(), &self.body, self.retry_after())
    }
}

/// A response body delivered in chunks as they arrive (Server-Sent Events).
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// The shared HTTP transport: base URL, auth, retries, timeouts, telemetry. Cloning is cheap
/// and clones share one connection pool.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    /// The lean HTTP/1.1 client sending every request whose body is not streamed (see
    /// [`crate::h1`]); `None` when the transport was given a `reqwest::Client`, a proxy is set
    /// in the environment, or the scheme is neither `http` nor `https`.
    h1: Option<H1>,
    base: String,
    /// `base` parsed once: each request only sets its path and query on a copy, instead of
    /// parsing the whole URL (scheme, host, IDNA) again. `None` when the base carries a query
    /// or fragment, where only parsing base and path together gives the old meaning.
    root: Option<url::Url>,
    auth: Option<HeaderValue>,
    retry: RetryPolicy,
    timeout: Option<Duration>,
    fixed_headers: HeaderMap,
    telemetry: bool,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.inner.base)
            .field("auth", &self.inner.auth.as_ref().map(|_| "[redacted]"))
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .field("telemetry", &self.inner.telemetry)
            .finish()
    }
}

/// Builder for [`Transport`].
#[derive(Debug)]
pub struct TransportBuilder {
    base: String,
    auth: Auth,
    retry: RetryPolicy,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    telemetry: Option<Telemetry>,
    client: Option<reqwest::Client>,
    headers: HeaderMap,
}

impl TransportBuilder {
    /// Sets the retry policy (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the per-attempt timeout (default 30 s; `None` waits forever).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long establishing a connection may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the telemetry headers (`None` disables them).
    pub fn telemetry(mut self, telemetry: Option<Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Uses an existing `reqwest::Client` (sharing its pool) instead of building one.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Adds a header sent with every request.
    pub fn default_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Builds the transport; fails on an invalid URL or credential.
    pub fn build(self) -> Result<Transport, Error> {
        let url = crate::env::base_url("base URL", &self.base)?;
        let base = url.as_str().trim_end_matches('/').to_owned();
        let auth = self.auth.header_value()?;
        let h1 = match (&self.client, proxy_in_env()) {
            (None, false) => H1::for_url(&url, self.connect_timeout).map_err(Error::Config)?,
            _ => None,
        };
        let client = match self.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(256)
                .tcp_nodelay(true)
                .build()
                .map_err(|e| Error::Config(format!("cannot build HTTP client: {e}")))?,
        };
        let mut fixed_headers = self.headers;
        let telemetry = self.telemetry.is_some();
        if let Some(t) = &self.telemetry {
            for (name, value) in t.headers() {
                fixed_headers.insert(name.clone(), value.clone());
            }
        }
        Ok(Transport {
            inner: Arc::new(Inner {
                client,
                h1,
                base,
                root: (url.query().is_none() && url.fragment().is_none()).then_some(url),
                auth,
                retry: self.retry,
                timeout: self.timeout,
                fixed_headers,
                telemetry,
            }),
        })
    }
}

impl Transport {
    /// Starts building a transport for `base_url` with `auth`.
    pub fn builder(base_url: impl Into<String>, auth: Auth) -> TransportBuilder {
        TransportBuilder {
            base: base_url.into(),
            auth,
            retry: RetryPolicy::default(),
            timeout: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(10),
            telemetry: None,
            client: None,
            headers: HeaderMap::new(),
        }
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// Sends a request, retrying as the policy allows, and returns the final response whatever
    /// its status. Errors are transport failures and timeouts only.
    pub async fn send(&self, req: &Request) -> Result<Response, Error> {
        let span = tracing::debug_span!(
            "upstash.http",
            method = %req.method,
            endpoint = req.endpoint(),
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        self.send_with_retries(req).instrument(span).await
    }

    async fn send_with_retries(&self, req: &Request) -> Result<Response, Error> {
        let policy = &self.inner.retry;
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            let outcome = self.attempt(req, attempt).await;
            let (kind, wait_hint) = match &outcome {
                Ok(resp) if resp.status == StatusCode::TOO_MANY_REQUESTS => {
                    (crate::RetryKind::Throttled, resp.retry_after())
                }
                Ok(resp) if resp.status.is_server_error() => (crate::RetryKind::Unknown, None),
                Ok(_) => (crate::RetryKind::Permanent, None),
                Err(e) => (e.retry_kind(), None),
            };
            let may_retry = attempt < policy.max_retries && policy.allows(kind, req.idempotent);
            if may_retry {
                let pause = wait_hint
                    .map(|w| w.min(policy.max_backoff))
                    .unwrap_or_else(|| policy.backoff(attempt));
                let within_deadline = policy
                    .deadline
                    .is_none_or(|d| started.elapsed() + pause < d);
                if within_deadline {
                    tracing::debug!(attempt, ?pause, ?kind, "retrying request");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                    continue;
                }
            }
            let span = tracing::Span::current();
            span.record("attempts", attempt + 1);
            if let Ok(resp) = &outcome {
                span.record("status", resp.status.as_u16());
            }
            return outcome;
        }
    }

    /// The URL of a request: the base URL with `path` (and its query, if any) appended,
    /// without parsing the base again. `None` where that shortcut could differ from parsing
    /// `base + path` as one string (spaces or control characters, which the parser trims at
    /// the ends and encodes inside, or a `#`): the caller then parses the whole string.
    fn request_url(&self, path: &str) -> Option<url::Url> {
        if path.bytes().any(|b| b <= b' ' || b == b'#' || b == 0x7f) {
            return None;
        }
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let root = self.inner.root.as_ref()?;
        let mut url = root.clone();
        url.set_path(&format!("{}{path}", root.path().trim_end_matches('/')));
        url.set_query(query);
        Some(url)
    }

    /// The URL of a request as `reqwest` would send it (`None` when it does not parse).
    fn full_url(&self, path: &str) -> Option<url::Url> {
        self.request_url(path)
            .or_else(|| url::Url::parse(&format!("{}{}", self.inner.base, path)).ok())
    }

    /// One attempt through the lean client: the same headers as through `reqwest` (the fixed
    /// ones, overridden per name by the request's own, then auth and the retry count).
    async fn attempt_h1(
        &self,
        h1: &H1,
        req: &Request,
        url: &url::Url,
        attempt: u32,
    ) -> Result<Response, Error> {
        let inner = &self.inner;
        let retry_header = (attempt > 0 && inner.telemetry)
            .then(|| HeaderValue::from(attempt))
            .map(|v| (HeaderName::from_static("upstash-telemetry-retry"), v));
        let headers = inner
            .fixed_headers
            .iter()
            .filter(|(name, _)| !req.headers.contains_key(*name))
            .chain(req.headers.iter())
            .chain(inner.auth.iter().map(|v| (&AUTHORIZATION, v)))
            .chain(retry_header.iter().map(|(n, v)| (n, v)))
            .filter(|(name, _)| !is_framing(name));
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let out = h1
            .exchange(&req.method, target, headers, &req.body)
            .await
            .map_err(map_exchange)?;
        Ok(Response {
            status: out.status,
            headers: out.headers,
            body: out.body,
        })
    }

    fn prepare(&self, req: &Request, attempt: u32) -> reqwest::RequestBuilder {
        let client = &self.inner.client;
        let builder = match self.request_url(&req.path) {
            Some(url) => client.request(req.method.clone(), url),
            None => client.request(
                req.method.clone(),
                format!("{}{}", self.inner.base, req.path),
            ),
        };
        let mut builder = builder
            .headers(self.inner.fixed_headers.clone())
            .headers(req.headers.clone());
        if let Some(auth) = &self.inner.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        if attempt > 0 && self.inner.telemetry {
            builder = builder.header("upstash-telemetry-retry", attempt.to_string());
        }
        if !req.body.is_empty() {
            builder = builder.body(req.body.clone());
        }
        builder
    }

    async fn attempt(&self, req: &Request, attempt: u32) -> Result<Response, Error> {
        let exchange = async {
            if let Some(h1) = &self.inner.h1 {
                if let Some(url) = self.full_url(&req.path).filter(|u| h1.serves(u)) {
                    return self.attempt_h1(h1, req, &url, attempt).await;
                }
            }
            let resp = self
                .prepare(req, attempt)
                .send()
                .await
                .map_err(map_reqwest)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(map_reqwest)?;
            Ok(Response {
                status,
                headers,
                body,
            })
        };
        within(req.timeout.or(self.inner.timeout), exchange).await
    }

    /// Sends a request whose response body is a long-lived stream (Server-Sent Events). Only
    /// connection failures are retried; no timeout applies once the headers have arrived.
    pub async fn send_streaming(
        &self,
        req: &Request,
    ) -> Result<(StatusCode, HeaderMap, BodyStream), Error> {
        let policy = &self.inner.retry;
        let mut attempt = 0;
        loop {
            let builder = self.prepare(req, attempt);
            let send = async { builder.send().await.map_err(map_reqwest) };
            let sent = within(req.timeout.or(self.inner.timeout), send).await;
            match sent {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let stream = resp.bytes_stream().map(|c| c.map_err(map_reqwest));
                    return Ok((status, headers, Box::pin(stream)));
                }
                Err(e) if attempt < policy.max_retries && policy.allows(e.retry_kind(), false) => {
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// `exchange`, given at most `limit` (none: as long as it takes).
async fn within<T>(
    limit: Option<Duration>,
    exchange: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or(Err(Error::Timeout(limit))),
        None => exchange.await,
    }
}

/// Headers the lean client writes itself, from the body and the URL.
fn is_framing(name: &HeaderName) -> bool {
    use reqwest::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
    [HOST, CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(name)
}

/// Whether requests would go through a proxy named in the environment (which `reqwest`
/// honours and the lean client does not speak).
fn proxy_in_env() -> bool {
    [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

fn map_exchange(e: ExchangeError) -> Error {
    Error::Transport {
        message: e.message.to_owned(),
        maybe_sent: e.maybe_sent,
        source: e.source.map(|s| Box::new(s) as _),
    }
}

/// Converts a client error, deciding whether the request may have reached the server. The
/// message drops the URL (which could carry a `?_token=`).
fn map_reqwest(e: reqwest::Error) -> Error {
    let not_sent = e.is_connect() || e.is_builder();
    let message = if e.is_connect() {
        "could not connect to the server".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_body() || e.is_decode() {
        "failed to read the response body".to_owned()
    } else if e.is_request() {
        "request failed".to_owned()
    } else {
        "HTTP client error".to_owned()
    };
    let e = e.without_url();
    Error::Transport {
        message,
        maybe_sent: !not_sent,
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_first_segment_only() {
        let r = Request::new(Method::POST, "/set/secret-key/value?EX=1");
        assert_eq!(r.endpoint(), "set");
        assert_eq!(Request::new(Method::POST, "/").endpoint(), "");
        assert_eq!(
            Request::new(Method::POST, "/pipeline").endpoint(),
            "pipeline"
        );
    }

    #[test]
    fn request_urls_equal_parsing_base_and_path_together() {
        let bases = [
            "http://127.0.0.1:1",
            "https://eu1-x.upstash.io/",
            "https://proxy.example/upstash/v1",
            "https://proxy.example/upstash/v1/",
            "https://proxy.example/upstash?tenant=1",
        ];
        let paths = [
            "",
            "/",
            "/pipeline",
            "/multi-exec",
            "/set/k%20ey/v?EX=100",
            "/get/a%2Fb",
            "/v2/publish/https%3A%2F%2Fexample.com%2Fa%3Fb%3Dc",
            "/v2/messages?cursor=1&count=2",
            "/query-data/ns?x=%C3%A9",
            // QStash destinations travel raw in the path.
            "/v2/publish/https://example.com/a?b=c&d=%20",
            "/v2/publish/https://example.com/x ",
            "/v2/publish/https://example.com/a b?x=1 ",
            "/v2/publish/https://example.com/a#frag",
            "/v2/publish/https://example.com/\ttab",
        ];
        for base in bases {
            let Ok(t) = Transport::builder(base, Auth::None).build() else {
                panic!("build {base}")
            };
            for path in paths {
                let whole = format!("{}{path}", t.base_url());
                let Ok(expected) = url::Url::parse(&whole) else {
                    panic!("parse {whole}")
                };
                let plain = !base.contains('?') && !path.contains([' ', '\t', '#']);
                assert_eq!(t.request_url(path).is_some(), plain, "{base} + {path}");
                let got = t.request_url(path).or_else(|| url::Url::parse(&whole).ok());
                assert_eq!(got, Some(expected), "{base} + {path}");
            }
        }
    }

    #[test]
    fn debug_redacts_auth() {
        let t = Transport::builder("http://127.0.0.1:1", Auth::bearer("very-secret-token"))
            .build()
            .map(|t| format!("{t:?}"));
        let text = t.unwrap_or_default();
        assert!(text.contains("[redacted]"));
        assert!(!text.contains("very-secret-token"));
    }

    #[tokio::test]
    async fn refused_connection_is_not_sent_and_bounded() {
        // Port 9 on loopback: nothing listens there in the sandbox or CI.
        let t = Transport::builder("http://127.0.0.1:9", Auth::None)
            .retry(RetryPolicy::default().with_max_retries(2))
            .build();
        let Ok(t) = t else { panic!("build") };
        let started = Instant::now();
        let err = t.send(&Request::new(Method::GET, "/")).await;
        assert!(matches!(
            err,
            Err(Error::Transport {
                maybe_sent: false,
                ..
            })
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
