//! An in-process store that runs the scripts natively, for tests and benchmarks.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use crate::clock::{Clock, SystemClock};
use crate::fasthash::FastHasher;
use crate::scripts::{self, LuaScript, ScriptKind};
use crate::store::{Reply, Store};
use crate::{Error, Result};

#[derive(Clone, Debug)]
enum Data {
    Str(String),
    /// A string holding an integer, kept as one (what `INCRBY` writes; Redis does the same).
    Int(i64),
    Hash(Vec<(String, String)>),
    ZSet(Vec<(String, f64)>),
    Set(Vec<String>),
}

#[derive(Clone, Debug)]
struct Entry {
    data: Data,
    expires_at: Option<i64>,
}

type Map = HashMap<String, Entry, BuildHasherDefault<FastHasher>>;

/// An in-process [`Store`]: the same scripts, run natively in Rust against a `HashMap`.
///
/// For unit tests (with a [`ManualClock`](crate::ManualClock), whose time also drives key
/// expiry) and benchmarks of the client's own cost. Nothing is shared between processes.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Map>>,
    clock: Arc<dyn Clock>,
    calls: Arc<std::sync::atomic::AtomicU64>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store expiring keys by the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock)
    }

    /// An empty store expiring keys by `clock`.
    pub fn with_clock(clock: impl Clock) -> Self {
        Self {
            inner: Arc::default(),
            clock: Arc::new(clock),
            calls: Arc::default(),
        }
    }

    /// Calls (scripts and commands) served so far; a pipeline counts once.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Remaining time to live of `key` in ms: -2 when missing, -1 without expiry.
    pub fn pttl(&self, key: &str) -> i64 {
        let now = self.clock.now_ms();
        let Ok(mut map) = self.inner.lock() else {
            return -2;
        };
        match live(&mut map, key, now) {
            None => -2,
            Some(e) => e.expires_at.map_or(-1, |t| t - now),
        }
    }

    /// The raw string value of `key`, if it holds one.
    pub fn get(&self, key: &str) -> Option<String> {
        let now = self.clock.now_ms();
        let mut map = self.inner.lock().ok()?;
        match live(&mut map, key, now).map(|e| &e.data) {
            Some(Data::Str(s)) => Some(s.clone()),
            Some(Data::Int(i)) => Some(i.to_string()),
            _ => None,
        }
    }

    /// Every live key (for assertions in tests).
    pub fn keys(&self) -> Vec<String> {
        let now = self.clock.now_ms();
        let Ok(mut map) = self.inner.lock() else {
            return Vec::new();
        };
        map.retain(|_, e| e.expires_at.is_none_or(|t| t > now));
        let mut keys: Vec<String> = map.keys().cloned().collect();
        keys.sort();
        keys
    }

    fn run_script(&self, kind: ScriptKind, keys: &[String], args: ArgList<'_>) -> Result<Reply> {
        let now_ms = self.clock.now_ms();
        let mut map = self
            .inner
            .lock()
            .map_err(|_| Error::Store("memory store poisoned".into()))?;
        sweep(&mut map, self.calls(), now_ms);
        let mut db = Db {
            map: &mut map,
            now: now_ms,
        };
        db.script(kind, keys, args)
    }

    fn run_command(&self, args: &[String]) -> Result<Reply> {
        let now_ms = self.clock.now_ms();
        let mut map = self
            .inner
            .lock()
            .map_err(|_| Error::Store("memory store poisoned".into()))?;
        let mut db = Db {
            map: &mut map,
            now: now_ms,
        };
        db.command(args)
    }
}

/// The entry of `key` unless it has expired (one lookup). Expired entries stay until they are
/// overwritten or swept ([`sweep`]); every writer treats them as absent.
fn live<'m>(map: &'m mut Map, key: &str, now: i64) -> Option<&'m mut Entry> {
    map.get_mut(key)
        .filter(|e| e.expires_at.is_none_or(|t| t > now))
}

/// Drops expired entries every [`SWEEP_EVERY`] calls, so memory stays bounded by live keys.
fn sweep(map: &mut Map, calls: u64, now: i64) {
    if calls % SWEEP_EVERY == 0 {
        map.retain(|_, e| e.expires_at.is_none_or(|t| t > now));
    }
}

const SWEEP_EVERY: u64 = 4096;

