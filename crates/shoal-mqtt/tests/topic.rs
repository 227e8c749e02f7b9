//! Topic names, filters and matching: the examples of §4.7 (identical in MQTT 3.1.1 and 5.0),
//! Shared Subscriptions (MQTT 5.0 §4.8.2) and AWS IoT Core's limits.

use shoal_mqtt::topic::*;

#[test]
fn spec_multi_level_wildcard_examples() {
    // §4.7.1.2: "sport/tennis/player1/#" matches these three.
    for t in [
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon",
    ] {
        assert!(matches("sport/tennis/player1/#", t), "{t}");
    }
    // "sport/#" also matches the singular "sport", since # includes the parent level.
    assert!(matches("sport/#", "sport"));
    assert!(matches("sport/#", "sport/"));
    assert!(!matches("sport/tennis/#", "sport"));
    assert!(!matches("sport/tennis/player1/#", "sport/tennis/player2"));
    // "#" matches every topic (that does not start with $).
    for t in ["a", "/", "a/b/c", "/finance", "sport/tennis/player1"] {
        assert!(matches("#", t), "{t}");
    }
    // "sport/tennis#" and "sport/tennis/#/ranking" are not valid filters.
    assert!(!valid_topic_filter("sport/tennis#"));
    assert!(!valid_topic_filter("sport/tennis/#/ranking"));
    assert!(valid_topic_filter("#"));
    assert!(valid_topic_filter("sport/tennis/#"));
}

#[test]
fn spec_single_level_wildcard_examples() {
    // §4.7.1.3
    assert!(matches("sport/tennis/+", "sport/tennis/player1"));
    assert!(matches("sport/tennis/+", "sport/tennis/player2"));
    assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
    assert!(!matches("sport/+", "sport"));
    assert!(matches("sport/+", "sport/"));
    assert!(matches("+", "sport"));
    assert!(!matches("+", "/finance"));
    assert!(matches("+/+", "/finance"));
    assert!(matches("/+", "/finance"));
    assert!(matches("+/tennis/#", "sport/tennis/player1"));
    assert!(!matches("+/tennis/#", "sport/football/player1"));
    for f in ["+", "+/tennis/#", "sport/+/player1", "+/+", "/+"] {
        assert!(valid_topic_filter(f), "{f}");
    }
    assert!(!valid_topic_filter("sport+"));
    assert!(!valid_topic_filter("sport/+a"));
    assert!(!valid_topic_filter("++"));
}

#[test]
fn spec_dollar_topics() {
    // §4.7.2 [MQTT-4.7.2-1]
    assert!(!matches("#", "$SYS/broker/clients"));
    assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
    assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    assert!(!matches("#", "$aws/things/t/shadow/update"));
    assert!(matches(
        "$aws/things/+/shadow/#",
        "$aws/things/t/shadow/update/accepted"
    ));
    // Only a leading $ is special.
    assert!(matches("#", "a/$SYS"));
    assert!(matches("+/$x", "a/$x"));
}

#[test]
fn spec_topic_semantics() {
    // §4.7.3: case-sensitive, spaces allowed, a leading or trailing "/" makes a distinct level.
    assert!(!matches("ACCOUNTS", "Accounts"));
    assert!(matches("Accounts payable", "Accounts payable"));
    assert!(!matches("finance", "/finance"));
    assert!(!matches("/finance", "finance"));
    assert!(!matches("a/b", "a/b/"));
    assert!(matches("a//b", "a//b"));
    assert!(matches("a/+/b", "a//b"));
    assert!(valid_topic_name("/"));
    assert!(valid_topic_filter("/"));
}

#[test]
fn topic_name_validity() {
    for t in ["a", "a/b", "/", "//", "$SYS/x", "ünï/çødé", "with space"] {
        assert!(valid_topic_name(t), "{t}");
    }
    for t in ["", "a/+", "#", "a/b#", "a\0b"] {
        assert!(!valid_topic_name(t), "{t:?}");
    }
    assert!(valid_topic_name(&"x".repeat(65_535)));
    assert!(!valid_topic_name(&"x".repeat(65_536)));
}

