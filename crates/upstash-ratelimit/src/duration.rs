//! Window lengths: the `@upstash/ratelimit` 2.2 grammar (`"10 s"`, `"1.5m"`, `"1 w"`) or a
//! [`std::time::Duration`].

use std::fmt;
use std::time::Duration;

use crate::Error;

/// A window or interval length in whole milliseconds (at least 1 ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window(u64);

impl Window {
    /// A window of `ms` milliseconds; fails when `ms` is 0.
    pub fn from_millis(ms: u64) -> Result<Self, Error> {
        if ms == 0 || ms > MAX_MS {
            return Err(Error::InvalidWindow(
                "a window must last between 1 ms and 2^53 ms",
            ));
        }
        Ok(Self(ms))
    }

    /// The length in milliseconds.
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// The length in milliseconds, as the signed integer used in arithmetic.
    pub(crate) fn ms(self) -> i64 {
        // MAX_MS < i64::MAX, so this never truncates.
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// The length as a [`Duration`].
    pub fn as_duration(self) -> Duration {
        Duration::from_millis(self.0)
    }

    /// Parses the `@upstash/ratelimit` 2.2 grammar: `^(\d+(?:\.\d+)?)\s?(ms|s|m|h|d|w)$`,
    /// rounded to the nearest millisecond (`Math.round`), at least 1 ms.
    ///
    /// `"10 s"`, `"10s"`, `"1.5 s"` (1500 ms), `"1 w"` and `"100ms"` parse; `"10  s"`,
    /// `"10 sec"`, `"-1 s"` and `"0.0001 s"` do not.
    pub fn parse(text: &str) -> Result<Self, Error> {
        const BAD: Error = Error::InvalidWindow("unable to parse window size");
        let bytes = text.as_bytes();
        let int_end = bytes
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(bytes.len());
        if int_end == 0 {
            return Err(BAD);
        }
        let mut end = int_end;
        if bytes.get(end) == Some(&b'.') {
            let frac = bytes[end + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if frac == 0 {
                return Err(BAD);
            }
            end += 1 + frac;
        }
        let number = &text[..end];
        let mut rest = &text[end..];
        // `\s` in JS matches any single whitespace character.
        if let Some(c) = rest.chars().next() {
            if c.is_whitespace() {
                rest = &rest[c.len_utf8()..];
            }
        }
        let unit_ms: f64 = match rest {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            "w" => 604_800_000.0,
            _ => return Err(BAD),
        };
        let value: f64 = number.parse().map_err(|_| BAD)?;
        let ms = js_round(value * unit_ms);
        if !(1.0..=MAX_MS as f64).contains(&ms) {
            return Err(Error::InvalidWindow(
                "a window must last between 1 ms and 2^53 ms",
            ));
        }
        // In range and integral, so the conversion is exact.
        Self::from_millis(ms as u64)
    }
}

/// 2^53: beyond this, milliseconds are no longer exact in Lua and JS numbers.
const MAX_MS: u64 = 1 << 53;

/// `Math.round`: halves round towards +infinity.
fn js_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

impl std::str::FromStr for Window {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

/// Anything that names a window: `&str`/`String` in the 2.2 grammar, a [`Duration`]
/// (truncated to whole milliseconds), or a [`Window`].
pub trait IntoWindow {
    /// Converts, failing on bad text or a length below 1 ms.
    fn into_window(self) -> Result<Window, Error>;
}

impl IntoWindow for Window {
    fn into_window(self) -> Result<Window, Error> {
        Ok(self)
    }
}

impl IntoWindow for &str {
    fn into_window(self) -> Result<Window, Error> {
        Window::parse(self)
    }
}

impl IntoWindow for String {
    fn into_window(self) -> Result<Window, Error> {
        Window::parse(&self)
    }
}

impl IntoWindow for &String {
    fn into_window(self) -> Result<Window, Error> {
        Window::parse(self)
    }
}

impl IntoWindow for Duration {
    fn into_window(self) -> Result<Window, Error> {
        Window::from_millis(u64::try_from(self.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Option<u64> {
        Window::parse(s).ok().map(Window::as_millis)
    }

    #[test]
    fn grammar_2_2() {
        assert_eq!(ms("10 s"), Some(10_000));
        assert_eq!(ms("10s"), Some(10_000));
        assert_eq!(ms("1.5 s"), Some(1_500));
        assert_eq!(ms("1 w"), Some(604_800_000));
        assert_eq!(ms("100ms"), Some(100));
        assert_eq!(ms("1h"), Some(3_600_000));
        assert_eq!(ms("2 d"), Some(172_800_000));
        assert_eq!(ms("1m"), Some(60_000));
        assert_eq!(ms("0.5ms"), Some(1));
        assert_eq!(ms("1.0005 s"), Some(1_001));
        for bad in [
            "10  s", "10 sec", "-1 s", "0.0001 s", "", "s", "10", "1. s", ".5 s", "0 s", "10 S",
            " 10 s", "10 s ", "1e3 ms", "10 mo",
        ] {
            assert_eq!(ms(bad), None, "{bad:?} must be rejected");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(
            Duration::from_millis(1500).into_window().ok(),
            Window::from_millis(1500).ok()
        );
        assert!(Duration::from_micros(999).into_window().is_err());
    }
}
