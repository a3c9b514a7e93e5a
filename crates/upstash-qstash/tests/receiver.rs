//! Adversarial suite for `Receiver::verify`: every way a token can be wrong gives its own
//! typed error, and nothing panics on arbitrary input.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256, Sha512};
use upstash_qstash::signer::{body_hash, SignOptions, Signer};
use upstash_qstash::{Receiver, VerifyError, VerifyOptions};

const CURRENT: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
const NEXT: &str = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";
const URL: &str = "https://example.com/api/webhook?x=1";
const BODY: &[u8] = br#"{"hello":"world"}"#;
const NOW: u64 = 1_750_000_000;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn receiver() -> Receiver {
    Receiver::new(CURRENT, NEXT)
}

fn opts() -> VerifyOptions<'static> {
    VerifyOptions::new().now(now())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with an arbitrary header and payload, HMAC-SHA256 signed with `key`.
fn hs256(key: &str, header: &serde_json::Value, payload: &serde_json::Value) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
}

fn header() -> serde_json::Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn claims() -> serde_json::Value {
    json!({
        "iss": "Upstash",
        "sub": URL,
        "exp": NOW + 300,
        "nbf": NOW,
        "iat": NOW,
        "jti": "jwt_abc",
        "body": body_hash(BODY),
    })
}

fn with(mut claims: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    claims[key] = value;
    claims
}

fn verify(token: &str) -> Result<upstash_qstash::Claims, VerifyError> {
    receiver().verify(token, BODY, opts().url(URL))
}

#[test]
fn signer_token_verifies_and_returns_claims() {
    let token = Signer::new(CURRENT).sign_with(BODY, URL, &SignOptions::new().now(now()));
    let claims = verify(&token).unwrap();
    assert_eq!(claims.iss, "Upstash");
    assert_eq!(claims.sub, URL);
    assert_eq!(claims.exp, (NOW + 300) as i64);
    assert_eq!(claims.nbf, NOW as i64);
    assert_eq!(claims.body, body_hash(BODY));
}

#[test]
fn hand_built_token_verifies() {
    assert!(verify(&hs256(CURRENT, &header(), &claims())).is_ok());
}

#[test]
fn system_clock_default() {
    let token = Signer::new(CURRENT).sign(BODY, URL);
    assert!(receiver()
        .verify(&token, BODY, VerifyOptions::new().url(URL))
        .is_ok());
}

