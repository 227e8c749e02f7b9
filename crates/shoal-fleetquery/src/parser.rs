//! Recursive descent over the tokens, Lucene's classic grammar as AWS describes it: `OR` binds
//! loosest, then `AND` (also implied between adjacent clauses, AWS's default operator), then
//! `NOT` and a leading `-`; parentheses group, and `field:( ... )` gives a group a field.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/query-syntax.html>

use crate::ast::{Piece, Query, Value};
use crate::error::QueryError;
use crate::lexer::{lex, Cmp, Spanned, Tok};
use std::ops::Bound;

/// AWS's limit on the clauses of one query ("Maximum number of terms in a query: 12").
pub const MAX_TERMS: usize = 12;
/// A query with a leading wildcard may be at most this long, and have one such term.
pub const MAX_LEADING_WILDCARD_QUERY: usize = 100;
/// The longest query accepted, in characters. AWS documents no limit; twelve terms with
/// values of AWS's longest attribute values (800 characters) fit well within it.
pub const MAX_QUERY_CHARS: usize = 16 * 1024;
/// How deep parentheses, `NOT` and `-` may nest. The parser recurses at each level, so a query
/// of a few thousand `(` would otherwise overflow the stack; twelve terms never need more.
pub const MAX_NESTING: usize = 32;

