//! Option types of the typed commands. Each writes its own Redis flags through [`ToArgs`], so
//! a command method only appends the option value.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::ToArgs;

// ---------------------------------------------------------------------------------------------
// Small shared helpers.

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A point in time as Unix seconds (0 for times before the epoch).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A point in time as Unix milliseconds (0 for times before the epoch).
pub(crate) fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, millis)
}

/// A flag argument written only when `on`.
pub(crate) fn flag(on: bool, name: &'static str) -> Option<&'static str> {
    on.then_some(name)
}

/// Arguments preceded by their count (`numkeys key [key ...]`), or by their count divided by
/// `per` (`FIELDS numfields field value ...` counts pairs).
pub(crate) struct Counted {
    items: Vec<Bytes>,
    per: usize,
}

impl ToArgs for Counted {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        (self.items.len() / self.per.max(1)).write_args(out);
        out.extend(self.items.iter().cloned());
    }
}

/// `items` preceded by how many arguments they are.
pub(crate) fn counted(items: impl ToArgs) -> Counted {
    Counted {
        items: items.to_args(),
        per: 1,
    }
}

/// Field/value pairs preceded by how many pairs they are.
pub(crate) fn counted_pairs(pairs: impl ToArgs) -> Counted {
    Counted {
        items: pairs.to_args(),
        per: 2,
    }
}

/// `(name, value)` when the value is present: `named("COUNT", count)`.
pub(crate) fn named<V>(name: &'static str, value: Option<V>) -> Option<(&'static str, V)> {
    value.map(|v| (name, v))
}

/// A flag keyword followed by a value, written only when the value is present.
fn opt<V: ToArgs>(out: &mut Vec<Bytes>, name: &'static str, value: Option<V>) {
    if let Some(v) = value {
        (name, v).write_args(out);
    }
}

/// Declares a unit-only enum whose variants each write one keyword.
macro_rules! keyword_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The Redis keyword.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }

        impl ToArgs for $name {
            fn write_args(&self, out: &mut Vec<Bytes>) {
                out.push(Bytes::from_static(self.as_str().as_bytes()));
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Expiry, conditions.

/// When a key set by `SET` (or `GETEX`) expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expiry {
    /// After a duration, in whole seconds (`EX`).
    Ex(Duration),
    /// After a duration, in milliseconds (`PX`).
    Px(Duration),
    /// At a Unix time in seconds (`EXAT`).
    ExAt(u64),
    /// At a Unix time in milliseconds (`PXAT`).
    PxAt(u64),
    /// Keep the key's current time to live (`KEEPTTL`).
    KeepTtl,
}

impl ToArgs for Expiry {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        match *self {
            Self::Ex(d) => ("EX", d.as_secs()).write_args(out),
            Self::Px(d) => ("PX", millis(d)).write_args(out),
            Self::ExAt(t) => ("EXAT", t).write_args(out),
            Self::PxAt(t) => ("PXAT", t).write_args(out),
            Self::KeepTtl => "KEEPTTL".write_args(out),
        }
    }
}

/// Adds `nx()`/`xx()` (field `condition`) and optionally `ch()` (field `ch`) to option
/// builders.
macro_rules! condition_methods {
    ($ty:ident, $what:literal $(, ch: $ch:literal)?) => {
        impl $ty {
            #[doc = concat!("Only if the ", $what, " does not exist yet (`NX`).")]
            pub fn nx(mut self) -> Self {
                self.condition = Some(Condition::Nx);
                self
            }

            #[doc = concat!("Only if the ", $what, " already exists (`XX`).")]
            pub fn xx(mut self) -> Self {
                self.condition = Some(Condition::Xx);
                self
            }

            $(
            #[doc = concat!("Count ", $ch, " changed, not only added (`CH`).")]
            pub fn ch(mut self) -> Self {
                self.ch = true;
                self
            }
            )?
        }
    };
}

