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
// KEYS holds the calls' keys one after another and ARGV is
// [keysPerCall, argsPerCall, call 1's args.., call 2's args..], each call's keys and args laid
// out as the single script takes them. The reply has one element per call: the single script's
// reply, or the error text when one of that call's commands failed (the other calls still run,
// so no caller loses a decision the server made).

// Fixed window: one INCRBY per call; the dynamic limit is read once per run.
const FIXED_LIMIT_BATCH: &str = r#"local perKeys = tonumber(ARGV[1])
local perArgs = tonumber(ARGV[2])
local overrides = {}
local out = {}
for i = 0, (#ARGV - 2) / perArgs - 1 do
  local k, a = i * perKeys, 2 + i * perArgs
  local limit = tonumber(ARGV[a + 1])
  if perKeys > 1 then
    local name = KEYS[k + 2]
    if overrides[name] == nil then overrides[name] = redis.call('GET', name) end
    if overrides[name] then limit = tonumber(overrides[name]) end
  end
  local by = tonumber(ARGV[a + 3])
  local used = redis.pcall('INCRBY', KEYS[k + 1], by)
  if type(used) == 'table' then
    out[i + 1] = tostring(used.err)
  else
    if used == by then
      redis.call('PEXPIRE', KEYS[k + 1], ARGV[a + 2])
    end
    out[i + 1] = {used, limit}
  end
end
return out
"#;

// Sliding window: every counter (and dynamic limit) of the run in one MGET; a later call reads
// the counts earlier calls of the run wrote, so duplicates and window neighbours stay exact.
const SLIDING_LIMIT_BATCH: &str = r#"local perKeys = tonumber(ARGV[1])
local perArgs = tonumber(ARGV[2])
local stored = redis.call('MGET', unpack(KEYS))
local written = {}
local function count(j)
  local n = written[KEYS[j]]
  if n == nil then n = tonumber(stored[j] or '0') end
  return n
end
local out = {}
for i = 0, (#ARGV - 2) / perArgs - 1 do
  local k, a = i * perKeys, 2 + i * perArgs
  local limit = tonumber(ARGV[a + 1])
  if perKeys > 2 and stored[k + 3] then limit = tonumber(stored[k + 3]) end
  local now = tonumber(ARGV[a + 2])
  local window = tonumber(ARGV[a + 3])
  local by = tonumber(ARGV[a + 4])
  local current, previous = count(k + 1), count(k + 2)
  if current == nil or previous == nil or limit == nil then
    out[i + 1] = 'ERR value is not an integer or out of range'
  else
    local elapsed = (now % window) / window
    local carried = math.floor((1 - elapsed) * previous)
    if by > 0 and carried + current >= limit then
      out[i + 1] = {-1, limit}
    else
      local after = redis.pcall('INCRBY', KEYS[k + 1], by)
      if type(after) == 'table' then
        out[i + 1] = tostring(after.err)
      else
        written[KEYS[k + 1]] = after
        if after == by then
          redis.call('PEXPIRE', KEYS[k + 1], window * 2 + 1000)
        end
        out[i + 1] = {limit - (after + carried), limit}
      end
    end
  end
end
return out
"#;

/// Token bucket: the single script itself, run once per call inside one run (a failing call's
/// error is caught and answered as its text).
fn token_limit_batch() -> String {
    format!(
        r#"local function decide(KEYS, ARGV)
{TOKEN_LIMIT}end
local perKeys = tonumber(ARGV[1])
local perArgs = tonumber(ARGV[2])
local out = {{}}
for i = 0, (#ARGV - 2) / perArgs - 1 do
  local keys, args = {{}}, {{}}
  for j = 1, perKeys do keys[j] = KEYS[i * perKeys + j] end
  for j = 1, perArgs do args[j] = ARGV[2 + i * perArgs + j] end
  local ok, reply = pcall(decide, keys, args)
  if not ok then
    if type(reply) == 'table' then reply = reply.err end
    reply = tostring(reply)
  end
  out[i + 1] = reply
end
return out
"#
    )
}

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
pub(crate) static TOKEN_BATCH: LazyLock<LuaScript> = LazyLock::new(|| {
    LuaScript::new(
        ScriptKind::TokenLimitBatch,
        &token_limit_batch(),
        false,
        true,
    )
});

/// The script that runs `script` for several calls at once, when there is one.
pub(crate) fn batched(script: &LuaScript) -> Option<&'static LuaScript> {
    match script.kind() {
        ScriptKind::FixedLimit => Some(&FIXED_BATCH),
        ScriptKind::SlidingLimit => Some(&SLIDING_BATCH),
        ScriptKind::TokenLimit => Some(&TOKEN_BATCH),
        _ => None,
    }
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
