//! The series, alarms on the scheduler with a manual clock, their actions through a captured
//! broker bus and a fake HTTP port, and the counter flush.

use super::*;
use crate::rules::{HttpPort, HttpRequest};
use shoal_domain::cloudwatch::alarm::{Comparison, MetricAlarm, State};
use shoal_domain::cloudwatch::stats::Sample;
use shoal_domain::cloudwatch::{MetricId, FLEET_DIMENSION, FLEET_NAMESPACE, IOT_NAMESPACE};
use shoal_domain::{
    AccountId, ErrorKind, ManualClock, ParameterError, Partition, Region, Timestamp,
};
use shoal_store::sqlite::SqliteStore;
use shoal_store::Batch;
use tokio::sync::mpsc;

#[derive(Default)]
struct FakeHttp {
    seen: Mutex<Vec<HttpRequest>>,
}

impl HttpPort for FakeHttp {
    fn post(
        &self,
        req: HttpRequest,
        _timeout: std::time::Duration,
    ) -> shoal_store::BoxFuture<'_, std::result::Result<u16, String>> {
        self.seen.lock().unwrap().push(req);
        Box::pin(async { Ok(200) })
    }
}

struct Fixture {
    cw: Arc<CloudWatch>,
    logs: Arc<crate::DeviceLogs>,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    http: Arc<FakeHttp>,
    bus: mpsc::UnboundedReceiver<(String, String)>,
    part: Partition,
    _dir: tempfile::TempDir,
}

const HOOK: &str = "arn:aws:sns:us-east-1:123456789012:ops";

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    // A minute boundary, so windows are easy to reason about.
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let messaging = Arc::new(crate::Messaging::new(store.clone(), clock.clone()));
    let mut inbound = messaging.take_bus().unwrap();
    let (tx, bus) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(m) = inbound.recv().await {
            let body = String::from_utf8_lossy(&m.message.payload).into_owned();
            let _ = tx.send((m.message.topic.clone(), body));
            let _ = m.done.send(());
        }
    });
    let registry = Arc::new(crate::Registry::new(
        store.clone(),
        clock.clone(),
        Default::default(),
    ));
    let log_store =
        Arc::new(shoal_logstore::LogStore::open(&dir.path().join("logs"), 1 << 20).unwrap());
    let logs = crate::DeviceLogs::new(store.clone(), registry, log_store, clock.clone());
    let scheduler = crate::Scheduler::new(store.clone(), clock.clone());
    let cw = CloudWatch::new(store.clone(), clock.clone(), scheduler, logs.clone());
    let http = Arc::new(FakeHttp::default());
    cw.set_ports(Ports {
        messaging,
        http: http.clone(),
        actions: [(
            HOOK.to_string(),
            ActionTarget::Webhook("http://hook.example/x".into()),
        )]
        .into_iter()
        .collect(),
    });
    Fixture {
        cw,
        logs,
        store,
        clock,
        http,
        bus,
        part: Partition::new(
            AccountId::parse("123456789012").unwrap(),
            Region::parse("us-east-1").unwrap(),
        ),
        _dir: dir,
    }
}

fn fleet_metric(name: &str) -> MetricId {
    MetricId::new(
        FLEET_NAMESPACE,
        name,
        vec![(FLEET_DIMENSION.into(), "count".into())],
    )
    .unwrap()
}

fn alarm(name: &str, metric: MetricId, threshold: f64, actions: Vec<String>) -> MetricAlarm {
    MetricAlarm {
        name: name.into(),
        description: Some("connected devices dropped".into()),
        actions_enabled: true,
        ok_actions: vec![],
        alarm_actions: actions,
        insufficient_data_actions: vec![],
        metric,
        statistic: "Minimum".into(),
        extended: false,
        period: 60,
        unit: None,
        evaluation_periods: 1,
        datapoints_to_alarm: None,
        threshold,
        comparison: Comparison::LessThanOrEqualToThreshold,
        treat_missing_data: None,
        state: State::Ok,
        state_reason: String::new(),
        state_reason_data: None,
        state_updated: Timestamp(0),
        state_transitioned: Timestamp(0),
        configuration_updated: Timestamp(0),
        tags: vec![],
    }
}

