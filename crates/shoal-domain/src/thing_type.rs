//! Thing types: https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html.
//! A type can be deprecated (no new things may use it) and deleted only after it has been
//! deprecated for five minutes.

use crate::clock::Timestamp;
use crate::error::{Result, ServiceError};
use crate::ids::{check_attribute_name, check_description};
use crate::tags::Tags;
use serde::{Deserialize, Serialize};

/// AWS: "You must wait five minutes after you deprecate a thing type before you can delete it."
pub const DELETE_WAIT_MILLIS: i64 = 5 * 60 * 1000;
/// AWS: up to three attributes of a type can be searchable.
pub const MAX_SEARCHABLE_ATTRIBUTES: usize = 3;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThingTypeProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searchable_attributes: Option<Vec<String>>,
    /// `mqtt5Configuration` kept verbatim as JSON: it is stored and returned, and used once the
    /// MQTT gateway propagates attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mqtt5_configuration: Option<serde_json::Value>,
}

impl ThingTypeProperties {
    pub fn validate(&self) -> Result<()> {
        if let Some(d) = &self.description {
            check_description("thingTypeProperties.thingTypeDescription", d)?;
        }
        if let Some(s) = &self.searchable_attributes {
            for a in s {
                check_attribute_name("thingTypeProperties.searchableAttributes.member", a)?;
            }
            if s.len() > MAX_SEARCHABLE_ATTRIBUTES {
                return Err(ServiceError::invalid(format!(
                    "A thing type can have at most {MAX_SEARCHABLE_ATTRIBUTES} searchable attributes"
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThingType {
    pub name: String,
    pub id: String,
    #[serde(default)]
    pub properties: ThingTypeProperties,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation_date: Option<Timestamp>,
    pub creation_date: Timestamp,
    #[serde(default)]
    pub tags: Tags,
}

impl ThingType {
    pub fn check_usable(&self) -> Result<()> {
        if self.deprecated {
            return Err(ServiceError::invalid(format!(
                "Can not create or update a thing with the deprecated thing type {}",
                self.name
            )));
        }
        Ok(())
    }

    /// DeprecateThingType; with `undo`, the type can be used again.
    pub fn deprecate(&mut self, undo: bool, now: Timestamp) {
        self.deprecated = !undo;
        self.deprecation_date = if undo { None } else { Some(now) };
    }

    /// DeleteThingType is allowed only for a type deprecated for at least five minutes.
    pub fn check_deletable(&self, now: Timestamp) -> Result<()> {
        match (self.deprecated, self.deprecation_date) {
            (true, Some(d)) if now.millis() - d.millis() >= DELETE_WAIT_MILLIS => Ok(()),
            (true, _) => Err(ServiceError::invalid(format!(
                "Thing type {} was deprecated less than 5 minutes ago; it can be deleted 5 minutes after deprecation",
                self.name
            ))),
            _ => Err(ServiceError::invalid(format!(
                "Thing type {} must be deprecated before it can be deleted",
                self.name
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_needs_five_minutes_of_deprecation() {
        let mut t = ThingType {
            name: "ty".into(),
            id: "i".into(),
            properties: Default::default(),
            deprecated: false,
            deprecation_date: None,
            creation_date: Timestamp(0),
            tags: Default::default(),
        };
        assert!(t.check_deletable(Timestamp(10_000_000)).is_err());
        t.deprecate(false, Timestamp(1000));
        assert!(t.check_usable().is_err());
        assert!(t
            .check_deletable(Timestamp(1000 + DELETE_WAIT_MILLIS - 1))
            .is_err());
        assert!(t
            .check_deletable(Timestamp(1000 + DELETE_WAIT_MILLIS))
            .is_ok());
        t.deprecate(true, Timestamp(2000));
        assert!(t.check_usable().is_ok());
        assert!(t.check_deletable(Timestamp(i64::MAX / 2)).is_err());
    }
}
