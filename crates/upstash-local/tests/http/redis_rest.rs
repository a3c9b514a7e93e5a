//! End-to-end tests of the Redis REST service over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use upstash_local::testing::{dedicated, prefix, shared};
use upstash_local::{Config, LocalStack, UserConfig};

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

struct Api<'a> {
    stack: &'a LocalStack,
    http: Client,
    token: String,
}

impl<'a> Api<'a> {
    fn new(stack: &'a LocalStack) -> Self {
        Api {
            stack,
            http: client(),
            token: stack.redis_token(),
        }
    }

    fn with_token(stack: &'a LocalStack, token: String) -> Self {
        Api {
            stack,
            http: client(),
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.stack.redis_rest_url(), path)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(r.headers().contains_key("upstash-sync-token"));
        (status, r.json().await.unwrap())
    }

    async fn cmd(&self, body: Value) -> (StatusCode, Value) {
        self.post("/", body).await
    }

    async fn ok(&self, body: Value) -> Value {
        let (s, v) = self.cmd(body.clone()).await;
        assert_eq!(s, StatusCode::OK, "{body} -> {v}");
        v["result"].clone()
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }
}

#[tokio::test]
async fn json_commands_and_args() {
    let api = Api::new(shared());
    let p = prefix("json");
    let k = format!("{p}k");
    assert_eq!(api.ok(json!(["SET", k, "bar"])).await, json!("OK"));
    assert_eq!(api.ok(json!(["get", k])).await, json!("bar"));
    // numbers keep their literal text, booleans become true/false
    assert_eq!(api.ok(json!(["SET", k, 1.50])).await, json!("OK"));
    let r = api
        .http
        .post(api.url("/"))
        .bearer_auth(&api.token)
        .body(format!(r#"["SET","{k}",1e-7]"#))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(api.ok(json!(["GET", k])).await, json!("1e-7"));
    assert_eq!(api.ok(json!(["SET", k, true])).await, json!("OK"));
    assert_eq!(api.ok(json!(["GET", k])).await, json!("true"));
    assert_eq!(
        api.ok(json!(["INCRBY", format!("{p}n"), 5])).await,
        json!(5)
    );
    assert_eq!(
        api.ok(json!(["GET", format!("{p}missing")])).await,
        Value::Null
    );
    let (s, v) = api.cmd(json!(["GET", format!("{p}missing")])).await;
    assert_eq!(s, 200);
    assert!(v.as_object().unwrap().contains_key("result"));
    assert_eq!(
        api.ok(json!(["RPUSH", format!("{p}l"), "a", "b"])).await,
        json!(2)
    );
    assert_eq!(
        api.ok(json!(["LRANGE", format!("{p}l"), 0, -1])).await,
        json!(["a", "b"])
    );
    // errors
    let (s, v) = api.cmd(json!(["GET"])).await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("ERR wrong number"));
    let (s, v) = api.cmd(json!(["SET", k, null])).await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = api.cmd(json!(["SET", k, {"a": 1}])).await;
    assert_eq!(s, 400);
    let (s, _) = api.cmd(json!({"a": 1})).await;
    assert_eq!(s, 400);
    // lenient content type / none
    let r = api
        .http
        .post(api.url("/"))
        .bearer_auth(&api.token)
        .header("content-type", "text/plain; charset=utf-8")
        .body(r#"["PING"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"result": "PONG"}));
}

#[tokio::test]
async fn path_style_commands() {
    let api = Api::new(shared());
    let p = prefix("path");
    let k = format!("{p}a b/c");
    let enc = k.replace(' ', "%20").replace('/', "%2F");
    let (s, v) = api.get(&format!("/set/{enc}/hello%20world")).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": "OK"})));
    assert_eq!(api.ok(json!(["GET", k])).await, json!("hello world"));
    // raw body appended as the last arg, binary-safe, then query pairs
    let bin: Vec<u8> = vec![0, 159, 146, 150, b'\n', 255];
    let r = api
        .http
        .post(api.url(&format!("/set/{enc}?EX=100&NX")))
        .bearer_auth(&api.token)
        .body(bin.clone())
        .send()
        .await
        .unwrap();
    // NX fails because the key exists -> null
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"result": null}));
    let r = api
        .http
        .post(api.url(&format!("/set/{enc}?EX=100&XX=")))
        .bearer_auth(&api.token)
        .body(bin.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"result": "OK"}));
    let ttl = api.ok(json!(["TTL", k])).await.as_i64().unwrap();
    assert!(ttl > 90 && ttl <= 100);
    // read it back binary-safe via resp2
    let r = api
        .http
        .get(api.url(&format!("/get/{enc}")))
        .bearer_auth(&api.token)
        .header("Upstash-Response-Format", "resp2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let mut expect = b"$6\r\n".to_vec();
    expect.extend_from_slice(&bin);
    expect.extend_from_slice(b"\r\n");
    assert_eq!(r.bytes().await.unwrap().to_vec(), expect);
    // _token query param instead of the header
    let r = api
        .http
        .get(api.url(&format!("/get/{enc}?_token={}", api.stack.redis_token())))
        .header("Upstash-Encoding", "base64")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"result": "AJ+Slgr/"})
    );
    // HEAD and PUT work, DELETE is 405
    let r = api
        .http
        .head(api.url("/ping"))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api
        .http
        .put(api.url(&format!("/set/{p}put/v")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api
        .http
        .delete(api.url("/ping"))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = api
        .http
        .patch(api.url("/"))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn base64_encoding_exempts_simple_ok() {
    let api = Api::new(shared());
    let p = prefix("b64");
    let send = |body: Value| {
        api.http
            .post(api.url("/"))
            .bearer_auth(&api.token)
            .header("Upstash-Encoding", "base64")
            .json(&body)
            .send()
    };
    let k = format!("{p}k");
    let v: Value = send(json!(["SET", k, "OK"]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"result": "OK"}));
    // a bulk "OK" from GET is encoded
    let v: Value = send(json!(["GET", k])).await.unwrap().json().await.unwrap();
    assert_eq!(v, json!({"result": "T0s="}));
    let v: Value = send(json!(["INCR", format!("{p}n")]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"result": 1}));
    let v: Value = send(json!(["MGET", k, format!("{p}none")]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"result": ["T0s=", null]}));
    // PING's PONG is a simple string other than OK: encoded
    let v: Value = send(json!(["PING"])).await.unwrap().json().await.unwrap();
    assert_eq!(v, json!({"result": "UE9ORw=="}));
    // errors stay plain
    let r = send(json!(["INCR", k])).await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().starts_with("ERR"));
    // invalid UTF-8 without base64 -> U+FFFD
    api.http
        .post(api.url(&format!("/set/{p}bin")))
        .bearer_auth(&api.token)
        .body(vec![b'a', 0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.ok(json!(["GET", format!("{p}bin")])).await,
        json!("a\u{fffd}")
    );
}

