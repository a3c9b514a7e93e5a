//! The client: configuration, sending commands, decoding responses, the sync token.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use upstash_core::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use upstash_core::{Auth, ClientOptions, Request, Response, Transport};

use crate::auto::AutoPipeline;
use crate::command::pipeline_body;
use crate::value::{parse_envelope, parse_envelopes, Envelope};
use crate::{Command, Error, FromValue, Result, ToArgs, Value};

const ENCODING: HeaderName = HeaderName::from_static("upstash-encoding");
const SYNC_TOKEN: HeaderName = HeaderName::from_static("upstash-sync-token");

/// An Upstash Redis REST client.
///
/// Cloning is cheap: clones share the connection pool, the read-your-writes token and the
/// auto-pipeline. Create one per database and pass clones around.
///
/// ```no_run
/// # async fn demo() -> upstash_redis::Result<()> {
/// let redis = upstash_redis::Redis::from_env()?;
/// redis.set("greeting", "hello").await?;
/// let value: Option<String> = redis.get("greeting").await?;
/// assert_eq!(value.as_deref(), Some("hello"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Redis {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    transport: Transport,
    base64: bool,
    read_your_writes: bool,
    sync_token: Mutex<Option<HeaderValue>>,
    pub(crate) auto: Option<AutoPipeline>,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("transport", &self.inner.transport)
            .field("base64", &self.inner.base64)
            .field("read_your_writes", &self.inner.read_your_writes)
            .field("auto_pipelining", &self.inner.auto.is_some())
            .finish()
    }
}

/// Options for [`Redis`]; obtained from [`Redis::builder`].
#[derive(Debug)]
pub struct RedisBuilder {
    url: String,
    token: upstash_core::Secret,
    base64: bool,
    read_your_writes: bool,
    auto_pipelining: bool,
    max_batch: usize,
    max_in_flight: usize,
    options: ClientOptions,
}

impl RedisBuilder {
    /// Decode base64-encoded replies (`Upstash-Encoding: base64`, default on). Turning it off
    /// makes the server replace invalid UTF-8 with U+FFFD: binary values no longer survive.
    pub fn base64(mut self, yes: bool) -> Self {
        self.base64 = yes;
        self
    }

    /// Send the last seen `upstash-sync-token` so reads observe earlier writes (default on).
    pub fn read_your_writes(mut self, yes: bool) -> Self {
        self.read_your_writes = yes;
        self
    }

    /// Coalesce concurrent commands into `/pipeline` requests (default on).
    pub fn auto_pipelining(mut self, yes: bool) -> Self {
        self.auto_pipelining = yes;
        self
    }

    /// Most commands in one auto-pipeline request (default 1000).
    pub fn auto_pipeline_max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    /// Most auto-pipeline requests in flight at once (default 2). Commands issued while all
    /// are busy wait and leave together in the next request; with fewer concurrent callers
    /// than this, every command leaves at once, so there is never an added delay. Fewer,
    /// larger requests cost the server (and this client) less per command: against one
    /// upstash-local at concurrency 64, 2 gave 15-30% more throughput than 8.
    pub fn auto_pipeline_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    upstash_core::client_option_setters!(options);

    /// Builds the client; fails on an invalid URL or token.
    pub fn build(self) -> Result<Redis> {
        upstash_core::env::check_credential("Redis REST token", self.token.expose())?;
        let transport = self
            .options
            .transport_builder(
                self.url,
                Auth::Bearer(self.token),
                concat!("upstash-redis-rs@v", env!("CARGO_PKG_VERSION")),
            )
            .build()?;
        let auto = self
            .auto_pipelining
            .then(|| AutoPipeline::new(self.max_batch, self.max_in_flight));
        Ok(Redis {
            inner: Arc::new(Inner {
                transport,
                base64: self.base64,
                read_your_writes: self.read_your_writes,
                sync_token: Mutex::new(None),
                auto,
            }),
        })
    }
}

