//! Things and the rules of their attributes, following
//! https://docs.aws.amazon.com/iot/latest/developerguide/thing-registry.html and the
//! `AttributePayload` documentation of CreateThing / UpdateThing.

use crate::clock::Timestamp;
use crate::error::{Result, ServiceError};
use crate::ids::{check_attribute_name, check_attribute_value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// AWS: a thing with a thing type can have up to 50 attributes, one without a type up to 3.
pub const MAX_ATTRIBUTES_UNTYPED: usize = 3;
pub const MAX_ATTRIBUTES_TYPED: usize = 50;

pub type Attributes = BTreeMap<String, String>;

/// A registry thing as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thing {
    pub name: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    #[serde(default)]
    pub attributes: Attributes,
    pub version: i64,
    /// Static thing groups the thing belongs to, kept on the thing so that
    /// ListThingGroupsForThing is one read and the membership limit one check.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The direct groups and all their ancestors (a group's parent never changes), so that
    /// ListThingsInThingGroup with `recursive` is one lookup.
    #[serde(default)]
    pub group_tree: Vec<String>,
    /// Dynamic thing groups whose query the thing matches, kept by the fleet index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dynamic_groups: Vec<String>,
    /// The billing group the thing is in (at most one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_group: Option<String>,
    pub created: Timestamp,
}

/// The attribute part of a request (`attributePayload`).
#[derive(Debug, Clone, Default)]
pub struct AttributePayload {
    pub attributes: Attributes,
    pub merge: bool,
}

/// Validates every attribute name and value against the model's patterns.
pub fn validate_attributes(attrs: &Attributes) -> Result<()> {
    for (k, v) in attrs {
        check_attribute_name("attributePayload.attributes.key", k)?;
        check_attribute_value("attributePayload.attributes.value", v)?;
    }
    Ok(())
}

fn check_attribute_count(attrs: &Attributes, typed: bool) -> Result<()> {
    let max = if typed {
        MAX_ATTRIBUTES_TYPED
    } else {
        MAX_ATTRIBUTES_UNTYPED
    };
    if attrs.len() > max {
        let why = if typed {
            "a thing with a thing type can have at most 50 attributes"
        } else {
            "a thing without a thing type can have at most 3 attributes; associate a thing type to use up to 50"
        };
        return Err(ServiceError::invalid(format!("Too many attributes: {why}")));
    }
    Ok(())
}

/// Applies an attribute payload to existing attributes. Without `merge` the payload replaces
/// them; with it, keys are added or replaced. In both, an empty value removes the key, as the
/// UpdateThing documentation says ("To remove an attribute, call UpdateThing with an empty
/// attribute value").
pub fn apply_attributes(current: &Attributes, payload: &AttributePayload) -> Attributes {
    let mut next = if payload.merge {
        current.clone()
    } else {
        Attributes::new()
    };
    for (k, v) in &payload.attributes {
        if v.is_empty() {
            next.remove(k);
        } else {
            next.insert(k.clone(), v.clone());
        }
    }
    next
}

/// What UpdateThing asks for.
#[derive(Debug, Clone, Default)]
pub struct ThingUpdate {
    pub type_name: Option<String>,
    pub remove_type: bool,
    pub attributes: Option<AttributePayload>,
    pub expected_version: Option<i64>,
}