#[tokio::test]
async fn resp2_format() {
    let api = Api::new(shared());
    let p = prefix("resp2");
    let send = |path: &str, body: Value, extra: Option<(&'static str, &'static str)>| {
        let mut b = api
            .http
            .post(api.url(path))
            .bearer_auth(&api.token)
            .header("Upstash-Response-Format", "resp2")
            .json(&body);
        if let Some((k, v)) = extra {
            b = b.header(k, v);
        }
        b.send()
    };
    let r = send("/", json!(["SET", format!("{p}k"), "v"]), None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], b"+OK\r\n");
    let r = send("/", json!(["INCR", format!("{p}k")]), None)
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.bytes().await.unwrap().starts_with(b"-ERR"));
    let r = send(
        "/pipeline",
        json!([
            ["GET", format!("{p}k")],
            ["EXISTS", format!("{p}k")],
            ["GET", format!("{p}none")]
        ]),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], b"$1\r\nv\r\n:1\r\n$-1\r\n");
    let r = send("/multi-exec", json!([["PING"]]), None).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = send("/", json!(["PING"]), Some(("Upstash-Encoding", "base64")))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api
        .http
        .post(api.url("/"))
        .bearer_auth(&api.token)
        .header("Upstash-Response-Format", "xml")
        .json(&json!(["PING"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api
        .http
        .post(api.url("/"))
        .bearer_auth(&api.token)
        .header("Upstash-Response-Format", "json")
        .json(&json!(["PING"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn pipeline_items() {
    let api = Api::new(shared());
    let p = prefix("pipe");
    let k = format!("{p}k");
    let (s, v) = api
        .post(
            "/pipeline",
            json!([
                ["SET", k, "a"],
                ["INCR", k],
                ["GET", k],
                ["BLPOP", k, 0],
                ["UNLINK"],
                ["GET", format!("{p}x")]
            ]),
        )
        .await;
    assert_eq!(s, 200);
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items[0], json!({"result": "OK"}));
    assert!(items[1]["error"].as_str().unwrap().starts_with("ERR"));
    assert!(!items[1].as_object().unwrap().contains_key("result"));
    assert_eq!(items[2], json!({"result": "a"}));
    assert!(items[3]["error"]
        .as_str()
        .unwrap()
        .contains("not supported"));
    assert_eq!(items[4], json!({"result": 0}));
    assert_eq!(items[5], json!({"result": null}));
    let (s, _) = api.post("/pipeline", json!([])).await;
    assert_eq!(s, 400);
    let (s, _) = api.post("/pipeline", json!(["GET", "x"])).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn multi_exec_errors() {
    let api = Api::new(shared());
    let p = prefix("multi");
    let k = format!("{p}k");
    let (s, v) = api
        .post(
            "/multi-exec",
            json!([["SET", k, "a"], ["INCR", k], ["APPEND", k, "b"]]),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let items = v.as_array().unwrap();
    assert_eq!(items[0], json!({"result": "OK"}));
    assert!(items[1]["error"].as_str().unwrap().starts_with("ERR"));
    assert_eq!(items[2], json!({"result": 2}));
    // queue-time error discards everything
    let (s, v) = api
        .post("/multi-exec", json!([["SET", k, "zzz"], ["NOSUCHCOMMAND"]]))
        .await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("EXECABORT"), "{v}");
    assert_eq!(api.ok(json!(["GET", k])).await, json!("ab"));
    // rejected commands discard the transaction too
    let (s, v) = api
        .post("/multi-exec", json!([["SET", k, "zzz"], ["MULTI"]]))
        .await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("EXECABORT"));
    let (s, _) = api.post("/multi-exec", json!([])).await;
    assert_eq!(s, 400);
    // the pooled connection is clean afterwards
    assert_eq!(api.ok(json!(["GET", k])).await, json!("ab"));
}

#[tokio::test]
async fn concurrent_multi_exec_never_interleave() {
    let stack = shared();
    let p = prefix("conc");
    let list = format!("{p}list");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let list = list.clone();
        let url = format!("{}/multi-exec", stack.redis_rest_url());
        let token = stack.redis_token();
        tasks.push(tokio::spawn(async move {
            let http = client();
            let mut cmds = Vec::new();
            for j in 0..10 {
                cmds.push(json!(["RPUSH", list, format!("{i}:{j}")]));
            }
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&Value::Array(cmds))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            // RPUSH returns consecutive lengths inside one transaction
            let lens: Vec<i64> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["result"].as_i64().unwrap())
                .collect();
            for w in lens.windows(2) {
                assert_eq!(w[1], w[0] + 1);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let api = Api::new(stack);
    let all = api.ok(json!(["LRANGE", list, 0, -1])).await;
    let all: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 200);
    for chunk in all.chunks(10) {
        let owner = chunk[0].split(':').next().unwrap();
        for (j, item) in chunk.iter().enumerate() {
            assert_eq!(item, &format!("{owner}:{j}"));
        }
    }
}

#[tokio::test]
async fn auth_and_tokens() {
    let stack = shared();
    let api = Api::with_token(stack, "wrong".into());
    let (s, v) = api.cmd(json!(["PING"])).await;
    assert_eq!(s, 401);
    assert_eq!(
        v,
        json!({"error": "WRONGPASS invalid or missing auth token"})
    );
    let r = client()
        .post(stack.redis_rest_url())
        .json(&json!(["PING"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .post(format!("{}/?_token=nope", stack.redis_rest_url()))
        .json(&json!(["PING"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // sync token: accepted in any form, returned every time
    let r = client()
        .post(stack.redis_rest_url())
        .bearer_auth(stack.redis_token())
        .header("upstash-sync-token", "")
        .json(&json!(["PING"]))
        .send()
        .await
        .unwrap();
    let a: u64 = r.headers()["upstash-sync-token"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = client()
        .post(stack.redis_rest_url())
        .bearer_auth(stack.redis_token())
        .header("upstash-sync-token", "my-new-sync-token")
        .json(&json!(["PING"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: u64 = r.headers()["upstash-sync-token"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(b > a);
}

#[tokio::test]
async fn readonly_token_gets_noperm() {
    let stack = shared();
    let p = prefix("ro");
    let rw = Api::new(stack);
    rw.ok(json!(["SET", format!("{p}k"), "v"])).await;
    let ro = Api::with_token(stack, stack.redis_readonly_token());
    assert_eq!(ro.ok(json!(["GET", format!("{p}k")])).await, json!("v"));
    let (s, v) = ro.cmd(json!(["SET", format!("{p}k"), "w"])).await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("NOPERM"), "{v}");
    let (s, v) = ro.cmd(json!(["KEYS", "*"])).await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("NOPERM"), "{v}");
    let (s, v) = ro.cmd(json!(["SCAN", 0])).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(ro.ok(json!(["PING"])).await, json!("PONG"));
    let (s, v) = ro
        .post(
            "/multi-exec",
            json!([["GET", format!("{p}k")], ["SET", format!("{p}k"), "x"]]),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(rw.ok(json!(["GET", format!("{p}k")])).await, json!("v"));
}

#[tokio::test]
async fn rejected_commands() {
    let api = Api::new(shared());
    for cmd in [
        json!(["SELECT", 1]),
        json!(["AUTH", "x"]),
        json!(["HELLO", 3]),
        json!(["MULTI"]),
        json!(["EXEC"]),
        json!(["WATCH", "k"]),
        json!(["SUBSCRIBE", "c"]),
        json!(["MONITOR"]),
        json!(["BLPOP", "k", 0]),
        json!(["BZPOPMIN", "k", 0]),
        json!(["XREAD", "BLOCK", 0, "STREAMS", "s", "$"]),
        json!(["CLIENT", "KILL", "ID", 1]),
        json!(["SHUTDOWN"]),
        json!(["WAIT", 0, 0]),
        json!(["CONFIG", "SET", "dir", "/tmp"]),
    ] {
        let (s, v) = api.cmd(cmd.clone()).await;
        assert_eq!(s, 400, "{cmd}");
        assert!(
            v["error"].as_str().unwrap().starts_with("ERR"),
            "{cmd} -> {v}"
        );
    }
    assert_eq!(
        api.ok(json!(["CLIENT", "SETINFO", "LIB-NAME", "x"])).await,
        json!("OK")
    );
    assert_eq!(api.ok(json!(["UNLINK"])).await, json!(0));
    assert_eq!(api.ok(json!(["DEL"])).await, json!(0));
    // the connection is still usable
    assert_eq!(api.ok(json!(["PING"])).await, json!("PONG"));
}

#[tokio::test]
async fn size_and_pipeline_limits() {
    let mut cfg = Config::default();
    cfg.redis.max_request_bytes = 1000;
    cfg.redis.max_pipeline_commands = 3;
    let stack = dedicated(cfg);
    let api = Api::new(&stack);
    let (s, v) = api.cmd(json!(["SET", "k", "x".repeat(2000)])).await;
    assert_eq!(s, 400);
    assert_eq!(v, json!({"error": "ERR max request size exceeded"}));
    // chunked body without content-length
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 200])).collect();
    let r = api
        .http
        .post(api.url("/set/k"))
        .bearer_auth(&api.token)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (s, v) = api
        .post("/pipeline", json!([["PING"], ["PING"], ["PING"], ["PING"]]))
        .await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().contains("pipeline"));
    let (s, _) = api
        .post("/pipeline", json!([["PING"], ["PING"], ["PING"]]))
        .await;
    assert_eq!(s, 200);
    stack.shutdown().await;
}

#[tokio::test]
async fn acl_users_restricted_to_keys() {
    let mut cfg = Config::default();
    cfg.redis.users.push(toml_user(
        r#"name = "cache-reader"
token = "cache-reader-token"
commands = ["+@read", "-@dangerous"]
keys = ["cache:*"]
channels = ["news.*"]"#,
    ));
    cfg.redis.users.push(toml_user(
        r#"name = "writer"
token = "writer-token"
commands = ["+@all"]
keys = ["w:*"]"#,
    ));
    let stack = dedicated(cfg);
    let admin = Api::new(&stack);
    admin.ok(json!(["SET", "cache:a", "1"])).await;
    admin.ok(json!(["SET", "other", "2"])).await;
    let reader = Api::with_token(&stack, stack.redis_user_token("cache-reader").unwrap());
    assert_eq!(reader.ok(json!(["GET", "cache:a"])).await, json!("1"));
    let (s, v) = reader.cmd(json!(["GET", "other"])).await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("NOPERM"), "{v}");
    let (s, v) = reader.cmd(json!(["SET", "cache:a", "x"])).await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("NOPERM"), "{v}");
    let writer = Api::with_token(&stack, stack.redis_user_token("writer").unwrap());
    assert_eq!(writer.ok(json!(["SET", "w:1", "x"])).await, json!("OK"));
    let (s, _) = writer.cmd(json!(["SET", "cache:a", "x"])).await;
    assert_eq!(s, 400);
    assert!(stack.redis_user_token("nobody").is_none());
    // direct TCP URL has full rights
    assert!(stack.redis_tcp_url().starts_with("redis://default:"));
    assert!(stack
        .env_block()
        .contains("export UPSTASH_REDIS_REST_URL=http://127.0.0.1:"));
    stack.shutdown().await;
}

fn toml_user(s: &str) -> UserConfig {
    let cfg = Config::from_toml_str(&format!("[[redis.users]]\n{s}")).unwrap();
    cfg.redis.users.into_iter().next().unwrap()
}

#[tokio::test]
async fn allow_key_locking_scripts() {
    let api = Api::new(shared());
    let p = prefix("lua");
    let nonce = fastrand_like(&p);
    let script = format!(
        "#!lua flags=allow-key-locking\nredis.call('SET', KEYS[1], ARGV[1]) return '{nonce}'"
    );
    let sha = sha1_hex(script.as_bytes());
    let k = format!("{p}k");
    let (s, v) = api.cmd(json!(["EVAL", script, 1, k, "v1"])).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["result"], json!(nonce));
    let (s, v) = api.cmd(json!(["EVALSHA", sha, 1, k, "v2"])).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(api.ok(json!(["GET", k])).await, json!("v2"));
    assert_eq!(
        api.ok(json!([
            "SCRIPT",
            "EXISTS",
            sha,
            "0000000000000000000000000000000000000000"
        ]))
        .await,
        json!([1, 0])
    );
    // SCRIPT LOAD returns the original sha; works in pipelines too
    let script2 = format!("#!lua flags=allow-key-locking,no-writes\nreturn '{nonce}2'");
    let sha2 = sha1_hex(script2.as_bytes());
    let (s, v) = api
        .post(
            "/pipeline",
            json!([["SCRIPT", "LOAD", script2], ["EVALSHA", sha2, 0]]),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!([{"result": sha2}, {"result": format!("{nonce}2")}])
    );
    let (_, v) = api
        .post(
            "/multi-exec",
            json!([["EVALSHA", sha2, 0], ["SCRIPT", "LOAD", script2]]),
        )
        .await;
    assert_eq!(
        v,
        json!([{"result": format!("{nonce}2")}, {"result": sha2}])
    );
}

#[tokio::test]
async fn script_flush_gives_noscript() {
    let stack = dedicated(Config::default());
    let api = Api::new(&stack);
    let script = "#!lua flags=allow-key-locking\nreturn 7";
    let sha = sha1_hex(script.as_bytes());
    assert_eq!(api.ok(json!(["SCRIPT", "LOAD", script])).await, json!(sha));
    assert_eq!(api.ok(json!(["EVALSHA", sha, 0])).await, json!(7));
    assert_eq!(api.ok(json!(["SCRIPT", "FLUSH"])).await, json!("OK"));
    let (s, v) = api.cmd(json!(["EVALSHA", sha, 0])).await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("NOSCRIPT"), "{v}");
    stack.shutdown().await;
}

#[tokio::test]
async fn sse_subscribe_receives_publish() {
    let stack = shared();
    let p = prefix("sse");
    let ch = format!("{p}chan");
    let api = Api::new(stack);
    let r = api
        .http
        .post(api.url(&format!("/subscribe/{ch}")))
        .bearer_auth(&api.token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut body = r.bytes_stream();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(text, format!("data: subscribe,{ch},1\n\n"));
    assert_eq!(
        api.ok(json!(["PUBLISH", ch, "hello, world"])).await,
        json!(1)
    );
    assert_eq!(api.ok(json!(["PUBLISH", ch, "two\nlines"])).await, json!(1));
    text.clear();
    let want =
        format!("data: message,{ch},hello, world\n\ndata: message,{ch},two\ndata: lines\n\n");
    while text.len() < want.len() {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(text, want);
    // client goes away -> the redis connection is closed
    drop(body);
    let mut gone = false;
    for _ in 0..100 {
        let n = api.ok(json!(["PUBSUB", "NUMSUB", ch])).await;
        if n[1] == json!(0) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "subscription still alive after client disconnect");
}

#[tokio::test]
async fn sse_psubscribe() {
    let stack = shared();
    let p = prefix("psse");
    let api = Api::new(stack);
    let r = api
        .http
        .get(api.url(&format!("/psubscribe/{p}*")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let mut text = String::new();
    let want = format!("data: psubscribe,{p}*,1\n\n");
    while text.len() < want.len() {
        let c = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&c));
    }
    assert_eq!(text, want);
    api.ok(json!(["PUBLISH", format!("{p}x"), "m"])).await;
    text.clear();
    let want = format!("data: pmessage,{p}*,{p}x,m\n\n");
    while text.len() < want.len() {
        let c = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&c));
    }
    assert_eq!(text, want);
}

#[tokio::test]
async fn stats_count_requests() {
    let stack = dedicated(Config::default());
    let api = Api::new(&stack);
    let stats = stack.redis_stats();
    stats.reset();
    api.ok(json!(["PING"])).await;
    api.get("/ping").await;
    api.post("/pipeline", json!([["PING"], ["PING"], ["PING"]]))
        .await;
    api.post("/multi-exec", json!([["PING"], ["PING"]])).await;
    let snap = stats.snapshot();
    assert_eq!(snap.http_requests, 4);
    assert_eq!(snap.single, 2);
    assert_eq!(snap.pipeline, 1);
    assert_eq!(snap.multi_exec, 1);
    assert_eq!(snap.commands, 7);
    let (s, v) = api.get("/_local/stats").await;
    assert_eq!(s, 200);
    assert_eq!(v["http_requests"], json!(4));
    assert_eq!(v["commands"], json!(7));
    let (s, _) = api.post("/_local/stats/reset", json!([])).await;
    assert_eq!(s, 200);
    assert_eq!(stats.snapshot().http_requests, 0);
    let r = client()
        .get(format!("{}/_local/stats", stack.redis_rest_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    stack.shutdown().await;
}

fn spawn_redis(port: u16) -> std::process::Child {
    std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn backend_down_gives_500_then_recovers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = spawn_redis(port);
    let mut cfg = Config::default();
    cfg.redis.redis_url = Some(format!("redis://127.0.0.1:{port}"));
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let stack = tokio::task::spawn_blocking(move || dedicated(cfg))
        .await
        .unwrap();
    assert_eq!(stack.redis_tcp_url(), format!("redis://127.0.0.1:{port}"));
    let api = Api::new(&stack);
    api.ok(json!(["SET", "k", "v"])).await;
    redis.kill().unwrap();
    redis.wait().unwrap();
    let (s, v) = api.cmd(json!(["GET", "k"])).await;
    assert_eq!(s, 500, "{v}");
    assert!(v["error"].is_string());
    let (s, _) = api.post("/pipeline", json!([["GET", "k"]])).await;
    assert_eq!(s, 500);
    let mut redis = spawn_redis(port);
    let mut ok = false;
    for _ in 0..100 {
        let (s, _) = api.cmd(json!(["PING"])).await;
        if s == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "did not reconnect");
    stack.shutdown().await;
    redis.kill().unwrap();
    let _ = redis.wait();
}

fn fastrand_like(p: &str) -> String {
    sha1_hex(p.as_bytes())[..12].to_string()
}

fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(data))
}

#[tokio::test]
async fn scan_withtype_emulation() {
    let api = Api::new(shared());
    let p = prefix("scantype");
    api.ok(json!(["SET", format!("{p}s"), "v"])).await;
    api.ok(json!(["RPUSH", format!("{p}l"), "v"])).await;
    let mut cursor = "0".to_string();
    let mut pairs = Vec::new();
    loop {
        let v = api
            .ok(json!([
                "SCAN",
                cursor,
                "MATCH",
                format!("{p}*"),
                "COUNT",
                1000,
                "WITHTYPE"
            ]))
            .await;
        cursor = v[0].as_str().unwrap().to_string();
        let items = v[1].as_array().unwrap();
        assert_eq!(items.len() % 2, 0);
        for kv in items.chunks(2) {
            pairs.push((
                kv[0].as_str().unwrap().to_string(),
                kv[1].as_str().unwrap().to_string(),
            ));
        }
        if cursor == "0" {
            break;
        }
    }
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            (format!("{p}l"), "list".to_string()),
            (format!("{p}s"), "string".to_string())
        ]
    );
    let (_, v) = api
        .post(
            "/pipeline",
            json!([
                [
                    "SCAN",
                    0,
                    "MATCH",
                    format!("{p}s"),
                    "COUNT",
                    1000,
                    "WITHTYPE"
                ],
                ["PING"]
            ]),
        )
        .await;
    let found = v[0]["result"][1].as_array().unwrap().clone();
    assert!(found.is_empty() || found == vec![json!(format!("{p}s")), json!("string")]);
    assert_eq!(v[1], json!({"result": "PONG"}));
}

#[tokio::test]
async fn function_load_with_allow_key_locking() {
    let api = Api::new(shared());
    let p = prefix("fn");
    let lib = format!("lib_{}", &sha1_hex(p.as_bytes())[..10]);
    let code = format!(
        "#!lua name={lib}\nredis.register_function{{function_name='{lib}_get', callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={{'no-writes', 'allow-key-locking'}}}}"
    );
    let (s, v) = api.cmd(json!(["FUNCTION", "LOAD", code])).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["result"], json!(lib));
    api.ok(json!(["SET", format!("{p}k"), "v"])).await;
    assert_eq!(
        api.ok(json!([
            "FCALL_RO",
            format!("{lib}_get"),
            1,
            format!("{p}k")
        ]))
        .await,
        json!("v")
    );
    api.ok(json!(["FUNCTION", "DELETE", lib])).await;
}
