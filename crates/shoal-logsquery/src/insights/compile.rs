//! Compiles the command list into a [`Plan`].
//!
//! Values computed by `fields x as y` and `parse` are pure functions of a log event, so they
//! are computed lazily when something reads them, whatever command defined them; only the
//! order of `filter`, `sort`, `dedup` and `limit` matters. A `filter` commutes with a `sort`
//! before it, so filters move ahead of sorts and as much filtering as possible happens while
//! scanning.

use std::collections::HashMap;

use regex::Regex;

use super::ast::{BinOp, Command, Expr, LikePattern, Order, ParsePattern, Projection, SortKey};
use super::functions::{lookup, Func};
use super::plan::{
    AggSpec, CExpr, Collect, Def, FieldRef, ParseStage, Plan, RowOp, SortSpec, StatsPlan, Sys,
};
use super::time;
use super::value::OwnedValue;
use super::MAX_LIMIT;

/// The result name of `expr [as alias]`: the alias, the field's name, or the expression's text
/// (`count(*)`, `bin(5m)`), which is how Logs Insights names unaliased columns.
pub(crate) fn column_name(p: &Projection) -> String {
    match (&p.alias, &p.expr) {
        (Some(a), _) => a.clone(),
        (None, Expr::Field(name)) => name.clone(),
        (None, e) => e.to_string(),
    }
}

struct Compiler {
    names: HashMap<String, FieldRef>,
    /// False after stats: unknown names are absent rather than JSON fields.
    record: bool,
    defs: Vec<Def>,
    /// Collects aggregations (while compiling stats items) when set.
    aggs: Option<Vec<AggSpec>>,
    /// While compiling stats items: earlier items' aliases, as stats columns.
    stats_aliases: HashMap<String, usize>,
}

impl Compiler {
    fn new(record: bool) -> Self {
        Compiler {
            names: HashMap::new(),
            record,
            defs: Vec::new(),
            aggs: None,
            stats_aliases: HashMap::new(),
        }
    }

    fn resolve(&self, name: &str) -> FieldRef {
        if self.aggs.is_some() {
            if let Some(k) = self.stats_aliases.get(name) {
                return FieldRef::Column(*k);
            }
        }
        if let Some(r) = self.names.get(name) {
            return r.clone();
        }
        match (self.record, Sys::named(name)) {
            (true, Some(s)) => FieldRef::Sys(s),
            (true, None) => FieldRef::Json(name.to_string()),
            (false, _) => FieldRef::Absent,
        }
    }

    fn define(&mut self, name: &str, def: Def) -> usize {
        self.defs.push(def);
        let slot = self.defs.len() - 1;
        self.names.insert(name.to_string(), FieldRef::Slot(slot));
        slot
    }

