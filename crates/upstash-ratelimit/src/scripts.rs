//! The Lua scripts, written for this crate.
//!
//! They use the same keys, value types and arithmetic as `@upstash/ratelimit` 2.2, so a Rust
//! and a TypeScript service share one limit, but the text is our own (so the SHA-1s differ and
//! each client's scripts sit side by side in the server's script cache).
//!
//! Every script exists in two flavours: with the `#!lua flags=allow-key-locking` shebang
//! (Upstash: the script locks only its `KEYS`) and without it (vanilla Redis / Valkey, which
//! reject that flag).

use std::sync::LazyLock;

use sha1::{Digest, Sha1};

use crate::store::{Call, Reply};
use crate::{Error, Result};

/// The shebang Upstash understands; vanilla Redis rejects it.
pub const KEY_LOCKING_SHEBANG: &str = "#!lua flags=allow-key-locking\n";

/// Which script this is (stores that run scripts natively, such as
/// [`MemoryStore`](crate::MemoryStore), dispatch on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScriptKind {
    /// Fixed window: count a request.
    FixedLimit,
    /// Fixed window: read the remaining tokens.
    FixedRemaining,
    /// Sliding window: count a request.
    SlidingLimit,
    /// Sliding window: read the remaining tokens.
    SlidingRemaining,
    /// Token bucket: take tokens.
    TokenLimit,
    /// Token bucket: read the stored balance.
    TokenRemaining,
    /// Cached fixed window: count a request.
    CachedLimit,
    /// Cached fixed window: read the count.
    CachedRemaining,
    /// Multi-region fixed window: record a request id.
    MultiFixedLimit,
    /// Multi-region fixed window: read the request ids.
    MultiFixedRemaining,
    /// Multi-region sliding window: record a request id.
    MultiSlidingLimit,
    /// Multi-region sliding window: read the request ids.
    MultiSlidingRemaining,
    /// Deny-list membership check.
    DenyList,
    /// Replace the automatic IP deny list (ipsum).
    IpListRefresh,
    /// Turn the automatic IP deny list off.
    IpListDisable,
    /// Several rules checked together, all or nothing.
    MultiRule,
    /// Fixed window: count several requests in one script run (see [`Store::eval_batch`](crate::Store::eval_batch)).
    FixedLimitBatch,
    /// Sliding window: count several requests in one script run (see [`Store::eval_batch`](crate::Store::eval_batch)).
    SlidingLimitBatch,
    /// Token bucket: take tokens for several requests in one script run (see [`Store::eval_batch`](crate::Store::eval_batch)).
    TokenLimitBatch,
}

impl ScriptKind {
    /// For a batch script, the single-call script it runs once per call.
    pub fn batch_of(self) -> Option<ScriptKind> {
        match self {
            Self::FixedLimitBatch => Some(Self::FixedLimit),
            Self::SlidingLimitBatch => Some(Self::SlidingLimit),
            Self::TokenLimitBatch => Some(Self::TokenLimit),
            _ => None,
        }
    }
}

/// One source text with its SHA-1.
#[derive(Debug)]
pub struct ScriptSource {
    text: String,
    sha1: String,
}

impl ScriptSource {
    fn new(text: String) -> Self {
        let sha1 = hex::encode(Sha1::digest(text.as_bytes()));
        Self { text, sha1 }
    }

    /// The Lua source.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Lowercase hex SHA-1 of the source.
    pub fn sha1(&self) -> &str {
        &self.sha1
    }
}

/// A script in its two flavours.
#[derive(Debug)]
pub struct LuaScript {
    kind: ScriptKind,
    flagged: ScriptSource,
    plain: ScriptSource,
    read_only: bool,
}

impl LuaScript {
    fn new(kind: ScriptKind, body: &str, read_only: bool, lockable: bool) -> Self {
        let flagged = if lockable {
            format!("{KEY_LOCKING_SHEBANG}{body}")
        } else {
            body.to_owned()
        };
        Self {
            kind,
            flagged: ScriptSource::new(flagged),
            plain: ScriptSource::new(body.to_owned()),
            read_only,
        }
    }

