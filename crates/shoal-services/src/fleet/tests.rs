use super::*;
use crate::registry::CreateThing;
use shoal_domain::fleet::config::ThingMode;
use shoal_domain::{AccountId, ManualClock, Region, ThingName, Timestamp};
use shoal_store::sqlite::SqliteStore;

struct Setup {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    registry: Arc<Registry>,
    clock: Arc<ManualClock>,
    part: Partition,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_000)));
    let registry = Arc::new(Registry::new(
        store.clone(),
        clock.clone(),
        crate::AuthorizationEpoch::default(),
    ));
    let part = Partition::new(
        AccountId::parse("123456789012").unwrap(),
        Region::parse("us-east-1").unwrap(),
    );
    Setup {
        dir,
        store,
        registry,
        clock,
        part,
    }
}

fn start(s: &Setup) -> FleetIndexing {
    FleetIndexing::start(
        s.store.clone(),
        s.registry.clone(),
        s.clock.clone(),
        crate::Scheduler::new(s.store.clone(), s.clock.clone()),
        &s.dir.path().join("index"),
    )
    .unwrap()
}

fn registry_mode() -> IndexingConfig {
    IndexingConfig {
        thing_mode: ThingMode::Registry,
        ..Default::default()
    }
}

async fn thing(s: &Setup, name: &str) {
    s.registry
        .create_thing(
            &s.part,
            CreateThing {
                name: ThingName::parse(name).unwrap(),
                type_name: None,
                attributes: Default::default(),
                billing_group: None,
            },
        )
        .await
        .unwrap();
}

fn found(f: &FleetIndexing, s: &Setup, q: &str) -> usize {
    f.search(&s.part, THINGS_INDEX, q, None, 100)
        .unwrap()
        .documents
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_build_refuses_queries_and_a_rebuild_answers_from_the_old_data() {
    let s = setup();
    let f = start(&s);
    thing(&s, "a").await;
    f.update_config(&s.part, registry_mode()).await.unwrap();
    f.caught_up().await;
    assert_eq!(found(&f, &s, "*"), 1);

    // What DescribeIndex and the queries see while each kind of build is under way.
    let scope = scope(&s.part.key(), THINGS_INDEX);
    f.inner
        .status
        .lock()
        .unwrap()
        .insert(scope.clone(), IndexStatus::Building);
    let e = f
        .search(&s.part, THINGS_INDEX, "*", None, 10)
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::IndexNotReady);
    assert_eq!(
        f.describe_index(&s.part, THINGS_INDEX).unwrap().0,
        IndexStatus::Building
    );
    f.inner
        .status
        .lock()
        .unwrap()
        .insert(scope, IndexStatus::Rebuilding);
    assert_eq!(found(&f, &s, "*"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_is_trusted_and_a_crash_is_rebuilt() {
    let s = setup();
    let f = start(&s);
    f.update_config(&s.part, registry_mode()).await.unwrap();
    thing(&s, "a").await;
    f.shutdown().await;
    assert!(s.dir.path().join("index/shoal-clean-shutdown").exists());
    drop(f);

    // Restarted cleanly: the index is used as it is, so a thing written to the store behind
    // its back (as a crash would leave it) is not found until a rebuild...
    s.store
        .commit(shoal_store::Batch::new(s.part.key()).put(
            "thing",
            "b",
            1,
            br#"{"name":"b","id":"x","version":1,"created":0}"#.to_vec(),
            Vec::new(),
            shoal_store::Expect::Absent,
        ))
        .await
        .unwrap();
    let f = start(&s);
    f.caught_up().await;
    assert_eq!(found(&f, &s, "*"), 1, "the clean index is trusted");
    assert!(
        !s.dir.path().join("index/shoal-clean-shutdown").exists(),
        "the marker is consumed at start"
    );
    // ...and a start without the marker (what a crash leaves) rebuilds from the store.
    f.shutdown().await;
    std::fs::remove_file(s.dir.path().join("index/shoal-clean-shutdown")).unwrap();
    drop(f);
    let f = start(&s);
    f.caught_up().await;
    assert_eq!(found(&f, &s, "*"), 2);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_name_only_known_fields() {
    let q = super::queries::prepare(THINGS_INDEX, "registry.thingTypeName:lamp").unwrap();
    assert_eq!(q.fields(), ["thingTypeName"]);
    let e = super::queries::prepare(THINGS_INDEX, "thingGroupName:x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidQuery);
    assert_eq!(
        e.message,
        "Unable to parse query, invalid field name, field name: thingGroupName, query string: thingGroupName:x"
    );
    let q = super::queries::prepare(GROUPS_INDEX, "thingGroupNames:g").unwrap();
    assert_eq!(q.fields(), ["thingGroupName"]);
}
