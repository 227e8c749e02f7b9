//! JSON patterns, `{ $.eventType = "UpdateTrail" && $.latency > 500 }`, after "Using filter
//! patterns to match terms in JSON log events"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>):
//!
//! - selectors start at the root, `$.`, then name properties (letters, digits, `-`, `_`) and
//!   array elements (`[0]`, after a property): `$.users[0].id`, `$.coordinates[0][1]`;
//! - `=` and `!=` with strings (wildcards, regexes) or numbers, `<`, `<=`, `>`, `>=` with
//!   numbers; the selector must reach a string or a number, anything else (an object, an
//!   array, a boolean, null, nothing) makes both `=` and `!=` false;
//! - `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS` (the page says `IS NOT` and `EXISTS`
//!   are not supported, so they are refused);
//! - `&&`, `||` and parentheses.
//!
//! Only an event whose whole message is a JSON object can match; the message is parsed once
//! per event, and only for patterns of this form.

use serde_json::Value;

use super::bool_expr::{self, Expr};
use super::cursor::Cursor;
use super::error::PatternError;
use super::value::{self, Literal, Op};

#[derive(Debug, Clone)]
pub(super) struct JsonPattern {
    expr: Expr<Condition>,
}

#[derive(Debug, Clone)]
enum Condition {
    Compare(Selector, Op, Literal),
    IsNull(Selector),
    IsBool(Selector, bool),
    NotExists(Selector),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector(Vec<Step>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

impl Selector {
    fn resolve<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.0.iter().try_fold(root, |v, step| match step {
            Step::Key(k) => v.as_object()?.get(k),
            Step::Index(i) => v.as_array()?.get(*i),
        })
    }
}

impl Condition {
    fn holds(&self, root: &Value) -> bool {
        match self {
            Condition::Compare(sel, op, lit) => match sel.resolve(root) {
                Some(Value::String(s)) => lit.test_str(*op, s),
                Some(Value::Number(n)) => lit.test_number(*op, n),
                _ => false,
            },
            Condition::IsNull(sel) => matches!(sel.resolve(root), Some(Value::Null)),
            Condition::IsBool(sel, b) => sel.resolve(root) == Some(&Value::Bool(*b)),
            Condition::NotExists(sel) => sel.resolve(root).is_none(),
        }
    }
}

impl JsonPattern {
    pub(super) fn matches(&self, message: &str) -> bool {
        // Most plain-text events fail here, before any parsing.
        if !message.trim_start().starts_with('{') {
            return false;
        }
        match serde_json::from_str::<Value>(message) {
            Ok(root @ Value::Object(_)) => self.expr.eval(&mut |c: &Condition| c.holds(&root)),
            _ => false,
        }
    }
}

/// Parses `{ ... }`, the cursor on the `{`.
pub(super) fn parse(cur: &mut Cursor<'_>) -> Result<JsonPattern, PatternError> {
    let open = cur.pos();
    cur.bump();
    let mut regexes = 0;
    let expr = bool_expr::parse(cur, &mut |c: &mut Cursor<'_>| condition(c, &mut regexes))?;
    cur.skip_ws();
    if !cur.eat("}") {
        return Err(if cur.at_end() {
            cur.error_at(open, "unclosed '{'")
        } else {
            cur.error("expected '&&', '||' or '}'")
        });
    }
    cur.expect_end()?;
    Ok(JsonPattern { expr })
}

fn condition(cur: &mut Cursor<'_>, regexes: &mut usize) -> Result<Condition, PatternError> {
    cur.skip_ws();
    let selector = selector(cur)?;
    cur.skip_ws();
    if !cur.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
        let op = value::parse_op(cur)?;
        let literal = value::parse_literal(cur, op, regexes)?;
        return Ok(Condition::Compare(selector, op, literal));
    }
    let at = cur.pos();
    match cur.take_while(|c| c.is_ascii_alphabetic()) {
        "IS" => {
            cur.skip_ws();
            let at = cur.pos();
            match cur.take_while(|c| c.is_ascii_alphabetic()) {
                "NULL" => Ok(Condition::IsNull(selector)),
                "TRUE" => Ok(Condition::IsBool(selector, true)),
                "FALSE" => Ok(Condition::IsBool(selector, false)),
                "NOT" => Err(cur.error_at(at, "IS NOT is not supported")),
                _ => Err(cur.error_at(at, "expected NULL, TRUE or FALSE after IS")),
            }
        }
        "NOT" => {
            cur.skip_ws();
            let at = cur.pos();
            match cur.take_while(|c| c.is_ascii_alphabetic()) {
                "EXISTS" => Ok(Condition::NotExists(selector)),
                _ => Err(cur.error_at(at, "expected EXISTS after NOT")),
            }
        }
        "EXISTS" => Err(cur.error_at(at, "EXISTS is not supported (use NOT EXISTS, or = *)")),
        _ => Err(cur.error_at(at, "expected an operator, IS or NOT EXISTS")),
    }
}

fn selector(cur: &mut Cursor<'_>) -> Result<Selector, PatternError> {
    if !cur.eat("$") {
        return Err(cur.error("expected a property selector starting with '$.'"));
    }
    let mut steps = Vec::new();
    loop {
        let at = cur.pos();
        if cur.eat(".") {
            let name = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if name.is_empty() {
                return Err(cur.error("expected a property name after '.'"));
            }
            steps.push(Step::Key(name.to_string()));
        } else if cur.eat("[") {
            if steps.is_empty() {
                return Err(cur.error_at(at, "an array index must follow a property"));
            }
            let digits = cur.take_while(|c| c.is_ascii_digit());
            let index = digits
                .parse()
                .map_err(|_| cur.error("expected an array index"))?;
            if !cur.eat("]") {
                return Err(cur.error("expected ']'"));
            }
            steps.push(Step::Index(index));
        } else {
            break;
        }
    }
    if steps.is_empty() {
        return Err(cur.error("expected '.' and a property name after '$'"));
    }
    Ok(Selector(steps))
}
