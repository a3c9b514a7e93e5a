//! End-to-end round trips of the typed command methods, one test per command family, against
//! upstash-local (a real Upstash REST server in front of a real redis-server, 7.0 here).
//!
//! Every test works under its own key prefix so the tests run in parallel on the shared
//! stack; nothing here flushes the database or the script cache.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use upstash_local::testing;
use upstash_redis::{
    Aggregate, BitField, BitFieldOverflow, BitFieldType, BitOp, BitRange, ExpireCondition,
    GeoAddOptions, GeoFrom, GeoSearch, GeoShape, GeoUnit, GetExOptions, InsertPosition,
    LPosOptions, ListEnd, Redis, ScanOptions, SetOptions, StreamTrim, Value, XAddOptions,
    XPendingOptions, XReadGroupOptions, ZAddOptions, ZCombineOptions, ZRangeOptions,
};

/// A client of the shared stack and a fresh key prefix for one test.
fn setup(name: &str) -> (Redis, String) {
    let stack = testing::shared();
    let redis = Redis::new(stack.redis_rest_url(), stack.redis_token()).expect("client");
    (redis, testing::prefix(name))
}

type Fields = HashMap<String, String>;

#[tokio::test]
async fn strings() {
    let (r, p) = setup("strings");
    let (a, b, n) = (format!("{p}a"), format!("{p}b"), format!("{p}n"));

    r.set(&a, "hello").await.expect("set");
    assert_eq!(r.append(&a, " world").await.expect("append"), 11);
    assert_eq!(r.strlen(&a).await.expect("strlen"), 11);
    let part: String = r.getrange(&a, 0, 4).await.expect("getrange");
    assert_eq!(part, "hello");
    assert_eq!(r.setrange(&a, 6, "there").await.expect("setrange"), 11);
    let old: Option<String> = r.getset(&a, "v2").await.expect("getset");
    assert_eq!(old.as_deref(), Some("hello there"));

    assert_eq!(r.incr(&n).await.expect("incr"), 1);
    assert_eq!(r.incrby(&n, 10).await.expect("incrby"), 11);
    assert_eq!(r.decr(&n).await.expect("decr"), 10);
    assert_eq!(r.decrby(&n, 4).await.expect("decrby"), 6);
    assert_eq!(r.incrbyfloat(&n, 0.5).await.expect("incrbyfloat"), 6.5);

    assert!(r.setnx(&b, "x").await.expect("setnx"));
    assert!(!r.setnx(&b, "y").await.expect("setnx again"));
    let set: bool = r
        .set_with(&b, "z", SetOptions::new().nx())
        .await
        .expect("set nx");
    assert!(!set);
    let prev: Option<String> = r
        .set_with(
            &b,
            "z",
            SetOptions::new().xx().get().ex(Duration::from_secs(100)),
        )
        .await
        .expect("set xx get");
    assert_eq!(prev.as_deref(), Some("x"));
    assert!(r.ttl(&b).await.expect("ttl") > 90);

    let got: Option<String> = r
        .getex(&b, GetExOptions::new().persist())
        .await
        .expect("getex");
    assert_eq!(got.as_deref(), Some("z"));
    assert_eq!(r.ttl(&b).await.expect("ttl"), -1);

    let (c, d) = (format!("{p}c"), format!("{p}d"));
    r.mset([(c.as_str(), "1"), (d.as_str(), "2")])
        .await
        .expect("mset");
    let missing = format!("{p}missing");
    let values: Vec<Option<i64>> = r.mget([&c, &d, &missing]).await.expect("mget");
    assert_eq!(values, vec![Some(1), Some(2), None]);
    let e = format!("{p}e");
    assert!(!r
        .msetnx([(c.as_str(), "9"), (e.as_str(), "9")])
        .await
        .expect("msetnx"));
    assert_eq!(r.exists([&e]).await.expect("exists"), 0);

    r.setex(&c, Duration::from_secs(50), "s")
        .await
        .expect("setex");
    assert!((40..=50).contains(&r.ttl(&c).await.expect("ttl")));
    r.psetex(&d, Duration::from_millis(50_000), "s")
        .await
        .expect("psetex");
    assert!(r.pttl(&d).await.expect("pttl") > 40_000);

    let gone: Option<String> = r.getdel(&c).await.expect("getdel");
    assert_eq!(gone.as_deref(), Some("s"));
    let none: Option<String> = r.get(&c).await.expect("get");
    assert_eq!(none, None);

    // Binary values round-trip exactly.
    r.set(&a, vec![0u8, 0xff, 7]).await.expect("set binary");
    let bytes: Option<Vec<u8>> = r.get(&a).await.expect("get binary");
    assert_eq!(bytes, Some(vec![0, 0xff, 7]));
}

