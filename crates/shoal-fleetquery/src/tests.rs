use super::*;
use proptest::prelude::*;
use std::ops::Bound;

fn t(field: &str, v: &str) -> Query {
    Query::Term {
        field: Some(field.into()),
        value: Value::Word(v.into()),
    }
}

fn range(field: &str, lower: Bound<&str>, upper: Bound<&str>) -> Query {
    let own = |b: Bound<&str>| b.map(str::to_string);
    Query::Range {
        field: field.into(),
        lower: own(lower),
        upper: own(upper),
    }
}

fn pat(field: &str, pieces: Vec<Piece>) -> Query {
    Query::Term {
        field: Some(field.into()),
        value: Value::Pattern(Pattern(pieces)),
    }
}

fn text(s: &str) -> Piece {
    Piece::Text(s.into())
}

/// The example queries of AWS's query-syntax and example-queries pages.
#[test]
fn aws_documented_examples_parse_as_documented() {
    use Bound::*;
    let cases: Vec<(&str, Query)> = vec![
        ("thingName:myThing", t("thingName", "myThing")),
        (
            "thingName:my*",
            pat("thingName", vec![text("my"), Piece::Any]),
        ),
        (
            "thingName:ab?",
            pat("thingName", vec![text("ab"), Piece::One]),
        ),
        (
            "attributes.myAttribute:i*t",
            pat(
                "attributes.myAttribute",
                vec![text("i"), Piece::Any, text("t")],
            ),
        ),
        (
            "thingName:abc thingType:xyz",
            Query::And(vec![t("thingName", "abc"), t("thingType", "xyz")]),
        ),
        (
            "thingName:abc OR thingType:xyz",
            Query::Or(vec![t("thingName", "abc"), t("thingType", "xyz")]),
        ),
        (
            "attributes.attr1:abc AND NOT attributes.attr2:xyz",
            Query::And(vec![
                t("attributes.attr1", "abc"),
                Query::Not(Box::new(t("attributes.attr2", "xyz"))),
            ]),
        ),
        (
            "attributes.attr2<5",
            range("attributes.attr2", Unbounded, Excluded("5")),
        ),
        (
            "attributes.attr3>10",
            range("attributes.attr3", Excluded("10"), Unbounded),
        ),
        (
            "attributes.attr3>=10",
            range("attributes.attr3", Included("10"), Unbounded),
        ),
        (
            "shadow.reported.temp<=-5",
            range("shadow.reported.temp", Unbounded, Included("-5")),
        ),
        (
            "connectivity.timestamp > 1557651600000",
            range(
                "connectivity.timestamp",
                Excluded("1557651600000"),
                Unbounded,
            ),
        ),
        (
            "attributes.version:[1 TO 3]",
            range("attributes.version", Included("1"), Included("3")),
        ),
        (
            "shadow.reported.temp:{75 TO 80]",
            range("shadow.reported.temp", Excluded("75"), Included("80")),
        ),
        (
            "attributes.name:[\"abcd\" TO \"abcf\"]",
            range("attributes.name", Included("abcd"), Included("abcf")),
        ),
        (
            "connectivity.timestamp : [1557651600000 TO 1557867600000]",
            range(
                "connectivity.timestamp",
                Included("1557651600000"),
                Included("1557867600000"),
            ),
        ),
        (
            "thingName:(tv* AND -plasma)",
            Query::And(vec![
                pat("thingName", vec![text("tv"), Piece::Any]),
                Query::Not(Box::new(t("thingName", "plasma"))),
            ]),
        ),
        (
            "parentGroupNames:(myParentThingGroupName OR myRootThingGroupName)",
            Query::Or(vec![
                t("parentGroupNames", "myParentThingGroupName"),
                t("parentGroupNames", "myRootThingGroupName"),
            ]),
        ),
        (
            "shadow.reported.location:*",
            Query::Term {
                field: Some("shadow.reported.location".into()),
                value: Value::Exists,
            },
        ),
        ("*", Query::All),
        (
            "shadow.reported.firmware:1.1.0",
            t("shadow.reported.firmware", "1.1.0"),
        ),
        (
            "thingName: 2022*",
            pat("thingName", vec![text("2022"), Piece::Any]),
        ),
        (
            "attributes.serial\\:no:a\\*b",
            t("attributes.serial:no", "a*b"),
        ),
        (
            "thingGroupNames:fleet1 AND shadow.reported.temp>30",
            Query::And(vec![
                t("thingGroupNames", "fleet1"),
                range("shadow.reported.temp", Excluded("30"), Unbounded),
            ]),
        ),
        (
            "shadow.name.myShadow.hasDelta:true",
            t("shadow.name.myShadow.hasDelta", "true"),
        ),
        (
            "abc",
            Query::Term {
                field: None,
                value: Value::Word("abc".into()),
            },
        ),
        (
            "attributes.fw_version=2.0",
            t("attributes.fw_version", "2.0"),
        ),
        ("attributes.wattage = 7", t("attributes.wattage", "7")),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input), Ok(want), "{input}");
    }
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    let q = parse("a:1 OR b:2 c:3 AND NOT d:4").unwrap();
    assert_eq!(
        q,
        Query::Or(vec![
            t("a", "1"),
            Query::And(vec![
                t("b", "2"),
                t("c", "3"),
                Query::Not(Box::new(t("d", "4")))
            ])
        ])
    );
}

