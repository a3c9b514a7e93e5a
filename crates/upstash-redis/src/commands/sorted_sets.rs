//! Sorted set commands.
//!
//! Members with scores are written as `(score, member)` pairs: `&[(1.0, "a"), (2.5, "b")]`.
//! Replies with scores (`WITHSCORES`, `ZPOPMIN`, `ZSCAN`) decode as `Vec<(String, f64)>`.
//! Score bounds are any argument: numbers, `"(1.5"` (exclusive), `"-inf"`, `f64::INFINITY`.

use crate::commands::options::counted;
use crate::{Command, ScanOptions, ToArgs, ZAddOptions, ZCombineOptions, ZRangeOptions};

/// `NAME [destination] numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`.
fn combine(
    name: &'static str,
    destination: Option<&dyn ToArgs>,
    keys: impl ToArgs,
    options: &ZCombineOptions,
) -> Command {
    Command::new(name)
        .arg(destination)
        .arg(counted(keys))
        .arg(options)
}

commands! {
    /// `ZADD key [NX|XX] [GT|LT] [CH] score member [score member ...]`: how many members were
    /// added (with `CH`: added or changed).
    fn zadd(key: impl ToArgs, members: impl ToArgs, options: ZAddOptions) -> u64 =>
        Command::new("ZADD").arg(key).arg(options).arg(members);
    /// `ZADD key [NX|XX] [GT|LT] INCR increment member`: the member's new score, or `None`
    /// when a condition prevented the update.
    fn zadd_incr(key: impl ToArgs, increment: f64, member: impl ToArgs, options: ZAddOptions) -> Option<f64> =>
        Command::new("ZADD").arg(key).arg(options).arg("INCR").arg(increment).arg(member);
    /// `ZCARD key`: the number of members.
    fn zcard(key: impl ToArgs) -> u64 => Command::new("ZCARD").arg(key);
    /// `ZCOUNT key min max`: how many members have a score within the bounds.
    fn zcount(key: impl ToArgs, min: impl ToArgs, max: impl ToArgs) -> u64 =>
        Command::new("ZCOUNT").arg(key).arg(min).arg(max);
    /// `ZDIFFSTORE destination numkeys key [key ...]`: stores members of the first set absent
    /// from the others; the result's size.
    fn zdiffstore(destination: impl ToArgs, keys: impl ToArgs) -> u64 =>
        Command::new("ZDIFFSTORE").arg(destination).arg(counted(keys));
    /// `ZINCRBY key increment member`: the new score.
    fn zincrby(key: impl ToArgs, increment: f64, member: impl ToArgs) -> f64 =>
        Command::new("ZINCRBY").arg(key).arg(increment).arg(member);
    /// `ZINTER numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`: members in
    /// every set; with scores, decode as `Vec<(String, f64)>`.
    fn zinter<T>(keys: impl ToArgs, options: ZCombineOptions) -> Vec<T> =>
        combine("ZINTER", None, keys, &options);
    /// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`: the
    /// result's size.
    fn zinterstore(destination: impl ToArgs, keys: impl ToArgs, options: ZCombineOptions) -> u64 =>
        combine("ZINTERSTORE", Some(&destination), keys, &options);
    /// `ZLEXCOUNT key min max`: how many members are within lexicographic bounds (`"[a"`,
    /// `"(a"`, `"-"`, `"+"`).
    fn zlexcount(key: impl ToArgs, min: impl ToArgs, max: impl ToArgs) -> u64 =>
        Command::new("ZLEXCOUNT").arg(key).arg(min).arg(max);
    /// `ZMSCORE key member [member ...]`: per member, its score or `None`.
    fn zmscore(key: impl ToArgs, members: impl ToArgs) -> Vec<Option<f64>> =>
        Command::new("ZMSCORE").arg(key).arg(members);
    /// `ZPOPMAX key [count]`: removes the highest-scored members; member/score pairs.
    fn zpopmax<T>(key: impl ToArgs, count: impl Into<Option<u64>>) -> Vec<(T, f64)> =>
        Command::new("ZPOPMAX").arg(key).arg(count.into());
    /// `ZPOPMIN key [count]`: removes the lowest-scored members; member/score pairs.
    fn zpopmin<T>(key: impl ToArgs, count: impl Into<Option<u64>>) -> Vec<(T, f64)> =>
        Command::new("ZPOPMIN").arg(key).arg(count.into());
    /// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`: the
    /// members in range; decode as `Vec<String>`, or with scores as `Vec<(String, f64)>`.
    fn zrange<T>(key: impl ToArgs, start: impl ToArgs, stop: impl ToArgs, options: ZRangeOptions) -> Vec<T> =>
        Command::new("ZRANGE").arg(key).arg(start).arg(stop).arg(options);
    /// `ZRANK key member`: the 0-based rank by ascending score, or `None` when not a member.
    fn zrank(key: impl ToArgs, member: impl ToArgs) -> Option<u64> =>
        Command::new("ZRANK").arg(key).arg(member);
    /// `ZREM key member [member ...]`: how many members were removed.
    fn zrem(key: impl ToArgs, members: impl ToArgs) -> u64 => Command::new("ZREM").arg(key).arg(members);
    /// `ZREMRANGEBYLEX key min max`: how many members were removed.
    fn zremrangebylex(key: impl ToArgs, min: impl ToArgs, max: impl ToArgs) -> u64 =>
        Command::new("ZREMRANGEBYLEX").arg(key).arg(min).arg(max);
    /// `ZREMRANGEBYRANK key start stop`: how many members were removed.
    fn zremrangebyrank(key: impl ToArgs, start: i64, stop: i64) -> u64 =>
        Command::new("ZREMRANGEBYRANK").arg(key).arg(start).arg(stop);
    /// `ZREMRANGEBYSCORE key min max`: how many members were removed.
    fn zremrangebyscore(key: impl ToArgs, min: impl ToArgs, max: impl ToArgs) -> u64 =>
        Command::new("ZREMRANGEBYSCORE").arg(key).arg(min).arg(max);
    /// `ZREVRANK key member`: the 0-based rank by descending score, or `None`.
    fn zrevrank(key: impl ToArgs, member: impl ToArgs) -> Option<u64> =>
        Command::new("ZREVRANK").arg(key).arg(member);
    /// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: one step of a scan, replying the next
    /// cursor (0 when done) and a batch of member/score pairs.
    fn zscan<T>(key: impl ToArgs, cursor: u64, options: ScanOptions) -> (u64, Vec<(T, f64)>) =>
        Command::new("ZSCAN").arg(key).arg(cursor).arg(options);
    /// `ZSCORE key member`: the score, or `None` when not a member.
    fn zscore(key: impl ToArgs, member: impl ToArgs) -> Option<f64> =>
        Command::new("ZSCORE").arg(key).arg(member);
    /// `ZUNION numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`: members in
    /// any set; with scores, decode as `Vec<(String, f64)>`.
    fn zunion<T>(keys: impl ToArgs, options: ZCombineOptions) -> Vec<T> =>
        combine("ZUNION", None, keys, &options);
    /// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`: the
    /// result's size.
    fn zunionstore(destination: impl ToArgs, keys: impl ToArgs, options: ZCombineOptions) -> u64 =>
        combine("ZUNIONSTORE", Some(&destination), keys, &options);
}

