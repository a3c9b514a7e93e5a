//! Small parsers for QStash header values: `Upstash-Retry-Delay` expressions, durations,
//! booleans, and the `Retry-After` family of response headers.

/// Evaluates a retry-delay expression (milliseconds) with the variable `retried`.
/// Numbers, `+ - * / %`, parentheses, unary minus and the functions `pow sqrt abs exp floor
/// ceil round min max`. `None` when malformed or not finite.
pub(crate) fn eval(expr: &str, retried: f64) -> Option<f64> {
    let mut p = Parser {
        s: expr.as_bytes(),
        i: 0,
        retried,
        depth: 0,
    };
    let v = p.sum()?;
    p.ws();
    if p.i != p.s.len() || !v.is_finite() {
        return None;
    }
    Some(v)
}

/// Checks that an expression is well formed (evaluated with `retried = 0..3`).
pub(crate) fn valid(expr: &str) -> bool {
    !expr.trim().is_empty() && expr.len() <= 1000 && eval(expr, 0.0).is_some()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    retried: f64,
    depth: u32,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn sum(&mut self) -> Option<f64> {
        let mut v = self.product()?;
        loop {
            if self.eat(b'+') {
                v += self.product()?;
            } else if self.eat(b'-') {
                v -= self.product()?;
            } else {
                return Some(v);
            }
        }
    }

    fn product(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        loop {
            if self.eat(b'*') {
                v *= self.unary()?;
            } else if self.eat(b'/') {
                v /= self.unary()?;
            } else if self.eat(b'%') {
                v %= self.unary()?;
            } else {
                return Some(v);
            }
        }
    }

    fn unary(&mut self) -> Option<f64> {
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        let r = if self.eat(b'-') {
            self.unary().map(|v| -v)
        } else if self.eat(b'+') {
            self.unary()
        } else {
            self.atom()
        };
        self.depth -= 1;
        r
    }

    fn atom(&mut self) -> Option<f64> {
        self.ws();
        if self.eat(b'(') {
            let v = self.sum()?;
            return self.eat(b')').then_some(v);
        }
        let start = self.i;
        let c = *self.s.get(self.i)?;
        if c.is_ascii_digit() || c == b'.' {
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_digit() || self.s[self.i] == b'.')
            {
                self.i += 1;
            }
            return std::str::from_utf8(&self.s[start..self.i])
                .ok()?
                .parse()
                .ok();
        }
        if c.is_ascii_alphabetic() {
            while self.i < self.s.len() && self.s[self.i].is_ascii_alphanumeric() {
                self.i += 1;
            }
            let name = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            if name == "retried" {
                return Some(self.retried);
            }
            if !self.eat(b'(') {
                return None;
            }
            let mut args = vec![self.sum()?];
            while self.eat(b',') {
                args.push(self.sum()?);
            }
            if !self.eat(b')') {
                return None;
            }
            return match (name, args.as_slice()) {
                ("pow", [a, b]) => Some(a.powf(*b)),
                ("sqrt", [a]) => Some(a.sqrt()),
                ("abs", [a]) => Some(a.abs()),
                ("exp", [a]) => Some(a.exp()),
                ("floor", [a]) => Some(a.floor()),
                ("ceil", [a]) => Some(a.ceil()),
                ("round", [a]) => Some(a.round()),
                ("min", [a, rest @ ..]) => Some(rest.iter().fold(*a, |m, x| m.min(*x))),
                ("max", [a, rest @ ..]) => Some(rest.iter().fold(*a, |m, x| m.max(*x))),
                _ => None,
            };
        }
        None
    }
}

/// Parses a duration like `50s`, `1d10h30m`, `500ms`, or a bare number of seconds, into
/// milliseconds.
pub(crate) fn duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        return n.checked_mul(1000);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: u64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit: u64 = match &s[ustart..i] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// `true`/`false`, case-insensitive (qstash-py sends `True`).
pub(crate) fn boolean(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") || s == "1" {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") || s == "0" || s.is_empty() {
        Some(false)
    } else {
        None
    }
}

/// A Go-style duration (`6m5s`, `1.5s`, `300ms`) in milliseconds.
fn go_duration_ms(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut total = 0.0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let n: f64 = s.get(start..i)?.parse().ok()?;
        let ustart = i;
        while i < b.len() && !(b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let unit = match s.get(ustart..i)? {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return None,
        };
        total += n * unit;
    }
    Some(total)
}

/// The delay a destination asked for with `Retry-After` (seconds, an RFC 1123 date, or a Go
/// duration), relative to `now_ms`. `None` when absent, unparsable, or over a day.
pub(crate) fn retry_after_ms(v: &str, now_ms: u64) -> Option<u64> {
    let v = v.trim();
    let ms = if let Ok(secs) = v.parse::<f64>() {
        secs * 1000.0
    } else if let Some(ms) = go_duration_ms(v) {
        ms
    } else {
        let ts: jiff::Timestamp = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
        let at = ts.as_millisecond();
        at as f64 - now_ms as f64
    };
    if !ms.is_finite() || !(0.0..=86_400_000.0).contains(&ms) {
        return None;
    }
    Some(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        assert_eq!(eval("pow(2, retried) * 1000", 3.0), Some(8000.0));
        assert_eq!(eval("1000", 0.0), Some(1000.0));
        assert_eq!(eval("-(1 + 2) * 3", 0.0), Some(-9.0));
        assert_eq!(eval("max(10, retried * 100, 50)", 2.0), Some(200.0));
        assert_eq!(eval("min(sqrt(16), abs(-3))", 0.0), Some(3.0));
        assert_eq!(
            eval("floor(exp(1)) + ceil(0.2) + round(2.5)", 0.0),
            Some(6.0)
        );
        for bad in [
            "",
            "pow(2)",
            "1 +",
            "foo",
            "(1",
            "1)",
            "1 / 0",
            "retried retried",
        ] {
            assert!(eval(bad, 1.0).is_none(), "{bad}");
        }
        let deep = "(".repeat(10_000);
        assert!(eval(&deep, 0.0).is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("50s"), Some(50_000));
        assert_eq!(duration_ms("1d10h30m"), Some(124_200_000));
        assert_eq!(duration_ms("10"), Some(10_000));
        assert_eq!(duration_ms("250ms"), Some(250));
        for bad in ["", "s", "10x", "1.5s", "-1s", "99999999999999999999d"] {
            assert!(duration_ms(bad).is_none(), "{bad}");
        }
        assert_eq!(retry_after_ms("5", 0), Some(5000));
        assert_eq!(retry_after_ms("6m5s", 0), Some(365_000));
        assert_eq!(retry_after_ms("100000", 0), None);
        assert_eq!(
            retry_after_ms("Thu, 01 Jan 1970 00:00:10 GMT", 4000),
            Some(6000)
        );
        assert_eq!(boolean("True"), Some(true));
        assert_eq!(boolean("nope"), None);
    }
}
