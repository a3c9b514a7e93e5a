//! The RESP backend: any Redis / Valkey through the `redis` crate (feature `resp`).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use redis::aio::ConnectionLike;

use crate::scripts::LuaScript;
use crate::store::{self, Call, Reply, Store};
use crate::{Error, Result};

/// A [`Store`] over a `redis` crate async connection: a
/// [`MultiplexedConnection`](redis::aio::MultiplexedConnection) (one socket; concurrent
/// decisions are pipelined on it), a `ConnectionManager`, or a cluster connection.
///
/// Sends the flag-less scripts (vanilla Redis rejects the `allow-key-locking` shebang) with
/// `EVALSHA`, and `EVAL` only on `NOSCRIPT`.
///
/// Decisions are batched under load ([`Store::eval_batch`]). On Redis Cluster a batch spans
/// several identifiers and so several slots: the first `CROSSSLOT` answer (given before the
/// script runs) turns batching off for this store and its clones, and that batch's calls run
/// one by one; or turn it off from the start with [`RespStore::with_batching`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use upstash_ratelimit::{Algorithm, Ratelimit, RespStore};
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let conn = client.get_multiplexed_async_connection().await?;
/// let limiter = Ratelimit::new(RespStore::new(conn), Algorithm::fixed_window(10, "1m")?)?;
/// # let _ = limiter; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RespStore<C> {
    conn: C,
    flagged: bool,
    /// Set when batches are off (by choice, or after a `CROSSSLOT`); shared by clones.
    single_only: Arc<AtomicBool>,
}

