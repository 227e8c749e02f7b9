//! Field values while a query runs, and the three ways they are compared: `=`/`<` in
//! expressions, the natural order of `sort`, and equality for `dedup` and `stats ... by`.
//!
//! GetQueryResults returns every value as a string
//! (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_ResultField.html>):
//! numbers print without a trailing `.0`, timestamps as `2019-09-12 18:07:31.000`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use super::time::Timestamp;

/// A value borrowed from the record or the query where it can be, so filtering a log event
/// copies nothing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    /// The field is not in this log event.
    Missing,
    Bool(bool),
    Int(i64),
    Num(f64),
    /// Milliseconds since the epoch (`@timestamp`, `@ingestionTime`, `bin()`).
    Time(i64),
    Str(Cow<'a, str>),
}

/// A value kept past its log event: a sort key, a group key, a stats column.
#[derive(Debug, Clone)]
pub(crate) enum OwnedValue {
    Missing,
    Bool(bool),
    Int(i64),
    Num(f64),
    Time(i64),
    Str(String),
}

/// A number read from a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub(crate) fn f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    pub(crate) fn cmp(self, other: Number) -> Ordering {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(&b),
            (a, b) => a.f64().total_cmp(&b.f64()),
        }
    }
}

/// A string holding only a number ("Number values are values that include only numbers",
/// the sort page); `inf`, `nan` and blanks are not numbers.
pub(crate) fn parse_number(s: &str) -> Option<Number> {
    let b = s.as_bytes();
    if b.is_empty()
        || !b.iter().any(u8::is_ascii_digit)
        || !b
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::Int(i));
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Number::Float)
}

