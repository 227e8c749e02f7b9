//! The documents the Device Shadow service answers with, on MQTT and over HTTP alike
//! (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html#device-shadow-example-response-json).

use super::{merge, Shadow};
use serde_json::{json, Value};

pub(super) fn with_token(doc: &mut Value, token: Option<&str>) {
    if let Some(t) = token {
        doc["clientToken"] = t.into();
    }
}

fn sections(desired: &Option<super::Object>, reported: &Option<super::Object>) -> Value {
    let mut v = json!({});
    if let Some(d) = desired {
        v["desired"] = Value::Object(d.clone());
    }
    if let Some(r) = reported {
        v["reported"] = Value::Object(r.clone());
    }
    v
}

/// `{state: {desired, reported}, metadata: {desired, reported}, version}`, the form of
/// `/update/documents`' `previous` and `current`.
pub(super) fn versioned_document(s: &Shadow) -> Value {
    json!({
        "state": sections(&s.desired, &s.reported),
        "metadata": sections(&s.desired_meta, &s.reported_meta),
        "version": s.version,
    })
}

/// GetThingShadow and `/get/accepted`: the state with its delta, metadata, version, time.
pub fn full_document(s: &Shadow, token: Option<&str>, now: i64) -> Value {
    let mut state = sections(&s.desired, &s.reported);
    if let Some((d, _)) = merge::delta(s) {
        state["delta"] = Value::Object(d);
    }
    let mut doc = json!({
        "state": state,
        "metadata": sections(&s.desired_meta, &s.reported_meta),
        "version": s.version,
        "timestamp": now,
    });
    with_token(&mut doc, token);
    doc
}

/// DeleteThingShadow and `/delete/accepted`: the deleted shadow's version and the time.
pub fn deleted_document(version: u64, token: Option<&str>, now: i64) -> Value {
    let mut doc = json!({ "version": version, "timestamp": now });
    with_token(&mut doc, token);
    doc
}

/// The `/rejected` payload: `{code, message, timestamp, clientToken}`
/// (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html).
pub fn error_document(code: u16, message: &str, token: Option<&str>, now: i64) -> Value {
    let mut doc = json!({ "code": code, "message": message, "timestamp": now });
    with_token(&mut doc, token);
    doc
}
