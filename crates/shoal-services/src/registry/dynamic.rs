//! Dynamic thing groups as registry records: Update/DeleteDynamicThingGroup, the group limit,
//! and the memberships the fleet index computes (kept on the thing, like static ones, so that
//! ListThingsInThingGroup and ListThingGroupsForThing serve both kinds).
//! <https://docs.aws.amazon.com/iot/latest/developerguide/dynamic-thing-groups.html>

use super::groups::group_terms;
use super::{not_found, Registry, KIND_GROUP, KIND_THING};
use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use shoal_domain::error::Result;
use shoal_domain::thing::{AttributePayload, Thing};
use shoal_domain::thing_group::{ThingGroup, MAX_DYNAMIC_GROUPS};
use shoal_domain::{Partition, ServiceError, ThingGroupName};
use shoal_store::{Batch, Expect, TermMatch};

/// What UpdateDynamicThingGroup may change.
pub struct DynamicUpdate {
    pub description: Option<String>,
    pub attributes: Option<AttributePayload>,
    pub expected_version: Option<i64>,
    pub query_string: Option<String>,
    pub query_version: Option<String>,
}

impl Registry {
    pub(crate) fn check_dynamic_limit(&self, key: &str) -> Result<()> {
        let n = self
            .store()
            .list_by_term(
                key,
                KIND_GROUP,
                "dynamic",
                TermMatch::Exact("1"),
                None,
                MAX_DYNAMIC_GROUPS,
            )
            .map_err(store_error)?
            .len();
        if n >= MAX_DYNAMIC_GROUPS {
            return Err(ServiceError::limit(format!(
                "An account can have at most {MAX_DYNAMIC_GROUPS} dynamic thing groups"
            )));
        }
        Ok(())
    }

    /// Every dynamic group of a partition.
    pub fn dynamic_groups(&self, part_key: &str) -> Result<Vec<ThingGroup>> {
        self.store()
            .list_by_term(
                part_key,
                KIND_GROUP,
                "dynamic",
                TermMatch::Exact("1"),
                None,
                usize::MAX >> 1,
            )
            .map_err(store_error)?
            .iter()
            .map(decode)
            .collect()
    }

    fn load_dynamic(&self, part: &Partition, name: &ThingGroupName) -> Result<(ThingGroup, u64)> {
        let l = load::<ThingGroup>(self.store(), &part.key(), KIND_GROUP, name.as_str())?
            .ok_or_else(|| not_found("Thing Group", name.as_str()))?;
        if l.value.dynamic.is_none() {
            return Err(ServiceError::invalid(format!(
                "Thing group {name} is a static thing group; this operation needs a dynamic thing group"
            )));
        }
        Ok((l.value, l.rev))
    }

    /// UpdateDynamicThingGroup: properties and the query; a new query rebuilds the membership.
    pub async fn update_dynamic_thing_group(
        &self,
        part: &Partition,
        name: &ThingGroupName,
        upd: DynamicUpdate,
    ) -> Result<i64> {
        let key = part.key();
        for _ in 0..RETRIES {
            let (cur, rev) = self.load_dynamic(part, name)?;
            let mut next = cur.updated(
                upd.description.clone(),
                upd.attributes.as_ref(),
                upd.expected_version,
            )?;
            next.dynamic = cur.dynamic.clone();
            if let Some(d) = next.dynamic.as_mut() {
                if let Some(q) = &upd.query_string {
                    if *q != d.query_string {
                        d.query_string = q.clone();
                        d.status = "REBUILDING".into();
                    }
                }
                if let Some(v) = &upd.query_version {
                    d.query_version = v.clone();
                }
            }
            let batch = Batch::new(&key).put(
                KIND_GROUP,
                name.as_str(),
                SCHEMA,
                encode(&next)?,
                group_terms(&next),
                Expect::Rev(rev),
            );
            if try_commit(self.store(), batch).await? {
                return Ok(next.version);
            }
        }
        Err(contention())
    }

