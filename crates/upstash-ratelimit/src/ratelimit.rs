//! The single-region limiter.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::task::Poll;
use std::time::Duration;

use crate::algorithm::Algorithm;
use crate::batch::{eval_decision, Batcher};
use crate::cache::EphemeralCache;
use crate::clock::{Clock, SystemClock};
use crate::ip_list::IpDenyList;
use crate::response::{Pending, Reason, Remaining, Response};
use crate::scripts;
use crate::store::{int_at, Reply, Store};
use crate::{Error, Result};

/// The JS default prefix.
pub const DEFAULT_PREFIX: &str = "@upstash/ratelimit";

/// What to answer when the decision does not arrive within the timeout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutPolicy {
    /// Allow the request, with `reason = Timeout` and zeros (JS behaviour).
    #[default]
    FailOpen,
    /// Reject the request, with `reason = Timeout` and zeros.
    FailClosed,
    /// Return [`Error::Timeout`].
    Error,
}

/// What to answer when the store fails (network, server error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// Return the error (JS behaviour: `limit()` rejects).
    #[default]
    Propagate,
    /// Allow the request, with `reason = Error`.
    FailOpen,
    /// Reject the request, with `reason = Error`.
    FailClosed,
}

/// Per-call options of [`Ratelimit::limit_with`]. Build with struct update syntax:
/// `LimitOptions { rate: 5, ..Default::default() }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitOptions {
    /// Tokens to take (default 1). Negative values refund, 0 only reads.
    pub rate: i64,
    /// Client IP, checked against the deny lists when protection is on.
    pub ip: Option<String>,
    /// User agent, checked against the deny lists when protection is on.
    pub user_agent: Option<String>,
    /// Country, checked against the deny lists when protection is on.
    pub country: Option<String>,
    /// Geo fields appended, in this order, to the analytics event (the JS `req.geo`).
    pub geo: Vec<(String, String)>,
}

impl Default for LimitOptions {
    fn default() -> Self {
        Self {
            rate: 1,
            ip: None,
            user_agent: None,
            country: None,
            geo: Vec::new(),
        }
    }
}

impl LimitOptions {
    /// Options taking `rate` tokens.
    pub fn rate(rate: i64) -> Self {
        Self {
            rate,
            ..Self::default()
        }
    }
}

/// Decision counters of one limiter (shared by its clones); also reported as `tracing`
/// events at debug level under the `ratelimit.limit` span.
#[derive(Debug, Default)]
pub struct Metrics {
    decisions: AtomicU64,
    allowed: AtomicU64,
    rejected: AtomicU64,
    cache_blocks: AtomicU64,
    deny_blocks: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
    batched: AtomicU64,
}

/// A copy of [`Metrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Calls of `limit`/`limit_with` that returned a decision.
    pub decisions: u64,
    /// Decisions that allowed the request.
    pub allowed: u64,
    /// Decisions that rejected the request.
    pub rejected: u64,
    /// Rejections served by the ephemeral cache (no server call).
    pub cache_blocks: u64,
    /// Rejections by a deny list.
    pub deny_blocks: u64,
    /// Decisions made by the timeout policy.
    pub timeouts: u64,
    /// Decisions made by the error policy, or errors returned.
    pub errors: u64,
    /// Decisions the store made in a batch (several in one script run; see
    /// [`RatelimitBuilder::batching`]).
    pub batched: u64,
}

impl Metrics {
    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            decisions: r(&self.decisions),
            allowed: r(&self.allowed),
            rejected: r(&self.rejected),
            cache_blocks: r(&self.cache_blocks),
            deny_blocks: r(&self.deny_blocks),
            timeouts: r(&self.timeouts),
            errors: r(&self.errors),
            batched: r(&self.batched),
        }
    }

    /// Counts the decisions of a batch sent to the store.
    pub(crate) fn batched(&self, n: usize) {
        self.batched.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn count(&self, res: &Response) {
        let add = |a: &AtomicU64| a.fetch_add(1, Ordering::Relaxed);
        add(&self.decisions);
        add(if res.success {
            &self.allowed
        } else {
            &self.rejected
        });
        match res.reason {
            Some(Reason::CacheBlock) => add(&self.cache_blocks),
            Some(Reason::DenyList) => add(&self.deny_blocks),
            Some(Reason::Timeout) => add(&self.timeouts),
            Some(Reason::Error) => add(&self.errors),
            None => 0,
        };
        tracing::debug!(
            success = res.success,
            remaining = res.remaining,
            reason = res.reason.map(Reason::as_str),
            "ratelimit decision"
        );
    }
}

