use std::time::Duration;

/// Errors of the shared transport, wrapped by every service crate's own error type.
///
/// No variant ever carries a credential or a request body: only the names of things, HTTP
/// status codes and (truncated) server messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required environment variable is missing or empty.
    #[error("environment variable {name} is not set{}", fallback_hint(.fallbacks))]
    MissingEnv {
        /// The variable that was looked up first.
        name: String,
        /// Other names that were tried as fallbacks, in order.
        fallbacks: Vec<String>,
    },
    /// A configuration value is invalid (bad URL, whitespace in a token, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The request could not be completed at the HTTP level.
    #[error("transport error: {message}")]
    Transport {
        /// What went wrong, without URL query strings or headers.
        message: String,
        /// `false` when the request provably never reached the server (connect/DNS/TLS
        /// failure), so repeating it cannot apply it twice.
        maybe_sent: bool,
        /// The underlying client or I/O error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// No response arrived within the configured timeout; the server may still apply the request.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The server rejected the credentials (HTTP 401/403).
    #[error("unauthorized (HTTP {status}): {message}")]
    Unauthorized {
        /// The HTTP status code.
        status: u16,
        /// The server's message, truncated.
        message: String,
    },
    /// The server answered with a status the service crate did not expect.
    #[error("HTTP {status}: {body}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most [`Error::SNIPPET_LEN`] characters).
        body: String,
        /// Seconds to wait before trying again, from a `Retry-After` header.
        retry_after: Option<Duration>,
    },
}

fn fallback_hint(fallbacks: &[String]) -> String {
    if fallbacks.is_empty() {
        String::new()
    } else {
        format!(" (also tried {})", fallbacks.join(", "))
    }
}

/// How an error relates to retrying: the policy behind [`crate::RetryPolicy`], exposed so that
/// callers building their own loops make the same decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryKind {
    /// The request never reached the server: always safe to repeat.
    NotSent,
    /// The server refused the request without applying it (HTTP 429): safe to repeat later.
    Throttled,
    /// The outcome is unknown (lost response, timeout, 5xx): repeat only idempotent requests.
    Unknown,
    /// Repeating cannot help (4xx, bad configuration).
    Permanent,
}

impl Error {
    /// Longest server message kept in an error.
    pub const SNIPPET_LEN: usize = 200;

    /// Classifies the error for retrying.
    pub fn retry_kind(&self) -> RetryKind {
        match self {
            Self::Transport {
                maybe_sent: false, ..
            } => RetryKind::NotSent,
            Self::Transport { .. } | Self::Timeout(_) => RetryKind::Unknown,
            Self::Http { status: 429, .. } => RetryKind::Throttled,
            Self::Http { status, .. } if *status >= 500 => RetryKind::Unknown,
            _ => RetryKind::Permanent,
        }
    }

    /// Builds the error for an unexpected HTTP status from the raw response body.
    pub fn from_status(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let text = snippet(body);
        if status == 401 || status == 403 {
            Self::Unauthorized {
                status,
                message: text,
            }
        } else {
            Self::Http {
                status,
                body: text,
                retry_after,
            }
        }
    }
}

/// The start of a response body as text, at most [`Error::SNIPPET_LEN`] characters, with
/// invalid UTF-8 replaced; used wherever a server message goes into an error.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(Error::SNIPPET_LEN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_truncates_on_char_boundary() {
        let long = "é".repeat(300);
        let s = snippet(long.as_bytes());
        assert_eq!(s.chars().count(), Error::SNIPPET_LEN + 3);
        assert_eq!(snippet(b"  short  "), "short");
    }

    #[test]
    fn classification() {
        assert_eq!(
            Error::from_status(429, b"", None).retry_kind(),
            RetryKind::Throttled
        );
        assert_eq!(
            Error::from_status(503, b"", None).retry_kind(),
            RetryKind::Unknown
        );
        assert_eq!(
            Error::from_status(400, b"", None).retry_kind(),
            RetryKind::Permanent
        );
        assert!(matches!(
            Error::from_status(401, b"no", None),
            Error::Unauthorized { .. }
        ));
        let missing = Error::MissingEnv {
            name: "A".into(),
            fallbacks: vec!["B".into()],
        };
        assert_eq!(
            missing.to_string(),
            "environment variable A is not set (also tried B)"
        );
    }
}
