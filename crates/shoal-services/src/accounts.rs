//! Accounts and access keys. An access key belongs to one account, as on AWS: the key in a
//! request's SigV4 credential names the account whose resources the request sees. A key can be
//! deactivated or deleted (`shoal key ...`). Keys found are kept in memory, since every request
//! looks its key up; the store's change stream evicts a key as soon as a change to it is
//! committed. The embedded store's stream carries only this process's commits, so a change made
//! by another process on the same data folder (the `shoal key` command) tells the server to
//! forget them all (`forget_keys`, on SIGHUP).
//!
//! Each account also has an endpoint prefix, as AWS's `<prefix>-ats.iot.<region>.amazonaws.com`:
//! DescribeEndpoint returns a host name that starts with it, and a device that connects to that
//! name (TLS server name) names its account.

use crate::records::{encode, load, store_error, SCHEMA};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::{AccountId, Clock, ServiceError, Timestamp};
use shoal_store::{Batch, Expect, Store};
use std::sync::Arc;

/// Account-independent records live in this partition.
const GLOBAL: &str = "global";
const KIND_ACCOUNT: &str = "account";
const KIND_KEY: &str = "access-key";
const KIND_SETTING: &str = "setting";
/// Endpoint prefix -> account.
const KIND_ENDPOINT: &str = "endpoint";
const DEFAULT_ACCOUNT: &str = "default-account";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccountDoc {
    id: String,
    created: Timestamp,
}

/// An access key and its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account: String,
    pub created: Timestamp,
    /// An inactive key authenticates nothing until it is activated again.
    #[serde(default = "active")]
    pub active: bool,
    /// A read-only key signs in to the console and reads, and changes nothing there.
    #[serde(default)]
    pub read_only: bool,
}

fn active() -> bool {
    true
}

/// The endpoint prefix of an account: 14 lower-case letters and digits, the first a letter
/// (the shape of AWS's prefixes), derived from the account id so it never changes.
pub fn endpoint_prefix(account: &AccountId) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let digest = Sha256::digest(format!("shoal-endpoint/{account}").as_bytes());
    digest
        .iter()
        .take(14)
        .enumerate()
        .map(|(i, b)| {
            let n = if i == 0 { 26 } else { ALPHABET.len() };
            ALPHABET[usize::from(*b) % n] as char
        })
        .collect()
}

pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Keys found in the store, by id. Unknown ids are not remembered, so a key created by
    /// another process works at once; the map is bounded.
    keys: std::sync::Mutex<std::collections::HashMap<String, AccessKey>>,
    /// The store's committed changes, read before each lookup to evict changed keys.
    changes: std::sync::Mutex<tokio::sync::broadcast::Receiver<Arc<shoal_store::Changes>>>,
}

/// Keys remembered at most; past it the map starts over.
const KEY_CACHE: usize = 10_000;

fn random_account_id() -> String {
    let mut rng = rand::thread_rng();
    let first = rng.gen_range(1..=9).to_string();
    first
        + &(0..11)
            .map(|_| rng.gen_range(0..=9).to_string())
            .collect::<String>()
}

/// AWS access key ids are "AKIA" plus 16 upper-case letters and digits; secrets are 40 characters.
fn random_key(account: &str, now: Timestamp) -> AccessKey {
    let mut rng = rand::thread_rng();
    let id: String = (0..16)
        .map(|_| {
            let c = rng.sample(Alphanumeric) as char;
            c.to_ascii_uppercase()
        })
        .collect();
    let secret: String = (0..40).map(|_| rng.sample(Alphanumeric) as char).collect();
    AccessKey {
        access_key_id: format!("AKIA{id}"),
        secret_access_key: secret,
        account: account.to_string(),
        created: now,
        active: true,
        read_only: false,
    }
}