/// How keys are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyStyle {
    /// `prefix:id[:window]`, shared with JS.
    Js,
    /// `prefix:{id}[:window]`: every key of one identifier in one Redis Cluster slot.
    HashTagged,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) algorithm: Algorithm,
    pub(crate) prefix: String,
    pub(crate) cache: Option<Arc<EphemeralCache>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) timeout_policy: TimeoutPolicy,
    pub(crate) error_policy: ErrorPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) analytics: bool,
    pub(crate) protection: bool,
    pub(crate) ip_list: Option<IpDenyList>,
    pub(crate) dynamic: bool,
    pub(crate) keys: KeyStyle,
    pub(crate) metrics: Metrics,
    /// Queue of decisions sharing script runs (see [`RatelimitBuilder::batching`]).
    pub(crate) batcher: Option<Batcher>,
}

/// A rate limiter: one algorithm, one store, one key prefix.
///
/// Cloning is cheap (an `Arc`); clones share the ephemeral cache.
///
/// ```no_run
/// use upstash_ratelimit::{Algorithm, Ratelimit};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let redis = upstash_redis::Redis::from_env()?;
/// let limiter = Ratelimit::builder(redis, Algorithm::sliding_window(10, "10 s")?).build()?;
/// let res = limiter.limit("user:42").await?;
/// if !res.success {
///     println!("retry in {} ms", res.retry_after_ms(0));
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Ratelimit {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Ratelimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ratelimit")
            .field("algorithm", &self.inner.algorithm)
            .field("prefix", &self.inner.prefix)
            .field("cache", &self.inner.cache.is_some())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Options of a [`Ratelimit`]; from [`Ratelimit::builder`].
#[must_use = "call .build()"]
pub struct RatelimitBuilder {
    store: Arc<dyn Store>,
    algorithm: Algorithm,
    prefix: String,
    cache: Option<Arc<EphemeralCache>>,
    timeout: Option<Duration>,
    timeout_policy: TimeoutPolicy,
    error_policy: ErrorPolicy,
    clock: Arc<dyn Clock>,
    analytics: bool,
    protection: bool,
    ip_list: Option<IpDenyList>,
    dynamic: bool,
    keys: KeyStyle,
    batching: bool,
}

impl fmt::Debug for RatelimitBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RatelimitBuilder")
            .field("algorithm", &self.algorithm)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RatelimitBuilder {
    /// First segment of every key (default `@upstash/ratelimit`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Turns the ephemeral block cache on (default, 100k entries) or off.
    pub fn ephemeral_cache(mut self, on: bool) -> Self {
        self.cache = on.then(|| Arc::new(EphemeralCache::default()));
        self
    }

    /// Uses a cache shared with other limiters (blocks survive across instances).
    pub fn shared_cache(mut self, cache: Arc<EphemeralCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Decision timeout (default 5 s; `None` waits for ever).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// What a timeout answers (default [`TimeoutPolicy::FailOpen`], as JS).
    pub fn timeout_policy(mut self, policy: TimeoutPolicy) -> Self {
        self.timeout_policy = policy;
        self
    }

    /// What a store failure answers (default [`ErrorPolicy::Propagate`], as JS).
    pub fn error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.error_policy = policy;
        self
    }

    /// Records one analytics event per call (`ZINCRBY prefix:events:<hour>`), in the
    /// background.
    pub fn analytics(mut self, on: bool) -> Self {
        self.analytics = on;
        self
    }

    /// Checks the deny lists (`prefix:denyList:all`) with each call.
    pub fn protection(mut self, on: bool) -> Self {
        self.protection = on;
        self
    }

    /// Keeps the automatic IP deny list (the ipsum feed at one level) in the deny lists and
    /// refreshes it daily, as `@upstash/ratelimit`'s protection does; turns protection on.
    /// Off by default here (the JS SDK turns it on with protection, at level 6): it makes the
    /// service fetch the feed from GitHub, which should be a decision.
    pub fn ip_deny_list(mut self, list: IpDenyList) -> Self {
        self.protection = true;
        self.ip_list = Some(list);
        self
    }

    /// Reads the limit from `prefix:dynamic:global` when it is set.
    pub fn dynamic_limits(mut self, on: bool) -> Self {
        self.dynamic = on;
        self
    }

    /// The time source (default the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Hash-tagged keys (`prefix:{id}:window`) so every key of an identifier lands in one
    /// Redis Cluster slot. **Not shared with JS**, which uses `prefix:id:window`. Dynamic
    /// limits are unavailable in this mode (their key lives in another slot).
    pub fn hash_tagged_keys(mut self, on: bool) -> Self {
        self.keys = if on {
            KeyStyle::HashTagged
        } else {
            KeyStyle::Js
        };
        self
    }

    /// Lets decisions made while the store is busy share one script run (default on). A lone
    /// call still goes out at once as a single script, so this adds no latency; under load the
    /// decisions queued behind a busy request leave together, decided in order inside one
    /// script run with the same keys and arithmetic, so every answer equals a single run's and
    /// the keys stay shared with `@upstash/ratelimit`. Applies to the fixed window, sliding
    /// window and token bucket on stores that batch ([`Store::batches`]: Upstash REST and
    /// RESP); never with hash-tagged keys, whose identifiers live in different cluster slots.
    pub fn batching(mut self, on: bool) -> Self {
        self.batching = on;
        self
    }

    /// Builds the limiter.
    pub fn build(self) -> Result<Ratelimit> {
        if matches!(self.algorithm, Algorithm::CachedFixedWindow { .. }) && self.cache.is_none() {
            return Err(Error::Config(
                "the cached fixed window needs the ephemeral cache".into(),
            ));
        }
        if self.dynamic && self.keys == KeyStyle::HashTagged {
            return Err(Error::Config(
                "dynamic limits cannot be used with hash-tagged keys".into(),
            ));
        }
        let batching = self.batching
            && self.keys == KeyStyle::Js
            && self.store.batches()
            && !matches!(self.algorithm, Algorithm::CachedFixedWindow { .. });
        Ok(Ratelimit {
            inner: Arc::new(Inner {
                batcher: batching.then(Batcher::new),
                store: self.store,
                algorithm: self.algorithm,
                prefix: self.prefix,
                cache: self.cache,
                timeout: self.timeout,
                timeout_policy: self.timeout_policy,
                error_policy: self.error_policy,
                clock: self.clock,
                analytics: self.analytics,
                protection: self.protection,
                ip_list: self.ip_list,
                dynamic: self.dynamic,
                keys: self.keys,
                metrics: Metrics::default(),
            }),
        })
    }
}

/// Process-wide deny cache: value -> blocked until (ms). Cleared when it grows past 1000.
static DENY_CACHE: LazyLock<Mutex<HashMap<String, i64>>> = LazyLock::new(Mutex::default);
const DENY_CACHE_MS: i64 = 60_000;

fn deny_cache_key(prefix: &str, value: &str) -> String {
    let mut k = String::with_capacity(prefix.len() + value.len() + 1);
    k.push_str(prefix);
    k.push('\0');
    k.push_str(value);
    k
}

/// The decision as the server made it, before policies.
struct Decision {
    response: Response,
}

type DecideFuture = Pin<Box<dyn Future<Output = Result<Decision>> + Send>>;

impl Ratelimit {
    /// A builder with the JS defaults: prefix `@upstash/ratelimit`, ephemeral cache on,
    /// timeout 5 s failing open, analytics, protection and dynamic limits off.
    pub fn builder(store: impl Store, algorithm: Algorithm) -> RatelimitBuilder {
        RatelimitBuilder {
            store: Arc::new(store),
            algorithm,
            prefix: DEFAULT_PREFIX.to_owned(),
            cache: Some(Arc::new(EphemeralCache::default())),
            timeout: Some(Duration::from_secs(5)),
            timeout_policy: TimeoutPolicy::FailOpen,
            error_policy: ErrorPolicy::Propagate,
            clock: Arc::new(SystemClock),
            analytics: false,
            protection: false,
            ip_list: None,
            dynamic: false,
            keys: KeyStyle::Js,
            batching: true,
        }
    }

    /// A limiter with every option at its default.
    pub fn new(store: impl Store, algorithm: Algorithm) -> Result<Self> {
        Self::builder(store, algorithm).build()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> &Algorithm {
        &self.inner.algorithm
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Decision counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// The ephemeral cache, when on.
    pub fn cache(&self) -> Option<&Arc<EphemeralCache>> {
        self.inner.cache.as_ref()
    }

    /// Takes one token for `id`.
    pub async fn limit(&self, id: &str) -> Result<Response> {
        self.limit_with(id, LimitOptions::default()).await
    }

    /// Takes `options.rate` tokens for `id` (negative rates refund), checking the deny lists
    /// with the other options when protection is on.
    #[tracing::instrument(
        name = "ratelimit.limit",
        level = "debug",
        skip_all,
        fields(algorithm = self.inner.algorithm.name(), rate = options.rate)
    )]
    pub async fn limit_with(&self, id: &str, options: LimitOptions) -> Result<Response> {
        let inner = &self.inner;
        let now = inner.clock.now_ms();

        // 1. The deny cache: no server call.
        if inner.protection {
            if let Some(value) = self.deny_cache_hit(id, &options, now) {
                let mut res = Response::new(false, 0, 0, 0).with_reason(Reason::DenyList);
                res.denied_value = Some(value);
                self.record(&mut res, id, &options, now);
                return Ok(res);
            }
        }

        let base = inner.base_key(id);

        // 2. The ephemeral block cache: no server call.
        if options.rate > 0 && !matches!(inner.algorithm, Algorithm::CachedFixedWindow { .. }) {
            if let Some(until) = inner
                .cache
                .as_ref()
                .and_then(|c| c.blocked_until(&base, now))
            {
                tracing::trace!("ratelimit: cache block");
                let mut res = Response::new(false, inner.algorithm.tokens(), 0, until)
                    .with_reason(Reason::CacheBlock);
                self.record(&mut res, id, &options, now);
                return Ok(res);
            }
        }

        // 3. The server. The identifier and options only travel with the deny-list check.
        let (owned_id, deny_options) = if inner.protection {
            (id.to_owned(), Some(options.clone()))
        } else {
            (String::new(), None)
        };
        let mut fut: DecideFuture = Box::pin(decide(
            Arc::clone(&self.inner),
            owned_id,
            base,
            options.rate,
            deny_options,
            now,
        ));
        // A store that answers on the first poll (in-process, or a reply already there)
        // needs no timer.
        let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
        let outcome = match (first, inner.timeout) {
            (Poll::Ready(outcome), _) => outcome,
            (Poll::Pending, None) => fut.await,
            (Poll::Pending, Some(t)) => match tokio::time::timeout(t, &mut fut).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::debug!("ratelimit: decision timed out");
                    // Like JS, the call is not cancelled: it finishes in the background
                    // (its increment and cache block still happen).
                    let mut pending = Pending::default();
                    pending.spawn(async move {
                        let _ = fut.await;
                    });
                    let success = match inner.timeout_policy {
                        TimeoutPolicy::FailOpen => true,
                        TimeoutPolicy::FailClosed => false,
                        TimeoutPolicy::Error => return Err(Error::Timeout),
                    };
                    let mut res = Response::new(success, 0, 0, 0).with_reason(Reason::Timeout);
                    res.pending = pending;
                    self.record(&mut res, id, &options, now);
                    return Ok(res);
                }
            },
        };
        let mut res = match outcome {
            Ok(d) => d.response,
            Err(e) => {
                let success = match inner.error_policy {
                    ErrorPolicy::Propagate => {
                        inner.metrics.errors.fetch_add(1, Ordering::Relaxed);
                        return Err(e);
                    }
                    ErrorPolicy::FailOpen => true,
                    ErrorPolicy::FailClosed => false,
                };
                tracing::warn!(error = %e, "ratelimit: store failed; policy decides");
                Response::new(success, 0, 0, 0).with_reason(Reason::Error)
            }
        };
        self.record(&mut res, id, &options, now);
        Ok(res)
    }

    fn deny_cache_hit(&self, id: &str, options: &LimitOptions, now: i64) -> Option<String> {
        let mut cache = DENY_CACHE.lock().ok()?;
        for value in members(id, options) {
            let key = deny_cache_key(&self.inner.prefix, value);
            match cache.get(&key) {
                Some(&until) if until > now => return Some(value.to_owned()),
                Some(_) => {
                    cache.remove(&key);
                }
                None => {}
            }
        }
        None
    }

    /// Sends the analytics event in the background.
    fn record(&self, res: &mut Response, id: &str, options: &LimitOptions, now: i64) {
        self.inner.metrics.count(res);
        if !self.inner.analytics {
            return;
        }
        let (identifier, success) = match (&res.reason, &res.denied_value) {
            (Some(Reason::DenyList), Some(v)) => (v.as_str(), "\"denied\""),
            _ => (id, if res.success { "true" } else { "false" }),
        };
        let cmd = analytics_event(&self.inner.prefix, identifier, success, &options.geo, now);
        let store = Arc::clone(&self.inner.store);
        res.pending.spawn(async move {
            if let Err(e) = store.command(cmd).await {
                tracing::warn!(error = %e, "ratelimit: analytics write failed");
            }
        });
    }

    /// Refreshes the automatic IP deny list now (see [`RatelimitBuilder::ip_deny_list`]);
    /// returns how many addresses it holds.
    pub async fn refresh_ip_deny_list(&self) -> Result<usize> {
        let list = self.inner.ip_list.as_ref().ok_or_else(|| {
            Error::Config("no IP deny list configured (RatelimitBuilder::ip_deny_list)".into())
        })?;
        let now = self.inner.clock.now_ms();
        list.refresh(self.inner.store.as_ref(), self.inner.ip_list_keys(), now)
            .await
    }

    /// Removes the automatic IP addresses from the deny lists and stops their refresh (for
    /// every service sharing the prefix) until [`Ratelimit::refresh_ip_deny_list`] runs again;
    /// values added to the deny list by hand stay.
    pub async fn disable_ip_deny_list(&self) -> Result<()> {
        self.inner
            .store
            .eval(&scripts::IP_DISABLE, self.inner.ip_list_keys(), Vec::new())
            .await
            .map(|_| ())
    }

    /// The tokens left for `id`, without taking any.
    pub async fn get_remaining(&self, id: &str) -> Result<Remaining> {
        let inner = &self.inner;
        let now = inner.clock.now_ms();
        let base = inner.base_key(id);
        match inner.algorithm {
            Algorithm::FixedWindow { tokens, window } => {
                let bucket = now.div_euclid(window.ms());
                let mut keys = vec![window_key(&base, bucket)];
                inner.push_dynamic(&mut keys);
                let r = inner
                    .store
                    .eval(&scripts::FIXED_REM, keys, vec![tokens.to_string()])
                    .await?
                    .into_array()?;
                Ok(Remaining {
                    remaining: int_at(&r, 0)?.max(0),
                    reset: (bucket + 1) * window.ms(),
                    limit: int_at(&r, 1)?,
                })
            }
            Algorithm::SlidingWindow { tokens, window } => {
                let bucket = now.div_euclid(window.ms());
                let mut keys = vec![window_key(&base, bucket), window_key(&base, bucket - 1)];
                inner.push_dynamic(&mut keys);
                let args = vec![tokens.to_string(), now.to_string(), window.ms().to_string()];
                let r = inner
                    .store
                    .eval(&scripts::SLIDING_REM, keys, args)
                    .await?
                    .into_array()?;
                Ok(Remaining {
                    remaining: int_at(&r, 0)?.max(0),
                    reset: (bucket + 1) * window.ms(),
                    limit: int_at(&r, 1)?,
                })
            }
            Algorithm::TokenBucket {
                interval,
                max_tokens,
                ..
            } => {
                let mut keys = vec![base];
                inner.push_dynamic(&mut keys);
                let r = inner
                    .store
                    .eval(&scripts::TOKEN_REM, keys, vec![max_tokens.to_string()])
                    .await?
                    .into_array()?;
                let refilled_at = int_at(&r, 1)?;
                Ok(Remaining {
                    remaining: int_at(&r, 0)?,
                    reset: if refilled_at == -1 {
                        now + interval.ms()
                    } else {
                        refilled_at + interval.ms()
                    },
                    limit: int_at(&r, 2)?,
                })
            }
            Algorithm::CachedFixedWindow { tokens, window } => {
                let bucket = now.div_euclid(window.ms());
                let key = window_key(&base, bucket);
                let reset = (bucket + 1) * window.ms();
                if let Some(used) = inner.cache.as_ref().and_then(|c| c.get(&key)) {
                    return Ok(Remaining {
                        remaining: (tokens - used).max(0),
                        reset,
                        limit: tokens,
                    });
                }
                let used = inner
                    .store
                    .eval(&scripts::CACHED_REM, vec![key], Vec::new())
                    .await?
                    .as_i64()
                    .unwrap_or(0);
                Ok(Remaining {
                    remaining: (tokens - used).max(0),
                    reset,
                    limit: tokens,
                })
            }
        }
    }

    /// Forgets what `id` used: deletes exactly its current and previous window keys (or its
    /// bucket), never scanning the keyspace, and drops its ephemeral-cache entries.
    pub async fn reset_used_tokens(&self, id: &str) -> Result<()> {
        let inner = &self.inner;
        let now = inner.clock.now_ms();
        let base = inner.base_key(id);
        if let Some(cache) = &inner.cache {
            cache.pop(&base);
        }
        let mut cmd = vec!["DEL".to_owned()];
        match inner.algorithm {
            Algorithm::TokenBucket { .. } => cmd.push(base),
            Algorithm::FixedWindow { window, .. }
            | Algorithm::SlidingWindow { window, .. }
            | Algorithm::CachedFixedWindow { window, .. } => {
                let bucket = now.div_euclid(window.ms());
                for b in [bucket, bucket - 1] {
                    let key = window_key(&base, b);
                    if let Some(cache) = &inner.cache {
                        cache.pop(&key);
                    }
                    cmd.push(key);
                }
            }
        }
        if inner.keys == KeyStyle::HashTagged {
            // One slot per identifier: a multi-key DEL is fine.
        }
        inner.store.command(cmd).await?;
        Ok(())
    }

    /// Calls [`Ratelimit::limit`] until it succeeds or `timeout` has passed, sleeping until
    /// each reset in between (at least 100 ms). Returns the last response.
    pub async fn block_until_ready(&self, id: &str, timeout: Duration) -> Result<Response> {
        if timeout.is_zero() {
            return Err(Error::Config("timeout must be positive".into()));
        }
        let clock = &self.inner.clock;
        let deadline = clock
            .now_ms()
            .saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX));
        loop {
            let res = self.limit(id).await?;
            if res.success || res.reset == 0 {
                return Ok(res);
            }
            let now = clock.now_ms();
            let wait = res.reset.min(deadline) - now;
            let wait = if wait <= 0 { 100 } else { wait };
            tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
            if clock.now_ms() > deadline {
                return Ok(res);
            }
        }
    }

    /// Sets (`Some`) or clears (`None`) the dynamic limit at `prefix:dynamic:global`.
    pub async fn set_dynamic_limit(&self, limit: Option<i64>) -> Result<()> {
        let key = self.dynamic_key()?;
        let cmd = match limit {
            Some(n) => vec!["SET".to_owned(), key, n.to_string()],
            None => vec!["DEL".to_owned(), key],
        };
        self.inner.store.command(cmd).await?;
        Ok(())
    }

    /// The dynamic limit, if one is set.
    pub async fn get_dynamic_limit(&self) -> Result<Option<i64>> {
        let key = self.dynamic_key()?;
        let r = self
            .inner
            .store
            .command(vec!["GET".to_owned(), key])
            .await?;
        Ok(r.as_i64())
    }

    fn dynamic_key(&self) -> Result<String> {
        if !self.inner.dynamic {
            return Err(Error::Disabled(
                "dynamicLimits must be enabled in the limiter to use dynamic limits",
            ));
        }
        Ok(format!("{}:dynamic:global", self.inner.prefix))
    }
}

