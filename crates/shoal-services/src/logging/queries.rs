//! Logs Insights queries: StartQuery parses the query (its errors carry their position), then
//! runs it on a blocking thread, the group's segments split between two scanners whose partial
//! answers merge; GetQueryResults reads the state, StopQuery cancels. Queries are this node's
//! memory only, as AWS keeps results for a while only: at most 100 running per partition
//! (LimitExceededException) and the last 200 kept
//! (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html).

use super::groups::cutoff;
use super::DeviceLogs;
use shoal_domain::error::Result;
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_logsquery::insights;
use shoal_logstore::SegmentRef;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const RUNNING_MAX: usize = 100;
/// Queries kept per partition (each holds at most 10,000 rows): a bound on what a tenant
/// can make this node hold.
const KEPT: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStatus {
    Running,
    Complete,
    Cancelled,
    Failed,
}

impl QueryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryStatus::Running => "Running",
            QueryStatus::Complete => "Complete",
            QueryStatus::Cancelled => "Cancelled",
            QueryStatus::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct QueryResults {
    pub status: QueryStatus,
    pub rows: Vec<Vec<(String, String)>>,
    pub records_matched: u64,
    pub records_scanned: u64,
    pub bytes_scanned: u64,
}

pub(super) struct Query {
    cancel: Arc<AtomicBool>,
    results: QueryResults,
}

fn unknown_query() -> ServiceError {
    ServiceError::not_found("The specified query does not exist.")
}

