//! Static thing groups: Create/Describe/Update/Delete/ListThingGroups.

use super::events::{self, Change};
use super::{not_found, page_of, Page, Registry, KIND_GROUP, KIND_THING};
use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use shoal_domain::error::Result;
use shoal_domain::tags::Tags;
use shoal_domain::thing::{AttributePayload, Attributes, Thing};
use shoal_domain::thing_group::{not_for_dynamic, DynamicQuery, ThingGroup};
use shoal_domain::{Partition, ServiceError, ThingGroupName};
use shoal_store::{Batch, Expect, Term, TermMatch};

pub struct CreateThingGroup {
    pub name: ThingGroupName,
    pub parent: Option<ThingGroupName>,
    pub description: Option<String>,
    pub attributes: Attributes,
    pub tags: Vec<(String, String)>,
    /// A dynamic group's query (CreateDynamicThingGroup).
    pub dynamic: Option<DynamicQuery>,
}

#[derive(Default)]
pub struct ListThingGroups {
    pub parent_group: Option<ThingGroupName>,
    pub name_prefix: Option<String>,
    pub recursive: Option<bool>,
    pub max_results: usize,
    pub next_token: Option<String>,
}

/// A group's secondary keys: its parent ("" for a root group) and every ancestor.
pub(crate) fn group_terms(g: &ThingGroup) -> Vec<Term> {
    let mut terms = vec![Term::new("parent", g.parent().unwrap_or(""))];
    if g.dynamic.is_some() {
        terms.push(Term::new("dynamic", "1"));
    }
    for a in &g.root_to_parent {
        terms.push(Term::new("ancestor", a.as_str()));
    }
    terms
}

impl Registry {
    pub fn describe_thing_group(
        &self,
        part: &Partition,
        name: &ThingGroupName,
    ) -> Result<ThingGroup> {
        load::<ThingGroup>(self.store(), &part.key(), KIND_GROUP, name.as_str())?
            .map(|l| l.value)
            .ok_or_else(|| not_found("Thing Group", name.as_str()))
    }

    pub async fn create_thing_group(
        &self,
        part: &Partition,
        req: CreateThingGroup,
    ) -> Result<ThingGroup> {
        let key = part.key();
        let mut tags = Tags::default();
        tags.merge(&req.tags)?;
        for _ in 0..RETRIES {
            if let Some(existing) =
                load::<ThingGroup>(self.store(), &key, KIND_GROUP, req.name.as_str())?
            {
                let parent = req.parent.as_ref().map(|p| p.as_str());
                let same_kind = existing.value.dynamic.as_ref().map(|d| &d.query_string)
                    == req.dynamic.as_ref().map(|d| &d.query_string);
                if same_kind
                    && existing
                        .value
                        .same_configuration(parent, &req.description, &req.attributes)
                {
                    return Ok(existing.value);
                }
                return Err(ServiceError::already_exists(
                    format!(
                        "Thing Group {} already exists with different properties",
                        req.name
                    ),
                    &existing.value.id,
                    &part.arn("thinggroup", req.name.as_str()),
                ));
            }
            let mut batch = Batch::new(&key);
            let parent = match &req.parent {
                Some(p) => {
                    let l = load::<ThingGroup>(self.store(), &key, KIND_GROUP, p.as_str())?
                        .ok_or_else(|| not_found("Thing Group", p.as_str()))?;
                    // Dynamic groups "cannot be part of a hierarchy".
                    if l.value.dynamic.is_some() || req.dynamic.is_some() {
                        return Err(not_for_dynamic(&part.arn("thinggroup", p.as_str())));
                    }
                    batch = batch.check(KIND_GROUP, p.as_str(), Expect::Rev(l.rev));
                    Some(l.value)
                }
                None => None,
            };
            let mut group = ThingGroup::new(
                req.name.as_str(),
                uuid::Uuid::new_v4().to_string(),
                parent.as_ref(),
                req.description.clone(),
                req.attributes.clone(),
                self.clock.now(),
            )?;
            group.tags = tags.clone();
            if let Some(d) = &req.dynamic {
                self.check_dynamic_limit(&key)?;
                group.dynamic = Some(d.clone());
            }
            let mut events = vec![self.group_event(part, &group, Change::Created)?];
            if let Some(p) = &parent {
                events.push(events::hierarchy(part, p, &group, true));
            }
            let batch = self.stage(part, batch, events).await?;
            let batch = batch.put(
                KIND_GROUP,
                &group.name,
                SCHEMA,
                encode(&group)?,
                group_terms(&group),
                Expect::Absent,
            );
            if try_commit(self.store(), batch).await? {
                return Ok(group);
            }
        }
        Err(contention())
    }

