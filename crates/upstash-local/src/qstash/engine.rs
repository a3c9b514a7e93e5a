//! The delivery engine: picks due messages (honouring queues and flow control), fires due
//! schedules, sends signed HTTP requests, and handles retries, callbacks and the DLQ.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Map, Value};
use tokio::sync::{oneshot, Notify};
use upstash_qstash::signer::Signer;

use super::cron::Cron;
use super::expr;
use super::state::{header_map, Kind, Message, Publish, State};

/// Largest response body kept (DLQ entries, callbacks).
const MAX_RESPONSE_BODY: usize = 256 * 1024;
/// Longest default backoff: one day.
const MAX_BACKOFF_MS: f64 = 86_400_000.0;
/// Schedule states kept per schedule.
const MAX_SCHEDULE_STATES: usize = 20;

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Settings of the engine.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub backoff_scale: f64,
    pub default_timeout_ms: u64,
    pub max_body: usize,
    pub data_dir: Option<PathBuf>,
}

/// Shared state of the QStash service.
pub(crate) struct Core {
    state: Mutex<State>,
    pub wake: Notify,
    pub http: reqwest::Client,
    pub settings: Settings,
    dirty: AtomicBool,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// One delivery attempt, prepared under the lock and run without it.
#[derive(Debug)]
struct Job {
    user: usize,
    id: String,
    url: String,
    method: String,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    timeout_ms: u64,
    key: String,
}

/// What the destination answered.
#[derive(Debug, Default)]
struct Outcome {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    error: Option<String>,
}

impl Core {
    pub(crate) fn new(state: State, settings: Settings) -> Result<Core, crate::Error> {
        let http = reqwest::Client::builder()
            .user_agent("Upstash-QStash")
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| crate::Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Core {
            state: Mutex::new(state),
            wake: Notify::new(),
            http,
            settings,
            dirty: AtomicBool::new(false),
        })
    }

    /// Locks the state (a poisoned lock is taken over: the data stays consistent per call).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the state as changed (to be persisted) and wakes the engine.
    pub(crate) fn touch(&self) {
        self.dirty.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Writes the state file if anything changed.
    pub(crate) async fn persist(&self) {
        let Some(dir) = &self.settings.data_dir else {
            return;
        };
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let data = match serde_json::to_vec(&*self.lock()) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise the qstash state");
                return;
            }
        };
        let tmp = dir.join("qstash.json.tmp");
        let path = dir.join("qstash.json");
        let res = async {
            tokio::fs::create_dir_all(dir).await?;
            tokio::fs::write(&tmp, &data).await?;
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if let Err(e) = res {
            self.dirty.store(true, Ordering::Release);
            tracing::error!(error = %e, "cannot write the qstash state file");
        }
    }

