//! The SET clause (iot-sql-set.html): the page's examples with their outgoing payloads, the
//! syntax rules and limits it lists, and the crate's own bounds with variables in play.

use std::cell::Cell;

use serde_json::json;

use super::*;
use crate::ast::{Assignment, Expr};
use crate::{parse, Context, EvalError, Output, MAX_DEPTH, MAX_VARIABLE_BYTES};

// ---- "SET clause examples" ----

#[test]
fn basic_variable_usage() {
    let sql = "SET @temp_celsius = (temp_fahrenheit - 32) * 5 / 9 \
               SELECT @temp_celsius AS celsius, humidity FROM 'device/data'";
    let payload = r#"{"temp_fahrenheit": 75, "humidity": 60}"#;
    // The page gives `{"celsius": 23.89, "humidity": 60}`, but every operand here is an Int,
    // and iot-sql-operators.html's tables say Int - Int, Int * Int and Int / Int are Int
    // ("Int value. Divides the left operand by the right operand"): (75 - 32) * 5 / 9 is
    // 215 / 9, which is 23. The crate follows the tables, as it does for iot-sql-select.html's
    // `(temperature - 32) * 5 / 9` (50 gives 10).
    assert_eq!(
        run(sql, payload),
        Some(json!({"celsius": 23, "humidity": 60}))
    );
    // A Decimal operand makes the division a Decimal one, which is what 23.89 needs.
    assert_eq!(
        run(sql, r#"{"temp_fahrenheit": 75.2, "humidity": 60}"#),
        Some(json!({"celsius": (75.2 - 32.0) * 5.0 / 9.0, "humidity": 60}))
    );
}

#[test]
fn members_of_a_variable_holding_an_object() {
    let sql = "SET @device_sensor_data = device1.deviceData.sensors \
               SELECT @device_sensor_data.temp_fahrenheit AS temp_fahrenheit, \
               @device_sensor_data.humidity as humidity, device1.deviceId as deviceId \
               FROM 'device/data'";
    let payload = r#"{"device1": {"deviceId":"weather_sensor", "deviceData": {"sensors":
        {"temp_fahrenheit": 75, "humidity": 60}, "location": [47.606,-122.332]}}}"#;
    assert_eq!(
        run(sql, payload),
        Some(json!({"temp_fahrenheit":75,"humidity":60,"deviceId":"weather_sensor"}))
    );
}

#[test]
fn multiple_variables_in_select_and_where() {
    // The page's example reads `get_user_properties(device_id)`, which Shoal does not
    // implement yet; a payload object stands in for it.
    let sql = "SET @user_data = user, @threshold = 50 \
               SELECT @user_data.name, temp_fahrenheit FROM 'sensors/+' \
               WHERE temp_fahrenheit > @threshold AND @user_data.active = true";
    let hot = r#"{"temp_fahrenheit": 70, "user": {"name": "ana", "active": true}}"#;
    assert_eq!(
        run(sql, hot),
        Some(json!({"name": "ana", "temp_fahrenheit": 70}))
    );
    let cold = r#"{"temp_fahrenheit": 40, "user": {"name": "ana", "active": true}}"#;
    assert_eq!(run(sql, cold), None);
}

