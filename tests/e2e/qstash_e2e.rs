//! End-to-end: `upstash_qstash::Client` against upstash-local's QStash service, delivering to a
//! local axum app whose routes verify every request with the `Verified` extractor (our
//! `Receiver`, subject checked against the public URL).
//!
//! Every test uses its own paths, queue, group and key names, so they run in parallel on one
//! stack. Waits are generous and nothing asserts on elapsed time; ordering and lower bounds
//! given by the server's own timestamps are what is checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{FromRef, OriginalUri, State};
use axum::http::StatusCode;
use axum::{Extension, Router};
use futures_util::StreamExt as _;
use upstash_local::{testing, Config, LocalStack};
use upstash_qstash::axum::{Verified, WebhookConfig};
use upstash_qstash::types::{Endpoint, MessageState};
use upstash_qstash::{
    Callback, Client, Destination, Error, Filter, FlowControl, Page, PublishRequest, Receiver,
    RetryOverrides, ScheduleRequest,
};

/// testUser1 of `qstash dev` (isolated from the default user; used for key rotation).
const USER1_TOKEN: &str = "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9";

/// How long to wait for an asynchronous event before failing.
const WAIT: Duration = Duration::from_secs(60);

/// One stack for this binary, with the default retry backoff scaled down 100 times.
fn stack() -> &'static LocalStack {
    static STACK: OnceLock<LocalStack> = OnceLock::new();
    STACK.get_or_init(|| {
        let mut c = Config::default();
        c.qstash.retry_backoff_scale = 0.01;
        testing::dedicated(c)
    })
}

fn client() -> Client {
    let s = stack();
    Client::builder(s.qstash_token())
        .base_url(s.qstash_url())
        .build()
        .unwrap()
}

/// A name unique to this run and call: `<name>-<nanos>-<n>`.
fn tag(name: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{name}-{nanos:08x}-{n}")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A delivery that passed the `Verified` extractor.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    body: Bytes,
    sub: String,
    message_id: String,
    retried: u32,
    schedule_id: Option<String>,
    topic_name: Option<String>,
    /// Unix ms at arrival.
    at_ms: u64,
}

#[derive(Default)]
struct Sink {
    seen: Mutex<Vec<Seen>>,
    /// Paths under `/fail-until/` that answer 200 from now on.
    healed: Mutex<Vec<String>>,
    /// (current, max) concurrent requests under `/slow/`.
    in_flight: Mutex<(u32, u32)>,
}

#[derive(Clone)]
struct App {
    receiver: Receiver,
    sink: Arc<Sink>,
}

impl FromRef<App> for Receiver {
    fn from_ref(app: &App) -> Receiver {
        app.receiver.clone()
    }
}

/// Every route: the extractor verified the signature, body and subject before this runs.
/// `/fail-until/...` answers 503 until healed, `/slow/...` takes 100 ms, anything else 200.
async fn hook(
    State(app): State<App>,
    OriginalUri(uri): OriginalUri,
    v: Verified<Bytes>,
) -> StatusCode {
    let path = uri.path().to_string();
    let slow = path.starts_with("/slow/");
    if slow {
        let mut f = app.sink.in_flight.lock().unwrap();
        f.0 += 1;
        f.1 = f.1.max(f.0);
    }
    if slow {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.sink.in_flight.lock().unwrap().0 -= 1;
    }
    app.sink.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        body: v.body,
        sub: v.claims.sub,
        message_id: v.delivery.message_id.unwrap_or_default(),
        retried: v.delivery.retried,
        schedule_id: v.delivery.schedule_id,
        topic_name: v.delivery.topic_name,
        at_ms: now_ms(),
    });
    if path.starts_with("/fail-until/") && !app.sink.healed.lock().unwrap().contains(&path) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::OK
}

struct Hook {
    base: String,
    sink: Arc<Sink>,
}

