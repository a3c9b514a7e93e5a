//! Coalescing: concurrent calls share one request, with no timer.
//!
//! A call that finds a free in-flight slot leaves at once (alone, if nothing else waits), so a
//! lone caller pays no added latency. Calls made while every slot is busy queue up, and the
//! request that frees a slot takes the whole queue with it (up to the batch limit). Under load,
//! many calls therefore share one request, in the order they were made, and each caller gets
//! its own answer.
//!
//! The Redis client's auto-pipeline (commands sharing `/pipeline` requests) and the rate
//! limiter's decision batches (calls sharing one script run) are both built on this.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Where a caller's answer goes.
pub type Waiter<R> = oneshot::Sender<R>;

/// Why a call never got its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoalesceError {
    /// Requests run on their own Tokio task, so a runtime is needed.
    #[error("coalescing needs a Tokio runtime")]
    NoRuntime,
    /// The request task ended without answering (it panicked or the runtime shut down).
    #[error("the request task ended without an answer")]
    Abandoned,
}

/// Sends batches for a [`Coalescer`]: a cheap handle (cloned onto the request task) that can
/// reach the coalescer it drains.
pub trait Flush<T, R>: Clone + Send + Sync + 'static {
    /// Sends one batch and answers every waiter in it (a waiter dropped unanswered reports
    /// [`CoalesceError::Abandoned`] to its caller).
    fn flush(&self, batch: Vec<(T, Waiter<R>)>) -> impl Future<Output = ()> + Send;

    /// The coalescer whose queue this handle drains between requests.
    fn coalescer(&self) -> Option<&Coalescer<T, R>>;
}

/// The queue and slot count behind a coalescing client (see the module docs).
#[derive(Debug)]
pub struct Coalescer<T, R> {
    state: Mutex<State<T, R>>,
    max_batch: usize,
    max_in_flight: usize,
}

#[derive(Debug)]
struct State<T, R> {
    queue: Vec<(T, Waiter<R>)>,
    in_flight: usize,
    requests: u64,
}

impl<T: Send + 'static, R: Send + 'static> Coalescer<T, R> {
    /// A coalescer sending at most `max_batch` calls per request and keeping at most
    /// `max_in_flight` requests outstanding (both at least 1).
    pub fn new(max_batch: usize, max_in_flight: usize) -> Self {
        Self {
            state: Mutex::new(State {
                queue: Vec::new(),
                in_flight: 0,
                requests: 0,
            }),
            max_batch: max_batch.max(1),
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.state.lock().map(|s| s.requests).unwrap_or(0)
    }

    /// Queues `item` and waits for its answer. When a slot is free the request leaves now, on
    /// its own task (driven by the handle `flusher` makes), so a caller that stops waiting
    /// cannot strand the others of its batch.
    pub async fn submit<F: Flush<T, R>>(
        &self,
        item: T,
        flusher: impl FnOnce() -> F,
    ) -> Result<R, CoalesceError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| CoalesceError::NoRuntime)?;
        let (tx, rx) = oneshot::channel();
        let batch = {
            let mut state = self.state.lock().map_err(|_| CoalesceError::Abandoned)?;
            state.queue.push((item, tx));
            if state.in_flight < self.max_in_flight {
                state.in_flight += 1;
                state.requests += 1;
                Some(self.take_batch(&mut state))
            } else {
                None
            }
        };
        if let Some(batch) = batch {
            // The slot guard travels into the task: if the task never runs or is dropped
            // midway (a runtime shutting down, a panicking flush), the slot still comes back.
            handle.spawn(drain(Slot::new(flusher()), batch));
        }
        rx.await.map_err(|_| CoalesceError::Abandoned)
    }

    fn take_batch(&self, state: &mut State<T, R>) -> Vec<(T, Waiter<R>)> {
        if state.queue.len() <= self.max_batch {
            // The next queue starts at this batch's size: under steady load it fills without
            // growing (and reallocating) on the way.
            let next = Vec::with_capacity(state.queue.len());
            std::mem::replace(&mut state.queue, next)
        } else {
            state.queue.drain(..self.max_batch).collect()
        }
    }

    /// After a request: the next batch for this slot, or `None` to free the slot.
    fn next_batch(&self) -> Option<Vec<(T, Waiter<R>)>> {
        let mut state = self.state.lock().ok()?;
        if state.queue.is_empty() {
            state.in_flight = state.in_flight.saturating_sub(1);
            None
        } else {
            state.requests += 1;
            Some(self.take_batch(&mut state))
        }
    }
}

