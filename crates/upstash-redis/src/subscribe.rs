//! Pub/sub over Server-Sent Events: [`Redis::subscribe`], [`Redis::psubscribe`] and
//! [`Redis::monitor`].
//!
//! Each channel (or pattern) gets its own long-lived `POST /subscribe/<channel>` (or
//! `/psubscribe/<pattern>`) request, as the official SDK does; a [`Subscription`] merges them
//! into one [`Stream`] of [`Message`]s. The server's `subscribe`/`psubscribe` confirmations are
//! consumed before [`Redis::subscribe`] returns (so a message published after that call
//! returns is delivered) and are not part of the stream. Dropping the subscription closes the
//! requests, which is how Upstash unsubscribes.
//!
//! Event data follows the SSE rules: lines end in `\n`, `\r\n` or `\r`, wherever the chunk
//! boundaries fall; several `data:` lines of one event are joined with `\n`; comment lines
//! (`:`) and other fields are ignored. A line or an event longer than 1 MiB is an error
//! (the connection is closed), never an unbounded buffer.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, SelectAll, Stream, StreamExt as _};
use percent_encoding::{percent_encode, AsciiSet, CONTROLS};
use upstash_core::http::{HeaderName, HeaderValue, StatusCode};
use upstash_core::{BodyStream, Request};

use crate::value::parse_envelope;
use crate::{Error, Redis, Result};

/// Longest SSE line, and longest event, accepted (1 MiB).
pub(crate) const MAX_LINE: usize = 1 << 20;

/// How long [`Redis::subscribe`] waits for the server to confirm each subscription.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest error body read from a rejected streaming request.
const MAX_ERROR_BODY: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// SSE framing
// ---------------------------------------------------------------------------------------------

/// The SSE stream broke a limit; the connection is unusable afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SseError {
    /// A line longer than [`MAX_LINE`].
    LineTooLong,
    /// An event whose data is longer than [`MAX_LINE`].
    EventTooLong,
}

impl SseError {
    fn into_error(self) -> Error {
        Error::decode(match self {
            Self::LineTooLong => "event stream line exceeds 1 MiB",
            Self::EventTooLong => "event stream event exceeds 1 MiB",
        })
    }
}

/// An incremental Server-Sent Events parser: feed it body chunks, collect the data of each
/// complete event.
#[derive(Debug)]
pub(crate) struct SseParser {
    /// The incomplete last line.
    line: Vec<u8>,
    /// Data of the event being assembled (lines joined with `\n`).
    data: Vec<u8>,
    /// Whether the current event has a `data` field (possibly empty).
    has_data: bool,
    /// The previous chunk ended with `\r`: a leading `\n` belongs to that line ending.
    after_cr: bool,
    /// Nothing has been read yet (a UTF-8 byte order mark is skipped there).
    at_start: bool,
    max: usize,
}

impl SseParser {
    pub(crate) fn new() -> Self {
        Self::with_limit(MAX_LINE)
    }

    pub(crate) fn with_limit(max: usize) -> Self {
        Self {
            line: Vec::new(),
            data: Vec::new(),
            has_data: false,
            after_cr: false,
            at_start: true,
            max,
        }
    }

