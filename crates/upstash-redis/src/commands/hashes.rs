//! Hash commands.
//!
//! Field/value pairs are any [`ToArgs`] of pairs: `&[("f", "v"), ("g", "w")]`,
//! `vec![(name, 1)]`, ...

use std::time::{Duration, SystemTime};

use crate::commands::options::{counted, counted_pairs, millis, unix_millis, unix_secs};
use crate::{Command, Condition, ExpireCondition, Expiry, GetExOptions, ScanOptions, ToArgs};

/// `NAME key FIELDS numfields field [field ...]`.
fn with_fields(name: &'static str, key: impl ToArgs, fields: impl ToArgs) -> Command {
    Command::new(name)
        .arg(key)
        .arg("FIELDS")
        .arg(counted(fields))
}

/// `NAME key time [NX|XX|GT|LT] FIELDS numfields field [field ...]`.
fn field_expire(
    name: &'static str,
    key: impl ToArgs,
    time: u64,
    condition: Option<ExpireCondition>,
    fields: impl ToArgs,
) -> Command {
    Command::new(name)
        .arg(key)
        .arg(time)
        .arg(condition)
        .arg("FIELDS")
        .arg(counted(fields))
}

/// The `FNX`/`FXX` flag of `HSETEX`.
fn field_condition(condition: Option<Condition>) -> Option<&'static str> {
    condition.map(|c| match c {
        Condition::Nx => "FNX",
        Condition::Xx => "FXX",
    })
}

