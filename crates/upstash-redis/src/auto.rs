//! Auto-pipelining: concurrent commands share `/pipeline` requests.
//!
//! There is no timer. A command that finds a free in-flight slot leaves at once (alone, if
//! nothing else is waiting), so a lone caller pays no added latency. Commands issued while
//! every slot is busy queue up, and the request that frees a slot takes the whole queue with
//! it (up to the batch limit). Under load, many commands therefore share one HTTP request,
//! in the order they were issued, and each caller receives its own result or error.

use upstash_core::coalesce::{CoalesceError, Coalescer, Flush, Waiter};

use crate::{Command, Error, Redis, Result, Value};

/// The client's coalescer of commands into `/pipeline` requests.
pub(crate) struct AutoPipeline {
    coalescer: Coalescer<Command, Result<Value>>,
}

impl AutoPipeline {
    pub(crate) fn new(max_batch: usize, max_in_flight: usize) -> Self {
        Self {
            coalescer: Coalescer::new(max_batch, max_in_flight),
        }
    }

    /// Requests this auto-pipeline has sent.
    pub(crate) fn requests(&self) -> u64 {
        self.coalescer.requests()
    }

    pub(crate) async fn submit(&self, client: &Redis, command: Command) -> Result<Value> {
        match self
            .coalescer
            .submit(command, || AutoFlush(client.clone()))
            .await
        {
            Ok(result) => result,
            Err(CoalesceError::NoRuntime) => Err(Error::Unavailable(
                "auto-pipelining needs a Tokio runtime".into(),
            )),
            Err(_) => Err(Error::Unavailable(
                "auto-pipeline task ended without a result".into(),
            )),
        }
    }
}

/// The client, as the task that sends its auto-pipeline's requests.
#[derive(Clone)]
struct AutoFlush(Redis);

impl Flush<Command, Result<Value>> for AutoFlush {
    async fn flush(&self, batch: Vec<(Command, Waiter<Result<Value>>)>) {
        deliver(&self.0, batch).await;
    }

    fn coalescer(&self) -> Option<&Coalescer<Command, Result<Value>>> {
        self.0.inner.auto.as_ref().map(|a| &a.coalescer)
    }
}

async fn deliver(client: &Redis, batch: Vec<(Command, Waiter<Result<Value>>)>) {
    if batch.len() == 1 {
        // A batch of one goes out as a plain command: same single request, simpler reply.
        let mut batch = batch;
        if let Some((command, waiter)) = batch.pop() {
            let result = client.send_single(&command).await;
            let _ = waiter.send(result);
        }
        return;
    }
    let (commands, waiters): (Vec<Command>, Vec<Waiter<Result<Value>>>) = batch.into_iter().unzip();
    match client.send_batch(&commands, false).await {
        Ok(results) => {
            for (waiter, result) in waiters.into_iter().zip(results) {
                let _ = waiter.send(result);
            }
        }
        Err(err) => {
            // The whole request failed: every caller gets an error of the same kind.
            let shared = std::sync::Arc::new(err);
            for waiter in waiters {
                let _ = waiter.send(Err(clone_error(&shared)));
            }
        }
    }
}

/// Errors are not `Clone` (they may hold a source error); each caller of a failed batch gets
/// an equivalent error built from the shared one.
fn clone_error(err: &Error) -> Error {
    match err {
        Error::Core(core) => Error::Core(clone_core(core)),
        Error::Redis { kind, message } => Error::Redis {
            kind: kind.clone(),
            message: message.clone(),
        },
        Error::Decode(m) => Error::Decode(m.clone()),
        Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
        Error::Unavailable(m) => Error::Unavailable(m.clone()),
        Error::Pipeline { index, source } => Error::Pipeline {
            index: *index,
            source: Box::new(clone_error(source)),
        },
    }
}

fn clone_core(err: &upstash_core::Error) -> upstash_core::Error {
    use upstash_core::Error as E;
    match err {
        E::Transport {
            message,
            maybe_sent,
            ..
        } => E::Transport {
            message: message.clone(),
            maybe_sent: *maybe_sent,
            source: None,
        },
        E::Timeout(d) => E::Timeout(*d),
        E::Unauthorized { status, message } => E::Unauthorized {
            status: *status,
            message: message.clone(),
        },
        E::Http {
            status,
            body,
            retry_after,
        } => E::Http {
            status: *status,
            body: body.clone(),
            retry_after: *retry_after,
        },
        E::MissingEnv { name, fallbacks } => E::MissingEnv {
            name: name.clone(),
            fallbacks: fallbacks.clone(),
        },
        other => E::Config(other.to_string()),
    }
}