/// The values checked against the deny lists: identifier, ip, user agent, country (empty
/// ones dropped).
fn members<'a>(id: &'a str, o: &'a LimitOptions) -> impl Iterator<Item = &'a str> {
    [
        Some(id),
        o.ip.as_deref(),
        o.user_agent.as_deref(),
        o.country.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|v| !v.is_empty())
}

/// The `ZINCRBY` that records one analytics event: the hour's ZSET under `prefix`, the
/// member [`analytics_member`] builds (what `@upstash/core-analytics` writes).
pub(crate) fn analytics_event(
    prefix: &str,
    identifier: &str,
    success_json: &str,
    geo: &[(String, String)],
    now: i64,
) -> Vec<String> {
    let hour = now.div_euclid(3_600_000) * 3_600_000;
    vec![
        "ZINCRBY".to_owned(),
        format!("{prefix}:events:{hour}"),
        "1".to_owned(),
        analytics_member(identifier, success_json, geo),
    ]
}

/// The analytics member, byte-identical to `@upstash/core-analytics`: compact JSON,
/// `identifier`, `success`, then the geo fields in order.
pub fn analytics_member(identifier: &str, success_json: &str, geo: &[(String, String)]) -> String {
    let mut out = String::with_capacity(48 + identifier.len());
    out.push_str("{\"identifier\":");
    push_json_str(&mut out, identifier);
    out.push_str(",\"success\":");
    out.push_str(success_json);
    for (k, v) in geo {
        out.push(',');
        push_json_str(&mut out, k);
        out.push(':');
        push_json_str(&mut out, v);
    }
    out.push('}');
    out
}