#[test]
fn malformed_queries_say_where() {
    let cases = [
        ("thingName:(a OR b", 10, "unbalanced '('"),
        ("thingName:a)", 11, "unbalanced ')'"),
        ("thingName:", 10, "expected a value"),
        ("a:1 AND", 7, "expected a term"),
        ("AND a:1", 0, "operator"),
        ("attributes.x:\"abc", 13, "unterminated"),
        ("attributes.x:[1 2]", 13, "TO"),
        ("attributes.x:[1 TO 2", 13, "unterminated range"),
        ("attributes.x>", 13, "expected a value"),
        ("", 0, "empty"),
        ("   ", 0, "empty"),
    ];
    for (input, pos, reason) in cases {
        let e = parse(input).expect_err(input);
        assert_eq!(e.position, pos, "{input}: {e}");
        assert!(e.reason.contains(reason), "{input}: {e}");
        assert!(e.to_string().contains(&format!("position {}", pos + 1)));
    }
}

#[test]
fn aws_limits_on_terms_and_leading_wildcards() {
    let twelve = (0..12).map(|i| format!("a:{i}")).collect::<Vec<_>>();
    assert!(parse(&twelve.join(" OR ")).is_ok());
    let thirteen = (0..13).map(|i| format!("a:{i}")).collect::<Vec<_>>();
    let e = parse(&thirteen.join(" OR ")).unwrap_err();
    assert!(e.reason.contains("13 terms"), "{e}");

    assert!(parse("thingName:*sensor").is_ok());
    assert!(parse("thingName:*sensor OR thingName:?lamp").is_err());
    let long = format!("thingName:*s AND attributes.x:{}", "y".repeat(90));
    assert!(parse(&long).unwrap_err().reason.contains("100"));
}

fn word() -> impl Strategy<Value = String> {
    // Letters, digits and the characters that appear in names and values, plus a few that
    // need escaping, so that printing must escape them.
    proptest::string::string_regex("[A-Za-z0-9_.@#/=-][A-Za-z0-9_.@#/=:*()-]{0,8}").unwrap()
}

fn field() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "(thingName|attributes\\.[a-z]{1,4}|shadow\\.reported\\.[a-z]{1,3})",
    )
    .unwrap()
}

