//! Generic key commands.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::commands::options::{flag, millis, unix_millis, unix_secs};
use crate::{Command, ExpireCondition, ScanOptions, ToArgs};

/// `NAME key time [NX|XX|GT|LT]`, shared by the four expiry commands.
fn expire_cmd(
    name: &'static str,
    key: impl ToArgs,
    time: u64,
    condition: Option<ExpireCondition>,
) -> Command {
    Command::new(name).arg(key).arg(time).arg(condition)
}

commands! {
    /// `COPY source destination [REPLACE]`: `true` when copied; without `replace`, `false`
    /// when the destination exists.
    fn copy(source: impl ToArgs, destination: impl ToArgs, replace: bool) -> bool =>
        Command::new("COPY").arg(source).arg(destination).arg(flag(replace, "REPLACE"));
    /// `DEL key [key ...]`: how many keys were removed.
    fn del(keys: impl ToArgs) -> u64 => Command::new("DEL").arg(keys);
    /// `DUMP key`: the value serialised in Redis's format (for `restore`), or nil.
    fn dump(key: impl ToArgs) -> Option<Bytes> => Command::new("DUMP").arg(key);
    /// `EXISTS key [key ...]`: how many of the keys exist (a key named twice counts twice).
    fn exists(keys: impl ToArgs) -> u64 => Command::new("EXISTS").arg(keys);
    /// `EXPIRE key seconds [NX|XX|GT|LT]`: `true` when the expiry was set. Pass `None` or an
    /// [`ExpireCondition`].
    fn expire(key: impl ToArgs, ttl: Duration, condition: impl Into<Option<ExpireCondition>>) -> bool =>
        expire_cmd("EXPIRE", key, ttl.as_secs(), condition.into());
    /// `EXPIREAT key unix-seconds [NX|XX|GT|LT]`: `true` when the expiry was set.
    fn expireat(key: impl ToArgs, at: SystemTime, condition: impl Into<Option<ExpireCondition>>) -> bool =>
        expire_cmd("EXPIREAT", key, unix_secs(at), condition.into());
    /// `EXPIRETIME key`: the expiry as Unix seconds; -1 without expiry, -2 when missing.
    fn expiretime(key: impl ToArgs) -> i64 => Command::new("EXPIRETIME").arg(key);
    /// `KEYS pattern`: all key names matching a glob pattern (blocks the server on large
    /// databases; prefer `scan`). Decode as `Vec<String>`.
    fn keys<T>(pattern: impl ToArgs) -> Vec<T> => Command::new("KEYS").arg(pattern);
    /// `OBJECT ENCODING key`: the internal encoding (`"listpack"`, `"int"`, ...), or nil.
    fn object_encoding(key: impl ToArgs) -> Option<String> =>
        Command::new("OBJECT").arg("ENCODING").arg(key);
    /// `OBJECT IDLETIME key`: seconds since the key was last accessed, or nil.
    fn object_idletime(key: impl ToArgs) -> Option<u64> =>
        Command::new("OBJECT").arg("IDLETIME").arg(key);
    /// `OBJECT REFCOUNT key`: the reference count of the value, or nil.
    fn object_refcount(key: impl ToArgs) -> Option<u64> =>
        Command::new("OBJECT").arg("REFCOUNT").arg(key);
    /// `PERSIST key`: `true` when an expiry was removed.
    fn persist(key: impl ToArgs) -> bool => Command::new("PERSIST").arg(key);
    /// `PEXPIRE key milliseconds [NX|XX|GT|LT]`: `true` when the expiry was set.
    fn pexpire(key: impl ToArgs, ttl: Duration, condition: impl Into<Option<ExpireCondition>>) -> bool =>
        expire_cmd("PEXPIRE", key, millis(ttl), condition.into());
    /// `PEXPIREAT key unix-milliseconds [NX|XX|GT|LT]`: `true` when the expiry was set.
    fn pexpireat(key: impl ToArgs, at: SystemTime, condition: impl Into<Option<ExpireCondition>>) -> bool =>
        expire_cmd("PEXPIREAT", key, unix_millis(at), condition.into());
    /// `PEXPIRETIME key`: the expiry as Unix milliseconds; -1 without expiry, -2 when missing.
    fn pexpiretime(key: impl ToArgs) -> i64 => Command::new("PEXPIRETIME").arg(key);
    /// `PTTL key`: milliseconds to live; -1 without expiry, -2 when missing.
    fn pttl(key: impl ToArgs) -> i64 => Command::new("PTTL").arg(key);
    /// `RANDOMKEY`: a random key name, or nil when the database is empty. Decode as
    /// `Option<String>`.
    fn randomkey<T>() -> T => Command::new("RANDOMKEY");
    /// `RENAME key newkey` (an error when `key` is missing).
    fn rename(key: impl ToArgs, new_key: impl ToArgs) -> () =>
        Command::new("RENAME").arg(key).arg(new_key);
    /// `RENAMENX key newkey`: `true` when renamed, `false` when `newkey` exists.
    fn renamenx(key: impl ToArgs, new_key: impl ToArgs) -> bool =>
        Command::new("RENAMENX").arg(key).arg(new_key);
    /// `RESTORE key ttl serialized [REPLACE]` from a `dump` value; `ttl` zero means
    /// no expiry.
    fn restore(key: impl ToArgs, ttl: Duration, serialized: impl ToArgs, replace: bool) -> () =>
        Command::new("RESTORE").arg(key).arg(millis(ttl)).arg(serialized).arg(flag(replace, "REPLACE"));
    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: one step of a scan, replying
    /// the next cursor (0 when done) and a batch of key names. Decode as
    /// `(u64, Vec<String>)`.
    fn scan<T>(cursor: u64, options: ScanOptions) -> (u64, Vec<T>) =>
        Command::new("SCAN").arg(cursor).arg(options);
    /// `TOUCH key [key ...]`: how many of the keys exist (updating their access time).
    fn touch(keys: impl ToArgs) -> u64 => Command::new("TOUCH").arg(keys);
    /// `TTL key`: seconds to live; -1 without expiry, -2 when missing.
    fn ttl(key: impl ToArgs) -> i64 => Command::new("TTL").arg(key);
    /// `TYPE key`: `"string"`, `"list"`, `"set"`, `"zset"`, `"hash"`, `"stream"`, or
    /// `"none"` when missing.
    fn key_type(key: impl ToArgs) -> String => Command::new("TYPE").arg(key);
    /// `UNLINK key [key ...]`: how many keys were removed (memory is freed in the background).
    fn unlink(keys: impl ToArgs) -> u64 => Command::new("UNLINK").arg(keys);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use crate::commands::options::testing::{argv, client};
    use crate::{ExpireCondition, ScanOptions};

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(argv(r.del(["a", "b"])), ["DEL", "a", "b"]);
        assert_eq!(
            argv(r.expire("k", Duration::from_secs(10), None)),
            ["EXPIRE", "k", "10"]
        );
        assert_eq!(
            argv(r.pexpire("k", Duration::from_millis(250), ExpireCondition::Gt)),
            ["PEXPIRE", "k", "250", "GT"]
        );
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        assert_eq!(
            argv(r.expireat("k", at, ExpireCondition::Nx)),
            ["EXPIREAT", "k", "1700000000", "NX"]
        );
        assert_eq!(
            argv(r.pexpireat("k", at, None)),
            ["PEXPIREAT", "k", "1700000000500"]
        );
        assert_eq!(
            argv(r.scan::<String>(0, ScanOptions::new().pattern("p:*").count(50))),
            ["SCAN", "0", "MATCH", "p:*", "COUNT", "50"]
        );
        assert_eq!(argv(r.copy("a", "b", true)), ["COPY", "a", "b", "REPLACE"]);
        assert_eq!(argv(r.copy("a", "b", false)), ["COPY", "a", "b"]);
        assert_eq!(argv(r.key_type("k")), ["TYPE", "k"]);
        assert_eq!(argv(r.randomkey::<Option<String>>()), ["RANDOMKEY"]);
        assert_eq!(argv(r.object_encoding("k")), ["OBJECT", "ENCODING", "k"]);
        assert_eq!(
            argv(r.restore("k", Duration::ZERO, b"x".as_slice(), true)),
            ["RESTORE", "k", "0", "x", "REPLACE"]
        );
    }
}
