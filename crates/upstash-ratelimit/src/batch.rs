//! Decision batching: concurrent decisions of one limiter share one script run.
//!
//! Built on [`upstash_core::coalesce`]: a decision that finds a free slot goes to the store at
//! once as the plain single-call script (a lone caller's request is exactly what it would be
//! without batching), while decisions made as every slot is busy queue up and leave together
//! as one run of the batch script ([`Store::eval_batch`]). The server decides them in order,
//! inside one script run, so the answers equal those of single runs; the saving is the
//! per-command cost on the client, the REST server and Redis, paid once per batch.

use std::sync::Arc;

use upstash_core::coalesce::{Coalescer, Flush, Waiter};

use crate::ratelimit::Inner;
use crate::scripts::LuaScript;
use crate::store::{Call, Reply, Store};
use crate::{Error, Result};

/// Most decisions in one script run: long enough to amortise the per-command cost, short
/// enough that one run (about a microsecond per decision) never holds Redis for long.
const MAX_BATCH: usize = 128;
/// Batches outstanding at once per limiter; like the Redis auto-pipeline, two keep the
/// connection busy while the next batch fills.
const MAX_IN_FLIGHT: usize = 2;

/// A queued decision: which script, with which keys and arguments.
type Item = (&'static LuaScript, Call);

/// The per-limiter queue of decisions waiting for a slot.
#[derive(Debug)]
pub(crate) struct Batcher {
    coalescer: Coalescer<Item, Result<Reply>>,
}

impl Batcher {
    pub(crate) fn new() -> Self {
        Self {
            coalescer: Coalescer::new(MAX_BATCH, MAX_IN_FLIGHT),
        }
    }
}

/// Runs `script` for one decision, through the limiter's batcher when it has one.
pub(crate) async fn eval_decision(
    inner: &Arc<Inner>,
    script: &'static LuaScript,
    keys: Vec<String>,
    args: &[i64],
) -> Result<Reply> {
    let Some(batcher) = inner.batcher.as_ref().filter(|_| inner.store.batches()) else {
        // No batching, or the store stopped batching (a cluster refused a batch spanning
        // slots): concurrent decisions go straight to the store, each on its own.
        return inner.store.eval_ints(script, keys, args).await;
    };
    if tokio::runtime::Handle::try_current().is_err() {
        // Batches are sent from a Tokio task; on another executor decisions go one by one.
        return inner.store.eval_ints(script, keys, args).await;
    }
    let call = Call {
        keys,
        args: args.to_vec(),
    };
    batcher
        .coalescer
        .submit((script, call), || BatchFlush(Arc::clone(inner)))
        .await
        .unwrap_or_else(|e| Err(Error::Store(e.to_string())))
}

/// The limiter, as the task that sends its batches.
#[derive(Clone)]
struct BatchFlush(Arc<Inner>);

impl Flush<Item, Result<Reply>> for BatchFlush {
    async fn flush(&self, batch: Vec<(Item, Waiter<Result<Reply>>)>) {
        let store = &self.0.store;
        let script = batch.first().map(|((s, _), _)| *s);
        let one_script = batch
            .iter()
            .all(|((s, _), _)| Some(s.kind()) == script.map(|x| x.kind()));
        match script {
            // `batches()` is read again here: decisions queued before a store stopped
            // batching (a cluster refused a batch spanning slots) go one by one.
            Some(script) if batch.len() > 1 && one_script && store.batches() => {
                self.0.metrics.batched(batch.len());
                let (calls, waiters): (Vec<Call>, Vec<_>) =
                    batch.into_iter().map(|((_, call), w)| (call, w)).unzip();
                deliver(store.eval_batch(script, calls).await, waiters);
            }
            _ => {
                // A lone decision, a store that stopped batching (or, never in practice,
                // mixed scripts): single runs.
                for ((script, call), waiter) in batch {
                    let _ = waiter.send(store.eval_ints(script, call.keys, &call.args).await);
                }
            }
        }
    }

    fn coalescer(&self) -> Option<&Coalescer<Item, Result<Reply>>> {
        self.0.batcher.as_ref().map(|b| &b.coalescer)
    }
}

/// Answers each waiter of a batch: its own result, or the shared cause when the whole
/// request failed.
fn deliver(results: Result<Vec<Result<Reply>>>, waiters: Vec<Waiter<Result<Reply>>>) {
    match results {
        Ok(results) if results.len() == waiters.len() => {
            for (waiter, result) in waiters.into_iter().zip(results) {
                let _ = waiter.send(result);
            }
        }
        Ok(results) => {
            let message = format!(
                "the store answered {} results for a batch of {} decisions",
                results.len(),
                waiters.len()
            );
            for waiter in waiters {
                let _ = waiter.send(Err(Error::Store(message.clone())));
            }
        }
        Err(e) => {
            let shared = Arc::new(e);
            for waiter in waiters {
                let _ = waiter.send(Err(Error::Batch(Arc::clone(&shared))));
            }
        }
    }
}
