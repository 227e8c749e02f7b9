//! Handlers of the thing-principal operations. The principal travels in the
//! `x-amzn-principal` header (botocore model).

use super::shapes::with_token;
use crate::error::ApiError;
use crate::request::Query;
use http::HeaderMap;
use serde_json::{json, Value};
use shoal_domain::page::max_results;
use shoal_domain::{Partition, ThingName};
use shoal_services::Identity;

type R = Result<Value, ApiError>;

fn principal(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get("x-amzn-principal")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid("The x-amzn-principal header (principal) is required"))
}

pub async fn attach(
    id: &Identity,
    part: &Partition,
    thing: &str,
    q: &Query,
    headers: &HeaderMap,
) -> R {
    let thing = ThingName::parse(thing)?;
    match q.get("thingPrincipalType") {
        None | Some("NON_EXCLUSIVE_THING") => {}
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "thingPrincipalType {other} is not yet supported by Shoal"
            )))
        }
    }
    id.attach_thing_principal(part, &thing, principal(headers)?)
        .await?;
    Ok(json!({}))
}

pub async fn detach(id: &Identity, part: &Partition, thing: &str, headers: &HeaderMap) -> R {
    let thing = ThingName::parse(thing)?;
    id.detach_thing_principal(part, &thing, principal(headers)?)
        .await?;
    Ok(json!({}))
}

pub fn list_for_thing(id: &Identity, part: &Partition, thing: &str, q: &Query) -> R {
    let thing = ThingName::parse(thing)?;
    let page = id.list_thing_principals(
        part,
        &thing,
        max_results("maxResults", q.int("maxResults")?, 250)?,
        q.get("nextToken"),
    )?;
    Ok(with_token(
        json!({ "principals": page.items }),
        page.next_token,
    ))
}

pub fn list_things(id: &Identity, part: &Partition, q: &Query, headers: &HeaderMap) -> R {
    let page = id.list_principal_things(
        part,
        principal(headers)?,
        max_results("maxResults", q.int("maxResults")?, 250)?,
        q.get("nextToken"),
    )?;
    Ok(with_token(json!({ "things": page.items }), page.next_token))
}
