use super::*;
use crate::identity::KIND_THING_PRINCIPAL;
use shoal_domain::{AccountId, ManualClock, Partition, Region, ThingName, Timestamp};
use shoal_store::{Batch, BoxFuture, Changes, Expect, Record, StoreResult, Term, TermMatch};
use std::sync::atomic::{AtomicBool, Ordering};

/// A store that attaches a principal to the thing right after DeleteThing has listed the
/// thing's principals (and found none), before its delete commits: the race the delete's
/// `check_none` closes.
struct AttachDuringDelete {
    inner: Arc<shoal_store::sqlite::SqliteStore>,
    link: Batch,
    fired: AtomicBool,
}

impl Store for AttachDuringDelete {
    fn commit(&self, batch: Batch) -> BoxFuture<'_, StoreResult<Vec<u64>>> {
        self.inner.commit(batch)
    }
    fn get(&self, p: &str, k: &str, key: &str) -> StoreResult<Option<Record>> {
        self.inner.get(p, k, key)
    }
    fn list(
        &self,
        p: &str,
        k: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Record>> {
        self.inner.list(p, k, prefix, after, limit)
    }
    fn last_key(&self, p: &str, k: &str, prefix: &str) -> StoreResult<Option<String>> {
        self.inner.last_key(p, k, prefix)
    }
    fn count(&self, p: &str, k: &str, prefix: &str, limit: usize) -> StoreResult<usize> {
        self.inner.count(p, k, prefix, limit)
    }
    fn partitions(&self) -> StoreResult<Vec<String>> {
        self.inner.partitions()
    }
    fn count_by_term(
        &self,
        p: &str,
        k: &str,
        name: &str,
        value: TermMatch<'_>,
        limit: usize,
    ) -> StoreResult<usize> {
        self.inner.count_by_term(p, k, name, value, limit)
    }
    fn list_by_term(
        &self,
        p: &str,
        k: &str,
        name: &str,
        value: TermMatch<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Record>> {
        let found = self.inner.list_by_term(p, k, name, value, after, limit);
        if k == KIND_THING_PRINCIPAL && !self.fired.swap(true, Ordering::SeqCst) {
            let (inner, link) = (self.inner.clone(), self.link.clone());
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(inner.commit(link))
                    .unwrap()
            });
        }
        found
    }
    fn list_by_term_ordered(
        &self,
        p: &str,
        k: &str,
        name: &str,
        prefix: &str,
        after: Option<(&str, &str)>,
        descending: bool,
        limit: usize,
    ) -> StoreResult<Vec<(String, Record)>> {
        self.inner
            .list_by_term_ordered(p, k, name, prefix, after, descending, limit)
    }
    fn changes(&self) -> tokio::sync::broadcast::Receiver<Arc<Changes>> {
        self.inner.changes()
    }
    fn announced(&self) -> u64 {
        self.inner.announced()
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.inner.shutdown()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_thing_never_deletes_a_thing_a_principal_was_just_attached_to() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(shoal_store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let part = Partition::new(
        AccountId::parse("123456789012").unwrap(),
        Region::parse("us-east-1").unwrap(),
    );
    let principal = part.arn("cert", &"a".repeat(64));
    let link = Batch::new(part.key()).put(
        KIND_THING_PRINCIPAL,
        &format!("t|{principal}"),
        1,
        b"{}".to_vec(),
        vec![Term::new("thing", "t"), Term::new("principal", &principal)],
        Expect::Absent,
    );
    let store = Arc::new(AttachDuringDelete {
        inner: inner.clone(),
        link,
        fired: AtomicBool::new(false),
    });
    let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
    let epoch = crate::AuthorizationEpoch::default();
    let registry = Registry::new(store.clone(), clock.clone(), epoch.clone());
    let name = ThingName::parse("t").unwrap();
    registry
        .create_thing(
            &part,
            CreateThing {
                name: name.clone(),
                type_name: None,
                attributes: Default::default(),
                billing_group: None,
            },
        )
        .await
        .unwrap();
    let refused = registry.delete_thing(&part, &name, None).await;
    assert!(refused.is_err(), "the principal attached meanwhile is seen");
    assert!(
        inner.get(&part.key(), KIND_THING, "t").unwrap().is_some(),
        "the thing is still there for its principal"
    );
}
