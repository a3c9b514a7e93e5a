//! Multi-region limiting: one Redis per region, the first answer decides, and a background
//! sync copies every request id (with its own weight) to the regions that miss it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::algorithm::Algorithm;
use crate::cache::EphemeralCache;
use crate::clock::{Clock, SystemClock};
use crate::ratelimit::{analytics_event, window_key, TimeoutPolicy, DEFAULT_PREFIX};
use crate::response::{Pending, Reason, Remaining, Response};
use crate::scripts;
use crate::store::{Reply, Store};
use crate::{Error, Result};

/// A limiter over several stores (regions), compatible with `MultiRegionRatelimit` of
/// `@upstash/ratelimit`: window keys hold HASHes `{requestId: weight}`, so one prefix must
/// never be shared with single-region limiters.
///
/// Every region runs the script in parallel and the first one to answer decides. Then, in
/// the background ([`Response::pending`]), the union of all request ids is written to every
/// region that misses some, each id with its own weight, in one batched `HSET` per region,
/// and a TTL is set on keys the sync creates. (JS writes the current request's weight for
/// every missing id, skips full regions and sends one command per id.)
#[derive(Clone)]
pub struct MultiRegionRatelimit {
    inner: Arc<Inner>,
}

struct Inner {
    stores: Vec<Arc<dyn Store>>,
    algorithm: Algorithm,
    prefix: String,
    cache: Option<Arc<EphemeralCache>>,
    timeout: Option<Duration>,
    timeout_policy: TimeoutPolicy,
    clock: Arc<dyn Clock>,
    analytics: bool,
}

impl fmt::Debug for MultiRegionRatelimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiRegionRatelimit")
            .field("regions", &self.inner.stores.len())
            .field("algorithm", &self.inner.algorithm)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// Options of a [`MultiRegionRatelimit`]; from [`MultiRegionRatelimit::builder`].
#[must_use = "call .build()"]
pub struct MultiRegionBuilder {
    stores: Vec<Arc<dyn Store>>,
    algorithm: Algorithm,
    prefix: String,
    cache: Option<Arc<EphemeralCache>>,
    timeout: Option<Duration>,
    timeout_policy: TimeoutPolicy,
    clock: Arc<dyn Clock>,
    analytics: bool,
}

impl fmt::Debug for MultiRegionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiRegionBuilder")
            .field("regions", &self.stores.len())
            .finish_non_exhaustive()
    }
}

impl MultiRegionBuilder {
    /// Adds a region.
    pub fn region(mut self, store: impl Store) -> Self {
        self.stores.push(Arc::new(store));
        self
    }

    /// Key prefix (default `@upstash/ratelimit`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Ephemeral block cache on (default) or off.
    pub fn ephemeral_cache(mut self, on: bool) -> Self {
        self.cache = on.then(|| Arc::new(EphemeralCache::default()));
        self
    }

    /// Decision timeout (default 5 s).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// What a timeout answers (default fail open).
    pub fn timeout_policy(mut self, policy: TimeoutPolicy) -> Self {
        self.timeout_policy = policy;
        self
    }

    /// The time source.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Records one analytics event per call in the first region (as `@upstash/ratelimit`
    /// does), with the single-region event format (default off).
    pub fn analytics(mut self, on: bool) -> Self {
        self.analytics = on;
        self
    }

    /// Builds; needs at least one region and a fixed or sliding window.
    pub fn build(self) -> Result<MultiRegionRatelimit> {
        if self.stores.is_empty() {
            return Err(Error::Config("at least one region is needed".into()));
        }
        if !matches!(
            self.algorithm,
            Algorithm::FixedWindow { .. } | Algorithm::SlidingWindow { .. }
        ) {
            return Err(Error::Config(
                "multi-region limiting supports the fixed and sliding windows only".into(),
            ));
        }
        Ok(MultiRegionRatelimit {
            inner: Arc::new(Inner {
                stores: self.stores,
                algorithm: self.algorithm,
                prefix: self.prefix,
                cache: self.cache,
                timeout: self.timeout,
                timeout_policy: self.timeout_policy,
                clock: self.clock,
                analytics: self.analytics,
            }),
        })
    }
}

