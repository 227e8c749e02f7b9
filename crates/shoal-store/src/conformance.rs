//! The conformance suite: one set of behaviours every `Store` backend must show. Each backend's
//! tests call `run_all` with a factory that makes a fresh, empty store.

use crate::model::{Batch, Expect, Term, TermMatch};
use crate::{Store, StoreError};

/// Runs every check, each on a fresh store from `make`.
pub async fn run_all<S: Store, F: FnMut() -> S>(mut make: F) {
    conditions_and_revisions(&make()).await;
    revisions_never_repeat(&make()).await;
    prefix_checks_and_last_keys(&make()).await;
    batches_are_atomic(&make()).await;
    listing_and_prefixes(&make()).await;
    terms_follow_records(&make()).await;
    partitions_are_isolated(&make()).await;
    a_partition_is_emptied_whole(&make()).await;
    ordered_by_term_value(&make()).await;
    concurrent_commits_all_land(&make()).await;
    committed_changes_are_announced(&make()).await;
}

fn put(b: Batch, key: &str, doc: &str, terms: Vec<Term>, expect: Expect) -> Batch {
    b.put("thing", key, 1, doc.as_bytes().to_vec(), terms, expect)
}

async fn conditions_and_revisions<S: Store>(s: &S) {
    let r = s
        .commit(put(Batch::new("p"), "a", "1", vec![], Expect::Absent))
        .await
        .unwrap();
    let first = r[0];
    assert!(first >= 1);
    let again = s
        .commit(put(Batch::new("p"), "a", "2", vec![], Expect::Absent))
        .await;
    assert_eq!(again, Err(StoreError::Conflict { op: 0 }));
    assert_eq!(s.get("p", "thing", "a").unwrap().unwrap().doc, b"1");
    let r = s
        .commit(put(Batch::new("p"), "a", "2", vec![], Expect::Rev(first)))
        .await
        .unwrap();
    let second = r[0];
    assert!(second > first);
    let stale = s
        .commit(put(Batch::new("p"), "a", "3", vec![], Expect::Rev(first)))
        .await;
    assert_eq!(stale, Err(StoreError::Conflict { op: 0 }));
    let rec = s.get("p", "thing", "a").unwrap().unwrap();
    assert_eq!(
        (rec.rev, rec.doc.as_slice(), rec.schema),
        (second, &b"2"[..], 1)
    );
    let del = s
        .commit(Batch::new("p").delete("thing", "a", Expect::Rev(first)))
        .await;
    assert_eq!(del, Err(StoreError::Conflict { op: 0 }));
    s.commit(Batch::new("p").delete("thing", "a", Expect::Present))
        .await
        .unwrap();
    assert_eq!(s.get("p", "thing", "a").unwrap(), None);
    let gone = s
        .commit(Batch::new("p").delete("thing", "a", Expect::Present))
        .await;
    assert_eq!(gone, Err(StoreError::Conflict { op: 0 }));
    s.commit(Batch::new("p").delete("thing", "a", Expect::Any))
        .await
        .unwrap();
}

/// A record deleted and made again never takes a revision it had before: a writer holding
/// the old record's revision must not overwrite the new record (the same thing name, a new
/// thing).
async fn revisions_never_repeat<S: Store>(s: &S) {
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = s
            .commit(put(Batch::new("p"), "k", "{}", vec![], Expect::Absent))
            .await
            .unwrap();
        seen.push(r[0]);
        let again = s
            .commit(put(Batch::new("p"), "k", "{}", vec![], Expect::Rev(r[0])))
            .await
            .unwrap();
        seen.push(again[0]);
        s.commit(Batch::new("p").delete("thing", "k", Expect::Present))
            .await
            .unwrap();
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "revisions only grow: {seen:?}"
    );
    let fresh = s
        .commit(put(Batch::new("p"), "k", "{}", vec![], Expect::Absent))
        .await
        .unwrap()[0];
    for old in seen {
        let stale = s
            .commit(put(Batch::new("p"), "k", "x", vec![], Expect::Rev(old)))
            .await;
        assert_eq!(stale, Err(StoreError::Conflict { op: 0 }), "rev {old}");
    }
    assert_eq!(s.get("p", "thing", "k").unwrap().unwrap().rev, fresh);
}

