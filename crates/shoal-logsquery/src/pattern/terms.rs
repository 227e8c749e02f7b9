//! Terms in unstructured log events, after "Using filter patterns to match terms in
//! unstructured log events"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>):
//!
//! - `ERROR Exception`: every term must appear; matching is case-sensitive and by substring
//!   (`ERROR` matches `Exiting with ERRORCODE: -1`);
//! - `"INTERNAL SERVER ERROR"`: an exact phrase; terms holding anything but letters, digits
//!   and `_` must be quoted like this;
//! - `ERROR -ARGUMENTS`: `-` excludes a term; a pattern of exclusions alone (`-ERROR`) matches
//!   every event without them;
//! - `?ERROR ?WARN`: `?` starts an alternative. Unprefixed terms after it join that
//!   alternative, which is how AWS's CDK writes "any of these groups of terms"
//!   (`FilterPattern.anyTermGroup` renders `?"a" "b" ?"c" "d"`);
//! - `" "`: a phrase of only whitespace matches everything.
//!
//! Matching is `str::contains` on the message: no allocation, no parsing of the event.

use super::cursor::Cursor;
use super::error::PatternError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Terms {
    /// The event matches when any group does.
    groups: Vec<Group>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Group {
    include: Vec<Needle>,
    exclude: Vec<Needle>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Needle {
    /// The whitespace-only phrase, which AWS documents as matching every event.
    Anything,
    Text(String),
}

impl Needle {
    fn found_in(&self, message: &str) -> bool {
        match self {
            Needle::Anything => true,
            Needle::Text(t) => message.contains(t.as_str()),
        }
    }
}

impl Group {
    fn matches(&self, message: &str) -> bool {
        self.include.iter().all(|n| n.found_in(message))
            && !self.exclude.iter().any(|n| n.found_in(message))
    }

    fn matches_all(&self) -> bool {
        self.exclude.is_empty() && self.include.iter().all(|n| *n == Needle::Anything)
    }
}

impl Terms {
    pub(super) fn matches(&self, message: &str) -> bool {
        self.groups.iter().any(|g| g.matches(message))
    }

    /// True when every event matches, so callers may skip matching.
    pub(super) fn matches_all(&self) -> bool {
        self.groups.iter().any(Group::matches_all)
    }
}

/// Letters, digits and `_` may stand unquoted.
fn is_term_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses the whole pattern as terms, the cursor on its first non-blank character.
pub(super) fn parse(cur: &mut Cursor<'_>) -> Result<Terms, PatternError> {
    let mut groups: Vec<Group> = Vec::new();
    loop {
        cur.skip_ws();
        let Some(first) = cur.peek() else { break };
        let (alternative, excluded) = match first {
            '?' => (true, false),
            '-' => (false, true),
            _ => (false, false),
        };
        if alternative || excluded {
            cur.bump();
        }
        let needle = match cur.peek() {
            Some('"') => {
                let phrase = cur.quoted()?;
                if phrase.trim().is_empty() {
                    Needle::Anything
                } else {
                    Needle::Text(phrase)
                }
            }
            Some(c) if is_term_char(c) => Needle::Text(cur.take_while(is_term_char).to_string()),
            _ if alternative || excluded => {
                return Err(cur.error(format!("expected a term after '{first}'")))
            }
            _ => return Err(cur.error(UNQUOTED)),
        };
        if cur.peek().is_some_and(|c| !c.is_whitespace()) {
            return Err(cur.error(UNQUOTED));
        }
        if alternative || groups.is_empty() {
            groups.push(Group::default());
        }
        if let Some(group) = groups.last_mut() {
            if excluded {
                group.exclude.push(needle);
            } else {
                group.include.push(needle);
            }
        }
    }
    Ok(Terms { groups })
}

const UNQUOTED: &str =
    "terms with characters other than letters, digits and '_' must be in double quotes";
