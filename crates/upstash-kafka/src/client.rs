//! The [`Kafka`] client and its builder; request building and response decoding.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use upstash_core::http::Method;
use upstash_core::{Auth, ClientOptions, Request, Response, Secret, Transport};

#[cfg(doc)]
use upstash_core::RetryPolicy;

use crate::{Admin, Consumer, Error, Producer, Result};

/// Characters kept as they are in a path segment; everything else is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Default per-request timeout (long polls get their poll time added on top).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for one Upstash Kafka cluster's REST API.
///
/// Cloning is cheap; clones share the HTTP connection pool. [`Kafka::producer`],
/// [`Kafka::consumer`] and [`Kafka::admin`] are views on the same client.
///
/// ```no_run
/// # async fn demo() -> upstash_kafka::Result<()> {
/// use upstash_kafka::Kafka;
/// let kafka = Kafka::from_env()?;
/// let meta = kafka.producer().produce("greetings", "hello").await?;
/// println!("written at {}/{}@{}", meta.topic, meta.partition, meta.offset);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Kafka {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    /// The per-request timeout the transport was built with.
    pub(crate) timeout: Option<Duration>,
}

impl fmt::Debug for Kafka {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kafka")
            .field("transport", &self.inner.transport)
            .finish()
    }
}

/// Options for [`Kafka`]; from [`Kafka::builder`] or [`Kafka::builder_from_env`].
///
/// Setters: `retry`, `timeout` (default 30 s per request; long polls wait their poll timeout
/// on top), `telemetry` and `http_client`.
///
/// Retries: whatever the policy, 4xx answers (bad credentials, bad topic, unknown consumer)
/// fail at once. A request that never reached the server and a 429 are retried; a 5xx, a
/// timeout or a lost response is retried only for requests that are safe to repeat (fetch,
/// committed, offsets, metadata, commits). Producing and consuming are **not** repeated after
/// an unknown outcome, because a repeat could write a record twice or skip a batch; set
/// [`RetryPolicy::retry_unknown_outcome`] to accept duplicates instead.
#[derive(Debug)]
pub struct KafkaBuilder {
    url: String,
    username: String,
    password: Secret,
    options: ClientOptions,
}

impl KafkaBuilder {
    upstash_core::client_option_setters!(options);

    /// Builds the client; fails on an invalid URL or credential.
    pub fn build(self) -> Result<Kafka> {
        upstash_core::env::check_credential("Kafka REST username", &self.username)?;
        upstash_core::env::check_credential("Kafka REST password", self.password.expose())?;
        let timeout = self.options.timeout;
        let transport = self
            .options
            .transport_builder(
                self.url,
                Auth::basic(self.username, self.password),
                concat!("upstash-kafka-rs@v", env!("CARGO_PKG_VERSION")),
            )
            .build()?;
        Ok(Kafka {
            inner: Arc::new(Inner { transport, timeout }),
        })
    }
}

impl Kafka {
    /// A client for the cluster at `url` (e.g. `https://<name>-rest-kafka.upstash.io`) with its
    /// REST username and password.
    pub fn new(
        url: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self> {
        Self::builder(url, username, password).build()
    }

    /// A client from `UPSTASH_KAFKA_REST_URL`, `UPSTASH_KAFKA_REST_USERNAME` and
    /// `UPSTASH_KAFKA_REST_PASSWORD`; the error names the missing variable.
    pub fn from_env() -> Result<Self> {
        Self::builder_from_env()?.build()
    }

    /// A builder initialised from the environment (see [`Kafka::from_env`]).
    pub fn builder_from_env() -> Result<KafkaBuilder> {
        let url = upstash_core::env::var("UPSTASH_KAFKA_REST_URL")?;
        let username = upstash_core::env::var("UPSTASH_KAFKA_REST_USERNAME")?;
        let password = upstash_core::env::var("UPSTASH_KAFKA_REST_PASSWORD")?;
        Ok(Self::builder(url, username, password))
    }

    /// A builder with every option at its default.
    pub fn builder(
        url: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> KafkaBuilder {
        KafkaBuilder {
            url: url.into(),
            username: username.into(),
            password: Secret::new(password.into()),
            options: ClientOptions::with_timeout(Some(DEFAULT_TIMEOUT)),
        }
    }

    /// The producer API.
    pub fn producer(&self) -> Producer {
        Producer {
            kafka: self.clone(),
        }
    }

    /// The consumer API.
    pub fn consumer(&self) -> Consumer {
        Consumer {
            kafka: self.clone(),
        }
    }

    /// The admin and metadata API.
    pub fn admin(&self) -> Admin {
        Admin {
            kafka: self.clone(),
        }
    }

    /// The base URL, without a trailing `/`.
    pub fn url(&self) -> &str {
        self.inner.transport.base_url()
    }

    /// Sends a request and decodes a JSON success body as `T`.
    pub(crate) async fn call<T: DeserializeOwned>(&self, req: Request) -> Result<T> {
        let resp = self.inner.transport.send(&req).await?;
        decode(&resp)
    }

    /// Sends a request whose success body is `{"result": "Success", ..}` (or anything).
    pub(crate) async fn call_unit(&self, req: Request) -> Result<()> {
        let resp = self.inner.transport.send(&req).await?;
        check_status(&resp)
    }

    /// The timeout for a request that long-polls for `poll`.
    pub(crate) fn long_poll_timeout(&self, poll: Option<Duration>) -> Option<Duration> {
        self.inner
            .timeout
            .map(|t| t + poll.unwrap_or(Duration::from_secs(1)))
    }
}

/// `/{parts[0]}/{parts[1]}/...` with every part percent-encoded.
pub(crate) fn path(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        out.push('/');
        out.extend(utf8_percent_encode(part, SEGMENT));
    }
    out
}

/// Checks a topic, group or instance name before it goes into a path or body.
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidInput(format!("the {what} is empty")));
    }
    Ok(())
}

