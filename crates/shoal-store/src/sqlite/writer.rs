//! The single writer. It drains every batch already queued, applies each whose expectations
//! hold (checked first, `expectations.rs`; a batch the check cannot judge goes inside a
//! savepoint, so that a failed expectation rolls back only that batch), commits once, and only
//! then answers each caller: group commit, so a thousand concurrent creates cost a few fsyncs.

use super::backend;
use super::expectations::{self, holds, Verdict};
use crate::model::{Batch, Changes, Op};
use crate::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::broadcast;
use tokio::sync::oneshot;

/// The most batches one transaction takes, so that one commit's latency stays bounded.
pub const MAX_GROUP: usize = 1024;

pub enum Job {
    Batch(Batch, oneshot::Sender<StoreResult<Vec<u64>>>),
    Shutdown(oneshot::Sender<()>),
}

/// Where committed changes go: the stream, and the count of changes announced on it.
pub struct Announce {
    pub stream: broadcast::Sender<Arc<Changes>>,
    pub seq: Arc<AtomicU64>,
    pub stats: Arc<Stats>,
}

/// The writer's counts (`Store::stats`): group commits, batches, and microseconds spent.
#[derive(Default)]
pub struct Stats {
    pub groups: AtomicU64,
    pub batches: AtomicU64,
    pub micros: AtomicU64,
}

/// The store-wide revision counter: the last revision given out, persisted in `meta` by the
/// transaction that used it, so revisions never repeat across deletes and restarts.
pub struct Revisions {
    last: u64,
}

impl Revisions {
    /// Reads the counter; a file written before it existed continues after its greatest
    /// revision.
    pub fn load(c: &Connection) -> StoreResult<Revisions> {
        let stored: Option<String> = c
            .query_row("SELECT value FROM meta WHERE key = 'rev'", [], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        let last = match stored.and_then(|v| v.parse::<u64>().ok()) {
            Some(v) => v,
            None => c
                .query_row("SELECT COALESCE(MAX(rev), 0) FROM records", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(backend)? as u64,
        };
        Ok(Revisions { last })
    }

    fn next(&mut self) -> u64 {
        self.last += 1;
        self.last
    }

    fn save(&self, c: &Connection) -> rusqlite::Result<()> {
        c.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('rev', ?1)")?
            .execute([self.last.to_string()])
            .map(|_| ())
    }
}

pub fn run(mut conn: Connection, rx: mpsc::Receiver<Job>, changes: Announce) {
    let mut revs = match Revisions::load(&conn) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "store revision counter not readable");
            Revisions { last: u64::MAX / 2 }
        }
    };
    let mut shutdown: Option<oneshot::Sender<()>> = None;
    while shutdown.is_none() {
        let Ok(first) = rx.recv() else { break };
        let mut jobs = Vec::new();
        match first {
            Job::Batch(b, tx) => jobs.push((b, tx)),
            Job::Shutdown(tx) => shutdown = Some(tx),
        }
        while shutdown.is_none() && jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Job::Batch(b, tx)) => jobs.push((b, tx)),
                Ok(Job::Shutdown(tx)) => shutdown = Some(tx),
                Err(_) => break,
            }
        }
        if !jobs.is_empty() {
            let started = std::time::Instant::now();
            let n = jobs.len() as u64;
            commit_group(&mut conn, jobs, &changes, &mut revs);
            let s = &changes.stats;
            s.groups.fetch_add(1, Ordering::Relaxed);
            s.batches.fetch_add(n, Ordering::Relaxed);
            s.micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
    }
    // Drain what was queued behind the shutdown request: those callers get `Closed`.
    while let Ok(job) = rx.try_recv() {
        if let Job::Batch(_, tx) = job {
            let _ = tx.send(Err(StoreError::Closed));
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "wal checkpoint at shutdown failed");
    }
    drop(conn);
    if let Some(tx) = shutdown {
        let _ = tx.send(());
    }
}

