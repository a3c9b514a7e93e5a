//! Fuzzes the filter parser and evaluator: any input must give Ok or a positioned error,
//! never a panic, and the error position must lie within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match upstash_vector::filter::parse(text) {
            Ok(Some(f)) => {
                let meta = serde_json::json!({
                    "a": 1, "b": "x", "c": [1, "y", null], "d": {"e": true}, "f": null
                });
                let _ = f.matches(&meta);
            }
            Ok(None) => {}
            Err(e) => assert!(e.position() <= text.len()),
        }
    }
});