impl Fixture {
    async fn point(&self, metric: &MetricId, v: f64) {
        let batch = series::stage(
            self.store.as_ref(),
            Batch::new(self.part.key()),
            metric,
            self.clock.now(),
            Sample::value(v),
        )
        .unwrap();
        self.store.commit(batch).await.unwrap();
    }

    async fn tick(&self, secs: i64) {
        self.clock.advance_millis(secs * 1000);
        self.cw.scheduler().run_due().await.unwrap();
    }

    fn state(&self, name: &str) -> MetricAlarm {
        self.cw.alarm(&self.part, name).unwrap().unwrap()
    }
}

#[tokio::test]
async fn series_are_read_by_time_and_kept_apart_by_dimensions() {
    let f = fixture();
    let plain = MetricId::new(IOT_NAMESPACE, "Connect.Success", vec![]).unwrap();
    let dim = MetricId::new(
        IOT_NAMESPACE,
        "Connect.Success",
        vec![("Protocol".into(), "MQTT".into())],
    )
    .unwrap();
    let t0 = f.clock.now();
    f.point(&plain, 1.0).await;
    f.point(&dim, 100.0).await;
    f.clock.advance_millis(60_000);
    f.point(&plain, 2.0).await;
    let all = series::read(
        f.store.as_ref(),
        &f.part,
        &plain,
        t0,
        t0.plus_millis(120_000),
    )
    .unwrap();
    assert_eq!(
        all.iter().map(|(_, s)| s.sum).collect::<Vec<_>>(),
        vec![1.0, 2.0]
    );
    assert_eq!(all[0].0, t0);
    let first = series::read(
        f.store.as_ref(),
        &f.part,
        &plain,
        t0,
        t0.plus_millis(60_000),
    )
    .unwrap();
    assert_eq!(first.len(), 1);
    let (listed, next) = series::list(
        f.store.as_ref(),
        &f.part,
        Some(IOT_NAMESPACE),
        None,
        &[],
        f.clock.now(),
        None,
        10,
        None,
    )
    .unwrap();
    assert_eq!(listed, vec![plain.clone(), dim.clone()]);
    assert!(next.is_none());
    let (listed, _) = series::list(
        f.store.as_ref(),
        &f.part,
        None,
        None,
        &[("Protocol".into(), None)],
        f.clock.now(),
        None,
        10,
        None,
    )
    .unwrap();
    assert_eq!(listed, vec![dim]);
    // Two weeks later the metric is not listed, and a write in a new hour drops what the
    // retention no longer keeps.
    f.clock.advance_millis(16 * 86_400_000);
    let (listed, _) = series::list(
        f.store.as_ref(),
        &f.part,
        None,
        None,
        &[],
        f.clock.now(),
        None,
        10,
        None,
    )
    .unwrap();
    assert!(listed.is_empty());
    f.point(&plain, 3.0).await;
    let left = series::read(
        f.store.as_ref(),
        &f.part,
        &plain,
        t0,
        f.clock.now().plus_millis(1),
    )
    .unwrap();
    assert_eq!(
        left.iter().map(|(_, s)| s.sum).collect::<Vec<_>>(),
        vec![3.0]
    );
}

