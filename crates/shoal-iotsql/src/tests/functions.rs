//! Every function's documented examples, binary payloads, errors and bounds, templates.

use std::cell::Cell;

use serde_json::{json, Value as Json};

use super::*;
use crate::{parse, Context, EvalError, Output, ShadowSource, Template};
// ---- iot-sql-functions.html, each documented example ----

#[test]
fn numeric_functions() {
    assert_eq!(v("abs(-5)"), Some(json!(5)));
    assert_eq!(v("abs('-5.123')"), Some(json!(5.123)));
    assert_eq!(v("acos(0)"), Some(json!(std::f64::consts::FRAC_PI_2)));
    assert_eq!(v("asin(0)"), Some(json!(0.0)));
    assert_eq!(v("atan(0)"), Some(json!(0.0)));
    assert_eq!(v("atan2(1, 0)"), Some(json!(std::f64::consts::FRAC_PI_2)));
    assert_eq!(v("cos(0)"), Some(json!(1.0)));
    assert_eq!(v("cosh(2.3)"), Some(json!(5.037220649268761)));
    assert_eq!(v("sinh(2.3)"), Some(json!(4.936961805545957)));
    assert_eq!(v("tanh(2.3)"), Some(json!(0.9800963962661914)));
    assert_eq!(v("tan(3)"), Some(json!(-0.1425465430742778)));
    assert_eq!(v("sin(0)"), Some(json!(0.0)));
    assert_eq!(v("exp(1)"), Some(json!(std::f64::consts::E)));
    assert_eq!(v("ln(exp(1))"), Some(json!(1.0)));
    assert_eq!(v("log(100)"), Some(json!(2.0)));
    assert_eq!(v("ln(0)"), None);
    assert_eq!(v("sqrt(9)"), Some(json!(3.0)));
    assert_eq!(v("sqrt(-1)"), None);
    assert_eq!(v("power(2, 5)"), Some(json!(32.0)));
    assert_eq!(v("ceil(1.2)"), Some(json!(2)));
    assert_eq!(v("ceil(-1.2)"), Some(json!(-1)));
    assert_eq!(v("floor(1.2)"), Some(json!(1)));
    assert_eq!(v("floor(-1.2)"), Some(json!(-2)));
    assert_eq!(v("Round(1.2)"), Some(json!(1)));
    assert_eq!(v("Round(1.5)"), Some(json!(2)));
    assert_eq!(v("Round(1.7)"), Some(json!(2)));
    assert_eq!(v("Round(-1.1)"), Some(json!(-1)));
    assert_eq!(v("Round(-1.5)"), Some(json!(-2)));
    assert_eq!(v("sign(-7)"), Some(json!(-1)));
    assert_eq!(v("sign(0)"), Some(json!(0)));
    assert_eq!(v("sign(13)"), Some(json!(1)));
    assert_eq!(v("mod(8, 3)"), Some(json!(2)));
    assert_eq!(v("remainder(8, 3)"), Some(json!(2)));
    assert_eq!(v("Nanvl(8, 3)"), Some(json!(8)));
    assert_eq!(v("nanvl(missing, 3)"), Some(json!(3)));
    assert_eq!(v("trunc(2.3, 0)"), Some(json!(2)));
    assert_eq!(v("trunc(2.3123, 2)"), Some(json!(2.31)));
    assert_eq!(v("trunc(2.888, 2)"), Some(json!(2.88)));
    assert_eq!(v("trunc(2.00, 5)"), Some(json!(2)));
    assert_eq!(v("trunc(1.15, 2)"), Some(json!(1.15)));
    assert_eq!(v("bitand(13, 5)"), Some(json!(5)));
    assert_eq!(v("bitor(8, 5)"), Some(json!(13)));
    assert_eq!(v("bitxor(13, 5)"), Some(json!(8)));
    // AWS's page says bitnot(13) = 2 (a 4-bit NOT); Shoal's Ints are 64-bit two's complement.
    assert_eq!(v("bitnot(13)"), Some(json!(-14)));
    assert_eq!(v("abs(true)"), None);
    assert_eq!(v("abs(1, 2)"), None);
}

