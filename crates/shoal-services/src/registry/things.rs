//! CreateThing, DescribeThing, UpdateThing, DeleteThing and ListThings.

use super::events::{self, Change};
use super::{not_found, page_of, Page, Registry, KIND_THING, KIND_TYPE};
use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use shoal_domain::error::Result;
use shoal_domain::thing::{Attributes, Thing, ThingUpdate};
use shoal_domain::thing_type::ThingType;
use shoal_domain::{Partition, ServiceError, ThingName, ThingTypeName};
use shoal_store::{Batch, Expect, Term, TermMatch};

pub struct CreateThing {
    pub name: ThingName,
    pub type_name: Option<ThingTypeName>,
    pub attributes: Attributes,
    /// CreateThing's `billingGroupName`: the thing starts in that billing group.
    pub billing_group: Option<shoal_domain::BillingGroupName>,
}

#[derive(Default)]
pub struct ListThings {
    pub attribute_name: Option<String>,
    pub attribute_value: Option<String>,
    pub use_prefix_attribute_value: bool,
    pub type_name: Option<ThingTypeName>,
    pub max_results: usize,
    pub next_token: Option<String>,
}

/// The secondary keys listings filter on: the type, each attribute, and group membership.
pub(crate) fn thing_terms(t: &Thing) -> Vec<Term> {
    let mut terms =
        Vec::with_capacity(1 + t.attributes.len() + t.groups.len() + t.group_tree.len());
    if let Some(ty) = &t.type_name {
        terms.push(Term::new("type", ty.as_str()));
    }
    for (k, v) in &t.attributes {
        terms.push(Term::new(format!("attr:{k}"), v.as_str()));
    }
    for g in t.groups.iter().chain(&t.dynamic_groups) {
        terms.push(Term::new("group", g.as_str()));
    }
    // A dynamic group has no parent, so it is its own tree.
    for g in t.group_tree.iter().chain(&t.dynamic_groups) {
        terms.push(Term::new("group-tree", g.as_str()));
    }
    if let Some(b) = &t.billing_group {
        terms.push(Term::new("billing", b.as_str()));
    }
    terms
}

impl Registry {
    /// Loads a type that a thing is about to use; it must exist and not be deprecated.
    pub(super) fn usable_type(&self, part: &Partition, name: &ThingTypeName) -> Result<u64> {
        let ty = load::<ThingType>(self.store(), &part.key(), KIND_TYPE, name.as_str())?
            .ok_or_else(|| not_found("Thing Type", name.as_str()))?;
        ty.value.check_usable()?;
        Ok(ty.rev)
    }

    pub fn describe_thing(&self, part: &Partition, name: &ThingName) -> Result<Thing> {
        load::<Thing>(self.store(), &part.key(), KIND_THING, name.as_str())?
            .map(|l| l.value)
            .ok_or_else(|| not_found("Thing", name.as_str()))
    }

    pub async fn create_thing(&self, part: &Partition, req: CreateThing) -> Result<Thing> {
        let key = part.key();
        let type_name = req.type_name.as_ref().map(|t| t.as_str().to_string());
        for _ in 0..RETRIES {
            if let Some(existing) =
                load::<Thing>(self.store(), &key, KIND_THING, req.name.as_str())?
            {
                if existing
                    .value
                    .same_configuration(&type_name, &req.attributes)
                {
                    return Ok(existing.value);
                }
                return Err(ServiceError::already_exists(
                    format!(
                        "Thing {} already exists in account with different attributes",
                        req.name
                    ),
                    &existing.value.id,
                    &part.arn("thing", req.name.as_str()),
                ));
            }
            let mut batch = Batch::new(&key);
            if let Some(t) = &req.type_name {
                let rev = self.usable_type(part, t)?;
                // The type must still be the one we checked when the thing is written.
                batch = batch.check(KIND_TYPE, t.as_str(), Expect::Rev(rev));
            }
            if let Some(b) = &req.billing_group {
                let g = load::<shoal_domain::billing_group::BillingGroup>(
                    self.store(),
                    &key,
                    super::billing::KIND_BILLING,
                    b.as_str(),
                )?
                .ok_or_else(|| not_found("Billing Group", b.as_str()))?;
                batch = batch.check(super::billing::KIND_BILLING, b.as_str(), Expect::Rev(g.rev));
            }
            let id = uuid::Uuid::new_v4().to_string();
            let mut thing = Thing::new(
                req.name.as_str(),
                id,
                type_name.clone(),
                req.attributes.clone(),
                self.clock.now(),
            )?;
            thing.billing_group = req.billing_group.as_ref().map(|b| b.as_str().to_string());
            let mut events = vec![events::thing(part, &thing, Change::Created)];
            events.extend(events::type_changes(
                &thing,
                None,
                thing.type_name.as_deref(),
            ));
            let batch = self.stage(part, batch, events).await?;
            let batch = batch.put(
                KIND_THING,
                &thing.name,
                SCHEMA,
                encode(&thing)?,
                thing_terms(&thing),
                Expect::Absent,
            );
            if try_commit(self.store(), batch).await? {
                return Ok(thing);
            }
        }
        Err(contention())
    }

