//! Reading a payload straight into SQL values, and writing an output from them, give exactly
//! what going through serde_json's documents gives.

use proptest::prelude::*;

use crate::ast::SqlVersion;
use crate::value::Value;

fn json_text() -> impl Strategy<Value = String> {
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