#[test]
fn cast_examples() {
    assert_eq!(v("cast(true as Int)"), Some(json!(1)));
    assert_eq!(v("cast(2.7 AS Integer)"), Some(json!(2)));
    assert_eq!(v("cast('-1.2' AS Int)"), Some(json!(-2)));
    assert_eq!(v("cast(0 AS Boolean)"), Some(json!(false)));
    assert_eq!(v("cast('TRUE' AS Bool)"), Some(json!(true)));
    assert_eq!(v("cast(12 AS String)"), Some(json!("12")));
    assert_eq!(v("cast(1.5 AS varchar)"), Some(json!("1.5")));
    assert_eq!(v("cast([1, 'a'] AS String)"), Some(json!("[1,\"a\"]")));
    assert_eq!(v("cast(true AS Double)"), Some(json!(1.0)));
    assert_eq!(v("cast(NULL AS String)"), None);
    let (pos, reason) = err_at("SELECT cast(1 AS Blob) AS x FROM 'a'", V2);
    assert_eq!(pos, 17);
    assert!(reason.contains("Blob"), "{reason}");
}

#[test]
fn string_functions() {
    assert_eq!(v("chr(65)"), Some(json!("A")));
    assert_eq!(v("chr(49)"), Some(json!("1")));
    assert_eq!(v("chr(300)"), None);
    assert_eq!(v("concat()"), None);
    assert_eq!(v("concat(1)"), Some(json!(1)));
    assert_eq!(v("concat([1, 2, 3], 4)"), Some(json!([1, 2, 3, 4])));
    assert_eq!(
        v("concat([1, 2, 3], 'hello')"),
        Some(json!([1, 2, 3, "hello"]))
    );
    assert_eq!(v("concat('con', 'cat')"), Some(json!("concat")));
    assert_eq!(v("concat(1, 'hello')"), Some(json!("1hello")));
    assert_eq!(v("concat('he','is','man')"), Some(json!("heisman")));
    assert_eq!(
        v("concat([1, 2, 3], 'hello', [4, 5, 6])"),
        Some(json!([1, 2, 3, "hello", 4, 5, 6]))
    );
    assert_eq!(v("endswith('cat','at')"), Some(json!(true)));
    assert_eq!(v("endswith('cat', NULL)"), None);
    assert_eq!(v("startswith('ranger','ran')"), Some(json!(true)));
    assert_eq!(v("indexof('abcd', 'bc')"), Some(json!(1)));
    assert_eq!(v("indexof('abcd', 'x')"), Some(json!(-1)));
    assert_eq!(v("length('hi')"), Some(json!(2)));
    assert_eq!(v("length(false)"), Some(json!(5)));
    assert_eq!(v("numbytes('hi')"), Some(json!(2)));
    assert_eq!(v("numbytes('€')"), Some(json!(3)));
    assert_eq!(v("lower('HELLO')"), Some(json!("hello")));
    assert_eq!(v("lower(['HELLO'])"), Some(json!("[\"hello\"]")));
    assert_eq!(v("upper('hello')"), Some(json!("HELLO")));
    assert_eq!(v("upper(['hello'])"), Some(json!("[\"HELLO\"]")));
    assert_eq!(v("lpad('hello', 2)"), Some(json!("  hello")));
    assert_eq!(v("lpad(1, 3)"), Some(json!("   1")));
    assert_eq!(v("rpad('hello', 2)"), Some(json!("hello  ")));
    assert_eq!(v("rpad(1, 3)"), Some(json!("1   ")));
    assert_eq!(v("Ltrim(' h i ')"), Some(json!("h i ")));
    assert_eq!(v("rtrim(' h i ')"), Some(json!(" h i")));
    assert_eq!(v("Trim(' hi ')"), Some(json!("hi")));
    assert_eq!(v("trim(NULL)"), None);
    assert_eq!(v("replace('abcd', 'bc', 'x')"), Some(json!("axd")));
    assert_eq!(v("replace('abcdabcd', 'b', 'x')"), Some(json!("axcdaxcd")));
    assert_eq!(v("substring('012345', 0)"), Some(json!("012345")));
    assert_eq!(v("substring('012345', 2)"), Some(json!("2345")));
    assert_eq!(v("substring('012345', 2.745)"), Some(json!("2345")));
    assert_eq!(v("substring(123, 2)"), Some(json!("3")));
    assert_eq!(v("substring('012345', -1)"), Some(json!("012345")));
    assert_eq!(v("substring(true, 1.2)"), Some(json!("rue")));
    assert_eq!(v("substring(false, -2.411E247)"), Some(json!("false")));
    assert_eq!(v("substring('012345', 1, 3)"), Some(json!("12")));
    assert_eq!(v("substring('012345', -50, 50)"), Some(json!("012345")));
    assert_eq!(v("substring('012345', 3, 1)"), Some(json!("")));
}

