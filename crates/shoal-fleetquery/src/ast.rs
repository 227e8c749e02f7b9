//! The query as a tree. Values keep the user's spelling; case folding and typing belong to the
//! index that evaluates them (AWS matches values case-insensitively, names case-sensitively).

use std::fmt;
use std::ops::Bound;

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// `*`: every document.
    All,
    /// `field:value`, or a bare value (`field` is `None`) that searches every field.
    Term {
        field: Option<String>,
        value: Value,
    },
    /// `field:[a TO b]`, `{a TO b}`, mixed brackets, and the comparisons `field>n` etc.
    Range {
        field: String,
        lower: Bound<String>,
        upper: Bound<String>,
    },
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An unquoted word, escapes removed.
    Word(String),
    /// A quoted phrase.
    Phrase(String),
    /// A word with `*` or `?`.
    Pattern(Pattern),
    /// `field:*`: the field is present.
    Exists,
}

/// A wildcard pattern: literal text, `*` (any run of characters) and `?` (one character).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern(pub Vec<Piece>);

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Any,
    One,
}

impl Pattern {
    /// A pattern that starts with a wildcard, which AWS allows for one term per query.
    pub fn is_leading(&self) -> bool {
        !matches!(self.0.first(), Some(Piece::Text(_)))
    }
}

impl Query {
    /// The number of clauses that match values, which AWS limits per query.
    pub fn term_count(&self) -> usize {
        match self {
            Query::All | Query::Term { .. } | Query::Range { .. } => 1,
            Query::And(qs) | Query::Or(qs) => qs.iter().map(Query::term_count).sum(),
            Query::Not(q) => q.term_count(),
        }
    }

    /// Every field name the query mentions, mutably, so a caller can map aliases.
    pub fn fields_mut(&mut self, f: &mut impl FnMut(&mut String)) {
        match self {
            Query::All | Query::Term { field: None, .. } => {}
            Query::Term { field: Some(n), .. } | Query::Range { field: n, .. } => f(n),
            Query::And(qs) | Query::Or(qs) => qs.iter_mut().for_each(|q| q.fields_mut(f)),
            Query::Not(q) => q.fields_mut(f),
        }
    }

    /// Every field name the query mentions.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Query::All | Query::Term { field: None, .. } => {}
            Query::Term { field: Some(n), .. } | Query::Range { field: n, .. } => out.push(n),
            Query::And(qs) | Query::Or(qs) => qs.iter().for_each(|q| q.collect_fields(out)),
            Query::Not(q) => q.collect_fields(out),
        }
    }
}

/// Characters that end a word unless escaped.
pub(crate) fn is_special(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | ':' | '=' | '"' | '[' | ']' | '{' | '}' | '<' | '>' | '\\' | '*' | '?'
    )
}

fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if matches!(s, "AND" | "OR" | "NOT" | "TO" | "&&" | "||" | "!") {
        // An escaped first character keeps a value from being read as an operator (the
        // symbolic spellings too: found by fuzzing).
        write!(f, "\\")?;
    }
    for (i, c) in s.chars().enumerate() {
        if is_special(c) || c.is_whitespace() || (i == 0 && matches!(c, '-' | '+')) {
            write!(f, "\\")?;
        }
        write!(f, "{c}")?;
    }
    Ok(())
}

fn write_bound_value(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write!(f, "\"")?;
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            write!(f, "\\")?;
        }
        write!(f, "{c}")?;
    }
    write!(f, "\"")
}

/// Prints the query in the syntax the parser reads, fully parenthesised, so that
/// `parse(&q.to_string()) == q` (a property the tests check).
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::All => write!(f, "*"),
            Query::Term { field, value } => {
                if let Some(n) = field {
                    write_escaped(f, n)?;
                    write!(f, ":")?;
                }
                match value {
                    Value::Word(w) => write_escaped(f, w),
                    Value::Phrase(p) => write_bound_value(f, p),
                    Value::Exists => write!(f, "*"),
                    Value::Pattern(p) => {
                        for piece in &p.0 {
                            match piece {
                                Piece::Text(t) => write_escaped(f, t)?,
                                Piece::Any => write!(f, "*")?,
                                Piece::One => write!(f, "?")?,
                            }
                        }
                        Ok(())
                    }
                }
            }
            Query::Range {
                field,
                lower,
                upper,
            } => {
                write_escaped(f, field)?;
                write!(f, ":")?;
                match lower {
                    Bound::Included(v) => {
                        write!(f, "[")?;
                        write_bound_value(f, v)?;
                    }
                    Bound::Excluded(v) => {
                        write!(f, "{{")?;
                        write_bound_value(f, v)?;
                    }
                    Bound::Unbounded => write!(f, "[*")?,
                }
                write!(f, " TO ")?;
                match upper {
                    Bound::Included(v) => {
                        write_bound_value(f, v)?;
                        write!(f, "]")
                    }
                    Bound::Excluded(v) => {
                        write_bound_value(f, v)?;
                        write!(f, "}}")
                    }
                    Bound::Unbounded => write!(f, "*]"),
                }
            }
            Query::And(qs) | Query::Or(qs) => {
                let op = if matches!(self, Query::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                write!(f, "(")?;
                for (i, q) in qs.iter().enumerate() {
                    if i > 0 {
                        write!(f, "{op}")?;
                    }
                    write!(f, "{q}")?;
                }
                write!(f, ")")
            }
            Query::Not(q) => write!(f, "NOT {q}"),
        }
    }
}
