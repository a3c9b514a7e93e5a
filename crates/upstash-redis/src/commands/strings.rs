//! String commands.

use std::time::Duration;

use crate::commands::options::millis;
use crate::{Command, GetExOptions, SetOptions, ToArgs};

commands! {
    /// `APPEND key value`: the length of the string after appending.
    fn append(key: impl ToArgs, value: impl ToArgs) -> u64 => Command::new("APPEND").arg(key).arg(value);
    /// `DECR key`: the new value.
    fn decr(key: impl ToArgs) -> i64 => Command::new("DECR").arg(key);
    /// `DECRBY key decrement`: the new value.
    fn decrby(key: impl ToArgs, decrement: i64) -> i64 =>
        Command::new("DECRBY").arg(key).arg(decrement);
    /// `GET key`: the value, or nil. Decode as `Option<String>`, `Option<Vec<u8>>`, `Option<i64>`, ...
    fn get<T>(key: impl ToArgs) -> T => Command::new("GET").arg(key);
    /// `GETDEL key`: the value before deleting the key, or nil. Decode as `Option<String>`, ...
    fn getdel<T>(key: impl ToArgs) -> T => Command::new("GETDEL").arg(key);
    /// `GETEX key [EX|PX|EXAT|PXAT|PERSIST]`: the value (or nil) while changing the expiry.
    /// Decode as `Option<String>`, ...
    fn getex<T>(key: impl ToArgs, options: GetExOptions) -> T =>
        Command::new("GETEX").arg(key).arg(options);
    /// `GETRANGE key start end`: the substring between byte offsets `start..=end` (negative
    /// from the end); empty when out of range. Decode as `String` or `Vec<u8>`.
    fn getrange<T>(key: impl ToArgs, start: i64, end: i64) -> T =>
        Command::new("GETRANGE").arg(key).arg(start).arg(end);
    /// `GETSET key value`: the previous value, or nil. Decode as `Option<String>`, ...
    fn getset<T>(key: impl ToArgs, value: impl ToArgs) -> T =>
        Command::new("GETSET").arg(key).arg(value);
    /// `INCR key`: the new value.
    fn incr(key: impl ToArgs) -> i64 => Command::new("INCR").arg(key);
    /// `INCRBY key increment`: the new value.
    fn incrby(key: impl ToArgs, increment: i64) -> i64 =>
        Command::new("INCRBY").arg(key).arg(increment);
    /// `INCRBYFLOAT key increment`: the new value.
    fn incrbyfloat(key: impl ToArgs, increment: f64) -> f64 =>
        Command::new("INCRBYFLOAT").arg(key).arg(increment);
    /// `MGET key [key ...]`: one optional value per key.
    fn mget<T>(keys: impl ToArgs) -> Vec<Option<T>> => Command::new("MGET").arg(keys);
    /// `MSET key value [key value ...]` from pairs such as `&[("a", "1"), ("b", "2")]`.
    fn mset(pairs: impl ToArgs) -> () => Command::new("MSET").arg(pairs);
    /// `MSETNX key value [key value ...]`: `true` when all keys were set, `false` (nothing
    /// set) when any existed.
    fn msetnx(pairs: impl ToArgs) -> bool => Command::new("MSETNX").arg(pairs);
    /// `PSETEX key milliseconds value`: sets the value with a time to live in milliseconds.
    fn psetex(key: impl ToArgs, ttl: Duration, value: impl ToArgs) -> () =>
        Command::new("PSETEX").arg(key).arg(millis(ttl)).arg(value);
    /// `SET key value`.
    fn set(key: impl ToArgs, value: impl ToArgs) -> () => Command::new("SET").arg(key).arg(value);
    /// `SET key value [EX|PX|EXAT|PXAT|KEEPTTL] [NX|XX] [GET]`: with `NX`/`XX` the reply is nil
    /// when nothing was set (decode as `bool` or `Option<String>`); with `GET` it is the
    /// previous value (`Option<String>`, ...).
    fn set_with<T>(key: impl ToArgs, value: impl ToArgs, options: SetOptions) -> T =>
        Command::new("SET").arg(key).arg(value).arg(options);
    /// `SETEX key seconds value`: sets the value with a time to live in whole seconds.
    fn setex(key: impl ToArgs, ttl: Duration, value: impl ToArgs) -> () =>
        Command::new("SETEX").arg(key).arg(ttl.as_secs()).arg(value);
    /// `SETNX key value`: `true` when set, `false` when the key existed.
    fn setnx(key: impl ToArgs, value: impl ToArgs) -> bool =>
        Command::new("SETNX").arg(key).arg(value);
    /// `SETRANGE key offset value`: overwrites from a byte offset; the new length.
    fn setrange(key: impl ToArgs, offset: u64, value: impl ToArgs) -> u64 =>
        Command::new("SETRANGE").arg(key).arg(offset).arg(value);
    /// `STRLEN key`: the length of the value in bytes (0 when missing).
    fn strlen(key: impl ToArgs) -> u64 => Command::new("STRLEN").arg(key);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::commands::options::testing::{argv, client};
    use crate::{GetExOptions, SetOptions};

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(argv(r.get::<Option<String>>("k")), ["GET", "k"]);
        assert_eq!(
            argv(r.set_with::<bool>("k", "v", SetOptions::new().ex(Duration::from_secs(60)).nx())),
            ["SET", "k", "v", "EX", "60", "NX"]
        );
        assert_eq!(
            argv(r.getex::<Option<String>>("k", GetExOptions::new().persist())),
            ["GETEX", "k", "PERSIST"]
        );
        assert_eq!(argv(r.incrbyfloat("k", -1.5)), ["INCRBYFLOAT", "k", "-1.5"]);
        assert_eq!(
            argv(r.mset([("a", "1"), ("b", "2")])),
            ["MSET", "a", "1", "b", "2"]
        );
        assert_eq!(
            argv(r.psetex("k", Duration::from_millis(1500), 7)),
            ["PSETEX", "k", "1500", "7"]
        );
        assert_eq!(
            argv(r.setex("k", Duration::from_secs(3), "v")),
            ["SETEX", "k", "3", "v"]
        );
        assert_eq!(
            argv(r.getrange::<String>("k", 0, -1)),
            ["GETRANGE", "k", "0", "-1"]
        );
        assert_eq!(argv(r.mget::<String>(["a", "b"])), ["MGET", "a", "b"]);
    }

    #[test]
    fn pipeline_gets_the_same_methods() {
        let r = client();
        let mut p = r.pipeline();
        p.set("a", 1).incrby("a", 2).get("a").strlen("a");
        assert_eq!(p.len(), 4);
    }
}
