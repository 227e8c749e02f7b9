//! A batch's expectations checked before any of it is written, so that the writer can apply a
//! batch that holds without a savepoint of its own. A savepoint inside a group's transaction
//! copies every page it touches that the group already changed into a sub-journal (SQLite's
//! "statement journal"), which profiles of large groups show as a tenth of the writer's time.

use crate::model::{Batch, Expect, Op};
use crate::StoreResult;
use std::collections::HashMap;

/// What the check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every expectation holds: the batch can be applied as it is. Each operation's record
    /// revision as the check found it (after the batch's earlier operations), so that applying
    /// the batch does not look each one up again.
    Holds(Vec<Option<u64>>),
    /// Operation `op` fails its expectation: nothing of the batch is written.
    Conflict(usize),
    /// The check cannot tell without writing (a prefix or partition delete, or a term check
    /// after a write of its kind): apply it inside a savepoint.
    Unsure,
}

/// A revision no caller can have read: what a record written earlier in the same batch has.
const WRITTEN_HERE: u64 = u64::MAX;

/// Checks `batch`'s expectations against the store as the earlier operations of the batch
/// would leave it. `rev_of` reads a record's current revision; `term_taken` whether a record
/// of a kind carries a term.
pub fn check(
    batch: &Batch,
    mut rev_of: impl FnMut(&str, &str) -> StoreResult<Option<u64>>,
    mut term_taken: impl FnMut(&str, &str, &str) -> StoreResult<bool>,
) -> StoreResult<Verdict> {
    let mut written: HashMap<(&str, &str), Option<u64>> = HashMap::new();
    let mut found = Vec::with_capacity(batch.ops.len());
    for (i, op) in batch.ops.iter().enumerate() {
        let (kind, key, expect, after) = match op {
            Op::Put {
                kind, key, expect, ..
            } => (kind, key, *expect, Some(Some(WRITTEN_HERE))),
            Op::Delete { kind, key, expect } => (kind, key, *expect, Some(None)),
            Op::Check { kind, key, expect } => (kind, key, *expect, None),
            Op::DeletePrefix { .. } | Op::DeletePartition => return Ok(Verdict::Unsure),
            Op::CheckNone { kind, term } => {
                if written.keys().any(|(k, _)| *k == kind.as_str()) {
                    return Ok(Verdict::Unsure);
                }
                if term_taken(kind, &term.name, &term.value)? {
                    return Ok(Verdict::Conflict(i));
                }
                found.push(None);
                continue;
            }
        };
        let current = match written.get(&(kind.as_str(), key.as_str())) {
            Some(r) => *r,
            None => rev_of(kind, key)?,
        };
        if !holds(expect, current) {
            return Ok(Verdict::Conflict(i));
        }
        found.push(current);
        if let Some(after) = after {
            written.insert((kind.as_str(), key.as_str()), after);
        }
    }
    Ok(Verdict::Holds(found))
}

pub fn holds(expect: Expect, rev: Option<u64>) -> bool {
    match expect {
        Expect::Any => true,
        Expect::Absent => rev.is_none(),
        Expect::Present => rev.is_some(),
        Expect::Rev(r) => rev == Some(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Term;

    fn store(kind: &str, key: &str) -> StoreResult<Option<u64>> {
        Ok((kind == "thing" && key == "a").then_some(7))
    }

    fn no_terms(_: &str, _: &str, _: &str) -> StoreResult<bool> {
        Ok(false)
    }

    #[test]
    fn later_operations_see_earlier_ones() {
        let b = Batch::new("p")
            .put("thing", "b", 1, vec![], vec![], Expect::Absent)
            .put("thing", "b", 1, vec![], vec![], Expect::Present)
            .delete("thing", "a", Expect::Rev(7))
            .put("thing", "a", 1, vec![], vec![], Expect::Absent);
        assert_eq!(
            check(&b, store, no_terms).unwrap(),
            Verdict::Holds(vec![None, Some(WRITTEN_HERE), Some(7), None])
        );
        // A revision written in the batch is one no caller has read.
        let b = Batch::new("p")
            .put("thing", "a", 1, vec![], vec![], Expect::Rev(7))
            .put("thing", "a", 1, vec![], vec![], Expect::Rev(7));
        assert_eq!(check(&b, store, no_terms).unwrap(), Verdict::Conflict(1));
        let b = Batch::new("p").put("thing", "a", 1, vec![], vec![], Expect::Absent);
        assert_eq!(check(&b, store, no_terms).unwrap(), Verdict::Conflict(0));
    }

    #[test]
    fn term_checks_after_writes_of_their_kind_are_left_to_a_savepoint() {
        let term = Term::new("principal", "x");
        let b = Batch::new("p")
            .put("attachment", "k", 1, vec![], vec![], Expect::Any)
            .check_none("attachment", term.clone());
        assert_eq!(check(&b, store, no_terms).unwrap(), Verdict::Unsure);
        let b = Batch::new("p")
            .put("thing", "k", 1, vec![], vec![], Expect::Any)
            .check_none("attachment", term);
        assert_eq!(
            check(&b, store, |_, _, _| Ok(true)).unwrap(),
            Verdict::Conflict(1)
        );
        let b = Batch::new("p").delete_prefix("queue", "s/");
        assert_eq!(check(&b, store, no_terms).unwrap(), Verdict::Unsure);
    }
}
