//! Named rules loaded from configuration, and the multi-limit check (several rules for one
//! request, all must pass) in one script call.
//!
//! ```toml
//! [rules]
//! api-default = "100 per 1m"             # sliding window
//! uploads = "50 per 1h using fixed"
//! burst = "20 per 10s using token"       # bucket of 20, refilled by 20 every 10 s
//!
//! [rules.search]
//! limit = 10
//! window = "10 s"
//! algorithm = "token"                    # fixed | sliding | token
//! refill_rate = 5
//! prefix = "search"                      # default: "@upstash/ratelimit:<name>"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use crate::algorithm::Algorithm;
use crate::clock::{Clock, SystemClock};
use crate::duration::Window;
use crate::ratelimit::{window_key, Ratelimit, RatelimitBuilder, DEFAULT_PREFIX};
use crate::scripts;
use crate::store::{int_at, Store};
use crate::{Error, Result};

/// The algorithm of a [`Rule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuleKind {
    /// Fixed window.
    #[serde(alias = "fixed")]
    FixedWindow,
    /// Sliding window (the default).
    #[serde(alias = "sliding")]
    SlidingWindow,
    /// Token bucket.
    #[serde(alias = "token")]
    TokenBucket,
}

/// One named limit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    /// The rule's name.
    pub name: String,
    /// Requests per window (bucket capacity for a token bucket).
    pub limit: i64,
    /// The window (refill interval for a token bucket).
    pub window: Window,
    /// The algorithm.
    pub kind: RuleKind,
    /// Tokens added per interval (token bucket; default `limit`).
    pub refill_rate: i64,
    /// Key prefix.
    pub prefix: String,
}

impl Rule {
    /// Parses `"<limit> per <window>[ using fixed|sliding|token]"`, e.g. `"100 per 1m"`.
    pub fn parse(name: &str, spec: &str) -> Result<Self> {
        let bad = || Error::Config(format!("rule {name:?}: expected \"<n> per <window>\""));
        let (limit, rest) = spec.trim().split_once(" per ").ok_or_else(bad)?;
        let limit: i64 = limit.trim().parse().map_err(|_| bad())?;
        let (window, kind) = match rest.split_once(" using ") {
            Some((w, k)) => (w.trim(), parse_kind(name, k.trim())?),
            None => (rest.trim(), RuleKind::SlidingWindow),
        };
        Self::new(name, limit, Window::parse(window)?, kind, None, None)
    }

