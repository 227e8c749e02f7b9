//! Handlers of TagResource, UntagResource and ListTagsForResource.

use super::shapes::{TagResourceIn, UntagResourceIn};
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde_json::{json, Value};
use shoal_domain::Partition;
use shoal_services::Registry;

type R = Result<Value, ApiError>;

pub async fn tag(reg: &Registry, part: &Partition, body: &[u8]) -> R {
    let input: TagResourceIn = json::parse(body)?;
    let pairs = super::shapes::tag_pairs(Some(input.tags));
    reg.tag_resource(part, &input.resource_arn, &pairs).await?;
    Ok(json!({}))
}

pub async fn untag(reg: &Registry, part: &Partition, body: &[u8]) -> R {
    let input: UntagResourceIn = json::parse(body)?;
    reg.untag_resource(part, &input.resource_arn, &input.tag_keys)
        .await?;
    Ok(json!({}))
}

/// All tags fit in one page (at most 50 per resource), so no `nextToken` is ever returned.
pub fn list(reg: &Registry, part: &Partition, query: &Query) -> R {
    let arn = query
        .get("resourceArn")
        .ok_or_else(|| ApiError::invalid("resourceArn is required"))?;
    let tags: Vec<Value> = reg
        .list_tags_for_resource(part, arn)?
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(json!({ "tags": tags }))
}
