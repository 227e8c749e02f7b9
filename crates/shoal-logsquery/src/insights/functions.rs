//! The functions a query may call: their names and arities (checked while parsing) and the
//! scalar ones' evaluation. Aggregations live in `stats.rs`; `bin`, `datefloor` and `dateceil`
//! take a period and are evaluated in `eval.rs`.
//!
//! Names and meanings follow
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html>.
//! Predicates (`ispresent`, `isempty`, `isblank`) return booleans and `strcontains` returns 1 or
//! 0, as documented there.

use std::borrow::Cow;

use super::value::{Number, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    IsPresent,
    Coalesce,
    IsEmpty,
    IsBlank,
    Concat,
    Ltrim,
    Rtrim,
    Trim,
    Strlen,
    ToUpper,
    ToLower,
    Substr,
    Replace,
    StrContains,
    Abs,
    Ceil,
    Floor,
    Sqrt,
    Log,
    Greatest,
    Least,
    FromMillis,
    ToMillis,
    Bin,
    DateFloor,
    DateCeil,
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
}

pub(crate) struct Spec {
    pub func: Func,
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    /// The argument that must be a period (`5m`), if any.
    pub period_arg: Option<usize>,
}

impl Func {
    pub(crate) fn is_aggregate(self) -> bool {
        matches!(
            self,
            Func::Count | Func::CountDistinct | Func::Sum | Func::Avg | Func::Min | Func::Max
        )
    }
}

const MANY: usize = usize::MAX;

const fn spec(func: Func, name: &'static str, min_args: usize, max_args: usize) -> Spec {
    Spec {
        func,
        name,
        min_args,
        max_args,
        period_arg: None,
    }
}

const fn timed(func: Func, name: &'static str, args: usize) -> Spec {
    Spec {
        func,
        name,
        min_args: args,
        max_args: args,
        period_arg: Some(args - 1),
    }
}

static SPECS: &[Spec] = &[
    spec(Func::IsPresent, "ispresent", 1, 1),
    spec(Func::Coalesce, "coalesce", 1, MANY),
    spec(Func::IsEmpty, "isempty", 1, 1),
    spec(Func::IsBlank, "isblank", 1, 1),
    spec(Func::Concat, "concat", 1, MANY),
    spec(Func::Ltrim, "ltrim", 1, 2),
    spec(Func::Rtrim, "rtrim", 1, 2),
    spec(Func::Trim, "trim", 1, 2),
    spec(Func::Strlen, "strlen", 1, 1),
    spec(Func::ToUpper, "toupper", 1, 1),
    spec(Func::ToLower, "tolower", 1, 1),
    spec(Func::Substr, "substr", 2, 3),
    spec(Func::Replace, "replace", 3, 3),
    spec(Func::StrContains, "strcontains", 2, 2),
    spec(Func::Abs, "abs", 1, 1),
    spec(Func::Ceil, "ceil", 1, 1),
    spec(Func::Floor, "floor", 1, 1),
    spec(Func::Sqrt, "sqrt", 1, 1),
    spec(Func::Log, "log", 1, 1),
    spec(Func::Greatest, "greatest", 1, MANY),
    spec(Func::Least, "least", 1, MANY),
    spec(Func::FromMillis, "frommillis", 1, 1),
    spec(Func::ToMillis, "tomillis", 1, 1),
    timed(Func::Bin, "bin", 1),
    timed(Func::DateFloor, "datefloor", 2),
    timed(Func::DateCeil, "dateceil", 2),
    spec(Func::Count, "count", 0, 1),
    spec(Func::CountDistinct, "count_distinct", 1, 1),
    spec(Func::Sum, "sum", 1, 1),
    spec(Func::Avg, "avg", 1, 1),
    spec(Func::Min, "min", 1, 1),
    spec(Func::Max, "max", 1, 1),
];

