//! Lua scripts and functions. For scripts sent by SHA-1 with a fallback to the source, see
//! [`Script`](crate::Script).

use crate::commands::options::{counted, flag, named};
use crate::{Command, FlushMode, ToArgs};

/// `NAME target numkeys key [key ...] arg [arg ...]`, shared by `EVAL*` and `FCALL*`.
fn keyed(name: &'static str, target: impl ToArgs, keys: impl ToArgs, args: impl ToArgs) -> Command {
    Command::new(name).arg(target).arg(counted(keys)).arg(args)
}

commands! {
    /// `EVAL script numkeys key [key ...] arg [arg ...]`: the script's reply, decoded as `T`.
    fn eval<T>(script: impl ToArgs, keys: impl ToArgs, args: impl ToArgs) -> T =>
        keyed("EVAL", script, keys, args);
    /// `EVAL_RO script numkeys key [key ...] arg [arg ...]`: a read-only script's reply
    /// (allowed with read-only tokens).
    fn eval_ro<T>(script: impl ToArgs, keys: impl ToArgs, args: impl ToArgs) -> T =>
        keyed("EVAL_RO", script, keys, args);
    /// `EVALSHA sha1 numkeys key [key ...] arg [arg ...]`: the reply of a cached script (a
    /// `NOSCRIPT` error when the server lacks it).
    fn evalsha<T>(sha1: impl ToArgs, keys: impl ToArgs, args: impl ToArgs) -> T =>
        keyed("EVALSHA", sha1, keys, args);
    /// `EVALSHA_RO sha1 numkeys key [key ...] arg [arg ...]`: the reply of a cached read-only
    /// script.
    fn evalsha_ro<T>(sha1: impl ToArgs, keys: impl ToArgs, args: impl ToArgs) -> T =>
        keyed("EVALSHA_RO", sha1, keys, args);
    /// `FCALL function numkeys key [key ...] arg [arg ...]`: the function's reply.
    fn fcall<T>(function: impl ToArgs, keys: impl ToArgs, args: impl ToArgs) -> T =>
        keyed("FCALL", function, keys, args);
    /// `FCALL_RO function numkeys key [key ...] arg [arg ...]`: the reply of a function
    /// declared `no-writes`.
    fn fcall_ro<T>(function: impl ToArgs, keys: impl ToArgs, args: impl ToArgs) -> T =>
        keyed("FCALL_RO", function, keys, args);
    /// `FUNCTION DELETE library`: deletes a library and its functions.
    fn function_delete(library: impl ToArgs) -> () => Command::new("FUNCTION").arg("DELETE").arg(library);
    /// `FUNCTION FLUSH [SYNC|ASYNC]`: deletes every library.
    fn function_flush(mode: impl Into<Option<FlushMode>>) -> () =>
        Command::new("FUNCTION").arg("FLUSH").arg(mode.into());
    /// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`: one map per library (`library_name`,
    /// `engine`, `functions`, `library_code`); decode as `Vec<HashMap<String, Value>>`.
    fn function_list<T>(library_pattern: Option<&str>, with_code: bool) -> Vec<T> =>
        Command::new("FUNCTION")
            .arg("LIST")
            .arg(named("LIBRARYNAME", library_pattern))
            .arg(flag(with_code, "WITHCODE"));
    /// `FUNCTION LOAD [REPLACE] code`: loads a library (source starting with
    /// `#!lua name=<library>`), replying its name; `replace` overwrites an existing one.
    fn function_load(code: impl ToArgs, replace: bool) -> String =>
        Command::new("FUNCTION").arg("LOAD").arg(flag(replace, "REPLACE")).arg(code);
    /// `SCRIPT EXISTS sha1 [sha1 ...]`: per SHA-1, whether the script is cached.
    fn script_exists(sha1s: impl ToArgs) -> Vec<bool> => Command::new("SCRIPT").arg("EXISTS").arg(sha1s);
    /// `SCRIPT FLUSH [SYNC|ASYNC]`: empties the script cache.
    fn script_flush(mode: impl Into<Option<FlushMode>>) -> () =>
        Command::new("SCRIPT").arg("FLUSH").arg(mode.into());
    /// `SCRIPT LOAD script`: caches a script, replying its SHA-1 (lowercase hex).
    fn script_load(script: impl ToArgs) -> String => Command::new("SCRIPT").arg("LOAD").arg(script);
}

#[cfg(test)]
mod tests {
    use crate::commands::options::testing::{argv, client};
    use crate::{FlushMode, Value};

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(
            argv(r.eval::<i64>("return 1", ["a", "b"], ["x"])),
            ["EVAL", "return 1", "2", "a", "b", "x"]
        );
        let none: [&str; 0] = [];
        assert_eq!(
            argv(r.evalsha_ro::<Value>("abc", none, none)),
            ["EVALSHA_RO", "abc", "0"]
        );
        assert_eq!(
            argv(r.fcall::<Value>("f", ["k"], [1, 2])),
            ["FCALL", "f", "1", "k", "1", "2"]
        );
        assert_eq!(
            argv(r.function_load("#!lua name=l", true)),
            ["FUNCTION", "LOAD", "REPLACE", "#!lua name=l"]
        );
        assert_eq!(
            argv(r.function_list::<Value>(Some("l*"), true)),
            ["FUNCTION", "LIST", "LIBRARYNAME", "l*", "WITHCODE"]
        );
        assert_eq!(
            argv(r.script_flush(FlushMode::Sync)),
            ["SCRIPT", "FLUSH", "SYNC"]
        );
        assert_eq!(
            argv(r.script_exists(["a", "b"])),
            ["SCRIPT", "EXISTS", "a", "b"]
        );
    }
}
