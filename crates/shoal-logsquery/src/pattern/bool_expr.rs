//! `&&`, `||` and parentheses over conditions, shared by JSON patterns and by the fields of
//! space-delimited patterns. Precedence follows "Using compound expressions to match terms in
//! JSON objects" (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>):
//! `()` binds tighter than `&&`, which binds tighter than `||`.

use super::cursor::Cursor;
use super::error::PatternError;

/// How deep parentheses may nest: deep enough for any pattern a person writes, shallow enough
/// that parsing and evaluation cannot exhaust the stack.
pub const MAX_NESTING: usize = 32;

#[derive(Debug, Clone)]
pub(super) enum Expr<L> {
    Leaf(L),
    And(Vec<Expr<L>>),
    Or(Vec<Expr<L>>),
}

impl<L> Expr<L> {
    pub(super) fn eval(&self, leaf: &mut impl FnMut(&L) -> bool) -> bool {
        match self {
            Expr::Leaf(l) => leaf(l),
            Expr::And(parts) => parts.iter().all(|p| p.eval(leaf)),
            Expr::Or(parts) => parts.iter().any(|p| p.eval(leaf)),
        }
    }
}

/// Parses an expression whose conditions `leaf` parses; stops before anything that is not part
/// of it (a `}`, `]` or `,` the caller expects).
pub(super) fn parse<'a, L, F>(cur: &mut Cursor<'a>, leaf: &mut F) -> Result<Expr<L>, PatternError>
where
    F: FnMut(&mut Cursor<'a>) -> Result<L, PatternError>,
{
    or(cur, leaf, 0)
}

fn or<'a, L, F>(cur: &mut Cursor<'a>, leaf: &mut F, depth: usize) -> Result<Expr<L>, PatternError>
where
    F: FnMut(&mut Cursor<'a>) -> Result<L, PatternError>,
{
    let mut parts = vec![and(cur, leaf, depth)?];
    loop {
        cur.skip_ws();
        if !cur.eat("||") {
            break;
        }
        parts.push(and(cur, leaf, depth)?);
    }
    Ok(collapse(parts, Expr::Or))
}

fn and<'a, L, F>(cur: &mut Cursor<'a>, leaf: &mut F, depth: usize) -> Result<Expr<L>, PatternError>
where
    F: FnMut(&mut Cursor<'a>) -> Result<L, PatternError>,
{
    let mut parts = vec![atom(cur, leaf, depth)?];
    loop {
        cur.skip_ws();
        if !cur.eat("&&") {
            break;
        }
        parts.push(atom(cur, leaf, depth)?);
    }
    Ok(collapse(parts, Expr::And))
}

fn atom<'a, L, F>(cur: &mut Cursor<'a>, leaf: &mut F, depth: usize) -> Result<Expr<L>, PatternError>
where
    F: FnMut(&mut Cursor<'a>) -> Result<L, PatternError>,
{
    cur.skip_ws();
    if cur.peek() != Some('(') {
        return leaf(cur).map(Expr::Leaf);
    }
    if depth >= MAX_NESTING {
        return Err(cur.error(format!("parentheses nest deeper than {MAX_NESTING} levels")));
    }
    let open = cur.pos();
    cur.bump();
    let inner = or(cur, leaf, depth + 1)?;
    cur.skip_ws();
    if cur.eat(")") {
        Ok(inner)
    } else if cur.at_end() {
        Err(cur.error_at(open, "unclosed '('"))
    } else {
        Err(cur.error("expected ')'"))
    }
}

fn collapse<L>(mut parts: Vec<Expr<L>>, join: fn(Vec<Expr<L>>) -> Expr<L>) -> Expr<L> {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        join(parts)
    }
}
