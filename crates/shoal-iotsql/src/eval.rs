//! Evaluating a statement for one message (iot-sql-reference.html): the SET clause's variables
//! first, in order (iot-sql-set.html), then WHERE (anything but true, Undefined included, does
//! not match), then SELECT, which leaves out the items that are Undefined. The message and
//! everything the functions ask of the outside world (the clock, UUIDs, shadows) come from the
//! caller's [`Context`], so evaluation is deterministic and pure.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use crate::ast::{Expr, Select, SelectItem, SqlVersion, Statement, UnaryOp};
use crate::error::EvalError;
use crate::functions;
use crate::ops;
use crate::set::Variables;
use crate::value::{self, Value};

/// Where `get_thing_shadow(thingName, [shadowName,] roleArn)` reads shadows from.
pub trait ShadowSource {
    /// The shadow document (as GetThingShadow returns it), or `None` when the thing or the
    /// shadow does not exist or the role may not read it: the function then gives Undefined.
    fn get_thing_shadow(
        &self,
        thing_name: &str,
        shadow_name: Option<&str>,
        role_arn: &str,
    ) -> Option<serde_json::Value>;
}

/// A [`ShadowSource`] with no shadows.
pub struct NoShadows;

impl ShadowSource for NoShadows {
    fn get_thing_shadow(&self, _: &str, _: Option<&str>, _: &str) -> Option<serde_json::Value> {
        None
    }
}

fn nil_uuid() -> String {
    "00000000-0000-0000-0000-000000000000".to_string()
}

/// One message as a rule sees it, and the outside world its functions may ask about.
pub struct Context<'a> {
    /// The topic the message was published to (for Basic Ingest, without its
    /// `$aws/rules/RULE/` prefix, which `topic()` does not show).
    pub topic: &'a str,
    /// The payload bytes as published.
    pub payload: &'a [u8],
    /// `clientid()`; `None` gives AWS's `"n/a"` (a message that did not come over MQTT).
    pub client_id: Option<&'a str>,
    /// `principal()`; `None` gives Undefined.
    pub principal: Option<&'a str>,
    /// `accountid()`; `None` gives Undefined.
    pub account_id: Option<&'a str>,
    /// `timestamp()`: milliseconds since the epoch, chosen by the caller.
    pub timestamp_ms: i64,
    /// `newuuid()`: each call asks it for the next UUID.
    pub new_uuid: &'a dyn Fn() -> String,
    /// `get_thing_shadow(...)`.
    pub shadows: &'a dyn ShadowSource,
    /// The payload as SQL values, read on first use per kind of version (2015-10-08 types
    /// whole-number decimals differently) and shared by every rule that evaluates it.
    roots: [std::cell::OnceCell<Value>; 2],
    /// Steps left of [`MAX_MESSAGE_STEPS`] for every evaluation of this message.
    steps_left: Cell<u64>,
}

impl<'a> Context<'a> {
    /// A message with no client, principal or account, the nil UUID and no shadows; the
    /// `with_*` methods fill those in. The payload is parsed here, once, however many rules
    /// then evaluate it.
    pub fn new(topic: &'a str, payload: &'a [u8], timestamp_ms: i64) -> Self {
        Context {
            topic,
            payload,
            client_id: None,
            principal: None,
            account_id: None,
            timestamp_ms,
            new_uuid: &nil_uuid,
            shadows: &NoShadows,
            roots: Default::default(),
            steps_left: Cell::new(MAX_MESSAGE_STEPS),
        }
    }

    pub fn with_client_id(mut self, client_id: &'a str) -> Self {
        self.client_id = Some(client_id);
        self
    }

    pub fn with_principal(mut self, principal: &'a str) -> Self {
        self.principal = Some(principal);
        self
    }

    pub fn with_account_id(mut self, account_id: &'a str) -> Self {
        self.account_id = Some(account_id);
        self
    }

    pub fn with_new_uuid(mut self, new_uuid: &'a dyn Fn() -> String) -> Self {
        self.new_uuid = new_uuid;
        self
    }

    pub fn with_shadows(mut self, shadows: &'a dyn ShadowSource) -> Self {
        self.shadows = shadows;
        self
    }