fn leaf() -> impl Strategy<Value = Query> {
    let bound = || {
        prop_oneof![
            Just(Bound::Unbounded),
            word().prop_map(Bound::Included),
            word().prop_map(Bound::Excluded)
        ]
    };
    prop_oneof![
        (proptest::option::of(field()), word()).prop_map(|(field, w)| Query::Term {
            field,
            value: Value::Word(w)
        }),
        (proptest::option::of(field()), "[a-z \"\\\\]{1,6}").prop_map(|(field, p)| Query::Term {
            field,
            value: Value::Phrase(p)
        }),
        field().prop_map(|f| Query::Term {
            field: Some(f),
            value: Value::Exists
        }),
        (field(), "[a-z]{1,3}").prop_map(|(f, w)| Query::Term {
            field: Some(f),
            value: Value::Pattern(Pattern(vec![Piece::Text(w), Piece::Any]))
        }),
        (field(), bound(), bound()).prop_map(|(field, lower, upper)| Query::Range {
            field,
            lower,
            upper
        }),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Query::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Query::Or),
            inner.prop_map(|q| Query::Not(Box::new(q))),
        ]
    })
}

/// Nested ANDs (or ORs) mean the same as one flat list, which is what the parser builds.
fn flat(q: Query) -> Query {
    match q {
        Query::And(qs) => Query::And(
            qs.into_iter()
                .map(flat)
                .flat_map(|q| match q {
                    Query::And(inner) => inner,
                    q => vec![q],
                })
                .collect(),
        ),
        Query::Or(qs) => Query::Or(
            qs.into_iter()
                .map(flat)
                .flat_map(|q| match q {
                    Query::Or(inner) => inner,
                    q => vec![q],
                })
                .collect(),
        ),
        Query::Not(q) => Query::Not(Box::new(flat(*q))),
        q => q,
    }
}

#[test]
fn values_spelled_like_symbolic_operators_print_escaped() {
    for v in ["\\&&", "\\||", "\\!"] {
        let q = parse(&format!("a AND {v}")).unwrap();
        assert_eq!(parse(&q.to_string()), Ok(q.clone()), "{q}");
    }
}

#[test]
fn nesting_and_length_are_bounded_without_overflowing_the_stack() {
    // Run on a small stack: each level of a deep query used to take a recursion.
    let worker = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            for q in [
                "(".repeat(4_000) + "a:b",
                "NOT ".repeat(4_000) + "a:b",
                "-".repeat(4_000) + "a:b",
                "x:".to_string() + &"(".repeat(4_000) + "a",
            ] {
                let e = parse(&q).unwrap_err();
                assert!(e.reason.contains("nest"), "{}", e.reason);
            }
            let deep = "(".repeat(MAX_NESTING) + "a:b" + &")".repeat(MAX_NESTING);
            assert!(parse(&deep).is_ok());
            let too_deep = "(".repeat(MAX_NESTING + 1) + "a:b" + &")".repeat(MAX_NESTING + 1);
            assert_eq!(parse(&too_deep).unwrap_err().position, MAX_NESTING);
            let long = format!("a:{}", "x".repeat(MAX_QUERY_CHARS));
            assert!(parse(&long).unwrap_err().reason.contains("longer"));
        })
        .unwrap();
    worker.join().unwrap();
}

proptest! {
    #[test]
    fn printing_then_parsing_gives_the_same_query(q in query()) {
        prop_assume!(q.term_count() <= MAX_TERMS);
        let q = flat(q);
        let printed = q.to_string();
        prop_assert_eq!(parse(&printed), Ok(q), "{}", printed);
    }

    #[test]
    fn any_input_parses_or_fails_with_a_position_inside_it(s in "\\PC{0,60}") {
        match parse(&s) {
            Ok(q) => prop_assert!(q.term_count() <= MAX_TERMS),
            Err(e) => prop_assert!(e.position <= s.chars().count(), "{:?}", e),
        }
    }

    #[test]
    fn syntax_soup_never_panics(s in "[a-z:()\\[\\]{}\"<>=*? ANDORT\\\\-]{0,40}") {
        let _ = parse(&s);
    }
}
