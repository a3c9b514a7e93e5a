//! The limiting algorithms and their parameters.

use crate::duration::{IntoWindow, Window};
use crate::{Error, Result};

/// How requests are counted. Build with the constructors, which validate the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// At most `tokens` requests per window aligned to the Unix epoch. Rejected requests are
    /// counted too (as in JS).
    FixedWindow {
        /// Requests allowed per window.
        tokens: i64,
        /// Window length.
        window: Window,
    },
    /// The current window's count plus the previous window's count weighted by how much of
    /// it still overlaps the sliding window.
    SlidingWindow {
        /// Requests allowed per window.
        tokens: i64,
        /// Window length.
        window: Window,
    },
    /// A bucket of `max_tokens`, refilled by `refill_rate` every `interval` (anchored at the
    /// first request).
    TokenBucket {
        /// Tokens added per interval.
        refill_rate: i64,
        /// Refill interval.
        interval: Window,
        /// Bucket capacity.
        max_tokens: i64,
    },
    /// A fixed window counted locally between server writes (experimental in JS; each
    /// instance drifts). Needs the ephemeral cache.
    CachedFixedWindow {
        /// Requests allowed per window.
        tokens: i64,
        /// Window length.
        window: Window,
    },
}

fn positive(name: &str, v: i64) -> Result<i64> {
    if v > 0 {
        Ok(v)
    } else {
        Err(Error::Config(format!("{name} must be positive")))
    }
}

impl Algorithm {
    /// `fixedWindow(tokens, window)`.
    pub fn fixed_window(tokens: i64, window: impl IntoWindow) -> Result<Self> {
        Ok(Self::FixedWindow {
            tokens: positive("tokens", tokens)?,
            window: window.into_window()?,
        })
    }

    /// `slidingWindow(tokens, window)`.
    pub fn sliding_window(tokens: i64, window: impl IntoWindow) -> Result<Self> {
        Ok(Self::SlidingWindow {
            tokens: positive("tokens", tokens)?,
            window: window.into_window()?,
        })
    }

    /// `tokenBucket(refillRate, interval, maxTokens)`: note the JS argument order.
    pub fn token_bucket(
        refill_rate: i64,
        interval: impl IntoWindow,
        max_tokens: i64,
    ) -> Result<Self> {
        Ok(Self::TokenBucket {
            refill_rate: positive("refill_rate", refill_rate)?,
            interval: interval.into_window()?,
            max_tokens: positive("max_tokens", max_tokens)?,
        })
    }

    /// `cachedFixedWindow(tokens, window)`.
    pub fn cached_fixed_window(tokens: i64, window: impl IntoWindow) -> Result<Self> {
        Ok(Self::CachedFixedWindow {
            tokens: positive("tokens", tokens)?,
            window: window.into_window()?,
        })
    }

    /// The configured limit (tokens per window, or bucket capacity).
    pub fn tokens(&self) -> i64 {
        match *self {
            Self::FixedWindow { tokens, .. }
            | Self::SlidingWindow { tokens, .. }
            | Self::CachedFixedWindow { tokens, .. } => tokens,
            Self::TokenBucket { max_tokens, .. } => max_tokens,
        }
    }

    /// The window (or refill interval).
    pub fn window(&self) -> Window {
        match *self {
            Self::FixedWindow { window, .. }
            | Self::SlidingWindow { window, .. }
            | Self::CachedFixedWindow { window, .. } => window,
            Self::TokenBucket { interval, .. } => interval,
        }
    }

    /// A short name (`"fixed_window"`, ...) for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::FixedWindow { .. } => "fixed_window",
            Self::SlidingWindow { .. } => "sliding_window",
            Self::TokenBucket { .. } => "token_bucket",
            Self::CachedFixedWindow { .. } => "cached_fixed_window",
        }
    }
}
