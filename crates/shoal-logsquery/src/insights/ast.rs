//! The query tree: what `parse` builds and `Display` prints back. It keeps what the text said
//! (an explicit `asc`, `=~` rather than `like`, a function's spelling) so printing and parsing
//! again gives the same tree; positions live only in errors.
//!
//! Commands: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html>.

use regex::Regex;

/// One command of the pipeline; commands are separated by `|` (or start a new line).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `fields a, expr as b`: fields to show, and new fields computed per log event.
    Fields(Vec<Projection>),
    /// `display a, b`: the only fields the results show (the last `display` wins).
    Display(Vec<Projection>),
    /// `filter expr`: keeps the log events for which the expression is true.
    Filter(Expr),
    /// `parse [field] "glob" as a, b` or `parse [field] /(?<a>re)/`.
    Parse(ParseCommand),
    /// `stats agg(...) [as name], ... [by expr [as name], ...]`.
    Stats(Stats),
    /// `sort expr [asc|desc], ...`.
    Sort(Vec<SortKey>),
    /// `limit n`, n from 1 to [`super::MAX_LIMIT`].
    Limit(u32),
    /// `dedup a, b`: keeps the first row of each combination of values.
    Dedup(Vec<Expr>),
}

/// An expression and the name it gets in the results.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub expr: Expr,
    pub alias: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    /// `None` when the query named no order (ascending).
    pub order: Option<Order>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub items: Vec<Projection>,
    pub by: Vec<Projection>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParseCommand {
    /// The field parsed; `None` means `@message`.
    pub source: Option<String>,
    pub pattern: ParsePattern,
}

/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Parse.html>
#[derive(Debug, Clone, PartialEq)]
pub enum ParsePattern {
    /// A glob whose `*`s become the fields `names`, in order.
    Glob { glob: Pattern, names: Vec<String> },
    /// A regular expression whose named groups become fields.
    Regex(Pattern),
}

/// A pattern as written and its compiled regex (compiled while parsing, so a bad regex is an
/// error at its position). Two patterns are equal when their text is.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub text: String,
    pub regex: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// `5m` in `bin(5m)`: an amount and a unit as written (`m`, `min`, `minutes`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub amount: u64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A field: `@message`, `status`, `details.reason`, `` `a b` ``.
    Field(String),
    Str(String),
    Num(f64),
    /// `*` in `count(*)`.
    Star,
    Period(Period),
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `e like "text"`, `e like /re/`, `e =~ /re/`, `e not like ...`.
    Like {
        expr: Box<Expr>,
        pattern: LikePattern,
        negated: bool,
        tilde: bool,
    },
    /// `e in [a, b]`, `e not in [...]`.
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum LikePattern {
    /// A substring.
    Str(String),
    /// An unanchored regular expression.
    Regex(Pattern),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

/// Binding strength, weakest first; the parser and the printer share it.
pub(crate) mod prec {
    pub const OR: u8 = 0;
    pub const AND: u8 = 1;
    pub const NOT: u8 = 2;
    pub const CMP: u8 = 3;
    pub const ADD: u8 = 4;
    pub const MUL: u8 = 5;
    pub const NEG: u8 = 6;
    pub const POW: u8 = 7;
    pub const ATOM: u8 = 8;
}

impl BinOp {
    pub(crate) fn prec(self) -> u8 {
        match self {
            BinOp::Or => prec::OR,
            BinOp::And => prec::AND,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => prec::CMP,
            BinOp::Add | BinOp::Sub => prec::ADD,
            BinOp::Mul | BinOp::Div | BinOp::Mod => prec::MUL,
            BinOp::Pow => prec::POW,
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
        }
    }
}

impl Expr {
    pub(crate) fn prec(&self) -> u8 {
        match self {
            Expr::Binary { op, .. } => op.prec(),
            Expr::Not(_) => prec::NOT,
            Expr::Like { .. } | Expr::In { .. } => prec::CMP,
            Expr::Neg(_) => prec::NEG,
            // A negative literal prints as `-5`, which reads back as a negation.
            Expr::Num(n) if n.is_sign_negative() => prec::NEG,
            _ => prec::ATOM,
        }
    }
}
