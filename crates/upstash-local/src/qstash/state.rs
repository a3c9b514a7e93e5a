//! The QStash data model (messages, queues, URL groups, schedules, DLQ, logs) of one user,
//! and the operations on it. Everything here runs under the service's state lock and never
//! blocks.

use std::collections::{BTreeMap, HashMap, VecDeque};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::config::{canonical, MsgConfig};

/// Deduplication window.
pub(crate) const DEDUP_WINDOW_MS: u64 = 10 * 60 * 1000;
/// Log events kept per user.
const MAX_LOGS: usize = 10_000;
/// DLQ entries kept per user.
const MAX_DLQ: usize = 10_000;

/// An error answered as `{"error": msg}` with `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub msg: String,
}

impl ApiError {
    pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            msg: msg.into(),
        }
    }
    pub(crate) fn not_found(msg: impl Into<String>) -> ApiError {
        ApiError {
            status: 404,
            msg: msg.into(),
        }
    }
}

/// Bytes stored as base64 in the state file.
mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// What kind of message this is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum Kind {
    Normal,
    Callback,
    FailureCallback,
}

/// A message waiting for (or in) delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Message {
    pub id: String,
    pub url: String,
    pub topic: Option<String>,
    pub endpoint: Option<String>,
    pub queue: Option<String>,
    pub schedule_id: Option<String>,
    pub cfg: MsgConfig,
    #[serde(with = "b64")]
    pub body: Vec<u8>,
    pub created_at: u64,
    pub not_before: u64,
    pub next_at: u64,
    pub retried: u32,
    pub caller_ip: String,
    pub seq: u64,
    pub kind: Kind,
    /// For a callback of a queued message: that queue, which waits until this callback is
    /// done before it delivers its next message.
    #[serde(default)]
    pub holds_queue: Option<String>,
    /// An attempt is running (not persisted: an interrupted attempt is retried after a restart).
    #[serde(skip)]
    pub in_flight: bool,
}

/// A message whose retries ran out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DlqEntry {
    pub dlq_id: String,
    pub msg: Message,
    pub response_status: u16,
    pub response_headers: Vec<(String, String)>,
    #[serde(with = "b64")]
    pub response_body: Vec<u8>,
}

/// A queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Queue {
    pub name: String,
    pub parallelism: u32,
    pub paused: bool,
    pub created_at: u64,
    pub updated_at: u64,
}

/// An endpoint of a URL group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub name: Option<String>,
    pub url: String,
}

/// A URL group ("topic" on the wire).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UrlGroup {
    pub name: String,
    pub endpoints: Vec<Endpoint>,
    pub created_at: u64,
    pub updated_at: u64,
}

/// A schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Schedule {
    pub id: String,
    pub cron: String,
    pub destination: String,
    pub cfg: MsgConfig,
    #[serde(with = "b64")]
    pub body: Vec<u8>,
    pub created_at: u64,
    pub caller_ip: String,
    pub paused: bool,
    pub last_time: Option<u64>,
    pub next_time: Option<u64>,
    pub last_states: BTreeMap<String, String>,
}

/// A deduplication record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Dedup {
    pub message_id: String,
    pub until: u64,
}

/// Runtime state of a flow-control key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Flow {
    pub parallelism: Option<u32>,
    pub rate: Option<u32>,
    pub period_s: u64,
    pub window_start: u64,
    pub window_count: u32,
    pub paused: bool,
    /// Set by `pin`: later messages do not change `parallelism`.
    #[serde(default)]
    pub pinned_parallelism: bool,
    /// Set by `pin`: later messages do not change `rate` and `period_s`.
    #[serde(default)]
    pub pinned_rate: bool,
    #[serde(skip)]
    pub in_flight: u32,
}

/// One log event: its time, a sequence number, and the JSON answered by `/v2/events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LogEvent {
    pub seq: u64,
    pub event: Value,
}

/// Everything one QStash user owns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct UserState {
    pub current_key: String,
    pub next_key: String,
    pub messages: BTreeMap<String, Message>,
    pub queues: BTreeMap<String, Queue>,
    pub groups: BTreeMap<String, UrlGroup>,
    pub schedules: BTreeMap<String, Schedule>,
    pub dlq: VecDeque<DlqEntry>,
    pub logs: VecDeque<LogEvent>,
    pub dedup: HashMap<String, Dedup>,
    pub flows: BTreeMap<String, Flow>,
}