    /// Parses a chunk, appending the data of every event it completes to `events`.
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        events: &mut VecDeque<Bytes>,
    ) -> Result<(), SseError> {
        if self.at_start && !chunk.is_empty() {
            // A byte order mark may arrive split over chunks; only a complete one at the very
            // start is skipped.
            self.line.extend_from_slice(chunk);
            if self.line.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.line) {
                return Ok(());
            }
            self.at_start = false;
            let buffered = std::mem::take(&mut self.line);
            let rest = buffered.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buffered);
            return self.push_lines(rest, events);
        }
        self.push_lines(chunk, events)
    }

    fn push_lines(&mut self, chunk: &[u8], events: &mut VecDeque<Bytes>) -> Result<(), SseError> {
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            // The previous chunk ended with `\r`: a `\n` here completes that line ending.
            if let Some(r) = rest.strip_prefix(b"\n") {
                rest = r;
            }
            self.after_cr = false;
        }
        while let Some(end) = rest.iter().position(|&c| c == b'\n' || c == b'\r') {
            let (head, tail) = rest.split_at(end);
            let is_cr = tail.first() == Some(&b'\r');
            rest = &tail[1..];
            if is_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if self.line.is_empty() {
                self.check_line(head.len())?;
                self.line_done(head, events)?;
            } else {
                self.check_line(self.line.len() + head.len())?;
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(head);
                let result = self.line_done(&line, events);
                line.clear();
                self.line = line;
                result?;
            }
        }
        self.check_line(self.line.len() + rest.len())?;
        self.line.extend_from_slice(rest);
        Ok(())
    }

    fn check_line(&self, len: usize) -> Result<(), SseError> {
        if len > self.max {
            Err(SseError::LineTooLong)
        } else {
            Ok(())
        }
    }

    /// Handles one complete line (without its terminator).
    fn line_done(&mut self, line: &[u8], events: &mut VecDeque<Bytes>) -> Result<(), SseError> {
        if line.is_empty() {
            // Blank line: dispatch.
            if self.has_data {
                events.push_back(Bytes::from(std::mem::take(&mut self.data)));
                self.has_data = false;
            }
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // comment
        }
        let (field, value) = match line.iter().position(|&c| c == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        if field == b"data" {
            let extra = value.len() + usize::from(self.has_data);
            if self.data.len() + extra > self.max {
                self.data.clear();
                self.has_data = false;
                return Err(SseError::EventTooLong);
            }
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
        // `event`, `id`, `retry` and unknown fields carry nothing the pub/sub protocol uses.
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Pub/sub events
// ---------------------------------------------------------------------------------------------

/// A message received on a subscribed channel.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The channel the message was published to.
    pub channel: String,
    /// The pattern that matched the channel, for [`Redis::psubscribe`] subscriptions.
    pub pattern: Option<String>,
    /// The message as published (Upstash sends it as text, not base64).
    pub payload: Bytes,
}

impl Message {
    /// The payload as UTF-8 text.
    pub fn payload_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.payload)
            .map_err(|_| Error::decode("message payload is not valid UTF-8"))
    }

    /// The payload parsed as JSON.
    pub fn payload_json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        crate::json::from_json_bytes(&self.payload)
    }
}

/// What one event of a subscription stream means.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// `subscribe`/`psubscribe` confirmation.
    Subscribed,
    /// `unsubscribe`/`punsubscribe`: the server ended the subscription.
    Unsubscribed,
    Message(Message),
    /// Anything else (ignored).
    Other,
}

/// What a request is subscribed to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Channel(String),
    Pattern(String),
}

impl Target {
    fn path(&self) -> String {
        let (kind, name) = match self {
            Self::Channel(name) => ("subscribe", name),
            Self::Pattern(name) => ("psubscribe", name),
        };
        format!("/{kind}/{}", percent_encode(name.as_bytes(), PATH_SEGMENT))
    }
}

/// Characters escaped in the channel segment: those that would end or split a path segment,
/// plus non-ASCII bytes; the glob characters `*`, `[` and `]` stay readable (`?` cannot).
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Splits `data` at the first comma.
fn split_comma(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = data.iter().position(|&c| c == b',')?;
    Some((&data[..i], &data[i + 1..]))
}