impl Hook {
    async fn start() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sink = Arc::new(Sink::default());
        let s = stack();
        let app = App {
            receiver: Receiver::new(s.qstash_current_signing_key(), s.qstash_next_signing_key()),
            sink: sink.clone(),
        };
        let router = Router::new()
            .fallback(hook)
            .layer(Extension(WebhookConfig::new().public_url(base.clone())))
            .with_state(app);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Hook { base, sink }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn seen(&self, prefix: &str) -> Vec<Seen> {
        let all = self.sink.seen.lock().unwrap();
        all.iter()
            .filter(|d| d.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Waits until `n` deliveries under `prefix` arrived; panics after [`WAIT`].
    async fn wait(&self, prefix: &str, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + WAIT;
        loop {
            let d = self.seen(prefix);
            if d.len() >= n {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} deliveries under {prefix}",
                d.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Polls `f` until it gives `Some`; panics after [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn publish_is_verified_by_the_axum_extractor() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("pub");
    let url = hook.url(&format!("/pub/{t}?x=1"));
    let res = q
        .publish(
            PublishRequest::new(Destination::url(&url))
                .body("hello")
                .content_type("text/plain")
                .header("X-Test", "v"),
        )
        .await
        .unwrap();
    let id = res.message_id().unwrap().to_string();
    assert!(id.starts_with("msg_"));
    let d = hook.wait(&format!("/pub/{t}"), 1).await;
    assert_eq!(d[0].body, "hello");
    assert_eq!(d[0].sub, url);
    assert_eq!(d[0].message_id, id);
    assert_eq!(d[0].retried, 0);

    let url = hook.url(&format!("/json/{t}"));
    let res = q
        .publish_json(url.as_str(), &serde_json::json!({"n": 1}))
        .await
        .unwrap();
    let d = hook.wait(&format!("/json/{t}"), 1).await;
    assert_eq!(d[0].message_id, res.message_id().unwrap());
    let v: serde_json::Value = serde_json::from_slice(&d[0].body).unwrap();
    assert_eq!(v, serde_json::json!({"n": 1}));

    // A batch: one message per item, both delivered.
    let (a, b) = (hook.url(&format!("/ba/{t}")), hook.url(&format!("/bb/{t}")));
    let res = q
        .batch([
            PublishRequest::new(a.as_str()).body("A"),
            PublishRequest::new(b.as_str()).body("B"),
        ])
        .await
        .unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(hook.wait(&format!("/ba/{t}"), 1).await[0].body, "A");
    assert_eq!(hook.wait(&format!("/bb/{t}"), 1).await[0].body, "B");
}

#[tokio::test]
async fn url_group_of_four_endpoints_each_gets_one_signed_delivery() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("grp");
    let endpoints: Vec<Endpoint> = (0..4)
        .map(|i| Endpoint::named(format!("e{i}"), hook.url(&format!("/grp/{t}/{i}"))))
        .collect();
    q.url_groups()
        .upsert_endpoints(&t, &endpoints)
        .await
        .unwrap();
    let g = q.url_groups().get(&t).await.unwrap();
    assert_eq!(g.endpoints.len(), 4);
    assert!(q
        .url_groups()
        .list()
        .await
        .unwrap()
        .iter()
        .any(|g| g.name == t));

    let res = q
        .publish(PublishRequest::new(Destination::url_group(&t)).body("fan-out"))
        .await
        .unwrap();
    assert_eq!(res.messages().len(), 4);
    let d = hook.wait(&format!("/grp/{t}/"), 4).await;
    // Let any duplicate arrive before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d2 = hook.seen(&format!("/grp/{t}/"));
    assert_eq!(d2.len(), 4, "{d2:?}");
    for i in 0..4 {
        let path = format!("/grp/{t}/{i}");
        let one: Vec<&Seen> = d.iter().filter(|s| s.path == path).collect();
        assert_eq!(one.len(), 1, "{path}");
        assert_eq!(one[0].body, "fan-out");
        assert_eq!(one[0].topic_name.as_deref(), Some(t.as_str()));
        assert_eq!(one[0].sub, hook.url(&path));
    }

    q.url_groups()
        .remove_endpoints(&t, &[Endpoint::by_name("e0")])
        .await
        .unwrap();
    assert_eq!(q.url_groups().get(&t).await.unwrap().endpoints.len(), 3);
    q.url_groups().delete(&t).await.unwrap();
    assert!(matches!(
        q.url_groups().get(&t).await,
        Err(Error::Api { status: 404, .. })
    ));
}

#[tokio::test]
async fn failing_endpoint_retries_with_backoff_then_dlq_then_dlq_retry_redelivers() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("dlq");
    let path = format!("/fail-until/{t}");
    let res = q
        .publish(
            PublishRequest::new(hook.url(&path))
                .body("payload")
                .retries(2)
                .failure_callback(Callback::new(hook.url(&format!("/fcb/{t}")))),
        )
        .await
        .unwrap();
    let id = res.message_id().unwrap().to_string();
    let d = hook.wait(&path, 3).await;
    let retried: Vec<u32> = d.iter().map(|s| s.retried).collect();
    assert_eq!(retried, vec![0, 1, 2]);
    assert!(d.iter().all(|s| s.message_id == id));

    // The failure callback is signed too and names the DLQ entry.
    let f = hook.wait(&format!("/fcb/{t}"), 1).await;
    let body: serde_json::Value = serde_json::from_slice(&f[0].body).unwrap();
    assert_eq!(body["sourceMessageId"], id.as_str());
    let dlq_id = body["dlqId"].as_str().unwrap().to_string();

    // The logs show the backoff: each RETRY is scheduled after the failure it follows, and
    // the second wait is longer than the first (e^(2.5 n), scaled).
    let events: Vec<_> = q
        .logs()
        .stream(Filter::new().message_id(&id))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let mut retries: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e.state == MessageState::Retry)
        .map(|e| (e.time, e.next_delivery_time.unwrap()))
        .collect();
    retries.sort_unstable();
    assert_eq!(retries.len(), 2, "{events:?}");
    assert!(retries.iter().all(|(t, n)| n > t));
    assert!(retries[1].1 - retries[1].0 > retries[0].1 - retries[0].0);
    assert!(events.iter().any(|e| e.state == MessageState::Failed));

    // Listed in the DLQ (through the cursor stream), readable by id.
    let entries: Vec<_> = q
        .dlq()
        .stream(Filter::new().message_id(&id))
        .collect::<Vec<_>>()
        .await;
    assert_eq!(entries.len(), 1);
    let entry = entries.into_iter().next().unwrap().unwrap();
    assert_eq!(entry.dlq_id, dlq_id);
    assert_eq!(entry.response_status, Some(503));
    assert_eq!(q.dlq().get(&dlq_id).await.unwrap().message.message_id, id);

    // Heal, retry from the DLQ: one new delivery with a new id, and the entry is gone.
    hook.sink.healed.lock().unwrap().push(path.clone());
    let new_id = q.dlq().retry(&dlq_id).await.unwrap().message_id;
    assert_ne!(new_id, id);
    let d = hook.wait(&path, 4).await;
    assert_eq!(d[3].message_id, new_id);
    assert_eq!(d[3].retried, 0);
    assert_eq!(d[3].body, "payload");
    assert!(matches!(
        q.dlq().get(&dlq_id).await,
        Err(Error::Api { status: 404, .. })
    ));
}

#[tokio::test]
async fn dlq_retry_overrides_the_message_config() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("dlqo");
    let path = format!("/fail-until/{t}");
    let id = q
        .publish(PublishRequest::new(hook.url(&path)).body("x").retries(0))
        .await
        .unwrap()
        .message_id()
        .unwrap()
        .to_string();
    let dlq_id = eventually("the DLQ entry", || async {
        let page = q
            .dlq()
            .list(&Filter::new().message_id(&id), &Page::first())
            .await
            .unwrap();
        page.messages.first().map(|m| m.dlq_id.clone())
    })
    .await;
    // Retry with a long delay and more retries: the new message waits, with the new config.
    let new_id = q
        .dlq()
        .retry_with(
            &dlq_id,
            &RetryOverrides::new()
                .delay(Duration::from_secs(3600))
                .retries(5),
        )
        .await
        .unwrap()
        .message_id;
    let m = q.messages().get(&new_id).await.unwrap();
    assert_eq!(m.max_retries, Some(5));
    assert!(m.not_before.unwrap() >= m.created_at.unwrap() + 3_500_000);
    q.messages().cancel(&new_id).await.unwrap();
}

#[tokio::test]
async fn cron_schedule_fires_on_its_own() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("cron");
    let url = hook.url(&format!("/cron/{t}"));
    let id = q
        .schedules()
        .create(ScheduleRequest::new(
            "* * * * *",
            PublishRequest::new(url.as_str()).body("tick"),
        ))
        .await
        .unwrap()
        .schedule_id;
    let s = q.schedules().get(&id).await.unwrap();
    assert_eq!(s.cron, "* * * * *");
    assert_eq!(s.destination, url);
    assert!(!s.is_paused);
    let next = s.next_schedule_time.unwrap();
    assert_eq!(next % 60_000, 0, "a minute boundary");

