//! Which account a certificate belongs to, per region: a certificate id maps to one account,
//! unless every account that holds it registered it in `SNI_ONLY` mode, and then the TLS
//! server name picks the account. This index is what device authentication reads (one key per
//! handshake, never a scan of accounts), and what registration checks so that the mapping is
//! never ambiguous.
//!
//! AWS: "A CA certificate can be registered in DEFAULT mode by only one account in a Region. A
//! CA certificate can be registered in SNI_ONLY mode by multiple accounts in a Region"; device
//! certificates registered without a CA are SNI_ONLY, those made by AWS IoT or registered with
//! a DEFAULT-mode CA are DEFAULT
//! (https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html#multiple-account-cert).
//!
//! The index lives in the `global` partition and the certificate records in the accounts'
//! partitions, so they cannot commit in one batch. A claim is therefore written first and is
//! trusted only while the record it claims exists: a claim left by a crash between the two
//! writes (or by a delete that stopped half way) is dropped the next time it is read.

use super::{Identity, KIND_CA, KIND_CERT};
use crate::records::{contention, encode, load, try_commit, RETRIES, SCHEMA};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::{AccountId, Partition, Region, ServiceError};
use shoal_store::{Batch, Expect};

const GLOBAL: &str = "global";

/// Device certificates or CA certificates: the two share the rules, not the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owned {
    Device,
    Ca,
}

