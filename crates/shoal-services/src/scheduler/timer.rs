//! A timer as stored: keyed by its due time (fixed-width hex milliseconds, so key order is time
//! order), then its owner and name; a term carries `SERVICE/NAME` so the owner finds it again.

use shoal_domain::{Partition, Timestamp};
use shoal_store::Record;

pub(super) const KIND_TIMER: &str = "timer";
pub(super) const TERM_TIMER: &str = "timer";

/// Which timer: the service that handles it and its name within the partition (a job id, a
/// metric name...). One timer per id at a time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimerId {
    pub service: String,
    pub name: String,
}

impl TimerId {
    pub fn new(service: &str, name: impl Into<String>) -> TimerId {
        TimerId {
            service: service.to_string(),
            name: name.into(),
        }
    }

    pub(super) fn term(&self) -> String {
        format!("{}/{}", self.service, self.name)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct TimerDoc {
    pub service: String,
    pub name: String,
    /// Due time, epoch milliseconds.
    pub at: i64,
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl TimerDoc {
    pub fn key(&self) -> String {
        // Times before the epoch do not occur; they sort first anyway.
        format!("{:016x}/{}/{}", self.at.max(0), self.service, self.name)
    }
}

/// A timer as read, with the revision its completion is conditional on.
#[derive(Debug, Clone)]
pub struct Due {
    pub part: Partition,
    pub service: String,
    pub name: String,
    pub at: Timestamp,
    pub payload: serde_json::Value,
    pub(super) key: String,
    pub(super) rev: u64,
}

impl Due {
    pub(super) fn from_record(part: Partition, r: &Record, doc: TimerDoc) -> Due {
        Due {
            part,
            service: doc.service,
            name: doc.name,
            at: Timestamp(doc.at),
            payload: doc.payload,
            key: r.key.clone(),
            rev: r.rev,
        }
    }

    pub fn id(&self) -> TimerId {
        TimerId::new(&self.service, self.name.clone())
    }
}
