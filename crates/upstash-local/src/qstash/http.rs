//! The HTTP API of the QStash service (`/v2/...`) and its `/_local/qstash/...` admin routes.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use super::config::{self, Headers};
use super::cron::Cron;
use super::engine::{fire_schedule, now_ms, Core};
use super::state::{
    parse_dest, random_id, valid_name, ApiError, Endpoint, Publish, Queue, Schedule, UrlGroup,
    UserState,
};
use super::USERS;
use crate::secret::ct_eq;

type Res = Result<Response, ApiError>;

/// Builds the router.
pub(crate) fn router(core: Arc<Core>) -> Router {
    Router::new().fallback(handle).with_state(core)
}

fn json_resp(status: u16, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn empty() -> Response {
    Response::new(Body::empty())
}

fn err_resp(e: &ApiError) -> Response {
    json_resp(e.status, &json!({ "error": e.msg }))
}

/// A request, decoded.
struct Req {
    method: Method,
    /// Raw path (not decoded).
    path: String,
    /// Decoded query pairs.
    query: Vec<(String, String)>,
    /// Raw query string.
    raw_query: Option<String>,
    headers: Headers,
    body: Vec<u8>,
    caller_ip: String,
    user: usize,
}

impl Req {
    fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a query parameter, repeated or comma-joined.
    fn q_all(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn body_json(&self) -> Result<Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|_| ApiError::bad("invalid JSON body"))
    }

    /// Headers plus the webhook-mode `upstash-*` query parameters.
    fn config_headers(&self) -> Headers {
        let mut h = self.headers.clone();
        for (k, v) in &self.query {
            let k = k.to_ascii_lowercase();
            if k.starts_with("upstash-") {
                h.push((k, v.clone()));
            }
        }
        h
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn find_user(token: &[u8]) -> Option<usize> {
    let mut found = None;
    for (i, u) in USERS.iter().enumerate() {
        if ct_eq(u.token.as_bytes(), token) {
            found = Some(i);
        }
    }
    found
}

async fn handle(
    State(core): State<Arc<Core>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let raw_query = parts.uri.query().map(str::to_string);
    let query = parse_query(raw_query.as_deref());
    let bearer = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_string());
    let token = bearer.or_else(|| {
        query
            .iter()
            .find(|(k, _)| k == "qstash_token")
            .map(|(_, v)| v.clone())
    });
    let Some(user) = token.and_then(|t| find_user(t.as_bytes())) else {
        return json_resp(
            401,
            &json!({"error": "unauthorized: invalid or missing token"}),
        );
    };
    let body = match crate::serve::read_body(body, core.settings.max_body).await {
        Ok(b) => b.to_vec(),
        Err(crate::serve::BodyError::TooLarge) => {
            return json_resp(413, &json!({"error": "request body is too large"}));
        }
        Err(crate::serve::BodyError::Broken) => {
            return json_resp(400, &json!({"error": "broken request body"}));
        }
    };
    let headers: Headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let r = Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        raw_query,
        headers,
        body,
        caller_ip: peer.ip().to_string(),
        user,
    };
    match route(&core, &r) {
        Ok(resp) => resp,
        Err(e) => err_resp(&e),
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

fn method_not_allowed() -> ApiError {
    ApiError {
        status: 405,
        msg: "method not allowed".into(),
    }
}

fn route(core: &Core, r: &Req) -> Res {
    let path = r.path.as_str();
    if let Some(rest) = path.strip_prefix("/_local/qstash/") {
        return admin(core, r, rest);
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Err(not_found());
    };
    if let Some(dest) = rest.strip_prefix("publish/") {
        return publish(core, r, None, dest);
    }
    if let Some(q) = rest.strip_prefix("enqueue/") {
        let (queue, dest) = q.split_once('/').ok_or_else(not_found)?;
        return publish(core, r, Some(decode(queue)), dest);
    }
    let segs: Vec<String> = rest.trim_end_matches('/').split('/').map(decode).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = &r.method;
    match s.as_slice() {
        ["batch"] if m == Method::POST => batch(core, r),
        ["keys"] if m == Method::GET => {
            let st = core.lock();
            let u = st.users.get(r.user).ok_or_else(not_found)?;
            Ok(json_resp(
                200,
                &json!({"current": u.current_key, "next": u.next_key}),
            ))
        }
        ["keys", "rotate"] if m == Method::POST => {
            let mut st = core.lock();
            let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
            u.current_key = std::mem::take(&mut u.next_key);
            u.next_key = random_id("sig_", 28);
            let v = json!({"current": u.current_key, "next": u.next_key});
            drop(st);
            core.touch();
            Ok(json_resp(200, &v))
        }
        ["schedules", ..] => schedules(core, r, &s[1..], rest),
        ["topics", ..] => topics(core, r, &s[1..]),
        ["queues", ..] => queues(core, r, &s[1..]),
        ["messages", ..] => messages(core, r, &s[1..]),
        ["dlq", ..] => dlq(core, r, &s[1..]),
        ["events"] | ["logs"] if m == Method::GET => logs(core, r, s[0]),
        ["flowControl", ..] => flow_control(core, r, &s[1..]),
        ["globalParallelism"] if m == Method::GET => {
            let st = core.lock();
            let n = st
                .users
                .get(r.user)
                .map_or(0, |u| u.messages.values().filter(|m| m.in_flight).count());
            Ok(json_resp(
                200,
                &json!({"parallelismMax": 1000, "parallelismCount": n}),
            ))
        }
        _ => Err(not_found()),
    }
}

/// Rebuilds the destination from the raw path tail and the query string.
fn destination(r: &Req, raw: &str) -> String {
    let mut d = raw.to_string();
    let lower = d.to_ascii_lowercase();
    if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
        d = percent_decode_str(&d).decode_utf8_lossy().into_owned();
    }
    for scheme in ["https:/", "http:/"] {
        if d.starts_with(scheme) && !d.starts_with(&format!("{scheme}/")) {
            d = format!("{scheme}/{}", &d[scheme.len()..]);
        }
    }
    let is_url = d.starts_with("http://") || d.starts_with("https://");
    if is_url {
        if let Some(q) = &r.raw_query {
            let kept: Vec<&str> = q
                .split('&')
                .filter(|p| {
                    let k = p.split('=').next().unwrap_or("").to_ascii_lowercase();
                    !p.is_empty() && k != "qstash_token" && !k.starts_with("upstash-")
                })
                .collect();
            if !kept.is_empty() {
                d.push('?');
                d.push_str(&kept.join("&"));
            }
        }
    } else {
        d = decode(&d);
    }
    d
}

fn publish(core: &Core, r: &Req, queue: Option<String>, raw_dest: &str) -> Res {
    if r.method != Method::POST {
        return Err(method_not_allowed());
    }
    let dest = parse_dest(&destination(r, raw_dest))?;
    let cfg = config::parse(&r.config_headers()).map_err(ApiError::bad)?;
    let p = Publish {
        dest,
        queue,
        cfg,
        body: r.body.clone(),
        caller_ip: r.caller_ip.clone(),
        schedule_id: None,
    };
    let now = now_ms();
    let mut guard = core.lock();
    let st = &mut *guard;
    let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
    let out = u.publish(&mut st.seq, now, p)?;
    drop(guard);
    core.touch();
    Ok(json_resp(out.status(), &out.json()))
}

fn batch(core: &Core, r: &Req) -> Res {
    let items = match r.body_json()? {
        Value::Array(a) => a,
        _ => return Err(ApiError::bad("batch body must be a JSON array")),
    };
    let mut reqs = Vec::with_capacity(items.len());
    for item in &items {
        let o = item
            .as_object()
            .ok_or_else(|| ApiError::bad("each batch item must be an object"))?;
        let dest = o
            .get("destination")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad("batch item needs a destination"))?;
        let mut h: Headers = Vec::new();
        if let Some(hs) = o.get("headers") {
            let hs = hs
                .as_object()
                .ok_or_else(|| ApiError::bad("batch item headers must be an object"))?;
            for (k, v) in hs {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                h.push((k.to_ascii_lowercase(), v));
            }
        }
        let cfg = config::parse(&h).map_err(ApiError::bad)?;
        let body = match o.get("body") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(other) => other.to_string().into_bytes(),
        };
        let queue = o
            .get("queue")
            .or_else(|| o.get("queueName"))
            .and_then(Value::as_str)
            .map(str::to_string);
        reqs.push(Publish {
            dest: parse_dest(dest)?,
            queue,
            cfg,
            body,
            caller_ip: r.caller_ip.clone(),
            schedule_id: None,
        });
    }
    let now = now_ms();
    let mut guard = core.lock();
    let st = &mut *guard;
    let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
    let mut out = Vec::with_capacity(reqs.len());
    for p in reqs {
        match u.publish(&mut st.seq, now, p) {
            Ok(o) => out.push(o.json()),
            Err(e) => out.push(json!({"error": e.msg})),
        }
    }
    drop(guard);
    core.touch();
    Ok(json_resp(201, &Value::Array(out)))
}