#[test]
fn non_json_payloads_are_encoded_first() {
    let stmt = parse(
        "SET @encoded_payload = encode(*, 'base64') \
         SELECT @encoded_payload AS raw_data FROM 'device/binary'",
        V2,
    )
    .unwrap();
    let ctx = Context::new("device/binary", &[0xff, 0x00, 0x10], 0);
    assert_eq!(stmt.evaluate(&ctx), Ok(Some(json!({"raw_data": "/wAQ"}))));
    // "SET variables does not support non-JSON payloads directly".
    let stmt = parse("SET @raw = * SELECT @raw AS r FROM 'device/binary'", V2).unwrap();
    assert_eq!(
        stmt.evaluate_output(&ctx),
        Err(EvalError::BinaryPayloadVariable("raw".into()))
    );
    // A JSON payload is taken "as is".
    let ctx = Context::new("device/binary", br#"[1, {"a": 2}]"#, 0);
    assert_eq!(
        stmt.evaluate_output(&ctx),
        Ok(Some(Output::Json(json!({"r": [1, {"a": 2}]}))))
    );
}

// ---- "Using variables" ----

#[test]
fn each_variable_is_evaluated_once_per_message_in_order() {
    let n = Cell::new(0);
    let next = || {
        n.set(n.get() + 1);
        format!("uuid-{}", n.get())
    };
    let stmt = parse(
        "SET @id = newuuid(), @pair = [@id, newuuid()] \
         SELECT @id AS a, @id AS b, @pair AS p FROM 'a/b' WHERE @id = 'uuid-1'",
        V2,
    )
    .unwrap();
    let ctx = Context::new("a/b", b"{}", 0).with_new_uuid(&next);
    assert_eq!(
        stmt.evaluate(&ctx),
        Ok(Some(
            json!({"a": "uuid-1", "b": "uuid-1", "p": ["uuid-1", "uuid-2"]})
        ))
    );
    assert_eq!(n.get(), 2);
}

#[test]
fn variables_in_later_sets_nested_queries_and_functions() {
    let doc = r#"{"e": [{"n": "t", "v": 20}, {"n": "h", "v": 60}], "limit": 25}"#;
    assert_eq!(
        run(
            "SET @limit = limit, @twice = @limit * 2 \
             SELECT (SELECT VALUE n FROM e WHERE v > @twice) AS over, upper(@twice + '') AS s \
             FROM 'a/b'",
            doc
        ),
        Some(json!({"over": ["h"], "s": "50"}))
    );
    // A variable without AS is named after itself; Undefined leaves it out, like a field.
    assert_eq!(
        run(
            "SET @limit = limit, @none = nothing SELECT @limit, @none FROM 'a/b'",
            doc
        ),
        Some(json!({"limit": 25}))
    );
    // Nothing makes a variable a field: a field may share its name.
    assert_eq!(
        run("SET @limit = 1 SELECT @limit AS v, limit FROM 'a/b'", doc),
        Some(json!({"v": 1, "limit": 25}))
    );
}

#[test]
fn sql_versions() {
    // The page names no SQL version for SET, so both parse it; 2015-10-08 types `75.0` as a
    // Decimal and 2016-03-23 as an Int (iot-sql-data-types.html).
    let sql = "SET @c = (f - 32) * 5 / 9 SELECT @c AS c FROM 'a/b'";
    assert_eq!(run_v(sql, r#"{"f": 75.0}"#, V2), Some(json!({"c": 23})));
    assert_eq!(
        run_v(sql, r#"{"f": 75.0}"#, V1),
        Some(json!({"c": (75.0 - 32.0) * 5.0 / 9.0}))
    );
}

// ---- "SET clause syntax": the parse errors, at their positions ----

#[test]
fn syntax_rules() {
    let stmt = parse("set @a = 1, @b_2 = @a + 1 select @b_2 as x from 'a'", V2).unwrap();
    assert_eq!(
        stmt.set,
        vec![
            Assignment {
                name: "a".into(),
                expr: Expr::Int(1)
            },
            Assignment {
                name: "b_2".into(),
                expr: Expr::Binary(
                    crate::BinaryOp::Add,
                    Box::new(Expr::Variable("a".into())),
                    Box::new(Expr::Int(1))
                )
            },
        ]
    );
    assert_eq!(
        stmt.to_string(),
        "SET @a = 1, @b_2 = @a + 1 SELECT @b_2 AS x FROM 'a'"
    );
    // Used before it is set, in SELECT, WHERE or its own SET.
    let (pos, reason) = err_at("SELECT @t AS t FROM 'a'", V2);
    assert_eq!((pos, reason.contains("`@t` is not set")), (7, true));
    assert_eq!(
        err_at("SET @a = 1 SELECT a FROM 'a' WHERE @b > 1", V2).0,
        35
    );
    assert_eq!(err_at("SET @a = @a + 1 SELECT @a FROM 'a'", V2).0, 9);
    assert_eq!(err_at("SET @a = @b, @b = 1 SELECT @a FROM 'a'", V2).0, 9);
    // "Each variable can only be assigned once".
    let (pos, reason) = err_at("SET @a = 1, @a = 2 SELECT @a FROM 'a'", V2);
    assert_eq!((pos, reason.contains("already set")), (12, true));
    // "The SET keyword can only be used once per SQL statement".
    let (pos, reason) = err_at("SET @a = 1 SET @b = 2 SELECT @a FROM 'a'", V2);
    assert_eq!((pos, reason.contains("once")), (11, true));
    // SET comes before SELECT, and needs a variable, `=` and an expression.
    assert_eq!(err_at("SELECT a FROM 'a' SET @a = 1", V2).0, 18);
    assert_eq!(err_at("SET a = 1 SELECT a FROM 'a'", V2).0, 4);
    assert_eq!(err_at("SET @a 1 SELECT a FROM 'a'", V2).0, 7);
    assert_eq!(err_at("SET @a = SELECT a FROM 'a'", V2).0, 9);
    assert_eq!(err_at("SET @a = 1, SELECT a FROM 'a'", V2).0, 12);
    assert_eq!(err_at("SET @a = 1", V2).0, 10);
    // "Variable names can contain letters, numbers, and underscores".
    assert_eq!(err_at("SET @ = 1 SELECT 1 FROM 'a'", V2).0, 4);
    assert_eq!(err_at("SET @a$b = 1 SELECT 1 FROM 'a'", V2).0, 6);
    assert_eq!(err_at("SET @é = 1 SELECT 1 FROM 'a'", V2).0, 5);
    assert!(parse("SET @1_A = 1 SELECT @1_A FROM 'a'", V2).is_ok());
    // Names are case-sensitive.
    assert_eq!(err_at("SET @a = 1 SELECT @A FROM 'a'", V2).0, 18);
}

#[test]
fn where_variables_are_not_allowed() {
    // "certain parameters such as roleArn parameters and parameters that switch the mode of a
    // function similar to transform(...) do not support variables".
    let role = "SET @role = 'arn:aws:iam::123456789012:role/r', @thing = 't' \
                SELECT get_thing_shadow(@thing, @role) AS s FROM 'a'";
    let (pos, reason) = err_at(role, V2);
    assert_eq!(
        (pos, reason.contains("roleArn")),
        (role.find("get_").unwrap(), true)
    );
    let ok = "SET @thing = 't' \
              SELECT get_thing_shadow(@thing, 'arn:aws:iam::123456789012:role/r') AS s FROM 'a'";
    assert!(parse(ok, V2).is_ok());
    let mode = "SET @m = 'enrichArray' SELECT transform(@m, a, b) AS t FROM 'a'";
    assert!(err_at(mode, V2).1.contains("mode"));
    assert!(parse(
        "SET @a = a SELECT transform('enrichArray', @a, b) AS t FROM 'a'",
        V2
    )
    .is_ok());
    // Action templates may read variables on AWS; Shoal parses a template apart from its
    // statement, so it refuses one that does rather than render it empty.
    let e = crate::Template::parse("temp-${@temp_celsius}C.json", V2).unwrap_err();
    assert_eq!(e.position, 7);
    assert!(e.reason.contains("templates"), "{}", e.reason);
}

// ---- "SET clause limits" ----

#[test]
fn at_most_ten_variables_with_names_of_at_most_64_characters() {
    let set = |n: usize| {
        (0..n)
            .map(|i| format!("@v{i} = {i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ten = format!("SET {} SELECT @v9 AS x FROM 'a'", set(10));
    assert_eq!(run(&ten, "{}"), Some(json!({"x": 9})));
    let eleven = format!("SET {} SELECT 1 FROM 'a'", set(11));
    let (pos, reason) = err_at(&eleven, V2);
    assert_eq!(pos, eleven.find("@v10").unwrap());
    assert!(reason.contains("at most 10"), "{reason}");

    let long = "n".repeat(64);
    let sql = format!("SET @{long} = 1 SELECT @{long} AS x FROM 'a'");
    assert_eq!(run(&sql, "{}"), Some(json!({"x": 1})));
    let (pos, reason) = err_at(&format!("SET @{long}n = 1 SELECT 1 FROM 'a'"), V2);
    assert_eq!((pos, reason.contains("64")), (4, true));
}

#[test]
fn values_of_at_most_128_kib_each_and_together() {
    let eval = |sql: &str, payload: &str| {
        let ctx = Context::new("a", payload.as_bytes(), 0);
        parse(sql, V2).unwrap().evaluate(&ctx)
    };
    // A string's JSON form has its two quotes.
    let fits = format!("{{\"s\": \"{}\"}}", "x".repeat(MAX_VARIABLE_BYTES - 2));
    let sql = "SET @s = s SELECT length(@s) AS n FROM 'a'";
    assert_eq!(
        eval(sql, &fits),
        Ok(Some(json!({"n": MAX_VARIABLE_BYTES - 2})))
    );
    let over = format!("{{\"s\": \"{}\"}}", "x".repeat(MAX_VARIABLE_BYTES - 1));
    assert_eq!(
        eval(sql, &over),
        Err(EvalError::VariableTooLarge("s".into()))
    );
    // Two halves fit; a third byte past them does not.
    let half = (MAX_VARIABLE_BYTES - 4) / 2;
    let payload = format!("{{\"s\": \"{}\"}}", "x".repeat(half));
    assert!(eval("SET @a = s, @b = s SELECT 1 FROM 'a'", &payload).is_ok());
    assert_eq!(
        eval("SET @a = s, @b = s, @c = 1 SELECT 1 FROM 'a'", &payload),
        Err(EvalError::VariableTooLarge("c".into()))
    );
    // A variable that doubles another cannot grow without bound.
    assert_eq!(
        eval(
            "SET @a = s, @b = [@a, @a] SELECT 1 FROM 'a'",
            &format!("{{\"s\": \"{}\"}}", "x".repeat(50_000))
        ),
        Err(EvalError::VariableTooLarge("b".into()))
    );
}

// ---- The crate's bounds still hold ----

#[test]
fn reading_a_variable_costs_its_whole_value() {
    // 100 arrays of 100: a field read costs its 100 top-level items, a variable read all
    // 10,101 values it copies.
    let row = format!("[{}]", vec!["1"; 100].join(","));
    let payload = format!("{{\"m\": [{}]}}", vec![row.as_str(); 100].join(","));
    let ctx = Context::new("a", payload.as_bytes(), 0);
    let many = |e: &str| vec![e; 100].join(", ");
    let fields = format!("SELECT VALUE [{}] FROM 'a'", many("m"));
    assert!(parse(&fields, V2).unwrap().evaluate(&ctx).is_ok());
    let vars = format!("SET @m = m SELECT VALUE [{}] FROM 'a'", many("@m"));
    assert_eq!(
        parse(&vars, V2).unwrap().evaluate(&ctx),
        Err(EvalError::TooComplex)
    );
    let few = format!(
        "SET @m = m SELECT VALUE [{}] FROM 'a'",
        ["@m"; 10].join(", ")
    );
    assert!(parse(&few, V2).unwrap().evaluate(&ctx).is_ok());
}

#[test]
fn set_expressions_are_bounded_like_any_other() {
    let deep = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(
        &format!("SET @a = {} SELECT 1 FROM 'a'", deep(MAX_DEPTH)),
        V2
    )
    .is_err());
    // A variable is a value, not the tree it came from: reading it adds no depth.
    let near = MAX_DEPTH - 2;
    let mut sql = format!("SET @v0 = {}", "-".repeat(near) + "1");
    for i in 1..10 {
        sql += &format!(", @v{i} = {}@v{}", "-".repeat(near), i - 1);
    }
    sql += " SELECT @v9 AS x FROM 'a'";
    assert_eq!(run(&sql, "{}"), Some(json!({"x": 1})));
}
