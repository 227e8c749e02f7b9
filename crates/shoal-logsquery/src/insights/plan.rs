//! What a run executes: names resolved to where their values come from (a log event's own
//! fields, its JSON, computed fields, stats columns), regexes compiled, and the commands that
//! cut rows split into the part applied while records stream in and the part applied at
//! `finish`. `compile.rs` builds it.

use regex::Regex;

use super::ast::BinOp;
use super::functions::Func;
use super::time::Span;
use super::value::OwnedValue;

/// A log event's own fields (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sys {
    Timestamp,
    Message,
    LogStream,
    Log,
    IngestionTime,
    Ptr,
}

impl Sys {
    pub(crate) fn named(name: &str) -> Option<Sys> {
        Some(match name {
            "@timestamp" => Sys::Timestamp,
            "@message" => Sys::Message,
            "@logStream" => Sys::LogStream,
            "@log" => Sys::Log,
            "@ingestionTime" => Sys::IngestionTime,
            "@ptr" => Sys::Ptr,
            _ => return None,
        })
    }
}

/// Where a name's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldRef {
    Sys(Sys),
    /// A field discovered in a JSON message, by its flattened path (`details.reason`).
    Json(String),
    /// A value defined by `fields ... as` or `parse` (an index into the definitions).
    Slot(usize),
    /// A column of a stats row.
    Column(usize),
    /// An aggregation's result, while stats rows are built.
    Agg(usize),
    /// A name nothing defines (after stats): always missing.
    Absent,
}

#[derive(Debug, Clone)]
pub(crate) enum CExpr {
    Lit(OwnedValue),
    Field(FieldRef),
    Not(Box<CExpr>),
    Neg(Box<CExpr>),
    And(Box<CExpr>, Box<CExpr>),
    Or(Box<CExpr>, Box<CExpr>),
    Cmp(BinOp, Box<CExpr>, Box<CExpr>),
    Arith(BinOp, Box<CExpr>, Box<CExpr>),
    /// `like` and `=~`: an unanchored search (a substring is an escaped regex, which the regex
    /// crate runs as a memchr substring search).
    Match {
        expr: Box<CExpr>,
        regex: Regex,
        negated: bool,
    },
    In {
        expr: Box<CExpr>,
        list: Vec<CExpr>,
        negated: bool,
    },
    Call(Func, Vec<CExpr>),
    /// `bin(p)` (of `@timestamp`) and `datefloor(e, p)`.
    Floor(Box<CExpr>, Span),
    Ceil(Box<CExpr>, Span),
}

#[derive(Debug)]
pub(crate) enum Def {
    Expr(CExpr),
    /// One of the fields a parse stage extracts.
    Parse(usize),
}

#[derive(Debug)]
pub(crate) struct ParseStage {
    pub source: CExpr,
    pub regex: Regex,
    /// (capture group, slot) for each extracted field.
    pub targets: Vec<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub(crate) struct SortSpec {
    pub keys: Vec<CExpr>,
    /// Bit i set: key i sorts descending.
    pub desc: u64,
}

impl SortSpec {
    pub(crate) fn is_desc(&self, i: usize) -> bool {
        self.desc >> i & 1 == 1
    }
}

#[derive(Debug)]
pub(crate) enum RowOp {
    Filter(CExpr),
    Sort(SortSpec),
    Limit(usize),
    Dedup(Vec<CExpr>),
}

/// How a run keeps records while scanning.
#[derive(Debug)]
pub(crate) enum Collect {
    /// The first `cap` records (no sort): scanning can stop once they are in.
    First(usize),
    /// The best `cap` records by a sort, in a bounded heap.
    Top(SortSpec, usize),
    /// The first record of each combination of values, up to `cap` combinations.
    DedupFirst(Vec<CExpr>, usize),
    /// The best record by a sort for each combination of values.
    DedupBest(SortSpec, Vec<CExpr>),
    Stats,
}

#[derive(Debug)]
pub(crate) struct AggSpec {
    pub func: Func,
    /// `None` for `count(*)` and `count()`.
    pub arg: Option<CExpr>,
}

#[derive(Debug)]
pub(crate) struct StatsPlan {
    /// Group keys, evaluated per log event.
    pub groups: Vec<CExpr>,
    pub aggs: Vec<AggSpec>,
    /// A stats row's columns: the `by` keys (as `Column(k)`), then the items over `Agg(j)`.
    pub columns: Vec<(String, CExpr)>,
    /// Definitions of `fields ... as` after stats, over the row's columns.
    pub defs: Vec<CExpr>,
    pub post: Vec<RowOp>,
    pub output: Vec<(String, CExpr)>,
}

#[derive(Debug)]
pub(crate) struct Plan {
    pub defs: Vec<Def>,
    pub parses: Vec<ParseStage>,
    /// Filters applied to each record as it is pushed.
    pub filters: Vec<CExpr>,
    pub collect: Collect,
    /// Commands applied at `finish` to the kept records.
    pub post: Vec<RowOp>,
    /// The result fields of a non-stats query (`@ptr` is added to each row).
    pub output: Vec<(String, CExpr)>,
    pub stats: Option<StatsPlan>,
}
