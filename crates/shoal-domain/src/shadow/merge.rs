//! The update itself: version check, merge of each section with its metadata, the size limit,
//! and the delta. Objects merge recursively, `null` removes a key, arrays and scalars replace
//! (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html).

use super::request::Section;
use super::response::{self, Answer, Versioned};
use super::{too_large, Object, Shadow, UpdateRequest, MAX_STATE_BYTES};
use crate::error::{Result, ServiceError};
use serde_json::{json, Value};

/// The result of an accepted update: what to store and, encoded, what to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub shadow: Shadow,
    /// `/update/accepted` (and UpdateThingShadow's response).
    pub accepted: Vec<u8>,
    /// `/update/delta`, when desired and reported differ after the update.
    pub delta: Option<Vec<u8>>,
    /// `/update/documents`.
    pub documents: Vec<u8>,
}

impl Applied {
    /// What the update publishes, by the suffix of the `/update` topic it goes to: accepted,
    /// the delta when there is one, and the documents.
    pub fn answers(&self) -> Vec<(&'static str, &[u8])> {
        let mut out = vec![("accepted", self.accepted.as_slice())];
        if let Some(d) = &self.delta {
            out.push(("delta", d.as_slice()));
        }
        out.push(("documents", self.documents.as_slice()));
        out
    }
}

fn leaf_meta(now: i64) -> Value {
    json!({ "timestamp": now })
}

/// The metadata mirror of a value: objects recurse, an array has one entry per element (as
/// AWS's own examples show, https://docs.aws.amazon.com/iot/latest/developerguide/using-device-shadows.html),
/// every other value (a `null` that deletes included) gets the time of the update.
fn mirror(v: &Value, now: i64) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), mirror(v, now))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| mirror(v, now)).collect()),
        _ => leaf_meta(now),
    }
}

fn merge_object(target: &mut Object, meta: &mut Object, update: &Object, now: i64) {
    for (k, v) in update {
        match v {
            Value::Null => {
                target.remove(k);
                meta.remove(k);
            }
            Value::Object(sub) => {
                if !matches!(target.get(k), Some(Value::Object(_))) {
                    target.insert(k.clone(), Value::Object(Object::new()));
                    meta.insert(k.clone(), Value::Object(Object::new()));
                }
                let Some(Value::Object(t)) = target.get_mut(k) else {
                    continue;
                };
                let m = match meta.get_mut(k) {
                    Some(Value::Object(m)) => m,
                    _ => {
                        meta.insert(k.clone(), Value::Object(Object::new()));
                        match meta.get_mut(k) {
                            Some(Value::Object(m)) => m,
                            _ => continue,
                        }
                    }
                };
                merge_object(t, m, sub, now);
                // An object whose keys were all removed is removed with them.
                if t.is_empty() {
                    target.remove(k);
                    meta.remove(k);
                }
            }
            _ => {
                target.insert(k.clone(), v.clone());
                meta.insert(k.clone(), mirror(v, now));
            }
        }
    }
}

fn apply_section(
    section: &Section,
    state: &mut Option<Object>,
    meta: &mut Option<Object>,
    now: i64,
) {
    match section {
        Section::Keep => {}
        Section::Clear => {
            *state = None;
            *meta = None;
        }
        Section::Merge(update) => {
            let s = state.get_or_insert_with(Object::new);
            let m = meta.get_or_insert_with(Object::new);
            merge_object(s, m, update, now);
            if s.is_empty() {
                *state = None;
                *meta = None;
            }
        }
    }
}

fn state_bytes(s: &Shadow) -> usize {
    let len = |o: &Option<Object>| {
        o.as_ref()
            .and_then(|o| serde_json::to_vec(o).ok())
            .map_or(0, |v| v.len())
    };
    len(&s.desired) + len(&s.reported)
}

/// Applies `req` to `current` (absent, live or deleted) at `now` (epoch seconds).
pub fn update(current: Option<Shadow>, req: &UpdateRequest, now: i64) -> Result<Applied> {
    let base = current.as_ref().map_or(0, |s| s.base_version(now));
    if req.version.is_some_and(|v| v != base) {
        return Err(ServiceError::version_conflict("Version conflict"));
    }
    let live = current.filter(Shadow::is_live);
    // `/update/documents` shows the shadow before the change: encoded now, changed in place.
    let previous = live.as_ref().map(|p| response::encode(&Versioned::of(p)));
    let mut next = live.unwrap_or_default();
    next.deleted_at = None;
    apply_section(&req.desired, &mut next.desired, &mut next.desired_meta, now);
    apply_section(
        &req.reported,
        &mut next.reported,
        &mut next.reported_meta,
        now,
    );
    if state_bytes(&next) > MAX_STATE_BYTES {
        return Err(too_large());
    }
    next.version = base + 1;
    let token = req.client_token.as_deref();
    // `"state": null` is echoed with a bare `{"timestamp"}` as its metadata, as AWS does.
    let accepted = response::encode(&Answer {
        state: &req.state,
        metadata: &mirror(&req.state, now),
        version: next.version,
        timestamp: now,
        client_token: token,
    });
    let delta = delta(&next).map(|(state, metadata)| {
        response::encode(&Answer {
            state: &state,
            metadata: &metadata,
            version: next.version,
            timestamp: now,
            client_token: token,
        })
    });
    let documents = response::documents(previous.as_deref(), &next, now, token);
    Ok(Applied {
        shadow: next,
        accepted,
        delta,
        documents,
    })
}

/// The desired values that reported does not hold, with the full path of nested ones, and
/// their desired metadata; `None` when there is no difference.
pub fn delta(s: &Shadow) -> Option<(Object, Object)> {
    let desired = s.desired.as_ref()?;
    let (d, m) = delta_object(desired, s.reported.as_ref(), s.desired_meta.as_ref());
    (!d.is_empty()).then_some((d, m))
}

fn delta_object(
    desired: &Object,
    reported: Option<&Object>,
    meta: Option<&Object>,
) -> (Object, Object) {
    let mut delta = Object::new();
    let mut delta_meta = Object::new();
    for (k, dv) in desired {
        let rv = reported.and_then(|r| r.get(k));
        let mv = meta.and_then(|m| m.get(k));
        match (dv, rv) {
            (Value::Object(d), Some(Value::Object(r))) => {
                let (sub, sub_meta) = delta_object(d, Some(r), mv.and_then(Value::as_object));
                if !sub.is_empty() {
                    delta.insert(k.clone(), Value::Object(sub));
                    delta_meta.insert(k.clone(), Value::Object(sub_meta));
                }
            }
            (_, Some(r)) if r == dv => {}
            _ => {
                delta.insert(k.clone(), dv.clone());
                if let Some(m) = mv {
                    delta_meta.insert(k.clone(), m.clone());
                }
            }
        }
    }
    (delta, delta_meta)
}

/// Deletes a live shadow, keeping its version for a recreation within 48 hours.
pub fn delete(current: Option<&Shadow>, now: i64) -> Option<Shadow> {
    let live = current.filter(|s| s.is_live())?;
    Some(Shadow {
        version: live.version,
        deleted_at: Some(now),
        ..Shadow::default()
    })
}
