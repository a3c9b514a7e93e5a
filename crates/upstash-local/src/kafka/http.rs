//! HTTP side of the Kafka service: Basic auth, routing, bodies, long-polls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::broker::{Broker, InstanceOpts, Metadata, NewMessage, OffsetSpec, Reset, MAX_RECORDS};
use super::config::{KafkaTopicConfig, DEFAULT_MAX_MESSAGE_SIZE};
use super::storage::Header;
use super::{KafkaErr, KafkaState};
use crate::secret::ct_eq;

type Res<T> = Result<T, KafkaErr>;

/// Default long-poll of fetch and consume, in ms (as the Upstash docs say).
const DEFAULT_POLL_MS: u64 = 1000;
/// Longest accepted long-poll, in ms.
const MAX_POLL_MS: u64 = 300_000;

pub(crate) fn router(state: Arc<KafkaState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn json_resp(status: u16, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error_resp(e: &KafkaErr) -> Response {
    let body = serde_json::json!({"error": e.msg, "status": e.status});
    json_resp(e.status, serde_json::to_vec(&body).unwrap_or_default())
}

/// Appends messages and wakes the long-polls waiting for them.
fn produce(st: &KafkaState, msgs: Vec<NewMessage>) -> Res<Vec<Metadata>> {
    let md = st.broker()?.produce(msgs)?;
    st.changed.notify_waiters();
    Ok(md)
}

fn to_json<T: Serialize>(v: &T) -> Res<Vec<u8>> {
    serde_json::to_vec(v).map_err(|_| KafkaErr::new(500, "cannot encode the answer"))
}

fn success() -> Res<Vec<u8>> {
    to_json(&serde_json::json!({"result": "Success", "status": 200}))
}

fn bad(msg: impl Into<String>) -> KafkaErr {
    KafkaErr::new(400, msg)
}

async fn handle(State(st): State<Arc<KafkaState>>, req: Request) -> Response {
    match route(&st, req).await {
        Ok(body) => json_resp(200, body),
        Err(e) => error_resp(&e),
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect()
}

fn query_get<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Checks `Authorization: Basic base64(user:pass)`.
fn basic_ok(st: &KafkaState, headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, b64)) = v.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return false;
    };
    creds_ok(st, &raw[..colon], &raw[colon + 1..])
}

fn creds_ok(st: &KafkaState, user: &[u8], pass: &[u8]) -> bool {
    let u = ct_eq(user, st.username.as_bytes());
    let p = ct_eq(pass, st.password.expose().as_bytes());
    u & p
}