/// `JSON.stringify` of a string.
fn push_json_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(json) => out.push_str(&json),
        Err(_) => out.push_str("\"\""),
    }
}

pub(crate) fn window_key(base: &str, bucket: i64) -> String {
    let mut buf = itoa::Buffer::new();
    let n = buf.format(bucket);
    let mut key = String::with_capacity(base.len() + 1 + n.len());
    key.push_str(base);
    key.push(':');
    key.push_str(n);
    key
}

fn num(n: i64) -> String {
    itoa::Buffer::new().format(n).to_owned()
}

impl Inner {
    pub(crate) fn base_key(&self, id: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + id.len() + 3);
        key.push_str(&self.prefix);
        key.push(':');
        match self.keys {
            KeyStyle::Js => key.push_str(id),
            KeyStyle::HashTagged => {
                key.push('{');
                key.push_str(id);
                key.push('}');
            }
        }
        key
    }

    fn push_dynamic(&self, keys: &mut Vec<String>) {
        if self.dynamic {
            keys.push(format!("{}:dynamic:global", self.prefix));
        }
    }

    /// The prefix of the deny-list keys: hash-tagged as a whole with hash-tagged keys, so
    /// every deny-list key lands in one cluster slot.
    fn deny_prefix(&self) -> String {
        match self.keys {
            KeyStyle::Js => self.prefix.clone(),
            KeyStyle::HashTagged => format!("{{{}}}", self.prefix),
        }
    }

    /// `[all, automatic IP list, status]` of the deny lists.
    fn ip_list_keys(&self) -> Vec<String> {
        let p = self.deny_prefix();
        vec![
            format!("{p}:denyList:all"),
            format!("{p}:denyList:ipDenyList"),
            format!("{p}:ipDenyListStatus"),
        ]
    }

    /// `[all, status]` of the deny lists, as the deny check reads them.
    fn deny_keys(&self) -> Vec<String> {
        let p = self.deny_prefix();
        vec![format!("{p}:denyList:all"), format!("{p}:ipDenyListStatus")]
    }
}

