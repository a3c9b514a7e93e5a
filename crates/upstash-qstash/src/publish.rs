//! Publishing: single messages, URL groups, queues (enqueue) and batches.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use upstash_core::http::{HeaderMap, HeaderName, HeaderValue, Method};
use upstash_core::Request;

use crate::client::{non_empty, segment};
use crate::{Client, Error, Result};

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Destination {
    /// One `http(s)://` endpoint; the URL is sent exactly as given (it becomes the `sub`
    /// claim of the signature, so it is never normalised).
    Url(String),
    /// A URL group (topic): one message per endpoint.
    UrlGroup(String),
}

impl Destination {
    /// A single endpoint.
    pub fn url(url: impl Into<String>) -> Self {
        Self::Url(url.into())
    }

    /// A URL group by name.
    pub fn url_group(name: impl Into<String>) -> Self {
        Self::UrlGroup(name.into())
    }

    /// The destination as it goes into the request path: URLs raw (as the official SDKs
    /// send them), group names percent-encoded.
    pub(crate) fn path_part(&self) -> Result<String> {
        match self {
            Self::Url(url) => {
                let parsed = url::Url::parse(url).map_err(|_| {
                    Error::InvalidArgument("destination URL is not a valid URL".into())
                })?;
                if parsed.scheme() != "http" && parsed.scheme() != "https" {
                    return Err(Error::InvalidArgument(
                        "destination URL must start with http:// or https://".into(),
                    ));
                }
                if url.contains('#') {
                    return Err(Error::InvalidArgument(
                        "destination URL must not contain a fragment".into(),
                    ));
                }
                Ok(url.clone())
            }
            Self::UrlGroup(name) => {
                let name = non_empty("URL group name", name)?;
                if !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                {
                    return Err(Error::InvalidArgument(
                        "URL group names may only contain letters, digits, '-', '_' and '.'".into(),
                    ));
                }
                Ok(segment(name))
            }
        }
    }

    /// The text form (`destination` field of batch items and schedules).
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Url(s) | Self::UrlGroup(s) => s,
        }
    }
}

/// Anything with `://` is a URL, anything else a URL-group name.
impl From<&str> for Destination {
    fn from(value: &str) -> Self {
        Self::from(value.to_owned())
    }
}

/// Anything with `://` is a URL (checked to be `http(s)` when sent), anything else a
/// URL-group name.
impl From<String> for Destination {
    fn from(value: String) -> Self {
        if value.contains("://") {
            Self::Url(value)
        } else {
            Self::UrlGroup(value)
        }
    }
}

impl From<url::Url> for Destination {
    fn from(value: url::Url) -> Self {
        Self::Url(value.into())
    }
}

/// A callback (or failure callback) URL with the settings of the callback message itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Callback {
    /// Where QStash reports the outcome.
    pub url: String,
    /// HTTP method of the callback request.
    pub method: Option<Method>,
    /// Retries of the callback message.
    pub retries: Option<u32>,
    /// Per-attempt timeout of the callback request.
    pub timeout: Option<Duration>,
    /// Retry delay expression of the callback message (milliseconds, variable `retried`).
    pub retry_delay: Option<String>,
    /// Headers sent to the callback URL.
    pub headers: Vec<(String, String)>,
}

impl Callback {
    /// A callback to `url` with QStash's defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: None,
            retries: None,
            timeout: None,
            retry_delay: None,
            headers: Vec::new(),
        }
    }

    /// Sets the callback's HTTP method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Sets the callback's retries.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Sets the callback's per-attempt timeout (whole seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the callback's retry delay expression.
    pub fn retry_delay(mut self, expression: impl Into<String>) -> Self {
        self.retry_delay = Some(expression.into());
        self
    }

    /// Adds a header sent to the callback URL.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn write(&self, prefix: &str, h: &mut Headers) -> Result<()> {
        h.put(prefix, &self.url)?;
        if let Some(m) = &self.method {
            h.put(&format!("{prefix}-Method"), m.as_str())?;
        }
        if let Some(r) = self.retries {
            h.put(&format!("{prefix}-Retries"), &r.to_string())?;
        }
        if let Some(t) = self.timeout {
            h.put(&format!("{prefix}-Timeout"), &duration(t))?;
        }
        if let Some(d) = &self.retry_delay {
            h.put(&format!("{prefix}-Retry-Delay"), d)?;
        }
        for (name, value) in &self.headers {
            h.put(&format!("{prefix}-Forward-{name}"), value)?;
        }
        Ok(())
    }
}

