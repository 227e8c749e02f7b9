//! Handlers of the thing-group operations (static and dynamic) and group membership.

use super::shapes::{
    epoch, tag_pairs, with_token, CreateThingGroupIn, MembershipIn, TagIn, ThingGroupPropertiesIn,
    UpdateThingGroupIn, UpdateThingGroupsForThingIn,
};
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::page::max_results;
use shoal_domain::{Arn, Partition, ServiceError, ThingGroupName, ThingName};
use shoal_services::fleet::DynamicSpec;
use shoal_services::registry::DynamicUpdate;
use shoal_services::registry::{CreateThingGroup, ListThingGroups};
use shoal_services::FleetIndexing;
use shoal_services::Registry;

type R = Result<Value, ApiError>;

fn name_and_arn(part: &Partition, name: &str) -> Value {
    json!({ "groupName": name, "groupArn": part.arn("thinggroup", name) })
}

/// CreateThingGroup's and CreateDynamicThingGroup's common members.
fn new_group(
    name: ThingGroupName,
    parent: Option<ThingGroupName>,
    props: Option<ThingGroupPropertiesIn>,
    tags: Option<Vec<TagIn>>,
) -> CreateThingGroup {
    let props = props.unwrap_or_default();
    CreateThingGroup {
        name,
        parent,
        description: props.thing_group_description,
        attributes: props
            .attribute_payload
            .and_then(|p| p.attributes)
            .unwrap_or_default(),
        tags: tag_pairs(tags),
        dynamic: None,
    }
}

pub async fn create(reg: &Registry, part: &Partition, name: &str, body: &[u8]) -> R {
    let name = ThingGroupName::parse(name)?;
    let input: CreateThingGroupIn = json::parse(body)?;
    let parent = input
        .parent_group_name
        .as_deref()
        .map(ThingGroupName::parse)
        .transpose()?;
    let req = new_group(name, parent, input.thing_group_properties, input.tags);
    let g = reg.create_thing_group(part, req).await?;
    Ok(json!({
        "thingGroupName": g.name,
        "thingGroupArn": part.arn("thinggroup", &g.name),
        "thingGroupId": g.id,
    }))
}