async fn route(st: &Arc<KafkaState>, req: Request) -> Res<Vec<u8>> {
    let (parts, body) = req.into_parts();
    let query = query_pairs(parts.uri.query());
    let raw_path = parts.uri.path().trim_matches('/').to_string();
    let segs: Vec<String> = if raw_path.is_empty() {
        Vec::new()
    } else {
        raw_path.split('/').map(decode).collect()
    };
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
    let is_webhook = seg.first() == Some(&"webhook");
    let authorized = basic_ok(st, &parts.headers)
        || (is_webhook
            && match (query_get(&query, "user"), query_get(&query, "pass")) {
                (Some(u), Some(p)) => creds_ok(st, u.as_bytes(), p.as_bytes()),
                _ => false,
            });
    if !authorized {
        return Err(KafkaErr::new(401, "Unauthorized"));
    }
    let body = crate::serve::read_body(body, st.max_body)
        .await
        .map_err(|e| match e {
            crate::serve::BodyError::TooLarge => KafkaErr::new(
                413,
                format!("request body is larger than {} bytes", st.max_body),
            ),
            crate::serve::BodyError::Broken => KafkaErr::new(400, "broken request body"),
        })?;
    let m = &parts.method;
    let get_or_post = *m == Method::GET || *m == Method::POST;
    match seg.as_slice() {
        ["produce", topic, rest @ ..] if *m == Method::GET && !rest.is_empty() => {
            let value = rest.join("/");
            let msg = NewMessage {
                topic: (*topic).to_string(),
                partition: None,
                timestamp: None,
                key: query_get(&query, "key").map(str::to_string),
                value,
                headers: Vec::new(),
            };
            let one = produce(st, vec![msg])?
                .pop()
                .ok_or_else(|| KafkaErr::new(500, "nothing produced"))?;
            to_json(&one)
        }
        ["produce"] | ["produce", _] if get_or_post => {
            let path_topic = seg.get(1).copied();
            let items: Vec<InMessage> = one_or_many(&body)?;
            let mut msgs = Vec::with_capacity(items.len());
            for it in items {
                msgs.push(it.into_new(path_topic)?);
            }
            if msgs.is_empty() {
                return to_json(&Vec::<()>::new());
            }
            to_json(&produce(st, msgs)?)
        }
        ["webhook"] if get_or_post => {
            let topic = query_get(&query, "topic")
                .ok_or_else(|| bad("the topic query parameter is required"))?;
            let msg = NewMessage {
                topic: topic.to_string(),
                partition: None,
                timestamp: None,
                key: query_get(&query, "key").map(str::to_string),
                value: String::from_utf8_lossy(&body).into_owned(),
                headers: webhook_headers(&parts.headers),
            };
            let one = produce(st, vec![msg])?
                .pop()
                .ok_or_else(|| KafkaErr::new(500, "nothing produced"))?;
            to_json(&one)
        }
        ["fetch"] if get_or_post => fetch(st, &body).await,
        ["consume", group, instance, topic] if *m == Method::GET => {
            let timeout = match query_get(&query, "timeout") {
                Some(t) => Some(
                    t.parse::<i64>()
                        .map_err(|_| bad(format!("invalid timeout {t:?}")))?,
                ),
                None => None,
            };
            let topics = vec![(*topic).to_string()];
            consume(st, group, instance, topics, timeout, &parts.headers).await
        }
        ["consume", group, instance] if get_or_post => {
            let req: ConsumeBody = parse_or_default(&body)?;
            let mut topics = req.topics.unwrap_or_default();
            if let Some(t) = req.topic {
                topics.insert(0, t);
            }
            if topics.is_empty() {
                return Err(bad("a topic or topics is required"));
            }
            consume(st, group, instance, topics, req.timeout, &parts.headers).await
        }
        ["commit", group, instance] if get_or_post => {
            let offsets = if is_blank(&body) {
                None
            } else {
                let list: Vec<InTopicPartitionOffset> = one_or_many(&body)?;
                if list.is_empty() {
                    None
                } else {
                    Some(
                        list.into_iter()
                            .map(|o| (o.topic, o.partition, o.offset))
                            .collect(),
                    )
                }
            };
            st.broker()?.commit(group, instance, offsets)?;
            success()
        }
        ["committed", group, _instance] if get_or_post => {
            let list: Vec<InTopicPartition> = if is_blank(&body) {
                Vec::new()
            } else {
                one_or_many(&body)?
            };
            let out = st.broker()?.committed(
                group,
                list.into_iter().map(|t| (t.topic, t.partition)).collect(),
            )?;
            to_json(&out)
        }
        ["delete-consumer", group, instance] if *m == Method::POST || *m == Method::DELETE => {
            st.broker()?.remove_instance(group, instance)?;
            st.changed.notify_waiters();
            success()
        }
        ["topics"] if *m == Method::GET => to_json(&st.broker()?.topic_partitions()),
        ["consumers"] if *m == Method::GET => to_json(&st.broker()?.consumers()),
        ["offsets", ts] if get_or_post => {
            let spec = match *ts {
                "earliest" => OffsetSpec::Earliest,
                "latest" => OffsetSpec::Latest,
                n => OffsetSpec::Time(n.parse::<i64>().map_err(|_| {
                    bad(format!(
                        "invalid timestamp {n:?}: use unix milliseconds, earliest or latest"
                    ))
                })?),
            };
            let list: Vec<InTopicPartition> = if is_blank(&body) {
                Vec::new()
            } else {
                one_or_many(&body)?
            };
            let b = st.broker()?;
            let mut out = Vec::with_capacity(list.len());
            for tp in list {
                let offset = b.list_offset(&tp.topic, tp.partition, spec)?;
                out.push(serde_json::json!({
                    "topic": tp.topic, "partition": tp.partition, "offset": offset
                }));
            }
            to_json(&out)
        }
        ["_local", "kafka", "topics"] if *m == Method::GET => {
            to_json(&st.broker()?.describe_topics())
        }
        ["_local", "kafka", "topics"] if *m == Method::POST => {
            let req: CreateTopic = parse(&body)?;
            let cfg = KafkaTopicConfig {
                name: req.name,
                partitions: req.partitions.unwrap_or(1),
                retention_ms: req.retention_ms,
                max_message_size: req.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE_SIZE),
            };
            st.broker()?.create_topic(cfg.clone())?;
            st.changed.notify_waiters();
            to_json(&cfg)
        }
        ["_local", "kafka", "topics", name] if *m == Method::DELETE => {
            st.broker()?.delete_topic(name)?;
            st.changed.notify_waiters();
            success()
        }
        _ => {
            let known = matches!(
                seg.first().copied(),
                Some(
                    "produce"
                        | "webhook"
                        | "fetch"
                        | "consume"
                        | "commit"
                        | "committed"
                        | "delete-consumer"
                        | "topics"
                        | "consumers"
                        | "offsets"
                        | "_local"
                )
            );
            if known {
                Err(KafkaErr::new(
                    404,
                    format!(
                        "no endpoint for {m} /{raw_path} (check the method and the path segments)"
                    ),
                ))
            } else {
                Err(KafkaErr::new(404, format!("no endpoint /{raw_path}")))
            }
        }
    }
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Res<T> {
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid request body: {e}")))
}