pub fn parse(input: &str) -> Result<Query, QueryError> {
    let len = input.chars().count();
    if len > MAX_QUERY_CHARS {
        return Err(QueryError::new(
            MAX_QUERY_CHARS,
            format!("the query is longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    let toks = lex(input)?;
    if toks.is_empty() {
        return Err(QueryError::new(0, "empty query"));
    }
    let mut p = Parser {
        toks,
        at: 0,
        end: len,
        depth: 0,
    };
    let q = p.or(None)?;
    if let Some((t, pos)) = p.toks.get(p.at) {
        let what = if *t == Tok::RParen {
            "unbalanced ')'"
        } else {
            "unexpected token"
        };
        return Err(QueryError::new(*pos, what));
    }
    check_limits(&q, len)?;
    Ok(q)
}

fn check_limits(q: &Query, len: usize) -> Result<(), QueryError> {
    let terms = q.term_count();
    if terms > MAX_TERMS {
        return Err(QueryError::new(
            0,
            format!("the query has {terms} terms, more than the {MAX_TERMS} allowed"),
        ));
    }
    let leading = count_leading(q);
    if leading > 1 {
        return Err(QueryError::new(
            0,
            "only one term per query may start with a wildcard",
        ));
    }
    if leading == 1 && len > MAX_LEADING_WILDCARD_QUERY {
        return Err(QueryError::new(
            0,
            format!(
                "a query with a leading wildcard may be at most {MAX_LEADING_WILDCARD_QUERY} characters"
            ),
        ));
    }
    Ok(())
}

fn count_leading(q: &Query) -> usize {
    match q {
        Query::Term {
            value: Value::Pattern(p),
            ..
        } => usize::from(p.is_leading()),
        Query::And(qs) | Query::Or(qs) => qs.iter().map(count_leading).sum(),
        Query::Not(q) => count_leading(q),
        _ => 0,
    }
}

struct Parser {
    toks: Vec<Spanned>,
    at: usize,
    end: usize,
    /// Groups and negations open around the current token.
    depth: usize,
}

fn keyword(t: &Tok) -> Option<&'static str> {
    match t {
        Tok::Word(pieces, false) => match pieces.as_slice() {
            [Piece::Text(w)] => match w.as_str() {
                "AND" | "&&" => Some("AND"),
                "OR" | "||" => Some("OR"),
                "NOT" | "!" => Some("NOT"),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

impl Parser {
    /// Runs `inner` one nesting level deeper, refusing past `MAX_NESTING`.
    fn nested(
        &mut self,
        pos: usize,
        inner: impl FnOnce(&mut Self) -> Result<Query, QueryError>,
    ) -> Result<Query, QueryError> {
        if self.depth >= MAX_NESTING {
            return Err(QueryError::new(
                pos,
                format!("groups and negations nest deeper than {MAX_NESTING} levels"),
            ));
        }
        self.depth += 1;
        let q = inner(self);
        self.depth -= 1;
        q
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map(|(_, p)| *p).unwrap_or(self.end)
    }

    fn bump(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|(t, _)| t.clone());
        self.at += 1;
        t
    }

    fn or(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let mut parts = vec![self.and(field)?];
        while self.peek().and_then(keyword) == Some("OR") {
            self.at += 1;
            parts.push(self.and(field)?);
        }
        Ok(flatten(parts, Query::Or))
    }

    fn and(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let mut parts = vec![self.unary(field)?];
        loop {
            match self.peek() {
                None | Some(Tok::RParen) => break,
                Some(t) if keyword(t) == Some("OR") => break,
                Some(t) if keyword(t) == Some("AND") => {
                    self.at += 1;
                    parts.push(self.unary(field)?);
                }
                Some(_) => parts.push(self.unary(field)?),
            }
        }
        Ok(flatten(parts, Query::And))
    }

    fn unary(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let pos = self.pos();
        match self.peek() {
            Some(Tok::Minus) => {
                self.at += 1;
                self.nested(pos, |p| Ok(Query::Not(Box::new(p.unary(field)?))))
            }
            Some(Tok::Plus) => {
                self.at += 1;
                self.nested(pos, |p| p.unary(field))
            }
            Some(t) if keyword(t) == Some("NOT") => {
                self.at += 1;
                self.nested(pos, |p| Ok(Query::Not(Box::new(p.unary(field)?))))
            }
            _ => self.primary(field),
        }
    }

    fn primary(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let pos = self.pos();
        match self.bump() {
            None => Err(QueryError::new(
                pos,
                "expected a term at the end of the query",
            )),
            Some(Tok::LParen) => self.nested(pos, |p| {
                let q = p.or(field)?;
                p.expect_rparen(pos)?;
                Ok(q)
            }),
            Some(Tok::Quoted(s)) => Ok(Query::Term {
                field: field.map(str::to_string),
                value: Value::Phrase(s),
            }),
            Some(Tok::Word(pieces, escaped)) => {
                if keyword(&Tok::Word(pieces.clone(), escaped)).is_some() {
                    return Err(QueryError::new(
                        pos,
                        "an operator needs a term on each side",
                    ));
                }
                match self.peek() {
                    Some(Tok::Colon) if field.is_none() => {
                        self.at += 1;
                        let name = plain(&pieces).ok_or_else(|| {
                            QueryError::new(pos, "a field name cannot hold a wildcard")
                        })?;
                        self.field_value(name, pos)
                    }
                    Some(Tok::Cmp(_)) if field.is_none() => {
                        let name = plain(&pieces).ok_or_else(|| {
                            QueryError::new(pos, "a field name cannot hold a wildcard")
                        })?;
                        let Some(Tok::Cmp(cmp)) = self.bump() else {
                            unreachable!("peeked a comparison")
                        };
                        let v = self.bound_value()?.ok_or_else(|| {
                            QueryError::new(self.pos(), "a comparison needs a value")
                        })?;
                        Ok(comparison(name, cmp, v))
                    }
                    Some(Tok::Colon) | Some(Tok::Cmp(_)) => {
                        Err(QueryError::new(self.pos(), "a field inside a field group"))
                    }
                    _ => Ok(term(field.map(str::to_string), pieces)),
                }
            }
            Some(Tok::Minus) | Some(Tok::Plus) => {
                unreachable!("unary operators are taken before primary")
            }
            Some(_) => Err(QueryError::new(pos, "expected a term")),
        }
    }

    fn expect_rparen(&mut self, open: usize) -> Result<(), QueryError> {
        match self.bump() {
            Some(Tok::RParen) => Ok(()),
            _ => Err(QueryError::new(open, "unbalanced '('")),
        }
    }

    /// After `field:`: a value, a phrase, a range or a parenthesised group.
    fn field_value(&mut self, name: String, name_pos: usize) -> Result<Query, QueryError> {
        let pos = self.pos();
        match self.peek() {
            Some(Tok::LParen) => {
                self.at += 1;
                self.nested(pos, |p| {
                    let q = p.or(Some(&name))?;
                    p.expect_rparen(pos)?;
                    Ok(q)
                })
            }
            Some(Tok::Open(inclusive)) => {
                let lower_inclusive = *inclusive;
                self.at += 1;
                let lower = self.bound_value()?;
                match self.bump() {
                    Some(Tok::Word(p, false)) if plain(&p).as_deref() == Some("TO") => {}
                    _ => {
                        return Err(QueryError::new(
                            pos,
                            "a range needs 'TO' between its bounds",
                        ))
                    }
                }
                let upper = self.bound_value()?;
                let upper_inclusive = match self.bump() {
                    Some(Tok::Close(inc)) => inc,
                    _ => return Err(QueryError::new(pos, "unterminated range")),
                };
                let bound = |v: Option<String>, inc: bool| match v {
                    None => Bound::Unbounded,
                    Some(v) if inc => Bound::Included(v),
                    Some(v) => Bound::Excluded(v),
                };
                Ok(Query::Range {
                    field: name,
                    lower: bound(lower, lower_inclusive),
                    upper: bound(upper, upper_inclusive),
                })
            }
            Some(Tok::Cmp(_)) => {
                let Some(Tok::Cmp(cmp)) = self.bump() else {
                    unreachable!("peeked a comparison")
                };
                let v = self
                    .bound_value()?
                    .ok_or_else(|| QueryError::new(self.pos(), "a comparison needs a value"))?;
                Ok(comparison(name, cmp, v))
            }
            Some(Tok::Quoted(_)) => {
                let Some(Tok::Quoted(s)) = self.bump() else {
                    unreachable!("peeked a phrase")
                };
                Ok(Query::Term {
                    field: Some(name),
                    value: Value::Phrase(s),
                })
            }
            Some(Tok::Minus) => {
                self.at += 1;
                match self.bump() {
                    Some(Tok::Word(mut pieces, _)) => {
                        match pieces.first_mut() {
                            Some(Piece::Text(t)) => t.insert(0, '-'),
                            _ => pieces.insert(0, Piece::Text("-".into())),
                        }
                        Ok(term(Some(name), pieces))
                    }
                    _ => Err(QueryError::new(pos, "expected a value after ':'")),
                }
            }
            Some(Tok::Word(..)) => {
                let Some(Tok::Word(pieces, _)) = self.bump() else {
                    unreachable!("peeked a word")
                };
                Ok(term(Some(name), pieces))
            }
            _ => Err(QueryError::new(
                pos.max(name_pos),
                format!("expected a value after '{name}:'"),
            )),
        }
    }

    /// A range bound or comparison value: a word, a phrase, a signed number, or `*` (none).
    fn bound_value(&mut self) -> Result<Option<String>, QueryError> {
        let pos = self.pos();
        let negative = if self.peek() == Some(&Tok::Minus) {
            self.at += 1;
            true
        } else {
            false
        };
        let v = match self.bump() {
            Some(Tok::Quoted(s)) => Some(s),
            Some(Tok::Word(p, _)) if p == [Piece::Any] => None,
            Some(Tok::Word(p, _)) => Some(
                plain(&p)
                    .ok_or_else(|| QueryError::new(pos, "a range bound cannot hold a wildcard"))?,
            ),
            _ => return Err(QueryError::new(pos, "expected a value")),
        };
        Ok(match (negative, v) {
            (true, Some(v)) => Some(format!("-{v}")),
            (true, None) => return Err(QueryError::new(pos, "expected a value")),
            (false, v) => v,
        })
    }
}

/// The text of a word without wildcards.
fn plain(pieces: &[Piece]) -> Option<String> {
    match pieces {
        [Piece::Text(t)] => Some(t.clone()),
        _ => None,
    }
}

fn term(field: Option<String>, pieces: Vec<Piece>) -> Query {
    if pieces == [Piece::Any] {
        return match field {
            None => Query::All,
            Some(_) => Query::Term {
                field,
                value: Value::Exists,
            },
        };
    }
    let value = match plain(&pieces) {
        Some(t) => Value::Word(t),
        None => Value::Pattern(crate::ast::Pattern(pieces)),
    };
    Query::Term { field, value }
}

fn comparison(field: String, cmp: Cmp, v: String) -> Query {
    let (lower, upper) = match cmp {
        Cmp::Gt => (Bound::Excluded(v), Bound::Unbounded),
        Cmp::Ge => (Bound::Included(v), Bound::Unbounded),
        Cmp::Lt => (Bound::Unbounded, Bound::Excluded(v)),
        Cmp::Le => (Bound::Unbounded, Bound::Included(v)),
    };
    Query::Range {
        field,
        lower,
        upper,
    }
}

fn flatten(mut parts: Vec<Query>, make: fn(Vec<Query>) -> Query) -> Query {
    if parts.len() == 1 {
        return parts.pop().expect("one part");
    }
    let same = |q: &Query| {
        matches!(
            (q, make(Vec::new())),
            (Query::And(_), Query::And(_)) | (Query::Or(_), Query::Or(_))
        )
    };
    let mut flat = Vec::with_capacity(parts.len());
    for p in parts {
        if same(&p) {
            match p {
                Query::And(qs) | Query::Or(qs) => flat.extend(qs),
                _ => unreachable!("checked"),
            }
        } else {
            flat.push(p);
        }
    }
    make(flat)
}
