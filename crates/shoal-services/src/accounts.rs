//! Accounts and access keys. An access key belongs to one account, as on AWS: the key in a
//! request's SigV4 credential names the account whose resources the request sees.

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
}

pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

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
        Accounts { store, clock }
    }

    /// The key a request names, if it exists.
    pub fn lookup(&self, access_key_id: &str) -> Result<Option<AccessKey>> {
        Ok(
            load::<AccessKey>(self.store.as_ref(), GLOBAL, KIND_KEY, access_key_id)?
                .map(|l| l.value),
        )
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
        let key = random_key(account.as_str(), self.clock.now());
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

    pub fn list_accounts(&self) -> Result<Vec<String>> {
        let recs = self
            .store
            .list(GLOBAL, KIND_ACCOUNT, "", None, 10_000)
            .map_err(store_error)?;
        Ok(recs.into_iter().map(|r| r.key).collect())
    }
}
