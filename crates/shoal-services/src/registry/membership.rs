//! Static group membership: Add/RemoveThingToThingGroup, UpdateThingGroupsForThing,
//! ListThingsInThingGroup and ListThingGroupsForThing. Membership is stored on the thing.

use super::{not_found, page_of, Page, Registry, KIND_GROUP, KIND_THING};
use crate::records::{contention, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use shoal_domain::error::Result;
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::thing::Thing;
use shoal_domain::thing_group::{check_can_join, not_for_dynamic, ThingGroup};
use shoal_domain::{Partition, ThingGroupName, ThingName};
use shoal_store::{Batch, Expect, TermMatch};

impl Registry {
    /// The direct groups plus all their ancestors, sorted.
    pub(super) fn group_tree(&self, key: &str, groups: &[String]) -> Result<Vec<String>> {
        let mut tree = Vec::new();
        for g in groups {
            if let Some(l) = load::<ThingGroup>(self.store(), key, KIND_GROUP, g)? {
                tree.extend(l.value.root_to_parent.iter().cloned());
            }
            tree.push(g.clone());
        }
        tree.sort();
        tree.dedup();
        Ok(tree)
    }

    /// Removes `group` from the thing's memberships (in memory).
    pub(crate) fn leave(&self, key: &str, thing: &mut Thing, group: &str) -> Result<()> {
        thing.groups.retain(|g| g != group);
        thing.group_tree = self.group_tree(key, &thing.groups)?;
        Ok(())
    }

    /// Adds and removes memberships of one thing atomically.
    pub async fn update_thing_groups_for_thing(
        &self,
        part: &Partition,
        thing: &ThingName,
        add: &[ThingGroupName],
        remove: &[ThingGroupName],
    ) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = load::<Thing>(self.store(), &key, KIND_THING, thing.as_str())?
                .ok_or_else(|| not_found("Thing", thing.as_str()))?;
            let mut next = cur.value.clone();
            let mut batch = Batch::new(&key);
            // Groups left and joined, for their membership events.
            let mut changed: Vec<(ThingGroup, bool)> = Vec::new();
            for g in remove {
                let l = load::<ThingGroup>(self.store(), &key, KIND_GROUP, g.as_str())?
                    .ok_or_else(|| not_found("Thing Group", g.as_str()))?;
                if l.value.dynamic.is_some() {
                    return Err(not_for_dynamic(&part.arn("thinggroup", g.as_str())));
                }
                batch = batch.check(KIND_GROUP, g.as_str(), Expect::Rev(l.rev));
                if next.groups.iter().any(|x| x == g.as_str()) {
                    next.groups.retain(|x| x != g.as_str());
                    changed.push((l.value, false));
                }
            }
            // The roots of the hierarchies the thing stays in, to apply AWS's one-group-per-hierarchy rule.
            let mut roots: Vec<String> = Vec::with_capacity(next.groups.len() + add.len());
            for g in &next.groups {
                if let Some(l) = load::<ThingGroup>(self.store(), &key, KIND_GROUP, g)? {
                    roots.push(l.value.root().to_string());
                }
            }
            for g in add {
                if next.groups.iter().any(|x| x == g.as_str()) {
                    continue;
                }
                let l = load::<ThingGroup>(self.store(), &key, KIND_GROUP, g.as_str())?
                    .ok_or_else(|| not_found("Thing Group", g.as_str()))?;
                if l.value.dynamic.is_some() {
                    return Err(not_for_dynamic(&part.arn("thinggroup", g.as_str())));
                }
                let current: Vec<&str> = roots.iter().map(String::as_str).collect();
                check_can_join(&current, &l.value)?;
                batch = batch.check(KIND_GROUP, g.as_str(), Expect::Rev(l.rev));
                roots.push(l.value.root().to_string());
                next.groups.push(g.as_str().to_string());
                changed.push((l.value, true));
            }
            if next.groups == cur.value.groups {
                return Ok(());
            }
            next.groups.sort();
            next.group_tree = self.group_tree(&key, &next.groups)?;
            let terms = super::things::thing_terms(&next);
            let events = changed
                .iter()
                .map(|(g, joined)| super::events::membership(part, &next, g, *joined))
                .collect();
            let batch = self.stage(part, batch, events).await?;
            let batch = batch.put(
                KIND_THING,
                thing.as_str(),
                SCHEMA,
                encode(&next)?,
                terms,
                Expect::Rev(cur.rev),
            );
            if try_commit(self.store(), batch).await? {
                self.epoch.bump(&key);
                return Ok(());
            }
        }
        Err(contention())
    }

    pub async fn add_thing_to_thing_group(
        &self,
        part: &Partition,
        thing: &ThingName,
        group: &ThingGroupName,
    ) -> Result<()> {
        self.update_thing_groups_for_thing(part, thing, std::slice::from_ref(group), &[])
            .await
    }

    pub async fn remove_thing_from_thing_group(
        &self,
        part: &Partition,
        thing: &ThingName,
        group: &ThingGroupName,
    ) -> Result<()> {
        self.update_thing_groups_for_thing(part, thing, &[], std::slice::from_ref(group))
            .await
    }

    /// Thing names in a group (and, with `recursive`, in its descendants), in name order.
    pub fn list_things_in_thing_group(
        &self,
        part: &Partition,
        group: &ThingGroupName,
        recursive: bool,
        max_results: usize,
        token: Option<&str>,
    ) -> Result<Page<String>> {
        let key = part.key();
        let store = self.store();
        if load::<ThingGroup>(store, &key, KIND_GROUP, group.as_str())?.is_none() {
            return Err(not_found("Thing Group", group.as_str()));
        }
        let term = if recursive { "group-tree" } else { "group" };
        page_of(
            token,
            max_results,
            |after, n| {
                store
                    .list_by_term(
                        &key,
                        KIND_THING,
                        term,
                        TermMatch::Exact(group.as_str()),
                        after,
                        n,
                    )
                    .map_err(store_error)
            },
            |rec| Ok(Some(rec.key.clone())),
        )
    }

    /// The static groups a thing belongs to, in name order.
    pub fn list_thing_groups_for_thing(
        &self,
        part: &Partition,
        thing: &ThingName,
        max_results: usize,
        token: Option<&str>,
    ) -> Result<Page<String>> {
        let t = self.describe_thing(part, thing)?;
        let after = token.map(decode_token).transpose()?;
        let mut names: Vec<String> = t
            .all_groups()
            .into_iter()
            .filter(|g| after.as_ref().is_none_or(|a| g > a))
            .collect();
        names.sort();
        let next_token = (names.len() > max_results).then(|| encode_token(&names[max_results - 1]));
        names.truncate(max_results);
        Ok(Page {
            items: names,
            next_token,
        })
    }
}

impl Registry {
    /// The groups a thing is in (static, their ancestors, and dynamic), each with its depth in
    /// its hierarchy (0 for a root group): what a THING_GROUP logging level is matched against.
    /// Empty when the thing does not exist.
    pub fn group_depths(&self, part: &Partition, thing: &str) -> Result<Vec<(usize, String)>> {
        let key = part.key();
        let Some(t) = load::<Thing>(self.store(), &key, KIND_THING, thing)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for g in t.value.group_tree.iter().chain(&t.value.dynamic_groups) {
            if let Some(l) = load::<ThingGroup>(self.store(), &key, KIND_GROUP, g)? {
                out.push((l.value.root_to_parent.len(), g.clone()));
            }
        }
        Ok(out)
    }
}