fn schedules(core: &Core, r: &Req, s: &[&str], rest: &str) -> Res {
    let m = &r.method;
    let now = now_ms();
    match s {
        [] if m == Method::GET => {
            let st = core.lock();
            let u = st.users.get(r.user).ok_or_else(not_found)?;
            let mut list: Vec<&Schedule> = u.schedules.values().collect();
            list.sort_by_key(|s| std::cmp::Reverse(s.created_at));
            Ok(json_resp(
                200,
                &Value::Array(list.iter().map(|s| s.json()).collect()),
            ))
        }
        [id, action]
            if (*action == "pause" || *action == "resume")
                && (m == Method::PATCH || m == Method::POST)
                && !id.starts_with("http") =>
        {
            let mut st = core.lock();
            let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
            let sc = u
                .schedules
                .get_mut(*id)
                .ok_or_else(|| ApiError::not_found("schedule not found"))?;
            sc.paused = *action == "pause";
            drop(st);
            core.touch();
            Ok(empty())
        }
        [id] if m == Method::GET => {
            let st = core.lock();
            let u = st.users.get(r.user).ok_or_else(not_found)?;
            let sc = u
                .schedules
                .get(*id)
                .ok_or_else(|| ApiError::not_found("schedule not found"))?;
            Ok(json_resp(200, &sc.json()))
        }
        [id] if m == Method::DELETE => {
            let mut st = core.lock();
            let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
            u.schedules.remove(*id);
            drop(st);
            core.touch();
            Ok(empty())
        }
        [_, ..] if m == Method::POST => {
            let raw = rest.strip_prefix("schedules/").unwrap_or("");
            let destination = destination(r, raw);
            parse_dest(&destination)?;
            let cfg = config::parse(&r.config_headers()).map_err(ApiError::bad)?;
            let cron = cfg
                .cron
                .clone()
                .ok_or_else(|| ApiError::bad("Upstash-Cron header is required"))?;
            let parsed =
                Cron::parse(&cron).ok_or_else(|| ApiError::bad("invalid cron expression"))?;
            let id = match &cfg.schedule_id {
                Some(id) if valid_name(id) => id.clone(),
                Some(_) => return Err(ApiError::bad("invalid schedule id")),
                None => random_id("scd_", 26),
            };
            if let Some(q) = &cfg.queue_name {
                if !valid_name(q) {
                    return Err(ApiError::bad("invalid queue name"));
                }
            }
            let mut st = core.lock();
            let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
            if let Some(q) = &cfg.queue_name {
                u.ensure_queue(q, now);
            }
            let created_at = u.schedules.get(&id).map_or(now, |s| s.created_at);
            u.schedules.insert(
                id.clone(),
                Schedule {
                    id: id.clone(),
                    cron: cron.trim().to_string(),
                    destination,
                    cfg,
                    body: r.body.clone(),
                    created_at,
                    caller_ip: r.caller_ip.clone(),
                    paused: false,
                    last_time: None,
                    next_time: parsed.next_after(now),
                    last_states: Default::default(),
                },
            );
            drop(st);
            core.touch();
            Ok(json_resp(200, &json!({ "scheduleId": id })))
        }
        _ => Err(not_found()),
    }
}

