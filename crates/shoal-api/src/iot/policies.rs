//! Handlers of the policy, policy-version and policy-attachment operations, GetEffectivePolicies
//! and TestAuthorization.

use super::shapes::epoch;
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::identity::Policy;
use shoal_domain::page::max_results;
use shoal_domain::Partition;
use shoal_services::identity::AuthCheck;
use shoal_services::Identity;

type R = Result<Value, ApiError>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentIn {
    policy_document: String,
    tags: Option<Vec<Value>>,
}

fn version_id(raw: &str) -> Result<u32, ApiError> {
    raw.parse::<u32>()
        .map_err(|_| ApiError::invalid(format!("1 validation error detected: Value '{raw}' at 'policyVersionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+")))
}

fn name_and_arn(part: &Partition, name: &str) -> Value {
    json!({ "policyName": name, "policyArn": part.arn("policy", name) })
}

pub async fn create(id: &Identity, part: &Partition, name: &str, body: &[u8]) -> R {
    let input: DocumentIn = json::parse(body)?;
    if input.tags.is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::invalid(
            "Tags on policies are not yet supported by Shoal",
        ));
    }
    let p = id.create_policy(part, name, &input.policy_document).await?;
    Ok(json!({
        "policyName": p.name,
        "policyArn": part.arn("policy", &p.name),
        "policyDocument": p.default_document(),
        "policyVersionId": p.default_version.to_string(),
    }))
}

pub fn get(id: &Identity, part: &Partition, name: &str) -> R {
    let p = id.get_policy(part, name)?;
    Ok(json!({
        "policyName": p.name,
        "policyArn": part.arn("policy", &p.name),
        "policyDocument": p.default_document(),
        "defaultVersionId": p.default_version.to_string(),
        "creationDate": epoch(p.created),
        "lastModifiedDate": epoch(p.last_modified),
        "generationId": p.generation_id,
    }))
}

pub fn list(id: &Identity, part: &Partition, q: &Query) -> R {
    let page = id.list_policies(
        part,
        max_results("pageSize", q.int("pageSize")?, 250)?,
        q.get("marker"),
    )?;
    let policies: Vec<Value> = page
        .items
        .iter()
        .map(|p: &Policy| name_and_arn(part, &p.name))
        .collect();
    let mut v = json!({ "policies": policies });
    if let Some(m) = page.next_token {
        v["nextMarker"] = m.into();
    }
    Ok(v)
}

pub async fn delete(id: &Identity, part: &Partition, name: &str) -> R {
    id.delete_policy(part, name).await?;
    Ok(json!({}))
}

pub async fn create_version(
    id: &Identity,
    part: &Partition,
    name: &str,
    q: &Query,
    body: &[u8],
) -> R {
    let input: DocumentIn = json::parse(body)?;
    let set_default = q.bool("setAsDefault")?.unwrap_or(false);
    let (p, version) = id
        .create_policy_version(part, name, &input.policy_document, set_default)
        .await?;
    Ok(json!({
        "policyArn": part.arn("policy", name),
        "policyDocument": input.policy_document,
        "policyVersionId": version.to_string(),
        "isDefaultVersion": p.default_version == version,
    }))
}

pub fn get_version(id: &Identity, part: &Partition, name: &str, version: &str) -> R {
    let v = version_id(version)?;
    let p = id.get_policy(part, name)?;
    let ver = p.version(v).ok_or_else(|| {
        shoal_domain::ServiceError::not_found(format!(
            "Policy version {v} of policy {name} cannot be found."
        ))
    })?;
    Ok(json!({
        "policyArn": part.arn("policy", name),
        "policyName": name,
        "policyDocument": ver.document,
        "policyVersionId": v.to_string(),
        "isDefaultVersion": p.default_version == v,
        "creationDate": epoch(ver.created),
        "lastModifiedDate": epoch(ver.created),
        "generationId": p.generation_id,
    }))
}

pub fn list_versions(id: &Identity, part: &Partition, name: &str) -> R {
    let p = id.get_policy(part, name)?;
    let mut versions: Vec<_> = p.versions.iter().collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.id));
    let list: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "versionId": v.id.to_string(), "isDefaultVersion": v.id == p.default_version, "createDate": epoch(v.created) }))
        .collect();
    Ok(json!({ "policyVersions": list }))
}

pub async fn set_default_version(id: &Identity, part: &Partition, name: &str, version: &str) -> R {
    id.set_default_policy_version(part, name, version_id(version)?)
        .await?;
    Ok(json!({}))
}