/// `check_none` holds while no record of the kind carries the term, and fails the whole batch
/// otherwise; `last_key` finds the greatest key under a prefix, `count` counts keys under it,
/// `delete_prefix` removes them.
async fn prefix_checks_and_last_keys<S: Store>(s: &S) {
    let link = |b: Batch, key: &str, thing: &str| {
        b.put(
            "link",
            key,
            1,
            b"{}".to_vec(),
            vec![Term::new("thing", thing)],
            Expect::Any,
        )
    };
    let delete_t = || {
        Batch::new("p")
            .check_none("link", Term::new("thing", "t"))
            .delete("thing", "t", Expect::Present)
    };
    s.commit(put(Batch::new("p"), "t", "{}", vec![], Expect::Absent))
        .await
        .unwrap();
    // Another thing's link, and another partition's link to "t", do not count.
    s.commit(link(Batch::new("p"), "tt|x", "tt")).await.unwrap();
    s.commit(link(Batch::new("q"), "t|x", "t")).await.unwrap();
    s.commit(delete_t()).await.unwrap();
    s.commit(put(Batch::new("p"), "t", "{}", vec![], Expect::Absent))
        .await
        .unwrap();
    s.commit(link(Batch::new("p"), "t|y", "t")).await.unwrap();
    assert_eq!(
        s.commit(delete_t()).await,
        Err(StoreError::Conflict { op: 0 })
    );
    assert!(s.get("p", "thing", "t").unwrap().is_some());
    s.commit(Batch::new("p").delete("link", "t|y", Expect::Present))
        .await
        .unwrap();
    s.commit(delete_t()).await.unwrap();

    for k in ["q/001", "q/010", "q/002", "r/999"] {
        s.commit(put(Batch::new("p"), k, "{}", vec![], Expect::Any))
            .await
            .unwrap();
    }
    assert_eq!(
        s.last_key("p", "thing", "q/").unwrap().as_deref(),
        Some("q/010")
    );
    assert_eq!(s.last_key("p", "thing", "z/").unwrap(), None);
    assert_eq!(s.count("p", "thing", "q/", 100).unwrap(), 3);
    assert_eq!(
        s.count("p", "thing", "q/", 2).unwrap(),
        2,
        "counts up to the limit"
    );
    assert_eq!(s.count("p", "thing", "", 100).unwrap(), 4);
    s.commit(Batch::new("p").delete_prefix("thing", "q/"))
        .await
        .unwrap();
    let keys: Vec<String> = s
        .list("p", "thing", "", None, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["r/999"], "only the prefix is gone");
    assert_eq!(s.last_key("p", "other", "q/").unwrap(), None);
}

async fn batches_are_atomic<S: Store>(s: &S) {
    let x = s
        .commit(put(Batch::new("p"), "x", "x", vec![], Expect::Absent))
        .await
        .unwrap()[0];
    let b = put(Batch::new("p"), "y", "y", vec![], Expect::Absent).check(
        "thing",
        "missing",
        Expect::Present,
    );
    assert_eq!(s.commit(b).await, Err(StoreError::Conflict { op: 1 }));
    assert_eq!(
        s.get("p", "thing", "y").unwrap(),
        None,
        "a failed batch writes nothing"
    );
    let b =
        put(Batch::new("p"), "y", "y", vec![], Expect::Absent).check("thing", "x", Expect::Rev(x));
    let revs = s.commit(b).await.unwrap();
    assert_eq!(revs[1], 0);
    assert!(revs[0] > x);
}

async fn listing_and_prefixes<S: Store>(s: &S) {
    for k in ["b", "a", "ab", "c", "abc"] {
        s.commit(put(Batch::new("p"), k, k, vec![], Expect::Absent))
            .await
            .unwrap();
    }
    let keys = |v: Vec<crate::Record>| v.into_iter().map(|r| r.key).collect::<Vec<_>>();
    assert_eq!(
        keys(s.list("p", "thing", "", None, 10).unwrap()),
        ["a", "ab", "abc", "b", "c"]
    );
    assert_eq!(
        keys(s.list("p", "thing", "", Some("ab"), 2).unwrap()),
        ["abc", "b"]
    );
    assert_eq!(
        keys(s.list("p", "thing", "ab", None, 10).unwrap()),
        ["ab", "abc"]
    );
    assert_eq!(
        keys(s.list("p", "thing", "ab", Some("ab"), 10).unwrap()),
        ["abc"]
    );
    assert_eq!(
        keys(s.list("p", "other", "", None, 10).unwrap()),
        Vec::<String>::new()
    );
}

