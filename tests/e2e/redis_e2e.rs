//! End-to-end tests of the Redis client against upstash-local (a real Upstash REST server in
//! front of a real redis-server): pipelines, transactions, binary values, read-your-writes,
//! scripts, tokens and ACLs, and auto-pipelining measured from the server's side.
//!
//! Every test works under its own key prefix so the tests run in parallel on the shared
//! stack; tests that count server requests or flush the script cache use a dedicated stack.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::Poll;

use futures_util::future::MaybeDone;
use upstash_local::testing;
use upstash_local::LocalStack;
use upstash_redis::{Error, ErrorKind, Redis, Script, Value};

// ---------------------------------------------------------------------------------------------
// Harness helpers (the only place that knows the upstash-local API).

fn shared() -> &'static LocalStack {
    testing::shared()
}

fn client(stack: &LocalStack) -> Redis {
    Redis::new(stack.redis_rest_url(), stack.redis_token()).expect("client")
}

fn builder(stack: &LocalStack) -> upstash_redis::RedisBuilder {
    Redis::builder(stack.redis_rest_url(), stack.redis_token())
}

/// Total HTTP requests the stack's Redis endpoint has served so far.
fn server_requests(stack: &LocalStack) -> u64 {
    stack.redis_stats().snapshot().http_requests
}

