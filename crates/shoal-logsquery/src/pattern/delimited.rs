//! Space-delimited patterns, `[ip, user, ..., status_code = 4*, bytes > 1000]`, after "Using
//! filter patterns to match terms in space-delimited log events"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>):
//!
//! - the event splits at spaces into fields; text between `[` and `]` or between double
//!   quotes is one field, without its brackets or quotes (the page's extracted values show
//!   `"$request": "GET /index.html HTTP/1.0"`);
//! - the pattern names each field in order, with a condition when it must hold one; `...`
//!   stands for any number of fields; without it the counts must agree (the page's
//!   `[w1=ERROR, w2]` matches `ERROR message` but not `ERROR WARN message`);
//! - conditions are those of JSON patterns (`=`, `!=` with wildcards or regexes, numeric
//!   comparisons) joined by `&&`, `||` and parentheses. Every name inside one comma-separated
//!   entry refers to that entry's field: the page writes `status_code = 4* && status_code !=
//!   403` and even `w1=ERROR || W1=WARNING`, names that only repeat the field's own;
//! - an empty entry is a field without name or condition: the page's `[..., request=*.html*,
//!   status_code=4*,]` ends with one, which its extracted values list as `$7`.

use super::bool_expr::{self, Expr};
use super::cursor::Cursor;
use super::error::PatternError;
use super::value::{self, Literal, Op};

#[derive(Debug, Clone)]
pub(super) struct Delimited {
    slots: Vec<Slot>,
}

#[derive(Debug, Clone)]
enum Slot {
    /// `...`: any number of fields, none included.
    Ellipsis,
    /// A named field and what it must hold. The name itself does not take part in
    /// matching; metric filters would publish extracted values under it.
    Field(Expr<Check>),
}

/// One comparison in an entry; `None` for a bare name, which any field satisfies.
#[derive(Debug, Clone)]
struct Check(Option<(Op, Literal)>);

impl Slot {
    fn accepts(&self, field: &str) -> bool {
        match self {
            Slot::Ellipsis => true,
            Slot::Field(condition) => condition.eval(&mut |c: &Check| match &c.0 {
                None => true,
                Some((op, lit)) => lit.test_str(*op, field),
            }),
        }
    }
}

impl Delimited {
    pub(super) fn matches(&self, message: &str) -> bool {
        let fields = split_fields(message);
        // Wildcard matching over sequences: an ellipsis first takes no field; on a mismatch
        // the latest ellipsis takes one more and matching resumes after it. Each retry moves
        // forward, so this is at most slots x fields steps.
        let (mut s, mut f) = (0, 0);
        let mut retry: Option<(usize, usize)> = None;
        while f < fields.len() {
            match self.slots.get(s) {
                Some(Slot::Ellipsis) => {
                    retry = Some((s, f));
                    s += 1;
                    continue;
                }
                Some(slot) if slot.accepts(fields[f]) => {
                    s += 1;
                    f += 1;
                    continue;
                }
                _ => {}
            }
            match retry {
                Some((star, taken)) => {
                    retry = Some((star, taken + 1));
                    s = star + 1;
                    f = taken + 1;
                }
                None => return false,
            }
        }
        self.slots[s..]
            .iter()
            .all(|slot| matches!(slot, Slot::Ellipsis))
    }
}

/// Splits an event into fields; an unclosed `[` or `"` runs to the end of the message.
fn split_fields(message: &str) -> Vec<&str> {
    let bytes = message.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    // The delimiters are ASCII, so every index below falls on a character boundary.
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let close = match bytes[i] {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        match close {
            Some(close) => {
                let start = i + 1;
                let end = bytes[start..]
                    .iter()
                    .position(|&b| b == close)
                    .map_or(bytes.len(), |n| start + n);
                fields.push(&message[start..end]);
                i = end + 1;
            }
            None => {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                fields.push(&message[start..i]);
            }
        }
    }
    fields
}

/// Parses `[ ... ]`, the cursor on the `[`.
pub(super) fn parse(cur: &mut Cursor<'_>) -> Result<Delimited, PatternError> {
    let open = cur.pos();
    cur.bump();
    let mut slots = Vec::new();
    let mut regexes = 0;
    loop {
        cur.skip_ws();
        if matches!(cur.peek(), Some(',' | ']')) {
            if slots.is_empty() && cur.peek() == Some(']') {
                return Err(cur.error("expected at least one field"));
            }
            slots.push(Slot::Field(Expr::Leaf(Check(None))));
        } else if cur.eat("...") {
            slots.push(Slot::Ellipsis);
        } else {
            slots.push(field(cur, &mut regexes)?);
        }
        cur.skip_ws();
        if cur.eat(",") {
            continue;
        }
        if cur.eat("]") {
            break;
        }
        return Err(if cur.at_end() {
            cur.error_at(open, "unclosed '['")
        } else {
            cur.error("expected ',' or ']'")
        });
    }
    cur.expect_end()?;
    Ok(Delimited { slots })
}

fn field(cur: &mut Cursor<'_>, regexes: &mut usize) -> Result<Slot, PatternError> {
    let condition = bool_expr::parse(cur, &mut |c: &mut Cursor<'_>| {
        c.skip_ws();
        let ident = c.take_while(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        if ident.is_empty() {
            return Err(c.error("expected a field name or '...'"));
        }
        c.skip_ws();
        if !c
            .peek()
            .is_some_and(|ch| matches!(ch, '=' | '!' | '<' | '>'))
        {
            return Ok(Check(None));
        }
        let op = value::parse_op(c)?;
        let literal = value::parse_literal(c, op, regexes)?;
        Ok(Check(Some((op, literal))))
    })?;
    Ok(Slot::Field(condition))
}
