//! The storage seam: where counters live and scripts run.

use std::fmt;

use futures_util::future::BoxFuture;

use crate::scripts::LuaScript;
use crate::{Error, Result};

/// A reply from a store, independent of the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// Nil (also Lua `false`).
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Bytes(Vec<u8>),
    /// A status reply such as `OK`.
    Status(String),
    /// An array.
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply as an integer (integers, and strings holding one).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The reply as a float (integers, and strings holding a number).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            // Counts stay far below 2^53, where the conversion is exact.
            Self::Int(i) => Some(*i as f64),
            Self::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The elements of an array reply (nil is an empty array).
    pub fn into_array(self) -> Result<Vec<Reply>> {
        match self {
            Self::Array(items) => Ok(items),
            Self::Nil => Ok(Vec::new()),
            other => Err(shape("array", &other)),
        }
    }

    /// The reply as text (strings and statuses).
    pub fn into_string(self) -> Option<String> {
        match self {
            Self::Bytes(b) => String::from_utf8(b).ok(),
            Self::Status(s) => Some(s),
            Self::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }
}

/// An error for a reply of the wrong shape.
pub(crate) fn shape(expected: &str, got: &Reply) -> Error {
    let kind = match got {
        Reply::Nil => "nil",
        Reply::Int(_) => "integer",
        Reply::Bytes(_) => "string",
        Reply::Status(_) => "status",
        Reply::Array(_) => "array",
    };
    Error::Store(format!("expected {expected}, got {kind}"))
}

/// Reads an integer element of a script reply.
pub(crate) fn int_at(items: &[Reply], i: usize) -> Result<i64> {
    items
        .get(i)
        .and_then(Reply::as_i64)
        .ok_or_else(|| Error::Store(format!("script reply element {i} is not an integer")))
}

/// Where the limiter's state lives: anything that runs this crate's Lua scripts and a few
/// plain commands atomically, as Redis does.
///
/// Implemented for the Upstash REST client ([`upstash_redis::Redis`]), for the `redis` crate's
/// multiplexed connection (feature `resp`) and for [`MemoryStore`](crate::MemoryStore)
/// (in-process, for tests and benchmarks).
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Runs `script` with `keys` and `args` (`EVALSHA`, then `EVAL` on `NOSCRIPT`). Never
    /// resend after an indeterminate failure: the script may have run.
    fn eval<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> BoxFuture<'a, Result<Reply>>;

    /// Runs `script` with integer arguments (what the limiting scripts take). The default
    /// formats them and calls [`Store::eval`]; a store that encodes integers itself (or runs
    /// the scripts natively) overrides it to skip the intermediate strings.
    fn eval_ints<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: &[i64],
    ) -> BoxFuture<'a, Result<Reply>> {
        let args = args
            .iter()
            .map(|n| itoa::Buffer::new().format(*n).to_owned())
            .collect();
        self.eval(script, keys, args)
    }

    /// Whether [`Store::eval_batch`] saves round trips here. When it does, a limiter under
    /// concurrent load sends the decisions that queue up behind a busy connection as one
    /// batch; otherwise it sends every decision on its own.
    fn batches(&self) -> bool {
        false
    }

    /// Runs `script` (a limiting script: fixed window, sliding window or token bucket) once
    /// per call, in order, and returns one result per call. The stores that batch run every
    /// call inside one server-side script run (so nothing interleaves, and the decisions equal
    /// those of that many single runs); a call whose command fails gets its own error while
    /// the others stand. The calls must come from one limiter: the same limit, window and
    /// dynamic-limit key, only identifiers, timestamps and rates differing.
    /// The default runs the calls one by one through [`Store::eval_ints`].
    fn eval_batch<'a>(
        &'a self,
        script: &'static LuaScript,
        calls: Vec<Call>,
    ) -> BoxFuture<'a, Result<Vec<Result<Reply>>>> {
        Box::pin(async move { Ok(one_by_one(self, script, calls).await) })
    }

    /// Runs one plain command (`GET`, `SET`, `DEL`, `ZINCRBY`, `HSET`, `PEXPIRE`, ...).
    fn command<'a>(&'a self, args: Vec<String>) -> BoxFuture<'a, Result<Reply>>;

    /// Runs several plain commands in one round trip (not atomically), one result each.
    fn pipeline<'a>(
        &'a self,
        commands: Vec<Vec<String>>,
    ) -> BoxFuture<'a, Result<Vec<Result<Reply>>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(commands.len());
            for c in commands {
                out.push(self.command(c).await);
            }
            Ok(out)
        })
    }
}

/// One call of [`Store::eval_batch`]: the keys and integer arguments a single run of the
/// script would get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The script's `KEYS`.
    pub keys: Vec<String>,
    /// The script's `ARGV`.
    pub args: Vec<i64>,
}

/// The calls of a batch as single script runs, in order.
pub(crate) async fn one_by_one<S: Store + ?Sized>(
    store: &S,
    script: &'static LuaScript,
    calls: Vec<Call>,
) -> Vec<Result<Reply>> {
    let mut out = Vec::with_capacity(calls.len());
    for call in calls {
        out.push(store.eval_ints(script, call.keys, &call.args).await);
    }
    out
}

/// One batch-script run for `calls` (see [`Store::eval_batch`]): `eval` runs the batch
/// flavour of `script` with the packed keys and arguments.
pub(crate) async fn run_batch<'a, F, Fut>(
    script: &'static LuaScript,
    calls: Vec<Call>,
    eval: F,
) -> Result<Vec<Result<Reply>>>
where
    F: FnOnce(&'static LuaScript, Vec<String>, Vec<i64>) -> Fut,
    Fut: std::future::Future<Output = Result<Reply>> + 'a,
{
    let Some((batch, shape)) = crate::scripts::batched(script) else {
        return Err(Error::Config("this script cannot run in batches".into()));
    };
    let n = calls.len();
    let (keys, args) = shape.pack(calls)?;
    shape.unpack_replies(eval(batch, keys, args).await?, n)
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn batches(&self) -> bool {
        (**self).batches()
    }

    fn eval_batch<'a>(
        &'a self,
        script: &'static LuaScript,
        calls: Vec<Call>,
    ) -> BoxFuture<'a, Result<Vec<Result<Reply>>>> {
        (**self).eval_batch(script, calls)
    }

    fn eval<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> BoxFuture<'a, Result<Reply>> {
        (**self).eval(script, keys, args)
    }

    fn eval_ints<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: &[i64],
    ) -> BoxFuture<'a, Result<Reply>> {
        (**self).eval_ints(script, keys, args)
    }

    fn command<'a>(&'a self, args: Vec<String>) -> BoxFuture<'a, Result<Reply>> {
        (**self).command(args)
    }

    fn pipeline<'a>(
        &'a self,
        commands: Vec<Vec<String>>,
    ) -> BoxFuture<'a, Result<Vec<Result<Reply>>>> {
        (**self).pipeline(commands)
    }
}
