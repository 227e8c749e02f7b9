//! Custom authorizers (https://docs.aws.amazon.com/iot/latest/developerguide/custom-authentication.html):
//! the record CreateAuthorizer makes, and the rules of what its function answers
//! (https://docs.aws.amazon.com/iot/latest/developerguide/config-custom-auth.html).

use crate::clock::Timestamp;
use crate::error::{Result, ServiceError};
use crate::ids::{check, validation_error};
use crate::tags::Tags;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Token-signing public keys per authorizer: the model sets no bound; this one keeps a record
/// small (a key rotation needs two).
pub const MAX_SIGNING_KEYS: usize = 10;
/// The lowest and highest `disconnectAfterInSeconds` / `refreshAfterInSeconds` a function may
/// answer: five minutes to a day.
pub const MIN_SECONDS: i64 = 300;
pub const MAX_SECONDS: i64 = 86_400;
/// Policy documents a function may return.
pub const MAX_POLICIES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorizer {
    pub name: String,
    pub function_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_key_name: Option<String>,
    #[serde(default)]
    pub token_signing_public_keys: BTreeMap<String, String>,
    pub active: bool,
    pub signing_disabled: bool,
    pub enable_caching_for_http: bool,
    pub created: Timestamp,
    pub modified: Timestamp,
    #[serde(default)]
    pub tags: Tags,
}

/// The model's `AuthorizerName`: 1..=128 of `[\w=,@-]`.
pub fn check_name(name: &str) -> Result<()> {
    check("authorizerName", name, 1, 128, "[\\w=,@-]+", |c| {
        c.is_alphanumeric() || matches!(c, '_' | '=' | ',' | '@' | '-')
    })
}

pub fn check_token_key_name(name: &str) -> Result<()> {
    check("tokenKeyName", name, 1, 128, "[a-zA-Z0-9_-]+", |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
    })
}

pub fn check_function_arn(arn: &str) -> Result<()> {
    if arn.is_empty() || arn.chars().count() > 2048 {
        return Err(validation_error(
            "authorizerFunctionArn",
            arn,
            "Member must have length between 1 and 2048",
        ));
    }
    Ok(())
}

pub fn check_signing_keys(keys: &BTreeMap<String, String>) -> Result<()> {
    if keys.len() > MAX_SIGNING_KEYS {
        return Err(ServiceError::invalid(format!(
            "An authorizer can have at most {MAX_SIGNING_KEYS} token signing public keys"
        )));
    }
    for (name, value) in keys {
        check(
            "tokenSigningPublicKeys.key",
            name,
            1,
            128,
            "[a-zA-Z0-9:_-]+",
            |c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'),
        )?;
        if value.chars().count() > 5120 {
            return Err(validation_error(
                "tokenSigningPublicKeys.value",
                name,
                "Member must have length less than or equal to 5120",
            ));
        }
    }
    Ok(())
}

impl Authorizer {
    /// Signing (the default) needs the token's name and a key to verify it with.
    pub fn check_signing(&self) -> Result<()> {
        if !self.signing_disabled
            && (self.token_key_name.is_none() || self.token_signing_public_keys.is_empty())
        {
            return Err(ServiceError::invalid(
                "An authorizer that verifies token signatures needs tokenKeyName and tokenSigningPublicKeys; set signingDisabled to create one without",
            ));
        }
        Ok(())
    }
}

/// What a function answered, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResponse {
    pub is_authenticated: bool,
    pub principal_id: String,
    pub policy_documents: Vec<String>,
    pub disconnect_after_secs: i64,
    pub refresh_after_secs: i64,
}

/// Checks a function's answer against the rules of config-custom-auth.html; anything else is
/// a refused connection (InvalidResponseException for TestInvokeAuthorizer).
pub fn parse_response(v: &serde_json::Value) -> std::result::Result<AuthResponse, String> {
    let is_authenticated = v
        .get("isAuthenticated")
        .and_then(|b| b.as_bool())
        .ok_or("isAuthenticated must be a boolean")?;
    let principal_id = v
        .get("principalId")
        .and_then(|p| p.as_str())
        .ok_or("principalId must be a string")?;
    if principal_id.is_empty()
        || principal_id.len() > 128
        || !principal_id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err("principalId must be 1 to 128 letters and digits".into());
    }
    let seconds = |field: &str| -> std::result::Result<i64, String> {
        let n = v
            .get(field)
            .and_then(|n| n.as_i64())
            .ok_or(format!("{field} must be an integer"))?;
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&n) {
            return Err(format!(
                "{field} must be between {MIN_SECONDS} and {MAX_SECONDS}"
            ));
        }
        Ok(n)
    };
    let disconnect_after_secs = seconds("disconnectAfterInSeconds")?;
    let refresh_after_secs = seconds("refreshAfterInSeconds")?;
    let docs = v
        .get("policyDocuments")
        .and_then(|d| d.as_array())
        .ok_or("policyDocuments must be a list")?;
    if docs.len() > MAX_POLICIES {
        return Err(format!("at most {MAX_POLICIES} policy documents"));
    }
    let mut policy_documents = Vec::with_capacity(docs.len());
    for d in docs {
        // Each is a policy document, as a JSON string or (as functions often write) an object.
        match d {
            serde_json::Value::String(s) => policy_documents.push(s.clone()),
            serde_json::Value::Object(_) => policy_documents.push(d.to_string()),
            _ => return Err("policyDocuments holds policy documents".into()),
        }
    }
    Ok(AuthResponse {
        is_authenticated,
        principal_id: principal_id.to_string(),
        policy_documents,
        disconnect_after_secs,
        refresh_after_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok() -> serde_json::Value {
        json!({
            "isAuthenticated": true,
            "principalId": "dev1",
            "disconnectAfterInSeconds": 3600,
            "refreshAfterInSeconds": 300,
            "policyDocuments": ["{\"Version\":\"2012-10-17\",\"Statement\":[]}"],
        })
    }

    #[test]
    fn a_response_follows_the_documented_rules() {
        let r = parse_response(&ok()).unwrap();
        assert!(r.is_authenticated);
        assert_eq!(r.disconnect_after_secs, 3600);
        for (field, bad) in [
            ("principalId", json!("has space")),
            ("principalId", json!("")),
            ("disconnectAfterInSeconds", json!(299)),
            ("refreshAfterInSeconds", json!(86_401)),
            ("isAuthenticated", json!("yes")),
            ("policyDocuments", json!("{}")),
        ] {
            let mut v = ok();
            v[field] = bad;
            assert!(parse_response(&v).is_err(), "{field}");
        }
        let mut v = ok();
        v["policyDocuments"] = json!(vec!["{}"; 11]);
        assert!(parse_response(&v).is_err());
    }

    #[test]
    fn names_follow_the_model() {
        assert!(check_name("my-authorizer_1=@,").is_ok());
        assert!(check_name("bad name").is_err());
        assert!(check_token_key_name("token-1").is_ok());
        assert!(check_token_key_name("tok en").is_err());
    }
}