    fn expr(&mut self, e: &Expr) -> CExpr {
        let b = |c: &mut Self, e: &Expr| Box::new(c.expr(e));
        match e {
            Expr::Field(name) => CExpr::Field(self.resolve(name)),
            Expr::Str(s) => CExpr::Lit(OwnedValue::Str(s.clone())),
            Expr::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                CExpr::Lit(OwnedValue::Int(*n as i64))
            }
            Expr::Num(n) => CExpr::Lit(OwnedValue::Num(*n)),
            Expr::Star | Expr::Period(_) => CExpr::Lit(OwnedValue::Missing),
            Expr::Not(x) => CExpr::Not(b(self, x)),
            Expr::Neg(x) => CExpr::Neg(b(self, x)),
            Expr::Binary { op, left, right } => {
                let (l, r) = (b(self, left), b(self, right));
                match op {
                    BinOp::And => CExpr::And(l, r),
                    BinOp::Or => CExpr::Or(l, r),
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        CExpr::Cmp(*op, l, r)
                    }
                    _ => CExpr::Arith(*op, l, r),
                }
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                ..
            } => CExpr::Match {
                expr: b(self, expr),
                regex: match pattern {
                    LikePattern::Str(s) => {
                        Regex::new(&regex::escape(s)).expect("an escaped literal is a valid regex")
                    }
                    LikePattern::Regex(p) => p.regex.clone(),
                },
                negated: *negated,
            },
            Expr::In {
                expr,
                list,
                negated,
            } => CExpr::In {
                expr: b(self, expr),
                list: list.iter().map(|e| self.expr(e)).collect(),
                negated: *negated,
            },
            Expr::Call { name, args } => self.call(name, args),
        }
    }

    fn call(&mut self, name: &str, args: &[Expr]) -> CExpr {
        // `parse` checks names and arities; trees built by hand may be wrong, and evaluate
        // to nothing rather than panic.
        let Some(spec) = lookup(name).filter(|s| (s.min_args..=s.max_args).contains(&args.len()))
        else {
            return CExpr::Lit(OwnedValue::Missing);
        };
        let period = |k: usize| match args.get(k) {
            Some(Expr::Period(p)) => time::span(p),
            _ => None,
        };
        match spec.func {
            Func::Bin => match period(0) {
                Some(s) => CExpr::Floor(Box::new(CExpr::Field(FieldRef::Sys(Sys::Timestamp))), s),
                None => CExpr::Lit(OwnedValue::Missing),
            },
            Func::DateFloor | Func::DateCeil => match (args.first(), period(1)) {
                (Some(e), Some(s)) => {
                    let e = Box::new(self.expr(e));
                    if spec.func == Func::DateFloor {
                        CExpr::Floor(e, s)
                    } else {
                        CExpr::Ceil(e, s)
                    }
                }
                _ => CExpr::Lit(OwnedValue::Missing),
            },
            f if f.is_aggregate() => {
                let Some(mut aggs) = self.aggs.take() else {
                    // After stats, `count(*)` is the column printed that way.
                    let text = Expr::Call {
                        name: name.to_string(),
                        args: args.to_vec(),
                    }
                    .to_string();
                    return CExpr::Field(self.resolve(&text));
                };
                let arg = match args.first() {
                    None | Some(Expr::Star) => None,
                    Some(e) => Some(self.expr(e)),
                };
                aggs.push(AggSpec { func: f, arg });
                let j = aggs.len() - 1;
                self.aggs = Some(aggs);
                CExpr::Field(FieldRef::Agg(j))
            }
            f => CExpr::Call(f, args.iter().map(|e| self.expr(e)).collect()),
        }
    }

    fn sort(&mut self, keys: &[SortKey]) -> SortSpec {
        let mut desc = 0u64;
        for (i, k) in keys.iter().enumerate().take(64) {
            if k.order == Some(Order::Desc) {
                desc |= 1 << i;
            }
        }
        SortSpec {
            keys: keys.iter().take(64).map(|k| self.expr(&k.expr)).collect(),
            desc,
        }
    }

    /// Compiles `fields`/`display` items, defining aliases; returns the columns they name.
    fn projections(&mut self, items: &[Projection]) -> Vec<(String, CExpr)> {
        items
            .iter()
            .map(|p| {
                let name = column_name(p);
                let e = self.expr(&p.expr);
                match &p.alias {
                    Some(alias) if self.record => {
                        let slot = self.define(alias, Def::Expr(e));
                        (name, CExpr::Field(FieldRef::Slot(slot)))
                    }
                    Some(alias) => {
                        // After stats, definitions are plain expressions over the row.
                        self.defs.push(Def::Expr(e.clone()));
                        self.names
                            .insert(alias.clone(), FieldRef::Slot(self.defs.len() - 1));
                        (name, e)
                    }
                    None => (name, e),
                }
            })
            .collect()
    }

    /// A command that filters, sorts or cuts rows; `None` for the others (handled by caller).
    fn row_op(&mut self, c: &Command) -> Option<RowOp> {
        Some(match c {
            Command::Filter(e) => RowOp::Filter(self.expr(e)),
            Command::Sort(keys) => RowOp::Sort(self.sort(keys)),
            Command::Limit(n) => RowOp::Limit(*n as usize),
            Command::Dedup(es) => RowOp::Dedup(es.iter().map(|e| self.expr(e)).collect()),
            _ => return None,
        })
    }
}

