//! Verifying the `Upstash-Signature` header of requests QStash delivers.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::Mac;
use serde::{Deserialize, Serialize};
use upstash_core::Secret;

use crate::jwt;

/// Environment variable holding the current signing key.
pub const CURRENT_SIGNING_KEY_ENV: &str = "QSTASH_CURRENT_SIGNING_KEY";
/// Environment variable holding the next signing key.
pub const NEXT_SIGNING_KEY_ENV: &str = "QSTASH_NEXT_SIGNING_KEY";

/// Longest `Upstash-Signature` accepted by default (bytes). QStash tokens are a few hundred
/// bytes plus the destination URL; anything larger is refused before any decoding.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a signature was rejected. Messages never include the token, the keys, the body or
/// claim values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The receiver has no usable (non-empty) signing key.
    #[error("no signing key configured")]
    MissingKeys,
    /// The token is longer than the receiver's limit.
    #[error("signature token too large ({len} bytes, limit {max})")]
    TokenTooLarge {
        /// Length of the token received.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The token is not a well-formed compact JWS (three base64url segments, JSON header and
    /// payload).
    #[error("malformed signature token: {0}")]
    MalformedToken(&'static str),
    /// The header names an algorithm other than HS256 (including `none`).
    #[error("unsupported signature algorithm (only HS256 is accepted)")]
    UnsupportedAlgorithm,
    /// The HMAC matches neither the current nor the next signing key.
    #[error("invalid signature")]
    InvalidSignature,
    /// A required claim is absent or has the wrong JSON type.
    #[error("missing or invalid claim `{0}`")]
    InvalidClaim(&'static str),
    /// `iss` is not `Upstash`.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `exp` has passed (beyond the clock tolerance).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock tolerance).
    #[error("token not yet valid")]
    NotYetValid,
    /// `sub` differs from the URL the caller expected.
    #[error("subject does not match the expected URL")]
    WrongSubject,
    /// The `body` claim is not the hash of the body received.
    #[error("body hash does not match")]
    BodyMismatch,
}

/// What to check besides the signature; see [`Receiver::verify`].
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct VerifyOptions<'a> {
    /// The URL the request was sent to; when set, `sub` must equal it exactly.
    pub url: Option<&'a str>,
    /// How far `exp` and `nbf` may be off (default zero).
    pub clock_tolerance: Duration,
    /// The time to check `exp`/`nbf` against (default: the system clock).
    pub now: Option<SystemTime>,
}

impl<'a> VerifyOptions<'a> {
    /// No URL check, no clock tolerance, the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `sub` to equal `url` exactly (no normalisation).
    pub fn url(mut self, url: &'a str) -> Self {
        self.url = Some(url);
        self
    }

    /// Allows `exp`/`nbf` to be off by this much.
    pub fn clock_tolerance(mut self, tolerance: Duration) -> Self {
        self.clock_tolerance = tolerance;
        self
    }

    /// Checks the time claims against `now` instead of the system clock.
    pub fn now(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }
}

/// The claims of a verified QStash token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Claims {
    /// Issuer, always `Upstash`.
    pub iss: String,
    /// The URL the message was sent to (endpoint URL for URL groups, callback URL for
    /// callbacks).
    pub sub: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Not valid before, unix seconds.
    pub nbf: i64,
    /// Issued at, unix seconds, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Token id (`jwt_...`); numeric ids are given as their decimal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// base64url(SHA-256(body)) as sent (usually with `=` padding).
    pub body: String,
}

/// Verifies `Upstash-Signature` tokens with the current and the next signing key.
///
/// Cheap to clone; `Debug` never shows the keys.
///
/// ```
/// use upstash_qstash::{Receiver, VerifyOptions, signer::Signer};
///
/// let receiver = Receiver::new("sig_current", "sig_next");
/// let token = Signer::new("sig_current").sign(b"{\"hello\":1}", "https://example.com/hook");
/// let claims = receiver
///     .verify(&token, b"{\"hello\":1}", VerifyOptions::new().url("https://example.com/hook"))
///     .unwrap();
/// assert_eq!(claims.sub, "https://example.com/hook");
/// ```
#[derive(Clone)]
pub struct Receiver {
    current: Secret,
    next: Secret,
    /// HMAC states already keyed with the non-empty keys (current first): cloning one skips
    /// the key schedule on every verification.
    macs: Vec<jwt::HmacSha256>,
    max_token_len: usize,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("current", &self.current)
            .field("next", &self.next)
            .field("max_token_len", &self.max_token_len)
            .finish()
    }
}

