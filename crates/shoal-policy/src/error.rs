//! The one error this crate returns: a policy document AWS would refuse.

use std::fmt;

/// A policy document that is not valid. The API layer answers it as AWS IoT's
/// `MalformedPolicyException` (HTTP 400) with `message` as the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// AWS-like text, always starting with "Policy document is malformed".
    pub message: String,
}

impl PolicyError {
    /// AWS answers every rejected document with the same opening words
    /// ("Policy document is malformed"); the detail after the colon tells the
    /// user which element is wrong.
    pub(crate) fn malformed(detail: impl fmt::Display) -> Self {
        PolicyError {
            message: format!("Policy document is malformed: {detail}"),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}