/// Lua 5.1's `a % b` (`a - floor(a / b) * b`), which Redis scripts use.
fn lua_mod(a: f64, b: f64) -> f64 {
    a - (a / b).floor() * b
}

struct Db<'m> {
    map: &'m mut Map,
    now: i64,
}

/// Script arguments: as sent over the wire, or the integers of [`Store::eval_ints`].
#[derive(Clone, Copy)]
enum ArgList<'a> {
    Text(&'a [String]),
    Int(&'a [i64]),
}

impl ArgList<'_> {
    /// Argument `i` as a number (Lua `tonumber`).
    fn num(self, i: usize) -> Result<f64> {
        match self {
            Self::Text(a) => num(a, i),
            // Script arguments stay far below 2^53, where the conversion is exact.
            Self::Int(a) => a
                .get(i)
                .map(|n| *n as f64)
                .ok_or_else(|| Error::Store(format!("argument {i} is not a number"))),
        }
    }

    /// Argument `i` as text (empty when missing).
    fn text(self, i: usize) -> String {
        match self {
            Self::Text(a) => a.get(i).cloned().unwrap_or_default(),
            Self::Int(a) => a.get(i).map(i64::to_string).unwrap_or_default(),
        }
    }

    fn len(self) -> usize {
        match self {
            Self::Text(a) => a.len(),
            Self::Int(a) => a.len(),
        }
    }
}

fn num(args: &[String], i: usize) -> Result<f64> {
    args.get(i)
        .and_then(|a| a.parse::<f64>().ok())
        .ok_or_else(|| Error::Store(format!("argument {i} is not a number")))
}

fn key(keys: &[String], i: usize) -> Result<&str> {
    keys.get(i)
        .map(String::as_str)
        .ok_or_else(|| Error::Store(format!("missing key {i}")))
}

/// Lua number to integer reply, as Redis converts it (truncation).
fn int(x: f64) -> Reply {
    Reply::Int(x as i64)
}

fn wrongtype() -> Error {
    Error::Store("WRONGTYPE Operation against a key holding the wrong kind of value".into())
}