/// 16 random `[A-Za-z0-9]` characters, as JS makes request ids.
fn request_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..16)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

/// `[field, value, field, value, ...]` as (id, weight) pairs.
fn pairs(reply: Reply) -> Result<Vec<(String, i64)>> {
    let items = reply.into_array()?;
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        let w = v.as_i64().unwrap_or(0);
        out.push((f.into_string().unwrap_or_default(), w));
    }
    Ok(out)
}

/// What one region answered: its current-window ids after this request (with this request
/// when it was recorded there), and the decision inputs.
struct RegionReply {
    current: Vec<(String, i64)>,
    previous_sum: i64,
    recorded: bool,
}

fn parse_reply(algo: &Algorithm, reply: Reply, id: &str, rate: i64) -> Result<RegionReply> {
    match algo {
        Algorithm::SlidingWindow { .. } => {
            let mut items = reply.into_array()?.into_iter();
            let cur = pairs(items.next().unwrap_or(Reply::Nil))?;
            let prev = pairs(items.next().unwrap_or(Reply::Nil))?;
            let recorded = items.next().is_some_and(|f| f.as_i64() == Some(1));
            let mut current = cur;
            if recorded {
                current.push((id.to_owned(), rate));
            }
            Ok(RegionReply {
                current,
                previous_sum: prev.iter().map(|(_, w)| w).sum(),
                recorded,
            })
        }
        _ => Ok(RegionReply {
            current: pairs(reply)?,
            previous_sum: 0,
            recorded: true,
        }),
    }
}

impl MultiRegionRatelimit {
    /// A builder for `algorithm` (fixed or sliding window); add regions with
    /// [`MultiRegionBuilder::region`].
    pub fn builder(algorithm: Algorithm) -> MultiRegionBuilder {
        MultiRegionBuilder {
            stores: Vec::new(),
            algorithm,
            prefix: DEFAULT_PREFIX.to_owned(),
            cache: Some(Arc::new(EphemeralCache::default())),
            timeout: Some(Duration::from_secs(5)),
            timeout_policy: TimeoutPolicy::FailOpen,
            clock: Arc::new(SystemClock),
            analytics: false,
        }
    }

    /// Takes one token for `id`.
    pub async fn limit(&self, id: &str) -> Result<Response> {
        self.limit_rate(id, 1).await
    }

    /// Takes `rate` tokens for `id` (negative rates refund).
    pub async fn limit_rate(&self, id: &str, rate: i64) -> Result<Response> {
        let now = self.inner.clock.now_ms();
        let mut res = self.limit_at(id, rate, now).await?;
        self.record(&mut res, id, now);
        Ok(res)
    }

    /// Sends the analytics event (every outcome counts: cache blocks and timeouts too) to
    /// the first region, in the background.
    fn record(&self, res: &mut Response, id: &str, now: i64) {
        let inner = &self.inner;
        let Some(store) = inner.stores.first().filter(|_| inner.analytics) else {
            return;
        };
        let success = if res.success { "true" } else { "false" };
        let cmd = analytics_event(&inner.prefix, id, success, &[], now);
        let store = Arc::clone(store);
        res.pending.spawn(async move {
            if let Err(e) = store.command(cmd).await {
                tracing::warn!(error = %e, "ratelimit: analytics write failed");
            }
        });
    }