    /// Fires due schedules and picks the messages to send now. Returns the jobs and the time
    /// of the next thing to do.
    fn plan(&self, now: u64) -> (Vec<Job>, Option<u64>) {
        let mut guard = self.lock();
        let st = &mut *guard;
        let mut jobs = Vec::new();
        let mut next: Option<u64> = None;
        let mut changed = false;
        let wake_at = |t: u64, next: &mut Option<u64>| {
            *next = Some(next.map_or(t, |n| n.min(t)));
        };
        for (ui, u) in st.users.iter_mut().enumerate() {
            // Schedules.
            let due: Vec<String> = u
                .schedules
                .values()
                .filter(|s| s.next_time.is_some_and(|t| t <= now))
                .map(|s| s.id.clone())
                .collect();
            for id in due {
                changed = true;
                fire_schedule(u, &mut st.seq, now, &id, false);
            }
            for s in u.schedules.values() {
                if let Some(t) = s.next_time {
                    wake_at(t, &mut next);
                }
            }
            if fastrand::u8(..) == 0 {
                u.purge_dedup(now);
            }
            // Messages in FIFO order.
            let mut order: Vec<(u64, String)> =
                u.messages.values().map(|m| (m.seq, m.id.clone())).collect();
            order.sort_unstable();
            let mut occupied: HashMap<String, u32> = HashMap::new();
            for m in u.messages.values() {
                if let Some(q) = &m.queue {
                    if m.in_flight || m.retried > 0 {
                        *occupied.entry(q.clone()).or_default() += 1;
                    }
                }
                // A pending callback of a queued message keeps its slot: the next message
                // waits until the current one is done, callbacks included.
                if let Some(q) = &m.holds_queue {
                    *occupied.entry(q.clone()).or_default() += 1;
                }
            }
            for (_, id) in order {
                let Some(m) = u.messages.get(&id) else {
                    continue;
                };
                if m.in_flight {
                    continue;
                }
                if m.next_at > now {
                    wake_at(m.next_at, &mut next);
                    continue;
                }
                if let Some(qn) = &m.queue {
                    let (paused, par) = u
                        .queues
                        .get(qn)
                        .map_or((false, 1), |q| (q.paused, q.parallelism.max(1)));
                    if paused {
                        continue;
                    }
                    if m.retried == 0 {
                        let occ = occupied.entry(qn.clone()).or_default();
                        if *occ >= par {
                            continue;
                        }
                        *occ += 1;
                    }
                }
                if let Some(fc) = &m.cfg.flow {
                    let flow = u.flows.entry(fc.key.clone()).or_default();
                    if flow.paused {
                        continue;
                    }
                    if flow.parallelism.is_some_and(|p| flow.in_flight >= p) {
                        continue;
                    }
                    if let Some(rate) = flow.rate {
                        let period = flow.period_s.max(1).saturating_mul(1000);
                        if now.saturating_sub(flow.window_start) >= period {
                            flow.window_start = now;
                            flow.window_count = 0;
                        }
                        if flow.window_count >= rate {
                            wake_at(flow.window_start.saturating_add(period), &mut next);
                            continue;
                        }
                        flow.window_count += 1;
                    }
                    flow.in_flight += 1;
                }
                let key = u.current_key.clone();
                let Some(m) = u.messages.get_mut(&id) else {
                    continue;
                };
                m.in_flight = true;
                let job = make_job(ui, m, key, self.settings.default_timeout_ms);
                let snapshot = m.clone();
                u.log(&mut st.seq, now, &snapshot, "ACTIVE", Map::new());
                jobs.push(job);
                changed = true;
            }
        }
        drop(guard);
        if changed {
            self.dirty.store(true, Ordering::Release);
        }
        (jobs, next)
    }

