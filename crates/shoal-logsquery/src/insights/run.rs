//! Running a query: records are pushed one by one (by one or more scanning threads, each with
//! its own [`Run`]), runs over parts of the data merge, and `finish` builds the rows
//! GetQueryResults returns
//! (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html>):
//! each row a list of (field, value) strings, fields without a value left out, and `@ptr` last
//! in each row of a query without stats.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::collect::{key_cmp, Kept, Ranked};
use super::eval::{eval, Env, RowScope};
use super::plan::{CExpr, Collect, Plan, RowOp};
use super::stats::Groups;
use super::topn::TopN;
use super::value::OwnedValue;
use super::{Record, Results, MAX_LIMIT};

/// One scan's progress through a query.
#[derive(Debug)]
pub struct Run {
    plan: Arc<Plan>,
    state: State,
    scanned: u64,
    matched: u64,
    bytes: u64,
}

#[derive(Debug)]
enum State {
    First(Vec<Kept>),
    Top(TopN),
    DedupFirst {
        seen: HashSet<Vec<OwnedValue>>,
        rows: Vec<Kept>,
    },
    DedupBest(HashMap<Vec<OwnedValue>, Ranked>),
    Stats(Groups),
}

impl Run {
    pub(crate) fn new(plan: Arc<Plan>) -> Run {
        let state = match &plan.collect {
            Collect::First(_) => State::First(Vec::new()),
            Collect::Top(_, cap) => State::Top(TopN::new(*cap)),
            Collect::DedupFirst(..) => State::DedupFirst {
                seen: HashSet::new(),
                rows: Vec::new(),
            },
            Collect::DedupBest(..) => State::DedupBest(HashMap::new()),
            Collect::Stats => State::Stats(Groups::default()),
        };
        Run {
            plan,
            state,
            scanned: 0,
            matched: 0,
            bytes: 0,
        }
    }

    /// Looks at one scanned record. A record the filters reject costs no allocation.
    pub fn push(&mut self, r: &Record<'_>) {
        self.scanned += 1;
        self.bytes += r.message.len() as u64;
        let plan: &Plan = &self.plan;
        let mut env = Env::new(plan, *r);
        if !plan.filters.iter().all(|f| eval(f, &mut env).truthy()) {
            return;
        }
        self.matched += 1;
        match (&mut self.state, &plan.collect) {
            (State::First(rows), Collect::First(cap)) if rows.len() < *cap => {
                rows.push(Kept::new(r));
            }
            (State::Top(top), Collect::Top(spec, _)) => top.push(spec, &mut env, r),
            (State::DedupFirst { seen, rows }, Collect::DedupFirst(keys, cap))
                if rows.len() < *cap =>
            {
                let key: Vec<OwnedValue> = keys
                    .iter()
                    .map(|k| eval(k, &mut env).to_owned_value())
                    .collect();
                if seen.insert(key) {
                    rows.push(Kept::new(r));
                }
            }
            (State::DedupBest(best), Collect::DedupBest(spec, keys)) => {
                let key: Vec<OwnedValue> = keys
                    .iter()
                    .map(|k| eval(k, &mut env).to_owned_value())
                    .collect();
                match best.get_mut(&key) {
                    Some(kept) => {
                        if kept.is_beaten_by(spec, &mut env, r.ptr) {
                            kept.refill(spec, &mut env, r);
                        }
                    }
                    None => {
                        best.insert(key, Ranked::new(spec, &mut env, r));
                    }
                }
            }
            (State::Stats(groups), Collect::Stats) => {
                if let Some(stats) = &plan.stats {
                    groups.push(stats, &mut env);
                }
            }
            _ => {}
        }
    }

    /// False once more records cannot change the answer: a query without sort or stats has
    /// its first rows.
    pub fn wants_more(&self) -> bool {
        match (&self.state, &self.plan.collect) {
            (State::First(rows), Collect::First(cap)) => rows.len() < *cap,
            (State::DedupFirst { rows, .. }, Collect::DedupFirst(_, cap)) => rows.len() < *cap,
            _ => true,
        }
    }