impl Receiver {
    /// A receiver for the two signing keys (the `sig_...` strings from the console). An empty
    /// key is never used for verification.
    pub fn new(current: impl Into<Secret>, next: impl Into<Secret>) -> Self {
        let current = current.into();
        let next = next.into();
        let macs = [&current, &next]
            .into_iter()
            .map(Secret::expose)
            .filter(|k| !k.is_empty())
            .map(jwt::mac)
            .collect();
        Self {
            current,
            next,
            macs,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }

    /// A receiver from `QSTASH_CURRENT_SIGNING_KEY` and `QSTASH_NEXT_SIGNING_KEY`; the error
    /// names the missing variable.
    pub fn from_env() -> Result<Self, upstash_core::Error> {
        let current = upstash_core::env::var(CURRENT_SIGNING_KEY_ENV)?;
        let next = upstash_core::env::var(NEXT_SIGNING_KEY_ENV)?;
        Ok(Self::new(current, next))
    }

    /// Sets the longest token accepted (default [`DEFAULT_MAX_TOKEN_LEN`]).
    pub fn with_max_token_len(mut self, max: usize) -> Self {
        self.max_token_len = max;
        self
    }

    /// Verifies a token against the raw request body, as QStash's official receivers do:
    ///
    /// 1. size limit, three base64url segments, header `alg` exactly `HS256`;
    /// 2. HMAC-SHA256 of `header.payload` with the current key, then the next key, compared
    ///    in constant time;
    /// 3. claims: `iss == "Upstash"`, `exp` and `nbf` (both required) within
    ///    `clock_tolerance`, `sub == url` when a URL is given, and `body` ==
    ///    base64url(SHA-256(body)), padded or not. `aud` is ignored and any `jti` accepted.
    ///
    /// Pass the body exactly as received: re-serialised JSON will not match.
    pub fn verify(
        &self,
        signature: &str,
        body: &[u8],
        options: VerifyOptions<'_>,
    ) -> Result<Claims, VerifyError> {
        if self.macs.is_empty() {
            return Err(VerifyError::MissingKeys);
        }
        let token = signature.trim();
        if token.len() > self.max_token_len {
            return Err(VerifyError::TokenTooLarge {
                len: token.len(),
                max: self.max_token_len,
            });
        }
        let parts = split(token)?;
        check_header(parts.header)?;
        // An HS256 signature is 32 bytes; anything that does not fit this buffer cannot match.
        let mut sig_buf = [0u8; 64];
        let sig_len = match jwt::B64URL_LENIENT.decode_slice(parts.signature, &mut sig_buf) {
            Ok(n) => n,
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                return Err(VerifyError::InvalidSignature)
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => {
                return Err(VerifyError::MalformedToken("signature is not base64url"))
            }
        };
        let signature = &sig_buf[..sig_len];
        let signed = &token.as_bytes()[..parts.signed_len];
        let valid = self.macs.iter().any(|keyed| {
            let mut mac = keyed.clone();
            mac.update(signed);
            mac.verify_slice(signature).is_ok()
        });
        if !valid {
            return Err(VerifyError::InvalidSignature);
        }
        let claims = decode_claims(parts.payload)?;
        check_claims(&claims, body, options)?;
        Ok(claims)
    }
}

struct Parts<'t> {
    header: &'t str,
    payload: &'t str,
    signature: &'t str,
    /// Length of `header.payload`, the signed input.
    signed_len: usize,
}

fn split(token: &str) -> Result<Parts<'_>, VerifyError> {
    if token.is_empty() {
        return Err(VerifyError::MalformedToken("empty token"));
    }
    let mut it = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(VerifyError::MalformedToken("expected three segments"));
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(VerifyError::MalformedToken("empty segment"));
    }
    Ok(Parts {
        header,
        payload,
        signature,
        signed_len: header.len() + 1 + payload.len(),
    })
}

fn check_header(segment: &str) -> Result<(), VerifyError> {
    if segment == jwt::HEADER_B64 {
        return Ok(()); // the exact header QStash sends: skip the decoding
    }
    let raw = jwt::B64URL_LENIENT
        .decode(segment)
        .map_err(|_| VerifyError::MalformedToken("header is not base64url"))?;
    let header: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|_| VerifyError::MalformedToken("header is not JSON"))?;
    let Some(header) = header.as_object() else {
        return Err(VerifyError::MalformedToken("header is not a JSON object"));
    };
    match header.get("alg").and_then(|a| a.as_str()) {
        Some("HS256") => {}
        _ => return Err(VerifyError::UnsupportedAlgorithm),
    }
    // RFC 7515 §4.1.11: a critical extension we do not understand must be rejected.
    if header.contains_key("crit") {
        return Err(VerifyError::MalformedToken("unsupported critical header"));
    }
    if let Some(typ) = header.get("typ") {
        if !typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT")) {
            return Err(VerifyError::MalformedToken("typ is not JWT"));
        }
    }
    Ok(())
}

