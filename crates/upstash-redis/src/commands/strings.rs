//! String commands.

use crate::{Command, SetOptions, ToArgs};

commands! {
    /// `GET key`: the value, or nil. Decode as `Option<String>`, `Option<Vec<u8>>`, `Option<i64>`, ...
    fn get<T>(key: impl ToArgs) -> T => Command::new("GET").arg(key);
    /// `SET key value`.
    fn set(key: impl ToArgs, value: impl ToArgs) -> () => Command::new("SET").arg(key).arg(value);
    /// `SET key value [EX|PX|EXAT|PXAT|KEEPTTL] [NX|XX] [GET]`: with `NX`/`XX` the reply is nil
    /// when nothing was set (decode as `bool` or `Option<String>`).
    fn set_with<T>(key: impl ToArgs, value: impl ToArgs, options: SetOptions) -> T =>
        Command::new("SET").arg(key).arg(value).arg(options);
    /// `INCR key`: the new value.
    fn incr(key: impl ToArgs) -> i64 => Command::new("INCR").arg(key);
    /// `MGET key [key ...]`: one optional value per key.
    fn mget<T>(keys: impl ToArgs) -> Vec<Option<T>> => Command::new("MGET").arg(keys);
}
