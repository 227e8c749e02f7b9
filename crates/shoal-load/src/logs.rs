//! `shoal-load logs-fill`: writes N device log records (AWSIotLogsV2-shaped JSON, a share of
//! them ERROR failures) straight into a stopped server's log store, so the Logs Insights
//! benchmark can query ten million records without first driving ten million device events.
//! The records go through the same `shoal-logstore` appends the server's writer uses.

use clap::Args;
use shoal_logstore::{Entry, LogStore};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Args)]
pub struct LogsArgs {
    /// The server's data folder (the records go to DATA/logs).
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value_t = 10_000_000)]
    records: u64,
    /// The account the records belong to (the server's default account).
    #[arg(long)]
    account: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Per-mille of records that are ERROR failures (the seed's query matched 1,009 of 80,821).
    #[arg(long, default_value_t = 12)]
    errors_per_mille: u64,
    /// The span of time the records cover, ending now.
    #[arg(long, default_value_t = 3600)]
    span_seconds: u64,
}

const BATCH: u64 = 8192;
/// The server's segment size (shoal/src/server.rs).
const SEGMENT_BYTES: u64 = 64 << 20;

fn record(i: u64, ts_text: &str, account: &str, error: bool) -> String {
    let client = format!("device-{:05}", i % 20_000);
    let principal = format!("{:064x}", (i % 20_000).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let trace = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        i as u32,
        (i >> 32) as u16,
        0x4000 | (i as u16 & 0x0fff),
        0x8000 | (i as u16 & 0x3fff),
        i.wrapping_mul(0x2545_f491_4f6c_dd1d) & 0xffff_ffff_ffff
    );
    if error {
        format!(
            "{{\"timestamp\":\"{ts_text}\",\"logLevel\":\"ERROR\",\"traceId\":\"{trace}\",\"accountId\":\"{account}\",\"status\":\"Failure\",\"eventType\":\"Publish-In\",\"protocol\":\"MQTT\",\"topicName\":\"factory/line-{}/{client}/telemetry\",\"clientId\":\"{client}\",\"principalId\":\"{principal}\",\"sourceIp\":\"10.0.{}.{}\",\"sourcePort\":{},\"reason\":\"AUTHORIZATION_FAILURE\",\"details\":\"Authorization Failure\"}}",
            i % 16,
            (i / 250) % 250,
            i % 250,
            30_000 + i % 30_000
        )
    } else {
        format!(
            "{{\"timestamp\":\"{ts_text}\",\"logLevel\":\"INFO\",\"traceId\":\"{trace}\",\"accountId\":\"{account}\",\"status\":\"Success\",\"eventType\":\"Publish-In\",\"protocol\":\"MQTT\",\"topicName\":\"factory/line-{}/{client}/telemetry\",\"clientId\":\"{client}\",\"principalId\":\"{principal}\",\"sourceIp\":\"10.0.{}.{}\",\"sourcePort\":{}}}",
            i % 16,
            (i / 250) % 250,
            i % 250,
            30_000 + i % 30_000
        )
    }
}

fn log_time(ms: i64) -> String {
    shoal_domain::Timestamp(ms).log_format()
}

pub async fn run(a: LogsArgs) -> Result<(), String> {
    let store = LogStore::open(&a.data.join("logs"), SEGMENT_BYTES).map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as i64;
    let span = (a.span_seconds * 1000) as i64;
    let start = now - span;
    let scope = format!("{}/{}", a.account, a.region);
    let stream = format!("00000000-0000-4000-8000-00000000f111_{}_0", a.account);
    let began = Instant::now();
    let mut bytes = 0u64;
    let mut i = 0u64;
    while i < a.records {
        let n = BATCH.min(a.records - i);
        let mut messages = Vec::with_capacity(n as usize);
        for k in i..i + n {
            let ts = start + (k as i128 * span as i128 / a.records.max(1) as i128) as i64;
            let error = a.errors_per_mille > 0 && k % (1000 / a.errors_per_mille.max(1)) == 0;
            let m = record(k, &log_time(ts), &a.account, error);
            bytes += m.len() as u64;
            messages.push((ts, m));
        }
        let entries: Vec<Entry<'_>> = messages
            .iter()
            .map(|(ts, m)| Entry {
                scope: &scope,
                group: "AWSIotLogsV2",
                stream: &stream,
                timestamp: *ts,
                message: m,
            })
            .collect();
        store
            .append(&entries, messages.last().map_or(now, |m| m.0 + 10))
            .map_err(|e| e.to_string())?;
        i += n;
    }
    let secs = began.elapsed().as_secs_f64();
    println!(
        "logs-fill: {} records, {:.1} MB of messages in {secs:.1} s ({:.0} records/s through the log store's appends)",
        a.records,
        bytes as f64 / 1e6,
        a.records as f64 / secs
    );
    Ok(())
}