/// Runs the algorithm (and the deny check, in parallel) on the server.
async fn decide(
    inner: Arc<Inner>,
    id: String,
    base: String,
    rate: i64,
    deny_options: Option<LimitOptions>,
    now: i64,
) -> Result<Decision> {
    let Some(options) = deny_options.filter(|_| inner.protection) else {
        let response = run_algorithm(&inner, &base, rate, now).await?;
        return Ok(Decision { response });
    };
    let member_values: Vec<String> = members(&id, &options).map(str::to_owned).collect();
    let deny = inner
        .store
        .eval(&scripts::DENY, inner.deny_keys(), member_values.clone());
    let (algo, deny) =
        futures_util::future::join(run_algorithm(&inner, &base, rate, now), deny).await;
    let mut response = algo?;
    let deny = deny?.into_array()?;
    let flags = deny
        .first()
        .cloned()
        .map(Reply::into_array)
        .transpose()?
        .unwrap_or_default();
    let ttl = int_at(&deny, 1).unwrap_or(0);
    let mut denied = None;
    if let Ok(mut cache) = DENY_CACHE.lock() {
        if cache.len() > 1000 {
            cache.clear();
        }
        for (flag, value) in flags.iter().zip(&member_values) {
            if flag.as_i64() == Some(1) {
                cache.insert(deny_cache_key(&inner.prefix, value), now + DENY_CACHE_MS);
                denied = Some(value.clone());
            }
        }
    }
    if ttl == -2 {
        // This call saw the status missing (and marked it pending): it refreshes the list.
        if let Some(list) = inner.ip_list.clone() {
            let inner = Arc::clone(&inner);
            response.pending.spawn(async move {
                let keys = inner.ip_list_keys();
                match list.refresh(inner.store.as_ref(), keys, now).await {
                    Ok(n) => tracing::debug!(addresses = n, "ratelimit: IP deny list refreshed"),
                    Err(e) => tracing::warn!(error = %e, "ratelimit: IP deny list refresh failed"),
                }
            });
        }
    }
    if let Some(value) = denied {
        response.success = false;
        response.remaining = 0;
        response.reason = Some(Reason::DenyList);
        response.denied_value = Some(value);
    }
    Ok(Decision { response })
}

