//! Timestamps as GetQueryResults prints them (`2019-09-12 18:07:31.000`, UTC) and the periods
//! of `bin()`, `datefloor()` and `dateceil()`.
//!
//! Units follow the stats page
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Stats.html>):
//! ms, s, m, h, d, w, mo, q, y, their long names, and a plural `s` on any name longer than one
//! character. Weeks are seven-day spans counted from the epoch; months, quarters and years
//! follow the calendar.

use std::fmt;

use super::ast::Period;

const DAY_MS: i64 = 86_400_000;

/// How long a period is: a fixed number of milliseconds or a number of calendar months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    Millis(i64),
    Months(i64),
}

/// The span of `amount` of `unit`, or `None` for an unknown unit or a zero amount.
pub(crate) fn span(p: &Period) -> Option<Span> {
    if p.amount == 0 {
        return None;
    }
    let unit = p.unit.to_ascii_lowercase();
    let single = match unit.as_str() {
        "ms" | "msec" | "millisecond" => Span::Millis(1),
        "s" | "sec" | "second" => Span::Millis(1000),
        "m" | "min" | "minute" => Span::Millis(60_000),
        "h" | "hr" | "hour" => Span::Millis(3_600_000),
        "d" | "day" => Span::Millis(DAY_MS),
        "w" | "week" => Span::Millis(7 * DAY_MS),
        "mo" | "mon" | "month" => Span::Months(1),
        "q" | "qtr" | "quarter" => Span::Months(3),
        "y" | "yr" | "year" => Span::Months(12),
        // Plurals: `mins`, `hrs`, `days`... (but not `ss` or `ms`, which is milliseconds).
        plural if plural.len() > 2 && plural.ends_with('s') => {
            let one = Period {
                amount: 1,
                unit: plural[..plural.len() - 1].to_string(),
            };
            return span(&one).and_then(|s| scale(s, p.amount));
        }
        _ => return None,
    };
    scale(single, p.amount)
}

fn scale(s: Span, amount: u64) -> Option<Span> {
    let n = i64::try_from(amount).ok()?;
    match s {
        Span::Millis(ms) => ms.checked_mul(n).map(Span::Millis),
        Span::Months(m) => m.checked_mul(n).map(Span::Months),
    }
}

/// The start of the period holding `ms`.
pub(crate) fn floor(ms: i64, s: Span) -> i64 {
    match s {
        Span::Millis(p) => ms.div_euclid(p) * p,
        Span::Months(p) => {
            let (y, m, _) = civil(ms.div_euclid(DAY_MS));
            let months = (y - 1970) * 12 + (m as i64 - 1);
            let start = months.div_euclid(p) * p;
            days_from_civil(
                1970 + start.div_euclid(12),
                (start.rem_euclid(12) + 1) as u32,
                1,
            ) * DAY_MS
        }
    }
}

/// The end of the period holding `ms` (`ms` itself when it starts a period).
pub(crate) fn ceil(ms: i64, s: Span) -> i64 {
    let f = floor(ms, s);
    if f == ms {
        return ms;
    }
    match s {
        Span::Millis(p) => f.saturating_add(p),
        Span::Months(p) => {
            let (y, m, _) = civil(f.div_euclid(DAY_MS));
            let next = (y - 1970) * 12 + (m as i64 - 1) + p;
            days_from_civil(
                1970 + next.div_euclid(12),
                (next.rem_euclid(12) + 1) as u32,
                1,
            ) * DAY_MS
        }
    }
}

/// Writes `ms` since the epoch as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
pub(crate) struct Timestamp(pub i64);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(DAY_MS);
        let in_day = self.0.rem_euclid(DAY_MS);
        let (y, m, d) = civil(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000
        )
    }
}

/// Year, month and day of a day count from 1970-01-01 (proleptic Gregorian). Days are counted
/// in 400-year eras of 146,097 days, with years starting on 1 March so the leap day ends them.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The inverse of [`civil`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(amount: u64, unit: &str) -> Period {
        Period {
            amount,
            unit: unit.into(),
        }
    }

    #[test]
    fn formats_like_get_query_results() {
        assert_eq!(
            Timestamp(1_568_311_651_000).to_string(),
            "2019-09-12 18:07:31.000"
        );
        assert_eq!(Timestamp(0).to_string(), "1970-01-01 00:00:00.000");
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31 23:59:59.999");
        assert_eq!(
            Timestamp(951_782_400_123).to_string(),
            "2000-02-29 00:00:00.123"
        );
    }

    #[test]
    fn civil_round_trips() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn units_and_plurals() {
        assert_eq!(span(&p(5, "m")), Some(Span::Millis(300_000)));
        assert_eq!(span(&p(2, "mins")), Some(Span::Millis(120_000)));
        assert_eq!(span(&p(1, "hrs")), Some(Span::Millis(3_600_000)));
        assert_eq!(span(&p(3, "ms")), Some(Span::Millis(3)));
        assert_eq!(span(&p(1, "q")), Some(Span::Months(3)));
        assert_eq!(span(&p(1, "years")), Some(Span::Months(12)));
        assert_eq!(span(&p(1, "parsec")), None);
        assert_eq!(span(&p(0, "m")), None);
    }

    #[test]
    fn calendar_floor_and_ceil() {
        // 2019-09-12 18:07:31 → month starts 2019-09-01, quarter 2019-07-01, year 2019-01-01.
        let t = 1_568_311_651_000;
        assert_eq!(
            Timestamp(floor(t, Span::Months(1))).to_string(),
            "2019-09-01 00:00:00.000"
        );
        assert_eq!(
            Timestamp(floor(t, Span::Months(3))).to_string(),
            "2019-07-01 00:00:00.000"
        );
        assert_eq!(
            Timestamp(floor(t, Span::Months(12))).to_string(),
            "2019-01-01 00:00:00.000"
        );
        assert_eq!(
            Timestamp(ceil(t, Span::Months(1))).to_string(),
            "2019-10-01 00:00:00.000"
        );
        assert_eq!(
            Timestamp(floor(t, Span::Millis(300_000))).to_string(),
            "2019-09-12 18:05:00.000"
        );
        assert_eq!(
            Timestamp(ceil(t, Span::Millis(300_000))).to_string(),
            "2019-09-12 18:10:00.000"
        );
    }
}