commands! {
    /// `HDEL key field [field ...]`: how many fields were removed.
    fn hdel(key: impl ToArgs, fields: impl ToArgs) -> u64 => Command::new("HDEL").arg(key).arg(fields);
    /// `HEXISTS key field`: whether the field exists.
    fn hexists(key: impl ToArgs, field: impl ToArgs) -> bool =>
        Command::new("HEXISTS").arg(key).arg(field);
    /// `HEXPIRE key seconds [NX|XX|GT|LT] FIELDS n field ...` (Redis 7.4): per field, 2 when
    /// the field was deleted (time in the past), 1 set, 0 condition not met, -2 no such field.
    fn hexpire(key: impl ToArgs, ttl: Duration, condition: impl Into<Option<ExpireCondition>>, fields: impl ToArgs) -> Vec<i64> =>
        field_expire("HEXPIRE", key, ttl.as_secs(), condition.into(), fields);
    /// `HEXPIREAT key unix-seconds [NX|XX|GT|LT] FIELDS n field ...` (Redis 7.4): per field,
    /// as [`hexpire`](Self::hexpire).
    fn hexpireat(key: impl ToArgs, at: SystemTime, condition: impl Into<Option<ExpireCondition>>, fields: impl ToArgs) -> Vec<i64> =>
        field_expire("HEXPIREAT", key, unix_secs(at), condition.into(), fields);
    /// `HEXPIRETIME key FIELDS n field ...` (Redis 7.4): per field, the expiry as Unix
    /// seconds; -1 without expiry, -2 no such field.
    fn hexpiretime(key: impl ToArgs, fields: impl ToArgs) -> Vec<i64> =>
        with_fields("HEXPIRETIME", key, fields);
    /// `HGET key field`: the value, or nil. Decode as `Option<String>`, `Option<i64>`, ...
    fn hget<T>(key: impl ToArgs, field: impl ToArgs) -> T => Command::new("HGET").arg(key).arg(field);
    /// `HGETALL key`: all fields and values (empty when the key is missing). Decode as
    /// `HashMap<String, String>`, `BTreeMap<String, Vec<u8>>`, `Vec<(String, String)>`, ...
    fn hgetall<T>(key: impl ToArgs) -> T => Command::new("HGETALL").arg(key);
    /// `HGETDEL key FIELDS n field ...` (Redis 8.0): the values (nil for missing fields),
    /// deleting the fields.
    fn hgetdel<T>(key: impl ToArgs, fields: impl ToArgs) -> Vec<Option<T>> =>
        with_fields("HGETDEL", key, fields);
    /// `HGETEX key [EX|PX|EXAT|PXAT|PERSIST] FIELDS n field ...` (Redis 8.0): the values (nil
    /// for missing fields), changing the fields' expiry.
    fn hgetex<T>(key: impl ToArgs, options: GetExOptions, fields: impl ToArgs) -> Vec<Option<T>> =>
        Command::new("HGETEX").arg(key).arg(options).arg("FIELDS").arg(counted(fields));
    /// `HINCRBY key field increment`: the new value.
    fn hincrby(key: impl ToArgs, field: impl ToArgs, increment: i64) -> i64 =>
        Command::new("HINCRBY").arg(key).arg(field).arg(increment);
    /// `HINCRBYFLOAT key field increment`: the new value.
    fn hincrbyfloat(key: impl ToArgs, field: impl ToArgs, increment: f64) -> f64 =>
        Command::new("HINCRBYFLOAT").arg(key).arg(field).arg(increment);
    /// `HKEYS key`: the field names. Decode as `Vec<String>`.
    fn hkeys<T>(key: impl ToArgs) -> Vec<T> => Command::new("HKEYS").arg(key);
    /// `HLEN key`: the number of fields.
    fn hlen(key: impl ToArgs) -> u64 => Command::new("HLEN").arg(key);
    /// `HMGET key field [field ...]`: one optional value per field.
    fn hmget<T>(key: impl ToArgs, fields: impl ToArgs) -> Vec<Option<T>> =>
        Command::new("HMGET").arg(key).arg(fields);
    /// `HMSET key field value [field value ...]` (deprecated by Redis; prefer `hset`).
    fn hmset(key: impl ToArgs, pairs: impl ToArgs) -> () => Command::new("HMSET").arg(key).arg(pairs);
    /// `HPERSIST key FIELDS n field ...` (Redis 7.4): per field, 1 expiry removed, -1 no
    /// expiry, -2 no such field.
    fn hpersist(key: impl ToArgs, fields: impl ToArgs) -> Vec<i64> =>
        with_fields("HPERSIST", key, fields);
    /// `HPEXPIRE key milliseconds [NX|XX|GT|LT] FIELDS n field ...` (Redis 7.4): per field,
    /// as [`hexpire`](Self::hexpire).
    fn hpexpire(key: impl ToArgs, ttl: Duration, condition: impl Into<Option<ExpireCondition>>, fields: impl ToArgs) -> Vec<i64> =>
        field_expire("HPEXPIRE", key, millis(ttl), condition.into(), fields);
    /// `HPEXPIREAT key unix-milliseconds [NX|XX|GT|LT] FIELDS n field ...` (Redis 7.4): per
    /// field, as [`hexpire`](Self::hexpire).
    fn hpexpireat(key: impl ToArgs, at: SystemTime, condition: impl Into<Option<ExpireCondition>>, fields: impl ToArgs) -> Vec<i64> =>
        field_expire("HPEXPIREAT", key, unix_millis(at), condition.into(), fields);
    /// `HPEXPIRETIME key FIELDS n field ...` (Redis 7.4): per field, the expiry as Unix
    /// milliseconds; -1 without expiry, -2 no such field.
    fn hpexpiretime(key: impl ToArgs, fields: impl ToArgs) -> Vec<i64> =>
        with_fields("HPEXPIRETIME", key, fields);
    /// `HPTTL key FIELDS n field ...` (Redis 7.4): per field, milliseconds to live; -1
    /// without expiry, -2 no such field.
    fn hpttl(key: impl ToArgs, fields: impl ToArgs) -> Vec<i64> => with_fields("HPTTL", key, fields);
    /// `HRANDFIELD key [count]`: without `count` one random field name or nil (decode as
    /// `Option<String>`); with `count` an array of names (`Vec<String>`; negative counts may
    /// repeat fields).
    fn hrandfield<T>(key: impl ToArgs, count: impl Into<Option<i64>>) -> T =>
        Command::new("HRANDFIELD").arg(key).arg(count.into());
    /// `HRANDFIELD key count WITHVALUES`: random field/value pairs.
    fn hrandfield_withvalues<T>(key: impl ToArgs, count: i64) -> Vec<(String, T)> =>
        Command::new("HRANDFIELD").arg(key).arg(count).arg("WITHVALUES");
    /// `HSCAN key cursor [MATCH pattern] [COUNT count]`: one step of a scan, replying the next
    /// cursor (0 when done) and a batch of field/value pairs.
    fn hscan<T>(key: impl ToArgs, cursor: u64, options: ScanOptions) -> (u64, Vec<(String, T)>) =>
        Command::new("HSCAN").arg(key).arg(cursor).arg(options);
    /// `HSET key field value [field value ...]` from pairs such as `&[("f", "v")]`: how many
    /// fields were added (not updated).
    fn hset(key: impl ToArgs, pairs: impl ToArgs) -> u64 => Command::new("HSET").arg(key).arg(pairs);
    /// `HSETEX key [FNX|FXX] [EX|PX|EXAT|PXAT|KEEPTTL] FIELDS n field value ...` (Redis 8.0):
    /// `true` when the fields were set (`false` when the condition failed). `Condition::Nx`
    /// means none of the fields exists, `Condition::Xx` all of them.
    fn hsetex(key: impl ToArgs, condition: impl Into<Option<Condition>>, expiry: impl Into<Option<Expiry>>, pairs: impl ToArgs) -> bool =>
        Command::new("HSETEX")
            .arg(key)
            .arg(field_condition(condition.into()))
            .arg(expiry.into())
            .arg("FIELDS")
            .arg(counted_pairs(pairs));
    /// `HSETNX key field value`: `true` when set, `false` when the field existed.
    fn hsetnx(key: impl ToArgs, field: impl ToArgs, value: impl ToArgs) -> bool =>
        Command::new("HSETNX").arg(key).arg(field).arg(value);
    /// `HSTRLEN key field`: the length of the value in bytes (0 when missing).
    fn hstrlen(key: impl ToArgs, field: impl ToArgs) -> u64 =>
        Command::new("HSTRLEN").arg(key).arg(field);
    /// `HTTL key FIELDS n field ...` (Redis 7.4): per field, seconds to live; -1 without
    /// expiry, -2 no such field.
    fn httl(key: impl ToArgs, fields: impl ToArgs) -> Vec<i64> => with_fields("HTTL", key, fields);
    /// `HVALS key`: all values. Decode as `Vec<String>`, ...
    fn hvals<T>(key: impl ToArgs) -> Vec<T> => Command::new("HVALS").arg(key);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use crate::commands::options::testing::{argv, client};
    use crate::{Condition, ExpireCondition, Expiry, GetExOptions, ScanOptions};

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(
            argv(r.hset("h", [("f", "v"), ("g", "w")])),
            ["HSET", "h", "f", "v", "g", "w"]
        );
        assert_eq!(
            argv(r.hgetall::<HashMap<String, String>>("h")),
            ["HGETALL", "h"]
        );
        assert_eq!(
            argv(r.hmget::<String>("h", ["a", "b"])),
            ["HMGET", "h", "a", "b"]
        );
        assert_eq!(
            argv(r.hrandfield::<Option<String>>("h", None)),
            ["HRANDFIELD", "h"]
        );
        assert_eq!(
            argv(r.hrandfield_withvalues::<String>("h", -3)),
            ["HRANDFIELD", "h", "-3", "WITHVALUES"]
        );
        assert_eq!(
            argv(r.hscan::<String>("h", 7, ScanOptions::new().count(5))),
            ["HSCAN", "h", "7", "COUNT", "5"]
        );
        assert_eq!(
            argv(r.hexpire("h", Duration::from_secs(5), ExpireCondition::Nx, ["a", "b"])),
            ["HEXPIRE", "h", "5", "NX", "FIELDS", "2", "a", "b"]
        );
        assert_eq!(argv(r.httl("h", ["a"])), ["HTTL", "h", "FIELDS", "1", "a"]);
        assert_eq!(
            argv(r.hsetex(
                "h",
                Condition::Nx,
                Expiry::Px(Duration::from_secs(1)),
                [("a", 1), ("b", 2)]
            )),
            ["HSETEX", "h", "FNX", "PX", "1000", "FIELDS", "2", "a", "1", "b", "2"]
        );
        assert_eq!(
            argv(r.hgetex::<String>("h", GetExOptions::new().persist(), ["a"])),
            ["HGETEX", "h", "PERSIST", "FIELDS", "1", "a"]
        );
        assert_eq!(
            argv(r.hincrbyfloat("h", "f", 0.25)),
            ["HINCRBYFLOAT", "h", "f", "0.25"]
        );
    }
}