impl DeviceLogs {
    /// StartQuery over `groups` for records in `[start, end]` (milliseconds).
    pub async fn start_query(
        &self,
        part: &Partition,
        groups: &[String],
        start: i64,
        end: i64,
        text: &str,
        limit: Option<usize>,
    ) -> Result<String> {
        let query = insights::parse(text).map_err(|e| {
            ServiceError::new(
                ErrorKind::MalformedQuery {
                    start: e.position,
                    end: e.position + 1,
                },
                e.to_string(),
            )
        })?;
        self.flush().await;
        let scope = part.key();
        let now = self.clock.now().millis();
        let mut segs: Vec<(Arc<str>, SegmentRef)> = Vec::new();
        for g in groups {
            let from = start.max(cutoff(self.store.as_ref(), &scope, g, now));
            let found = self
                .logs
                .segments(&scope, g, |_| true, from, end.saturating_add(1))
                .ok_or_else(|| {
                    ServiceError::not_found(format!(
                        "Log group '{g}' does not exist for account ID '{}'",
                        part.account.as_str()
                    ))
                })?;
            // `@log` is `ACCOUNT:GROUP`, as Logs Insights shows it.
            let name: Arc<str> = Arc::from(format!("{}:{g}", part.account).as_str());
            segs.extend(found.into_iter().map(|s| (name.clone(), s)));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let mut parts = self.query_state.lock().unwrap_or_else(|p| p.into_inner());
            let (map, order) = parts.entry(scope.clone()).or_default();
            let running = map
                .values()
                .filter(|q| q.results.status == QueryStatus::Running)
                .count();
            if running >= RUNNING_MAX {
                return Err(ServiceError::new(
                    ErrorKind::LimitExceeded,
                    format!("Account maximum query concurrency limit of [{RUNNING_MAX}] reached."),
                ));
            }
            map.insert(
                id.clone(),
                Query {
                    cancel: cancel.clone(),
                    results: QueryResults {
                        status: QueryStatus::Running,
                        rows: Vec::new(),
                        records_matched: 0,
                        records_scanned: 0,
                        bytes_scanned: 0,
                    },
                },
            );
            order.push_back(id.clone());
            while order.len() > KEPT {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
        let me = self.query_state.clone();
        let qid = id.clone();
        let end_excl = end.saturating_add(1);
        tokio::task::spawn_blocking(move || {
            let out = run(&query, &segs, start, end_excl, limit, &cancel);
            finish(&me, &scope, &qid, out, &cancel);
        });
        Ok(id)
    }

    /// GetQueryResults.
    pub fn query_results(&self, part: &Partition, id: &str) -> Result<QueryResults> {
        let parts = self.query_state.lock().unwrap_or_else(|p| p.into_inner());
        parts
            .get(&part.key())
            .and_then(|(m, _)| m.get(id))
            .map(|q| q.results.clone())
            .ok_or_else(unknown_query)
    }

    /// StopQuery: false when the query had already ended.
    pub fn stop_query(&self, part: &Partition, id: &str) -> Result<bool> {
        let mut parts = self.query_state.lock().unwrap_or_else(|p| p.into_inner());
        let q = parts
            .get_mut(&part.key())
            .and_then(|(m, _)| m.get_mut(id))
            .ok_or_else(unknown_query)?;
        if q.results.status != QueryStatus::Running {
            return Ok(false);
        }
        q.cancel.store(true, Ordering::Relaxed);
        q.results.status = QueryStatus::Cancelled;
        Ok(true)
    }
}

/// Per partition: queries by id, and their ids oldest first.
pub(super) type QueryState =
    Arc<Mutex<HashMap<String, (HashMap<String, Query>, VecDeque<String>)>>>;

/// Stores a finished run's answer.
fn finish(
    state: &QueryState,
    scope: &str,
    id: &str,
    out: std::io::Result<insights::Results>,
    cancel: &AtomicBool,
) {
    let mut parts = state.lock().unwrap_or_else(|p| p.into_inner());
    let Some(q) = parts.get_mut(scope).and_then(|(m, _)| m.get_mut(id)) else {
        return;
    };
    q.results = match out {
        _ if cancel.load(Ordering::Relaxed) => QueryResults {
            status: QueryStatus::Cancelled,
            ..q.results.clone()
        },
        Ok(r) => QueryResults {
            status: QueryStatus::Complete,
            rows: r.rows,
            records_matched: r.records_matched,
            records_scanned: r.records_scanned,
            bytes_scanned: r.bytes_scanned,
        },
        Err(e) => {
            tracing::error!(error = %e, "a logs query failed");
            QueryResults {
                status: QueryStatus::Failed,
                ..q.results.clone()
            }
        }
    };
}

/// Runs a query over the segments: two scanners, each over about half the bytes.
fn run(
    query: &insights::Query,
    segs: &[(Arc<str>, SegmentRef)],
    start: i64,
    end: i64,
    limit: Option<usize>,
    cancel: &AtomicBool,
) -> std::io::Result<insights::Results> {
    let total: u64 = segs.iter().map(|(_, s)| s.len).sum();
    let mut split = 0;
    let mut acc = 0;
    while split < segs.len() && acc * 2 < total {
        acc += segs[split].1.len;
        split += 1;
    }
    let (a, b) = segs.split_at(split);
    let scan = |part: &[(Arc<str>, SegmentRef)]| -> std::io::Result<insights::Run> {
        let mut run = query.new_run();
        let mut ptr = String::new();
        for (group, seg) in part {
            if !run.wants_more() || cancel.load(Ordering::Relaxed) {
                break;
            }
            // `@ptr`: the record's place (segment and offset in its stream), written into one
            // buffer so a scan allocates nothing per record.
            let prefix = format!("{}/{}/", hex::encode(seg.stream.as_bytes()), seg.seq);
            let mut n = 0u32;
            seg.read(0, |r| {
                if r.timestamp >= start && r.timestamp < end {
                    use std::fmt::Write;
                    ptr.clear();
                    ptr.push_str(&prefix);
                    let _ = write!(ptr, "{}", r.offset);
                    run.push(&insights::Record {
                        timestamp: r.timestamp,
                        ingestion_time: r.ingestion_time,
                        message: r.message,
                        log_stream: &seg.stream,
                        log_group: group,
                        ptr: &ptr,
                    });
                }
                n = n.wrapping_add(1);
                (!n.is_multiple_of(4096) || !cancel.load(Ordering::Relaxed)) && run.wants_more()
            })?;
        }
        Ok(run)
    };
    let (ra, rb) = std::thread::scope(|s| {
        let hb = s.spawn(|| scan(b));
        let ra = scan(a);
        (
            ra,
            hb.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("scanner panicked"))),
        )
    });
    let mut run = ra?;
    run.merge(rb?);
    let mut out = run.finish();
    if let Some(l) = limit {
        out.rows.truncate(l);
    }
    Ok(out)
}