    /// Which script this is.
    pub fn kind(&self) -> ScriptKind {
        self.kind
    }

    /// The flavour for Upstash (with the key-locking shebang where JS 2.2 has one).
    pub fn flagged(&self) -> &ScriptSource {
        &self.flagged
    }

    /// The flavour for vanilla Redis / Valkey (no shebang).
    pub fn plain(&self) -> &ScriptSource {
        &self.plain
    }

    /// Whether the script never writes.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }
}

/// Reads the dynamic limit when its key is passed at `KEYS[n]`.
macro_rules! dynamic_limit {
    ($n:literal) => {
        concat!(
            "local limit = tonumber(ARGV[1])\n",
            "if KEYS[",
            $n,
            "] then\n",
            "  local override = redis.call('GET', KEYS[",
            $n,
            "])\n",
            "  if override then limit = tonumber(override) end\n",
            "end\n"
        )
    };
}

// KEYS [counter, dynamic?]  ARGV [tokens, windowMs, incrementBy]
const FIXED_LIMIT: &str = concat!(
    dynamic_limit!(2),
    r#"local by = tonumber(ARGV[3])
local used = redis.call('INCRBY', KEYS[1], by)
if used == by then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {used, limit}
"#
);

// KEYS [counter, dynamic?]  ARGV [tokens]
const FIXED_REMAINING: &str = concat!(
    dynamic_limit!(2),
    r#"local used = tonumber(redis.call('GET', KEYS[1]) or '0')
return {limit - used, limit}
"#
);

// KEYS [current, previous, dynamic?]  ARGV [tokens, nowMs, windowMs, incrementBy]
const SLIDING_LIMIT: &str = concat!(
    dynamic_limit!(3),
    r#"local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local by = tonumber(ARGV[4])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local elapsed = (now % window) / window
local carried = math.floor((1 - elapsed) * previous)
if by > 0 and carried + current >= limit then
  return {-1, limit}
end
local after = redis.call('INCRBY', KEYS[1], by)
if after == by then
  redis.call('PEXPIRE', KEYS[1], window * 2 + 1000)
end
return {limit - (after + carried), limit}
"#
);

// KEYS [current, previous, dynamic?]  ARGV [tokens, nowMs, windowMs]
const SLIDING_REMAINING: &str = concat!(
    dynamic_limit!(3),
    r#"local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local elapsed = (now % window) / window
local carried = math.floor((1 - elapsed) * previous)
return {limit - (carried + current), limit}
"#
);

// KEYS [bucket, dynamic?]  ARGV [maxTokens, intervalMs, refillRate, nowMs, incrementBy]
const TOKEN_LIMIT: &str = concat!(
    dynamic_limit!(2),
    r#"local interval = tonumber(ARGV[2])
local refill = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local by = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'refilledAt', 'tokens')
local refilledAt = now
local balance = limit
if state[1] then
  refilledAt = tonumber(state[1])
  balance = tonumber(state[2] or limit)
end
if now >= refilledAt + interval then
  local periods = math.floor((now - refilledAt) / interval)
  balance = math.min(limit, balance + periods * refill)
  refilledAt = refilledAt + periods * interval
end
if by > 0 and balance < by then
  return {-1, refilledAt + interval, limit}
end
local left = balance - by
redis.call('HSET', KEYS[1], 'refilledAt', refilledAt, 'tokens', left)
local ttl = math.ceil((limit - left) / refill) * interval
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {left, refilledAt + interval, limit}
"#
);

// KEYS [bucket, dynamic?]  ARGV [maxTokens]
const TOKEN_REMAINING: &str = concat!(
    dynamic_limit!(2),
    r#"local state = redis.call('HMGET', KEYS[1], 'refilledAt', 'tokens')
if not state[1] then
  return {limit, -1, limit}
end
return {tonumber(state[2] or limit), tonumber(state[1]), limit}
"#
);