    async fn limit_at(&self, id: &str, rate: i64, now: i64) -> Result<Response> {
        let inner = &self.inner;
        let base = format!("{}:{id}", inner.prefix);
        if rate > 0 {
            if let Some(until) = inner
                .cache
                .as_ref()
                .and_then(|c| c.blocked_until(&base, now))
            {
                return Ok(Response::new(false, inner.algorithm.tokens(), 0, until)
                    .with_reason(Reason::CacheBlock));
            }
        }
        let fut = self.decide(base.clone(), rate, now);
        let res = match inner.timeout {
            None => fut.await?,
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r?,
                Err(_) => {
                    let success = match inner.timeout_policy {
                        TimeoutPolicy::FailOpen => true,
                        TimeoutPolicy::FailClosed => false,
                        TimeoutPolicy::Error => return Err(Error::Timeout),
                    };
                    return Ok(Response::new(success, 0, 0, 0).with_reason(Reason::Timeout));
                }
            },
        };
        if let Some(cache) = &inner.cache {
            if !res.success {
                cache.block_until(&base, res.reset, now);
            } else if rate < 0 {
                cache.pop(&base);
            }
        }
        Ok(res)
    }

    async fn decide(&self, base: String, rate: i64, now: i64) -> Result<Response> {
        let inner = Arc::clone(&self.inner);
        let (tokens, w) = (inner.algorithm.tokens(), inner.algorithm.window().ms());
        let bucket = now.div_euclid(w);
        let cur = window_key(&base, bucket);
        let rid = request_id();
        let (script, keys, args) = match inner.algorithm {
            Algorithm::SlidingWindow { .. } => (
                &*scripts::MULTI_SLIDING,
                vec![cur.clone(), window_key(&base, bucket - 1)],
                vec![
                    tokens.to_string(),
                    now.to_string(),
                    w.to_string(),
                    rid.clone(),
                    rate.to_string(),
                ],
            ),
            _ => (
                &*scripts::MULTI_FIXED,
                vec![cur.clone()],
                vec![rid.clone(), w.to_string(), rate.to_string()],
            ),
        };
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("multi-region limiting needs a Tokio runtime".into()))?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        for (i, store) in inner.stores.iter().enumerate() {
            let (store, keys, args, tx) =
                (Arc::clone(store), keys.clone(), args.clone(), tx.clone());
            handle.spawn(async move {
                let r = store.eval(script, keys, args).await;
                let _ = tx.send((i, r));
            });
        }
        drop(tx);
        let mut replies: Vec<(usize, RegionReply)> = Vec::new();
        let mut last_err = None;
        let first = loop {
            match rx.recv().await {
                Some((i, Ok(reply))) => match parse_reply(&inner.algorithm, reply, &rid, rate) {
                    Ok(r) => {
                        let decision = self.respond(&r, now, bucket);
                        replies.push((i, r));
                        break decision;
                    }
                    Err(e) => last_err = Some(e),
                },
                Some((_, Err(e))) => last_err = Some(e),
                None => {
                    return Err(
                        last_err.unwrap_or_else(|| Error::Store("no region answered".into()))
                    )
                }
            }
        };
        let mut res = first;
        let ttl = match inner.algorithm {
            Algorithm::SlidingWindow { .. } => 2 * w + 1000,
            _ => w,
        };
        let mut pending = Pending::default();
        pending.spawn(sync(inner, cur, ttl, (rid, rate), replies, rx));
        res.pending = pending;
        Ok(res)
    }

    fn respond(&self, r: &RegionReply, now: i64, bucket: i64) -> Response {
        let (tokens, w) = (
            self.inner.algorithm.tokens(),
            self.inner.algorithm.window().ms(),
        );
        let reset = (bucket + 1) * w;
        let current_sum: i64 = r.current.iter().map(|(_, v)| v).sum();
        match self.inner.algorithm {
            Algorithm::SlidingWindow { .. } => {
                let elapsed = (now % w) as f64 / w as f64;
                // Counts are far below 2^53: exact as floats.
                let carried = (r.previous_sum as f64 * (1.0 - elapsed)).ceil() as i64;
                // `current` already includes this request when it was recorded.
                let used = carried + current_sum;
                Response::new(r.recorded, tokens, (tokens - used).max(0), reset)
            }
            _ => {
                let remaining = tokens - current_sum;
                Response::new(remaining >= 0, tokens, remaining, reset)
            }
        }
    }

    /// The tokens left for `id`, from the first region.
    pub async fn get_remaining(&self, id: &str) -> Result<Remaining> {
        let inner = &self.inner;
        let now = inner.clock.now_ms();
        let (tokens, w) = (inner.algorithm.tokens(), inner.algorithm.window().ms());
        let base = format!("{}:{id}", inner.prefix);
        let bucket = now.div_euclid(w);
        let store = inner
            .stores
            .first()
            .ok_or_else(|| Error::Config("no region".into()))?;
        let reset = (bucket + 1) * w;
        let used = match inner.algorithm {
            Algorithm::SlidingWindow { .. } => {
                let r = store
                    .eval(
                        &scripts::MULTI_SLIDING_REM,
                        vec![window_key(&base, bucket), window_key(&base, bucket - 1)],
                        Vec::new(),
                    )
                    .await?;
                let mut items = r.into_array()?.into_iter();
                let cur: i64 = pairs(items.next().unwrap_or(Reply::Nil))?
                    .iter()
                    .map(|(_, v)| v)
                    .sum();
                let prev: i64 = pairs(items.next().unwrap_or(Reply::Nil))?
                    .iter()
                    .map(|(_, v)| v)
                    .sum();
                let elapsed = (now % w) as f64 / w as f64;
                cur + (prev as f64 * (1.0 - elapsed)).ceil() as i64
            }
            _ => {
                let r = store
                    .eval(
                        &scripts::MULTI_FIXED_REM,
                        vec![window_key(&base, bucket)],
                        Vec::new(),
                    )
                    .await?;
                pairs(r)?.iter().map(|(_, v)| v).sum()
            }
        };
        Ok(Remaining {
            remaining: (tokens - used).max(0),
            reset,
            limit: tokens,
        })
    }

    /// Deletes `id`'s current and previous window keys in every region.
    pub async fn reset_used_tokens(&self, id: &str) -> Result<()> {
        let inner = &self.inner;
        let now = inner.clock.now_ms();
        let w = inner.algorithm.window().ms();
        let base = format!("{}:{id}", inner.prefix);
        if let Some(c) = &inner.cache {
            c.pop(&base);
        }
        let bucket = now.div_euclid(w);
        let cmd = vec![
            "DEL".to_owned(),
            window_key(&base, bucket),
            window_key(&base, bucket - 1),
        ];
        let calls = inner.stores.iter().map(|s| s.command(cmd.clone()));
        for r in futures_util::future::join_all(calls).await {
            r?;
        }
        Ok(())
    }
}

