//! Management endpoints: schedules, URL groups, queues, messages, DLQ, logs, signing keys,
//! flow control.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{self, Stream};
use serde::Serialize;
use upstash_core::http::Method;

use crate::client::{json_request, non_empty, request, segment, Query};
use crate::publish::Headers;
use crate::types::*;
use crate::{Client, Error, PublishRequest, Result};

/// Filters for logs, the DLQ and bulk cancellation. Several values of one field match any
/// of them; different fields must all match.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Filter {
    /// Message ids.
    pub message_ids: Vec<String>,
    /// Destination URLs.
    pub urls: Vec<String>,
    /// URL groups.
    pub url_groups: Vec<String>,
    /// Queues.
    pub queues: Vec<String>,
    /// Schedules.
    pub schedule_ids: Vec<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// Flow-control keys.
    pub flow_control_keys: Vec<String>,
    /// Publisher IPs.
    pub caller_ips: Vec<String>,
    /// Message states (logs only).
    pub states: Vec<MessageState>,
    /// Response statuses (DLQ only).
    pub response_statuses: Vec<u16>,
    /// Destination hosts (logs and cancel only).
    pub hosts: Vec<String>,
    /// Destination paths (logs and cancel only).
    pub paths: Vec<String>,
    /// Not before this time.
    pub from: Option<SystemTime>,
    /// Not after this time.
    pub to: Option<SystemTime>,
}

macro_rules! filter_setters {
    ($($(#[$m:meta])* $fn:ident => $field:ident: $ty:ty,)*) => {
        $(
            $(#[$m])*
            pub fn $fn(mut self, value: impl Into<$ty>) -> Self {
                self.$field.push(value.into());
                self
            }
        )*
    };
}

impl Filter {
    /// Matches everything.
    pub fn new() -> Self {
        Self::default()
    }

    filter_setters! {
        /// Adds a message id.
        message_id => message_ids: String,
        /// Adds a destination URL.
        url => urls: String,
        /// Adds a URL group.
        url_group => url_groups: String,
        /// Adds a queue.
        queue => queues: String,
        /// Adds a schedule id.
        schedule_id => schedule_ids: String,
        /// Adds a label.
        label => labels: String,
        /// Adds a flow-control key.
        flow_control_key => flow_control_keys: String,
        /// Adds a publisher IP.
        caller_ip => caller_ips: String,
        /// Adds a state (logs).
        state => states: MessageState,
        /// Adds a response status (DLQ).
        response_status => response_statuses: u16,
        /// Adds a host.
        host => hosts: String,
        /// Adds a path.
        path => paths: String,
    }

    /// Only events/messages at or after `at`.
    pub fn from(mut self, at: SystemTime) -> Self {
        self.from = Some(at);
        self
    }

    /// Only events/messages at or before `at`.
    pub fn to(mut self, at: SystemTime) -> Self {
        self.to = Some(at);
        self
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    fn write(&self, q: &mut Query, message_id_key: &'static str) {
        let each = |q: &mut Query, key: &'static str, values: &[String]| {
            for v in values {
                q.push(key, v.clone());
            }
        };
        each(q, message_id_key, &self.message_ids);
        each(q, "url", &self.urls);
        each(q, "topicName", &self.url_groups);
        each(q, "queueName", &self.queues);
        each(q, "scheduleId", &self.schedule_ids);
        each(q, "label", &self.labels);
        each(q, "flowControlKey", &self.flow_control_keys);
        each(q, "callerIp", &self.caller_ips);
        each(q, "host", &self.hosts);
        each(q, "path", &self.paths);
        for s in &self.states {
            q.push("state", s.as_str());
        }
        for s in &self.response_statuses {
            q.push("responseStatus", s.to_string());
        }
        let ms = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        };
        q.push_opt("fromDate", self.from.map(ms));
        q.push_opt("toDate", self.to.map(ms));
    }
}

/// A page position: `cursor` from the previous page and how many items to return.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// Cursor returned by the previous page.
    pub cursor: Option<String>,
    /// Page size (server default when unset).
    pub count: Option<u32>,
}

impl Page {
    /// The first page with the server's default size.
    pub fn first() -> Self {
        Self::default()
    }

    /// Continues after `cursor`.
    pub fn after(cursor: impl Into<String>) -> Self {
        Self {
            cursor: Some(cursor.into()),
            count: None,
        }
    }

    /// Sets the page size.
    pub fn count(mut self, count: u32) -> Self {
        self.count = Some(count);
        self
    }

    fn write(&self, q: &mut Query) {
        q.push_opt("cursor", self.cursor.clone().filter(|c| !c.is_empty()));
        q.push_opt("count", self.count);
    }
}

/// Turns a page-fetching function into a stream of items that follows the cursor until the
/// server stops returning one.
fn paginate<T, F, Fut>(fetch: F) -> impl Stream<Item = Result<T>> + Send
where
    T: Send + 'static,
    F: FnMut(Option<String>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>)>> + Send,
{
    struct State<T, F> {
        fetch: F,
        buffer: VecDeque<T>,
        cursor: Option<String>,
        started: bool,
        done: bool,
    }
    let state = State {
        fetch,
        buffer: VecDeque::new(),
        cursor: None,
        started: false,
        done: false,
    };
    stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.buffer.pop_front() {
                return Some((Ok(item), s));
            }
            if s.done {
                return None;
            }
            if s.started && s.cursor.is_none() {
                return None;
            }
            s.started = true;
            let previous = s.cursor.clone();
            match (s.fetch)(s.cursor.take()).await {
                Ok((items, next)) => {
                    let next = next.filter(|c| !c.is_empty());
                    // A server that repeats the cursor with an empty page would loop forever.
                    if next.is_none() || (items.is_empty() && next == previous) {
                        s.done = true;
                    }
                    s.cursor = next;
                    s.buffer.extend(items);
                }
                Err(e) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
            }
        }
    })
}

