//! Metric time series in the store: one record per datapoint (kind `metric-datum`, keyed by
//! the metric's key and the time, so a metric's range is one key range) and one per metric
//! (kind `metric`, with the time of its newest datapoint, what ListMetrics lists). Writers
//! stage datapoints into the batch of the change they come from (a fleet metric's evaluation,
//! a counter flush); retention is paid by writers too: a write that opens a new hour of a
//! metric drops that metric's datapoints older than the retention in the same batch.

use crate::records::{decode, encode, store_error, SCHEMA};
use shoal_domain::cloudwatch::stats::Sample;
use shoal_domain::cloudwatch::{MetricId, LISTED_MS, RETENTION_MS};
use shoal_domain::error::Result;
use shoal_domain::{Partition, Timestamp};
use shoal_store::{Batch, Expect, Store};
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) const KIND_METRIC: &str = "metric";
pub(crate) const KIND_DATUM: &str = "metric-datum";
/// Old datapoints one write may drop (retention catches up over later writes).
const PRUNE: usize = 256;
/// Datapoints one read takes at most (1,440 periods of the finest data a day holds).
pub const MAX_READ: usize = 100_800;

#[derive(serde::Serialize, serde::Deserialize)]
struct MetricDoc {
    metric: MetricId,
    last: Timestamp,
}

/// A datapoint's key: the metric's key, the time (15 digits, so keys sort by time) and a
/// sequence that keeps two writers of the same millisecond apart.
fn datum_key(metric_key: &str, at: Timestamp) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let nonce = (u64::from(node_nonce()) << 32) ^ seq;
    format!(
        "{}{:015}.{nonce:016x}",
        datum_prefix(metric_key),
        at.0.max(0)
    )
}

/// A number drawn once per process, so two nodes writing in the same millisecond (each with
/// its own counter) never make the same key (a container's process id is often 1 on each).
pub(super) fn node_nonce() -> u32 {
    static NONCE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *NONCE.get_or_init(rand::random)
}

/// The datapoints' prefix of a metric: its key and a mark no name holds, so a metric without
/// a dimension does not take in the datapoints of the same name with dimensions.
fn datum_prefix(metric_key: &str) -> String {
    format!("{metric_key}\u{2}")
}

fn time_key(metric_key: &str, at: Timestamp) -> String {
    format!("{}{:015}", datum_prefix(metric_key), at.0.max(0))
}

/// Adds a datapoint of `metric` at `at` to `batch` (of the metric's partition).
pub fn stage(
    store: &dyn Store,
    batch: Batch,
    metric: &MetricId,
    at: Timestamp,
    sample: Sample,
) -> Result<Batch> {
    let key = metric.key();
    let part = batch.partition.clone();
    let mut batch = batch
        .put(
            KIND_DATUM,
            &datum_key(&key, at),
            SCHEMA,
            encode(&sample)?,
            Vec::new(),
            Expect::Any,
        )
        .put(
            KIND_METRIC,
            &key,
            SCHEMA,
            encode(&MetricDoc {
                metric: metric.clone(),
                last: at,
            })?,
            Vec::new(),
            Expect::Any,
        );
    // Once an hour of the metric's time (its first write in that hour, judged by the newest
    // datapoint stored), drop what the retention no longer keeps.
    let hour = |t: Timestamp| t.0.div_euclid(3_600_000);
    let newest = store
        .get(&part, KIND_METRIC, &key)
        .map_err(store_error)?
        .and_then(|r| decode::<MetricDoc>(&r).ok())
        .map(|d| d.last);
    if newest.is_some_and(|n| hour(n) != hour(at)) {
        let cutoff = time_key(&key, at.plus_millis(-RETENTION_MS));
        let old = store
            .list(&part, KIND_DATUM, &datum_prefix(&key), None, PRUNE)
            .map_err(store_error)?;
        for r in old.iter().take_while(|r| r.key < cutoff) {
            batch = batch.delete(KIND_DATUM, &r.key, Expect::Any);
        }
    }
    Ok(batch)
}

/// The datapoints of `metric` in `[from, to)`, oldest first, each with its time.
pub fn read(
    store: &dyn Store,
    part: &Partition,
    metric: &MetricId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(Timestamp, Sample)>> {
    let key = datum_prefix(&metric.key());
    let end = format!("{key}{:015}", to.0.max(0));
    // `after` is exclusive: start just before the first key of `from`.
    let mut after = format!("{key}{:015}", from.0.max(1) - 1);
    after.push('~');
    let mut out = Vec::new();
    'pages: loop {
        let page = store
            .list(&part.key(), KIND_DATUM, &key, Some(&after), 1024)
            .map_err(store_error)?;
        let full = page.len() == 1024;
        for r in &page {
            if r.key >= end || out.len() >= MAX_READ {
                break 'pages;
            }
            let t = r.key[key.len()..]
                .split('.')
                .next()
                .and_then(|d| d.parse::<i64>().ok())
                .map(Timestamp)
                .unwrap_or_default();
            out.push((t, decode::<Sample>(r)?));
        }
        match page.last() {
            Some(last) if full => after = last.key.clone(),
            _ => break,
        }
    }
    Ok(out)
}

/// The metrics of a namespace (and name) with data in the `recent` milliseconds before `now`
/// (two weeks when `None`), in key order after `after` (a metric key), at most `limit`, and
/// the key to go on from; dimensions filtered by `filter`.
#[allow(clippy::too_many_arguments)]
pub fn list(
    store: &dyn Store,
    part: &Partition,
    namespace: Option<&str>,
    name: Option<&str>,
    filter: &[(String, Option<String>)],
    now: Timestamp,
    after: Option<&str>,
    limit: usize,
    recent: Option<i64>,
) -> Result<(Vec<MetricId>, Option<String>)> {
    let since = now.0 - recent.unwrap_or(LISTED_MS);
    let prefix = MetricId::prefix(namespace, name);
    let mut out = Vec::new();
    let mut cursor = after.map(str::to_string);
    loop {
        let page = store
            .list(&part.key(), KIND_METRIC, &prefix, cursor.as_deref(), 512)
            .map_err(store_error)?;
        for r in &page {
            let d: MetricDoc = decode(r)?;
            if d.last.0 < since || !d.metric.matches(filter) {
                continue;
            }
            if out.len() == limit {
                return Ok((out, cursor));
            }
            out.push(d.metric);
            cursor = Some(r.key.clone());
        }
        if page.len() < 512 {
            return Ok((out, None));
        }
        cursor = page.last().map(|r| r.key.clone());
    }
}
