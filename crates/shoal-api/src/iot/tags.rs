//! Handlers of TagResource, UntagResource and ListTagsForResource. Role aliases are the
//! identity service's; every other taggable resource is the registry's.

use super::shapes::{TagResourceIn, UntagResourceIn};
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde_json::{json, Value};
use shoal_domain::{Arn, Partition};
use shoal_services::{Identity, Registry};

type R = Result<Value, ApiError>;

/// The role alias an ARN names, if it names one of the caller's partition.
fn role_alias(part: &Partition, arn: &str) -> Option<String> {
    let a = Arn::parse(arn).ok()?;
    (a.resource_type == "rolealias"
        && a.account == part.account.as_str()
        && a.region == part.region.as_str())
    .then_some(a.resource)
}

pub async fn tag(reg: &Registry, id: &Identity, part: &Partition, body: &[u8]) -> R {
    let input: TagResourceIn = json::parse(body)?;
    let pairs = super::shapes::tag_pairs(Some(input.tags));
    match role_alias(part, &input.resource_arn) {
        Some(alias) => {
            id.modify_role_alias_tags(part, &alias, |t| t.merge(&pairs))
                .await?
        }
        None => reg.tag_resource(part, &input.resource_arn, &pairs).await?,
    }
    Ok(json!({}))
}

pub async fn untag(reg: &Registry, id: &Identity, part: &Partition, body: &[u8]) -> R {
    let input: UntagResourceIn = json::parse(body)?;
    match role_alias(part, &input.resource_arn) {
        Some(alias) => {
            id.modify_role_alias_tags(part, &alias, |t| {
                t.remove(&input.tag_keys);
                Ok(())
            })
            .await?
        }
        None => {
            reg.untag_resource(part, &input.resource_arn, &input.tag_keys)
                .await?
        }
    }
    Ok(json!({}))
}

/// All tags fit in one page (at most 50 per resource), so no `nextToken` is ever returned.
pub fn list(reg: &Registry, id: &Identity, part: &Partition, query: &Query) -> R {
    let arn = query
        .get("resourceArn")
        .ok_or_else(|| ApiError::invalid("resourceArn is required"))?;
    let pairs: Vec<(String, String)> = match role_alias(part, arn) {
        Some(alias) => id
            .describe_role_alias(part, &alias)?
            .tags
            .0
            .into_iter()
            .collect(),
        None => reg.list_tags_for_resource(part, arn)?,
    };
    let tags: Vec<Value> = pairs
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(json!({ "tags": tags }))
}
