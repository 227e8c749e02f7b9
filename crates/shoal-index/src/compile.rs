//! The query tree compiled to a tantivy query over the `terms` field (see `tokens`).

use crate::schema::Fields;
use crate::tokens::{self, NUM, WORD};
use shoal_fleetquery::{Piece, Query, Value};
use std::ops::Bound;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, Query as TQuery, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

/// A query that parsed but cannot be run (a wildcard too large for the automaton).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MatchError(pub String);

type Q = Box<dyn TQuery>;

pub(crate) fn compile(f: &Fields, q: &Query) -> Result<Q, MatchError> {
    Ok(match q {
        Query::All => Box::new(AllQuery),
        Query::Term { field, value } => term(f, field.as_deref().unwrap_or(""), value)?,
        Query::Range {
            field,
            lower,
            upper,
        } => range(f, field, lower, upper),
        Query::And(qs) => {
            let mut clauses = Vec::with_capacity(qs.len());
            for q in qs {
                clauses.push(match q {
                    Query::Not(inner) => (Occur::MustNot, compile(f, inner)?),
                    q => (Occur::Must, compile(f, q)?),
                });
            }
            if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Query::Or(qs) => {
            let mut clauses = Vec::with_capacity(qs.len());
            for q in qs {
                clauses.push((Occur::Should, compile(f, q)?));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Query::Not(inner) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Q),
            (Occur::MustNot, compile(f, inner)?),
        ])),
    })
}

fn t(f: &Fields, text: &str) -> Term {
    Term::from_field_text(f.terms, text)
}

fn term_query(f: &Fields, text: &str) -> Q {
    Box::new(TermQuery::new(t(f, text), IndexRecordOption::Basic))
}

/// All of the words must be there (a phrase matches as its words; positions are not indexed).
fn words_query(f: &Fields, path: &str, value: &str) -> Q {
    let mut words: Vec<Q> = tokens::words(value)
        .map(|w| term_query(f, &tokens::word(path, &w)))
        .collect();
    let by_words: Q = match words.len() {
        0 => Box::new(EmptyQuery),
        1 => words.pop().expect("one word"),
        _ => Box::new(BooleanQuery::new(
            words.into_iter().map(|q| (Occur::Must, q)).collect(),
        )),
    };
    // `temp:70` also finds a reported 70.0: numbers compare as numbers.
    match (path.is_empty(), tokens::as_number(value)) {
        (false, Some(n)) => Box::new(BooleanQuery::new(vec![
            (Occur::Should, by_words),
            (Occur::Should, term_query(f, &tokens::num(path, n))),
        ])),
        _ => by_words,
    }
}

fn term(f: &Fields, path: &str, value: &Value) -> Result<Q, MatchError> {
    Ok(match value {
        Value::Word(w) | Value::Phrase(w) => words_query(f, path, w),
        Value::Exists => term_query(f, &tokens::has(path)),
        Value::Pattern(p) => {
            let mut re = escape(path);
            re.push_str(&format!("\\x{:02x}", WORD as u32));
            for piece in &p.0 {
                match piece {
                    Piece::Text(s) => re.push_str(&escape(&s.to_lowercase())),
                    Piece::Any => re.push_str(".*"),
                    Piece::One => re.push('.'),
                }
            }
            Box::new(
                RegexQuery::from_pattern(&re, f.terms)
                    .map_err(|e| MatchError(format!("wildcard cannot be searched: {e}")))?,
            )
        }
    })
}

/// A regular expression matching `s` literally.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_punctuation() || c.is_ascii_control() || c.is_whitespace() {
            out.push_str(&format!("\\x{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Numbers when every bound is a number (`temp>60`, `[1 TO 3]`), else the words' order.
fn range(f: &Fields, path: &str, lower: &Bound<String>, upper: &Bound<String>) -> Q {
    let numeric = [lower, upper].iter().all(|b| match b {
        Bound::Included(v) | Bound::Excluded(v) => tokens::as_number(v).is_some(),
        Bound::Unbounded => true,
    });
    let marker = if numeric { NUM } else { WORD };
    let encode = |v: &str| {
        if numeric {
            tokens::num(path, tokens::as_number(v).unwrap_or(0.0))
        } else {
            tokens::word(path, &v.to_lowercase())
        }
    };
    let (first, after) = tokens::section(path, marker);
    let lo = match lower {
        Bound::Included(v) => Bound::Included(t(f, &encode(v))),
        Bound::Excluded(v) => Bound::Excluded(t(f, &encode(v))),
        Bound::Unbounded => Bound::Included(t(f, &first)),
    };
    let hi = match upper {
        Bound::Included(v) => Bound::Included(t(f, &encode(v))),
        Bound::Excluded(v) => Bound::Excluded(t(f, &encode(v))),
        Bound::Unbounded => Bound::Excluded(t(f, &after)),
    };
    Box::new(RangeQuery::new(lo, hi))
}
