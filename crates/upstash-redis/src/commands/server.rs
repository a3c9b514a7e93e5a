//! Server and connection commands.

use crate::{Command, FlushMode, ToArgs};

commands! {
    /// `DBSIZE`: the number of keys in the database.
    fn dbsize() -> u64 => Command::new("DBSIZE");
    /// `ECHO message`: the message. Decode as `String` or `Vec<u8>`.
    fn echo<T>(message: impl ToArgs) -> T => Command::new("ECHO").arg(message);
    /// `FLUSHALL [SYNC|ASYNC]`: deletes every key of every database. Pass `None` for the
    /// server's default mode.
    fn flushall(mode: impl Into<Option<FlushMode>>) -> () => Command::new("FLUSHALL").arg(mode.into());
    /// `FLUSHDB [SYNC|ASYNC]`: deletes every key of the database.
    fn flushdb(mode: impl Into<Option<FlushMode>>) -> () => Command::new("FLUSHDB").arg(mode.into());
    /// `INFO [section]`: the server's description as `field:value` lines; pass `None` for the
    /// default sections.
    fn info(section: Option<&str>) -> String => Command::new("INFO").arg(section);
    /// `PING`: `"PONG"`.
    fn ping() -> String => Command::new("PING");
    /// `TIME`: the server's clock as (Unix seconds, microseconds within the second).
    fn time() -> (u64, u64) => Command::new("TIME");
}

#[cfg(test)]
mod tests {
    use crate::commands::options::testing::{argv, client};
    use crate::FlushMode;

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(argv(r.flushdb(FlushMode::Async)), ["FLUSHDB", "ASYNC"]);
        assert_eq!(argv(r.flushall(None)), ["FLUSHALL"]);
        assert_eq!(argv(r.info(Some("server"))), ["INFO", "server"]);
        assert_eq!(argv(r.info(None)), ["INFO"]);
        assert_eq!(argv(r.time()), ["TIME"]);
        assert_eq!(argv(r.echo::<String>("x")), ["ECHO", "x"]);
    }
}
