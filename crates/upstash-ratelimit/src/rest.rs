//! The Upstash REST backend: [`upstash_redis::Redis`], through its auto-pipeline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;

use bytes::{Bytes, BytesMut};
use futures_util::future::BoxFuture;
use upstash_redis::{Command, Redis, Script, Value};

use crate::scripts::{self, LuaScript, ScriptKind};
use crate::store::{self, Call, Reply, Store};
use crate::Result;

/// The REST scripts, flagged and plain, built once.
struct RestScripts {
    flagged: Vec<(ScriptKind, Script)>,
    plain: Vec<(ScriptKind, Script)>,
}

static REST_SCRIPTS: LazyLock<RestScripts> = LazyLock::new(|| {
    let make = |flagged: bool| {
        scripts::all()
            .iter()
            .map(|s| {
                let src = if flagged { s.flagged() } else { s.plain() };
                (s.kind(), Script::new(src.text()))
            })
            .collect()
    };
    RestScripts {
        flagged: make(true),
        plain: make(false),
    }
});

fn rest_script(kind: ScriptKind, flagged: bool) -> Option<&'static Script> {
    let set = if flagged {
        &REST_SCRIPTS.flagged
    } else {
        &REST_SCRIPTS.plain
    };
    set.iter().find(|(k, _)| *k == kind).map(|(_, s)| s)
}

pub(crate) fn from_value(value: Value) -> Reply {
    match value {
        Value::Nil => Reply::Nil,
        Value::Int(i) => Reply::Int(i),
        Value::Bytes(b) => Reply::Bytes(b.to_vec()),
        Value::Status(s) => Reply::Status(s),
        Value::Array(items) => Reply::Array(items.into_iter().map(from_value).collect()),
        _ => Reply::Nil,
    }
}

/// Keys and integer arguments written into one buffer and handed to the command as slices of
/// it: one allocation for a decision (or a whole batch) instead of one per key and number.
fn packed(keys: &[String], args: &[i64]) -> (Vec<Bytes>, Vec<Bytes>) {
    let size = keys.iter().map(String::len).sum::<usize>() + args.len() * 20;
    let mut arena = BytesMut::with_capacity(size);
    let keys = keys
        .iter()
        .map(|k| {
            arena.extend_from_slice(k.as_bytes());
            arena.split().freeze()
        })
        .collect();
    let mut digits = itoa::Buffer::new();
    let args = args
        .iter()
        .map(|&n| {
            arena.extend_from_slice(digits.format(n).as_bytes());
            arena.split().freeze()
        })
        .collect();
    (keys, args)
}

/// Upstash REST store with an explicit script flavour.
///
/// A plain [`Redis`] is a [`Store`] too: it starts with the flagged scripts (what Upstash
/// runs) and switches to the flag-less ones for the rest of the process the first time a
/// server answers `Unexpected flag` (a vanilla Redis behind a REST proxy).
#[derive(Clone, Debug)]
pub struct RestStore {
    redis: Redis,
    flagged: bool,
}

impl RestStore {
    /// A store that always sends the given flavour (`flagged = true` for Upstash).
    pub fn new(redis: Redis, flagged: bool) -> Self {
        Self { redis, flagged }
    }

    /// The client.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }
}

/// Set once a server rejected the shebang; process-wide, like the script cache.
static PLAIN_ONLY: AtomicBool = AtomicBool::new(false);

/// How a script call travels: through the client's auto-pipeline, or (for a batch script,
/// whose calls the limiter already gathered) in a request of its own.
#[derive(Clone, Copy)]
enum Route {
    AutoPipeline,
    Alone,
}

async fn eval_rest<K: upstash_redis::ToArgs + ?Sized, A: upstash_redis::ToArgs + ?Sized>(
    redis: &Redis,
    script: &'static LuaScript,
    flagged: bool,
    route: Route,
    keys: &K,
    args: &A,
) -> Result<Reply> {
    let Some(s) = rest_script(script.kind(), flagged) else {
        return Err(crate::Error::Store("unknown script".into()));
    };
    let value: Value = match route {
        Route::AutoPipeline => s.exec(redis, keys, args).await?,
        Route::Alone => s.exec_alone(redis, keys, args).await?,
    };
    Ok(from_value(value))
}