fn topics(core: &Core, r: &Req, s: &[&str]) -> Res {
    let m = &r.method;
    let now = now_ms();
    let mut st = core.lock();
    let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
    let resp = match s {
        [] if m == Method::GET => {
            return Ok(json_resp(
                200,
                &Value::Array(u.groups.values().map(UrlGroup::json).collect()),
            ))
        }
        [name] if m == Method::GET => {
            let g = u
                .groups
                .get(*name)
                .ok_or_else(|| ApiError::not_found("url group not found"))?;
            return Ok(json_resp(200, &g.json()));
        }
        [name] if m == Method::DELETE => {
            u.groups.remove(*name);
            empty()
        }
        [name, "endpoints"] if m == Method::POST || m == Method::DELETE => {
            if !valid_name(name) {
                return Err(ApiError::bad(
                    "invalid url group name: use letters, digits, '-', '_' and '.'",
                ));
            }
            let body = r.body_json()?;
            let eps = body
                .get("endpoints")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::bad("body needs an endpoints array"))?;
            let mut parsed = Vec::with_capacity(eps.len());
            for e in eps {
                let url = e.get("url").and_then(Value::as_str).map(str::to_string);
                let ename = e.get("name").and_then(Value::as_str).map(str::to_string);
                if url.is_none() && ename.is_none() {
                    return Err(ApiError::bad("each endpoint needs a url or a name"));
                }
                parsed.push((url, ename));
            }
            if m == Method::POST {
                let mut add = Vec::new();
                for (url, ename) in parsed {
                    let url = url.ok_or_else(|| ApiError::bad("each endpoint needs a url"))?;
                    if !config::is_http_url(&url) {
                        return Err(ApiError::bad(
                            "invalid endpoint url: endpoint has invalid scheme, add http:// or https://",
                        ));
                    }
                    add.push(Endpoint { name: ename, url });
                }
                let g = u
                    .groups
                    .entry(name.to_string())
                    .or_insert_with(|| UrlGroup {
                        name: name.to_string(),
                        endpoints: Vec::new(),
                        created_at: now,
                        updated_at: now,
                    });
                for e in add {
                    g.endpoints
                        .retain(|x| x.url != e.url && (e.name.is_none() || x.name != e.name));
                    g.endpoints.push(e);
                }
                g.updated_at = now;
            } else {
                let g = u
                    .groups
                    .get_mut(*name)
                    .ok_or_else(|| ApiError::not_found("url group not found"))?;
                for (url, ename) in parsed {
                    g.endpoints.retain(|x| {
                        !(url.as_ref().is_some_and(|u| *u == x.url)
                            || (ename.is_some() && ename == x.name))
                    });
                }
                g.updated_at = now;
                if g.endpoints.is_empty() {
                    u.groups.remove(*name);
                }
            }
            empty()
        }
        _ => return Err(not_found()),
    };
    drop(st);
    core.touch();
    Ok(resp)
}