impl Db<'_> {
    fn get_num(&mut self, key: &str) -> Result<Option<f64>> {
        match live(self.map, key, self.now).map(|e| &e.data) {
            None => Ok(None),
            Some(Data::Str(s)) => s
                .parse::<f64>()
                .map(Some)
                .map_err(|_| Error::Store("value is not a number".into())),
            // Counts stay far below 2^53, where the conversion is exact.
            Some(Data::Int(i)) => Ok(Some(*i as f64)),
            Some(_) => Err(wrongtype()),
        }
    }

    fn incrby(&mut self, key: &str, by: i64) -> Result<i64> {
        let now = self.now;
        match live(self.map, key, now) {
            None => {
                self.map.insert(
                    key.to_owned(),
                    Entry {
                        data: Data::Int(by),
                        expires_at: None,
                    },
                );
                Ok(by)
            }
            Some(Entry {
                data: Data::Int(v), ..
            }) => {
                *v = v.saturating_add(by);
                Ok(*v)
            }
            Some(Entry { data, .. }) => {
                let Data::Str(s) = data else {
                    return Err(wrongtype());
                };
                let v: i64 = s
                    .trim()
                    .parse()
                    .map_err(|_| Error::Store("ERR value is not an integer".into()))?;
                let n = v.saturating_add(by);
                *data = Data::Int(n);
                Ok(n)
            }
        }
    }

    fn pexpire(&mut self, key: &str, ms: i64) {
        let now = self.now;
        if ms <= 0 {
            self.map.remove(key);
        } else if let Some(e) = live(self.map, key, now) {
            e.expires_at = Some(now + ms);
        }
    }

    fn hash(&mut self, key: &str) -> Result<Vec<(String, String)>> {
        match live(self.map, key, self.now).map(|e| &e.data) {
            None => Ok(Vec::new()),
            Some(Data::Hash(h)) => Ok(h.clone()),
            Some(_) => Err(wrongtype()),
        }
    }

    /// The hash at `key`, created empty (room for `capacity` fields) when the key is absent
    /// or expired; a key of another type is `WRONGTYPE`.
    fn hash_mut(&mut self, key: &str, capacity: usize) -> Result<&mut Vec<(String, String)>> {
        if live(self.map, key, self.now).is_none() {
            self.map.insert(
                key.to_owned(),
                Entry {
                    data: Data::Hash(Vec::with_capacity(capacity)),
                    expires_at: None,
                },
            );
        }
        match self.map.get_mut(key) {
            Some(Entry {
                data: Data::Hash(h),
                ..
            }) => Ok(h),
            _ => Err(wrongtype()),
        }
    }

    fn hset(&mut self, key: &str, pairs: &[(String, String)]) -> Result<i64> {
        let h = self.hash_mut(key, 0)?;
        let mut added = 0;
        for (f, v) in pairs {
            match h.iter_mut().find(|(k, _)| k == f) {
                Some(slot) => slot.1.clone_from(v),
                None => {
                    h.push((f.clone(), v.clone()));
                    added += 1;
                }
            }
        }
        Ok(added)
    }

    /// `HSET key f1 x1 f2 x2 ...` with numbers, updating existing fields in place (no
    /// allocation once the hash exists).
    fn hset_nums(&mut self, key: &str, pairs: &[(&str, f64)]) -> Result<()> {
        let h = self.hash_mut(key, pairs.len())?;
        for &(f, x) in pairs {
            match h.iter_mut().find(|(k, _)| k == f) {
                Some(slot) => {
                    slot.1.clear();
                    push_lua_num(&mut slot.1, x);
                }
                None => h.push((f.to_owned(), lua_num(x))),
            }
        }
        Ok(())
    }

    fn dynamic(&mut self, keys: &[String], at: usize, limit: f64) -> Result<f64> {
        match keys.get(at) {
            Some(k) => Ok(self.get_num(k)?.unwrap_or(limit)),
            None => Ok(limit),
        }
    }

    /// Members of the SET at `key` (none when missing).
    fn set_members(&mut self, key: &str) -> Result<Vec<String>> {
        match live(self.map, key, self.now).map(|e| &e.data) {
            Some(Data::Set(s)) => Ok(s.clone()),
            None => Ok(Vec::new()),
            Some(_) => Err(wrongtype()),
        }
    }

    /// Stores a SET (deleting the key when empty, as Redis does).
    fn put_set(&mut self, key: &str, members: Vec<String>) {
        if members.is_empty() {
            self.map.remove(key);
        } else {
            self.map.insert(
                key.to_owned(),
                Entry {
                    data: Data::Set(members),
                    expires_at: None,
                },
            );
        }
    }

    fn script(&mut self, kind: ScriptKind, keys: &[String], args: ArgList<'_>) -> Result<Reply> {
        match kind {
            ScriptKind::FixedLimit => {
                let limit = self.dynamic(keys, 1, args.num(0)?)?;
                let by = args.num(2)? as i64;
                let k = key(keys, 0)?;
                let used = self.incrby(k, by)?;
                if used == by {
                    self.pexpire(k, args.num(1)? as i64);
                }
                Ok(Reply::Array(vec![Reply::Int(used), int(limit)]))
            }
            ScriptKind::FixedRemaining => {
                let limit = self.dynamic(keys, 1, args.num(0)?)?;
                let used = self.get_num(key(keys, 0)?)?.unwrap_or(0.0);
                Ok(Reply::Array(vec![int(limit - used), int(limit)]))
            }
            ScriptKind::SlidingLimit | ScriptKind::SlidingRemaining => {
                let limit = self.dynamic(keys, 2, args.num(0)?)?;
                let now = args.num(1)?;
                let window = args.num(2)?;
                let current = self.get_num(key(keys, 0)?)?.unwrap_or(0.0);
                let previous = self.get_num(key(keys, 1)?)?.unwrap_or(0.0);
                let elapsed = lua_mod(now, window) / window;
                let carried = ((1.0 - elapsed) * previous).floor();
                if kind == ScriptKind::SlidingRemaining {
                    return Ok(Reply::Array(vec![
                        int(limit - (carried + current)),
                        int(limit),
                    ]));
                }
                let by = args.num(3)?;
                if by > 0.0 && carried + current >= limit {
                    return Ok(Reply::Array(vec![Reply::Int(-1), int(limit)]));
                }
                let k = key(keys, 0)?;
                let after = self.incrby(k, by as i64)?;
                if after == by as i64 {
                    self.pexpire(k, (window * 2.0 + 1000.0) as i64);
                }
                Ok(Reply::Array(vec![
                    int(limit - (after as f64 + carried)),
                    int(limit),
                ]))
            }
            ScriptKind::TokenLimit => {
                let limit = self.dynamic(keys, 1, args.num(0)?)?;
                let interval = args.num(1)?;
                let refill = args.num(2)?;
                let now = args.num(3)?;
                let by = args.num(4)?;
                let k = key(keys, 0)?;
                let (mut refilled_at, mut balance) = self.bucket(k, now, limit)?;
                if now >= refilled_at + interval {
                    let periods = ((now - refilled_at) / interval).floor();
                    balance = limit.min(balance + periods * refill);
                    refilled_at += periods * interval;
                }
                if by > 0.0 && balance < by {
                    return Ok(Reply::Array(vec![
                        Reply::Int(-1),
                        int(refilled_at + interval),
                        int(limit),
                    ]));
                }
                let left = balance - by;
                self.hset_nums(k, &[("refilledAt", refilled_at), ("tokens", left)])?;
                let ttl = ((limit - left) / refill).ceil() * interval;
                if ttl > 0.0 {
                    self.pexpire(k, ttl as i64);
                }
                Ok(Reply::Array(vec![
                    int(left),
                    int(refilled_at + interval),
                    int(limit),
                ]))
            }
            ScriptKind::TokenRemaining => {
                let limit = self.dynamic(keys, 1, args.num(0)?)?;
                let h = self.hash(key(keys, 0)?)?;
                let field = |name: &str| {
                    h.iter()
                        .find(|(f, _)| f == name)
                        .and_then(|(_, v)| v.parse::<f64>().ok())
                };
                match field("refilledAt") {
                    None => Ok(Reply::Array(vec![int(limit), Reply::Int(-1), int(limit)])),
                    Some(at) => Ok(Reply::Array(vec![
                        int(field("tokens").unwrap_or(limit)),
                        int(at),
                        int(limit),
                    ])),
                }
            }
            ScriptKind::CachedLimit => {
                let k = key(keys, 0)?;
                let by = args.num(1)? as i64;
                let used = self.incrby(k, by)?;
                if used == by {
                    self.pexpire(k, args.num(0)? as i64);
                }
                Ok(Reply::Int(used))
            }
            ScriptKind::CachedRemaining => Ok(int(self.get_num(key(keys, 0)?)?.unwrap_or(0.0))),
            ScriptKind::MultiFixedLimit => {
                let k = key(keys, 0)?;
                let id = args.text(0);
                let by = args.text(2);
                self.hset(k, &[(id, by.clone())])?;
                let h = self.hash(k)?;
                if h.len() == 1 && h[0].1.parse::<f64>().ok() == by.parse::<f64>().ok() {
                    self.pexpire(k, args.num(1)? as i64);
                }
                Ok(flat(&h))
            }
            ScriptKind::MultiFixedRemaining => Ok(flat(&self.hash(key(keys, 0)?)?)),
            ScriptKind::MultiSlidingLimit => {
                let limit = args.num(0)?;
                let now = args.num(1)?;
                let window = args.num(2)?;
                let by = args.num(4)?;
                let cur_key = key(keys, 0)?;
                let current = self.hash(cur_key)?;
                let previous = self.hash(key(keys, 1)?)?;
                let total = |h: &[(String, String)]| {
                    h.iter()
                        .map(|(_, v)| v.parse::<f64>().unwrap_or(0.0))
                        .sum::<f64>()
                };
                let (cs, ps) = (total(&current), total(&previous));
                let elapsed = lua_mod(now, window) / window;
                if by > 0.0 && ps * (1.0 - elapsed) + cs + by > limit {
                    return Ok(Reply::Array(vec![
                        flat(&current),
                        flat(&previous),
                        Reply::Nil,
                    ]));
                }
                let id = args.text(3);
                self.hset(cur_key, &[(id, args.text(4))])?;
                if cs == 0.0 {
                    self.pexpire(cur_key, (window * 2.0 + 1000.0) as i64);
                }
                Ok(Reply::Array(vec![
                    flat(&current),
                    flat(&previous),
                    Reply::Int(1),
                ]))
            }
            ScriptKind::MultiSlidingRemaining => Ok(Reply::Array(vec![
                flat(&self.hash(key(keys, 0)?)?),
                flat(&self.hash(key(keys, 1)?)?),
            ])),
            ScriptKind::DenyList => {
                let all = key(keys, 0)?;
                let members = match live(self.map, all, self.now).map(|e| &e.data) {
                    Some(Data::Set(s)) => s.clone(),
                    None => Vec::new(),
                    Some(_) => return Err(wrongtype()),
                };
                let flags = (0..args.len())
                    .map(|i| Reply::Int(i64::from(members.contains(&args.text(i)))))
                    .collect();
                let status = key(keys, 1)?;
                let ttl = match live(self.map, status, self.now) {
                    None => -2,
                    Some(e) => e.expires_at.map_or(-1, |t| (t - self.now + 999) / 1000),
                };
                if ttl == -2 {
                    self.map.insert(
                        status.to_owned(),
                        Entry {
                            data: Data::Str("pending".into()),
                            expires_at: Some(self.now + 30_000),
                        },
                    );
                }
                Ok(Reply::Array(vec![Reply::Array(flags), Reply::Int(ttl)]))
            }
            ScriptKind::IpListRefresh | ScriptKind::IpListDisable => {
                let (all, list, status) = (key(keys, 0)?, key(keys, 1)?, key(keys, 2)?);
                // Previous automatic addresses leave `all` (sets as hash sets: a feed holds
                // thousands of addresses).
                let old: HashSet<String> = self.set_members(list)?.into_iter().collect();
                let mut manual = self.set_members(all)?;
                manual.retain(|m| !old.contains(m));
                let manual_set: HashSet<&String> = manual.iter().collect();
                let (fresh, ttl) = if kind == ScriptKind::IpListRefresh {
                    let mut fresh: Vec<String> = (1..args.len())
                        .map(|i| args.text(i))
                        .filter(|ip| !manual_set.contains(ip))
                        .collect();
                    fresh.sort();
                    fresh.dedup();
                    (fresh, Some(args.num(0)? as i64))
                } else {
                    (Vec::new(), None)
                };
                let count = fresh.len();
                let mut union = manual;
                union.extend(fresh.iter().cloned());
                self.put_set(all, union);
                self.put_set(list, fresh);
                let (value, expires_at) = match ttl {
                    Some(ms) => ("valid", Some(self.now + ms)),
                    None => ("disabled", None),
                };
                self.map.insert(
                    status.to_owned(),
                    Entry {
                        data: Data::Str(value.into()),
                        expires_at,
                    },
                );
                Ok(Reply::Int(count as i64))
            }
            ScriptKind::MultiRule => self.multi_rule(keys, args),
            ScriptKind::FixedLimitBatch
            | ScriptKind::SlidingLimitBatch
            | ScriptKind::TokenLimitBatch => self.batch(kind, keys, args),
        }
    }

    /// A batch script: the single script once per call, in order, answering as the Lua batch
    /// scripts do (a failing call answers its error text).
    fn batch(&mut self, kind: ScriptKind, keys: &[String], args: ArgList<'_>) -> Result<Reply> {
        let (Some(single), Some(shape)) = (kind.batch_of(), scripts::shape_of(kind)) else {
            return Err(Error::Store("not a batch script".into()));
        };
        let ints: Vec<i64> = (0..args.len())
            .map(|i| args.num(i).map(|n| n as i64))
            .collect::<Result<_>>()?;
        let replies = shape
            .unpack(keys, &ints)?
            .into_iter()
            .map(|call| self.script(single, &call.keys, ArgList::Int(&call.args)))
            .collect();
        Ok(shape.pack_replies(replies))
    }

    fn bucket(&mut self, k: &str, now: f64, limit: f64) -> Result<(f64, f64)> {
        let h = match live(self.map, k, self.now).map(|e| &e.data) {
            None => return Ok((now, limit)),
            Some(Data::Hash(h)) => h,
            Some(_) => return Err(wrongtype()),
        };
        let field = |name: &str| {
            h.iter()
                .find(|(f, _)| f == name)
                .and_then(|(_, v)| v.parse::<f64>().ok())
        };
        Ok(match field("refilledAt") {
            None => (now, limit),
            Some(at) => (at, field("tokens").unwrap_or(limit)),
        })
    }

    fn multi_rule(&mut self, keys: &[String], args: ArgList<'_>) -> Result<Reply> {
        struct Plan {
            kind: i64,
            key: String,
            limit: f64,
            window: f64,
            by: f64,
            refill: f64,
            remaining: f64,
            refilled_at: f64,
            ok: bool,
        }
        let now = args.num(0)?;
        let count = args.num(1)? as usize;
        let mut plans = Vec::with_capacity(count);
        let (mut k, mut a) = (0usize, 2usize);
        for _ in 0..count {
            let kind = args.num(a)? as i64;
            let limit = args.num(a + 1)?;
            let window = args.num(a + 2)?;
            let by = args.num(a + 3)?;
            let refill = args.num(a + 4)?;
            a += 5;
            let key0 = key(keys, k)?.to_owned();
            let mut plan = Plan {
                kind,
                key: key0.clone(),
                limit,
                window,
                by,
                refill,
                remaining: 0.0,
                refilled_at: 0.0,
                ok: true,
            };
            match kind {
                1 => {
                    let used = self.get_num(&key0)?.unwrap_or(0.0);
                    plan.remaining = limit - (used + by);
                    plan.ok = used + by <= limit || by <= 0.0;
                    k += 1;
                }
                2 => {
                    let current = self.get_num(&key0)?.unwrap_or(0.0);
                    let previous = self.get_num(key(keys, k + 1)?)?.unwrap_or(0.0);
                    let carried = ((1.0 - lua_mod(now, window) / window) * previous).floor();
                    plan.remaining = limit - (carried + current + by);
                    plan.ok = by <= 0.0 || carried + current < limit;
                    k += 2;
                }
                _ => {
                    let (mut at, mut balance) = self.bucket(&key0, now, limit)?;
                    if now >= at + window {
                        let periods = ((now - at) / window).floor();
                        balance = limit.min(balance + periods * refill);
                        at += periods * window;
                    }
                    plan.refilled_at = at;
                    plan.remaining = balance - by;
                    plan.ok = by <= 0.0 || balance >= by;
                    k += 1;
                }
            }
            plans.push(plan);
        }
        let admitted = plans.iter().all(|p| p.ok);
        let mut out = Vec::with_capacity(count + 1);
        for p in &plans {
            if admitted {
                if p.kind == 3 {
                    self.hset_nums(
                        &p.key,
                        &[("refilledAt", p.refilled_at), ("tokens", p.remaining)],
                    )?;
                    let ttl = ((p.limit - p.remaining) / p.refill).ceil() * p.window;
                    if ttl > 0.0 {
                        self.pexpire(&p.key, ttl as i64);
                    }
                } else {
                    let after = self.incrby(&p.key, p.by as i64)?;
                    if after == p.by as i64 {
                        let ttl = if p.kind == 2 {
                            p.window * 2.0 + 1000.0
                        } else {
                            p.window
                        };
                        self.pexpire(&p.key, ttl as i64);
                    }
                }
            }
            let reset = if p.kind == 3 {
                p.refilled_at + p.window
            } else {
                0.0
            };
            out.push(Reply::Array(vec![
                int(p.remaining),
                int(reset),
                Reply::Int(i64::from(p.ok)),
            ]));
        }
        out.push(Reply::Int(i64::from(admitted)));
        Ok(Reply::Array(out))
    }

    fn command(&mut self, args: &[String]) -> Result<Reply> {
        let name = args
            .first()
            .map(|n| n.to_ascii_uppercase())
            .unwrap_or_default();
        let rest = &args[1.min(args.len())..];
        match name.as_str() {
            "GET" => match live(self.map, key(rest, 0)?, self.now).map(|e| &e.data) {
                None => Ok(Reply::Nil),
                Some(Data::Str(s)) => Ok(Reply::Bytes(s.clone().into_bytes())),
                Some(Data::Int(i)) => Ok(Reply::Bytes(i.to_string().into_bytes())),
                Some(_) => Err(wrongtype()),
            },
            "SET" => {
                let v = rest.get(1).cloned().unwrap_or_default();
                self.map.insert(
                    key(rest, 0)?.to_owned(),
                    Entry {
                        data: Data::Str(v),
                        expires_at: None,
                    },
                );
                Ok(Reply::Status("OK".into()))
            }
            "DEL" => {
                let now = self.now;
                let mut n = 0;
                for k in rest {
                    if live(self.map, k, now).is_some() {
                        self.map.remove(k);
                        n += 1;
                    }
                }
                Ok(Reply::Int(n))
            }
            "INCRBY" => Ok(Reply::Int(
                self.incrby(key(rest, 0)?, num(rest, 1)? as i64)?,
            )),
            "PEXPIRE" => {
                self.pexpire(key(rest, 0)?, num(rest, 1)? as i64);
                Ok(Reply::Int(1))
            }
            "HSET" => {
                let pairs: Vec<(String, String)> = rest[1.min(rest.len())..]
                    .chunks(2)
                    .filter_map(|c| Some((c.first()?.clone(), c.get(1)?.clone())))
                    .collect();
                Ok(Reply::Int(self.hset(key(rest, 0)?, &pairs)?))
            }
            "HGETALL" => Ok(flat(&self.hash(key(rest, 0)?)?)),
            "SADD" => {
                let k = key(rest, 0)?;
                let now = self.now;
                if live(self.map, k, now).is_none() {
                    self.map.insert(
                        k.to_owned(),
                        Entry {
                            data: Data::Set(Vec::new()),
                            expires_at: None,
                        },
                    );
                }
                let Some(Entry {
                    data: Data::Set(s), ..
                }) = self.map.get_mut(k)
                else {
                    return Err(wrongtype());
                };
                let mut n = 0;
                for m in &rest[1..] {
                    if !s.contains(m) {
                        s.push(m.clone());
                        n += 1;
                    }
                }
                Ok(Reply::Int(n))
            }
            "ZINCRBY" => {
                let k = key(rest, 0)?;
                let by = num(rest, 1)?;
                let member = key(rest, 2)?.to_owned();
                let now = self.now;
                if live(self.map, k, now).is_none() {
                    self.map.insert(
                        k.to_owned(),
                        Entry {
                            data: Data::ZSet(Vec::new()),
                            expires_at: None,
                        },
                    );
                }
                let Some(Entry {
                    data: Data::ZSet(z),
                    ..
                }) = self.map.get_mut(k)
                else {
                    return Err(wrongtype());
                };
                let score = match z.iter_mut().find(|(m, _)| *m == member) {
                    Some(slot) => {
                        slot.1 += by;
                        slot.1
                    }
                    None => {
                        z.push((member, by));
                        by
                    }
                };
                Ok(Reply::Bytes(lua_num(score).into_bytes()))
            }
            "ZSCORE" => {
                let member = key(rest, 1)?;
                match live(self.map, key(rest, 0)?, self.now).map(|e| &e.data) {
                    Some(Data::ZSet(z)) => Ok(z
                        .iter()
                        .find(|(m, _)| m == member)
                        .map_or(Reply::Nil, |(_, s)| Reply::Bytes(lua_num(*s).into_bytes()))),
                    None => Ok(Reply::Nil),
                    Some(_) => Err(wrongtype()),
                }
            }
            _ => Err(Error::Store(format!(
                "command {name} is not supported by MemoryStore"
            ))),
        }
    }
}

