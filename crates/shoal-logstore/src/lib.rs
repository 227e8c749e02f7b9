//! Device log records on disk (L2): the storage under Shoal's CloudWatch Logs subset.
//!
//! Records live in append-only segment files, one folder per (scope, log group, log stream),
//! a new segment every `segment_bytes` and every UTC day. Why not the store (SQLite) or tantivy: the records are
//! written once, never changed, read by time range in bulk and dropped whole by age; a plain
//! sequential file appends at disk speed, scans at memory speed (no per-record index to keep
//! up), and retention deletes whole files. Each segment's extent (first and last timestamps) is
//! kept beside it, so a time-range read opens only the segments that overlap it.
//!
//! Scopes (an account/region partition), groups and streams are names the caller chooses; this
//! crate does not know AWS. One writer appends (`append`, batched by the caller, fsynced per
//! batch); readers take a snapshot of the segments and read them without holding any lock, up
//! to the length that snapshot recorded.
//!
//! This crate must not depend on the domain, the store, HTTP or MQTT.

mod catalog;
mod segment;

pub use catalog::{Entry, GroupInfo, LogStore, SegmentRef, StreamInfo};
pub use segment::{Raw, MAX_MESSAGE};

#[cfg(test)]
mod tests;