/// Adds or replaces a result column by name, keeping first positions.
fn upsert(out: &mut Vec<(String, CExpr)>, cols: Vec<(String, CExpr)>) {
    for (name, e) in cols {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = e,
            None => out.push((name, e)),
        }
    }
}

pub(crate) fn compile(commands: &[Command]) -> Plan {
    let stats_at = commands.iter().position(|c| matches!(c, Command::Stats(_)));
    let (before, after) = commands.split_at(stats_at.unwrap_or(commands.len()));
    let mut c = Compiler::new(true);
    let mut parses = Vec::new();
    let mut ops = Vec::new();
    let mut fields: Vec<(String, CExpr)> = Vec::new();
    let mut display = None;
    for cmd in before {
        match cmd {
            Command::Fields(items) => {
                let cols = c.projections(items);
                upsert(&mut fields, cols);
            }
            Command::Display(items) => display = Some(c.projections(items)),
            Command::Parse(p) => {
                let source = match &p.source {
                    Some(name) => CExpr::Field(c.resolve(name)),
                    None => CExpr::Field(FieldRef::Sys(Sys::Message)),
                };
                let stage = parses.len();
                let (regex, names): (Regex, Vec<(usize, String)>) = match &p.pattern {
                    ParsePattern::Glob { glob, names } => (
                        glob.regex.clone(),
                        names
                            .iter()
                            .enumerate()
                            .map(|(k, n)| (k + 1, n.clone()))
                            .collect(),
                    ),
                    ParsePattern::Regex(pat) => (
                        pat.regex.clone(),
                        pat.regex
                            .capture_names()
                            .enumerate()
                            .filter_map(|(k, n)| n.map(|n| (k, n.to_string())))
                            .collect(),
                    ),
                };
                let targets = names
                    .iter()
                    .map(|(g, n)| (*g, c.define(n, Def::Parse(stage))))
                    .collect();
                parses.push(ParseStage {
                    source,
                    regex,
                    targets,
                });
            }
            other => ops.extend(c.row_op(other)),
        }
    }
    let output = display.unwrap_or(if fields.is_empty() {
        vec![
            (
                "@timestamp".to_string(),
                CExpr::Field(FieldRef::Sys(Sys::Timestamp)),
            ),
            (
                "@message".to_string(),
                CExpr::Field(FieldRef::Sys(Sys::Message)),
            ),
        ]
    } else {
        fields
    });
    let ops = normalize(ops);
    let mut plan = Plan {
        defs: Vec::new(),
        parses,
        filters: Vec::new(),
        collect: Collect::Stats,
        post: Vec::new(),
        output,
        stats: None,
    };
    match stats_at.map(|k| &commands[k]) {
        Some(Command::Stats(s)) => {
            // Only filters and sorts come before stats (the parser sees to it); sorting
            // before aggregating changes nothing.
            plan.filters = ops
                .into_iter()
                .filter_map(|op| match op {
                    RowOp::Filter(f) => Some(f),
                    _ => None,
                })
                .collect();
            let groups: Vec<(String, CExpr)> =
                s.by.iter()
                    .map(|p| (column_name(p), c.expr(&p.expr)))
                    .collect();
            c.aggs = Some(Vec::new());
            let mut items: Vec<(String, CExpr)> = Vec::new();
            for p in &s.items {
                items.push((column_name(p), c.expr(&p.expr)));
                if let Some(alias) = &p.alias {
                    c.stats_aliases
                        .insert(alias.clone(), groups.len() + items.len() - 1);
                }
            }
            let aggs = c.aggs.take().unwrap_or_default();
            let mut columns: Vec<(String, CExpr)> = groups
                .iter()
                .enumerate()
                .map(|(k, (name, _))| (name.clone(), CExpr::Field(FieldRef::Column(k))))
                .collect();
            columns.extend(items);
            plan.stats = Some(compile_after_stats(
                groups.into_iter().map(|g| g.1).collect(),
                aggs,
                columns,
                &after[1..],
            ));
        }
        _ => {
            let (filters, collect, post) = split(ops);
            plan.filters = filters;
            plan.collect = collect;
            plan.post = post;
        }
    }
    plan.defs = c.defs;
    plan
}

