//! JSON straight to SQL values and back, without serde_json's own tree in between: a message's
//! payload is read once into the values a statement evaluates, and an output is written from
//! them. Both give exactly what `Value::from_json` of a parsed document and serde_json's
//! writing of `Value::to_json` give (tests/json.rs holds them to it).

use crate::ast::SqlVersion;
use crate::value::{f64_to_i64, Value};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// The payload as SQL values, or `None` when it is not JSON.
pub(crate) fn parse(payload: &[u8], version: SqlVersion) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_slice(payload);
    let v = Seed(version).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

/// A JSON number as `Value::from_json` types it: an Int when it is one, else a Decimal (with
/// 2016-03-23 a whole-number decimal is an Int).
fn decimal(d: f64, version: SqlVersion) -> Value {
    if version.is_v2() && d.fract() == 0.0 {
        if let Some(i) = f64_to_i64(d) {
            return Value::Int(i);
        }
    }
    Value::Decimal(d)
}

#[derive(Clone, Copy)]
struct Seed(SqlVersion);

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => decimal(u as f64, self.0),
        })
    }
    fn visit_f64<E>(self, d: f64) -> Result<Value, E> {
        Ok(decimal(d, self.0))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(self)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = BTreeMap::new();
        // A repeated key keeps its last value, as serde_json's documents do.
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(self)?;
            fields.insert(k, v);
        }
        Ok(Value::Object(fields))
    }
}

/// Writes the JSON form of `v` (what `v.to_json()` would serialize to), leaving out what is
/// Undefined or not finite inside arrays and objects. False (and nothing written) when `v`
/// itself has no JSON form.
pub(crate) fn write(v: &Value, out: &mut Vec<u8>) -> bool {
    match v {
        Value::Undefined | Value::Bytes(_) => return false,
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => {
            let _ = serde_json::to_writer(&mut *out, i);
        }
        Value::Decimal(d) if d.is_finite() => {
            let _ = serde_json::to_writer(&mut *out, d);
        }
        Value::Decimal(_) => return false,
        Value::String(s) => {
            let _ = serde_json::to_writer(&mut *out, s);
        }
        Value::Array(items) => {
            out.push(b'[');
            let mut first = true;
            for item in items {
                if !has_json(item) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                write(item, out);
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            let mut first = true;
            for (k, item) in fields {
                if !has_json(item) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write(item, out);
            }
            out.push(b'}');
        }
    }
    true
}

fn has_json(v: &Value) -> bool {
    match v {
        Value::Undefined | Value::Bytes(_) => false,
        Value::Decimal(d) => d.is_finite(),
        _ => true,
    }
}