    // The next minute boundary fires it (no trigger): wait up to the minute plus slack.
    let deadline = Instant::now() + Duration::from_secs(150);
    let d = loop {
        let d = hook.seen(&format!("/cron/{t}"));
        if !d.is_empty() {
            break d;
        }
        assert!(Instant::now() < deadline, "the schedule did not fire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(d[0].schedule_id.as_deref(), Some(id.as_str()));
    assert_eq!(d[0].body, "tick");
    assert!(d[0].at_ms >= next);
    let s = q.schedules().get(&id).await.unwrap();
    assert!(s.last_schedule_time.unwrap() >= next);

    // Pause, resume, list, delete.
    q.schedules().pause(&id).await.unwrap();
    assert!(q.schedules().get(&id).await.unwrap().is_paused);
    q.schedules().resume(&id).await.unwrap();
    assert!(!q.schedules().get(&id).await.unwrap().is_paused);
    assert!(q
        .schedules()
        .list()
        .await
        .unwrap()
        .iter()
        .any(|s| s.schedule_id == id));
    q.schedules().delete(&id).await.unwrap();
    assert!(matches!(
        q.schedules().get(&id).await,
        Err(Error::Api { status: 404, .. })
    ));
}

#[tokio::test]
async fn delay_and_not_before_are_respected() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("delay");
    let id = q
        .publish(
            PublishRequest::new(hook.url(&format!("/delay/{t}")))
                .body("d")
                .delay(Duration::from_secs(2)),
        )
        .await
        .unwrap()
        .message_id()
        .unwrap()
        .to_string();
    let m = q.messages().get(&id).await.unwrap();
    let not_before = m.not_before.unwrap();
    assert!(not_before >= m.created_at.unwrap() + 2000);

    let at = SystemTime::now() + Duration::from_secs(3);
    let at_s = at.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let id2 = q
        .publish(
            PublishRequest::new(hook.url(&format!("/nb/{t}")))
                .body("n")
                .not_before(at),
        )
        .await
        .unwrap()
        .message_id()
        .unwrap()
        .to_string();
    assert_eq!(
        q.messages().get(&id2).await.unwrap().not_before,
        Some(at_s * 1000)
    );

    let d = hook.wait(&format!("/delay/{t}"), 1).await;
    assert!(d[0].at_ms >= not_before, "{} < {not_before}", d[0].at_ms);
    let d = hook.wait(&format!("/nb/{t}"), 1).await;
    assert!(d[0].at_ms >= at_s * 1000);
}

#[tokio::test]
async fn deduplication_returns_the_first_message_id() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("dedup");
    let url = hook.url(&format!("/dedup/{t}"));
    let req = PublishRequest::new(url.as_str())
        .body("once")
        .deduplication_id(&t)
        .delay(Duration::from_secs(1));
    let first = q.publish(req.clone()).await.unwrap();
    let second = q.publish(req).await.unwrap();
    assert!(!first.messages()[0].deduplicated);
    assert!(second.messages()[0].deduplicated);
    assert_eq!(first.message_id(), second.message_id());

