//! The right-hand side of a condition in JSON and space-delimited patterns, and how it compares
//! with a value from the log event. Both forms share the rules of "Filter pattern syntax"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>):
//!
//! - strings, quoted or not, with `*` as a wildcard at the start or the end only: `*Event`
//!   matches `PutEvent`, `Event*` matches `EventId`, but `Ev*ent` matches only `Ev*ent`;
//! - numbers (`+`/`-` sign, decimals, `e` exponent) for `=`, `!=`, `<`, `<=`, `>`, `>=`;
//! - `%regex%` with `=` and `!=`.
//!
//! Unquoted strings may not hold `@`, `$`, `\` or non-ASCII characters (the page says these
//! must be quoted); dots, colons and slashes are fine unquoted, as in `123.123.*` and `*.html*`.

use regex::Regex;

use super::cursor::Cursor;
use super::error::PatternError;
use super::regex as pattern_regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub(super) enum Literal {
    Number(f64),
    Text(Glob),
    Regex(Regex),
}

/// A string with AWS's wildcards: a leading and a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Glob {
    any_prefix: bool,
    any_suffix: bool,
    core: String,
}

impl Glob {
    pub(super) fn new(text: &str) -> Self {
        let (any_prefix, rest) = match text.strip_prefix('*') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (any_suffix, core) = match rest.strip_suffix('*') {
            Some(core) => (true, core),
            None => (false, rest),
        };
        Glob {
            any_prefix,
            any_suffix,
            core: core.to_string(),
        }
    }

    pub(super) fn matches(&self, s: &str) -> bool {
        match (self.any_prefix, self.any_suffix) {
            (true, true) => s.contains(self.core.as_str()),
            (true, false) => s.ends_with(self.core.as_str()),
            (false, true) => s.starts_with(self.core.as_str()),
            (false, false) => s == self.core,
        }
    }
}

/// Parses a comparison operator, the cursor on it.
pub(super) fn parse_op(cur: &mut Cursor<'_>) -> Result<Op, PatternError> {
    for (token, op) in [
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ] {
        if cur.eat(token) {
            return Ok(op);
        }
    }
    Err(cur.error("expected an operator (=, !=, <, <=, >, >=)"))
}

/// Parses the value after `op`; `regexes` counts the regexes of the whole pattern against
/// AWS's quota.
pub(super) fn parse_literal(
    cur: &mut Cursor<'_>,
    op: Op,
    regexes: &mut usize,
) -> Result<Literal, PatternError> {
    cur.skip_ws();
    let start = cur.pos();
    let literal = match cur.peek() {
        Some('"') => Literal::Text(Glob::new(&cur.quoted()?)),
        Some('%') => {
            *regexes += 1;
            if *regexes > pattern_regex::MAX_REGEXES {
                return Err(cur.error(format!(
                    "a pattern may hold at most {} regular expressions",
                    pattern_regex::MAX_REGEXES
                )));
            }
            Literal::Regex(pattern_regex::parse(cur)?)
        }
        _ => {
            let text = cur.take_while(|c| !c.is_whitespace() && !is_stop(c));
            if text.is_empty() {
                return Err(cur.error("expected a value"));
            }
            if let Some((i, c)) = text
                .char_indices()
                .find(|&(_, c)| !c.is_ascii() || matches!(c, '@' | '$' | '\\'))
            {
                return Err(cur.error_at(
                    start + i,
                    format!("a value containing '{c}' must be in double quotes"),
                ));
            }
            match parse_number(text) {
                Some(n) => Literal::Number(n),
                None => Literal::Text(Glob::new(text)),
            }
        }
    };
    let fits = match (&literal, op) {
        (_, Op::Eq | Op::Ne) | (Literal::Number(_), _) => true,
        (Literal::Text(_) | Literal::Regex(_), _) => false,
    };
    if fits {
        Ok(literal)
    } else {
        Err(cur.error_at(start, "<, <=, > and >= compare with a number"))
    }
}

/// Characters that end an unquoted value: they belong to the surrounding syntax.
fn is_stop(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | '{' | '}' | '[' | ']' | ',' | '&' | '|' | '"' | '%' | '!' | '=' | '<' | '>'
    )
}

/// AWS's number syntax: an optional sign, digits, an optional decimal part and an optional
/// exponent. Stricter than `f64::from_str`, which would also take `inf` and `NaN`.
pub(super) fn parse_number(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let from = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > from
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
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i == b.len() {
        text.parse().ok()
    } else {
        None
    }
}

impl Literal {
    /// Compares a string from the event (a JSON string, a space-delimited field).
    pub(super) fn test_str(&self, op: Op, s: &str) -> bool {
        match self {
            // A number compares numerically with a string that reads as a number; any other
            // string is simply not equal to it.
            Literal::Number(n) => match parse_number(s) {
                Some(x) => compare(op, x, *n),
                None => op == Op::Ne,
            },
            Literal::Text(glob) => (op == Op::Eq) == glob.matches(s),
            Literal::Regex(re) => (op == Op::Eq) == re.is_match(s),
        }
    }

    /// Compares a JSON number; strings and regexes see it as written (`*` matches it).
    pub(super) fn test_number(&self, op: Op, x: &serde_json::Number) -> bool {
        match self {
            Literal::Number(n) => x.as_f64().is_some_and(|x| compare(op, x, *n)),
            Literal::Text(_) | Literal::Regex(_) => self.test_str(op, &x.to_string()),
        }
    }
}

fn compare(op: Op, x: f64, n: f64) -> bool {
    match op {
        Op::Eq => x == n,
        Op::Ne => x != n,
        Op::Lt => x < n,
        Op::Le => x <= n,
        Op::Gt => x > n,
        Op::Ge => x >= n,
    }
}
