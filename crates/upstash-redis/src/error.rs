use std::fmt;

/// Errors returned by the Redis client.
///
/// Messages never contain command arguments, keys, values or credentials: only command
/// names, positions, HTTP statuses and the server's own error text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Transport, timeout, HTTP status, authorization or configuration failure.
    #[error(transparent)]
    Core(#[from] upstash_core::Error),
    /// Redis executed the command and answered with an error.
    #[error("{message}")]
    Redis {
        /// The error class (the first word of the message).
        kind: ErrorKind,
        /// The full error message as the server sent it.
        message: String,
    },
    /// The reply could not be decoded into the requested type, or the response body was not
    /// a valid Upstash reply.
    #[error("cannot decode reply: {0}")]
    Decode(String),
    /// One command of a pipeline or transaction failed.
    #[error("command {index} of the pipeline failed: {source}")]
    Pipeline {
        /// Position of the failed command (0-based).
        index: usize,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// An argument cannot be sent the way the request requires (for example binary data in
    /// a pipeline, whose JSON body carries only UTF-8 strings).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The client was used outside a Tokio runtime, or its background task stopped.
    #[error("client unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    /// The Redis error class, when the server answered with an error.
    pub fn kind(&self) -> Option<&ErrorKind> {
        match self {
            Self::Redis { kind, .. } => Some(kind),
            Self::Pipeline { source, .. } => source.kind(),
            _ => None,
        }
    }

    /// Whether this is a `NOSCRIPT` error (the script cache does not hold the SHA-1).
    pub fn is_noscript(&self) -> bool {
        matches!(self.kind(), Some(ErrorKind::NoScript))
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Core(upstash_core::Error::Timeout(_)))
    }

    /// Whether the server rejected the token.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Core(upstash_core::Error::Unauthorized { .. }))
    }

    /// Builds a Redis error from the server's message.
    pub(crate) fn redis(message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Redis {
            kind: ErrorKind::from_message(&message),
            message,
        }
    }

    pub(crate) fn decode(message: impl Into<String>) -> Self {
        Self::Decode(message.into())
    }
}

/// The class of a Redis error reply, taken from its first word.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `ERR`: generic failure (syntax, arity, unknown command, limits).
    Err,
    /// `WRONGTYPE`: the key holds a value of another type.
    WrongType,
    /// `NOSCRIPT`: no script with that SHA-1 is cached.
    NoScript,
    /// `NOPERM`: the token's ACL user may not run the command or touch the key.
    NoPerm,
    /// `EXECABORT`: a transaction was discarded because a command failed to queue.
    ExecAbort,
    /// `BUSY`: a script is running.
    Busy,
    /// `OOM`: the server is out of memory.
    Oom,
    /// `WRONGPASS` / `NOAUTH`: authentication failed.
    Auth,
    /// `READONLY`: a write reached a read-only replica.
    ReadOnly,
    /// Any other prefix, as sent.
    Other(String),
}

impl ErrorKind {
    fn from_message(message: &str) -> Self {
        let word = message.split_whitespace().next().unwrap_or_default();
        match word {
            "ERR" => Self::Err,
            "WRONGTYPE" => Self::WrongType,
            "NOSCRIPT" => Self::NoScript,
            "NOPERM" => Self::NoPerm,
            "EXECABORT" => Self::ExecAbort,
            "BUSY" => Self::Busy,
            "OOM" => Self::Oom,
            "WRONGPASS" | "NOAUTH" => Self::Auth,
            "READONLY" => Self::ReadOnly,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Err => "ERR",
            Self::WrongType => "WRONGTYPE",
            Self::NoScript => "NOSCRIPT",
            Self::NoPerm => "NOPERM",
            Self::ExecAbort => "EXECABORT",
            Self::Busy => "BUSY",
            Self::Oom => "OOM",
            Self::Auth => "WRONGPASS",
            Self::ReadOnly => "READONLY",
            Self::Other(s) => s,
        };
        f.write_str(text)
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_messages() {
        assert_eq!(
            Error::redis("NOSCRIPT No matching script. Please use EVAL.").kind(),
            Some(&ErrorKind::NoScript)
        );
        assert_eq!(
            Error::redis("WRONGTYPE Operation against a key").kind(),
            Some(&ErrorKind::WrongType)
        );
        assert_eq!(
            Error::redis("weird").kind(),
            Some(&ErrorKind::Other("weird".into()))
        );
        let nested = Error::Pipeline {
            index: 2,
            source: Box::new(Error::redis("NOSCRIPT x")),
        };
        assert!(nested.is_noscript());
    }
}
