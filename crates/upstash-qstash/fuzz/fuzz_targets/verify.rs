//! Fuzzes `Receiver::verify`: arbitrary tokens, and arbitrary payloads correctly signed with
//! the receiver's key (so the claim parser is reached past the HMAC check).
//!
//! Run: `cd crates/upstash-qstash/fuzz && cargo +nightly fuzz run verify`
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use upstash_qstash::signer::Signer;
use upstash_qstash::{Receiver, VerifyOptions};

const KEY: &str = "sig_fuzz_current";

fuzz_target!(|data: &[u8]| {
    let receiver = Receiver::new(KEY, "sig_fuzz_next");
    let opts = VerifyOptions::new()
        .now(UNIX_EPOCH + Duration::from_secs(1_750_000_000))
        .url("https://example.com/");
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let split = rest.len() / 2;
    let (a, body) = rest.split_at(split);
    match mode % 2 {
        // Raw token text.
        0 => {
            let token = String::from_utf8_lossy(a);
            let _ = receiver.verify(&token, body, opts);
        }
        // Arbitrary payload bytes under a valid signature.
        _ => {
            let token = Signer::new(KEY).sign_payload(a);
            let _ = receiver.verify(&token, body, opts);
        }
    }
});
