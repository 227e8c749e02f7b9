//! Instants for the `Date...` condition operators.
//!
//! IAM accepts dates in the W3C profile of ISO 8601 or as epoch (UNIX) time
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date>),
//! both in the policy and in the request (`aws:CurrentTime` is ISO 8601,
//! `aws:EpochTime` is epoch seconds). Both become milliseconds since the
//! epoch; parsing allocates nothing, since it runs during evaluation.

/// Milliseconds since 1970-01-01T00:00:00Z.
pub(crate) fn parse_instant(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_epoch(text);
    }
    parse_iso8601(text)
}

fn parse_epoch(text: &str) -> Option<i64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let seconds: i64 = whole.parse().ok()?;
    let millis = fraction_millis(fraction)?;
    seconds.checked_mul(1000)?.checked_add(millis)
}

/// The first three digits of a decimal fraction, as milliseconds.
fn fraction_millis(fraction: &str) -> Option<i64> {
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut millis = 0i64;
    let mut scale = 100;
    for b in fraction.bytes().take(3) {
        millis += i64::from(b - b'0') * scale;
        scale /= 10;
    }
    Some(millis)
}

/// `YYYY[-MM[-DD[Thh:mm[:ss[.s+]][Z|±hh:mm]]]]`; a missing zone means UTC.
fn parse_iso8601(text: &str) -> Option<i64> {
    let mut s = Cursor(text.as_bytes());
    let year = s.digits(4)?;
    let (mut month, mut day) = (1, 1);
    let (mut hour, mut minute, mut second, mut millis) = (0, 0, 0, 0);
    let mut offset_minutes = 0i64;
    if s.eat(b'-') {
        month = s.digits(2)?;
        if s.eat(b'-') {
            day = s.digits(2)?;
            if s.eat(b'T') || s.eat(b't') {
                hour = s.digits(2)?;
                s.expect(b':')?;
                minute = s.digits(2)?;
                if s.eat(b':') {
                    second = s.digits(2)?;
                    if s.eat(b'.') {
                        let start = s.0;
                        let n = start.iter().take_while(|b| b.is_ascii_digit()).count();
                        let fraction = std::str::from_utf8(start.get(..n)?).ok()?;
                        if n == 0 {
                            return None;
                        }
                        millis = fraction_millis(fraction)?;
                        s.0 = start.get(n..)?;
                    }
                }
                let utc = s.eat(b'Z') || s.eat(b'z');
                if let Some(sign) = if utc { None } else { s.sign() } {
                    let h = s.digits(2)?;
                    s.expect(b':')?;
                    let m = s.digits(2)?;
                    if h > 23 || m > 59 {
                        return None;
                    }
                    offset_minutes = sign * (h * 60 + m);
                }
            }
        }
    }
    if !s.0.is_empty()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn eat(&mut self, b: u8) -> bool {
        match self.0.split_first() {
            Some((first, rest)) if *first == b => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    fn sign(&mut self) -> Option<i64> {
        if self.eat(b'+') {
            Some(1)
        } else if self.eat(b'-') {
            Some(-1)
        } else {
            None
        }
    }

    fn digits(&mut self, n: usize) -> Option<i64> {
        let (head, rest) = self.0.split_at_checked(n)?;
        let mut value = 0i64;
        for b in head {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(b - b'0');
        }
        self.0 = rest;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_instant("0"), Some(0));
        assert_eq!(parse_instant("1577836801"), Some(1_577_836_801_000));
        assert_eq!(
            parse_instant("2020-01-01T00:00:01Z"),
            Some(1_577_836_801_000)
        );
        assert_eq!(
            parse_instant("2020-01-01T01:00:01+01:00"),
            Some(1_577_836_801_000)
        );
        assert_eq!(
            parse_instant("2020-01-01T00:00:01.5Z"),
            Some(1_577_836_801_500)
        );
        assert_eq!(parse_instant("2020-01-01"), Some(1_577_836_800_000));
        assert_eq!(parse_instant("2020-03"), Some(1_583_020_800_000));
        assert_eq!(parse_instant("2024-02-29"), Some(1_709_164_800_000));
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "2020-13-01",
            "2023-02-29",
            "2020-01-01T25:00Z",
            "2020-01-01T00:00:00X",
            "2020-01-01T00:00:00.Z",
            "yesterday",
            "1.2.3",
            "2020-01-01T00:00+99:00",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }
}