impl Thing {
    /// Static and dynamic groups, sorted: ListThingGroupsForThing and `thingGroupNames`.
    pub fn all_groups(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .groups
            .iter()
            .chain(&self.dynamic_groups)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// A new thing; attribute values that are empty are not stored.
    pub fn new(
        name: &str,
        id: String,
        type_name: Option<String>,
        attributes: Attributes,
        now: Timestamp,
    ) -> Result<Thing> {
        validate_attributes(&attributes)?;
        let attributes = apply_attributes(
            &Attributes::new(),
            &AttributePayload {
                attributes,
                merge: true,
            },
        );
        check_attribute_count(&attributes, type_name.is_some())?;
        Ok(Thing {
            name: name.to_string(),
            id,
            type_name,
            attributes,
            version: 1,
            groups: Vec::new(),
            group_tree: Vec::new(),
            dynamic_groups: Vec::new(),
            billing_group: None,
            created: now,
        })
    }

    /// CreateThing is idempotent: the same name with the same configuration returns the
    /// existing thing; anything else is ResourceAlreadyExistsException (AWS SDK issue
    /// aws/aws-sdk-java#2234).
    pub fn same_configuration(&self, type_name: &Option<String>, attributes: &Attributes) -> bool {
        let wanted = apply_attributes(
            &Attributes::new(),
            &AttributePayload {
                attributes: attributes.clone(),
                merge: true,
            },
        );
        &self.type_name == type_name && self.attributes == wanted
    }

    pub fn check_expected_version(&self, expected: Option<i64>) -> Result<()> {
        match expected {
            Some(v) if v != self.version => Err(ServiceError::version_conflict(format!(
                "The version for thing {} does not match the expected version.",
                self.name
            ))),
            _ => Ok(()),
        }
    }

    /// Computes the updated thing; the caller has checked that a new type exists and is not
    /// deprecated.
    pub fn updated(&self, upd: &ThingUpdate) -> Result<Thing> {
        self.check_expected_version(upd.expected_version)?;
        if upd.remove_type && upd.type_name.is_some() {
            return Err(ServiceError::invalid(
                "Cannot specify both thingTypeName and removeThingType in the same request",
            ));
        }
        let mut next = self.clone();
        if upd.remove_type {
            next.type_name = None;
        } else if let Some(t) = &upd.type_name {
            next.type_name = Some(t.clone());
        }
        if let Some(p) = &upd.attributes {
            validate_attributes(&p.attributes)?;
            next.attributes = apply_attributes(&self.attributes, p);
        }
        check_attribute_count(&next.attributes, next.type_name.is_some())?;
        next.version += 1;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(kv: &[(&str, &str)]) -> Attributes {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn thing(kv: &[(&str, &str)]) -> Thing {
        Thing::new("t", "id".into(), None, attrs(kv), Timestamp(0)).unwrap()
    }

    #[test]
    fn merge_adds_and_empty_removes() {
        let t = thing(&[("a", "1"), ("b", "2")]);
        let p = AttributePayload {
            attributes: attrs(&[("a", ""), ("c", "3")]),
            merge: true,
        };
        let u = t
            .updated(&ThingUpdate {
                attributes: Some(p),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(u.attributes, attrs(&[("b", "2"), ("c", "3")]));
        assert_eq!(u.version, 2);
    }

    #[test]
    fn without_merge_replaces() {
        let t = thing(&[("a", "1"), ("b", "2")]);
        let p = AttributePayload {
            attributes: attrs(&[("c", "3")]),
            merge: false,
        };
        let u = t
            .updated(&ThingUpdate {
                attributes: Some(p),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(u.attributes, attrs(&[("c", "3")]));
    }

    #[test]
    fn version_conflict_and_limits() {
        let t = thing(&[]);
        let e = t
            .updated(&ThingUpdate {
                expected_version: Some(5),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::VersionConflict);
        assert!(Thing::new(
            "t",
            "i".into(),
            None,
            attrs(&[("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")]),
            Timestamp(0)
        )
        .is_err());
        let typed = attrs(&[("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")]);
        let t = Thing::new("t", "i".into(), Some("ty".into()), typed, Timestamp(0)).unwrap();
        let e = t
            .updated(&ThingUpdate {
                remove_type: true,
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidRequest);
    }

    #[test]
    fn idempotent_create_compares_configuration() {
        let t = thing(&[("a", "1")]);
        assert!(t.same_configuration(&None, &attrs(&[("a", "1")])));
        assert!(!t.same_configuration(&None, &attrs(&[("a", "2")])));
        assert!(!t.same_configuration(&Some("x".into()), &attrs(&[("a", "1")])));
    }
}