/// A new account with its first key, as a batch that creates both.
fn new_account(now: Timestamp) -> Result<(String, AccessKey, Batch)> {
    let account = random_account_id();
    let key = random_key(&account, now);
    let doc = AccountDoc {
        id: account.clone(),
        created: now,
    };
    let prefix = endpoint_prefix(&AccountId::parse(&account)?);
    let batch = Batch::new(GLOBAL)
        .put(
            KIND_ACCOUNT,
            &account,
            SCHEMA,
            encode(&doc)?,
            vec![],
            Expect::Absent,
        )
        .put(
            KIND_ENDPOINT,
            &prefix,
            SCHEMA,
            encode(&account)?,
            vec![],
            Expect::Absent,
        )
        .put(
            KIND_KEY,
            &key.access_key_id,
            SCHEMA,
            encode(&key)?,
            vec![],
            Expect::Absent,
        );
    Ok((account, key, batch))
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Accounts {
            changes: std::sync::Mutex::new(store.changes()),
            store,
            clock,
            keys: Default::default(),
        }
    }

    /// Evicts the keys that committed changes touched; all of them if changes were missed.
    fn follow_changes(&self) {
        use tokio::sync::broadcast::error::TryRecvError;
        let (Ok(mut rx), Ok(mut keys)) = (self.changes.lock(), self.keys.lock()) else {
            return;
        };
        loop {
            match rx.try_recv() {
                Ok(c) if c.partition == GLOBAL => {
                    for (kind, key) in &c.records {
                        if kind == KIND_KEY {
                            keys.remove(key);
                        }
                    }
                }
                Ok(_) => {}
                Err(TryRecvError::Lagged(_)) => keys.clear(),
                Err(_) => return,
            }
        }
    }

    /// Forgets the keys kept in memory: another process changed them.
    pub fn forget_keys(&self) {
        if let Ok(mut k) = self.keys.lock() {
            k.clear();
        }
    }

    /// The key a request or a connection names, if it exists, is active and may sign: a
    /// read-only key signs in to the console only (the APIs do not tell reads from changes
    /// by key yet), so every API and device gateway refuses it as an unknown key.
    pub fn lookup(&self, access_key_id: &str) -> Result<Option<AccessKey>> {
        Ok(self
            .key(access_key_id)?
            .filter(|k| k.active && !k.read_only))
    }

    /// The key a console sign-in names, if it exists and is active (read-only or not).
    pub fn lookup_for_console(&self, access_key_id: &str) -> Result<Option<AccessKey>> {
        Ok(self.key(access_key_id)?.filter(|k| k.active))
    }

    /// The key, active or not.
    pub fn key(&self, access_key_id: &str) -> Result<Option<AccessKey>> {
        self.follow_changes();
        if let Some(k) = self
            .keys
            .lock()
            .ok()
            .and_then(|m| m.get(access_key_id).cloned())
        {
            return Ok(Some(k));
        }
        let found = load::<AccessKey>(self.store.as_ref(), GLOBAL, KIND_KEY, access_key_id)?
            .map(|l| l.value);
        if let (Some(k), Ok(mut m)) = (&found, self.keys.lock()) {
            if m.len() >= KEY_CACHE {
                m.clear();
            }
            m.insert(k.access_key_id.clone(), k.clone());
        }
        Ok(found)
    }

    /// Every key, of one account or of all, in key order.
    pub fn list_keys(&self, account: Option<&AccountId>) -> Result<Vec<AccessKey>> {
        const PAGE: usize = 1000;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list(GLOBAL, KIND_KEY, "", after.as_deref(), PAGE)
                .map_err(store_error)?;
            for rec in &page {
                let k: AccessKey = crate::records::decode(rec)?;
                if account.is_none_or(|a| a.as_str() == k.account) {
                    out.push(k);
                }
            }
            if page.len() < PAGE {
                return Ok(out);
            }
            after = page.last().map(|r| r.key.clone());
        }
    }

    /// Activates or deactivates a key.
    pub async fn set_key_active(&self, access_key_id: &str, active: bool) -> Result<AccessKey> {
        let missing =
            || ServiceError::not_found(format!("access key {access_key_id} does not exist"));
        let (key, ()) = crate::records::modify(
            self.store.as_ref(),
            GLOBAL,
            KIND_KEY,
            access_key_id,
            missing,
            |_| vec![],
            |k: &mut AccessKey| {
                k.active = active;
                Ok(())
            },
        )
        .await?;
        Ok(key)
    }

    /// Deletes a key; requests signed with it fail from then on.
    pub async fn delete_key(&self, access_key_id: &str) -> Result<()> {
        let batch = Batch::new(GLOBAL).delete(KIND_KEY, access_key_id, Expect::Present);
        match self.store.commit(batch).await {
            Ok(_) => Ok(()),
            Err(shoal_store::StoreError::Conflict { .. }) => Err(ServiceError::not_found(format!(
                "access key {access_key_id} does not exist"
            ))),
            Err(e) => Err(store_error(e)),
        }
    }

    /// The account whose endpoint a TLS server name is (`<prefix>-ats.iot.<region>.<host>`,
    /// or any host name whose first label is `<prefix>` or `<prefix>-ats`); `None` for any
    /// other name (an IP address, `localhost`).
    pub fn account_of_endpoint(&self, host: &str) -> Result<Option<AccountId>> {
        let label = host.split('.').next().unwrap_or("");
        let prefix = label.strip_suffix("-ats").unwrap_or(label);
        if prefix.len() != 14
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Ok(None);
        }
        match load::<String>(self.store.as_ref(), GLOBAL, KIND_ENDPOINT, prefix)? {
            Some(l) => Ok(Some(AccountId::parse(&l.value)?)),
            None => Ok(None),
        }
    }

    /// Writes the endpoint records of accounts made before they existed (start-up).
    pub async fn index_endpoints(&self) -> Result<()> {
        for account in self.list_accounts()? {
            let id = AccountId::parse(&account)?;
            let prefix = endpoint_prefix(&id);
            if load::<String>(self.store.as_ref(), GLOBAL, KIND_ENDPOINT, &prefix)?.is_some() {
                continue;
            }
            let batch = Batch::new(GLOBAL).put(
                KIND_ENDPOINT,
                &prefix,
                SCHEMA,
                encode(&account)?,
                vec![],
                Expect::Any,
            );
            self.store.commit(batch).await.map_err(store_error)?;
        }
        Ok(())
    }

    pub fn default_account(&self) -> Result<Option<AccountId>> {
        let Some(l) = load::<String>(self.store.as_ref(), GLOBAL, KIND_SETTING, DEFAULT_ACCOUNT)?
        else {
            return Ok(None);
        };
        Ok(Some(AccountId::parse(&l.value)?))
    }

    /// First start: the default account and its admin key. Idempotent: later starts return
    /// `None` and keep the existing ones.
    pub async fn initialize(&self) -> Result<Option<AccessKey>> {
        if self.default_account()?.is_some() {
            return Ok(None);
        }
        let (account, key, batch) = new_account(self.clock.now())?;
        let batch = batch.put(
            KIND_SETTING,
            DEFAULT_ACCOUNT,
            SCHEMA,
            encode(&account)?,
            vec![],
            Expect::Absent,
        );
        self.store.commit(batch).await.map_err(store_error)?;
        Ok(Some(key))
    }

    pub async fn create_account(&self) -> Result<(AccountId, AccessKey)> {
        // A random id can collide with an existing one; try another.
        for _ in 0..8 {
            let (account, key, batch) = new_account(self.clock.now())?;
            if crate::records::try_commit(self.store.as_ref(), batch).await? {
                return Ok((AccountId::parse(&account)?, key));
            }
        }
        Err(ServiceError::internal("could not allocate an account id"))
    }

    pub async fn create_key(&self, account: &AccountId) -> Result<AccessKey> {
        self.create_key_with(account, false).await
    }

    /// A new key, read-only or not.
    pub async fn create_key_with(&self, account: &AccountId, read_only: bool) -> Result<AccessKey> {
        let mut key = random_key(account.as_str(), self.clock.now());
        key.read_only = read_only;
        let batch = Batch::new(GLOBAL)
            .check(KIND_ACCOUNT, account.as_str(), Expect::Present)
            .put(
                KIND_KEY,
                &key.access_key_id,
                SCHEMA,
                encode(&key)?,
                vec![],
                Expect::Absent,
            );
        match self.store.commit(batch).await {
            Ok(_) => Ok(key),
            Err(shoal_store::StoreError::Conflict { op: 0 }) => Err(ServiceError::not_found(
                format!("account {account} does not exist"),
            )),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Every account id, read page by page (there is no cap on the number of accounts).
    pub fn list_accounts(&self) -> Result<Vec<String>> {
        const PAGE: usize = 1000;
        let mut out = Vec::new();
        loop {
            let page = self
                .store
                .list(
                    GLOBAL,
                    KIND_ACCOUNT,
                    "",
                    out.last().map(String::as_str),
                    PAGE,
                )
                .map_err(store_error)?;
            let n = page.len();
            out.extend(page.into_iter().map(|r| r.key));
            if n < PAGE {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_domain::{ManualClock, Timestamp};

    /// A key changed in this process is seen on the next lookup, through the store's change
    /// stream; one changed behind its back is seen once told (`forget_keys`).
    #[tokio::test]
    async fn kept_keys_follow_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Arc::new(shoal_store::sqlite::SqliteStore::open(&path).unwrap());
        let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
        let accounts = Accounts::new(store.clone(), clock.clone());
        let key = accounts.initialize().await.unwrap().unwrap();
        let id = key.access_key_id.clone();
        assert!(
            accounts.lookup(&id).unwrap().is_some(),
            "now kept in memory"
        );
        accounts.set_key_active(&id, false).await.unwrap();
        assert!(
            accounts.lookup(&id).unwrap().is_none(),
            "evicted by the change"
        );
        accounts.set_key_active(&id, true).await.unwrap();
        assert!(accounts.lookup(&id).unwrap().is_some());

        // Another process (its own store handle and stream) deletes it.
        let other = Accounts::new(
            Arc::new(shoal_store::sqlite::SqliteStore::open(&path).unwrap()),
            clock,
        );
        other.delete_key(&id).await.unwrap();
        assert!(accounts.lookup(&id).unwrap().is_some(), "not seen yet");
        accounts.forget_keys();
        assert!(accounts.lookup(&id).unwrap().is_none());
    }
}
