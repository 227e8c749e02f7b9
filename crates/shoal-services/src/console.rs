//! Console sessions: signing in with an access key and its secret gives a session, a record
//! in the global partition (kind `console-session`) keyed by the SHA-256 of its token, so the
//! token itself is never stored and any node sharing the store recognises it. A session holds
//! the account, the region chosen, the key (checked again on every use: a key deactivated or
//! deleted ends its sessions) and the CSRF token every change must carry.

use crate::records::{decode, encode, store_error, SCHEMA};
use crate::Accounts;
use shoal_domain::error::Result;
use shoal_domain::{AccountId, Clock, ErrorKind, Partition, Region, ServiceError, Timestamp};
use shoal_store::{Batch, Expect, Store};
use std::sync::Arc;

const GLOBAL: &str = "global";
const KIND_SESSION: &str = "console-session";
/// A session lasts 12 hours from sign-in.
pub const SESSION_MS: i64 = 12 * 3_600_000;
/// Sessions pruned per sign-in (expired ones go as new ones come).
const PRUNE: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub access_key_id: String,
    pub account: String,
    pub region: String,
    pub csrf: String,
    pub read_only: bool,
    pub expires: Timestamp,
}

impl Session {
    pub fn partition(&self) -> Result<Partition> {
        Ok(Partition::new(
            AccountId::parse(&self.account)?,
            Region::parse(&self.region)?,
        ))
    }
}

pub struct Sessions {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    accounts: Arc<Accounts>,
}

fn hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn refused() -> ServiceError {
    ServiceError::new(
        ErrorKind::Unauthorized,
        "The access key or the secret is not right, or the key is not active",
    )
}

impl Sessions {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, accounts: Arc<Accounts>) -> Self {
        Sessions {
            store,
            clock,
            accounts,
        }
    }

    /// Signs in: the key must be active and the secret its own (compared in constant time).
    /// Returns the session's token (the cookie) and the session.
    pub async fn sign_in(
        &self,
        access_key_id: &str,
        secret: &str,
        region: &str,
    ) -> Result<(String, Session)> {
        let region = Region::parse(region)?;
        let key = self
            .accounts
            .lookup_for_console(access_key_id)?
            .ok_or_else(refused)?;
        use subtle_eq::ct_eq;
        if !ct_eq(key.secret_access_key.as_bytes(), secret.as_bytes()) {
            return Err(refused());
        }
        let now = self.clock.now();
        let token = random_token();
        let session = Session {
            access_key_id: key.access_key_id,
            account: key.account,
            region: region.as_str().to_string(),
            csrf: random_token(),
            read_only: key.read_only,
            expires: now.plus_millis(SESSION_MS),
        };
        let mut batch = Batch::new(GLOBAL).put(
            KIND_SESSION,
            &hash(&token),
            SCHEMA,
            encode(&session)?,
            Vec::new(),
            Expect::Absent,
        );
        // Expired sessions are removed a few at a time as others sign in, looked for from a
        // random place (keys are hashes), whichever node gets there first.
        let from = random_token();
        for r in self
            .store
            .list(GLOBAL, KIND_SESSION, "", Some(&from), 256)
            .map_err(store_error)?
            .iter()
            .filter(|r| decode::<Session>(r).is_ok_and(|s| s.expires < now))
            .take(PRUNE)
        {
            batch = batch.delete(KIND_SESSION, &r.key, Expect::Any);
        }
        self.store.commit(batch).await.map_err(store_error)?;
        Ok((token, session))
    }

    /// The live session of a token: not expired, and its key still active.
    pub fn session(&self, token: &str) -> Result<Option<Session>> {
        if token.len() != 64 {
            return Ok(None);
        }
        let Some(r) = self
            .store
            .get(GLOBAL, KIND_SESSION, &hash(token))
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let s: Session = decode(&r)?;
        if s.expires < self.clock.now() {
            return Ok(None);
        }
        match self.accounts.lookup_for_console(&s.access_key_id)? {
            Some(k) if k.account == s.account => Ok(Some(Session {
                read_only: k.read_only,
                ..s
            })),
            _ => Ok(None),
        }
    }

    pub async fn sign_out(&self, token: &str) -> Result<()> {
        let batch = Batch::new(GLOBAL).delete(KIND_SESSION, &hash(token), Expect::Any);
        self.store.commit(batch).await.map_err(store_error)?;
        Ok(())
    }
}

/// Comparison whose time does not depend on where the bytes differ.
mod subtle_eq {
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