impl From<&str> for Callback {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for Callback {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

/// Flow control: at most `parallelism` deliveries in flight and at most `rate` started per
/// `period`, shared by every message with the same key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlowControl {
    /// The key messages share.
    pub key: String,
    /// Most concurrent deliveries.
    pub parallelism: Option<u32>,
    /// Most deliveries started per period.
    pub rate: Option<u32>,
    /// The rate period (default 1 s on the server; whole seconds).
    pub period: Option<Duration>,
}

impl FlowControl {
    /// Flow control for `key`; set at least one of parallelism and rate.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            parallelism: None,
            rate: None,
            period: None,
        }
    }

    /// Sets the parallelism limit.
    pub fn parallelism(mut self, n: u32) -> Self {
        self.parallelism = Some(n);
        self
    }

    /// Sets the rate limit.
    pub fn rate(mut self, n: u32) -> Self {
        self.rate = Some(n);
        self
    }

    /// Sets the rate period.
    pub fn period(mut self, period: Duration) -> Self {
        self.period = Some(period);
        self
    }

    /// The `Upstash-Flow-Control-Value` header: `parallelism=2, rate=10, period=60s`.
    fn value(&self) -> Result<String> {
        non_empty("flow control key", &self.key)?;
        if self.parallelism.is_none() && self.rate.is_none() {
            return Err(Error::InvalidArgument(
                "flow control needs a parallelism or a rate".into(),
            ));
        }
        let mut parts = Vec::new();
        if let Some(p) = self.parallelism {
            parts.push(format!("parallelism={p}"));
        }
        if let Some(r) = self.rate {
            parts.push(format!("rate={r}"));
        }
        if let Some(p) = self.period {
            parts.push(format!("period={}", duration(p)));
        }
        Ok(parts.join(", "))
    }
}

/// Which parts of a message QStash shows as `REDACTED:<sha256>` in the API and console
/// (delivery still uses the real values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redact {
    /// Redact the body.
    pub body: bool,
    /// Redact every header.
    pub all_headers: bool,
    /// Redact these headers.
    pub headers: Vec<String>,
}

impl Redact {
    /// Nothing redacted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Redacts the body.
    pub fn body(mut self) -> Self {
        self.body = true;
        self
    }

    /// Redacts every header.
    pub fn all_headers(mut self) -> Self {
        self.all_headers = true;
        self
    }

    /// Redacts one header.
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.headers.push(name.into());
        self
    }

    fn value(&self) -> String {
        let mut parts = Vec::new();
        if self.body {
            parts.push("body".to_owned());
        }
        if self.all_headers {
            parts.push("header".to_owned());
        }
        for h in &self.headers {
            parts.push(format!("header[{h}]"));
        }
        parts.join(",")
    }
}

/// One message to publish, enqueue, batch or schedule, with every QStash option typed.
///
/// Headers added with [`PublishRequest::header`] are forwarded to the destination
/// (`Upstash-Forward-` is prepended unless the name already starts with `Upstash-`).
#[derive(Clone, Debug)]
pub struct PublishRequest {
    pub(crate) destination: Destination,
    pub(crate) body: Bytes,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    method: Option<Method>,
    delay: Option<Duration>,
    not_before: Option<SystemTime>,
    retries: Option<u32>,
    retry_delay: Option<String>,
    timeout: Option<Duration>,
    callback: Option<Callback>,
    failure_callback: Option<Callback>,
    pub(crate) deduplication_id: Option<String>,
    content_based_deduplication: bool,
    flow_control: Option<FlowControl>,
    labels: Vec<String>,
    redact: Option<Redact>,
}

impl PublishRequest {
    /// A message with an empty body to `destination` (a URL, a URL-group name, or a
    /// [`Destination`]).
    pub fn new(destination: impl Into<Destination>) -> Self {
        Self {
            destination: destination.into(),
            body: Bytes::new(),
            content_type: None,
            headers: Vec::new(),
            method: None,
            delay: None,
            not_before: None,
            retries: None,
            retry_delay: None,
            timeout: None,
            callback: None,
            failure_callback: None,
            deduplication_id: None,
            content_based_deduplication: false,
            flow_control: None,
            labels: Vec::new(),
            redact: None,
        }
    }

