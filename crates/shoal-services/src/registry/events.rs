//! Registry events, shaped as https://docs.aws.amazon.com/iot/latest/developerguide/registry-events.html
//! shows them: `$aws/events/thing/...`, `thingType/...`, `thingTypeAssociation/...`,
//! `thingGroup/...`, `thingGroupMembership/...` and `thingGroupHierarchy/...`. Each is staged in
//! the batch of the change it reports (`crate::events`), so it is published once that change
//! is durable, and only when the partition enabled its type.

use super::{Registry, KIND_GROUP};
use crate::events::Event;
use crate::records::load;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shoal_domain::error::Result;
use shoal_domain::thing::Thing;
use shoal_domain::thing_group::ThingGroup;
use shoal_domain::thing_type::ThingType;
use shoal_domain::Partition;
use shoal_store::Batch;

/// `CREATED`, `UPDATED` or `DELETED`: the operation of a resource event and its topic suffix.
#[derive(Clone, Copy)]
pub(crate) enum Change {
    Created,
    Updated,
    Deleted,
}

impl Change {
    fn operation(self) -> &'static str {
        match self {
            Change::Created => "CREATED",
            Change::Updated => "UPDATED",
            Change::Deleted => "DELETED",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Deleted => "deleted",
        }
    }
}

fn added(yes: bool) -> (&'static str, &'static str) {
    if yes {
        ("ADDED", "added")
    } else {
        ("REMOVED", "removed")
    }
}

pub(crate) fn thing(part: &Partition, t: &Thing, change: Change) -> Event {
    Event::new(
        "THING",
        format!("$aws/events/thing/{}/{}", t.name, change.suffix()),
        json!({
            "eventType": "THING_EVENT",
            "operation": change.operation(),
            "accountId": part.account.as_str(),
            "thingId": t.id,
            "thingName": t.name,
            "versionNumber": t.version,
            "thingTypeName": t.type_name,
            "attributes": t.attributes,
        }),
    )
}

pub(crate) fn thing_type(part: &Partition, ty: &ThingType, change: Change) -> Event {
    Event::new(
        "THING_TYPE",
        format!("$aws/events/thingType/{}/{}", ty.name, change.suffix()),
        json!({
            "eventType": "THING_TYPE_EVENT",
            "operation": change.operation(),
            "accountId": part.account.as_str(),
            "thingTypeId": ty.id,
            "thingTypeName": ty.name,
            "isDeprecated": ty.deprecated,
            "deprecationDate": ty.deprecation_date.map(|d| d.millis()),
            "searchableAttributes": ty.properties.searchable_attributes.clone().unwrap_or_default(),
            "description": ty.properties.description,
        }),
    )
}

/// A thing's type was set (`added`) or taken away. The topic and ADDED/REMOVED are the current
/// documentation's (they replaced `.../thing/{thing}/{type}` with CREATED/DELETED in 2022).
pub(crate) fn type_association(t: &Thing, type_name: &str, yes: bool) -> Event {
    let (op, suffix) = added(yes);
    Event::new(
        "THING_TYPE_ASSOCIATION",
        format!(
            "$aws/events/thingTypeAssociation/thing/{}/thingType/{type_name}/{suffix}",
            t.name
        ),
        json!({
            "eventType": "THING_TYPE_ASSOCIATION_EVENT",
            "operation": op,
            "thingId": t.id,
            "thingName": t.name,
            "thingTypeName": type_name,
        }),
    )
}

/// The events of a thing whose type changed from `before` to `after`.
pub(crate) fn type_changes(t: &Thing, before: Option<&str>, after: Option<&str>) -> Vec<Event> {
    if before == after {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(b) = before {
        out.push(type_association(t, b, false));
    }
    if let Some(a) = after {
        out.push(type_association(t, a, true));
    }
    out
}

/// The id of a thing's membership of a group: the same for the `added` and `removed` events of
/// one membership, without storing it.
fn membership_id(thing_id: &str, group_id: &str) -> String {
    let digest = Sha256::digest(format!("{thing_id}|{group_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

pub(crate) fn membership(part: &Partition, t: &Thing, g: &ThingGroup, yes: bool) -> Event {
    let (op, suffix) = added(yes);
    Event::new(
        "THING_GROUP_MEMBERSHIP",
        format!(
            "$aws/events/thingGroupMembership/thingGroup/{}/thing/{}/{suffix}",
            g.name, t.name
        ),
        json!({
            "eventType": "THING_GROUP_MEMBERSHIP_EVENT",
            "operation": op,
            "accountId": part.account.as_str(),
            "groupArn": part.arn("thinggroup", &g.name),
            "groupId": g.id,
            "thingArn": part.arn("thing", &t.name),
            "thingId": t.id,
            "membershipId": membership_id(&t.id, &g.id),
        }),
    )
}

pub(crate) fn hierarchy(
    part: &Partition,
    parent: &ThingGroup,
    child: &ThingGroup,
    yes: bool,
) -> Event {
    let (op, suffix) = added(yes);
    Event::new(
        "THING_GROUP_HIERARCHY",
        format!(
            "$aws/events/thingGroupHierarchy/thingGroup/{}/childThingGroup/{}/{suffix}",
            parent.name, child.name
        ),
        json!({
            "eventType": "THING_GROUP_HIERARCHY_EVENT",
            "operation": op,
            "accountId": part.account.as_str(),
            "thingGroupId": parent.id,
            "thingGroupName": parent.name,
            "childGroupId": child.id,
            "childGroupName": child.name,
        }),
    )
}

impl Registry {
    /// Adds `events` to `batch` when the registry publishes events.
    pub(crate) async fn stage(
        &self,
        part: &Partition,
        batch: Batch,
        events: Vec<Event>,
    ) -> Result<Batch> {
        match &self.events {
            Some(e) => e.stage(part, batch, events).await,
            None => Ok(batch),
        }
    }

    /// A thing group event; `rootToParentThingGroups` lists the ancestors' ARNs and ids from the
    /// root down (null for a root group, as AWS's example shows).
    pub(crate) fn group_event(
        &self,
        part: &Partition,
        g: &ThingGroup,
        change: Change,
    ) -> Result<Event> {
        let mut path = Vec::with_capacity(g.root_to_parent.len());
        for name in &g.root_to_parent {
            let id = load::<ThingGroup>(self.store(), &part.key(), KIND_GROUP, name)?
                .map(|l| l.value.id)
                .unwrap_or_default();
            path.push(json!({ "groupArn": part.arn("thinggroup", name), "groupId": id }));
        }
        let parent_id = path.last().map(|p| p["groupId"].clone());
        Ok(Event::new(
            "THING_GROUP",
            format!("$aws/events/thingGroup/{}/{}", g.name, change.suffix()),
            json!({
                "eventType": "THING_GROUP_EVENT",
                "operation": change.operation(),
                "accountId": part.account.as_str(),
                "thingGroupId": g.id,
                "thingGroupName": g.name,
                "versionNumber": g.version,
                "parentGroupName": g.parent(),
                "parentGroupId": parent_id,
                "description": g.description,
                "rootToParentThingGroups": if path.is_empty() { Value::Null } else { json!(path) },
                "attributes": g.attributes,
                "dynamicGroupMappingId": null,
            }),
        ))
    }
}
