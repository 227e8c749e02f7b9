use super::*;
use futures_util::StreamExt;
use shoal_domain::{AccountId, ErrorKind, ManualClock, Region};
use shoal_store::sqlite::SqliteStore;

struct Fixture {
    objects: Objects,
    part: Partition,
    blobs_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    // Far in the future of the files' own times, so the sweep takes what is unreferenced.
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(4_000_000_000)));
    let blobs_dir = dir.path().join("objects");
    let blobs = Blobs::local(&blobs_dir).unwrap();
    Fixture {
        objects: Objects::new(store, clock, blobs),
        part: Partition::new(
            AccountId::parse("123456789012").unwrap(),
            Region::parse("us-east-1").unwrap(),
        ),
        blobs_dir,
        _dir: dir,
    }
}

fn b(s: &str) -> BucketName {
    BucketName::parse(s).unwrap()
}

fn k(s: &str) -> ObjectKey {
    ObjectKey::parse(s).unwrap()
}

impl Fixture {
    async fn put(&self, bucket: &str, key: &str, data: &[u8]) {
        let mut w = self.objects.blobs().writer(&self.part).await.unwrap();
        w.write(bytes::Bytes::copy_from_slice(data)).await.unwrap();
        let blob = w.finish().await.unwrap();
        let info = ObjectInfo {
            blob,
            size: data.len() as u64,
            etag: format!("{:x}", data.len()),
            ..Default::default()
        };
        self.objects
            .put(&self.part, &b(bucket), &k(key), info, &WriteCondition::None)
            .await
            .unwrap();
    }

    async fn read(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.objects
            .read_small(&self.part, &b(bucket), &k(key), 1 << 20)
            .await
            .unwrap()
    }

