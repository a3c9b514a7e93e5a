//! The [`Consumer`]: consumer groups, fetch by offset, commits, and a message [`Stream`].

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::try_join_all;
use futures_util::Stream;
use serde::Serialize;
use upstash_core::http::{HeaderName, HeaderValue, Method};

use crate::client::{check_name, empty_request, json_request, path};
use crate::{Error, Kafka, Message, OffsetReset, Result, TopicPartition, TopicPartitionOffset};

/// Consumes messages: with a consumer group ([`Consumer::consume`], [`Consumer::instance`]) or
/// without one by offset ([`Consumer::fetch`]). From [`Kafka::consumer`]; cheap to clone.
#[derive(Clone, Debug)]
pub struct Consumer {
    pub(crate) kafka: Kafka,
}

/// A consume request: which group instance reads which topics, how long to long-poll, and the
/// instance configuration (applied by the server only when this request creates the instance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumeRequest {
    /// Consumer group id (Kafka `group.id`).
    pub group: String,
    /// Instance id within the group; each instance is one consumer on the server.
    pub instance: String,
    /// Topics to read (at least one).
    pub topics: Vec<String>,
    /// How long the server waits for messages before answering `[]` (server default 1 s).
    pub timeout: Option<Duration>,
    /// `Kafka-Enable-Auto-Commit` (server default `true`).
    pub auto_commit: Option<bool>,
    /// `Kafka-Auto-Commit-Interval` (server default 5 s).
    pub auto_commit_interval: Option<Duration>,
    /// `Kafka-Auto-Offset-Reset` (server default [`OffsetReset::Latest`]).
    pub auto_offset_reset: Option<OffsetReset>,
    /// `Kafka-Session-Timeout-Ms`: an instance idle this long is removed (server default 120 s).
    pub session_timeout: Option<Duration>,
}

impl ConsumeRequest {
    /// Instance `instance` of group `group` reading `topics`, with server defaults.
    pub fn new<I, S>(group: impl Into<String>, instance: impl Into<String>, topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ConsumeRequest {
            group: group.into(),
            instance: instance.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            timeout: None,
            auto_commit: None,
            auto_commit_interval: None,
            auto_offset_reset: None,
            session_timeout: None,
        }
    }

    /// Sets the long-poll timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Enables or disables auto-commit.
    pub fn auto_commit(mut self, yes: bool) -> Self {
        self.auto_commit = Some(yes);
        self
    }

    /// Sets the auto-commit interval.
    pub fn auto_commit_interval(mut self, every: Duration) -> Self {
        self.auto_commit_interval = Some(every);
        self
    }

    /// Sets where a new instance starts without a committed offset.
    pub fn auto_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.auto_offset_reset = Some(reset);
        self
    }

    /// Sets the session timeout.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = Some(timeout);
        self
    }

    fn validate(&self) -> Result<()> {
        check_name("consumer group", &self.group)?;
        check_name("consumer instance", &self.instance)?;
        if self.topics.is_empty() {
            return Err(Error::InvalidInput("no topic to consume".into()));
        }
        for t in &self.topics {
            check_name("topic", t)?;
        }
        Ok(())
    }

    /// The JSON body: `{"topic"}` for one topic, `{"topics"}` for several, plus `timeout` in ms.
    pub(crate) fn body(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        match self.topics.as_slice() {
            [one] => body.insert("topic".into(), one.clone().into()),
            many => body.insert("topics".into(), many.to_vec().into()),
        };
        if let Some(t) = self.timeout {
            body.insert("timeout".into(), millis(t).into());
        }
        serde_json::Value::Object(body)
    }

    /// The configuration headers that are set.
    pub(crate) fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::new();
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                out.push((HeaderName::from_static(name), v));
            }
        };
        if let Some(yes) = self.auto_commit {
            put("kafka-enable-auto-commit", yes.to_string());
        }
        if let Some(every) = self.auto_commit_interval {
            put("kafka-auto-commit-interval", millis(every).to_string());
        }
        if let Some(reset) = self.auto_offset_reset {
            put("kafka-auto-offset-reset", reset.as_str().to_owned());
        }
        if let Some(t) = self.session_timeout {
            put("kafka-session-timeout-ms", millis(t).to_string());
        }
        out
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A fetch without a consumer group: messages from given offsets (inclusive), in offset order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchRequest {
    /// Topic of the single position, if any.
    pub topic: Option<String>,
    /// Partition of the single position.
    pub partition: Option<i32>,
    /// Offset of the single position.
    pub offset: Option<i64>,
    /// Further positions.
    pub topic_partition_offsets: Vec<TopicPartitionOffset>,
    /// How long the server waits for messages (server default 1 s).
    pub timeout: Option<Duration>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FetchBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic_partition_offsets: Option<&'a [TopicPartitionOffset]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u64>,
}