type Reply = oneshot::Sender<StoreResult<Vec<u64>>>;

fn commit_group(
    conn: &mut Connection,
    jobs: Vec<(Batch, Reply)>,
    changes: &Announce,
    revs: &mut Revisions,
) {
    let mut results: Vec<(StoreResult<Vec<u64>>, Reply)> = Vec::with_capacity(jobs.len());
    let mut committed = Vec::new();
    let outcome = (|| -> rusqlite::Result<()> {
        let mut txn = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (batch, reply) in jobs {
            let verdict = expectations::check(
                &batch,
                |kind, key| current_rev(&txn, &batch.partition, kind, key),
                |kind, name, value| term_taken(&txn, &batch.partition, kind, name, value),
            );
            match verdict {
                Ok(Verdict::Conflict(op)) => {
                    results.push((Err(StoreError::Conflict { op }), reply));
                    continue;
                }
                Ok(Verdict::Holds(found)) => {
                    // Nothing can refuse it now but the backend, and a backend error ends
                    // the whole group's transaction.
                    match apply(&txn, &batch, revs, Some(&found)) {
                        Ok(revs) => {
                            committed.extend(Changes::of(&batch));
                            results.push((Ok(revs), reply));
                            continue;
                        }
                        Err(StoreError::Backend(e)) => {
                            results.push((Err(StoreError::Backend(e.clone())), reply));
                            return Err(group_failure(e));
                        }
                        Err(e) => {
                            // A check that passed and then failed: never expected; fail the
                            // group rather than keep part of the batch.
                            results.push((Err(e), reply));
                            return Err(group_failure(
                                "a batch's expectations changed while it was applied".into(),
                            ));
                        }
                    }
                }
                Ok(Verdict::Unsure) | Err(_) => {}
            }
            let mut sp = txn.savepoint()?;
            let r = apply(&sp, &batch, revs, None);
            match r {
                Ok(revs) => {
                    sp.commit()?;
                    committed.extend(Changes::of(&batch));
                    results.push((Ok(revs), reply));
                }
                Err(e) => {
                    sp.rollback()?;
                    drop(sp);
                    results.push((Err(e), reply));
                }
            }
        }
        revs.save(&txn)?;
        txn.commit()
    })();
    match outcome {
        Ok(()) => {
            // Announced before anyone is answered: once a caller sees its write acknowledged,
            // every follower of the change stream has it queued.
            for mut c in committed {
                c.seq = changes.seq.fetch_add(1, Ordering::SeqCst) + 1;
                let _ = changes.stream.send(Arc::new(c));
            }
            for (r, reply) in results {
                let _ = reply.send(r);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "store commit failed");
            for (_, reply) in results {
                let _ = reply.send(Err(StoreError::Backend(e.to_string())));
            }
        }
    }
}

/// What ends a group's transaction when a batch applied without a savepoint fails.
fn group_failure(why: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
        Some(why),
    )
}