    /// DeleteDynamicThingGroup: the group goes, and its members leave it. Deleting a group
    /// that does not exist succeeds, as DeleteThingGroup does.
    pub async fn delete_dynamic_thing_group(
        &self,
        part: &Partition,
        name: &ThingGroupName,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let (cur, rev) = match self.load_dynamic(part, name) {
                Ok(found) => found,
                Err(e) if e.kind == shoal_domain::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            if expected_version.is_some_and(|v| v != cur.version) {
                return Err(ServiceError::version_conflict(format!(
                    "The version for thing group {name} does not match the expected version."
                )));
            }
            let (batch, _) = self.members_leave(
                &key,
                name.as_str(),
                Batch::new(&key).delete(KIND_GROUP, name.as_str(), Expect::Rev(rev)),
            )?;
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    /// The things currently in a dynamic group.
    pub fn dynamic_members(&self, part_key: &str, group: &str) -> Result<Vec<String>> {
        Ok(self
            .store()
            .list_by_term(
                part_key,
                KIND_THING,
                "group",
                TermMatch::Exact(group),
                None,
                usize::MAX >> 1,
            )
            .map_err(store_error)?
            .into_iter()
            .map(|r| r.key)
            .collect())
    }

    /// Whether a thing is in a dynamic group; `None` when the thing does not exist.
    pub fn thing_in_dynamic_group(
        &self,
        part_key: &str,
        thing: &str,
        group: &str,
    ) -> Result<Option<bool>> {
        Ok(load::<Thing>(self.store(), part_key, KIND_THING, thing)?
            .map(|l| l.value.dynamic_groups.iter().any(|g| g == group)))
    }

    /// Moves a thing into and out of dynamic groups, as the fleet index found it matches
    /// their queries. A thing deleted meanwhile is left alone; a group deleted meanwhile is not
    /// joined.
    pub async fn set_dynamic_membership(
        &self,
        part_key: &str,
        thing: &str,
        join: &[String],
        leave: &[String],
    ) -> Result<()> {
        for _ in 0..RETRIES {
            let Some(cur) = load::<Thing>(self.store(), part_key, KIND_THING, thing)? else {
                return Ok(());
            };
            let mut next = cur.value.clone();
            let mut batch = Batch::new(part_key);
            next.dynamic_groups.retain(|g| !leave.contains(g));
            for g in join {
                if next.dynamic_groups.contains(g) {
                    continue;
                }
                match load::<ThingGroup>(self.store(), part_key, KIND_GROUP, g)? {
                    Some(l) if l.value.dynamic.is_some() => {
                        batch = batch.check(KIND_GROUP, g, Expect::Rev(l.rev));
                        next.dynamic_groups.push(g.clone());
                    }
                    _ => {}
                }
            }
            next.dynamic_groups.sort();
            if next.dynamic_groups == cur.value.dynamic_groups {
                return Ok(());
            }
            let batch = batch.put(
                KIND_THING,
                thing,
                SCHEMA,
                encode(&next)?,
                super::things::thing_terms(&next),
                Expect::Rev(cur.rev),
            );
            if try_commit(self.store(), batch).await? {
                // Thing-group policies follow dynamic membership too.
                self.epoch.bump(part_key);
                return Ok(());
            }
        }
        Err(contention())
    }

    /// Records that a dynamic group's membership is computed (its status becomes ACTIVE),
    /// unless its query changed since `query` was evaluated.
    pub async fn dynamic_group_built(
        &self,
        part_key: &str,
        group: &str,
        query: &str,
    ) -> Result<()> {
        for _ in 0..RETRIES {
            let Some(l) = load::<ThingGroup>(self.store(), part_key, KIND_GROUP, group)? else {
                return Ok(());
            };
            let mut next = l.value.clone();
            match next.dynamic.as_mut() {
                Some(d) if d.query_string == query && d.status != "ACTIVE" => {
                    d.status = "ACTIVE".into()
                }
                _ => return Ok(()),
            }
            let batch = Batch::new(part_key).put(
                KIND_GROUP,
                group,
                SCHEMA,
                encode(&next)?,
                group_terms(&next),
                Expect::Rev(l.rev),
            );
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }
}