/// A schedule to create: a cron expression and the message each firing publishes.
#[derive(Clone, Debug)]
pub struct ScheduleRequest {
    cron: String,
    message: PublishRequest,
    schedule_id: Option<String>,
    queue: Option<String>,
}

impl ScheduleRequest {
    /// Publishes `message` on `cron` (5 fields, UTC, optional `CRON_TZ=<zone> ` prefix).
    pub fn new(cron: impl Into<String>, message: PublishRequest) -> Self {
        Self {
            cron: cron.into(),
            message,
            schedule_id: None,
            queue: None,
        }
    }

    /// Creates or overwrites the schedule with this id (every field is replaced).
    pub fn schedule_id(mut self, id: impl Into<String>) -> Self {
        self.schedule_id = Some(id.into());
        self
    }

    /// Enqueues each firing's message into `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }
}

/// Schedules: `client.schedules()`.
#[derive(Clone, Copy, Debug)]
pub struct Schedules<'a> {
    client: &'a Client,
}

impl Schedules<'_> {
    /// Creates (or, with a schedule id, overwrites) a schedule.
    pub async fn create(&self, schedule: ScheduleRequest) -> Result<ScheduleCreated> {
        let cron = non_empty("cron expression", &schedule.cron)?;
        let mut req = schedule.message.to_request("/v2/schedules")?;
        let mut h = Headers {
            map: std::mem::take(&mut req.headers),
        };
        h.put("Upstash-Cron", cron.trim())?;
        if let Some(id) = &schedule.schedule_id {
            h.put("Upstash-Schedule-Id", non_empty("schedule id", id)?)?;
            req.idempotent = true; // an upsert by id
        }
        if let Some(q) = &schedule.queue {
            h.put("Upstash-Queue-Name", non_empty("queue name", q)?)?;
        }
        req.headers = h.map;
        self.client.json(req).await
    }

    /// Lists all schedules.
    pub async fn list(&self) -> Result<Vec<Schedule>> {
        self.client
            .json(request(Method::GET, "/v2/schedules"))
            .await
    }

    /// Gets one schedule.
    pub async fn get(&self, id: &str) -> Result<Schedule> {
        let path = format!("/v2/schedules/{}", segment(non_empty("schedule id", id)?));
        self.client.json(request(Method::GET, path)).await
    }

    /// Deletes a schedule.
    pub async fn delete(&self, id: &str) -> Result<()> {
        let path = format!("/v2/schedules/{}", segment(non_empty("schedule id", id)?));
        self.client.empty(request(Method::DELETE, path)).await
    }

    /// Pauses a schedule (idempotent).
    pub async fn pause(&self, id: &str) -> Result<()> {
        let path = format!(
            "/v2/schedules/{}/pause",
            segment(non_empty("schedule id", id)?)
        );
        self.client
            .empty(request(Method::PATCH, path).idempotent(true))
            .await
    }

    /// Resumes a schedule (idempotent).
    pub async fn resume(&self, id: &str) -> Result<()> {
        let path = format!(
            "/v2/schedules/{}/resume",
            segment(non_empty("schedule id", id)?)
        );
        self.client
            .empty(request(Method::PATCH, path).idempotent(true))
            .await
    }
}

