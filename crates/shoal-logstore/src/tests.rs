use super::*;

fn entry<'a>(group: &'a str, stream: &'a str, ts: i64, message: &'a str) -> Entry<'a> {
    Entry {
        scope: "111122223333/us-east-1",
        group,
        stream,
        timestamp: ts,
        message,
    }
}

const SCOPE: &str = "111122223333/us-east-1";

fn read_all(store: &LogStore, group: &str) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    for seg in store
        .segments(SCOPE, group, |_| true, i64::MIN, i64::MAX)
        .unwrap()
    {
        seg.read(0, |r| {
            out.push((seg.stream.to_string(), r.timestamp, r.message.to_string()));
            true
        })
        .unwrap();
    }
    out
}

#[test]
fn records_come_back_per_stream_in_time_order_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LogStore::open(dir.path(), 1 << 20).unwrap();
        store
            .append(
                &[
                    entry("g", "b", 3, "third"),
                    entry("g", "a", 2, "second"),
                    entry("g", "a", 1, "first"),
                ],
                10,
            )
            .unwrap();
    }
    let store = LogStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(
        read_all(&store, "g"),
        vec![
            ("a".into(), 1, "first".into()),
            ("a".into(), 2, "second".into()),
            ("b".into(), 3, "third".into())
        ]
    );
    let streams = store.streams(SCOPE, "g").unwrap();
    assert_eq!(streams[0].first_timestamp, Some(1));
    assert_eq!(streams[0].last_timestamp, Some(2));
    assert_eq!(streams[0].last_ingestion, Some(10));
    assert_eq!(store.groups(SCOPE)[0].name, "g");
    assert!(store.groups("other/us-east-1").is_empty());
}

#[test]
fn a_torn_tail_is_cut_at_open_and_appends_continue_after_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LogStore::open(dir.path(), 1 << 20).unwrap();
        store.append(&[entry("g", "s", 1, "whole")], 1).unwrap();
    }
    let seg = LogStore::open(dir.path(), 1 << 20)
        .unwrap()
        .segments(SCOPE, "g", |_| true, 0, 10)
        .unwrap()
        .remove(0);
    // Half a record, as a crash mid-append leaves it.
    let mut half = Vec::new();
    segment::encode(&mut half, 2, 2, "torn record");
    half.truncate(half.len() - 3);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&seg.path)
        .unwrap()
        .write_all_at_end(&half);
    let store = LogStore::open(dir.path(), 1 << 20).unwrap();
    store.append(&[entry("g", "s", 3, "after")], 3).unwrap();
    let got: Vec<String> = read_all(&store, "g").into_iter().map(|r| r.2).collect();
    assert_eq!(got, vec!["whole", "after"]);
}

trait WriteAll {
    fn write_all_at_end(self, b: &[u8]);
}

impl WriteAll for std::fs::File {
    fn write_all_at_end(mut self, b: &[u8]) {
        use std::io::Write;
        self.write_all(b).unwrap();
    }
}

#[test]
fn segments_roll_and_a_time_range_opens_only_those_overlapping_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), 1 << 16).unwrap();
    let msg = "x".repeat(1000);
    for batch in 0..10 {
        let entries: Vec<Entry<'_>> = (0..20)
            .map(|i| entry("g", "s", batch * 100 + i, &msg))
            .collect();
        store.append(&entries, batch).unwrap();
    }
    let all = store
        .segments(SCOPE, "g", |_| true, i64::MIN, i64::MAX)
        .unwrap();
    assert!(all.len() >= 3, "{}", all.len());
    let some = store.segments(SCOPE, "g", |_| true, 500, 520).unwrap();
    assert!(some.len() < all.len());
    let mut n = 0;
    for s in &some {
        s.read(0, |r| {
            n += u64::from((500..520).contains(&r.timestamp));
            true
        })
        .unwrap();
    }
    assert_eq!(n, 20);
    // Sealed summaries are what a reopen reads.
    drop(store);
    let store = LogStore::open(dir.path(), 1 << 16).unwrap();
    assert_eq!(store.streams(SCOPE, "g").unwrap()[0].records, 200);
}

#[test]
fn retention_drops_whole_old_segments_and_numbers_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), 1 << 16).unwrap();
    let msg = "y".repeat(2000);
    for ts in 0..100 {
        store.append(&[entry("g", "s", ts, &msg)], ts).unwrap();
    }
    let before = store
        .segments(SCOPE, "g", |_| true, i64::MIN, i64::MAX)
        .unwrap();
    assert!(store.expire(SCOPE, "g", 50).unwrap() > 0);
    let after = store
        .segments(SCOPE, "g", |_| true, i64::MIN, i64::MAX)
        .unwrap();
    assert!(after.iter().all(|s| s.last_timestamp >= 50));
    assert!(after.first().unwrap().first_timestamp <= 50);
    // Everything old: the next record opens a segment with a new number.
    assert!(store.expire(SCOPE, "g", 1000).unwrap() > 0);
    store.append(&[entry("g", "s", 2000, "new")], 2000).unwrap();
    let last = store
        .segments(SCOPE, "g", |_| true, i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(last.len(), 1);
    assert!(last[0].seq > before.last().unwrap().seq);
    assert_eq!(read_all(&store, "g")[0].2, "new");
    assert!(store.delete_group(SCOPE, "g").unwrap());
    assert!(store.streams(SCOPE, "g").is_none());
    assert!(!store.delete_group(SCOPE, "g").unwrap());
}

#[test]
fn a_reader_stops_when_asked_and_long_messages_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), 1 << 20).unwrap();
    let long = "é".repeat(MAX_MESSAGE);
    store
        .append(&[entry("g", "s", 1, &long), entry("g", "s", 2, "b")], 1)
        .unwrap();
    let seg = store
        .segments(SCOPE, "g", |_| true, 0, 10)
        .unwrap()
        .remove(0);
    let mut seen = Vec::new();
    seg.read(0, |r| {
        seen.push(r.message.len());
        false
    })
    .unwrap();
    assert_eq!(seen, vec![MAX_MESSAGE]);
}

#[test]
fn a_new_day_starts_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), 1 << 20).unwrap();
    let day = 86_400_000;
    store
        .append(&[entry("g", "s", day - 1, "late")], 1)
        .unwrap();
    store
        .append(&[entry("g", "s", day, "next day")], 2)
        .unwrap();
    let segs = store
        .segments(SCOPE, "g", |_| true, i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(store.expire(SCOPE, "g", day).unwrap(), 1);
}