condition_methods!(SetOptions, "key");
condition_methods!(ZAddOptions, "member", ch: "members whose score");
condition_methods!(GeoAddOptions, "member", ch: "members whose position");

keyword_enum! {
    /// A write condition.
    Condition {
        /// Only if the key (or member) does not exist (`NX`).
        Nx => "NX",
        /// Only if it already exists (`XX`).
        Xx => "XX",
    }
}

keyword_enum! {
    /// The condition of `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` (and the hash field
    /// variants): pass `None` for none.
    ExpireCondition {
        /// Only if the key has no expiry (`NX`).
        Nx => "NX",
        /// Only if the key has an expiry (`XX`).
        Xx => "XX",
        /// Only if the new expiry is later than the current one (`GT`).
        Gt => "GT",
        /// Only if the new expiry is earlier than the current one (`LT`).
        Lt => "LT",
    }
}

keyword_enum! {
    /// `SYNC` or `ASYNC` for `FLUSHALL`, `FLUSHDB`, `SCRIPT FLUSH`, `FUNCTION FLUSH`.
    FlushMode {
        /// Flush before replying (`SYNC`).
        Sync => "SYNC",
        /// Flush in the background (`ASYNC`).
        Async => "ASYNC",
    }
}

/// Options of `SET`. With `nx()`/`xx()` the reply is nil when nothing was set.
///
/// ```
/// use std::time::Duration;
/// use upstash_redis::SetOptions;
/// let opts = SetOptions::new().ex(Duration::from_secs(60)).nx();
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetOptions {
    expiry: Option<Expiry>,
    condition: Option<Condition>,
    get: bool,
}

impl ToArgs for SetOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        self.expiry.write_args(out);
        self.condition.write_args(out);
        flag(self.get, "GET").write_args(out);
    }
}

impl SetOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Expire after `ttl` (seconds precision, `EX`).
    pub fn ex(mut self, ttl: Duration) -> Self {
        self.expiry = Some(Expiry::Ex(ttl));
        self
    }

    /// Expire after `ttl` (milliseconds precision, `PX`).
    pub fn px(mut self, ttl: Duration) -> Self {
        self.expiry = Some(Expiry::Px(ttl));
        self
    }

    /// Any expiry form.
    pub fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Keep the existing time to live.
    pub fn keep_ttl(mut self) -> Self {
        self.expiry = Some(Expiry::KeepTtl);
        self
    }

    /// Return the previous value (`GET`).
    pub fn get(mut self) -> Self {
        self.get = true;
        self
    }
}

/// The expiry change of `GETEX` (and `HGETEX`): a new expiry, or `PERSIST`; none leaves it.
///
/// ```
/// use std::time::Duration;
/// use upstash_redis::GetExOptions;
/// let opts = GetExOptions::new().ex(Duration::from_secs(10));
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetExOptions {
    expiry: Option<Expiry>,
    persist: bool,
}

impl GetExOptions {
    /// No change of expiry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Expire after `ttl` (seconds precision, `EX`).
    pub fn ex(self, ttl: Duration) -> Self {
        self.with(Expiry::Ex(ttl))
    }

    /// Expire after `ttl` (milliseconds precision, `PX`).
    pub fn px(self, ttl: Duration) -> Self {
        self.with(Expiry::Px(ttl))
    }

    /// Expire at a point in time (seconds precision, `EXAT`).
    pub fn ex_at(self, at: SystemTime) -> Self {
        self.with(Expiry::ExAt(unix_secs(at)))
    }

    /// Expire at a point in time (milliseconds precision, `PXAT`).
    pub fn px_at(self, at: SystemTime) -> Self {
        self.with(Expiry::PxAt(unix_millis(at)))
    }

    /// Remove the expiry (`PERSIST`).
    pub fn persist(mut self) -> Self {
        self.expiry = None;
        self.persist = true;
        self
    }

    fn with(mut self, expiry: Expiry) -> Self {
        self.expiry = Some(expiry);
        self.persist = false;
        self
    }
}