fn parse_or_default<T: DeserializeOwned + Default>(body: &[u8]) -> Res<T> {
    if is_blank(body) {
        Ok(T::default())
    } else {
        parse(body)
    }
}

/// One JSON object or an array of them.
fn one_or_many<T: DeserializeOwned>(body: &[u8]) -> Res<Vec<T>> {
    let v: Value = parse(body)?;
    let items = match v {
        Value::Array(a) => a,
        other => vec![other],
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value(v)
                .map_err(|e| bad(format!("invalid request body item {i}: {e}")))
        })
        .collect()
}

#[derive(Deserialize)]
struct InMessage {
    topic: Option<String>,
    partition: Option<i64>,
    timestamp: Option<i64>,
    key: Option<String>,
    value: Value,
    headers: Option<Vec<Header>>,
}

impl InMessage {
    fn into_new(self, path_topic: Option<&str>) -> Res<NewMessage> {
        let topic = match (path_topic, self.topic) {
            (Some(t), _) => t.to_string(),
            (None, Some(t)) => t,
            (None, None) => return Err(bad("every message needs a topic")),
        };
        let value = match self.value {
            Value::String(s) => s,
            Value::Null => return Err(bad("a message value is required")),
            other => other.to_string(),
        };
        Ok(NewMessage {
            topic,
            partition: self.partition,
            timestamp: self.timestamp,
            key: self.key,
            value,
            headers: self.headers.unwrap_or_default(),
        })
    }
}

#[derive(Deserialize)]
struct InTopicPartition {
    topic: String,
    partition: i64,
}

