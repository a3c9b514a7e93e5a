//! Option types shared by several commands.

use std::time::Duration;

use crate::{Command, ToArgs};

/// Arguments that commands add with `Command::arg`; implemented by option structs so that
/// a typed option value writes its own Redis flags.
impl ToArgs for SetOptions {
    fn write_args(&self, out: &mut Vec<bytes::Bytes>) {
        let mut cmd = Command::new("");
        match self.expiry {
            Some(Expiry::Ex(d)) => cmd.push_arg(("EX", d.as_secs())),
            Some(Expiry::Px(d)) => cmd.push_arg(("PX", millis(d))),
            Some(Expiry::ExAt(t)) => cmd.push_arg(("EXAT", t)),
            Some(Expiry::PxAt(t)) => cmd.push_arg(("PXAT", t)),
            Some(Expiry::KeepTtl) => cmd.push_arg("KEEPTTL"),
            None => {}
        }
        match self.condition {
            Some(Condition::Nx) => cmd.push_arg("NX"),
            Some(Condition::Xx) => cmd.push_arg("XX"),
            None => {}
        }
        if self.get {
            cmd.push_arg("GET");
        }
        out.extend(cmd.args().iter().skip(1).cloned());
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// When a key set by `SET` (or `GETEX`) expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expiry {
    /// After a duration, in whole seconds (`EX`).
    Ex(Duration),
    /// After a duration, in milliseconds (`PX`).
    Px(Duration),
    /// At a Unix time in seconds (`EXAT`).
    ExAt(u64),
    /// At a Unix time in milliseconds (`PXAT`).
    PxAt(u64),
    /// Keep the key's current time to live (`KEEPTTL`).
    KeepTtl,
}

/// A write condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Condition {
    /// Only if the key (or member) does not exist (`NX`).
    Nx,
    /// Only if it already exists (`XX`).
    Xx,
}

/// Options of `SET`.
///
/// ```
/// use std::time::Duration;
/// use upstash_redis::SetOptions;
/// let opts = SetOptions::new().ex(Duration::from_secs(60)).nx();
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetOptions {
    expiry: Option<Expiry>,
    condition: Option<Condition>,
    get: bool,
}

impl SetOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Expire after `ttl` (seconds precision, `EX`).
    pub fn ex(mut self, ttl: Duration) -> Self {
        self.expiry = Some(Expiry::Ex(ttl));
        self
    }

    /// Expire after `ttl` (milliseconds precision, `PX`).
    pub fn px(mut self, ttl: Duration) -> Self {
        self.expiry = Some(Expiry::Px(ttl));
        self
    }

    /// Any expiry form.
    pub fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Keep the existing time to live.
    pub fn keep_ttl(mut self) -> Self {
        self.expiry = Some(Expiry::KeepTtl);
        self
    }

    /// Only set if the key does not exist; the reply is nil when it did.
    pub fn nx(mut self) -> Self {
        self.condition = Some(Condition::Nx);
        self
    }

    /// Only set if the key exists; the reply is nil when it did not.
    pub fn xx(mut self) -> Self {
        self.condition = Some(Condition::Xx);
        self
    }

    /// Return the previous value (`GET`).
    pub fn get(mut self) -> Self {
        self.get = true;
        self
    }
}
