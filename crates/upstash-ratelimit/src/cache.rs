//! The ephemeral block cache: identifiers known to be blocked until a time, answered without a
//! server call. Bounded (unlike the JS `Map`) and sharded to keep lock contention low.

use std::collections::HashMap;
use std::sync::Mutex;

const SHARDS: usize = 16;

/// A bounded map from key to a number (a "blocked until" time in ms, or a local count),
/// shareable between limiters (wrap it in an `Arc`).
#[derive(Debug)]
pub struct EphemeralCache {
    shards: Vec<Mutex<HashMap<String, i64>>>,
    per_shard: usize,
}

impl Default for EphemeralCache {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl EphemeralCache {
    /// A cache holding about `capacity` entries at most.
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, key: &str) -> Option<std::sync::MutexGuard<'_, HashMap<String, i64>>> {
        // The shard only spreads lock contention; each shard's map keeps the keyed hash.
        let i = (crate::fasthash::hash_str(key) as usize) % SHARDS;
        self.shards.get(i)?.lock().ok()
    }

    /// If `key` is blocked at `now`, the time (ms) the block ends. Expired entries go.
    pub fn blocked_until(&self, key: &str, now: i64) -> Option<i64> {
        let mut shard = self.shard(key)?;
        match shard.get(key) {
            Some(&until) if until > now => Some(until),
            Some(_) => {
                shard.remove(key);
                None
            }
            None => None,
        }
    }

    /// Blocks `key` until `until` (ms).
    pub fn block_until(&self, key: &str, until: i64, now: i64) {
        self.set(key, until, now);
    }

    /// Stores a value, evicting expired (or, when still full, arbitrary) entries of the shard
    /// first when it is full.
    pub(crate) fn set(&self, key: &str, value: i64, now: i64) {
        let Some(mut shard) = self.shard(key) else {
            return;
        };
        if shard.len() >= self.per_shard && !shard.contains_key(key) {
            shard.retain(|_, until| *until > now);
            if shard.len() >= self.per_shard {
                let drop_n = shard.len() / 2 + 1;
                let victims: Vec<String> = shard.keys().take(drop_n).cloned().collect();
                for v in victims {
                    shard.remove(&v);
                }
            }
        }
        shard.insert(key.to_owned(), value);
    }

    /// The stored value.
    pub(crate) fn get(&self, key: &str) -> Option<i64> {
        self.shard(key)?.get(key).copied()
    }

    /// Adds `by` to a stored value and returns the sum, or `None` when absent.
    pub(crate) fn incr(&self, key: &str, by: i64) -> Option<i64> {
        let mut shard = self.shard(key)?;
        let v = shard.get_mut(key)?;
        *v += by;
        Some(*v)
    }

    /// Removes `key`.
    pub fn pop(&self, key: &str) {
        if let Some(mut shard) = self.shard(key) {
            shard.remove(key);
        }
    }

    /// Entries held (including expired ones not yet evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .filter_map(|s| s.lock().ok().map(|s| s.len()))
            .sum()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_expire_and_stay_bounded() {
        let c = EphemeralCache::new(32);
        c.block_until("a", 100, 0);
        assert_eq!(c.blocked_until("a", 50), Some(100));
        assert_eq!(c.blocked_until("a", 100), None);
        assert!(c.get("a").is_none());
        for i in 0..10_000 {
            c.block_until(&format!("k{i}"), 1_000, 0);
        }
        assert!(c.len() <= 32 + SHARDS);
    }
}