    /// Adds a run over another part of the data (of the same query), as if this run had seen
    /// its records after its own.
    pub fn merge(&mut self, other: Run) {
        self.scanned += other.scanned;
        self.matched += other.matched;
        self.bytes += other.bytes;
        let plan: &Plan = &self.plan;
        match (&mut self.state, other.state, &plan.collect) {
            (State::First(rows), State::First(more), Collect::First(cap)) => {
                let room = cap.saturating_sub(rows.len());
                rows.extend(more.into_iter().take(room));
            }
            (State::Top(top), State::Top(more), Collect::Top(..)) => {
                for entry in more.into_items() {
                    top.push_entry(entry);
                }
            }
            (
                State::DedupFirst { seen, rows },
                State::DedupFirst { rows: more, .. },
                Collect::DedupFirst(keys, cap),
            ) => {
                for row in more {
                    if rows.len() >= *cap {
                        break;
                    }
                    let mut env = Env::new(plan, row.record());
                    let key: Vec<OwnedValue> = keys
                        .iter()
                        .map(|k| eval(k, &mut env).to_owned_value())
                        .collect();
                    if seen.insert(key) {
                        rows.push(row);
                    }
                }
            }
            (State::DedupBest(best), State::DedupBest(more), Collect::DedupBest(..)) => {
                for (key, entry) in more {
                    match best.get_mut(&key) {
                        Some(mine) if entry < *mine => *mine = entry,
                        Some(_) => {}
                        None => {
                            best.insert(key, entry);
                        }
                    }
                }
            }
            (State::Stats(groups), State::Stats(more), Collect::Stats) => {
                if let Some(stats) = &plan.stats {
                    groups.merge(more, stats);
                }
            }
            _ => debug_assert!(false, "merging runs of different queries"),
        }
    }

    pub fn finish(self) -> Results {
        let plan: &Plan = &self.plan;
        let rows = match self.state {
            State::Stats(groups) => match &plan.stats {
                Some(stats) => stats_results(groups, stats),
                None => Vec::new(),
            },
            state => {
                let kept = match state {
                    State::First(rows) | State::DedupFirst { rows, .. } => rows,
                    State::Top(top) => top.into_sorted().into_iter().map(|r| r.row).collect(),
                    State::DedupBest(best) => {
                        let mut v: Vec<Ranked> = best.into_values().collect();
                        v.sort();
                        v.into_iter().map(|r| r.row).collect()
                    }
                    State::Stats(_) => Vec::new(),
                };
                let mut kept = apply(kept, &plan.post, |row, e| {
                    let mut env = Env::new(plan, row.record());
                    eval(e, &mut env).to_owned_value()
                });
                kept.truncate(MAX_LIMIT as usize);
                kept.iter().map(|row| project(plan, row)).collect()
            }
        };
        Results {
            rows,
            records_scanned: self.scanned,
            records_matched: self.matched,
            bytes_scanned: self.bytes,
        }
    }
}

/// A kept record's result fields, then its `@ptr`.
fn project(plan: &Plan, row: &Kept) -> Vec<(String, String)> {
    let mut env = Env::new(plan, row.record());
    let mut out: Vec<(String, String)> = plan
        .output
        .iter()
        .filter_map(|(name, e)| {
            let v = eval(e, &mut env);
            (!v.is_missing()).then(|| (name.clone(), v.to_string()))
        })
        .collect();
    if !out.iter().any(|(f, _)| f == "@ptr") {
        out.push(("@ptr".to_string(), row.ptr().to_string()));
    }
    out
}

fn stats_results(groups: Groups, stats: &super::plan::StatsPlan) -> Vec<Vec<(String, String)>> {
    let rows = groups.rows(stats);
    let mut rows = apply(rows, &stats.post, |row, e| {
        let mut scope = RowScope {
            row,
            defs: &stats.defs,
        };
        eval(e, &mut scope).to_owned_value()
    });
    rows.truncate(MAX_LIMIT as usize);
    rows.iter()
        .map(|row| {
            let mut scope = RowScope {
                row,
                defs: &stats.defs,
            };
            stats
                .output
                .iter()
                .filter_map(|(name, e)| {
                    let v = eval(e, &mut scope);
                    (!v.is_missing()).then(|| (name.clone(), v.to_string()))
                })
                .collect()
        })
        .collect()
}

/// Applies the commands after the streaming part (`limit 5 | sort x`, `sort a | limit 9 |
/// filter b`...) to the kept rows, in order.
fn apply<T>(mut rows: Vec<T>, ops: &[RowOp], value: impl Fn(&T, &CExpr) -> OwnedValue) -> Vec<T> {
    for op in ops {
        match op {
            RowOp::Filter(f) => rows.retain(|r| value(r, f).as_value().truthy()),
            RowOp::Limit(n) => rows.truncate(*n),
            RowOp::Sort(spec) => {
                let mut keyed: Vec<(Vec<OwnedValue>, T)> = rows
                    .into_iter()
                    .map(|r| (spec.keys.iter().map(|k| value(&r, k)).collect(), r))
                    .collect();
                keyed.sort_by(|(a, _), (b, _)| {
                    a.iter()
                        .zip(b)
                        .enumerate()
                        .map(|(i, (x, y))| key_cmp(&x.as_value(), &y.as_value(), spec.is_desc(i)))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                rows = keyed.into_iter().map(|(_, r)| r).collect();
            }
            RowOp::Dedup(keys) => {
                let mut seen = HashSet::new();
                rows.retain(|r| seen.insert(keys.iter().map(|k| value(r, k)).collect::<Vec<_>>()));
            }
        }
    }
    rows
}
