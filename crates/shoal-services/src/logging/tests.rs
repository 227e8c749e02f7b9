//! Device logs on a clock the tests move by days (the API tests cannot: SigV4 allows 15
//! minutes of skew): retention, and a gate that follows setting changes.

use super::*;
use shoal_domain::logging::{
    EventType, LogLevel, LogRecord, LogTarget, TargetType, Transport, V2Options,
};
use shoal_domain::{AccountId, ManualClock, Region, Timestamp};
use shoal_store::sqlite::SqliteStore;

const DAY: i64 = 86_400_000;

struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    logs: Arc<DeviceLogs>,
    part: Partition,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let registry = Arc::new(crate::Registry::new(
        store.clone(),
        clock.clone(),
        Default::default(),
    ));
    let log_store = Arc::new(LogStore::open(&dir.path().join("logs"), 1 << 20).unwrap());
    let logs = DeviceLogs::new(store, registry, log_store, clock.clone());
    let part = Partition::new(
        AccountId::parse("123456789012").unwrap(),
        Region::parse("us-east-1").unwrap(),
    );
    Fixture {
        _dir: dir,
        clock,
        logs,
        part,
    }
}

fn origin(client: &str) -> Origin {
    Origin {
        account_id: "123456789012".into(),
        client_id: Some(client.into()),
        principal_id: Some("cert".into()),
        source_ip: Some("10.0.0.1".into()),
        source_port: Some(1234),
    }
}

fn record(f: &Fixture, event: EventType) -> LogRecord<'static> {
    LogRecord {
        timestamp: f.clock.now(),
        level: LogLevel::Info,
        trace_id: 7,
        event,
        transport: Some(Transport::Mqtt),
        failure: None,
        topic: None,
        extra: Vec::new(),
    }
}

async fn messages(f: &Fixture) -> Vec<String> {
    let page = f
        .logs
        .filter_events(
            &f.part,
            FilterRequest {
                group: V2_GROUP.into(),
                ..FilterRequest::default()
            },
        )
        .await;
    match page {
        Ok(p) => p.events.into_iter().map(|e| e.message).collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn a_gate_follows_the_settings_and_retention_hides_then_drops_old_records() {
    let f = fixture();
    let mut gate = f.logs.gate(&f.part, origin("dev-1"));
    // No options: nothing is logged.
    assert!(!gate.wants(&f.logs, EventType::Connect, LogLevel::Error));
    let options = V2Options {
        default_level: Some(LogLevel::Error),
        ..V2Options::default()
    };
    f.logs.levels.set_options(&f.part, options).await.unwrap();
    assert!(gate.wants(&f.logs, EventType::Connect, LogLevel::Error));
    assert!(!gate.wants(&f.logs, EventType::Connect, LogLevel::Info));
    let target = LogTarget::new(TargetType::ClientId, Some("dev-1".into())).unwrap();
    f.logs
        .levels
        .set_level(&f.part, target, LogLevel::Debug)
        .await
        .unwrap();
    assert!(gate.wants(&f.logs, EventType::Connect, LogLevel::Info));

    // A record three days old, one from today.
    f.logs.emit(&gate, &record(&f, EventType::Connect));
    f.clock.advance_millis(3 * DAY);
    f.logs.emit(&gate, &record(&f, EventType::Disconnect));
    assert_eq!(messages(&f).await.len(), 2);
    f.logs.put_retention(&f.part, V2_GROUP, 1).await.unwrap();
    let left = messages(&f).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("\"eventType\":\"Disconnect\""), "{left:?}");
    // The sweep deletes the old day's segment file.
    let before = f.logs.describe_streams(&f.part, V2_GROUP).await.unwrap()[0].records;
    groups::sweep(&f.logs.logs, f.logs.store.as_ref(), f.clock.now().millis());
    let after = f.logs.describe_streams(&f.part, V2_GROUP).await.unwrap()[0].records;
    assert_eq!((before, after), (2, 1));
    // Without retention, what is left stays.
    f.logs.delete_retention(&f.part, V2_GROUP).await.unwrap();
    assert_eq!(messages(&f).await.len(), 1);
    // Another account sees nothing of it.
    let other = Partition::new(
        AccountId::parse("210987654321").unwrap(),
        f.part.region.clone(),
    );
    assert!(f.logs.describe_groups(&other, "").await.is_empty());
    assert!(f.logs.describe_streams(&other, V2_GROUP).await.is_err());
}

#[tokio::test]
async fn the_counters_of_a_partition_are_its_own() {
    let f = fixture();
    let gate = f.logs.gate(&f.part, origin("dev-2"));
    gate.counters.add(Op::ConnectSuccess);
    let mut text = String::new();
    f.logs.prometheus(Some(&f.part), &mut text);
    assert!(text.contains(
        "iot_operations_total{account=\"123456789012\",region=\"us-east-1\",metric_name=\"Connect.Success\"} 1"
    ), "{text}");
    let other = Partition::new(
        AccountId::parse("210987654321").unwrap(),
        f.part.region.clone(),
    );
    let mut text = String::new();
    f.logs.prometheus(Some(&other), &mut text);
    assert!(!text.contains("123456789012"), "{text}");
}
