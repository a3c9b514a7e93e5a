//! # upstash
//!
//! The umbrella crate of the Upstash Rust SDK: it re-exports each service crate behind a
//! feature of the same name, so one dependency line gives access to the whole family.
//!
//! | feature | crate |
//! |---|---|
//! | `redis` (default) | `upstash_redis` as `redis` |
//! | `ratelimit` | `upstash_ratelimit` as `ratelimit` |
//! | `qstash` | `upstash_qstash` as `qstash` |
//! | `vector` | `upstash_vector` as `vector` |
//! | `kafka` | `upstash_kafka` as `kafka` |
//!
//! [`upstash_core`] (transport, auth, retries, env helpers) is always available as [`core`].
#![forbid(unsafe_code)]

pub use upstash_core as core;

#[cfg(feature = "redis")]
pub use upstash_redis as redis;

#[cfg(feature = "qstash")]
pub use upstash_qstash as qstash;

#[cfg(feature = "ratelimit")]
pub use upstash_ratelimit as ratelimit;

#[cfg(feature = "vector")]
pub use upstash_vector as vector;

#[cfg(feature = "kafka")]
pub use upstash_kafka as kafka;
