//! # upstash-redis
//!
//! A client for the [Upstash Redis](https://upstash.com/docs/redis) REST API.
//!
//! - Typed methods for the command families (strings, keys, hashes, lists, sets, sorted sets,
//!   streams, bitmaps, HyperLogLog, geo, scripting, pub/sub, server) and a generic
//!   [`Redis::cmd`] for everything else; replies decode through [`FromValue`].
//! - Binary-safe: replies are requested base64-encoded and decoded to the exact bytes;
//!   binary arguments travel in the raw request body.
//! - [`Redis::pipeline`] (`/pipeline`) and [`Redis::multi`] (`/multi-exec`) with typed results
//!   and per-command errors.
//! - Auto-pipelining (on by default): concurrent commands share HTTP requests, with no timer
//!   and no added latency for a lone caller.
//! - Read-your-writes: the `upstash-sync-token` of each response goes with the next request.
//! - [`Script`]: `EVALSHA` first, `EVAL` only on `NOSCRIPT`.
//! - Retries that never apply a write twice (see [`upstash_core::RetryPolicy`]).
//!
//! ```no_run
//! use upstash_redis::{Redis, SetOptions};
//! use std::time::Duration;
//!
//! # async fn demo() -> upstash_redis::Result<()> {
//! let redis = Redis::from_env()?; // UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN
//! redis.set_with::<()>("session:1", "data", SetOptions::new().ex(Duration::from_secs(60))).await?;
//! let hits: i64 = redis.incr("hits").await?;
//! let session: Option<String> = redis.get("session:1").await?;
//! # let _ = (hits, session);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

#[macro_use]
mod commands;

mod arg;
mod auto;
mod client;
mod command;
mod error;
mod from_value;
mod json;
mod pipeline;
mod scan;
mod script;
mod subscribe;
mod value;

pub use arg::ToArgs;
pub use client::{Cmd, Redis, RedisBuilder};
pub use command::Command;
pub use commands::*;
pub use error::{Error, ErrorKind, Result};
pub use from_value::FromValue;
pub use json::Json;
pub use pipeline::Pipeline;
pub use scan::ScanStream;
pub use script::Script;
pub use subscribe::{Message, Monitor, Subscription};
pub use value::Value;

/// The shared core (retry policy, core errors), re-exported for convenience.
pub use upstash_core as core;
