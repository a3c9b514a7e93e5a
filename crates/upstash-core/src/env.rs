//! Reading credentials from the environment with errors that name the missing variable.

use crate::Error;

/// Reads `name`, trimmed; a missing or empty variable is [`Error::MissingEnv`].
pub fn var(name: &str) -> Result<String, Error> {
    first_of(&[name])
}

/// Reads the first of `names` that is set and not empty (e.g. `UPSTASH_REDIS_REST_URL`, then
/// the Vercel alias `KV_REST_API_URL`). The error names the first and lists the others.
pub fn first_of(names: &[&str]) -> Result<String, Error> {
    for name in names {
        if let Ok(value) = std::env::var(name) {
            let value = value.trim();
            if !value.is_empty() {
                return Ok(value.to_owned());
            }
        }
    }
    Err(Error::MissingEnv {
        name: names.first().copied().unwrap_or_default().to_owned(),
        fallbacks: names.iter().skip(1).map(|n| (*n).to_owned()).collect(),
    })
}

/// Reads an optional variable: `None` when unset or empty.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Checks that a credential has no whitespace inside (a common copy-paste accident that
/// otherwise surfaces as a puzzling 401). The error names `what`, never the value.
pub fn check_credential(what: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::Config(format!("{what} is empty")));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(Error::Config(format!("{what} contains whitespace")));
    }
    Ok(())
}

/// Parses a base URL: `http` or `https`, one trailing `/` removed.
pub fn base_url(what: &str, value: &str) -> Result<url::Url, Error> {
    let trimmed = value.trim();
    let parsed = url::Url::parse(trimmed)
        .map_err(|e| Error::Config(format!("{what} is not a valid URL: {e}")))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(Error::Config(format!(
            "{what} must start with http:// or https://"
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_names_first_and_fallbacks() {
        let err = first_of(&["UPSTASH_TEST_SURELY_UNSET_1", "UPSTASH_TEST_SURELY_UNSET_2"]);
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("environment variable UPSTASH_TEST_SURELY_UNSET_1 is not set (also tried UPSTASH_TEST_SURELY_UNSET_2)".to_owned())
        );
    }

    #[test]
    fn credential_checks_do_not_leak_value() {
        let err = check_credential("token", "abc def").map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("invalid configuration: token contains whitespace".to_owned())
        );
        assert!(check_credential("token", "abc").is_ok());
    }

    #[test]
    fn base_url_schemes() {
        assert!(base_url("url", "https://x.upstash.io").is_ok());
        assert!(base_url("url", "http://127.0.0.1:1234/").is_ok());
        assert!(base_url("url", "redis://x").is_err());
        assert!(base_url("url", "not a url").is_err());
    }
}
