//! SELECT, WHERE, literals, CASE, nested queries, SQL versions, Undefined and Null, operators
//! and paths, from AWS's pages.

use serde_json::{json, Value as Json};

use super::*;
use crate::ast::{BinaryOp, Expr, Select, SqlVersion, UnaryOp};
use crate::{parse, Context, EvalError};
// ---- iot-sql-select.html ----

const COLOR: &str = r#"{"color":"red", "temperature":50}"#;

#[test]
fn select_examples() {
    assert_eq!(
        run("SELECT * FROM 'a/b'", COLOR),
        Some(json!({"color":"red","temperature":50}))
    );
    assert_eq!(
        run("SELECT color FROM 'a/b'", COLOR),
        Some(json!({"color":"red"}))
    );
    assert_eq!(
        run("SELECT color AS my_color FROM 'a/b'", COLOR),
        Some(json!({"my_color":"red"}))
    );
    assert_eq!(
        run(
            "SELECT color as my_color, temperature as fahrenheit FROM 'a/b'",
            COLOR
        ),
        Some(json!({"my_color":"red","fahrenheit":50}))
    );
    assert_eq!(
        run("SELECT *, 15 as speed FROM 'a/b'", COLOR),
        Some(json!({"color":"red","temperature":50,"speed":15}))
    );
    assert_eq!(
        run("SELECT VALUE color FROM 'a/b'", COLOR),
        Some(json!("red"))
    );
    assert_eq!(
        run(
            "SELECT color.red as red_value FROM 'a/b'",
            r#"{"color":{"red":255,"green":0,"blue":0}, "temperature":50}"#
        ),
        Some(json!({"red_value":255}))
    );
    assert_eq!(
        run(
            "SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) as my_color FROM 'a/b'",
            COLOR
        ),
        Some(json!({"celsius":10,"my_color":"RED"}))
    );
}

#[test]
fn lone_wildcard_keeps_a_payload_that_is_not_an_object() {
    assert_eq!(run("SELECT * FROM 'a/b'", "[1, 2]"), Some(json!([1, 2])));
    assert_eq!(
        run("SELECT *, 1 AS x FROM 'a/b'", "[1, 2]"),
        Some(json!({"x": 1}))
    );
}