/// Polls every future once in the order given (so commands are issued in that order), then
/// drives them all to completion; results in the same order.
async fn issue_in_order<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut slots: Vec<Pin<Box<MaybeDone<F>>>> = futures
        .into_iter()
        .map(|f| Box::pin(futures_util::future::maybe_done(f)))
        .collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for slot in &mut slots {
            if slot.as_mut().poll(cx).is_pending() {
                all_done = false;
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    slots
        .iter_mut()
        .map(|slot| slot.as_mut().take_output().expect("completed"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Pipelines and transactions

/// A client built on the caller's own `reqwest::Client` sends through it (not the transport's
/// own HTTP/1.1 client): single commands, binary values (path style), pipelines and
/// transactions all work there too.
#[tokio::test]
async fn a_callers_reqwest_client_carries_every_kind_of_request() {
    let stack = shared();
    let http = upstash_core::http::HttpClient::builder()
        .build()
        .expect("reqwest client");
    let redis = builder(stack).http_client(http).build().expect("client");
    let p = testing::prefix("reqwest");
    let (key, bin, n) = (format!("{p}key"), format!("{p}bin"), format!("{p}n"));
    redis.set(&key, "v1").await.expect("set");
    let got: Option<String> = redis.get(&key).await.expect("get");
    assert_eq!(got.as_deref(), Some("v1"));
    let binary = vec![0u8, 159, 146, 150, 255];
    redis
        .set(&bin, binary.as_slice())
        .await
        .expect("binary set");
    let back: Option<Vec<u8>> = redis.get(&bin).await.expect("binary get");
    assert_eq!(back, Some(binary));
    let mut pipe = redis.pipeline();
    pipe.incr(&n);
    pipe.incr(&n);
    let (a, b): (i64, i64) = pipe.exec().await.expect("pipeline");
    assert_eq!((a, b), (1, 2));
    let mut tx = redis.multi();
    tx.incr(&n);
    let (c,): (i64,) = tx.exec().await.expect("transaction");
    assert_eq!(c, 3);
}

#[tokio::test]
async fn pipeline_decodes_typed_results_and_reports_item_errors() {
    let stack = shared();
    let redis = client(stack);
    let p = testing::prefix("pipe");
    let (n, s, l) = (format!("{p}n"), format!("{p}s"), format!("{p}l"));

    let mut pipe = redis.pipeline();
    pipe.set(&n, 41)
        .incr(&n)
        .get(&n)
        .set(&s, "text")
        .cmd("RPUSH", (&l, "x", "y"))
        .cmd("LRANGE", (&l, 0, -1))
        .mget(vec![n.clone(), format!("{p}missing")]);
    let (ok, incremented, as_text, _, len, items, many): (
        (),
        i64,
        String,
        (),
        i64,
        Vec<String>,
        Vec<Option<i64>>,
    ) = pipe.exec().await.expect("pipeline");
    let () = ok;
    assert_eq!(incremented, 42);
    assert_eq!(as_text, "42");
    assert_eq!(len, 2);
    assert_eq!(items, vec!["x", "y"]);
    assert_eq!(many, vec![Some(42), None]);

    // One failing command: the others still run, and each result is reported.
    let mut pipe = redis.pipeline();
    pipe.set(&s, "not a number")
        .incr(&s)
        .cmd("LPUSH", (&s, "x"))
        .get(&s);
    let results = pipe.exec_keep_errors().await.expect("pipeline");
    assert_eq!(results.len(), 4);
    assert!(matches!(&results[0], Ok(Value::Status(ok)) if ok == "OK"));
    let incr_err = results[1].as_ref().expect_err("INCR on text");
    assert_eq!(incr_err.kind(), Some(&ErrorKind::Err));
    let push_err = results[2].as_ref().expect_err("LPUSH on a string");
    assert_eq!(push_err.kind(), Some(&ErrorKind::WrongType));
    assert!(matches!(&results[3], Ok(Value::Bytes(b)) if b.as_ref() == b"not a number"));

    // exec() names the first failing command.
    let err = pipe
        .exec::<((), i64, i64, String)>()
        .await
        .expect_err("fails");
    match err {
        Error::Pipeline { index, source } => {
            assert_eq!(index, 1);
            assert!(matches!(
                *source,
                Error::Redis {
                    kind: ErrorKind::Err,
                    ..
                }
            ));
        }
        other => panic!("expected Error::Pipeline, got {other:?}"),
    }

    // Typed decode failure is a decode error, not a server error.
    let mut pipe = redis.pipeline();
    pipe.get(&s);
    let err = pipe.exec::<(i64,)>().await.expect_err("not an integer");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");

    // Empty pipelines are refused client side.
    assert!(matches!(
        redis.pipeline().exec::<Value>().await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn multi_exec_applies_all_and_reports_runtime_errors() {
    let stack = shared();
    let redis = client(stack);
    let p = testing::prefix("multi");
    let (a, b) = (format!("{p}a"), format!("{p}b"));

    let mut tx = redis.multi();
    assert!(tx.is_transaction());
    tx.set(&a, 1).incr(&a).incr(&a).set(&b, "x");
    let (_, one, two, _): ((), i64, i64, ()) = tx.exec().await.expect("tx");
    assert_eq!((one, two), (2, 3));

    // A runtime error fails only its own command (Redis semantics, no rollback).
    let mut tx = redis.multi();
    tx.incr(&a).incr(&b).incr(&a);
    let results = tx.exec_keep_errors().await.expect("tx");
    assert!(matches!(results[0], Ok(Value::Int(4))));
    assert!(results[1].is_err());
    assert!(matches!(results[2], Ok(Value::Int(5))));
}

#[tokio::test]
async fn concurrent_transactions_never_interleave() {
    let stack = shared();
    let redis = client(stack);
    let list = format!("{}list", testing::prefix("tx-concurrent"));

    let transactions = (0..20).map(|_| {
        let redis = redis.clone();
        let list = list.clone();
        async move {
            let mut tx = redis.multi();
            tx.cmd("RPUSH", (&list, "a")).cmd("RPUSH", (&list, "b"));
            tx.exec::<(i64, i64)>().await
        }
    });
    let handles: Vec<_> = transactions.map(tokio::spawn).collect();
    for h in handles {
        let (first, second) = h.await.expect("task").expect("tx");
        // Inside one transaction the two pushes are adjacent.
        assert_eq!(second, first + 1);
        assert_eq!(first % 2, 1, "a transaction started at an odd position");
    }
    let items: Vec<String> = redis
        .cmd("LRANGE")
        .arg((&list, 0, -1))
        .query()
        .await
        .expect("lrange");
    assert_eq!(items.len(), 40);
    for pair in items.chunks(2) {
        assert_eq!(pair, ["a", "b"]);
    }
}

#[tokio::test]
async fn queue_time_error_aborts_the_whole_transaction() {
    let stack = shared();
    let redis = client(stack);
    let p = testing::prefix("execabort");
    let key = format!("{p}k");

    let mut tx = redis.multi();
    tx.set(&key, "v")
        .push(upstash_redis::Command::new("INCR")) // wrong arity: rejected while queueing
        .incr(&key);
    let err = tx.exec::<Value>().await.expect_err("aborted");
    assert_eq!(err.kind(), Some(&ErrorKind::ExecAbort), "{err:?}");
    let err = tx.exec_keep_errors().await.expect_err("aborted");
    assert_eq!(err.kind(), Some(&ErrorKind::ExecAbort), "{err:?}");
    // Nothing ran.
    let value: Option<String> = redis.get(&key).await.expect("get");
    assert_eq!(value, None);
}

// ---------------------------------------------------------------------------------------------
// Binary safety and awkward keys

fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

#[tokio::test]
async fn every_byte_value_round_trips_with_and_without_auto_pipelining() {
    let stack = shared();
    let p = testing::prefix("binary");
    let value = all_bytes();
    // Reversed too, so that the value starts with invalid UTF-8 as well as ending with it.
    let reversed: Vec<u8> = value.iter().rev().copied().collect();
    for auto in [true, false] {
        let redis = builder(stack)
            .auto_pipelining(auto)
            .build()
            .expect("client");
        for (i, v) in [&value, &reversed].into_iter().enumerate() {
            let key = format!("{p}{auto}:{i}");
            redis.set(&key, v.clone()).await.expect("set binary");
            let back: Option<Vec<u8>> = redis.get(&key).await.expect("get binary");
            assert_eq!(back.as_deref(), Some(v.as_slice()), "auto={auto}");
            let back: bytes::Bytes = redis.get(&key).await.expect("get as Bytes");
            assert_eq!(back.as_ref(), v.as_slice());
            let len: i64 = redis.cmd("STRLEN").arg(&key).query().await.expect("strlen");
            assert_eq!(len, 256);
            // Read back through a pipeline too (replies are base64 in JSON).
            let mut pipe = redis.pipeline();
            pipe.get(&key).get(&key);
            let (x, y): (Vec<u8>, Vec<u8>) = pipe.exec().await.expect("pipeline");
            assert_eq!((x.as_slice(), y.as_slice()), (v.as_slice(), v.as_slice()));
        }
        // Concurrent binary and text commands from one client.
        let calls: Vec<_> = (0..16)
            .map(|i| {
                let redis = redis.clone();
                let key = format!("{p}{auto}:c{i}");
                let mut v = all_bytes();
                v.rotate_left(i);
                async move {
                    redis.set(&key, v.clone()).await?;
                    let back: Vec<u8> = redis.get(&key).await?;
                    Ok::<_, Error>(back == v)
                }
            })
            .collect();
        for ok in futures_util::future::join_all(calls).await {
            assert!(ok.expect("round trip"));
        }
    }
    // A binary argument cannot travel in a JSON pipeline body: a clear error, nothing sent.
    let redis = client(stack);
    let mut pipe = redis.pipeline();
    pipe.set(format!("{p}never"), value.clone());
    assert!(matches!(
        pipe.exec::<Value>().await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn keys_with_slashes_spaces_and_unicode() {
    let stack = shared();
    let p = testing::prefix("keys");
    let keys = [
        format!("{p}a/b/c"),
        format!("{p}with space"),
        format!("{p}ünïcödé ключ 键 🔑"),
        format!("{p}?query=1&x=%20#frag"),
        format!("{p}quote\"back\\slash\nnewline"),
        format!("{p}/leading/and/trailing/"),
    ];
    for auto in [true, false] {
        let redis = builder(stack)
            .auto_pipelining(auto)
            .build()
            .expect("client");
        for (i, key) in keys.iter().enumerate() {
            let text = format!("value {i} ✓ / ?&");
            redis.set(key, &text).await.expect("set text");
            let back: Option<String> = redis.get(key).await.expect("get text");
            assert_eq!(back.as_deref(), Some(text.as_str()), "{key:?}");
            // Binary value under the same key: sent path-style, key percent-encoded.
            let mut bin = all_bytes();
            bin.rotate_left(i);
            redis.set(key, bin.clone()).await.expect("set binary");
            let back: Vec<u8> = redis.get(key).await.expect("get binary");
            assert_eq!(back, bin, "{key:?}");
            let exists: i64 = redis.cmd("EXISTS").arg(key).query().await.expect("exists");
            assert_eq!(exists, 1, "{key:?}");
        }
        // The server saw exactly these keys.
        let mut found: Vec<String> = redis
            .cmd("KEYS")
            .arg(format!("{p}*"))
            .query()
            .await
            .expect("keys");
        found.sort();
        let mut expected = keys.to_vec();
        expected.sort();
        assert_eq!(found, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Read-your-writes

#[tokio::test]
async fn sync_token_changes_on_writes_and_travels_between_clients() {
    let stack = shared();
    let writer = client(stack);
    let reader = client(stack);
    let key = format!("{}k", testing::prefix("ryw"));

    writer.set(&key, "v1").await.expect("set");
    let t1 = writer
        .sync_token()
        .expect("a token after the first response");
    writer.set(&key, "v2").await.expect("set");
    let t2 = writer.sync_token().expect("token");
    assert_ne!(t1, t2, "the token changes after a write");

    assert_eq!(reader.sync_token(), None);
    reader.set_sync_token(&t2);
    assert_eq!(reader.sync_token().as_deref(), Some(t2.as_str()));
    let seen: Option<String> = reader.get(&key).await.expect("get with token");
    assert_eq!(seen.as_deref(), Some("v2"));
    let t3 = reader.sync_token().expect("token");
    // Tokens are opaque; upstash-local's are increasing counters, so the reader's is not older.
    if let (Ok(a), Ok(b)) = (t2.parse::<u64>(), t3.parse::<u64>()) {
        assert!(b >= a, "{b} < {a}");
    }
    // Arbitrary and empty tokens are accepted by the server.
    reader.set_sync_token("made-up-token");
    let _: Option<String> = reader.get(&key).await.expect("made-up token accepted");
    reader.set_sync_token("");
    let _: Option<String> = reader.get(&key).await.expect("empty token accepted");

    // Opt-out: no token is kept.
    let plain = builder(stack)
        .read_your_writes(false)
        .build()
        .expect("client");
    plain.set(&key, "v3").await.expect("set");
    assert_eq!(plain.sync_token(), None);
}

// ---------------------------------------------------------------------------------------------
// Scripts

#[tokio::test]
async fn script_uses_evalsha_and_recovers_after_script_flush() {
    // SCRIPT FLUSH empties the server-wide cache: use a stack of our own.
    let stack = testing::dedicated(upstash_local::Config::default());
    let redis = client(&stack);
    let key = format!("{}counter", testing::prefix("script"));
    let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");

    let cached = |redis: Redis, sha: String| async move {
        let flags: Vec<i64> = redis
            .cmd("SCRIPT")
            .arg(("EXISTS", sha))
            .query()
            .await
            .expect("script exists");
        flags == [1]
    };
    assert!(!cached(redis.clone(), script.sha1().to_owned()).await);
    // First run: NOSCRIPT, then EVAL (which caches the script).
    let n: i64 = script.exec(&redis, &key, 5).await.expect("first run");
    assert_eq!(n, 5);
    assert!(cached(redis.clone(), script.sha1().to_owned()).await);
    // Second run: EVALSHA.
    let n: i64 = script.exec(&redis, &key, 5).await.expect("evalsha");
    assert_eq!(n, 10);

    let _: Value = redis
        .cmd("SCRIPT")
        .arg("FLUSH")
        .query()
        .await
        .expect("flush");
    assert!(!cached(redis.clone(), script.sha1().to_owned()).await);
    let n: i64 = script.exec(&redis, &key, 1).await.expect("after flush");
    assert_eq!(n, 11);
    assert!(cached(redis.clone(), script.sha1().to_owned()).await);

    // Without auto-pipelining, and inside a concurrent burst, the fallback works too.
    let _: Value = redis
        .cmd("SCRIPT")
        .arg("FLUSH")
        .query()
        .await
        .expect("flush");
    let runs = (0..10).map(|_| script.exec::<i64>(&redis, &key, 1));
    let mut results: Vec<i64> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.expect("run"))
        .collect();
    results.sort_unstable();
    assert_eq!(results, (12..=21).collect::<Vec<i64>>());

    // A script error is a typed Redis error.
    let broken = Script::new("return redis.call('NOSUCHCOMMAND')");
    let err = broken
        .exec::<Value>(&redis, Vec::<String>::new(), Vec::<String>::new())
        .await
        .expect_err("script error");
    assert!(matches!(err, Error::Redis { .. }), "{err:?}");

    // Read-only scripts run with EVALSHA_RO / EVAL_RO.
    let ro = Script::read_only("return redis.call('GET', KEYS[1])");
    let v: String = ro
        .exec(&redis, &key, Vec::<String>::new())
        .await
        .expect("ro script");
    assert_eq!(v, "21");
    stack.shutdown().await;
}

#[tokio::test]
async fn script_with_upstash_key_locking_flag_runs() {
    let stack = shared();
    let redis = client(stack);
    let key = format!("{}k", testing::prefix("lua-flags"));
    let script = Script::new(
        "#!lua flags=allow-key-locking\nreturn redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))",
    );
    let a: i64 = script.exec(&redis, &key, 2).await.expect("first run");
    let b: i64 = script.exec(&redis, &key, 3).await.expect("second run");
    assert_eq!((a, b), (2, 5));
    // Also through a plain EVAL.
    let c: i64 = redis
        .cmd("EVAL")
        .arg((script.source(), 1, &key, 4))
        .query()
        .await
        .expect("eval");
    assert_eq!(c, 9);
}

// ---------------------------------------------------------------------------------------------
// Tokens and ACLs

#[tokio::test]
async fn read_only_token_reads_but_cannot_write() {
    let stack = shared();
    let p = testing::prefix("readonly");
    let key = format!("{p}k");
    client(stack).set(&key, "v").await.expect("set");

    let ro = Redis::new(stack.redis_rest_url(), stack.redis_readonly_token()).expect("client");
    let v: Option<String> = ro.get(&key).await.expect("read with read-only token");
    assert_eq!(v.as_deref(), Some("v"));
    let err = ro.set(&key, "w").await.expect_err("write refused");
    assert_eq!(err.kind(), Some(&ErrorKind::NoPerm), "{err:?}");
    let err = ro.incr(&key).await.expect_err("write refused");
    assert_eq!(err.kind(), Some(&ErrorKind::NoPerm), "{err:?}");
    // In a pipeline the refusal is per command.
    let mut pipe = ro.pipeline();
    pipe.get(&key).set(&key, "w");
    let results = pipe.exec_keep_errors().await.expect("pipeline");
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().expect_err("refused").kind(),
        Some(&ErrorKind::NoPerm)
    );
    // The value is unchanged.
    let v: Option<String> = client(stack).get(&key).await.expect("get");
    assert_eq!(v.as_deref(), Some("v"));
}

#[tokio::test]
async fn acl_user_token_is_limited_to_its_key_pattern() {
    let config = upstash_local::Config::from_toml_str(
        r#"
        [redis]
        port = 0
        [[redis.users]]
        name = "cache-only"
        token = "cache-only-token"
        keys = ["cache:*"]
        "#,
    )
    .expect("config");
    let stack = testing::dedicated(config);
    let token = stack.redis_user_token("cache-only").expect("user token");
    let user = Redis::new(stack.redis_rest_url(), token).expect("client");

    user.set("cache:a", "1").await.expect("own key");
    let n: i64 = user.incr("cache:a").await.expect("own key");
    assert_eq!(n, 2);
    let err = user.set("other:a", "1").await.expect_err("foreign key");
    assert_eq!(err.kind(), Some(&ErrorKind::NoPerm), "{err:?}");
    let err = user
        .get::<Option<String>>("other:a")
        .await
        .expect_err("foreign key");
    assert_eq!(err.kind(), Some(&ErrorKind::NoPerm), "{err:?}");
    // The admin token still sees everything.
    let admin = client(&stack);
    let v: Option<String> = admin.get("cache:a").await.expect("admin");
    assert_eq!(v.as_deref(), Some("2"));
    stack.shutdown().await;
}

#[tokio::test]
async fn wrong_token_is_unauthorized() {
    let stack = shared();
    for auto in [true, false] {
        let redis = Redis::builder(stack.redis_rest_url(), "definitely-not-the-token")
            .auto_pipelining(auto)
            .build()
            .expect("client");
        let err = redis
            .get::<Option<String>>("any")
            .await
            .expect_err("unauthorized");
        assert!(err.is_unauthorized(), "{err:?}");
        assert!(
            matches!(
                err,
                Error::Core(upstash_redis::core::Error::Unauthorized { status: 401, .. })
            ),
            "{err:?}"
        );
        // The error never echoes the token.
        assert!(!format!("{err} {err:?}").contains("definitely-not-the-token"));
        let mut pipe = redis.pipeline();
        pipe.get("any");
        assert!(pipe
            .exec::<Value>()
            .await
            .expect_err("unauthorized")
            .is_unauthorized());
    }
}

// ---------------------------------------------------------------------------------------------
// Auto-pipelining

#[tokio::test]
async fn auto_pipelining_coalesces_concurrent_commands() {
    // A stack of our own so the request counts are ours alone.
    let stack = testing::dedicated(upstash_local::Config::default());
    let p = testing::prefix("autopipe");
    let seq = client(&stack);

    // Seed values for the GETs with one pipeline.
    let mut seed = seq.pipeline();
    for i in 0..500 {
        seed.set(format!("{p}v:{i}"), format!("value-{i}"));
    }
    seed.exec::<Value>().await.expect("seed");

    // The workload: 500 INCRBYs on their own keys and 500 GETs, interleaved.
    let workload = |run: &str, redis: &Redis| -> Vec<upstash_redis::Cmd<Value>> {
        (0..1000)
            .map(|i| {
                if i % 2 == 0 {
                    redis.cmd("INCRBY").arg((format!("{p}{run}:n:{i}"), i))
                } else {
                    redis.cmd("GET").arg(format!("{p}v:{}", i / 2))
                }
            })
            .collect()
    };

    // Sequential reference, without auto-pipelining: one request per command.
    let plain = builder(&stack)
        .auto_pipelining(false)
        .build()
        .expect("client");
    let before = server_requests(&stack);
    let mut expected = Vec::with_capacity(1000);
    for cmd in workload("seq", &plain) {
        expected.push(cmd.await.expect("sequential"));
    }
    assert_eq!(server_requests(&stack) - before, 1000);

    // Concurrency 1 with auto-pipelining on: still exactly one request per command.
    let auto = client(&stack);
    let before = server_requests(&stack);
    for i in 0..50 {
        let _: i64 = auto.incr(format!("{p}one")).await.expect("incr");
        assert_eq!(auto.auto_pipeline_requests(), i + 1);
    }
    assert_eq!(server_requests(&stack) - before, 50);

    // 1,000 concurrent commands from one client.
    let auto = client(&stack);
    let before = server_requests(&stack);
    let results = issue_in_order(
        workload("con", &auto)
            .into_iter()
            .map(IntoFuture::into_future)
            .collect(),
    )
    .await;
    let requests = server_requests(&stack) - before;
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| r.expect("concurrent"))
        .collect();
    assert_eq!(results, expected, "same results as sequential execution");
    assert!(requests < 200, "{requests} HTTP requests for 1000 commands");
    assert_eq!(auto.auto_pipeline_requests(), requests);
    eprintln!("1000 concurrent commands -> {requests} HTTP requests");
    stack.shutdown().await;
}

#[tokio::test]
async fn auto_pipelining_preserves_issue_order() {
    let stack = shared();
    let key = format!("{}counter", testing::prefix("autopipe-order"));
    // One request in flight: everything issued meanwhile leaves together, in issue order.
    let redis = builder(stack)
        .auto_pipeline_max_in_flight(1)
        .build()
        .expect("client");
    let results = issue_in_order((0..1000).map(|_| redis.incr(&key).into_future()).collect()).await;
    let values: Vec<i64> = results.into_iter().map(|r| r.expect("incr")).collect();
    assert_eq!(values, (1..=1000).collect::<Vec<i64>>());
    assert!(redis.auto_pipeline_requests() <= 3);

    // Reads see the writes issued before them.
    let list = format!("{}list", testing::prefix("autopipe-order"));
    let calls: Vec<upstash_redis::Cmd<Value>> = (0..100)
        .map(|i| {
            if i % 10 == 9 {
                redis.cmd("LLEN").arg(&list)
            } else {
                redis.cmd("RPUSH").arg((&list, i))
            }
        })
        .collect();
    let results = issue_in_order(calls.into_iter().map(IntoFuture::into_future).collect()).await;
    for (i, r) in results.into_iter().enumerate() {
        let v = r.expect("command");
        let expected = i64::try_from(i + 1 - (i + 1) / 10).expect("small");
        if i % 10 == 9 {
            assert_eq!(v, Value::Int(expected), "LLEN at {i}");
        } else {
            assert_eq!(v, Value::Int(expected), "RPUSH at {i}");
        }
    }
}

#[tokio::test]
async fn auto_pipelining_routes_errors_to_their_callers() {
    let stack = shared();
    let p = testing::prefix("autopipe-errors");
    let redis = builder(stack)
        .auto_pipeline_max_in_flight(1)
        .build()
        .expect("client");
    let text = format!("{p}text");
    redis.set(&text, "not a number").await.expect("set");

    let calls: Vec<upstash_redis::Cmd<Value>> = (0..60)
        .map(|i| match i % 3 {
            0 => redis.cmd("INCR").arg(format!("{p}n{i}")),
            1 => redis.cmd("INCR").arg(&text), // fails: not an integer
            _ => redis.cmd("LPUSH").arg((&text, "x")), // fails: wrong type
        })
        .collect();
    let results = issue_in_order(calls.into_iter().map(IntoFuture::into_future).collect()).await;
    for (i, r) in results.into_iter().enumerate() {
        match i % 3 {
            0 => assert_eq!(r.expect("own key"), Value::Int(1)),
            1 => assert_eq!(r.expect_err("text").kind(), Some(&ErrorKind::Err)),
            _ => assert_eq!(r.expect_err("text").kind(), Some(&ErrorKind::WrongType)),
        }
    }
    // Batched, not one request per command.
    assert!(redis.auto_pipeline_requests() < 10);
    // The failed commands did not disturb the others or the value.
    let v: String = redis.get(&text).await.expect("get");
    assert_eq!(v, "not a number");
}