    let url2 = hook.url(&format!("/cdedup/{t}"));
    let req = PublishRequest::new(url2.as_str())
        .body("same content")
        .content_based_deduplication(true);
    let a = q.publish(req.clone()).await.unwrap();
    let b = q.publish(req).await.unwrap();
    assert!(b.messages()[0].deduplicated);
    assert_eq!(a.message_id(), b.message_id());

    hook.wait(&format!("/dedup/{t}"), 1).await;
    hook.wait(&format!("/cdedup/{t}"), 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.seen(&format!("/dedup/{t}")).len(), 1);
    assert_eq!(hook.seen(&format!("/cdedup/{t}")).len(), 1);
}

#[tokio::test]
async fn queue_with_parallelism_one_delivers_in_order() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("queue");
    q.queues().upsert(&t, 1, None).await.unwrap();
    let url = hook.url(&format!("/slow/{t}"));
    // Paused while filling, so the order cannot come from the publish order alone.
    q.queues().pause(&t).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = q
            .enqueue(&t, PublishRequest::new(url.as_str()).body(i.to_string()))
            .await
            .unwrap();
        ids.push(r.message_id().unwrap().to_string());
    }
    let info = q.queues().get(&t).await.unwrap();
    assert!(info.paused);
    assert_eq!(info.parallelism, 1);
    assert_eq!(info.lag, 5);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        hook.seen(&format!("/slow/{t}")).is_empty(),
        "paused queue delivered"
    );
    q.queues().resume(&t).await.unwrap();
    let d = hook.wait(&format!("/slow/{t}"), 5).await;
    let order: Vec<&str> = d.iter().map(|s| s.message_id.as_str()).collect();
    assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let bodies: Vec<&[u8]> = d.iter().map(|s| s.body.as_ref()).collect();
    assert_eq!(bodies, vec![b"0", b"1", b"2", b"3", b"4"]);
    assert_eq!(hook.sink.in_flight.lock().unwrap().1, 1, "one at a time");
    assert!(q.queues().list().await.unwrap().iter().any(|x| x.name == t));
    q.queues().delete(&t).await.unwrap();
    assert!(matches!(
        q.queues().get(&t).await,
        Err(Error::Api { status: 404, .. })
    ));
}