    /// Records the result of an attempt.
    fn finish(&self, job: &Job, out: Outcome) {
        let now = now_ms();
        let mut guard = self.lock();
        let st = &mut *guard;
        let Some(u) = st.users.get_mut(job.user) else {
            return;
        };
        // Cancelled meanwhile: forget the result.
        let Some(mut msg) = u.messages.remove(&job.id) else {
            return;
        };
        msg.in_flight = false;
        if let Some(fc) = &msg.cfg.flow {
            if let Some(f) = u.flows.get_mut(&fc.key) {
                f.in_flight = f.in_flight.saturating_sub(1);
            }
        }
        let success = out.error.is_none() && (200..300).contains(&out.status);
        let mut extra = Map::new();
        if out.error.is_none() {
            extra.insert("responseStatus".into(), json!(out.status));
            extra.insert("responseHeader".into(), header_map(&out.headers));
            extra.insert(
                "responseBody".into(),
                json!(String::from_utf8_lossy(&out.body)),
            );
        }
        if msg.kind == Kind::Normal {
            if let Some(cb) = msg.cfg.callback.clone() {
                let body = callback_body(&msg, &out, None);
                u.add_callback(&mut st.seq, now, &msg, Kind::Callback, &cb, body);
            }
        }
        if success {
            u.log(&mut st.seq, now, &msg, "DELIVERED", extra);
            set_schedule_state(u, &msg, "SUCCESS");
        } else {
            let error = out
                .error
                .clone()
                .unwrap_or_else(|| format!("destination answered status {}", out.status));
            extra.insert("error".into(), json!(error));
            let non_retryable = out.status == 489
                && out.headers.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("upstash-nonretryable-error")
                        && v.trim().eq_ignore_ascii_case("true")
                });
            if !non_retryable && msg.retried < msg.cfg.retries {
                let delay = self.retry_delay(&msg, &out, now);
                msg.retried += 1;
                msg.next_at = now.saturating_add(delay);
                u.log(&mut st.seq, now, &msg, "ERROR", extra.clone());
                let mut retry = extra;
                retry.insert("nextDeliveryTime".into(), json!(msg.next_at));
                u.log(&mut st.seq, now, &msg, "RETRY", retry);
                u.messages.insert(msg.id.clone(), msg);
            } else {
                u.log(&mut st.seq, now, &msg, "ERROR", extra.clone());
                u.log(&mut st.seq, now, &msg, "FAILED", extra);
                set_schedule_state(u, &msg, "FAIL");
                let failure_cb = match msg.kind {
                    Kind::Normal => msg.cfg.failure_callback.clone(),
                    _ => None,
                };
                let source = msg.clone();
                let dlq_id = u.push_dlq(
                    &mut st.seq,
                    now,
                    msg,
                    out.status,
                    out.headers.clone(),
                    out.body.clone(),
                );
                if let Some(fcb) = failure_cb {
                    let body = callback_body(&source, &out, Some(&dlq_id));
                    u.add_callback(&mut st.seq, now, &source, Kind::FailureCallback, &fcb, body);
                }
            }
        }
        drop(guard);
        self.touch();
    }

    /// Milliseconds until the next attempt.
    fn retry_delay(&self, msg: &Message, out: &Outcome, now: u64) -> u64 {
        for name in [
            "retry-after",
            "x-ratelimit-reset",
            "x-ratelimit-reset-requests",
            "x-ratelimit-reset-tokens",
        ] {
            if let Some((_, v)) = out
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
            {
                if let Some(ms) = expr::retry_after_ms(v, now) {
                    return ms;
                }
            }
        }
        if let Some(e) = &msg.cfg.retry_delay {
            if let Some(ms) = expr::eval(e, f64::from(msg.retried)) {
                return ms.clamp(0.0, MAX_BACKOFF_MS) as u64;
            }
        }
        let n = f64::from(msg.retried + 1);
        let ms = ((2.5 * n).exp() * 1000.0).min(MAX_BACKOFF_MS) * self.settings.backoff_scale;
        ms.clamp(0.0, MAX_BACKOFF_MS) as u64
    }
}

/// Fires one schedule now (`manual`: an admin trigger, which keeps the next run time).
pub(crate) fn fire_schedule(
    u: &mut super::state::UserState,
    seq: &mut u64,
    now: u64,
    id: &str,
    manual: bool,
) -> Option<Vec<String>> {
    let s = u.schedules.get(id)?.clone();
    if !manual {
        let next = Cron::parse(&s.cron).and_then(|c| c.next_after(now));
        if let Some(sm) = u.schedules.get_mut(id) {
            sm.next_time = next;
        }
        if s.paused {
            return Some(Vec::new());
        }
    }
    let dest = match super::state::parse_dest(&s.destination) {
        Ok(d) => d,
        Err(_) => return Some(Vec::new()),
    };
    let mut cfg = s.cfg.clone();
    // Not-before is meaningless for a recurring message; the delay applies to each firing.
    cfg.not_before_ms = None;
    let p = Publish {
        dest,
        queue: s.cfg.queue_name.clone(),
        cfg,
        body: s.body.clone(),
        caller_ip: s.caller_ip.clone(),
        schedule_id: Some(s.id.clone()),
    };
    let ids: Vec<String> = match u.publish(seq, now, p) {
        Ok(super::state::PublishOut::Single(p)) => vec![p.message_id],
        Ok(super::state::PublishOut::Group(v)) => v.into_iter().map(|p| p.message_id).collect(),
        Err(e) => {
            tracing::warn!(error = %e.msg, "schedule could not publish");
            Vec::new()
        }
    };
    if let Some(sm) = u.schedules.get_mut(id) {
        sm.last_time = Some(now);
        for m in &ids {
            sm.last_states.insert(m.clone(), "IN_PROGRESS".into());
        }
        while sm.last_states.len() > MAX_SCHEDULE_STATES {
            let Some(k) = sm.last_states.keys().next().cloned() else {
                break;
            };
            sm.last_states.remove(&k);
        }
    }
    Some(ids)
}

