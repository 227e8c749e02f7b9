use super::*;
use bytes::Bytes;
use shoal_domain::{AccountId, ManualClock, Region, Timestamp};
use shoal_services::Messaging;

fn part(account: &str) -> Partition {
    Partition::new(
        AccountId::parse(account).unwrap(),
        Region::parse("us-east-1").unwrap(),
    )
}

fn msg(topic: &str, payload: &'static str) -> Msg {
    Msg {
        topic: Arc::from(topic),
        payload: Bytes::from_static(payload.as_bytes()),
        qos: QoS::AtLeastOnce,
        props: None,
        from: None,
        ack: None,
        principal: None,
        hops: 0,
        evaluated: false,
        published_at: 1,
    }
}

fn router() -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(shoal_store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    let messaging = Arc::new(Messaging::new(store, clock.clone()));
    let persister = Persister::spawn(messaging);
    (dir, Router::new(persister, clock, HashMap::new(), None))
}

/// Connects `client` to the shard with an outbox of `room` deliveries and a session expiry of
/// `expiry` seconds, and subscribes it to `t`.
async fn subscriber(
    shard: &Shard,
    client: &str,
    room: usize,
    expiry: u32,
) -> (mpsc::Receiver<Delivery>, Arc<Control>) {
    let (outbox, deliveries) = mpsc::channel(room);
    let controls = Control::new();
    let control = controls.clone();
    let id: Arc<str> = Arc::from(client);
    shard
        .connect(id.clone(), 7, "", outbox, control, true, expiry)
        .await;
    assert_eq!(
        shard
            .subscribe(&id, 7, "t", SubOptions::qos(QoS::AtLeastOnce))
            .await,
        Subscribed::New
    );
    (deliveries, controls)
}

/// One tenant's subscriber that stopped reading holds up its own shard (for `STALL`), never
/// another tenant's: with the clock paused, the other tenant's message is delivered without
/// any time passing.
#[tokio::test(start_paused = true)]
async fn a_stuck_subscriber_holds_up_only_its_own_partition() {
    let (_dir, router) = router();
    let (slow, fast) = (
        router.shard(&part("111111111111")),
        router.shard(&part("222222222222")),
    );
    let (_slow_deliveries, _slow_controls) = subscriber(&slow, "slow", 1, 0).await;
    let (mut fast_deliveries, _fast_controls) = subscriber(&fast, "fast", 8, 0).await;
    // The first fills the slow subscriber's outbox; the second makes its shard wait for room.
    assert!(slow.publish(msg("t", "1"), false, false).await);
    assert!(slow.publish(msg("t", "2"), false, false).await);
    let start = tokio::time::Instant::now();
    assert!(fast.publish(msg("t", "other tenant"), false, false).await);
    let m = fast_deliveries.recv().await.unwrap().msg;
    assert_eq!(&m.payload[..], b"other tenant");
    assert_eq!(
        tokio::time::Instant::now(),
        start,
        "delivered without waiting for the stuck shard"
    );
}

/// A subscriber's outbox that stays full past `STALL` gets it disconnected (Overflowed on its
/// control channel), and its shard goes on.
#[tokio::test(start_paused = true)]
async fn a_subscriber_that_never_reads_is_told_to_go() {
    let (_dir, router) = router();
    let shard = router.shard(&part("111111111111"));
    let (_deliveries, controls) = subscriber(&shard, "slow", 1, 0).await;
    assert!(shard.publish(msg("t", "1"), false, false).await);
    assert!(shard.publish(msg("t", "2"), false, false).await);
    assert!(matches!(controls.recv().await, Out::Overflowed));
}

/// Writes are applied in the order they were submitted, also when the queue is full and
/// submitters have to wait: the last retained message set is the one that stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_persister_keeps_the_order_of_writes_when_its_queue_is_full() {
    use shoal_services::messaging::{MessageProps, StoredMessage, Write};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(shoal_store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    let messaging = Arc::new(Messaging::new(store, clock));
    let persister = Persister::spawn_with_queue(messaging.clone(), 2);
    let p = part("111111111111");
    for i in 0..500u32 {
        let m = StoredMessage {
            topic: "r".into(),
            qos: 1,
            payload: i.to_string().into_bytes(),
            props: MessageProps::default(),
            published_at: 1,
        };
        persister
            .submit(vec![(p.key(), Write::Retain(m))], None)
            .await;
    }
    persister.flush().await;
    let kept = messaging.retained(&p, "r").unwrap().unwrap();
    assert_eq!(kept.payload, b"499");
}

/// An offline persistent session keeps at most `MAX_QUEUED` messages; later ones are dropped
/// (AWS drops what exceeds its limits), so one device that never comes back cannot grow the
/// store without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_session_queues_at_most_max_queued_messages() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(shoal_store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    let messaging = Arc::new(Messaging::new(store, clock.clone()));
    let router = Router::new(
        Persister::spawn(messaging.clone()),
        clock,
        HashMap::new(),
        None,
    );
    let p = part("111111111111");
    let shard = router.shard(&p);
    let id: Arc<str> = Arc::from("sleeper");
    let (_deliveries, _controls) = subscriber(&shard, "sleeper", 1, 3600).await;
    shard
        .disconnect(Disconnect {
            client_id: id.clone(),
            conn: 7,
            leftovers: Vec::new(),
            stored: 0,
            will: None,
            expiry: None,
        })
        .await;
    for _ in 0..MAX_QUEUED + 5 {
        assert!(shard.publish(msg("t", "m"), false, false).await);
    }
    router.flush().await;
    let queued = messaging
        .queue_len(&p.key(), "sleeper", usize::MAX)
        .unwrap();
    assert_eq!(queued, MAX_QUEUED as usize);
}
