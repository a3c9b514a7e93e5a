//! upstash-local's own end-to-end tests, in one test binary: raw HTTP against the local
//! services (started in-process over a real redis-server), one module per service.
//!
//! One binary instead of three saves CI two links of the whole server; nextest still runs each
//! test in its own process, so every module keeps its own stack.

mod kafka;
mod qstash;
mod redis_rest;