impl Redis {
    /// A client for the database at `url` (`https://<name>.upstash.io`) with a REST token,
    /// default options.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Result<Self> {
        Self::builder(url, token).build()
    }

    /// A client from `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN` (falling back to
    /// Vercel's `KV_REST_API_URL` / `KV_REST_API_TOKEN`). The error names the missing variable.
    pub fn from_env() -> Result<Self> {
        Self::builder_from_env()?.build()
    }

    /// A builder initialised from the environment, as [`Redis::from_env`] reads it.
    pub fn builder_from_env() -> Result<RedisBuilder> {
        let url = upstash_core::env::first_of(&["UPSTASH_REDIS_REST_URL", "KV_REST_API_URL"])?;
        let token =
            upstash_core::env::first_of(&["UPSTASH_REDIS_REST_TOKEN", "KV_REST_API_TOKEN"])?;
        Ok(Self::builder(url, token))
    }

    /// A builder with every option at its default.
    pub fn builder(url: impl Into<String>, token: impl Into<String>) -> RedisBuilder {
        RedisBuilder {
            url: url.into(),
            token: upstash_core::Secret::new(token.into()),
            base64: true,
            read_your_writes: true,
            auto_pipelining: true,
            max_batch: 1000,
            max_in_flight: 2,
            options: ClientOptions::default(),
        }
    }

    /// The last `upstash-sync-token` received, to hand to another client instance.
    pub fn sync_token(&self) -> Option<String> {
        self.token_header()
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// Sets the token sent with the next request (from another instance's
    /// [`Redis::sync_token`]), so this client reads that instance's writes.
    pub fn set_sync_token(&self, token: &str) {
        if let Ok(value) = HeaderValue::from_str(token) {
            if let Ok(mut slot) = self.inner.sync_token.lock() {
                *slot = Some(value);
            }
        }
    }

    /// How many HTTP requests the auto-pipeline has sent (0 when auto-pipelining is off):
    /// compare with the number of commands issued to see how well they were batched.
    pub fn auto_pipeline_requests(&self) -> u64 {
        self.inner.auto.as_ref().map_or(0, AutoPipeline::requests)
    }

    /// A command of any name, for commands without a typed method:
    /// `redis.cmd("OBJECT").arg("ENCODING").arg("k").query::<String>().await`.
    pub fn cmd(&self, name: &str) -> Cmd<Value> {
        Cmd::new(self.clone(), Command::from_name(name))
    }

    /// Runs a prepared [`Command`], through the auto-pipeline when it is on.
    pub async fn execute(&self, command: Command) -> Result<Value> {
        match &self.inner.auto {
            Some(auto) if command.is_json_safe() => auto.submit(self, command).await,
            _ => self.send_single(&command).await,
        }
    }

    /// Runs a prepared [`Command`] in a request of its own, never through the auto-pipeline:
    /// for callers that already gather their work into one command (a script deciding many
    /// calls at once), where the auto-pipeline's queue would only add a hop.
    pub async fn execute_alone(&self, command: Command) -> Result<Value> {
        self.send_single(&command).await
    }

    /// The HTTP transport (for streaming requests that bypass the command path).
    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    fn token_header(&self) -> Option<HeaderValue> {
        self.inner.sync_token.lock().ok().and_then(|t| t.clone())
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if self.inner.base64 {
            headers.insert(ENCODING, HeaderValue::from_static("base64"));
        }
        if self.inner.read_your_writes {
            if let Some(token) = self.token_header() {
                headers.insert(SYNC_TOKEN, token);
            }
        }
        headers
    }

    fn remember_token(&self, resp: &Response) {
        if !self.inner.read_your_writes {
            return;
        }
        if let Some(token) = resp.headers.get(SYNC_TOKEN) {
            if let Ok(mut slot) = self.inner.sync_token.lock() {
                *slot = Some(token.clone());
            }
        }
    }

    /// Sends one command on its own request: `POST /` with a JSON body, or path style when an
    /// argument is not UTF-8.
    pub(crate) async fn send_single(&self, command: &Command) -> Result<Value> {
        let mut req = if let Some(body) = command.to_json() {
            Request::post_json("/", body)
        } else {
            let (path, body) = command.to_path_style()?;
            let mut req = Request::new(Method::POST, path);
            req.body = body;
            req.headers.insert(
                upstash_core::http::HeaderName::from_static("content-type"),
                HeaderValue::from_static("application/octet-stream"),
            );
            req
        };
        req.idempotent = command.is_read_only();
        req.headers.extend(self.headers());
        let resp = self.inner.transport.send(&req).await?;
        self.remember_token(&resp);
        match self.decode(&resp, parse_envelope)? {
            Ok(value) => Ok(value),
            Err(message) => Err(Error::redis(message)),
        }
    }

    /// Sends commands as one `/pipeline` (or `/multi-exec`) request; one result per command.
    pub(crate) async fn send_batch(
        &self,
        commands: &[Command],
        transaction: bool,
    ) -> Result<Vec<Result<Value>>> {
        let body = pipeline_body(commands)?;
        let path = if transaction {
            "/multi-exec"
        } else {
            "/pipeline"
        };
        let mut req = Request::post_json(path, body);
        req.idempotent = commands.iter().all(Command::is_read_only);
        req.headers.extend(self.headers());
        let resp = self.inner.transport.send(&req).await?;
        self.remember_token(&resp);
        let items = self.decode(&resp, parse_envelopes)?;
        if items.len() != commands.len() {
            return Err(Error::decode(format!(
                "server returned {} results for {} commands",
                items.len(),
                commands.len()
            )));
        }
        Ok(items
            .into_iter()
            .map(|item| item.map_err(Error::redis))
            .collect())
    }

    /// Turns a response into its parsed body, or the error its status stands for.
    fn decode<T>(&self, resp: &Response, parse: fn(&[u8], bool) -> Result<T, String>) -> Result<T> {
        if resp.status == StatusCode::OK {
            return parse(&resp.body, self.inner.base64).map_err(Error::Decode);
        }
        // Error statuses carry {"error": "..."}; fall back to the raw body otherwise.
        let message = parse_envelope(&resp.body, false)
            .ok()
            .and_then(|env: Envelope| env.err());
        let status = resp.status.as_u16();
        match (status, message) {
            (401 | 403, Some(message)) => Err(upstash_core::Error::Unauthorized {
                status,
                message: upstash_core::snippet(message.as_bytes()),
            }
            .into()),
            (400..=499, Some(message)) if status != 429 => Err(Error::redis(message)),
            (_, Some(message)) => Err(upstash_core::Error::Http {
                status,
                body: upstash_core::snippet(message.as_bytes()),
                retry_after: resp.retry_after(),
            }
            .into()),
            (_, None) => Err(resp.status_error().into()),
        }
    }
}

/// A command ready to send, decoding its reply as `T`. `.await` it, or add arguments first
/// with [`Cmd::arg`].
#[must_use = "a command does nothing until it is awaited"]
pub struct Cmd<T> {
    client: Redis,
    command: Command,
    _reply: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Cmd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.command.fmt(f)
    }
}

impl<T> Cmd<T> {
    pub(crate) fn new(client: Redis, command: Command) -> Self {
        Self {
            client,
            command,
            _reply: PhantomData,
        }
    }

    /// Appends arguments (options the typed method does not cover).
    pub fn arg(mut self, arg: impl ToArgs) -> Self {
        self.command.push_arg(arg);
        self
    }

    /// Sends the command and decodes the reply as `U` instead of `T`.
    pub async fn query<U: FromValue>(self) -> Result<U> {
        let value = self.client.execute(self.command).await?;
        U::from_value(value)
    }

    /// The command that would be sent.
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// Takes the command out (to add it to a pipeline, for example).
    pub fn into_command(self) -> Command {
        self.command
    }
}

impl<T: FromValue + Send + 'static> IntoFuture for Cmd<T> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.query::<T>())
    }
}
