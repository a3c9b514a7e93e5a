//! Stream commands (non-blocking: the REST API has no `BLOCK`).
//!
//! Entries decode as `(id, fields)` pairs, where the field type is the caller's choice:
//! `Vec<(String, HashMap<String, String>)>` or `Vec<(String, Vec<(String, Vec<u8>)>)>`.
//! Field/value pairs are written as pairs: `&[("temp", "21.5")]`.

use std::time::Duration;

use crate::commands::options::{flag, millis, named};
use crate::{Command, StreamTrim, ToArgs, XAddOptions, XPendingOptions, XReadGroupOptions};

commands! {
    /// `XACK key group id [id ...]`: how many pending entries were acknowledged.
    fn xack(key: impl ToArgs, group: impl ToArgs, ids: impl ToArgs) -> u64 =>
        Command::new("XACK").arg(key).arg(group).arg(ids);
    /// `XADD key [NOMKSTREAM] [MAXLEN|MINID [~] threshold [LIMIT n]] id field value ...`:
    /// the new entry's ID. Pass `"*"` as `id` to let the server choose it.
    fn xadd(key: impl ToArgs, id: impl ToArgs, fields: impl ToArgs, options: XAddOptions) -> String =>
        Command::new("XADD").arg(key).arg(options).arg(id).arg(fields);
    /// `XAUTOCLAIM key group consumer min-idle-time start [COUNT count]`: claims entries idle
    /// for at least `min_idle`, replying the cursor for the next call (`"0-0"` when done), the
    /// claimed entries, and the IDs of entries that no longer exist.
    fn xautoclaim<T>(key: impl ToArgs, group: impl ToArgs, consumer: impl ToArgs, min_idle: Duration, start: impl ToArgs, count: impl Into<Option<u64>>) -> (String, Vec<(String, T)>, Vec<String>) =>
        Command::new("XAUTOCLAIM")
            .arg(key)
            .arg(group)
            .arg(consumer)
            .arg(millis(min_idle))
            .arg(start)
            .arg(named("COUNT", count.into()));
    /// `XCLAIM key group consumer min-idle-time id [id ...]`: the entries claimed (those idle
    /// for at least `min_idle`).
    fn xclaim<T>(key: impl ToArgs, group: impl ToArgs, consumer: impl ToArgs, min_idle: Duration, ids: impl ToArgs) -> Vec<(String, T)> =>
        Command::new("XCLAIM").arg(key).arg(group).arg(consumer).arg(millis(min_idle)).arg(ids);
    /// `XDEL key id [id ...]`: how many entries were deleted.
    fn xdel(key: impl ToArgs, ids: impl ToArgs) -> u64 => Command::new("XDEL").arg(key).arg(ids);
    /// `XGROUP CREATE key group id [MKSTREAM]`: creates a consumer group reading after `id`
    /// (`"$"`: only new entries, `"0"`: from the start); `mkstream` creates a missing stream.
    fn xgroup_create(key: impl ToArgs, group: impl ToArgs, id: impl ToArgs, mkstream: bool) -> () =>
        Command::new("XGROUP").arg("CREATE").arg(key).arg(group).arg(id).arg(flag(mkstream, "MKSTREAM"));
    /// `XGROUP CREATECONSUMER key group consumer`: `true` when the consumer was created.
    fn xgroup_createconsumer(key: impl ToArgs, group: impl ToArgs, consumer: impl ToArgs) -> bool =>
        Command::new("XGROUP").arg("CREATECONSUMER").arg(key).arg(group).arg(consumer);
    /// `XGROUP DELCONSUMER key group consumer`: how many pending entries the consumer had.
    fn xgroup_delconsumer(key: impl ToArgs, group: impl ToArgs, consumer: impl ToArgs) -> u64 =>
        Command::new("XGROUP").arg("DELCONSUMER").arg(key).arg(group).arg(consumer);
    /// `XGROUP DESTROY key group`: `true` when the group existed.
    fn xgroup_destroy(key: impl ToArgs, group: impl ToArgs) -> bool =>
        Command::new("XGROUP").arg("DESTROY").arg(key).arg(group);
    /// `XGROUP SETID key group id`: moves the group's last-delivered ID.
    fn xgroup_setid(key: impl ToArgs, group: impl ToArgs, id: impl ToArgs) -> () =>
        Command::new("XGROUP").arg("SETID").arg(key).arg(group).arg(id);
    /// `XINFO CONSUMERS key group`: one map per consumer; decode as
    /// `Vec<HashMap<String, Value>>`.
    fn xinfo_consumers<T>(key: impl ToArgs, group: impl ToArgs) -> Vec<T> =>
        Command::new("XINFO").arg("CONSUMERS").arg(key).arg(group);
    /// `XINFO GROUPS key`: one map per group; decode as `Vec<HashMap<String, Value>>`.
    fn xinfo_groups<T>(key: impl ToArgs) -> Vec<T> => Command::new("XINFO").arg("GROUPS").arg(key);
    /// `XINFO STREAM key`: the stream's description; decode as `HashMap<String, Value>`.
    fn xinfo_stream<T>(key: impl ToArgs) -> T => Command::new("XINFO").arg("STREAM").arg(key);
    /// `XLEN key`: the number of entries.
    fn xlen(key: impl ToArgs) -> u64 => Command::new("XLEN").arg(key);
    /// `XPENDING key group`: the summary of a group's pending entries: their count, the
    /// lowest and highest IDs, and the count per consumer.
    fn xpending(key: impl ToArgs, group: impl ToArgs) -> (u64, Option<String>, Option<String>, Vec<(String, u64)>) =>
        Command::new("XPENDING").arg(key).arg(group);
    /// `XPENDING key group [IDLE ms] start end count [consumer]`: up to `count` pending
    /// entries between `start` and `end` (`"-"`, `"+"`), each as (ID, consumer, milliseconds
    /// since last delivery, delivery count).
    fn xpending_range(key: impl ToArgs, group: impl ToArgs, start: impl ToArgs, end: impl ToArgs, count: u64, options: XPendingOptions) -> Vec<(String, String, u64, u64)> =>
        Command::new("XPENDING")
            .arg(key)
            .arg(group)
            .arg(options.idle_args())
            .arg(start)
            .arg(end)
            .arg(count)
            .arg(options.consumer_arg());
    /// `XRANGE key start end [COUNT count]`: entries between two IDs (`"-"`, `"+"`,
    /// `"(id"` exclusive), oldest first.
    fn xrange<T>(key: impl ToArgs, start: impl ToArgs, end: impl ToArgs, count: impl Into<Option<u64>>) -> Vec<(String, T)> =>
        Command::new("XRANGE").arg(key).arg(start).arg(end).arg(named("COUNT", count.into()));
    /// `XREAD [COUNT count] STREAMS key [key ...] id [id ...]`: per stream with new entries
    /// (after the given ID, `"$"` meaning none now), its name and entries; empty when none.
    fn xread<T>(keys: impl ToArgs, ids: impl ToArgs, count: impl Into<Option<u64>>) -> Vec<(String, Vec<(String, T)>)> =>
        Command::new("XREAD").arg(named("COUNT", count.into())).arg("STREAMS").arg(keys).arg(ids);
    /// `XREADGROUP GROUP group consumer [COUNT count] [NOACK] STREAMS key [key ...] id
    /// [id ...]`: as [`xread`](Self::xread) for a consumer of a group; ID `">"` reads entries
    /// never delivered to the group, other IDs re-read this consumer's pending entries.
    fn xreadgroup<T>(group: impl ToArgs, consumer: impl ToArgs, keys: impl ToArgs, ids: impl ToArgs, options: XReadGroupOptions) -> Vec<(String, Vec<(String, T)>)> =>
        Command::new("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg(options)
            .arg("STREAMS")
            .arg(keys)
            .arg(ids);
    /// `XREVRANGE key end start [COUNT count]`: entries between two IDs, newest first (note
    /// the order: `end` (`"+"`) first).
    fn xrevrange<T>(key: impl ToArgs, end: impl ToArgs, start: impl ToArgs, count: impl Into<Option<u64>>) -> Vec<(String, T)> =>
        Command::new("XREVRANGE").arg(key).arg(end).arg(start).arg(named("COUNT", count.into()));
    /// `XTRIM key MAXLEN|MINID [~] threshold [LIMIT count]`: how many entries were evicted.
    fn xtrim(key: impl ToArgs, trim: StreamTrim) -> u64 => Command::new("XTRIM").arg(key).arg(trim);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use crate::commands::options::testing::{argv, client};
    use crate::{StreamTrim, XAddOptions, XPendingOptions, XReadGroupOptions};

    type Fields = HashMap<String, String>;

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(
            argv(r.xadd(
                "s",
                "*",
                [("a", "1"), ("b", "2")],
                XAddOptions::new().trim(StreamTrim::max_len(100).approximate())
            )),
            ["XADD", "s", "MAXLEN", "~", "100", "*", "a", "1", "b", "2"]
        );
        assert_eq!(
            argv(r.xread::<Fields>(["s1", "s2"], ["0", "0"], 10)),
            ["XREAD", "COUNT", "10", "STREAMS", "s1", "s2", "0", "0"]
        );
        assert_eq!(
            argv(r.xreadgroup::<Fields>(
                "g",
                "c",
                ["s"],
                [">"],
                XReadGroupOptions::new().count(1).no_ack()
            )),
            [
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "COUNT",
                "1",
                "NOACK",
                "STREAMS",
                "s",
                ">"
            ]
        );
        assert_eq!(
            argv(r.xgroup_create("s", "g", "$", true)),
            ["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]
        );
        assert_eq!(
            argv(
                r.xpending_range(
                    "s",
                    "g",
                    "-",
                    "+",
                    10,
                    XPendingOptions::new()
                        .min_idle(Duration::from_secs(1))
                        .consumer("c")
                )
            ),
            ["XPENDING", "s", "g", "IDLE", "1000", "-", "+", "10", "c"]
        );
        assert_eq!(
            argv(r.xautoclaim::<Fields>("s", "g", "c", Duration::from_millis(5), "0-0", 2)),
            ["XAUTOCLAIM", "s", "g", "c", "5", "0-0", "COUNT", "2"]
        );
        assert_eq!(
            argv(r.xrevrange::<Fields>("s", "+", "-", None)),
            ["XREVRANGE", "s", "+", "-"]
        );
        assert_eq!(
            argv(r.xtrim("s", StreamTrim::min_id("10-0"))),
            ["XTRIM", "s", "MINID", "10-0"]
        );
    }
}
