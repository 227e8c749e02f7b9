//! The values that cross the `Store` trait.

/// A stored document with its store-assigned revision and the schema version it was written
/// with, so that services can migrate old records forward when they read them. Revisions are
/// store-wide and only grow: a record deleted and made again never gets a revision it had
/// before, so a conditional write on an old revision cannot land on the new record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub rev: u64,
    pub schema: u32,
    pub doc: Vec<u8>,
}

/// What an operation expects of the record it touches before the batch may commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Any,
    Absent,
    Present,
    Rev(u64),
}

/// A secondary key of a record: listings filter on (name, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub name: String,
    pub value: String,
}

impl Term {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Term {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The kind a change names when a whole partition was emptied (`Op::DeletePartition`).
pub const ALL_KINDS: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Creates or replaces a record and replaces all of its terms.
    Put {
        kind: String,
        key: String,
        schema: u32,
        doc: Vec<u8>,
        terms: Vec<Term>,
        expect: Expect,
    },
    /// Removes a record and its terms; removing an absent record is not an error unless the
    /// expectation says so.
    Delete {
        kind: String,
        key: String,
        expect: Expect,
    },
    /// Writes nothing; only its expectation must hold (e.g. "the parent group still exists").
    Check {
        kind: String,
        key: String,
        expect: Expect,
    },
    /// Removes every record of `kind` whose key starts with `prefix` (a session's whole message
    /// queue), with their terms, without reading them first. Announced as `(kind, prefix)`.
    DeletePrefix { kind: String, prefix: String },
    /// Removes every record of the partition, of every kind, with their terms (an account's
    /// region emptied by the admin reset). Announced as `("*", "")`.
    DeletePartition,
    /// Writes nothing; holds only while no record of `kind` carries the term (e.g. "no
    /// principal is attached to this thing" when the thing is deleted), so that a check over
    /// a set of records and the write it guards are one atomic step.
    CheckNone { kind: String, term: Term },
}

/// Operations on one partition, committed atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub partition: String,
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn new(partition: impl Into<String>) -> Self {
        Batch {
            partition: partition.into(),
            ops: Vec::new(),
        }
    }
    pub fn put(
        mut self,
        kind: &str,
        key: &str,
        schema: u32,
        doc: Vec<u8>,
        terms: Vec<Term>,
        expect: Expect,
    ) -> Self {
        self.ops.push(Op::Put {
            kind: kind.into(),
            key: key.into(),
            schema,
            doc,
            terms,
            expect,
        });
        self
    }
    pub fn delete(mut self, kind: &str, key: &str, expect: Expect) -> Self {
        self.ops.push(Op::Delete {
            kind: kind.into(),
            key: key.into(),
            expect,
        });
        self
    }
    pub fn check(mut self, kind: &str, key: &str, expect: Expect) -> Self {
        self.ops.push(Op::Check {
            kind: kind.into(),
            key: key.into(),
            expect,
        });
        self
    }
    pub fn delete_prefix(mut self, kind: &str, prefix: &str) -> Self {
        self.ops.push(Op::DeletePrefix {
            kind: kind.into(),
            prefix: prefix.into(),
        });
        self
    }
    pub fn delete_partition(mut self) -> Self {
        self.ops.push(Op::DeletePartition);
        self
    }
    pub fn check_none(mut self, kind: &str, term: Term) -> Self {
        self.ops.push(Op::CheckNone {
            kind: kind.into(),
            term,
        });
        self
    }
}

/// How `list_by_term` matches a term's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermMatch<'a> {
    Exact(&'a str),
    Prefix(&'a str),
}

/// What one committed batch changed: the (kind, key) of every record it put or deleted. Derived
/// data (the fleet index) follows the store through these, never through the services' calls,
/// so no write path can forget to announce itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Position in the stream: 1 for the first batch announced since the store opened.
    pub seq: u64,
    pub partition: String,
    pub records: Vec<(String, String)>,
}

impl Changes {
    pub(crate) fn of(batch: &Batch) -> Option<Changes> {
        let records: Vec<(String, String)> = batch
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Put { kind, key, .. } | Op::Delete { kind, key, .. } => {
                    Some((kind.clone(), key.clone()))
                }
                Op::DeletePrefix { kind, prefix } => Some((kind.clone(), prefix.clone())),
                Op::DeletePartition => Some((ALL_KINDS.to_string(), String::new())),
                Op::Check { .. } | Op::CheckNone { .. } => None,
            })
            .collect();
        (!records.is_empty()).then(|| Changes {
            seq: 0,
            partition: batch.partition.clone(),
            records,
        })
    }
}