async fn terms_follow_records<S: Store>(s: &S) {
    let t = |n: &str, v: &str| Term::new(n, v);
    let t1 = s
        .commit(put(
            Batch::new("p"),
            "t1",
            "{}",
            vec![t("attr:color", "red"), t("group", "g1")],
            Expect::Absent,
        ))
        .await
        .unwrap()[0];
    s.commit(put(
        Batch::new("p"),
        "t2",
        "{}",
        vec![t("attr:color", "reddish"), t("group", "g1")],
        Expect::Absent,
    ))
    .await
    .unwrap();
    s.commit(put(
        Batch::new("p"),
        "t3",
        "{}",
        vec![t("attr:color", "blue")],
        Expect::Absent,
    ))
    .await
    .unwrap();
    let keys = |v: Vec<crate::Record>| v.into_iter().map(|r| r.key).collect::<Vec<_>>();
    let by = |name: &str, m: TermMatch<'_>, after: Option<&str>| {
        keys(s.list_by_term("p", "thing", name, m, after, 10).unwrap())
    };
    assert_eq!(by("attr:color", TermMatch::Exact("red"), None), ["t1"]);
    assert_eq!(
        by("attr:color", TermMatch::Prefix("red"), None),
        ["t1", "t2"]
    );
    assert_eq!(
        by("attr:color", TermMatch::Prefix("red"), Some("t1")),
        ["t2"]
    );
    assert_eq!(by("group", TermMatch::Exact("g1"), None), ["t1", "t2"]);
    let count = |name: &str, m: TermMatch<'_>, limit: usize| {
        s.count_by_term("p", "thing", name, m, limit).unwrap()
    };
    assert_eq!(count("attr:color", TermMatch::Prefix("red"), 10), 2);
    assert_eq!(count("attr:color", TermMatch::Prefix("red"), 1), 1);
    assert_eq!(count("attr:color", TermMatch::Exact("red"), 10), 1);
    assert_eq!(count("attr:color", TermMatch::Exact("re"), 10), 0);
    // Replacing a record replaces its terms.
    s.commit(put(
        Batch::new("p"),
        "t1",
        "{}",
        vec![t("attr:color", "green")],
        Expect::Rev(t1),
    ))
    .await
    .unwrap();
    assert_eq!(by("group", TermMatch::Exact("g1"), None), ["t2"]);
    assert_eq!(by("attr:color", TermMatch::Exact("green"), None), ["t1"]);
    s.commit(Batch::new("p").delete("thing", "t2", Expect::Present))
        .await
        .unwrap();
    assert_eq!(
        by("group", TermMatch::Exact("g1"), None),
        Vec::<String>::new()
    );
}

async fn partitions_are_isolated<S: Store>(s: &S) {
    s.commit(put(
        Batch::new("111/us-east-1"),
        "a",
        "us",
        vec![Term::new("n", "v")],
        Expect::Absent,
    ))
    .await
    .unwrap();
    s.commit(put(
        Batch::new("111/eu-west-1"),
        "a",
        "eu",
        vec![],
        Expect::Absent,
    ))
    .await
    .unwrap();
    assert_eq!(
        s.get("111/eu-west-1", "thing", "a").unwrap().unwrap().doc,
        b"eu"
    );
    assert_eq!(s.get("222/us-east-1", "thing", "a").unwrap(), None);
    assert!(s
        .list_by_term(
            "111/eu-west-1",
            "thing",
            "n",
            TermMatch::Exact("v"),
            None,
            5
        )
        .unwrap()
        .is_empty());
}

/// `delete_partition` removes every record and term of one partition and nothing of another,
/// and is announced as `(ALL_KINDS, "")`.
async fn a_partition_is_emptied_whole<S: Store>(s: &S) {
    let mut changes = s.changes();
    for p in ["p", "q"] {
        s.commit(put(
            Batch::new(p),
            "a",
            "{}",
            vec![Term::new("n", "v")],
            Expect::Any,
        ))
        .await
        .unwrap();
        s.commit(Batch::new(p).put("other", "b", 1, b"{}".to_vec(), vec![], Expect::Any))
            .await
            .unwrap();
    }
    assert_eq!(s.partitions().unwrap(), ["p", "q"]);
    s.commit(Batch::new("p").delete_partition()).await.unwrap();
    assert_eq!(s.partitions().unwrap(), ["q"]);
    for kind in ["thing", "other"] {
        assert!(
            s.list("p", kind, "", None, 10).unwrap().is_empty(),
            "{kind} is gone"
        );
        assert_eq!(
            s.list("q", kind, "", None, 10).unwrap().len(),
            1,
            "q keeps {kind}"
        );
    }
    let by_term = |p: &str| {
        s.list_by_term(p, "thing", "n", TermMatch::Exact("v"), None, 10)
            .unwrap()
            .len()
    };
    assert_eq!((by_term("p"), by_term("q")), (0, 1));
    // A record written again after the reset starts afresh.
    s.commit(put(Batch::new("p"), "a", "2", vec![], Expect::Absent))
        .await
        .unwrap();
    let mut last = None;
    while let Ok(c) = changes.try_recv() {
        last = Some(c);
        if last
            .as_ref()
            .is_some_and(|c| c.records.iter().any(|(k, _)| k == crate::model::ALL_KINDS))
        {
            break;
        }
    }
    let c = last.expect("the reset was announced");
    assert_eq!(c.partition, "p");
    assert_eq!(
        c.records,
        vec![(crate::model::ALL_KINDS.to_string(), String::new())]
    );
}

