//! AWS IoT SQL's values (iot-sql-data-types.html): JSON's types with `Int` and `Decimal` told
//! apart, plus `Undefined`, the non-value a missing field or a failed conversion gives. The
//! standard conversions between them follow the page's "Conversions" tables.
//!
//! Deviation: AWS's `Decimal` has 34 digits; Shoal's is an `f64` (the precision AWS itself
//! uses for its "double precision" functions), and `Int` is an `i64` (an overflowing Int
//! result becomes a Decimal).

use std::collections::BTreeMap;

use serde_json::Number;

use crate::ast::SqlVersion;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Undefined,
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    String(String),
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>),
    /// A payload that is not JSON, as `*` gives it (binary-payloads.html). Only `encode`
    /// and a lone `SELECT *` use it; everything else sees Undefined.
    Bytes(Vec<u8>),
}

impl Value {
    /// A JSON document as SQL values. With 2016-03-23 a whole-number decimal such as `10.0`
    /// is an Int (iot-sql-data-types.html, the note under Decimal).
    pub(crate) fn from_json(v: &serde_json::Value, version: SqlVersion) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => number(n, version),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(|i| Value::from_json(i, version)).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v, version)))
                    .collect(),
            ),
        }
    }

    /// The JSON form, or `None` for Undefined (and binary). Undefined members of arrays and
    /// objects are left out, as AWS serializes `{"foo":null, "bar":undefined}` as
    /// `{"foo":null}`; a non-finite Decimal is Undefined too.
    pub(crate) fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Undefined | Value::Bytes(_) => return None,
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Decimal(d) => serde_json::Value::Number(Number::from_f64(*d)?),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().filter_map(Value::to_json).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect(),
            ),
        })
    }

    pub(crate) fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// The standard conversion to Decimal ("To Decimal" table): numbers, and strings that
    /// match `^-?\d+(\.\d+)?((?i)E-?\d+)?$`. Null, Boolean, Array, Object: none.
    pub(crate) fn to_decimal(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Decimal(d) => Some(*d),
            Value::String(s) => parse_decimal(s),
            _ => None,
        }
    }

    /// A number operand: Int stays Int, anything else convertible becomes Decimal.
    pub(crate) fn to_number(&self) -> Option<Num> {
        match self {
            Value::Int(i) => Some(Num::Int(*i)),
            other => other.to_decimal().map(Num::Dec),
        }
    }

    /// The standard conversion to Int ("To Int"): a Decimal rounds to the nearest Int, a
    /// string is parsed as a Decimal and truncated.
    pub(crate) fn to_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Decimal(d) => f64_to_i64(d.round()),
            Value::String(s) => f64_to_i64(parse_decimal(s)?.trunc()),
            _ => None,
        }
    }

    /// The conversion functions such as `bitand` or `lpad` use: any number rounded down.
    pub(crate) fn to_int_floor(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            other => f64_to_i64(other.to_decimal()?.floor()),
        }
    }

    /// The standard conversion to Boolean ("To Boolean"): booleans, and the strings "true"
    /// and "false" in any case.
    pub(crate) fn to_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The standard conversion to String ("To String"): arrays and objects as JSON; Null and
    /// Undefined have none.
    pub(crate) fn to_sql_string(&self) -> Option<String> {
        match self {
            Value::Undefined | Value::Null | Value::Bytes(_) => None,
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Decimal(d) => Some(decimal_string(*d)),
            Value::String(s) => Some(s.clone()),
            Value::Array(_) | Value::Object(_) => self.to_json().map(|j| j.to_string()),
        }
    }
}

/// A number operand of arithmetic.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Dec(f64),
}

impl Num {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Dec(d) => d,
        }
    }
}

/// A Decimal as text: `2.5`, `10.0` (the point kept, as Java's BigDecimal does), exponent
/// form for very large or small magnitudes.
pub(crate) fn decimal_string(d: f64) -> String {
    if d.is_finite() && d.fract() == 0.0 && d.abs() < 1e16 {
        format!("{d:.1}")
    } else if d != 0.0 && (d.abs() >= 1e16 || d.abs() < 1e-6) {
        format!("{d:E}")
    } else {
        d.to_string()
    }
}

pub(crate) fn f64_to_i64(d: f64) -> Option<i64> {
    // i64::MAX as f64 rounds up to 2^63, which does not fit.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    (-TWO_POW_63..TWO_POW_63).contains(&d).then_some(d as i64)
}

fn number(n: &Number, version: SqlVersion) -> Value {
    if let Some(i) = n.as_i64() {
        return Value::Int(i);
    }
    let d = n.as_f64().unwrap_or(f64::NAN);
    if version.is_v2() && d.fract() == 0.0 {
        if let Some(i) = f64_to_i64(d) {
            return Value::Int(i);
        }
    }
    Value::Decimal(d)
}

/// A Decimal literal typed per version (a whole number is an Int with 2016-03-23).
pub(crate) fn decimal(d: f64, version: SqlVersion) -> Value {
    if version.is_v2() && d.fract() == 0.0 {
        if let Some(i) = f64_to_i64(d) {
            return Value::Int(i);
        }
    }
    Value::Decimal(d)
}

/// Strings AWS converts to Decimal: `^-?\d+(\.\d+)?((?i)E-?\d+)?$`.
pub(crate) fn parse_decimal(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse().ok().filter(|d: &f64| d.is_finite())
}
