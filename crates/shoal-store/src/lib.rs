//! The storage port (L2): the `Store` trait every backend implements, and the embedded SQLite
//! backend. Services above see records, revisions, conditions and terms, never SQL.
//!
//! The model is deliberately small so that PostgreSQL can implement the same trait and pass the
//! same conformance suite (`conformance`): a record is a JSON document under
//! (partition, kind, key) with a store-assigned revision; a write is a batch of operations that
//! commits atomically only if every operation's expectation holds; terms are secondary keys
//! (attribute values, group membership, parent group) that listings filter on.
//!
//! This crate must not depend on HTTP, MQTT or the domain crates.

pub mod conformance;
mod model;
pub mod sqlite;

pub use model::{Batch, Changes, Expect, Op, Record, Term, TermMatch, ALL_KINDS};

use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The expectation of operation number `op` in the batch did not hold; nothing was written.
    #[error("condition failed on operation {op}")]
    Conflict { op: usize },
    /// The backend failed; the batch may not have been written.
    #[error("store backend: {0}")]
    Backend(String),
    /// The store is shutting down.
    #[error("store is closed")]
    Closed,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A durable, transactional record store.
///
/// `commit` resolves only after the batch is durable (fsynced), which is what lets a gateway
/// acknowledge a request: "a response is sent only after its write is durable" (DESIGN.md §3).
/// Reads see every batch whose `commit` has resolved.
pub trait Store: Send + Sync + 'static {
    /// Applies all operations atomically, or none if any expectation fails. Returns the new
    /// revision of each operation's record (0 for deletes and checks). Revisions come from one
    /// counter for the whole store and never repeat, across deletes and restarts.
    fn commit(&self, batch: Batch) -> BoxFuture<'_, StoreResult<Vec<u64>>>;

    fn get(&self, partition: &str, kind: &str, key: &str) -> StoreResult<Option<Record>>;

    /// Records of a kind whose key starts with `prefix`, in key order, after `after`.
    fn list(
        &self,
        partition: &str,
        kind: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Record>>;

    /// The greatest key of a kind that starts with `prefix`, without reading its document:
    /// where a sequence numbered in keys continues after a restart.
    fn last_key(&self, partition: &str, kind: &str, prefix: &str) -> StoreResult<Option<String>>;

    /// Every partition that holds a record, in order (the admin reset of every account).
    fn partitions(&self) -> StoreResult<Vec<String>>;

    /// How many records of a kind have a key starting with `prefix`, counting at most `limit`,
    /// without reading their documents.
    fn count(&self, partition: &str, kind: &str, prefix: &str, limit: usize) -> StoreResult<usize>;

    /// Records of a kind that carry term `name` with a matching value, in key order.
    fn list_by_term(
        &self,
        partition: &str,
        kind: &str,
        name: &str,
        value: TermMatch<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Record>>;

    /// How many records of a kind carry term `name` with a matching value, counting at most
    /// `limit`, without reading their documents (a job's executions by status).
    fn count_by_term(
        &self,
        partition: &str,
        kind: &str,
        name: &str,
        value: TermMatch<'_>,
        limit: usize,
    ) -> StoreResult<usize>;

    /// Records of a kind by the value of term `name` (values starting with `prefix`), ordered by
    /// (value, key) ascending or descending, strictly after the cursor `(value, key)`. Returns
    /// each record with the term value it was ordered by, so the caller can resume.
    #[allow(clippy::too_many_arguments)]
    fn list_by_term_ordered(
        &self,
        partition: &str,
        kind: &str,
        name: &str,
        prefix: &str,
        after: Option<(&str, &str)>,
        descending: bool,
        limit: usize,
    ) -> StoreResult<Vec<(String, Record)>>;

    /// Committed changes, in commit order, announced before the callers are answered. A receiver
    /// that falls more than the channel's capacity behind gets `Lagged` and must re-read what
    /// it derives from the store.
    fn changes(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<Changes>>;

    /// The `seq` of the last change announced, so that a follower can tell when it has
    /// applied everything written so far.
    fn announced(&self) -> u64;

    /// Finishes queued writes and releases the backend; later calls fail with `Closed`.
    fn shutdown(&self) -> BoxFuture<'_, ()>;

    /// How the backend's commits have gone since it opened (for `/metrics`).
    fn stats(&self) -> StoreStats {
        StoreStats::default()
    }
}

/// Commit counts and time: group commits (one transaction and fsync each), the batches they
/// carried, and the seconds they took, from the writer's start to its answer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StoreStats {
    pub group_commits: u64,
    pub batches: u64,
    pub commit_seconds: f64,
}