/// Takes the known `name` followed by a comma off the front of `data`, or else everything up
/// to the first comma (so names containing commas still parse when they are known).
fn take_name<'a>(data: &'a [u8], name: &str) -> Option<(&'a [u8], &'a [u8])> {
    let known = name.as_bytes();
    match data.strip_prefix(known).and_then(|r| r.strip_prefix(b",")) {
        Some(rest) => Some((&data[..known.len()], rest)),
        None => split_comma(data),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Interprets one event's data: `message,<channel>,<payload>`,
/// `pmessage,<pattern>,<channel>,<payload>`, `subscribe,<channel>,<count>`, ...
fn parse_event(data: &[u8], target: &Target) -> Event {
    let Some((kind, rest)) = split_comma(data) else {
        return Event::Other;
    };
    match (kind, target) {
        (b"message", Target::Channel(name)) => match take_name(rest, name) {
            Some((channel, payload)) => Event::Message(Message {
                channel: text(channel),
                pattern: None,
                payload: Bytes::copy_from_slice(payload),
            }),
            None => Event::Other,
        },
        (b"pmessage", Target::Pattern(name)) => {
            let Some((pattern, rest)) = take_name(rest, name) else {
                return Event::Other;
            };
            match split_comma(rest) {
                Some((channel, payload)) => Event::Message(Message {
                    channel: text(channel),
                    pattern: Some(text(pattern)),
                    payload: Bytes::copy_from_slice(payload),
                }),
                None => Event::Other,
            }
        }
        (b"subscribe" | b"psubscribe", _) => Event::Subscribed,
        (b"unsubscribe" | b"punsubscribe", _) => Event::Unsubscribed,
        _ => Event::Other,
    }
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

/// One SSE response body, cut into event data.
struct EventSource {
    body: BodyStream,
    parser: SseParser,
    events: VecDeque<Bytes>,
    done: bool,
}

impl EventSource {
    fn new(body: BodyStream) -> Self {
        Self {
            body,
            parser: SseParser::new(),
            events: VecDeque::new(),
            done: false,
        }
    }

    /// The next event's data; an error or `None` ends the source.
    async fn next(&mut self) -> Option<Result<Bytes>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => {
                    if let Err(e) = self.parser.push(&chunk, &mut self.events) {
                        self.done = true;
                        self.events.clear();
                        return Some(Err(e.into_error()));
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
                None => {
                    self.done = true;
                    return Some(Err(Error::Core(upstash_core::Error::Transport {
                        message: "the server closed the event stream".to_owned(),
                        maybe_sent: true,
                        source: None,
                    })));
                }
            }
        }
    }
}

/// Opens an SSE request at `path`, turning a rejection into the error it stands for.
async fn open(redis: &Redis, path: String) -> Result<EventSource> {
    let mut req = Request::post_json(path, Bytes::from_static(b"[]"));
    req.headers.insert(
        HeaderName::from_static("accept"),
        HeaderValue::from_static("text/event-stream"),
    );
    req.headers.insert(
        HeaderName::from_static("cache-control"),
        HeaderValue::from_static("no-cache"),
    );
    let (status, headers, mut body) = redis.transport().send_streaming(&req).await?;
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if status == StatusCode::OK && !is_json {
        return Ok(EventSource::new(body));
    }
    // An error (or a JSON reply where an event stream was expected): read a bounded body.
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        let room = MAX_ERROR_BODY.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    let message = parse_envelope(&bytes, false).ok().and_then(|env| env.err());
    let code = status.as_u16();
    Err(match (code, message) {
        (401 | 403, Some(message)) => upstash_core::Error::Unauthorized {
            status: code,
            message: upstash_core::snippet(message.as_bytes()),
        }
        .into(),
        (_, Some(message)) if code != 429 && code < 500 => Error::redis(message),
        (200, None) => Error::decode("expected an event stream, got a JSON reply"),
        _ => upstash_core::Error::from_status(code, &bytes, None).into(),
    })
}

/// Subscribes to one target and waits for the confirmation.
async fn connect(redis: Redis, target: Target) -> Result<BoxStream<'static, Result<Message>>> {
    let mut source = open(&redis, target.path()).await?;
    // Messages that arrive before the confirmation (not expected from Redis) are kept.
    let mut early = VecDeque::new();
    let confirmed = tokio::time::timeout(CONFIRM_TIMEOUT, async {
        loop {
            match source.next().await {
                Some(Ok(data)) => match parse_event(&data, &target) {
                    Event::Subscribed => return Ok(()),
                    Event::Message(m) => early.push_back(m),
                    Event::Unsubscribed | Event::Other => {}
                },
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(Error::decode(
                        "event stream ended before the subscription was confirmed",
                    ))
                }
            }
        }
    })
    .await;
    match confirmed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(upstash_core::Error::Timeout(CONFIRM_TIMEOUT).into()),
    }
    let state = (source, target, early);
    let messages = stream::unfold(state, |(mut source, target, mut early)| async move {
        if let Some(m) = early.pop_front() {
            return Some((Ok(m), (source, target, early)));
        }
        loop {
            match source.next().await? {
                Ok(data) => match parse_event(&data, &target) {
                    Event::Message(m) => return Some((Ok(m), (source, target, early))),
                    Event::Unsubscribed => return None,
                    Event::Subscribed | Event::Other => {}
                },
                Err(e) => return Some((Err(e), (source, target, early))),
            }
        }
    });
    Ok(Box::pin(messages))
}

