//! The Rust half of the QStash signature interop check (`tests/interop/qstash.mjs` drives it).
//!
//! Two commands, with the keys from `QSTASH_CURRENT_SIGNING_KEY` / `QSTASH_NEXT_SIGNING_KEY`
//! (the env block upstash-local prints):
//!
//! ```text
//! cargo run --example interop_qstash -- verify --signature TOKEN --body TEXT [--url URL]
//! cargo run --example interop_qstash -- sign --body TEXT --url URL [--key current|next]
//! ```
//!
//! `verify` checks a token with [`upstash_qstash::Receiver`] and prints one JSON line:
//! `{"ok":true,"iss":..,"sub":..,"body":..}` or `{"ok":false,"error":..}` (exit status 0 in both
//! cases, so the driver can assert rejections too). `sign` prints a token made by
//! [`upstash_qstash::signer::Signer`] with the chosen key (default `current`). Usage errors go to
//! stderr and the exit status is 2.

use std::process::ExitCode;

use serde_json::json;
use upstash_qstash::signer::Signer;
use upstash_qstash::{Receiver, VerifyOptions, CURRENT_SIGNING_KEY_ENV, NEXT_SIGNING_KEY_ENV};

/// The parsed command line.
#[derive(Debug, Default)]
struct Args {
    command: String,
    signature: Option<String>,
    body: String,
    url: Option<String>,
    key: String,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut args = Args {
        command: it.next().ok_or("missing command: verify or sign")?,
        key: "current".to_owned(),
        ..Args::default()
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--signature" => args.signature = Some(value()?),
            "--body" => args.body = value()?,
            "--url" => args.url = Some(value()?),
            "--key" => args.key = value()?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

fn env_key(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} must be set"))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let current = env_key(CURRENT_SIGNING_KEY_ENV)?;
    let next = env_key(NEXT_SIGNING_KEY_ENV)?;
    match args.command.as_str() {
        "verify" => {
            let signature = args.signature.ok_or("verify needs --signature")?;
            let receiver = Receiver::new(current, next);
            let mut options = VerifyOptions::new();
            if let Some(url) = args.url.as_deref() {
                options = options.url(url);
            }
            let line = match receiver.verify(&signature, args.body.as_bytes(), options) {
                Ok(claims) => json!({
                    "ok": true,
                    "iss": claims.iss,
                    "sub": claims.sub,
                    "body": claims.body,
                }),
                Err(e) => json!({ "ok": false, "error": e.to_string() }),
            };
            println!("{line}");
            Ok(())
        }
        "sign" => {
            let url = args.url.ok_or("sign needs --url")?;
            let key = match args.key.as_str() {
                "current" => current,
                "next" => next,
                other => return Err(format!("--key must be current or next, not {other}")),
            };
            println!("{}", Signer::new(key).sign(args.body.as_bytes(), &url));
            Ok(())
        }
        other => Err(format!("unknown command {other}: verify or sign")),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interop_qstash: {e}");
            ExitCode::from(2)
        }
    }
}