/// The whole persisted state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct State {
    pub seq: u64,
    pub users: Vec<UserState>,
}

/// Random alphanumerics.
pub(crate) fn random_id(prefix: &str, n: usize) -> String {
    let mut s = String::with_capacity(prefix.len() + n);
    s.push_str(prefix);
    for _ in 0..n {
        s.push(fastrand::alphanumeric());
    }
    s
}

/// Where a publish goes.
#[derive(Debug, Clone)]
pub(crate) enum Dest {
    Url(String),
    Group(String),
}

/// Whether `s` is a valid URL group or queue name.
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Classifies a destination: an http(s) URL, or a URL group name.
pub(crate) fn parse_dest(d: &str) -> Result<Dest, ApiError> {
    if super::config::is_http_url(d) {
        Ok(Dest::Url(d.to_string()))
    } else if valid_name(d) {
        Ok(Dest::Group(d.to_string()))
    } else {
        Err(ApiError::bad(
            "invalid destination url: endpoint has invalid scheme, add http:// or https://",
        ))
    }
}

/// A publish request.
#[derive(Debug, Clone)]
pub(crate) struct Publish {
    pub dest: Dest,
    pub queue: Option<String>,
    pub cfg: MsgConfig,
    pub body: Vec<u8>,
    pub caller_ip: String,
    pub schedule_id: Option<String>,
}

/// One published message as answered.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub message_id: String,
    pub url: String,
    pub deduplicated: bool,
}

impl Published {
    pub(crate) fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("messageId".into(), json!(self.message_id));
        m.insert("url".into(), json!(self.url));
        if self.deduplicated {
            m.insert("deduplicated".into(), json!(true));
        }
        Value::Object(m)
    }
}

/// The answer to a publish: one message for a URL, an array for a URL group.
#[derive(Debug, Clone)]
pub(crate) enum PublishOut {
    Single(Published),
    Group(Vec<Published>),
}

impl PublishOut {
    pub(crate) fn json(&self) -> Value {
        match self {
            PublishOut::Single(p) => p.json(),
            PublishOut::Group(v) => Value::Array(v.iter().map(Published::json).collect()),
        }
    }

    /// 202 when every message was deduplicated, else 201.
    pub(crate) fn status(&self) -> u16 {
        let all = match self {
            PublishOut::Single(p) => p.deduplicated,
            PublishOut::Group(v) => !v.is_empty() && v.iter().all(|p| p.deduplicated),
        };
        if all {
            202
        } else {
            201
        }
    }
}

fn dedup_key(cfg: &MsgConfig, url: &str, queue: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some(id) = &cfg.dedup_id {
        return Some(format!("id\n{id}\n{url}\n{}", queue.unwrap_or("")));
    }
    if cfg.content_dedup {
        let mut h = Sha256::new();
        h.update(url.as_bytes());
        h.update([0]);
        h.update(queue.unwrap_or("").as_bytes());
        h.update([0]);
        h.update(body);
        for (k, v) in &cfg.forward {
            h.update([0]);
            h.update(k.as_bytes());
            h.update(b":");
            h.update(v.as_bytes());
        }
        return Some(format!("content\n{}", hex::encode(h.finalize())));
    }
    None
}

impl UserState {
    pub(crate) fn new(current: &str, next: &str) -> UserState {
        UserState {
            current_key: current.into(),
            next_key: next.into(),
            ..UserState::default()
        }
    }

    /// Creates the queue if missing (parallelism 1).
    pub(crate) fn ensure_queue(&mut self, name: &str, now: u64) {
        self.queues
            .entry(name.to_string())
            .or_insert_with(|| Queue {
                name: name.to_string(),
                parallelism: 1,
                paused: false,
                created_at: now,
                updated_at: now,
            });
    }