async fn run_algorithm(inner: &Arc<Inner>, base: &str, rate: i64, now: i64) -> Result<Response> {
    let store = &inner.store;
    match inner.algorithm {
        Algorithm::FixedWindow { tokens, window } => {
            let w = window.ms();
            let bucket = now.div_euclid(w);
            let mut keys = vec![window_key(base, bucket)];
            inner.push_dynamic(&mut keys);
            let r = eval_decision(inner, &scripts::FIXED, keys, &[tokens, w, rate])
                .await?
                .into_array()?;
            let (used, limit) = (int_at(&r, 0)?, int_at(&r, 1)?);
            let reset = (bucket + 1) * w;
            let res = Response::new(used <= limit, limit, (limit - used).max(0), reset);
            Ok(after_server(inner, base, rate, now, res))
        }
        Algorithm::SlidingWindow { tokens, window } => {
            let w = window.ms();
            let bucket = now.div_euclid(w);
            let mut keys = vec![window_key(base, bucket), window_key(base, bucket - 1)];
            inner.push_dynamic(&mut keys);
            let r = eval_decision(inner, &scripts::SLIDING, keys, &[tokens, now, w, rate])
                .await?
                .into_array()?;
            let (left, limit) = (int_at(&r, 0)?, int_at(&r, 1)?);
            let res = Response::new(left >= 0, limit, left.max(0), (bucket + 1) * w);
            Ok(after_server(inner, base, rate, now, res))
        }
        Algorithm::TokenBucket {
            refill_rate,
            interval,
            max_tokens,
        } => {
            let mut keys = vec![base.to_owned()];
            inner.push_dynamic(&mut keys);
            let args = [max_tokens, interval.ms(), refill_rate, now, rate];
            let r = eval_decision(inner, &scripts::TOKEN, keys, &args)
                .await?
                .into_array()?;
            let (left, reset, limit) = (int_at(&r, 0)?, int_at(&r, 1)?, int_at(&r, 2)?);
            // The script answers -1 when it refuses; the official SDK reports that as 0
            // remaining (checked against @upstash/ratelimit 2.2 in tests/interop).
            let res = Response::new(left >= 0, limit, left.max(0), reset);
            Ok(after_server(inner, base, rate, now, res))
        }
        Algorithm::CachedFixedWindow { tokens, window } => {
            let w = window.ms();
            let bucket = now.div_euclid(w);
            let key = window_key(base, bucket);
            let reset = (bucket + 1) * w;
            let args = vec![num(w), num(rate)];
            if let Some(cache) = &inner.cache {
                if let Some(count) = cache.incr(&key, rate) {
                    let success = count <= tokens;
                    let mut res = Response::new(success, tokens, tokens - count, reset);
                    if success {
                        let store = Arc::clone(&inner.store);
                        res.pending.spawn(async move {
                            if let Err(e) = store.eval(&scripts::CACHED, vec![key], args).await {
                                tracing::warn!(error = %e, "ratelimit: cached window write failed");
                            }
                        });
                    }
                    return Ok(res);
                }
            }
            let used = store
                .eval(&scripts::CACHED, vec![key.clone()], args)
                .await?
                .as_i64()
                .ok_or_else(|| Error::Store("cached window reply is not an integer".into()))?;
            if let Some(cache) = &inner.cache {
                // Kept until the window ends (bounded cache: may be evicted earlier).
                cache.set(&key, used, now);
            }
            let remaining = tokens - used;
            Ok(Response::new(remaining >= 0, tokens, remaining, reset))
        }
    }
}

/// Cache bookkeeping after the server decided: block on rejection, unblock on a refund.
fn after_server(inner: &Inner, base: &str, rate: i64, now: i64, res: Response) -> Response {
    if let Some(cache) = &inner.cache {
        if !res.success {
            cache.block_until(base, res.reset, now);
        } else if rate < 0 {
            cache.pop(base);
        }
    }
    res
}
