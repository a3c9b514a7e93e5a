//! Per-message configuration read from `Upstash-*` request headers (publish, enqueue, batch
//! items, schedules, DLQ retry overrides).

use serde::{Deserialize, Serialize};

use super::expr;

/// Request headers, names lower-cased, in arrival order.
pub(crate) type Headers = Vec<(String, String)>;

/// Default number of retries after the first attempt.
pub(crate) const DEFAULT_RETRIES: u32 = 3;
/// Most retries accepted (the paid plans' limit is far lower; a local server is lenient).
const MAX_RETRIES: u32 = 100;
/// Longest delay accepted: one year.
const MAX_DELAY_MS: u64 = 365 * 86_400_000;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// How a callback message is sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct CallbackCfg {
    pub method: Option<String>,
    pub timeout_ms: Option<u64>,
    pub retries: Option<u32>,
    pub retry_delay: Option<String>,
    /// Headers forwarded to the callback URL (canonical names).
    pub forward: Vec<(String, String)>,
}

/// Flow control settings of a message.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct FlowCfg {
    pub key: String,
    pub parallelism: Option<u32>,
    pub rate: Option<u32>,
    /// Rate period in seconds (default 1).
    pub period_s: u64,
}

/// Everything a message's `Upstash-*` headers say.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct MsgConfig {
    pub method: String,
    pub retries: u32,
    pub retry_delay: Option<String>,
    pub timeout_ms: Option<u64>,
    pub delay_ms: Option<u64>,
    pub not_before_ms: Option<u64>,
    pub callback: Option<String>,
    pub callback_cfg: CallbackCfg,
    pub failure_callback: Option<String>,
    pub failure_callback_cfg: CallbackCfg,
    /// Headers sent to the destination (canonical names, `Content-Type` included).
    pub forward: Vec<(String, String)>,
    pub dedup_id: Option<String>,
    pub content_dedup: bool,
    pub flow: Option<FlowCfg>,
    pub labels: Vec<String>,
    pub redact: Vec<String>,
    /// Schedules only.
    pub cron: Option<String>,
    pub schedule_id: Option<String>,
    pub queue_name: Option<String>,
}

impl Default for MsgConfig {
    fn default() -> Self {
        MsgConfig {
            method: "POST".into(),
            retries: DEFAULT_RETRIES,
            retry_delay: None,
            timeout_ms: None,
            delay_ms: None,
            not_before_ms: None,
            callback: None,
            callback_cfg: CallbackCfg::default(),
            failure_callback: None,
            failure_callback_cfg: CallbackCfg::default(),
            forward: Vec::new(),
            dedup_id: None,
            content_dedup: false,
            flow: None,
            labels: Vec::new(),
            redact: Vec::new(),
            cron: None,
            schedule_id: None,
            queue_name: None,
        }
    }
}

/// A header name in Go's canonical form: `content-type` -> `Content-Type`.
pub(crate) fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper = c == '-';
    }
    out
}

/// Whether a URL is an absolute http(s) URL with a host.
pub(crate) fn is_http_url(u: &str) -> bool {
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !u.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn method(v: &str) -> Result<String, String> {
    let m = v.trim().to_ascii_uppercase();
    if METHODS.contains(&m.as_str()) {
        Ok(m)
    } else {
        Err("invalid method, must be one of GET, POST, PUT, PATCH, DELETE".into())
    }
}

fn retries(v: &str) -> Result<u32, String> {
    match v.trim().parse::<u32>() {
        Ok(n) if n <= MAX_RETRIES => Ok(n),
        _ => Err("invalid retries: must be a non-negative integer, at most 100".into()),
    }
}

fn duration(v: &str, what: &str) -> Result<u64, String> {
    match expr::duration_ms(v) {
        Some(ms) if ms <= MAX_DELAY_MS => Ok(ms),
        _ => Err(format!(
            "invalid {what}: use a duration like 10s, 5m, 1h or 1d10h30m"
        )),
    }
}

fn retry_delay(v: &str) -> Result<String, String> {
    if expr::valid(v) {
        Ok(v.trim().to_string())
    } else {
        Err("invalid retry delay expression".into())
    }
}

fn callback_url(v: &str, what: &str) -> Result<String, String> {
    let v = v.trim();
    if is_http_url(v) {
        Ok(v.to_string())
    } else {
        Err(format!(
            "invalid {what} url: endpoint has invalid scheme, add http:// or https://"
        ))
    }
}

/// Parses `parallelism=2, rate=10, period=1m`.
fn flow_value(v: &str, key: String) -> Result<FlowCfg, String> {
    let mut f = FlowCfg {
        key,
        parallelism: None,
        rate: None,
        period_s: 1,
    };
    let bad = || "invalid flow control value: use parallelism=<n>, rate=<n>, period=<duration>";
    for part in v.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, val) = part.split_once('=').ok_or_else(bad)?;
        let val = val.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "parallelism" => {
                f.parallelism = Some(val.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?)
            }
            "rate" => f.rate = Some(val.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?),
            "period" => {
                let ms = expr::duration_ms(val).filter(|ms| *ms >= 1000 && *ms <= 7 * 86_400_000);
                f.period_s = ms.ok_or_else(bad)? / 1000;
            }
            _ => return Err(bad().into()),
        }
    }
    if f.parallelism.is_none() && f.rate.is_none() {
        return Err("flow control needs parallelism or rate".into());
    }
    Ok(f)
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Headers never forwarded by `Upstash-Header-Forward: true`.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "content-length"
            | "connection"
            | "transfer-encoding"
            | "keep-alive"
            | "accept-encoding"
            | "authorization"
            | "te"
            | "upgrade"
    )
}