impl ToArgs for GetExOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        self.expiry.write_args(out);
        flag(self.persist, "PERSIST").write_args(out);
    }
}

// ---------------------------------------------------------------------------------------------
// Keys.

/// `MATCH`, `COUNT` and `TYPE` of `SCAN` (`HSCAN`, `SSCAN`, `ZSCAN` take `MATCH` and `COUNT`).
///
/// ```
/// use upstash_redis::ScanOptions;
/// let opts = ScanOptions::new().pattern("user:*").count(100);
/// # let _ = opts;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanOptions {
    pattern: Option<String>,
    count: Option<u64>,
    key_type: Option<String>,
}

impl ScanOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only names matching a glob-style pattern (`MATCH`).
    pub fn pattern(mut self, pattern: impl Into<String>) -> Self {
        self.pattern = Some(pattern.into());
        self
    }

    /// A hint of how much work each call does (`COUNT`).
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// Only keys of a type such as `"string"`, `"hash"`, `"zset"` (`TYPE`; `SCAN` only).
    pub fn key_type(mut self, key_type: impl Into<String>) -> Self {
        self.key_type = Some(key_type.into());
        self
    }
}

impl ToArgs for ScanOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        opt(out, "MATCH", self.pattern.as_deref());
        opt(out, "COUNT", self.count);
        opt(out, "TYPE", self.key_type.as_deref());
    }
}

// ---------------------------------------------------------------------------------------------
// Bitmaps.

/// A range of a string for `BITCOUNT` and `BITPOS`, in bytes by default, inclusive, negative
/// indexes counting from the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitRange {
    start: i64,
    end: i64,
    bits: bool,
}

impl BitRange {
    /// Bytes `start..=end`.
    pub fn bytes(start: i64, end: i64) -> Self {
        Self {
            start,
            end,
            bits: false,
        }
    }

    /// Bits `start..=end` (`BIT`, Redis 7).
    pub fn bits(start: i64, end: i64) -> Self {
        Self {
            start,
            end,
            bits: true,
        }
    }
}

impl ToArgs for BitRange {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        (self.start, self.end, flag(self.bits, "BIT")).write_args(out);
    }
}

keyword_enum! {
    /// The operation of `BITOP`.
    BitOp {
        /// Bitwise AND.
        And => "AND",
        /// Bitwise OR.
        Or => "OR",
        /// Bitwise XOR.
        Xor => "XOR",
        /// Bitwise NOT of a single key.
        Not => "NOT",
        /// Bits set in the first key and in none of the others (Redis 8.2).
        Diff => "DIFF",
        /// Bits set in one or more of the other keys but not in the first (Redis 8.2).
        Diff1 => "DIFF1",
        /// Bits set in the first key and in one or more of the others (Redis 8.2).
        AndOr => "ANDOR",
        /// Bits set in exactly one key (Redis 8.2).
        One => "ONE",
    }
}

/// An integer type of a `BITFIELD` operation: `i1`..`i64` or `u1`..`u63`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BitFieldType {
    /// A signed integer of this many bits.
    Signed(u8),
    /// An unsigned integer of this many bits.
    Unsigned(u8),
}

impl ToArgs for BitFieldType {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        let text = match self {
            Self::Signed(bits) => format!("i{bits}"),
            Self::Unsigned(bits) => format!("u{bits}"),
        };
        out.push(Bytes::from(text));
    }
}

keyword_enum! {
    /// What `BITFIELD` `SET`/`INCRBY` do on overflow.
    BitFieldOverflow {
        /// Wrap around (the default).
        Wrap => "WRAP",
        /// Saturate at the minimum or maximum.
        Sat => "SAT",
        /// Do nothing and reply nil.
        Fail => "FAIL",
    }
}