    /// Whether the payload is JSON (else the binary payload rules apply).
    pub fn is_json(&self) -> bool {
        !matches!(self.root(SqlVersion::default()), Value::Bytes(_))
    }

    /// The payload as SQL values: the JSON document, or the raw bytes.
    pub(crate) fn root(&self, version: SqlVersion) -> &Value {
        self.roots[usize::from(version.is_v2())].get_or_init(|| {
            crate::json::parse(self.payload, version)
                .unwrap_or_else(|| Value::Bytes(self.payload.to_vec()))
        })
    }
}

/// What a matching rule produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A JSON document (an object, or any value with `SELECT VALUE`).
    Json(serde_json::Value),
    /// The payload itself, not JSON: `SELECT *` on a binary payload (binary-payloads.html).
    Bytes(Vec<u8>),
    /// `SELECT VALUE` of something Undefined, which AWS serializes as an empty payload.
    Empty,
}

impl Output {
    /// The payload bytes a rule action sends.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Output::Json(v) => v.to_string().into_bytes(),
            Output::Bytes(b) => b.clone(),
            Output::Empty => Vec::new(),
        }
    }
}

impl Statement {
    /// Evaluates the statement for one message: `Ok(None)` when WHERE does not match, else
    /// the JSON the SELECT builds. The SET variables are evaluated first, so one that cannot
    /// be ([`EvalError::VariableTooLarge`], ...) is an error even when WHERE would not match. The two results that are not JSON are errors here
    /// ([`EvalError::BinaryOutput`], [`EvalError::UndefinedOutput`]); use
    /// [`Statement::evaluate_output`] to get them as payloads.
    pub fn evaluate(&self, ctx: &Context) -> Result<Option<serde_json::Value>, EvalError> {
        match self.evaluate_output(ctx)? {
            None => Ok(None),
            Some(Output::Json(v)) => Ok(Some(v)),
            Some(Output::Bytes(_)) => Err(EvalError::BinaryOutput),
            Some(Output::Empty) => Err(EvalError::UndefinedOutput),
        }
    }

    /// Like [`Statement::evaluate`], with every kind of payload a rule can produce.
    pub fn evaluate_output(&self, ctx: &Context) -> Result<Option<Output>, EvalError> {
        Ok(self.evaluate_value(ctx)?.map(|out| match out {
            Value::Bytes(b) => Output::Bytes(b),
            v => v.to_json().map_or(Output::Empty, Output::Json),
        }))
    }

    /// The payload a rule's actions send (what [`Output::to_bytes`] of
    /// [`Statement::evaluate_output`] gives), written straight from the SQL values.
    pub fn evaluate_payload(&self, ctx: &Context) -> Result<Option<Vec<u8>>, EvalError> {
        // `SELECT *` of a compact JSON object is that object written compactly: its own bytes,
        // not parsed and written again. Only what writing would change keeps the long way:
        // whitespace, escapes, numbers not spelled as written, duplicate keys. Keys keep the
        // payload's order (writing sorts them). A payload that is not JSON is passed through
        // by `*` anyway.
        if self.is_select_star() && compact_object(ctx.payload) {
            if let Some(w) = &self.where_ {
                let root = ctx.root(self.version);
                let ev = Evaluator::new(ctx, self.version, root);
                if ev.eval(w, root)?.to_bool() != Some(true) {
                    return Ok(None);
                }
            }
            return Ok(Some(ctx.payload.to_vec()));
        }
        Ok(self.evaluate_value(ctx)?.map(|out| match out {
            Value::Bytes(b) => b,
            v => {
                let mut bytes = Vec::with_capacity(ctx.payload.len() + 16);
                if !crate::json::write(&v, &mut bytes) {
                    bytes.clear();
                }
                bytes
            }
        }))
    }

    /// `SELECT * FROM ...` with no SET clause.
    fn is_select_star(&self) -> bool {
        self.set.is_empty()
            && matches!(&self.select, Select::Items(items) if matches!(items.as_slice(), [SelectItem::Wildcard]))
    }