impl Owned {
    fn index_kind(self) -> &'static str {
        match self {
            Owned::Device => "certificate-owner",
            Owned::Ca => "ca-certificate-owner",
        }
    }

    fn record_kind(self) -> &'static str {
        match self {
            Owned::Device => KIND_CERT,
            Owned::Ca => KIND_CA,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Holders {
    holders: Vec<Holder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Holder {
    pub account: String,
    pub sni_only: bool,
}

fn index_key(region: &Region, id: &str) -> String {
    format!("{region}/{id}")
}

impl Identity {
    /// The accounts of `region` that claim certificate `id`; a claim is only trusted once its
    /// record is read (`holds`, or the caller's own read of the record).
    pub(crate) fn claimed_by(&self, what: Owned, region: &Region, id: &str) -> Result<Vec<Holder>> {
        Ok(load::<Holders>(
            self.store(),
            GLOBAL,
            what.index_kind(),
            &index_key(region, id),
        )?
        .map(|l| l.value.holders)
        .unwrap_or_default())
    }

    /// The accounts of `region` that hold certificate `id`, each checked against its record.
    pub(crate) fn holders(&self, what: Owned, region: &Region, id: &str) -> Result<Vec<Holder>> {
        let mut live = Vec::new();
        for h in self.claimed_by(what, region, id)? {
            if self.holds(what, &h.account, region, id)? {
                live.push(h);
            }
        }
        Ok(live)
    }

    fn holds(&self, what: Owned, account: &str, region: &Region, id: &str) -> Result<bool> {
        let Ok(account) = AccountId::parse(account) else {
            return Ok(false);
        };
        let part = Partition::new(account, region.clone());
        Ok(self
            .store()
            .get(&part.key(), what.record_kind(), id)
            .map_err(crate::records::store_error)?
            .is_some())
    }

    /// Claims certificate `id` for the partition's account before its record is written.
    /// Returns whether the claim is new (so a failed registration takes it back), or
    /// ResourceAlreadyExistsException when another account holds it in a way that would make
    /// the owner of a connection ambiguous.
    pub(crate) async fn claim(
        &self,
        what: Owned,
        part: &Partition,
        id: &str,
        sni_only: bool,
    ) -> Result<bool> {
        let key = index_key(&part.region, id);
        let me = part.account.as_str();
        for _ in 0..RETRIES {
            let current = load::<Holders>(self.store(), GLOBAL, what.index_kind(), &key)?;
            let (mut holders, expect) = match current {
                Some(l) => (l.value.holders, Expect::Rev(l.rev)),
                None => (Vec::new(), Expect::Absent),
            };
            if holders.iter().any(|h| h.account == me) {
                return Ok(false);
            }
            // Claims whose record is gone no longer count.
            let mut live = Vec::with_capacity(holders.len());
            for h in holders.drain(..) {
                if self.holds(what, &h.account, &part.region, id)? {
                    live.push(h);
                }
            }
            if conflicts(what, sni_only, &live) {
                return Err(conflict(what, part, id));
            }
            live.push(Holder {
                account: me.to_string(),
                sni_only,
            });
            let doc = encode(&Holders { holders: live })?;
            let batch =
                Batch::new(GLOBAL).put(what.index_kind(), &key, SCHEMA, doc, vec![], expect);
            if try_commit(self.store(), batch).await? {
                return Ok(true);
            }
        }
        Err(contention())
    }

    /// Takes the partition's account out of the holders of `id` (after its record is deleted,
    /// or when a registration failed after its claim).
    pub(crate) async fn release(&self, what: Owned, part: &Partition, id: &str) -> Result<()> {
        let key = index_key(&part.region, id);
        for _ in 0..RETRIES {
            let Some(l) = load::<Holders>(self.store(), GLOBAL, what.index_kind(), &key)? else {
                return Ok(());
            };
            let mut next = l.value.clone();
            next.holders.retain(|h| h.account != part.account.as_str());
            let batch = if next.holders.is_empty() {
                Batch::new(GLOBAL).delete(what.index_kind(), &key, Expect::Rev(l.rev))
            } else {
                Batch::new(GLOBAL).put(
                    what.index_kind(),
                    &key,
                    SCHEMA,
                    encode(&next)?,
                    vec![],
                    Expect::Rev(l.rev),
                )
            };
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    /// Builds the index for the certificates of `region` registered before it existed: run at
    /// start-up, once per region (a marker records that it was done). Certificates that two
    /// accounts both hold in DEFAULT mode keep both holders and are refused at connection until
    /// one account deletes its copy or the device names its account's endpoint.
    pub async fn index_certificates(&self, region: &Region, accounts: &[String]) -> Result<()> {
        let marker = format!("certificate-owner-index/{region}");
        if load::<bool>(self.store(), GLOBAL, super::KIND_SETTING, &marker)?.is_some() {
            return Ok(());
        }
        for account in accounts {
            let part = Partition::new(AccountId::parse(account)?, region.clone());
            for what in [Owned::Device, Owned::Ca] {
                let mut after: Option<String> = None;
                loop {
                    let page = self
                        .store()
                        .list(&part.key(), what.record_kind(), "", after.as_deref(), 500)
                        .map_err(crate::records::store_error)?;
                    for rec in &page {
                        let sni_only = match what {
                            Owned::Device => {
                                crate::records::decode::<shoal_domain::identity::Certificate>(rec)?
                                    .sni_only
                            }
                            Owned::Ca => {
                                crate::records::decode::<shoal_domain::identity::CaCertificate>(
                                    rec,
                                )?
                                .sni_only
                            }
                        };
                        if let Err(e) = self.claim(what, &part, &rec.key, sni_only).await {
                            tracing::warn!(account = %account, id = %rec.key, error = %e.message, "certificate held by several accounts in DEFAULT mode");
                            self.force_claim(what, &part, &rec.key, sni_only).await?;
                        }
                    }
                    if page.len() < 500 {
                        break;
                    }
                    after = page.last().map(|r| r.key.clone());
                }
            }
        }
        let batch = Batch::new(GLOBAL).put(
            super::KIND_SETTING,
            &marker,
            SCHEMA,
            encode(&true)?,
            vec![],
            Expect::Any,
        );
        self.store()
            .commit(batch)
            .await
            .map_err(crate::records::store_error)?;
        Ok(())
    }

    /// Adds a holder whatever the others are (the index catching up with existing records).
    async fn force_claim(
        &self,
        what: Owned,
        part: &Partition,
        id: &str,
        sni_only: bool,
    ) -> Result<()> {
        let key = index_key(&part.region, id);
        for _ in 0..RETRIES {
            let current = load::<Holders>(self.store(), GLOBAL, what.index_kind(), &key)?;
            let (mut h, expect) = match current {
                Some(l) => (l.value, Expect::Rev(l.rev)),
                None => (Holders::default(), Expect::Absent),
            };
            if h.holders.iter().any(|x| x.account == part.account.as_str()) {
                return Ok(());
            }
            h.holders.push(Holder {
                account: part.account.to_string(),
                sni_only,
            });
            let batch = Batch::new(GLOBAL).put(
                what.index_kind(),
                &key,
                SCHEMA,
                encode(&h)?,
                vec![],
                expect,
            );
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }
}

/// Whether another account's holding makes a new claim ambiguous. A CA may be held in DEFAULT
/// mode by one account and in SNI_ONLY mode by any number (AWS's rule). A device certificate
/// may be in several accounts only if every copy is SNI_ONLY: a DEFAULT copy's devices need
/// not send a server name, so any other copy would make their account ambiguous.
fn conflicts(what: Owned, sni_only: bool, others: &[Holder]) -> bool {
    match what {
        Owned::Ca => !sni_only && others.iter().any(|h| !h.sni_only),
        Owned::Device => !others.is_empty() && (!sni_only || others.iter().any(|h| !h.sni_only)),
    }
}

/// AWS's answer to registering a certificate that is already registered; the ARN is the
/// caller's own, so the answer never names another account.
fn conflict(what: Owned, part: &Partition, id: &str) -> ServiceError {
    let (message, kind) = match what {
        Owned::Device => (
            "The certificate is already provisioned or registered in another account; only certificates registered without a CA (or with an SNI_ONLY CA) may be registered in several accounts",
            "cert",
        ),
        Owned::Ca => (
            "The CA certificate is already registered in another account; a CA certificate may be registered in DEFAULT mode by only one account in a region (use SNI_ONLY)",
            "cacert",
        ),
    };
    ServiceError::already_exists(message, id, &part.arn(kind, id))
}
