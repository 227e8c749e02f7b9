use super::*;
use serde_json::json;
use shoal_domain::{AccountId, ErrorKind, ManualClock, Region, Timestamp};
use shoal_store::sqlite::SqliteStore;

fn service() -> (tempfile::TempDir, Arc<Shadows>, Partition, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_000)));
    let part = Partition::new(
        AccountId::parse("123456789012").unwrap(),
        Region::parse("us-east-1").unwrap(),
    );
    (
        dir,
        Arc::new(Shadows::new(store, clock.clone())),
        part,
        clock,
    )
}

fn id(thing: &str, name: Option<&str>) -> ShadowId {
    ShadowId {
        thing: ThingName::parse(thing).unwrap(),
        name: name.map(|n| ShadowName::parse(n).unwrap()),
    }
}

fn req(v: Value) -> UpdateRequest {
    UpdateRequest::parse(v.to_string().as_bytes()).unwrap()
}

#[tokio::test]
async fn update_get_delete_and_the_version_after() {
    let (_d, s, part, clock) = service();
    let classic = id("dev1", None);
    let e = s.get(&part, &classic, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let a = s
        .update(
            &part,
            &classic,
            &req(json!({"state": {"desired": {"x": 1}}})),
        )
        .await
        .unwrap();
    assert_eq!(a.shadow.version, 1);
    let doc = s.get(&part, &classic, Some("tok")).unwrap();
    assert_eq!(doc["state"]["delta"], json!({"x": 1}));
    assert_eq!(doc["timestamp"], 1_000);
    assert_eq!(doc["clientToken"], "tok");
    clock.set(Timestamp::from_secs(1_010));
    let gone = s.delete(&part, &classic, None).await.unwrap();
    assert_eq!(gone, json!({"version": 1, "timestamp": 1_010}));
    assert_eq!(
        s.get(&part, &classic, None).unwrap_err().kind,
        ErrorKind::NotFound
    );
    let e = s.delete(&part, &classic, None).await.unwrap_err();
    assert_eq!(e.message, "No shadow exists with name: 'dev1'");
    let again = s
        .update(
            &part,
            &classic,
            &req(json!({"state": {"reported": {"y": 2}}})),
        )
        .await
        .unwrap();
    assert_eq!(again.shadow.version, 2);
}

#[tokio::test]
async fn racing_updates_all_land_with_distinct_versions() {
    let (_d, s, part, _) = service();
    let sid = id("dev2", Some("cfg"));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, part, sid) = (s.clone(), part.clone(), sid.clone());
        tasks.push(tokio::spawn(async move {
            let r = req(json!({"state": {"reported": {format!("k{i}"): i}}}));
            s.update(&part, &sid, &r).await.unwrap().shadow.version
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort();
    assert_eq!(versions, (1..=20).collect::<Vec<u64>>());
    let doc = s.load(&part, &sid).unwrap().unwrap();
    assert_eq!(doc.reported.unwrap().len(), 20, "no update was overwritten");
    // A request that names a stale version is refused, never applied.
    let e = s
        .update(
            &part,
            &sid,
            &req(json!({"state": {"reported": {"z": 1}}, "version": 3})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::VersionConflict);
}

#[tokio::test]
async fn named_shadows_are_listed_in_pages_without_the_classic_or_deleted_ones() {
    let (_d, s, part, _) = service();
    let r = req(json!({"state": {"reported": {"a": 1}}}));
    for name in [None, Some("a"), Some("b"), Some("c"), Some("d")] {
        s.update(&part, &id("dev3", name), &r).await.unwrap();
    }
    s.update(&part, &id("dev30", Some("other")), &r)
        .await
        .unwrap();
    s.delete(&part, &id("dev3", Some("b")), None).await.unwrap();
    let thing = ThingName::parse("dev3").unwrap();
    let (page, token) = s.list_named(&part, &thing, None, 2).unwrap();
    assert_eq!(page, ["a", "c"]);
    let (page, token) = s.list_named(&part, &thing, token.as_deref(), 2).unwrap();
    assert_eq!((page, token), (vec!["d".to_string()], None));
    let none = ThingName::parse("nothing").unwrap();
    assert_eq!(
        s.list_named(&part, &none, None, 10).unwrap(),
        (vec![], None)
    );
}