    fn evaluate_value(&self, ctx: &Context) -> Result<Option<Value>, EvalError> {
        let root = ctx.root(self.version);
        let ev = Evaluator::new(ctx, self.version, root);
        ev.assign(&self.set)?;
        if let Some(w) = &self.where_ {
            if ev.eval(w, root)?.to_bool() != Some(true) {
                return Ok(None);
            }
        }
        ev.select(&self.select, root).map(Some)
    }
}

/// Whether `b` is an object that writing again would give back byte for byte (up to the order
/// of keys): no whitespace outside strings, no escapes in strings, integers as an i64 writes
/// them, `true`/`false`/`null`, no key twice in one object (at most 64 keys open at once and 16 levels), or
/// not JSON at all (then `*` passes it through anyway).
fn compact_object(b: &[u8]) -> bool {
    /// Open objects and arrays deeper than this, or more keys open at once, take the long way.
    const DEPTH: usize = 16;
    const KEYS: usize = 64;
    if b.first() != Some(&b'{') {
        return false;
    }
    // The keys of the open objects, one stack for all (no allocation): `starts[d]` is where
    // the keys of the object at depth `d` begin.
    let mut keys: [&[u8]; KEYS] = [&[]; KEYS];
    let mut nkeys = 0;
    let mut starts = [0usize; DEPTH];
    let mut depth = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => {
                if depth == DEPTH {
                    return false;
                }
                starts[depth] = nkeys;
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                if depth == 0 {
                    return true; // not JSON: passed through either way
                }
                depth -= 1;
                nkeys = starts[depth];
                i += 1;
            }
            b',' | b':' => i += 1,
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' || b[j] < 0x20 {
                        return false;
                    }
                    j += 1;
                }
                if j == b.len() {
                    return true; // not JSON
                }
                // Compact: a key is a string right before its colon.
                if b.get(j + 1) == Some(&b':') {
                    let key = &b[start..j];
                    let open = starts[depth.saturating_sub(1)];
                    if depth == 0 || nkeys == KEYS || keys[open..nkeys].contains(&key) {
                        return false;
                    }
                    keys[nkeys] = key;
                    nkeys += 1;
                }
                i = j + 1;
            }
            b't' | b'f' | b'n' => {
                let word: &[u8] = match b[i] {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !b[i..].starts_with(word) {
                    return true; // not JSON
                }
                i += word.len();
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let text = &b[start..i];
                let digits = text.strip_prefix(b"-").unwrap_or(text);
                let canonical = !digits.is_empty()
                    && (digits == b"0" || digits[0] != b'0')
                    && text != b"-0"
                    && std::str::from_utf8(text).is_ok_and(|t| t.parse::<i64>().is_ok());
                if !canonical || matches!(b.get(i), Some(b'.' | b'e' | b'E')) {
                    return false;
                }
            }
            _ => return false, // whitespace, or anything writing would not give back
        }
    }
    true
}

/// Most units of work one evaluation may do: one per expression evaluated, per element a
/// nested query visits, and per element (or 64 bytes) of each value a path or function gives.
/// Nested queries multiply, so without it a short statement over a large array could run for
/// hours; real rules stay far below.
pub const MAX_EVAL_STEPS: u64 = 1_000_000;

/// Most units of work all the evaluations of one message may do together (every rule's
/// statement and every action's templates): a thousand heavy rules cannot make one message
/// cost a thousand times [`MAX_EVAL_STEPS`]. What runs past it fails as too complex.
pub const MAX_MESSAGE_STEPS: u64 = 4_000_000;

pub(crate) struct Evaluator<'c, 'a> {
    pub(crate) ctx: &'c Context<'a>,
    pub(crate) version: SqlVersion,
    /// The payload, which `*` in `encode(*, ...)` means even inside a nested query.
    pub(crate) root: &'c Value,
    /// Steps left of [`MAX_EVAL_STEPS`].
    budget: Cell<u64>,
    /// The SET clause's variables, once assigned.
    pub(crate) vars: RefCell<Variables>,
}

impl<'c, 'a> Evaluator<'c, 'a> {
    pub(crate) fn new(ctx: &'c Context<'a>, version: SqlVersion, root: &'c Value) -> Self {
        Evaluator {
            ctx,
            version,
            root,
            budget: Cell::new(MAX_EVAL_STEPS),
            vars: RefCell::default(),
        }
    }