impl<T, R> Coalescer<T, R> {
    /// Gives back a slot whose task ended abnormally. When no other slot is left to drain the
    /// queue, the queued callers are released with [`CoalesceError::Abandoned`] rather than
    /// left waiting for ever.
    fn give_back(&self) {
        let orphans = match self.state.lock() {
            Ok(mut state) => {
                state.in_flight = state.in_flight.saturating_sub(1);
                if state.in_flight == 0 {
                    std::mem::take(&mut state.queue)
                } else {
                    Vec::new()
                }
            }
            Err(_) => Vec::new(),
        };
        // Dropped outside the lock: each dropped waiter wakes its caller.
        drop(orphans);
    }
}

/// One in-flight slot, held by the task that drains it.
struct Slot<T, R, F: Flush<T, R>> {
    flusher: F,
    /// Set once the slot was freed the normal way (queue found empty).
    freed: bool,
    _items: std::marker::PhantomData<fn(T) -> R>,
}

impl<T, R, F: Flush<T, R>> Slot<T, R, F> {
    fn new(flusher: F) -> Self {
        Self {
            flusher,
            freed: false,
            _items: std::marker::PhantomData,
        }
    }
}

impl<T, R, F: Flush<T, R>> Drop for Slot<T, R, F> {
    fn drop(&mut self) {
        if !self.freed {
            if let Some(co) = self.flusher.coalescer() {
                co.give_back();
            }
        }
    }
}