#[tokio::test]
async fn keys() {
    let (r, p) = setup("keys");
    let (a, b, c) = (format!("{p}a"), format!("{p}b"), format!("{p}c"));
    r.set(&a, "1").await.expect("set");

    assert!(r.copy(&a, &b, false).await.expect("copy"));
    assert!(!r.copy(&a, &b, false).await.expect("copy exists"));
    assert!(r.copy(&a, &b, true).await.expect("copy replace"));
    assert_eq!(r.exists([&a, &b, &c]).await.expect("exists"), 2);
    assert_eq!(r.key_type(&a).await.expect("type"), "string");
    assert_eq!(r.key_type(&c).await.expect("type"), "none");

    assert_eq!(r.ttl(&a).await.expect("ttl"), -1);
    assert!(r
        .expire(&a, Duration::from_secs(100), None)
        .await
        .expect("expire"));
    assert!(!r
        .expire(&a, Duration::from_secs(50), ExpireCondition::Gt)
        .await
        .expect("expire gt"));
    assert!(r
        .pexpire(&a, Duration::from_secs(200), ExpireCondition::Gt)
        .await
        .expect("pexpire gt"));
    assert!(r.pttl(&a).await.expect("pttl") > 150_000);
    let at = SystemTime::now() + Duration::from_secs(300);
    assert!(r.expireat(&a, at, None).await.expect("expireat"));
    let expires = r.expiretime(&a).await.expect("expiretime");
    assert!(expires > 0);
    assert!(r
        .pexpireat(&b, at, ExpireCondition::Nx)
        .await
        .expect("pexpireat"));
    assert!(r.pexpiretime(&b).await.expect("pexpiretime") > 0);
    assert!(r.persist(&a).await.expect("persist"));
    assert!(!r.persist(&a).await.expect("persist again"));

    r.rename(&b, &c).await.expect("rename");
    assert!(!r.renamenx(&c, &a).await.expect("renamenx"));
    assert_eq!(r.touch([&a, &c]).await.expect("touch"), 2);

    let mut names: Vec<String> = r.keys(format!("{p}*")).await.expect("keys");
    names.sort();
    assert_eq!(names, vec![a.clone(), c.clone()]);

    // SCAN by cursor until done, only this test's keys.
    let mut seen = HashSet::new();
    let mut cursor = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = r
            .scan(
                cursor,
                ScanOptions::new()
                    .pattern(format!("{p}*"))
                    .count(100)
                    .key_type("string"),
            )
            .await
            .expect("scan");
        seen.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen, HashSet::from([a.clone(), c.clone()]));

    let random: Option<String> = r.randomkey().await.expect("randomkey");
    assert!(random.is_some());

    let dumped = r.dump(&a).await.expect("dump").expect("a value");
    r.restore(&b, Duration::ZERO, dumped.to_vec(), false)
        .await
        .expect("restore");
    let restored: Option<String> = r.get(&b).await.expect("get");
    assert_eq!(restored.as_deref(), Some("1"));
    assert!(r.object_encoding(&a).await.expect("object").is_some());
    assert!(r.object_refcount(&a).await.expect("refcount").is_some());

    assert_eq!(r.unlink([&b]).await.expect("unlink"), 1);
    assert_eq!(r.del([&a, &c, &b]).await.expect("del"), 2);
}