/// The operations of one `BITFIELD` command, applied in order; the reply has one element per
/// `get`/`set`/`incrby` (nil for a failed overflow).
///
/// Offsets are bit offsets (`5`), or multiples of the type width written `"#2"`.
///
/// ```
/// use upstash_redis::{BitField, BitFieldType};
/// let ops = BitField::new()
///     .set(BitFieldType::Unsigned(8), 0, 200)
///     .incrby(BitFieldType::Unsigned(8), 0, 100)
///     .get(BitFieldType::Signed(4), "#1");
/// # let _ = ops;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitField {
    args: Vec<Bytes>,
}

impl BitField {
    /// No operations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read a field (`GET type offset`).
    pub fn get(self, ty: BitFieldType, offset: impl ToArgs) -> Self {
        self.push(("GET", ty, offset))
    }

    /// Write a field, replying its previous value (`SET type offset value`).
    pub fn set(self, ty: BitFieldType, offset: impl ToArgs, value: i64) -> Self {
        self.push(("SET", ty, offset, value))
    }

    /// Add to a field, replying its new value (`INCRBY type offset increment`).
    pub fn incrby(self, ty: BitFieldType, offset: impl ToArgs, increment: i64) -> Self {
        self.push(("INCRBY", ty, offset, increment))
    }

    /// Overflow behaviour of the following `set`/`incrby` operations.
    pub fn overflow(self, mode: BitFieldOverflow) -> Self {
        self.push(("OVERFLOW", mode))
    }

    fn push(mut self, args: impl ToArgs) -> Self {
        args.write_args(&mut self.args);
        self
    }
}

impl ToArgs for BitField {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.extend(self.args.iter().cloned());
    }
}

// ---------------------------------------------------------------------------------------------
// Lists.

keyword_enum! {
    /// An end of a list, for `LMOVE` and `LMPOP`.
    ListEnd {
        /// The head (`LEFT`).
        Left => "LEFT",
        /// The tail (`RIGHT`).
        Right => "RIGHT",
    }
}

keyword_enum! {
    /// Where `LINSERT` inserts relative to the pivot.
    InsertPosition {
        /// Before the pivot.
        Before => "BEFORE",
        /// After the pivot.
        After => "AFTER",
    }
}

/// Options of `LPOS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LPosOptions {
    rank: Option<i64>,
    count: Option<u64>,
    max_len: Option<u64>,
}

impl LPosOptions {
    /// No options: the index of the first match.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which match to return: 1 the first, 2 the second, -1 the last... (`RANK`).
    pub fn rank(mut self, rank: i64) -> Self {
        self.rank = Some(rank);
        self
    }

    /// Return up to `count` indexes, 0 for all, as an array (`COUNT`).
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// Compare at most `len` elements (`MAXLEN`).
    pub fn max_len(mut self, len: u64) -> Self {
        self.max_len = Some(len);
        self
    }
}

impl ToArgs for LPosOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        opt(out, "RANK", self.rank);
        opt(out, "COUNT", self.count);
        opt(out, "MAXLEN", self.max_len);
    }
}

// ---------------------------------------------------------------------------------------------
// Sorted sets.

keyword_enum! {
    /// A score comparison for `ZADD`.
    Comparison {
        /// Only update when the new score is greater (`GT`).
        Gt => "GT",
        /// Only update when the new score is less (`LT`).
        Lt => "LT",
    }
}

/// Options of `ZADD`.
///
/// ```
/// use upstash_redis::ZAddOptions;
/// let opts = ZAddOptions::new().xx().gt().ch();
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZAddOptions {
    condition: Option<Condition>,
    comparison: Option<Comparison>,
    ch: bool,
}

impl ZAddOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only update when the new score is greater (`GT`).
    pub fn gt(mut self) -> Self {
        self.comparison = Some(Comparison::Gt);
        self
    }

    /// Only update when the new score is less (`LT`).
    pub fn lt(mut self) -> Self {
        self.comparison = Some(Comparison::Lt);
        self
    }
}

impl ToArgs for ZAddOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        (self.condition, self.comparison, flag(self.ch, "CH")).write_args(out);
    }
}