/// Reads the message configuration from headers (names lower-cased). Query parameters of the
/// webhook mode (`?upstash-retries=3`) are passed in as headers by the caller.
pub(crate) fn parse(h: &Headers) -> Result<MsgConfig, String> {
    let mut c = MsgConfig::default();
    let mut flow_key = None;
    let mut flow_value_raw = None;
    let mut forward_all = false;
    for (name, value) in h {
        let n = name.as_str();
        if let Some(fwd) = n.strip_prefix("upstash-forward-") {
            if !fwd.is_empty() {
                c.forward.push((canonical(fwd), value.clone()));
            }
            continue;
        }
        if let Some(fwd) = n.strip_prefix("upstash-callback-forward-") {
            if !fwd.is_empty() {
                c.callback_cfg.forward.push((canonical(fwd), value.clone()));
            }
            continue;
        }
        if let Some(fwd) = n.strip_prefix("upstash-failure-callback-forward-") {
            if !fwd.is_empty() {
                c.failure_callback_cfg
                    .forward
                    .push((canonical(fwd), value.clone()));
            }
            continue;
        }
        match n {
            "content-type" => c.forward.push(("Content-Type".into(), value.clone())),
            "upstash-method" => c.method = method(value)?,
            "upstash-retries" => c.retries = retries(value)?,
            "upstash-retry-delay" => c.retry_delay = Some(retry_delay(value)?),
            "upstash-timeout" => c.timeout_ms = Some(duration(value, "timeout")?),
            "upstash-delay" => c.delay_ms = Some(duration(value, "delay")?),
            "upstash-not-before" => {
                let secs: u64 = value
                    .trim()
                    .parse()
                    .map_err(|_| "invalid not-before: must be a unix timestamp in seconds")?;
                c.not_before_ms = Some(secs.saturating_mul(1000));
            }
            "upstash-callback" => c.callback = Some(callback_url(value, "callback")?),
            "upstash-failure-callback" => {
                c.failure_callback = Some(callback_url(value, "failure callback")?)
            }
            "upstash-callback-method" => c.callback_cfg.method = Some(method(value)?),
            "upstash-callback-timeout" => {
                c.callback_cfg.timeout_ms = Some(duration(value, "callback timeout")?)
            }
            "upstash-callback-retries" => c.callback_cfg.retries = Some(retries(value)?),
            "upstash-callback-retry-delay" => {
                c.callback_cfg.retry_delay = Some(retry_delay(value)?)
            }
            "upstash-failure-callback-method" => {
                c.failure_callback_cfg.method = Some(method(value)?)
            }
            "upstash-failure-callback-timeout" => {
                c.failure_callback_cfg.timeout_ms =
                    Some(duration(value, "failure callback timeout")?)
            }
            "upstash-failure-callback-retries" => {
                c.failure_callback_cfg.retries = Some(retries(value)?)
            }
            "upstash-failure-callback-retry-delay" => {
                c.failure_callback_cfg.retry_delay = Some(retry_delay(value)?)
            }
            "upstash-callback-delay" | "upstash-failure-callback-delay" => {
                return Err("callbacks cannot be delayed".into())
            }
            "upstash-deduplication-id" => {
                let v = value.trim();
                if !v.is_empty() {
                    c.dedup_id = Some(v.to_string());
                }
            }
            "upstash-content-based-deduplication" => {
                c.content_dedup = expr::boolean(value)
                    .ok_or("invalid content based deduplication: use true or false")?
            }
            "upstash-flow-control-key" => flow_key = Some(value.trim().to_string()),
            "upstash-flow-control-value" => flow_value_raw = Some(value.clone()),
            "upstash-label" => c.labels = list(value),
            "upstash-redact-fields" => c.redact = list(value),
            "upstash-header-forward" => {
                forward_all =
                    expr::boolean(value).ok_or("invalid header forward: use true or false")?
            }
            "upstash-cron" => c.cron = Some(value.trim().to_string()),
            "upstash-schedule-id" => c.schedule_id = Some(value.trim().to_string()),
            "upstash-queue-name" => c.queue_name = Some(value.trim().to_string()),
            _ => {}
        }
    }
    if forward_all {
        for (name, value) in h {
            if !name.starts_with("upstash-") && !hop_by_hop(name) && name != "content-type" {
                c.forward.push((canonical(name), value.clone()));
            }
        }
    }
    match (flow_key, flow_value_raw) {
        (Some(k), Some(v)) if !k.is_empty() => c.flow = Some(flow_value(&v, k)?),
        (Some(k), None) if !k.is_empty() => {
            return Err("flow control key needs Upstash-Flow-Control-Value".into())
        }
        (None, Some(_)) => return Err("flow control value needs Upstash-Flow-Control-Key".into()),
        _ => {}
    }
    Ok(c)
}

