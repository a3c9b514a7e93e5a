use crate::filter::FilterError;

/// Errors of the Vector client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Transport, configuration or unexpected HTTP status (from `upstash-core`).
    #[error(transparent)]
    Core(#[from] upstash_core::Error),
    /// The server answered `{"error": message, "status": status}`.
    #[error("vector API error (HTTP {status}): {message}")]
    Api {
        /// HTTP status (400 bad request, 401 auth, 404 missing, 422 validation).
        status: u16,
        /// The server's message, truncated.
        message: String,
    },
    /// A success response whose body could not be decoded (e.g. an HTML error page).
    #[error("cannot decode the response: {message} (body starts with: {body_snippet})")]
    Decode {
        /// What did not match.
        message: String,
        /// The start of the body.
        body_snippet: String,
    },
    /// The arguments were rejected before sending (mixed items, empty id, bad sparse vector...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A filter failed offline validation.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A resumable query was used after `stop()`.
    #[error("the resumable query was stopped")]
    ResumableStopped,
}

impl Error {
    /// HTTP status of a server error, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Core(upstash_core::Error::Unauthorized { status, .. })
            | Error::Core(upstash_core::Error::Http { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// The token was rejected (401).
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// Something was not found (404, e.g. deleting a missing namespace).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// A vector's dimension does not match the index.
    pub fn is_dimension_mismatch(&self) -> bool {
        matches!(self, Error::Api { status: 422, message } if message.contains("Invalid vector dimension"))
    }

    /// The index has no embedding model for `data`.
    pub fn is_embedding_not_allowed(&self) -> bool {
        matches!(self, Error::Api { status: 422, message } if message.contains("Embedding data") || message.contains("not allowed"))
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