#[tokio::test]
async fn queue_waits_for_the_callback_of_the_current_message() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("qcb");
    // The callback endpoint is slow; the second message must not start before it is done.
    let cb = hook.url(&format!("/slow/{t}/cb"));
    for i in 0..2 {
        q.enqueue(
            &t,
            PublishRequest::new(hook.url(&format!("/qcb/{t}/{i}")))
                .body("m")
                .callback(Callback::new(cb.as_str())),
        )
        .await
        .unwrap();
    }
    let first_cb = hook.wait(&format!("/slow/{t}/cb"), 1).await;
    let second = hook.wait(&format!("/qcb/{t}/1"), 1).await;
    // The callback's handler records itself after its 100 ms; the second message arrived
    // after that record, so after the callback finished.
    assert!(second[0].at_ms >= first_cb[0].at_ms);
    hook.wait(&format!("/slow/{t}/cb"), 2).await;
    q.queues().delete(&t).await.unwrap();
}

#[tokio::test]
async fn messages_cancel_one_many_and_by_filter() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("cancel");
    let publish = |label: &'static str| {
        let q = q.clone();
        let url = hook.url(&format!("/cancel/{t}"));
        async move {
            q.publish(
                PublishRequest::new(url)
                    .body("never")
                    .delay(Duration::from_secs(3600))
                    .label(label),
            )
            .await
            .unwrap()
            .message_id()
            .unwrap()
            .to_string()
        }
    };
    let one = publish("a").await;
    let m = q.messages().get(&one).await.unwrap();
    assert_eq!(m.label.as_deref(), Some("a"));
    q.messages().cancel(&one).await.unwrap();
    assert!(matches!(
        q.messages().get(&one).await,
        Err(Error::Api { status: 404, .. })
    ));

    let many = [publish("b").await, publish("b").await];
    assert_eq!(q.messages().cancel_many(&many).await.unwrap(), 2);
    assert!(q.messages().cancel_many::<&str>(&[]).await.is_err());

    let label = format!("l-{t}");
    let url = hook.url(&format!("/cancel/{t}"));
    for _ in 0..3 {
        q.publish(
            PublishRequest::new(url.as_str())
                .delay(Duration::from_secs(3600))
                .label(label.as_str()),
        )
        .await
        .unwrap();
    }
    let n = q
        .messages()
        .cancel_matching(&Filter::new().label(label.as_str()), None)
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert!(hook.seen(&format!("/cancel/{t}")).is_empty());
}

#[tokio::test]
async fn logs_stream_follows_a_message() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("logs");
    let id = q
        .publish(PublishRequest::new(hook.url(&format!("/logs/{t}"))).body("l"))
        .await
        .unwrap()
        .message_id()
        .unwrap()
        .to_string();
    hook.wait(&format!("/logs/{t}"), 1).await;
    let states = eventually("a DELIVERED event", || async {
        let states: Vec<MessageState> = q
            .logs()
            .stream(Filter::new().message_id(&id))
            .map(|e| e.unwrap().state)
            .collect()
            .await;
        states.contains(&MessageState::Delivered).then_some(states)
    })
    .await;
    assert!(states.contains(&MessageState::Created));
    assert!(states.contains(&MessageState::Active));
    // Newest first.
    assert_eq!(states.first(), Some(&MessageState::Delivered));
    // Page by page with a small count: the stream follows the cursor.
    let page = q
        .logs()
        .list(&Filter::new().message_id(&id), &Page::first().count(1))
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert!(page.cursor.is_some());
}

