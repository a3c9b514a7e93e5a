//! Request-building and response-decoding tests. The client's `send` is short-circuited by a
//! recording hook (no network): each test asserts the exact method, path, headers and body
//! the client produces, and decodes fixture JSON from `tests/fixtures/`.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt as _;
use upstash_core::http::{HeaderMap, Method, StatusCode};
use upstash_core::{Request, Response};

use crate::types::*;
use crate::*;

/// Records requests and answers each with the next queued reply (default: 200 `{}`).
#[derive(Debug, Default)]
pub(crate) struct Hook {
    requests: Mutex<Vec<Request>>,
    replies: Mutex<VecDeque<(u16, &'static str)>>,
}

impl Hook {
    pub(crate) fn answer(&self, req: Request) -> Response {
        self.requests.lock().unwrap().push(req);
        let (status, body) = self
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or((200, "{}"));
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }
}

fn client() -> (Client, Arc<Hook>) {
    let mut c = Client::builder("tok")
        .base_url("http://127.0.0.1:1/v2/publish/")
        .telemetry(false)
        .build()
        .unwrap();
    let hook = Arc::new(Hook::default());
    c.hook = Some(hook.clone());
    (c, hook)
}

fn reply(hook: &Hook, status: u16, body: &'static str) {
    hook.replies.lock().unwrap().push_back((status, body));
}

fn last(hook: &Hook) -> Request {
    hook.requests.lock().unwrap().last().cloned().unwrap()
}

fn count(hook: &Hook) -> usize {
    hook.requests.lock().unwrap().len()
}

fn h(req: &Request, name: &str) -> Option<String> {
    let all: Vec<&str> = req
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    (!all.is_empty()).then(|| all.join("|"))
}

fn body_json(req: &Request) -> serde_json::Value {
    serde_json::from_slice(&req.body).unwrap()
}

const PUBLISH_SINGLE: &str = include_str!("../tests/fixtures/publish_single.json");
const PUBLISH_GROUP: &str = include_str!("../tests/fixtures/publish_group.json");
const BATCH: &str = include_str!("../tests/fixtures/batch.json");
const MESSAGE: &str = include_str!("../tests/fixtures/message.json");
const DLQ_PAGE: &str = include_str!("../tests/fixtures/dlq_page.json");
const SCHEDULES: &str = include_str!("../tests/fixtures/schedules.json");
const QUEUE: &str = include_str!("../tests/fixtures/queue.json");
const URL_GROUPS: &str = include_str!("../tests/fixtures/url_groups.json");
const LOGS: &str = include_str!("../tests/fixtures/logs.json");
const KEYS: &str = include_str!("../tests/fixtures/keys.json");
const FLOW_CONTROL: &str = include_str!("../tests/fixtures/flow_control.json");

#[test]
fn base_url_is_repaired() {
    let (c, _) = client();
    assert_eq!(c.base_url(), "http://127.0.0.1:1");
}

#[tokio::test]
async fn publish_url_raw_path_and_all_options() {
    let (c, hook) = client();
    reply(&hook, 201, PUBLISH_SINGLE);
    let req = PublishRequest::new("https://example.com/api/jobs?x=1")
        .body("hello")
        .content_type("text/plain")
        .header("Authorization", "Bearer downstream")
        .header("Upstash-Forward-X-Already", "1")
        .method(Method::PUT)
        .delay(Duration::from_secs(90))
        .not_before(UNIX_EPOCH + Duration::from_secs(1_800_000_000))
        .retries(5)
        .retry_delay("pow(2, retried) * 1000")
        .timeout(Duration::from_secs(30))
        .callback(
            Callback::new("https://example.com/cb")
                .method(Method::PUT)
                .retries(1)
                .timeout(Duration::from_secs(5))
                .retry_delay("1000")
                .header("X-Cb", "c"),
        )
        .failure_callback("https://example.com/fail")
        .content_based_deduplication(true)
        .flow_control(
            FlowControl::new("tenant-1")
                .parallelism(2)
                .rate(10)
                .period(Duration::from_secs(60)),
        )
        .label("a")
        .label("b")
        .redact(Redact::new().body().header("Authorization"));
    let sent = c.publish(req).await.unwrap();
    let r = last(&hook);
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.path, "/v2/publish/https://example.com/api/jobs?x=1");
    assert_eq!(&r.body[..], b"hello");
    assert!(
        !r.idempotent,
        "publish without a dedup id is never retried on 5xx"
    );
    let expect = [
        ("content-type", "text/plain"),
        ("upstash-forward-authorization", "Bearer downstream"),
        ("upstash-forward-x-already", "1"),
        ("upstash-method", "PUT"),
        ("upstash-delay", "90s"),
        ("upstash-not-before", "1800000000"),
        ("upstash-retries", "5"),
        ("upstash-retry-delay", "pow(2, retried) * 1000"),
        ("upstash-timeout", "30s"),
        ("upstash-callback", "https://example.com/cb"),
        ("upstash-callback-method", "PUT"),
        ("upstash-callback-retries", "1"),
        ("upstash-callback-timeout", "5s"),
        ("upstash-callback-retry-delay", "1000"),
        ("upstash-callback-forward-x-cb", "c"),
        ("upstash-failure-callback", "https://example.com/fail"),
        ("upstash-content-based-deduplication", "true"),
        ("upstash-flow-control-key", "tenant-1"),
        (
            "upstash-flow-control-value",
            "parallelism=2, rate=10, period=60s",
        ),
        ("upstash-label", "a,b"),
        ("upstash-redact-fields", "body,header[Authorization]"),
    ];
    for (name, value) in expect {
        assert_eq!(h(&r, name).as_deref(), Some(value), "{name}");
    }
    assert_eq!(h(&r, "upstash-deduplication-id"), None);
    assert_eq!(
        sent.message_id(),
        Some("msg_26hZCxZCuWyyTWPmSVBrNC1RADwpgWxPcak2rQD51EMjFMuzcW7qYXpPiDyw")
    );
    assert!(matches!(sent, PublishResponse::Single(_)));
}

