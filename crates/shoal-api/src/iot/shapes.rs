//! Request shapes of the `iot` operations served here (members as named in the botocore model),
//! and the pieces of response shapes several operations share.

use serde::Deserialize;
use shoal_domain::thing::{AttributePayload, Attributes};
use shoal_domain::Timestamp;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributePayloadIn {
    pub attributes: Option<Attributes>,
    pub merge: Option<bool>,
}

impl AttributePayloadIn {
    pub fn into_domain(self) -> AttributePayload {
        AttributePayload {
            attributes: self.attributes.unwrap_or_default(),
            merge: self.merge.unwrap_or(false),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TagIn {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value", default)]
    pub value: Option<String>,
}

pub fn tag_pairs(tags: Option<Vec<TagIn>>) -> Vec<(String, String)> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value.unwrap_or_default()))
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateThingIn {
    pub thing_type_name: Option<String>,
    pub attribute_payload: Option<AttributePayloadIn>,
    pub billing_group_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateThingIn {
    pub thing_type_name: Option<String>,
    pub attribute_payload: Option<AttributePayloadIn>,
    pub expected_version: Option<i64>,
    pub remove_thing_type: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingTypePropertiesIn {
    pub thing_type_description: Option<String>,
    pub searchable_attributes: Option<Vec<String>>,
    pub mqtt5_configuration: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateThingTypeIn {
    pub thing_type_properties: Option<ThingTypePropertiesIn>,
    pub tags: Option<Vec<TagIn>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateThingTypeIn {
    pub thing_type_properties: Option<ThingTypePropertiesIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeprecateThingTypeIn {
    pub undo_deprecate: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingGroupPropertiesIn {
    pub thing_group_description: Option<String>,
    pub attribute_payload: Option<AttributePayloadIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateThingGroupIn {
    pub parent_group_name: Option<String>,
    pub thing_group_properties: Option<ThingGroupPropertiesIn>,
    pub tags: Option<Vec<TagIn>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateThingGroupIn {
    pub thing_group_properties: Option<ThingGroupPropertiesIn>,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipIn {
    pub thing_group_name: Option<String>,
    pub thing_group_arn: Option<String>,
    pub thing_name: Option<String>,
    pub thing_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateThingGroupsForThingIn {
    pub thing_name: Option<String>,
    pub thing_groups_to_add: Option<Vec<String>>,
    pub thing_groups_to_remove: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceIn {
    pub resource_arn: String,
    pub tags: Vec<TagIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagResourceIn {
    pub resource_arn: String,
    pub tag_keys: Vec<String>,
}

/// restJson1 timestamps in bodies are epoch seconds (aws-iot-api-map.md §2.2).
pub fn epoch(t: Timestamp) -> serde_json::Value {
    serde_json::json!(t.epoch_seconds_f64())
}

/// Adds `nextToken` only when there is a next page: AWS omits it at the end.
pub fn with_token(mut v: serde_json::Value, token: Option<String>) -> serde_json::Value {
    if let Some(t) = token {
        v["nextToken"] = t.into();
    }
    v
}
