//! The Device Shadow service: classic and named shadows of any thing name (a registry thing is
//! not required, as on AWS), stored one record per shadow. Every accepted change is durable
//! before it is answered, is made under the revision it was computed from (so a racing update
//! is recomputed on the newer shadow, or refused with 409 when it named a version). Followers
//! (the fleet index) learn of changes from the store's change stream.

mod keyed;
pub mod requests;
#[cfg(test)]
mod tests;

use crate::records::{self, decode, encode, store_error, try_commit, SCHEMA};
use serde_json::Value;
use shoal_domain::error::Result;
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::shadow::{self, Applied, Shadow, ShadowName, UpdateRequest};
use shoal_domain::{Clock, Partition, ServiceError, ThingName};
use shoal_store::{Batch, Expect, Store};
use std::sync::Arc;

pub(crate) const KIND: &str = "shadow";

/// Which shadow: a thing's classic shadow (`name: None`) or one of its named shadows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShadowId {
    pub thing: ThingName,
    pub name: Option<ShadowName>,
}

impl ShadowId {
    /// `THING/` for the classic shadow and `THING/NAME` for a named one: neither name may hold
    /// a `/`, so a thing's shadows are one key prefix.
    fn key(&self) -> String {
        format!(
            "{}/{}",
            self.thing,
            self.name.as_ref().map_or("", |n| n.as_str())
        )
    }
}

impl ShadowId {
    /// The MQTT topic prefix of the shadow's requests and answers.
    pub fn topic_prefix(&self) -> String {
        match &self.name {
            None => format!("$aws/things/{}/shadow", self.thing),
            Some(n) => format!("$aws/things/{}/shadow/name/{n}", self.thing),
        }
    }
}

pub struct Shadows {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    writers: keyed::KeyedLocks,
}

impl Shadows {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Shadows {
            store,
            clock,
            writers: keyed::KeyedLocks::default(),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().secs()
    }

    fn read(&self, part: &Partition, id: &ShadowId) -> Result<Option<(Shadow, u64)>> {
        match self
            .store
            .get(&part.key(), KIND, &id.key())
            .map_err(store_error)?
        {
            Some(rec) => Ok(Some((decode(&rec)?, rec.rev))),
            None => Ok(None),
        }
    }

    /// The shadow if it exists (deleted ones do not).
    pub fn load(&self, part: &Partition, id: &ShadowId) -> Result<Option<Shadow>> {
        Ok(self.read(part, id)?.map(|(s, _)| s).filter(Shadow::is_live))
    }

    /// GetThingShadow and `/get`: the full document.
    pub fn get(&self, part: &Partition, id: &ShadowId, token: Option<&str>) -> Result<Value> {
        let s = self
            .load(part, id)?
            .ok_or_else(|| shadow::not_found(id.thing.as_str(), id.name.as_ref()))?;
        Ok(shadow::full_document(&s, token, self.now()))
    }

    /// UpdateThingShadow and `/update`: applies the request and answers once it is durable.
    pub async fn update(
        &self,
        part: &Partition,
        id: &ShadowId,
        req: &UpdateRequest,
    ) -> Result<Applied> {
        let pkey = part.key();
        let key = id.key();
        let _writer = self.writers.lock(format!("{pkey}/{key}")).await;
        for _ in 0..records::RETRIES {
            let (current, expect) = match self.read(part, id)? {
                Some((s, rev)) => (Some(s), Expect::Rev(rev)),
                None => (None, Expect::Absent),
            };
            let applied = shadow::update(current, req, self.now())?;
            let batch = Batch::new(&pkey).put(
                KIND,
                &key,
                SCHEMA,
                encode(&applied.shadow)?,
                Vec::new(),
                expect,
            );
            if try_commit(self.store.as_ref(), batch).await? {
                return Ok(applied);
            }
        }
        Err(ServiceError::version_conflict("Version conflict"))
    }

    /// DeleteThingShadow and `/delete`: the shadow goes, its version stays for 48 hours.
    pub async fn delete(
        &self,
        part: &Partition,
        id: &ShadowId,
        token: Option<&str>,
    ) -> Result<Value> {
        let pkey = part.key();
        let key = id.key();
        let _writer = self.writers.lock(format!("{pkey}/{key}")).await;
        for _ in 0..records::RETRIES {
            let current = self.read(part, id)?;
            let now = self.now();
            let (tomb, rev) = current
                .as_ref()
                .and_then(|(s, rev)| Some((shadow::delete(Some(s), now)?, *rev)))
                .ok_or_else(|| shadow::not_found(id.thing.as_str(), id.name.as_ref()))?;
            let batch = Batch::new(&pkey).put(
                KIND,
                &key,
                SCHEMA,
                encode(&tomb)?,
                Vec::new(),
                Expect::Rev(rev),
            );
            if try_commit(self.store.as_ref(), batch).await? {
                return Ok(shadow::deleted_document(tomb.version, token, now));
            }
        }
        Err(records::contention())
    }

    /// ListNamedShadowsForThing: the names of a thing's live named shadows, in name order.
    pub fn list_named(
        &self,
        part: &Partition,
        thing: &ThingName,
        next_token: Option<&str>,
        page_size: usize,
    ) -> Result<(Vec<String>, Option<String>)> {
        let prefix = format!("{thing}/");
        let mut cursor = match next_token {
            Some(t) => Some(decode_token(t)?),
            None => None,
        };
        let mut names = Vec::new();
        let mut last_listed: Option<String> = None;
        loop {
            let recs = self
                .store
                .list(&part.key(), KIND, &prefix, cursor.as_deref(), page_size + 1)
                .map_err(store_error)?;
            for rec in &recs {
                let name = &rec.key[prefix.len()..];
                if !name.is_empty() && decode::<Shadow>(rec)?.is_live() {
                    if names.len() == page_size {
                        return Ok((names, last_listed.map(|k| encode_token(&k))));
                    }
                    names.push(name.to_string());
                    last_listed = Some(rec.key.clone());
                }
                cursor = Some(rec.key.clone());
            }
            if recs.len() <= page_size {
                return Ok((names, None));
            }
        }
    }
}
