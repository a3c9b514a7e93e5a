//! Cron expressions as QStash accepts them: five fields (`minute hour day-of-month month
//! day-of-week`) in UTC, an optional `CRON_TZ=<IANA zone> ` (or `TZ=`) prefix, `*`, lists,
//! ranges, steps, month and weekday names, day-of-week 0-7, and the `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly` descriptors.
//!
//! When both day-of-month and day-of-week are restricted (neither starts with `*`), a day
//! matches if either matches (the Vixie cron rule); otherwise both must match.

/// A parsed cron expression.
#[derive(Debug, Clone)]
pub(crate) struct Cron {
    minutes: u64,
    hours: u64,
    dom: u64,
    months: u64,
    dow: u64,
    dom_star: bool,
    dow_star: bool,
    tz: Option<jiff::tz::TimeZone>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn parse_value(s: &str, names: &[&str], name_base: u32) -> Option<u32> {
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    let up = s.to_ascii_uppercase();
    names
        .iter()
        .position(|n| *n == up)
        .map(|i| i as u32 + name_base)
}

/// Parses one field into a bit set over `min..=max`.
fn parse_field(f: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Option<u64> {
    let mut bits = 0u64;
    for part in f.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                parse_value(a, names, name_base)?,
                parse_value(b, names, name_base)?,
            )
        } else {
            let v = parse_value(range, names, name_base)?;
            // `5/10` means 5, 15, 25...: from v to max.
            if part.contains('/') {
                (v, max)
            } else {
                (v, v)
            }
        };
        if lo < min || hi > max || lo > hi {
            return None;
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1u64 << v;
            match v.checked_add(step) {
                Some(n) => v = n,
                None => break,
            }
        }
    }
    Some(bits)
}

