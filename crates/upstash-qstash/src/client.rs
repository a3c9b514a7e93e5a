//! The client: configuration and the request helpers every API area uses.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use upstash_core::http::{HeaderName, HeaderValue, Method};
use upstash_core::{Auth, ClientOptions, Request, Response, Secret, Transport};

use crate::{Error, Result};

/// Default QStash API base URL.
pub const DEFAULT_BASE_URL: &str = "https://qstash.upstash.io";
/// Environment variable holding the QStash token.
pub const TOKEN_ENV: &str = "QSTASH_TOKEN";
/// Environment variable holding the QStash base URL (optional).
pub const URL_ENV: &str = "QSTASH_URL";

/// Characters escaped in a path segment (names and ids): everything but unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a name or id for use as one path segment.
pub(crate) fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Refuses an empty id before anything is sent (an empty id could otherwise turn a single
/// delete into a bulk one).
pub(crate) fn non_empty<'a>(what: &str, value: &'a str) -> Result<&'a str> {
    if value.trim().is_empty() {
        Err(Error::InvalidArgument(format!("{what} is empty")))
    } else {
        Ok(value)
    }
}

/// A QStash v2 client.
///
/// Cloning is cheap: clones share one connection pool. Publishing is retried only when it
/// cannot create a duplicate: the request never left, the server answered 429, or the
/// message carries a deduplication id.
///
/// ```no_run
/// use std::time::Duration;
/// use upstash_qstash::{Client, PublishRequest};
///
/// # async fn demo() -> upstash_qstash::Result<()> {
/// let qstash = Client::from_env()?; // QSTASH_TOKEN, QSTASH_URL
/// let sent = qstash
///     .publish(
///         PublishRequest::new("https://example.com/api/jobs")
///             .json(&serde_json::json!({"job": 42}))?
///             .delay(Duration::from_secs(60))
///             .retries(3),
///     )
///     .await?;
/// println!("{}", sent.message_id().unwrap_or_default());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) transport: Transport,
    /// Unit tests record requests here instead of sending them.
    #[cfg(test)]
    pub(crate) hook: Option<std::sync::Arc<crate::tests::Hook>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("transport", &self.transport)
            .finish()
    }
}

/// Options for [`Client`]; obtained from [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    token: Secret,
    base_url: String,
    options: ClientOptions,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ClientBuilder {
    /// The API base URL (default `https://qstash.upstash.io`; e.g. the US region
    /// `https://qstash-us-east-1.upstash.io` or a local server). A trailing `/` and a
    /// mistaken `/v2/publish` suffix are removed.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    upstash_core::client_option_setters!(options);

    /// Adds a header sent with every request (for example an `Upstash-Forward-*` header
    /// every message should carry).
    pub fn default_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Builds the client; fails on an invalid URL or token.
    pub fn build(self) -> Result<Client> {
        upstash_core::env::check_credential("QStash token", self.token.expose())?;
        let base = normalize_base_url(&self.base_url);
        let mut builder = self.options.transport_builder(
            base,
            Auth::Bearer(self.token),
            concat!("upstash-qstash-rs@v", env!("CARGO_PKG_VERSION")),
        );
        for (name, value) in self.headers {
            builder = builder.default_header(name, value);
        }
        Ok(Client {
            transport: builder.build()?,
            #[cfg(test)]
            hook: None,
        })
    }
}

/// Trims, drops trailing `/` and a `/v2/publish` suffix (a common misconfiguration of
/// `QSTASH_URL`).
fn normalize_base_url(url: &str) -> String {
    let mut base = url.trim().trim_end_matches('/');
    for suffix in ["/v2/publish", "/v2"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped.trim_end_matches('/');
        }
    }
    base.to_owned()
}

impl Client {
    /// A client for `https://qstash.upstash.io` with a QStash token and default options.
    pub fn new(token: impl Into<String>) -> Result<Self> {
        Self::builder(token).build()
    }

    /// A client from `QSTASH_TOKEN` and, when set, `QSTASH_URL`.
    pub fn from_env() -> Result<Self> {
        Self::builder_from_env()?.build()
    }

