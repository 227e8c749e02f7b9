//! CloudWatch Logs' two query languages as pure code (L0): no I/O, no tokio, no storage.
//!
//! - `insights`: the Logs Insights query language (StartQuery): parsing with errors at their
//!   position, printing, and running a query over records handed to it one by one.
//! - `pattern`: the filter-pattern syntax of FilterLogEvents and subscription filters (terms,
//!   quoted phrases, `?` alternatives, `-` exclusions, JSON patterns, space-delimited patterns).
//!
//! The log store feeds records; this crate decides what matches and what a query answers.

pub mod insights;
pub mod pattern;
