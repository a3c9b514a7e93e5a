//! Rule sets from TOML and the multi-limit check (all rules must pass) in one round trip.
#![allow(clippy::unwrap_used)]

use upstash_local::{testing, Config, LocalStack};
use upstash_ratelimit::{ManualClock, MemoryStore, RuleSet, Store};
use upstash_redis::Redis;

fn client(stack: &LocalStack) -> Redis {
    Redis::new(stack.redis_rest_url(), stack.redis_token()).unwrap()
}

const RULES: &str = r#"
[rules]
per-user = "3 per 1h using fixed"
per-ip = "5 per 1h"

[rules.burst]
limit = 4
window = "1h"
algorithm = "token"
refill_rate = 1
"#;

async fn scenario(
    store: impl Store,
    clock: ManualClock,
    prefix: &str,
) -> Vec<(bool, Vec<(bool, i64)>)> {
    let text = RULES.replace(
        "[rules.burst]",
        &format!("[rules.burst]\nprefix = \"{prefix}burst\""),
    );
    let mut rules = RuleSet::from_toml(&text).unwrap();
    // Per-test prefixes for the short rules.
    let mut renamed = RuleSet::new();
    for r in rules.iter() {
        let mut r = r.clone();
        if !r.prefix.starts_with(prefix) {
            r.prefix = format!("{prefix}{}", r.name);
        }
        renamed.insert(r);
    }
    rules = renamed;
    let multi = rules.multi(store).with_clock(clock);
    let mut out = Vec::new();
    for user in ["alice", "alice", "bob", "alice", "alice", "carol", "dave"] {
        let d = multi
            .check(&[
                ("per-user", user),
                ("per-ip", "1.2.3.4"),
                ("burst", "1.2.3.4"),
            ])
            .await
            .unwrap();
        out.push((
            d.success,
            d.outcomes
                .iter()
                .map(|o| (o.success, o.remaining))
                .collect(),
        ));
    }
    out
}

#[tokio::test]
async fn multi_check_is_all_or_nothing_in_one_request() {
    let stack = testing::dedicated(Config::default());
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let clock = ManualClock::new(t);
    let expected = scenario(
        MemoryStore::with_clock(clock.clone()),
        clock.clone(),
        "mem:",
    )
    .await;
    let stats = stack.redis_stats();
    // Warm the script cache first, so the count below is the steady state.
    scenario(client(&stack), clock.clone(), "warm:").await;
    stats.reset();
    let got = scenario(client(&stack), clock, "rest:").await;
    assert_eq!(
        stats.snapshot().http_requests,
        7,
        "one request per multi-check"
    );
    assert_eq!(got, expected);
    // The burst bucket (4 tokens) admits 4; per-user allows alice 3; nothing is consumed by
    // rejected checks.
    let admitted: Vec<bool> = got.iter().map(|(ok, _)| *ok).collect();
    assert_eq!(admitted, [true, true, true, true, false, false, false]);
    assert_eq!(got[3].1[0], (true, 0), "alice's third request");
    assert_eq!(got[4].1[0], (false, 0));
    assert_eq!(got[4].1[2], (false, 0), "burst is empty");
    stack.shutdown().await;
}

#[tokio::test]
async fn rule_limiters_share_keys_with_the_multi_check() {
    let stack = testing::shared();
    let prefix = testing::prefix("rl-rules");
    let rules = RuleSet::from_json(&format!(
        r#"{{"rules": {{"api": {{"limit": 5, "window": "1h", "algorithm": "sliding", "prefix": "{prefix}api"}}}}}}"#
    ))
    .unwrap();
    let rl = rules
        .limiter("api", client(stack))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(rl.limit("k").await.unwrap().remaining, 4);
    let d = rules
        .multi(client(stack))
        .check(&[("api", "k")])
        .await
        .unwrap();
    assert!(d.success);
    assert_eq!(d.outcomes[0].remaining, 3);
    assert_eq!(rl.get_remaining("k").await.unwrap().remaining, 3);
    assert!(rules
        .multi(client(stack))
        .check(&[("nope", "k")])
        .await
        .is_err());
}
