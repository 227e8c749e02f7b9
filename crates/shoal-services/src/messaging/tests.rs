use super::*;
use shoal_domain::{AccountId, ManualClock, Region, Timestamp};
use shoal_store::sqlite::SqliteStore;

fn service() -> (tempfile::TempDir, Messaging, Partition) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    let part = Partition::new(
        AccountId::parse("123456789012").unwrap(),
        Region::parse("us-east-1").unwrap(),
    );
    (dir, Messaging::new(store, clock), part)
}

fn msg(topic: &str, payload: &[u8]) -> StoredMessage {
    StoredMessage {
        topic: topic.into(),
        qos: 1,
        payload: payload.to_vec(),
        props: MessageProps::default(),
        published_at: 5,
    }
}

#[tokio::test]
async fn retained_messages_are_set_listed_and_cleared_by_an_empty_payload() {
    let (_d, m, part) = service();
    let key = part.key();
    m.apply(vec![
        (key.clone(), Write::Retain(msg("a/b", b"1"))),
        (key.clone(), Write::Retain(msg("a/c", b"2"))),
        (key.clone(), Write::Retain(msg("b", b"3"))),
    ])
    .await
    .unwrap();
    assert_eq!(m.retained(&part, "a/b").unwrap().unwrap().payload, b"1");
    let topics: Vec<_> = m
        .list_retained(&part, "a/", None, 10)
        .unwrap()
        .into_iter()
        .map(|m| m.topic)
        .collect();
    assert_eq!(topics, ["a/b", "a/c"]);
    m.apply(vec![(key, Write::Retain(msg("a/b", b"")))])
        .await
        .unwrap();
    assert!(m.retained(&part, "a/b").unwrap().is_none());
}

#[tokio::test]
async fn a_session_queue_keeps_order_and_is_removed_with_the_session() {
    let (_d, m, part) = service();
    let key = part.key();
    let session = PersistentSession {
        client_id: "dev|1".into(),
        subscriptions: vec![SessionSubscription {
            filter: "a/#".into(),
            qos: 1,
            no_local: false,
            retain_as_published: true,
            id: Some(7),
        }],
        expiry_secs: 3600,
        disconnected_at: Some(1_000),
    };
    let mut writes = vec![(key.clone(), Write::SaveSession(session.clone()))];
    for seq in [9u64, 10, 100] {
        writes.push((
            key.clone(),
            Write::Enqueue {
                client_id: "dev|1".into(),
                seq,
                message: msg("a/x", seq.to_string().as_bytes()),
            },
        ));
    }
    // Another client whose id shares a prefix must not see these.
    writes.push((
        key.clone(),
        Write::Enqueue {
            client_id: "dev".into(),
            seq: 1,
            message: msg("a/y", b"other"),
        },
    ));
    m.apply(writes).await.unwrap();
    let seqs: Vec<u64> = m
        .queued(&key, "dev|1", None, 10)
        .unwrap()
        .iter()
        .map(|q| q.0)
        .collect();
    assert_eq!(seqs, [9, 10, 100]);
    let page: Vec<u64> = m
        .queued(&key, "dev|1", Some(9), 1)
        .unwrap()
        .iter()
        .map(|q| q.0)
        .collect();
    assert_eq!(page, [10], "pages resume after a sequence number");
    assert_eq!(m.queue_len(&key, "dev|1", 100).unwrap(), 3);
    let sessions = m.sessions(&part).unwrap();
    assert_eq!(sessions, [session]);
    assert_eq!(m.last_sequence(&key, "dev|1").unwrap(), 100);
    assert_eq!(m.last_sequence(&key, "nobody").unwrap(), 0);
    m.apply(vec![(
        key.clone(),
        Write::Dequeue {
            client_id: "dev|1".into(),
            seq: 9,
        },
    )])
    .await
    .unwrap();
    assert_eq!(m.queued(&key, "dev|1", None, 10).unwrap().len(), 2);
    m.apply(vec![(
        key.clone(),
        Write::DeleteSession {
            client_id: "dev|1".into(),
        },
    )])
    .await
    .unwrap();
    assert!(m.queued(&key, "dev|1", None, 10).unwrap().is_empty());
    assert_eq!(m.queued(&key, "dev", None, 10).unwrap().len(), 1);
    assert!(m.sessions(&part).unwrap().is_empty());
}

#[test]
fn an_offline_session_expires_after_its_interval() {
    let s = PersistentSession {
        client_id: "c".into(),
        subscriptions: vec![],
        expiry_secs: 10,
        disconnected_at: Some(1_000),
    };
    assert!(!s.expired(10_999));
    assert!(s.expired(11_000));
    let online = PersistentSession {
        disconnected_at: None,
        ..s
    };
    assert!(!online.expired(i64::MAX));
}
