//! # upstash-ratelimit
//!
//! Rate limiting on Redis, wire-compatible with `@upstash/ratelimit` 2.2: the same keys, value
//! types and script arithmetic, so a Rust service and a TypeScript service share one limit.
//!
//! - Algorithms: fixed window, sliding window, token bucket, cached fixed window
//!   ([`Algorithm`]); windows as `"10 s"` (the 2.2 grammar) or [`std::time::Duration`].
//! - Backends ([`Store`]): Upstash REST through [`upstash_redis::Redis`] (auto-pipelined),
//!   any Redis / Valkey over RESP (feature `resp`), and an in-process [`MemoryStore`] for
//!   tests and benchmarks.
//! - Batching under load ([`RatelimitBuilder::batching`], on by default): a lone call goes out
//!   at once as one script, but decisions made while the limiter's requests are busy queue up
//!   and are decided together, in order, in one script run ([`Store::eval_batch`]) with the
//!   same keys and arithmetic, so each answer equals a single run's.
//! - Ephemeral block cache (bounded), timeout with fail-open/closed policy, analytics, deny
//!   lists (with the daily-refreshed ipsum IP list, [`IpDenyList`], opt-in), dynamic limits,
//!   refunds (negative rates), `get_remaining`, `reset_used_tokens`,
//!   `block_until_ready`.
//!
//! ```no_run
//! use upstash_ratelimit::{Algorithm, Ratelimit};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = upstash_redis::Redis::from_env()?;
//! let limiter = Ratelimit::builder(redis, Algorithm::sliding_window(10, "10 s")?)
//!     .prefix("api")
//!     .build()?;
//! let res = limiter.limit("user:42").await?;
//! println!("allowed: {}, remaining: {}", res.success, res.remaining);
//! # Ok(()) }
//! ```
//!
//! Time comes from the client's clock (as in JS): services sharing a limit need synchronised
//! clocks.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod algorithm;
mod batch;
mod cache;
mod clock;
mod duration;
mod error;
mod fasthash;
mod ip_list;
#[cfg(feature = "axum")]
pub mod layer;
mod memory;
mod multi;
mod ratelimit;
#[cfg(feature = "resp")]
mod resp;
mod response;
mod rest;
mod rules;
pub mod scripts;
mod store;

pub use algorithm::Algorithm;
pub use cache::EphemeralCache;
pub use clock::{Clock, ManualClock, SystemClock};
pub use duration::{IntoWindow, Window};
pub use error::{Error, Result};
pub use ip_list::{IpDenyList, IPSUM_LEVELS_URL};
pub use memory::MemoryStore;
pub use multi::{MultiRegionBuilder, MultiRegionRatelimit};
pub use ratelimit::{
    analytics_member, ErrorPolicy, LimitOptions, Metrics, MetricsSnapshot, Ratelimit,
    RatelimitBuilder, TimeoutPolicy, DEFAULT_PREFIX,
};
#[cfg(feature = "resp")]
pub use resp::RespStore;
pub use response::{Pending, Reason, Remaining, Response};
pub use rest::RestStore;
pub use rules::{MultiDecision, MultiLimit, Rule, RuleKind, RuleOutcome, RuleSet};
pub use store::{Call, Reply, Store};

/// The `redis` crate this backend is built on (feature `resp`), so connections match its
/// version.
#[cfg(feature = "resp")]
pub use redis;