    fn new(
        name: &str,
        limit: i64,
        window: Window,
        kind: RuleKind,
        refill_rate: Option<i64>,
        prefix: Option<String>,
    ) -> Result<Self> {
        if limit <= 0 || refill_rate.is_some_and(|r| r <= 0) {
            return Err(Error::Config(format!(
                "rule {name:?}: limit and refill rate must be positive"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            limit,
            window,
            kind,
            refill_rate: refill_rate.unwrap_or(limit),
            prefix: prefix.unwrap_or_else(|| format!("{DEFAULT_PREFIX}:{name}")),
        })
    }

    /// The rule as an [`Algorithm`].
    pub fn algorithm(&self) -> Algorithm {
        match self.kind {
            RuleKind::FixedWindow => Algorithm::FixedWindow {
                tokens: self.limit,
                window: self.window,
            },
            RuleKind::SlidingWindow => Algorithm::SlidingWindow {
                tokens: self.limit,
                window: self.window,
            },
            RuleKind::TokenBucket => Algorithm::TokenBucket {
                refill_rate: self.refill_rate,
                interval: self.window,
                max_tokens: self.limit,
            },
        }
    }
}

fn parse_kind(name: &str, k: &str) -> Result<RuleKind> {
    match k {
        "fixed" | "fixed_window" => Ok(RuleKind::FixedWindow),
        "sliding" | "sliding_window" => Ok(RuleKind::SlidingWindow),
        "token" | "token_bucket" => Ok(RuleKind::TokenBucket),
        _ => Err(Error::Config(format!("rule {name:?}: unknown algorithm"))),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RuleSpec {
    Short(String),
    Full {
        limit: i64,
        window: String,
        #[serde(default)]
        algorithm: Option<RuleKind>,
        #[serde(default)]
        refill_rate: Option<i64>,
        #[serde(default)]
        prefix: Option<String>,
    },
}

#[derive(Deserialize)]
struct ConfigFile {
    rules: BTreeMap<String, RuleSpec>,
}

/// Named rules, from a TOML or JSON document with a `rules` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSet {
    rules: BTreeMap<String, Rule>,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule.
    pub fn insert(&mut self, rule: Rule) -> &mut Self {
        self.rules.insert(rule.name.clone(), rule);
        self
    }

    /// The rule called `name`.
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.get(name)
    }

    /// Every rule, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.values()
    }

    fn from_file(file: ConfigFile) -> Result<Self> {
        let mut set = Self::new();
        for (name, spec) in file.rules {
            let rule = match spec {
                RuleSpec::Short(s) => Rule::parse(&name, &s)?,
                RuleSpec::Full {
                    limit,
                    window,
                    algorithm,
                    refill_rate,
                    prefix,
                } => Rule::new(
                    &name,
                    limit,
                    Window::parse(&window)?,
                    algorithm.unwrap_or(RuleKind::SlidingWindow),
                    refill_rate,
                    prefix,
                )?,
            };
            set.insert(rule);
        }
        Ok(set)
    }

    /// Parses a JSON document: `{"rules": {"api-default": "100 per 1m", ...}}`.
    pub fn from_json(text: &str) -> Result<Self> {
        let file: ConfigFile = serde_json::from_str(text)
            .map_err(|e| Error::Config(format!("invalid rule set JSON: {e}")))?;
        Self::from_file(file)
    }

    /// Parses a TOML document with a `[rules]` table (feature `toml`).
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: ConfigFile = toml::from_str(text)
            .map_err(|e| Error::Config(format!("invalid rule set TOML: {}", e.message())))?;
        Self::from_file(file)
    }

    /// A limiter builder for one rule (its algorithm and prefix preset).
    pub fn limiter(&self, name: &str, store: impl Store) -> Result<RatelimitBuilder> {
        let rule = self
            .get(name)
            .ok_or_else(|| Error::Config(format!("no rule named {name:?}")))?;
        Ok(Ratelimit::builder(store, rule.algorithm()).prefix(rule.prefix.clone()))
    }

    /// A checker of several rules at once on `store`.
    pub fn multi(&self, store: impl Store) -> MultiLimit {
        MultiLimit {
            rules: self.clone(),
            store: Arc::new(store),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Checks several rules for one request in one script call: nothing is consumed unless every
/// rule admits the request. Keys are the single-region ones (`prefix:id[:window]`), so each
/// rule shares state with a plain [`Ratelimit`] on the same prefix; unlike the plain fixed
/// window, a rejected multi-check records nothing.
#[derive(Clone)]
pub struct MultiLimit {
    rules: RuleSet,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MultiLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiLimit")
            .field("rules", &self.rules.rules.len())
            .finish_non_exhaustive()
    }
}

/// One rule's part of a [`MultiDecision`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleOutcome {
    /// The rule's name.
    pub rule: String,
    /// Whether this rule alone admits the request.
    pub success: bool,
    /// The rule's limit.
    pub limit: i64,
    /// Tokens left under this rule (after the request when it was admitted).
    pub remaining: i64,
    /// When the rule resets (ms since the epoch).
    pub reset: i64,
}

/// The outcome of [`MultiLimit::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MultiDecision {
    /// Whether every rule admitted the request (and it was counted under all of them).
    pub success: bool,
    /// One outcome per checked rule, in order.
    pub outcomes: Vec<RuleOutcome>,
}

impl MultiDecision {
    /// The outcome with the fewest tokens left (for `RateLimit-*` headers).
    pub fn tightest(&self) -> Option<&RuleOutcome> {
        self.outcomes
            .iter()
            .min_by_key(|o| (o.success, o.remaining))
    }
}

