//! Evaluating compiled expressions. A [`Scope`] says where field values come from: a log event
//! ([`Env`]), a stats row ([`RowScope`]) or a group's aggregations ([`AggScope`]).
//!
//! [`Env`] is built per pushed record and allocates nothing until the query needs it: the
//! JSON tree is parsed on the first discovered field read, and computed fields are memoised
//! only once one is read.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value as Json;

use super::ast::BinOp;
use super::functions::{self, number_value};
use super::json;
use super::plan::{CExpr, Def, FieldRef, Plan, Sys};
use super::time;
use super::value::{compare, Number, OwnedValue, Value};
use super::Record;

pub(crate) trait Scope<'a> {
    fn field(&mut self, f: &'a FieldRef) -> Value<'a>;
}

pub(crate) fn eval<'a, S: Scope<'a>>(e: &'a CExpr, s: &mut S) -> Value<'a> {
    match e {
        CExpr::Lit(v) => v.as_value(),
        CExpr::Field(f) => s.field(f),
        CExpr::Not(x) => Value::Bool(!eval(x, s).truthy()),
        CExpr::Neg(x) => match eval(x, s).number() {
            Some(Number::Int(i)) => i.checked_neg().map_or(Value::Num(-(i as f64)), Value::Int),
            Some(Number::Float(f)) => Value::Num(-f),
            None => Value::Missing,
        },
        CExpr::And(a, b) => Value::Bool(eval(a, s).truthy() && eval(b, s).truthy()),
        CExpr::Or(a, b) => Value::Bool(eval(a, s).truthy() || eval(b, s).truthy()),
        CExpr::Cmp(op, a, b) => {
            let (l, r) = (eval(a, s), eval(b, s));
            Value::Bool(compare(&l, &r).is_some_and(|o| holds(*op, o)))
        }
        CExpr::Arith(op, a, b) => {
            let (l, r) = (eval(a, s), eval(b, s));
            match (l.number(), r.number()) {
                (Some(x), Some(y)) => arith(*op, x, y),
                _ => Value::Missing,
            }
        }
        CExpr::Match {
            expr,
            regex,
            negated,
        } => {
            // A missing field matches neither `like` nor `not like`.
            let v = eval(expr, s);
            Value::Bool(
                v.with_str(|t| regex.is_match(t) != *negated)
                    .unwrap_or(false),
            )
        }
        CExpr::In {
            expr,
            list,
            negated,
        } => {
            let v = eval(expr, s);
            if v.is_missing() {
                return Value::Bool(false);
            }
            let found = list
                .iter()
                .any(|item| compare(&v, &eval(item, s)) == Some(Ordering::Equal));
            Value::Bool(found != *negated)
        }
        CExpr::Call(f, args) => {
            if args.len() <= 4 {
                // Up to four arguments live on the stack: no allocation per record.
                let mut buf: [Value<'a>; 4] = [
                    Value::Missing,
                    Value::Missing,
                    Value::Missing,
                    Value::Missing,
                ];
                for (slot, a) in buf.iter_mut().zip(args) {
                    *slot = eval(a, s);
                }
                functions::call(*f, &mut buf[..args.len()])
            } else {
                let mut vals: Vec<Value<'a>> = args.iter().map(|a| eval(a, s)).collect();
                functions::call(*f, &mut vals)
            }
        }
        CExpr::Floor(x, span) => match eval(x, s).number() {
            Some(n) => Value::Time(time::floor(n.f64() as i64, *span)),
            None => Value::Missing,
        },
        CExpr::Ceil(x, span) => match eval(x, s).number() {
            Some(n) => Value::Time(time::ceil(n.f64() as i64, *span)),
            None => Value::Missing,
        },
    }
}

fn holds(op: BinOp, o: Ordering) -> bool {
    match op {
        BinOp::Eq => o == Ordering::Equal,
        BinOp::Ne => o != Ordering::Equal,
        BinOp::Lt => o == Ordering::Less,
        BinOp::Le => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        BinOp::Ge => o != Ordering::Less,
        _ => false,
    }
}

/// Integer arithmetic stays integral while it fits; division and powers are floating.
fn arith<'a>(op: BinOp, x: Number, y: Number) -> Value<'a> {
    if let (Number::Int(a), Number::Int(b)) = (x, y) {
        let exact = match op {
            BinOp::Add => a.checked_add(b),
            BinOp::Sub => a.checked_sub(b),
            BinOp::Mul => a.checked_mul(b),
            BinOp::Mod if b == 0 => return Value::Missing,
            BinOp::Mod => a.checked_rem(b),
            _ => None,
        };
        if let Some(v) = exact {
            return Value::Int(v);
        }
    }
    let (a, b) = (x.f64(), y.f64());
    let v = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div if b == 0.0 => return Value::Missing,
        BinOp::Div => a / b,
        BinOp::Mod if b == 0.0 => return Value::Missing,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        _ => return Value::Missing,
    };
    if v.is_finite() {
        number_value(Number::Float(v))
    } else {
        Value::Missing
    }
}