#[tokio::test]
async fn hashes() {
    let (r, p) = setup("hashes");
    let h = format!("{p}h");

    assert_eq!(r.hset(&h, [("a", "1"), ("b", "2")]).await.expect("hset"), 2);
    r.hmset(&h, [("c", "3")]).await.expect("hmset");
    assert!(r.hsetnx(&h, "d", "4").await.expect("hsetnx"));
    assert!(!r.hsetnx(&h, "d", "5").await.expect("hsetnx again"));
    assert!(r.hexists(&h, "a").await.expect("hexists"));
    assert_eq!(r.hlen(&h).await.expect("hlen"), 4);
    assert_eq!(r.hstrlen(&h, "a").await.expect("hstrlen"), 1);

    let a: Option<i64> = r.hget(&h, "a").await.expect("hget");
    assert_eq!(a, Some(1));
    let all: HashMap<String, String> = r.hgetall(&h).await.expect("hgetall");
    assert_eq!(all.len(), 4);
    assert_eq!(all["c"], "3");
    let sorted: BTreeMap<String, Vec<u8>> = r.hgetall(&h).await.expect("hgetall bytes");
    assert_eq!(sorted["d"], b"4");
    let pairs: Vec<(String, i64)> = r.hgetall(&h).await.expect("hgetall pairs");
    assert_eq!(pairs.len(), 4);
    let empty: HashMap<String, String> = r.hgetall(format!("{p}none")).await.expect("empty");
    assert!(empty.is_empty());

    let values: Vec<Option<String>> = r.hmget(&h, ["a", "zz"]).await.expect("hmget");
    assert_eq!(values, vec![Some("1".into()), None]);
    let mut keys: Vec<String> = r.hkeys(&h).await.expect("hkeys");
    keys.sort();
    assert_eq!(keys, ["a", "b", "c", "d"]);
    let vals: Vec<i64> = r.hvals(&h).await.expect("hvals");
    assert_eq!(vals.iter().sum::<i64>(), 10);

    assert_eq!(r.hincrby(&h, "a", 5).await.expect("hincrby"), 6);
    assert_eq!(
        r.hincrbyfloat(&h, "b", 0.5).await.expect("hincrbyfloat"),
        2.5
    );

    let one: Option<String> = r.hrandfield(&h, None).await.expect("hrandfield");
    assert!(one.is_some());
    let two: Vec<String> = r.hrandfield(&h, 2).await.expect("hrandfield count");
    assert_eq!(two.len(), 2);
    let with: Vec<(String, String)> = r
        .hrandfield_withvalues(&h, 2)
        .await
        .expect("hrandfield withvalues");
    assert_eq!(with.len(), 2);
    assert!(with
        .iter()
        .all(|(f, v)| all.contains_key(f) && !v.is_empty()));

    let (cursor, batch): (u64, Vec<(String, String)>) = r
        .hscan(&h, 0, ScanOptions::new().pattern("[ab]").count(100))
        .await
        .expect("hscan");
    assert_eq!(cursor, 0);
    let batch: HashMap<_, _> = batch.into_iter().collect();
    assert_eq!(batch.get("a").map(String::as_str), Some("6"));
    assert_eq!(batch.len(), 2);

    assert_eq!(r.hdel(&h, ["a", "b", "zz"]).await.expect("hdel"), 2);
    // Field-TTL commands (HEXPIRE...) need Redis 7.4; this server is 7.0, so they are only
    // covered by the argument tests.
}

#[tokio::test]
async fn lists() {
    let (r, p) = setup("lists");
    let (l, m) = (format!("{p}l"), format!("{p}m"));

    assert_eq!(r.rpush(&l, ["a", "b", "c"]).await.expect("rpush"), 3);
    assert_eq!(r.lpush(&l, ["z"]).await.expect("lpush"), 4);
    assert_eq!(
        r.lpushx(format!("{p}none"), ["x"]).await.expect("lpushx"),
        0
    );
    assert_eq!(r.rpushx(&l, ["d"]).await.expect("rpushx"), 5);
    assert_eq!(r.llen(&l).await.expect("llen"), 5);
    let all: Vec<String> = r.lrange(&l, 0, -1).await.expect("lrange");
    assert_eq!(all, ["z", "a", "b", "c", "d"]);
    let second: Option<String> = r.lindex(&l, 1).await.expect("lindex");
    assert_eq!(second.as_deref(), Some("a"));

    assert_eq!(
        r.linsert(&l, InsertPosition::After, "a", "a2")
            .await
            .expect("linsert"),
        6
    );
    r.lset(&l, 0, "y").await.expect("lset");
    let pos: Option<u64> = r.lpos(&l, "b", LPosOptions::new()).await.expect("lpos");
    assert_eq!(pos, Some(3));
    let all_pos: Vec<u64> = r
        .lpos(&l, "b", LPosOptions::new().count(0))
        .await
        .expect("lpos count");
    assert_eq!(all_pos, [3]);

    let moved: Option<String> = r
        .lmove(&l, &m, ListEnd::Left, ListEnd::Right)
        .await
        .expect("lmove");
    assert_eq!(moved.as_deref(), Some("y"));
    let moved: Option<String> = r.rpoplpush(&l, &m).await.expect("rpoplpush");
    assert_eq!(moved.as_deref(), Some("d"));

    let head: Option<String> = r.lpop(&l).await.expect("lpop");
    assert_eq!(head.as_deref(), Some("a"));
    let tail: Vec<String> = r.rpop_count(&l, 2).await.expect("rpop count");
    assert_eq!(tail, ["c", "b"]);
    let rest: Vec<String> = r.lpop_count(&l, 10).await.expect("lpop count");
    assert_eq!(rest, ["a2"]);
    let nothing: Option<String> = r.rpop(&l).await.expect("rpop");
    assert_eq!(nothing, None);

    let popped = r
        .lmpop::<String>([l.as_str(), m.as_str()], ListEnd::Left, 1)
        .await
        .expect("lmpop");
    assert_eq!(popped, Some((m.clone(), vec!["d".to_string()])));
    let none = r
        .lmpop::<String>([l.as_str()], ListEnd::Left, None)
        .await
        .expect("lmpop empty");
    assert_eq!(none, None);

    r.rpush(&l, ["x", "q", "x", "x"]).await.expect("rpush");
    assert_eq!(r.lrem(&l, -2, "x").await.expect("lrem"), 2);
    r.ltrim(&l, 0, 0).await.expect("ltrim");
    let left: Vec<String> = r.lrange(&l, 0, -1).await.expect("lrange");
    assert_eq!(left, ["x"]);
}

