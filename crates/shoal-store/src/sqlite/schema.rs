//! The SQLite schema and connection settings, and forward migrations of the file format.

use super::backend;
use crate::{StoreError, StoreResult};
use rusqlite::Connection;

/// The file format version. Opening an older file migrates it forward; a newer file is refused
/// rather than misread.
pub const FORMAT_VERSION: i64 = 1;

pub fn prepare_writer(c: &Connection) -> StoreResult<()> {
    // WAL lets readers run beside the single writer; synchronous=FULL makes every commit
    // durable (fsynced) before the writer reports it, which is what acknowledgements rely on.
    // The checkpoint thread (`checkpoint.rs`) keeps the WAL short; the automatic checkpoint
    // (256 MB) is only a bound. A 64 MB cache keeps the pages small commits rewrite (not more:
    // every commit walks the cache's hash table, pcache1TruncateUnsafe, so a larger cache slows
    // small commits); the first gigabyte of the file is read through a memory map, as the
    // readers do, rather than copied by a pread per page. The savepoints of batches the writer
    // cannot check first keep their journal in memory.
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 10000;
         PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -65536;
         PRAGMA mmap_size = 1073741824;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 65536;",
    )
    .map_err(backend)?;
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS records (
             part TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
             rev INTEGER NOT NULL, schema INTEGER NOT NULL, doc BLOB NOT NULL,
             PRIMARY KEY (part, kind, key)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS terms (
             part TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL,
             PRIMARY KEY (part, kind, name, value, key)) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS terms_by_key ON terms (part, kind, key);",
    )
    .map_err(backend)?;
    let found: Option<String> = c
        .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
            r.get(0)
        })
        .ok();
    match found.and_then(|v| v.parse::<i64>().ok()) {
        None => {
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('format', ?1)",
                [FORMAT_VERSION.to_string()],
            )
            .map_err(backend)?;
        }
        Some(v) if v > FORMAT_VERSION => {
            return Err(StoreError::Backend(format!(
                "store format {v} is newer than this shoal understands ({FORMAT_VERSION})"
            )))
        }
        Some(_) => {}
    }
    Ok(())
}

pub fn prepare_reader(c: &Connection) -> StoreResult<()> {
    // Reads through a memory map skip a pread per page; a larger page cache keeps the hot part of
    // the registry in the process.
    c.execute_batch(
        "PRAGMA busy_timeout = 10000; PRAGMA query_only = ON; PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16384;",
    )
    .map_err(backend)
}