#[derive(Deserialize)]
struct InTopicPartitionOffset {
    topic: String,
    partition: i64,
    offset: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct FetchBody {
    topic: Option<String>,
    partition: Option<i64>,
    offset: Option<i64>,
    topic_partition_offsets: Option<Vec<InTopicPartitionOffset>>,
    timeout: Option<i64>,
}

#[derive(Deserialize, Default)]
struct ConsumeBody {
    topic: Option<String>,
    topics: Option<Vec<String>>,
    timeout: Option<i64>,
}

#[derive(Deserialize)]
struct CreateTopic {
    name: String,
    partitions: Option<u32>,
    retention_ms: Option<u64>,
    max_message_size: Option<usize>,
}

fn poll_timeout(ms: Option<i64>) -> Duration {
    let ms = ms.map_or(DEFAULT_POLL_MS, |t| u64::try_from(t).unwrap_or(0));
    Duration::from_millis(ms.min(MAX_POLL_MS))
}

/// Runs `step` until it yields something or `timeout` passes, re-running it whenever the
/// broker changes. `step` returns the items and whether it changed the broker itself.
async fn long_poll<T>(
    st: &KafkaState,
    timeout: Duration,
    mut step: impl FnMut(&mut Broker) -> Res<(Vec<T>, bool)>,
) -> Res<Vec<T>> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = st.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (items, changed) = {
            let mut b = st.broker()?;
            step(&mut b)?
        };
        if changed {
            st.changed.notify_waiters();
        }
        let closing = st.closing.load(std::sync::atomic::Ordering::Acquire);
        if closing || !items.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(items);
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

async fn fetch(st: &KafkaState, body: &[u8]) -> Res<Vec<u8>> {
    let req: FetchBody = parse_or_default(body)?;
    let mut targets: Vec<(String, i64, i64)> = req
        .topic_partition_offsets
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.topic, t.partition, t.offset))
        .collect();
    if let Some(t) = req.topic {
        targets.push((t, req.partition.unwrap_or(0), req.offset.unwrap_or(0)));
    }
    if targets.is_empty() {
        return to_json(&Vec::<()>::new());
    }
    let out = long_poll(st, poll_timeout(req.timeout), |b| {
        let mut out = Vec::new();
        for (t, p, o) in &targets {
            let left = MAX_RECORDS.saturating_sub(out.len());
            // Check every target even when the cap is reached, so bad ones still fail.
            let mut msgs = b.fetch(t, *p, *o, left)?;
            out.append(&mut msgs);
        }
        Ok((out, false))
    })
    .await?;
    to_json(&out)
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn instance_opts(st: &KafkaState, h: &HeaderMap) -> Res<InstanceOpts> {
    let auto_commit = match header_str(h, "kafka-enable-auto-commit") {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(bad(format!(
                "invalid Kafka-Enable-Auto-Commit {v:?}: use true or false"
            )))
        }
    };
    let ms = |name: &str, default: u64| -> Res<Duration> {
        match header_str(h, name) {
            None => Ok(Duration::from_millis(default)),
            Some(v) => v
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| bad(format!("invalid {name} {v:?}: use milliseconds"))),
        }
    };
    let auto_commit_interval = ms("kafka-auto-commit-interval", 5000)?;
    let default_session = u64::try_from(st.session_timeout.as_millis()).unwrap_or(u64::MAX);
    let session_timeout = ms("kafka-session-timeout-ms", default_session)?;
    if session_timeout.is_zero() {
        return Err(bad("Kafka-Session-Timeout-Ms must be positive"));
    }
    let reset = match header_str(h, "kafka-auto-offset-reset") {
        None => Reset::Latest,
        Some(v) if v.eq_ignore_ascii_case("earliest") => Reset::Earliest,
        Some(v) if v.eq_ignore_ascii_case("latest") => Reset::Latest,
        Some(v) if v.eq_ignore_ascii_case("none") => Reset::None,
        Some(v) => {
            return Err(bad(format!(
                "invalid Kafka-Auto-Offset-Reset {v:?}: use earliest, latest or none"
            )))
        }
    };
    Ok(InstanceOpts {
        auto_commit,
        auto_commit_interval,
        reset,
        session_timeout,
    })
}

async fn consume(
    st: &KafkaState,
    group: &str,
    instance: &str,
    topics: Vec<String>,
    timeout: Option<i64>,
    headers: &HeaderMap,
) -> Res<Vec<u8>> {
    if group.is_empty() || instance.is_empty() {
        return Err(bad("group and instance must be non-empty"));
    }
    let opts = instance_opts(st, headers)?;
    let wait = poll_timeout(timeout);
    let poll_until = Instant::now() + wait;
    let out = long_poll(st, wait, |b| {
        b.consume(group, instance, &topics, &opts, Instant::now(), poll_until)
    })
    .await;
    st.broker()?.poll_done(group, instance, Instant::now());
    let out = out?;
    to_json(&out)
}

/// Request headers that become message headers on `/webhook`: all but the standard ones.
fn webhook_headers(h: &HeaderMap) -> Vec<Header> {
    const STANDARD: &[&str] = &[
        "accept",
        "accept-encoding",
        "accept-language",
        "authorization",
        "cache-control",
        "connection",
        "content-length",
        "content-type",
        "cookie",
        "expect",
        "host",
        "origin",
        "pragma",
        "referer",
        "te",
        "transfer-encoding",
        "upgrade",
        "user-agent",
    ];
    h.iter()
        .filter(|(k, _)| {
            let k = k.as_str();
            !STANDARD.contains(&k) && !k.starts_with("x-forwarded-") && !k.starts_with("sec-")
        })
        .filter_map(|(k, v)| {
            v.to_str().ok().map(|v| Header {
                key: k.as_str().to_string(),
                value: v.to_string(),
            })
        })
        .collect()
}
