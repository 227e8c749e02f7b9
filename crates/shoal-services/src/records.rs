//! How services read and write their documents through the `Store`: JSON documents with a schema
//! version, and the translation of store errors into the service taxonomy.

use serde::de::DeserializeOwned;
use serde::Serialize;
use shoal_domain::{error::Result, ServiceError};
use shoal_store::{Batch, Record, Store, StoreError};

/// The schema version of every document this build writes. Reading an older one is where a
/// migration would go; a newer one is refused rather than misread.
pub const SCHEMA: u32 = 1;

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| ServiceError::internal(format!("encode: {e}")))
}

pub fn decode<T: DeserializeOwned>(rec: &Record) -> Result<T> {
    if rec.schema > SCHEMA {
        return Err(ServiceError::internal(format!(
            "record {} has schema {} newer than this build's {SCHEMA}",
            rec.key, rec.schema
        )));
    }
    serde_json::from_slice(&rec.doc)
        .map_err(|e| ServiceError::internal(format!("decode {}: {e}", rec.key)))
}

/// A document with the revision it was read at, for a conditional write back.
pub struct Loaded<T> {
    pub value: T,
    pub rev: u64,
}

pub fn load<T: DeserializeOwned>(
    store: &dyn Store,
    part: &str,
    kind: &str,
    key: &str,
) -> Result<Option<Loaded<T>>> {
    match store.get(part, kind, key).map_err(store_error)? {
        Some(rec) => Ok(Some(Loaded {
            value: decode(&rec)?,
            rev: rec.rev,
        })),
        None => Ok(None),
    }
}

pub fn store_error(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict { .. } => ServiceError::new(
            shoal_domain::ErrorKind::Conflict,
            "The resource was changed by another request; try again",
        ),
        StoreError::Backend(m) => {
            tracing::error!(error = %m, "store failure");
            ServiceError::internal("An internal error occurred")
        }
        StoreError::Closed => ServiceError::new(
            shoal_domain::ErrorKind::Internal,
            "The service is shutting down",
        ),
    }
}

/// Read-modify-write operations retry when another request changed the same records between
/// their read and their conditional write; the user never sees that race, only real conflicts.
pub const RETRIES: usize = 8;

/// Commits a conditional batch: `Ok(true)` when written, `Ok(false)` when another request got
/// there first and the caller should read again and retry.
pub async fn try_commit(store: &dyn Store, batch: Batch) -> Result<bool> {
    match store.commit(batch).await {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

/// What a caller sees when it lost the race `RETRIES` times in a row.
pub fn contention() -> ServiceError {
    store_error(StoreError::Conflict { op: 0 })
}

/// Read-modify-write of one record under its revision, retried when another request changed it
/// in between. `change` applies the domain rule to the loaded value (and may refuse); `terms`
/// gives the record's secondary keys after the change.
#[allow(clippy::too_many_arguments)]
pub async fn modify<T, O>(
    store: &dyn Store,
    part: &str,
    kind: &str,
    key: &str,
    missing: impl Fn() -> ServiceError,
    terms: impl Fn(&T) -> Vec<shoal_store::Term>,
    mut change: impl FnMut(&mut T) -> Result<O>,
) -> Result<(T, O)>
where
    T: Serialize + DeserializeOwned + Clone,
{
    for _ in 0..RETRIES {
        let cur = load::<T>(store, part, kind, key)?.ok_or_else(&missing)?;
        let mut next = cur.value.clone();
        let out = change(&mut next)?;
        let batch = Batch::new(part).put(
            kind,
            key,
            SCHEMA,
            encode(&next)?,
            terms(&next),
            shoal_store::Expect::Rev(cur.rev),
        );
        if try_commit(store, batch).await? {
            return Ok((next, out));
        }
    }
    Err(contention())
}

/// Follows the store's change stream (this node's commits and, on several nodes, the others')
/// for an owner of in-memory state derived from records of `kinds`: `changed` gets each
/// partition a committed batch touched with one of them (or emptied whole, kind `*`), `lagged`
/// is called when changes were missed. The task ends with the owner.
pub fn follow_kinds<T: Send + Sync + 'static>(
    store: &dyn Store,
    owner: &std::sync::Arc<T>,
    kinds: &'static [&'static str],
    changed: fn(&T, &str),
    lagged: fn(&T),
) {
    let me = std::sync::Arc::downgrade(owner);
    let mut rx = store.changes();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let change = rx.recv().await;
            let Some(me) = me.upgrade() else { return };
            match change {
                Ok(c) => {
                    if c.records
                        .iter()
                        .any(|(k, _)| k == "*" || kinds.contains(&k.as_str()))
                    {
                        changed(&me, &c.partition);
                    }
                }
                Err(RecvError::Lagged(_)) => lagged(&me),
                Err(RecvError::Closed) => return,
            }
        }
    });
}