fn current_rev(c: &Connection, part: &str, kind: &str, key: &str) -> StoreResult<Option<u64>> {
    c.prepare_cached("SELECT rev FROM records WHERE part = ?1 AND kind = ?2 AND key = ?3")
        .and_then(|mut s| {
            s.query_row(params![part, kind, key], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map(|o| o.map(|v| v as u64))
        .map_err(backend)
}

fn term_taken(
    c: &Connection,
    part: &str,
    kind: &str,
    name: &str,
    value: &str,
) -> StoreResult<bool> {
    c.prepare_cached(
        "SELECT 1 FROM terms WHERE part = ?1 AND kind = ?2 AND name = ?3 AND value = ?4 LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row(params![part, kind, name, value], |_| Ok(()))
            .optional()
    })
    .map(|f| f.is_some())
    .map_err(backend)
}

/// Applies `batch`; `found` holds each operation's current revision when the expectations
/// were checked already (`expectations.rs`), otherwise each is read here.
fn apply(
    c: &Connection,
    batch: &Batch,
    counter: &mut Revisions,
    found: Option<&[Option<u64>]>,
) -> StoreResult<Vec<u64>> {
    let part = batch.partition.as_str();
    let mut revs = Vec::with_capacity(batch.ops.len());
    let rev_of = |i: usize, kind: &str, key: &str| match found.and_then(|f| f.get(i)) {
        Some(r) => Ok(*r),
        None => current_rev(c, part, kind, key),
    };
    for (i, op) in batch.ops.iter().enumerate() {
        match op {
            Op::Put {
                kind,
                key,
                schema,
                doc,
                terms,
                expect,
            } => {
                let rev = rev_of(i, kind, key)?;
                if !holds(*expect, rev) {
                    return Err(StoreError::Conflict { op: i });
                }
                let next = counter.next();
                c.prepare_cached(
                    "INSERT INTO records (part, kind, key, rev, schema, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (part, kind, key) DO UPDATE SET rev = excluded.rev, schema = excluded.schema, doc = excluded.doc",
                )
                .and_then(|mut s| s.execute(params![part, kind, key, next as i64, schema, doc]))
                .map_err(backend)?;
                if rev.is_some() {
                    delete_terms(c, part, kind, key)?;
                }
                let mut ins = c
                    .prepare_cached("INSERT OR IGNORE INTO terms (part, kind, name, value, key) VALUES (?1, ?2, ?3, ?4, ?5)")
                    .map_err(backend)?;
                for t in terms {
                    ins.execute(params![part, kind, t.name, t.value, key])
                        .map_err(backend)?;
                }
                revs.push(next);
            }
            Op::Delete { kind, key, expect } => {
                let rev = rev_of(i, kind, key)?;
                if !holds(*expect, rev) {
                    return Err(StoreError::Conflict { op: i });
                }
                if rev.is_some() {
                    c.prepare_cached(
                        "DELETE FROM records WHERE part = ?1 AND kind = ?2 AND key = ?3",
                    )
                    .and_then(|mut s| s.execute(params![part, kind, key]))
                    .map_err(backend)?;
                    delete_terms(c, part, kind, key)?;
                }
                revs.push(0);
            }
            Op::Check { kind, key, expect } => {
                if !holds(*expect, rev_of(i, kind, key)?) {
                    return Err(StoreError::Conflict { op: i });
                }
                revs.push(0);
            }
            Op::DeletePrefix { kind, prefix } => {
                let hi = super::prefix_end(prefix);
                for sql in [
                    "DELETE FROM records WHERE part = ?1 AND kind = ?2 AND key >= ?3 AND key < ?4",
                    "DELETE FROM terms WHERE part = ?1 AND kind = ?2 AND key >= ?3 AND key < ?4",
                ] {
                    c.prepare_cached(sql)
                        .and_then(|mut s| s.execute(params![part, kind, prefix, hi]))
                        .map_err(backend)?;
                }
                revs.push(0);
            }
            Op::DeletePartition => {
                for sql in [
                    "DELETE FROM records WHERE part = ?1",
                    "DELETE FROM terms WHERE part = ?1",
                ] {
                    c.prepare_cached(sql)
                        .and_then(|mut s| s.execute(params![part]))
                        .map_err(backend)?;
                }
                revs.push(0);
            }
            Op::CheckNone { kind, term } => {
                if term_taken(c, part, kind, &term.name, &term.value)? {
                    return Err(StoreError::Conflict { op: i });
                }
                revs.push(0);
            }
        }
    }
    Ok(revs)
}

fn delete_terms(c: &Connection, part: &str, kind: &str, key: &str) -> StoreResult<()> {
    c.prepare_cached("DELETE FROM terms WHERE part = ?1 AND kind = ?2 AND key = ?3")
        .and_then(|mut s| s.execute(params![part, kind, key]))
        .map(|_| ())
        .map_err(backend)
}
