//! The embedded backend: SQLite in WAL mode. One writer thread owns the only write connection and
//! commits whatever batches are queued in one transaction (group commit: one fsync for many
//! requests); readers use a small pool of their own connections and never wait for the writer;
//! a thread of its own checkpoints the WAL.

mod checkpoint;
mod expectations;
mod schema;
mod writer;

use crate::model::{Batch, Changes, Record, TermMatch};
use crate::{BoxFuture, Store, StoreError, StoreResult};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::broadcast;
use tokio::sync::oneshot;

pub use writer::MAX_GROUP;

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Committed batches a follower may fall behind by before it must re-read the store.
const CHANGES_BACKLOG: usize = 1 << 16;

/// Readers kept open; more are opened on demand and dropped when the pool is full.
const READ_POOL: usize = 8;

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<writer::Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<checkpoint::Checkpointer>>,
    readers: Mutex<Vec<Connection>>,
    changes: broadcast::Sender<Arc<Changes>>,
    announced: Arc<AtomicU64>,
    stats: Arc<writer::Stats>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store file, runs schema migrations and starts the writer.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path).map_err(backend)?;
        schema::prepare_writer(&conn)?;
        let (tx, rx) = mpsc::channel();
        let (changes, _) = broadcast::channel(CHANGES_BACKLOG);
        let announced = Arc::new(AtomicU64::new(0));
        let stats = Arc::new(writer::Stats::default());
        let announce = writer::Announce {
            stream: changes.clone(),
            seq: announced.clone(),
            stats: stats.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("shoal-store-writer".into())
            .spawn(move || writer::run(conn, rx, announce))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let checkpointer = checkpoint::Checkpointer::spawn(path)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            checkpointer: Mutex::new(Some(checkpointer)),
            readers: Mutex::new(Vec::new()),
            changes,
            announced,
            stats,
        })
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let conn = self.readers.lock().map_err(|_| StoreError::Closed)?.pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(backend)?;
                schema::prepare_reader(&c)?;
                c
            }
        };
        let out = f(&conn).map_err(backend);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < READ_POOL {
                pool.push(conn);
            }
        }
        out
    }
}

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        key: row.get(0)?,
        rev: row.get::<_, i64>(1)? as u64,
        schema: row.get(2)?,
        doc: row.get(3)?,
    })
}

/// The smallest string greater than every string starting with `prefix`.
pub(crate) fn prefix_end(prefix: &str) -> String {
    let mut s = prefix.to_string();
    s.push(char::MAX);
    s
}

impl Store for SqliteStore {
    fn commit(&self, batch: Batch) -> BoxFuture<'_, StoreResult<Vec<u64>>> {
        let (tx, rx) = oneshot::channel();
        let sent = match self.writer.lock() {
            Ok(w) => w
                .as_ref()
                .map(|w| w.send(writer::Job::Batch(batch, tx)).is_ok())
                .unwrap_or(false),
            Err(_) => false,
        };
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    fn get(&self, partition: &str, kind: &str, key: &str) -> StoreResult<Option<Record>> {
        self.with_reader(|c| {
            c.prepare_cached("SELECT key, rev, schema, doc FROM records WHERE part = ?1 AND kind = ?2 AND key = ?3")?
                .query_row(params![partition, kind, key], row_to_record)
                .optional()
        })
    }