#[test]
fn tampered_body() {
    let token = hs256(CURRENT, &header(), &claims());
    let r = receiver().verify(&token, br#"{"hello":"World"}"#, opts().url(URL));
    assert_eq!(r, Err(VerifyError::BodyMismatch));
    // Re-serialised JSON (different whitespace) does not match either.
    let r = receiver().verify(&token, br#"{"hello": "world"}"#, opts());
    assert_eq!(r, Err(VerifyError::BodyMismatch));
}

#[test]
fn wrong_key() {
    let token = hs256("sig_wrong", &header(), &claims());
    assert_eq!(verify(&token), Err(VerifyError::InvalidSignature));
}

#[test]
fn next_key_rotation_accepted() {
    let token = hs256(NEXT, &header(), &claims());
    assert!(verify(&token).is_ok());
    // Only the next key configured (current empty): still fine.
    let r = Receiver::new("", NEXT).verify(&token, BODY, opts());
    assert!(r.is_ok());
}

#[test]
fn empty_key_never_verifies_an_empty_key_signature() {
    let token = hs256("", &header(), &claims());
    assert_eq!(
        Receiver::new(CURRENT, "").verify(&token, BODY, opts()),
        Err(VerifyError::InvalidSignature)
    );
}

#[test]
fn tampered_payload_or_signature() {
    let token = hs256(CURRENT, &header(), &claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let forged = with(claims(), "sub", json!("https://attacker.example/"));
    parts[1] = b64(forged.to_string().as_bytes());
    assert_eq!(verify(&parts.join(".")), Err(VerifyError::InvalidSignature));

    let mut sig = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(2).unwrap())
        .unwrap();
    sig[0] ^= 1;
    let forged = format!("{}.{}", token.rsplit_once('.').unwrap().0, b64(&sig));
    assert_eq!(verify(&forged), Err(VerifyError::InvalidSignature));

    let truncated = format!("{}.{}", token.rsplit_once('.').unwrap().0, b64(&sig[..16]));
    assert_eq!(verify(&truncated), Err(VerifyError::InvalidSignature));
}

#[test]
fn expired() {
    let token = hs256(CURRENT, &header(), &with(claims(), "exp", json!(NOW - 1)));
    assert_eq!(verify(&token), Err(VerifyError::Expired));
    let token = hs256(CURRENT, &header(), &with(claims(), "exp", json!(NOW)));
    assert_eq!(verify(&token), Err(VerifyError::Expired));
    // Within tolerance.
    let token = hs256(CURRENT, &header(), &with(claims(), "exp", json!(NOW - 5)));
    let tolerant = opts().clock_tolerance(Duration::from_secs(10));
    assert!(receiver().verify(&token, BODY, tolerant).is_ok());
    // The Signer's own token, checked 301 s later.
    let token = Signer::new(CURRENT).sign_with(BODY, URL, &SignOptions::new().now(now()));
    let later = VerifyOptions::new().now(now() + Duration::from_secs(301));
    assert_eq!(
        receiver().verify(&token, BODY, later),
        Err(VerifyError::Expired)
    );
}

#[test]
fn not_yet_valid() {
    let token = hs256(CURRENT, &header(), &with(claims(), "nbf", json!(NOW + 60)));
    assert_eq!(verify(&token), Err(VerifyError::NotYetValid));
    let tolerant = opts().clock_tolerance(Duration::from_secs(60));
    assert!(receiver().verify(&token, BODY, tolerant).is_ok());
}

#[test]
fn missing_time_claims_are_rejected() {
    for name in ["exp", "nbf"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(name);
        assert_eq!(
            verify(&hs256(CURRENT, &header(), &c)),
            Err(VerifyError::InvalidClaim(name))
        );
    }
    let token = hs256(CURRENT, &header(), &with(claims(), "exp", json!("soon")));
    assert_eq!(verify(&token), Err(VerifyError::InvalidClaim("exp")));
}

#[test]
fn wrong_issuer() {
    let token = hs256(
        CURRENT,
        &header(),
        &with(claims(), "iss", json!("Upstash2")),
    );
    assert_eq!(verify(&token), Err(VerifyError::WrongIssuer));
    let mut c = claims();
    c.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        verify(&hs256(CURRENT, &header(), &c)),
        Err(VerifyError::InvalidClaim("iss"))
    );
}

#[test]
fn wrong_subject() {
    let token = hs256(CURRENT, &header(), &claims());
    for url in [
        "https://example.com/api/webhook",
        "https://example.com/api/webhook?x=1/",
        "HTTPS://example.com/api/webhook?x=1",
    ] {
        assert_eq!(
            receiver().verify(&token, BODY, opts().url(url)),
            Err(VerifyError::WrongSubject)
        );
    }
    // No URL given: the subject is not checked (as the official framework helpers do).
    assert!(receiver().verify(&token, BODY, opts()).is_ok());
}

#[test]
fn alg_none_rejected() {
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims().to_string().as_bytes())
    );
    // An empty signature segment is malformed before the algorithm is even looked at.
    assert_eq!(
        verify(&none),
        Err(VerifyError::MalformedToken("empty segment"))
    );
    // With some signature bytes, the header check rejects it.
    let none_sig = format!("{none}AAAA");
    assert_eq!(verify(&none_sig), Err(VerifyError::UnsupportedAlgorithm));
    // alg "None", "hs256" (case), missing alg, non-string alg.
    for h in [
        json!({"alg": "None"}),
        json!({"alg": "hs256", "typ": "JWT"}),
        json!({"typ": "JWT"}),
        json!({"alg": 256}),
    ] {
        assert_eq!(
            verify(&hs256(CURRENT, &h, &claims())),
            Err(VerifyError::UnsupportedAlgorithm),
            "{h}"
        );
    }
}

