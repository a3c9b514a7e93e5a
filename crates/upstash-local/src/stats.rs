//! Request counters for tests and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;

#[derive(Debug, Default)]
struct Counters {
    http_requests: AtomicU64,
    single: AtomicU64,
    pipeline: AtomicU64,
    multi_exec: AtomicU64,
    sse: AtomicU64,
    commands: AtomicU64,
}

/// A cheap, cloneable handle on the Redis service's counters.
///
/// Requests to `/_local/*` are not counted.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    inner: Arc<Counters>,
}

/// A point-in-time copy of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Every HTTP request except `/_local/*` (including rejected ones).
    pub http_requests: u64,
    /// Single-command requests (`POST /` and path style).
    pub single: u64,
    /// `/pipeline` requests.
    pub pipeline: u64,
    /// `/multi-exec` requests.
    pub multi_exec: u64,
    /// SSE requests (`/subscribe`, `/psubscribe`, `/monitor`).
    pub sse: u64,
    /// Commands executed (sent to Redis or answered locally).
    pub commands: u64,
}

/// Which kind of endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Single,
    Pipeline,
    MultiExec,
    Sse,
}

impl Stats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let c = &self.inner;
        StatsSnapshot {
            http_requests: c.http_requests.load(Ordering::Relaxed),
            single: c.single.load(Ordering::Relaxed),
            pipeline: c.pipeline.load(Ordering::Relaxed),
            multi_exec: c.multi_exec.load(Ordering::Relaxed),
            sse: c.sse.load(Ordering::Relaxed),
            commands: c.commands.load(Ordering::Relaxed),
        }
    }

    /// Sets every counter to zero.
    pub fn reset(&self) {
        let c = &self.inner;
        for a in [
            &c.http_requests,
            &c.single,
            &c.pipeline,
            &c.multi_exec,
            &c.sse,
            &c.commands,
        ] {
            a.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn request(&self) {
        self.inner.http_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn endpoint(&self, e: Endpoint) {
        let c = &self.inner;
        let a = match e {
            Endpoint::Single => &c.single,
            Endpoint::Pipeline => &c.pipeline,
            Endpoint::MultiExec => &c.multi_exec,
            Endpoint::Sse => &c.sse,
        };
        a.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn commands(&self, n: usize) {
        self.inner.commands.fetch_add(n as u64, Ordering::Relaxed);
    }
}
