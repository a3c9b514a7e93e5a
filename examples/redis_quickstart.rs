//! Quick start: the Upstash Redis REST client in one page.
//!
//! ```sh
//! # Against your Upstash database:
//! export UPSTASH_REDIS_REST_URL=https://<name>.upstash.io UPSTASH_REDIS_REST_TOKEN=<token>
//! cargo run --example redis_quickstart
//!
//! # Without any setup (needs `redis-server` on PATH): a local stack starts in-process.
//! cargo run --example redis_quickstart
//! ```

use std::time::Duration;

use upstash_local::{Config, LocalStack};
use upstash_redis::{Redis, Script, SetOptions};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. Connect: from the environment if it is set, else to a local stack started here.
    let (redis, local) = connect().await?;
    let prefix = "quickstart:";

    // 2. Strings: SET with options, GET decoded into the type you ask for.
    let greeting = format!("{prefix}greeting");
    redis.set(&greeting, "hello from Rust").await?;
    let value: Option<String> = redis.get(&greeting).await?;
    println!("GET {greeting} -> {value:?}");

    let session = format!("{prefix}session");
    let created: bool = redis
        .set_with(
            &session,
            "user-42",
            SetOptions::new().ex(Duration::from_secs(60)).nx(),
        )
        .await?;
    println!("SET {session} EX 60 NX -> {created}");

    // 3. Counters and expiry.
    let hits = format!("{prefix}hits");
    let n = redis.incr(&hits).await?;
    let expiring = redis.expire(&hits, Duration::from_secs(300), None).await?;
    let ttl = redis.ttl(&hits).await?;
    println!("INCR {hits} -> {n}; EXPIRE -> {expiring}; TTL -> {ttl}s");

    // 4. Hashes: HSET several fields, HGETALL into a map.
    let user = format!("{prefix}user:42");
    let added = redis
        .hset(&user, [("name", "Ada"), ("plan", "pro")])
        .await?;
    let fields: std::collections::BTreeMap<String, String> = redis.hgetall(&user).await?;
    println!("HSET {user} -> {added} new fields; HGETALL -> {fields:?}");

    // 5. Pipeline: several commands, one HTTP request, typed results.
    let mut pipe = redis.pipeline();
    pipe.set(format!("{prefix}a"), 1)
        .incr(format!("{prefix}a"))
        .get(format!("{prefix}a"));
    let ((), incremented, text): ((), i64, String) = pipe.exec().await?;
    println!("pipeline -> incremented to {incremented}, read back {text:?}");

    // 6. Transaction: MULTI/EXEC, all or nothing at queue time.
    let balance = format!("{prefix}balance");
    let mut tx = redis.multi();
    tx.set(&balance, 100)
        .decrby(&balance, 30)
        .incrby(&balance, 5);
    let ((), after_debit, after_credit): ((), i64, i64) = tx.exec().await?;
    println!("transaction -> {after_debit} then {after_credit}");

    // 7. Script: EVALSHA by SHA-1, EVAL only when the server does not have it yet.
    let script = Script::new(
        "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) \
         redis.call('EXPIRE', KEYS[1], ARGV[2]) return v",
    );
    let counter = format!("{prefix}script-counter");
    let first: i64 = script.exec(&redis, &counter, (10, 60)).await?;
    let second: i64 = script.exec(&redis, &counter, (10, 60)).await?;
    println!("script {} -> {first}, then {second}", &script.sha1()[..8]);

    // 8. Errors are typed: here a WRONGTYPE from Redis.
    if let Err(err) = redis.incr(&user).await {
        println!("INCR on a hash -> {:?}: {err}", err.kind());
    }

    // Clean up what this example wrote.
    let keys = [
        greeting,
        session,
        hits,
        user,
        balance,
        counter,
        format!("{prefix}a"),
    ];
    let deleted = redis.del(keys.as_slice()).await?;
    println!("DEL -> {deleted} keys removed");

    if let Some(stack) = local {
        stack.shutdown().await;
    }
    Ok(())
}

/// A client from `UPSTASH_REDIS_REST_URL`/`_TOKEN`, or, when they are not set, a local
/// stack started in-process (returned so that it can be shut down at the end).
async fn connect() -> Result<(Redis, Option<LocalStack>), BoxError> {
    if std::env::var_os("UPSTASH_REDIS_REST_URL").is_some() {
        println!("using UPSTASH_REDIS_REST_URL from the environment");
        return Ok((Redis::from_env()?, None));
    }
    println!("UPSTASH_REDIS_REST_URL is not set: starting a local stack (redis-server)...");
    let stack = LocalStack::start(Config::default()).await?;
    println!(
        "local stack ready; to use it from another shell:\n{}",
        stack.env_block()
    );
    let redis = Redis::new(stack.redis_rest_url(), stack.redis_token())?;
    Ok((redis, Some(stack)))
}