/// Options of `ZRANGE`: what `start`/`stop` mean, order, paging, scores.
///
/// ```
/// use upstash_redis::ZRangeOptions;
/// let opts = ZRangeOptions::new().by_score().rev().limit(0, 10).with_scores();
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZRangeOptions {
    by: Option<&'static str>,
    rev: bool,
    limit: Option<(i64, i64)>,
    with_scores: bool,
}

impl ZRangeOptions {
    /// A range of ranks, ascending, without scores.
    pub fn new() -> Self {
        Self::default()
    }

    /// `start`/`stop` are scores (`BYSCORE`; `"(1"` excludes, `"-inf"`/`"+inf"`).
    pub fn by_score(mut self) -> Self {
        self.by = Some("BYSCORE");
        self
    }

    /// `start`/`stop` are lexicographic bounds (`BYLEX`; `"[a"`, `"(a"`, `"-"`, `"+"`).
    pub fn by_lex(mut self) -> Self {
        self.by = Some("BYLEX");
        self
    }

    /// Descending order (`REV`; then `start` is the higher bound).
    pub fn rev(mut self) -> Self {
        self.rev = true;
        self
    }

    /// Skip `offset` members and return at most `count` (negative: all) (`LIMIT`; with
    /// `BYSCORE` or `BYLEX`).
    pub fn limit(mut self, offset: i64, count: i64) -> Self {
        self.limit = Some((offset, count));
        self
    }

    /// Reply member/score pairs (`WITHSCORES`): decode as `Vec<(String, f64)>`.
    pub fn with_scores(mut self) -> Self {
        self.with_scores = true;
        self
    }
}

impl ToArgs for ZRangeOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        (self.by, flag(self.rev, "REV")).write_args(out);
        opt(out, "LIMIT", self.limit);
        flag(self.with_scores, "WITHSCORES").write_args(out);
    }
}

keyword_enum! {
    /// How `ZUNION`/`ZINTER` (and their `STORE` forms) combine the scores of a member.
    Aggregate {
        /// Add them (the default).
        Sum => "SUM",
        /// Keep the least.
        Min => "MIN",
        /// Keep the greatest.
        Max => "MAX",
    }
}

/// Options of `ZUNION`, `ZINTER`, `ZUNIONSTORE`, `ZINTERSTORE`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZCombineOptions {
    weights: Vec<f64>,
    aggregate: Option<Aggregate>,
    with_scores: bool,
}

impl ZCombineOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// One multiplication factor per input key (`WEIGHTS`).
    pub fn weights(mut self, weights: impl IntoIterator<Item = f64>) -> Self {
        self.weights = weights.into_iter().collect();
        self
    }

    /// How scores are combined (`AGGREGATE`).
    pub fn aggregate(mut self, aggregate: Aggregate) -> Self {
        self.aggregate = Some(aggregate);
        self
    }

    /// Reply member/score pairs (`WITHSCORES`; `ZUNION`/`ZINTER` only): decode as
    /// `Vec<(String, f64)>`.
    pub fn with_scores(mut self) -> Self {
        self.with_scores = true;
        self
    }
}

impl ToArgs for ZCombineOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        if !self.weights.is_empty() {
            ("WEIGHTS", self.weights.as_slice()).write_args(out);
        }
        opt(out, "AGGREGATE", self.aggregate);
        flag(self.with_scores, "WITHSCORES").write_args(out);
    }
}

// ---------------------------------------------------------------------------------------------
// Streams.

/// How `XADD` and `XTRIM` trim a stream.
///
/// ```
/// use upstash_redis::StreamTrim;
/// let trim = StreamTrim::max_len(1000).approximate();
/// # let _ = trim;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamTrim {
    strategy: &'static str,
    threshold: String,
    approximate: bool,
    limit: Option<u64>,
}

impl StreamTrim {
    /// Keep at most `len` entries (`MAXLEN`).
    pub fn max_len(len: u64) -> Self {
        Self {
            strategy: "MAXLEN",
            threshold: len.to_string(),
            approximate: false,
            limit: None,
        }
    }