impl MultiLimit {
    /// Uses `clock` as the time source.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks `(rule, identifier)` pairs with one token each.
    pub async fn check(&self, checks: &[(&str, &str)]) -> Result<MultiDecision> {
        self.check_rate(checks, 1).await
    }

    /// Checks `(rule, identifier)` pairs, taking `rate` tokens under each.
    pub async fn check_rate(&self, checks: &[(&str, &str)], rate: i64) -> Result<MultiDecision> {
        let now = self.clock.now_ms();
        let mut keys = Vec::with_capacity(checks.len() * 2);
        let mut args = vec![now.to_string(), checks.len().to_string()];
        let mut rules = Vec::with_capacity(checks.len());
        for (name, id) in checks {
            let rule = self
                .rules
                .get(name)
                .ok_or_else(|| Error::Config(format!("no rule named {name:?}")))?;
            let base = format!("{}:{id}", rule.prefix);
            let w = rule.window.ms();
            let bucket = now.div_euclid(w);
            let kind = match rule.kind {
                RuleKind::FixedWindow => {
                    keys.push(window_key(&base, bucket));
                    1
                }
                RuleKind::SlidingWindow => {
                    keys.push(window_key(&base, bucket));
                    keys.push(window_key(&base, bucket - 1));
                    2
                }
                RuleKind::TokenBucket => {
                    keys.push(base);
                    3
                }
            };
            args.extend([
                kind.to_string(),
                rule.limit.to_string(),
                w.to_string(),
                rate.to_string(),
                rule.refill_rate.to_string(),
            ]);
            rules.push((rule, (bucket + 1) * w));
        }
        let reply = self
            .store
            .eval(&scripts::MULTI_RULE_SCRIPT, keys, args)
            .await?
            .into_array()?;
        let success = int_at(&reply, rules.len())? == 1;
        let mut outcomes = Vec::with_capacity(rules.len());
        for (i, (rule, window_reset)) in rules.into_iter().enumerate() {
            let item = reply
                .get(i)
                .cloned()
                .ok_or_else(|| Error::Store("short multi-rule reply".into()))?
                .into_array()?;
            let remaining = int_at(&item, 0)?;
            let reset = match rule.kind {
                RuleKind::TokenBucket => int_at(&item, 1)?,
                _ => window_reset,
            };
            outcomes.push(RuleOutcome {
                rule: rule.name.clone(),
                success: int_at(&item, 2)? == 1,
                limit: rule.limit,
                remaining: remaining.max(0),
                reset,
            });
        }
        Ok(MultiDecision { success, outcomes })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn short_specs() {
        let r = Rule::parse("api", "100 per 1m").unwrap();
        assert_eq!(
            (r.limit, r.window.as_millis(), r.kind),
            (100, 60_000, RuleKind::SlidingWindow)
        );
        assert_eq!(r.prefix, "@upstash/ratelimit:api");
        let r = Rule::parse("up", "50 per 1h using token").unwrap();
        assert_eq!((r.kind, r.refill_rate), (RuleKind::TokenBucket, 50));
        assert!(Rule::parse("x", "100/1m").is_err());
        assert!(Rule::parse("x", "0 per 1m").is_err());
        assert!(Rule::parse("x", "1 per 1m using magic").is_err());
    }

    #[test]
    fn json_documents() {
        let set = RuleSet::from_json(
            r#"{"rules": {"api-default": "100 per 1m",
                "search": {"limit": 10, "window": "10 s", "algorithm": "token", "refill_rate": 5, "prefix": "s"}}}"#,
        )
        .unwrap();
        let s = set.get("search").unwrap();
        assert_eq!(
            (s.kind, s.refill_rate, s.prefix.as_str()),
            (RuleKind::TokenBucket, 5, "s")
        );
        assert_eq!(set.get("api-default").unwrap().limit, 100);
        assert!(RuleSet::from_json(r#"{"rules": {"a": "x"}}"#).is_err());
    }
}
