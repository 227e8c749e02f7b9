//! CloudWatch Logs filter patterns: the `filterPattern` of FilterLogEvents, metric filters,
//! subscription filters and Live Tail, as documented in "Filter pattern syntax for metric
//! filters, subscription filters, filter log events, and Live Tail"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>).
//!
//! A pattern takes one of these forms, told apart by its first non-blank character:
//!
//! - nothing at all: every event matches;
//! - `{`: a JSON pattern, conditions on the properties of a JSON event;
//! - `[`: a space-delimited pattern (conditions on the fields of the event in order);
//! - `%`: a regular expression, standalone, in AWS's restricted syntax;
//! - anything else: terms, quoted phrases, `?` alternatives and `-` exclusions.
//!
//! Patterns are at most 1024 characters (the `filterPattern` length limit of the Logs API).
//! Parsing refuses what the pages say AWS refuses, with a position; matching never fails, it
//! only says no.
//!
//! ```
//! use shoal_logsquery::pattern::parse;
//! let p = parse(r#"{ $.level = "ERROR" && $.latency > 500 }"#).unwrap();
//! assert!(p.matches(r#"{"level": "ERROR", "latency": 750}"#));
//! assert!(!p.matches("ERROR latency 750"));
//! assert!(parse("ERROR -ARGUMENTS").unwrap().matches("[ERROR 400] BAD REQUEST"));
//! assert_eq!(parse("foo.bar").unwrap_err().position, 3);
//! ```

mod bool_expr;
mod cursor;
mod delimited;
mod error;
mod json;
mod regex;
mod terms;
mod value;

use std::str::FromStr;

pub use bool_expr::MAX_NESTING;
pub use error::PatternError;
pub use regex::MAX_REGEXES;

use cursor::Cursor;

/// The longest `filterPattern` the Logs API accepts, in characters.
pub const MAX_PATTERN_CHARS: usize = 1024;

/// A parsed filter pattern, ready to test events against.
#[derive(Debug, Clone)]
pub struct Pattern {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    All,
    Terms(terms::Terms),
    Regex(::regex::Regex),
    Json(json::JsonPattern),
    Delimited(delimited::Delimited),
}

/// Parses a filter pattern; an error carries the character position AWS's refusal concerns.
pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
    if let Some((byte, _)) = pattern.char_indices().nth(MAX_PATTERN_CHARS) {
        return Err(Cursor::new(pattern).error_at(
            byte,
            format!("a filter pattern is at most {MAX_PATTERN_CHARS} characters"),
        ));
    }
    let mut cur = Cursor::new(pattern);
    cur.skip_ws();
    let kind = match cur.peek() {
        None => Kind::All,
        Some('{') => Kind::Json(json::parse(&mut cur)?),
        Some('[') => Kind::Delimited(delimited::parse(&mut cur)?),
        Some('%') => {
            let re = regex::parse(&mut cur)?;
            cur.expect_end()?;
            Kind::Regex(re)
        }
        Some(_) => {
            let terms = terms::parse(&mut cur)?;
            if terms.matches_all() {
                Kind::All
            } else {
                Kind::Terms(terms)
            }
        }
    };
    Ok(Pattern { kind })
}

impl Pattern {
    /// Whether the event whose message this is passes the filter.
    pub fn matches(&self, message: &str) -> bool {
        match &self.kind {
            Kind::All => true,
            Kind::Terms(t) => t.matches(message),
            Kind::Regex(re) => re.is_match(message),
            Kind::Json(j) => j.matches(message),
            Kind::Delimited(d) => d.matches(message),
        }
    }

    /// True when every event matches (an empty pattern, or `" "`), so a reader may skip
    /// testing events at all.
    pub fn matches_all(&self) -> bool {
        matches!(self.kind, Kind::All)
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

#[cfg(test)]
mod tests;