impl FetchRequest {
    /// Messages of `topic`/`partition` from `offset` on.
    pub fn new(topic: impl Into<String>, partition: i32, offset: i64) -> Self {
        FetchRequest {
            topic: Some(topic.into()),
            partition: Some(partition),
            offset: Some(offset),
            ..Self::default()
        }
    }

    /// Messages from each of `positions`.
    pub fn positions(positions: impl IntoIterator<Item = TopicPartitionOffset>) -> Self {
        FetchRequest {
            topic_partition_offsets: positions.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Adds a position.
    pub fn and(mut self, position: TopicPartitionOffset) -> Self {
        self.topic_partition_offsets.push(position);
        self
    }

    /// Sets the long-poll timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn is_empty(&self) -> bool {
        self.topic.is_none() && self.topic_partition_offsets.is_empty()
    }

    /// The body of the unsplit request.
    fn body(&self) -> FetchBody<'_> {
        FetchBody {
            topic: self.topic.as_deref(),
            partition: self.partition,
            offset: self.offset,
            topic_partition_offsets: (!self.topic_partition_offsets.is_empty())
                .then_some(self.topic_partition_offsets.as_slice()),
            timeout: self.timeout.map(millis),
        }
    }

    /// One request per position, the list positions first and the single position last (the
    /// order `@upstash/kafka` uses), since the server answers for one topic at a time.
    pub(crate) fn split(&self) -> Vec<FetchRequest> {
        let mut out: Vec<FetchRequest> = self
            .topic_partition_offsets
            .iter()
            .map(|p| FetchRequest {
                timeout: self.timeout,
                ..FetchRequest::new(p.topic.clone(), p.partition, p.offset)
            })
            .collect();
        if let Some(topic) = &self.topic {
            out.push(FetchRequest {
                topic: Some(topic.clone()),
                partition: self.partition,
                offset: self.offset,
                topic_partition_offsets: Vec::new(),
                timeout: self.timeout,
            });
        }
        out
    }
}

/// The highest offset + 1 per partition among `messages`: what to commit once they are
/// processed.
pub fn next_offsets<'a>(
    messages: impl IntoIterator<Item = &'a Message>,
) -> Vec<TopicPartitionOffset> {
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for m in messages {
        let e = next
            .entry((m.topic.as_str(), m.partition))
            .or_insert(i64::MIN);
        *e = (*e).max(m.offset.saturating_add(1));
    }
    next.into_iter()
        .map(|((t, p), o)| TopicPartitionOffset::new(t, p, o))
        .collect()
}

impl Consumer {
    /// One consume request for a group instance (`POST /consume/{group}/{instance}`). Waits up
    /// to the request's timeout for messages; the first request of a new instance may return
    /// `[]` while it joins the group.
    ///
    /// Not repeated after an unknown outcome (a lost response would lose the batch it carried).
    pub async fn consume(&self, req: &ConsumeRequest) -> Result<Vec<Message>> {
        req.validate()?;
        let mut http = json_request(path(&["consume", &req.group, &req.instance]), &req.body())?;
        for (name, value) in req.headers() {
            http.headers.insert(name, value);
        }
        http.timeout = self.kafka.long_poll_timeout(req.timeout);
        self.kafka.call(http).await
    }