    fn files(&self) -> usize {
        fn walk(p: &std::path::Path) -> usize {
            std::fs::read_dir(p).map_or(0, |d| {
                d.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
        }
        walk(&self.blobs_dir)
    }

    fn list(&self, req: ListRequest) -> (Vec<String>, Option<String>) {
        let page = self.objects.list(&self.part, &b("bkt"), &req).unwrap();
        let items = page
            .items
            .iter()
            .map(|i| match i {
                ListItem::Object(k, _) => k.clone(),
                ListItem::CommonPrefix(p) => format!("{p}*"),
            })
            .collect();
        (items, page.next)
    }
}

#[tokio::test]
async fn an_overwrite_replaces_the_bytes_and_removes_the_old_blob() {
    let f = fixture();
    f.objects
        .create_bucket(&f.part, &b("bkt"), "")
        .await
        .unwrap();
    f.put("bkt", "k", b"one").await;
    f.put("bkt", "k", b"two!").await;
    assert_eq!(f.read("bkt", "k").await, b"two!");
    assert_eq!(f.files(), 1);
    f.objects.delete(&f.part, &b("bkt"), &k("k")).await.unwrap();
    assert_eq!(f.files(), 0);
    let e = f.objects.head(&f.part, &b("bkt"), &k("k")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Storage(StorageError::NoSuchKey));
}

#[tokio::test]
async fn conditional_writes_and_a_missing_bucket_keep_nothing() {
    let f = fixture();
    f.objects
        .create_bucket(&f.part, &b("bkt"), "")
        .await
        .unwrap();
    f.put("bkt", "k", b"one").await;
    for (bucket, cond, want) in [
        (
            "bkt",
            WriteCondition::Absent,
            StorageError::PreconditionFailed,
        ),
        (
            "bkt",
            WriteCondition::Matches("\"nope\"".into()),
            StorageError::PreconditionFailed,
        ),
        ("nob", WriteCondition::None, StorageError::NoSuchBucket),
    ] {
        let mut w = f.objects.blobs().writer(&f.part).await.unwrap();
        w.write(bytes::Bytes::from_static(b"x")).await.unwrap();
        let info = ObjectInfo {
            blob: w.finish().await.unwrap(),
            size: 1,
            ..Default::default()
        };
        let e = f
            .objects
            .put(&f.part, &b(bucket), &k("k"), info, &cond)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Storage(want));
    }
    // Only the first object's bytes remain.
    assert_eq!(f.files(), 1);
    assert_eq!(f.read("bkt", "k").await, b"one");
}

#[tokio::test]
async fn listing_resumes_after_a_common_prefix() {
    let f = fixture();
    f.objects
        .create_bucket(&f.part, &b("bkt"), "")
        .await
        .unwrap();
    for key in ["a/1", "a/2", "a/3", "b", "c/1", "d"] {
        f.put("bkt", key, b"x").await;
    }
    let req = |max, cont: Option<String>| ListRequest {
        delimiter: "/".into(),
        max_keys: max,
        continuation: cont,
        ..Default::default()
    };
    let (items, next) = f.list(req(2, None));
    assert_eq!(items, ["a/*", "b"]);
    let (items, next) = f.list(req(1, next));
    assert_eq!(items, ["c/*"]);
    let (items, next) = f.list(req(5, next));
    assert_eq!(items, ["d"]);
    assert_eq!(next, None);
    // A prefix inside a key, start-after, and max-keys 0.
    let (items, _) = f.list(ListRequest {
        prefix: "a/".into(),
        start_after: Some("a/1".into()),
        max_keys: 10,
        ..Default::default()
    });
    assert_eq!(items, ["a/2", "a/3"]);
    assert!(f.list(req(0, None)).0.is_empty());
    let bad = f
        .objects
        .list(&f.part, &b("bkt"), &req(1, Some("zz".into())))
        .unwrap_err();
    assert_eq!(bad.kind, ErrorKind::Storage(StorageError::InvalidArgument));
}

#[tokio::test]
async fn a_bucket_goes_only_empty_and_takes_its_uploads() {
    let f = fixture();
    f.objects
        .create_bucket(&f.part, &b("bkt"), "")
        .await
        .unwrap();
    f.put("bkt", "k", b"x").await;
    let id = f
        .objects
        .create_upload(
            &f.part,
            &b("bkt"),
            &k("big"),
            Default::default(),
            Default::default(),
            None,
        )
        .await
        .unwrap();
    let e = f
        .objects
        .delete_bucket(&f.part, &b("bkt"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Storage(StorageError::BucketNotEmpty));
    f.objects.delete(&f.part, &b("bkt"), &k("k")).await.unwrap();
    f.objects.delete_bucket(&f.part, &b("bkt")).await.unwrap();
    f.objects
        .create_bucket(&f.part, &b("bkt"), "")
        .await
        .unwrap();
    let e = f
        .objects
        .upload(&f.part, &b("bkt"), &k("big"), &id)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Storage(StorageError::NoSuchUpload));
}

/// What a crash between writing a blob and committing its record leaves is swept; blobs that
/// records name stay.
#[tokio::test]
async fn the_sweep_removes_only_unreferenced_blobs() {
    let f = fixture();
    f.objects
        .create_bucket(&f.part, &b("bkt"), "")
        .await
        .unwrap();
    f.put("bkt", "kept", b"kept").await;
    let mut orphan = f.objects.blobs().writer(&f.part).await.unwrap();
    orphan
        .write(bytes::Bytes::from_static(b"lost"))
        .await
        .unwrap();
    orphan.finish().await.unwrap();
    assert_eq!(f.files(), 2);
    assert_eq!(
        f.objects.blobs().partitions().await.unwrap(),
        vec![f.part.clone()]
    );
    assert_eq!(f.objects.sweep_all().await.unwrap(), 1);
    assert_eq!(f.files(), 1);
    assert_eq!(f.read("bkt", "kept").await, b"kept");
    let listed: Vec<_> = f.objects.blobs().list(&f.part).collect().await;
    assert_eq!(listed.len(), 1);
}

/// At most 32 blobs are written at once: the next upload waits for one to end.
#[tokio::test]
async fn uploads_wait_for_a_free_writer() {
    use futures_util::FutureExt;
    let f = fixture();
    let blobs = f.objects.blobs();
    let mut writing = Vec::new();
    for _ in 0..32 {
        writing.push(blobs.writer(&f.part).await.unwrap());
    }
    let mut next = Box::pin(blobs.writer(&f.part));
    assert!(
        next.as_mut().now_or_never().is_none(),
        "a 33rd writer started"
    );
    writing.pop().unwrap().abort().await;
    let w = next.await.unwrap();
    w.abort().await;
    for w in writing {
        w.abort().await;
    }
}