/// One log event while a query looks at it.
pub(crate) struct Env<'a> {
    plan: &'a Plan,
    rec: Record<'a>,
    /// `None` until a discovered field is read; then the message's JSON, if it is JSON.
    json: Option<Option<Json>>,
    /// Memoised computed fields, sized on first use.
    slots: Vec<Option<Value<'a>>>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(plan: &'a Plan, rec: Record<'a>) -> Self {
        Env {
            plan,
            rec,
            json: None,
            slots: Vec::new(),
        }
    }

    fn json_field(&mut self, path: &str) -> Value<'a> {
        let message = self.rec.message;
        let tree = self
            .json
            .get_or_insert_with(|| json::parse_message(message));
        match tree {
            Some(t) => json::lookup(t, path).map_or(Value::Missing, json::to_value),
            None => Value::Missing,
        }
    }

    fn slot(&mut self, i: usize) -> Value<'a> {
        if self.slots.is_empty() {
            self.slots.resize(self.plan.defs.len(), None);
        }
        if let Some(v) = &self.slots[i] {
            return v.clone();
        }
        let plan: &'a Plan = self.plan;
        match &plan.defs[i] {
            Def::Expr(e) => {
                let v = eval(e, self);
                self.slots[i] = Some(v.clone());
                v
            }
            Def::Parse(stage) => {
                self.run_parse(*stage);
                self.slots[i].clone().unwrap_or(Value::Missing)
            }
        }
    }

    /// Runs a parse stage once and fills all the fields it extracts (missing when the value
    /// does not match: the parse page keeps such events, without the fields).
    fn run_parse(&mut self, stage: usize) {
        let plan: &'a Plan = self.plan;
        let st = &plan.parses[stage];
        let source = eval(&st.source, self);
        for &(_, slot) in &st.targets {
            self.slots[slot] = Some(Value::Missing);
        }
        match source {
            Value::Missing => {}
            Value::Str(Cow::Borrowed(text)) => {
                if let Some(caps) = st.regex.captures(text) {
                    for &(group, slot) in &st.targets {
                        if let Some(m) = caps.get(group) {
                            self.slots[slot] = Some(Value::Str(Cow::Borrowed(m.as_str())));
                        }
                    }
                }
            }
            other => {
                let text = other.to_string();
                if let Some(caps) = st.regex.captures(&text) {
                    for &(group, slot) in &st.targets {
                        if let Some(m) = caps.get(group) {
                            self.slots[slot] = Some(Value::Str(Cow::Owned(m.as_str().to_string())));
                        }
                    }
                }
            }
        }
    }
}

impl<'a> Scope<'a> for Env<'a> {
    fn field(&mut self, f: &'a FieldRef) -> Value<'a> {
        let r = &self.rec;
        match f {
            FieldRef::Sys(s) => match s {
                Sys::Timestamp => Value::Time(r.timestamp),
                Sys::IngestionTime => Value::Time(r.ingestion_time),
                Sys::Message => Value::Str(Cow::Borrowed(r.message)),
                Sys::LogStream => Value::Str(Cow::Borrowed(r.log_stream)),
                Sys::Log => Value::Str(Cow::Borrowed(r.log_group)),
                Sys::Ptr => Value::Str(Cow::Borrowed(r.ptr)),
            },
            FieldRef::Json(path) => self.json_field(path),
            FieldRef::Slot(i) => self.slot(*i),
            FieldRef::Column(_) | FieldRef::Agg(_) | FieldRef::Absent => Value::Missing,
        }
    }
}

/// A stats row: its columns, and the fields defined after stats.
pub(crate) struct RowScope<'a> {
    pub row: &'a [OwnedValue],
    pub defs: &'a [CExpr],
}

impl<'a> Scope<'a> for RowScope<'a> {
    fn field(&mut self, f: &'a FieldRef) -> Value<'a> {
        match f {
            FieldRef::Column(k) => self
                .row
                .get(*k)
                .map_or(Value::Missing, OwnedValue::as_value),
            FieldRef::Slot(i) => {
                let defs = self.defs;
                defs.get(*i).map_or(Value::Missing, |e| eval(e, self))
            }
            _ => Value::Missing,
        }
    }
}

/// A group's aggregation results and the columns of its stats row built so far.
pub(crate) struct AggScope<'a> {
    pub row: &'a [OwnedValue],
    pub results: &'a [OwnedValue],
}

impl<'a> Scope<'a> for AggScope<'a> {
    fn field(&mut self, f: &'a FieldRef) -> Value<'a> {
        let v = match f {
            FieldRef::Column(k) => self.row.get(*k),
            FieldRef::Agg(j) => self.results.get(*j),
            _ => None,
        };
        v.map_or(Value::Missing, OwnedValue::as_value)
    }
}
