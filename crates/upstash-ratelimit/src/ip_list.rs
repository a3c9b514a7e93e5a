//! The automatic IP deny list: the addresses of the ipsum feed at one level, kept in Redis
//! beside the manual deny list and refreshed once a day, with the keys and the refresh rules of
//! `@upstash/ratelimit`'s protection (so a TypeScript service sharing the prefix sees the same
//! list).
//!
//! The refresh runs in the background of the one `limit()` call that finds the status key
//! missing (the deny check then marks it `pending` for 30 s, so concurrent callers do not
//! refresh too); it fetches `<source>/<level>.txt`, replaces the previous automatic addresses
//! in one script, and marks the list `valid` until the next 02:00 UTC. A failed fetch is
//! logged and retried by a call after the 30 s `pending` mark expires.

use std::time::Duration;

use crate::scripts;
use crate::store::Store;
use crate::{Error, Result};

/// Where the ipsum levels are published (`<url>/<level>.txt`).
pub const IPSUM_LEVELS_URL: &str = "https://raw.githubusercontent.com/stamparm/ipsum/master/levels";

/// Settings of the automatic IP deny list; enable it with
/// [`RatelimitBuilder::ip_deny_list`](crate::RatelimitBuilder::ip_deny_list).
///
/// ```
/// use upstash_ratelimit::IpDenyList;
///
/// // Addresses listed by at least 6 blacklists (the `@upstash/ratelimit` default).
/// let list = IpDenyList::new(6).unwrap();
/// assert_eq!(
///     list.list_url(),
///     "https://raw.githubusercontent.com/stamparm/ipsum/master/levels/6.txt"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct IpDenyList {
    level: u8,
    source: String,
    timeout: Duration,
}

impl IpDenyList {
    /// The list of addresses that at least `level` blacklists name; `level` is 1 to 8 (higher
    /// is stricter about listing, so fewer addresses).
    pub fn new(level: u8) -> Result<Self> {
        if !(1..=8).contains(&level) {
            return Err(Error::Config(format!(
                "IP deny list level must be 1 to 8, got {level}"
            )));
        }
        Ok(IpDenyList {
            level,
            source: IPSUM_LEVELS_URL.to_owned(),
            timeout: Duration::from_secs(10),
        })
    }

    /// Fetches the levels from another base URL (a mirror, or a local server in tests).
    pub fn source_url(mut self, url: impl Into<String>) -> Self {
        self.source = url.into();
        self
    }

    /// How long one fetch may take (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The ipsum level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The URL the list is fetched from.
    pub fn list_url(&self) -> String {
        format!("{}/{}.txt", self.source.trim_end_matches('/'), self.level)
    }

    /// Fetches the list and replaces the automatic addresses under `keys` (`[all, list,
    /// status]`); returns how many addresses the list now holds.
    pub(crate) async fn refresh(
        &self,
        store: &dyn Store,
        keys: Vec<String>,
        now_ms: i64,
    ) -> Result<usize> {
        let fetch_error = |e: &dyn std::fmt::Display| Error::Store(format!("IP deny list: {e}"));
        let client = upstash_redis::core::http::HttpClient::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| fetch_error(&e))?;
        let text = client
            .get(self.list_url())
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| fetch_error(&e))?
            .text()
            .await
            .map_err(|e| fetch_error(&e))?;
        let mut args = vec![ms_until_next_refresh(now_ms).to_string()];
        args.extend(parse_ipsum(&text));
        let reply = store.eval(&scripts::IP_REFRESH, keys, args).await?;
        Ok(usize::try_from(reply.as_i64().unwrap_or(0)).unwrap_or(0))
    }
}

/// The addresses of an ipsum file: one per line, first field; `#` lines are comments.
pub(crate) fn parse_ipsum(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Milliseconds from `now_ms` to the next 02:00 UTC (when the feed has been updated).
pub(crate) fn ms_until_next_refresh(now_ms: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    let today = now_ms.div_euclid(DAY) * DAY + 2 * 3_600_000;
    let next = if today > now_ms { today } else { today + DAY };
    next - now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_checked() {
        assert!(IpDenyList::new(0).is_err());
        assert!(IpDenyList::new(9).is_err());
        assert_eq!(IpDenyList::new(8).map(|l| l.level()).ok(), Some(8));
        let l = IpDenyList::new(3)
            .map(|l| l.source_url("http://127.0.0.1:9/levels/"))
            .ok();
        assert_eq!(
            l.map(|l| l.list_url()).as_deref(),
            Some("http://127.0.0.1:9/levels/3.txt")
        );
    }

    #[test]
    fn ipsum_format() {
        let text = "# IPsum Threat Intelligence Feed\n# (https://github.com/stamparm/ipsum)\n\n1.2.3.4\t9\n 5.6.7.8 7 \n#9.9.9.9\n";
        assert_eq!(parse_ipsum(text), ["1.2.3.4", "5.6.7.8"]);
        assert!(parse_ipsum("").is_empty());
    }

    #[test]
    fn next_refresh_is_the_next_two_oclock_utc() {
        let day = 86_400_000;
        let two = 2 * 3_600_000;
        assert_eq!(ms_until_next_refresh(10 * day), two);
        assert_eq!(ms_until_next_refresh(10 * day + two - 1), 1);
        assert_eq!(ms_until_next_refresh(10 * day + two), day);
        assert_eq!(ms_until_next_refresh(10 * day + two + 5), day - 5);
    }
}