#[test]
fn topic_filter_validity() {
    for f in ["a", "a/b", "+", "#", "+/#", "a/+/b", "/#", "$SYS/#"] {
        assert!(valid_topic_filter(f), "{f}");
    }
    for f in ["", "a#", "#/a", "a/#/b", "a+", "+a", "a/b+/c", "a\0"] {
        assert!(!valid_topic_filter(f), "{f:?}");
    }
}

#[test]
fn shared_subscriptions() {
    // MQTT 5.0 §4.8.2
    assert_eq!(
        shared_subscription("$share/consumer1/sport/tennis/+"),
        Some(("consumer1", "sport/tennis/+"))
    );
    assert_eq!(shared_subscription("$share/g/#"), Some(("g", "#")));
    assert_eq!(shared_subscription("$share/g//a"), Some(("g", "/a")));
    for f in [
        "sport/tennis",
        "$share/",
        "$share/g",
        "$share/g/",
        "$share//a",
        "$share/+/a",
        "$share/g#/a",
        "$SHARE/g/a",
        "$shared/g/a",
    ] {
        assert_eq!(shared_subscription(f), None, "{f}");
    }
    assert!(valid_topic_filter("$share/g/a/+/#"));
    assert!(!valid_topic_filter("$share/g"));
    assert!(!valid_topic_filter("$share/g/a#"));
    assert!(!valid_topic_filter("$share/+/a"));
    // Matching uses the filter part.
    let (_, f) = shared_subscription("$share/g/sport/+").unwrap();
    assert!(matches(f, "sport/tennis"));
}

#[test]
fn aws_limits() {
    assert_eq!(aws_topic_ok("a/b/c/d/e/f/g/h"), Ok(()));
    assert!(aws_topic_ok("a/b/c/d/e/f/g/h/i").is_err());
    assert!(aws_topic_ok("////////").is_err());
    assert_eq!(aws_topic_ok("///////"), Ok(()));
    assert_eq!(aws_topic_ok(&"x".repeat(256)), Ok(()));
    assert!(aws_topic_ok(&"x".repeat(257)).is_err());
    // Bytes, not characters: 128 two-byte characters fit, 129 do not.
    assert_eq!(aws_topic_ok(&"é".repeat(128)), Ok(()));
    assert!(aws_topic_ok(&"é".repeat(129)).is_err());
    assert_eq!(AWS_MAX_TOPIC_BYTES, 256);
    assert_eq!(AWS_MAX_TOPIC_SLASHES, 7);
}

/// A reference implementation of matching that allocates, to compare `matches` against.
fn matches_slow(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let f: Vec<&str> = filter.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    for (i, level) in f.iter().enumerate() {
        if *level == "#" {
            return true;
        }
        match t.get(i) {
            Some(tl) if *level == "+" || level == tl => {}
            _ => return false,
        }
    }
    f.len() == t.len()
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::FileFailurePersistence;

    fn level() -> impl Strategy<Value = String> {
        proptest::sample::select(vec!["", "a", "b", "ab", "$x", "+", "#"]).prop_map(String::from)
    }

    fn joined(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(level(), 1..max).prop_map(|v| v.join("/"))
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
            ..ProptestConfig::default()
        })]

        #[test]
        fn matches_agrees_with_the_reference(filter in joined(6), topic in joined(6)) {
            prop_assume!(valid_topic_filter(&filter));
            prop_assume!(valid_topic_name(&topic));
            prop_assert_eq!(matches(&filter, &topic), matches_slow(&filter, &topic));
        }

        #[test]
        fn a_valid_name_matches_itself_and_hash(topic in joined(8)) {
            prop_assume!(valid_topic_name(&topic));
            prop_assert!(valid_topic_filter(&topic) || topic.starts_with("$share/"));
            prop_assert!(matches(&topic, &topic));
            prop_assert_eq!(matches("#", &topic), !topic.starts_with('$'));
        }

        #[test]
        fn topic_functions_never_panic(s in "\\PC{0,40}") {
            let _ = valid_topic_name(&s);
            let _ = valid_topic_filter(&s);
            let _ = shared_subscription(&s);
            let _ = aws_topic_ok(&s);
            let _ = matches(&s, &s);
        }
    }
}
