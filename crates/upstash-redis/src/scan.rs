//! `SCAN`, `HSCAN`, `SSCAN` and `ZSCAN` as lazy [`Stream`]s.
//!
//! Each stream keeps the cursor (as the string the server sent) and fetches the next page only
//! when the items of the previous one have been consumed; every page is one command, sent
//! through the client (and so through the auto-pipeline when it is on). The stream ends after
//! the page whose cursor is `"0"`. Redis guarantees that every element present for the whole
//! iteration is returned at least once; an element may be returned more than once.
//!
//! Options are the [`ScanOptions`] of the cursor-level `scan`/`hscan`/... commands. Over REST
//! every page costs one round trip, so a `COUNT` of a few hundred usually beats the server
//! default of 10. `TYPE` applies to `SCAN` only: the other streams report an
//! [`Error::InvalidArgument`] for it without sending anything.
//!
//! Items decode through [`FromValue`] one at a time, so the caller chooses the type (`String`,
//! `Vec<u8>`, `Bytes`, ...). After an error (transport, server, or an item that does not decode)
//! the stream yields that error and ends.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, Stream};

use crate::{Command, Error, FromValue, Redis, Result, ScanOptions, ToArgs, Value};

/// A lazily paged scan; created by [`Redis::scan_stream`], [`Redis::hscan_stream`],
/// [`Redis::sscan_stream`] and [`Redis::zscan_stream`].
///
/// It is a [`Stream`] of `Result<T>`; use `futures_util::StreamExt`/`TryStreamExt` (`next`,
/// `try_collect`, ...) to consume it. Dropping it stops the iteration.
#[must_use = "a scan does nothing until the stream is polled"]
pub struct ScanStream<T> {
    inner: BoxStream<'static, Result<T>>,
    command: &'static str,
    _item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ScanStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanStream")
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

impl<T> Stream for ScanStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// The cursor loop shared by all four scans: yields the raw elements of each page.
struct Pager {
    redis: Redis,
    command: &'static str,
    key: Vec<Bytes>,
    /// The option arguments (`MATCH p COUNT n TYPE t`).
    options: Vec<Bytes>,
    /// The cursor of the next page; `None` once the server returned `"0"` (or after an error).
    cursor: Option<String>,
    /// Whether a page must hold an even number of elements (field/value, member/score).
    pairs: bool,
    buffer: VecDeque<Value>,
}

impl Pager {
    fn new(
        redis: &Redis,
        command: &'static str,
        key: Vec<Bytes>,
        options: ScanOptions,
        pairs: bool,
    ) -> Self {
        Self {
            redis: redis.clone(),
            command,
            key,
            options: options.to_args(),
            cursor: Some("0".to_owned()),
            pairs,
            buffer: VecDeque::new(),
        }
    }

    /// The command for the page at `cursor`.
    fn page_command(&self, cursor: &str) -> Command {
        Command::new(self.command)
            .arg(self.key.as_slice())
            .arg(cursor)
            .arg(self.options.as_slice())
    }

    /// Whether the options hold `TYPE` (they are keyword/value pairs).
    fn has_type(&self) -> bool {
        self.options
            .chunks(2)
            .any(|pair| pair[0].eq_ignore_ascii_case(b"TYPE"))
    }

    /// The next element, fetching pages as needed; `None` at the end.
    async fn next_value(&mut self) -> Option<Result<Value>> {
        loop {
            if let Some(value) = self.buffer.pop_front() {
                return Some(Ok(value));
            }
            let cursor = self.cursor.take()?;
            if self.command != "SCAN" && self.has_type() {
                return Some(Err(Error::InvalidArgument(format!(
                    "TYPE is an option of SCAN only, not of {}",
                    self.command
                ))));
            }
            let reply = match self.redis.execute(self.page_command(&cursor)).await {
                Ok(reply) => reply,
                Err(e) => return Some(Err(e)),
            };
            match parse_page(reply, self.pairs) {
                Ok((next, items)) => {
                    if next != "0" {
                        self.cursor = Some(next);
                    }
                    self.buffer = items.into();
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Ends the iteration (after an error).
    fn stop(&mut self) {
        self.cursor = None;
        self.buffer.clear();
    }
}

/// Splits a `[cursor, [elements...]]` reply.
fn parse_page(reply: Value, pairs: bool) -> Result<(String, Vec<Value>)> {
    let (cursor, items): (String, Vec<Value>) = FromValue::from_value(reply)
        .map_err(|_| Error::decode("scan reply is not a [cursor, elements] pair"))?;
    if cursor.is_empty() || !cursor.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::decode("scan cursor is not a decimal number"));
    }
    if pairs && items.len() % 2 != 0 {
        return Err(Error::decode(
            "scan page has an odd number of elements for pairs",
        ));
    }
    Ok((cursor, items))
}

fn single<T: FromValue + Send + 'static>(pager: Pager) -> ScanStream<T> {
    let command = pager.command;
    let inner = stream::unfold(pager, |mut pager| async move {
        let item = match pager.next_value().await? {
            Ok(value) => T::from_value(value),
            Err(e) => Err(e),
        };
        if item.is_err() {
            pager.stop();
        }
        Some((item, pager))
    });
    ScanStream {
        inner: Box::pin(inner),
        command,
        _item: PhantomData,
    }
}

fn paired<A, B>(pager: Pager) -> ScanStream<(A, B)>
where
    A: FromValue + Send + 'static,
    B: FromValue + Send + 'static,
{
    let command = pager.command;
    let inner = stream::unfold(pager, |mut pager| async move {
        let item = match pager.next_value().await? {
            Ok(first) => match pager.next_value().await {
                // Pages hold an even number of elements, so a pair never spans two pages.
                Some(Ok(second)) => {
                    A::from_value(first).and_then(|a| B::from_value(second).map(|b| (a, b)))
                }
                Some(Err(e)) => Err(e),
                None => Err(Error::decode("scan page ended in the middle of a pair")),
            },
            Err(e) => Err(e),
        };
        if item.is_err() {
            pager.stop();
        }
        Some((item, pager))
    });
    ScanStream {
        inner: Box::pin(inner),
        command,
        _item: PhantomData,
    }
}

impl Redis {
    /// Iterates over the keys of the database (`SCAN`), fetching pages lazily.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt as _;
    /// use upstash_redis::ScanOptions;
    /// # async fn demo(redis: upstash_redis::Redis) -> upstash_redis::Result<()> {
    /// let keys: Vec<String> = redis
    ///     .scan_stream(ScanOptions::new().pattern("session:*").count(500))
    ///     .try_collect()
    ///     .await?;
    /// # let _ = keys; Ok(()) }
    /// ```
    pub fn scan_stream<K: FromValue + Send + 'static>(
        &self,
        options: ScanOptions,
    ) -> ScanStream<K> {
        single(Pager::new(self, "SCAN", Vec::new(), options, false))
    }