    /// Publishes (or enqueues) a message: one per URL-group endpoint.
    pub(crate) fn publish(
        &mut self,
        seq: &mut u64,
        now: u64,
        p: Publish,
    ) -> Result<PublishOut, ApiError> {
        if let Some(q) = &p.queue {
            if !valid_name(q) {
                return Err(ApiError::bad(
                    "invalid queue name: use letters, digits, '-', '_' and '.'",
                ));
            }
        }
        let targets: Vec<(String, Option<String>, Option<String>)> = match &p.dest {
            Dest::Url(u) => vec![(u.clone(), None, None)],
            Dest::Group(g) => {
                let group = self
                    .groups
                    .get(g)
                    .ok_or_else(|| ApiError::not_found("url group not found"))?;
                group
                    .endpoints
                    .iter()
                    .map(|e| (e.url.clone(), Some(g.clone()), e.name.clone()))
                    .collect()
            }
        };
        if let Some(q) = &p.queue {
            self.ensure_queue(q, now);
        }
        if let Some(f) = &p.cfg.flow {
            // The latest message's settings win, except pinned ones.
            let flow = self.flows.entry(f.key.clone()).or_default();
            if !flow.pinned_parallelism {
                flow.parallelism = f.parallelism;
            }
            if !flow.pinned_rate {
                flow.rate = f.rate;
                flow.period_s = f.period_s.max(1);
            }
        }
        let mut out = Vec::with_capacity(targets.len());
        for (url, topic, endpoint) in targets {
            let key = dedup_key(&p.cfg, &url, p.queue.as_deref(), &p.body);
            if let Some(k) = &key {
                if let Some(d) = self.dedup.get(k) {
                    if d.until > now {
                        out.push(Published {
                            message_id: d.message_id.clone(),
                            url,
                            deduplicated: true,
                        });
                        continue;
                    }
                }
            }
            let not_before = match (p.cfg.not_before_ms, p.cfg.delay_ms) {
                (Some(nb), _) => nb,
                (None, Some(d)) => now.saturating_add(d),
                (None, None) => now,
            };
            *seq += 1;
            let msg = Message {
                id: random_id("msg_", 26),
                url: url.clone(),
                topic,
                endpoint,
                queue: p.queue.clone(),
                schedule_id: p.schedule_id.clone(),
                cfg: p.cfg.clone(),
                body: p.body.clone(),
                created_at: now,
                not_before,
                next_at: not_before,
                retried: 0,
                caller_ip: p.caller_ip.clone(),
                seq: *seq,
                kind: Kind::Normal,
                holds_queue: None,
                in_flight: false,
            };
            if let Some(k) = key {
                self.dedup.insert(
                    k,
                    Dedup {
                        message_id: msg.id.clone(),
                        until: now + DEDUP_WINDOW_MS,
                    },
                );
            }
            out.push(Published {
                message_id: msg.id.clone(),
                url,
                deduplicated: false,
            });
            self.log(seq, now, &msg, "CREATED", Map::new());
            self.messages.insert(msg.id.clone(), msg);
        }
        Ok(match p.dest {
            Dest::Url(_) => match out.pop() {
                Some(one) => PublishOut::Single(one),
                None => PublishOut::Group(Vec::new()),
            },
            Dest::Group(_) => PublishOut::Group(out),
        })
    }