#[tokio::test]
async fn sets() {
    let (r, p) = setup("sets");
    let (a, b, d) = (format!("{p}a"), format!("{p}b"), format!("{p}d"));

    assert_eq!(r.sadd(&a, ["1", "2", "3"]).await.expect("sadd"), 3);
    assert_eq!(r.sadd(&b, ["2", "3", "4"]).await.expect("sadd"), 3);
    assert_eq!(r.scard(&a).await.expect("scard"), 3);
    assert!(r.sismember(&a, "1").await.expect("sismember"));
    assert_eq!(
        r.smismember(&a, ["1", "9"]).await.expect("smismember"),
        [true, false]
    );
    let members: HashSet<String> = r.smembers::<String>(&a).query().await.expect("smembers");
    assert_eq!(members, HashSet::from(["1".into(), "2".into(), "3".into()]));

    let diff: Vec<i64> = r.sdiff([&a, &b]).await.expect("sdiff");
    assert_eq!(diff, [1]);
    let mut inter: Vec<i64> = r.sinter([&a, &b]).await.expect("sinter");
    inter.sort();
    assert_eq!(inter, [2, 3]);
    let mut union: Vec<i64> = r.sunion([&a, &b]).await.expect("sunion");
    union.sort();
    assert_eq!(union, [1, 2, 3, 4]);
    assert_eq!(r.sintercard([&a, &b], None).await.expect("sintercard"), 2);
    assert_eq!(
        r.sintercard([&a, &b], 1).await.expect("sintercard limit"),
        1
    );
    assert_eq!(r.sdiffstore(&d, [&a, &b]).await.expect("sdiffstore"), 1);
    assert_eq!(r.sinterstore(&d, [&a, &b]).await.expect("sinterstore"), 2);
    assert_eq!(r.sunionstore(&d, [&a, &b]).await.expect("sunionstore"), 4);

    assert!(r.smove(&a, &b, "1").await.expect("smove"));
    assert_eq!(r.srem(&b, ["1", "9"]).await.expect("srem"), 1);

    let one: Option<String> = r.srandmember(&d, None).await.expect("srandmember");
    assert!(one.is_some());
    let some: Vec<String> = r.srandmember(&d, -5).await.expect("srandmember count");
    assert_eq!(some.len(), 5);
    let popped: Option<String> = r.spop(&d, None).await.expect("spop");
    assert!(popped.is_some());
    let popped: Vec<String> = r.spop(&d, 10).await.expect("spop count");
    assert_eq!(popped.len(), 3);

    let (cursor, batch): (u64, Vec<String>) = r
        .sscan(&b, 0, ScanOptions::new().count(100))
        .await
        .expect("sscan");
    assert_eq!(cursor, 0);
    assert_eq!(batch.len(), 3);
}

