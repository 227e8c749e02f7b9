//! Helpers for the tests: owned log events and a one-call run.

use super::{parse, Record, Results};

/// An owned log event; `ptr` is its index unless set.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: String,
    pub log_stream: String,
    pub log_group: String,
    pub ptr: String,
}

/// Events with these messages, one second apart from 2019-09-12 18:07:31 UTC.
pub(crate) fn events(messages: &[&str]) -> Vec<Event> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| Event {
            timestamp: 1_568_311_651_000 + i as i64 * 1000,
            ingestion_time: 1_568_311_652_000 + i as i64 * 1000,
            message: m.to_string(),
            log_stream: format!("stream-{}", i % 2),
            log_group: "123456789012:app".to_string(),
            ptr: format!("p{i:05}"),
        })
        .collect()
}

impl Event {
    pub(crate) fn record(&self) -> Record<'_> {
        Record {
            timestamp: self.timestamp,
            ingestion_time: self.ingestion_time,
            message: &self.message,
            log_stream: &self.log_stream,
            log_group: &self.log_group,
            ptr: &self.ptr,
        }
    }
}

pub(crate) fn run(query: &str, events: &[Event]) -> Results {
    let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut run = q.new_run();
    for e in events {
        run.push(&e.record());
    }
    run.finish()
}

/// The same query as two runs over the two halves, merged.
pub(crate) fn run_split(query: &str, events: &[Event], at: usize) -> Results {
    let q = parse(query).unwrap();
    let (a, b) = events.split_at(at);
    let mut first = q.new_run();
    let mut second = q.new_run();
    a.iter().for_each(|e| first.push(&e.record()));
    b.iter().for_each(|e| second.push(&e.record()));
    first.merge(second);
    first.finish()
}

/// One column of every row (`""` where the row lacks it).
pub(crate) fn column(r: &Results, field: &str) -> Vec<String> {
    r.rows
        .iter()
        .map(|row| {
            row.iter()
                .find(|(f, _)| f == field)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// The field names of a row.
pub(crate) fn fields_of(row: &[(String, String)]) -> Vec<&str> {
    row.iter().map(|(f, _)| f.as_str()).collect()
}