    /// The destination.
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Sets the body (raw bytes, delivered unchanged).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::InvalidArgument(format!("cannot serialise body: {e}")))?;
        self.body = Bytes::from(bytes);
        self.content_type = Some("application/json".to_owned());
        Ok(self)
    }

    /// Sets the `Content-Type` stored with the message and sent to the destination.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Adds a header forwarded to the destination.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The HTTP method QStash uses to deliver (default POST).
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Delays delivery (whole seconds; `Upstash-Delay`).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Delivers no earlier than `at` (whole seconds; wins over [`PublishRequest::delay`]).
    pub fn not_before(mut self, at: SystemTime) -> Self {
        self.not_before = Some(at);
        self
    }

    /// How many times a failed delivery is retried (total attempts = 1 + retries).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// The delay between retries as a math expression in milliseconds with the variable
    /// `retried` (e.g. `pow(2, retried) * 1000`).
    pub fn retry_delay(mut self, expression: impl Into<String>) -> Self {
        self.retry_delay = Some(expression.into());
        self
    }

    /// Per-attempt HTTP timeout of the delivery (whole seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Called after each delivery attempt with its outcome.
    pub fn callback(mut self, callback: impl Into<Callback>) -> Self {
        self.callback = Some(callback.into());
        self
    }

    /// Called once when all retries failed.
    pub fn failure_callback(mut self, callback: impl Into<Callback>) -> Self {
        self.failure_callback = Some(callback.into());
        self
    }

    /// Messages with the same id within 10 minutes are accepted once. Also makes the publish
    /// request safe to retry on 5xx.
    pub fn deduplication_id(mut self, id: impl Into<String>) -> Self {
        self.deduplication_id = Some(id.into());
        self
    }

    /// Deduplicate by a hash of destination, body, content type and forwarded headers.
    pub fn content_based_deduplication(mut self, yes: bool) -> Self {
        self.content_based_deduplication = yes;
        self
    }

    /// Flow control shared by every message with the same key.
    pub fn flow_control(mut self, flow_control: FlowControl) -> Self {
        self.flow_control = Some(flow_control);
        self
    }

    /// Adds a label (for filtering logs, DLQ and cancellations).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }

    /// Redacts parts of the message in the API and console.
    pub fn redact(mut self, redact: Redact) -> Self {
        self.redact = Some(redact);
        self
    }

    /// Whether sending the request twice cannot create two messages.
    pub(crate) fn idempotent(&self) -> bool {
        self.deduplication_id.is_some()
    }

    /// The Upstash-* and forwarded headers of this message.
    pub(crate) fn headers(&self) -> Result<HeaderMap> {
        self.headers_with_method(true)
    }

    /// The headers; `Upstash-Method` only when set or `default_method` (POST) is wanted.
    pub(crate) fn headers_with_method(&self, default_method: bool) -> Result<HeaderMap> {
        let mut h = Headers::default();
        if let Some(ct) = &self.content_type {
            h.put("Content-Type", ct)?;
        }
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("upstash-") || lower == "content-type" {
                h.put(name, value)?;
            } else {
                h.put(&format!("Upstash-Forward-{name}"), value)?;
            }
        }
        if default_method || self.method.is_some() {
            h.put(
                "Upstash-Method",
                self.method.as_ref().map_or("POST", Method::as_str),
            )?;
        }
        if let Some(d) = self.delay {
            h.put("Upstash-Delay", &duration(d))?;
        }
        if let Some(at) = self.not_before {
            let secs = at
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            h.put("Upstash-Not-Before", &secs.to_string())?;
        }
        if let Some(r) = self.retries {
            h.put("Upstash-Retries", &r.to_string())?;
        }
        if let Some(d) = &self.retry_delay {
            h.put("Upstash-Retry-Delay", d)?;
        }
        if let Some(t) = self.timeout {
            h.put("Upstash-Timeout", &duration(t))?;
        }
        if let Some(c) = &self.callback {
            c.write("Upstash-Callback", &mut h)?;
        }
        if let Some(c) = &self.failure_callback {
            c.write("Upstash-Failure-Callback", &mut h)?;
        }
        if let Some(id) = &self.deduplication_id {
            h.put(
                "Upstash-Deduplication-Id",
                non_empty("deduplication id", id)?,
            )?;
        }
        if self.content_based_deduplication {
            h.put("Upstash-Content-Based-Deduplication", "true")?;
        }
        if let Some(fc) = &self.flow_control {
            let value = fc.value()?;
            h.put("Upstash-Flow-Control-Key", &fc.key)?;
            h.put("Upstash-Flow-Control-Value", &value)?;
        }
        if !self.labels.is_empty() {
            h.put("Upstash-Label", &self.labels.join(","))?;
        }
        if let Some(r) = &self.redact {
            let v = r.value();
            if !v.is_empty() {
                h.put("Upstash-Redact-Fields", &v)?;
            }
        }
        Ok(h.map)
    }

    /// The request for `POST {prefix}/{destination}`.
    pub(crate) fn to_request(&self, prefix: &str) -> Result<Request> {
        let path = format!("{prefix}/{}", self.destination.path_part()?);
        let mut req = Request::new(Method::POST, path).idempotent(self.idempotent());
        req.headers = self.headers()?;
        req.body = self.body.clone();
        Ok(req)
    }
}

