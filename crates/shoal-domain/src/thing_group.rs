//! Static thing groups and their hierarchy:
//! https://docs.aws.amazon.com/iot/latest/developerguide/thing-groups.html.

use crate::clock::Timestamp;
use crate::error::{Result, ServiceError};
use crate::ids::check_description;
use crate::tags::Tags;
use crate::thing::{apply_attributes, validate_attributes, AttributePayload, Attributes};
use serde::{Deserialize, Serialize};

/// AWS: a hierarchy of thing groups can be at most 7 levels deep.
pub const MAX_DEPTH: usize = 7;
/// AWS: a thing can belong to at most 10 thing groups.
pub const MAX_GROUPS_PER_THING: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThingGroup {
    pub name: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub attributes: Attributes,
    /// Names from the root of the hierarchy down to the parent; empty for a root group.
    #[serde(default)]
    pub root_to_parent: Vec<String>,
    pub version: i64,
    pub creation_date: Timestamp,
    #[serde(default)]
    pub tags: Tags,
    /// Set for a dynamic thing group: membership follows its fleet-index query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<DynamicQuery>,
}

/// A dynamic thing group's query and the state of its membership.
/// <https://docs.aws.amazon.com/iot/latest/developerguide/dynamic-thing-groups.html>
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamicQuery {
    pub query_string: String,
    pub index_name: String,
    pub query_version: String,
    /// BUILDING until the first membership is computed, REBUILDING after the query changes,
    /// then ACTIVE.
    pub status: String,
}

/// AWS's default query version for fleet-indexing queries.
pub const QUERY_VERSION: &str = "2017-09-30";
/// AWS: at most 100 dynamic thing groups per account.
pub const MAX_DYNAMIC_GROUPS: usize = 100;

/// The refusal of a static-group operation on a dynamic group, worded as AWS words it.
pub fn not_for_dynamic(arn: &str) -> ServiceError {
    ServiceError::invalid(format!(
        "This operation does not support dynamic thing groups. Thing group arn: {arn}"
    ))
}

impl ThingGroup {
    pub fn new(
        name: &str,
        id: String,
        parent: Option<&ThingGroup>,
        description: Option<String>,
        attributes: Attributes,
        now: Timestamp,
    ) -> Result<ThingGroup> {
        if let Some(d) = &description {
            check_description("thingGroupProperties.thingGroupDescription", d)?;
        }
        validate_attributes(&attributes)?;
        let root_to_parent = match parent {
            Some(p) => {
                let mut path = p.root_to_parent.clone();
                path.push(p.name.clone());
                path
            }
            None => Vec::new(),
        };
        // The model lists no LimitExceededException for these operations, so SDKs only map
        // InvalidRequestException to a typed error.
        if root_to_parent.len() + 1 > MAX_DEPTH {
            return Err(ServiceError::invalid(format!(
                "Thing group hierarchy can be at most {MAX_DEPTH} levels deep"
            )));
        }
        let attributes = apply_attributes(
            &Attributes::new(),
            &AttributePayload {
                attributes,
                merge: true,
            },
        );
        Ok(ThingGroup {
            name: name.to_string(),
            id,
            description,
            attributes,
            root_to_parent,
            version: 1,
            creation_date: now,
            tags: Tags::default(),
            dynamic: None,
        })
    }

    pub fn parent(&self) -> Option<&str> {
        self.root_to_parent.last().map(String::as_str)
    }

    /// The root of this group's hierarchy (itself for a root group).
    pub fn root(&self) -> &str {
        self.root_to_parent
            .first()
            .map(String::as_str)
            .unwrap_or(&self.name)
    }

    pub fn same_configuration(
        &self,
        parent: Option<&str>,
        description: &Option<String>,
        attributes: &Attributes,
    ) -> bool {
        let wanted = apply_attributes(
            &Attributes::new(),
            &AttributePayload {
                attributes: attributes.clone(),
                merge: true,
            },
        );
        self.parent() == parent && &self.description == description && self.attributes == wanted
    }

    /// UpdateThingGroup: description and attributes, guarded by `expectedVersion`.
    pub fn updated(
        &self,
        description: Option<String>,
        payload: Option<&AttributePayload>,
        expected: Option<i64>,
    ) -> Result<ThingGroup> {
        if let Some(v) = expected {
            if v != self.version {
                return Err(ServiceError::version_conflict(format!(
                    "The version for thing group {} does not match the expected version.",
                    self.name
                )));
            }
        }
        let mut next = self.clone();
        if let Some(d) = description {
            check_description("thingGroupProperties.thingGroupDescription", &d)?;
            next.description = Some(d);
        }
        if let Some(p) = payload {
            validate_attributes(&p.attributes)?;
            next.attributes = apply_attributes(&self.attributes, p);
        }
        next.version += 1;
        Ok(next)
    }
}

/// Checks that a thing whose groups have the roots `current_roots` (one entry per group it is
/// in) may join `group`. AWS: "You can add a thing to a maximum of 10 groups. But you can't add
/// a thing to more than one group in the same hierarchy"
/// (https://docs.aws.amazon.com/iot/latest/developerguide/thing-groups.html).
pub fn check_can_join(current_roots: &[&str], group: &ThingGroup) -> Result<()> {
    if current_roots.len() >= MAX_GROUPS_PER_THING {
        return Err(ServiceError::invalid(format!(
            "A thing can be a member of at most {MAX_GROUPS_PER_THING} thing groups"
        )));
    }
    if current_roots.contains(&group.root()) {
        return Err(ServiceError::invalid(format!(
            "Cannot add the thing to thing group {}: it already belongs to a group in the same hierarchy (root {})",
            group.name,
            group.root()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, parent: Option<&ThingGroup>) -> Result<ThingGroup> {
        ThingGroup::new(
            name,
            format!("id-{name}"),
            parent,
            None,
            Attributes::new(),
            Timestamp(0),
        )
    }

    #[test]
    fn hierarchy_depth_is_seven() {
        let mut g = group("g1", None).unwrap();
        for i in 2..=7 {
            g = group(&format!("g{i}"), Some(&g)).unwrap();
        }
        assert_eq!(g.root_to_parent.len(), 6);
        assert_eq!(g.root(), "g1");
        assert_eq!(g.parent(), Some("g6"));
        let e = group("g8", Some(&g)).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidRequest);
    }

    #[test]
    fn at_most_ten_groups_and_one_per_hierarchy() {
        let g = group("x", None).unwrap();
        let ten: Vec<String> = (0..10).map(|i| format!("g{i}")).collect();
        let roots: Vec<&str> = ten.iter().map(String::as_str).collect();
        assert!(check_can_join(&roots[..9], &g).is_ok());
        assert!(check_can_join(&roots, &g)
            .unwrap_err()
            .message
            .contains("at most 10"));
        let child = group("x-child", Some(&g)).unwrap();
        assert_eq!(
            check_can_join(&["x"], &child).unwrap_err().kind,
            crate::ErrorKind::InvalidRequest
        );
        assert!(check_can_join(&["other"], &child).is_ok());
    }

    #[test]
    fn update_bumps_version_and_checks_expected() {
        let g = group("x", None).unwrap();
        let u = g.updated(Some("d".into()), None, Some(1)).unwrap();
        assert_eq!((u.version, u.description.as_deref()), (2, Some("d")));
        assert!(u.updated(None, None, Some(1)).is_err());
    }
}
