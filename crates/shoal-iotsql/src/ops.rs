//! The operators' tables (iot-sql-operators.html): what each gives for each pair of operand
//! types. Any operand that is Undefined, or a pair the table does not list, gives Undefined.

use crate::ast::BinaryOp;
use crate::value::{Num, Value};

pub(crate) fn binary(op: BinaryOp, l: &Value, r: &Value) -> Value {
    match op {
        BinaryOp::And => and(l, r),
        BinaryOp::Or => or(l, r),
        BinaryOp::Eq => match equals(l, r) {
            Some(b) => Value::Bool(b),
            None => Value::Undefined,
        },
        BinaryOp::Ne => match equals(l, r) {
            Some(b) => Value::Bool(!b),
            None => Value::Undefined,
        },
        BinaryOp::Lt => compare(l, r, |o| o.is_lt()),
        BinaryOp::Le => compare(l, r, |o| o.is_le()),
        BinaryOp::Gt => compare(l, r, |o| o.is_gt()),
        BinaryOp::Ge => compare(l, r, |o| o.is_ge()),
        BinaryOp::Add => add(l, r),
        BinaryOp::In => member_of(l, r),
        BinaryOp::Contains => contains(l, r),
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
            match (l.to_number(), r.to_number()) {
                (Some(a), Some(b)) => arithmetic(op, a, b),
                _ => Value::Undefined,
            }
        }
    }
}

/// AND on Booleans or "true"/"false" strings. A false side decides the result even when the
/// other is not a Boolean (SQL's three-valued logic); otherwise a non-Boolean gives Undefined.
fn and(l: &Value, r: &Value) -> Value {
    match (l.to_bool(), r.to_bool()) {
        (Some(false), _) | (_, Some(false)) => Value::Bool(false),
        (Some(true), Some(true)) => Value::Bool(true),
        _ => Value::Undefined,
    }
}

/// OR, with a true side deciding the result (three-valued logic).
fn or(l: &Value, r: &Value) -> Value {
    match (l.to_bool(), r.to_bool()) {
        (Some(true), _) | (_, Some(true)) => Value::Bool(true),
        (Some(false), Some(false)) => Value::Bool(false),
        _ => Value::Undefined,
    }
}

pub(crate) fn not(v: &Value) -> Value {
    v.to_bool().map_or(Value::Undefined, |b| Value::Bool(!b))
}

pub(crate) fn negate(v: &Value) -> Value {
    match v {
        Value::Int(i) => i
            .checked_neg()
            .map_or(Value::Decimal(-(*i as f64)), Value::Int),
        other => other
            .to_decimal()
            .map_or(Value::Undefined, |d| Value::Decimal(-d)),
    }
}

/// `=`: None when either side is Undefined; Int and Decimal compare as numbers; arrays item by
/// item in order; objects key by key in any order; mismatched types are unequal.
pub(crate) fn equals(l: &Value, r: &Value) -> Option<bool> {
    if l.is_undefined() || r.is_undefined() {
        return None;
    }
    Some(same(l, r))
}

fn same(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            l.to_decimal() == r.to_decimal()
        }
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Null, Value::Null) => true,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Bytes(a), Value::Bytes(b)) => a == b,
        _ => false,
    }
}

/// `item IN array`: whether an element of the array equals the item, as `=` compares
/// (`3 IN [3.0]` is true; the array may mix types: AWS's example finds 3 in
/// `[1, 2, 3, "three", 5.7, null]`). The table lists an Int, Decimal, String, Array or Object
/// on the left and an Array on the right; any other pair, Undefined on either side included,
/// is one the table does not list and gives Undefined, as everywhere on the page.
fn member_of(item: &Value, array: &Value) -> Value {
    match array {
        Value::Array(items) if in_operand(item) => Value::Bool(items.iter().any(|x| same(item, x))),
        _ => Value::Undefined,
    }
}

/// The left operands the IN table lists, which are the right operands CONTAINS looks for in
/// an array.
fn in_operand(v: &Value) -> bool {
    matches!(
        v,
        Value::Int(_) | Value::Decimal(_) | Value::String(_) | Value::Array(_) | Value::Object(_)
    )
}

/// `string CONTAINS substring` (case-sensitive, as `=` is) or `array CONTAINS item` (IN read
/// the other way round). Any pair the table does not list gives Undefined.
fn contains(l: &Value, r: &Value) -> Value {
    match (l, r) {
        (Value::String(s), Value::String(sub)) => Value::Bool(s.contains(sub.as_str())),
        (Value::Array(_), _) => member_of(r, l),
        _ => Value::Undefined,
    }
}

/// `<`, `<=`, `>`, `>=`: both operands converted to Decimal (strings that hold numbers
/// included); Ints compare exactly.
fn compare(l: &Value, r: &Value, test: fn(std::cmp::Ordering) -> bool) -> Value {
    let ordering = match (l.to_number(), r.to_number()) {
        (Some(Num::Int(a)), Some(Num::Int(b))) => Some(a.cmp(&b)),
        (Some(a), Some(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        _ => None,
    };
    ordering.map_or(Value::Undefined, |o| Value::Bool(test(o)))
}

/// `+`: a String on either side makes it a concatenation of both sides' string forms
/// (`'5' + 1` is `"51"`); otherwise addition of Int/Decimal.
fn add(l: &Value, r: &Value) -> Value {
    if matches!(l, Value::String(_)) || matches!(r, Value::String(_)) {
        return match (l.to_sql_string(), r.to_sql_string()) {
            (Some(a), Some(b)) => Value::String(a + &b),
            _ => Value::Undefined,
        };
    }
    match (l, r) {
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            match (l.to_number(), r.to_number()) {
                (Some(a), Some(b)) => arithmetic(crate::ast::BinaryOp::Add, a, b),
                _ => Value::Undefined,
            }
        }
        _ => Value::Undefined,
    }
}

/// Int with Int stays Int (division truncates, as AWS's `(50 - 32) * 5 / 9` = 10 shows);
/// anything with a Decimal (or a converted string) is Decimal. Division or remainder by zero,
/// and results that are not finite, are Undefined.
pub(crate) fn arithmetic(op: BinaryOp, a: Num, b: Num) -> Value {
    if let (Num::Int(x), Num::Int(y)) = (a, b) {
        let exact = match op {
            BinaryOp::Add => x.checked_add(y),
            BinaryOp::Sub => x.checked_sub(y),
            BinaryOp::Mul => x.checked_mul(y),
            BinaryOp::Div | BinaryOp::Mod if y == 0 => return Value::Undefined,
            BinaryOp::Div => x.checked_div(y),
            BinaryOp::Mod => x.checked_rem(y),
            _ => return Value::Undefined,
        };
        if let Some(i) = exact {
            return Value::Int(i);
        }
    }
    let (x, y) = (a.as_f64(), b.as_f64());
    let d = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div | BinaryOp::Mod if y == 0.0 => return Value::Undefined,
        BinaryOp::Div => x / y,
        BinaryOp::Mod => x % y,
        _ => return Value::Undefined,
    };
    if d.is_finite() {
        Value::Decimal(d)
    } else {
        Value::Undefined
    }
}
