//! The crate's error type.

/// Errors of the Kafka client.
///
/// Server errors are typed by status: [`Error::Unauthorized`] (401/403), [`Error::BadRequest`]
/// (400), [`Error::NotFound`] (404), [`Error::PayloadTooLarge`] (413) and [`Error::Api`] for any
/// other status with the server's `{"error": ..}` body. No variant carries a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Transport failure, timeout, configuration error, missing environment variable, or an
    /// unexpected status whose body is not the Kafka error shape (from `upstash-core`).
    #[error(transparent)]
    Core(#[from] upstash_core::Error),
    /// The credentials were rejected (HTTP 401 or 403). Never retried.
    #[error("unauthorized (HTTP {status}): {message}")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The server's message, truncated.
        message: String,
    },
    /// The server rejected the request as malformed (HTTP 400): a bad topic name, an unknown
    /// topic, an invalid body, ... Never retried.
    #[error("bad request: {message}")]
    BadRequest {
        /// The server's message, truncated.
        message: String,
    },
    /// Something does not exist (HTTP 404): an unknown consumer group or instance, a path the
    /// server does not serve. Never retried.
    #[error("not found: {message}")]
    NotFound {
        /// The server's message, truncated.
        message: String,
    },
    /// A message or request body exceeded the server's size limit (HTTP 413).
    #[error("payload too large: {message}")]
    PayloadTooLarge {
        /// The server's message, truncated.
        message: String,
    },
    /// Any other error status with a `{"error": .., "status": ..}` body.
    #[error("Kafka API error (HTTP {status}): {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The server's message, truncated.
        message: String,
    },
    /// A success response whose body could not be decoded.
    #[error("cannot decode the response: {message} (body starts with: {body_snippet})")]
    Decode {
        /// What did not match.
        message: String,
        /// The start of the body.
        body_snippet: String,
    },
    /// The arguments were rejected before sending (empty topic, non-UTF-8 value, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A message value (or key) could not be decoded as the requested type.
    #[error("cannot decode the message value: {0}")]
    Value(String),
}

impl Error {
    /// The HTTP status of a server error, if the error came from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { status, .. } | Error::Api { status, .. } => Some(*status),
            Error::BadRequest { .. } => Some(400),
            Error::NotFound { .. } => Some(404),
            Error::PayloadTooLarge { .. } => Some(413),
            Error::Core(upstash_core::Error::Unauthorized { status, .. })
            | Error::Core(upstash_core::Error::Http { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// The credentials were rejected.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// Something was not found (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The server's message, for errors that carry one.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Error::Unauthorized { message, .. }
            | Error::BadRequest { message }
            | Error::NotFound { message }
            | Error::PayloadTooLarge { message }
            | Error::Api { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Builds the typed error for an error status and its message.
    pub(crate) fn from_api(status: u16, message: String) -> Self {
        match status {
            400 => Error::BadRequest { message },
            401 | 403 => Error::Unauthorized { status, message },
            404 => Error::NotFound { message },
            413 => Error::PayloadTooLarge { message },
            _ => Error::Api { status, message },
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