fn queue_lag(u: &UserState, name: &str) -> usize {
    u.messages
        .values()
        .filter(|m| m.queue.as_deref() == Some(name) && !m.in_flight)
        .count()
}

fn queues(core: &Core, r: &Req, s: &[&str]) -> Res {
    let m = &r.method;
    let now = now_ms();
    let mut st = core.lock();
    let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
    let resp = match s {
        [] if m == Method::GET => {
            let list: Vec<Value> = u
                .queues
                .values()
                .map(|q| q.json(queue_lag(u, &q.name)))
                .collect();
            return Ok(json_resp(200, &Value::Array(list)));
        }
        [] if m == Method::POST => {
            let body = r.body_json()?;
            let name = body
                .get("queueName")
                .and_then(Value::as_str)
                .filter(|n| valid_name(n))
                .ok_or_else(|| ApiError::bad("invalid queue name"))?
                .to_string();
            let parallelism = match body.get("parallelism") {
                None | Some(Value::Null) => 1,
                Some(v) => v
                    .as_u64()
                    .filter(|p| (1..=1000).contains(p))
                    .ok_or_else(|| ApiError::bad("parallelism must be between 1 and 1000"))?
                    as u32,
            };
            let paused = body.get("paused").and_then(Value::as_bool);
            let q = u.queues.entry(name.clone()).or_insert_with(|| Queue {
                name,
                parallelism,
                paused: false,
                created_at: now,
                updated_at: now,
            });
            q.parallelism = parallelism;
            if let Some(p) = paused {
                q.paused = p;
            }
            q.updated_at = now;
            empty()
        }
        [name] if m == Method::GET => {
            let q = u
                .queues
                .get(*name)
                .ok_or_else(|| ApiError::not_found("queue not found"))?;
            return Ok(json_resp(200, &q.json(queue_lag(u, name))));
        }
        [name] if m == Method::DELETE => {
            u.queues.remove(*name);
            empty()
        }
        [name, action] if m == Method::POST && (*action == "pause" || *action == "resume") => {
            let q = u
                .queues
                .get_mut(*name)
                .ok_or_else(|| ApiError::not_found("queue not found"))?;
            q.paused = *action == "pause";
            q.updated_at = now;
            empty()
        }
        _ => return Err(not_found()),
    };
    drop(st);
    core.touch();
    Ok(resp)
}