#[test]
fn hashing_functions() {
    assert_eq!(
        v("md5('hello')"),
        Some(json!("5d41402abc4b2a76b9719d911017c592"))
    );
    assert_eq!(
        v("sha1('hello')"),
        Some(json!("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"))
    );
    assert_eq!(
        v("sha256('hello')"),
        Some(json!(
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        ))
    );
    assert_eq!(
        v("sha224('')"),
        Some(json!(
            "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"
        ))
    );
    assert_eq!(v("md5(NULL)"), None);
    // iot-sql-json.html's example.
    let payload = r#"{"deviceid": "iot123", "temp": 54.98, "humidity": 32.43,
        "coords": {"latitude": 47.615694, "longitude": -122.3359976}}"#;
    assert_eq!(
        run(
            "SELECT temp, md5(deviceid) AS hashed_id FROM 'topic/#'",
            payload
        ),
        Some(json!({"temp": 54.98, "hashed_id": "e37f81fb397e595c4aeb5645b8cbbbd1"}))
    );
    assert!(err_at("SELECT md2('a') AS h FROM 'a'", V2)
        .1
        .contains("not supported"));
}

#[test]
fn collection_functions() {
    assert_eq!(v("get(['a', 'b', 'c'], 1)"), Some(json!("b")));
    assert_eq!(v("get({'a':'b'}, 'a')"), Some(json!("b")));
    // AWS's page shows get("abc", 1) = "a", which contradicts its 0-based rule; Shoal is 0-based.
    assert_eq!(v("get('abc', 1)"), Some(json!("b")));
    assert_eq!(v("isEmpty('')"), Some(json!(true)));
    assert_eq!(v("isEmpty([1])"), Some(json!(false)));
    let doc = r#"{"attributes":{"data1":1,"data2":2},"values":[{"a":3},{"b":4},{"c":5}]}"#;
    assert_eq!(
        run(
            "select value transform(\"enrichArray\", attributes, values) from 'A/B'",
            doc
        ),
        Some(
            json!([{"a":3,"data1":1,"data2":2},{"b":4,"data1":1,"data2":2},{"c":5,"data1":1,"data2":2}])
        )
    );
    assert_eq!(
        run("select value transform(\"enrichArray\", {\"key\": attributes.data1}, values) from 'A/B'", doc),
        Some(json!([{"a":3,"key":1},{"b":4,"key":1},{"c":5,"key":1}]))
    );
    let doc3 = r#"{"data1":"example","data2":{"a":"first attribute","b":"second attribute","c":[
        {"x":{"someInt":5,"someString":"hello"},"y":true},
        {"x":{"someInt":10,"someString":"world"},"y":false}]}}"#;
    assert_eq!(
        run("select value transform('enrichArray', (select a, b from data2), (select value c from data2)) from 'A/B'", doc3),
        Some(json!([
            {"x":{"someInt":5,"someString":"hello"},"y":true,"a":"first attribute","b":"second attribute"},
            {"x":{"someInt":10,"someString":"world"},"y":false,"a":"first attribute","b":"second attribute"}
        ]))
    );
}