#[test]
fn where_example_from_the_reference() {
    let sql = "SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50";
    assert_eq!(
        run(sql, r#"{"color":"red","temperature":100}"#),
        Some(json!({"rgb":"red"}))
    );
    assert_eq!(run(sql, r#"{"color":"red","temperature":40}"#), None);
    // Undefined does not match.
    assert_eq!(run(sql, r#"{"color":"red"}"#), None);
}

#[test]
fn keywords_are_case_insensitive_and_from_needs_quotes() {
    // iot-sql-json.html shows `FROM topic/#`, but iot-sql-from.html requires single quotes.
    assert_eq!(err_at("SELECT temp FROM topic/#", V2).0, 17);
    assert_eq!(err_at("SELECT temp FROM \"topic/#\"", V2).0, 17);
    let stmt = parse(
        "select temp, upper(deviceid) AS id from 'topic/#' where temp > 1",
        V2,
    )
    .unwrap();
    assert_eq!(stmt.from, "topic/#");
    let ctx = Context::new("topic/x", br#"{"temp":54.98,"deviceid":"iot123"}"#, 0);
    assert_eq!(
        stmt.evaluate(&ctx).unwrap(),
        Some(json!({"temp":54.98,"id":"IOT123"}))
    );
}

#[test]
fn dotted_alias_builds_nested_objects() {
    assert_eq!(
        run(
            "SELECT foo.bar AS bar.baz FROM 'a/b'",
            r#"{"foo":{"bar":1}}"#
        ),
        Some(json!({"bar":{"baz":1}}))
    );
}

#[test]
fn default_names() {
    assert_eq!(
        run("SELECT a.b, topic(), 1 + 1 FROM 'a/b'", r#"{"a":{"b":2}}"#),
        Some(json!({"b":2,"topic":"a/b","_3":2}))
    );
}

// ---- iot-sql-literals.html ----

#[test]
fn literal_examples() {
    assert_eq!(
        run(
            "SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long FROM 'topic/subtopic'",
            r#"{"lat_long": [47.606,-122.332]}"#
        ),
        Some(json!({"lat_long":{"latitude":47.606,"longitude":-122.332}}))
    );
    assert_eq!(
        run(
            "SELECT [lat,long] as lat_long FROM 'topic/subtopic'",
            r#"{"lat": 47.606, "long": -122.332}"#
        ),
        Some(json!({"lat_long":[47.606,-122.332]}))
    );
    // Literals are 2016-03-23 only.
    assert_eq!(err_at("SELECT [1, 2] AS a FROM 'a'", V1).0, 7);
    assert_eq!(err_at("SELECT {'a': 1} AS a FROM 'a'", V1).0, 7);
    assert_eq!(v("NULL"), Some(Json::Null));
}

// ---- iot-sql-case.html ----

#[test]
fn case_examples() {
    let sql = "SELECT CASE color WHEN 'green' THEN 'go' WHEN 'yellow' THEN 'caution' WHEN 'red' THEN 'stop' ELSE 'you are not at a stop light' END as instructions FROM 'a/b'";
    assert_eq!(
        run(sql, r#"{"color":"yellow"}"#),
        Some(json!({"instructions":"caution"}))
    );
    assert_eq!(
        run(sql, r#"{"color":"blue"}"#),
        Some(json!({"instructions":"you are not at a stop light"}))
    );
    // Undefined operand: Undefined, even with an ELSE.
    assert_eq!(run(sql, "{}"), Some(json!({})));
    // No match and no ELSE: Undefined.
    assert_eq!(val("CASE 1 WHEN 2 THEN 'x' END", "{}"), None);
    // The searched form.
    assert_eq!(
        val(
            "CASE WHEN t > 30 THEN 'hot' WHEN t > 10 THEN 'mild' ELSE 'cold' END",
            r#"{"t":20}"#
        ),
        Some(json!("mild"))
    );
    assert!(parse("SELECT CASE a ELSE 1 END FROM 'a'", V2).is_err());
}

// ---- iot-sql-nested-queries.html and iot-rule-sql-version.html ----

const SENML: &str = r#"{"e": [
    { "n": "temperature", "u": "Cel", "t": 1234, "v": 22.5 },
    { "n": "light", "u": "lm", "t": 1235, "v": 135 },
    { "n": "acidity", "u": "pH", "t": 1235, "v": 7 }]}"#;

#[test]
fn nested_query_examples() {
    assert_eq!(
        run(
            "SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'",
            SENML
        ),
        Some(json!({"sensors":["temperature","light","acidity"]}))
    );
    assert_eq!(
        run(
            "SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature FROM 'my/topic'",
            SENML
        ),
        Some(json!({"temperature":[{"v":22.5}]}))
    );
    assert_eq!(
        run("SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v as temperature FROM 'topic'", SENML),
        Some(json!({"temperature":22.5}))
    );
    assert!(parse("SELECT (SELECT VALUE n FROM e) AS s FROM 'a'", V1).is_err());
}

#[test]
fn version_differences() {
    assert_eq!(
        run(
            "SELECT VALUE arr FROM 'topic'",
            r#"{"a": {"b":"c"}, "arr":[1,2,3,4]}"#
        ),
        Some(json!([1, 2, 3, 4]))
    );
    // Whole-number decimals are Ints with 2016-03-23, Decimals with 2015-10-08.
    assert_eq!(
        run_v("SELECT VALUE x / 4 FROM 'a'", r#"{"x":10.0}"#, V2),
        Some(json!(2))
    );
    assert_eq!(
        run_v("SELECT VALUE x / 4 FROM 'a'", r#"{"x":10.0}"#, V1),
        Some(json!(2.5))
    );
    assert_eq!(
        run_v("SELECT VALUE cast(10.0 AS Decimal) FROM 'a'", "{}", V2),
        Some(json!(10))
    );
    assert_eq!(
        run_v("SELECT VALUE cast(1 AS Double) FROM 'a'", "{}", V1),
        Some(json!(1.0))
    );
    assert!(parse("SELECT cast(1 AS Decimal) AS x FROM 'a'", V1).is_err());
    assert!(parse("SELECT encode(*, 'base64') AS x FROM 'a'", V1).is_err());
    assert_eq!(
        run_v("SELECT VALUE sql_version() FROM 'a'", "{}", V1),
        Some(json!("2015-10-08"))
    );
    assert_eq!(SqlVersion::from_name("2016-03-23"), Some(V2));
    assert_eq!(SqlVersion::from_name("2017-01-01"), None);
}

// ---- Undefined and Null (iot-sql-data-types.html) ----

#[test]
fn undefined_and_null() {
    assert_eq!(
        run("SELECT foo, bar FROM 'a/b'", r#"{"foo": null}"#),
        Some(json!({"foo": null}))
    );
    assert_eq!(
        run("SELECT NULL AS n FROM 'a/b'", "{}"),
        Some(json!({"n": null}))
    );
    assert_eq!(run("SELECT a + 1 AS x FROM 'a/b'", "{}"), Some(json!({})));
    assert_eq!(run("SELECT * FROM 'a/b' WHERE missing = 1", "{}"), None);
    assert_eq!(run("SELECT * FROM 'a/b' WHERE missing <> 1", "{}"), None);
    assert_eq!(v("isUndefined(floor([1,2,3]))"), Some(json!(true)));
    assert_eq!(v("isUndefined(5)"), Some(json!(false)));
    assert_eq!(v("isNull(5)"), Some(json!(false)));
    assert_eq!(v("isNull(Null)"), Some(json!(true)));
    assert_eq!(v("missing"), None);
    // SELECT VALUE of Undefined is an empty payload.
    let stmt = parse("SELECT VALUE missing FROM 'a'", V2).unwrap();
    let ctx = Context::new("a", b"{}", 0);
    assert_eq!(stmt.evaluate(&ctx), Err(EvalError::UndefinedOutput));
    assert_eq!(
        stmt.evaluate_output(&ctx).unwrap().unwrap().to_bytes(),
        Vec::<u8>::new()
    );
}

// ---- iot-sql-operators.html ----

#[test]
fn operators() {
    assert_eq!(v("'5' + 1"), Some(json!("51")));
    assert_eq!(v("1 + 'a'"), Some(json!("1a")));
    assert_eq!(v("1 + 2"), Some(json!(3)));
    assert_eq!(v("1 + 2.5"), Some(json!(3.5)));
    assert_eq!(v("true + 1"), None);
    assert_eq!(v("'6' - 1"), Some(json!(5.0)));
    assert_eq!(v("'x' - 1"), None);
    assert_eq!(v("7 / 2"), Some(json!(3)));
    assert_eq!(v("7 / 2.5"), Some(json!(2.8)));
    assert_eq!(v("1 / 0"), None);
    assert_eq!(v("7 % 3"), Some(json!(1)));
    assert_eq!(v("'7' % 2"), Some(json!(1.0)));
    assert_eq!(v("-(3)"), Some(json!(-3)));
    assert_eq!(v("2 * 3 + 4"), Some(json!(10)));
    assert_eq!(v("2 * (3 + 4)"), Some(json!(14)));
    assert_eq!(v("10 - 2 - 3"), Some(json!(5)));
    assert_eq!(
        v("9223372036854775807 + 1"),
        Some(json!(9_223_372_036_854_775_808.0))
    );
    // Comparisons convert to Decimal.
    assert_eq!(v("'10' > 9"), Some(json!(true)));
    assert_eq!(v("1.5 <= 1"), Some(json!(false)));
    assert_eq!(v("'a' < 1"), None);
    // Equality.
    assert_eq!(v("'5' = 5"), Some(json!(false)));
    assert_eq!(v("'5' <> 5"), Some(json!(true)));
    assert_eq!(v("1 = 1.0"), Some(json!(true)));
    assert_eq!(v("[1, 2] = [1, 2]"), Some(json!(true)));
    assert_eq!(v("[1, 2] = [2, 1]"), Some(json!(false)));
    assert_eq!(v("{'a': 1, 'b': 2} = {'b': 2, 'a': 1}"), Some(json!(true)));
    assert_eq!(v("NULL = NULL"), Some(json!(true)));
    assert_eq!(v("NULL <> NULL"), Some(json!(false)));
    assert_eq!(v("1 != 2"), Some(json!(true)));
    // Logic on Booleans and "true"/"false" strings.
    assert_eq!(v("'TRUE' AND true"), Some(json!(true)));
    assert_eq!(v("NOT 'false'"), Some(json!(true)));
    assert_eq!(v("NOT 1"), None);
    assert_eq!(v("1 AND true"), None);
    assert_eq!(v("false AND missing"), Some(json!(false)));
    assert_eq!(v("true OR missing"), Some(json!(true)));
    assert_eq!(v("false OR missing"), None);
}

#[test]
fn precedence() {
    let e = |s: &str| match parse(&format!("SELECT VALUE {s} FROM 'a'"), V2)
        .unwrap()
        .select
    {
        Select::Value(e) => e,
        _ => unreachable!(),
    };
    let f = |n: &str| Box::new(Expr::Field(n.into()));
    assert_eq!(
        e("a OR b AND c"),
        Expr::Binary(
            BinaryOp::Or,
            f("a"),
            Box::new(Expr::Binary(BinaryOp::And, f("b"), f("c")))
        )
    );
    assert_eq!(
        e("NOT a = b"),
        Expr::Unary(
            UnaryOp::Not,
            Box::new(Expr::Binary(BinaryOp::Eq, f("a"), f("b")))
        )
    );
    assert_eq!(
        e("-a * b"),
        Expr::Binary(
            BinaryOp::Mul,
            Box::new(Expr::Unary(UnaryOp::Neg, f("a"))),
            f("b")
        )
    );
    assert_eq!(
        e("a - b - c"),
        Expr::Binary(
            BinaryOp::Sub,
            Box::new(Expr::Binary(BinaryOp::Sub, f("a"), f("b"))),
            f("c")
        )
    );
    assert_eq!(
        e("a.b[1].c"),
        Expr::Member(
            Box::new(Expr::Index(
                Box::new(Expr::Member(f("a"), "b".into())),
                Box::new(Expr::Int(1))
            )),
            "c".into()
        )
    );
}

#[test]
fn paths() {
    let doc = r#"{"a":{"b":[{"c":1},{"c":2}]},"arr":[10,20]}"#;
    assert_eq!(val("a.b[1].c", doc), Some(json!(2)));
    assert_eq!(val("arr[0]", doc), Some(json!(10)));
    assert_eq!(val("arr[5]", doc), None);
    assert_eq!(val("arr[-1]", doc), None);
    assert_eq!(val("a.x.y", doc), None);
    assert_eq!(val("get(*, 'arr')", doc), Some(json!([10, 20])));
}

#[test]
fn every_evaluation_of_one_message_shares_one_budget() {
    // Each evaluation fits MAX_EVAL_STEPS; together they pass MAX_MESSAGE_STEPS.
    let items: Vec<String> = (0..100_000).map(|i| format!("{{\"n\":{i}}}")).collect();
    let payload = format!("{{\"a\": [{}]}}", items.join(","));
    let stmt = crate::parse(
        "SELECT VALUE (SELECT VALUE n FROM a WHERE n > -1) FROM 'x'",
        crate::SqlVersion::V2016_03_23,
    )
    .unwrap();
    let ctx = crate::Context::new("x", payload.as_bytes(), 0);
    let outcomes: Vec<bool> = (0..12)
        .map(|_| stmt.evaluate_output(&ctx).is_ok())
        .collect();
    assert!(outcomes[0], "one evaluation fits");
    assert!(outcomes.contains(&false), "twelve do not: {outcomes:?}");
    let fresh = crate::Context::new("x", payload.as_bytes(), 0);
    assert!(
        stmt.evaluate_output(&fresh).is_ok(),
        "another message has its own budget"
    );
}
