//! Statement text from a tree: the canonical form (upper-case keywords, single-quoted strings,
//! the fewest parentheses the precedence needs). Parsing the printed text gives the same tree.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::{Expr, Select, SelectItem, Statement, UnaryOp};

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, a) in self.set.iter().enumerate() {
            f.write_str(if i == 0 { "SET " } else { ", " })?;
            write!(f, "@{} = {}", a.name, a.expr)?;
        }
        if !self.set.is_empty() {
            f.write_str(" ")?;
        }
        f.write_str("SELECT ")?;
        select(f, &self.select)?;
        f.write_str(" FROM ")?;
        string(f, &self.from)?;
        if let Some(w) = &self.where_ {
            write!(f, " WHERE {w}")?;
        }
        Ok(())
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        expr(f, self)
    }
}

fn select(f: &mut Formatter<'_>, s: &Select) -> fmt::Result {
    match s {
        Select::Value(e) => write!(f, "VALUE {e}"),
        Select::Items(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                match item {
                    SelectItem::Wildcard => f.write_str("*")?,
                    SelectItem::Expr { expr: e, alias } => {
                        // A leading `*` would read as the wildcard item.
                        if starts_with_wildcard(e) {
                            write!(f, "({e})")?;
                        } else {
                            expr(f, e)?;
                        }
                        if let Some(a) = alias {
                            write!(f, " AS {}", a.join("."))?;
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

fn starts_with_wildcard(e: &Expr) -> bool {
    match e {
        Expr::Wildcard => true,
        Expr::Binary(_, l, _) | Expr::Member(l, _) | Expr::Index(l, _) => starts_with_wildcard(l),
        _ => false,
    }
}

/// Binding strength of what an expression prints as (see `BinaryOp::precedence`).
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Binary(op, _, _) => op.precedence(),
        Expr::Unary(UnaryOp::Not, _) => 3,
        Expr::Unary(UnaryOp::Neg, _) => 7,
        _ => 8,
    }
}

fn wrapped(f: &mut Formatter<'_>, e: &Expr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({e})")
    } else {
        expr(f, e)
    }
}

fn expr(f: &mut Formatter<'_>, e: &Expr) -> fmt::Result {
    match e {
        Expr::Null => f.write_str("NULL"),
        Expr::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
        Expr::Int(i) => write!(f, "{i}"),
        Expr::Decimal(d) => {
            let text = d.to_string();
            f.write_str(&text)?;
            if !text.contains(['.', 'e', 'E']) {
                f.write_str(".0")?;
            }
            Ok(())
        }
        Expr::String(s) => string(f, s),
        Expr::Field(name) => f.write_str(name),
        Expr::Variable(name) => write!(f, "@{name}"),
        Expr::Wildcard => f.write_str("*"),
        Expr::Member(base, name) => {
            wrapped(f, base, precedence(base) < 8)?;
            write!(f, ".{name}")
        }
        Expr::Index(base, index) => {
            wrapped(f, base, precedence(base) < 8)?;
            write!(f, "[{index}]")
        }
        Expr::Unary(UnaryOp::Not, inner) => {
            f.write_str("NOT ")?;
            wrapped(f, inner, precedence(inner) < 3)
        }
        Expr::Unary(UnaryOp::Neg, inner) => {
            f.write_str("-")?;
            wrapped(f, inner, precedence(inner) < 7)
        }
        Expr::Binary(op, l, r) => {
            let p = op.precedence();
            wrapped(f, l, precedence(l) < p)?;
            write!(f, " {} ", op.symbol())?;
            wrapped(f, r, precedence(r) <= p)
        }
        Expr::Call { name, args } => {
            write!(f, "{name}(")?;
            list(f, args)?;
            f.write_str(")")
        }
        Expr::Cast { expr: inner, ty } => write!(f, "cast({inner} AS {})", ty.keyword()),
        Expr::Case {
            operand,
            whens,
            else_,
        } => {
            f.write_str("CASE")?;
            if let Some(o) = operand {
                write!(f, " {o}")?;
            }
            for (w, t) in whens {
                write!(f, " WHEN {w} THEN {t}")?;
            }
            if let Some(e) = else_ {
                write!(f, " ELSE {e}")?;
            }
            f.write_str(" END")
        }
        Expr::Array(items) => {
            f.write_str("[")?;
            list(f, items)?;
            f.write_str("]")
        }
        Expr::Object(fields) => {
            f.write_str("{")?;
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                string(f, k)?;
                write!(f, ": {v}")?;
            }
            f.write_str("}")
        }
        Expr::SubQuery(q) => {
            f.write_str("(SELECT ")?;
            select(f, &q.select)?;
            write!(f, " FROM {}", q.from)?;
            if let Some(w) = &q.where_ {
                write!(f, " WHERE {w}")?;
            }
            f.write_str(")")
        }
    }
}

fn list(f: &mut Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        expr(f, e)?;
    }
    Ok(())
}

/// A single-quoted literal with the lexer's backslash escapes.
fn string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}
