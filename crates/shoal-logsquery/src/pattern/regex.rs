//! Regular expressions between `%` signs, restricted to the subset AWS documents in "Supported
//! regular expressions (regex) syntax"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>):
//! ASCII letters and digits, the symbols `: _ # = @ / ; , -`, the operators
//! `^ $ ? [ ] { } | \ * + .`, no parentheses (no subpatterns) and no multi-byte characters.
//!
//! The page's list omits the space, yet AWS's own CDK renders `%bind: address already in use%`
//! (`FilterPattern.regexValue`), so a space is accepted too.
//!
//! The regex crate compiles what passes the check, with size limits: it has no backtracking, so
//! a pattern costs at most linear time in the message, and the limits bound its memory.

use regex::{Regex, RegexBuilder};

use super::cursor::Cursor;
use super::error::PatternError;

/// Regexes allowed in one JSON or space-delimited pattern (the page's quota section).
pub const MAX_REGEXES: usize = 2;

/// Compiled program size; a 1024-character pattern of counted repetitions stays far below it
/// unless it multiplies repetitions, which is what this stops.
const SIZE_LIMIT: usize = 1 << 20;
const DFA_SIZE_LIMIT: usize = 1 << 20;
const NEST_LIMIT: u32 = 32;

/// Parses `%...%`, the cursor on the opening `%`.
pub(super) fn parse(cur: &mut Cursor<'_>) -> Result<Regex, PatternError> {
    let open = cur.pos();
    cur.bump();
    let start = cur.pos();
    loop {
        let at = cur.pos();
        match cur.bump() {
            None => return Err(cur.error_at(open, "unterminated regular expression")),
            Some('%') => break,
            Some('(' | ')') => {
                return Err(cur.error_at(at, "parentheses are not supported in regular expressions"))
            }
            Some(c) if !c.is_ascii() => {
                return Err(cur.error_at(
                    at,
                    "multi-byte characters are not supported in regular expressions",
                ))
            }
            Some(c) if !allowed(c) => {
                return Err(cur.error_at(
                    at,
                    format!("character '{c}' is not supported in regular expressions"),
                ))
            }
            Some(_) => {}
        }
    }
    // The closing `%` is one byte.
    let source = cur.slice(start, cur.pos() - 1);
    if source.is_empty() {
        return Err(cur.error_at(open, "empty regular expression"));
    }
    RegexBuilder::new(source)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .nest_limit(NEST_LIMIT)
        .build()
        .map_err(|e| cur.error_at(start, format!("invalid regular expression: {}", brief(&e))))
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            ':' | '_' | '#' | '=' | '@' | '/' | ';' | ',' | '-' | ' ' // symbols
                | '^' | '$' | '?' | '[' | ']' | '{' | '}' | '|' | '\\' | '*' | '+' | '.' // operators
        )
}

/// The regex crate's messages span several lines with a caret diagram; keep the last line,
/// which says what is wrong.
fn brief(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("rejected")
        .trim()
        .trim_start_matches("error: ")
        .trim_end_matches('.')
        .to_string()
}