fn flat(h: &[(String, String)]) -> Reply {
    Reply::Array(
        h.iter()
            .flat_map(|(f, v)| {
                [
                    Reply::Bytes(f.clone().into_bytes()),
                    Reply::Bytes(v.clone().into_bytes()),
                ]
            })
            .collect(),
    )
}

/// A Lua number as Redis writes it into a key (integers without a fraction).
fn lua_num(x: f64) -> String {
    let mut out = String::new();
    push_lua_num(&mut out, x);
    out
}

/// Appends [`lua_num`]'s text to `out`.
fn push_lua_num(out: &mut String, x: f64) {
    if x.fract() == 0.0 && x.abs() < 1e17 {
        out.push_str(itoa::Buffer::new().format(x as i64));
    } else {
        use std::fmt::Write as _;
        let _ = write!(out, "{x}");
    }
}

impl Store for MemoryStore {
    fn eval<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> BoxFuture<'a, Result<Reply>> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = self.run_script(script.kind(), &keys, ArgList::Text(&args));
        Box::pin(std::future::ready(result))
    }

    fn eval_ints<'a>(
        &'a self,
        script: &'static LuaScript,
        keys: Vec<String>,
        args: &[i64],
    ) -> BoxFuture<'a, Result<Reply>> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = self.run_script(script.kind(), &keys, ArgList::Int(args));
        Box::pin(std::future::ready(result))
    }

    fn command<'a>(&'a self, args: Vec<String>) -> BoxFuture<'a, Result<Reply>> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = self.run_command(&args);
        Box::pin(std::future::ready(result))
    }

    fn pipeline<'a>(
        &'a self,
        commands: Vec<Vec<String>>,
    ) -> BoxFuture<'a, Result<Vec<Result<Reply>>>> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = commands.iter().map(|c| self.run_command(c)).collect();
        Box::pin(std::future::ready(Ok(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripts::{batched, FIXED, SLIDING, TOKEN};
    use crate::store::Call;
    use futures_util::FutureExt;

    /// The batch scripts, run natively, answer what the single scripts answer call by call
    /// (the Lua versions are held to the same in the end-to-end suites), and a batch request
    /// unpacks into the calls it was packed from.
    #[test]
    fn batch_scripts_match_single_runs() {
        let cases: [(&'static LuaScript, Vec<i64>, usize); 3] = [
            (&FIXED, vec![3, 10_000], 1),
            (&SLIDING, vec![3, 5_000, 10_000], 2),
            (&TOKEN, vec![3, 10_000, 1, 5_000], 1),
        ];
        for (single, head, keys_per_call) in cases {
            for dynamic in [false, true] {
                let calls: Vec<Call> = [1, 2, 1, -1, 0, 1, 1]
                    .iter()
                    .enumerate()
                    .map(|(n, &rate)| {
                        // Two identifiers, alternating; the limit override shared.
                        let mut keys: Vec<String> = (0..keys_per_call)
                            .map(|j| format!("p:{}:k{j}", n % 2))
                            .collect();
                        if dynamic {
                            keys.push("p:dynamic".into());
                        }
                        let mut args = head.clone();
                        if single.kind() == ScriptKind::SlidingLimit {
                            // [tokens, now, window, rate]: the timestamp varies per call.
                            args[1] += n as i64;
                        }
                        args.push(rate);
                        Call { keys, args }
                    })
                    .collect();
                let one_by_one = MemoryStore::new();
                let batch_store = MemoryStore::new();
                for store in [&one_by_one, &batch_store] {
                    let _ = store
                        .command(vec!["SET".into(), "p:dynamic".into(), "2".into()])
                        .now_or_never();
                }
                let expected: Vec<Reply> = calls
                    .iter()
                    .map(|c| {
                        one_by_one
                            .eval_ints(single, c.keys.clone(), &c.args)
                            .now_or_never()
                            .and_then(Result::ok)
                            .unwrap_or(Reply::Nil)
                    })
                    .collect();
                assert!(!expected.contains(&Reply::Nil), "{:?}", single.kind());
                let Some((batch, shape)) = batched(single) else {
                    panic!("no batch script for {:?}", single.kind());
                };
                let (keys, args) = shape.pack(calls.clone()).expect("pack");
                assert_eq!(shape.unpack(&keys, &args).expect("unpack"), calls);
                let reply = batch_store
                    .eval_ints(batch, keys, &args)
                    .now_or_never()
                    .and_then(Result::ok)
                    .expect("batch reply");
                let got: Vec<Reply> = shape
                    .unpack_replies(reply, calls.len())
                    .expect("replies")
                    .into_iter()
                    .map(|r| r.unwrap_or(Reply::Nil))
                    .collect();
                assert_eq!(got, expected, "{:?} dynamic={dynamic}", single.kind());
            }
        }
    }

    #[test]
    fn calls_of_different_limiters_do_not_share_a_batch() {
        let Some((_, shape)) = batched(&SLIDING) else {
            panic!("no sliding batch script");
        };
        let call = |tokens: i64| Call {
            keys: vec!["a".into(), "b".into()],
            args: vec![tokens, 1_000, 10_000, 1],
        };
        assert!(shape.pack(vec![call(5), call(5)]).is_ok());
        assert!(shape.pack(vec![call(5), call(6)]).is_err());
        assert!(shape.pack(Vec::new()).is_err());
    }
}