    /// Adds a callback or failure-callback message.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_callback(
        &mut self,
        seq: &mut u64,
        now: u64,
        source: &Message,
        kind: Kind,
        url: &str,
        body: Vec<u8>,
    ) {
        let cb = match kind {
            Kind::FailureCallback => &source.cfg.failure_callback_cfg,
            _ => &source.cfg.callback_cfg,
        };
        let mut forward = vec![("Content-Type".to_string(), "application/json".to_string())];
        forward.extend(cb.forward.iter().cloned());
        let cfg = MsgConfig {
            method: cb.method.clone().unwrap_or_else(|| "POST".into()),
            retries: cb.retries.unwrap_or(super::config::DEFAULT_RETRIES),
            retry_delay: cb.retry_delay.clone(),
            timeout_ms: cb.timeout_ms,
            forward,
            flow: None,
            ..MsgConfig::default()
        };
        *seq += 1;
        let msg = Message {
            id: random_id("msg_", 26),
            url: url.to_string(),
            topic: None,
            endpoint: None,
            queue: None,
            schedule_id: None,
            cfg,
            body,
            created_at: now,
            not_before: now,
            next_at: now,
            retried: 0,
            caller_ip: source.caller_ip.clone(),
            seq: *seq,
            kind,
            holds_queue: source.queue.clone(),
            in_flight: false,
        };
        self.log(seq, now, &msg, "CREATED", Map::new());
        self.messages.insert(msg.id.clone(), msg);
    }

    /// Appends a log event for `msg` in `state`, with extra fields.
    pub(crate) fn log(
        &mut self,
        seq: &mut u64,
        now: u64,
        msg: &Message,
        state: &str,
        extra: Map<String, Value>,
    ) {
        *seq += 1;
        let mut e = Map::new();
        e.insert("time".into(), json!(now));
        e.insert("messageId".into(), json!(msg.id));
        e.insert("state".into(), json!(state));
        e.insert("url".into(), json!(msg.url));
        opt(&mut e, "topicName", &msg.topic);
        opt(&mut e, "endpointName", &msg.endpoint);
        opt(&mut e, "queueName", &msg.queue);
        opt(&mut e, "scheduleId", &msg.schedule_id);
        e.insert("header".into(), header_map(&msg.cfg.forward));
        e.insert(
            "body".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(&msg.body)),
        );
        e.insert("method".into(), json!(msg.cfg.method));
        e.insert("maxRetries".into(), json!(msg.cfg.retries));
        e.insert("timeout".into(), json!(msg.cfg.timeout_ms.unwrap_or(0)));
        e.insert("callerIp".into(), json!(msg.caller_ip));
        opt(&mut e, "callback", &msg.cfg.callback);
        opt(&mut e, "failureCallback", &msg.cfg.failure_callback);
        opt(&mut e, "retryDelayExpression", &msg.cfg.retry_delay);
        if let Some(f) = &msg.cfg.flow {
            e.insert("flowControlKey".into(), json!(f.key));
        }
        labels(&mut e, &msg.cfg.labels);
        e.extend(extra);
        self.logs.push_back(LogEvent {
            seq: *seq,
            event: Value::Object(e),
        });
        while self.logs.len() > MAX_LOGS {
            self.logs.pop_front();
        }
    }

    /// Moves a failed message to the DLQ and returns its DLQ id.
    pub(crate) fn push_dlq(
        &mut self,
        seq: &mut u64,
        now: u64,
        msg: Message,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> String {
        *seq += 1;
        let dlq_id = format!("{now}-{seq}");
        self.dlq.push_back(DlqEntry {
            dlq_id: dlq_id.clone(),
            msg,
            response_status: status,
            response_headers: headers,
            response_body: body,
        });
        while self.dlq.len() > MAX_DLQ {
            self.dlq.pop_front();
        }
        dlq_id
    }

    /// Drops expired dedup records.
    pub(crate) fn purge_dedup(&mut self, now: u64) {
        self.dedup.retain(|_, d| d.until > now);
    }
}

fn opt(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.into(), json!(v));
    }
}

fn labels(m: &mut Map<String, Value>, labels: &[String]) {
    if let Some(first) = labels.first() {
        m.insert("label".into(), json!(first));
        m.insert("labels".into(), json!(labels));
    }
}

/// `{Canonical-Name: [values]}`.
pub(crate) fn header_map(h: &[(String, String)]) -> Value {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in h {
        m.entry(canonical(k)).or_default().push(v.clone());
    }
    json!(m)
}

/// `body` when UTF-8, else `bodyBase64`.
fn body_fields(m: &mut Map<String, Value>, body: &[u8], prefix: &str, redact: bool) {
    if body.is_empty() {
        return;
    }
    if redact {
        let h = hex::encode(Sha256::digest(body));
        m.insert(format!("{prefix}ody"), json!(format!("REDACTED:{h}")));
        return;
    }
    match std::str::from_utf8(body) {
        Ok(s) => {
            m.insert(format!("{prefix}ody"), json!(s));
        }
        Err(_) => {
            m.insert(
                format!("{prefix}odyBase64"),
                json!(base64::engine::general_purpose::STANDARD.encode(body)),
            );
        }
    }
}

fn config_fields(m: &mut Map<String, Value>, cfg: &MsgConfig) {
    opt(m, "callback", &cfg.callback);
    opt(m, "failureCallback", &cfg.failure_callback);
    opt(m, "retryDelayExpression", &cfg.retry_delay);
    if let Some(f) = &cfg.flow {
        m.insert("flowControlKey".into(), json!(f.key));
        if let Some(p) = f.parallelism {
            m.insert("parallelism".into(), json!(p));
        }
        if let Some(r) = f.rate {
            m.insert("rate".into(), json!(r));
        }
        m.insert("period".into(), json!(f.period_s));
    }
    labels(m, &cfg.labels);
}

