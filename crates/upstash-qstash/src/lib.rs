//! # upstash-qstash
//!
//! A client for [QStash](https://upstash.com/docs/qstash) v2 and the tools to receive its
//! webhooks safely.
//!
//! - [`Receiver`] verifies the `Upstash-Signature` token of a delivery: HS256 only, constant
//!   time, current then next signing key, `iss`, `exp`, `nbf`, `sub` and the body hash; each
//!   failure is a typed [`VerifyError`].
//! - [`signer::Signer`] creates tokens exactly as QStash does (for tests and local servers).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod jwt;
mod receiver;
pub mod signer;

pub use receiver::{
    Claims, Receiver, VerifyError, VerifyOptions, CURRENT_SIGNING_KEY_ENV, DEFAULT_MAX_TOKEN_LEN,
    NEXT_SIGNING_KEY_ENV,
};
