//! Handlers of CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThings and
//! GetThingConnectivityData.

use super::shapes::{with_token, CreateThingIn, UpdateThingIn};
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde_json::{json, Value};
use shoal_domain::ids::{check_attribute_name, check_attribute_value};
use shoal_domain::page::max_results;
use shoal_domain::thing::{Thing, ThingUpdate};
use shoal_domain::{BillingGroupName, Partition, ThingName, ThingTypeName};
use shoal_services::registry::{CreateThing, ListThings};
use shoal_services::{Messaging, Registry};

type R = Result<Value, ApiError>;

pub async fn create(reg: &Registry, part: &Partition, name: &str, body: &[u8]) -> R {
    let name = ThingName::parse(name)?;
    let input: CreateThingIn = json::parse(body)?;
    let billing_group = input
        .billing_group_name
        .as_deref()
        .map(BillingGroupName::parse)
        .transpose()?;
    let type_name = input
        .thing_type_name
        .as_deref()
        .map(ThingTypeName::parse)
        .transpose()?;
    let attributes = input
        .attribute_payload
        .and_then(|p| p.attributes)
        .unwrap_or_default();
    let thing = reg
        .create_thing(
            part,
            CreateThing {
                name,
                type_name,
                attributes,
                billing_group,
            },
        )
        .await?;
    Ok(json!({
        "thingName": thing.name,
        "thingArn": part.arn("thing", &thing.name),
        "thingId": thing.id,
    }))
}

pub fn thing_json(part: &Partition, t: &Thing) -> Value {
    let mut v = json!({
        "thingName": t.name,
        "thingArn": part.arn("thing", &t.name),
        "attributes": t.attributes,
        "version": t.version,
    });
    if let Some(ty) = &t.type_name {
        v["thingTypeName"] = ty.as_str().into();
    }
    v
}

pub fn describe(reg: &Registry, part: &Partition, name: &str) -> R {
    let t = reg.describe_thing(part, &ThingName::parse(name)?)?;
    let mut v = thing_json(part, &t);
    // AWS reports the thing name as the default MQTT client id.
    v["defaultClientId"] = t.name.as_str().into();
    v["thingId"] = t.id.as_str().into();
    if let Some(b) = &t.billing_group {
        v["billingGroupName"] = b.as_str().into();
    }
    Ok(v)
}

pub async fn update(reg: &Registry, part: &Partition, name: &str, body: &[u8]) -> R {
    let name = ThingName::parse(name)?;
    let input: UpdateThingIn = json::parse(body)?;
    if let Some(t) = &input.thing_type_name {
        ThingTypeName::parse(t)?;
    }
    let upd = ThingUpdate {
        type_name: input.thing_type_name,
        remove_type: input.remove_thing_type.unwrap_or(false),
        attributes: input.attribute_payload.map(|p| p.into_domain()),
        expected_version: input.expected_version,
    };
    reg.update_thing(part, &name, upd).await?;
    Ok(json!({}))
}

pub async fn delete(reg: &Registry, part: &Partition, name: &str, query: &Query) -> R {
    let name = ThingName::parse(name)?;
    reg.delete_thing(part, &name, query.int("expectedVersion")?)
        .await?;
    Ok(json!({}))
}

pub fn list(reg: &Registry, part: &Partition, query: &Query) -> R {
    let attribute_name = query.string("attributeName");
    let attribute_value = query.string("attributeValue");
    if let Some(n) = &attribute_name {
        check_attribute_name("attributeName", n)?;
    }
    if let Some(v) = &attribute_value {
        check_attribute_value("attributeValue", v)?;
    }
    let q = ListThings {
        attribute_name,
        attribute_value,
        use_prefix_attribute_value: query.bool("usePrefixAttributeValue")?.unwrap_or(false),
        type_name: query
            .get("thingTypeName")
            .map(ThingTypeName::parse)
            .transpose()?,
        max_results: max_results("maxResults", query.int("maxResults")?, 250)?,
        next_token: query.string("nextToken"),
    };
    let page = reg.list_things(part, &q)?;
    let things: Vec<Value> = page.items.iter().map(|t| thing_json(part, t)).collect();
    Ok(with_token(json!({ "things": things }), page.next_token))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnectivityIn {
    include_socket_information: Option<bool>,
}

/// GetThingConnectivityData: the last connection of the client whose id is the thing's name,
/// as the gateway recorded it (timestamps in epoch seconds, as restJson1 sends them).
/// https://docs.aws.amazon.com/iot/latest/apireference/API_GetThingConnectivityData.html
pub fn connectivity(
    reg: &Registry,
    messaging: &Messaging,
    part: &Partition,
    name: &str,
    body: &[u8],
) -> R {
    let name = ThingName::parse(name)?;
    let input: ConnectivityIn = json::parse(body)?;
    reg.describe_thing(part, &name)?;
    let Some(c) = messaging.connectivity(part, name.as_str())? else {
        return Ok(json!({ "thingName": name.as_str(), "connected": false }));
    };
    let mut v = json!({
        "thingName": name.as_str(),
        "connected": c.connected,
        "timestamp": c.timestamp as f64 / 1000.0,
        "keepAliveDuration": c.keep_alive_secs,
        "cleanSession": c.clean_session,
        "sessionExpiry": c.session_expiry_secs,
        "clientId": c.client_id,
    });
    if let Some(r) = &c.disconnect_reason {
        v["disconnectReason"] = r.as_str().into();
    }
    if input.include_socket_information == Some(true) {
        if let Some(ip) = &c.source_ip {
            v["sourceIp"] = ip.as_str().into();
        }
        if let Some(port) = c.source_port {
            v["sourcePort"] = port.into();
        }
    }
    Ok(v)
}
