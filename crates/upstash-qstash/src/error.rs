use upstash_core::http::HeaderMap;

use crate::VerifyError;

/// Errors returned by the QStash client.
///
/// Messages never include tokens, signing keys, message bodies or argument values: only
/// names, HTTP statuses and the server's own error text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Transport, timeout or configuration failure (from the shared core).
    #[error(transparent)]
    Core(#[from] upstash_core::Error),
    /// QStash answered with a non-2xx status (other than 429).
    #[error("QStash error (HTTP {status}): {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The server's `{"error": ...}` text (or the start of the body), truncated.
        message: String,
    },
    /// QStash refused the request with HTTP 429.
    #[error("QStash rate limit reached ({kind}): {message}")]
    RateLimited {
        /// Which limit was hit, from the response headers.
        kind: RateLimitKind,
        /// The limit, when the server said.
        limit: Option<u64>,
        /// What is left, when the server said.
        remaining: Option<u64>,
        /// When the limit resets (as the server sent it: unix seconds or milliseconds).
        reset: Option<u64>,
        /// The server's message.
        message: String,
    },
    /// A 2xx response whose body is not what the API documents.
    #[error("cannot decode QStash response (HTTP {status}): {message}")]
    Decode {
        /// The HTTP status.
        status: u16,
        /// What did not match.
        message: String,
    },
    /// An argument was refused before sending (empty id, invalid header name, no flow
    /// control limit...). The message names the argument, never its value.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A webhook signature did not verify.
    #[error("signature verification failed: {0}")]
    Verify(#[from] VerifyError),
}

/// Which QStash rate limit a 429 reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitKind {
    /// The per-second burst limit of the management endpoints (`Burst-RateLimit-*`).
    Burst,
    /// The daily message quota (`RateLimit-*`).
    Daily,
    /// The LLM request/token limit (`x-ratelimit-*`).
    Chat,
    /// A 429 without any of the known headers.
    Unknown,
}

impl std::fmt::Display for RateLimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Burst => "burst",
            Self::Daily => "daily",
            Self::Chat => "chat",
            Self::Unknown => "unknown",
        })
    }
}

impl Error {
    /// The HTTP status of an API error, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            Self::Core(upstash_core::Error::Unauthorized { status, .. })
            | Self::Core(upstash_core::Error::Http { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// Whether the server answered 404 (no such message, schedule, queue, ...).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the server rejected the token (401/403).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// Builds the error for a non-2xx response.
    pub(crate) fn from_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let message = server_message(body);
        if status != 429 {
            return Self::Api { status, message };
        }
        let num = |name: &str| -> Option<u64> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        };
        let (kind, prefix) = if headers.contains_key("burst-ratelimit-limit") {
            (RateLimitKind::Burst, "burst-ratelimit-")
        } else if headers.contains_key("ratelimit-limit") {
            (RateLimitKind::Daily, "ratelimit-")
        } else if headers.contains_key("x-ratelimit-limit-requests") {
            (RateLimitKind::Chat, "x-ratelimit-")
        } else {
            (RateLimitKind::Unknown, "ratelimit-")
        };
        let (limit, remaining, reset) = if kind == RateLimitKind::Chat {
            (
                num("x-ratelimit-limit-requests"),
                num("x-ratelimit-remaining-requests"),
                num("x-ratelimit-reset-requests"),
            )
        } else {
            (
                num(&format!("{prefix}limit")),
                num(&format!("{prefix}remaining")),
                num(&format!("{prefix}reset")),
            )
        };
        Self::RateLimited {
            kind,
            limit,
            remaining,
            reset,
            message,
        }
    }
}

/// The `error` field of a JSON error body, or the start of the body.
fn server_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => upstash_core::snippet(e.error.as_bytes()),
        Err(_) => upstash_core::snippet(body),
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use upstash_core::http::HeaderValue;

    #[test]
    fn api_error_takes_the_error_field() {
        let e = Error::from_response(400, &HeaderMap::new(), br#"{"error":"bad url"}"#);
        assert_eq!(e.to_string(), "QStash error (HTTP 400): bad url");
        let e = Error::from_response(500, &HeaderMap::new(), b"oops");
        assert_eq!(e.status(), Some(500));
        assert!(Error::from_response(404, &HeaderMap::new(), b"").is_not_found());
    }

    #[test]
    fn rate_limit_kinds() {
        let mut h = HeaderMap::new();
        h.insert("burst-ratelimit-limit", HeaderValue::from_static("100"));
        h.insert("burst-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert(
            "burst-ratelimit-reset",
            HeaderValue::from_static("1700000000"),
        );
        let e = Error::from_response(429, &h, br#"{"error":"slow down"}"#);
        assert!(matches!(
            e,
            Error::RateLimited {
                kind: RateLimitKind::Burst,
                limit: Some(100),
                remaining: Some(0),
                reset: Some(1_700_000_000),
                ..
            }
        ));
        let mut h = HeaderMap::new();
        h.insert("ratelimit-limit", HeaderValue::from_static("500"));
        let e = Error::from_response(429, &h, b"");
        assert!(matches!(
            e,
            Error::RateLimited {
                kind: RateLimitKind::Daily,
                limit: Some(500),
                ..
            }
        ));
    }
}