/// Filters shared by messages, DLQ and logs. `obj` is the API object.
fn matches(r: &Req, obj: &Map<String, Value>, time_field: &str, ids: &[(&str, &str)]) -> bool {
    let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
    for (param, field) in ids {
        let want = r.q_all(param);
        if !want.is_empty() && !want.iter().any(|w| w == s(field)) {
            return false;
        }
    }
    for field in [
        "url",
        "topicName",
        "queueName",
        "scheduleId",
        "flowControlKey",
        "callerIp",
    ] {
        let want = r.q_all(field);
        if !want.is_empty() && !want.iter().any(|w| w == s(field)) {
            return false;
        }
    }
    let labels = r.q_all("label");
    if !labels.is_empty() {
        let have: Vec<&str> = obj
            .get("labels")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !labels.iter().any(|l| have.contains(&l.as_str())) {
            return false;
        }
    }
    let url = s("url");
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path) = match after_scheme.find('/') {
        Some(i) => (&after_scheme[..i], &after_scheme[i..]),
        None => (after_scheme, "/"),
    };
    let path = path.split('?').next().unwrap_or(path);
    let hosts = r.q_all("host");
    if !hosts.is_empty() && !hosts.iter().any(|h| h == host) {
        return false;
    }
    let paths = r.q_all("path");
    if !paths.is_empty() && !paths.iter().any(|p| p == path) {
        return false;
    }
    let states = r.q_all("state");
    if !states.is_empty() {
        let st = s("state");
        let ok = states
            .iter()
            .any(|w| w == st || (w == "IN_PROGRESS" && matches!(st, "ACTIVE" | "RETRY" | "ERROR")));
        if !ok {
            return false;
        }
    }
    let statuses = r.q_all("responseStatus");
    if !statuses.is_empty() {
        let have = obj
            .get("responseStatus")
            .and_then(Value::as_u64)
            .map(|n| n.to_string())
            .unwrap_or_default();
        if !statuses.contains(&have) {
            return false;
        }
    }
    let t = obj.get(time_field).and_then(Value::as_u64).unwrap_or(0);
    if let Some(from) = r.q("fromDate").and_then(|v| v.parse::<u64>().ok()) {
        if t < from {
            return false;
        }
    }
    if let Some(to) = r.q("toDate").and_then(|v| v.parse::<u64>().ok()) {
        if t > to {
            return false;
        }
    }
    true
}

