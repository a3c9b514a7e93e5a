//! The crate's error type.

/// Errors of the rate limiter.
///
/// Messages never contain identifiers, keys or credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A window or interval could not be parsed or is out of range.
    #[error("invalid window: {0}")]
    InvalidWindow(&'static str),
    /// The limiter or a call was configured with invalid values.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The Upstash REST backend failed.
    #[error("redis (REST) error: {0}")]
    Rest(#[from] upstash_redis::Error),
    /// The RESP backend failed.
    #[cfg(feature = "resp")]
    #[error("redis (RESP) error: {0}")]
    Resp(#[from] redis::RedisError),
    /// A store returned a reply of an unexpected shape, or failed in its own way.
    #[error("store error: {0}")]
    Store(String),
    /// The decision did not arrive within the configured timeout and the policy is to report
    /// it as an error.
    #[error("rate-limit decision timed out")]
    Timeout,
    /// The request carrying a batch of decisions failed as a whole; every decision of the
    /// batch reports this shared cause (displayed as the cause itself).
    #[error(transparent)]
    Batch(std::sync::Arc<Error>),
    /// The feature needs an option that is off (`dynamic_limits`, for example).
    #[error("{0}")]
    Disabled(&'static str),
}

impl Error {
    /// Whether a script failed because the server does not know the `allow-key-locking`
    /// shebang flag (vanilla Redis / Valkey).
    pub(crate) fn is_unknown_script_flag(&self) -> bool {
        self.to_string().contains("Unexpected flag")
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
