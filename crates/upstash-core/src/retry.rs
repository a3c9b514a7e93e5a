use std::time::Duration;

use crate::RetryKind;

/// When and how often a failed request is sent again.
///
/// The default repeats a request up to 5 times with exponential backoff (50 ms, 136 ms,
/// 369 ms, 1 s, 2.7 s before jitter, as the official TypeScript SDKs do) within an overall
/// deadline of 10 s, but only when repeating cannot apply it twice: the request never left
/// (connect failure), the server said 429, or the caller marked the request idempotent.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// How many times a request may be repeated after the first attempt.
    pub max_retries: u32,
    /// Backoff before the first retry; retry `n` waits `initial_backoff * e^n`, capped.
    pub initial_backoff: Duration,
    /// Upper bound of a single backoff.
    pub max_backoff: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub deadline: Option<Duration>,
    /// Also repeat non-idempotent requests whose outcome is unknown (lost response, 5xx).
    /// Off by default: a repeated `INCR` or publish would be applied twice.
    pub retry_unknown_outcome: bool,
    /// Randomise each backoff between 50 % and 100 % of its value, so that many clients
    /// failing together do not retry together.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(3),
            deadline: Some(Duration::from_secs(10)),
            retry_unknown_outcome: false,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn disabled() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets [`RetryPolicy::max_retries`].
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets [`RetryPolicy::initial_backoff`] and [`RetryPolicy::max_backoff`].
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Sets [`RetryPolicy::deadline`].
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets [`RetryPolicy::retry_unknown_outcome`].
    pub fn with_retry_unknown_outcome(mut self, yes: bool) -> Self {
        self.retry_unknown_outcome = yes;
        self
    }

    /// Whether an error of this kind may be retried for a request with this idempotency.
    pub fn allows(&self, kind: RetryKind, idempotent: bool) -> bool {
        match kind {
            RetryKind::NotSent | RetryKind::Throttled => true,
            RetryKind::Unknown => idempotent || self.retry_unknown_outcome,
            RetryKind::Permanent => false,
        }
    }

    /// The pause before retry number `retry` (0-based), jitter included.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = (retry.min(30) as f64).exp();
        let base = self.initial_backoff.as_secs_f64() * factor;
        let capped = base.min(self.max_backoff.as_secs_f64());
        let scaled = if self.jitter {
            capped * (0.5 + fastrand::f64() * 0.5)
        } else {
            capped
        };
        Duration::from_secs_f64(scaled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_exp_curve_and_cap() {
        let p = RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        };
        let ms: Vec<u128> = (0..6).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(ms, vec![50, 135, 369, 1004, 2729, 3000]);
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let p = RetryPolicy::default();
        for _ in 0..100 {
            let b = p.backoff(2).as_secs_f64();
            assert!((0.184..=0.37).contains(&b), "{b}");
        }
    }

    #[test]
    fn unknown_outcome_needs_idempotency_or_opt_in() {
        let p = RetryPolicy::default();
        assert!(!p.allows(RetryKind::Unknown, false));
        assert!(p.allows(RetryKind::Unknown, true));
        assert!(p.allows(RetryKind::NotSent, false));
        assert!(p.allows(RetryKind::Throttled, false));
        assert!(!p.allows(RetryKind::Permanent, true));
        assert!(p
            .clone()
            .with_retry_unknown_outcome(true)
            .allows(RetryKind::Unknown, false));
    }
}