pub fn describe(reg: &Registry, part: &Partition, name: &str) -> R {
    let g = reg.describe_thing_group(part, &ThingGroupName::parse(name)?)?;
    // AWS leaves `attributePayload` out of a group that has no attributes.
    let mut props = json!({});
    if !g.attributes.is_empty() {
        props["attributePayload"] = json!({ "attributes": g.attributes });
    }
    if let Some(d) = &g.description {
        props["thingGroupDescription"] = d.as_str().into();
    }
    let mut meta = json!({ "creationDate": epoch(g.creation_date) });
    if let Some(p) = g.parent() {
        meta["parentGroupName"] = p.into();
        let path: Vec<Value> = g
            .root_to_parent
            .iter()
            .map(|n| name_and_arn(part, n))
            .collect();
        meta["rootToParentThingGroups"] = path.into();
    }
    let mut out = json!({
        "thingGroupName": g.name,
        "thingGroupId": g.id,
        "thingGroupArn": part.arn("thinggroup", &g.name),
        "version": g.version,
        "thingGroupProperties": props,
        "thingGroupMetadata": meta,
    });
    if let Some(d) = &g.dynamic {
        out["queryString"] = d.query_string.as_str().into();
        out["indexName"] = d.index_name.as_str().into();
        out["queryVersion"] = d.query_version.as_str().into();
        out["status"] = d.status.as_str().into();
    }
    Ok(out)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDynamicIn {
    thing_group_properties: Option<ThingGroupPropertiesIn>,
    index_name: Option<String>,
    query_string: Option<String>,
    query_version: Option<String>,
    tags: Option<Vec<TagIn>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateDynamicIn {
    thing_group_properties: Option<ThingGroupPropertiesIn>,
    expected_version: Option<i64>,
    index_name: Option<String>,
    query_string: Option<String>,
    query_version: Option<String>,
}

/// CreateDynamicThingGroup: `POST /dynamic-thing-groups/{thingGroupName}`.
pub async fn create_dynamic(fleet: &FleetIndexing, part: &Partition, name: &str, body: &[u8]) -> R {
    let name = ThingGroupName::parse(name)?;
    let input: CreateDynamicIn = json::parse(body)?;
    let query_string = input
        .query_string
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::invalid("queryString is required"))?;
    let req = new_group(name, None, input.thing_group_properties, input.tags);
    let spec = DynamicSpec {
        query_string,
        index_name: input.index_name,
        query_version: input.query_version,
    };
    let g = fleet.create_dynamic_group(part, req, spec).await?;
    let d = g.dynamic.as_ref();
    Ok(json!({
        "thingGroupName": g.name,
        "thingGroupArn": part.arn("thinggroup", &g.name),
        "thingGroupId": g.id,
        "indexName": d.map(|d| d.index_name.as_str()),
        "queryString": d.map(|d| d.query_string.as_str()),
        "queryVersion": d.map(|d| d.query_version.as_str()),
    }))
}

/// UpdateDynamicThingGroup: `PATCH /dynamic-thing-groups/{thingGroupName}`.
pub async fn update_dynamic(fleet: &FleetIndexing, part: &Partition, name: &str, body: &[u8]) -> R {
    let name = ThingGroupName::parse(name)?;
    let input: UpdateDynamicIn = json::parse(body)?;
    let props = input
        .thing_group_properties
        .ok_or_else(|| ApiError::invalid("thingGroupProperties is required"))?;
    let upd = DynamicUpdate {
        description: props.thing_group_description,
        attributes: props.attribute_payload.map(|p| p.into_domain()),
        expected_version: input.expected_version,
        query_string: input.query_string.filter(|q| !q.is_empty()),
        query_version: input.query_version,
    };
    let version = fleet
        .update_dynamic_group(part, &name, input.index_name.as_deref(), upd)
        .await?;
    Ok(json!({ "version": version }))
}

/// DeleteDynamicThingGroup: `DELETE /dynamic-thing-groups/{thingGroupName}?expectedVersion=`.
pub async fn delete_dynamic(
    fleet: &FleetIndexing,
    part: &Partition,
    name: &str,
    query: &Query,
) -> R {
    let name = ThingGroupName::parse(name)?;
    fleet
        .delete_dynamic_group(part, &name, query.int("expectedVersion")?)
        .await?;
    Ok(json!({}))
}

pub async fn update(reg: &Registry, part: &Partition, name: &str, body: &[u8]) -> R {
    let name = ThingGroupName::parse(name)?;
    let input: UpdateThingGroupIn = json::parse(body)?;
    let props = input
        .thing_group_properties
        .ok_or_else(|| ApiError::invalid("thingGroupProperties is required"))?;
    let version = reg
        .update_thing_group(
            part,
            &name,
            props.thing_group_description,
            props.attribute_payload.map(|p| p.into_domain()),
            input.expected_version,
        )
        .await?;
    Ok(json!({ "version": version }))
}

pub async fn delete(reg: &Registry, part: &Partition, name: &str, query: &Query) -> R {
    let name = ThingGroupName::parse(name)?;
    reg.delete_thing_group(part, &name, query.int("expectedVersion")?)
        .await?;
    Ok(json!({}))
}

pub fn list(reg: &Registry, part: &Partition, query: &Query) -> R {
    let name_prefix = query.string("namePrefixFilter");
    if let Some(p) = &name_prefix {
        ThingGroupName::parse(p)
            .map_err(|_| ServiceError::invalid(format!("Invalid namePrefixFilter '{p}'")))?;
    }
    let q = ListThingGroups {
        parent_group: query
            .get("parentGroup")
            .map(ThingGroupName::parse)
            .transpose()?,
        name_prefix,
        recursive: query.bool("recursive")?,
        max_results: max_results("maxResults", query.int("maxResults")?, 250)?,
        next_token: query.string("nextToken"),
    };
    let page = reg.list_thing_groups(part, &q)?;
    let groups: Vec<Value> = page
        .items
        .iter()
        .map(|g| name_and_arn(part, &g.name))
        .collect();
    Ok(with_token(
        json!({ "thingGroups": groups }),
        page.next_token,
    ))
}

pub fn list_things(reg: &Registry, part: &Partition, name: &str, query: &Query) -> R {
    let name = ThingGroupName::parse(name)?;
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let recursive = query.bool("recursive")?.unwrap_or(false);
    let page =
        reg.list_things_in_thing_group(part, &name, recursive, max, query.get("nextToken"))?;
    Ok(with_token(json!({ "things": page.items }), page.next_token))
}

pub fn list_for_thing(reg: &Registry, part: &Partition, name: &str, query: &Query) -> R {
    let name = ThingName::parse(name)?;
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let page = reg.list_thing_groups_for_thing(part, &name, max, query.get("nextToken"))?;
    let groups: Vec<Value> = page.items.iter().map(|g| name_and_arn(part, g)).collect();
    Ok(with_token(
        json!({ "thingGroups": groups }),
        page.next_token,
    ))
}

/// A member given by name or by ARN (AWS accepts either); an ARN of another account or region
/// names nothing that exists here.
fn resolve(
    part: &Partition,
    name: Option<String>,
    arn: Option<String>,
    kind: &str,
    what: &str,
) -> Result<String, ApiError> {
    match (name, arn) {
        (Some(n), _) => Ok(n),
        (None, Some(a)) => {
            let parsed = Arn::parse(&a)?;
            if parsed.resource_type != kind
                || parsed.region != part.region.as_str()
                || parsed.account != part.account.as_str()
            {
                return Err(ServiceError::not_found(format!("{what} {a} cannot be found.")).into());
            }
            Ok(parsed.resource)
        }
        (None, None) => Err(ApiError::invalid(format!(
            "Either the {what} name or its ARN is required"
        ))),
    }
}

fn membership(
    part: &Partition,
    input: MembershipIn,
) -> Result<(ThingName, ThingGroupName), ApiError> {
    let thing = resolve(part, input.thing_name, input.thing_arn, "thing", "Thing")?;
    let group = resolve(
        part,
        input.thing_group_name,
        input.thing_group_arn,
        "thinggroup",
        "Thing Group",
    )?;
    Ok((ThingName::parse(&thing)?, ThingGroupName::parse(&group)?))
}

pub async fn add_thing(reg: &Registry, part: &Partition, body: &[u8]) -> R {
    let (thing, group) = membership(part, json::parse(body)?)?;
    reg.add_thing_to_thing_group(part, &thing, &group).await?;
    Ok(json!({}))
}

pub async fn remove_thing(reg: &Registry, part: &Partition, body: &[u8]) -> R {
    let (thing, group) = membership(part, json::parse(body)?)?;
    reg.remove_thing_from_thing_group(part, &thing, &group)
        .await?;
    Ok(json!({}))
}

pub async fn update_for_thing(reg: &Registry, part: &Partition, body: &[u8]) -> R {
    let input: UpdateThingGroupsForThingIn = json::parse(body)?;
    let thing = ThingName::parse(input.thing_name.as_deref().unwrap_or_default())?;
    let names = |v: Option<Vec<String>>| -> Result<Vec<ThingGroupName>, ApiError> {
        v.unwrap_or_default()
            .iter()
            .map(|n| ThingGroupName::parse(n).map_err(ApiError::from))
            .collect()
    };
    let add = names(input.thing_groups_to_add)?;
    let remove = names(input.thing_groups_to_remove)?;
    reg.update_thing_groups_for_thing(part, &thing, &add, &remove)
        .await?;
    Ok(json!({}))
}