#[tokio::test]
async fn sorted_sets() {
    let (r, p) = setup("zsets");
    let (z, y, d) = (format!("{p}z"), format!("{p}y"), format!("{p}d"));

    assert_eq!(
        r.zadd(&z, [(1.0, "a"), (2.0, "b"), (3.0, "c")], ZAddOptions::new())
            .await
            .expect("zadd"),
        3
    );
    assert_eq!(
        r.zadd(&z, [(5.0, "a"), (9.0, "new")], ZAddOptions::new().xx().ch())
            .await
            .expect("zadd xx ch"),
        1
    );
    assert_eq!(
        r.zadd_incr(&z, 1.5, "b", ZAddOptions::new())
            .await
            .expect("zadd incr"),
        Some(3.5)
    );
    assert_eq!(
        r.zadd_incr(&z, 1.0, "b", ZAddOptions::new().nx())
            .await
            .expect("zadd incr nx"),
        None
    );
    assert_eq!(r.zcard(&z).await.expect("zcard"), 3);
    assert_eq!(r.zscore(&z, "a").await.expect("zscore"), Some(5.0));
    assert_eq!(
        r.zmscore(&z, ["a", "none"]).await.expect("zmscore"),
        [Some(5.0), None]
    );
    assert_eq!(r.zincrby(&z, -0.5, "c").await.expect("zincrby"), 2.5);
    // c=2.5 b=3.5 a=5
    assert_eq!(r.zrank(&z, "a").await.expect("zrank"), Some(2));
    assert_eq!(r.zrevrank(&z, "a").await.expect("zrevrank"), Some(0));
    assert_eq!(r.zrank(&z, "none").await.expect("zrank none"), None);
    assert_eq!(
        r.zcount(&z, "(2.5", f64::INFINITY).await.expect("zcount"),
        2
    );

    let names: Vec<String> = r
        .zrange(&z, 0, -1, ZRangeOptions::new())
        .await
        .expect("zrange");
    assert_eq!(names, ["c", "b", "a"]);
    let scored: Vec<(String, f64)> = r
        .zrange(
            &z,
            "+inf",
            3,
            ZRangeOptions::new()
                .by_score()
                .rev()
                .limit(0, 5)
                .with_scores(),
        )
        .await
        .expect("zrange byscore");
    assert_eq!(scored, [("a".to_string(), 5.0), ("b".to_string(), 3.5)]);

    r.zadd(
        &y,
        [(0.0, "m"), (0.0, "n"), (0.0, "o"), (1.0, "b")],
        ZAddOptions::new(),
    )
    .await
    .expect("zadd y");
    let x = format!("{p}x");
    r.zadd(&x, [(0.0, "m"), (0.0, "n"), (0.0, "o")], ZAddOptions::new())
        .await
        .expect("zadd x");
    assert_eq!(r.zlexcount(&x, "[m", "(o").await.expect("zlexcount"), 2);
    let lex: Vec<String> = r
        .zrange(&x, "[n", "+", ZRangeOptions::new().by_lex())
        .await
        .expect("zrange bylex");
    assert_eq!(lex, ["n", "o"]);

    let union: Vec<(String, f64)> = r
        .zunion(
            [&z, &y],
            ZCombineOptions::new()
                .aggregate(Aggregate::Max)
                .with_scores(),
        )
        .await
        .expect("zunion");
    assert_eq!(union.len(), 6);
    assert!(union.contains(&("b".to_string(), 3.5)));
    let inter: Vec<(String, f64)> = r
        .zinter(
            [&z, &y],
            ZCombineOptions::new().weights([1.0, 10.0]).with_scores(),
        )
        .await
        .expect("zinter");
    assert_eq!(inter, [("b".to_string(), 13.5)]);
    assert_eq!(
        r.zunionstore(&d, [&z, &y], ZCombineOptions::new())
            .await
            .expect("zunionstore"),
        6
    );
    assert_eq!(
        r.zinterstore(&d, [&z, &y], ZCombineOptions::new())
            .await
            .expect("zinterstore"),
        1
    );
    assert_eq!(r.zdiffstore(&d, [&z, &y]).await.expect("zdiffstore"), 2);

    let (cursor, batch) = r
        .zscan::<String>(&z, 0, ScanOptions::new())
        .await
        .expect("zscan");
    assert_eq!(cursor, 0);
    assert_eq!(batch.len(), 3);
    assert!(batch.contains(&("c".to_string(), 2.5)));

    let max = r.zpopmax::<String>(&z, None).await.expect("zpopmax");
    assert_eq!(max, [("a".to_string(), 5.0)]);
    let min = r.zpopmin::<String>(&z, 5).await.expect("zpopmin");
    assert_eq!(min, [("c".to_string(), 2.5), ("b".to_string(), 3.5)]);

    assert_eq!(
        r.zremrangebylex(&x, "[m", "[n")
            .await
            .expect("zremrangebylex"),
        2
    );
    assert_eq!(
        r.zremrangebyscore(&y, 1, 1)
            .await
            .expect("zremrangebyscore"),
        1
    );
    assert_eq!(
        r.zremrangebyrank(&y, 0, -1).await.expect("zremrangebyrank"),
        3
    );
    assert_eq!(r.zrem(&d, ["b", "x"]).await.expect("zrem"), 0);
}