/// A `POST` with a JSON body.
pub(crate) fn json_request(path: String, body: &impl Serialize) -> Result<Request> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| Error::InvalidInput(format!("cannot serialise the request: {e}")))?;
    Ok(Request::post_json(path, bytes))
}

/// A request with no body (`GET`, or `POST` with `Content-Type: application/json` like the
/// official SDK).
pub(crate) fn empty_request(method: Method, path: String) -> Request {
    let mut req = Request::new(method, path);
    req.headers.insert(
        upstash_core::http::HeaderName::from_static("content-type"),
        upstash_core::http::HeaderValue::from_static("application/json"),
    );
    req
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// The typed error for a non-success response.
pub(crate) fn error_of(resp: &Response) -> Error {
    let status = resp.status.as_u16();
    match serde_json::from_slice::<ErrorBody>(&resp.body) {
        Ok(e) => Error::from_api(status, upstash_core::snippet(e.error.as_bytes())),
        Err(_) if status == 401 || status == 403 => Error::Unauthorized {
            status,
            message: upstash_core::snippet(&resp.body),
        },
        Err(_) => Error::Core(resp.status_error()),
    }
}

pub(crate) fn check_status(resp: &Response) -> Result<()> {
    if resp.status.is_success() {
        Ok(())
    } else {
        Err(error_of(resp))
    }
}

/// Decodes a success body as `T`, or the error body as a typed error.
pub(crate) fn decode<T: DeserializeOwned>(resp: &Response) -> Result<T> {
    check_status(resp)?;
    decode_body(&resp.body)
}

pub(crate) fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        message: e.to_string(),
        body_snippet: upstash_core::snippet(body),
    })
}

/// A response that is one object or an array of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    /// An array.
    Many(Vec<T>),
    /// A single object.
    One(T),
}

impl<T> OneOrMany<T> {
    pub(crate) fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(one) => vec![one],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use upstash_core::http::{HeaderMap, StatusCode};

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec().into(),
        }
    }

    #[test]
    fn paths_are_percent_encoded() {
        assert_eq!(path(&["produce", "a.b_c-d"]), "/produce/a.b_c-d");
        assert_eq!(
            path(&["consume", "g/1", "i d?x"]),
            "/consume/g%2F1/i%20d%3Fx"
        );
        assert_eq!(path(&["produce", "t", "hé"]), "/produce/t/h%C3%A9");
    }

    #[test]
    fn errors_map_by_status() {
        let e = error_of(&resp(400, r#"{"error":"Invalid topic name","status":400}"#));
        assert!(matches!(&e, Error::BadRequest { message } if message == "Invalid topic name"));
        let e = error_of(&resp(401, r#"{"error":"Unauthorized","status":401}"#));
        assert!(e.is_unauthorized());
        let e = error_of(&resp(401, "Unauthorized"));
        assert!(matches!(e, Error::Unauthorized { status: 401, .. }));
        let e = error_of(&resp(404, r#"{"error":"consumer not found","status":404}"#));
        assert!(e.is_not_found());
        assert_eq!(e.server_message(), Some("consumer not found"));
        let e = error_of(&resp(413, r#"{"error":"too large","status":413}"#));
        assert!(matches!(e, Error::PayloadTooLarge { .. }));
        let e = error_of(&resp(500, r#"{"error":"broker down","status":500}"#));
        assert!(matches!(e, Error::Api { status: 500, .. }));
        let e = error_of(&resp(502, "<html>bad gateway</html>"));
        assert!(matches!(
            e,
            Error::Core(upstash_core::Error::Http { status: 502, .. })
        ));
    }

    #[test]
    fn decode_reports_body_snippet() {
        let e = decode::<Vec<i32>>(&resp(200, "<html>")).err();
        assert!(
            matches!(e, Some(Error::Decode { ref body_snippet, .. }) if body_snippet == "<html>")
        );
    }

    #[test]
    fn one_or_many() {
        let one: OneOrMany<i32> = serde_json::from_str("1").unwrap_or(OneOrMany::Many(vec![]));
        assert_eq!(one.into_vec(), vec![1]);
        let many: OneOrMany<i32> = serde_json::from_str("[1,2]").unwrap_or(OneOrMany::One(0));
        assert_eq!(many.into_vec(), vec![1, 2]);
    }

    #[test]
    fn debug_hides_password_and_builder_checks_credentials() {
        let k = Kafka::new("http://127.0.0.1:1", "user", "s3cret-pass");
        let text = format!("{k:?}");
        assert!(!text.contains("s3cret-pass"), "{text}");
        let b = Kafka::builder("http://127.0.0.1:1", "user", "s3cret-pass");
        assert!(!format!("{b:?}").contains("s3cret-pass"));
        assert!(matches!(
            Kafka::new("http://127.0.0.1:1", "user", "pa ss"),
            Err(Error::Core(upstash_core::Error::Config(_)))
        ));
        assert!(Kafka::new("ftp://x", "u", "p").is_err());
    }

    #[test]
    fn from_env_names_the_missing_variable() {
        // Only meaningful when the variables are unset (they are in CI's test runs).
        if std::env::var_os("UPSTASH_KAFKA_REST_URL").is_none() {
            let err = Kafka::from_env().map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(
                err,
                Err("environment variable UPSTASH_KAFKA_REST_URL is not set".to_owned())
            );
        }
    }
}
