//! What a decision returns.

use std::fmt;

use tokio::task::JoinHandle;

/// Why the server did not decide (unset when it did).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The decision did not arrive in time; the timeout policy decided.
    Timeout,
    /// The identifier was blocked by the ephemeral cache; no server call was made.
    CacheBlock,
    /// A deny list holds the identifier, IP, user agent or country.
    DenyList,
    /// The store failed and the error policy decided.
    Error,
}

impl Reason {
    /// The JS spelling (`"timeout"`, `"cacheBlock"`, `"denyList"`, `"error"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::CacheBlock => "cacheBlock",
            Self::DenyList => "denyList",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Background work started by a decision (analytics, a cached window's write, a
/// multi-region sync, a call that outlived its timeout): the JS `pending` promise.
///
/// Dropping it does not cancel the work; [`Pending::wait`] waits for it (useful in
/// serverless handlers and tests).
#[derive(Default)]
#[must_use = "background work runs anyway; call .wait() to wait for it"]
pub struct Pending {
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

impl Pending {
    /// Runs `fut` in the background, when a Tokio runtime is available.
    pub(crate) fn spawn<F>(&mut self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            self.tasks.push(handle.spawn(fut));
        }
    }

    /// Whether there is no background work.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits until all background work has finished.
    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The outcome of [`Ratelimit::limit`](crate::Ratelimit::limit).
#[derive(Debug)]
#[non_exhaustive]
pub struct Response {
    /// Whether the request may proceed.
    pub success: bool,
    /// The effective limit (the dynamic limit when one is set; 0 on a timeout or deny-cache
    /// hit, as in JS).
    pub limit: i64,
    /// Tokens left.
    pub remaining: i64,
    /// When the limit resets, in ms since the Unix epoch (0 when unknown).
    pub reset: i64,
    /// Why the server did not decide, if it did not.
    pub reason: Option<Reason>,
    /// The deny-listed value that blocked the request.
    pub denied_value: Option<String>,
    /// Background work started by this call.
    pub pending: Pending,
}

impl Response {
    pub(crate) fn new(success: bool, limit: i64, remaining: i64, reset: i64) -> Self {
        Self {
            success,
            limit,
            remaining,
            reset,
            reason: None,
            denied_value: None,
            pending: Pending::default(),
        }
    }

    pub(crate) fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Milliseconds until `reset` from `now_ms` (0 when already past or unknown).
    pub fn retry_after_ms(&self, now_ms: i64) -> i64 {
        if self.reset <= 0 {
            0
        } else {
            (self.reset - now_ms).max(0)
        }
    }
}

/// The outcome of [`Ratelimit::get_remaining`](crate::Ratelimit::get_remaining).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Remaining {
    /// Tokens left.
    pub remaining: i64,
    /// When the limit resets, in ms since the Unix epoch.
    pub reset: i64,
    /// The effective limit.
    pub limit: i64,
}
