//! The update request: what AWS accepts in `/update` and UpdateThingShadow, with its exact
//! rejection messages (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html).

use super::{Object, MAX_CLIENT_TOKEN, MAX_DEPTH};
use crate::error::{ErrorKind, Result, ServiceError};
use serde_json::Value;

/// What an update asks for one section.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    /// The section is not in the request.
    Keep,
    /// `"desired": null` removes the section.
    Clear,
    Merge(Object),
}

/// A parsed, checked update request.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    pub desired: Section,
    pub reported: Section,
    /// `"state": null` clears both sections.
    pub clear: bool,
    pub version: Option<u64>,
    pub client_token: Option<String>,
    /// The request's `state` as sent, which `/update/accepted` echoes.
    pub state: Value,
}

fn invalid(message: &str) -> ServiceError {
    ServiceError::invalid(message)
}

/// The client token of a request, when the payload is JSON with a string `clientToken`: every
/// answer echoes it, the rejections of malformed requests included when it can be read.
pub fn client_token(payload: &[u8]) -> Option<String> {
    if payload.is_empty() {
        return None;
    }
    let v: Value = serde_json::from_slice(payload).ok()?;
    match v.get("clientToken") {
        Some(Value::String(s)) if s.len() <= MAX_CLIENT_TOKEN => Some(s.clone()),
        _ => None,
    }
}

/// Checks the client token of a get or delete request, whose other content AWS ignores.
pub fn parse_token_only(payload: &[u8]) -> Result<Option<String>> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v = parse_json(payload)?;
    token_of(&v)
}

fn parse_json(payload: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(payload).map_err(|_| {
        ServiceError::new(
            ErrorKind::UnsupportedEncoding,
            "Unsupported documented encoding; supported encoding is UTF-8",
        )
    })?;
    serde_json::from_str(text).map_err(|_| invalid("Invalid JSON"))
}

fn token_of(v: &Value) -> Result<Option<String>> {
    match v.get("clientToken") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_CLIENT_TOKEN => Ok(Some(s.clone())),
        Some(_) => Err(invalid("Invalid clientToken")),
    }
}

/// Levels of objects and arrays below `v`: a scalar is 0, `{"a": 1}` is 1.
fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn section(state: &Object, name: &str, message: &str) -> Result<Section> {
    match state.get(name) {
        None => Ok(Section::Keep),
        Some(Value::Null) => Ok(Section::Clear),
        Some(Value::Object(m)) => {
            if depth(&Value::Object(m.clone())) > MAX_DEPTH {
                return Err(invalid(
                    "JSON contains too many levels of nesting; maximum is 6",
                ));
            }
            Ok(Section::Merge(m.clone()))
        }
        Some(_) => Err(invalid(message)),
    }
}

impl UpdateRequest {
    pub fn parse(payload: &[u8]) -> Result<UpdateRequest> {
        let v = parse_json(payload)?;
        let Value::Object(doc) = &v else {
            return Err(invalid("Invalid JSON"));
        };
        let client_token = token_of(&v)?;
        let version = match doc.get("version") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| invalid("Invalid version"))?),
            Some(_) => return Err(invalid("Invalid version")),
        };
        let state = doc
            .get("state")
            .ok_or_else(|| invalid("Missing required node: state"))?;
        let (desired, reported, clear) = match state {
            Value::Null => (Section::Clear, Section::Clear, true),
            Value::Object(s) => {
                if s.keys().any(|k| k != "desired" && k != "reported") {
                    return Err(invalid("State contains an invalid node"));
                }
                (
                    section(s, "desired", "Desired node must be an object")?,
                    section(s, "reported", "Reported node must be an object")?,
                    false,
                )
            }
            _ => return Err(invalid("State node must be an object")),
        };
        Ok(UpdateRequest {
            desired,
            reported,
            clear,
            version,
            client_token,
            state: state.clone(),
        })
    }
}
