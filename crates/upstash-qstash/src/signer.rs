//! Creating `Upstash-Signature` tokens exactly as QStash does: for a local QStash server and
//! for users' tests of their webhook handlers.
//!
//! A token is a compact JWS with header `{"alg":"HS256","typ":"JWT"}`, HMAC-SHA256 keyed with
//! the UTF-8 bytes of the signing key, and the claims `iss: "Upstash"`, `sub`: the URL the
//! request goes to, `iat` = `nbf` = now, `exp` = now + 300 s, `jti: "jwt_<random>"`, and
//! `body`: base64url(SHA-256(body)) **with** `=` padding.
//!
//! This module uses only `hmac`, `sha2`, `base64`, `serde_json` and `fastrand`.
//!
//! ```
//! use upstash_qstash::signer::Signer;
//!
//! let signer = Signer::new("sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r");
//! let token = signer.sign(b"hello", "http://127.0.0.1:3000/hook");
//! assert_eq!(token.split('.').count(), 3);
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::Mac;
use serde::Serialize;
use upstash_core::Secret;

use crate::jwt;

/// How long a token QStash creates stays valid.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// Settings of one token; [`SignOptions::default`] is what QStash does.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SignOptions {
    /// Issue time (default: the system clock).
    pub now: Option<SystemTime>,
    /// Validity (default [`DEFAULT_TTL`], 300 s).
    pub ttl: Option<Duration>,
    /// Token id (default `jwt_` + 22 random alphanumerics).
    pub jti: Option<String>,
}

impl SignOptions {
    /// QStash's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Issues the token at `now` (so `iat` = `nbf` = `now`).
    pub fn now(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Sets the validity (`exp` = `now` + `ttl`).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Sets the token id.
    pub fn jti(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }
}

/// Signs request bodies with one signing key. `Debug` never shows the key.
#[derive(Clone)]
pub struct Signer {
    key: Secret,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("key", &self.key).finish()
    }
}

#[derive(Serialize)]
struct ClaimsOut<'a> {
    iss: &'static str,
    sub: &'a str,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: &'a str,
    body: &'a str,
}

impl Signer {
    /// A signer for a signing key (the `sig_...` string, used as-is as the HMAC key).
    pub fn new(key: impl Into<Secret>) -> Self {
        Self { key: key.into() }
    }

    /// A token for `body` sent to `url`, valid for 300 s from now.
    pub fn sign(&self, body: &[u8], url: &str) -> String {
        self.sign_with(body, url, &SignOptions::default())
    }

    /// A token for `body` sent to `url` with explicit time, validity and id.
    pub fn sign_with(&self, body: &[u8], url: &str, options: &SignOptions) -> String {
        let now = options
            .now
            .unwrap_or_else(SystemTime::now)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let ttl = options.ttl.unwrap_or(DEFAULT_TTL).as_secs();
        let random_jti;
        let jti = match &options.jti {
            Some(j) => j.as_str(),
            None => {
                random_jti = new_jti();
                random_jti.as_str()
            }
        };
        let body_hash = jwt::body_hash_padded(body);
        let claims = ClaimsOut {
            iss: "Upstash",
            sub: url,
            exp: now.saturating_add(ttl),
            nbf: now,
            iat: now,
            jti,
            body: &body_hash,
        };
        // Serialising a struct of strings and integers cannot fail.
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        self.sign_payload(&payload)
    }

    /// Signs an arbitrary JSON payload with the QStash header; for tests that need unusual
    /// claims (a wrong issuer, an `aud`, a missing `exp`...).
    pub fn sign_payload(&self, payload_json: &[u8]) -> String {
        let mut token = String::with_capacity(64 + payload_json.len() * 4 / 3 + 48);
        token.push_str(jwt::HEADER_B64);
        token.push('.');
        jwt::B64URL.encode_string(payload_json, &mut token);
        let mut mac = jwt::mac(self.key.expose());
        mac.update(token.as_bytes());
        let sig = mac.finalize().into_bytes();
        token.push('.');
        jwt::B64URL.encode_string(sig, &mut token);
        token
    }
}

/// `jwt_` followed by 22 random alphanumeric characters.
fn new_jti() -> String {
    let mut s = String::with_capacity(26);
    s.push_str("jwt_");
    for _ in 0..22 {
        s.push(fastrand::alphanumeric());
    }
    s
}

/// base64url(SHA-256(body)) with `=` padding: the `body` claim QStash puts in a token.
pub fn body_hash(body: &[u8]) -> String {
    jwt::body_hash_padded(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Receiver, VerifyOptions};

    #[test]
    fn round_trip_and_claim_shape() {
        let signer = Signer::new("sig_a");
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = signer.sign_with(b"x", "https://e.com/a?b=1", &SignOptions::new().now(at));
        let payload = token.split('.').nth(1).unwrap_or_default();
        let raw = jwt::B64URL.decode(payload).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap_or_default();
        assert_eq!(v["iss"], "Upstash");
        assert_eq!(v["sub"], "https://e.com/a?b=1");
        assert_eq!(v["iat"], 1_700_000_000u64);
        assert_eq!(v["nbf"], 1_700_000_000u64);
        assert_eq!(v["exp"], 1_700_000_300u64);
        assert!(v["jti"]
            .as_str()
            .is_some_and(|j| j.starts_with("jwt_") && j.len() == 26));
        assert!(v["body"]
            .as_str()
            .is_some_and(|b| b.ends_with('=') && b.len() == 44));
        let r = Receiver::new("sig_a", "sig_b");
        let claims = r.verify(&token, b"x", VerifyOptions::new().now(at));
        assert!(claims.is_ok(), "{claims:?}");
    }

    #[test]
    fn debug_redacts_key() {
        assert!(!format!("{:?}", Signer::new("sig_topsecret")).contains("topsecret"));
    }
}