/// `Upstash-Delay`-style duration: whole seconds with an `s`.
pub(crate) fn duration(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// A header map that validates names and values, naming the header (never the value) in
/// errors.
#[derive(Default)]
pub(crate) struct Headers {
    pub(crate) map: HeaderMap,
}

impl Headers {
    pub(crate) fn put(&mut self, name: &str, value: &str) -> Result<()> {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::InvalidArgument("invalid header name".into()))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::InvalidArgument(format!("invalid value for header {header}")))?;
        self.map.append(header, value);
        Ok(())
    }
}

/// One created message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PublishedMessage {
    /// The message id (`msg_...`).
    pub message_id: String,
    /// The endpoint URL (absent for some API destinations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `true` when an earlier message with the same deduplication id or content was found;
    /// `message_id` is then that message's id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deduplicated: bool,
}

/// The answer to a publish: one message for a URL, one per endpoint for a URL group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum PublishResponse {
    /// A URL destination.
    Single(PublishedMessage),
    /// A URL-group destination: one message per endpoint.
    UrlGroup(Vec<PublishedMessage>),
}

impl PublishResponse {
    /// All created messages.
    pub fn messages(&self) -> &[PublishedMessage] {
        match self {
            Self::Single(m) => std::slice::from_ref(m),
            Self::UrlGroup(v) => v,
        }
    }

    /// The id of the (first) message.
    pub fn message_id(&self) -> Option<&str> {
        self.messages().first().map(|m| m.message_id.as_str())
    }
}

/// One entry of a batch: a message, optionally enqueued.
#[derive(Clone, Debug)]
pub struct BatchItem {
    request: PublishRequest,
    queue: Option<String>,
}

impl BatchItem {
    /// A message published directly.
    pub fn new(request: PublishRequest) -> Self {
        Self {
            request,
            queue: None,
        }
    }

    /// A message enqueued into `queue`.
    pub fn queued(queue: impl Into<String>, request: PublishRequest) -> Self {
        Self {
            request,
            queue: Some(queue.into()),
        }
    }
}

impl From<PublishRequest> for BatchItem {
    fn from(request: PublishRequest) -> Self {
        Self::new(request)
    }
}

/// One item of the `/v2/batch` body, as it goes on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchItemWire {
    /// URL or URL-group name.
    pub destination: String,
    /// Upstash-* and forwarded headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body as text (batch bodies are JSON strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Queue to enqueue into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

impl BatchItem {
    pub(crate) fn to_wire(&self) -> Result<BatchItemWire> {
        let req = &self.request;
        req.destination.path_part()?;
        let map = req.headers()?;
        let mut headers = std::collections::BTreeMap::new();
        for (name, value) in &map {
            let v = value
                .to_str()
                .map_err(|_| Error::InvalidArgument(format!("header {name} is not text")))?;
            headers.insert(name.as_str().to_owned(), v.to_owned());
        }
        let body = if req.body.is_empty() {
            None
        } else {
            Some(String::from_utf8(req.body.to_vec()).map_err(|_| {
                Error::InvalidArgument(
                    "batch bodies must be UTF-8 (the batch API carries them as JSON strings)"
                        .into(),
                )
            })?)
        };
        if let Some(q) = &self.queue {
            non_empty("queue name", q)?;
        }
        Ok(BatchItemWire {
            destination: req.destination.as_str().to_owned(),
            headers,
            body,
            queue: self.queue.clone(),
        })
    }
}