#[tokio::test]
async fn publish_json_and_dedup_makes_it_idempotent() {
    let (c, hook) = client();
    reply(&hook, 202, PUBLISH_SINGLE);
    c.publish(
        PublishRequest::new("https://example.com/")
            .json(&serde_json::json!({"a": 1}))
            .unwrap()
            .deduplication_id("order-42"),
    )
    .await
    .unwrap();
    let r = last(&hook);
    assert!(r.idempotent);
    assert_eq!(
        h(&r, "upstash-deduplication-id").as_deref(),
        Some("order-42")
    );
    assert_eq!(h(&r, "content-type").as_deref(), Some("application/json"));
    assert_eq!(&r.body[..], br#"{"a":1}"#);

    reply(&hook, 201, PUBLISH_SINGLE);
    c.publish_json("https://example.com/x", &[1, 2])
        .await
        .unwrap();
    let r = last(&hook);
    assert_eq!(r.path, "/v2/publish/https://example.com/x");
    assert_eq!(h(&r, "upstash-method").as_deref(), Some("POST"));
}

#[tokio::test]
async fn publish_to_url_group_decodes_array() {
    let (c, hook) = client();
    reply(&hook, 201, PUBLISH_GROUP);
    let sent = c
        .publish(PublishRequest::new(Destination::url_group("my-group.v2")).body("x"))
        .await
        .unwrap();
    assert_eq!(last(&hook).path, "/v2/publish/my-group.v2");
    let msgs = sent.messages();
    assert_eq!(msgs.len(), 2);
    assert!(!msgs[0].deduplicated);
    assert!(msgs[1].deduplicated);
    assert_eq!(msgs[1].url.as_deref(), Some("https://b.example/hook"));
}

#[tokio::test]
async fn enqueue_path() {
    let (c, hook) = client();
    reply(&hook, 201, PUBLISH_SINGLE);
    c.enqueue_json("orders/eu", "https://example.com/a?b=c", &"x")
        .await
        .unwrap();
    assert_eq!(
        last(&hook).path,
        "/v2/enqueue/orders%2Feu/https://example.com/a?b=c"
    );
    assert!(c
        .enqueue("", PublishRequest::new("https://example.com/"))
        .await
        .is_err());
}

#[tokio::test]
async fn batch_body_and_nested_response() {
    let (c, hook) = client();
    reply(&hook, 201, BATCH);
    let out = c
        .batch([
            BatchItem::new(
                PublishRequest::new("https://a.example/")
                    .body("one")
                    .header("X-A", "1"),
            ),
            BatchItem::queued(
                "q1",
                PublishRequest::new("grp").delay(Duration::from_secs(5)),
            ),
            PublishRequest::new("https://d.example/").into(),
        ])
        .await
        .unwrap();
    let r = last(&hook);
    assert_eq!(r.path, "/v2/batch");
    assert!(!r.idempotent);
    let body = body_json(&r);
    assert_eq!(body[0]["destination"], "https://a.example/");
    assert_eq!(body[0]["body"], "one");
    assert_eq!(body[0]["headers"]["upstash-forward-x-a"], "1");
    assert_eq!(body[0]["headers"]["upstash-method"], "POST");
    assert!(body[0].get("queue").is_none());
    assert_eq!(body[1]["destination"], "grp");
    assert_eq!(body[1]["queue"], "q1");
    assert_eq!(body[1]["headers"]["upstash-delay"], "5s");
    assert!(body[1].get("body").is_none());
    assert_eq!(out.len(), 3);
    assert_eq!(out[1].messages().len(), 2);
    assert!(out[2].messages()[0].deduplicated);

    assert!(c.batch(Vec::<BatchItem>::new()).await.is_err());
    let binary = PublishRequest::new("https://a.example/").body(vec![0xff, 0xfe]);
    assert!(matches!(
        c.batch([binary]).await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn api_errors_keep_the_server_text() {
    let (c, hook) = client();
    reply(
        &hook,
        400,
        r#"{"error":"invalid destination url: endpoint has invalid scheme"}"#,
    );
    let err = c
        .publish(PublishRequest::new("https://example.com/"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("invalid scheme"));
    reply(&hook, 404, r#"{"error":"message not found"}"#);
    assert!(c.messages().get("msg_x").await.unwrap_err().is_not_found());
    reply(&hook, 200, "not json");
    assert!(matches!(
        c.messages().get("msg_x").await,
        Err(Error::Decode { status: 200, .. })
    ));
}

#[tokio::test]
async fn invalid_input_is_refused_before_sending() {
    let (c, hook) = client();
    assert!(c.messages().get("").await.is_err());
    assert!(c.messages().cancel(" ").await.is_err());
    assert!(c.messages().cancel_many::<&str>(&[]).await.is_err());
    assert!(c
        .messages()
        .cancel_matching(&Filter::new(), None)
        .await
        .is_err());
    assert!(c.dlq().delete("").await.is_err());
    assert!(c.dlq().delete_many::<&str>(&[]).await.is_err());
    assert!(c.dlq().retry_many(&["a", ""]).await.is_err());
    assert!(c.schedules().get("").await.is_err());
    assert!(c.queues().upsert("q", 0, None).await.is_err());
    assert!(c.url_groups().upsert_endpoints("g", &[]).await.is_err());
    assert!(c.flow_control().pin("k", None, None, None).await.is_err());
    assert!(c
        .publish(PublishRequest::new("ftp://example.com/"))
        .await
        .is_err());
    assert_eq!(count(&hook), 0, "{:?}", hook.requests.lock().unwrap());
}

#[tokio::test]
async fn messages_get_and_cancel() {
    let (c, hook) = client();
    reply(&hook, 200, MESSAGE);
    let m = c.messages().get("msg_1").await.unwrap();
    assert_eq!(last(&hook).method, Method::GET);
    assert_eq!(last(&hook).path, "/v2/messages/msg_1");
    assert!(last(&hook).idempotent);
    assert_eq!(m.caller_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(m.header.as_ref().unwrap()["Test-Header"], vec!["a", "b"]);
    assert_eq!(m.body_bytes().unwrap(), br#"{"hello":"world"}"#);
    assert_eq!(
        m.labels.as_deref(),
        Some(&["a".to_owned(), "b".to_owned()][..])
    );
    assert_eq!(m.period, Some(60));
    // Serialises back with the wire names.
    let back = serde_json::to_value(&m).unwrap();
    assert_eq!(back["callerIP"], "203.0.113.7");
    assert_eq!(back["retryDelayExpression"], "pow(2, retried) * 1000");

    reply(&hook, 202, "OK");
    c.messages().cancel("msg_1").await.unwrap();
    assert_eq!(last(&hook).method, Method::DELETE);
    assert_eq!(last(&hook).path, "/v2/messages/msg_1");

    reply(&hook, 200, r#"{"cancelled":2}"#);
    assert_eq!(c.messages().cancel_many(&["m1", "m2"]).await.unwrap(), 2);
    assert_eq!(last(&hook).path, "/v2/messages?messageIds=m1&messageIds=m2");

    reply(&hook, 200, r#"{"cancelled":7}"#);
    let f = Filter::new().queue("orders").label("x");
    assert_eq!(
        c.messages().cancel_matching(&f, Some(100)).await.unwrap(),
        7
    );
    assert_eq!(
        last(&hook).path,
        "/v2/messages?queueName=orders&label=x&count=100"
    );

    reply(&hook, 200, r#"{"cancelled":9}"#);
    assert_eq!(c.messages().cancel_all().await.unwrap(), 9);
    assert_eq!(last(&hook).path, "/v2/messages");
}

#[tokio::test]
async fn dlq_endpoints_and_stream() {
    let (c, hook) = client();
    reply(&hook, 200, DLQ_PAGE);
    let f = Filter::new()
        .message_id("msg_9")
        .response_status(500u16)
        .url("https://example.com/fail");
    let page = c.dlq().list(&f, &Page::first().count(10)).await.unwrap();
    assert_eq!(
        last(&hook).path,
        "/v2/dlq?count=10&messageId=msg_9&url=https%3A%2F%2Fexample.com%2Ffail&responseStatus=500"
    );
    let m = &page.messages[0];
    assert_eq!(m.dlq_id, "1725323658779-0");
    assert_eq!(m.message.message_id, "msg_9");
    assert_eq!(m.message.caller_ip(), Some("198.51.100.1"));
    assert_eq!(m.message.body_bytes().unwrap(), vec![0, 1, 2, 255]);
    assert_eq!(
        m.message.header.as_ref().unwrap()["Content-Type"],
        vec!["text/plain"]
    );
    assert_eq!(m.response_status, Some(500));
    assert_eq!(m.response_body_bytes().unwrap(), b"boom");
    assert_eq!(page.cursor.as_deref(), Some("1725323658779-1"));

    // Stream: follows the cursor, stops when the server sends none.
    reply(&hook, 200, DLQ_PAGE);
    reply(
        &hook,
        200,
        r#"{"messages":[{"messageId":"msg_10","dlqId":"d2"}]}"#,
    );
    let all: Vec<_> = c.dlq().stream(Filter::new().queue("q")).collect().await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].as_ref().unwrap().dlq_id, "d2");
    assert_eq!(
        last(&hook).path,
        "/v2/dlq?cursor=1725323658779-1&queueName=q"
    );

    reply(
        &hook,
        200,
        r#"{"messageId":"msg_9","dlqId":"1725323658779-0"}"#,
    );
    c.dlq().get("1725323658779-0").await.unwrap();
    assert_eq!(last(&hook).path, "/v2/dlq/1725323658779-0");
    c.dlq().delete("d1").await.unwrap();
    assert_eq!(last(&hook).method, Method::DELETE);
    assert_eq!(last(&hook).path, "/v2/dlq/d1");
    reply(&hook, 200, r#"{"deleted":2}"#);
    assert_eq!(c.dlq().delete_many(&["d1", "d2"]).await.unwrap().deleted, 2);
    assert_eq!(last(&hook).path, "/v2/dlq?dlqIds=d1&dlqIds=d2");
    reply(&hook, 201, r#"{"messageId":"msg_new"}"#);
    assert_eq!(c.dlq().retry("d1").await.unwrap().message_id, "msg_new");
    assert_eq!(last(&hook).method, Method::POST);
    assert_eq!(last(&hook).path, "/v2/dlq/retry/d1");
    reply(
        &hook,
        201,
        r#"{"cursor":"","responses":[{"messageId":"m1"},{"messageId":"m2"}]}"#,
    );
    let r = c.dlq().retry_many(&["d1", "d2"]).await.unwrap();
    assert_eq!(r.responses.len(), 2);
    assert_eq!(last(&hook).path, "/v2/dlq/retry?dlqIds=d1&dlqIds=d2");
}

#[tokio::test]
async fn stream_error_ends_the_stream() {
    let (c, hook) = client();
    reply(&hook, 500, r#"{"error":"down"}"#);
    let all: Vec<_> = c.logs().stream(Filter::new()).collect().await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].as_ref().unwrap_err().status(), Some(500));
}

#[tokio::test]
async fn logs_filters_and_states() {
    let (c, hook) = client();
    reply(&hook, 200, LOGS);
    let f = Filter::new()
        .state(MessageState::Delivered)
        .state(MessageState::InProgress)
        .url_group("g")
        .message_id("m1")
        .message_id("m2")
        .from(UNIX_EPOCH + Duration::from_millis(5))
        .to(UNIX_EPOCH + Duration::from_millis(9));
    let page = c.logs().list(&f, &Page::after("c1")).await.unwrap();
    assert_eq!(
        last(&hook).path,
        "/v2/events?cursor=c1&messageIds=m1&messageIds=m2&topicName=g&state=DELIVERED&state=IN_PROGRESS&fromDate=5&toDate=9"
    );
    assert_eq!(page.cursor.as_deref(), Some("1686652644442-12"));
    let states: Vec<_> = page.events.iter().map(|e| e.state.clone()).collect();
    assert_eq!(
        states,
        vec![
            MessageState::Delivered,
            MessageState::Cancelled,
            MessageState::Other("BRAND_NEW_STATE".into())
        ]
    );
    assert_eq!(
        page.events[0].response_header.as_ref().unwrap()["X"],
        vec!["1"]
    );
    // `/v2/logs` answers under `logs`: accepted too.
    let p: LogPage = serde_json::from_str(r#"{"logs":[{"state":"FAILED"}]}"#).unwrap();
    assert_eq!(p.events[0].state, MessageState::Failed);
}

#[tokio::test]
async fn schedules_endpoints() {
    let (c, hook) = client();
    reply(&hook, 200, r#"{"scheduleId":"scd_1"}"#);
    let created = c
        .schedules()
        .create(
            ScheduleRequest::new(
                "*/5 * * * * ",
                PublishRequest::new("https://example.com/cron")
                    .json(&serde_json::json!({}))
                    .unwrap()
                    .retries(2)
                    .delay(Duration::from_secs(30)),
            )
            .schedule_id("scd_1")
            .queue("q"),
        )
        .await
        .unwrap();
    assert_eq!(created.schedule_id, "scd_1");
    let r = last(&hook);
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.path, "/v2/schedules/https://example.com/cron");
    assert_eq!(h(&r, "upstash-cron").as_deref(), Some("*/5 * * * *"));
    assert_eq!(h(&r, "upstash-schedule-id").as_deref(), Some("scd_1"));
    assert_eq!(h(&r, "upstash-queue-name").as_deref(), Some("q"));
    assert_eq!(h(&r, "upstash-retries").as_deref(), Some("2"));
    assert_eq!(h(&r, "upstash-delay").as_deref(), Some("30s"));
    assert!(r.idempotent);

    reply(&hook, 200, SCHEDULES);
    let all = c.schedules().list().await.unwrap();
    assert_eq!(last(&hook).path, "/v2/schedules");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].delay, Some(30));
    let states = all[0].last_schedule_states.as_ref().unwrap();
    assert_eq!(states["msg_1"], ScheduleState::Success);
    assert_eq!(
        states["msg_3"],
        ScheduleState::Other("SOMETHING_NEW".into())
    );
    assert!(all[1].is_paused);
    assert_eq!(all[1].queue_name.as_deref(), Some("q"));

    c.schedules().pause("scd_1").await.unwrap();
    assert_eq!(last(&hook).method, Method::PATCH);
    assert_eq!(last(&hook).path, "/v2/schedules/scd_1/pause");
    c.schedules().resume("scd_1").await.unwrap();
    assert_eq!(last(&hook).path, "/v2/schedules/scd_1/resume");
    c.schedules().delete("scd_1").await.unwrap();
    assert_eq!(last(&hook).method, Method::DELETE);
    assert_eq!(last(&hook).path, "/v2/schedules/scd_1");
    assert!(c
        .schedules()
        .create(ScheduleRequest::new(
            " ",
            PublishRequest::new("https://e.com/")
        ))
        .await
        .is_err());
}

#[tokio::test]
async fn queues_endpoints() {
    let (c, hook) = client();
    c.queues().upsert("orders", 2, Some(false)).await.unwrap();
    let r = last(&hook);
    assert_eq!(
        (r.method.clone(), r.path.as_str()),
        (Method::POST, "/v2/queues")
    );
    assert_eq!(
        body_json(&r),
        serde_json::json!({"queueName": "orders", "parallelism": 2, "paused": false})
    );
    c.queues().upsert("orders", 1, None).await.unwrap();
    assert_eq!(
        body_json(&last(&hook)),
        serde_json::json!({"queueName": "orders", "parallelism": 1})
    );
    reply(&hook, 200, QUEUE);
    let q = c.queues().get("orders").await.unwrap();
    assert_eq!(last(&hook).path, "/v2/queues/orders");
    assert_eq!((q.parallelism, q.lag, q.paused), (2, 5, false));
    reply(&hook, 200, "[]");
    assert!(c.queues().list().await.unwrap().is_empty());
    c.queues().pause("orders").await.unwrap();
    assert_eq!(last(&hook).path, "/v2/queues/orders/pause");
    assert_eq!(last(&hook).method, Method::POST);
    c.queues().resume("orders").await.unwrap();
    assert_eq!(last(&hook).path, "/v2/queues/orders/resume");
    c.queues().delete("orders").await.unwrap();
    assert_eq!(last(&hook).method, Method::DELETE);
}

#[tokio::test]
async fn url_group_endpoints() {
    let (c, hook) = client();
    c.url_groups()
        .upsert_endpoints(
            "fanout",
            &[
                Endpoint::named("a", "https://a.example/"),
                Endpoint::url("https://b.example/"),
            ],
        )
        .await
        .unwrap();
    let r = last(&hook);
    assert_eq!(r.path, "/v2/topics/fanout/endpoints");
    assert_eq!(r.method, Method::POST);
    assert_eq!(
        body_json(&r),
        serde_json::json!({"endpoints": [{"name": "a", "url": "https://a.example/"}, {"url": "https://b.example/"}]})
    );
    c.url_groups()
        .remove_endpoints("fanout", &[Endpoint::by_name("a")])
        .await
        .unwrap();
    let r = last(&hook);
    assert_eq!(r.method, Method::DELETE);
    assert_eq!(
        body_json(&r),
        serde_json::json!({"endpoints": [{"name": "a"}]})
    );
    reply(&hook, 200, URL_GROUPS);
    let groups = c.url_groups().list().await.unwrap();
    assert_eq!(last(&hook).path, "/v2/topics");
    assert_eq!(groups[0].endpoints.len(), 2);
    assert_eq!(groups[0].endpoints[1].name, None);
    c.url_groups().delete("fanout").await.unwrap();
    assert_eq!(last(&hook).path, "/v2/topics/fanout");
}

#[tokio::test]
async fn signing_keys_and_flow_control() {
    let (c, hook) = client();
    reply(&hook, 200, KEYS);
    let keys = c.signing_keys().get().await.unwrap();
    assert_eq!(last(&hook).path, "/v2/keys");
    assert!(keys.current.starts_with("sig_7kY"));
    let token = signer::Signer::new(keys.next.as_str()).sign(b"", "https://x/");
    assert!(keys
        .receiver()
        .verify(&token, b"", VerifyOptions::new())
        .is_ok());
    reply(&hook, 200, KEYS);
    c.signing_keys().rotate().await.unwrap();
    assert_eq!(last(&hook).method, Method::POST);
    assert_eq!(last(&hook).path, "/v2/keys/rotate");

    reply(&hook, 200, FLOW_CONTROL);
    let all = c.flow_control().list(Some("ten")).await.unwrap();
    assert_eq!(last(&hook).path, "/v2/flowControl?search=ten");
    assert_eq!(all[0].wait_list_size, 4);
    assert!(all[0].is_pinned_parallelism);
    c.flow_control()
        .pin("tenant 1", Some(3), None, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        last(&hook).path,
        "/v2/flowControl/tenant%201/pin?parallelism=3&period=60"
    );
    c.flow_control().unpin("k", true, true).await.unwrap();
    assert_eq!(
        last(&hook).path,
        "/v2/flowControl/k/unpin?parallelism=true&rate=true"
    );
    c.flow_control().reset_rate("k").await.unwrap();
    assert_eq!(last(&hook).path, "/v2/flowControl/k/resetRate");
    c.flow_control().pause("k").await.unwrap();
    assert_eq!(last(&hook).path, "/v2/flowControl/k/pause");
    reply(&hook, 200, r#"{"parallelismMax":100,"parallelismCount":3}"#);
    let g = c.flow_control().global_parallelism().await.unwrap();
    assert_eq!(last(&hook).path, "/v2/globalParallelism");
    assert_eq!((g.parallelism_max, g.parallelism_count), (100, 3));
}

#[test]
fn wire_types_round_trip() {
    for fixture in [MESSAGE, QUEUE, KEYS] {
        let v: serde_json::Value = serde_json::from_str(fixture).unwrap();
        let _ = v;
    }
    let page: DlqPage = serde_json::from_str(DLQ_PAGE).unwrap();
    let again: DlqPage = serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
    assert_eq!(page, again);
    let s: Vec<Schedule> = serde_json::from_str(SCHEDULES).unwrap();
    let again: Vec<Schedule> = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(s, again);
    let b: Vec<PublishResponse> = serde_json::from_str(BATCH).unwrap();
    let again: Vec<PublishResponse> =
        serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    assert_eq!(b, again);
}

#[test]
fn client_from_env_names_the_variable() {
    // QSTASH_TOKEN is not set in the test environment (nothing here sets it).
    if std::env::var("QSTASH_TOKEN").is_err() {
        let err = Client::from_env().unwrap_err().to_string();
        assert!(err.contains("QSTASH_TOKEN"), "{err}");
    }
}

#[test]
fn caller_ip_in_both_spellings_decodes() {
    let both = r#"{"messageId":"m","url":"http://a","callerIP":"1.2.3.4","callerIp":"1.2.3.4"}"#;
    let m: Message = serde_json::from_str(both).unwrap();
    assert_eq!(m.caller_ip.as_deref(), Some("1.2.3.4"));
    assert_eq!(m.caller_ip(), Some("1.2.3.4"));
    let lower: Message = serde_json::from_str(r#"{"messageId":"m","callerIp":"5.6.7.8"}"#).unwrap();
    assert_eq!(m.caller_ip(), Some("1.2.3.4"));
    assert_eq!(lower.caller_ip(), Some("5.6.7.8"));
    let d: DlqMessage = serde_json::from_str(
        r#"{"dlqId":"1-0","messageId":"m","callerIP":"1.2.3.4","callerIp":"1.2.3.4"}"#,
    )
    .unwrap();
    assert_eq!(d.message.caller_ip(), Some("1.2.3.4"));
    let s: Schedule = serde_json::from_str(
        r#"{"scheduleId":"s","cron":"* * * * *","destination":"http://a","callerIP":"9.9.9.9","callerIp":"9.9.9.9"}"#,
    )
    .unwrap();
    assert_eq!(s.caller_ip(), Some("9.9.9.9"));
}

#[tokio::test]
async fn dlq_retry_with_sends_only_the_overrides() {
    let (c, hook) = client();
    reply(&hook, 201, r#"{"messageId":"msg_new"}"#);
    let id = c
        .dlq()
        .retry_with(
            "d1",
            &RetryOverrides::new()
                .retries(5)
                .delay(Duration::from_secs(90))
                .header("X-Trace", "t"),
        )
        .await
        .unwrap();
    assert_eq!(id.message_id, "msg_new");
    let req = last(&hook);
    assert_eq!(req.path, "/v2/dlq/retry/d1");
    assert_eq!(h(&req, "upstash-retries").as_deref(), Some("5"));
    assert_eq!(h(&req, "upstash-delay").as_deref(), Some("90s"));
    assert_eq!(h(&req, "upstash-forward-x-trace").as_deref(), Some("t"));
    assert_eq!(h(&req, "upstash-method"), None, "method kept unless set");
    reply(&hook, 201, r#"{"messageId":"msg_new2"}"#);
    c.dlq()
        .retry_with("d1", &RetryOverrides::new().method(Method::PUT))
        .await
        .unwrap();
    assert_eq!(h(&last(&hook), "upstash-method").as_deref(), Some("PUT"));
    assert!(c
        .dlq()
        .retry_with("", &RetryOverrides::new())
        .await
        .is_err());
}