fn redacted_headers(cfg: &MsgConfig) -> Value {
    let all = cfg
        .redact
        .iter()
        .any(|r| r.eq_ignore_ascii_case("header") || r.eq_ignore_ascii_case("headers"));
    let hs: Vec<(String, String)> = cfg
        .forward
        .iter()
        .map(|(k, v)| {
            let one = cfg
                .redact
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&format!("header[{k}]")));
            if all || one {
                let h = hex::encode(Sha256::digest(v.as_bytes()));
                (k.clone(), format!("REDACTED:{h}"))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    header_map(&hs)
}

impl Message {
    /// The `Message` object of the API.
    pub(crate) fn json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("messageId".into(), json!(self.id));
        m.insert("url".into(), json!(self.url));
        opt(&mut m, "topicName", &self.topic);
        opt(&mut m, "endpointName", &self.endpoint);
        m.insert("method".into(), json!(self.cfg.method));
        m.insert("header".into(), redacted_headers(&self.cfg));
        let redact_body = self
            .cfg
            .redact
            .iter()
            .any(|r| r.eq_ignore_ascii_case("body"));
        body_fields(&mut m, &self.body, "b", redact_body);
        m.insert("maxRetries".into(), json!(self.cfg.retries));
        m.insert("notBefore".into(), json!(self.not_before));
        m.insert("createdAt".into(), json!(self.created_at));
        opt(&mut m, "queueName", &self.queue);
        opt(&mut m, "scheduleId", &self.schedule_id);
        m.insert("callerIP".into(), json!(self.caller_ip));
        m.insert("callerIp".into(), json!(self.caller_ip));
        config_fields(&mut m, &self.cfg);
        m
    }
}

impl DlqEntry {
    /// The `DlqMessage` object of the API.
    pub(crate) fn json(&self) -> Value {
        let mut m = self.msg.json();
        m.insert("dlqId".into(), json!(self.dlq_id));
        m.insert("responseStatus".into(), json!(self.response_status));
        m.insert("responseHeader".into(), header_map(&self.response_headers));
        body_fields(&mut m, &self.response_body, "responseB", false);
        Value::Object(m)
    }
}

impl Schedule {
    /// The `Schedule` object of the API.
    pub(crate) fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("scheduleId".into(), json!(self.id));
        m.insert("cron".into(), json!(self.cron));
        m.insert("destination".into(), json!(self.destination));
        m.insert("method".into(), json!(self.cfg.method));
        m.insert("header".into(), redacted_headers(&self.cfg));
        body_fields(&mut m, &self.body, "b", false);
        m.insert("retries".into(), json!(self.cfg.retries));
        if let Some(d) = self.cfg.delay_ms {
            m.insert("delay".into(), json!(d / 1000));
        }
        if let Some(t) = self.cfg.timeout_ms {
            m.insert("timeout".into(), json!(t / 1000));
        }
        if !self.cfg.callback_cfg.forward.is_empty() {
            m.insert(
                "callbackHeader".into(),
                header_map(&self.cfg.callback_cfg.forward),
            );
        }
        if !self.cfg.failure_callback_cfg.forward.is_empty() {
            m.insert(
                "failureCallbackHeader".into(),
                header_map(&self.cfg.failure_callback_cfg.forward),
            );
        }
        opt(&mut m, "queueName", &self.cfg.queue_name);
        m.insert("isPaused".into(), json!(self.paused));
        m.insert("createdAt".into(), json!(self.created_at));
        m.insert("callerIP".into(), json!(self.caller_ip));
        m.insert("callerIp".into(), json!(self.caller_ip));
        config_fields(&mut m, &self.cfg);
        if let Some(t) = self.last_time {
            m.insert("lastScheduleTime".into(), json!(t));
        }
        if let Some(t) = self.next_time {
            m.insert("nextScheduleTime".into(), json!(t));
        }
        if !self.last_states.is_empty() {
            m.insert("lastScheduleStates".into(), json!(self.last_states));
        }
        Value::Object(m)
    }
}

impl Queue {
    /// The `Queue` object of the API; `lag` is the number of waiting messages.
    pub(crate) fn json(&self, lag: usize) -> Value {
        json!({
            "name": self.name,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "parallelism": self.parallelism,
            "lag": lag,
            "paused": self.paused,
        })
    }
}

impl UrlGroup {
    /// The `UrlGroup` object of the API.
    pub(crate) fn json(&self) -> Value {
        let eps: Vec<Value> = self
            .endpoints
            .iter()
            .map(|e| {
                let mut m = Map::new();
                opt(&mut m, "name", &e.name);
                m.insert("url".into(), json!(e.url));
                Value::Object(m)
            })
            .collect();
        json!({
            "name": self.name,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "endpoints": eps,
        })
    }
}
