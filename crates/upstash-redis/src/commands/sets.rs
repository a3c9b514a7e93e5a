//! Set commands.

use crate::commands::options::{counted, named};
use crate::{Command, ScanOptions, ToArgs};

commands! {
    /// `SADD key member [member ...]`: how many members were added.
    fn sadd(key: impl ToArgs, members: impl ToArgs) -> u64 => Command::new("SADD").arg(key).arg(members);
    /// `SCARD key`: the number of members.
    fn scard(key: impl ToArgs) -> u64 => Command::new("SCARD").arg(key);
    /// `SDIFF key [key ...]`: members of the first set absent from the others.
    fn sdiff<T>(keys: impl ToArgs) -> Vec<T> => Command::new("SDIFF").arg(keys);
    /// `SDIFFSTORE destination key [key ...]`: stores the difference; its size.
    fn sdiffstore(destination: impl ToArgs, keys: impl ToArgs) -> u64 =>
        Command::new("SDIFFSTORE").arg(destination).arg(keys);
    /// `SINTER key [key ...]`: members present in every set.
    fn sinter<T>(keys: impl ToArgs) -> Vec<T> => Command::new("SINTER").arg(keys);
    /// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the intersection,
    /// counting stops at `limit` when given.
    fn sintercard(keys: impl ToArgs, limit: impl Into<Option<u64>>) -> u64 =>
        Command::new("SINTERCARD").arg(counted(keys)).arg(named("LIMIT", limit.into()));
    /// `SINTERSTORE destination key [key ...]`: stores the intersection; its size.
    fn sinterstore(destination: impl ToArgs, keys: impl ToArgs) -> u64 =>
        Command::new("SINTERSTORE").arg(destination).arg(keys);
    /// `SISMEMBER key member`: whether it is a member.
    fn sismember(key: impl ToArgs, member: impl ToArgs) -> bool =>
        Command::new("SISMEMBER").arg(key).arg(member);
    /// `SMEMBERS key`: all members. Decode as `Vec<String>`, or ask for a `HashSet` with
    /// `.query::<HashSet<String>>()`.
    fn smembers<T>(key: impl ToArgs) -> Vec<T> => Command::new("SMEMBERS").arg(key);
    /// `SMISMEMBER key member [member ...]`: per member, whether it is a member.
    fn smismember(key: impl ToArgs, members: impl ToArgs) -> Vec<bool> =>
        Command::new("SMISMEMBER").arg(key).arg(members);
    /// `SMOVE source destination member`: `true` when moved, `false` when not a member.
    fn smove(source: impl ToArgs, destination: impl ToArgs, member: impl ToArgs) -> bool =>
        Command::new("SMOVE").arg(source).arg(destination).arg(member);
    /// `SPOP key [count]`: removes random members; without `count` one member or nil (decode
    /// as `Option<String>`), with `count` an array (`Vec<String>`).
    fn spop<T>(key: impl ToArgs, count: impl Into<Option<u64>>) -> T =>
        Command::new("SPOP").arg(key).arg(count.into());
    /// `SRANDMEMBER key [count]`: random members without removing them; without `count` one
    /// member or nil (`Option<String>`), with `count` an array (`Vec<String>`; a negative
    /// count may repeat members).
    fn srandmember<T>(key: impl ToArgs, count: impl Into<Option<i64>>) -> T =>
        Command::new("SRANDMEMBER").arg(key).arg(count.into());
    /// `SREM key member [member ...]`: how many members were removed.
    fn srem(key: impl ToArgs, members: impl ToArgs) -> u64 => Command::new("SREM").arg(key).arg(members);
    /// `SSCAN key cursor [MATCH pattern] [COUNT count]`: one step of a scan, replying the next
    /// cursor (0 when done) and a batch of members.
    fn sscan<T>(key: impl ToArgs, cursor: u64, options: ScanOptions) -> (u64, Vec<T>) =>
        Command::new("SSCAN").arg(key).arg(cursor).arg(options);
    /// `SUNION key [key ...]`: members present in any set.
    fn sunion<T>(keys: impl ToArgs) -> Vec<T> => Command::new("SUNION").arg(keys);
    /// `SUNIONSTORE destination key [key ...]`: stores the union; its size.
    fn sunionstore(destination: impl ToArgs, keys: impl ToArgs) -> u64 =>
        Command::new("SUNIONSTORE").arg(destination).arg(keys);
}

#[cfg(test)]
mod tests {
    use crate::commands::options::testing::{argv, client};
    use crate::ScanOptions;

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(argv(r.sadd("s", ["a", "b"])), ["SADD", "s", "a", "b"]);
        assert_eq!(
            argv(r.sintercard(["a", "b"], 10)),
            ["SINTERCARD", "2", "a", "b", "LIMIT", "10"]
        );
        assert_eq!(argv(r.sintercard(["a"], None)), ["SINTERCARD", "1", "a"]);
        assert_eq!(argv(r.spop::<Vec<String>>("s", 2)), ["SPOP", "s", "2"]);
        assert_eq!(
            argv(r.srandmember::<Option<String>>("s", None)),
            ["SRANDMEMBER", "s"]
        );
        assert_eq!(
            argv(r.sscan::<String>("s", 0, ScanOptions::new().pattern("x*"))),
            ["SSCAN", "s", "0", "MATCH", "x*"]
        );
        assert_eq!(
            argv(r.sunionstore("d", ["a", "b"])),
            ["SUNIONSTORE", "d", "a", "b"]
        );
    }
}
