//! The workspace's end-to-end tests, in one test binary: every module talks to real servers
//! (upstash-local in front of a real redis-server, or redis-server straight over RESP).
//!
//! One binary instead of one per file: the tests link every crate plus upstash-local, and a
//! dozen copies of that cost CI a dozen links and several hundred megabytes of disk. nextest
//! still runs each test in its own process, so a module's shared stack and statics behave as
//! they did in a binary of their own. Each test works under its own key prefix, topics or
//! queue names, so they run in parallel.

mod kafka_e2e;
mod qstash_e2e;
mod ratelimit_axum;
mod ratelimit_cluster;
mod ratelimit_common;
mod ratelimit_e2e;
mod ratelimit_multiregion;
mod ratelimit_resp;
mod ratelimit_rules;
mod redis_commands;
mod redis_e2e;
mod redis_faults;
mod redis_streams;
mod vector_e2e;