impl Client {
    /// Publishes a message to a URL or a URL group (`POST /v2/publish/{destination}`).
    ///
    /// Not retried on 5xx unless the message has a deduplication id.
    pub async fn publish(&self, request: PublishRequest) -> Result<PublishResponse> {
        self.json(request.to_request("/v2/publish")?).await
    }

    /// Publishes `body` as JSON to `destination` with default options.
    pub async fn publish_json<T: Serialize + ?Sized>(
        &self,
        destination: impl Into<Destination>,
        body: &T,
    ) -> Result<PublishResponse> {
        self.publish(PublishRequest::new(destination).json(body)?)
            .await
    }

    /// Enqueues a message into `queue` (`POST /v2/enqueue/{queue}/{destination}`); the queue
    /// is created on first use with parallelism 1.
    pub async fn enqueue(&self, queue: &str, request: PublishRequest) -> Result<PublishResponse> {
        let prefix = format!("/v2/enqueue/{}", segment(non_empty("queue name", queue)?));
        self.json(request.to_request(&prefix)?).await
    }

    /// Enqueues `body` as JSON with default options.
    pub async fn enqueue_json<T: Serialize + ?Sized>(
        &self,
        queue: &str,
        destination: impl Into<Destination>,
        body: &T,
    ) -> Result<PublishResponse> {
        self.enqueue(queue, PublishRequest::new(destination).json(body)?)
            .await
    }

    /// Publishes several messages in one request (`POST /v2/batch`); the answer has one
    /// entry per item, in order. Bodies must be UTF-8. Retried on 5xx only when every item
    /// has a deduplication id.
    pub async fn batch(
        &self,
        items: impl IntoIterator<Item = impl Into<BatchItem>>,
    ) -> Result<Vec<PublishResponse>> {
        let items: Vec<BatchItem> = items.into_iter().map(Into::into).collect();
        if items.is_empty() {
            return Err(Error::InvalidArgument("batch is empty".into()));
        }
        let idempotent = items.iter().all(|i| i.request.idempotent());
        let wire = items
            .iter()
            .map(BatchItem::to_wire)
            .collect::<Result<Vec<_>>>()?;
        let req =
            crate::client::json_request(Method::POST, "/v2/batch", &wire)?.idempotent(idempotent);
        let resp = self.send(req).await?;
        // A single object is wrapped, as the JS SDK does.
        match crate::client::decode::<Vec<PublishResponse>>(&resp) {
            Ok(v) => Ok(v),
            Err(e) => crate::client::decode::<PublishResponse>(&resp)
                .map(|one| vec![one])
                .map_err(|_| e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(map: &HeaderMap, name: &str) -> Option<String> {
        map.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[test]
    fn destination_from_str() {
        assert_eq!(
            Destination::from("https://a.b/c"),
            Destination::Url("https://a.b/c".into())
        );
        assert_eq!(
            Destination::from("my-group"),
            Destination::UrlGroup("my-group".into())
        );
        assert!(Destination::url("ftp://x").path_part().is_err());
        assert!(Destination::url("not a url").path_part().is_err());
        assert!(Destination::url_group("").path_part().is_err());
        assert!(Destination::url_group("a b").path_part().is_err());
        assert!(Destination::from("ftp://x").path_part().is_err());
        assert_eq!(
            Destination::url_group("a-b_c.1")
                .path_part()
                .ok()
                .as_deref(),
            Some("a-b_c.1")
        );
    }

    #[test]
    fn flow_control_needs_a_limit() {
        let r = PublishRequest::new("https://a.b").flow_control(FlowControl::new("k"));
        assert!(matches!(r.headers(), Err(Error::InvalidArgument(_))));
        let r = PublishRequest::new("https://a.b").flow_control(FlowControl::new("").rate(1));
        assert!(r.headers().is_err());
    }

    #[test]
    fn invalid_header_value_names_the_header_only() {
        let r = PublishRequest::new("https://a.b").header("X-Token", "line\nbreak-secret");
        let err = r.headers().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("upstash-forward-x-token"), "{err}");
        assert!(!err.contains("secret"));
    }

    #[test]
    fn default_method_is_post() {
        let h = PublishRequest::new("https://a.b")
            .headers()
            .unwrap_or_default();
        assert_eq!(header(&h, "upstash-method").as_deref(), Some("POST"));
    }
}