#[cfg(test)]
mod tests {
    use crate::commands::options::testing::{argv, client};
    use crate::{Aggregate, ScanOptions, ZAddOptions, ZCombineOptions, ZRangeOptions};

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(
            argv(r.zadd("k", [(1.0, "a")], ZAddOptions::new().nx())),
            ["ZADD", "k", "NX", "1", "a"]
        );
        assert_eq!(
            argv(r.zadd("k", [(1.5, "a"), (2.0, "b")], ZAddOptions::new())),
            ["ZADD", "k", "1.5", "a", "2", "b"]
        );
        assert_eq!(
            argv(r.zadd_incr("k", 2.0, "a", ZAddOptions::new().xx().gt())),
            ["ZADD", "k", "XX", "GT", "INCR", "2", "a"]
        );
        assert_eq!(
            argv(r.zrange::<(String, f64)>(
                "k",
                "(1",
                f64::INFINITY,
                ZRangeOptions::new().by_score().limit(0, 5).with_scores()
            )),
            [
                "ZRANGE",
                "k",
                "(1",
                "+inf",
                "BYSCORE",
                "LIMIT",
                "0",
                "5",
                "WITHSCORES"
            ]
        );
        assert_eq!(
            argv(
                r.zunionstore(
                    "d",
                    ["a", "b"],
                    ZCombineOptions::new()
                        .weights([1.0, 2.0])
                        .aggregate(Aggregate::Min)
                )
            ),
            [
                "ZUNIONSTORE",
                "d",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "1",
                "2",
                "AGGREGATE",
                "MIN"
            ]
        );
        assert_eq!(
            argv(r.zunion::<String>(["a"], ZCombineOptions::new())),
            ["ZUNION", "1", "a"]
        );
        assert_eq!(
            argv(r.zdiffstore("d", ["a", "b"])),
            ["ZDIFFSTORE", "d", "2", "a", "b"]
        );
        assert_eq!(argv(r.zpopmin::<String>("k", None)), ["ZPOPMIN", "k"]);
        assert_eq!(
            argv(r.zscan::<String>("k", 3, ScanOptions::new())),
            ["ZSCAN", "k", "3"]
        );
    }
}
