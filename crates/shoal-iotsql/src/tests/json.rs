//! Reading a payload straight into SQL values, and writing an output from them, give exactly
//! what going through serde_json's documents gives.

use proptest::prelude::*;

use crate::ast::SqlVersion;
use crate::value::Value;

pub(crate) fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        (-1e6f64..1e6).prop_map(|d| format!("{d:?}")),
        prop::sample::select(vec!["5.0", "1e3", "-0.0", "1.5E-3", "18446744073709551616"])
            .prop_map(str::to_string),
        "[a-z\\\\\"\\u{e9}\\n]{0,6}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-c]{1,2}", inner), 0..5).prop_map(|kv| {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

proptest! {
    #[test]
    fn reading_and_writing_agree_with_serde_json(text in json_text(), v2 in any::<bool>()) {
        let version = if v2 { SqlVersion::V2016_03_23 } else { SqlVersion::V2015_10_08 };
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let expected = Value::from_json(&doc, version);
        let read = crate::json::parse(text.as_bytes(), version).unwrap();
        prop_assert_eq!(&read, &expected);
        let mut written = Vec::new();
        let wrote = crate::json::write(&read, &mut written);
        match expected.to_json() {
            Some(j) => {
                prop_assert!(wrote);
                prop_assert_eq!(String::from_utf8(written).unwrap(), j.to_string());
            }
            None => prop_assert!(!wrote),
        }
    }

    /// The index's quick field reader gives what serde's visitor gives for every JSON text
    /// (spaced or not), and for a text that is not JSON it may give fields or none, never
    /// others than the visitor's where the visitor gives some.
    #[test]
    fn the_quick_field_reader_agrees_with_the_visitor(text in json_text(), spaced in any::<bool>(), cut in 0usize..64) {
        let text = if spaced { format!(" {} ", text.replace(':', " : ").replace(',', " ,\n")) } else { text };
        let mut paths = crate::scan::PathSet::default();
        for p in ["a", "b", "ab", "c"] {
            paths.add(&[p.to_string()]);
        }
        let (mut quick, mut slow) = (Vec::new(), Vec::new());
        let q = paths.read(text.as_bytes(), &mut quick);
        let s = paths.read_with_serde(text.as_bytes(), &mut slow);
        prop_assert_eq!(q, s);
        prop_assert_eq!(&quick, &slow);
        // A cut text is not JSON (unless the cut is at the end): whatever the quick reader
        // gives where the visitor gives fields is the same.
        let bytes = &text.as_bytes()[..cut.min(text.len())];
        let q = paths.read(bytes, &mut quick);
        let s = paths.read_with_serde(bytes, &mut slow);
        if s {
            prop_assert!(q);
            prop_assert_eq!(&quick, &slow);
        }
    }

    /// `SELECT *` of an object gives what writing the evaluated object gives: byte for byte
    /// when the payload is already written so (up to the order of keys, which writing sorts
    /// and the payload keeps), the same document otherwise; with or without a WHERE, for both
    /// SQL versions.
    #[test]
    fn select_star_of_an_object_is_the_object_written(text in json_text(), v2 in any::<bool>(), spaced in any::<bool>()) {
        let version = if v2 { SqlVersion::V2016_03_23 } else { SqlVersion::V2015_10_08 };
        let text = if spaced { format!("  {}", text.replace(',', " , ")) } else { text };
        prop_assume!(text.trim_start().starts_with('{'));
        for sql in ["SELECT * FROM 'a/b'", "SELECT * FROM 'a/b' WHERE 1 = 1"] {
            let stmt = crate::parse(sql, version).unwrap();
            let ctx = crate::Context::new("a/b", text.as_bytes(), 0);
            let out = stmt.evaluate_payload(&ctx).unwrap().unwrap();
            let ctx = crate::Context::new("a/b", text.as_bytes(), 0);
            let written = stmt.evaluate_output(&ctx).unwrap().unwrap().to_bytes();
            if out == text.as_bytes() {
                // Passed through: written again, sorted, it is exactly the long way's bytes.
                let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
                prop_assert_eq!(doc.to_string().into_bytes(), written);
            } else {
                prop_assert_eq!(&out, &written);
            }
        }
        let stmt = crate::parse("SELECT * FROM 'a/b' WHERE 1 = 2", version).unwrap();
        prop_assert_eq!(stmt.evaluate_payload(&crate::Context::new("a/b", text.as_bytes(), 0)).unwrap(), None);
    }
}

#[test]
fn select_star_passes_a_compact_object_through_and_writes_the_others() {
    let stmt = crate::parse("SELECT * FROM 'a/b'", SqlVersion::V2016_03_23).unwrap();
    let out = |p: &str| {
        let ctx = crate::Context::new("a/b", p.as_bytes(), 0);
        String::from_utf8(stmt.evaluate_payload(&ctx).unwrap().unwrap()).unwrap()
    };
    for same in [
        r#"{"t":1765150000000000000,"n":42,"p":"xx"}"#,
        "{\"b\":[1,{\"a\":null}],\"a\":{\"z\":true,\"y\":\"\u{e9}\"}}",
        r#"{}"#,
    ] {
        assert_eq!(out(same), same);
    }
    for (written, want) in [
        (r#"{"x": 1}"#, r#"{"x":1}"#),
        (r#"{"x":1.50}"#, r#"{"x":1.5}"#),
        (r#"{"x":1,"x":2}"#, r#"{"x":2}"#),
        (r#"{"x":"a\u0041"}"#, r#"{"x":"aA"}"#),
        (r#"{"x":-0}"#, r#"{"x":0}"#),
    ] {
        assert_eq!(out(written), want, "{written}");
    }
}

#[test]
fn what_is_not_json_is_not_read() {
    for bad in [&b"{"[..], b"{\"a\":1} x", b"\xff", b""] {
        assert!(crate::json::parse(bad, SqlVersion::V2016_03_23).is_none());
    }
    let mut out = Vec::new();
    assert!(!crate::json::write(&Value::Decimal(f64::NAN), &mut out));
    assert!(crate::json::write(
        &Value::Array(vec![
            Value::Undefined,
            Value::Decimal(f64::INFINITY),
            Value::Int(1)
        ]),
        &mut out
    ));
    assert_eq!(out, b"[1]");
}
