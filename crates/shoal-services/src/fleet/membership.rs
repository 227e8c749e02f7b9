//! Dynamic thing-group membership, kept by the updater after each burst of index changes: a
//! group whose query is new (BUILDING or REBUILDING) is evaluated over the whole index; for an
//! ACTIVE one, only the things that just changed are checked. Joining or leaving rewrites the
//! thing's record, whose change re-indexes `thingGroupNames` on the next burst.

use super::queries::prepare;
use super::{scope, Inner};
use shoal_domain::error::Result;
use shoal_domain::fleet::fields::THINGS_INDEX;
use shoal_fleetquery::{Query, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Memberships to change: thing → (groups to join, groups to leave); and the groups whose
/// full evaluation (for this query) is done.
#[derive(Default)]
pub(super) struct Moves {
    pub part: String,
    pub things: BTreeMap<String, (Vec<String>, Vec<String>)>,
    pub built: Vec<(String, String)>,
}

/// Works out the moves for one partition after `changed` things were re-indexed.
pub(super) fn evaluate(
    inner: &Inner,
    part: &str,
    changed: &BTreeSet<String>,
    groups_changed: bool,
    full: bool,
) -> Result<Option<Moves>> {
    if !groups_changed && !full && changed.is_empty() {
        return Ok(None);
    }
    let groups = inner.registry.dynamic_groups(part)?;
    if groups.is_empty() {
        return Ok(None);
    }
    let scope = scope(part, THINGS_INDEX);
    let mut moves = Moves {
        part: part.to_string(),
        ..Default::default()
    };
    let join = |m: &mut Moves, t: &str, g: &str, member: bool| {
        let e = m.things.entry(t.to_string()).or_default();
        if member {
            e.0.push(g.to_string());
        } else {
            e.1.push(g.to_string());
        }
    };
    for g in &groups {
        let Some(d) = &g.dynamic else { continue };
        let Ok(q) = prepare(THINGS_INDEX, &d.query_string) else {
            continue;
        };
        let search = |q: &Query| {
            inner
                .index
                .names(&scope, q)
                .map(|v| v.into_iter().collect::<BTreeSet<String>>())
                .map_err(|e| shoal_domain::ServiceError::internal(format!("fleet index: {e}")))
        };
        if full || d.status != "ACTIVE" {
            let matching = search(&q)?;
            let members: BTreeSet<String> = inner
                .registry
                .dynamic_members(part, &g.name)?
                .into_iter()
                .collect();
            for t in matching.difference(&members) {
                join(&mut moves, t, &g.name, true);
            }
            for t in members.difference(&matching) {
                join(&mut moves, t, &g.name, false);
            }
            moves.built.push((g.name.clone(), d.query_string.clone()));
            continue;
        }
        if changed.is_empty() {
            continue;
        }
        // The query, limited to the things that changed.
        let names = Query::Or(
            changed
                .iter()
                .map(|n| Query::Term {
                    field: Some("thingName".into()),
                    value: Value::Phrase(n.clone()),
                })
                .collect(),
        );
        let matching = search(&Query::And(vec![q, names]))?;
        for t in changed {
            let now = matching.contains(t);
            let was = inner.registry.thing_in_dynamic_group(part, t, &g.name)?;
            match was {
                Some(was) if was != now => join(&mut moves, t, &g.name, now),
                _ => {}
            }
        }
    }
    Ok((!moves.things.is_empty() || !moves.built.is_empty()).then_some(moves))
}

/// Applies the moves through the registry, then marks fully evaluated groups ACTIVE.
pub(super) async fn apply(inner: &Inner, moves: Moves) {
    for (thing, (join, leave)) in &moves.things {
        if let Err(e) = inner
            .registry
            .set_dynamic_membership(&moves.part, thing, join, leave)
            .await
        {
            tracing::warn!(error = %e, thing = %thing, "dynamic group membership not updated");
        }
    }
    for (group, query) in &moves.built {
        if let Err(e) = inner
            .registry
            .dynamic_group_built(&moves.part, group, query)
            .await
        {
            tracing::warn!(error = %e, group = %group, "dynamic group status not updated");
        }
    }
}
