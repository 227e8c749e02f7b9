//! Expressions, by precedence from weakest: `or`, `and`, `not`, comparisons (`=`, `!=`, `<`,
//! `<=`, `>`, `>=`, `like`, `=~`, `in`, `not like`, `not in`), `+ -`, `* / %`, unary `-`, `^`,
//! then literals, fields, calls and parentheses.
//!
//! Operators: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html>;
//! `like`, `=~` and `in`: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Filter.html>.

use super::ast::{BinOp, Expr, LikePattern, Period};
use super::error::QueryError;
use super::functions::{lookup, Func};
use super::lexer::Tok;
use super::parser::{is_reserved, AggContext, Parser, MAX_NESTING};
use super::time;

impl Parser<'_> {
    pub(crate) fn expr(&mut self) -> Result<Expr, QueryError> {
        self.nested(|p| p.or_expr())
    }

    /// Runs `f` one nesting level deeper.
    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Expr, QueryError>,
    ) -> Result<Expr, QueryError> {
        if self.depth >= MAX_NESTING {
            return Err(self.error_at(self.peek().pos, "the expression nests too deeply"));
        }
        self.depth += 1;
        let e = f(self);
        self.depth -= 1;
        e
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and_expr()?;
        while self.eat_word("or") {
            let right = self.and_expr()?;
            left = binary(BinOp::Or, left, right);
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not_expr()?;
        while self.eat_word("and") {
            let right = self.not_expr()?;
            left = binary(BinOp::And, left, right);
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, QueryError> {
        if self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.nested(|p| p.not_expr())?)));
        }
        self.cmp_expr()
    }

    fn cmp_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.add_expr()?;
        loop {
            let op = match &self.peek().tok {
                Tok::Eq => BinOp::Eq,
                Tok::Ne => BinOp::Ne,
                Tok::Lt => BinOp::Lt,
                Tok::Le => BinOp::Le,
                Tok::Gt => BinOp::Gt,
                Tok::Ge => BinOp::Ge,
                Tok::Tilde => {
                    self.advance();
                    left = self.like(left, false, true)?;
                    continue;
                }
                t if t.is_word("like") => {
                    self.advance();
                    left = self.like(left, false, false)?;
                    continue;
                }
                t if t.is_word("in") => {
                    self.advance();
                    left = self.in_list(left, false)?;
                    continue;
                }
                t if t.is_word("not") && self.peek_at(1).is_word("like") => {
                    self.i += 2;
                    left = self.like(left, true, false)?;
                    continue;
                }
                t if t.is_word("not") && self.peek_at(1).is_word("in") => {
                    self.i += 2;
                    left = self.in_list(left, true)?;
                    continue;
                }
                _ => return Ok(left),
            };
            self.advance();
            let right = self.add_expr()?;
            left = binary(op, left, right);
        }
    }

    fn like(&mut self, expr: Expr, negated: bool, tilde: bool) -> Result<Expr, QueryError> {
        let t = self.peek().clone();
        let pattern = match t.tok {
            Tok::Str(s) => LikePattern::Str(s),
            Tok::Regex(r) => LikePattern::Regex(self.pattern(r, t.pos)?),
            _ => return Err(self.unexpected()),
        };
        self.advance();
        Ok(Expr::Like {
            expr: Box::new(expr),
            pattern,
            negated,
            tilde,
        })
    }

    fn in_list(&mut self, expr: Expr, negated: bool) -> Result<Expr, QueryError> {
        self.expect(&Tok::LBracket)?;
        let mut list = Vec::new();
        if !self.eat(&Tok::RBracket) {
            list.push(self.expr()?);
            while self.eat(&Tok::Comma) {
                list.push(self.expr()?);
            }
            self.expect(&Tok::RBracket)?;
        }
        Ok(Expr::In {
            expr: Box::new(expr),
            list,
            negated,
        })
    }

    fn add_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.mul_expr()?;
        loop {
            let op = match self.peek().tok {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.mul_expr()?;
            left = binary(op, left, right);
        }
    }

    fn mul_expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.neg_expr()?;
        loop {
            let op = match self.peek().tok {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Mod,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.neg_expr()?;
            left = binary(op, left, right);
        }
    }

    /// Unary minus; `-5` becomes the literal -5.
    fn neg_expr(&mut self) -> Result<Expr, QueryError> {
        if self.eat(&Tok::Minus) {
            return Ok(match self.nested(|p| p.neg_expr())? {
                Expr::Num(n) => Expr::Num(-n),
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.pow_expr()
    }

    /// `^` binds right to left: `2 ^ 3 ^ 2` is `2 ^ (3 ^ 2)`.
    fn pow_expr(&mut self) -> Result<Expr, QueryError> {
        let base = self.primary()?;
        if self.eat(&Tok::Caret) {
            let exp = self.neg_expr()?;
            return Ok(binary(BinOp::Pow, base, exp));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let t = self.peek().clone();
        let e = match t.tok {
            Tok::Num(n) => Expr::Num(n),
            Tok::Str(s) => Expr::Str(s),
            Tok::Quoted(name) => Expr::Field(name),
            Tok::Ident(name) if *self.peek_at(1) == Tok::LParen => return self.call(name, t.pos),
            Tok::Ident(name) if !is_reserved(&name) => Expr::Field(name),
            Tok::LParen => {
                self.advance();
                let e = self.expr()?;
                self.expect(&Tok::RParen)?;
                return Ok(e);
            }
            Tok::Regex(_) => {
                return Err(self.error_at(
                    t.pos,
                    "a regular expression is only allowed after like, =~ or parse",
                ))
            }
            Tok::Period(..) => {
                return Err(self.error_at(
                    t.pos,
                    "a time period is only allowed in bin, datefloor and dateceil",
                ))
            }
            _ => return Err(self.unexpected()),
        };
        self.advance();
        Ok(e)
    }

    fn call(&mut self, name: String, pos: usize) -> Result<Expr, QueryError> {
        let Some(spec) = lookup(&name) else {
            return Err(self.error_at(pos, format!("unknown function {name}")));
        };
        let aggregate = spec.func.is_aggregate();
        let outer = self.agg;
        if aggregate {
            match outer {
                AggContext::Forbidden => {
                    return Err(self.error_at(pos, format!("{name} is only allowed in stats")))
                }
                AggContext::Inside => {
                    return Err(self.error_at(pos, "aggregation functions cannot be nested"))
                }
                AggContext::Allowed | AggContext::AfterStats => self.agg = AggContext::Inside,
            }
        }
        let args = self.call_args(spec.period_arg, spec.func == Func::Count);
        self.agg = outer;
        let args = args?;
        if args.len() < spec.min_args || args.len() > spec.max_args {
            let expected = match (spec.min_args, spec.max_args) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(self.error_at(
                pos,
                format!("{name} takes {expected} arguments, not {}", args.len()),
            ));
        }
        Ok(Expr::Call { name, args })
    }

    fn call_args(
        &mut self,
        period_arg: Option<usize>,
        star_ok: bool,
    ) -> Result<Vec<Expr>, QueryError> {
        self.advance(); // the name
        self.expect(&Tok::LParen)?;
        let mut args = Vec::new();
        if self.eat(&Tok::RParen) {
            return Ok(args);
        }
        // `count(*)`: the only place a bare `*` is an argument.
        if star_ok && self.peek().tok == Tok::Star && *self.peek_at(1) == Tok::RParen {
            self.i += 2;
            return Ok(vec![Expr::Star]);
        }
        loop {
            if period_arg == Some(args.len()) {
                args.push(self.period()?);
            } else {
                args.push(self.expr()?);
            }
            if self.eat(&Tok::RParen) {
                return Ok(args);
            }
            self.expect(&Tok::Comma)?;
        }
    }

    fn period(&mut self) -> Result<Expr, QueryError> {
        let t = self.peek().clone();
        let Tok::Period(amount, unit) = t.tok else {
            return Err(self.error_at(
                t.pos,
                format!("expected a time period such as 5m, found {}", t.text),
            ));
        };
        let p = Period { amount, unit };
        if time::span(&p).is_none() {
            return Err(self.error_at(t.pos, format!("invalid time period {}", t.text)));
        }
        self.advance();
        Ok(Expr::Period(p))
    }
}

fn binary(op: BinOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

/// Calls `f` on each direct sub-expression.
pub(crate) fn children(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    match e {
        Expr::Call { args, .. } => args.iter().for_each(f),
        Expr::Not(x) | Expr::Neg(x) | Expr::Like { expr: x, .. } => f(x),
        Expr::In { expr, list, .. } => {
            f(expr);
            list.iter().for_each(f);
        }
        Expr::Binary { left, right, .. } => {
            f(left);
            f(right);
        }
        Expr::Field(_) | Expr::Str(_) | Expr::Num(_) | Expr::Star | Expr::Period(_) => {}
    }
}

pub(crate) fn is_aggregate_call(e: &Expr) -> bool {
    matches!(e, Expr::Call { name, .. } if lookup(name).is_some_and(|s| s.func.is_aggregate()))
}

pub(crate) fn has_aggregate(e: &Expr) -> bool {
    if is_aggregate_call(e) {
        return true;
    }
    let mut found = false;
    children(e, &mut |c| found |= has_aggregate(c));
    found
}

/// The fields used outside every aggregation (`x` in `stats count(*) + x`).
pub(crate) fn bare_fields(e: &Expr, out: &mut Vec<String>) {
    if is_aggregate_call(e) {
        return;
    }
    if let Expr::Field(name) = e {
        out.push(name.clone());
    }
    children(e, &mut |c| bare_fields(c, out));
}