    pub(crate) fn charge(&self, steps: u64) -> Result<(), EvalError> {
        let left = self.budget.get();
        let message_left = self.ctx.steps_left.get();
        if steps > left || steps > message_left {
            return Err(EvalError::TooComplex);
        }
        self.budget.set(left - steps);
        self.ctx.steps_left.set(message_left - steps);
        Ok(())
    }

    /// Charges for a value just produced, by its shallow size.
    fn produced(&self, v: Value) -> Result<Value, EvalError> {
        let size = match &v {
            Value::Array(items) => items.len(),
            Value::Object(fields) => fields.len(),
            Value::String(s) => s.len() / 64,
            Value::Bytes(b) => b.len() / 64,
            _ => 0,
        };
        self.charge(size as u64)?;
        Ok(v)
    }
    fn select(&self, select: &Select, scope: &Value) -> Result<Value, EvalError> {
        let items = match select {
            Select::Value(e) => return self.eval(e, scope),
            Select::Items(items) => items,
        };
        let wildcard = items.iter().any(|i| matches!(i, SelectItem::Wildcard));
        // A lone `*` gives the payload as it is: the raw bytes of a binary payload, or a JSON
        // payload that is not an object (an array, a number) unchanged.
        // An object's lone `*` is the object itself, copied whole.
        if wildcard && items.len() == 1 {
            return Ok(scope.clone());
        }
        if wildcard && matches!(scope, Value::Bytes(_)) {
            return Err(EvalError::BinaryPayloadSelect);
        }
        let mut out = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                SelectItem::Wildcard => {
                    if let Value::Object(fields) = scope {
                        out.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
                SelectItem::Expr { expr, alias } => {
                    let v = self.eval(expr, scope)?;
                    if v.is_undefined() {
                        continue;
                    }
                    match alias {
                        Some(path) => insert_path(&mut out, path, v),
                        None => {
                            out.insert(default_name(expr, i), v);
                        }
                    }
                }
            }
        }
        Ok(Value::Object(out))
    }

