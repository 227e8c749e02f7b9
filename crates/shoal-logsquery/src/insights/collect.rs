//! Records a run keeps for its answer, and their ranking by a sort.
//!
//! A kept record owns copies of its strings; fields are extracted from it only at `finish`,
//! so a record that never makes the answer costs no extraction.

use std::cmp::Ordering;

use super::eval::{eval, Env};
use super::plan::SortSpec;
use super::value::{natural_cmp, OwnedValue, Value};
use super::Record;

/// A record kept past `push`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kept {
    timestamp: i64,
    ingestion_time: i64,
    message: String,
    log_stream: String,
    log_group: String,
    ptr: String,
}

impl Kept {
    pub(crate) fn new(r: &Record<'_>) -> Self {
        let mut k = Kept::default();
        k.refill(r);
        k
    }

    /// Overwrites this record with `r`, keeping the string buffers.
    pub(crate) fn refill(&mut self, r: &Record<'_>) {
        self.timestamp = r.timestamp;
        self.ingestion_time = r.ingestion_time;
        for (buf, s) in [
            (&mut self.message, r.message),
            (&mut self.log_stream, r.log_stream),
            (&mut self.log_group, r.log_group),
            (&mut self.ptr, r.ptr),
        ] {
            buf.clear();
            buf.push_str(s);
        }
    }

    pub(crate) fn record(&self) -> Record<'_> {
        Record {
            timestamp: self.timestamp,
            ingestion_time: self.ingestion_time,
            message: &self.message,
            log_stream: &self.log_stream,
            log_group: &self.log_group,
            ptr: &self.ptr,
        }
    }

    pub(crate) fn ptr(&self) -> &str {
        &self.ptr
    }
}

/// One sort key against another: `natural_cmp`, reversed for `desc`; a missing value sorts
/// last either way.
pub(crate) fn key_cmp(a: &Value<'_>, b: &Value<'_>, desc: bool) -> Ordering {
    let o = match (a, b) {
        // Times and integers (the usual keys) compare directly.
        (Value::Time(x) | Value::Int(x), Value::Time(y) | Value::Int(y)) => x.cmp(y),
        (Value::Missing, Value::Missing) => return Ordering::Equal,
        (Value::Missing, _) => return Ordering::Greater,
        (_, Value::Missing) => return Ordering::Less,
        _ => natural_cmp(a, b),
    };
    if desc {
        o.reverse()
    } else {
        o
    }
}

/// A kept record with its sort keys. Ties are broken by `@ptr`, so two runs over halves of
/// the data merge into the answer one run over all of it gives.
#[derive(Debug)]
pub(crate) struct Ranked {
    pub keys: Vec<OwnedValue>,
    pub desc: u64,
    pub row: Kept,
}

impl Ranked {
    pub(crate) fn new<'a>(spec: &'a SortSpec, env: &mut Env<'a>, r: &Record<'_>) -> Self {
        Ranked {
            keys: spec
                .keys
                .iter()
                .map(|k| eval(k, env).to_owned_value())
                .collect(),
            desc: spec.desc,
            row: Kept::new(r),
        }
    }

    /// Replaces this entry with a better record, reusing its allocations.
    pub(crate) fn refill<'a>(&mut self, spec: &'a SortSpec, env: &mut Env<'a>, r: &Record<'_>) {
        for (slot, k) in self.keys.iter_mut().zip(&spec.keys) {
            slot.assign(&eval(k, env));
        }
        self.row.refill(r);
    }

    /// True when the record in `env` sorts before this entry. Keys are evaluated one at a time
    /// and only as far as needed.
    pub(crate) fn is_beaten_by<'a>(
        &self,
        spec: &'a SortSpec,
        env: &mut Env<'a>,
        ptr: &str,
    ) -> bool {
        for (i, k) in spec.keys.iter().enumerate() {
            match key_cmp(&eval(k, env), &self.keys[i].as_value(), spec.is_desc(i)) {
                Ordering::Less => return true,
                Ordering::Greater => return false,
                Ordering::Equal => {}
            }
        }
        ptr < self.row.ptr()
    }
}

impl Ord for Ranked {
    /// Output order: `Less` comes first.
    fn cmp(&self, other: &Self) -> Ordering {
        for (i, (a, b)) in self.keys.iter().zip(&other.keys).enumerate() {
            let o = key_cmp(&a.as_value(), &b.as_value(), self.desc >> i & 1 == 1);
            if o != Ordering::Equal {
                return o;
            }
        }
        self.row.ptr().cmp(other.row.ptr())
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}