/// A pub/sub subscription: a [`Stream`] of the messages of every channel and pattern it holds.
///
/// Created by [`Redis::subscribe`] or [`Redis::psubscribe`]; more channels and patterns can be
/// added with [`Subscription::subscribe`] and [`Subscription::psubscribe`]. Each holds one
/// HTTP request. When the server closes one of them the stream yields an error for it and
/// goes on with the others; it ends when none is left. Dropping the subscription closes all
/// requests, which unsubscribes.
///
/// ```no_run
/// use futures_util::StreamExt as _;
/// # async fn demo(redis: upstash_redis::Redis) -> upstash_redis::Result<()> {
/// let mut sub = redis.subscribe(["chat"]).await?;
/// while let Some(message) = sub.next().await {
///     let message = message?;
///     println!("{}: {}", message.channel, message.payload_str()?);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a subscription receives nothing unless it is polled"]
pub struct Subscription {
    redis: Redis,
    streams: SelectAll<BoxStream<'static, Result<Message>>>,
    channels: Vec<String>,
    patterns: Vec<String>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Channel names can carry user data: only counts are shown.
        f.debug_struct("Subscription")
            .field("channels", &self.channels.len())
            .field("patterns", &self.patterns.len())
            .field("open", &self.streams.len())
            .finish()
    }
}

impl Subscription {
    /// Subscribes to more channels; returns once the server confirmed each of them.
    pub async fn subscribe<I, S>(&mut self, channels: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = channels.into_iter().map(Into::into).collect();
        let targets = names.iter().cloned().map(Target::Channel).collect();
        self.add(targets).await?;
        self.channels.extend(names);
        Ok(())
    }

    /// Subscribes to more glob-style patterns; returns once the server confirmed each of them.
    pub async fn psubscribe<I, S>(&mut self, patterns: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = patterns.into_iter().map(Into::into).collect();
        let targets = names.iter().cloned().map(Target::Pattern).collect();
        self.add(targets).await?;
        self.patterns.extend(names);
        Ok(())
    }

    /// The channels subscribed to, in order.
    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    /// The patterns subscribed to, in order.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Closes every request (the same as dropping the subscription).
    pub fn unsubscribe(self) {}

    async fn add(&mut self, targets: Vec<Target>) -> Result<()> {
        let connecting = targets
            .into_iter()
            .map(|target| connect(self.redis.clone(), target));
        // All or nothing: on an error the requests already open are dropped (closed).
        let streams = futures_util::future::try_join_all(connecting).await?;
        self.streams.extend(streams);
        Ok(())
    }
}

impl Stream for Subscription {
    type Item = Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Message>>> {
        self.streams.poll_next_unpin(cx)
    }
}

/// The commands the server executes, as `MONITOR` prints them; from [`Redis::monitor`].
///
/// Each item is one line of `MONITOR` output (timestamp, client, command and arguments).
/// Dropping the stream closes the request.
#[must_use = "a monitor receives nothing unless it is polled"]
pub struct Monitor {
    inner: BoxStream<'static, Result<String>>,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor").finish_non_exhaustive()
    }
}

impl Stream for Monitor {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<String>>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Whether an event is the `OK` that starts a monitor stream (plain or JSON-quoted).
fn is_monitor_ok(data: &[u8]) -> bool {
    matches!(data, b"OK" | b"\"OK\"" | b"+OK")
}

impl Redis {
    /// Subscribes to channels (`SUBSCRIBE` over Server-Sent Events, one request per channel).
    ///
    /// Returns once the server has confirmed every channel, so messages published afterwards
    /// are delivered. Fails if any channel cannot be subscribed (bad token, timeout, ...).
    pub async fn subscribe<I, S>(&self, channels: I) -> Result<Subscription>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut sub = self.empty_subscription();
        sub.subscribe(channels).await?;
        Ok(sub)
    }