#[tokio::test]
async fn an_alarm_moves_with_its_data_and_notifies_its_topic() {
    let mut f = fixture();
    let metric = fleet_metric("connected");
    let arn = "arn:aws:iot:us-east-1:123456789012:topic/alerts/fleet".to_string();
    f.cw.put_alarm(
        &f.part,
        AlarmInput {
            alarm: alarm("drop", metric.clone(), 2.0, vec![arn.clone()]),
        },
    )
    .await
    .unwrap();
    let a = f.state("drop");
    assert_eq!(a.state, State::InsufficientData);
    assert_eq!(a.state_reason, "Unchecked: Initial alarm creation");
    // Not evaluated before its first minute.
    f.tick(30).await;
    assert_eq!(f.state("drop").state, State::InsufficientData);
    f.point(&metric, 4.0).await;
    f.tick(30).await;
    let a = f.state("drop");
    assert_eq!(a.state, State::Ok, "{}", a.state_reason);
    assert!(a.state_reason.contains("[4.0 ("), "{}", a.state_reason);
    assert!(f.bus.try_recv().is_err(), "OK has no action");
    f.tick(30).await;
    f.point(&metric, 2.0).await;
    f.tick(30).await;
    let a = f.state("drop");
    assert_eq!(a.state, State::Alarm, "{}", a.state_reason);
    let (topic, body) = f.bus.recv().await.unwrap();
    assert_eq!(topic, "alerts/fleet");
    let n: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(n["NewStateValue"], "ALARM");
    assert_eq!(n["OldStateValue"], "OK");
    assert_eq!(
        n["AlarmArn"],
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:drop"
    );
    assert_eq!(n["Trigger"]["Statistic"], "MINIMUM");
    assert_eq!(n["Trigger"]["Dimensions"][0]["name"], "AggregationType");
    let (items, _) =
        f.cw.history(
            &f.part,
            &HistoryQuery {
                name: Some("drop".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .unwrap();
    let summaries: Vec<&str> = items.iter().map(|h| h.summary.as_str()).collect();
    assert_eq!(
        summaries,
        vec![
            "Successfully executed action arn:aws:iot:us-east-1:123456789012:topic/alerts/fleet",
            "Alarm updated from OK to ALARM",
            "Alarm updated from INSUFFICIENT_DATA to OK",
            "Alarm \"drop\" created",
        ]
    );
    // Oldest first, paged.
    let q = HistoryQuery {
        name: Some("drop".into()),
        ascending: true,
        ..Default::default()
    };
    let (first, next) = f.cw.history(&f.part, &q, None, 3).unwrap();
    assert_eq!(first[0].summary, "Alarm \"drop\" created");
    let (rest, none) = f.cw.history(&f.part, &q, next.as_deref(), 3).unwrap();
    assert_eq!(rest.len(), 1);
    assert!(none.is_none());
    // Deleted: its timer goes, its history stays.
    f.cw.delete_alarms(&f.part, &["drop".into()]).await.unwrap();
    assert!(f.cw.alarm(&f.part, "drop").unwrap().is_none());
    assert!(f
        .cw
        .scheduler()
        .find(&f.part, &alarms::timer("drop"))
        .unwrap()
        .is_none());
    let (items, _) =
        f.cw.history(&f.part, &HistoryQuery::default(), None, 10)
            .unwrap();
    assert_eq!(items[0].summary, "Alarm \"drop\" deleted");
}

#[tokio::test]
async fn set_state_runs_actions_and_checks_its_input() {
    let f = fixture();
    f.cw.put_alarm(
        &f.part,
        AlarmInput {
            alarm: alarm("hook", fleet_metric("m"), 1.0, vec![HOOK.into()]),
        },
    )
    .await
    .unwrap();
    f.cw.set_alarm_state(&f.part, "hook", State::Alarm, "testing", Some("{\"a\":1}"))
        .await
        .unwrap();
    let a = f.state("hook");
    assert_eq!(
        (a.state, a.state_reason.as_str()),
        (State::Alarm, "testing")
    );
    let seen = f.http.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].url, "http://hook.example/x");
    let n: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(n["NewStateReason"], "testing");
    let e =
        f.cw.set_alarm_state(&f.part, "hook", State::Ok, "x", Some("{not json"))
            .await
            .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parameter(ParameterError::Format));
    let e =
        f.cw.set_alarm_state(&f.part, "nope", State::Ok, "x", None)
            .await
            .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    // An action Shoal cannot run is refused, and so is one of another account's topics.
    for bad in [
        "arn:aws:sns:us-east-1:123456789012:other",
        "arn:aws:iot:us-east-1:999999999999:topic/x",
    ] {
        let e =
            f.cw.put_alarm(
                &f.part,
                AlarmInput {
                    alarm: alarm("bad", fleet_metric("m"), 1.0, vec![bad.into()]),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{bad}");
    }
    // A configured ARN serves the account it names: another account cannot aim at it.
    let other = Partition::new(
        AccountId::parse("999999999999").unwrap(),
        Region::parse("us-east-1").unwrap(),
    );
    let e =
        f.cw.put_alarm(
            &other,
            AlarmInput {
                alarm: alarm("theirs", fleet_metric("m"), 1.0, vec![HOOK.into()]),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    // Setting the state it has runs no action.
    let before = f.http.seen.lock().unwrap().len();
    f.cw.set_alarm_state(&f.part, "hook", State::Alarm, "again", None)
        .await
        .unwrap();
    assert_eq!(f.http.seen.lock().unwrap().len(), before);
    // Every name must exist for DeleteAlarms to delete any.
    let e =
        f.cw.delete_alarms(&f.part, &["hook".into(), "nope".into()])
            .await
            .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(f.cw.alarm(&f.part, "hook").unwrap().is_some());
}

#[tokio::test]
async fn describe_filters_and_pages() {
    let f = fixture();
    for n in ["a1", "a2", "a3", "b1", "b2"] {
        f.cw.put_alarm(
            &f.part,
            AlarmInput {
                alarm: alarm(n, fleet_metric("m"), 1.0, vec![]),
            },
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let (page, next) =
            f.cw.describe_alarms(&f.part, &AlarmFilter::default(), token.as_deref(), 2)
                .unwrap();
        seen.extend(page.into_iter().map(|a| a.name));
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, vec!["a1", "a2", "a3", "b1", "b2"]);
    let filter = AlarmFilter {
        prefix: Some("b".into()),
        ..Default::default()
    };
    let (page, _) = f.cw.describe_alarms(&f.part, &filter, None, 10).unwrap();
    assert_eq!(page.len(), 2);
    let filter = AlarmFilter {
        state: Some(State::Alarm),
        ..Default::default()
    };
    assert!(f
        .cw
        .describe_alarms(&f.part, &filter, None, 10)
        .unwrap()
        .0
        .is_empty());
    let e =
        f.cw.describe_alarms(&f.part, &AlarmFilter::default(), Some("zz"), 10)
            .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parameter(ParameterError::NextToken));
    // A replaced alarm keeps its state and says so in its history.
    let mut changed = alarm("a1", fleet_metric("m"), 9.0, vec![]);
    changed.state = State::Alarm;
    f.cw.put_alarm(&f.part, AlarmInput { alarm: changed })
        .await
        .unwrap();
    let a = f.state("a1");
    assert_eq!((a.threshold, a.state), (9.0, State::InsufficientData));
    let (items, _) =
        f.cw.history(
            &f.part,
            &HistoryQuery {
                name: Some("a1".into()),
                ..Default::default()
            },
            None,
            1,
        )
        .unwrap();
    assert_eq!(items[0].summary, "Alarm \"a1\" updated");
}

#[tokio::test]
async fn counters_are_flushed_as_their_increase() {
    let f = fixture();
    let c = f.logs.counters(&f.part);
    c.add(crate::logging::Op::ConnectSuccess);
    c.add(crate::logging::Op::ConnectSuccess);
    assert_eq!(f.cw.flush_counters().await.unwrap(), 1);
    assert_eq!(f.cw.flush_counters().await.unwrap(), 0, "nothing new");
    f.clock.advance_millis(60_000);
    c.add(crate::logging::Op::ConnectSuccess);
    assert_eq!(f.cw.flush_counters().await.unwrap(), 1);
    let m = MetricId::new(IOT_NAMESPACE, "Connect.Success", vec![]).unwrap();
    let pts = series::read(
        f.store.as_ref(),
        &f.part,
        &m,
        Timestamp(0),
        f.clock.now().plus_millis(1),
    )
    .unwrap();
    assert_eq!(
        pts.iter().map(|(_, s)| s.sum).collect::<Vec<_>>(),
        vec![2.0, 1.0]
    );
}

#[tokio::test]
async fn history_is_kept_thirty_days() {
    let f = fixture();
    f.cw.put_alarm(
        &f.part,
        AlarmInput {
            alarm: alarm("old", fleet_metric("m"), 1.0, vec![]),
        },
    )
    .await
    .unwrap();
    f.clock.advance_millis(29 * 86_400_000);
    f.cw.put_alarm(
        &f.part,
        AlarmInput {
            alarm: alarm("old", fleet_metric("m"), 2.0, vec![]),
        },
    )
    .await
    .unwrap();
    let all = |f: &Fixture| {
        f.cw.history(&f.part, &HistoryQuery::default(), None, 100)
            .unwrap()
            .0
            .into_iter()
            .map(|h| h.summary)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        all(&f),
        vec!["Alarm \"old\" updated", "Alarm \"old\" created"]
    );
    f.clock.advance_millis(2 * 86_400_000);
    f.cw.set_alarm_state(&f.part, "old", State::Ok, "now", None)
        .await
        .unwrap();
    assert_eq!(
        all(&f),
        vec![
            "Alarm updated from INSUFFICIENT_DATA to OK",
            "Alarm \"old\" updated"
        ]
    );
}
