//! WAL checkpoints off the writer's path. SQLite's automatic checkpoint runs inside the commit
//! that crosses its threshold, so that commit, and every caller waiting on it, pays for copying
//! the whole WAL back into the database file: tens of milliseconds under a steady stream of
//! small commits. Here a thread of its own runs a PASSIVE checkpoint (it never blocks the
//! writer or the readers, https://www.sqlite.org/c3ref/wal_checkpoint_v2.html) a few times a
//! second; the writer keeps a far higher automatic threshold only as a bound should this thread
//! fall behind.

use super::backend;
use crate::{StoreError, StoreResult};
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

const INTERVAL: Duration = Duration::from_millis(250);

pub struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    pub fn spawn(path: &Path) -> StoreResult<Checkpointer> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.execute_batch("PRAGMA busy_timeout = 10000;")
            .map_err(backend)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("shoal-store-checkpoint".into())
            .spawn(move || run(conn, stopped))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Checkpointer { stop, thread })
    }

    /// Ends the thread once its current checkpoint, if any, is done.
    pub fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

fn run(conn: Connection, stopped: mpsc::Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "wal checkpoint failed");
        }
    }
}