#[tokio::test]
async fn streams() {
    let (r, p) = setup("streams");
    let s = format!("{p}s");

    let id1 = r
        .xadd(&s, "*", [("temp", "20"), ("unit", "c")], XAddOptions::new())
        .await
        .expect("xadd");
    let id2 = r
        .xadd(&s, "*", [("temp", "21")], XAddOptions::new())
        .await
        .expect("xadd 2");
    r.xadd(
        &s,
        "*",
        [("temp", "22")],
        XAddOptions::new().trim(StreamTrim::max_len(10)),
    )
    .await
    .expect("xadd trim");
    assert!(id2 > id1);
    assert_eq!(r.xlen(&s).await.expect("xlen"), 3);
    let missing: Option<String> = r
        .xadd(
            format!("{p}none"),
            "*",
            [("a", "1")],
            XAddOptions::new().no_mkstream(),
        )
        .query()
        .await
        .expect("xadd nomkstream");
    assert_eq!(missing, None);

    let entries = r
        .xrange::<Fields>(&s, "-", "+", None)
        .await
        .expect("xrange");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].0, id1);
    assert_eq!(entries[0].1["unit"], "c");
    let newest = r
        .xrevrange::<Vec<(String, String)>>(&s, "+", "-", 1)
        .await
        .expect("xrevrange");
    assert_eq!(newest[0].1, [("temp".to_string(), "22".to_string())]);

    let read = r.xread::<Fields>([&s], [&id1], 10).await.expect("xread");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].0, s);
    assert_eq!(read[0].1.len(), 2);
    let nothing = r
        .xread::<Fields>([&s], ["$"], None)
        .await
        .expect("xread none");
    assert!(nothing.is_empty());

    r.xgroup_create(&s, "g", "0", false)
        .await
        .expect("xgroup create");
    assert!(r
        .xgroup_createconsumer(&s, "g", "c1")
        .await
        .expect("createconsumer"));
    let got = r
        .xreadgroup::<Fields>("g", "c1", [&s], [">"], XReadGroupOptions::new().count(2))
        .await
        .expect("xreadgroup");
    assert_eq!(got[0].1.len(), 2);

    let (pending, low, high, per_consumer) = r.xpending(&s, "g").await.expect("xpending");
    assert_eq!(pending, 2);
    assert_eq!(low.as_deref(), Some(id1.as_str()));
    assert_eq!(high.as_deref(), Some(id2.as_str()));
    assert_eq!(per_consumer, [("c1".to_string(), 2)]);
    let detail = r
        .xpending_range(&s, "g", "-", "+", 10, XPendingOptions::new().consumer("c1"))
        .await
        .expect("xpending range");
    assert_eq!(detail.len(), 2);
    assert_eq!(detail[0].0, id1);
    assert_eq!(detail[0].1, "c1");
    assert_eq!(detail[0].3, 1);

    let claimed = r
        .xclaim::<Fields>(&s, "g", "c2", Duration::ZERO, [&id1])
        .await
        .expect("xclaim");
    assert_eq!(claimed.len(), 1);
    let (next, auto, deleted) = r
        .xautoclaim::<Fields>(&s, "g", "c3", Duration::ZERO, "0-0", 10)
        .await
        .expect("xautoclaim");
    assert_eq!(next, "0-0");
    assert_eq!(auto.len(), 2);
    assert!(deleted.is_empty());

    assert_eq!(r.xack(&s, "g", [&id1, &id2]).await.expect("xack"), 2);
    let info: HashMap<String, Value> = r.xinfo_stream(&s).await.expect("xinfo stream");
    assert_eq!(info.get("length"), Some(&Value::Int(3)));
    let groups: Vec<HashMap<String, Value>> = r.xinfo_groups(&s).await.expect("xinfo groups");
    assert_eq!(groups.len(), 1);
    let consumers: Vec<HashMap<String, Value>> =
        r.xinfo_consumers(&s, "g").await.expect("xinfo consumers");
    assert_eq!(consumers.len(), 3);
    assert_eq!(
        r.xgroup_delconsumer(&s, "g", "c1")
            .await
            .expect("delconsumer"),
        0
    );
    r.xgroup_setid(&s, "g", "$").await.expect("setid");
    assert!(r.xgroup_destroy(&s, "g").await.expect("destroy"));

    assert_eq!(r.xdel(&s, [&id1]).await.expect("xdel"), 1);
    assert_eq!(r.xtrim(&s, StreamTrim::max_len(1)).await.expect("xtrim"), 1);
}

