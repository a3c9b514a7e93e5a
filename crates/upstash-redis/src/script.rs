//! Lua scripts sent by SHA-1 (`EVALSHA`), with the full text only when the server lacks them.

use sha1::{Digest, Sha1};

use crate::{Command, FromValue, Redis, Result, ToArgs};

/// A Lua script whose SHA-1 is computed once, client side.
///
/// [`Script::exec`] sends `EVALSHA`; only when the server answers `NOSCRIPT` (first use, or
/// after `SCRIPT FLUSH`) does it send `EVAL` with the source, which also caches it again.
#[derive(Clone, Debug)]
pub struct Script {
    source: String,
    sha1: String,
    read_only: bool,
}

impl Script {
    /// A script that may write.
    pub fn new(source: impl Into<String>) -> Self {
        let source = source.into();
        let sha1 = hex::encode(Sha1::digest(source.as_bytes()));
        Self {
            source,
            sha1,
            read_only: false,
        }
    }

    /// A read-only script, run with `EVALSHA_RO` / `EVAL_RO` (allowed with read-only tokens,
    /// and retried safely).
    pub fn read_only(source: impl Into<String>) -> Self {
        Self {
            read_only: true,
            ..Self::new(source)
        }
    }

    /// The SHA-1 of the source, lowercase hex.
    pub fn sha1(&self) -> &str {
        &self.sha1
    }

    /// The Lua source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Runs the script with `keys` and `args`, decoding the reply as `T` (through the
    /// auto-pipeline when it is on).
    pub async fn exec<T: FromValue>(
        &self,
        redis: &Redis,
        keys: impl ToArgs,
        args: impl ToArgs,
    ) -> Result<T> {
        self.run(redis, keys, args, false).await
    }

    /// [`Script::exec`] in a request of its own, bypassing the auto-pipeline (see
    /// [`Redis::execute_alone`]).
    pub async fn exec_alone<T: FromValue>(
        &self,
        redis: &Redis,
        keys: impl ToArgs,
        args: impl ToArgs,
    ) -> Result<T> {
        self.run(redis, keys, args, true).await
    }

    async fn run<T: FromValue>(
        &self,
        redis: &Redis,
        keys: impl ToArgs,
        args: impl ToArgs,
        alone: bool,
    ) -> Result<T> {
        let (by_sha, by_source) = if self.read_only {
            ("EVALSHA_RO", "EVAL_RO")
        } else {
            ("EVALSHA", "EVAL")
        };
        // Keys and arguments are written straight into the command (again only for the
        // rare `EVAL` after `NOSCRIPT`).
        let call = |name: &'static str, body: &str| {
            let mut command = Command::new(name).arg(body);
            command.push_counted(&keys);
            command.push_arg(&args);
            command
        };
        let send = |command: Command| async move {
            if alone {
                redis.execute_alone(command).await
            } else {
                redis.execute(command).await
            }
        };
        match send(call(by_sha, &self.sha1)).await {
            Ok(value) => T::from_value(value),
            Err(e) if e.is_noscript() => {
                tracing::debug!(sha1 = %self.sha1, "script not cached on the server; sending source");
                T::from_value(send(call(by_source, &self.source)).await?)
            }
            Err(e) => Err(e),
        }
    }

    /// Loads the script into the server's cache (`SCRIPT LOAD`), returning its SHA-1.
    pub async fn load(&self, redis: &Redis) -> Result<String> {
        redis
            .cmd("SCRIPT")
            .arg("LOAD")
            .arg(self.source.as_str())
            .query()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_redis() {
        // Redis: SCRIPT LOAD "return 1" -> e0e1f9fabfc9d4800c877a703b823ac0578ff8db
        assert_eq!(
            Script::new("return 1").sha1(),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }
}
