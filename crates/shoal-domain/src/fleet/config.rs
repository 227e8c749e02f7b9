//! The indexing configuration (UpdateIndexingConfiguration / GetIndexingConfiguration): what
//! each index holds, the managed fields that follow from it, and AWS's rules for custom fields.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/managing-index.html>

use crate::error::{Result, ServiceError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ThingMode {
    #[default]
    Off,
    Registry,
    RegistryAndShadow,
}

impl ThingMode {
    pub fn parse(s: &str) -> Option<ThingMode> {
        match s {
            "OFF" => Some(ThingMode::Off),
            "REGISTRY" => Some(ThingMode::Registry),
            "REGISTRY_AND_SHADOW" => Some(ThingMode::RegistryAndShadow),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ThingMode::Off => "OFF",
            ThingMode::Registry => "REGISTRY",
            ThingMode::RegistryAndShadow => "REGISTRY_AND_SHADOW",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldType {
    Number,
    String,
    Boolean,
}

impl FieldType {
    pub fn parse(s: &str) -> Option<FieldType> {
        match s {
            "Number" => Some(FieldType::Number),
            "String" => Some(FieldType::String),
            "Boolean" => Some(FieldType::Boolean),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Number => "Number",
            FieldType::String => "String",
            FieldType::Boolean => "Boolean",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FieldType>,
}

impl Field {
    fn managed(name: &str, kind: FieldType) -> Field {
        Field {
            name: name.into(),
            kind: Some(kind),
        }
    }
}

/// AWS's default limit on the named shadows one configuration may select.
pub const MAX_NAMED_SHADOWS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IndexingConfig {
    pub thing_mode: ThingMode,
    #[serde(default)]
    pub connectivity: bool,
    #[serde(default)]
    pub device_defender: bool,
    #[serde(default)]
    pub named_shadows: bool,
    #[serde(default)]
    pub named_shadow_names: Vec<String>,
    #[serde(default)]
    pub custom_fields: Vec<Field>,
    /// `filter` members Shoal keeps and returns but does not act on (geoLocations,
    /// connectivity socket information), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_extra: Option<serde_json::Value>,
    #[serde(default)]
    pub groups: bool,
    #[serde(default)]
    pub group_custom_fields: Vec<Field>,
}

impl IndexingConfig {
    pub fn things_on(&self) -> bool {
        self.thing_mode != ThingMode::Off
    }

    pub fn classic_shadow(&self) -> bool {
        self.thing_mode == ThingMode::RegistryAndShadow
    }

    /// Whether the named shadow `name` is indexed.
    pub fn indexes_named(&self, name: &str) -> bool {
        self.named_shadows && self.named_shadow_names.iter().any(|n| n == name)
    }

    /// The fields AWS manages for this configuration (GetIndexingConfiguration's
    /// `managedFields`).
    pub fn managed_fields(&self) -> Vec<Field> {
        use FieldType::*;
        let mut out = Vec::new();
        if !self.things_on() {
            return out;
        }
        for (n, t) in [
            ("thingName", String),
            ("thingId", String),
            ("registry.version", Number),
            ("registry.thingTypeName", String),
            ("registry.thingGroupNames", String),
        ] {
            out.push(Field::managed(n, t));
        }
        if self.classic_shadow() {
            out.push(Field::managed("shadow.version", Number));
            out.push(Field::managed("shadow.hasDelta", Boolean));
        }
        if self.named_shadows {
            out.push(Field::managed("shadow.name.*.version", Number));
            out.push(Field::managed("shadow.name.*.hasDelta", Boolean));
        }
        if self.connectivity {
            out.push(Field::managed("connectivity.connected", Boolean));
            out.push(Field::managed("connectivity.timestamp", Number));
            out.push(Field::managed("connectivity.disconnectReason", String));
            out.push(Field::managed("connectivity.version", Number));
        }
        if self.device_defender {
            out.push(Field::managed("deviceDefender.violationCount", Number));
        }
        out
    }

    pub fn group_managed_fields(&self) -> Vec<Field> {
        use FieldType::*;
        if !self.groups {
            return Vec::new();
        }
        [
            ("description", String),
            ("parentGroupNames", String),
            ("thingGroupId", String),
            ("thingGroupName", String),
            ("version", Number),
        ]
        .into_iter()
        .map(|(n, t)| Field::managed(n, t))
        .collect()
    }

    /// DescribeIndex's `schema` for AWS_Things.
    pub fn schema(&self) -> &'static str {
        if self.named_shadows || self.device_defender {
            return "MULTI_INDEXING_MODE";
        }
        match (self.thing_mode, self.connectivity) {
            (ThingMode::Off, _) => "OFF",
            (ThingMode::Registry, false) => "REGISTRY",
            (ThingMode::Registry, true) => "REGISTRY_AND_CONNECTIVITY_STATUS",
            (ThingMode::RegistryAndShadow, false) => "REGISTRY_AND_SHADOW",
            (ThingMode::RegistryAndShadow, true) => "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS",
        }
    }

    /// AWS's rules: connectivity needs thing indexing; custom fields must name something the
    /// mode indexes, with a type, and not be managed fields.
    pub fn validate(&self) -> Result<()> {
        if !self.things_on() && (self.connectivity || self.named_shadows || self.device_defender) {
            return Err(ServiceError::invalid(
                "thingIndexingMode must not be OFF when other thing indexing modes are enabled",
            ));
        }
        if self.named_shadow_names.len() > MAX_NAMED_SHADOWS {
            return Err(ServiceError::invalid(format!(
                "At most {MAX_NAMED_SHADOWS} named shadows can be indexed"
            )));
        }
        let managed = self.managed_fields();
        for f in &self.custom_fields {
            if f.kind.is_none() {
                return Err(ServiceError::invalid(format!(
                    "Custom field {} must have a type",
                    f.name
                )));
            }
            if managed.iter().any(|m| m.name == f.name) {
                return Err(ServiceError::invalid(format!(
                    "Managed field {} cannot be redefined as a custom field",
                    f.name
                )));
            }
            let shadow =
                f.name.starts_with("shadow.desired.") || f.name.starts_with("shadow.reported.");
            let named = f.name.starts_with("shadow.name.");
            let ok = f.name.starts_with("attributes.")
                || (shadow && self.classic_shadow())
                || (named && self.named_shadows)
                || (f.name.starts_with("deviceDefender.") && self.device_defender);
            if !ok || f.name.ends_with('.') {
                return Err(ServiceError::invalid(format!(
                    "Custom field {} is not valid for thingIndexingMode {}",
                    f.name,
                    self.thing_mode.as_str()
                )));
            }
        }
        for f in &self.group_custom_fields {
            if !f.name.starts_with("attributes.") || f.kind.is_none() {
                return Err(ServiceError::invalid(format!(
                    "Custom field {} is not valid for thing group indexing",
                    f.name
                )));
            }
        }
        Ok(())
    }
}
