//! The documents the Device Shadow service answers with, on MQTT and over HTTP alike
//! (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html#device-shadow-example-response-json).
//! The answers of an update are encoded straight from the shadow they describe, without an
//! intermediate JSON tree: every accepted update makes two or three of them.

use super::{merge, Object, Shadow};
use serde::Serialize;
use serde_json::{json, Value};

pub(super) fn with_token(doc: &mut Value, token: Option<&str>) {
    if let Some(t) = token {
        doc["clientToken"] = t.into();
    }
}

/// `{desired, reported}`, each present when the shadow has it.
#[derive(Serialize)]
pub(super) struct Sections<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<&'a Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported: Option<&'a Object>,
}

/// `{state: {desired, reported}, metadata: {desired, reported}, version}`, the form of
/// `/update/documents`' `previous` and `current`.
#[derive(Serialize)]
pub(super) struct Versioned<'a> {
    pub state: Sections<'a>,
    pub metadata: Sections<'a>,
    pub version: u64,
}

impl<'a> Versioned<'a> {
    pub fn of(s: &'a Shadow) -> Self {
        Versioned {
            state: Sections {
                desired: s.desired.as_ref(),
                reported: s.reported.as_ref(),
            },
            metadata: Sections {
                desired: s.desired_meta.as_ref(),
                reported: s.reported_meta.as_ref(),
            },
            version: s.version,
        }
    }
}

/// `/update/accepted` (the request's state as sent, with its metadata) and `/update/delta`
/// (the delta with its desired metadata): a state, its metadata, version, time and token.
#[derive(Serialize)]
pub(super) struct Answer<'a, S: Serialize> {
    pub state: &'a S,
    pub metadata: &'a S,
    pub version: u64,
    pub timestamp: i64,
    #[serde(rename = "clientToken", skip_serializing_if = "Option::is_none")]
    pub client_token: Option<&'a str>,
}

/// `/update/documents`: `previous` is already encoded (it was taken before the change), and
/// absent when the update created the shadow.
pub(super) fn documents(
    previous: Option<&[u8]>,
    current: &Shadow,
    now: i64,
    token: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(previous.map_or(0, <[u8]>::len) * 2 + 128);
    out.push(b'{');
    if let Some(p) = previous {
        out.extend_from_slice(b"\"previous\":");
        out.extend_from_slice(p);
        out.push(b',');
    }
    out.extend_from_slice(b"\"current\":");
    encode_into(&mut out, &Versioned::of(current));
    out.extend_from_slice(format!(",\"timestamp\":{now}").as_bytes());
    if let Some(t) = token {
        out.extend_from_slice(b",\"clientToken\":");
        encode_into(&mut out, &t);
    }
    out.push(b'}');
    out
}

pub(super) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    encode_into(&mut out, v);
    out
}

fn encode_into<T: Serialize>(out: &mut Vec<u8>, v: &T) {
    // Maps with string keys, numbers and strings: encoding cannot fail.
    let _ = serde_json::to_writer(out, v);
}

fn sections(desired: &Option<Object>, reported: &Option<Object>) -> Value {
    let mut v = json!({});
    if let Some(d) = desired {
        v["desired"] = Value::Object(d.clone());
    }
    if let Some(r) = reported {
        v["reported"] = Value::Object(r.clone());
    }
    v
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
