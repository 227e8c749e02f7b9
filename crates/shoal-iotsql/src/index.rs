//! An index over many statements' WHERE clauses, so a message is evaluated in full only by the
//! rules it may match. A WHERE that is `A AND B AND ...` can be true only if each conjunct is;
//! a conjunct `path OP literal` (OP one of `=`, `<`, `<=`, `>`, `>=`; a numeric literal, or a
//! string one for `=`) is looked up per message once for all the statements that use that
//! path: equality in a hash map, ranges by binary search over sorted bounds. The index only
//! ever leaves out a statement whose WHERE cannot be true (the operators' tables: an Undefined
//! field, or one of another type, makes the conjunct Undefined or false); what it keeps is
//! evaluated in full, so its answers are exactly the evaluator's. Statements without such a
//! conjunct are always candidates. A statement's SET clause changes nothing here: its variables
//! are evaluated before WHERE, but a conjunct on a payload path is still false or Undefined
//! whatever they hold, and a conjunct on a variable is not indexed.

use crate::ast::{BinaryOp, Expr, Statement, UnaryOp};
use std::collections::HashMap;

/// Candidate statements for one message, by the ids they were indexed under.
#[derive(Debug, Default)]
pub struct RuleIndex {
    /// Evaluated for every message.
    always: Vec<usize>,
    paths: Vec<PathIndex>,
    /// The paths' fields, read from a payload together (slot i is `paths[i]`).
    fields: crate::scan::PathSet,
}

/// The statements with an indexed conjunct on one path. The SQL version does not matter
/// here: it types whole-number decimals differently, and numbers compare by value.
#[derive(Debug)]
struct PathIndex {
    path: Vec<String>,
    /// `path = number`: by the number's bits (ints as their f64: equal numbers compare equal).
    eq_num: HashMap<u64, Vec<usize>>,
    /// `path = 'text'`.
    eq_str: HashMap<String, Vec<usize>>,
    /// `path > c` / `path >= c`: (c, id), by c ascending; a value v keeps those with c <= v.
    above: Vec<(f64, usize)>,
    /// `path < c` / `path <= c`: (c, id), by c ascending; a value v keeps those with c >= v.
    below: Vec<(f64, usize)>,
    /// Both: (lower, upper, id), by lower ascending; a value v keeps those with lower <= v
    /// (a binary search) and upper >= v (a scan of those).
    between: Vec<(f64, f64, usize)>,
}

thread_local! {
    /// The fields read from the message being indexed (reused: no allocation per message).
    static FIELDS: std::cell::RefCell<Vec<Option<serde_json::Value>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl PathIndex {
    /// Adds the statements a value at this path may satisfy: for `=` the evaluator's `same`
    /// (numbers as numbers, Int and Decimal alike; strings exactly; other pairs unequal), for
    /// ranges both sides converted to Decimal, numeric strings included.
    fn keep(&self, v: &serde_json::Value, out: &mut Vec<usize>) {
        let decimal = match v {
            serde_json::Value::Number(n) => {
                let d = n.as_f64().unwrap_or(f64::NAN);
                out.extend(self.eq_num.get(&key(d)).into_iter().flatten());
                Some(d)
            }
            serde_json::Value::String(s) => {
                out.extend(self.eq_str.get(s.as_str()).into_iter().flatten());
                crate::value::parse_decimal(s)
            }
            _ => None,
        };
        if let Some(d) = decimal.filter(|d| !d.is_nan()) {
            let m = margin(d);
            let upto = self.above.partition_point(|(c, _)| *c <= d + m);
            out.extend(self.above[..upto].iter().map(|(_, id)| *id));
            let from = self.below.partition_point(|(c, _)| *c < d - m);
            out.extend(self.below[from..].iter().map(|(_, id)| *id));
            let upto = self.between.partition_point(|(lo, _, _)| *lo <= d + m);
            out.extend(
                self.between[..upto]
                    .iter()
                    .filter(|(_, hi, _)| *hi >= d - m)
                    .map(|(_, _, id)| *id),
            );
        }
    }
}

/// What a conjunct asks of its path.
enum Test {
    EqNum(f64),
    EqStr(String),
    Above(f64),
    Below(f64),
    /// Both bounds on one path (`n >= a AND n < b`): kept only when both hold.
    Between(f64, f64),
}

fn key(d: f64) -> u64 {
    // -0.0 and 0.0 are equal numbers.
    if d == 0.0 {
        0
    } else {
        d.to_bits()
    }
}

/// Floating-point room: Ints compare exactly in the evaluator and as f64 here, so bounds are
/// widened by far more than any rounding; a statement kept by the margin is evaluated in full.
fn margin(v: f64) -> f64 {
    1e-9 * v.abs().max(1.0)
}

impl RuleIndex {
    /// Indexes `(id, statement)` pairs. Ids are returned by `candidates` as given.
    pub fn new<'a>(statements: impl IntoIterator<Item = (usize, &'a Statement)>) -> RuleIndex {
        let mut index = RuleIndex::default();
        for (id, s) in statements {
            match s.where_.as_ref().and_then(indexable) {
                Some((path, test)) => index.add(id, path, test),
                None => index.always.push(id),
            }
        }
        for p in &mut index.paths {
            p.above.sort_by(|a, b| a.0.total_cmp(&b.0));
            p.below.sort_by(|a, b| a.0.total_cmp(&b.0));
            p.between.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        for (i, p) in index.paths.iter().enumerate() {
            let slot = index.fields.add(&p.path);
            debug_assert_eq!(slot, i, "each indexed path is distinct");
        }
        index
    }

    fn add(&mut self, id: usize, path: Vec<String>, test: Test) {
        let p = match self.paths.iter_mut().position(|p| p.path == path) {
            Some(i) => &mut self.paths[i],
            None => {
                self.paths.push(PathIndex {
                    path,
                    eq_num: HashMap::new(),
                    eq_str: HashMap::new(),
                    above: Vec::new(),
                    below: Vec::new(),
                    between: Vec::new(),
                });
                self.paths.last_mut().expect("just pushed")
            }
        };
        match test {
            Test::EqNum(d) => p.eq_num.entry(key(d)).or_default().push(id),
            Test::EqStr(s) => p.eq_str.entry(s).or_default().push(id),
            Test::Above(c) => p.above.push((c, id)),
            Test::Below(c) => p.below.push((c, id)),
            Test::Between(lo, hi) => p.between.push((lo, hi, id)),
        }
    }

    /// Whether no statement is indexed.
    pub fn is_empty(&self) -> bool {
        self.always.is_empty() && self.paths.is_empty()
    }

    /// Whether some statement is a candidate for every message (its WHERE has no indexed
    /// conjunct): the payload must then be parsed in full anyway.
    pub fn has_unindexed(&self) -> bool {
        !self.always.is_empty()
    }

    /// The ids of the statements whose WHERE may be true for a message with `payload`,
    /// ascending and without repeats, into `out` (cleared first). Only the indexed fields are
    /// read from the payload.
    pub fn candidates(&self, payload: &[u8], out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if self.paths.is_empty() {
            return;
        }
        // The evaluator's member access: a missing field, or a field of something that is not
        // an object, is Undefined, and so is the conjunct; so is any field of a payload that
        // is not JSON.
        FIELDS.with(|f| {
            let mut fields = f.take();
            self.fields.read(payload, &mut fields);
            for (p, v) in self.paths.iter().zip(&fields) {
                let Some(v) = v else { continue };
                p.keep(v, out);
            }
            f.replace(fields);
        });
        out.sort_unstable();
        out.dedup();
    }
}

