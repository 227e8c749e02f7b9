//! Handlers of the thing-principal operations. The principal travels in the
//! `x-amzn-principal` header (botocore model).

use super::shapes::with_token;
use crate::error::ApiError;
use crate::request::Query;
use http::HeaderMap;
use serde_json::{json, Value};
use shoal_domain::page::max_results;
use shoal_domain::{Partition, ThingName};
use shoal_services::identity::ThingPrincipalType;
use shoal_services::Identity;

type R = Result<Value, ApiError>;

fn principal(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get("x-amzn-principal")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid("The x-amzn-principal header (principal) is required"))
}

/// The optional `thingPrincipalType` of a request.
fn principal_type(q: &Query) -> Result<Option<ThingPrincipalType>, ApiError> {
    Ok(q.get("thingPrincipalType")
        .map(ThingPrincipalType::parse)
        .transpose()?)
}

pub async fn attach(
    id: &Identity,
    part: &Partition,
    thing: &str,
    q: &Query,
    headers: &HeaderMap,
) -> R {
    let thing = ThingName::parse(thing)?;
    // AWS's default is NON_EXCLUSIVE_THING.
    let kind = principal_type(q)?.unwrap_or(ThingPrincipalType::NonExclusive);
    id.attach_thing_principal(part, &thing, principal(headers)?, kind)
        .await?;
    Ok(json!({}))
}

pub async fn detach(id: &Identity, part: &Partition, thing: &str, headers: &HeaderMap) -> R {
    let thing = ThingName::parse(thing)?;
    id.detach_thing_principal(part, &thing, principal(headers)?)
        .await?;
    Ok(json!({}))
}

/// ListThingPrincipals, and with `v2` ListThingPrincipalsV2 (each principal with its type).
pub fn list_for_thing(id: &Identity, part: &Partition, thing: &str, q: &Query, v2: bool) -> R {
    let thing = ThingName::parse(thing)?;
    let only = if v2 { principal_type(q)? } else { None };
    let page = id.list_thing_principals(
        part,
        &thing,
        only,
        max_results("maxResults", q.int("maxResults")?, 250)?,
        q.get("nextToken"),
    )?;
    let body = if v2 {
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|a| json!({ "principal": a.principal, "thingPrincipalType": a.kind.as_str() }))
            .collect();
        json!({ "thingPrincipalObjects": items })
    } else {
        let items: Vec<&str> = page.items.iter().map(|a| a.principal.as_str()).collect();
        json!({ "principals": items })
    };
    Ok(with_token(body, page.next_token))
}

/// ListPrincipalThings, and with `v2` ListPrincipalThingsV2 (each thing with its type).
pub fn list_things(id: &Identity, part: &Partition, q: &Query, headers: &HeaderMap, v2: bool) -> R {
    let only = if v2 { principal_type(q)? } else { None };
    let page = id.list_principal_things(
        part,
        principal(headers)?,
        only,
        max_results("maxResults", q.int("maxResults")?, 250)?,
        q.get("nextToken"),
    )?;
    let body = if v2 {
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|a| json!({ "thingName": a.thing, "thingPrincipalType": a.kind.as_str() }))
            .collect();
        json!({ "principalThingObjects": items })
    } else {
        let items: Vec<&str> = page.items.iter().map(|a| a.thing.as_str()).collect();
        json!({ "things": items })
    };
    Ok(with_token(body, page.next_token))
}
