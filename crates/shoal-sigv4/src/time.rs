//! The `X-Amz-Date` timestamp format, `yyyymmddThhmmssZ` in UTC (ISO 8601 basic
//! format), as described in
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>.
//! Conversions use Howard Hinnant's civil-from-days algorithms
//! (<https://howardhinnant.github.io/date_algorithms.html>) so no date crate is needed.

const SECS_PER_DAY: i64 = 86_400;
/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range the 4-digit year can show.
const MIN_EPOCH: i64 = -62_167_219_200;
const MAX_EPOCH: i64 = 253_402_300_799;

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Format epoch seconds as `yyyymmddThhmmssZ`.
///
/// Times outside years 0000–9999 are clamped to that range, because the format
/// has exactly four year digits and callers rely on the fixed 16-byte length.
pub fn format_amz_date(epoch_secs: i64) -> String {
    let secs = epoch_secs.clamp(MIN_EPOCH, MAX_EPOCH);
    let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    let tod = secs.rem_euclid(SECS_PER_DAY);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )
}

/// Format epoch seconds as ISO 8601 in UTC, `yyyy-mm-ddThh:mm:ssZ`: the other AWS wire form of
/// a time (IAM's `aws:CurrentTime`), clamped like [`format_amz_date`].
pub fn format_iso8601(epoch_secs: i64) -> String {
    let compact = format_amz_date(epoch_secs);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &compact[0..4],
        &compact[4..6],
        &compact[6..8],
        &compact[9..11],
        &compact[11..13],
        &compact[13..15]
    )
}

/// Parse `yyyymmddThhmmssZ` into epoch seconds; `None` unless it is exactly that
/// shape and a real calendar time.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_is_the_same_instant() {
        assert_eq!(format_iso8601(1_577_836_801), "2020-01-01T00:00:01Z");
        assert_eq!(format_iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn test_suite_date_round_trips() {
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
    }

    #[test]
    fn epoch_and_leap_days() {
        assert_eq!(format_amz_date(0), "19700101T000000Z");
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(format_amz_date(-1), "19691231T235959Z");
        assert_eq!(parse_amz_date("20000229T000000Z"), Some(951_782_400));
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(1_709_251_199));
        assert_eq!(parse_amz_date("19000229T000000Z"), None);
        assert_eq!(parse_amz_date("20230229T000000Z"), None);
    }

    #[test]
    fn round_trip_over_many_days() {
        let mut t = -5_000_000_000i64;
        while t < 10_000_000_000 {
            assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t), "{t}");
            t += 7_777_777;
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015083OT123600Z",
            "20151330T123600Z",
            "20150832T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "20150830T123600Z0",
            "+0150830T123600Z",
            "2015-08-30T12:36:00Z",
            "٢٠١٥0830T123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn extremes_clamp_instead_of_overflowing() {
        assert_eq!(format_amz_date(i64::MAX), "99991231T235959Z");
        assert_eq!(format_amz_date(i64::MIN), "00000101T000000Z");
    }
}