    /// Fetches without a consumer group (`POST /fetch`), one request per position sent in
    /// parallel; the results are concatenated in request order (list positions first, then
    /// the single position). An empty request returns `[]` without a round trip.
    pub async fn fetch(&self, req: &FetchRequest) -> Result<Vec<Message>> {
        let parts = req.split();
        let batches = try_join_all(parts.iter().map(|p| self.fetch_once(p))).await?;
        Ok(batches.into_iter().flatten().collect())
    }

    /// Fetches with one request holding every position (the server may answer for one topic
    /// only; prefer [`Consumer::fetch`]).
    pub async fn fetch_unsplit(&self, req: &FetchRequest) -> Result<Vec<Message>> {
        self.fetch_once(req).await
    }

    async fn fetch_once(&self, req: &FetchRequest) -> Result<Vec<Message>> {
        if req.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(t) = &req.topic {
            check_name("topic", t)?;
        }
        let mut http = json_request(path(&["fetch"]), &req.body())?.idempotent(true);
        http.timeout = self.kafka.long_poll_timeout(req.timeout);
        self.kafka.call(http).await
    }

    /// Commits explicit offsets for a group (`POST /commit/{group}/{instance}`). Kafka's rule
    /// applies: commit the offset of the **next** message to read, i.e. last processed + 1
    /// ([`next_offsets`] computes it).
    pub async fn commit(
        &self,
        group: &str,
        instance: &str,
        offsets: &[TopicPartitionOffset],
    ) -> Result<()> {
        check_name("consumer group", group)?;
        check_name("consumer instance", instance)?;
        let req = json_request(path(&["commit", group, instance]), &offsets)?.idempotent(true);
        self.kafka.call_unit(req).await
    }

    /// Commits the instance's current position (everything consumed so far) with an empty
    /// commit body.
    pub async fn commit_consumed(&self, group: &str, instance: &str) -> Result<()> {
        check_name("consumer group", group)?;
        check_name("consumer instance", instance)?;
        let req = empty_request(Method::POST, path(&["commit", group, instance])).idempotent(true);
        self.kafka.call_unit(req).await
    }

    /// The group's committed offsets on `partitions` (`POST /committed/{group}/{instance}`);
    /// `-1` for a partition without a commit.
    pub async fn committed(
        &self,
        group: &str,
        instance: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<TopicPartitionOffset>> {
        check_name("consumer group", group)?;
        check_name("consumer instance", instance)?;
        let req =
            json_request(path(&["committed", group, instance]), &partitions)?.idempotent(true);
        self.kafka.call(req).await
    }

    /// Stops and removes a consumer instance (`POST /delete-consumer/{group}/{instance}`); an
    /// unknown group or instance is [`Error::NotFound`] (or another 4xx).
    pub async fn remove_instance(&self, group: &str, instance: &str) -> Result<()> {
        check_name("consumer group", group)?;
        check_name("consumer instance", instance)?;
        let req = empty_request(Method::POST, path(&["delete-consumer", group, instance]));
        self.kafka.call_unit(req).await
    }

    /// A handle on one group instance that remembers the request, commits, and removes the
    /// instance from the server when dropped (see [`GroupConsumer`]).
    pub fn instance(&self, req: ConsumeRequest) -> Result<GroupConsumer> {
        req.validate()?;
        Ok(GroupConsumer {
            consumer: self.clone(),
            guard: Arc::new(Guard {
                consumer: self.clone(),
                group: req.group.clone(),
                instance: req.instance.clone(),
                used: AtomicBool::new(false),
                remove_on_drop: AtomicBool::new(true),
            }),
            req: Arc::new(req),
        })
    }
}

/// One consumer group instance: consume, commit, committed, remove, or turn it into a
/// [`MessageStream`]. From [`Consumer::instance`]; clones share the instance.
///
/// When the last clone is dropped (a `MessageStream` holds one), the instance is removed from
/// the server in a background task on the current tokio runtime, if it was used and not
/// removed already; call [`GroupConsumer::remove`] to remove it for certain and see the result,
/// or [`GroupConsumer::keep_on_drop`] to leave it for another process to resume.
#[derive(Clone)]
pub struct GroupConsumer {
    consumer: Consumer,
    req: Arc<ConsumeRequest>,
    guard: Arc<Guard>,
}

impl fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("request", &self.req)
            .finish()
    }
}

