//! Auto-pipelining: concurrent commands share `/pipeline` requests.
//!
//! There is no timer. A command that finds a free in-flight slot leaves at once (alone, if
//! nothing else is waiting), so a lone caller pays no added latency. Commands issued while
//! every slot is busy queue up, and the request that frees a slot takes the whole queue with
//! it (up to the batch limit). Under load, many commands therefore share one HTTP request,
//! in the order they were issued, and each caller receives its own result or error.

use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::{Command, Error, Redis, Result, Value};

type Waiter = oneshot::Sender<Result<Value>>;

pub(crate) struct AutoPipeline {
    state: Mutex<State>,
    max_batch: usize,
    max_in_flight: usize,
}

struct State {
    queue: Vec<(Command, Waiter)>,
    in_flight: usize,
    /// Requests sent so far (exposed for tests and metrics).
    requests: u64,
}

impl AutoPipeline {
    pub(crate) fn new(max_batch: usize, max_in_flight: usize) -> Self {
        Self {
            state: Mutex::new(State {
                queue: Vec::new(),
                in_flight: 0,
                requests: 0,
            }),
            max_batch,
            max_in_flight,
        }
    }

    /// Requests this auto-pipeline has sent.
    pub(crate) fn requests(&self) -> u64 {
        self.state.lock().map(|s| s.requests).unwrap_or(0)
    }

    pub(crate) async fn submit(&self, client: &Redis, command: Command) -> Result<Value> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Unavailable("auto-pipelining needs a Tokio runtime".into()))?;
        let (tx, rx) = oneshot::channel();
        let batch = {
            let mut state = self
                .state
                .lock()
                .map_err(|_| Error::Unavailable("auto-pipeline state poisoned".into()))?;
            state.queue.push((command, tx));
            if state.in_flight < self.max_in_flight {
                state.in_flight += 1;
                state.requests += 1;
                Some(self.take_batch(&mut state))
            } else {
                None
            }
        };
        if let Some(batch) = batch {
            // The request runs on its own task, so a caller that stops waiting (a dropped
            // future) cannot strand the other callers of its batch.
            handle.spawn(run(client.clone(), batch));
        }
        rx.await
            .map_err(|_| Error::Unavailable("auto-pipeline task ended without a result".into()))?
    }

    fn take_batch(&self, state: &mut State) -> Vec<(Command, Waiter)> {
        if state.queue.len() <= self.max_batch {
            std::mem::take(&mut state.queue)
        } else {
            state.queue.drain(..self.max_batch).collect()
        }
    }

    /// After a request: the next batch to send on this slot, or `None` to free the slot.
    fn next_batch(&self) -> Option<Vec<(Command, Waiter)>> {
        let mut state = self.state.lock().ok()?;
        if state.queue.is_empty() {
            state.in_flight = state.in_flight.saturating_sub(1);
            None
        } else {
            state.requests += 1;
            Some(self.take_batch(&mut state))
        }
    }
}

async fn run(client: Redis, mut batch: Vec<(Command, Waiter)>) {
    loop {
        deliver(&client, batch).await;
        let Some(auto) = client.inner.auto.as_ref() else {
            return;
        };
        match auto.next_batch() {
            Some(next) => batch = next,
            None => return,
        }
    }
}

async fn deliver(client: &Redis, batch: Vec<(Command, Waiter)>) {
    if batch.len() == 1 {
        // A batch of one goes out as a plain command: same single request, simpler reply.
        let mut batch = batch;
        if let Some((command, waiter)) = batch.pop() {
            let result = client.send_single(&command).await;
            let _ = waiter.send(result);
        }
        return;
    }
    let (commands, waiters): (Vec<Command>, Vec<Waiter>) = batch.into_iter().unzip();
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