fn compile_after_stats(
    groups: Vec<CExpr>,
    aggs: Vec<AggSpec>,
    columns: Vec<(String, CExpr)>,
    after: &[Command],
) -> StatsPlan {
    let mut c = Compiler::new(false);
    for (k, (name, _)) in columns.iter().enumerate() {
        c.names.insert(name.clone(), FieldRef::Column(k));
    }
    let mut output: Vec<(String, CExpr)> = columns
        .iter()
        .enumerate()
        .map(|(k, (name, _))| (name.clone(), CExpr::Field(FieldRef::Column(k))))
        .collect();
    let mut display = None;
    let mut post = Vec::new();
    for cmd in after {
        match cmd {
            Command::Fields(items) => {
                let cols = c.projections(items);
                upsert(&mut output, cols);
            }
            Command::Display(items) => display = Some(c.projections(items)),
            other => post.extend(c.row_op(other)),
        }
    }
    let defs = c
        .defs
        .into_iter()
        .map(|d| match d {
            Def::Expr(e) => e,
            Def::Parse(_) => CExpr::Lit(OwnedValue::Missing),
        })
        .collect();
    StatsPlan {
        groups,
        aggs,
        columns,
        defs,
        post,
        output: display.unwrap_or(output),
    }
}

/// Moves each filter ahead of the sorts just before it, and merges adjacent sorts (a stable
/// `sort a | sort b` orders by b, then a).
fn normalize(ops: Vec<RowOp>) -> Vec<RowOp> {
    let mut out: Vec<RowOp> = Vec::new();
    for op in ops {
        match op {
            RowOp::Filter(f) => {
                let mut k = out.len();
                while k > 0 && matches!(out[k - 1], RowOp::Sort(_)) {
                    k -= 1;
                }
                out.insert(k, RowOp::Filter(f));
            }
            RowOp::Sort(s) => match out.last_mut() {
                Some(RowOp::Sort(prev)) => {
                    let shift = s.keys.len();
                    let mut keys = s.keys;
                    keys.append(&mut prev.keys);
                    keys.truncate(64);
                    let desc = if shift >= 64 {
                        s.desc
                    } else {
                        s.desc | prev.desc << shift
                    };
                    *prev = SortSpec { keys, desc };
                }
                _ => out.push(RowOp::Sort(s)),
            },
            other => out.push(other),
        }
    }
    out
}

/// Leading filters, the streaming collector for what follows them, and the rest.
fn split(ops: Vec<RowOp>) -> (Vec<CExpr>, Collect, Vec<RowOp>) {
    let mut it = ops.into_iter().peekable();
    let mut filters = Vec::new();
    while let Some(RowOp::Filter(_)) = it.peek() {
        if let Some(RowOp::Filter(f)) = it.next() {
            filters.push(f);
        }
    }
    let cap = MAX_LIMIT as usize;
    let take_limit = |it: &mut std::iter::Peekable<std::vec::IntoIter<RowOp>>| match it.peek() {
        Some(RowOp::Limit(n)) => {
            let n = *n;
            it.next();
            Some(n)
        }
        _ => None,
    };
    let collect = match it.peek() {
        Some(RowOp::Sort(_)) => {
            let Some(RowOp::Sort(s)) = it.next() else {
                unreachable!()
            };
            if let Some(RowOp::Dedup(_)) = it.peek() {
                let Some(RowOp::Dedup(d)) = it.next() else {
                    unreachable!()
                };
                Collect::DedupBest(s, d)
            } else {
                let n = take_limit(&mut it).unwrap_or(cap);
                Collect::Top(s, n)
            }
        }
        Some(RowOp::Dedup(_)) => {
            let Some(RowOp::Dedup(d)) = it.next() else {
                unreachable!()
            };
            let n = take_limit(&mut it).unwrap_or(cap);
            Collect::DedupFirst(d, n)
        }
        Some(RowOp::Limit(_)) => Collect::First(take_limit(&mut it).unwrap_or(cap)),
        _ => Collect::First(cap),
    };
    (filters, collect, it.collect())
}