impl Cron {
    /// Parses an expression (surrounding whitespace ignored). `None` when invalid.
    pub(crate) fn parse(expr: &str) -> Option<Cron> {
        let mut s = expr.trim();
        let mut tz = None;
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = s.strip_prefix(prefix) {
                let (zone, rest) = rest.split_once(char::is_whitespace)?;
                tz = Some(jiff::tz::TimeZone::get(zone).ok()?);
                s = rest.trim();
                break;
            }
        }
        let expanded = match s.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ => s,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return None;
        }
        let minutes = parse_field(fields[0], 0, 59, &[], 0)?;
        let hours = parse_field(fields[1], 0, 23, &[], 0)?;
        let dom = parse_field(fields[2], 1, 31, &[], 0)?;
        let months = parse_field(fields[3], 1, 12, &MONTHS, 1)?;
        let mut dow = parse_field(fields[4], 0, 7, &DAYS, 0)?;
        if dow & (1 << 7) != 0 {
            dow = (dow | 1) & !(1 << 7);
        }
        Some(Cron {
            minutes,
            hours,
            dom,
            months,
            dow,
            dom_star: fields[2].starts_with('*') || fields[2] == "?",
            dow_star: fields[4].starts_with('*') || fields[4] == "?",
            tz,
        })
    }

    fn day_matches(&self, d: &Civil) -> bool {
        let dom = self.dom & (1 << d.day) != 0;
        let dow = self.dow & (1 << d.weekday()) != 0;
        if !self.dom_star && !self.dow_star {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The first minute boundary strictly after `after_ms` (unix ms) that matches, as unix ms.
    /// `None` if nothing matches within about five years (e.g. `0 0 30 2 *`).
    pub(crate) fn next_after(&self, after_ms: u64) -> Option<u64> {
        let secs = i64::try_from(after_ms / 1000).ok()?;
        let offset = self.offset_at(secs);
        // Start at the next whole minute in local wall time.
        let mut c = Civil::from_unix(secs + offset);
        c.second = 0;
        c.add_minutes(1);
        let limit_year = c.year + 5;
        while c.year <= limit_year {
            if self.months & (1 << c.month) == 0 {
                c.next_month();
                continue;
            }
            if !self.day_matches(&c) {
                c.next_day();
                continue;
            }
            if self.hours & (1 << c.hour) == 0 {
                c.next_hour();
                continue;
            }
            if self.minutes & (1 << c.minute) == 0 {
                c.add_minutes(1);
                continue;
            }
            match self.to_unix(&c) {
                Some(t) if t > secs => return u64::try_from(t).ok().map(|t| t * 1000),
                // A local time skipped by a DST change, or not after the reference: go on.
                _ => c.add_minutes(1),
            }
        }
        None
    }

    fn offset_at(&self, secs: i64) -> i64 {
        match &self.tz {
            None => 0,
            Some(tz) => match jiff::Timestamp::from_second(secs) {
                Ok(ts) => i64::from(tz.to_offset(ts).seconds()),
                Err(_) => 0,
            },
        }
    }

    /// Local wall time to unix seconds; `None` inside a DST gap.
    fn to_unix(&self, c: &Civil) -> Option<i64> {
        let local = c.to_unix_naive();
        let Some(tz) = &self.tz else {
            return Some(local);
        };
        let dt = jiff::civil::DateTime::new(
            i16::try_from(c.year).ok()?,
            c.month as i8,
            c.day as i8,
            c.hour as i8,
            c.minute as i8,
            0,
            0,
        )
        .ok()?;
        match tz.to_ambiguous_timestamp(dt).offset() {
            jiff::tz::AmbiguousOffset::Unambiguous { offset } => {
                Some(local - i64::from(offset.seconds()))
            }
            jiff::tz::AmbiguousOffset::Gap { .. } => None,
            jiff::tz::AmbiguousOffset::Fold { before, .. } => {
                Some(local - i64::from(before.seconds()))
            }
        }
    }
}

/// A proleptic Gregorian wall-clock time with minute precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Civil {
    fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        Civil {
            year: y,
            month: m,
            day: d,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    fn to_unix_naive(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// 0 = Sunday.
    fn weekday(&self) -> u32 {
        (days_from_civil(self.year, self.month, self.day) + 4).rem_euclid(7) as u32
    }

    fn next_month(&mut self) {
        self.month += 1;
        if self.month > 12 {
            self.month = 1;
            self.year += 1;
        }
        self.day = 1;
        self.hour = 0;
        self.minute = 0;
    }

    fn next_day(&mut self) {
        self.day += 1;
        if self.day > days_in_month(self.year, self.month) {
            self.next_month();
        } else {
            self.hour = 0;
            self.minute = 0;
        }
    }

    fn next_hour(&mut self) {
        self.hour += 1;
        self.minute = 0;
        if self.hour > 23 {
            self.next_day();
        }
    }

    fn add_minutes(&mut self, n: u32) {
        self.minute += n;
        while self.minute > 59 {
            self.minute -= 60;
            self.next_hour_keep_minute();
        }
    }

    fn next_hour_keep_minute(&mut self) {
        let m = self.minute;
        self.next_hour();
        self.minute = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-03-15 10:17:30 UTC (a Friday).
    const T: u64 = 1_710_497_850_000;

    fn fmt(ms: u64) -> String {
        let c = Civil::from_unix((ms / 1000) as i64);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute
        )
    }

    fn next(expr: &str, from: u64) -> String {
        fmt(Cron::parse(expr).unwrap().next_after(from).unwrap())
    }

    #[test]
    fn civil_round_trip() {
        for s in [0i64, 951_782_400, 1_710_497_850, 4_102_444_800, -86_400] {
            let c = Civil::from_unix(s);
            assert_eq!(c.to_unix_naive(), s);
        }
        assert_eq!(Civil::from_unix(0).weekday(), 4);
        assert_eq!(fmt(T), "2024-03-15 10:17");
    }

    #[test]
    fn next_runs() {
        assert_eq!(next("* * * * *", T), "2024-03-15 10:18");
        assert_eq!(next("*/10 * * * *", T), "2024-03-15 10:20");
        assert_eq!(next("*/5 * * * * ", T), "2024-03-15 10:20");
        assert_eq!(next("0 4 * * *", T), "2024-03-16 04:00");
        assert_eq!(next("1 1 1 1 1", T), "2025-01-01 01:01"); // Vixie OR: Jan 1st or a Monday in January
        assert_eq!(next("0 0 * * MON", T), "2024-03-18 00:00");
        assert_eq!(next("0 0 * * 7", T), "2024-03-17 00:00");
        assert_eq!(next("30 9 29 2 *", T), "2028-02-29 09:30");
        assert_eq!(next("0 12 1-7 * 1", T), "2024-03-18 12:00");
        assert_eq!(next("15,45 10-11 * mar,apr *", T), "2024-03-15 10:45");
        assert_eq!(next("@daily", T), "2024-03-16 00:00");
        assert_eq!(next("5/20 * * * *", T), "2024-03-15 10:25");
        // Exactly on a boundary: strictly after.
        assert_eq!(next("20 10 * * *", 1_710_498_000_000), "2024-03-16 10:20");
    }

    #[test]
    fn time_zones() {
        // 04:00 in New York on 2024-03-16 is 08:00 UTC (EDT since March 10th).
        assert_eq!(
            next("CRON_TZ=America/New_York 0 4 * * *", T),
            "2024-03-16 08:00"
        );
        // Spring forward in New York (2024-03-10): 02:30 does not exist that day.
        let before = 1_710_028_800_000; // 2024-03-10 00:00 UTC
        assert_eq!(
            next("CRON_TZ=America/New_York 30 2 * * *", before),
            "2024-03-11 06:30"
        );
        assert!(Cron::parse("CRON_TZ=Nowhere/Land 0 4 * * *").is_none());
    }

    #[test]
    fn rejects_bad_expressions() {
        for bad in [
            "",
            "* * * *",
            "* * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
            "CRON_TZ=UTC",
        ] {
            assert!(Cron::parse(bad).is_none(), "{bad:?}");
        }
        assert!(Cron::parse("0 0 30 2 *").unwrap().next_after(T).is_none());
        assert_eq!(next("*/4294967295 * * * *", T), "2024-03-15 11:00");
    }

    #[test]
    fn random_input_never_panics() {
        let alphabet: Vec<char> = "0123456789*/,-? @abcdefghijklmnopqrstuvwxyzMONJAN=CRON_TZ"
            .chars()
            .collect();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let len = rng.usize(0..24);
            let s: String = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            if let Some(c) = Cron::parse(&s) {
                let _ = c.next_after(rng.u64(..4_102_444_800_000));
            }
            let _ = crate::qstash::expr::eval(&s, 1.0);
            let _ = crate::qstash::expr::duration_ms(&s);
            let _ = crate::qstash::expr::retry_after_ms(&s, 0);
        }
    }
}