/// The function called `name`, in any case (`fromMillis`, `FROMMILLIS`).
pub(crate) fn lookup(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Applies a scalar function to its evaluated arguments (taken out of `args`).
pub(crate) fn call<'a>(f: Func, args: &mut [Value<'a>]) -> Value<'a> {
    let take = |args: &mut [Value<'a>], i: usize| std::mem::replace(&mut args[i], Value::Missing);
    match f {
        Func::IsPresent => Value::Bool(!args[0].is_missing()),
        Func::Coalesce => args
            .iter_mut()
            .find(|v| !v.is_missing())
            .map_or(Value::Missing, |v| std::mem::replace(v, Value::Missing)),
        Func::IsEmpty => Value::Bool(args[0].text().is_none_or(|s| s.is_empty())),
        Func::IsBlank => Value::Bool(args[0].text().is_none_or(|s| s.trim().is_empty())),
        Func::Concat => {
            let mut out = String::new();
            for a in args.iter() {
                if let Some(t) = a.text() {
                    out.push_str(&t);
                }
            }
            Value::Str(Cow::Owned(out))
        }
        Func::Ltrim | Func::Rtrim | Func::Trim => {
            let chars: Option<Vec<char>> = args
                .get(1)
                .and_then(|c| c.text())
                .map(|c| c.chars().collect());
            map_str(take(args, 0), |s| trim(f, s, chars.as_deref()).to_string())
        }
        Func::Strlen => match args[0].text() {
            Some(s) => Value::Int(s.chars().count() as i64),
            None => Value::Missing,
        },
        Func::ToUpper => map_str(take(args, 0), |s| s.to_uppercase()),
        Func::ToLower => map_str(take(args, 0), |s| s.to_lowercase()),
        Func::Substr => {
            let start = int_arg(&args[1]).unwrap_or(0).max(0) as usize;
            let len = args.get(2).and_then(int_arg).map(|l| l.max(0) as usize);
            map_str(take(args, 0), |s| {
                let rest = s.chars().skip(start);
                match len {
                    Some(n) => rest.take(n).collect(),
                    None => rest.collect(),
                }
            })
        }
        Func::Replace => {
            let (Some(from), Some(to)) = (args[1].text(), args[2].text()) else {
                return Value::Missing;
            };
            let (from, to) = (from.into_owned(), to.into_owned());
            map_str(take(args, 0), |s| {
                if from.is_empty() {
                    s.to_string()
                } else {
                    s.replace(&from, &to)
                }
            })
        }
        Func::StrContains => match (args[0].text(), args[1].text()) {
            (Some(s), Some(needle)) => Value::Int(i64::from(s.contains(needle.as_ref()))),
            _ => Value::Missing,
        },
        Func::Abs => math(&args[0], |n| match n {
            Number::Int(i) => i
                .checked_abs()
                .map_or(Value::Num((i as f64).abs()), Value::Int),
            Number::Float(x) => Value::Num(x.abs()),
        }),
        Func::Ceil => math(&args[0], |n| Value::Num(n.f64().ceil())),
        Func::Floor => math(&args[0], |n| Value::Num(n.f64().floor())),
        Func::Sqrt => math(&args[0], |n| Value::Num(n.f64().sqrt())),
        Func::Log => math(&args[0], |n| Value::Num(n.f64().ln())),
        Func::Greatest | Func::Least => {
            let want = if f == Func::Greatest {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Less
            };
            let mut best: Option<Number> = None;
            for n in args.iter().filter_map(Value::number) {
                if best.is_none_or(|b| n.cmp(b) == want) {
                    best = Some(n);
                }
            }
            best.map_or(Value::Missing, number_value)
        }
        Func::FromMillis => math(&args[0], |n| Value::Time(n.f64() as i64)),
        Func::ToMillis => math(&args[0], |n| Value::Int(n.f64() as i64)),
        // Period functions and aggregations never reach here (see eval.rs and stats.rs).
        Func::Bin
        | Func::DateFloor
        | Func::DateCeil
        | Func::Count
        | Func::CountDistinct
        | Func::Sum
        | Func::Avg
        | Func::Min
        | Func::Max => Value::Missing,
    }
}

pub(crate) fn number_value<'a>(n: Number) -> Value<'a> {
    match n {
        Number::Int(i) => Value::Int(i),
        Number::Float(f) => Value::Num(f),
    }
}

fn int_arg(v: &Value<'_>) -> Option<i64> {
    v.number().map(|n| n.f64() as i64)
}

fn math<'a>(v: &Value<'_>, f: impl FnOnce(Number) -> Value<'a>) -> Value<'a> {
    v.number().map_or(Value::Missing, f)
}

fn map_str<'a>(v: Value<'a>, f: impl FnOnce(&str) -> String) -> Value<'a> {
    match v.text() {
        Some(s) => Value::Str(Cow::Owned(f(&s))),
        None => Value::Missing,
    }
}

fn trim<'s>(f: Func, s: &'s str, chars: Option<&[char]>) -> &'s str {
    let strip = |c: char| chars.map_or(c.is_whitespace(), |set| set.contains(&c));
    match f {
        Func::Ltrim => s.trim_start_matches(strip),
        Func::Rtrim => s.trim_end_matches(strip),
        _ => s.trim_matches(strip),
    }
}