pub async fn delete_version(id: &Identity, part: &Partition, name: &str, version: &str) -> R {
    id.delete_policy_version(part, name, version_id(version)?)
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
struct TargetIn {
    target: String,
}

pub async fn attach(id: &Identity, part: &Partition, name: &str, body: &[u8]) -> R {
    let input: TargetIn = json::parse(body)?;
    id.attach_policy(part, name, &input.target).await?;
    Ok(json!({}))
}

pub async fn detach(id: &Identity, part: &Partition, name: &str, body: &[u8]) -> R {
    let input: TargetIn = json::parse(body)?;
    id.detach_policy(part, name, &input.target).await?;
    Ok(json!({}))
}

/// ListAttachedPolicies returns every attached policy in one page (a target has few).
pub fn list_attached(id: &Identity, part: &Partition, target: &str, q: &Query) -> R {
    max_results("pageSize", q.int("pageSize")?, 250)?;
    let names = id.list_attached_policies(part, target, q.bool("recursive")?.unwrap_or(false))?;
    let policies: Vec<Value> = names.iter().map(|n| name_and_arn(part, n)).collect();
    Ok(json!({ "policies": policies }))
}

pub fn list_targets(id: &Identity, part: &Partition, name: &str, q: &Query) -> R {
    let page = id.list_targets_for_policy(
        part,
        name,
        max_results("pageSize", q.int("pageSize")?, 250)?,
        q.get("marker"),
    )?;
    let mut v = json!({ "targets": page.items });
    if let Some(m) = page.next_token {
        v["nextMarker"] = m.into();
    }
    Ok(v)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct EffectiveIn {
    principal: Option<String>,
    cognito_identity_pool_id: Option<String>,
}

pub fn effective(id: &Identity, part: &Partition, q: &Query, body: &[u8]) -> R {
    let input: EffectiveIn = json::parse(body)?;
    if input.cognito_identity_pool_id.is_some() {
        return Err(ApiError::invalid(
            "Cognito identities are not yet supported by Shoal",
        ));
    }
    let policies = id.effective_policies(part, input.principal.as_deref(), q.get("thingName"))?;
    let list: Vec<Value> = policies
        .iter()
        .map(|p| json!({ "policyName": p.name, "policyArn": part.arn("policy", &p.name), "policyDocument": p.default_document() }))
        .collect();
    Ok(json!({ "effectivePolicies": list }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthInfoIn {
    action_type: Option<String>,
    resources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestAuthorizationIn {
    principal: Option<String>,
    cognito_identity_pool_id: Option<String>,
    auth_infos: Vec<AuthInfoIn>,
    policy_names_to_add: Option<Vec<String>>,
    policy_names_to_skip: Option<Vec<String>>,
}

pub fn test_authorization(id: &Identity, part: &Partition, q: &Query, body: &[u8]) -> R {
    let input: TestAuthorizationIn = json::parse(body)?;
    if input.cognito_identity_pool_id.is_some() {
        return Err(ApiError::invalid(
            "Cognito identities are not yet supported by Shoal",
        ));
    }
    if input.auth_infos.is_empty() || input.auth_infos.len() > 10 {
        return Err(ApiError::invalid(
            "authInfos must hold between 1 and 10 entries",
        ));
    }
    let checks: Vec<AuthCheck> = input
        .auth_infos
        .into_iter()
        .map(|a| AuthCheck {
            action_type: a.action_type.unwrap_or_default(),
            resources: a.resources,
        })
        .collect();
    let results = id.test_authorization(
        part,
        input.principal.as_deref(),
        q.get("clientId"),
        &checks,
        &input.policy_names_to_add.unwrap_or_default(),
        &input.policy_names_to_skip.unwrap_or_default(),
    )?;
    let named =
        |names: &[String]| -> Vec<Value> { names.iter().map(|n| name_and_arn(part, n)).collect() };
    let list: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "authInfo": { "actionType": r.action_type, "resources": r.resources },
                "allowed": { "policies": named(&r.allowed) },
                "denied": {
                    "implicitDeny": { "policies": named(&r.implicit_deny) },
                    "explicitDeny": { "policies": named(&r.explicit_deny) },
                },
                "authDecision": r.decision,
                "missingContextValues": [],
            })
        })
        .collect();
    Ok(json!({ "authResults": list }))
}
