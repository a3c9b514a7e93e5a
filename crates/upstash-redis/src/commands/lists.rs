//! List commands (non-blocking: the REST API has no blocking commands).

use crate::commands::options::{counted, named};
use crate::{Command, InsertPosition, LPosOptions, ListEnd, ToArgs};

commands! {
    /// `LINDEX key index`: the element at `index` (negative from the end), or nil. Decode as
    /// `Option<String>`, ...
    fn lindex<T>(key: impl ToArgs, index: i64) -> T => Command::new("LINDEX").arg(key).arg(index);
    /// `LINSERT key BEFORE|AFTER pivot element`: the new length, -1 when the pivot is not
    /// found, 0 when the key is missing.
    fn linsert(key: impl ToArgs, position: InsertPosition, pivot: impl ToArgs, element: impl ToArgs) -> i64 =>
        Command::new("LINSERT").arg(key).arg(position).arg(pivot).arg(element);
    /// `LLEN key`: the length (0 when missing).
    fn llen(key: impl ToArgs) -> u64 => Command::new("LLEN").arg(key);
    /// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`: the element moved, or nil when the
    /// source is empty. Decode as `Option<String>`, ...
    fn lmove<T>(source: impl ToArgs, destination: impl ToArgs, from: ListEnd, to: ListEnd) -> T =>
        Command::new("LMOVE").arg(source).arg(destination).arg(from).arg(to);
    /// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`: from the first non-empty list,
    /// its name and the popped elements; `None` when all are empty.
    fn lmpop<T>(keys: impl ToArgs, end: ListEnd, count: impl Into<Option<u64>>) -> Option<(String, Vec<T>)> =>
        Command::new("LMPOP").arg(counted(keys)).arg(end).arg(named("COUNT", count.into()));
    /// `LPOP key`: the first element, or nil. Decode as `Option<String>`, ...
    fn lpop<T>(key: impl ToArgs) -> T => Command::new("LPOP").arg(key);
    /// `LPOP key count`: up to `count` elements from the head (empty when the key is missing).
    fn lpop_count<T>(key: impl ToArgs, count: u64) -> Vec<T> =>
        Command::new("LPOP").arg(key).arg(count);
    /// `LPOS key element [RANK rank] [COUNT n] [MAXLEN len]`: without `COUNT` the index of the
    /// match or nil (decode as `Option<u64>`); with `COUNT` the indexes (`Vec<u64>`).
    fn lpos<T>(key: impl ToArgs, element: impl ToArgs, options: LPosOptions) -> T =>
        Command::new("LPOS").arg(key).arg(element).arg(options);
    /// `LPUSH key element [element ...]`: the new length. Elements are pushed one after the
    /// other, so the last one ends up first.
    fn lpush(key: impl ToArgs, elements: impl ToArgs) -> u64 => Command::new("LPUSH").arg(key).arg(elements);
    /// `LPUSHX key element [element ...]`: the new length; 0 (nothing pushed) when the key is
    /// missing.
    fn lpushx(key: impl ToArgs, elements: impl ToArgs) -> u64 => Command::new("LPUSHX").arg(key).arg(elements);
    /// `LRANGE key start stop`: the elements `start..=stop` (negative from the end).
    fn lrange<T>(key: impl ToArgs, start: i64, stop: i64) -> Vec<T> =>
        Command::new("LRANGE").arg(key).arg(start).arg(stop);
    /// `LREM key count element`: removes up to `count` matches (from the head when positive,
    /// from the tail when negative, all when 0); how many were removed.
    fn lrem(key: impl ToArgs, count: i64, element: impl ToArgs) -> u64 =>
        Command::new("LREM").arg(key).arg(count).arg(element);
    /// `LSET key index element` (an error when the index is out of range).
    fn lset(key: impl ToArgs, index: i64, element: impl ToArgs) -> () =>
        Command::new("LSET").arg(key).arg(index).arg(element);
    /// `LTRIM key start stop`: keeps only the elements `start..=stop`.
    fn ltrim(key: impl ToArgs, start: i64, stop: i64) -> () =>
        Command::new("LTRIM").arg(key).arg(start).arg(stop);
    /// `RPOP key`: the last element, or nil. Decode as `Option<String>`, ...
    fn rpop<T>(key: impl ToArgs) -> T => Command::new("RPOP").arg(key);
    /// `RPOP key count`: up to `count` elements from the tail (empty when the key is missing).
    fn rpop_count<T>(key: impl ToArgs, count: u64) -> Vec<T> =>
        Command::new("RPOP").arg(key).arg(count);
    /// `RPOPLPUSH source destination`: the element moved, or nil. Decode as `Option<String>`.
    fn rpoplpush<T>(source: impl ToArgs, destination: impl ToArgs) -> T =>
        Command::new("RPOPLPUSH").arg(source).arg(destination);
    /// `RPUSH key element [element ...]`: the new length.
    fn rpush(key: impl ToArgs, elements: impl ToArgs) -> u64 => Command::new("RPUSH").arg(key).arg(elements);
    /// `RPUSHX key element [element ...]`: the new length; 0 (nothing pushed) when the key is
    /// missing.
    fn rpushx(key: impl ToArgs, elements: impl ToArgs) -> u64 => Command::new("RPUSHX").arg(key).arg(elements);
}

#[cfg(test)]
mod tests {
    use crate::commands::options::testing::{argv, client};
    use crate::{InsertPosition, LPosOptions, ListEnd};

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(argv(r.rpush("l", ["a", "b"])), ["RPUSH", "l", "a", "b"]);
        assert_eq!(
            argv(r.lmpop::<String>(["a", "b"], ListEnd::Left, 2)),
            ["LMPOP", "2", "a", "b", "LEFT", "COUNT", "2"]
        );
        assert_eq!(
            argv(r.lmpop::<String>(["a"], ListEnd::Right, None)),
            ["LMPOP", "1", "a", "RIGHT"]
        );
        assert_eq!(
            argv(r.lmove::<Option<String>>("a", "b", ListEnd::Right, ListEnd::Left)),
            ["LMOVE", "a", "b", "RIGHT", "LEFT"]
        );
        assert_eq!(
            argv(r.linsert("l", InsertPosition::Before, "p", "x")),
            ["LINSERT", "l", "BEFORE", "p", "x"]
        );
        assert_eq!(
            argv(r.lpos::<Vec<u64>>("l", "x", LPosOptions::new().count(0))),
            ["LPOS", "l", "x", "COUNT", "0"]
        );
        assert_eq!(argv(r.lpop_count::<String>("l", 3)), ["LPOP", "l", "3"]);
        assert_eq!(
            argv(r.lrange::<String>("l", 0, -1)),
            ["LRANGE", "l", "0", "-1"]
        );
    }
}