    fn list(
        &self,
        partition: &str,
        kind: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Record>> {
        // One lower bound, so that SQLite starts its index range there: with two (`after` and
        // the prefix) it may start from the smaller and scan every key before the prefix.
        let (lo, strict) = match after {
            Some(a) if a >= prefix => (a.to_string(), true),
            _ => (prefix.to_string(), false),
        };
        let hi = prefix_end(prefix);
        self.with_reader(|c| {
            let sql = if strict {
                "SELECT key, rev, schema, doc FROM records WHERE part = ?1 AND kind = ?2 AND key > ?3 AND key < ?4 ORDER BY key LIMIT ?5"
            } else {
                "SELECT key, rev, schema, doc FROM records WHERE part = ?1 AND kind = ?2 AND key >= ?3 AND key < ?4 ORDER BY key LIMIT ?5"
            };
            let mut st = c.prepare_cached(sql)?;
            let rows = st.query_map(params![partition, kind, lo, hi, limit as i64], row_to_record)?;
            rows.collect()
        })
    }

    fn last_key(&self, partition: &str, kind: &str, prefix: &str) -> StoreResult<Option<String>> {
        let hi = prefix_end(prefix);
        self.with_reader(|c| {
            c.prepare_cached(
                "SELECT key FROM records WHERE part = ?1 AND kind = ?2 AND key >= ?3 AND key < ?4 ORDER BY key DESC LIMIT 1",
            )?
            .query_row(params![partition, kind, prefix, hi], |r| r.get(0))
            .optional()
        })
    }

    fn partitions(&self) -> StoreResult<Vec<String>> {
        self.with_reader(|c| {
            let mut st = c.prepare_cached("SELECT DISTINCT part FROM records ORDER BY part")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn count(&self, partition: &str, kind: &str, prefix: &str, limit: usize) -> StoreResult<usize> {
        let hi = prefix_end(prefix);
        self.with_reader(|c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM (SELECT 1 FROM records WHERE part = ?1 AND kind = ?2 AND key >= ?3 AND key < ?4 LIMIT ?5)",
            )?
            .query_row(params![partition, kind, prefix, hi, limit as i64], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
        })
    }

    fn count_by_term(
        &self,
        partition: &str,
        kind: &str,
        name: &str,
        value: TermMatch<'_>,
        limit: usize,
    ) -> StoreResult<usize> {
        let (lo, hi) = match value {
            TermMatch::Exact(v) => (v.to_string(), format!("{v}\0")),
            TermMatch::Prefix(p) => (p.to_string(), prefix_end(p)),
        };
        self.with_reader(|c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM (SELECT 1 FROM terms WHERE part = ?1 AND kind = ?2 AND name = ?3 AND value >= ?4 AND value < ?5 LIMIT ?6)",
            )?
            .query_row(params![partition, kind, name, lo, hi, limit as i64], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
        })
    }

    fn list_by_term(
        &self,
        partition: &str,
        kind: &str,
        name: &str,
        value: TermMatch<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Record>> {
        let after = after.unwrap_or("");
        self.with_reader(|c| match value {
            // One value: its keys come in order from the terms' primary key, so the scan
            // starts at `after` and reads only the page (CROSS JOIN keeps SQLite, which has no
            // statistics, from walking the records of the kind instead and probing each).
            TermMatch::Exact(v) => {
                let mut st = c.prepare_cached(
                    "SELECT r.key, r.rev, r.schema, r.doc FROM terms t \
                     CROSS JOIN records r ON r.part = t.part AND r.kind = t.kind AND r.key = t.key \
                     WHERE t.part = ?1 AND t.kind = ?2 AND t.name = ?3 AND t.value = ?4 AND t.key > ?5 \
                     ORDER BY t.key LIMIT ?6",
                )?;
                let rows = st.query_map(
                    params![partition, kind, name, v, after, limit as i64],
                    row_to_record,
                )?;
                rows.collect()
            }
            // Many values: walking the records in key order and probing their terms stops
            // after a page even when most records match (every thing with an attribute).
            TermMatch::Prefix(p) => {
                let hi = prefix_end(p);
                let mut st = c.prepare_cached(
                    "SELECT DISTINCT r.key, r.rev, r.schema, r.doc FROM terms t \
                     JOIN records r ON r.part = t.part AND r.kind = t.kind AND r.key = t.key \
                     WHERE t.part = ?1 AND t.kind = ?2 AND t.name = ?3 AND t.value >= ?4 AND t.value < ?5 AND t.key > ?6 \
                     ORDER BY r.key LIMIT ?7",
                )?;
                let rows = st.query_map(
                    params![partition, kind, name, p, hi, after, limit as i64],
                    row_to_record,
                )?;
                rows.collect()
            }
        })
    }

    fn list_by_term_ordered(
        &self,
        partition: &str,
        kind: &str,
        name: &str,
        prefix: &str,
        after: Option<(&str, &str)>,
        descending: bool,
        limit: usize,
    ) -> StoreResult<Vec<(String, Record)>> {
        let hi = prefix_end(prefix);
        // Without a cursor, start before the first (ascending) or after the last (descending).
        let (cv, ck) = match after {
            Some((v, k)) => (v.to_string(), k.to_string()),
            None if descending => (hi.clone(), String::new()),
            None => (String::new(), String::new()),
        };
        let sql = if descending {
            "SELECT t.value, r.key, r.rev, r.schema, r.doc FROM terms t \
             JOIN records r ON r.part = t.part AND r.kind = t.kind AND r.key = t.key \
             WHERE t.part = ?1 AND t.kind = ?2 AND t.name = ?3 AND t.value >= ?4 AND t.value < ?5 \
             AND (t.value < ?6 OR (t.value = ?6 AND t.key < ?7)) \
             ORDER BY t.value DESC, t.key DESC LIMIT ?8"
        } else {
            "SELECT t.value, r.key, r.rev, r.schema, r.doc FROM terms t \
             JOIN records r ON r.part = t.part AND r.kind = t.kind AND r.key = t.key \
             WHERE t.part = ?1 AND t.kind = ?2 AND t.name = ?3 AND t.value >= ?4 AND t.value < ?5 \
             AND (t.value > ?6 OR (t.value = ?6 AND t.key > ?7)) \
             ORDER BY t.value, t.key LIMIT ?8"
        };
        self.with_reader(|c| {
            let mut st = c.prepare_cached(sql)?;
            let rows = st.query_map(
                params![partition, kind, name, prefix, hi, cv, ck, limit as i64],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        Record {
                            key: row.get(1)?,
                            rev: row.get::<_, i64>(2)? as u64,
                            schema: row.get(3)?,
                            doc: row.get(4)?,
                        },
                    ))
                },
            )?;
            rows.collect()
        })
    }