#[tokio::test]
async fn signing_keys_get_and_rotate() {
    let s = stack();
    let q = client();
    let keys = q.signing_keys().get().await.unwrap();
    assert_eq!(keys.current, s.qstash_current_signing_key());
    assert_eq!(keys.next, s.qstash_next_signing_key());
    // Rotation on another dev user, so deliveries to the default user stay verifiable.
    let other = Client::builder(USER1_TOKEN)
        .base_url(s.qstash_url())
        .build()
        .unwrap();
    let before = other.signing_keys().get().await.unwrap();
    let after = other.signing_keys().rotate().await.unwrap();
    assert_eq!(after.current, before.next);
    assert_ne!(after.next, before.next);
    assert!(after.next.starts_with("sig_"));
    assert_eq!(other.signing_keys().get().await.unwrap(), after);
}

#[tokio::test]
async fn flow_control_info_pause_pin_and_unpin() {
    let hook = Hook::start().await;
    let q = client();
    let t = tag("flow");
    let url = hook.url(&format!("/flow/{t}"));
    let flow = FlowControl::new(t.as_str())
        .parallelism(2)
        .rate(10)
        .period(Duration::from_secs(60));
    q.publish(
        PublishRequest::new(url.as_str())
            .body("1")
            .flow_control(flow.clone()),
    )
    .await
    .unwrap();
    hook.wait(&format!("/flow/{t}"), 1).await;
    let info = q.flow_control().get(&t).await.unwrap();
    assert_eq!(info.flow_control_key, t);
    assert_eq!(info.parallelism_max, Some(2));
    assert_eq!(info.rate_max, Some(10));
    assert_eq!(info.rate_period, Some(60));
    assert!(!info.is_pinned_parallelism && !info.is_pinned_rate);
    assert!(q
        .flow_control()
        .list(Some(&t))
        .await
        .unwrap()
        .iter()
        .any(|i| i.flow_control_key == t));

    // Paused: a new message waits in the wait list.
    q.flow_control().pause(&t).await.unwrap();
    q.publish(
        PublishRequest::new(url.as_str())
            .body("2")
            .flow_control(flow.clone()),
    )
    .await
    .unwrap();
    let info = q.flow_control().get(&t).await.unwrap();
    assert!(info.is_paused);
    assert_eq!(info.wait_list_size, 1);
    q.flow_control().resume(&t).await.unwrap();
    hook.wait(&format!("/flow/{t}"), 2).await;

    // Pinned values survive later messages with other settings; unpinning lets them through.
    q.flow_control()
        .pin(&t, Some(1), Some(5), Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let other = FlowControl::new(t.as_str()).parallelism(7).rate(70);
    q.publish(
        PublishRequest::new(url.as_str())
            .body("3")
            .flow_control(other.clone()),
    )
    .await
    .unwrap();
    let info = q.flow_control().get(&t).await.unwrap();
    assert!(info.is_pinned_parallelism && info.is_pinned_rate);
    assert_eq!(info.parallelism_max, Some(1));
    assert_eq!(info.rate_max, Some(5));
    assert_eq!(info.rate_period, Some(30));
    q.flow_control().unpin(&t, true, false).await.unwrap();
    q.publish(
        PublishRequest::new(url.as_str())
            .body("4")
            .flow_control(other),
    )
    .await
    .unwrap();
    let info = q.flow_control().get(&t).await.unwrap();
    assert!(!info.is_pinned_parallelism && info.is_pinned_rate);
    assert_eq!(info.parallelism_max, Some(7));
    assert_eq!(info.rate_max, Some(5));
    q.flow_control().reset_rate(&t).await.unwrap();
    hook.wait(&format!("/flow/{t}"), 4).await;

    let g = q.flow_control().global_parallelism().await.unwrap();
    assert!(g.parallelism_max > 0);
}