/// Ids from a JSON body like `{"messageIds": [...]}` (qstash-py's bulk form).
fn body_ids(r: &Req, field: &str) -> Result<Vec<String>, ApiError> {
    Ok(match r.body_json()? {
        Value::Object(o) => o
            .get(field)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    })
}

fn count_param(r: &Req, default: usize, max: usize) -> usize {
    r.q("count")
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|c| *c > 0)
        .map_or(default, |c| c.min(max))
}

fn messages(core: &Core, r: &Req, s: &[&str]) -> Res {
    let m = &r.method;
    let now = now_ms();
    let mut guard = core.lock();
    let st = &mut *guard;
    let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
    let ids: Vec<String> = match s {
        [id] if m == Method::GET => {
            let msg = u
                .messages
                .get(*id)
                .ok_or_else(|| ApiError::not_found("message not found"))?;
            return Ok(json_resp(200, &Value::Object(msg.json())));
        }
        [id] if m == Method::DELETE => {
            if !u.messages.contains_key(*id) {
                return Err(ApiError::not_found("message not found"));
            }
            vec![id.to_string()]
        }
        [] if m == Method::DELETE => {
            let mut ids = r.q_all("messageIds");
            ids.extend(body_ids(r, "messageIds")?);
            if ids.is_empty() {
                let limit = count_param(r, usize::MAX, usize::MAX);
                let mut all: Vec<(u64, String)> = u
                    .messages
                    .values()
                    .filter(|msg| matches(r, &msg.json(), "createdAt", &[]))
                    .map(|msg| (msg.seq, msg.id.clone()))
                    .collect();
                all.sort_unstable();
                all.into_iter().take(limit).map(|(_, id)| id).collect()
            } else {
                ids
            }
        }
        _ => return Err(not_found()),
    };
    let mut cancelled = 0u64;
    for id in ids {
        if let Some(msg) = u.messages.remove(&id) {
            if let Some(fc) = &msg.cfg.flow {
                if msg.in_flight {
                    if let Some(f) = u.flows.get_mut(&fc.key) {
                        f.in_flight = f.in_flight.saturating_sub(1);
                    }
                }
            }
            u.log(&mut st.seq, now, &msg, "CANCEL_REQUESTED", Map::new());
            u.log(&mut st.seq, now, &msg, "CANCELLED", Map::new());
            cancelled += 1;
        }
    }
    drop(guard);
    core.touch();
    Ok(json_resp(200, &json!({ "cancelled": cancelled })))
}

