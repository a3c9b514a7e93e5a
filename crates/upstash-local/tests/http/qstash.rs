//! End-to-end tests of the local QStash service: raw HTTP against upstash-local, deliveries
//! to a small local axum receiver that verifies every signature with `upstash_qstash::Receiver`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use upstash_local::{testing, Config, LocalStack};
use upstash_qstash::{Receiver, VerifyOptions};

const DEV_TOKEN: &str = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
const DEV_CURRENT: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
const DEV_NEXT: &str = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";

/// One stack for the tests of this binary, with a fast retry backoff.
fn stack() -> &'static LocalStack {
    static STACK: OnceLock<LocalStack> = OnceLock::new();
    STACK.get_or_init(|| {
        let mut c = Config::default();
        c.qstash.retry_backoff_scale = 0.01;
        testing::dedicated(c)
    })
}

/// A delivery the receiver saw.
#[derive(Debug, Clone)]
struct Delivery {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    at: Instant,
    verified: Result<(), String>,
}

#[derive(Default)]
struct Sink {
    deliveries: Mutex<Vec<Delivery>>,
    /// Paths that answer 200 from now on (paths under `/fail-until/`).
    healed: Mutex<Vec<String>>,
    in_flight: Mutex<(u32, u32)>,
}

/// A local webhook receiver. Paths: `/fail/...` -> 500, `/fail-until/...` -> 500 until
/// healed, `/slow/...` -> 200 after 150 ms, anything else -> 200.
struct Hook {
    base: String,
    sink: Arc<Sink>,
}