// KEYS [counter]  ARGV [windowMs, incrementBy]
// Unlike JS (which compares a number with a string and never sets a TTL) the counter expires
// with its window; JS readers do not depend on the missing TTL.
const CACHED_LIMIT: &str = r#"local by = tonumber(ARGV[2])
local used = redis.call('INCRBY', KEYS[1], by)
if used == by then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return used
"#;

// KEYS [counter]
const CACHED_REMAINING: &str = r#"return tonumber(redis.call('GET', KEYS[1]) or '0')
"#;

// KEYS [hash]  ARGV [requestId, windowMs, incrementBy]
const MULTI_FIXED_LIMIT: &str = r#"redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 2 and tonumber(fields[2]) == tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return fields
"#;

// KEYS [hash]
const MULTI_FIXED_REMAINING: &str = r#"return redis.call('HGETALL', KEYS[1])
"#;

// KEYS [current, previous]  ARGV [tokens, nowMs, windowMs, requestId, incrementBy]
const MULTI_SLIDING_LIMIT: &str = r#"local limit = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local by = tonumber(ARGV[5])
local current = redis.call('HGETALL', KEYS[1])
local previous = redis.call('HGETALL', KEYS[2])
local function total(fields)
  local sum = 0
  for i = 2, #fields, 2 do
    sum = sum + tonumber(fields[i])
  end
  return sum
end
local currentSum = total(current)
local previousSum = total(previous)
local elapsed = (now % window) / window
if by > 0 and previousSum * (1 - elapsed) + currentSum + by > limit then
  return {current, previous, false}
end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
if currentSum == 0 then
  redis.call('PEXPIRE', KEYS[1], window * 2 + 1000)
end
return {current, previous, true}
"#;

// KEYS [current, previous]
const MULTI_SLIDING_REMAINING: &str = r#"return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"#;

// KEYS [denyList:all, ipDenyListStatus]  ARGV members
const DENY_LIST: &str = r#"local flags = redis.call('SMISMEMBER', KEYS[1], unpack(ARGV))
local ttl = redis.call('TTL', KEYS[2])
if ttl == -2 then
  redis.call('SETEX', KEYS[2], 30, 'pending')
end
return {flags, ttl}
"#;