    /// Iterates over the `(field, value)` pairs of a hash (`HSCAN`).
    pub fn hscan_stream<F, V>(&self, key: impl ToArgs, options: ScanOptions) -> ScanStream<(F, V)>
    where
        F: FromValue + Send + 'static,
        V: FromValue + Send + 'static,
    {
        paired(Pager::new(self, "HSCAN", key.to_args(), options, true))
    }

    /// Iterates over the members of a set (`SSCAN`).
    pub fn sscan_stream<M: FromValue + Send + 'static>(
        &self,
        key: impl ToArgs,
        options: ScanOptions,
    ) -> ScanStream<M> {
        single(Pager::new(self, "SSCAN", key.to_args(), options, false))
    }

    /// Iterates over the `(member, score)` pairs of a sorted set (`ZSCAN`).
    pub fn zscan_stream<M: FromValue + Send + 'static>(
        &self,
        key: impl ToArgs,
        options: ScanOptions,
    ) -> ScanStream<(M, f64)> {
        paired(Pager::new(self, "ZSCAN", key.to_args(), options, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn strings(args: &[Bytes]) -> Vec<String> {
        args.iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn page_commands() {
        let Ok(redis) = Redis::new("http://127.0.0.1:1", "token") else {
            panic!("client")
        };
        let pager = Pager::new(
            &redis,
            "HSCAN",
            "h".to_args(),
            ScanOptions::new().pattern("f*").count(5),
            true,
        );
        assert_eq!(
            strings(pager.page_command("17").args()),
            ["HSCAN", "h", "17", "MATCH", "f*", "COUNT", "5"]
        );
        assert!(!pager.has_type());
        let pager = Pager::new(&redis, "SCAN", Vec::new(), ScanOptions::new(), false);
        assert_eq!(strings(pager.page_command("0").args()), ["SCAN", "0"]);
        let pager = Pager::new(
            &redis,
            "SCAN",
            Vec::new(),
            ScanOptions::new()
                .key_type("zset")
                .count(100)
                .pattern("a:*"),
            false,
        );
        assert_eq!(
            strings(pager.page_command("5").args()),
            ["SCAN", "5", "MATCH", "a:*", "COUNT", "100", "TYPE", "zset"]
        );
        assert!(pager.has_type());
        // A pattern that happens to be "TYPE" is not mistaken for the option.
        let pager = Pager::new(
            &redis,
            "SSCAN",
            "k".to_args(),
            ScanOptions::new().pattern("TYPE"),
            false,
        );
        assert!(!pager.has_type());
    }

    #[test]
    fn pages() {
        let reply = Value::Array(vec![b("42"), Value::Array(vec![b("a"), b("b")])]);
        let Ok((cursor, items)) = parse_page(reply, true) else {
            panic!("page")
        };
        assert_eq!(cursor, "42");
        assert_eq!(items, vec![b("a"), b("b")]);
        // Integer cursors (a server that does not send strings) are accepted too.
        let reply = Value::Array(vec![Value::Int(0), Value::Array(vec![])]);
        assert!(parse_page(reply, false).is_ok_and(|(c, i)| c == "0" && i.is_empty()));
        let odd = Value::Array(vec![b("0"), Value::Array(vec![b("a")])]);
        assert!(parse_page(odd, true).is_err());
        assert!(parse_page(b("0"), false).is_err());
        let bad_cursor = Value::Array(vec![b("x"), Value::Array(vec![])]);
        assert!(parse_page(bad_cursor, false).is_err());
    }

    #[tokio::test]
    async fn type_is_rejected_outside_scan() {
        use futures_util::StreamExt as _;
        let Ok(redis) = Redis::new("http://127.0.0.1:1", "token") else {
            panic!("client")
        };
        let mut s = redis.sscan_stream::<String>("k", ScanOptions::new().key_type("set"));
        assert!(matches!(
            s.next().await,
            Some(Err(Error::InvalidArgument(_)))
        ));
        assert!(s.next().await.is_none());
    }
}
