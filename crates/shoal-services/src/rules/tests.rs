//! The engine with its ports: messages evaluated against compiled rules, the actions' work
//! carried out through a fake HTTP port and a captured broker bus, AWS's retries and the
//! error action, destinations gating HTTP, and republish loops stopped.

use super::*;
use crate::rules::actions::HttpRequest;
use shoal_domain::rules::TopicRulePayload;
use shoal_domain::{AccountId, ManualClock, Region, Timestamp};
use shoal_store::sqlite::SqliteStore;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Answers each POST with the next status of its script (then 200), recording every request.
#[derive(Default)]
struct FakeHttp {
    script: Mutex<Vec<u16>>,
    seen: Mutex<Vec<HttpRequest>>,
}

impl HttpPort for FakeHttp {
    fn post(
        &self,
        req: HttpRequest,
        _timeout: std::time::Duration,
    ) -> shoal_store::BoxFuture<'_, std::result::Result<u16, String>> {
        self.seen.lock().unwrap().push(req);
        let status = {
            let mut s = self.script.lock().unwrap();
            if s.is_empty() {
                200
            } else {
                s.remove(0)
            }
        };
        Box::pin(async move { Ok(status) })
    }
}

struct Fixture {
    rules: Arc<Rules>,
    _reserved: Arc<crate::ReservedTopics>,
    http: Arc<FakeHttp>,
    /// What the actions handed the broker: (topic, payload, hops).
    bus: mpsc::UnboundedReceiver<(String, String, u8)>,
    part: Partition,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let messaging = Arc::new(crate::Messaging::new(store.clone(), clock.clone()));
    let mut inbound = messaging.take_bus().unwrap();
    let (tx, bus) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(m) = inbound.recv().await {
            let body = String::from_utf8_lossy(&m.message.payload).into_owned();
            let _ = tx.send((m.message.topic.clone(), body, m.hops));
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
    let blobs = crate::objects::Blobs::local(&dir.path().join("blobs")).unwrap();
    let objects = Arc::new(crate::Objects::new(store.clone(), clock.clone(), blobs));
    let shadows = Arc::new(crate::Shadows::new(store.clone(), clock.clone()));
    let reserved = Arc::new(crate::ReservedTopics::new(
        messaging.clone(),
        clock.clone(),
        vec![shadows.clone()],
    ));
    let http = Arc::new(FakeHttp::default());
    let rules = Rules::new(store, clock);
    rules.set_ports(Ports {
        messaging,
        objects,
        logs,
        shadows,
        reserved: Arc::downgrade(&reserved),
        http: http.clone(),
        api_base: "http://127.0.0.1:1".into(),
    });
    Fixture {
        rules,
        _reserved: reserved,
        http,
        bus,
        part: Partition::new(
            AccountId::parse("123456789012").unwrap(),
            Region::parse("us-east-1").unwrap(),
        ),
        _dir: dir,
    }
}

fn rule(
    sql: &str,
    actions: serde_json::Value,
    error: Option<serde_json::Value>,
) -> TopicRulePayload {
    let mut v =
        serde_json::json!({ "sql": sql, "actions": actions, "awsIotSqlVersion": "2016-03-23" });
    if let Some(e) = error {
        v["errorAction"] = e;
    }
    serde_json::from_value(v).unwrap()
}

fn republish(topic: &str) -> serde_json::Value {
    serde_json::json!({ "republish": { "topic": topic, "roleArn": "arn:aws:iam::1:role/r" } })
}

fn message<'a>(topic: &'a str, payload: &'a str) -> Message<'a> {
    Message {
        topic,
        payload: payload.as_bytes(),
        client_id: Some("dev-1"),
        principal: None,
        timestamp_ms: 1_800_000_000_000,
        hops: 0,
    }
}

async fn next(bus: &mut mpsc::UnboundedReceiver<(String, String, u8)>) -> (String, String, u8) {
    tokio::time::timeout(std::time::Duration::from_secs(10), bus.recv())
        .await
        .expect("an action reached the broker")
        .unwrap()
}

#[tokio::test]
async fn where_selects_and_republish_renders_its_topic() {
    let mut f = fixture();
    let sql = "SELECT temp, clientid() AS c FROM 'sensors/+/data' WHERE temp > 30";
    f.rules
        .create(
            &f.part,
            "hot",
            rule(
                sql,
                serde_json::json!([republish("alerts/${topic(2)}")]),
                None,
            ),
        )
        .await
        .unwrap();
    let p = f.rules.partition(&f.part);
    p.evaluate(&message("sensors/a/data", r#"{"temp": 10}"#));
    p.evaluate(&message("other/a/data", r#"{"temp": 99}"#));
    p.evaluate(&message("sensors/b/data", r#"{"temp": 31}"#));
    let (topic, body, hops) = next(&mut f.bus).await;
    assert_eq!(topic, "alerts/b");
    assert_eq!(body, r#"{"c":"dev-1","temp":31}"#);
    assert_eq!(hops, 1);
}

#[tokio::test]
async fn a_republish_loop_stops_after_max_hops() {
    let mut f = fixture();
    f.rules
        .create(
            &f.part,
            "loop",
            rule(
                "SELECT * FROM 'loop/#'",
                serde_json::json!([republish("loop/again")]),
                None,
            ),
        )
        .await
        .unwrap();
    let p = f.rules.partition(&f.part);
    // Feed each republished message back, as the broker would, until the last hop.
    let mut m = ("loop/start".to_string(), "{}".to_string(), 0u8);
    let mut hops = Vec::new();
    while m.2 < engine::MAX_HOPS {
        let mut msg = message(&m.0, &m.1);
        msg.hops = m.2;
        p.evaluate(&msg);
        m = next(&mut f.bus).await;
        hops.push(m.2);
    }
    assert_eq!(hops, (1..=engine::MAX_HOPS).collect::<Vec<_>>());
    // The message MAX_HOPS deep is evaluated; its republish fails instead of going out.
    let mut msg = message(&m.0, &m.1);
    msg.hops = m.2;
    p.evaluate(&msg);
    let c = p.counters_of("loop", 0);
    while c.failed.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        tokio::task::yield_now().await;
    }
    assert!(f.bus.try_recv().is_err());
}

#[tokio::test]
async fn http_waits_for_a_confirmed_destination_retries_5xx_and_reports_failures() {
    let mut f = fixture();
    let http = serde_json::json!([{ "http": {
        "url": "https://hooks.example.com/in/${topic(2)}",
        "confirmationUrl": "https://hooks.example.com/in",
        "headers": [{ "key": "x-device", "value": "${clientid()}" }],
    }}]);
    f.rules
        .create(
            &f.part,
            "hook",
            rule("SELECT * FROM 'h/+'", http, Some(republish("errors/hook"))),
        )
        .await
        .unwrap();
    // The rule made the destination and sent its confirmation.
    let dests = f.rules.destinations(&f.part).unwrap();
    assert_eq!(dests.len(), 1);
    let d = &dests[0];
    assert_eq!(d.status.as_str(), "IN_PROGRESS");
    let confirmation = loop {
        if let Some(r) = f.http.seen.lock().unwrap().pop() {
            break r;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(
        confirmation.url,
        format!("https://hooks.example.com/in?confirmationToken={}", d.token)
    );
    let body: serde_json::Value = serde_json::from_slice(&confirmation.body).unwrap();
    assert_eq!(body["messageType"], "DestinationConfirmation");
    assert_eq!(
        body["enableUrl"],
        format!("http://127.0.0.1:1/confirmdestination/{}", d.token)
    );

    // Not confirmed yet: the action fails and the error action says why.
    let p = f.rules.partition(&f.part);
    p.evaluate(&message("h/one", r#"{"v":1}"#));
    let (topic, body, _) = next(&mut f.bus).await;
    assert_eq!(topic, "errors/hook");
    let e: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["ruleName"], "hook");
    assert_eq!(e["topic"], "h/one");
    assert_eq!(e["clientId"], "dev-1");
    assert_eq!(e["base64OriginalPayload"], "eyJ2IjoxfQ==");
    assert_eq!(e["failures"][0]["failedAction"], "HttpAction");
    assert!(e["failures"][0]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("IN_PROGRESS"));

    // Confirmed: two 503s are retried, the third try lands.
    f.rules.confirm_destination(None, &d.token).await.unwrap();
    *f.http.script.lock().unwrap() = vec![503, 503];
    f.http.seen.lock().unwrap().clear();
    let p = f.rules.partition(&f.part);
    p.evaluate(&message("h/two", r#"{"v":2}"#));
    let c = p.counters_of("hook", 0);
    while c.succeeded.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        tokio::task::yield_now().await;
    }
    let seen = f.http.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].url, "https://hooks.example.com/in/two");
    assert!(seen[2]
        .headers
        .contains(&("x-device".into(), "dev-1".into())));
    assert!(seen[2]
        .headers
        .contains(&("content-type".into(), "application/json".into())));
    drop(seen);

    // A 400 is not retried: it fails at once.
    *f.http.script.lock().unwrap() = vec![400];
    p.evaluate(&message("h/three", "not json"));
    let (_, body, _) = next(&mut f.bus).await;
    assert!(body.contains("answered 400"), "{body}");
}

#[tokio::test]
async fn basic_ingest_runs_the_named_rule_with_the_rest_of_the_topic() {
    let mut f = fixture();
    f.rules
        .create(
            &f.part,
            "ingest",
            rule(
                "SELECT topic() AS t FROM 'x'",
                serde_json::json!([republish("out")]),
                None,
            ),
        )
        .await
        .unwrap();
    let p = f.rules.partition(&f.part);
    // Evaluated as ordinary messages, Basic Ingest topics never run a rule.
    p.evaluate(&message("$aws/rules/ingest/a/b", "{}"));
    assert!(!p.ingest("nope", &message("a/b", "{}")));
    assert!(p.ingest("ingest", &message("a/b", "{}")));
    let (topic, body, _) = next(&mut f.bus).await;
    assert_eq!((topic.as_str(), body.as_str()), ("out", r#"{"t":"a/b"}"#));
}

#[test]
fn a_partitions_budget_bounds_what_its_actions_hold() {
    let b = Arc::new(budget::Budget::default());
    let most = b.reserve(budget::BYTES_PER_PARTITION - 10).unwrap();
    assert!(b.reserve(11).is_none());
    let rest = b.reserve(10).unwrap();
    drop(most);
    assert!(b.reserve(budget::BYTES_PER_PARTITION - 10).is_some());
    drop(rest);
}