fn set_schedule_state(u: &mut super::state::UserState, msg: &Message, state: &str) {
    if let Some(sid) = &msg.schedule_id {
        if let Some(s) = u.schedules.get_mut(sid) {
            if let Some(v) = s.last_states.get_mut(&msg.id) {
                *v = state.to_string();
            }
        }
    }
}

fn make_job(user: usize, m: &Message, key: String, default_timeout_ms: u64) -> Job {
    let mut headers: Vec<(String, String)> = m.cfg.forward.clone();
    headers.push(("Upstash-Message-Id".into(), m.id.clone()));
    headers.push(("Upstash-Retried".into(), m.retried.to_string()));
    if let Some(s) = &m.schedule_id {
        headers.push(("Upstash-Schedule-Id".into(), s.clone()));
    }
    if let Some(t) = &m.topic {
        headers.push(("Upstash-Topic-Name".into(), t.clone()));
    }
    headers.push(("Upstash-Caller-Ip".into(), m.caller_ip.clone()));
    Job {
        user,
        id: m.id.clone(),
        url: m.url.clone(),
        method: m.cfg.method.clone(),
        body: m.body.clone(),
        headers,
        timeout_ms: m
            .cfg
            .timeout_ms
            .filter(|t| *t > 0)
            .unwrap_or(default_timeout_ms),
        key,
    }
}

/// The JSON body of a callback (`dlq_id` for failure callbacks).
fn callback_body(msg: &Message, out: &Outcome, dlq_id: Option<&str>) -> Vec<u8> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut m = Map::new();
    m.insert("status".into(), json!(out.status));
    m.insert("header".into(), header_map(&out.headers));
    m.insert("body".into(), json!(b64(&out.body)));
    m.insert("retried".into(), json!(msg.retried));
    m.insert("maxRetries".into(), json!(msg.cfg.retries));
    m.insert("sourceMessageId".into(), json!(msg.id));
    if let Some(t) = &msg.topic {
        m.insert("topicName".into(), json!(t));
    }
    if let Some(e) = &msg.endpoint {
        m.insert("endpointName".into(), json!(e));
    }
    m.insert("url".into(), json!(msg.url));
    m.insert("method".into(), json!(msg.cfg.method));
    m.insert("sourceHeader".into(), header_map(&msg.cfg.forward));
    m.insert("sourceBody".into(), json!(b64(&msg.body)));
    m.insert("notBefore".into(), json!(msg.not_before));
    m.insert("createdAt".into(), json!(msg.created_at));
    if let Some(s) = &msg.schedule_id {
        m.insert("scheduleId".into(), json!(s));
    }
    m.insert("callerIP".into(), json!(msg.caller_ip));
    if let Some(e) = &out.error {
        m.insert("error".into(), json!(e));
    }
    if let Some(d) = dlq_id {
        m.insert("dlqId".into(), json!(d));
    }
    serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
}

async fn attempt(core: &Core, job: &Job) -> Outcome {
    let token = Signer::new(job.key.as_str()).sign(&job.body, &job.url);
    let method = match reqwest::Method::from_bytes(job.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => reqwest::Method::POST,
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in &job.headers {
        let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(k.as_bytes()),
            reqwest::header::HeaderValue::from_str(v),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    if let Ok(v) = reqwest::header::HeaderValue::from_str(&token) {
        headers.insert("upstash-signature", v);
    }
    let req = core
        .http
        .request(method, &job.url)
        .headers(headers)
        .timeout(Duration::from_millis(job.timeout_ms.max(1)))
        .body(job.body.clone());
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let what = if e.is_timeout() {
                "request timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            return Outcome {
                error: Some(what.to_string()),
                ..Outcome::default()
            };
        }
    };
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let mut resp = resp;
    while let Ok(Some(c)) = resp.chunk().await {
        let room = MAX_RESPONSE_BODY.saturating_sub(body.len());
        body.extend_from_slice(&c[..c.len().min(room)]);
        if body.len() >= MAX_RESPONSE_BODY {
            break;
        }
    }
    Outcome {
        status,
        headers,
        body,
        error: None,
    }
}