#[derive(Serialize)]
struct EndpointsBody<'a> {
    endpoints: &'a [Endpoint],
}

/// URL groups: `client.url_groups()`.
#[derive(Clone, Copy, Debug)]
pub struct UrlGroups<'a> {
    client: &'a Client,
}

impl UrlGroups<'_> {
    fn path(name: &str) -> Result<String> {
        Ok(format!(
            "/v2/topics/{}",
            segment(non_empty("URL group name", name)?)
        ))
    }

    /// Adds endpoints, creating the group if needed.
    pub async fn upsert_endpoints(&self, group: &str, endpoints: &[Endpoint]) -> Result<()> {
        if endpoints.is_empty() {
            return Err(Error::InvalidArgument("endpoint list is empty".into()));
        }
        if endpoints
            .iter()
            .any(|e| e.url.as_deref().unwrap_or("").is_empty())
        {
            return Err(Error::InvalidArgument("an endpoint has no URL".into()));
        }
        let path = format!("{}/endpoints", Self::path(group)?);
        let req = json_request(Method::POST, path, &EndpointsBody { endpoints })?;
        self.client.empty(req.idempotent(true)).await
    }

    /// Removes endpoints (by URL or name); removing the last one deletes the group.
    pub async fn remove_endpoints(&self, group: &str, endpoints: &[Endpoint]) -> Result<()> {
        if endpoints.is_empty() {
            return Err(Error::InvalidArgument("endpoint list is empty".into()));
        }
        if endpoints
            .iter()
            .any(|e| e.url.is_none() && e.name.is_none())
        {
            return Err(Error::InvalidArgument(
                "an endpoint has neither URL nor name".into(),
            ));
        }
        let path = format!("{}/endpoints", Self::path(group)?);
        let req = json_request(Method::DELETE, path, &EndpointsBody { endpoints })?;
        self.client.empty(req).await
    }

    /// Lists all URL groups.
    pub async fn list(&self) -> Result<Vec<UrlGroup>> {
        self.client.json(request(Method::GET, "/v2/topics")).await
    }

    /// Gets one URL group.
    pub async fn get(&self, group: &str) -> Result<UrlGroup> {
        self.client
            .json(request(Method::GET, Self::path(group)?))
            .await
    }

    /// Deletes a URL group.
    pub async fn delete(&self, group: &str) -> Result<()> {
        self.client
            .empty(request(Method::DELETE, Self::path(group)?))
            .await
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueBody<'a> {
    queue_name: &'a str,
    parallelism: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    paused: Option<bool>,
}

/// Queues: `client.queues()`.
#[derive(Clone, Copy, Debug)]
pub struct Queues<'a> {
    client: &'a Client,
}