    /// UpdateThingGroup; returns the new version.
    pub async fn update_thing_group(
        &self,
        part: &Partition,
        name: &ThingGroupName,
        description: Option<String>,
        attributes: Option<AttributePayload>,
        expected_version: Option<i64>,
    ) -> Result<i64> {
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = load::<ThingGroup>(self.store(), &key, KIND_GROUP, name.as_str())?
                .ok_or_else(|| not_found("Thing Group", name.as_str()))?;
            if cur.value.dynamic.is_some() {
                return Err(not_for_dynamic(&part.arn("thinggroup", name.as_str())));
            }
            let next =
                cur.value
                    .updated(description.clone(), attributes.as_ref(), expected_version)?;
            let batch = Batch::new(&key).put(
                KIND_GROUP,
                name.as_str(),
                SCHEMA,
                encode(&next)?,
                group_terms(&next),
                Expect::Rev(cur.rev),
            );
            let updated = self.group_event(part, &next, Change::Updated)?;
            let batch = self.stage(part, batch, vec![updated]).await?;
            if try_commit(self.store(), batch).await? {
                return Ok(next.version);
            }
        }
        Err(contention())
    }

    /// DeleteThingGroup: refused while child groups exist; members leave the group. Deleting a
    /// group that does not exist succeeds, as on AWS.
    pub async fn delete_thing_group(
        &self,
        part: &Partition,
        name: &ThingGroupName,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let key = part.key();
        let store = self.store();
        for _ in 0..RETRIES {
            let Some(cur) = load::<ThingGroup>(store, &key, KIND_GROUP, name.as_str())? else {
                return Ok(());
            };
            if cur.value.dynamic.is_some() {
                return Err(not_for_dynamic(&part.arn("thinggroup", name.as_str())));
            }
            if let Some(v) = expected_version {
                if v != cur.value.version {
                    return Err(ServiceError::version_conflict(format!(
                        "The version for thing group {name} does not match the expected version."
                    )));
                }
            }
            let children = store
                .list_by_term(
                    &key,
                    KIND_GROUP,
                    "parent",
                    TermMatch::Exact(name.as_str()),
                    None,
                    1,
                )
                .map_err(store_error)?;
            if !children.is_empty() {
                return Err(ServiceError::invalid(format!(
                    "Cannot delete thing group {name} because it has child groups"
                )));
            }
            let (batch, left) = self.members_leave(
                &key,
                name.as_str(),
                Batch::new(&key).delete(KIND_GROUP, name.as_str(), Expect::Rev(cur.rev)),
            )?;
            let mut events = vec![self.group_event(part, &cur.value, Change::Deleted)?];
            events.extend(
                left.iter()
                    .map(|t| events::membership(part, t, &cur.value, false)),
            );
            if let Some(p) = cur.value.parent() {
                if let Some(p) = load::<ThingGroup>(store, &key, KIND_GROUP, p)? {
                    events.push(events::hierarchy(part, &p.value, &cur.value, false));
                }
            }
            let batch = self.stage(part, batch, events).await?;
            if try_commit(store, batch).await? {
                self.epoch.bump(&key);
                return Ok(());
            }
        }
        Err(contention())
    }

    /// Adds to `batch` every member of `group` leaving it, static or dynamic member alike;
    /// returns the batch and the static members that left.
    pub(crate) fn members_leave(
        &self,
        key: &str,
        group: &str,
        mut batch: Batch,
    ) -> Result<(Batch, Vec<Thing>)> {
        let mut left = Vec::new();
        let members = self
            .store()
            .list_by_term(
                key,
                KIND_THING,
                "group",
                TermMatch::Exact(group),
                None,
                usize::MAX >> 1,
            )
            .map_err(store_error)?;
        for rec in members {
            let mut thing: Thing = decode(&rec)?;
            let member = thing.groups.iter().any(|g| g == group);
            if member {
                self.leave(key, &mut thing, group)?;
            }
            thing.dynamic_groups.retain(|g| g != group);
            batch = batch.put(
                KIND_THING,
                &rec.key,
                SCHEMA,
                encode(&thing)?,
                super::things::thing_terms(&thing),
                Expect::Rev(rec.rev),
            );
            if member {
                left.push(thing);
            }
        }
        Ok((batch, left))
    }

    pub fn list_thing_groups(
        &self,
        part: &Partition,
        q: &ListThingGroups,
    ) -> Result<Page<ThingGroup>> {
        let key = part.key();
        let store = self.store();
        let prefix = q.name_prefix.clone().unwrap_or_default();
        let keep = |rec: &shoal_store::Record| -> Result<Option<ThingGroup>> {
            if !rec.key.starts_with(&prefix) {
                return Ok(None);
            }
            decode(rec).map(Some)
        };
        let (term, value) = match (&q.parent_group, q.recursive) {
            (Some(p), Some(true)) => ("ancestor", p.as_str().to_string()),
            (Some(p), _) => ("parent", p.as_str().to_string()),
            // Without a parent, `recursive=false` asks for root groups only.
            (None, Some(false)) => ("parent", String::new()),
            (None, _) => {
                return page_of(
                    q.next_token.as_deref(),
                    q.max_results,
                    |after, n| {
                        store
                            .list(&key, KIND_GROUP, &prefix, after, n)
                            .map_err(store_error)
                    },
                    keep,
                )
            }
        };
        if let Some(p) = &q.parent_group {
            if load::<ThingGroup>(store, &key, KIND_GROUP, p.as_str())?.is_none() {
                return Err(not_found("Thing Group", p.as_str()));
            }
        }
        page_of(
            q.next_token.as_deref(),
            q.max_results,
            |after, n| {
                store
                    .list_by_term(&key, KIND_GROUP, term, TermMatch::Exact(&value), after, n)
                    .map_err(store_error)
            },
            keep,
        )
    }

    pub(crate) async fn modify_group_tags(
        &self,
        part: &Partition,
        name: &str,
        mut change: impl FnMut(&mut Tags) -> Result<()>,
    ) -> Result<()> {
        let name = ThingGroupName::parse(name)?;
        let missing = || not_found("Thing Group", name.as_str());
        crate::records::modify(
            self.store(),
            &part.key(),
            KIND_GROUP,
            name.as_str(),
            missing,
            group_terms,
            |g: &mut ThingGroup| change(&mut g.tags),
        )
        .await?;
        Ok(())
    }
}