/// Waits for every region, then writes to each region the ids it misses (with their own
/// weights) in one `HSET`, plus a TTL when the key is new there.
async fn sync(
    inner: Arc<Inner>,
    key: String,
    ttl: i64,
    request: (String, i64),
    mut replies: Vec<(usize, RegionReply)>,
    mut rx: mpsc::UnboundedReceiver<(usize, Result<Reply>)>,
) {
    while let Some((i, r)) = rx.recv().await {
        match r.and_then(|reply| parse_reply(&inner.algorithm, reply, &request.0, request.1)) {
            Ok(parsed) => replies.push((i, parsed)),
            Err(e) => tracing::warn!(error = %e, region = i, "ratelimit: region failed"),
        }
    }
    let mut union: HashMap<&str, i64> = HashMap::new();
    for (_, r) in &replies {
        for (id, w) in &r.current {
            union.entry(id.as_str()).or_insert(*w);
        }
    }
    let calls = replies.iter().filter_map(|(i, r)| {
        let own: HashSet<&str> = r.current.iter().map(|(id, _)| id.as_str()).collect();
        let mut hset = vec!["HSET".to_owned(), key.clone()];
        for (id, w) in &union {
            if !own.contains(id) {
                hset.push((*id).to_owned());
                hset.push(w.to_string());
            }
        }
        if hset.len() <= 2 {
            return None;
        }
        let mut cmds = vec![hset];
        if own.is_empty() {
            cmds.push(vec!["PEXPIRE".to_owned(), key.clone(), ttl.to_string()]);
        }
        let store = inner.stores.get(*i).cloned()?;
        Some(async move { store.pipeline(cmds).await })
    });
    for r in futures_util::future::join_all(calls).await {
        match r {
            Ok(results) => {
                for e in results.into_iter().filter_map(|r| r.err()) {
                    tracing::warn!(error = %e, "ratelimit: multi-region sync write failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "ratelimit: multi-region sync failed"),
        }
    }
}
