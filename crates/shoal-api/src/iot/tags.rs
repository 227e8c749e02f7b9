//! Handlers of TagResource, UntagResource and ListTagsForResource. Role aliases are the
//! identity service's, authorizers the authorizer service's; every other taggable resource is
//! the registry's.

use super::shapes::{TagResourceIn, UntagResourceIn};
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use crate::ApiState;
use serde_json::{json, Value};
use shoal_domain::error::Result;
use shoal_domain::tags::Tags;
use shoal_domain::{Arn, Partition};

type R = std::result::Result<Value, ApiError>;

/// A resource whose tags live outside the registry.
enum Owner {
    RoleAlias(String),
    Authorizer(String),
    /// `NAME/SUFFIX`: the name is the first part.
    Domain(String),
    ProvisioningTemplate(String),
    Registry,
}

fn owner(part: &Partition, arn: &str) -> Owner {
    let Ok(a) = Arn::parse(arn) else {
        return Owner::Registry;
    };
    if a.account != part.account.as_str() || a.region != part.region.as_str() {
        return Owner::Registry;
    }
    match a.resource_type.as_str() {
        "rolealias" => Owner::RoleAlias(a.resource),
        "authorizer" => Owner::Authorizer(a.resource),
        "provisioningtemplate" => Owner::ProvisioningTemplate(a.resource),
        "domainconfiguration" => {
            Owner::Domain(a.resource.split('/').next().unwrap_or("").to_string())
        }
        _ => Owner::Registry,
    }
}

/// Changes the tags of a resource outside the registry; `None` when the registry owns it.
async fn modify(
    state: &ApiState,
    part: &Partition,
    arn: &str,
    change: impl FnMut(&mut Tags) -> Result<()>,
) -> Option<Result<()>> {
    Some(match owner(part, arn) {
        Owner::RoleAlias(n) => {
            state
                .identity
                .modify_role_alias_tags(part, &n, change)
                .await
        }
        Owner::Authorizer(n) => state.authorizers.modify_tags(part, &n, change).await,
        Owner::Domain(n) => state.domains.modify_tags(part, &n, change).await,
        Owner::ProvisioningTemplate(n) => {
            state
                .provisioning
                .modify_template_tags(part, &n, change)
                .await
        }
        Owner::Registry => return None,
    })
}

pub async fn tag(state: &ApiState, part: &Partition, body: &[u8]) -> R {
    let input: TagResourceIn = json::parse(body)?;
    let pairs = super::shapes::tag_pairs(Some(input.tags));
    match modify(state, part, &input.resource_arn, |t| t.merge(&pairs)).await {
        Some(done) => done?,
        None => {
            state
                .registry
                .tag_resource(part, &input.resource_arn, &pairs)
                .await?
        }
    }
    Ok(json!({}))
}

pub async fn untag(state: &ApiState, part: &Partition, body: &[u8]) -> R {
    let input: UntagResourceIn = json::parse(body)?;
    let remove = |t: &mut Tags| {
        t.remove(&input.tag_keys);
        Ok(())
    };
    match modify(state, part, &input.resource_arn, remove).await {
        Some(done) => done?,
        None => {
            state
                .registry
                .untag_resource(part, &input.resource_arn, &input.tag_keys)
                .await?
        }
    }
    Ok(json!({}))
}

/// All tags fit in one page (at most 50 per resource), so no `nextToken` is ever returned.
pub fn list(state: &ApiState, part: &Partition, query: &Query) -> R {
    let arn = query
        .get("resourceArn")
        .ok_or_else(|| ApiError::invalid("resourceArn is required"))?;
    let pairs: Vec<(String, String)> = match owner(part, arn) {
        Owner::RoleAlias(n) => state
            .identity
            .describe_role_alias(part, &n)?
            .tags
            .0
            .into_iter()
            .collect(),
        Owner::Authorizer(n) => state
            .authorizers
            .describe(part, &n)?
            .tags
            .0
            .into_iter()
            .collect(),
        Owner::Domain(n) => state
            .domains
            .describe(part, &n)?
            .tags
            .0
            .into_iter()
            .collect(),
        Owner::ProvisioningTemplate(n) => state
            .provisioning
            .describe_template(part, &n)?
            .tags
            .0
            .into_iter()
            .collect(),
        Owner::Registry => state.registry.list_tags_for_resource(part, arn)?,
    };
    let tags: Vec<Value> = pairs
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(json!({ "tags": tags }))
}