struct Guard {
    consumer: Consumer,
    group: String,
    instance: String,
    used: AtomicBool,
    remove_on_drop: AtomicBool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.used.load(Ordering::Acquire) || !self.remove_on_drop.load(Ordering::Acquire) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::debug!("no tokio runtime: consumer instance left for the server to expire");
            return;
        };
        let consumer = self.consumer.clone();
        let group = std::mem::take(&mut self.group);
        let instance = std::mem::take(&mut self.instance);
        rt.spawn(async move {
            if let Err(e) = consumer.remove_instance(&group, &instance).await {
                tracing::debug!(error = %e, "removing a dropped consumer instance failed");
            }
        });
    }
}

impl GroupConsumer {
    /// The request this handle sends.
    pub fn request(&self) -> &ConsumeRequest {
        &self.req
    }

    /// One long-poll consume.
    pub async fn consume(&self) -> Result<Vec<Message>> {
        self.guard.used.store(true, Ordering::Release);
        self.consumer.consume(&self.req).await
    }

    /// Commits explicit offsets (next offset to read per partition).
    pub async fn commit(&self, offsets: &[TopicPartitionOffset]) -> Result<()> {
        self.consumer
            .commit(&self.req.group, &self.req.instance, offsets)
            .await
    }

    /// Commits `messages` as processed (their highest offset + 1 per partition).
    pub async fn commit_messages(&self, messages: &[Message]) -> Result<()> {
        let offsets = next_offsets(messages);
        if offsets.is_empty() {
            return Ok(());
        }
        self.commit(&offsets).await
    }

    /// Commits everything consumed so far (empty commit body).
    pub async fn commit_consumed(&self) -> Result<()> {
        self.consumer
            .commit_consumed(&self.req.group, &self.req.instance)
            .await
    }

    /// The group's committed offsets on `partitions`.
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<TopicPartitionOffset>> {
        self.consumer
            .committed(&self.req.group, &self.req.instance, partitions)
            .await
    }

    /// Removes the instance from the server now (no removal on drop afterwards).
    pub async fn remove(self) -> Result<()> {
        self.guard.remove_on_drop.store(false, Ordering::Release);
        self.consumer
            .remove_instance(&self.req.group, &self.req.instance)
            .await
    }

    /// Leaves the instance on the server when the handle is dropped (the server expires it
    /// after its session timeout).
    pub fn keep_on_drop(self) -> Self {
        self.guard.remove_on_drop.store(false, Ordering::Release);
        self
    }

    /// An endless stream of messages: long-polls with the handle's request and, once every
    /// message of a batch has been taken from the stream and the next one is asked for,
    /// commits that batch (highest offset + 1 per partition). A message is therefore committed
    /// only after the caller has finished with it (at-least-once). Use
    /// [`ConsumeRequest::auto_commit`]`(false)` so that the server does not commit on its own.
    ///
    /// Errors are yielded as items and the stream goes on (after a pause of half a second);
    /// stop on the first error with `try_next`. Dropping the stream drops its handle.
    pub fn stream(self) -> MessageStream {
        let state = StreamState {
            group: self,
            buffer: VecDeque::new(),
            pending: BTreeMap::new(),
            failed: false,
        };
        let inner = futures_util::stream::unfold(state, |mut s| async move {
            let item = s.next_item().await;
            Some((item, s))
        });
        MessageStream {
            inner: Box::pin(inner),
        }
    }
}

struct StreamState {
    group: GroupConsumer,
    buffer: VecDeque<Message>,
    /// Next offset per partition of the messages handed out and not yet committed.
    pending: BTreeMap<(String, i32), i64>,
    failed: bool,
}