impl Queues<'_> {
    fn path(name: &str) -> Result<String> {
        Ok(format!(
            "/v2/queues/{}",
            segment(non_empty("queue name", name)?)
        ))
    }

    /// Creates or updates a queue with `parallelism` concurrent deliveries (at least 1);
    /// `paused` leaves the pause state unchanged when `None`.
    pub async fn upsert(&self, name: &str, parallelism: u32, paused: Option<bool>) -> Result<()> {
        let queue_name = non_empty("queue name", name)?;
        if parallelism == 0 {
            return Err(Error::InvalidArgument(
                "parallelism must be at least 1".into(),
            ));
        }
        let body = QueueBody {
            queue_name,
            parallelism,
            paused,
        };
        let req = json_request(Method::POST, "/v2/queues", &body)?;
        self.client.empty(req.idempotent(true)).await
    }

    /// Lists all queues.
    pub async fn list(&self) -> Result<Vec<Queue>> {
        self.client.json(request(Method::GET, "/v2/queues")).await
    }

    /// Gets one queue.
    pub async fn get(&self, name: &str) -> Result<Queue> {
        self.client
            .json(request(Method::GET, Self::path(name)?))
            .await
    }

    /// Deletes a queue.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.client
            .empty(request(Method::DELETE, Self::path(name)?))
            .await
    }

    /// Pauses delivery (messages are still accepted).
    pub async fn pause(&self, name: &str) -> Result<()> {
        let path = format!("{}/pause", Self::path(name)?);
        self.client
            .empty(request(Method::POST, path).idempotent(true))
            .await
    }

    /// Resumes delivery.
    pub async fn resume(&self, name: &str) -> Result<()> {
        let path = format!("{}/resume", Self::path(name)?);
        self.client
            .empty(request(Method::POST, path).idempotent(true))
            .await
    }
}

/// Messages: `client.messages()`.
#[derive(Clone, Copy, Debug)]
pub struct Messages<'a> {
    client: &'a Client,
}

impl Messages<'_> {
    /// Gets a pending message (404 once delivered).
    pub async fn get(&self, id: &str) -> Result<Message> {
        let path = format!("/v2/messages/{}", segment(non_empty("message id", id)?));
        self.client.json(request(Method::GET, path)).await
    }

    /// Cancels one message.
    pub async fn cancel(&self, id: &str) -> Result<()> {
        let path = format!("/v2/messages/{}", segment(non_empty("message id", id)?));
        self.client.empty(request(Method::DELETE, path)).await
    }

    /// Cancels several messages by id; an empty list is refused (it would cancel everything).
    pub async fn cancel_many<S: AsRef<str>>(&self, ids: &[S]) -> Result<u64> {
        if ids.is_empty() {
            return Err(Error::InvalidArgument("message id list is empty".into()));
        }
        let mut q = Query::default();
        for id in ids {
            q.push("messageIds", non_empty("message id", id.as_ref())?);
        }
        self.cancel_query(q).await
    }

    /// Cancels the messages matching `filter` (at most `count`, 1-500, when given); an empty
    /// filter is refused (use [`Messages::cancel_all`]).
    pub async fn cancel_matching(&self, filter: &Filter, count: Option<u32>) -> Result<u64> {
        if filter.is_empty() {
            return Err(Error::InvalidArgument(
                "filter is empty (use cancel_all to cancel every message)".into(),
            ));
        }
        let mut q = Query::default();
        filter.write(&mut q, "messageIds");
        q.push_opt("count", count);
        self.cancel_query(q).await
    }

    /// Cancels every pending message.
    pub async fn cancel_all(&self) -> Result<u64> {
        self.cancel_query(Query::default()).await
    }

    async fn cancel_query(&self, q: Query) -> Result<u64> {
        let resp = self
            .client
            .send(request(Method::DELETE, q.append_to("/v2/messages")))
            .await?;
        Ok(crate::client::decode::<Cancelled>(&resp)
            .map(|c| c.cancelled)
            .unwrap_or(0))
    }
}

