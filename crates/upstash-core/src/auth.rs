use base64::Engine as _;
use reqwest::header::HeaderValue;

use crate::{Error, Secret};

/// How a client proves who it is.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Bearer <token>` (Redis, QStash, Vector).
    Bearer(Secret),
    /// `Authorization: Basic base64(user:password)` (Kafka REST).
    Basic {
        /// The user name; not secret.
        username: String,
        /// The password.
        password: Secret,
    },
    /// No `Authorization` header (useful for local servers and tests of 401 handling).
    None,
}

impl Auth {
    /// Bearer token authentication.
    pub fn bearer(token: impl Into<Secret>) -> Self {
        Self::Bearer(token.into())
    }

    /// Basic authentication.
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The `Authorization` header value, marked sensitive so that HTTP-level logging skips it.
    pub(crate) fn header_value(&self) -> Result<Option<HeaderValue>, Error> {
        let raw = match self {
            Self::Bearer(token) => format!("Bearer {}", token.expose()),
            Self::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            Self::None => return Ok(None),
        };
        let mut value = HeaderValue::from_str(&raw).map_err(|_| {
            Error::Config("credential contains characters not allowed in an HTTP header".into())
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_base64_and_sensitive() {
        let auth = Auth::basic("user", "pass");
        let value = auth.header_value().ok().flatten();
        let value = value
            .as_ref()
            .map(|v| (v.to_str().ok().map(str::to_owned), v.is_sensitive()));
        assert_eq!(value, Some((Some("Basic dXNlcjpwYXNz".to_owned()), true)));
    }

    #[test]
    fn debug_hides_secrets() {
        let auth = Auth::basic("user", "pass");
        let text = format!("{auth:?}");
        assert!(text.contains("user"));
        assert!(!text.contains("pass\""));
        assert!(!format!("{:?}", Auth::bearer("tok-123")).contains("tok-123"));
    }

    #[test]
    fn newline_in_token_is_a_config_error() {
        assert!(matches!(
            Auth::bearer("a\nb").header_value(),
            Err(Error::Config(_))
        ));
    }
}
