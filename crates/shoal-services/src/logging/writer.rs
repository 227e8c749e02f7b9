//! The one thread that writes records: it takes everything queued, appends it to the log
//! store in one batch (one fsync per stream written), then answers the flushes that were
//! waiting behind those records. Devices never wait for it: `send` drops the record when the
//! queue is full and the caller counts it. Once an hour it also drops segments past their log
//! group's retention.
//!
//! Streams are named as AWS names them in AWSIotLogsV2 (the seed shows
//! `0f05db04-692e-4af3-86b1-c4d8d5dece90_327038145508_0`): `NODE_ACCOUNT_0`, NODE this
//! process's id, so each stream has one writer and stays in time order. The log store starts a
//! new segment each UTC day, so retention drops whole days.

use shoal_domain::Clock;
use shoal_logstore::{Entry, LogStore};
use shoal_store::Store;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Records waiting for the writer at most; beyond it records are dropped (and counted).
const QUEUE: usize = 65_536;
/// Records written in one batch at most.
const BATCH: usize = 8_192;
const SWEEP_MS: i64 = 3_600_000;
/// How long the writer rests after a batch. While it rests it is not waiting on the queue, so
/// senders hand records over without waking it (a wake-up per record, a context switch on a
/// busy core, cost more than building the record); a flush waits at most this long more.
const REST: std::time::Duration = std::time::Duration::from_millis(20);

enum Msg {
    Record {
        scope: Arc<str>,
        group: Arc<str>,
        timestamp: i64,
        message: String,
    },
    Flush(tokio::sync::oneshot::Sender<()>),
}

#[derive(Clone)]
pub(super) struct Handle {
    tx: SyncSender<Msg>,
}

impl Handle {
    /// Queues a record; false when the queue is full.
    pub fn send(
        &self,
        scope: &Arc<str>,
        group: &Arc<str>,
        timestamp: i64,
        message: String,
    ) -> bool {
        match self.tx.try_send(Msg::Record {
            scope: scope.clone(),
            group: group.clone(),
            timestamp,
            message,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }

    pub async fn flush(&self) {
        let (otx, orx) = tokio::sync::oneshot::channel();
        let tx = self.tx.clone();
        // The queue may be full: wait for room off the async threads.
        let sent = tokio::task::spawn_blocking(move || tx.send(Msg::Flush(otx)).is_ok()).await;
        if sent.unwrap_or(false) {
            let _ = orx.await;
        }
    }
}

pub(super) fn start(logs: Arc<LogStore>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Handle {
    let (tx, rx) = sync_channel(QUEUE);
    let node = uuid::Uuid::new_v4().to_string();
    std::thread::Builder::new()
        .name("shoal-log-writer".into())
        .spawn(move || run(rx, &logs, store.as_ref(), clock.as_ref(), &node))
        .expect("spawn the log writer");
    Handle { tx }
}

/// A record taken from the queue: scope, group, stream, timestamp, message.
type Queued = (Arc<str>, Arc<str>, Arc<str>, i64, String);

fn stream_name(scope: &str, node: &str) -> String {
    let account = scope.split('/').next().unwrap_or(scope);
    format!("{node}_{account}_0")
}

fn run(rx: Receiver<Msg>, logs: &LogStore, store: &dyn Store, clock: &dyn Clock, node: &str) {
    let mut last_sweep: Option<i64> = None;
    let mut records: Vec<Queued> = Vec::new();
    // Each scope's stream name, made once.
    let mut streams: std::collections::HashMap<Arc<str>, Arc<str>> = Default::default();
    let mut flushes = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(m) = next {
            match m {
                Msg::Record {
                    scope,
                    group,
                    timestamp,
                    message,
                } => {
                    let stream = streams
                        .entry(scope.clone())
                        .or_insert_with(|| Arc::from(stream_name(&scope, node).as_str()))
                        .clone();
                    records.push((scope, group, stream, timestamp, message));
                }
                Msg::Flush(done) => flushes.push(done),
            }
            next = if records.len() < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !records.is_empty() {
            let entries: Vec<Entry<'_>> = records
                .iter()
                .map(|(scope, group, stream, timestamp, message)| Entry {
                    scope,
                    group,
                    stream,
                    timestamp: *timestamp,
                    message,
                })
                .collect();
            if let Err(e) = logs.append(&entries, clock.now().millis()) {
                tracing::error!(error = %e, records = entries.len(), "writing device logs");
            }
            records.clear();
        }
        for f in flushes.drain(..) {
            let _ = f.send(());
        }
        std::thread::sleep(REST);
        let now = clock.now().millis();
        if last_sweep.is_none_or(|t| now.saturating_sub(t) >= SWEEP_MS) {
            last_sweep = Some(now);
            super::groups::sweep(logs, store, now);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn streams_are_named_as_aws_names_them() {
        assert_eq!(
            super::stream_name(
                "327038145508/us-east-1",
                "0f05db04-692e-4af3-86b1-c4d8d5dece90"
            ),
            "0f05db04-692e-4af3-86b1-c4d8d5dece90_327038145508_0"
        );
    }
}
