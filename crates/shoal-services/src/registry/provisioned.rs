//! The thing part of a provisioning (RegisterThing, fleet provisioning, JITP, bulk
//! registration): the thing a template declares, created or brought in line with the template
//! under its `OverrideSettings`
//! (https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html), staged into
//! the caller's batch so that every resource of one provisioning commits together.

use super::events::{self, Change};
use super::{not_found, Registry, KIND_GROUP, KIND_THING, KIND_TYPE};
use crate::records::{encode, load, SCHEMA};
use shoal_domain::error::Result;
use shoal_domain::provisioning::{Override, ThingSpec};
use shoal_domain::thing::{apply_attributes, validate_attributes, AttributePayload, Thing};
use shoal_domain::thing_group::{check_can_join, ThingGroup};
use shoal_domain::{ErrorKind, Partition, ServiceError, ThingName, ThingTypeName};
use shoal_store::{Batch, Expect};

/// The thing a provisioning leaves, and whether it made it.
#[derive(Debug, Clone)]
pub struct StagedThing {
    pub thing: Thing,
    pub created: bool,
}

/// FAIL of an override setting: the thing exists with another value.
fn refused(thing: &str, what: &str) -> ServiceError {
    ServiceError::new(
        ErrorKind::RegistrationFailed,
        format!(
            "Thing {thing} already exists with another {what} and its OverrideSettings say FAIL"
        ),
    )
}

/// The value a property ends with when the thing exists: `current` unless the template gives
/// one and the override setting says to change it.
fn overridden<T: Clone + PartialEq>(
    setting: Override,
    current: &T,
    wanted: Option<T>,
    merge: impl FnOnce(&T, T) -> T,
    fail: impl FnOnce() -> ServiceError,
) -> Result<T> {
    let Some(wanted) = wanted else {
        return Ok(current.clone());
    };
    match setting {
        Override::DoNothing => Ok(current.clone()),
        Override::Replace => Ok(wanted),
        Override::Merge => Ok(merge(current, wanted)),
        Override::Fail if &wanted == current => Ok(wanted),
        Override::Fail => Err(fail()),
    }
}

