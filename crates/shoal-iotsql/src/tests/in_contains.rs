//! The IN and CONTAINS operators (iot-sql-operators.html): the page's example, the operand
//! types its tables list, Undefined for the rest, precedence and printing.

use serde_json::json;

use super::*;
use crate::ast::{BinaryOp, Expr, Select, UnaryOp};
use crate::parse;

const ARR: &str = r#"{"arr":[1, 2, 3, "three", 5.7, null, [1, 2], {"a": 1}], "s": "hello"}"#;

#[test]
fn in_example_from_the_page() {
    // `where 3 in arr` is true because 3 is in the array, which may mix types.
    let payload = r#"{"arr":[1, 2, 3, "three", 5.7, null]}"#;
    assert_eq!(
        run("select * from 'a/b' where 3 in arr", payload),
        Some(json!({"arr":[1, 2, 3, "three", 5.7, null]}))
    );
    assert_eq!(run("select * from 'a/b' where 4 in arr", payload), None);
    // IN works whatever the SQL version when the array comes from the payload.
    assert_eq!(
        run_v("SELECT * FROM 'a/b' WHERE 3 IN arr", payload, V1),
        Some(json!({"arr":[1, 2, 3, "three", 5.7, null]}))
    );
}

#[test]
fn in_finds_each_listed_type_as_equals_compares() {
    let t = |e: &str| val(e, ARR);
    assert_eq!(t("3 IN arr"), Some(json!(true)));
    assert_eq!(t("3.0 IN arr"), Some(json!(true)));
    assert_eq!(t("5.7 IN arr"), Some(json!(true)));
    assert_eq!(t("'three' IN arr"), Some(json!(true)));
    assert_eq!(t("'3' IN arr"), Some(json!(false)));
    assert_eq!(t("[1, 2] IN arr"), Some(json!(true)));
    assert_eq!(t("[2, 1] IN arr"), Some(json!(false)));
    assert_eq!(t("{'a': 1} IN arr"), Some(json!(true)));
    assert_eq!(t("'x' IN []"), Some(json!(false)));
    assert_eq!(t("s IN ['hello', 'world']"), Some(json!(true)));
}

#[test]
fn in_is_undefined_for_pairs_the_table_does_not_list() {
    let t = |e: &str| val(e, ARR);
    // The right operand must be an Array.
    assert_eq!(t("3 IN 3"), None);
    assert_eq!(t("'ell' IN s"), None);
    assert_eq!(t("3 IN missing"), None);
    // The left one an Int, Decimal, String, Array or Object.
    assert_eq!(t("missing IN arr"), None);
    assert_eq!(t("NULL IN arr"), None);
    assert_eq!(t("true IN [true]"), None);
    // So a WHERE on them does not match.
    assert_eq!(run("SELECT * FROM 'a' WHERE missing IN arr", ARR), None);
}

#[test]
fn contains_finds_substrings_and_array_elements() {
    let t = |e: &str| val(e, ARR);
    assert_eq!(t("s CONTAINS 'ell'"), Some(json!(true)));
    assert_eq!(t("s CONTAINS ''"), Some(json!(true)));
    assert_eq!(t("s CONTAINS 'ELL'"), Some(json!(false)));
    assert_eq!(t("arr CONTAINS 3"), Some(json!(true)));
    assert_eq!(t("arr CONTAINS 'three'"), Some(json!(true)));
    assert_eq!(t("arr CONTAINS [1, 2]"), Some(json!(true)));
    assert_eq!(t("arr CONTAINS {'a': 1}"), Some(json!(true)));
    assert_eq!(t("arr CONTAINS 4"), Some(json!(false)));
    // Pairs the table does not list.
    assert_eq!(t("s CONTAINS 1"), None);
    assert_eq!(t("3 CONTAINS 3"), None);
    assert_eq!(t("arr CONTAINS NULL"), None);
    assert_eq!(t("arr CONTAINS missing"), None);
    assert_eq!(t("missing CONTAINS 'a'"), None);
    assert_eq!(
        run("SELECT s FROM 'a' WHERE s CONTAINS 'ell'", ARR),
        Some(json!({"s": "hello"}))
    );
}

#[test]
fn precedence_of_a_comparison() {
    let e = |s: &str| match parse(&format!("SELECT VALUE {s} FROM 'a'"), V2)
        .unwrap()
        .select
    {
        Select::Value(e) => e,
        _ => unreachable!(),
    };
    let f = |n: &str| Box::new(Expr::Field(n.into()));
    let b = |op, l, r| Box::new(Expr::Binary(op, l, r));
    assert_eq!(
        e("NOT a IN b"),
        Expr::Unary(UnaryOp::Not, b(BinaryOp::In, f("a"), f("b")))
    );
    assert_eq!(
        e("a + c IN b AND d"),
        *b(
            BinaryOp::And,
            b(BinaryOp::In, b(BinaryOp::Add, f("a"), f("c")), f("b")),
            f("d")
        )
    );
    assert_eq!(
        e("a CONTAINS b = c"),
        *b(BinaryOp::Eq, b(BinaryOp::Contains, f("a"), f("b")), f("c"))
    );
    let t = |e: &str| val(e, ARR);
    assert_eq!(t("NOT 4 IN arr"), Some(json!(true)));
    assert_eq!(t("1 + 2 IN arr"), Some(json!(true)));
    assert_eq!(t("3 IN arr AND arr CONTAINS 'three'"), Some(json!(true)));
}

#[test]
fn keywords_print_and_parse_back() {
    for (input, printed) in [
        (
            "select * from 'a' where not x in [1, 2]",
            "SELECT * FROM 'a' WHERE NOT x IN [1, 2]",
        ),
        (
            "select value (a in b) in c from 'a'",
            "SELECT VALUE a IN b IN c FROM 'a'",
        ),
        (
            "select value a in (b in c) from 'a'",
            "SELECT VALUE a IN (b IN c) FROM 'a'",
        ),
        (
            "select value s contains 'x' from 'a'",
            "SELECT VALUE s CONTAINS 'x' FROM 'a'",
        ),
    ] {
        let stmt = parse(input, V2).unwrap();
        assert_eq!(stmt.to_string(), printed);
        assert_eq!(parse(printed, V2).unwrap(), stmt);
    }
    // Both are keywords now, so neither names a top-level field (a member still may); `value`
    // before either is the field, not SELECT VALUE.
    assert_eq!(err_at("SELECT in FROM 'a'", V2).0, 7);
    assert_eq!(err_at("SELECT contains FROM 'a'", V2).0, 7);
    assert_eq!(
        val("a.contains", r#"{"a": {"contains": 1}}"#),
        Some(json!(1))
    );
    assert_eq!(
        run("SELECT value IN [1] AS v FROM 'a'", r#"{"value": 1}"#),
        Some(json!({"v": true}))
    );
    assert_eq!(
        run(
            "SELECT value CONTAINS 'x' AS v FROM 'a'",
            r#"{"value": "xy"}"#
        ),
        Some(json!({"v": true}))
    );
}
