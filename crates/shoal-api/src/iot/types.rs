//! Handlers of the thing-type operations.

use super::shapes::{
    epoch, tag_pairs, with_token, CreateThingTypeIn, DeprecateThingTypeIn, ThingTypePropertiesIn,
    UpdateThingTypeIn,
};
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde_json::{json, Value};
use shoal_domain::page::max_results;
use shoal_domain::thing_type::{ThingType, ThingTypeProperties};
use shoal_domain::{Partition, ThingTypeName};
use shoal_services::Registry;

type R = Result<Value, ApiError>;

fn properties(p: Option<ThingTypePropertiesIn>) -> ThingTypeProperties {
    let p = p.unwrap_or_default();
    ThingTypeProperties {
        description: p.thing_type_description,
        searchable_attributes: p.searchable_attributes,
        mqtt5_configuration: p.mqtt5_configuration,
    }
}

fn properties_json(p: &ThingTypeProperties) -> Value {
    let mut v = json!({});
    if let Some(d) = &p.description {
        v["thingTypeDescription"] = d.as_str().into();
    }
    if let Some(s) = &p.searchable_attributes {
        v["searchableAttributes"] = json!(s);
    }
    if let Some(m) = &p.mqtt5_configuration {
        v["mqtt5Configuration"] = m.clone();
    }
    v
}

fn metadata_json(t: &ThingType) -> Value {
    let mut v = json!({ "deprecated": t.deprecated, "creationDate": epoch(t.creation_date) });
    if let Some(d) = t.deprecation_date {
        v["deprecationDate"] = epoch(d);
    }
    v
}

pub async fn create(reg: &Registry, part: &Partition, name: &str, body: &[u8]) -> R {
    let name = ThingTypeName::parse(name)?;
    let input: CreateThingTypeIn = json::parse(body)?;
    let t = reg
        .create_thing_type(
            part,
            &name,
            properties(input.thing_type_properties),
            tag_pairs(input.tags),
        )
        .await?;
    Ok(json!({
        "thingTypeName": t.name,
        "thingTypeArn": part.arn("thingtype", &t.name),
        "thingTypeId": t.id,
    }))
}

pub fn describe(reg: &Registry, part: &Partition, name: &str) -> R {
    let t = reg.describe_thing_type(part, &ThingTypeName::parse(name)?)?;
    Ok(json!({
        "thingTypeName": t.name,
        "thingTypeId": t.id,
        "thingTypeArn": part.arn("thingtype", &t.name),
        "thingTypeProperties": properties_json(&t.properties),
        "thingTypeMetadata": metadata_json(&t),
    }))
}

pub async fn update(reg: &Registry, part: &Partition, name: &str, body: &[u8]) -> R {
    let name = ThingTypeName::parse(name)?;
    let input: UpdateThingTypeIn = json::parse(body)?;
    reg.update_thing_type(part, &name, properties(input.thing_type_properties))
        .await?;
    Ok(json!({}))
}

pub async fn deprecate(reg: &Registry, part: &Partition, name: &str, body: &[u8]) -> R {
    let name = ThingTypeName::parse(name)?;
    let input: DeprecateThingTypeIn = json::parse(body)?;
    reg.deprecate_thing_type(part, &name, input.undo_deprecate.unwrap_or(false))
        .await?;
    Ok(json!({}))
}

pub async fn delete(reg: &Registry, part: &Partition, name: &str) -> R {
    reg.delete_thing_type(part, &ThingTypeName::parse(name)?)
        .await?;
    Ok(json!({}))
}

pub fn list(reg: &Registry, part: &Partition, query: &Query) -> R {
    let only = query
        .get("thingTypeName")
        .map(ThingTypeName::parse)
        .transpose()?;
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let page = reg.list_thing_types(part, only.as_ref(), max, query.get("nextToken"))?;
    let types: Vec<Value> = page
        .items
        .iter()
        .map(|t| {
            json!({
                "thingTypeName": t.name,
                "thingTypeArn": part.arn("thingtype", &t.name),
                "thingTypeProperties": properties_json(&t.properties),
                "thingTypeMetadata": metadata_json(t),
            })
        })
        .collect();
    Ok(with_token(json!({ "thingTypes": types }), page.next_token))
}