    fn changes(&self) -> broadcast::Receiver<Arc<Changes>> {
        self.changes.subscribe()
    }

    fn announced(&self) -> u64 {
        self.announced.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn stats(&self) -> crate::StoreStats {
        use std::sync::atomic::Ordering::Relaxed;
        crate::StoreStats {
            group_commits: self.stats.groups.load(Relaxed),
            batches: self.stats.batches.load(Relaxed),
            commit_seconds: self.stats.micros.load(Relaxed) as f64 / 1e6,
        }
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        let (tx, rx) = oneshot::channel();
        let sender = self.writer.lock().ok().and_then(|mut w| w.take());
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        // Stopped first: the writer ends with a truncating checkpoint of its own.
        if let Some(c) = self.checkpointer.lock().ok().and_then(|mut c| c.take()) {
            c.stop();
        }
        Box::pin(async move {
            if let Some(s) = sender {
                if s.send(writer::Job::Shutdown(tx)).is_ok() {
                    let _ = rx.await;
                }
            }
            if let Some(t) = thread {
                let _ = t.join();
            }
            if let Ok(mut r) = self.readers.lock() {
                r.clear();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let mut n = 0;
        crate::conformance::run_all(|| {
            n += 1;
            SqliteStore::open(&dir.path().join(format!("store-{n}.db"))).unwrap()
        })
        .await;
    }

    #[tokio::test]
    async fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let s = SqliteStore::open(&path).unwrap();
        s.commit(Batch::new("p").put(
            "thing",
            "a",
            1,
            b"{}".to_vec(),
            vec![],
            crate::Expect::Absent,
        ))
        .await
        .unwrap();
        let first = s.get("p", "thing", "a").unwrap().unwrap().rev;
        s.commit(Batch::new("p").delete("thing", "a", crate::Expect::Present))
            .await
            .unwrap();
        s.shutdown().await;
        assert_eq!(s.commit(Batch::new("p")).await, Err(StoreError::Closed));
        // Revisions continue after a restart, even when the record that had the greatest one
        // is gone.
        let s = SqliteStore::open(&path).unwrap();
        let again = s
            .commit(Batch::new("p").put(
                "thing",
                "a",
                1,
                b"{}".to_vec(),
                vec![],
                crate::Expect::Absent,
            ))
            .await
            .unwrap();
        assert!(again[0] > first);
        s.shutdown().await;
    }
}