impl Registry {
    /// Adds the thing of `spec` to `batch`: a new thing, or the existing one changed as its
    /// override settings say. Every record read is checked again when the batch commits.
    pub(crate) async fn stage_provisioned_thing(
        &self,
        part: &Partition,
        mut batch: Batch,
        spec: &ThingSpec,
    ) -> Result<(Batch, StagedThing)> {
        let key = part.key();
        let name = ThingName::parse(&spec.name)?;
        let wanted_type = match &spec.type_name {
            Some(t) => Some(ThingTypeName::parse(t)?.as_str().to_string()),
            None => None,
        };
        if let Some(a) = &spec.attributes {
            validate_attributes(a)?;
        }
        let existing = load::<Thing>(self.store(), &key, KIND_THING, name.as_str())?;
        let (before, mut next, expect) = match &existing {
            None => {
                let mut t = Thing::new(
                    name.as_str(),
                    uuid::Uuid::new_v4().to_string(),
                    wanted_type.clone(),
                    spec.attributes.clone().unwrap_or_default(),
                    self.clock.now(),
                )?;
                t.billing_group = spec.billing_group.clone();
                (None, t, Expect::Absent)
            }
            Some(l) => {
                let cur = &l.value;
                let mut t = cur.clone();
                t.type_name = overridden(
                    spec.on_type,
                    &cur.type_name,
                    wanted_type.clone().map(Some),
                    |_, w| w,
                    || refused(name.as_str(), "thing type"),
                )?;
                t.attributes = overridden(
                    spec.on_attributes,
                    &cur.attributes,
                    spec.attributes.clone(),
                    |c, w| {
                        apply_attributes(
                            c,
                            &AttributePayload {
                                attributes: w,
                                merge: true,
                            },
                        )
                    },
                    || refused(name.as_str(), "AttributePayload"),
                )?;
                if t.billing_group.is_none() {
                    t.billing_group = spec.billing_group.clone();
                }
                (Some(cur.clone()), t, Expect::Rev(l.rev))
            }
        };
        if let Some(t) = &next.type_name {
            if before.as_ref().and_then(|b| b.type_name.as_ref()) != Some(t) {
                let ty = ThingTypeName::parse(t)?;
                let rev = self.usable_type(part, &ty)?;
                batch = batch.check(KIND_TYPE, ty.as_str(), Expect::Rev(rev));
            }
        }
        if let Some(b) = &next.billing_group {
            if before.as_ref().and_then(|x| x.billing_group.as_ref()) != Some(b) {
                let g = load::<shoal_domain::billing_group::BillingGroup>(
                    self.store(),
                    &key,
                    super::billing::KIND_BILLING,
                    b,
                )?
                .ok_or_else(|| not_found("Billing Group", b))?;
                batch = batch.check(super::billing::KIND_BILLING, b, Expect::Rev(g.rev));
            }
        }
        // Group membership: a new thing joins the template's groups; an existing one keeps,
        // replaces or adds to its groups as ThingGroups' override setting says.
        let current_groups = before
            .as_ref()
            .map(|b| b.groups.clone())
            .unwrap_or_default();
        let groups = match &before {
            None => spec.groups.clone().unwrap_or_default(),
            Some(_) => overridden(
                spec.on_groups,
                &current_groups,
                spec.groups.clone(),
                |c, w| {
                    let mut all = c.clone();
                    all.extend(w);
                    all
                },
                || refused(name.as_str(), "set of thing groups"),
            )?,
        };
        let mut joined: Vec<ThingGroup> = Vec::new();
        let mut roots: Vec<String> = Vec::new();
        let mut kept: Vec<String> = Vec::new();
        for g in &groups {
            if kept.contains(g) {
                continue;
            }
            let l = load::<ThingGroup>(self.store(), &key, KIND_GROUP, g)?
                .ok_or_else(|| not_found("Thing Group", g))?;
            if l.value.dynamic.is_some() {
                return Err(shoal_domain::thing_group::not_for_dynamic(
                    &part.arn("thinggroup", g),
                ));
            }
            let current: Vec<&str> = roots.iter().map(String::as_str).collect();
            check_can_join(&current, &l.value)?;
            batch = batch.check(KIND_GROUP, g, Expect::Rev(l.rev));
            roots.push(l.value.root().to_string());
            kept.push(g.clone());
            if !current_groups.contains(g) {
                joined.push(l.value);
            }
        }
        kept.sort();
        next.groups = kept;
        next.group_tree = self.group_tree(&key, &next.groups)?;
        let changed = before.as_ref() != Some(&next);
        if !changed {
            return Ok((
                batch.check(KIND_THING, name.as_str(), expect),
                StagedThing {
                    thing: next,
                    created: false,
                },
            ));
        }
        if before.is_some() {
            next.version += 1;
        }
        let mut staged = vec![events::thing(
            part,
            &next,
            if before.is_some() {
                Change::Updated
            } else {
                Change::Created
            },
        )];
        staged.extend(events::type_changes(
            &next,
            before.as_ref().and_then(|b| b.type_name.as_deref()),
            next.type_name.as_deref(),
        ));
        for g in &joined {
            staged.push(events::membership(part, &next, g, true));
        }
        if let Some(b) = &before {
            for g in b.groups.iter().filter(|g| !next.groups.contains(g)) {
                if let Some(l) = load::<ThingGroup>(self.store(), &key, KIND_GROUP, g)? {
                    staged.push(events::membership(part, &next, &l.value, false));
                }
            }
        }
        let batch = self.stage(part, batch, staged).await?;
        let batch = batch.put(
            KIND_THING,
            name.as_str(),
            SCHEMA,
            encode(&next)?,
            super::things::thing_terms(&next),
            expect,
        );
        Ok((
            batch,
            StagedThing {
                created: before.is_none(),
                thing: next,
            },
        ))
    }

    /// After a provisioning committed that changed a thing live connections may be using
    /// (its attributes and groups matter to their policies).
    pub(crate) fn provisioned(&self, part: &Partition) {
        self.epoch.bump(&part.key());
    }
}