#[test]
fn encode_and_decode() {
    assert_eq!(
        run(
            "SELECT decode(encoded_temp,\"base64\").temperature AS temp from 'topic/subtopic'",
            r#"{"encoded_temp": "eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg=="}"#
        ),
        Some(json!({"temp":33}))
    );
    assert_eq!(v("decode('aGVsbG8=', 'base64')"), Some(json!("hello")));
    assert_eq!(v("decode('***', 'base64')"), Some(Json::Null));
    assert_eq!(v("encode('hello', 'base64')"), Some(json!("aGVsbG8=")));
    assert_eq!(v("encode('hello', 'hex')"), None);
    // `*` encodes the payload bytes as published.
    assert_eq!(
        val("encode(*, 'base64')", r#"{"a": 1}"#),
        Some(json!("eyJhIjogMX0="))
    );
}

#[test]
fn context_functions() {
    let uuids = Cell::new(0);
    let next = || {
        uuids.set(uuids.get() + 1);
        format!("00000000-0000-0000-0000-{:012}", uuids.get())
    };
    let stmt = parse(
        "SELECT topic() AS t, topic(1) AS t1, topic(3) AS t3, topic(9) AS t9, clientid() AS c, \
         principal() AS p, accountid() AS a, timestamp() AS ts, newuuid() AS u1, newuuid() AS u2 FROM '#'",
        V1,
    )
    .unwrap();
    let ctx = Context::new("things/myThings/thingOne", b"{}", 1_481_825_251_155)
        .with_client_id("dev-1")
        .with_principal("ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373")
        .with_account_id("123456789012")
        .with_new_uuid(&next);
    assert_eq!(
        stmt.evaluate(&ctx).unwrap(),
        Some(json!({
            "t": "things/myThings/thingOne", "t1": "things", "t3": "thingOne",
            "c": "dev-1",
            "p": "ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373",
            "a": "123456789012", "ts": 1_481_825_251_155_i64,
            "u1": "00000000-0000-0000-0000-000000000001",
            "u2": "00000000-0000-0000-0000-000000000002"
        }))
    );
    // Not over MQTT: "n/a"; no principal: Undefined.
    let stmt = parse("SELECT clientid() AS c, principal() AS p FROM '#'", V1).unwrap();
    assert_eq!(
        stmt.evaluate(&Context::new("a", b"{}", 0)).unwrap(),
        Some(json!({"c": "n/a"}))
    );
}

struct Shadows;

impl ShadowSource for Shadows {
    fn get_thing_shadow(&self, thing: &str, shadow: Option<&str>, role: &str) -> Option<Json> {
        (thing == "MyThing" && role.starts_with("arn:aws:iam::")).then(|| match shadow {
            None => json!({"state": {"reported": {"alarm": "ON"}}}),
            Some(_) => json!({"state": {"reported": {"alarm": "OFF"}}}),
        })
    }
}

#[test]
fn get_thing_shadow() {
    let role = "arn:aws:iam::123456789012:role/AllowsThingShadowAccess";
    let classic = format!(
        "SELECT * from 'topic/subtopic' WHERE get_thing_shadow(\"MyThing\",\"{role}\").state.reported.alarm = 'ON'"
    );
    let named = format!(
        "SELECT * from 'topic/subtopic' WHERE get_thing_shadow(\"MyThing\",\"MyThingShadow\",\"{role}\").state.reported.alarm = 'ON'"
    );
    let other = format!(
        "SELECT * from 'topic/subtopic' WHERE get_thing_shadow(\"Other\",\"{role}\").state.reported.alarm = 'ON'"
    );
    let shadows = Shadows;
    let ctx = Context::new("topic/subtopic", br#"{"x":1}"#, 0).with_shadows(&shadows);
    assert_eq!(
        parse(&classic, V2).unwrap().evaluate(&ctx).unwrap(),
        Some(json!({"x":1}))
    );
    assert_eq!(parse(&named, V2).unwrap().evaluate(&ctx).unwrap(), None);
    assert_eq!(parse(&other, V2).unwrap().evaluate(&ctx).unwrap(), None);
    assert!(parse(&classic, V1).is_err());
}

// ---- binary-payloads.html ----

#[test]
fn binary_payloads() {
    let bytes: &[u8] = &[0xde, 0xad, 0xbe, 0xef];
    let eval = |sql: &str, ts: i64| {
        let ctx = Context::new("a/b", bytes, ts);
        parse(sql, V2).unwrap().evaluate_output(&ctx)
    };
    assert_eq!(
        eval("SELECT * FROM 'a/b'", 0),
        Ok(Some(Output::Bytes(bytes.to_vec())))
    );
    assert_eq!(
        eval(
            "SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'a/b'",
            7
        ),
        Ok(Some(Output::Json(json!({"data":"3q2+7w==","ts":7}))))
    );
    assert_eq!(
        eval("SELECT * FROM 'a/b' WHERE device_type = 'thermostat'", 0),
        Err(EvalError::BinaryPayloadField("device_type".into()))
    );
    assert_eq!(
        eval("SELECT *, timestamp() AS timestamp FROM 'a/b'", 0),
        Err(EvalError::BinaryPayloadSelect)
    );
    assert_eq!(
        eval("SELECT * FROM 'a/b' WHERE timestamp() % 12 = 0", 24),
        Ok(Some(Output::Bytes(bytes.to_vec())))
    );
    assert_eq!(
        eval("SELECT * FROM 'a/b' WHERE timestamp() % 12 = 0", 25),
        Ok(None)
    );
    let ctx = Context::new("a/b", bytes, 0);
    assert!(!ctx.is_json());
    assert_eq!(
        parse("SELECT * FROM 'a/b'", V2).unwrap().evaluate(&ctx),
        Err(EvalError::BinaryOutput)
    );
}

// ---- errors and bounds ----

#[test]
fn errors_carry_their_position() {
    assert_eq!(err_at("SELECT FROM 'a'", V2).0, 7);
    assert_eq!(err_at("SELECT a FROM 'a' WHERE", V2).0, 23);
    assert_eq!(err_at("SELECT a, FROM 'a'", V2).0, 10);
    assert_eq!(err_at("SELECT a FROM 'a' b", V2).0, 18);
    assert_eq!(err_at("SELECT 'abc FROM 'a'", V2).0, 18);
    assert_eq!(err_at("SELECT a # b FROM 'a'", V2).0, 9);
    assert_eq!(err_at("SELECT é.ok, 1 + / 2 FROM 'a'", V2).0, 17);
    let (pos, reason) = err_at("SELECT a, foo(1) FROM 'a'", V2);
    assert_eq!((pos, reason.as_str()), (10, "unknown function `foo`"));
    let (pos, reason) = err_at(
        "SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *) AS o FROM 'a'",
        V2,
    );
    assert_eq!(pos, 7);
    assert!(
        reason.contains("aws_lambda") && reason.contains("not supported"),
        "{reason}"
    );
    assert!(err_at("SELECT regexp_matches('a', 'a') AS m FROM 'a'", V2)
        .1
        .contains("not supported"));
    assert_eq!(err_at("SELECT a FROM 'a/#/b'", V2).0, 14);
    assert_eq!(err_at("SELECT a FROM ", V2).0, 14);
    assert_eq!(err_at("SELECT 1e FROM 'a'", V2).0, 8);
    assert_eq!(err_at("SELECT 'a\\q' AS x FROM 'a'", V2).0, 9);
    let e = parse("SELECT FROM 'a'", V2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected an expression, found `FROM` at position 8"
    );
}

#[test]
fn bounds() {
    let long = format!(
        "SELECT a FROM 'a' WHERE b = '{}'",
        "x".repeat(crate::MAX_STATEMENT_BYTES)
    );
    assert!(parse(&long, V2).is_err());
    let deep_parens = format!(
        "SELECT VALUE {}1{} FROM 'a'",
        "(".repeat(200),
        ")".repeat(200)
    );
    assert!(parse(&deep_parens, V2).is_err());
    let long_chain = format!("SELECT VALUE 1{} FROM 'a'", " + 1".repeat(200));
    assert!(parse(&long_chain, V2).is_err());
    let negations = format!("SELECT VALUE {}1 FROM 'a'", "-".repeat(10_000));
    assert!(parse(&negations, V2).is_err());
    let nots = format!("SELECT VALUE {}true FROM 'a'", "NOT ".repeat(10_000));
    assert!(parse(&nots, V2).is_err());
    let members = format!("SELECT VALUE a{} FROM 'a'", ".b".repeat(10_000));
    assert!(parse(&members, V2).is_err());
    let arrays = format!(
        "SELECT VALUE {}1{} FROM 'a'",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(parse(&arrays, V2).is_err());
    // Within the bounds, a wide statement is fine.
    let wide = format!(
        "SELECT VALUE concat({}) FROM 'a'",
        vec!["'x'"; 1000].join(", ")
    );
    assert_eq!(run(&wide, "{}"), Some(json!("x".repeat(1000))));
    let ok = format!("SELECT VALUE 1{} FROM 'a'", " + 1".repeat(40));
    assert_eq!(run(&ok, "{}"), Some(json!(41)));
}

#[test]
fn evaluation_work_is_bounded() {
    let items: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    let payload = format!("{{\"e\": [{}]}}", items.join(","));
    let ctx = Context::new("a", payload.as_bytes(), 0);
    // 200 x 50 x 50 x 50 visits: refused, not run for minutes.
    let fifty = format!("[{}]", vec!["1"; 50].join(", "));
    let mut inner = "1".to_string();
    for _ in 0..3 {
        inner = format!("(SELECT VALUE {inner} FROM {fifty})");
    }
    let sql = format!("SELECT VALUE (SELECT VALUE {inner} FROM e) FROM 'a'");
    assert_eq!(
        parse(&sql, V2).unwrap().evaluate(&ctx),
        Err(EvalError::TooComplex)
    );
    // A nested query of ordinary size is well within the budget.
    let sql = "SELECT VALUE (SELECT VALUE (SELECT VALUE 1 FROM [1, 2]) FROM e) FROM 'a'";
    let out = parse(sql, V2).unwrap().evaluate(&ctx).unwrap().unwrap();
    assert_eq!(out.as_array().map(Vec::len), Some(200));
}

#[test]
fn strings_and_escapes() {
    assert_eq!(v(r"'it''s'"), Some(json!("it's")));
    assert_eq!(v(r"'it\'s'"), Some(json!("it's")));
    assert_eq!(v(r#""say \"hi\"\n""#), Some(json!("say \"hi\"\n")));
    assert_eq!(v(r"'\u00e9'"), Some(json!("é")));
}

#[test]
fn value_is_a_field_unless_an_expression_follows() {
    assert_eq!(
        run("SELECT value FROM 'a'", r#"{"value": 3}"#),
        Some(json!({"value": 3}))
    );
    assert_eq!(
        run("SELECT value AS v, x FROM 'a'", r#"{"value": 3, "x": 1}"#),
        Some(json!({"v": 3, "x": 1}))
    );
    assert_eq!(
        run("SELECT VALUE [a, b] FROM 'a'", r#"{"a": 1, "b": 2}"#),
        Some(json!([1, 2]))
    );
}

// ---- iot-substitution-templates.html ----

#[test]
fn templates() {
    let payload = br#"{"deviceid":"iot123","temp":54.98,"thingName":"t1","o":{"k":"v"}}"#;
    let ctx = Context::new("my/iot/topic", payload, 1_579_637_878_451);
    let render = |t: &str| Template::parse(t, V2).unwrap().render(&ctx).unwrap();
    assert_eq!(render("${topic()}/republish"), "my/iot/topic/republish");
    assert_eq!(
        render("$$aws/things/${thingName}/shadow/update"),
        "$aws/things/t1/shadow/update"
    );
    assert_eq!(
        render("${deviceid}-${temp * 2}-${missing}-${o}"),
        "iot123-109.96--{\"k\":\"v\"}"
    );
    assert_eq!(render("${get({'a}': 1}, 'a}')}"), "1");
    assert_eq!(render("cost is $5"), "cost is $5");
    assert!(Template::parse("plain", V2).unwrap().is_literal());
    let e = Template::parse("a/${topic(}", V2).unwrap_err();
    assert_eq!(e.position, 10);
    let e = Template::parse("a/${topic()", V2).unwrap_err();
    assert_eq!(e.position, 11);
    assert!(Template::parse(&"${a}".repeat(100), V2).is_err());
    // The binary payload rules hold for templates too.
    let bin = Context::new("a/b", &[0xff, 0x00], 0);
    let t = Template::parse("device/${device_id}", V2).unwrap();
    assert_eq!(
        t.render(&bin),
        Err(EvalError::BinaryPayloadField("device_id".into()))
    );
}