/// `Upstash-*` headers of a DLQ retry request override the stored configuration.
pub(crate) fn apply_overrides(base: &MsgConfig, h: &Headers) -> Result<MsgConfig, String> {
    let o = parse(h)?;
    let has = |n: &str| h.iter().any(|(k, _)| k == n);
    let mut c = base.clone();
    if has("upstash-method") {
        c.method = o.method;
    }
    if has("upstash-retries") {
        c.retries = o.retries;
    }
    if has("upstash-retry-delay") {
        c.retry_delay = o.retry_delay;
    }
    if has("upstash-timeout") {
        c.timeout_ms = o.timeout_ms;
    }
    if has("upstash-callback") {
        c.callback = o.callback;
    }
    if has("upstash-failure-callback") {
        c.failure_callback = o.failure_callback;
    }
    if !o.forward.is_empty() {
        c.forward = o.forward;
    }
    c.delay_ms = o.delay_ms;
    c.not_before_ms = o.not_before_ms;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_headers() {
        let c = parse(&h(&[
            ("Content-Type", "application/json"),
            ("Upstash-Method", "put"),
            ("Upstash-Retries", "5"),
            ("Upstash-Delay", "1m30s"),
            ("Upstash-Forward-Authorization", "Bearer x"),
            ("Upstash-Forward-my-header", "v"),
            ("Upstash-Callback", "http://127.0.0.1:1/cb"),
            ("Upstash-Callback-Forward-X-A", "1"),
            ("Upstash-Content-Based-Deduplication", "True"),
            ("Upstash-Flow-Control-Key", "k"),
            (
                "Upstash-Flow-Control-Value",
                "parallelism=2,rate=10 , period=1m",
            ),
            ("Upstash-Label", "a, b"),
            ("Upstash-Telemetry-Sdk", "js"),
            ("X-Plain", "not forwarded"),
        ]))
        .unwrap();
        assert_eq!(c.method, "PUT");
        assert_eq!(c.retries, 5);
        assert_eq!(c.delay_ms, Some(90_000));
        assert_eq!(
            c.forward,
            vec![
                ("Content-Type".into(), "application/json".into()),
                ("Authorization".into(), "Bearer x".into()),
                ("My-Header".into(), "v".into()),
            ]
        );
        assert_eq!(c.callback_cfg.forward, vec![("X-A".into(), "1".into())]);
        assert!(c.content_dedup);
        let f = c.flow.unwrap();
        assert_eq!((f.parallelism, f.rate, f.period_s), (Some(2), Some(10), 60));
        assert_eq!(c.labels, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            ("Upstash-Method", "FETCH"),
            ("Upstash-Retries", "-1"),
            ("Upstash-Delay", "10x"),
            ("Upstash-Not-Before", "soon"),
            ("Upstash-Callback", "ftp://x"),
            ("Upstash-Retry-Delay", "pow(2"),
            ("Upstash-Flow-Control-Value", "rate=1"),
            ("Upstash-Content-Based-Deduplication", "maybe"),
        ] {
            assert!(parse(&h(&[bad])).is_err(), "{bad:?}");
        }
        assert!(parse(&h(&[
            ("Upstash-Flow-Control-Key", "k"),
            ("Upstash-Flow-Control-Value", "period=1s")
        ]))
        .is_err());
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical("x-my-HEADER"), "X-My-Header");
        assert!(is_http_url("http://127.0.0.1:80/a?b"));
        assert!(!is_http_url("http:///a"));
        assert!(!is_http_url("example.com"));
    }
}
