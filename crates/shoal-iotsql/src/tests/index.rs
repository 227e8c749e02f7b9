//! The rule index keeps every statement whose WHERE is true, for any payload: checked on AWS
//! shaped thresholds by hand, and by property against the evaluator itself.

use proptest::prelude::*;

use crate::{parse, Context, RuleIndex, SqlVersion, Statement};

fn statements(wheres: &[&str], version: SqlVersion) -> Vec<Statement> {
    wheres
        .iter()
        .map(|w| parse(&format!("SELECT * FROM 'a/#' WHERE {w}"), version).unwrap())
        .collect()
}

/// The variables the WHEREs below may read, one named like a payload field it is not.
const SET: &str = "SET @a = a, @cd = c.d, @b = 1, @e = e + 1, @temperature = 0";

fn matching(stmts: &[Statement], ctx: &Context) -> Vec<usize> {
    stmts
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.evaluate_output(ctx), Ok(Some(_))))
        .map(|(i, _)| i)
        .collect()
}

fn candidates(stmts: &[Statement], ctx: &Context) -> Vec<usize> {
    let index = RuleIndex::new(stmts.iter().enumerate());
    let mut out = Vec::new();
    index.candidates(ctx.payload, &mut out);
    out
}

#[test]
fn thresholds_keep_only_the_rules_a_value_can_pass() {
    let wheres = [
        "temperature > 30",
        "temperature >= 50 AND humidity < 20",
        "40 < temperature",
        "temperature < -5",
        "device = 'pump-7'",
        "reading.value = 12.5",
        "upper(device) = 'X'",
        "temperature <> 3",
    ];
    let stmts = statements(&wheres, SqlVersion::V2016_03_23);
    let ctx = Context::new(
        "a/b",
        br#"{"temperature": 45, "device": "pump-7", "reading": {"value": 12.5}}"#,
        0,
    );
    // 0, 2 (45 > 30, 45 > 40), 4, 5 by the index; 6 and 7 always; 1 and 3 left out.
    assert_eq!(candidates(&stmts, &ctx), vec![0, 2, 4, 5, 6, 7]);
    assert!(matching(&stmts, &ctx)
        .iter()
        .all(|i| candidates(&stmts, &ctx).contains(i)));
    // A payload without the fields keeps only what is always evaluated.
    let ctx = Context::new("a/b", br#"{"other": 1}"#, 0);
    assert_eq!(candidates(&stmts, &ctx), vec![6, 7]);
    // Numeric strings are numbers to `<` and `>`, never to `=`.
    let ctx = Context::new(
        "a/b",
        br#"{"temperature": "35", "reading": {"value": "12.5"}}"#,
        0,
    );
    assert_eq!(candidates(&stmts, &ctx), vec![0, 6, 7]);
    // Binary payloads have no fields.
    let ctx = Context::new("a/b", &[0xff, 0x00, 0x10], 0);
    assert_eq!(candidates(&stmts, &ctx), vec![6, 7]);
}

#[test]
fn variables_are_never_taken_for_payload_paths() {
    let wheres = [
        // `@temperature` is 0 whatever the payload's temperature: indexed on `temperature`
        // this would be left out of a message it matches.
        "@temperature = 0",
        "@temperature.x = 1 OR @temperature < 1",
        // The payload path of a conjunct still indexes a statement that has variables.
        "@b = 1 AND temperature > 50",
        "temperature = @b",
    ];
    let stmts: Vec<Statement> = wheres
        .iter()
        .map(|w| {
            let sql = format!("{SET} SELECT * FROM 'a/#' WHERE {w}");
            parse(&sql, SqlVersion::V2016_03_23).unwrap()
        })
        .collect();
    let ctx = Context::new("a/b", br#"{"temperature": 45}"#, 0);
    assert_eq!(matching(&stmts, &ctx), vec![0, 1]);
    assert_eq!(candidates(&stmts, &ctx), vec![0, 1, 3]);
    let ctx = Context::new("a/b", br#"{"temperature": 60}"#, 0);
    assert_eq!(matching(&stmts, &ctx), vec![0, 1, 2]);
    assert_eq!(candidates(&stmts, &ctx), vec![0, 1, 2, 3]);
}

#[test]
fn both_bounds_on_a_path_keep_only_the_rules_whose_range_holds_the_value() {
    let wheres: Vec<String> = (0..100)
        .map(|k| format!("n >= {} AND n < {}", 9900 + k, 9901 + k))
        .collect();
    let refs: Vec<&str> = wheres.iter().map(String::as_str).collect();
    let stmts = statements(&refs, SqlVersion::V2016_03_23);
    let ctx = Context::new("a/b", br#"{"n": 9950}"#, 0);
    assert_eq!(candidates(&stmts, &ctx), vec![49, 50]);
    assert_eq!(matching(&stmts, &ctx), vec![50]);
    let ctx = Context::new("a/b", br#"{"n": 12}"#, 0);
    assert!(candidates(&stmts, &ctx).is_empty());
}

#[test]
fn only_the_indexed_fields_are_read_and_duplicates_never_lose_a_match() {
    let stmts = statements(&["c.d = 1", "c > 2", "e = 'x'"], SqlVersion::V2016_03_23);
    // The last duplicate wins in the document; the index keeps at least what it keeps.
    for body in [
        r#"{"c": {"d": 2}, "c": {"d": 1}}"#,
        r#"{"c": 5, "c": {"d": 1}}"#,
        r#"{"c": {"d": 1}, "c": 3}"#,
        r#"{"e": "y", "e": "x", "pad": [1, {"e": "x"}]}"#,
    ] {
        let ctx = Context::new("a/b", body.as_bytes(), 0);
        let kept = candidates(&stmts, &ctx);
        for m in matching(&stmts, &ctx) {
            assert!(kept.contains(&m), "{body}: {m} left out of {kept:?}");
        }
    }
    // Not JSON after a valid start: no fields at all.
    let ctx = Context::new("a/b", br#"{"e": "x"} trailing"#, 0);
    assert!(candidates(&stmts, &ctx).is_empty());
}

fn where_clause() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "a",
        "b",
        "c.d",
        "e",
        "@a",
        "@b",
        "@cd",
        "@e",
        "@temperature",
    ]);
    let op = prop::sample::select(vec!["=", "<", "<=", ">", ">=", "<>"]);
    let lit = prop_oneof![
        (-5i64..5).prop_map(|i| i.to_string()),
        (-5.0f64..5.0).prop_map(|d| format!("{d:.1}")),
        prop::sample::select(vec!["'x'", "'1'", "'true'", "true", "null"]).prop_map(str::to_string),
    ];
    let cmp = (field, op, lit, any::<bool>()).prop_map(|(f, o, l, flip)| {
        if flip {
            format!("{l} {o} {f}")
        } else {
            format!("{f} {o} {l}")
        }
    });
    prop::collection::vec(cmp, 1..4).prop_flat_map(|cs| {
        let n = cs.len();
        (Just(cs), prop::collection::vec(any::<bool>(), n)).prop_map(|(cs, ors)| {
            let mut w = cs[0].clone();
            for (c, or) in cs.iter().zip(ors).skip(1) {
                w = format!("{w} {} {c}", if or { "OR" } else { "AND" });
            }
            w
        })
    })
}

fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-6i64..6).prop_map(|i| i.to_string()),
        (-6.0f64..6.0).prop_map(|d| format!("{d:.1}")),
        prop::sample::select(vec![
            "\"x\"",
            "\"1\"",
            "\"2.0\"",
            "true",
            "null",
            "[1]",
            "{\"d\": 1}"
        ])
        .prop_map(str::to_string),
    ]
}

fn payload() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (prop::sample::select(vec!["a", "b", "c", "e"]), json_value()),
        0..4,
    )
    .prop_map(|fields| {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        format!("{{{}}}", body.join(", "))
    })
}

proptest! {
    #[test]
    fn the_index_never_leaves_out_a_match(
        wheres in prop::collection::vec(where_clause(), 1..12),
        body in payload(),
        v2 in any::<bool>(),
    ) {
        let version = if v2 { SqlVersion::V2016_03_23 } else { SqlVersion::V2015_10_08 };
        // Half the statements set variables, and those whose WHERE reads one.
        let wheres: Vec<String> = wheres
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let set = if i % 2 == 0 || w.contains('@') { SET } else { "" };
                format!("{set} SELECT * FROM 'a/#' WHERE {w}")
            })
            .collect();
        let stmts: Vec<Statement> =
            wheres.iter().map(|sql| parse(sql, version).unwrap()).collect();
        let ctx = Context::new("a/b", body.as_bytes(), 0);
        let kept = candidates(&stmts, &ctx);
        for m in matching(&stmts, &ctx) {
            prop_assert!(kept.contains(&m), "{} matches {} but was left out", wheres[m], body);
        }
    }
}