impl StreamState {
    async fn next_item(&mut self) -> Result<Message> {
        loop {
            if let Some(m) = self.buffer.pop_front() {
                let next = self
                    .pending
                    .entry((m.topic.clone(), m.partition))
                    .or_insert(i64::MIN);
                *next = (*next).max(m.offset.saturating_add(1));
                return Ok(m);
            }
            if self.failed {
                self.failed = false;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if !self.pending.is_empty() {
                let offsets: Vec<TopicPartitionOffset> = self
                    .pending
                    .iter()
                    .map(|((t, p), o)| TopicPartitionOffset::new(t.clone(), *p, *o))
                    .collect();
                if let Err(e) = self.group.commit(&offsets).await {
                    self.failed = true;
                    return Err(e);
                }
                self.pending.clear();
            }
            match self.group.consume().await {
                Ok(batch) => self.buffer.extend(batch),
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            }
        }
    }
}

/// The endless stream of [`GroupConsumer::stream`]: items are messages or errors.
pub struct MessageStream {
    inner: Pin<Box<dyn Stream<Item = Result<Message>> + Send>>,
}

impl fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageStream")
    }
}

impl Stream for MessageStream {
    type Item = Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn consume_body_topic_vs_topics() {
        let one = ConsumeRequest::new("g", "i", ["a"]);
        assert_eq!(one.body(), json!({"topic": "a"}));
        let many = ConsumeRequest::new("g", "i", ["a", "b"]).timeout(Duration::from_secs(3));
        assert_eq!(many.body(), json!({"topics": ["a", "b"], "timeout": 3000}));
        assert!(one.headers().is_empty());
    }

    #[test]
    fn consume_headers() {
        let r = ConsumeRequest::new("g", "i", ["a"])
            .auto_commit(false)
            .auto_commit_interval(Duration::from_secs(7))
            .auto_offset_reset(OffsetReset::Earliest)
            .session_timeout(Duration::from_secs(30));
        let h: Vec<(String, String)> = r
            .headers()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        assert_eq!(
            h,
            vec![
                ("kafka-enable-auto-commit".into(), "false".into()),
                ("kafka-auto-commit-interval".into(), "7000".into()),
                ("kafka-auto-offset-reset".into(), "earliest".into()),
                ("kafka-session-timeout-ms".into(), "30000".into()),
            ]
        );
    }

    #[test]
    fn consume_validation() {
        assert!(ConsumeRequest::new("g", "i", Vec::<String>::new())
            .validate()
            .is_err());
        assert!(ConsumeRequest::new("", "i", ["t"]).validate().is_err());
        assert!(ConsumeRequest::new("g", "i", [""]).validate().is_err());
    }

    #[test]
    fn fetch_body_and_split_order() {
        let r = FetchRequest::new("red", 0, 5)
            .and(TopicPartitionOffset::new("green", 1, 7))
            .and(TopicPartitionOffset::new("blue", 0, 0))
            .timeout(Duration::from_millis(1500));
        assert_eq!(
            serde_json::to_value(r.body()).ok(),
            Some(json!({
                "topic": "red", "partition": 0, "offset": 5, "timeout": 1500,
                "topicPartitionOffsets": [
                    {"topic": "green", "partition": 1, "offset": 7},
                    {"topic": "blue", "partition": 0, "offset": 0}
                ]
            }))
        );
        let parts: Vec<serde_json::Value> = r
            .split()
            .iter()
            .filter_map(|p| serde_json::to_value(p.body()).ok())
            .collect();
        assert_eq!(
            parts,
            vec![
                json!({"topic": "green", "partition": 1, "offset": 7, "timeout": 1500}),
                json!({"topic": "blue", "partition": 0, "offset": 0, "timeout": 1500}),
                json!({"topic": "red", "partition": 0, "offset": 5, "timeout": 1500}),
            ]
        );
        assert!(FetchRequest::default().split().is_empty());
    }

    #[test]
    fn next_offsets_takes_max_plus_one_per_partition() {
        let m = |t: &str, p: i32, o: i64| Message {
            topic: t.into(),
            partition: p,
            offset: o,
            timestamp: 0,
            key: String::new(),
            value: String::new(),
            headers: Vec::new(),
        };
        let msgs = [m("a", 0, 3), m("a", 0, 1), m("a", 1, 9), m("b", 0, 0)];
        assert_eq!(
            next_offsets(&msgs),
            vec![
                TopicPartitionOffset::new("a", 0, 4),
                TopicPartitionOffset::new("a", 1, 10),
                TopicPartitionOffset::new("b", 0, 1),
            ]
        );
    }
}