    /// Evict entries with IDs lower than `id` (`MINID`).
    pub fn min_id(id: impl Into<String>) -> Self {
        Self {
            strategy: "MINID",
            threshold: id.into(),
            approximate: false,
            limit: None,
        }
    }

    /// Trim lazily, in whole macro nodes (`~`): faster, may keep a few more entries.
    pub fn approximate(mut self) -> Self {
        self.approximate = true;
        self
    }

    /// Evict at most `count` entries (`LIMIT`; with [`StreamTrim::approximate`]).
    pub fn limit(mut self, count: u64) -> Self {
        self.limit = Some(count);
        self
    }
}

impl ToArgs for StreamTrim {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        (
            self.strategy,
            flag(self.approximate, "~"),
            self.threshold.as_str(),
        )
            .write_args(out);
        opt(out, "LIMIT", self.limit);
    }
}

/// Options of `XADD`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XAddOptions {
    no_mkstream: bool,
    trim: Option<StreamTrim>,
}

impl XAddOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Do not create a missing stream (`NOMKSTREAM`); the reply is then nil, so decode it
    /// with `.query::<Option<String>>()`.
    pub fn no_mkstream(mut self) -> Self {
        self.no_mkstream = true;
        self
    }

    /// Trim the stream while adding.
    pub fn trim(mut self, trim: StreamTrim) -> Self {
        self.trim = Some(trim);
        self
    }
}

impl ToArgs for XAddOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        (flag(self.no_mkstream, "NOMKSTREAM"), &self.trim).write_args(out);
    }
}

/// Options of `XREADGROUP` (always non-blocking: REST has no `BLOCK`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XReadGroupOptions {
    count: Option<u64>,
    no_ack: bool,
}

impl XReadGroupOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `count` entries per stream (`COUNT`).
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// Do not add the entries to the pending list (`NOACK`).
    pub fn no_ack(mut self) -> Self {
        self.no_ack = true;
        self
    }
}

impl ToArgs for XReadGroupOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        opt(out, "COUNT", self.count);
        flag(self.no_ack, "NOACK").write_args(out);
    }
}

/// Filters of the extended form of `XPENDING`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XPendingOptions {
    min_idle: Option<Duration>,
    consumer: Option<String>,
}

impl XPendingOptions {
    /// No filters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only entries idle for at least this long (`IDLE`).
    pub fn min_idle(mut self, idle: Duration) -> Self {
        self.min_idle = Some(idle);
        self
    }

    /// Only entries of one consumer.
    pub fn consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = Some(consumer.into());
        self
    }

    /// The `IDLE ms` part, written before the range.
    pub(crate) fn idle_args(&self) -> Option<(&'static str, u64)> {
        self.min_idle.map(|d| ("IDLE", millis(d)))
    }

    /// The consumer part, written after the count.
    pub(crate) fn consumer_arg(&self) -> Option<&str> {
        self.consumer.as_deref()
    }
}

// ---------------------------------------------------------------------------------------------
// Geo.

keyword_enum! {
    /// A distance unit of the geo commands.
    GeoUnit {
        /// Meters.
        Meters => "m",
        /// Kilometers.
        Kilometers => "km",
        /// Miles.
        Miles => "mi",
        /// Feet.
        Feet => "ft",
    }
}

/// Options of `GEOADD`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GeoAddOptions {
    condition: Option<Condition>,
    ch: bool,
}

impl GeoAddOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ToArgs for GeoAddOptions {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        (self.condition, flag(self.ch, "CH")).write_args(out);
    }
}

/// The centre of a `GEOSEARCH`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum GeoFrom {
    /// The position of a member of the set (`FROMMEMBER`).
    Member(String),
    /// A longitude and latitude (`FROMLONLAT`).
    LonLat(f64, f64),
}