impl<C> fmt::Debug for RespStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RespStore")
            .field("flagged", &self.flagged)
            .field("batching", &!self.single_only.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<C> RespStore<C> {
    /// A store sending the flag-less scripts.
    pub fn new(conn: C) -> Self {
        Self {
            conn,
            flagged: false,
            single_only: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Lets limiters batch decisions on this store (default on; see the type's docs).
    pub fn with_batching(self, on: bool) -> Self {
        self.single_only.store(!on, Ordering::Relaxed);
        self
    }

    /// Sends the `allow-key-locking` flavour instead (for servers that accept it).
    pub fn with_key_locking(mut self, on: bool) -> Self {
        self.flagged = on;
        self
    }

    /// The connection.
    pub fn connection(&self) -> &C {
        &self.conn
    }
}

pub(crate) fn from_value(value: redis::Value) -> Result<Reply> {
    use redis::Value as V;
    Ok(match value {
        V::Nil => Reply::Nil,
        V::Int(i) => Reply::Int(i),
        V::BulkString(b) => Reply::Bytes(b),
        V::SimpleString(s) => Reply::Status(s),
        V::Okay => Reply::Status("OK".into()),
        V::Array(items) | V::Set(items) => Reply::Array(
            items
                .into_iter()
                .map(from_value)
                .collect::<Result<Vec<_>>>()?,
        ),
        V::Boolean(b) => Reply::Int(i64::from(b)),
        V::Double(d) => Reply::Bytes(d.to_string().into_bytes()),
        V::Map(pairs) => {
            let mut out = Vec::with_capacity(pairs.len() * 2);
            for (k, v) in pairs {
                out.push(from_value(k)?);
                out.push(from_value(v)?);
            }
            Reply::Array(out)
        }
        other => {
            let v = other.extract_error()?;
            return Err(Error::Store(format!(
                "unsupported RESP reply kind: {}",
                match v {
                    V::VerbatimString { .. } => "verbatim string",
                    _ => "other",
                }
            )));
        }
    })
}

/// Whether a cluster refused a command whose keys span several slots (before running it).
fn is_cross_slot(e: &Error) -> bool {
    match e {
        Error::Resp(e) => {
            e.code() == Some("CROSSSLOT")
                || e.to_string()
                    .to_ascii_lowercase()
                    .replace('-', "")
                    .contains("crossslot")
        }
        _ => false,
    }
}

fn is_noscript(e: &redis::RedisError) -> bool {
    e.code() == Some("NOSCRIPT")
}

impl<C> RespStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// `EVALSHA`, then `EVAL` on `NOSCRIPT`; `push_args` appends the arguments.
    async fn run_script(
        &self,
        script: &'static LuaScript,
        keys: &[String],
        push_args: impl Fn(&mut redis::Cmd),
    ) -> Result<Reply> {
        let src = if self.flagged {
            script.flagged()
        } else {
            script.plain()
        };
        let mut conn = self.conn.clone();
        let build = |name: &str, body: &str| {
            let mut cmd = redis::cmd(name);
            cmd.arg(body).arg(keys.len());
            for k in keys {
                cmd.arg(k.as_str());
            }
            push_args(&mut cmd);
            cmd
        };
        // Plain EVALSHA even for read-only scripts: EVALSHA_RO needs Redis 7.
        match build("EVALSHA", src.sha1())
            .query_async::<redis::Value>(&mut conn)
            .await
        {
            Ok(v) => from_value(v),
            Err(e) if is_noscript(&e) => {
                tracing::debug!(sha1 = src.sha1(), "ratelimit: script reload (NOSCRIPT)");
                let v = build("EVAL", src.text())
                    .query_async::<redis::Value>(&mut conn)
                    .await?;
                from_value(v)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl<C> Store for RespStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn eval<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> BoxFuture<'a, Result<Reply>> {
        Box::pin(async move {
            self.run_script(script, &keys, |cmd| {
                for a in &args {
                    cmd.arg(a.as_str());
                }
            })
            .await
        })
    }

    fn eval_ints<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: &[i64],
    ) -> BoxFuture<'a, Result<Reply>> {
        // Integers go straight into the command buffer (no intermediate strings).
        let args = args.to_vec();
        Box::pin(async move {
            self.run_script(script, &keys, |cmd| {
                for a in &args {
                    cmd.arg(*a);
                }
            })
            .await
        })
    }

    fn batches(&self) -> bool {
        !self.single_only.load(Ordering::Relaxed)
    }

    fn eval_batch<'a>(
        &'a self,
        script: &'static LuaScript,
        calls: Vec<Call>,
    ) -> BoxFuture<'a, Result<Vec<Result<Reply>>>> {
        Box::pin(async move {
            // Kept for a cluster's CROSSSLOT refusal, after which the calls run one by one.
            let retry = calls.clone();
            let batch = store::run_batch(script, calls, |batch, keys, args| async move {
                self.run_script(batch, &keys, |cmd| {
                    for a in &args {
                        cmd.arg(*a);
                    }
                })
                .await
            })
            .await;
            match batch {
                Err(e) if is_cross_slot(&e) => {
                    tracing::info!("ratelimit: CROSSSLOT on a batch; deciding one by one");
                    self.single_only.store(true, Ordering::Relaxed);
                    Ok(store::one_by_one(self, script, retry).await)
                }
                other => other,
            }
        })
    }

    fn command<'a>(&'a self, args: Vec<String>) -> BoxFuture<'a, Result<Reply>> {
        Box::pin(async move {
            let mut it = args.iter();
            let Some(name) = it.next() else {
                return Err(Error::Store("empty command".into()));
            };
            let mut cmd = redis::cmd(name);
            for a in it {
                cmd.arg(a.as_str());
            }
            let mut conn = self.conn.clone();
            from_value(cmd.query_async::<redis::Value>(&mut conn).await?)
        })
    }

    fn pipeline<'a>(
        &'a self,
        commands: Vec<Vec<String>>,
    ) -> BoxFuture<'a, Result<Vec<Result<Reply>>>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            let mut n = 0;
            for c in &commands {
                let mut it = c.iter();
                let Some(name) = it.next() else { continue };
                let cmd = pipe.cmd(name);
                for a in it {
                    cmd.arg(a.as_str());
                }
                n += 1;
            }
            if n == 0 {
                return Ok(Vec::new());
            }
            let mut conn = self.conn.clone();
            let values: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
            Ok(values
                .into_iter()
                .map(|v| v.extract_error().map_err(Error::from).and_then(from_value))
                .collect())
        })
    }
}
