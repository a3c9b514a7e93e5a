//! Helpers for tests in this and other crates.
//!
//! Stacks started here run on their own background thread with their own tokio runtime, so
//! they outlive each `#[tokio::test]` runtime. Panics are allowed here (test-only helpers).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::OnceLock;

use crate::{Config, LocalStack};

/// Keeps a background runtime alive; dropping it stops that runtime (and the services on it).
#[derive(Debug)]
pub(crate) struct RuntimeGuard {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl RuntimeGuard {
    pub(crate) fn handle(&self) -> Option<tokio::runtime::Handle> {
        Some(self.handle.clone())
    }
}

fn start_on_thread(config: Config) -> LocalStack {
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("upstash-local".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("upstash-local-rt")
                .enable_all()
                .build()
                .expect("upstash-local: cannot build a tokio runtime");
            let handle = rt.handle().clone();
            rt.block_on(async move {
                let res = LocalStack::start(config).await;
                let _ = tx.send((res, handle));
                let _ = stop_rx.await;
            });
        })
        .expect("upstash-local: cannot spawn the background thread");
    let (res, handle) = rx
        .recv()
        .expect("upstash-local: background thread died while starting");
    let mut stack = res.unwrap_or_else(|e| panic!("upstash-local failed to start: {e}"));
    stack.runtime = Some(RuntimeGuard {
        handle,
        _stop: stop_tx,
    });
    stack
}

/// One stack per test binary, with [`Config::default()`] (dev tokens, ephemeral port, its own
/// redis-server), started lazily on first use. Its redis-server is killed when the test process
/// exits. Tests sharing it must use distinct key prefixes (see [`prefix`]).
pub fn shared() -> &'static LocalStack {
    static STACK: OnceLock<LocalStack> = OnceLock::new();
    STACK.get_or_init(|| start_on_thread(Config::default()))
}

/// A fresh stack with its own redis-server, on its own background thread and runtime, for
/// tests that count requests or need a special configuration. Dropping the returned stack
/// (or calling [`LocalStack::shutdown`]) stops it and its redis-server.
///
/// Panics if the stack cannot start.
pub fn dedicated(config: Config) -> LocalStack {
    start_on_thread(config)
}

/// A unique key prefix per test: `t:<name>:<random>:`.
pub fn prefix(name: &str) -> String {
    format!("t:{name}:{:016x}:", fastrand::u64(..))
}