/// The claims as QStash sends them, borrowed from the payload: the fast path. Any
/// deviation (a missing or mistyped claim, duplicate keys) falls back to the slow path,
/// which names the problem.
#[derive(Deserialize)]
struct FastClaims<'a> {
    #[serde(borrow)]
    iss: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    sub: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    body: std::borrow::Cow<'a, str>,
    exp: serde_json::Number,
    nbf: serde_json::Number,
    #[serde(default)]
    iat: Option<serde_json::Number>,
    #[serde(default)]
    jti: Option<serde_json::Value>,
}

impl FastClaims<'_> {
    fn into_claims(self) -> Option<Claims> {
        let num = |n: serde_json::Number| numeric_date(&serde_json::Value::Number(n));
        let iat = match self.iat {
            Some(n) => Some(num(n)?),
            None => None,
        };
        let jti = match self.jti {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(_) => None,
        };
        Some(Claims {
            iss: self.iss.into_owned(),
            sub: self.sub.into_owned(),
            exp: num(self.exp)?,
            nbf: num(self.nbf)?,
            iat,
            jti,
            body: self.body.into_owned(),
        })
    }
}

fn decode_claims(segment: &str) -> Result<Claims, VerifyError> {
    let raw = jwt::B64URL_LENIENT
        .decode(segment)
        .map_err(|_| VerifyError::MalformedToken("payload is not base64url"))?;
    if let Some(claims) = serde_json::from_slice::<FastClaims<'_>>(&raw)
        .ok()
        .and_then(FastClaims::into_claims)
    {
        return Ok(claims);
    }
    let value: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|_| VerifyError::MalformedToken("payload is not JSON"))?;
    let Some(map) = value.as_object() else {
        return Err(VerifyError::MalformedToken("payload is not a JSON object"));
    };
    let string = |name: &'static str| -> Result<String, VerifyError> {
        map.get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or(VerifyError::InvalidClaim(name))
    };
    let time = |name: &'static str| -> Result<Option<i64>, VerifyError> {
        match map.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => numeric_date(v)
                .map(Some)
                .ok_or(VerifyError::InvalidClaim(name)),
        }
    };
    let iss = string("iss")?;
    let exp = time("exp")?.ok_or(VerifyError::InvalidClaim("exp"))?;
    let nbf = time("nbf")?.ok_or(VerifyError::InvalidClaim("nbf"))?;
    let iat = time("iat")?;
    let jti = match map.get("jti") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let sub = string("sub")?;
    let body = string("body")?;
    Ok(Claims {
        iss,
        sub,
        exp,
        nbf,
        iat,
        jti,
        body,
    })
}

/// A JWT NumericDate: integer or fractional seconds (fractions truncated towards the safe
/// side by the comparisons, which use whole seconds).
fn numeric_date(v: &serde_json::Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    if f.is_finite() && f.abs() < 1e15 {
        Some(f.floor() as i64)
    } else {
        None
    }
}

fn check_claims(
    claims: &Claims,
    body: &[u8],
    options: VerifyOptions<'_>,
) -> Result<(), VerifyError> {
    if claims.iss != "Upstash" {
        return Err(VerifyError::WrongIssuer);
    }
    let now = options.now.unwrap_or_else(SystemTime::now);
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let tol = i64::try_from(options.clock_tolerance.as_secs()).unwrap_or(i64::MAX);
    // Valid while exp > now - tol, as jose checks it.
    if claims.exp <= now.saturating_sub(tol) {
        return Err(VerifyError::Expired);
    }
    if claims.nbf > now.saturating_add(tol) {
        return Err(VerifyError::NotYetValid);
    }
    if let Some(url) = options.url {
        if claims.sub != url {
            return Err(VerifyError::WrongSubject);
        }
    }
    if !jwt::body_hash_matches(&claims.body, body) {
        return Err(VerifyError::BodyMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_keys() {
        let r = Receiver::new("sig_secret_current", "sig_secret_next");
        let text = format!("{r:?}");
        assert!(!text.contains("sig_secret"));
    }

    #[test]
    fn empty_keys_are_never_used() {
        let r = Receiver::new("", "");
        assert_eq!(
            r.verify("a.b.c", b"", VerifyOptions::new()),
            Err(VerifyError::MissingKeys)
        );
    }

    #[test]
    fn numeric_dates() {
        assert_eq!(numeric_date(&serde_json::json!(10)), Some(10));
        assert_eq!(numeric_date(&serde_json::json!(10.9)), Some(10));
        assert_eq!(numeric_date(&serde_json::json!("10")), None);
        assert_eq!(numeric_date(&serde_json::json!(1e300)), None);
    }
}