async fn deliver(core: Arc<Core>, job: Job) {
    let out = attempt(&core, &job).await;
    core.finish(&job, out);
}

/// Runs the engine until `stop` fires.
pub(crate) async fn run(core: Arc<Core>, mut stop: oneshot::Receiver<()>) {
    loop {
        let now = now_ms();
        let (jobs, next) = core.plan(now);
        for job in jobs {
            tokio::spawn(deliver(core.clone(), job));
        }
        core.persist().await;
        let wait = next
            .map(|t| t.saturating_sub(now_ms()))
            .unwrap_or(1000)
            .clamp(1, 250);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = core.wake.notified() => {}
            _ = &mut stop => break,
        }
    }
    core.persist().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qstash::state::{Schedule, UserState};

    fn core() -> Core {
        let mut st = State::default();
        st.users.push(UserState::new("sig_a", "sig_b"));
        Core::new(
            st,
            Settings {
                backoff_scale: 1.0,
                default_timeout_ms: 1000,
                max_body: 1024,
                data_dir: None,
            },
        )
        .unwrap()
    }

    fn schedule(id: &str, next: u64, paused: bool) -> Schedule {
        Schedule {
            id: id.into(),
            cron: "* * * * *".into(),
            destination: "http://127.0.0.1:9/s".into(),
            cfg: Default::default(),
            body: b"tick".to_vec(),
            created_at: 0,
            caller_ip: "127.0.0.1".into(),
            paused,
            last_time: None,
            next_time: Some(next),
            last_states: Default::default(),
        }
    }

    /// The scheduler fires a due schedule by itself, sends the message at once, and moves the
    /// next run to the following minute boundary; a paused one only advances.
    #[test]
    fn due_schedules_fire_on_their_own() {
        let core = core();
        let now = 1_710_497_850_000; // 10:17:30
        {
            let mut st = core.lock();
            let u = &mut st.users[0];
            u.schedules
                .insert("s1".into(), schedule("s1", now - 30_000, false));
            u.schedules
                .insert("s2".into(), schedule("s2", now - 30_000, true));
        }
        let (jobs, next) = core.plan(now);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].url, "http://127.0.0.1:9/s");
        assert_eq!(jobs[0].body, b"tick");
        assert!(jobs[0]
            .headers
            .iter()
            .any(|(k, v)| k == "Upstash-Schedule-Id" && v == "s1"));
        let st = core.lock();
        let u = &st.users[0];
        assert_eq!(u.schedules["s1"].next_time, Some(1_710_497_880_000));
        assert_eq!(u.schedules["s2"].next_time, Some(1_710_497_880_000));
        assert_eq!(u.schedules["s1"].last_time, Some(now));
        assert_eq!(u.schedules["s2"].last_time, None);
        assert_eq!(next, Some(1_710_497_880_000));
    }

    #[test]
    fn default_backoff_is_scaled() {
        let mut core = core();
        let msg = Message {
            id: "m".into(),
            url: "http://x".into(),
            topic: None,
            endpoint: None,
            queue: None,
            schedule_id: None,
            cfg: Default::default(),
            body: Vec::new(),
            created_at: 0,
            not_before: 0,
            next_at: 0,
            retried: 0,
            caller_ip: String::new(),
            seq: 0,
            kind: Kind::Normal,
            holds_queue: None,
            in_flight: false,
        };
        let out = Outcome::default();
        assert_eq!(core.retry_delay(&msg, &out, 0), 12_182);
        let mut m2 = msg.clone();
        m2.retried = 4;
        assert_eq!(core.retry_delay(&m2, &out, 0), 86_400_000);
        core.settings.backoff_scale = 0.01;
        assert_eq!(core.retry_delay(&msg, &out, 0), 121);
        m2.cfg.retry_delay = Some("pow(2, retried) * 100".into());
        assert_eq!(core.retry_delay(&m2, &out, 0), 1600);
        let ra = Outcome {
            headers: vec![("Retry-After".into(), "7".into())],
            ..Outcome::default()
        };
        assert_eq!(core.retry_delay(&msg, &ra, 0), 7000);
    }
}