    /// A builder initialised from the environment, as [`Client::from_env`] reads it.
    pub fn builder_from_env() -> Result<ClientBuilder> {
        let token = upstash_core::env::var(TOKEN_ENV)?;
        let mut builder = Self::builder(token);
        if let Some(url) = upstash_core::env::optional(URL_ENV) {
            builder = builder.base_url(url);
        }
        Ok(builder)
    }

    /// A builder with every option at its default.
    pub fn builder(token: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            token: Secret::new(token.into()),
            base_url: DEFAULT_BASE_URL.to_owned(),
            options: ClientOptions::default(),
            headers: Vec::new(),
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// Sends a request; a non-2xx answer becomes an [`Error`].
    pub(crate) async fn send(&self, req: Request) -> Result<Response> {
        #[cfg(test)]
        let resp = match &self.hook {
            Some(hook) => hook.answer(req),
            None => self.transport.send(&req).await?,
        };
        #[cfg(not(test))]
        let resp = self.transport.send(&req).await?;
        if resp.status.is_success() {
            Ok(resp)
        } else {
            Err(Error::from_response(
                resp.status.as_u16(),
                &resp.headers,
                &resp.body,
            ))
        }
    }

    /// Sends a request and decodes its JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, req: Request) -> Result<T> {
        let resp = self.send(req).await?;
        decode(&resp)
    }

    /// Sends a request whose answer body does not matter.
    pub(crate) async fn empty(&self, req: Request) -> Result<()> {
        self.send(req).await.map(drop)
    }
}

/// Decodes a JSON response body.
pub(crate) fn decode<T: DeserializeOwned>(resp: &Response) -> Result<T> {
    serde_json::from_slice(&resp.body).map_err(|e| Error::Decode {
        status: resp.status.as_u16(),
        message: e.to_string(),
    })
}

/// A bodyless request; GETs are idempotent (5xx may be retried).
pub(crate) fn request(method: Method, path: impl Into<String>) -> Request {
    let idempotent = method == Method::GET;
    Request::new(method, path).idempotent(idempotent)
}

/// A JSON request.
pub(crate) fn json_request<B: serde::Serialize + ?Sized>(
    method: Method,
    path: impl Into<String>,
    body: &B,
) -> Result<Request> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| Error::InvalidArgument(format!("cannot serialise request body: {e}")))?;
    let mut req = Request::post_json(path, bytes);
    req.method = method;
    Ok(req)
}

/// Appends `key=value` query pairs (values percent-encoded) to a path.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(&'static str, String)>,
}

impl Query {
    pub(crate) fn push(&mut self, key: &'static str, value: impl Into<String>) {
        self.pairs.push((key, value.into()));
    }

    pub(crate) fn push_opt(&mut self, key: &'static str, value: Option<impl ToString>) {
        if let Some(v) = value {
            self.pairs.push((key, v.to_string()));
        }
    }

    pub(crate) fn append_to(&self, path: &str) -> String {
        if self.pairs.is_empty() {
            return path.to_owned();
        }
        let mut out = String::from(path);
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(&segment(v));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_repairs() {
        assert_eq!(
            normalize_base_url("https://qstash.upstash.io/"),
            "https://qstash.upstash.io"
        );
        assert_eq!(
            normalize_base_url(" https://qstash.upstash.io/v2/publish/ "),
            "https://qstash.upstash.io"
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn segments_and_queries() {
        assert_eq!(segment("my queue/1"), "my%20queue%2F1");
        assert_eq!(segment("a-b_c.d~e"), "a-b_c.d~e");
        let mut q = Query::default();
        q.push("url", "https://x/y?z=1");
        q.push("url", "b");
        q.push_opt("count", Some(5));
        q.push_opt("cursor", None::<u32>);
        assert_eq!(
            q.append_to("/v2/dlq"),
            "/v2/dlq?url=https%3A%2F%2Fx%2Fy%3Fz%3D1&url=b&count=5"
        );
    }

    #[test]
    fn debug_hides_token() {
        let c = Client::new("qstash-secret-token").map(|c| format!("{c:?}"));
        let text = c.unwrap_or_default();
        assert!(!text.contains("qstash-secret-token"));
        assert!(text.contains("qstash.upstash.io"));
    }

    #[test]
    fn empty_ids_refused() {
        assert!(non_empty("message id", " ").is_err());
        assert!(non_empty("message id", "msg_1").is_ok());
    }
}