    /// Subscribes to glob-style channel patterns (`PSUBSCRIBE` over Server-Sent Events); the
    /// messages carry the matching pattern in [`Message::pattern`].
    pub async fn psubscribe<I, S>(&self, patterns: I) -> Result<Subscription>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut sub = self.empty_subscription();
        sub.psubscribe(patterns).await?;
        Ok(sub)
    }

    fn empty_subscription(&self) -> Subscription {
        Subscription {
            redis: self.clone(),
            streams: SelectAll::new(),
            channels: Vec::new(),
            patterns: Vec::new(),
        }
    }

    /// Streams every command the server executes (`POST /monitor`, Server-Sent Events).
    /// Returns once the server has acknowledged the monitor with its initial `OK`, which is
    /// not part of the stream.
    pub async fn monitor(&self) -> Result<Monitor> {
        let mut source = open(self, "/monitor".to_owned()).await?;
        let first = match tokio::time::timeout(CONFIRM_TIMEOUT, source.next()).await {
            Ok(Some(Ok(data))) if is_monitor_ok(&data) => None,
            Ok(Some(Ok(data))) => Some(text(&data)),
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) => return Err(Error::decode("monitor stream ended before it started")),
            Err(_) => return Err(upstash_core::Error::Timeout(CONFIRM_TIMEOUT).into()),
        };
        let rest = stream::unfold(source, |mut source| async move {
            let item = source.next().await?.map(|data| text(&data));
            Some((item, source))
        });
        let lines = stream::iter(first.map(Ok)).chain(rest);
        Ok(Monitor {
            inner: Box::pin(lines),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(parser: &mut SseParser, chunks: &[&[u8]]) -> Result<Vec<String>, SseError> {
        let mut events = VecDeque::new();
        for chunk in chunks {
            parser.push(chunk, &mut events)?;
        }
        Ok(events
            .into_iter()
            .map(|e| String::from_utf8_lossy(&e).into_owned())
            .collect())
    }

    fn parse_all(chunks: &[&[u8]]) -> Vec<String> {
        feed(&mut SseParser::new(), chunks).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn events_and_line_endings() {
        let expected = ["subscribe,ch,1", "message,ch,hello"];
        assert_eq!(
            parse_all(&[b"data: subscribe,ch,1\n\ndata: message,ch,hello\n\n"]),
            expected
        );
        assert_eq!(
            parse_all(&[b"data: subscribe,ch,1\r\n\r\ndata: message,ch,hello\r\n\r\n"]),
            expected
        );
        assert_eq!(
            parse_all(&[b"data: subscribe,ch,1\r\rdata: message,ch,hello\r\r"]),
            expected
        );
        // No space after the colon is allowed; only one space is stripped.
        assert_eq!(parse_all(&[b"data:x\n\ndata:  y\n\n"]), ["x", " y"]);
        // An incomplete event at the end is not dispatched.
        assert_eq!(parse_all(&[b"data: a\n\ndata: b\n"]), ["a"]);
    }

    #[test]
    fn every_chunk_boundary() {
        let input: &[u8] =
            b"\xEF\xBB\xBF: comment\r\ndata: message,ch,a,b\r\n\r\nevent: x\ndata: one\ndata: two\n\ndata\n\n";
        let expected = ["message,ch,a,b", "one\ntwo", ""];
        assert_eq!(parse_all(&[input]), expected);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(parse_all(&[a, b]), expected, "split at {split}");
        }
        // One byte at a time.
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_all(&bytes), expected);
    }

    #[test]
    fn crlf_split_between_chunks_is_one_line_ending() {
        // "\r" ends one chunk, "\n" starts the next: still one line ending, not a blank line.
        assert_eq!(
            parse_all(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]),
            ["a\nb"]
        );
        assert_eq!(parse_all(&[b"data: a\r", b"", b"\n", b"\n"]), ["a"]);
    }

    #[test]
    fn oversize_line_is_an_error() {
        let mut parser = SseParser::with_limit(16);
        let long = [b'x'; 17];
        assert_eq!(
            feed(&mut parser, &[b"data: ", &long[..]]),
            Err(SseError::LineTooLong)
        );
        let mut parser = SseParser::with_limit(16);
        assert_eq!(
            feed(&mut parser, &[b"data: 0123456789abcdef\n"]),
            Err(SseError::LineTooLong)
        );
        // Many short data lines that add up to too much.
        let mut parser = SseParser::with_limit(16);
        assert_eq!(
            feed(&mut parser, &[b"data: 0123456789\ndata: 0123456789\n"]),
            Err(SseError::EventTooLong)
        );
        // At the limit is fine.
        let mut parser = SseParser::with_limit(16);
        assert_eq!(
            feed(&mut parser, &[b"data: 0123456789\n\n"]),
            Ok(vec!["0123456789".to_owned()])
        );
        // The real limit is 1 MiB, and a huge line fails without buffering it all.
        let mut parser = SseParser::new();
        let chunk = vec![b'y'; 64 * 1024];
        let mut events = VecDeque::new();
        let mut failed = false;
        for _ in 0..32 {
            if parser.push(&chunk, &mut events).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
        assert!(parser.line.len() <= MAX_LINE);
    }

    #[test]
    fn pubsub_events() {
        let ch = Target::Channel("chat".into());
        assert_eq!(parse_event(b"subscribe,chat,1", &ch), Event::Subscribed);
        assert_eq!(
            parse_event(b"message,chat,a,b,,c", &ch),
            Event::Message(Message {
                channel: "chat".into(),
                pattern: None,
                payload: Bytes::from_static(b"a,b,,c"),
            })
        );
        assert_eq!(
            parse_event(b"message,chat,", &ch),
            Event::Message(Message {
                channel: "chat".into(),
                pattern: None,
                payload: Bytes::new(),
            })
        );
        // A channel name with a comma parses because the subscribed name is known.
        let odd = Target::Channel("a,b".into());
        assert!(matches!(
            parse_event(b"message,a,b,payload", &odd),
            Event::Message(m) if m.channel == "a,b" && m.payload.as_ref() == b"payload"
        ));
        let pat = Target::Pattern("news.*".into());
        assert_eq!(parse_event(b"psubscribe,news.*,1", &pat), Event::Subscribed);
        assert_eq!(
            parse_event(b"pmessage,news.*,news.tech,x,y", &pat),
            Event::Message(Message {
                channel: "news.tech".into(),
                pattern: Some("news.*".into()),
                payload: Bytes::from_static(b"x,y"),
            })
        );
        assert_eq!(parse_event(b"unsubscribe,chat,0", &ch), Event::Unsubscribed);
        assert_eq!(parse_event(b"garbage", &ch), Event::Other);
        assert_eq!(parse_event(b"message", &ch), Event::Other);
        assert_eq!(parse_event(b"pmessage,news.*,nocomma", &pat), Event::Other);
    }

    #[test]
    fn paths_escape_only_what_breaks_a_segment() {
        assert_eq!(Target::Channel("chat".into()).path(), "/subscribe/chat");
        assert_eq!(
            Target::Pattern("news.*:[ab]".into()).path(),
            "/psubscribe/news.*:[ab]"
        );
        assert_eq!(
            Target::Channel("a/b c?d#é%".into()).path(),
            "/subscribe/a%2Fb%20c%3Fd%23%C3%A9%25"
        );
    }

    #[test]
    fn message_helpers() {
        let m = Message {
            channel: "c".into(),
            pattern: None,
            payload: Bytes::from_static(br#"{"n":1}"#),
        };
        assert_eq!(m.payload_str().ok(), Some(r#"{"n":1}"#));
        let v: Result<serde_json::Value> = m.payload_json();
        assert_eq!(v.ok(), Some(serde_json::json!({"n": 1})));
        let bad = Message {
            payload: Bytes::from_static(&[0xff]),
            ..m
        };
        assert!(bad.payload_str().is_err());
    }
}