async fn concurrent_commits_all_land<S: Store>(s: &S) {
    let futs: Vec<_> = (0..200)
        .map(|i| {
            s.commit(put(
                Batch::new("c"),
                &format!("k{i:03}"),
                "{}",
                vec![],
                Expect::Absent,
            ))
        })
        .collect();
    for f in futs {
        f.await.unwrap();
    }
    assert_eq!(s.list("c", "thing", "", None, 1000).unwrap().len(), 200);
}

async fn ordered_by_term_value<S: Store>(s: &S) {
    // Two records share a value, so the key breaks the tie; "b" has another prefix.
    for (key, value) in [
        ("k1", "a|003"),
        ("k2", "a|001"),
        ("k3", "a|002"),
        ("k4", "a|002"),
        ("k5", "b|000"),
    ] {
        s.commit(put(
            Batch::new("p"),
            key,
            "{}",
            vec![Term::new("created", value)],
            Expect::Absent,
        ))
        .await
        .unwrap();
    }
    let keys =
        |v: Vec<(String, crate::Record)>| v.into_iter().map(|(_, r)| r.key).collect::<Vec<_>>();
    let asc = s
        .list_by_term_ordered("p", "thing", "created", "a|", None, false, 10)
        .unwrap();
    assert_eq!(keys(asc), ["k2", "k3", "k4", "k1"]);
    let desc = s
        .list_by_term_ordered("p", "thing", "created", "a|", None, true, 10)
        .unwrap();
    assert_eq!(keys(desc), ["k1", "k4", "k3", "k2"]);
    let page = s
        .list_by_term_ordered(
            "p",
            "thing",
            "created",
            "a|",
            Some(("a|002", "k3")),
            false,
            2,
        )
        .unwrap();
    assert_eq!(keys(page), ["k4", "k1"]);
    let page = s
        .list_by_term_ordered(
            "p",
            "thing",
            "created",
            "a|",
            Some(("a|002", "k4")),
            true,
            10,
        )
        .unwrap();
    assert_eq!(keys(page), ["k3", "k2"]);
    let all = s
        .list_by_term_ordered("p", "thing", "created", "", None, true, 10)
        .unwrap();
    assert_eq!(all.first().map(|(v, _)| v.as_str()), Some("b|000"));
}

/// Every committed batch is announced once, numbered, with the keys it put or deleted, before
/// its caller is answered; a refused batch is not announced; a prefix listing starts at its
/// prefix whatever comes before it.
async fn committed_changes_are_announced<S: Store>(s: &S) {
    let mut rx = s.changes();
    assert_eq!(s.announced(), 0);
    s.commit(
        put(Batch::new("p"), "a", "1", vec![], Expect::Absent)
            .check("thing", "zzz", Expect::Absent)
            .delete("shadow", "a/", Expect::Any),
    )
    .await
    .unwrap();
    assert_eq!(s.announced(), 1, "announced before the commit resolved");
    let refused = s
        .commit(put(Batch::new("p"), "a", "2", vec![], Expect::Absent))
        .await;
    assert!(refused.is_err());
    s.commit(put(Batch::new("q"), "b", "1", vec![], Expect::Any))
        .await
        .unwrap();
    let first = rx.try_recv().unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.partition, "p");
    assert_eq!(
        first.records,
        vec![
            ("thing".to_string(), "a".to_string()),
            ("shadow".to_string(), "a/".to_string())
        ]
    );
    let second = rx.try_recv().unwrap();
    assert_eq!((second.seq, second.partition.as_str()), (2, "q"));
    assert!(rx.try_recv().is_err(), "the refused batch is not announced");
    assert_eq!(s.announced(), 2);
}