#[tokio::test]
async fn bitmaps() {
    let (r, p) = setup("bitmaps");
    let (a, b, d) = (format!("{p}a"), format!("{p}b"), format!("{p}d"));

    assert!(!r.setbit(&a, 7, true).await.expect("setbit"));
    assert!(r.setbit(&a, 7, true).await.expect("setbit again"));
    assert!(r.getbit(&a, 7).await.expect("getbit"));
    assert!(!r.getbit(&a, 100).await.expect("getbit beyond"));
    r.set(&b, "\u{ff}").await.expect("set");
    assert_eq!(r.bitcount(&a, None).await.expect("bitcount"), 1);
    assert_eq!(
        r.bitcount(&a, BitRange::bits(0, 6))
            .await
            .expect("bitcount bits"),
        0
    );
    assert_eq!(r.bitpos(&a, true, None).await.expect("bitpos"), 7);
    assert_eq!(
        r.bitpos(&a, true, BitRange::bytes(1, -1))
            .await
            .expect("bitpos range"),
        -1
    );
    assert_eq!(r.bitop(BitOp::Or, &d, [&a, &b]).await.expect("bitop"), 2);

    let replies = r
        .bitfield(
            &d,
            BitField::new()
                .set(BitFieldType::Unsigned(8), 0, 200)
                .overflow(BitFieldOverflow::Fail)
                .incrby(BitFieldType::Unsigned(8), 0, 100)
                .get(BitFieldType::Unsigned(8), "#0"),
        )
        .await
        .expect("bitfield");
    // d's first byte is 0x01 | 0xc3 (the first byte of "ÿ" in UTF-8).
    assert_eq!(replies, [Some(0xc3), None, Some(200)]);
}

#[tokio::test]
async fn hyperloglog() {
    let (r, p) = setup("hll");
    let (a, b, d) = (format!("{p}a"), format!("{p}b"), format!("{p}d"));
    assert!(r.pfadd(&a, ["x", "y", "z"]).await.expect("pfadd"));
    assert!(!r.pfadd(&a, ["x"]).await.expect("pfadd again"));
    r.pfadd(&b, ["z", "w"]).await.expect("pfadd b");
    assert_eq!(r.pfcount([&a]).await.expect("pfcount"), 3);
    assert_eq!(r.pfcount([&a, &b]).await.expect("pfcount union"), 4);
    r.pfmerge(&d, [&a, &b]).await.expect("pfmerge");
    assert_eq!(r.pfcount([&d]).await.expect("pfcount merged"), 4);
}