    pub(crate) fn eval(&self, e: &Expr, scope: &Value) -> Result<Value, EvalError> {
        self.charge(1)?;
        Ok(match e {
            Expr::Null => Value::Null,
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Int(i) => Value::Int(*i),
            Expr::Decimal(d) => value::decimal(*d, self.version),
            Expr::String(s) => Value::String(s.clone()),
            Expr::Field(name) => self.produced(member(scope, name)?)?,
            Expr::Variable(name) => self.variable(name)?,
            Expr::Wildcard => self.produced(scope.clone())?,
            Expr::Member(base, name) => self.produced(member(&self.eval(base, scope)?, name)?)?,
            Expr::Index(base, index) => {
                let base = self.eval(base, scope)?;
                let index = self.eval(index, scope)?;
                match (&base, &index) {
                    (Value::Array(items), _) => usize::try_from(index.to_int().unwrap_or(-1))
                        .ok()
                        .and_then(|i| items.get(i).cloned())
                        .unwrap_or(Value::Undefined),
                    (Value::Object(fields), Value::String(k)) => {
                        fields.get(k).cloned().unwrap_or(Value::Undefined)
                    }
                    _ => Value::Undefined,
                }
            }
            Expr::Unary(UnaryOp::Not, inner) => ops::not(&self.eval(inner, scope)?),
            Expr::Unary(UnaryOp::Neg, inner) => ops::negate(&self.eval(inner, scope)?),
            Expr::Binary(op, l, r) => {
                let l = self.eval(l, scope)?;
                let r = self.eval(r, scope)?;
                ops::binary(*op, &l, &r)
            }
            Expr::Call { name, args } => {
                let mut values = Vec::with_capacity(args.len());
                for (i, a) in args.iter().enumerate() {
                    // `encode(*, 'base64')` encodes the payload as published, JSON or not
                    // (iot-sql-functions.html#iot-sql-encode-payload).
                    if i == 0
                        && name == "encode"
                        && *a == Expr::Wildcard
                        && std::ptr::eq(scope, self.root)
                    {
                        values.push(Value::Bytes(self.ctx.payload.to_vec()));
                    } else {
                        values.push(self.eval(a, scope)?);
                    }
                }
                self.produced(functions::call(self, name, values))?
            }
            Expr::Cast { expr, ty } => functions::cast(&self.eval(expr, scope)?, *ty, self.version),
            Expr::Case {
                operand,
                whens,
                else_,
            } => {
                match operand {
                    Some(op) => {
                        let v = self.eval(op, scope)?;
                        // "If v is Undefined, the result of the case statement is Undefined."
                        if v.is_undefined() {
                            return Ok(Value::Undefined);
                        }
                        for (w, then) in whens {
                            if ops::equals(&v, &self.eval(w, scope)?) == Some(true) {
                                return self.eval(then, scope);
                            }
                        }
                    }
                    None => {
                        for (w, then) in whens {
                            if self.eval(w, scope)?.to_bool() == Some(true) {
                                return self.eval(then, scope);
                            }
                        }
                    }
                }
                match else_ {
                    Some(e) => self.eval(e, scope)?,
                    None => Value::Undefined,
                }
            }
            Expr::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item, scope)?);
                }
                Value::Array(out)
            }
            Expr::Object(fields) => {
                let mut out = BTreeMap::new();
                for (k, v) in fields {
                    let v = self.eval(v, scope)?;
                    if !v.is_undefined() {
                        out.insert(k.clone(), v);
                    }
                }
                Value::Object(out)
            }
            Expr::SubQuery(q) => {
                // A nested query runs over each element of an array (giving an array of the
                // results) or over one object (giving its result) (iot-sql-nested-queries.html).
                let from = self.eval(&q.from, scope)?;
                let run = |item: &Value| -> Result<Value, EvalError> {
                    self.charge(1)?;
                    if let Some(w) = &q.where_ {
                        if self.eval(w, item)?.to_bool() != Some(true) {
                            return Ok(Value::Undefined);
                        }
                    }
                    self.select(&q.select, item)
                };
                match &from {
                    Value::Array(items) => {
                        let mut out = Vec::new();
                        for item in items {
                            let v = run(item)?;
                            if !v.is_undefined() {
                                out.push(v);
                            }
                        }
                        Value::Array(out)
                    }
                    Value::Object(_) => run(&from)?,
                    _ => Value::Undefined,
                }
            }
        })
    }
}

/// `base.name`: a member of an object; Undefined for anything else. Reading a name from a
/// binary payload is an error (binary-payloads.html, rule 1).
fn member(base: &Value, name: &str) -> Result<Value, EvalError> {
    Ok(match base {
        Value::Object(fields) => fields.get(name).cloned().unwrap_or(Value::Undefined),
        Value::Bytes(_) => return Err(EvalError::BinaryPayloadField(name.to_string())),
        _ => Value::Undefined,
    })
}

/// The key of a SELECT item without AS: a field's (last) name, a variable's name without its
/// `@`, a function's name, else `_N` for the N-th item. (iot-sql-set.html only shows variables
/// with AS, or with a member after them; the bare name is Shoal's choice.)
fn default_name(e: &Expr, index: usize) -> String {
    match e {
        Expr::Field(name) | Expr::Variable(name) | Expr::Member(_, name) => name.clone(),
        Expr::Index(base, _) => default_name(base, index),
        Expr::Call { name, .. } => name.clone(),
        _ => format!("_{}", index + 1),
    }
}

/// Puts `v` at a dotted alias, making the objects on the way (`AS bar.baz`).
fn insert_path(out: &mut BTreeMap<String, Value>, path: &[String], v: Value) {
    let (last, parents) = path.split_last().expect("an alias has a name");
    let mut map = out;
    for p in parents {
        let slot = map
            .entry(p.clone())
            .or_insert_with(|| Value::Object(BTreeMap::new()));
        if !matches!(slot, Value::Object(_)) {
            *slot = Value::Object(BTreeMap::new());
        }
        let Value::Object(inner) = slot else {
            unreachable!("just made an object")
        };
        map = inner;
    }
    map.insert(last.clone(), v);
}