/// The dead-letter queue: `client.dlq()`.
#[derive(Clone, Copy, Debug)]
pub struct Dlq<'a> {
    client: &'a Client,
}

fn dlq_ids_query<S: AsRef<str>>(ids: &[S]) -> Result<Query> {
    if ids.is_empty() {
        return Err(Error::InvalidArgument("DLQ id list is empty".into()));
    }
    let mut q = Query::default();
    for id in ids {
        q.push("dlqIds", non_empty("DLQ id", id.as_ref())?);
    }
    Ok(q)
}

impl Dlq<'_> {
    /// One page of DLQ messages matching `filter`.
    pub async fn list(&self, filter: &Filter, page: &Page) -> Result<DlqPage> {
        list_dlq(self.client, filter, page).await
    }

    /// Every DLQ message matching `filter`, following the cursor.
    pub fn stream(&self, filter: Filter) -> impl Stream<Item = Result<DlqMessage>> + Send {
        let client = self.client.clone();
        paginate(move |cursor| {
            let client = client.clone();
            let filter = filter.clone();
            async move {
                let page = Page {
                    cursor,
                    count: None,
                };
                let p = list_dlq(&client, &filter, &page).await?;
                Ok((p.messages, p.cursor))
            }
        })
    }

    /// Gets one DLQ entry.
    pub async fn get(&self, dlq_id: &str) -> Result<DlqMessage> {
        let path = format!("/v2/dlq/{}", segment(non_empty("DLQ id", dlq_id)?));
        self.client.json(request(Method::GET, path)).await
    }

    /// Deletes one DLQ entry (404 when missing).
    pub async fn delete(&self, dlq_id: &str) -> Result<()> {
        let path = format!("/v2/dlq/{}", segment(non_empty("DLQ id", dlq_id)?));
        self.client.empty(request(Method::DELETE, path)).await
    }

    /// Deletes several DLQ entries; an empty list is refused.
    pub async fn delete_many<S: AsRef<str>>(&self, dlq_ids: &[S]) -> Result<DlqDeleted> {
        let q = dlq_ids_query(dlq_ids)?;
        self.client
            .json(request(Method::DELETE, q.append_to("/v2/dlq")))
            .await
    }

    /// Publishes a DLQ entry again (it leaves the DLQ); returns the new message id.
    pub async fn retry(&self, dlq_id: &str) -> Result<MessageId> {
        let path = format!("/v2/dlq/retry/{}", segment(non_empty("DLQ id", dlq_id)?));
        self.client.json(request(Method::POST, path)).await
    }

    /// Publishes a DLQ entry again with some settings replaced (see [`RetryOverrides`]);
    /// returns the new message id.
    pub async fn retry_with(&self, dlq_id: &str, overrides: &RetryOverrides) -> Result<MessageId> {
        let path = format!("/v2/dlq/retry/{}", segment(non_empty("DLQ id", dlq_id)?));
        let mut req = request(Method::POST, path);
        req.headers = overrides.0.headers_with_method(false)?;
        self.client.json(req).await
    }

    /// Publishes several DLQ entries again; an empty list is refused.
    pub async fn retry_many<S: AsRef<str>>(&self, dlq_ids: &[S]) -> Result<DlqRetried> {
        let q = dlq_ids_query(dlq_ids)?;
        self.client
            .json(request(Method::POST, q.append_to("/v2/dlq/retry")))
            .await
    }
}

async fn list_dlq(client: &Client, filter: &Filter, page: &Page) -> Result<DlqPage> {
    let mut q = Query::default();
    page.write(&mut q);
    filter.write(&mut q, "messageId");
    client
        .json(request(Method::GET, q.append_to("/v2/dlq")))
        .await
}

async fn list_logs(client: &Client, filter: &Filter, page: &Page) -> Result<LogPage> {
    let mut q = Query::default();
    page.write(&mut q);
    filter.write(&mut q, "messageIds");
    client
        .json(request(Method::GET, q.append_to("/v2/events")))
        .await
}

