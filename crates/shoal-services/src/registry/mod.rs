//! The registry service: things, thing types, static thing groups and their tags, each stored
//! per (account, region) partition as on AWS.

mod billing;
mod dynamic;
mod events;
mod groups;
mod membership;
mod provisioned;
mod tags;
mod things;
mod types;

pub use dynamic::DynamicUpdate;
pub use groups::{CreateThingGroup, ListThingGroups};
pub use provisioned::StagedThing;
pub use things::{CreateThing, ListThings};

use shoal_domain::error::Result;
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::{Clock, ServiceError};
use shoal_store::{Record, Store};
use std::sync::Arc;

pub(crate) const KIND_THING: &str = "thing";
pub(crate) const KIND_TYPE: &str = "thing-type";
pub(crate) const KIND_GROUP: &str = "thing-group";

pub struct Registry {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Bumped when a thing's groups or attributes change: they feed thing-group policies and
    /// policy variables of live connections.
    epoch: crate::AuthorizationEpoch,
    /// Registry events (`$aws/events/thing/...`), staged in the batch of each change.
    events: Option<Arc<crate::Events>>,
}

/// One page of a listing and the token of the next, absent at the end (AWS omits it).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

impl Registry {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        epoch: crate::AuthorizationEpoch,
    ) -> Self {
        Registry {
            store,
            clock,
            epoch,
            events: None,
        }
    }

    /// Publishes registry events through `events` (when the partition enables them).
    pub fn with_events(mut self, events: Arc<crate::Events>) -> Self {
        self.events = Some(events);
        self
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// Builds a page from a source of records in key order, keeping those `keep` accepts. `fetch`
/// returns records after a key; filtering happens here so any source can be paged the same way.
pub(crate) fn page_of<T>(
    token: Option<&str>,
    limit: usize,
    mut fetch: impl FnMut(Option<&str>, usize) -> Result<Vec<Record>>,
    mut keep: impl FnMut(&Record) -> Result<Option<T>>,
) -> Result<Page<T>> {
    let mut after = token.map(decode_token).transpose()?;
    let mut items = Vec::with_capacity(limit.min(256));
    let chunk = (limit + 1).clamp(16, 1000);
    loop {
        let recs = fetch(after.as_deref(), chunk)?;
        let exhausted = recs.len() < chunk;
        for (i, rec) in recs.iter().enumerate() {
            if let Some(item) = keep(rec)? {
                items.push(item);
                if items.len() == limit {
                    // A token only when records remain; the next page may still turn out empty
                    // after filtering, which AWS's paginators accept.
                    let more = i + 1 < recs.len() || !exhausted;
                    return Ok(Page {
                        items,
                        next_token: more.then(|| encode_token(&rec.key)),
                    });
                }
            }
        }
        match recs.last() {
            Some(last) if !exhausted => after = Some(last.key.clone()),
            _ => {
                return Ok(Page {
                    items,
                    next_token: None,
                })
            }
        }
    }
}

pub(crate) fn not_found(what: &str, name: &str) -> ServiceError {
    ServiceError::not_found(format!("{what} {name} cannot be found."))
}

#[cfg(test)]
mod tests;