/// Pages a newest-first list with an opaque offset cursor.
fn page(r: &Req, total: usize, default: usize, max: usize) -> (usize, usize, Option<String>) {
    let start = r
        .q("cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0)
        .min(total);
    let count = count_param(r, default, max);
    let end = start.saturating_add(count).min(total);
    let cursor = (end < total).then(|| end.to_string());
    (start, end, cursor)
}

fn dlq(core: &Core, r: &Req, s: &[&str]) -> Res {
    let m = &r.method;
    let now = now_ms();
    let mut guard = core.lock();
    let st = &mut *guard;
    let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
    let dlq_filter = |r: &Req, e: &super::state::DlqEntry| {
        let v = e.json();
        v.as_object().is_some_and(|o| {
            matches(
                r,
                o,
                "createdAt",
                &[("dlqIds", "dlqId"), ("messageId", "messageId")],
            )
        })
    };
    match s {
        [] if m == Method::GET => {
            let list: Vec<Value> = u
                .dlq
                .iter()
                .rev()
                .filter(|e| dlq_filter(r, e))
                .map(|e| e.json())
                .collect();
            let (a, b, cursor) = page(r, list.len(), 100, 100);
            let mut out = json!({ "messages": list[a..b].to_vec() });
            if let (Some(c), Some(o)) = (cursor, out.as_object_mut()) {
                o.insert("cursor".into(), json!(c));
            }
            Ok(json_resp(200, &out))
        }
        [id] if m == Method::GET => {
            let e = u
                .dlq
                .iter()
                .find(|e| e.dlq_id == *id)
                .ok_or_else(|| ApiError::not_found("dlq message not found"))?;
            Ok(json_resp(200, &e.json()))
        }
        [id] if m == Method::DELETE => {
            let before = u.dlq.len();
            u.dlq.retain(|e| e.dlq_id != *id);
            if u.dlq.len() == before {
                return Err(ApiError::not_found("dlq message not found"));
            }
            drop(guard);
            core.touch();
            Ok(empty())
        }
        [] if m == Method::DELETE => {
            let mut ids = r.q_all("dlqIds");
            ids.extend(body_ids(r, "dlqIds")?);
            let before = u.dlq.len();
            if ids.is_empty() {
                u.dlq.retain(|e| !dlq_filter(r, e));
            } else {
                u.dlq.retain(|e| !ids.contains(&e.dlq_id));
            }
            let deleted = before - u.dlq.len();
            drop(guard);
            core.touch();
            Ok(json_resp(200, &json!({ "deleted": deleted })))
        }
        ["retry", rest @ ..] if m == Method::POST => {
            let ids: Vec<String> = match rest {
                [id] => {
                    if !u.dlq.iter().any(|e| e.dlq_id == *id) {
                        return Err(ApiError::not_found("dlq message not found"));
                    }
                    vec![id.to_string()]
                }
                [] => {
                    let mut ids = r.q_all("dlqIds");
                    ids.extend(body_ids(r, "dlqIds")?);
                    if ids.is_empty() {
                        u.dlq
                            .iter()
                            .filter(|e| dlq_filter(r, e))
                            .map(|e| e.dlq_id.clone())
                            .collect()
                    } else {
                        ids
                    }
                }
                _ => return Err(not_found()),
            };
            let h = r.config_headers();
            let mut responses = Vec::new();
            for id in &ids {
                let Some(pos) = u.dlq.iter().position(|e| e.dlq_id == *id) else {
                    continue;
                };
                let cfg =
                    config::apply_overrides(&u.dlq[pos].msg.cfg, &h).map_err(ApiError::bad)?;
                let Some(entry) = u.dlq.remove(pos) else {
                    continue;
                };
                let mut msg = entry.msg;
                st.seq += 1;
                msg.id = random_id("msg_", 26);
                msg.cfg = cfg;
                msg.retried = 0;
                msg.created_at = now;
                msg.not_before = match (msg.cfg.not_before_ms, msg.cfg.delay_ms) {
                    (Some(nb), _) => nb,
                    (None, Some(d)) => now.saturating_add(d),
                    _ => now,
                };
                msg.next_at = msg.not_before;
                msg.seq = st.seq;
                msg.in_flight = false;
                u.log(&mut st.seq, now, &msg, "CREATED", Map::new());
                responses.push(json!({ "messageId": msg.id }));
                u.messages.insert(msg.id.clone(), msg);
            }
            drop(guard);
            core.touch();
            if let [_] = rest {
                let one = responses.pop().unwrap_or(Value::Null);
                return Ok(json_resp(201, &one));
            }
            Ok(json_resp(
                201,
                &json!({ "cursor": "", "responses": responses }),
            ))
        }
        _ => Err(not_found()),
    }
}

fn logs(core: &Core, r: &Req, key: &str) -> Res {
    let st = core.lock();
    let u = st.users.get(r.user).ok_or_else(not_found)?;
    let list: Vec<&Value> = u
        .logs
        .iter()
        .rev()
        .filter(|e| {
            e.event.as_object().is_some_and(|o| {
                matches(
                    r,
                    o,
                    "time",
                    &[("messageIds", "messageId"), ("messageId", "messageId")],
                )
            })
        })
        .map(|e| &e.event)
        .collect();
    let (a, b, cursor) = page(r, list.len(), 1000, 1000);
    let mut out = Map::new();
    out.insert(key.into(), json!(list[a..b]));
    if let Some(c) = cursor {
        out.insert("cursor".into(), json!(c));
    }
    Ok(json_resp(200, &Value::Object(out)))
}

fn flow_info(key: &str, f: &super::state::Flow, waiting: usize) -> Value {
    json!({
        "flowControlKey": key,
        "waitListSize": waiting,
        "parallelismMax": f.parallelism.unwrap_or(0),
        "parallelismCount": f.in_flight,
        "rateMax": f.rate.unwrap_or(0),
        "rateCount": f.window_count,
        "ratePeriod": f.period_s,
        "ratePeriodStart": f.window_start / 1000,
        "isPaused": f.paused,
        "isPinnedParallelism": f.pinned_parallelism,
        "isPinnedRate": f.pinned_rate,
    })
}

fn flow_control(core: &Core, r: &Req, s: &[&str]) -> Res {
    let m = &r.method;
    let mut st = core.lock();
    let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
    let waiting = |u: &UserState, k: &str| {
        u.messages
            .values()
            .filter(|m| !m.in_flight && m.cfg.flow.as_ref().is_some_and(|f| f.key == k))
            .count()
    };
    match s {
        [] if m == Method::GET => {
            let search = r.q("search").unwrap_or("");
            let list: Vec<Value> = u
                .flows
                .iter()
                .filter(|(k, _)| k.contains(search))
                .map(|(k, f)| flow_info(k, f, waiting(u, k)))
                .collect();
            Ok(json_resp(200, &Value::Array(list)))
        }
        [key] if m == Method::GET => {
            let f = u
                .flows
                .get(*key)
                .ok_or_else(|| ApiError::not_found("flow control key not found"))?;
            Ok(json_resp(200, &flow_info(key, f, waiting(u, key))))
        }
        [key, action] if m == Method::POST => {
            let f = u
                .flows
                .get_mut(*key)
                .ok_or_else(|| ApiError::not_found("flow control key not found"))?;
            match *action {
                "pause" => f.paused = true,
                "resume" => f.paused = false,
                "resetRate" => {
                    f.window_count = 0;
                    f.window_start = now_ms();
                }
                "pin" => {
                    let num = |name: &str| -> Result<Option<u64>, ApiError> {
                        match r.q(name).map(str::trim).filter(|v| !v.is_empty()) {
                            None => Ok(None),
                            Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                                ApiError::bad(format!("{name} must be a non-negative integer"))
                            }),
                        }
                    };
                    let (par, rate, period) = (num("parallelism")?, num("rate")?, num("period")?);
                    if par.is_none() && rate.is_none() {
                        return Err(ApiError::bad("pin needs parallelism or rate"));
                    }
                    let to_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
                    if let Some(p) = par {
                        f.parallelism = Some(to_u32(p));
                        f.pinned_parallelism = true;
                    }
                    if let Some(p) = rate {
                        f.rate = Some(to_u32(p));
                        f.pinned_rate = true;
                        if let Some(s) = period {
                            f.period_s = s.clamp(1, 7 * 86_400);
                        }
                    }
                    // Pinning starts a fresh rate window.
                    f.window_count = 0;
                    f.window_start = now_ms();
                }
                "unpin" => {
                    let yes = |name: &str| {
                        r.q(name)
                            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
                    };
                    if yes("parallelism") {
                        f.pinned_parallelism = false;
                    }
                    if yes("rate") {
                        f.pinned_rate = false;
                    }
                }
                _ => return Err(not_found()),
            }
            drop(st);
            core.touch();
            Ok(empty())
        }
        _ => Err(not_found()),
    }
}

/// `/_local/qstash/...`: development helpers.
fn admin(core: &Core, r: &Req, rest: &str) -> Res {
    let segs: Vec<String> = rest.trim_end_matches('/').split('/').map(decode).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["schedules", id, "trigger"] if r.method == Method::POST => {
            let now = now_ms();
            let mut guard = core.lock();
            let st = &mut *guard;
            let u = st.users.get_mut(r.user).ok_or_else(not_found)?;
            let ids = fire_schedule(u, &mut st.seq, now, id, true)
                .ok_or_else(|| ApiError::not_found("schedule not found"))?;
            drop(guard);
            core.touch();
            Ok(json_resp(200, &json!({ "messageIds": ids })))
        }
        _ => Err(not_found()),
    }
}