async fn command_rest(redis: &Redis, args: Vec<String>) -> Result<Reply> {
    let mut it = args.into_iter();
    let Some(name) = it.next() else {
        return Err(crate::Error::Store("empty command".into()));
    };
    let mut cmd = Command::from_name(&name);
    for a in it {
        cmd.push_arg(a);
    }
    Ok(from_value(redis.execute(cmd).await?))
}

/// [`eval_rest`] with the process-wide flavour, switching to the flag-less scripts once.
async fn eval_auto<K: upstash_redis::ToArgs + ?Sized, A: upstash_redis::ToArgs + ?Sized>(
    redis: &Redis,
    script: &'static LuaScript,
    route: Route,
    keys: &K,
    args: &A,
) -> Result<Reply> {
    let flagged = !PLAIN_ONLY.load(Ordering::Relaxed);
    match eval_rest(redis, script, flagged, route, keys, args).await {
        Err(e) if flagged && e.is_unknown_script_flag() => {
            // The script was rejected before running: safe to send the plain one.
            tracing::info!("server rejects allow-key-locking; using flag-less scripts");
            PLAIN_ONLY.store(true, Ordering::Relaxed);
            eval_rest(redis, script, false, route, keys, args).await
        }
        other => other,
    }
}

/// The two REST stores: [`Redis`] picks the script flavour itself, [`RestStore`] fixes it.
/// Sealed (the module is private), so only these two implement it.
mod sealed {
    use upstash_redis::Redis;

    pub trait RestBacked: Send + Sync + std::fmt::Debug + 'static {
        /// The client the commands go through.
        fn client(&self) -> &Redis;
        /// `Some(flagged)` for a fixed flavour; `None` to send the flagged scripts until a
        /// server rejects them, then the plain ones (process-wide).
        fn flavour(&self) -> Option<bool>;
    }
}
use sealed::RestBacked;

impl RestBacked for Redis {
    fn client(&self) -> &Redis {
        self
    }

    fn flavour(&self) -> Option<bool> {
        None
    }
}

impl RestBacked for RestStore {
    fn client(&self) -> &Redis {
        &self.redis
    }

    fn flavour(&self) -> Option<bool> {
        Some(self.flagged)
    }
}

/// Runs `script` in the store's flavour.
async fn eval_in<K: upstash_redis::ToArgs + ?Sized, A: upstash_redis::ToArgs + ?Sized>(
    store: &impl RestBacked,
    script: &'static LuaScript,
    route: Route,
    keys: &K,
    args: &A,
) -> Result<Reply> {
    match store.flavour() {
        Some(flagged) => eval_rest(store.client(), script, flagged, route, keys, args).await,
        None => eval_auto(store.client(), script, route, keys, args).await,
    }
}

impl<T: RestBacked> Store for T {
    fn batches(&self) -> bool {
        true
    }

    fn eval_batch<'a>(
        &'a self,
        script: &'static LuaScript,
        calls: Vec<Call>,
    ) -> BoxFuture<'a, Result<Vec<Result<Reply>>>> {
        Box::pin(store::run_batch(
            script,
            calls,
            move |batch, keys, args| async move {
                let (keys, args) = packed(&keys, &args);
                eval_in(self, batch, Route::Alone, &keys, &args).await
            },
        ))
    }

    fn eval<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> BoxFuture<'a, Result<Reply>> {
        Box::pin(async move { eval_in(self, script, Route::AutoPipeline, &keys, &args).await })
    }

    fn eval_ints<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: &[i64],
    ) -> BoxFuture<'a, Result<Reply>> {
        let (keys, args) = packed(&keys, args);
        Box::pin(async move { eval_in(self, script, Route::AutoPipeline, &keys, &args).await })
    }

    fn command<'a>(&'a self, args: Vec<String>) -> BoxFuture<'a, Result<Reply>> {
        Box::pin(command_rest(self.client(), args))
    }

    fn pipeline<'a>(
        &'a self,
        commands: Vec<Vec<String>>,
    ) -> BoxFuture<'a, Result<Vec<Result<Reply>>>> {
        Box::pin(async move {
            let mut p = self.client().pipeline();
            for c in commands {
                let mut it = c.into_iter();
                let Some(name) = it.next() else { continue };
                let mut cmd = Command::from_name(&name);
                for a in it {
                    cmd.push_arg(a);
                }
                p.push(cmd);
            }
            if p.is_empty() {
                return Ok(Vec::new());
            }
            let results = p.exec_keep_errors().await?;
            Ok(results
                .into_iter()
                .map(|r| r.map(from_value).map_err(crate::Error::from))
                .collect())
        })
    }
}