/// The area of a `GEOSEARCH`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum GeoShape {
    /// A circle of this radius (`BYRADIUS`).
    Radius(f64, GeoUnit),
    /// A rectangle of this width and height (`BYBOX`).
    Box(f64, f64, GeoUnit),
}

/// A `GEOSEARCH` (or `GEOSEARCHSTORE`) query.
///
/// Without `with_*` flags the reply is the member names; with them each item is an array
/// `[member, dist?, hash?, [lon, lat]?]` in that order, so `with_dist()` alone decodes as
/// `Vec<(String, f64)>`.
///
/// ```
/// use upstash_redis::{GeoFrom, GeoSearch, GeoShape, GeoUnit};
/// let q = GeoSearch::new(GeoFrom::LonLat(15.0, 37.0), GeoShape::Radius(200.0, GeoUnit::Kilometers))
///     .asc()
///     .count(5)
///     .with_dist();
/// # let _ = q;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GeoSearch {
    from: GeoFrom,
    shape: GeoShape,
    order: Option<&'static str>,
    count: Option<u64>,
    any: bool,
    with_coord: bool,
    with_dist: bool,
    with_hash: bool,
}

impl GeoSearch {
    /// Members within `shape` around `from`, unordered, all of them.
    pub fn new(from: GeoFrom, shape: GeoShape) -> Self {
        Self {
            from,
            shape,
            order: None,
            count: None,
            any: false,
            with_coord: false,
            with_dist: false,
            with_hash: false,
        }
    }

    /// Nearest first (`ASC`).
    pub fn asc(mut self) -> Self {
        self.order = Some("ASC");
        self
    }

    /// Farthest first (`DESC`).
    pub fn desc(mut self) -> Self {
        self.order = Some("DESC");
        self
    }

    /// At most `count` members (`COUNT`).
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// With [`GeoSearch::count`]: stop at the first `count` matches found, not the nearest
    /// (`ANY`).
    pub fn any(mut self) -> Self {
        self.any = true;
        self
    }

    /// Reply each member's position (`WITHCOORD`).
    pub fn with_coord(mut self) -> Self {
        self.with_coord = true;
        self
    }

    /// Reply each member's distance, in the shape's unit (`WITHDIST`).
    pub fn with_dist(mut self) -> Self {
        self.with_dist = true;
        self
    }

    /// Reply each member's raw geohash integer (`WITHHASH`).
    pub fn with_hash(mut self) -> Self {
        self.with_hash = true;
        self
    }

