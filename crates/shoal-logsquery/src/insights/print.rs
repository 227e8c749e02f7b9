//! The canonical text of a query: lowercase commands and keywords joined by ` | `, names
//! backticked only when they must be, parentheses only where precedence needs them. Parsing
//! the printed text gives the same tree (a property test checks it).

use std::fmt::{self, Write};

use super::ast::{prec, Command, Expr, LikePattern, Order, ParsePattern, Projection};
use super::lexer::{is_ident_char, is_ident_start};
use super::parser::is_reserved;

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Fields(p) => {
                f.write_str("fields ")?;
                projections(f, p)
            }
            Command::Display(p) => {
                f.write_str("display ")?;
                projections(f, p)
            }
            Command::Filter(e) => write!(f, "filter {e}"),
            Command::Stats(s) => {
                f.write_str("stats ")?;
                projections(f, &s.items)?;
                if !s.by.is_empty() {
                    f.write_str(" by ")?;
                    projections(f, &s.by)?;
                }
                Ok(())
            }
            Command::Sort(keys) => {
                f.write_str("sort ")?;
                for (k, key) in keys.iter().enumerate() {
                    if k > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", key.expr)?;
                    match key.order {
                        Some(Order::Asc) => f.write_str(" asc")?,
                        Some(Order::Desc) => f.write_str(" desc")?,
                        None => {}
                    }
                }
                Ok(())
            }
            Command::Limit(n) => write!(f, "limit {n}"),
            Command::Parse(p) => {
                f.write_str("parse ")?;
                if let Some(source) = &p.source {
                    write_name(f, source)?;
                    f.write_char(' ')?;
                }
                match &p.pattern {
                    ParsePattern::Glob { glob, names } => {
                        write_str_literal(f, &glob.text)?;
                        f.write_str(" as ")?;
                        for (k, n) in names.iter().enumerate() {
                            if k > 0 {
                                f.write_str(", ")?;
                            }
                            write_name(f, n)?;
                        }
                        Ok(())
                    }
                    ParsePattern::Regex(p) => write_regex(f, &p.text),
                }
            }
            Command::Dedup(exprs) => {
                f.write_str("dedup ")?;
                comma_separated(f, exprs)
            }
        }
    }
}

fn projections(f: &mut fmt::Formatter<'_>, items: &[Projection]) -> fmt::Result {
    for (k, p) in items.iter().enumerate() {
        if k > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}", p.expr)?;
        if let Some(alias) = &p.alias {
            f.write_str(" as ")?;
            write_name(f, alias)?;
        }
    }
    Ok(())
}

fn comma_separated(f: &mut fmt::Formatter<'_>, exprs: &[Expr]) -> fmt::Result {
    for (k, e) in exprs.iter().enumerate() {
        if k > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Field(name) => write_name(f, name),
            Expr::Str(s) => write_str_literal(f, s),
            Expr::Num(n) => write!(f, "{n}"),
            Expr::Star => f.write_char('*'),
            Expr::Period(p) => write!(f, "{}{}", p.amount, p.unit),
            Expr::Call { name, args } => {
                write!(f, "{name}(")?;
                comma_separated(f, args)?;
                f.write_char(')')
            }
            Expr::Not(x) => {
                f.write_str("not ")?;
                operand(f, x, x.prec() < prec::NOT)
            }
            Expr::Neg(x) => {
                f.write_char('-')?;
                // `- -x` rather than `--x`, which would read as one token in some tools.
                if matches!(**x, Expr::Neg(_))
                    || matches!(**x, Expr::Num(n) if n.is_sign_negative())
                {
                    f.write_char(' ')?;
                }
                operand(f, x, x.prec() < prec::NEG)
            }
            Expr::Binary { op, left, right } => {
                let p = op.prec();
                // `^` groups to the right, everything else to the left.
                let right_assoc = p == prec::POW;
                let left_parens = if right_assoc {
                    left.prec() <= p
                } else {
                    left.prec() < p
                };
                let right_parens = if right_assoc {
                    right.prec() < p.min(prec::NEG)
                } else {
                    right.prec() <= p
                };
                operand(f, left, left_parens)?;
                write!(f, " {} ", op.symbol())?;
                operand(f, right, right_parens)
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                tilde,
            } => {
                operand(f, expr, expr.prec() <= prec::CMP)?;
                f.write_str(match (negated, tilde) {
                    (false, false) => " like ",
                    (false, true) => " =~ ",
                    (true, _) => " not like ",
                })?;
                match pattern {
                    LikePattern::Str(s) => write_str_literal(f, s),
                    LikePattern::Regex(p) => write_regex(f, &p.text),
                }
            }
            Expr::In {
                expr,
                list,
                negated,
            } => {
                operand(f, expr, expr.prec() <= prec::CMP)?;
                f.write_str(if *negated { " not in [" } else { " in [" })?;
                comma_separated(f, list)?;
                f.write_char(']')
            }
        }
    }
}

fn operand(f: &mut fmt::Formatter<'_>, e: &Expr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

/// A field name, bare when the lexer would read it back as one word.
pub(crate) fn write_name(f: &mut impl Write, name: &str) -> fmt::Result {
    let bare = name.chars().next().is_some_and(is_ident_start)
        && name.chars().all(is_ident_char)
        && !is_reserved(name);
    if bare {
        f.write_str(name)
    } else {
        write!(f, "`{name}`")
    }
}

fn write_str_literal(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// A regex between slashes; a `/` in it is escaped, other escapes are already in the text.
fn write_regex(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('/')?;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                f.write_char('\\')?;
                if let Some(next) = chars.next() {
                    f.write_char(next)?;
                }
            }
            '/' => f.write_str("\\/")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('/')
}
