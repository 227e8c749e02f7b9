//! `stats`: one group per combination of `by` values, each with its aggregations. Groups from
//! two runs merge exactly (counts and sums add, distinct sets unite), which is what lets two
//! threads scan halves of the data.
//!
//! Functions: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Stats.html>.
//! `count_distinct` is exact here (AWS approximates above a few thousand values).

use std::collections::{HashMap, HashSet};

use super::collect::key_cmp;
use super::eval::{eval, AggScope, Env};
use super::functions::Func;
use super::plan::{AggSpec, StatsPlan};
use super::value::{Number, OwnedValue, Value};

#[derive(Debug)]
enum Acc {
    Count(u64),
    Distinct(HashSet<OwnedValue>),
    Sum {
        sum: f64,
        seen: bool,
    },
    Avg {
        sum: f64,
        n: u64,
    },
    /// The extreme so far and its number (a time stays a time).
    Extreme(Option<(Number, OwnedValue)>),
}

impl Acc {
    fn new(f: Func) -> Acc {
        match f {
            Func::Count => Acc::Count(0),
            Func::CountDistinct => Acc::Distinct(HashSet::new()),
            Func::Sum => Acc::Sum {
                sum: 0.0,
                seen: false,
            },
            Func::Avg => Acc::Avg { sum: 0.0, n: 0 },
            _ => Acc::Extreme(None),
        }
    }

    fn add<'a>(&mut self, spec: &'a AggSpec, env: &mut Env<'a>) {
        let Some(arg) = &spec.arg else {
            if let Acc::Count(n) = self {
                *n += 1;
            }
            return;
        };
        let v = eval(arg, env);
        if v.is_missing() {
            return;
        }
        match self {
            Acc::Count(n) => *n += 1,
            Acc::Distinct(set) => {
                set.insert(v.to_owned_value());
            }
            Acc::Sum { sum, seen } => {
                if let Some(x) = v.number() {
                    *sum += x.f64();
                    *seen = true;
                }
            }
            Acc::Avg { sum, n } => {
                if let Some(x) = v.number() {
                    *sum += x.f64();
                    *n += 1;
                }
            }
            Acc::Extreme(best) => {
                if let Some(x) = v.number() {
                    let want = if spec.func == Func::Max {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Less
                    };
                    if best.as_ref().is_none_or(|(b, _)| x.cmp(*b) == want) {
                        let kept = match v {
                            Value::Time(t) => OwnedValue::Time(t),
                            _ => super::functions::number_value(x).to_owned_value(),
                        };
                        *best = Some((x, kept));
                    }
                }
            }
        }
    }

    fn merge(&mut self, other: Acc, func: Func) {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::Distinct(a), Acc::Distinct(b)) => a.extend(b),
            (
                Acc::Sum { sum, seen },
                Acc::Sum {
                    sum: s2,
                    seen: seen2,
                },
            ) => {
                *sum += s2;
                *seen |= seen2;
            }
            (Acc::Avg { sum, n }, Acc::Avg { sum: s2, n: n2 }) => {
                *sum += s2;
                *n += n2;
            }
            (Acc::Extreme(a), Acc::Extreme(Some((x, v)))) => {
                let want = if func == Func::Max {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Less
                };
                if a.as_ref().is_none_or(|(b, _)| x.cmp(*b) == want) {
                    *a = Some((x, v));
                }
            }
            _ => {}
        }
    }

    fn result(&self) -> OwnedValue {
        match self {
            Acc::Count(n) => OwnedValue::Int(*n as i64),
            Acc::Distinct(set) => OwnedValue::Int(set.len() as i64),
            Acc::Sum { sum, seen: true } => OwnedValue::Num(*sum),
            Acc::Avg { sum, n } if *n > 0 => OwnedValue::Num(sum / *n as f64),
            Acc::Extreme(Some((_, v))) => v.clone(),
            _ => OwnedValue::Missing,
        }
    }
}

/// The groups of a stats run.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    groups: HashMap<Vec<OwnedValue>, Vec<Acc>>,
}

impl Groups {
    pub(crate) fn push<'a>(&mut self, plan: &'a StatsPlan, env: &mut Env<'a>) {
        let key: Vec<OwnedValue> = plan
            .groups
            .iter()
            .map(|g| eval(g, env).to_owned_value())
            .collect();
        let accs = self
            .groups
            .entry(key)
            .or_insert_with(|| plan.aggs.iter().map(|a| Acc::new(a.func)).collect());
        for (acc, spec) in accs.iter_mut().zip(&plan.aggs) {
            acc.add(spec, env);
        }
    }

    pub(crate) fn merge(&mut self, other: Groups, plan: &StatsPlan) {
        for (key, accs) in other.groups {
            match self.groups.get_mut(&key) {
                Some(mine) => {
                    for ((a, b), spec) in mine.iter_mut().zip(accs).zip(&plan.aggs) {
                        a.merge(b, spec.func);
                    }
                }
                None => {
                    self.groups.insert(key, accs);
                }
            }
        }
    }

    /// One row per group, ordered by the group keys (AWS promises no order; a fixed one keeps
    /// answers reproducible), columns as the plan names them. No matched record means no
    /// group and no row, even for `stats count(*)` without `by`.
    pub(crate) fn rows(self, plan: &StatsPlan) -> Vec<Vec<OwnedValue>> {
        let mut groups: Vec<(Vec<OwnedValue>, Vec<Acc>)> = self.groups.into_iter().collect();
        groups.sort_by(|(a, _), (b, _)| {
            a.iter()
                .zip(b)
                .map(|(x, y)| key_cmp(&x.as_value(), &y.as_value(), false))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        groups
            .into_iter()
            .map(|(keys, accs)| {
                let results: Vec<OwnedValue> = accs.iter().map(Acc::result).collect();
                // The row starts as the group keys; each item may read the items before it.
                let mut row = keys;
                for (_, e) in &plan.columns[row.len()..] {
                    let v = eval(
                        e,
                        &mut AggScope {
                            row: &row,
                            results: &results,
                        },
                    )
                    .to_owned_value();
                    row.push(v);
                }
                row
            })
            .collect()
    }
}