    /// The query arguments; `WITH*` flags only when `with_flags` (not for `GEOSEARCHSTORE`).
    pub(crate) fn args(&self, with_flags: bool) -> Vec<Bytes> {
        let mut out = Vec::new();
        match &self.from {
            GeoFrom::Member(m) => ("FROMMEMBER", m.as_str()).write_args(&mut out),
            GeoFrom::LonLat(lon, lat) => ("FROMLONLAT", lon, lat).write_args(&mut out),
        }
        match self.shape {
            GeoShape::Radius(r, unit) => ("BYRADIUS", r, unit).write_args(&mut out),
            GeoShape::Box(w, h, unit) => ("BYBOX", w, h, unit).write_args(&mut out),
        }
        self.order.write_args(&mut out);
        opt(&mut out, "COUNT", self.count);
        flag(self.any && self.count.is_some(), "ANY").write_args(&mut out);
        if with_flags {
            (
                flag(self.with_coord, "WITHCOORD"),
                flag(self.with_dist, "WITHDIST"),
                flag(self.with_hash, "WITHHASH"),
            )
                .write_args(&mut out);
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Test helpers for the command files.

#[cfg(test)]
pub(crate) mod testing {
    use crate::{Cmd, Redis};

    /// A client that never connects: only for building commands.
    pub(crate) fn client() -> Redis {
        Redis::new("http://127.0.0.1:1", "t").expect("client")
    }

    /// The command a typed method built, as text.
    pub(crate) fn argv<T>(cmd: Cmd<T>) -> Vec<String> {
        cmd.command()
            .args()
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(args: impl ToArgs) -> Vec<String> {
        args.to_args()
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn set_and_getex_options() {
        let o = SetOptions::new().px(Duration::from_millis(1500)).xx().get();
        assert_eq!(text(o), ["PX", "1500", "XX", "GET"]);
        assert_eq!(text(SetOptions::new().keep_ttl()), ["KEEPTTL"]);
        assert_eq!(text(GetExOptions::new()), Vec::<String>::new());
        assert_eq!(
            text(GetExOptions::new().ex(Duration::from_secs(9))),
            ["EX", "9"]
        );
        assert_eq!(
            text(GetExOptions::new().ex(Duration::from_secs(9)).persist()),
            ["PERSIST"]
        );
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            text(GetExOptions::new().px_at(at)),
            ["PXAT", "1700000000123"]
        );
        assert_eq!(text(GetExOptions::new().ex_at(at)), ["EXAT", "1700000000"]);
    }

    #[test]
    fn scan_and_counted() {
        assert_eq!(
            text(ScanOptions::new().pattern("a*").count(10).key_type("hash")),
            ["MATCH", "a*", "COUNT", "10", "TYPE", "hash"]
        );
        assert_eq!(text(counted(["a", "b"])), ["2", "a", "b"]);
        assert_eq!(
            text(counted_pairs([("f", 1), ("g", 2)])),
            ["2", "f", "1", "g", "2"]
        );
    }

    #[test]
    fn bitfield_builder() {
        let ops = BitField::new()
            .overflow(BitFieldOverflow::Sat)
            .set(BitFieldType::Unsigned(8), 0, 200)
            .get(BitFieldType::Signed(4), "#1");
        assert_eq!(
            text(ops),
            ["OVERFLOW", "SAT", "SET", "u8", "0", "200", "GET", "i4", "#1"]
        );
        assert_eq!(text(BitRange::bits(1, -1)), ["1", "-1", "BIT"]);
    }

    #[test]
    fn sorted_set_options() {
        assert_eq!(text(ZAddOptions::new().xx().gt().ch()), ["XX", "GT", "CH"]);
        assert_eq!(
            text(
                ZRangeOptions::new()
                    .by_score()
                    .rev()
                    .limit(0, 2)
                    .with_scores()
            ),
            ["BYSCORE", "REV", "LIMIT", "0", "2", "WITHSCORES"]
        );
        assert_eq!(
            text(
                ZCombineOptions::new()
                    .weights([2.0, 0.5])
                    .aggregate(Aggregate::Max)
            ),
            ["WEIGHTS", "2", "0.5", "AGGREGATE", "MAX"]
        );
    }

    #[test]
    fn stream_and_geo_options() {
        assert_eq!(
            text(
                XAddOptions::new()
                    .no_mkstream()
                    .trim(StreamTrim::max_len(10).approximate().limit(5))
            ),
            ["NOMKSTREAM", "MAXLEN", "~", "10", "LIMIT", "5"]
        );
        assert_eq!(text(StreamTrim::min_id("5-0")), ["MINID", "5-0"]);
        let q = GeoSearch::new(
            GeoFrom::Member("a".into()),
            GeoShape::Box(1.0, 2.5, GeoUnit::Miles),
        )
        .desc()
        .count(3)
        .any()
        .with_coord()
        .with_hash();
        assert_eq!(
            text(q.args(true)),
            [
                "FROMMEMBER",
                "a",
                "BYBOX",
                "1",
                "2.5",
                "mi",
                "DESC",
                "COUNT",
                "3",
                "ANY",
                "WITHCOORD",
                "WITHHASH"
            ]
        );
        assert_eq!(text(q.args(false)).len(), 10);
        assert_eq!(
            text(LPosOptions::new().rank(-1).count(0).max_len(100)),
            ["RANK", "-1", "COUNT", "0", "MAXLEN", "100"]
        );
    }
}
