//! Device shadows as pure functions: the stored document, the update request and its checks,
//! the merge of `desired` and `reported` with their metadata, the delta, and the documents the
//! Device Shadow service answers with. The rules follow AWS's "Device Shadow service documents"
//! and "Device Shadow service data flow" pages
//! (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html).

mod merge;
mod request;
mod response;
#[cfg(test)]
mod tests;

use crate::error::{ErrorKind, Result, ServiceError};
use crate::ids::check;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

pub use merge::{delete, delta, update, Applied};
pub use request::{client_token, parse_token_only, Section, UpdateRequest};
pub use response::{deleted_document, error_document, full_document};

pub type Object = serde_json::Map<String, Value>;

/// AWS: "8 KB of data" for the desired and reported state together, metadata excluded.
pub const MAX_STATE_BYTES: usize = 8 * 1024;
/// AWS: "JSON contains too many levels of nesting; maximum is 6", counted inside `desired` and
/// `reported` (the document's own `state` and section levels make AWS's other figure, 8).
pub const MAX_DEPTH: usize = 6;
/// AWS: a client token is at most 64 bytes.
pub const MAX_CLIENT_TOKEN: usize = 64;
/// A deleted shadow recreated within 48 hours continues its version
/// (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-data-flow.html).
pub const VERSION_MEMORY_SECS: i64 = 48 * 3600;

/// A named shadow's name: `[$a-zA-Z0-9:_-]+`, 1 to 64 characters (iot-data model `ShadowName`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShadowName(String);

impl ShadowName {
    pub fn parse(s: &str) -> Result<Self> {
        check("shadowName", s, 1, 64, "[$a-zA-Z0-9:_-]+", |c| {
            c.is_ascii_alphanumeric() || matches!(c, '$' | ':' | '_' | '-')
        })?;
        Ok(ShadowName(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShadowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A shadow as stored: the two state sections, their metadata mirrors (a `{"timestamp": s}`
/// for every leaf), the version, and, once deleted, when: the version outlives the deletion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shadow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_meta: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_meta: Option<Object>,
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
}

impl Shadow {
    /// A shadow that exists: not deleted.
    pub fn is_live(&self) -> bool {
        self.deleted_at.is_none()
    }

    /// The version a new update builds on: a live shadow's, a recently deleted one's, or 0.
    pub fn base_version(&self, now_secs: i64) -> u64 {
        match self.deleted_at {
            None => self.version,
            Some(at) if now_secs - at < VERSION_MEMORY_SECS => self.version,
            Some(_) => 0,
        }
    }

    /// Whether `desired` holds anything `reported` does not (fleet indexing's `hasDelta`).
    pub fn has_delta(&self) -> bool {
        merge::delta(self).is_some()
    }
}

/// The "not found" error of a missing shadow, worded as AWS words it: the thing's name for a
/// classic shadow, the shadow's own name for a named one.
pub fn not_found(thing: &str, name: Option<&ShadowName>) -> ServiceError {
    let shown = name.map_or(thing, ShadowName::as_str);
    ServiceError::not_found(format!("No shadow exists with name: '{shown}'"))
}

/// Errors of the shadow documents that have no other kind: the 8 KB limit (413).
pub fn too_large() -> ServiceError {
    ServiceError::new(
        ErrorKind::PayloadTooLarge,
        "The payload exceeds the maximum size allowed",
    )
}
