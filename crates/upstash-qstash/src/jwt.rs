//! The few JWT (compact JWS, HS256) primitives the receiver and the signer share.
//!
//! Hand-rolled on `hmac` + `sha2` + `base64` so that the header's `alg` is checked strictly
//! (HS256 only) and the claim rules are exactly the ones QStash needs.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// base64url without padding, for encoding JWT segments and the body hash comparison.
pub(crate) const B64URL: GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url for decoding JWT segments: padding tolerated but not required.
pub(crate) const B64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// base64url with `=` padding, as QStash writes the `body` claim.
pub(crate) const B64URL_PADDED: GeneralPurpose = base64::engine::general_purpose::URL_SAFE;

/// The JOSE header QStash puts on every token, already base64url-encoded:
/// `{"alg":"HS256","typ":"JWT"}`.
pub(crate) const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// A new HMAC-SHA256 keyed with the UTF-8 bytes of a signing key (QStash uses the `sig_...`
/// string itself, not its base64 decoding).
pub(crate) fn mac(key: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this never fails; the fallback keeps the code
    // panic-free without an `expect`.
    <HmacSha256 as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}

/// base64url(SHA-256(body)) without padding.
#[cfg(test)]
pub(crate) fn body_hash_unpadded(body: &[u8]) -> String {
    B64URL.encode(Sha256::digest(body))
}

/// Whether a `body` claim (base64url, `=` padding optional) is SHA-256(body). Compares the
/// decoded bytes, without allocating; like the string comparison it replaces, only the
/// canonical encoding matches (the decoder refuses non-zero trailing bits).
pub(crate) fn body_hash_matches(claim: &str, body: &[u8]) -> bool {
    let claim = claim.trim_end_matches('=');
    let mut buf = [0u8; 48];
    match B64URL.decode_slice(claim, &mut buf) {
        Ok(32) => buf[..32] == Sha256::digest(body)[..],
        _ => false,
    }
}

/// base64url(SHA-256(body)) with padding, as QStash emits it (44 characters).
pub(crate) fn body_hash_padded(body: &[u8]) -> String {
    B64URL_PADDED.encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_constant_matches_json() {
        let decoded = B64URL_LENIENT.decode(HEADER_B64).unwrap_or_default();
        assert_eq!(decoded, br#"{"alg":"HS256","typ":"JWT"}"#);
    }

    #[test]
    fn body_hash_claims_match_padded_or_not_and_nothing_else() {
        let body = b"{\"hello\":1}";
        let padded = body_hash_padded(body);
        assert!(body_hash_matches(&padded, body));
        assert!(body_hash_matches(&body_hash_unpadded(body), body));
        assert!(!body_hash_matches(&padded, b"{\"hello\":2}"));
        assert!(!body_hash_matches("", body));
        assert!(!body_hash_matches("not base64!", body));
        // A different last character that decodes to the same bytes only with non-zero
        // trailing bits is refused, as the string comparison did.
        let mut tweaked = body_hash_unpadded(body);
        let last = tweaked.pop().unwrap_or('A');
        let alt = if last == 'A' { 'B' } else { 'A' };
        tweaked.push(alt);
        assert!(!body_hash_matches(&tweaked, body));
        // Too long for a SHA-256 hash.
        let unpadded = body_hash_unpadded(body);
        assert!(!body_hash_matches(&format!("{unpadded}{unpadded}"), body));
    }

    #[test]
    fn empty_body_hash_is_the_documented_value() {
        assert_eq!(
            body_hash_padded(b""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(body_hash_padded(b"").len(), 44);
        assert_eq!(body_hash_unpadded(b"").len(), 43);
    }
}