// Replaces the automatic IP deny list. KEYS [all, ipList, status]; ARGV [msUntilRefresh, ip...].
// The previous automatic addresses leave `all`; the new list keeps only addresses nobody put in
// `all` by hand (so disabling the list never removes those); the rest join `all`, and the status
// stays `valid` until the next refresh. Returns how many addresses the new list holds.
const IP_LIST_REFRESH: &str = r#"redis.call('SDIFFSTORE', KEYS[1], KEYS[1], KEYS[2])
redis.call('DEL', KEYS[2])
for i = 2, #ARGV, 4000 do
  redis.call('SADD', KEYS[2], unpack(ARGV, i, math.min(i + 3999, #ARGV)))
end
redis.call('SDIFFSTORE', KEYS[2], KEYS[2], KEYS[1])
redis.call('SUNIONSTORE', KEYS[1], KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], 'valid', 'PX', ARGV[1])
return redis.call('SCARD', KEYS[2])
"#;

// Turns the automatic IP list off: its addresses leave `all`, and the status becomes `disabled`
// with no TTL, which the deny check reads as "never refresh". KEYS [all, ipList, status].
const IP_LIST_DISABLE: &str = r#"redis.call('SDIFFSTORE', KEYS[1], KEYS[1], KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], 'disabled')
return 1
"#;

// Several rules at once, all or nothing.
// ARGV [nowMs, count, then per rule: kind, tokens, windowMs, incrementBy, refillRate, nkeys]
// KEYS per rule, in order: fixed [counter], sliding [current, previous], bucket [hash].
// Kinds: 1 fixed, 2 sliding, 3 token bucket. Returns per rule {remaining, reset, ok}, then
// the overall flag. Nothing is written unless every rule admits the request.
const MULTI_RULE: &str = r#"local now = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local plans = {}
local admitted = 1
local k = 1
local a = 3
for r = 1, count do
  local kind = tonumber(ARGV[a])
  local limit = tonumber(ARGV[a + 1])
  local window = tonumber(ARGV[a + 2])
  local by = tonumber(ARGV[a + 3])
  local refill = tonumber(ARGV[a + 4])
  a = a + 5
  local plan = {kind = kind, limit = limit, window = window, by = by, key = KEYS[k]}
  if kind == 1 then
    local used = tonumber(redis.call('GET', KEYS[k]) or '0')
    plan.remaining = limit - (used + by)
    plan.ok = used + by <= limit or by <= 0
    k = k + 1
  elseif kind == 2 then
    local current = tonumber(redis.call('GET', KEYS[k]) or '0')
    local previous = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
    local carried = math.floor((1 - (now % window) / window) * previous)
    plan.remaining = limit - (carried + current + by)
    plan.ok = by <= 0 or carried + current < limit
    k = k + 2
  else
    local state = redis.call('HMGET', KEYS[k], 'refilledAt', 'tokens')
    local refilledAt = now
    local balance = limit
    if state[1] then
      refilledAt = tonumber(state[1])
      balance = tonumber(state[2] or limit)
    end
    if now >= refilledAt + window then
      local periods = math.floor((now - refilledAt) / window)
      balance = math.min(limit, balance + periods * refill)
      refilledAt = refilledAt + periods * window
    end
    plan.refilledAt = refilledAt
    plan.refill = refill
    plan.remaining = balance - by
    plan.ok = by <= 0 or balance >= by
    k = k + 1
  end
  if not plan.ok then admitted = 0 end
  plans[r] = plan
end
local out = {}
for r = 1, count do
  local plan = plans[r]
  if admitted == 1 then
    if plan.kind == 3 then
      redis.call('HSET', plan.key, 'refilledAt', plan.refilledAt, 'tokens', plan.remaining)
      local ttl = math.ceil((plan.limit - plan.remaining) / plan.refill) * plan.window
      if ttl > 0 then redis.call('PEXPIRE', plan.key, ttl) end
    else
      local after = redis.call('INCRBY', plan.key, plan.by)
      if after == plan.by then
        local ttl = plan.window
        if plan.kind == 2 then ttl = plan.window * 2 + 1000 end
        redis.call('PEXPIRE', plan.key, ttl)
      end
    end
  end
  local reset = 0
  if plan.kind == 3 then reset = plan.refilledAt + plan.window end
  local ok = 0
  if plan.ok then ok = 1 end
  out[r] = {plan.remaining, reset, ok}
end
out[count + 1] = admitted
return out
"#;

// Batch scripts decide several calls in one run, in order, exactly as that many runs of the
// single script would: the same keys, values and arithmetic, and nothing else runs in between.
// The arguments all calls share (limit, window, ...) travel once; see `BatchShape` for the
// layout. A call whose command fails answers its error text in place of its values (the other
// calls still run, so no caller loses a decision the server made).

/// The start of the fixed-window and token-bucket batch scripts: the call count, and the
/// limit (`ARGV[2]`, or the dynamic limit when its key follows the calls' keys).
macro_rules! batch_head {
    () => {
        r#"local calls = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if #KEYS > calls then
  local override = redis.call('GET', KEYS[#KEYS])
  if override then limit = tonumber(override) end
end
"#
    };
}

// KEYS [counter] per call, then the dynamic-limit key when on
// ARGV [calls, tokens, windowMs, then incrementBy per call]
// Reply: used per call, then the limit.
const FIXED_LIMIT_BATCH: &str = concat!(
    batch_head!(),
    r#"local out = {}
for i = 1, calls do
  local by = tonumber(ARGV[3 + i])
  local used = redis.pcall('INCRBY', KEYS[i], by)
  if type(used) == 'table' then
    out[i] = tostring(used.err)
  else
    if used == by then
      redis.call('PEXPIRE', KEYS[i], ARGV[3])
    end
    out[i] = used
  end
end
out[calls + 1] = limit
return out
"#
);

// KEYS [current, previous] per call, then the dynamic-limit key when on
// ARGV [calls, tokens, windowMs, then nowMs, incrementBy per call]
// Reply: remaining (-1 when refused) per call, then the limit.
// Every counter of the run (and the dynamic limit) comes from one MGET; a later call reads the
// counts earlier calls of the run wrote, so repeated identifiers and window neighbours stay exact.
const SLIDING_LIMIT_BATCH: &str = r#"local calls = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local stored = redis.call('MGET', unpack(KEYS))
local nkeys = 2 * calls
if #KEYS > nkeys then
  -- MGET answers nil for a key of another type too: GET it to raise that error as JS would.
  local override = stored[#KEYS] or redis.call('GET', KEYS[#KEYS])
  if override then limit = tonumber(override) end
end
-- Keys MGET found no string for are almost always absent; one EXISTS tells whether any of
-- them holds another type, and only then is each looked at on its own.
local absent = {}
for j = 1, nkeys do
  if not stored[j] then absent[#absent + 1] = KEYS[j] end
end
local mixed = #absent > 0 and redis.call('EXISTS', unpack(absent)) > 0
-- Counts written by earlier calls of this run; everything else is as MGET read it.
local written = {}
local out = {}
for i = 1, calls do
  local c = 2 * i - 1
  local key = KEYS[c]
  local current = written[key]
  local previous = written[KEYS[c + 1]]
  local failed
  if current == nil then
    local value = stored[c]
    if not value and mixed then
      value = redis.pcall('GET', key)
      if type(value) == 'table' then failed = tostring(value.err) end
    end
    current = tonumber(value or '0')
  end
  if previous == nil and not failed then
    local value = stored[c + 1]
    if not value and mixed then
      value = redis.pcall('GET', KEYS[c + 1])
      if type(value) == 'table' then failed = tostring(value.err) end
    end
    previous = tonumber(value or '0')
  end
  local by = tonumber(ARGV[3 + 2 * i])
  if failed then
    out[i] = failed
  elseif current == nil or previous == nil or (limit == nil and by > 0) then
    out[i] = 'ERR value is not an integer or out of range'
  else
    local now = tonumber(ARGV[2 + 2 * i])
    local carried = math.floor((1 - (now % window) / window) * previous)
    if by > 0 and carried + current >= limit then
      out[i] = -1
    else
      local after = redis.pcall('INCRBY', key, by)
      if type(after) == 'table' then
        out[i] = tostring(after.err)
      else
        written[key] = after
        if after == by then
          redis.call('PEXPIRE', key, window * 2 + 1000)
        end
        if limit == nil then
          -- A non-numeric dynamic limit: the single script applies a refund (or a zero
          -- rate) before its arithmetic fails, so this call does the same, then fails.
          out[i] = 'ERR value is not an integer or out of range'
        else
          out[i] = limit - (after + carried)
        end
      end
    end
  end
end
out[calls + 1] = limit
return out
"#;

// KEYS [bucket] per call, then the dynamic-limit key when on
// ARGV [calls, maxTokens, intervalMs, refillRate, then nowMs, incrementBy per call]
// Reply: remaining (-1 when refused) and reset per call, then the limit.
const TOKEN_LIMIT_BATCH: &str = concat!(
    batch_head!(),
    r#"local interval = tonumber(ARGV[3])
local refill = tonumber(ARGV[4])
-- One call: its remaining tokens (-1 when refused) and reset, or an error text.
local function take(key, now, by)
  local state = redis.pcall('HMGET', key, 'refilledAt', 'tokens')
  if state.err then return tostring(state.err), 0 end
  local refilledAt = now
  local balance = limit
  if state[1] then
    refilledAt = tonumber(state[1])
    balance = tonumber(state[2] or limit)
  end
  if refilledAt == nil or balance == nil or limit == nil then
    return 'ERR value is not an integer or out of range', 0
  end
  if now >= refilledAt + interval then
    local periods = math.floor((now - refilledAt) / interval)
    balance = math.min(limit, balance + periods * refill)
    refilledAt = refilledAt + periods * interval
  end
  if by > 0 and balance < by then
    return -1, refilledAt + interval
  end
  local left = balance - by
  redis.call('HSET', key, 'refilledAt', refilledAt, 'tokens', left)
  local ttl = math.ceil((limit - left) / refill) * interval
  if ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
  end
  return left, refilledAt + interval
end
local out = {}
for i = 1, calls do
  out[2 * i - 1], out[2 * i] = take(KEYS[i], tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i]))
end
out[2 * calls + 1] = limit
return out
"#
);

pub(crate) static FIXED_BATCH: LazyLock<LuaScript> =
    LazyLock::new(|| LuaScript::new(ScriptKind::FixedLimitBatch, FIXED_LIMIT_BATCH, false, true));
pub(crate) static SLIDING_BATCH: LazyLock<LuaScript> = LazyLock::new(|| {
    LuaScript::new(
        ScriptKind::SlidingLimitBatch,
        SLIDING_LIMIT_BATCH,
        false,
        true,
    )
});
pub(crate) static TOKEN_BATCH: LazyLock<LuaScript> =
    LazyLock::new(|| LuaScript::new(ScriptKind::TokenLimitBatch, TOKEN_LIMIT_BATCH, false, true));

/// How a batch script lays out its calls and replies, relative to the single script's.
///
/// Requests: `KEYS` holds each call's own keys in turn, then the keys every call shares (the
/// dynamic-limit key) once; `ARGV` is `[calls, shared args.., each call's own args in turn]`.
/// Replies: each call's values (the single reply without its trailing limit) in turn, then the
/// limit once; a failed call has its error text as its first value.
#[derive(Debug)]
pub(crate) struct BatchShape {
    /// Keys each call has to itself; any further keys of a call are shared.
    keys_per_call: usize,
    /// Positions in the single script's `ARGV` equal for every call of a batch.
    shared_args: &'static [usize],
    /// Positions in the single script's `ARGV` that vary per call.
    call_args: &'static [usize],
    /// Values per call in the reply (the single reply minus its trailing limit).
    values_per_call: usize,
}

const FIXED_SHAPE: BatchShape = BatchShape {
    keys_per_call: 1,
    shared_args: &[0, 1],
    call_args: &[2],
    values_per_call: 1,
};
const SLIDING_SHAPE: BatchShape = BatchShape {
    keys_per_call: 2,
    shared_args: &[0, 2],
    call_args: &[1, 3],
    values_per_call: 1,
};
const TOKEN_SHAPE: BatchShape = BatchShape {
    keys_per_call: 1,
    shared_args: &[0, 1, 2],
    call_args: &[3, 4],
    values_per_call: 2,
};

/// The batch script for `script` and its layout, when it has one.
pub(crate) fn batched(script: &LuaScript) -> Option<(&'static LuaScript, &'static BatchShape)> {
    match script.kind() {
        ScriptKind::FixedLimit => Some((&FIXED_BATCH, &FIXED_SHAPE)),
        ScriptKind::SlidingLimit => Some((&SLIDING_BATCH, &SLIDING_SHAPE)),
        ScriptKind::TokenLimit => Some((&TOKEN_BATCH, &TOKEN_SHAPE)),
        _ => None,
    }
}

/// The layout of a batch script kind (for stores that run the scripts natively).
pub(crate) fn shape_of(kind: ScriptKind) -> Option<&'static BatchShape> {
    match kind {
        ScriptKind::FixedLimitBatch => Some(&FIXED_SHAPE),
        ScriptKind::SlidingLimitBatch => Some(&SLIDING_SHAPE),
        ScriptKind::TokenLimitBatch => Some(&TOKEN_SHAPE),
        _ => None,
    }
}

impl BatchShape {
    fn single_args(&self) -> usize {
        self.shared_args.len() + self.call_args.len()
    }

    /// The batch request for `calls` (each laid out for the single script). Errors when the
    /// calls do not fit one batch: other argument counts, or shared values that differ.
    pub(crate) fn pack(&self, calls: Vec<Call>) -> Result<(Vec<String>, Vec<i64>)> {
        let unfit = || {
            Error::Config("these calls cannot share a batch (different limits or layout)".into())
        };
        let first = calls.first().ok_or_else(unfit)?;
        let shared_keys: Vec<String> = first
            .keys
            .get(self.keys_per_call..)
            .ok_or_else(unfit)?
            .to_vec();
        let shared: Vec<i64> = self
            .shared_args
            .iter()
            .map(|&i| first.args.get(i).copied().ok_or_else(unfit))
            .collect::<Result<_>>()?;
        let mut keys = Vec::with_capacity(calls.len() * self.keys_per_call + shared_keys.len());
        let mut args = Vec::with_capacity(1 + shared.len() + calls.len() * self.call_args.len());
        args.push(calls.len() as i64);
        args.extend_from_slice(&shared);
        for mut call in calls {
            let fits = call.args.len() == self.single_args()
                && call.keys.len() == self.keys_per_call + shared_keys.len()
                && call.keys[self.keys_per_call..] == shared_keys[..]
                && self
                    .shared_args
                    .iter()
                    .zip(&shared)
                    .all(|(&i, v)| call.args[i] == *v);
            if !fits {
                return Err(unfit());
            }
            args.extend(self.call_args.iter().map(|&i| call.args[i]));
            call.keys.truncate(self.keys_per_call);
            keys.append(&mut call.keys);
        }
        keys.extend(shared_keys);
        Ok((keys, args))
    }

    /// The calls of a batch request, each laid out for the single script (the inverse of
    /// [`BatchShape::pack`]).
    pub(crate) fn unpack(&self, keys: &[String], args: &[i64]) -> Result<Vec<Call>> {
        let bad = || Error::Store("malformed batch request".into());
        let calls = usize::try_from(*args.first().ok_or_else(bad)?).map_err(|_| bad())?;
        let shared = args.get(1..1 + self.shared_args.len()).ok_or_else(bad)?;
        let own_keys = calls.checked_mul(self.keys_per_call).ok_or_else(bad)?;
        let shared_keys = keys.get(own_keys..).ok_or_else(bad)?;
        let per_call = self.call_args.len();
        let base = 1 + self.shared_args.len();
        let expected = calls
            .checked_mul(per_call)
            .and_then(|n| n.checked_add(base))
            .ok_or_else(bad)?;
        if args.len() != expected {
            return Err(bad());
        }
        (0..calls)
            .map(|c| {
                let mut call_keys =
                    keys[c * self.keys_per_call..(c + 1) * self.keys_per_call].to_vec();
                call_keys.extend_from_slice(shared_keys);
                let mut call_args = vec![0; self.single_args()];
                for (&i, v) in self.shared_args.iter().zip(shared) {
                    call_args[i] = *v;
                }
                for (j, &i) in self.call_args.iter().enumerate() {
                    call_args[i] = args[base + c * per_call + j];
                }
                Ok(Call {
                    keys: call_keys,
                    args: call_args,
                })
            })
            .collect()
    }

    /// The batch reply for the calls' single replies (what the Lua batch script answers).
    pub(crate) fn pack_replies(&self, replies: Vec<Result<Reply>>) -> Reply {
        let mut out = Vec::with_capacity(replies.len() * self.values_per_call + 1);
        let mut limit = Reply::Int(0);
        for reply in replies {
            match reply.and_then(Reply::into_array) {
                Ok(mut items) if items.len() == self.values_per_call + 1 => {
                    if let Some(l) = items.pop() {
                        limit = l;
                    }
                    out.extend(items);
                }
                Ok(_) => out.extend(error_values(self, "unexpected single reply")),
                Err(e) => out.extend(error_values(self, &e.to_string())),
            }
        }
        out.push(limit);
        Reply::Array(out)
    }

    /// Each call's reply, laid out as the single script's, from a batch reply of `calls`.
    pub(crate) fn unpack_replies(&self, reply: Reply, calls: usize) -> Result<Vec<Result<Reply>>> {
        let mut items = reply.into_array()?;
        if items.len() != calls * self.values_per_call + 1 {
            return Err(Error::Store(format!(
                "batch script answered {} values for {calls} calls",
                items.len()
            )));
        }
        let limit = items.pop().unwrap_or(Reply::Nil);
        let mut values = items.into_iter();
        Ok((0..calls)
            .map(|_| {
                // Room for the limit too: one allocation per call.
                let mut mine = Vec::with_capacity(self.values_per_call + 1);
                mine.extend(values.by_ref().take(self.values_per_call));
                match mine.first() {
                    Some(Reply::Bytes(text)) => {
                        Err(Error::Store(String::from_utf8_lossy(text).into_owned()))
                    }
                    _ => {
                        let mut single = mine;
                        single.push(limit.clone());
                        Ok(Reply::Array(single))
                    }
                }
            })
            .collect())
    }
}

/// A failed call's values: its error text, then zeros.
fn error_values(shape: &BatchShape, message: &str) -> Vec<Reply> {
    let mut v = vec![Reply::Bytes(message.as_bytes().to_vec())];
    v.resize(shape.values_per_call, Reply::Int(0));
    v
}

macro_rules! script {
    ($name:ident, $kind:ident, $body:ident, $ro:expr, $lockable:expr) => {
        pub(crate) static $name: LazyLock<LuaScript> =
            LazyLock::new(|| LuaScript::new(ScriptKind::$kind, $body, $ro, $lockable));
    };
}

script!(FIXED, FixedLimit, FIXED_LIMIT, false, true);
script!(FIXED_REM, FixedRemaining, FIXED_REMAINING, true, true);
script!(SLIDING, SlidingLimit, SLIDING_LIMIT, false, true);
script!(SLIDING_REM, SlidingRemaining, SLIDING_REMAINING, true, true);
script!(TOKEN, TokenLimit, TOKEN_LIMIT, false, true);
script!(TOKEN_REM, TokenRemaining, TOKEN_REMAINING, true, true);
script!(CACHED, CachedLimit, CACHED_LIMIT, false, true);
script!(CACHED_REM, CachedRemaining, CACHED_REMAINING, true, true);
script!(MULTI_FIXED, MultiFixedLimit, MULTI_FIXED_LIMIT, false, true);
script!(
    MULTI_FIXED_REM,
    MultiFixedRemaining,
    MULTI_FIXED_REMAINING,
    true,
    true
);
script!(
    MULTI_SLIDING,
    MultiSlidingLimit,
    MULTI_SLIDING_LIMIT,
    false,
    true
);
script!(
    MULTI_SLIDING_REM,
    MultiSlidingRemaining,
    MULTI_SLIDING_REMAINING,
    true,
    true
);
script!(DENY, DenyList, DENY_LIST, false, false);
script!(IP_REFRESH, IpListRefresh, IP_LIST_REFRESH, false, false);
script!(IP_DISABLE, IpListDisable, IP_LIST_DISABLE, false, false);
script!(MULTI_RULE_SCRIPT, MultiRule, MULTI_RULE, false, true);

/// Every script, for warming a script cache (`SCRIPT LOAD`) or auditing.
pub fn all() -> [&'static LuaScript; 19] {
    [
        &FIXED,
        &FIXED_REM,
        &SLIDING,
        &SLIDING_REM,
        &TOKEN,
        &TOKEN_REM,
        &CACHED,
        &CACHED_REM,
        &MULTI_FIXED,
        &MULTI_FIXED_REM,
        &MULTI_SLIDING,
        &MULTI_SLIDING_REM,
        &DENY,
        &IP_REFRESH,
        &IP_DISABLE,
        &MULTI_RULE_SCRIPT,
        &FIXED_BATCH,
        &SLIDING_BATCH,
        &TOKEN_BATCH,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavours() {
        for s in all() {
            assert!(!s.plain().text().starts_with("#!"));
            assert_ne!(s.plain().sha1(), "");
            let deny_list = matches!(
                s.kind(),
                ScriptKind::DenyList | ScriptKind::IpListRefresh | ScriptKind::IpListDisable
            );
            if !deny_list {
                assert!(s.flagged().text().starts_with(KEY_LOCKING_SHEBANG));
                assert_ne!(s.flagged().sha1(), s.plain().sha1());
            }
        }
        assert_eq!(DENY.flagged().text(), DENY.plain().text());
    }
}