#[test]
fn other_algorithms_rejected() {
    // HS512 correctly signed with the real key: still refused.
    let h = json!({"alg": "HS512", "typ": "JWT"});
    let signed = format!(
        "{}.{}",
        b64(h.to_string().as_bytes()),
        b64(claims().to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha512>::new_from_slice(CURRENT.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    let token = format!("{signed}.{}", b64(&mac.finalize().into_bytes()));
    assert_eq!(verify(&token), Err(VerifyError::UnsupportedAlgorithm));
    // HS256-signed but labelled HS384 / RS256 / ES256 (algorithm confusion).
    for alg in ["HS384", "RS256", "ES256", "PS256", "EdDSA"] {
        let token = hs256(CURRENT, &json!({"alg": alg, "typ": "JWT"}), &claims());
        assert_eq!(
            verify(&token),
            Err(VerifyError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
}

#[test]
fn odd_headers() {
    let crit = hs256(
        CURRENT,
        &json!({"alg": "HS256", "crit": ["b64"], "b64": false}),
        &claims(),
    );
    assert!(matches!(verify(&crit), Err(VerifyError::MalformedToken(_))));
    let typ = hs256(
        CURRENT,
        &json!({"alg": "HS256", "typ": "at+jwt"}),
        &claims(),
    );
    assert!(matches!(verify(&typ), Err(VerifyError::MalformedToken(_))));
    // No typ and a lower-case typ are fine.
    assert!(verify(&hs256(CURRENT, &json!({"alg": "HS256"}), &claims())).is_ok());
    assert!(verify(&hs256(
        CURRENT,
        &json!({"alg": "HS256", "typ": "jwt"}),
        &claims()
    ))
    .is_ok());
}

#[test]
fn malformed_segments() {
    let token = hs256(CURRENT, &header(), &claims());
    let parts: Vec<&str> = token.split('.').collect();
    let cases = [
        (String::new(), "empty token"),
        ("   ".to_owned(), "empty token"),
        (
            format!("{}.{}", parts[0], parts[1]),
            "expected three segments",
        ),
        (format!("{token}.{}", parts[2]), "expected three segments"),
        (format!("{token}."), "expected three segments"),
        (format!(".{}.{}", parts[1], parts[2]), "empty segment"),
        (format!("{}..{}", parts[0], parts[2]), "empty segment"),
        (
            format!("{}.{}.%%%", parts[0], parts[1]),
            "signature is not base64url",
        ),
        (
            format!("***.{}.{}", parts[1], parts[2]),
            "header is not base64url",
        ),
    ];
    for (token, reason) in cases {
        assert_eq!(
            verify(&token),
            Err(VerifyError::MalformedToken(reason)),
            "{token}"
        );
    }
    // Standard base64 characters ('+', '/') are not base64url.
    let std_header = STANDARD.encode(b"{\"alg\":\"HS256\",\"typ\":\"JWT\"}??>");
    assert!(std_header.contains('+') || std_header.contains('/'));
    assert_eq!(
        verify(&format!("{std_header}.{}.{}", parts[1], parts[2])),
        Err(VerifyError::MalformedToken("header is not base64url"))
    );
}

#[test]
fn bad_json() {
    let sign_raw = |header: &[u8], payload: &[u8]| {
        let signed = format!("{}.{}", b64(header), b64(payload));
        let mut mac = Hmac::<Sha256>::new_from_slice(CURRENT.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
    };
    let good_header = br#"{"alg":"HS256","typ":"JWT"}"#;
    let payload = claims().to_string();
    assert_eq!(
        verify(&sign_raw(b"{alg:HS256}", payload.as_bytes())),
        Err(VerifyError::MalformedToken("header is not JSON"))
    );
    assert_eq!(
        verify(&sign_raw(b"[\"HS256\"]", payload.as_bytes())),
        Err(VerifyError::MalformedToken("header is not a JSON object"))
    );
    assert_eq!(
        verify(&sign_raw(good_header, b"{\"iss\":")),
        Err(VerifyError::MalformedToken("payload is not JSON"))
    );
    assert_eq!(
        verify(&sign_raw(good_header, b"\"Upstash\"")),
        Err(VerifyError::MalformedToken("payload is not a JSON object"))
    );
    // A forged payload that is not base64url but validly signed over its text.
    let signed = format!("{}.{}", b64(good_header), "pay load");
    let mut mac = Hmac::<Sha256>::new_from_slice(CURRENT.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    let token = format!("{signed}.{}", b64(&mac.finalize().into_bytes()));
    assert_eq!(
        verify(&token),
        Err(VerifyError::MalformedToken("payload is not base64url"))
    );
}

#[test]
fn padded_and_unpadded_body_claim() {
    let padded = body_hash(BODY);
    assert!(padded.ends_with('='));
    let unpadded = padded.trim_end_matches('=').to_owned();
    for claim in [padded, unpadded] {
        let token = hs256(CURRENT, &header(), &with(claims(), "body", json!(claim)));
        assert!(verify(&token).is_ok(), "{claim}");
    }
    // Standard-alphabet base64 of the hash is not base64url: refused.
    let body = (0..)
        .map(|i| format!("b{i}"))
        .find(|b| {
            let h = STANDARD.encode(Sha256::digest(b.as_bytes()));
            h.contains('+') || h.contains('/')
        })
        .unwrap();
    let std = STANDARD.encode(Sha256::digest(body.as_bytes()));
    let token = hs256(CURRENT, &header(), &with(claims(), "body", json!(std)));
    assert_eq!(
        receiver().verify(&token, body.as_bytes(), opts()),
        Err(VerifyError::BodyMismatch)
    );
}

#[test]
fn empty_body() {
    let token = Signer::new(CURRENT).sign_with(b"", URL, &SignOptions::new().now(now()));
    assert!(receiver().verify(&token, b"", opts()).is_ok());
    assert_eq!(
        receiver().verify(&token, b" ", opts()),
        Err(VerifyError::BodyMismatch)
    );
    // The documented hash of the empty body.
    assert_eq!(body_hash(b""), URL_SAFE.encode(Sha256::digest(b"")),);
    assert!(body_hash(b"").starts_with("47DEQpj8"));
}

#[test]
fn empty_audience_and_numeric_jti_accepted() {
    let mut c = with(claims(), "aud", json!(""));
    c["jti"] = json!(0.123_456_7);
    let parsed = verify(&hs256(CURRENT, &header(), &c)).unwrap();
    assert!(parsed.jti.is_some());
    // Any audience is ignored, and so is a missing jti or iat.
    let mut c = with(claims(), "aud", json!(["a", "b"]));
    c.as_object_mut().unwrap().remove("jti");
    c.as_object_mut().unwrap().remove("iat");
    let parsed = verify(&hs256(CURRENT, &header(), &c)).unwrap();
    assert_eq!(parsed.jti, None);
    assert_eq!(parsed.iat, None);
}

#[test]
fn fractional_times_accepted() {
    let c = with(
        with(claims(), "exp", json!(NOW as f64 + 10.5)),
        "nbf",
        json!(NOW as f64 - 0.5),
    );
    assert!(verify(&hs256(CURRENT, &header(), &c)).is_ok());
}

#[test]
fn huge_token() {
    let big = "A".repeat(1 << 20);
    let token = format!("{big}.{big}.{big}");
    assert_eq!(
        verify(&token),
        Err(VerifyError::TokenTooLarge {
            len: token.len(),
            max: upstash_qstash::DEFAULT_MAX_TOKEN_LEN,
        })
    );
    // A validly signed token over a huge URL is refused by size too, and the limit is
    // configurable.
    let long_url = format!("https://example.com/{}", "a".repeat(20_000));
    let token = Signer::new(CURRENT).sign_with(BODY, &long_url, &SignOptions::new().now(now()));
    assert!(matches!(
        receiver().verify(&token, BODY, opts()),
        Err(VerifyError::TokenTooLarge { .. })
    ));
    let roomy = receiver().with_max_token_len(64 * 1024);
    assert!(roomy.verify(&token, BODY, opts().url(&long_url)).is_ok());
}

#[test]
fn surrounding_whitespace_is_trimmed() {
    let token = hs256(CURRENT, &header(), &claims());
    assert!(verify(&format!("  {token}\r\n")).is_ok());
}

#[test]
fn errors_do_not_leak_values() {
    let token = hs256(
        CURRENT,
        &header(),
        &with(claims(), "sub", json!("https://secret.example/")),
    );
    let err = receiver()
        .verify(&token, BODY, opts().url("https://public.example/"))
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("secret.example"));
    assert!(!text.contains("public.example"));
    assert!(!text.contains(CURRENT));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_strings_never_panic(s in ".{0,600}") {
        let _ = verify(&s);
    }

    #[test]
    fn random_segments_never_panic(a in "[A-Za-z0-9_=-]{0,80}", b in "[A-Za-z0-9_=-]{0,200}", c in "[A-Za-z0-9_=-]{0,60}") {
        let _ = verify(&format!("{a}.{b}.{c}"));
    }

    #[test]
    fn random_json_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..300), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let signed = format!("{}.{}", b64(br#"{"alg":"HS256","typ":"JWT"}"#), b64(&payload));
        let mut mac = Hmac::<Sha256>::new_from_slice(CURRENT.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        let token = format!("{signed}.{}", b64(&mac.finalize().into_bytes()));
        let _ = receiver().verify(&token, &body, opts());
    }

    #[test]
    fn any_body_round_trips(body in proptest::collection::vec(any::<u8>(), 0..2048), url in "https://[a-z]{1,20}\\.example/[ -~]{0,40}") {
        let token = Signer::new(NEXT).sign_with(&body, &url, &SignOptions::new().now(now()));
        prop_assert!(receiver().verify(&token, &body, opts().url(&url)).is_ok());
        let mut other = body.clone();
        other.push(0);
        prop_assert_eq!(receiver().verify(&token, &other, opts()), Err(VerifyError::BodyMismatch));
    }
}