impl Value<'_> {
    pub(crate) fn is_missing(&self) -> bool {
        matches!(self, Value::Missing)
    }

    /// The value as a number: numbers, times, booleans (1 or 0) and numeric strings.
    pub(crate) fn number(&self) -> Option<Number> {
        match self {
            Value::Int(i) | Value::Time(i) => Some(Number::Int(*i)),
            Value::Num(f) => Some(Number::Float(*f)),
            Value::Bool(b) => Some(Number::Int(i64::from(*b))),
            Value::Str(s) => parse_number(s),
            Value::Missing => None,
        }
    }

    /// Calls `f` with the value's text (borrowed for strings, printed otherwise); `None` when
    /// the field is missing.
    pub(crate) fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> Option<R> {
        match self {
            Value::Missing => None,
            Value::Str(s) => Some(f(s)),
            other => Some(f(&other.to_string())),
        }
    }

    /// The value's text, owned only when it must be.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Missing => None,
            Value::Str(s) => Some(Cow::Borrowed(s)),
            other => Some(Cow::Owned(other.to_string())),
        }
    }

    /// Whether a filter keeps a log event with this value.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Value::Missing => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Num(f) => *f != 0.0 && !f.is_nan(),
            Value::Time(_) => true,
            Value::Str(s) => !s.is_empty(),
        }
    }

    pub(crate) fn to_owned_value(&self) -> OwnedValue {
        match self {
            Value::Missing => OwnedValue::Missing,
            Value::Bool(b) => OwnedValue::Bool(*b),
            Value::Int(i) => OwnedValue::Int(*i),
            Value::Num(f) => OwnedValue::Num(*f),
            Value::Time(t) => OwnedValue::Time(*t),
            Value::Str(s) => OwnedValue::Str(s.to_string()),
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Num(n) => write_f64(f, *n),
            Value::Time(t) => Timestamp(*t).fmt(f),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// Shortest text that reads back as the same number, without a trailing `.0`.
fn write_f64(f: &mut fmt::Formatter<'_>, n: f64) -> fmt::Result {
    if n == 0.0 {
        f.write_str("0")
    } else if n.is_nan() {
        f.write_str("NaN")
    } else if n.is_infinite() {
        f.write_str(if n > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        write!(f, "{n}")
    }
}

impl OwnedValue {
    pub(crate) fn as_value(&self) -> Value<'_> {
        match self {
            OwnedValue::Missing => Value::Missing,
            OwnedValue::Bool(b) => Value::Bool(*b),
            OwnedValue::Int(i) => Value::Int(*i),
            OwnedValue::Num(f) => Value::Num(*f),
            OwnedValue::Time(t) => Value::Time(*t),
            OwnedValue::Str(s) => Value::Str(Cow::Borrowed(s)),
        }
    }

    /// Overwrites `self` with `v`, reusing a string's buffer: the top-N keeps its entries'
    /// allocations as better rows replace worse ones.
    pub(crate) fn assign(&mut self, v: &Value<'_>) {
        if let (OwnedValue::Str(buf), Value::Str(s)) = (&mut *self, v) {
            buf.clear();
            buf.push_str(s);
            return;
        }
        *self = v.to_owned_value();
    }
}

impl PartialEq for OwnedValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (OwnedValue::Missing, OwnedValue::Missing) => true,
            (OwnedValue::Bool(a), OwnedValue::Bool(b)) => a == b,
            (OwnedValue::Int(a), OwnedValue::Int(b))
            | (OwnedValue::Time(a), OwnedValue::Time(b)) => a == b,
            (OwnedValue::Num(a), OwnedValue::Num(b)) => float_key(*a) == float_key(*b),
            (OwnedValue::Str(a), OwnedValue::Str(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for OwnedValue {}

impl Hash for OwnedValue {
    fn hash<H: Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            OwnedValue::Missing => {}
            OwnedValue::Bool(b) => b.hash(h),
            OwnedValue::Int(i) | OwnedValue::Time(i) => i.hash(h),
            OwnedValue::Num(f) => float_key(*f).hash(h),
            OwnedValue::Str(s) => s.hash(h),
        }
    }
}

/// Bits of a float with both zeros made one, for hashing.
fn float_key(f: f64) -> u64 {
    if f == 0.0 {
        0
    } else {
        f.to_bits()
    }
}

/// `a <op> b` in a filter: numbers (and strings holding numbers, against a number) compare as
/// numbers, other strings as text. `None` when either side is missing, which makes every
/// comparison false.
pub(crate) fn compare(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    if a.is_missing() || b.is_missing() {
        return None;
    }
    let typed = |v: &Value<'_>| !matches!(v, Value::Str(_));
    if typed(a) || typed(b) {
        if let (Some(x), Some(y)) = (a.number(), b.number()) {
            return Some(x.cmp(y));
        }
    }
    let (x, y) = (a.text()?, b.text()?);
    Some(x.as_ref().cmp(y.as_ref()))
}

/// The order of `sort ... asc` (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Sort.html>):
/// every non-number before every number; numbers by value; other text in chunks, runs of
/// digits compared by length then value and other runs by Unicode order. Missing values are
/// the caller's business.
pub(crate) fn natural_cmp(a: &Value<'_>, b: &Value<'_>) -> Ordering {
    let num = |v: &Value<'_>| match v {
        Value::Str(s) => parse_number(s),
        other => other.number(),
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => match (a.text(), b.text()) {
            (Some(x), Some(y)) => chunked_cmp(&x, &y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        },
    }
}

fn chunked_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let (ca, ra) = split_chunk(a);
        let (cb, rb) = split_chunk(b);
        let digits = |s: &str| s.as_bytes()[0].is_ascii_digit();
        let ord = if digits(ca) && digits(cb) {
            ca.len().cmp(&cb.len()).then_with(|| ca.cmp(cb))
        } else {
            ca.cmp(cb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        (a, b) = (ra, rb);
    }
}

/// The leading run of digits, or of non-digits, and the rest.
fn split_chunk(s: &str) -> (&str, &str) {
    let digit = s.as_bytes()[0].is_ascii_digit();
    let end = s
        .bytes()
        .position(|c| c.is_ascii_digit() != digit)
        .unwrap_or(s.len());
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(t))
    }

    #[test]
    fn sort_order_matches_the_documented_example() {
        // The ascending example of the sort page.
        let expected = [
            "!:",
            "#",
            "*%04",
            "0#",
            "5A",
            "111A",
            "2345_",
            "@",
            "@_",
            "A",
            "A9876fghj",
            "a12345hfh",
            "0",
            "1",
            "2",
            "3",
        ];
        let mut shuffled: Vec<&str> = expected.iter().rev().copied().collect();
        shuffled.sort_by(|a, b| natural_cmp(&s(a), &s(b)));
        assert_eq!(shuffled, expected);
    }

    #[test]
    fn numbers_print_without_trailing_zero() {
        assert_eq!(Value::Num(3.0).to_string(), "3");
        assert_eq!(Value::Num(2.5).to_string(), "2.5");
        assert_eq!(Value::Num(-0.0).to_string(), "0");
        assert_eq!(Value::Int(-7).to_string(), "-7");
        assert_eq!(
            Value::Time(1_568_311_651_000).to_string(),
            "2019-09-12 18:07:31.000"
        );
    }

    #[test]
    fn comparisons_coerce_numeric_strings_only_against_numbers() {
        assert_eq!(compare(&s("200"), &Value::Int(200)), Some(Ordering::Equal));
        assert_eq!(compare(&s("10"), &s("9")), Some(Ordering::Less));
        assert_eq!(
            compare(&Value::Num(3500.5), &Value::Int(3000)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&Value::Missing, &Value::Int(1)), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("1e3"), Some(Number::Float(1000.0)));
    }
}