async fn hook_handler(
    State((sink, base)): State<(Arc<Sink>, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let path = uri.path().to_string();
    let url = format!("{base}{uri}");
    let sig = headers
        .get("upstash-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let verified = Receiver::new(DEV_CURRENT, DEV_NEXT)
        .verify(sig, &body, VerifyOptions::new().url(&url))
        .map(|_| ())
        .map_err(|e| e.to_string());
    let hs = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    {
        let mut f = sink.in_flight.lock().unwrap();
        f.0 += 1;
        f.1 = f.1.max(f.0);
    }
    if path.starts_with("/slow/") {
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    sink.deliveries.lock().unwrap().push(Delivery {
        path: path.clone(),
        headers: hs,
        body: body.to_vec(),
        at: Instant::now(),
        verified,
    });
    sink.in_flight.lock().unwrap().0 -= 1;
    if path.starts_with("/fail/") {
        return (StatusCode::INTERNAL_SERVER_ERROR, "boom");
    }
    if path.starts_with("/fail-until/") && !sink.healed.lock().unwrap().contains(&path) {
        return (StatusCode::SERVICE_UNAVAILABLE, "not yet");
    }
    (StatusCode::OK, "ok")
}

impl Hook {
    async fn start() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sink = Arc::new(Sink::default());
        let app = Router::new()
            .fallback(hook_handler)
            .with_state((sink.clone(), base.clone()));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hook { base, sink }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn deliveries(&self, prefix: &str) -> Vec<Delivery> {
        self.sink
            .deliveries
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Waits until `n` deliveries under `prefix` arrived (at most `secs`).
    async fn wait(&self, prefix: &str, n: usize, secs: u64) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let d = self.deliveries(prefix);
            if d.len() >= n || Instant::now() > deadline {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn api(path: &str) -> String {
    format!("{}{path}", stack().qstash_url())
}

async fn call(
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut rb = client()
        .request(method, api(path))
        .bearer_auth(DEV_TOKEN)
        .body(body);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, v)
}

async fn post(path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    call(reqwest::Method::POST, path, headers, body.to_string()).await
}

async fn get(path: &str) -> (u16, Value) {
    call(reqwest::Method::GET, path, &[], "").await
}

fn tag(name: &str) -> String {
    format!("{name}-{:08x}", fastrand_u32())
}

fn fastrand_u32() -> u32 {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    static C: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    n ^ C
        .fetch_add(0x9E37_79B9, std::sync::atomic::Ordering::Relaxed)
        .rotate_left(7)
}

#[tokio::test]
async fn publish_is_delivered_signed_with_headers_and_callback() {
    let hook = Hook::start().await;
    let dest = hook.url("/ok/a?x=1&y=two");
    let cb = hook.url("/cb/a");
    let (status, v) = post(
        &format!("/v2/publish/{dest}"),
        &[
            ("Content-Type", "application/json"),
            ("Upstash-Forward-My-Header", "hello"),
            ("Upstash-Callback", &cb),
            ("Upstash-Label", "one,two"),
            ("X-Not-Forwarded", "1"),
        ],
        r#"{"hello":"world"}"#,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let id = v["messageId"].as_str().unwrap().to_string();
    assert!(id.starts_with("msg_"));
    assert_eq!(v["url"], dest);

    let d = hook.wait("/ok/a", 1, 10).await;
    assert_eq!(d.len(), 1);
    let d = &d[0];
    assert_eq!(d.verified, Ok(()), "signature must verify");
    assert_eq!(d.body, br#"{"hello":"world"}"#);
    assert_eq!(d.headers["upstash-message-id"], id);
    assert_eq!(d.headers["upstash-retried"], "0");
    assert_eq!(d.headers["my-header"], "hello");
    assert_eq!(d.headers["content-type"], "application/json");
    assert_eq!(d.headers["user-agent"], "Upstash-QStash");
    assert!(d.headers.contains_key("upstash-caller-ip"));
    assert!(!d.headers.contains_key("x-not-forwarded"));

    // The callback: a signed POST with the response of the attempt.
    let c = hook.wait("/cb/a", 1, 10).await;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].verified, Ok(()));
    let body: Value = serde_json::from_slice(&c[0].body).unwrap();
    assert_eq!(body["status"], 200);
    assert_eq!(body["sourceMessageId"], id);
    assert_eq!(body["retried"], 0);
    assert_eq!(body["url"], dest);

    // Delivered messages are gone; the log has the states.
    let (s, _) = get(&format!("/v2/messages/{id}")).await;
    assert_eq!(s, 404);
    let (s, logs) = get(&format!("/v2/events?messageIds={id}")).await;
    assert_eq!(s, 200);
    let states: Vec<&str> = logs["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["DELIVERED", "ACTIVE", "CREATED"]);
    assert_eq!(logs["events"][0]["labels"], json!(["one", "two"]));
    let (_, logs) = get(&format!("/v2/logs?messageIds={id}&state=DELIVERED")).await;
    assert_eq!(logs["logs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn url_group_of_four_endpoints_fans_out() {
    let hook = Hook::start().await;
    let group = tag("group");
    let eps: Vec<Value> = (0..4)
        .map(|i| json!({"name": format!("ep{i}"), "url": hook.url(&format!("/g/{group}/{i}"))}))
        .collect();
    let (s, v) = post(
        &format!("/v2/topics/{group}/endpoints"),
        &[("Content-Type", "application/json")],
        &json!({ "endpoints": eps }).to_string(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, g) = get(&format!("/v2/topics/{group}")).await;
    assert_eq!(s, 200);
    assert_eq!(g["endpoints"].as_array().unwrap().len(), 4);

    let (s, v) = post(&format!("/v2/publish/{group}"), &[], "fan-out").await;
    assert_eq!(s, 201, "{v}");
    let items = v.as_array().expect("a bare array for URL groups");
    assert_eq!(items.len(), 4);
    let d = hook.wait(&format!("/g/{group}/"), 4, 10).await;
    // Give a duplicate the chance to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d2 = hook.deliveries(&format!("/g/{group}/"));
    assert_eq!(d2.len(), 4, "exactly one delivery per endpoint");
    let mut paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), 4);
    for x in &d {
        assert_eq!(x.verified, Ok(()), "{}", x.path);
        assert_eq!(x.headers["upstash-topic-name"], group);
        assert_eq!(x.body, b"fan-out");
        assert!(items
            .iter()
            .any(|i| i["messageId"] == x.headers["upstash-message-id"].as_str()));
    }

    // Removing every endpoint deletes the group; publishing to it is then a 404.
    let (s, _) = call(
        reqwest::Method::DELETE,
        &format!("/v2/topics/{group}/endpoints"),
        &[],
        json!({"endpoints": [{"name": "ep0"}, {"name": "ep1"}, {"name": "ep2"}, {"url": hook.url(&format!("/g/{group}/3"))}]}).to_string(),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = get(&format!("/v2/topics/{group}")).await;
    assert_eq!(s, 404);
    let (s, v) = post(&format!("/v2/publish/{group}"), &[], "x").await;
    assert_eq!(s, 404);
    assert!(v["error"].is_string());
}

#[tokio::test]
async fn failing_endpoint_is_retried_with_backoff_then_dlq_then_dlq_retry_redelivers() {
    let hook = Hook::start().await;
    let t = tag("dlq");
    let path = format!("/fail-until/{t}");
    let fcb = hook.url(&format!("/fcb/{t}"));
    let (s, v) = post(
        &format!("/v2/publish/{}", hook.url(&path)),
        &[("Upstash-Retries", "2"), ("Upstash-Failure-Callback", &fcb)],
        "payload",
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["messageId"].as_str().unwrap().to_string();

    let d = hook.wait(&path, 3, 20).await;
    assert_eq!(d.len(), 3);
    let retried: Vec<&str> = d
        .iter()
        .map(|d| d.headers["upstash-retried"].as_str())
        .collect();
    assert_eq!(retried, vec!["0", "1", "2"]);
    for x in &d {
        assert_eq!(x.verified, Ok(()));
        assert_eq!(x.headers["upstash-message-id"], id);
    }
    // Backoff e^(2.5 n) s scaled by 0.01: ~122 ms, then ~1484 ms (lower bounds only: a loaded
    // machine can stretch either gap).
    let g1 = d[1].at - d[0].at;
    let g2 = d[2].at - d[1].at;
    assert!(g1 >= Duration::from_millis(100), "{g1:?}");
    assert!(g2 >= Duration::from_millis(1300), "{g2:?}");

    // The failure callback carries the DLQ id.
    let f = hook.wait(&format!("/fcb/{t}"), 1, 10).await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].verified, Ok(()));
    let fbody: Value = serde_json::from_slice(&f[0].body).unwrap();
    assert_eq!(fbody["sourceMessageId"], id);
    assert_eq!(fbody["status"], 503);
    assert_eq!(fbody["retried"], 2);
    let dlq_id = fbody["dlqId"].as_str().unwrap().to_string();

    let (s, list) = get(&format!("/v2/dlq?messageId={id}")).await;
    assert_eq!(s, 200);
    let msgs = list["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["dlqId"], dlq_id);
    assert_eq!(msgs[0]["responseStatus"], 503);
    assert_eq!(msgs[0]["responseBody"], "not yet");
    assert_eq!(msgs[0]["body"], "payload");
    let (s, one) = get(&format!("/v2/dlq/{dlq_id}")).await;
    assert_eq!(s, 200);
    assert_eq!(one["messageId"], id);
    let (_, logs) = get(&format!("/v2/events?messageIds={id}&state=FAILED")).await;
    assert_eq!(logs["events"].as_array().unwrap().len(), 1);

    // Heal the endpoint, retry from the DLQ: delivered once more, and the entry is gone.
    hook.sink.healed.lock().unwrap().push(path.clone());
    let (s, r) = post(&format!("/v2/dlq/retry/{dlq_id}"), &[], "").await;
    assert_eq!(s, 201, "{r}");
    let new_id = r["messageId"].as_str().unwrap().to_string();
    let d = hook.wait(&path, 4, 10).await;
    assert_eq!(d.len(), 4);
    assert_eq!(d[3].headers["upstash-message-id"], new_id);
    assert_eq!(d[3].headers["upstash-retried"], "0");
    assert_eq!(d[3].body, b"payload");
    assert_eq!(d[3].verified, Ok(()));
    let (s, _) = get(&format!("/v2/dlq/{dlq_id}")).await;
    assert_eq!(s, 404);
    let (s, _) = call(
        reqwest::Method::DELETE,
        &format!("/v2/dlq/{dlq_id}"),
        &[],
        "",
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn non_retryable_and_dlq_delete() {
    let hook = Hook::start().await;
    let t = tag("dlqdel");
    let (s, v) = post(
        &format!("/v2/publish/{}", hook.url(&format!("/fail/{t}"))),
        &[("Upstash-Retries", "0")],
        "",
    )
    .await;
    assert_eq!(s, 201);
    let id = v["messageId"].as_str().unwrap().to_string();
    hook.wait(&format!("/fail/{t}"), 1, 10).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let dlq_id = loop {
        let (_, list) = get(&format!("/v2/dlq?messageId={id}")).await;
        if let Some(d) = list["messages"][0]["dlqId"].as_str() {
            break d.to_string();
        }
        assert!(Instant::now() < deadline, "no DLQ entry");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (s, _) = call(
        reqwest::Method::DELETE,
        &format!("/v2/dlq/{dlq_id}"),
        &[],
        "",
    )
    .await;
    assert_eq!(s, 200);
    let (_, list) = get(&format!("/v2/dlq?messageId={id}")).await;
    assert_eq!(list["messages"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn cron_schedule_fires() {
    let hook = Hook::start().await;
    let t = tag("sched");
    let dest = hook.url(&format!("/sched/{t}"));
    let (s, v) = post(
        &format!("/v2/schedules/{dest}"),
        &[
            ("Upstash-Cron", "* * * * * "),
            ("Content-Type", "text/plain"),
            ("Upstash-Forward-Test-Header", "v"),
            ("Upstash-Retries", "1"),
        ],
        "tick",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let id = v["scheduleId"].as_str().unwrap().to_string();
    assert!(id.starts_with("scd_"));
    let (s, sc) = get(&format!("/v2/schedules/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(sc["cron"], "* * * * *");
    assert_eq!(sc["destination"], dest);
    assert_eq!(sc["retries"], 1);
    assert_eq!(sc["isPaused"], false);
    assert_eq!(
        sc["header"],
        json!({"Content-Type": ["text/plain"], "Test-Header": ["v"]})
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let next = sc["nextScheduleTime"].as_u64().unwrap();
    assert_eq!(next % 60_000, 0, "minute boundary");
    assert!(next > now - 1000 && next <= now + 60_000, "{next} vs {now}");

    // Fire now through the dev trigger (a real minute is too long for a test).
    let (s, fired) = post(&format!("/_local/qstash/schedules/{id}/trigger"), &[], "").await;
    assert_eq!(s, 200, "{fired}");
    let d = hook.wait(&format!("/sched/{t}"), 1, 10).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].verified, Ok(()));
    assert_eq!(d[0].headers["upstash-schedule-id"], id);
    assert_eq!(d[0].headers["test-header"], "v");
    assert_eq!(d[0].body, b"tick");
    let (_, sc) = get(&format!("/v2/schedules/{id}")).await;
    assert!(sc["lastScheduleTime"].as_u64().is_some());

    // Pause (PATCH and POST both work), resume, list, delete.
    let (s, _) = call(
        reqwest::Method::PATCH,
        &format!("/v2/schedules/{id}/pause"),
        &[],
        "",
    )
    .await;
    assert_eq!(s, 200);
    let (_, sc) = get(&format!("/v2/schedules/{id}")).await;
    assert_eq!(sc["isPaused"], true);
    let (s, _) = post(&format!("/v2/schedules/{id}/resume"), &[], "").await;
    assert_eq!(s, 200);
    let (_, list) = get("/v2/schedules").await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["scheduleId"] == id.as_str()));
    let (s, _) = call(
        reqwest::Method::DELETE,
        &format!("/v2/schedules/{id}"),
        &[],
        "",
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = get(&format!("/v2/schedules/{id}")).await;
    assert_eq!(s, 404);

    // Bad cron, missing cron.
    let (s, v) = post(
        &format!("/v2/schedules/{dest}"),
        &[("Upstash-Cron", "61 * * * *")],
        "",
    )
    .await;
    assert_eq!(s, 400);
    assert!(v["error"].is_string());
    let (s, _) = post(&format!("/v2/schedules/{dest}"), &[], "").await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn schedule_id_upsert_and_time_zone() {
    let hook = Hook::start().await;
    let t = tag("upsert");
    let dest = hook.url(&format!("/up/{t}"));
    let sid = format!("my-schedule-{t}");
    for cron in ["*/10 * * * *", "CRON_TZ=America/New_York 0 4 * * *"] {
        let (s, v) = post(
            &format!("/v2/schedules/{dest}"),
            &[("Upstash-Cron", cron), ("Upstash-Schedule-Id", &sid)],
            "",
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["scheduleId"], sid);
    }
    let (_, sc) = get(&format!("/v2/schedules/{sid}")).await;
    assert_eq!(sc["cron"], "CRON_TZ=America/New_York 0 4 * * *");
    let next = sc["nextScheduleTime"].as_u64().unwrap();
    // 04:00 in New York is 08:00 or 09:00 UTC.
    let hour = (next / 3_600_000) % 24;
    assert!(hour == 8 || hour == 9, "{hour}");
}

#[tokio::test]
async fn delay_and_not_before_are_respected() {
    let hook = Hook::start().await;
    let t = tag("delay");
    let start = Instant::now();
    let (s, v) = post(
        &format!("/v2/publish/{}", hook.url(&format!("/delay/{t}"))),
        &[("Upstash-Delay", "2s")],
        "later",
    )
    .await;
    assert_eq!(s, 201);
    let id = v["messageId"].as_str().unwrap().to_string();
    // Pending: retrievable, with notBefore.
    let (s, m) = get(&format!("/v2/messages/{id}")).await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["messageId"], id);
    assert_eq!(m["body"], "later");
    let nb = m["notBefore"].as_u64().unwrap();
    assert!(nb >= m["createdAt"].as_u64().unwrap() + 2000);

    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let nb_s = now_s + 3;
    let (s, v2) = post(
        &format!("/v2/publish/{}", hook.url(&format!("/nb/{t}"))),
        &[
            ("Upstash-Not-Before", &nb_s.to_string()),
            ("Upstash-Delay", "60s"),
        ],
        "nb",
    )
    .await;
    assert_eq!(s, 201);
    let (_, m2) = get(&format!(
        "/v2/messages/{}",
        v2["messageId"].as_str().unwrap()
    ))
    .await;
    assert_eq!(
        m2["notBefore"].as_u64().unwrap(),
        nb_s * 1000,
        "not-before wins"
    );

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        hook.deliveries(&format!("/delay/{t}")).is_empty(),
        "too early"
    );
    let d = hook.wait(&format!("/delay/{t}"), 1, 10).await;
    assert_eq!(d.len(), 1);
    assert!(d[0].at - start >= Duration::from_millis(1900));
    let d = hook.wait(&format!("/nb/{t}"), 1, 10).await;
    assert_eq!(d.len(), 1);
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(at >= nb_s * 1000);
}

#[tokio::test]
async fn deduplication_returns_the_first_message_id() {
    let hook = Hook::start().await;
    let t = tag("dedup");
    let dest = hook.url(&format!("/dedup/{t}"));
    let h = [("Upstash-Deduplication-Id", t.as_str())];
    let (s1, v1) = post(&format!("/v2/publish/{dest}"), &h, "a").await;
    let (s2, v2) = post(&format!("/v2/publish/{dest}"), &h, "b").await;
    assert_eq!(s1, 201);
    assert_eq!(s2, 202);
    assert_eq!(v1["messageId"], v2["messageId"]);
    assert_eq!(v2["deduplicated"], true);
    assert!(v1.get("deduplicated").is_none());

    let cdest = hook.url(&format!("/cdedup/{t}"));
    let ch = [("Upstash-Content-Based-Deduplication", "true")];
    let (_, c1) = post(&format!("/v2/publish/{cdest}"), &ch, "same").await;
    let (s, c2) = post(&format!("/v2/publish/{cdest}"), &ch, "same").await;
    let (_, c3) = post(&format!("/v2/publish/{cdest}"), &ch, "other").await;
    assert_eq!(s, 202);
    assert_eq!(c1["messageId"], c2["messageId"]);
    assert_ne!(c1["messageId"], c3["messageId"]);

    hook.wait(&format!("/dedup/{t}"), 1, 10).await;
    hook.wait(&format!("/cdedup/{t}"), 2, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = hook.deliveries(&format!("/dedup/{t}"));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].body, b"a");
    assert_eq!(hook.deliveries(&format!("/cdedup/{t}")).len(), 2);
}

#[tokio::test]
async fn queue_with_parallelism_one_delivers_in_order() {
    let hook = Hook::start().await;
    let q = tag("queue");
    let dest = hook.url(&format!("/slow/{q}"));
    let mut ids = Vec::new();
    for i in 0..6 {
        let (s, v) = post(&format!("/v2/enqueue/{q}/{dest}"), &[], &i.to_string()).await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["messageId"].as_str().unwrap().to_string());
    }
    let (s, qv) = get(&format!("/v2/queues/{q}")).await;
    assert_eq!(s, 200);
    assert_eq!(qv["parallelism"], 1);
    assert_eq!(qv["name"], q.as_str());
    let d = hook.wait(&format!("/slow/{q}"), 6, 20).await;
    assert_eq!(d.len(), 6);
    let bodies: Vec<String> = d
        .iter()
        .map(|d| String::from_utf8(d.body.clone()).unwrap())
        .collect();
    assert_eq!(bodies, vec!["0", "1", "2", "3", "4", "5"]);
    let got: Vec<&str> = d
        .iter()
        .map(|d| d.headers["upstash-message-id"].as_str())
        .collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    // Never two at once (this hook only serves this test's queue).
    assert_eq!(hook.sink.in_flight.lock().unwrap().1, 1);

    // Queue management: upsert parallelism, pause/resume, list, delete.
    let (s, _) = post(
        "/v2/queues",
        &[],
        &json!({"queueName": q, "parallelism": 3}).to_string(),
    )
    .await;
    assert_eq!(s, 200);
    let (_, qv) = get(&format!("/v2/queues/{q}")).await;
    assert_eq!(qv["parallelism"], 3);
    let (s, _) = post(&format!("/v2/queues/{q}/pause"), &[], "").await;
    assert_eq!(s, 200);
    let (_, qv) = get(&format!("/v2/queues/{q}")).await;
    assert_eq!(qv["paused"], true);
    let (_, list) = get("/v2/queues").await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == q.as_str()));
    let (s, _) = call(reqwest::Method::DELETE, &format!("/v2/queues/{q}"), &[], "").await;
    assert_eq!(s, 200);
    let (s, _) = get(&format!("/v2/queues/{q}")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn batch_and_cancel() {
    let hook = Hook::start().await;
    let t = tag("batch");
    let items = json!([
        {"destination": hook.url(&format!("/batch/{t}/1")), "body": "one", "headers": {"Content-Type": "text/plain"}},
        {"destination": hook.url(&format!("/batch/{t}/2")), "body": "two", "headers": {"Upstash-Delay": "1h"}},
    ]);
    let (s, v) = post("/v2/batch", &[], &items.to_string()).await;
    assert_eq!(s, 201, "{v}");
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    let d = hook.wait(&format!("/batch/{t}/1"), 1, 10).await;
    assert_eq!(d[0].body, b"one");
    assert_eq!(d[0].verified, Ok(()));
    // The delayed one is pending: cancel it.
    let id2 = arr[1]["messageId"].as_str().unwrap();
    let (s, c) = call(
        reqwest::Method::DELETE,
        &format!("/v2/messages/{id2}"),
        &[],
        "",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(c["cancelled"], 1);
    let (s, _) = get(&format!("/v2/messages/{id2}")).await;
    assert_eq!(s, 404);
    let (_, logs) = get(&format!("/v2/events?messageIds={id2}&state=CANCELLED")).await;
    assert_eq!(logs["events"].as_array().unwrap().len(), 1);

    // Bulk cancel by ids.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, v) = post(
            &format!("/v2/publish/{}", hook.url(&format!("/bulk/{t}"))),
            &[("Upstash-Delay", "1h")],
            "",
        )
        .await;
        ids.push(v["messageId"].as_str().unwrap().to_string());
    }
    let q = ids
        .iter()
        .map(|i| format!("messageIds={i}"))
        .collect::<Vec<_>>()
        .join("&");
    let (s, c) = call(
        reqwest::Method::DELETE,
        &format!("/v2/messages?{q}"),
        &[],
        "",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(c["cancelled"], 3);
}

#[tokio::test]
async fn auth_keys_and_errors() {
    // No token / wrong token.
    let r = client().get(api("/v2/keys")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].is_string());
    let r = client()
        .get(api("/v2/keys"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Token in the query.
    let r = client()
        .get(api(&format!("/v2/keys?qstash_token={DEV_TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"current": DEV_CURRENT, "next": DEV_NEXT}));
    assert_eq!(stack().qstash_current_signing_key(), DEV_CURRENT);
    assert_eq!(stack().qstash_next_signing_key(), DEV_NEXT);
    assert_eq!(stack().qstash_token(), DEV_TOKEN);
    assert!(stack().env_block().contains("export QSTASH_TOKEN="));

    for (path, headers, status) in [
        ("/v2/publish/ftp://x/y", vec![], 400),
        ("/v2/publish/not a name", vec![], 400),
        (
            "/v2/publish/http://127.0.0.1:1/x",
            vec![("Upstash-Delay", "soon")],
            400,
        ),
        (
            "/v2/publish/http://127.0.0.1:1/x",
            vec![("Upstash-Method", "FETCH")],
            400,
        ),
        (
            "/v2/publish/http://127.0.0.1:1/x",
            vec![("Upstash-Flow-Control-Key", "k")],
            400,
        ),
        ("/v2/publish/no-such-group-anywhere", vec![], 404),
        ("/v2/nothing-here", vec![], 404),
    ] {
        let (s, v) = post(path, &headers, "").await;
        assert_eq!(s, status, "{path} {headers:?}: {v}");
        assert!(v["error"].is_string(), "{path}: {v}");
    }
    let (s, v) = post("/v2/batch", &[], "{not json").await;
    assert_eq!(s, 400);
    assert!(v["error"].is_string());
    let (s, _) = get("/v2/messages/msg_missing").await;
    assert_eq!(s, 404);
    let (s, _) = get("/v2/dlq/1-1").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn other_dev_users_are_isolated() {
    let token = "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9";
    let r = client()
        .get(api("/v2/keys"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["current"], "sig_7GVPjvuwsfqF65iC8fSrs1dfYruM");
    let q = tag("iso");
    let r = client()
        .post(api("/v2/queues"))
        .bearer_auth(token)
        .body(json!({"queueName": q}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, _) = get(&format!("/v2/queues/{q}")).await;
    assert_eq!(s, 404, "the default user does not see testUser1's queue");
}

#[test]
fn restart_keeps_a_pending_delayed_message() {
    let dir = std::env::temp_dir().join(format!("upstash-local-qstash-{}", tag("restart")));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let hook = Hook::start().await;
        let t = tag("restart");
        let mut config = Config::default();
        config.qstash.data_dir = Some(dir.clone());
        let first = testing::dedicated(config.clone());
        let start = Instant::now();
        let r = client()
            .post(format!(
                "{}/v2/publish/{}",
                first.qstash_url(),
                hook.url(&format!("/restart/{t}"))
            ))
            .bearer_auth(DEV_TOKEN)
            .header("Upstash-Delay", "3s")
            .body("survivor")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["messageId"]
            .as_str()
            .unwrap()
            .to_string();
        // A schedule survives too.
        let r = client()
            .post(format!(
                "{}/v2/schedules/{}",
                first.qstash_url(),
                hook.url(&format!("/restart-sched/{t}"))
            ))
            .bearer_auth(DEV_TOKEN)
            .header("Upstash-Cron", "0 0 1 1 *")
            .header("Upstash-Schedule-Id", "persisted")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        first.shutdown().await;
        assert!(dir.join("qstash.json").exists());
        assert!(hook.deliveries("/restart/").is_empty());

        let second = testing::dedicated(config);
        let r = client()
            .get(format!("{}/v2/messages/{id}", second.qstash_url()))
            .bearer_auth(DEV_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "pending message still there");
        let r = client()
            .get(format!("{}/v2/schedules/persisted", second.qstash_url()))
            .bearer_auth(DEV_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "schedule still there");
        let d = hook.wait(&format!("/restart/{t}"), 1, 15).await;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].headers["upstash-message-id"], id);
        assert_eq!(d[0].body, b"survivor");
        assert_eq!(d[0].verified, Ok(()));
        assert!(d[0].at - start >= Duration::from_millis(2900));
        second.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
