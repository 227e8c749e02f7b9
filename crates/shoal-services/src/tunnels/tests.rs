use super::*;
use shoal_domain::{AccountId, ManualClock, Region, Timestamp};
use shoal_store::sqlite::SqliteStore;
use std::sync::Mutex;

type Published = Arc<Mutex<Vec<(String, String)>>>;

struct Node {
    tunnels: Arc<Tunnels>,
    scheduler: Arc<Scheduler>,
    clock: Arc<ManualClock>,
    published: Published,
    part: Partition,
    _dir: tempfile::TempDir,
}

async fn node(max_open: usize) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let scheduler = Scheduler::new(store.clone(), clock.clone());
    let messaging = Arc::new(Messaging::new(store.clone(), clock.clone()));
    let mut bus = messaging.take_bus().unwrap();
    let published: Published = Arc::default();
    let seen = published.clone();
    tokio::spawn(async move {
        while let Some(m) = bus.recv().await {
            let body = String::from_utf8(m.message.payload.clone()).unwrap();
            seen.lock().unwrap().push((m.message.topic.clone(), body));
            let _ = m.done.send(());
        }
    });
    let tunnels = Tunnels::new(store, clock.clone(), scheduler.clone(), messaging, max_open);
    let part = Partition::new(
        AccountId::parse("123456789012").unwrap(),
        Region::parse("us-east-1").unwrap(),
    );
    Node {
        tunnels,
        scheduler,
        clock,
        published,
        part,
        _dir: dir,
    }
}

fn ssh_to(thing: &str) -> OpenRequest {
    OpenRequest {
        destination: Some(DestinationConfig {
            thing_name: Some(thing.into()),
            services: vec!["SSH".into()],
        }),
        lifetime_minutes: Some(30),
        ..Default::default()
    }
}

#[tokio::test]
async fn opening_notifies_the_thing_and_the_lifetime_closes_then_removes() {
    let n = node(10).await;
    let t = n.tunnels.open(&n.part, ssh_to("dev-1")).await.unwrap();
    let published = n.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].0, "$aws/things/dev-1/tunnels/notify");
    let doc: serde_json::Value = serde_json::from_str(&published[0].1).unwrap();
    assert_eq!(
        doc["clientAccessToken"],
        t.destination.clone().unwrap().as_str()
    );
    assert_eq!(doc["services"], serde_json::json!(["SSH"]));
    let d = n.tunnels.describe(&n.part, &t.id).unwrap();
    assert_eq!(d.status, TunnelStatus::Open);
    // A minute short of the lifetime: still open.
    n.clock.advance_millis(29 * 60_000);
    n.scheduler.run_due().await.unwrap();
    assert_eq!(
        n.tunnels.describe(&n.part, &t.id).unwrap().status,
        TunnelStatus::Open
    );
    n.clock.advance_millis(60_000);
    assert_eq!(n.scheduler.run_due().await.unwrap(), 1);
    assert_eq!(
        n.tunnels.describe(&n.part, &t.id).unwrap().status,
        TunnelStatus::Closed
    );
    n.clock.advance_millis(CLOSED_RETENTION_MS);
    n.scheduler.run_due().await.unwrap();
    assert!(n.tunnels.describe(&n.part, &t.id).is_err());
}

#[tokio::test]
async fn tokens_are_single_use_and_rotation_ends_their_connections() {
    let n = node(10).await;
    let t = n.tunnels.open(&n.part, ssh_to("dev-1")).await.unwrap();
    let (src, dst) = (t.source.unwrap(), t.destination.unwrap());
    assert_eq!(
        n.tunnels.connect(&src, Side::Destination, None).await,
        Err(AccessError::WrongMode)
    );
    let claim = n.tunnels.connect(&src, Side::Source, None).await.unwrap();
    assert!(n.tunnels.holds(&claim));
    assert_eq!(
        n.tunnels.connect(&src, Side::Source, None).await,
        Err(AccessError::TokenUsed)
    );
    let ct = "c".repeat(32);
    let d1 = n
        .tunnels
        .connect(&dst, Side::Destination, Some(&ct))
        .await
        .unwrap();
    assert_eq!(d1.services, vec!["SSH".to_string()]);
    let d2 = n
        .tunnels
        .connect(&dst, Side::Destination, Some(&ct))
        .await
        .unwrap();
    assert!(!n.tunnels.holds(&d1) && n.tunnels.holds(&d2));
    n.tunnels.disconnect(&d1).await;
    assert!(
        n.tunnels
            .describe(&n.part, &t.id)
            .unwrap()
            .destination
            .connected
    );
    let r = n
        .tunnels
        .rotate(&n.part, &t.id, ClientMode::Source, None)
        .await
        .unwrap();
    assert!(r.destination.is_none());
    assert!(!n.tunnels.holds(&claim));
    assert_eq!(
        n.tunnels.connect(&src, Side::Source, None).await,
        Err(AccessError::InvalidToken)
    );
    let again = n
        .tunnels
        .connect(&r.source.unwrap(), Side::Source, None)
        .await
        .unwrap();
    assert!(n.tunnels.holds(&again));
    n.tunnels.close(&n.part, &t.id, false).await.unwrap();
    assert!(!n.tunnels.holds(&again) && !n.tunnels.holds(&d2));
    assert_eq!(
        n.tunnels.connect("not-a-token", Side::Source, None).await,
        Err(AccessError::InvalidToken)
    );
}

#[tokio::test]
async fn the_open_quota_listing_and_tags() {
    let n = node(2).await;
    let a = n.tunnels.open(&n.part, ssh_to("dev-1")).await.unwrap();
    n.clock.advance_millis(1);
    let b = n
        .tunnels
        .open(&n.part, OpenRequest::default())
        .await
        .unwrap();
    let e = n
        .tunnels
        .open(&n.part, OpenRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    n.tunnels.close(&n.part, &a.id, false).await.unwrap();
    n.clock.advance_millis(1);
    let c = n
        .tunnels
        .open(&n.part, OpenRequest::default())
        .await
        .unwrap();
    let (page, next) = n.tunnels.list(&n.part, None, Some(2), None).unwrap();
    let ids: Vec<&str> = page.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, vec![c.id.as_str(), b.id.as_str()]);
    let (rest, none) = n
        .tunnels
        .list(&n.part, None, Some(2), next.as_deref())
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id, a.id);
    assert!(none.is_none());
    let (mine, _) = n.tunnels.list(&n.part, Some("dev-1"), None, None).unwrap();
    assert_eq!(mine.len(), 1);
    n.tunnels
        .tag(&n.part, &b.arn, &[("team".into(), "ops".into())])
        .await
        .unwrap();
    assert_eq!(n.tunnels.list_tags(&n.part, &b.arn).unwrap()["team"], "ops");
    n.tunnels
        .untag(&n.part, &b.arn, &["team".into()])
        .await
        .unwrap();
    assert!(n.tunnels.list_tags(&n.part, &b.arn).unwrap().is_empty());
    let other = b.arn.replace("123456789012", "210987654321");
    assert_eq!(
        n.tunnels.list_tags(&n.part, &other).unwrap_err().kind,
        ErrorKind::NotFound
    );
    n.tunnels.close(&n.part, &b.id, true).await.unwrap();
    assert!(n.tunnels.describe(&n.part, &b.id).is_err());
}