/// One slot's task: send, then keep taking what queued meanwhile until the queue is empty.
async fn drain<T, R, F>(mut slot: Slot<T, R, F>, mut batch: Vec<(T, Waiter<R>)>)
where
    T: Send + 'static,
    R: Send + 'static,
    F: Flush<T, R>,
{
    loop {
        slot.flusher.flush(batch).await;
        // The callers just answered often call again at once: let them queue before this
        // slot decides whether anything is waiting, so their calls share the next request
        // instead of one leaving alone.
        tokio::task::yield_now().await;
        match slot.flusher.coalescer().and_then(Coalescer::next_batch) {
            Some(next) => batch = next,
            None => {
                slot.freed = true;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Doubles numbers, recording each batch's size.
    #[derive(Clone)]
    struct Doubler {
        co: Arc<Coalescer<u32, u32>>,
        sizes: Arc<Mutex<Vec<usize>>>,
        gate: Arc<tokio::sync::Semaphore>,
    }

    impl Flush<u32, u32> for Doubler {
        async fn flush(&self, batch: Vec<(u32, Waiter<u32>)>) {
            if let Ok(mut s) = self.sizes.lock() {
                s.push(batch.len());
            }
            // Held until the test lets requests finish, so later calls queue up.
            if let Ok(permit) = self.gate.acquire().await {
                permit.forget();
            }
            for (n, w) in batch {
                let _ = w.send(n * 2);
            }
        }

        fn coalescer(&self) -> Option<&Coalescer<u32, u32>> {
            Some(&self.co)
        }
    }

    #[tokio::test]
    async fn lone_call_leaves_alone_and_queued_calls_share_a_request() {
        let d = Doubler {
            co: Arc::new(Coalescer::new(100, 1)),
            sizes: Arc::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
        };
        let answered = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for n in 0..10u32 {
            let d = d.clone();
            let answered = Arc::clone(&answered);
            tasks.push(tokio::spawn(async move {
                let r = d.co.submit(n, || d.clone()).await;
                answered.fetch_add(1, Ordering::SeqCst);
                r
            }));
            // Let the first call take the only slot before the rest arrive.
            tokio::task::yield_now().await;
        }
        while d.sizes.lock().map(|s| s.is_empty()).unwrap_or(true) {
            tokio::task::yield_now().await;
        }
        d.gate.add_permits(2);
        for (n, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.ok().and_then(Result::ok), Some(n as u32 * 2));
        }
        assert_eq!(answered.load(Ordering::SeqCst), 10);
        let sizes = d.sizes.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(sizes, vec![1, 9]);
        assert_eq!(d.co.requests(), 2);
    }

    #[tokio::test]
    async fn unanswered_waiter_is_abandoned_not_hung() {
        #[derive(Clone)]
        struct Drop0(Arc<Coalescer<u8, u8>>);
        impl Flush<u8, u8> for Drop0 {
            async fn flush(&self, _batch: Vec<(u8, Waiter<u8>)>) {}
            fn coalescer(&self) -> Option<&Coalescer<u8, u8>> {
                Some(&self.0)
            }
        }
        let d = Drop0(Arc::new(Coalescer::new(10, 2)));
        assert_eq!(
            d.0.submit(1, || d.clone()).await,
            Err(CoalesceError::Abandoned)
        );
    }

    /// A flush that panics on odd numbers.
    #[derive(Clone)]
    struct Picky(Arc<Coalescer<u8, u8>>);
    impl Flush<u8, u8> for Picky {
        async fn flush(&self, batch: Vec<(u8, Waiter<u8>)>) {
            for (n, w) in batch {
                assert!(n % 2 == 0, "odd");
                let _ = w.send(n);
            }
        }
        fn coalescer(&self) -> Option<&Coalescer<u8, u8>> {
            Some(&self.0)
        }
    }

    /// `f`, or an error after 5 s (a leaked slot makes a call wait for ever).
    async fn within<F: Future>(f: F) -> Result<F::Output, tokio::time::error::Elapsed> {
        tokio::time::timeout(std::time::Duration::from_secs(5), f).await
    }

    #[tokio::test]
    async fn a_panicking_flush_gives_its_slot_back() {
        let p = Picky(Arc::new(Coalescer::new(10, 1)));
        for _ in 0..3 {
            let got = within(p.0.submit(1, || p.clone())).await;
            assert_eq!(got, Ok(Err(CoalesceError::Abandoned)));
        }
        assert_eq!(within(p.0.submit(2, || p.clone())).await, Ok(Ok(2)));
    }

    #[test]
    fn runtimes_ending_after_their_answer_do_not_leak_slots() {
        // One coalescer outliving several runtimes (a static client shared by tests): each
        // runtime ends right after its answer, possibly while the slot's task still runs.
        let p = Picky(Arc::new(Coalescer::new(10, 2)));
        for _ in 0..6 {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let got = rt.block_on(within(p.0.submit(4, || p.clone())));
            assert_eq!(got, Ok(Ok(4)));
        }
    }

    #[test]
    fn needs_a_runtime() {
        #[derive(Clone)]
        struct Never(Arc<Coalescer<u8, u8>>);
        impl Flush<u8, u8> for Never {
            async fn flush(&self, _batch: Vec<(u8, Waiter<u8>)>) {}
            fn coalescer(&self) -> Option<&Coalescer<u8, u8>> {
                Some(&self.0)
            }
        }
        let n = Never(Arc::new(Coalescer::new(1, 1)));
        let r = futures_util::FutureExt::now_or_never(n.0.submit(1, || n.clone()));
        assert_eq!(r, Some(Err(CoalesceError::NoRuntime)));
    }
}
