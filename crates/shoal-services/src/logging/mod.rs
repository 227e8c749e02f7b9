//! Device logs (AWS IoT's v2 logging, read back through Shoal's CloudWatch Logs subset):
//! - `levels.rs`: the account's settings (options, per-target levels) and their copy in memory;
//! - `gate.rs`: what a connection asks before it builds a record (one atomic load and one
//!   comparison when its level excludes the record);
//! - `writer.rs`: records handed over on a bounded queue (never waiting: a full queue drops and
//!   counts) to one thread that batches them into the log store and fsyncs;
//! - `groups.rs`, `events.rs`, `queries.rs`: log groups and their retention, GetLogEvents and
//!   FilterLogEvents, Logs Insights queries.
//!
//! The records themselves are files of this node (`shoal-logstore`), not store records: they
//! are written once, never changed, and read in bulk by time. Log group settings (retention)
//! are store records, so every node applies them.

mod counters;
mod events;
mod gate;
mod groups;
mod levels;
mod queries;
mod writer;

#[cfg(test)]
mod tests;

pub use counters::{Counters, Op};
pub use events::{FilterRequest, GetRequest, LogEvent, LogEventsPage};
pub use gate::LogGate;
pub use groups::{LogGroup, RETENTION_DAYS};
pub use levels::{LogLevels, PartitionLogging, TargetLevel};
pub use queries::{QueryResults, QueryStatus};

use shoal_domain::logging::{LogRecord, Origin};
use shoal_domain::{Clock, Partition};
use shoal_logstore::LogStore;
use shoal_store::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The log group AWS IoT writes v2 records to, one per account and region.
pub const V2_GROUP: &str = "AWSIotLogsV2";

/// The device logs service: emission, storage, reading.
pub struct DeviceLogs {
    pub levels: Arc<LogLevels>,
    registry: Arc<crate::Registry>,
    store: Arc<dyn Store>,
    logs: Arc<LogStore>,
    clock: Arc<dyn Clock>,
    writer: writer::Handle,
    query_state: queries::QueryState,
    counters: counters::AllCounters,
    /// Records handed to the writer, and records dropped because its queue was full.
    pub emitted: AtomicU64,
    pub dropped: AtomicU64,
}

impl DeviceLogs {
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<crate::Registry>,
        logs: Arc<LogStore>,
        clock: Arc<dyn Clock>,
    ) -> Arc<DeviceLogs> {
        let levels = LogLevels::new(store.clone());
        let writer = writer::start(logs.clone(), store.clone(), clock.clone());
        Arc::new(DeviceLogs {
            levels,
            registry,
            store,
            logs,
            clock,
            writer,
            query_state: Default::default(),
            counters: Default::default(),
            emitted: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// Starts following the store's changes (logging settings of other requests and nodes).
    pub fn follow(&self) {
        self.levels.follow();
    }

    /// A connection's gate: what its records are checked against.
    pub fn gate(&self, part: &Partition, origin: Origin) -> LogGate {
        let counters = self.counters.of(&part.key());
        LogGate::new(self.levels.partition(part), counters, part.clone(), origin)
    }

    /// The partition's operational counters (for gateways without a connection's gate).
    pub fn counters(&self, part: &Partition) -> Arc<Counters> {
        self.counters.of(&part.key())
    }

    /// Every partition's operational counts by metric name (`ACCOUNT/REGION` keys).
    pub fn counter_snapshot(&self) -> Vec<(String, Vec<(&'static str, u64)>)> {
        self.counters.snapshot()
    }

    /// `/metrics`: the operational counters of one partition or all, and the writer's own.
    pub fn prometheus(&self, only: Option<&Partition>, out: &mut String) {
        let key = only.map(|p| p.key());
        self.counters.prometheus(key.as_deref(), out);
        if only.is_none() {
            use std::fmt::Write;
            let _ = write!(
                out,
                "# HELP shoal_log_records_total Device log records handed to the writer, and dropped because its queue was full.\n# TYPE shoal_log_records_total counter\nshoal_log_records_total{{outcome=\"written\"}} {}\nshoal_log_records_total{{outcome=\"dropped\"}} {}\n",
                self.emitted.load(Ordering::Relaxed),
                self.dropped.load(Ordering::Relaxed)
            );
        }
    }

    /// Writes a record the gate allowed (call `LogGate::wants` first).
    pub fn emit(&self, gate: &LogGate, record: &LogRecord) {
        let message = record.to_json(gate.origin());
        let scope = gate.scope();
        if self.writer.send(
            scope,
            gate.group(record.event),
            record.timestamp.millis(),
            message,
        ) {
            self.emitted.fetch_add(1, Ordering::Relaxed);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes one log event into any log group of the partition (the rules engine's CloudWatch
    /// Logs action); false when the writer's queue is full. Same writer, same stream naming.
    pub fn put_event(
        &self,
        part: &Partition,
        group: &str,
        timestamp: i64,
        message: String,
    ) -> bool {
        let ok = self.writer.send(
            &Arc::from(part.key()),
            &Arc::from(group),
            timestamp,
            message,
        );
        if ok {
            self.emitted.fetch_add(1, Ordering::Relaxed);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// ReportFinalJobExecutionCount (INFO) when a job completes: an account's record, kept at
    /// the account's default level.
    pub fn report_final_count(&self, part: &Partition, job: &str, details: &str) {
        use shoal_domain::logging::{EventType, LogLevel};
        let origin = Origin {
            account_id: part.account.as_str().to_string(),
            ..Origin::default()
        };
        let mut gate = self.gate(part, origin);
        if !gate.wants(
            self,
            EventType::ReportFinalJobExecutionCount,
            LogLevel::Info,
        ) {
            return;
        }
        let record = LogRecord {
            timestamp: self.clock.now(),
            level: LogLevel::Info,
            trace_id: uuid::Uuid::new_v4().as_u128(),
            event: EventType::ReportFinalJobExecutionCount,
            transport: None,
            failure: None,
            topic: None,
            extra: vec![("jobId", job.to_string()), ("details", details.to_string())],
        };
        self.emit(&gate, &record);
    }

    /// Waits until every record emitted before the call is readable (reads call it, so a
    /// device's record is found by the next request).
    pub async fn flush(&self) {
        self.writer.flush().await;
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Deletes every log group of a partition (the admin reset).
    pub async fn reset(&self, part: &Partition) {
        self.flush().await;
        if let Err(e) = self.logs.delete_scope(&part.key()) {
            tracing::warn!(error = %e, "deleting a partition's logs");
        }
    }
}
