use super::*;
use serde_json::json;

fn req(v: serde_json::Value) -> UpdateRequest {
    UpdateRequest::parse(v.to_string().as_bytes()).unwrap()
}

/// An applied update with its answers decoded, as a subscriber reads them.
struct Decoded {
    shadow: Shadow,
    accepted: serde_json::Value,
    delta: Option<serde_json::Value>,
    documents: serde_json::Value,
}

fn decode(a: Applied) -> Decoded {
    let json = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
    Decoded {
        accepted: json(&a.accepted),
        delta: a.delta.as_deref().map(json),
        documents: json(&a.documents),
        shadow: a.shadow,
    }
}

fn apply(cur: Option<&Shadow>, v: serde_json::Value, now: i64) -> Decoded {
    decode(update(cur.cloned(), &req(v), now).unwrap())
}

fn parse_err(payload: &[u8]) -> ServiceError {
    UpdateRequest::parse(payload).unwrap_err()
}

#[test]
fn first_update_creates_version_1_with_metadata() {
    let a = apply(
        None,
        json!({"state": {"reported": {"wait_time": 5}}, "clientToken": "t1"}),
        100,
    );
    assert_eq!(a.shadow.version, 1);
    assert_eq!(
        a.shadow.reported,
        Some(json!({"wait_time": 5}).as_object().unwrap().clone())
    );
    assert_eq!(
        a.accepted,
        json!({"state": {"reported": {"wait_time": 5}},
               "metadata": {"reported": {"wait_time": {"timestamp": 100}}},
               "version": 1, "timestamp": 100, "clientToken": "t1"})
    );
    assert_eq!(a.delta, None);
    assert!(a.documents.get("previous").is_none());
    assert_eq!(a.documents["current"]["version"], 1);
    assert_eq!(a.documents["clientToken"], "t1");
}

#[test]
fn merge_is_recursive_and_null_deletes() {
    let a = apply(
        None,
        json!({"state": {"desired": {"light": {"color": "red", "level": 3}, "fan": 1}}}),
        1,
    );
    let b = apply(
        Some(&a.shadow),
        json!({"state": {"desired": {"light": {"color": null, "on": true}, "fan": null}}}),
        2,
    );
    assert_eq!(
        serde_json::to_value(&b.shadow.desired).unwrap(),
        json!({"light": {"level": 3, "on": true}})
    );
    assert_eq!(
        serde_json::to_value(&b.shadow.desired_meta).unwrap(),
        json!({"light": {"level": {"timestamp": 1}, "on": {"timestamp": 2}}})
    );
    assert_eq!(b.shadow.version, 2);
    // The accepted document echoes the request, nulls included, with a time for each.
    assert_eq!(
        b.accepted["state"]["desired"]["fan"],
        serde_json::Value::Null
    );
    assert_eq!(
        b.accepted["metadata"]["desired"]["fan"],
        json!({"timestamp": 2})
    );
    // Removing the last key of an object removes the object.
    let c = apply(
        Some(&b.shadow),
        json!({"state": {"desired": {"light": {"level": null, "on": null}}}}),
        3,
    );
    assert_eq!(c.shadow.desired, None);
}

#[test]
fn arrays_replace_whole_with_a_time_per_element() {
    let a = apply(None, json!({"state": {"desired": {"c": [1, 2, 3]}}}), 1);
    let b = apply(
        Some(&a.shadow),
        json!({"state": {"desired": {"c": [4, {"x": 1}]}}}),
        2,
    );
    assert_eq!(b.shadow.desired.unwrap()["c"], json!([4, {"x": 1}]));
    assert_eq!(
        b.shadow.desired_meta.unwrap()["c"],
        json!([{"timestamp": 2}, {"x": {"timestamp": 2}}])
    );
}

#[test]
fn state_null_clears_but_keeps_the_shadow() {
    let a = apply(
        None,
        json!({"state": {"desired": {"a": 1}, "reported": {"a": 2}}}),
        1,
    );
    let b = apply(Some(&a.shadow), json!({"state": null}), 2);
    assert!(b.shadow.is_live());
    assert_eq!(
        (b.shadow.desired.clone(), b.shadow.reported.clone()),
        (None, None)
    );
    assert_eq!(b.shadow.version, 2);
    assert_eq!(b.accepted["state"], serde_json::Value::Null);
    assert_eq!(b.accepted["metadata"], json!({"timestamp": 2}));
    assert_eq!(
        full_document(&b.shadow, None, 3),
        json!({"state": {}, "metadata": {}, "version": 2, "timestamp": 3})
    );
}

#[test]
fn delta_holds_differing_desired_keys_with_their_path() {
    let a = apply(
        None,
        json!({"state": {
            "desired": {"color": "red", "cfg": {"a": 1, "b": 2}, "list": [1, 2], "same": 5},
            "reported": {"color": "blue", "cfg": {"a": 1, "b": 3}, "list": [1, 2], "same": 5, "extra": 9}
        }}),
        7,
    );
    let d = a.delta.expect("delta");
    assert_eq!(d["state"], json!({"color": "red", "cfg": {"b": 2}}));
    assert_eq!(
        d["metadata"],
        json!({"color": {"timestamp": 7}, "cfg": {"b": {"timestamp": 7}}})
    );
    assert_eq!(d["version"], 1);
    let doc = full_document(&a.shadow, Some("x"), 8);
    assert_eq!(
        doc["state"]["delta"],
        json!({"color": "red", "cfg": {"b": 2}})
    );
    assert_eq!(doc["clientToken"], "x");
    // Reporting the desired values ends the delta.
    let b = apply(
        Some(&a.shadow),
        json!({"state": {"reported": {"color": "red", "cfg": {"b": 2}}}}),
        9,
    );
    assert_eq!(b.delta, None);
    assert!(!b.shadow.has_delta());
    assert!(full_document(&b.shadow, None, 9)["state"]
        .get("delta")
        .is_none());
    // A key removed from reported but still desired is in the delta again.
    let c = apply(
        Some(&b.shadow),
        json!({"state": {"reported": {"color": null}}}),
        10,
    );
    assert_eq!(c.delta.unwrap()["state"], json!({"color": "red"}));
}