/// The most selective indexable conjunct of a WHERE: an equality before a range.
fn indexable(w: &Expr) -> Option<(Vec<String>, Test)> {
    let mut conjuncts = Vec::new();
    flatten(w, &mut conjuncts);
    let tests: Vec<(Vec<String>, Test)> = conjuncts.into_iter().filter_map(conjunct).collect();
    // An equality is the most selective; then both bounds on one path; then any bound.
    if let Some(i) = tests
        .iter()
        .position(|(_, t)| matches!(t, Test::EqNum(_) | Test::EqStr(_)))
    {
        return tests.into_iter().nth(i);
    }
    for (path, t) in &tests {
        let Test::Above(lo) = t else { continue };
        // The tightest upper bound on the same path, if any.
        let hi = tests
            .iter()
            .filter(|(p, _)| p == path)
            .filter_map(|(_, t)| match t {
                Test::Below(c) => Some(*c),
                _ => None,
            })
            .reduce(f64::min);
        if let Some(hi) = hi {
            return Some((path.clone(), Test::Between(*lo, hi)));
        }
    }
    tests.into_iter().next()
}

fn flatten<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Binary(BinaryOp::And, a, b) => {
            flatten(a, out);
            flatten(b, out);
        }
        other => out.push(other),
    }
}

fn conjunct(e: &Expr) -> Option<(Vec<String>, Test)> {
    let Expr::Binary(op, l, r) = e else {
        return None;
    };
    // `path OP literal`, or `literal OP path` read the other way round.
    let (path, lit, op) = match (path_of(l), path_of(r)) {
        (Some(p), None) => (p, r.as_ref(), *op),
        (None, Some(p)) => (
            p,
            l.as_ref(),
            match op {
                BinaryOp::Lt => BinaryOp::Gt,
                BinaryOp::Le => BinaryOp::Ge,
                BinaryOp::Gt => BinaryOp::Lt,
                BinaryOp::Ge => BinaryOp::Le,
                other => *other,
            },
        ),
        _ => return None,
    };
    let test = match (op, literal(lit)?) {
        (BinaryOp::Eq, Lit::Num(d)) => Test::EqNum(d),
        (BinaryOp::Eq, Lit::Str(s)) => Test::EqStr(s),
        (BinaryOp::Gt | BinaryOp::Ge, Lit::Num(d)) => Test::Above(d),
        (BinaryOp::Lt | BinaryOp::Le, Lit::Num(d)) => Test::Below(d),
        _ => return None,
    };
    Some((path, test))
}

/// `a`, `a.b.c`: a path into the payload. A SET variable (`@t`, `@t.b`) is not one, whatever
/// its name: its value is whatever its expression made of the message, so a conjunct on it is
/// never the one a statement is indexed by.
fn path_of(e: &Expr) -> Option<Vec<String>> {
    match e {
        Expr::Field(name) => Some(vec![name.clone()]),
        Expr::Variable(_) => None,
        Expr::Member(base, name) => {
            let mut p = path_of(base)?;
            p.push(name.clone());
            Some(p)
        }
        _ => None,
    }
}

enum Lit {
    Num(f64),
    Str(String),
}

fn literal(e: &Expr) -> Option<Lit> {
    match e {
        Expr::Int(i) => Some(Lit::Num(*i as f64)),
        Expr::Decimal(d) if d.is_finite() => Some(Lit::Num(*d)),
        Expr::Unary(UnaryOp::Neg, inner) => match inner.as_ref() {
            Expr::Int(i) => Some(Lit::Num(-(*i as f64))),
            Expr::Decimal(d) if d.is_finite() => Some(Lit::Num(-*d)),
            _ => None,
        },
        Expr::String(s) => Some(Lit::Str(s.clone())),
        _ => None,
    }
}