#[tokio::test]
async fn geo() {
    let (r, p) = setup("geo");
    let (g, d) = (format!("{p}g"), format!("{p}d"));
    assert_eq!(
        r.geoadd(
            &g,
            [
                (13.361389, 38.115556, "Palermo"),
                (15.087269, 37.502669, "Catania")
            ],
            GeoAddOptions::new(),
        )
        .await
        .expect("geoadd"),
        2
    );
    assert_eq!(
        r.geoadd(&g, [(13.0, 38.0, "Palermo")], GeoAddOptions::new().nx())
            .await
            .expect("geoadd nx"),
        0
    );
    let km = r
        .geodist(&g, "Palermo", "Catania", GeoUnit::Kilometers)
        .await
        .expect("geodist")
        .expect("both exist");
    assert!((km - 166.27).abs() < 0.1, "{km}");
    assert_eq!(
        r.geodist(&g, "Palermo", "Nowhere", GeoUnit::Meters)
            .await
            .expect("geodist missing"),
        None
    );
    let hashes = r
        .geohash(&g, ["Palermo", "Nowhere"])
        .await
        .expect("geohash");
    assert_eq!(hashes[0].as_deref(), Some("sqc8b49rny0"));
    assert_eq!(hashes[1], None);
    let pos = r.geopos(&g, ["Catania", "Nowhere"]).await.expect("geopos");
    let (lon, lat) = pos[0].expect("position");
    assert!((lon - 15.087269).abs() < 1e-4 && (lat - 37.502669).abs() < 1e-4);
    assert_eq!(pos[1], None);

    let near: Vec<String> = r
        .geosearch(
            &g,
            GeoSearch::new(
                GeoFrom::LonLat(15.0, 37.0),
                GeoShape::Radius(200.0, GeoUnit::Kilometers),
            )
            .asc(),
        )
        .await
        .expect("geosearch");
    assert_eq!(near, ["Catania", "Palermo"]);
    let with_dist: Vec<(String, f64)> = r
        .geosearch(
            &g,
            GeoSearch::new(
                GeoFrom::Member("Palermo".into()),
                GeoShape::Box(400.0, 400.0, GeoUnit::Kilometers),
            )
            .desc()
            .count(1)
            .with_dist(),
        )
        .await
        .expect("geosearch withdist");
    assert_eq!(with_dist.len(), 1);
    assert_eq!(with_dist[0].0, "Catania");
    assert!((with_dist[0].1 - 166.27).abs() < 0.1);
    let stored = r
        .geosearchstore(
            &d,
            &g,
            GeoSearch::new(
                GeoFrom::Member("Catania".into()),
                GeoShape::Radius(10.0, GeoUnit::Kilometers),
            )
            .with_dist(),
            true,
        )
        .await
        .expect("geosearchstore");
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn scripting_and_functions() {
    let (r, p) = setup("scripting");
    let k = format!("{p}k");
    let n: i64 = r
        .eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", [&k], [5])
        .await
        .expect("eval");
    assert_eq!(n, 5);
    let source = format!("return redis.call('GET', KEYS[1]) -- {p}");
    let sha = r.script_load(&source).await.expect("script load");
    assert_eq!(sha.len(), 40);
    assert_eq!(
        r.script_exists([sha.as_str(), "0000000000000000000000000000000000000000"])
            .await
            .expect("script exists"),
        [true, false]
    );
    let v: Option<i64> = r.evalsha(&sha, [&k], None::<&str>).await.expect("evalsha");
    assert_eq!(v, Some(5));
    let v: Option<i64> = r
        .evalsha_ro(&sha, [&k], None::<&str>)
        .await
        .expect("evalsha_ro");
    assert_eq!(v, Some(5));
    let v: String = r
        .eval_ro("return ARGV[1]", None::<&str>, ["ro"])
        .await
        .expect("eval_ro");
    assert_eq!(v, "ro");

    // A library of our own (names allow letters, digits and underscores).
    let lib: String = p
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let code = format!(
        "#!lua name={lib}\n\
         redis.register_function('{lib}_get', function(keys) return redis.call('GET', keys[1]) end)\n\
         redis.register_function{{function_name='{lib}_ro', callback=function(keys, args) return args[1] end, flags={{'no-writes'}}}}"
    );
    assert_eq!(
        r.function_load(&code, false).await.expect("function load"),
        lib
    );
    assert_eq!(
        r.function_load(&code, true).await.expect("function reload"),
        lib
    );
    let v: Option<i64> = r
        .fcall(format!("{lib}_get"), [&k], None::<&str>)
        .await
        .expect("fcall");
    assert_eq!(v, Some(5));
    let v: String = r
        .fcall_ro(format!("{lib}_ro"), None::<&str>, ["x"])
        .await
        .expect("fcall_ro");
    assert_eq!(v, "x");
    let libs: Vec<HashMap<String, Value>> = r
        .function_list(Some(lib.as_str()), true)
        .await
        .expect("function list");
    assert_eq!(libs.len(), 1);
    assert!(libs[0].contains_key("library_code"));
    r.function_delete(&lib).await.expect("function delete");
    let libs: Vec<Value> = r
        .function_list(Some(lib.as_str()), false)
        .await
        .expect("list");
    assert!(libs.is_empty());
}

#[tokio::test]
async fn server_and_pubsub() {
    let (r, p) = setup("server");
    assert_eq!(r.ping().await.expect("ping"), "PONG");
    let echoed: String = r.echo("héllo").await.expect("echo");
    assert_eq!(echoed, "héllo");
    r.set(format!("{p}a"), 1).await.expect("set");
    assert!(r.dbsize().await.expect("dbsize") >= 1);
    let (secs, micros) = r.time().await.expect("time");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(secs.abs_diff(now) < 60);
    assert!(micros < 1_000_000);
    let info = r.info(Some("server")).await.expect("info");
    assert!(info.contains("redis_version"));
    assert_eq!(
        r.publish(format!("{p}channel"), "hi")
            .await
            .expect("publish"),
        0
    );
}

#[tokio::test]
async fn typed_methods_in_pipelines_and_transactions() {
    let (r, p) = setup("pipelined");
    let (h, z) = (format!("{p}h"), format!("{p}z"));
    let mut pipe = r.pipeline();
    pipe.hset(&h, [("a", "1"), ("b", "2")])
        .hgetall(&h)
        .zadd(&z, [(1.0, "m")], ZAddOptions::new())
        .zrange(&z, 0, -1, ZRangeOptions::new().with_scores());
    type Replies = (u64, HashMap<String, i64>, u64, Vec<(String, f64)>);
    let (added, all, zadded, scored): Replies = pipe.exec().await.expect("pipeline");
    assert_eq!((added, zadded), (2, 1));
    assert_eq!(all["b"], 2);
    assert_eq!(scored, [("m".to_string(), 1.0)]);

    let mut tx = r.multi();
    tx.hincrby(&h, "a", 1)
        .expire(&h, Duration::from_secs(60), None)
        .ttl(&h);
    let (a, set, ttl): (i64, bool, i64) = tx.exec().await.expect("multi");
    assert_eq!(a, 2);
    assert!(set);
    assert!(ttl > 0);
}