/// Settings that replace a DLQ entry's own when it is published again
/// ([`Dlq::retry_with`]). Method, retries, retry delay, timeout and callbacks left unset keep
/// the message's values; forwarded headers, when any is given, replace all of them; the new
/// message is sent at once unless a delay or not-before time is given.
#[derive(Clone, Debug)]
pub struct RetryOverrides(PublishRequest);

impl Default for RetryOverrides {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! overrides {
    ($($(#[$m:meta])* $fn:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            $(#[$m])*
            pub fn $fn(self, $($arg: $ty),*) -> Self {
                Self(self.0.$fn($($arg),*))
            }
        )*
    };
}

impl RetryOverrides {
    /// Changes nothing.
    pub fn new() -> Self {
        // The destination is never sent: the DLQ entry keeps its own.
        Self(PublishRequest::new(crate::Destination::UrlGroup(
            String::new(),
        )))
    }

    overrides! {
        /// HTTP method of the delivery.
        method(method: Method);
        /// Sends the message after this delay.
        delay(delay: Duration);
        /// Sends the message at or after this time (wins over `delay`).
        not_before(at: SystemTime);
        /// Retries after the first attempt.
        retries(retries: u32);
        /// Retry delay expression in milliseconds (variable `retried`).
        retry_delay(expression: impl Into<String>);
        /// Per-attempt timeout.
        timeout(timeout: Duration);
        /// Success callback.
        callback(callback: impl Into<crate::Callback>);
        /// Failure callback.
        failure_callback(callback: impl Into<crate::Callback>);
        /// A header forwarded to the destination.
        header(name: impl Into<String>, value: impl Into<String>);
        /// `Content-Type` of the message.
        content_type(content_type: impl Into<String>);
    }
}

/// Logs (events): `client.logs()`.
#[derive(Clone, Copy, Debug)]
pub struct Logs<'a> {
    client: &'a Client,
}

impl Logs<'_> {
    /// One page of events matching `filter`, newest first.
    pub async fn list(&self, filter: &Filter, page: &Page) -> Result<LogPage> {
        list_logs(self.client, filter, page).await
    }

    /// Every event matching `filter`, following the cursor.
    pub fn stream(&self, filter: Filter) -> impl Stream<Item = Result<LogEvent>> + Send {
        let client = self.client.clone();
        paginate(move |cursor| {
            let client = client.clone();
            let filter = filter.clone();
            async move {
                let page = Page {
                    cursor,
                    count: None,
                };
                let p = list_logs(&client, &filter, &page).await?;
                Ok((p.events, p.cursor))
            }
        })
    }
}

/// Signing keys: `client.signing_keys()`.
#[derive(Clone, Copy, Debug)]
pub struct SigningKeysApi<'a> {
    client: &'a Client,
}

impl SigningKeysApi<'_> {
    /// The current and next signing keys.
    pub async fn get(&self) -> Result<SigningKeys> {
        self.client.json(request(Method::GET, "/v2/keys")).await
    }

    /// Rotates: current := next, next := a new key. Returns the new pair.
    pub async fn rotate(&self) -> Result<SigningKeys> {
        self.client
            .json(request(Method::POST, "/v2/keys/rotate"))
            .await
    }
}

/// Flow control: `client.flow_control()`.
#[derive(Clone, Copy, Debug)]
pub struct FlowControlApi<'a> {
    client: &'a Client,
}