#[test]
fn version_checks() {
    let a = apply(None, json!({"state": {"reported": {"a": 1}}}), 1);
    let e = update(
        Some(a.shadow.clone()),
        &req(json!({"state": {"reported": {"a": 2}}, "version": 5})),
        2,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::VersionConflict);
    assert_eq!(e.message, "Version conflict");
    let b = apply(
        Some(&a.shadow),
        json!({"state": {"reported": {"a": 2}}, "version": 1}),
        2,
    );
    assert_eq!(b.shadow.version, 2);
}

#[test]
fn deletion_keeps_the_version_for_48_hours() {
    let a = apply(None, json!({"state": {"reported": {"a": 1}}}), 0);
    let b = apply(Some(&a.shadow), json!({"state": {"reported": {"a": 2}}}), 0);
    let gone = delete(Some(&b.shadow), 10).unwrap();
    assert_eq!(gone.version, 2);
    assert!(!gone.is_live());
    assert_eq!(delete(Some(&gone), 11), None);
    let again = apply(Some(&gone), json!({"state": {"reported": {"b": 1}}}), 20);
    assert_eq!(again.shadow.version, 3);
    assert!(again.documents.get("previous").is_none());
    assert_eq!(
        serde_json::to_value(&again.shadow.reported).unwrap(),
        json!({"b": 1})
    );
    let later = apply(
        Some(&gone),
        json!({"state": {"reported": {"b": 1}}}),
        10 + VERSION_MEMORY_SECS,
    );
    assert_eq!(later.shadow.version, 1);
}

#[test]
fn size_limit_is_on_the_merged_state() {
    let half = "x".repeat(MAX_STATE_BYTES / 2);
    let a = apply(None, json!({"state": {"desired": {"a": half}}}), 1);
    let e = update(
        Some(a.shadow.clone()),
        &req(json!({"state": {"reported": {"b": half}}})),
        2,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::PayloadTooLarge);
    assert_eq!(e.message, "The payload exceeds the maximum size allowed");
}

#[test]
fn malformed_requests_get_aws_messages() {
    let cases: &[(&[u8], &str)] = &[
        (b"not json", "Invalid JSON"),
        (b"", "Invalid JSON"),
        (b"[1]", "Invalid JSON"),
        (br#"{"clientToken":"x"}"#, "Missing required node: state"),
        (br#"{"state": 5}"#, "State node must be an object"),
        (
            br#"{"state": {"desired": 5}}"#,
            "Desired node must be an object",
        ),
        (
            br#"{"state": {"reported": "x"}}"#,
            "Reported node must be an object",
        ),
        (
            br#"{"state": {"delta": {}}}"#,
            "State contains an invalid node",
        ),
        (br#"{"state": {}, "version": "1"}"#, "Invalid version"),
        (br#"{"state": {}, "version": -1}"#, "Invalid version"),
        (br#"{"state": {}, "clientToken": 5}"#, "Invalid clientToken"),
    ];
    for (payload, message) in cases {
        let e = parse_err(payload);
        assert_eq!(
            (e.kind.clone(), e.message.as_str()),
            (ErrorKind::InvalidRequest, *message),
            "{payload:?}"
        );
    }
    let long = format!(r#"{{"state": {{}}, "clientToken": "{}"}}"#, "t".repeat(65));
    assert_eq!(parse_err(long.as_bytes()).message, "Invalid clientToken");
    assert_eq!(parse_err(b"\xff\xfe").kind, ErrorKind::UnsupportedEncoding);
}

#[test]
fn nesting_is_limited_to_six_levels() {
    let six = json!({"state": {"desired": {"1": {"2": {"3": {"4": {"5": {"6": 1}}}}}}}});
    assert!(UpdateRequest::parse(six.to_string().as_bytes()).is_ok());
    let seven = json!({"state": {"desired": {"1": {"2": {"3": {"4": {"5": {"6": {"7": 1}}}}}}}}});
    assert_eq!(
        parse_err(seven.to_string().as_bytes()).message,
        "JSON contains too many levels of nesting; maximum is 6"
    );
}

#[test]
fn tokens_of_get_and_delete() {
    assert_eq!(parse_token_only(b"").unwrap(), None);
    assert_eq!(
        parse_token_only(br#"{"clientToken":"a"}"#).unwrap(),
        Some("a".into())
    );
    assert!(parse_token_only(b"{").is_err());
    assert_eq!(
        client_token(br#"{"clientToken":"a","state":5}"#),
        Some("a".into())
    );
    assert_eq!(client_token(b"nope"), None);
}

#[test]
fn missing_shadows_are_named_as_aws_names_them() {
    let thing = "t1";
    assert_eq!(
        not_found(thing, None).message,
        "No shadow exists with name: 't1'"
    );
    let n = ShadowName::parse("cfg").unwrap();
    assert_eq!(
        not_found(thing, Some(&n)).message,
        "No shadow exists with name: 'cfg'"
    );
}

#[test]
fn shadow_names() {
    assert!(ShadowName::parse("$config:a_b-1").is_ok());
    assert!(ShadowName::parse(&"n".repeat(64)).is_ok());
    assert!(ShadowName::parse(&"n".repeat(65)).is_err());
    assert!(ShadowName::parse("a/b").is_err());
    assert!(ShadowName::parse("").is_err());
}