    pub async fn update_thing(
        &self,
        part: &Partition,
        name: &ThingName,
        upd: ThingUpdate,
    ) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = load::<Thing>(self.store(), &key, KIND_THING, name.as_str())?
                .ok_or_else(|| not_found("Thing", name.as_str()))?;
            let mut batch = Batch::new(&key);
            if let Some(t) = &upd.type_name {
                let t = ThingTypeName::parse(t)?;
                let rev = self.usable_type(part, &t)?;
                batch = batch.check(KIND_TYPE, t.as_str(), Expect::Rev(rev));
            }
            let next = cur.value.updated(&upd)?;
            let mut events = vec![events::thing(part, &next, Change::Updated)];
            events.extend(events::type_changes(
                &next,
                cur.value.type_name.as_deref(),
                next.type_name.as_deref(),
            ));
            let batch = self.stage(part, batch, events).await?;
            let batch = batch.put(
                KIND_THING,
                name.as_str(),
                SCHEMA,
                encode(&next)?,
                thing_terms(&next),
                Expect::Rev(cur.rev),
            );
            if try_commit(self.store(), batch).await? {
                self.epoch.bump(&key);
                return Ok(());
            }
        }
        Err(contention())
    }

    /// DeleteThing. Deleting a thing that does not exist succeeds, as on AWS.
    pub async fn delete_thing(
        &self,
        part: &Partition,
        name: &ThingName,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let Some(cur) = load::<Thing>(self.store(), &key, KIND_THING, name.as_str())? else {
                return Ok(());
            };
            cur.value.check_expected_version(expected_version)?;
            // AWS refuses to delete a thing that principals are attached to.
            let principals = self
                .store()
                .list_by_term(
                    &key,
                    crate::identity::KIND_THING_PRINCIPAL,
                    "thing",
                    TermMatch::Exact(name.as_str()),
                    None,
                    1,
                )
                .map_err(store_error)?;
            if !principals.is_empty() {
                return Err(ServiceError::invalid(format!(
                    "Cannot delete. Thing {name} is still attached to one or more principals"
                )));
            }
            // The check and the delete are one step: a principal attached after the listing
            // above makes the batch fail, and the next turn refuses the delete.
            let batch = Batch::new(&key)
                .check_none(
                    crate::identity::KIND_THING_PRINCIPAL,
                    shoal_store::Term::new("thing", name.as_str()),
                )
                .delete(KIND_THING, name.as_str(), Expect::Rev(cur.rev));
            let deleted = events::thing(part, &cur.value, Change::Deleted);
            let batch = self.stage(part, batch, vec![deleted]).await?;
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    pub fn list_things(&self, part: &Partition, q: &ListThings) -> Result<Page<Thing>> {
        let key = part.key();
        let store = self.store();
        let type_filter = q.type_name.as_ref().map(|t| t.as_str().to_string());
        let keep = |rec: &shoal_store::Record| -> Result<Option<Thing>> {
            let t: Thing = decode(rec)?;
            if let Some(ty) = &type_filter {
                if t.type_name.as_deref() != Some(ty.as_str()) {
                    return Ok(None);
                }
            }
            Ok(Some(t))
        };
        if let Some(attr) = &q.attribute_name {
            let term = format!("attr:{attr}");
            let value = q.attribute_value.as_deref().unwrap_or("");
            let m = if q.use_prefix_attribute_value || q.attribute_value.is_none() {
                TermMatch::Prefix(value)
            } else {
                TermMatch::Exact(value)
            };
            return page_of(
                q.next_token.as_deref(),
                q.max_results,
                |after, n| {
                    store
                        .list_by_term(&key, KIND_THING, &term, m, after, n)
                        .map_err(store_error)
                },
                keep,
            );
        }
        if let Some(ty) = &q.type_name {
            return page_of(
                q.next_token.as_deref(),
                q.max_results,
                |after, n| {
                    store
                        .list_by_term(
                            &key,
                            KIND_THING,
                            "type",
                            TermMatch::Exact(ty.as_str()),
                            after,
                            n,
                        )
                        .map_err(store_error)
                },
                keep,
            );
        }
        page_of(
            q.next_token.as_deref(),
            q.max_results,
            |after, n| {
                store
                    .list(&key, KIND_THING, "", after, n)
                    .map_err(store_error)
            },
            keep,
        )
    }
}