impl FlowControlApi<'_> {
    fn path(key: &str) -> Result<String> {
        Ok(format!(
            "/v2/flowControl/{}",
            segment(non_empty("flow control key", key)?)
        ))
    }

    /// Every flow-control key (optionally those containing `search`).
    pub async fn list(&self, search: Option<&str>) -> Result<Vec<FlowControlInfo>> {
        let mut q = Query::default();
        q.push_opt("search", search);
        self.client
            .json(request(Method::GET, q.append_to("/v2/flowControl")))
            .await
    }

    /// One flow-control key.
    pub async fn get(&self, key: &str) -> Result<FlowControlInfo> {
        self.client
            .json(request(Method::GET, Self::path(key)?))
            .await
    }

    /// Account-wide parallelism.
    pub async fn global_parallelism(&self) -> Result<GlobalParallelism> {
        self.client
            .json(request(Method::GET, "/v2/globalParallelism"))
            .await
    }

    async fn action(&self, key: &str, action: &str, q: Query) -> Result<()> {
        let path = q.append_to(&format!("{}/{action}", Self::path(key)?));
        self.client
            .empty(request(Method::POST, path).idempotent(true))
            .await
    }

    /// Stops delivering messages of `key` (they wait).
    pub async fn pause(&self, key: &str) -> Result<()> {
        self.action(key, "pause", Query::default()).await
    }

    /// Resumes delivering messages of `key`.
    pub async fn resume(&self, key: &str) -> Result<()> {
        self.action(key, "resume", Query::default()).await
    }

    /// Resets the rate counter of `key`.
    pub async fn reset_rate(&self, key: &str) -> Result<()> {
        self.action(key, "resetRate", Query::default()).await
    }

    /// Pins parallelism and/or rate so later messages do not change them.
    pub async fn pin(
        &self,
        key: &str,
        parallelism: Option<u32>,
        rate: Option<u32>,
        period: Option<Duration>,
    ) -> Result<()> {
        if parallelism.is_none() && rate.is_none() {
            return Err(Error::InvalidArgument(
                "pin needs a parallelism or a rate".into(),
            ));
        }
        let mut q = Query::default();
        q.push_opt("parallelism", parallelism);
        q.push_opt("rate", rate);
        q.push_opt("period", period.map(|p| p.as_secs()));
        self.action(key, "pin", q).await
    }

    /// Unpins parallelism and/or rate.
    pub async fn unpin(&self, key: &str, parallelism: bool, rate: bool) -> Result<()> {
        if !parallelism && !rate {
            return Err(Error::InvalidArgument(
                "unpin needs parallelism or rate".into(),
            ));
        }
        let mut q = Query::default();
        if parallelism {
            q.push("parallelism", "true");
        }
        if rate {
            q.push("rate", "true");
        }
        self.action(key, "unpin", q).await
    }
}

impl Client {
    /// Schedules.
    pub fn schedules(&self) -> Schedules<'_> {
        Schedules { client: self }
    }

    /// URL groups (topics).
    pub fn url_groups(&self) -> UrlGroups<'_> {
        UrlGroups { client: self }
    }

    /// Queues.
    pub fn queues(&self) -> Queues<'_> {
        Queues { client: self }
    }

    /// Messages (get, cancel).
    pub fn messages(&self) -> Messages<'_> {
        Messages { client: self }
    }

    /// The dead-letter queue.
    pub fn dlq(&self) -> Dlq<'_> {
        Dlq { client: self }
    }

    /// Logs (events).
    pub fn logs(&self) -> Logs<'_> {
        Logs { client: self }
    }

    /// Signing keys.
    pub fn signing_keys(&self) -> SigningKeysApi<'_> {
        SigningKeysApi { client: self }
    }

    /// Flow control.
    pub fn flow_control(&self) -> FlowControlApi<'_> {
        FlowControlApi { client: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_query_repeats_and_renames() {
        let f = Filter::new()
            .url("https://a")
            .url("https://b")
            .url_group("g")
            .state(MessageState::Delivered)
            .response_status(500u16)
            .from(UNIX_EPOCH + Duration::from_millis(1000));
        let mut q = Query::default();
        f.write(&mut q, "messageIds");
        assert_eq!(
            q.append_to("/x"),
            "/x?url=https%3A%2F%2Fa&url=https%3A%2F%2Fb&topicName=g&state=DELIVERED&responseStatus=500&fromDate=1000"
        );
        assert!(Filter::new().is_empty());
        assert!(!f.is_empty());
    }
}
