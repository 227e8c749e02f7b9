//! Thing principals: AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals,
//! ListPrincipalThings. A principal is a certificate ARN of the same account and region.

use super::{pair_key, Identity, KIND_THING_PRINCIPAL};
use crate::records::{decode, encode, store_error, try_commit, RETRIES, SCHEMA};
use crate::registry::{page_of, Page, KIND_THING};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::{Partition, ServiceError, ThingName};
use shoal_store::{Batch, Expect, Term, TermMatch};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ThingPrincipal {
    thing: String,
    principal: String,
}

impl Identity {
    pub async fn attach_thing_principal(
        &self,
        part: &Partition,
        thing: &ThingName,
        principal: &str,
    ) -> Result<()> {
        let cert_id = Self::certificate_id_of(part, principal)?;
        let key = part.key();
        for _ in 0..RETRIES {
            if self
                .store()
                .get(&key, KIND_THING, thing.as_str())
                .map_err(store_error)?
                .is_none()
            {
                return Err(ServiceError::not_found(format!(
                    "Thing {thing} cannot be found."
                )));
            }
            self.require_certificate(part, &cert_id)?;
            let doc = ThingPrincipal {
                thing: thing.as_str().to_string(),
                principal: principal.to_string(),
            };
            let terms = vec![
                Term::new("thing", thing.as_str()),
                Term::new("principal", principal),
            ];
            let batch = Batch::new(&key)
                .check(KIND_THING, thing.as_str(), Expect::Present)
                .check(super::KIND_CERT, &cert_id, Expect::Present)
                .put(
                    KIND_THING_PRINCIPAL,
                    &pair_key(thing.as_str(), principal),
                    SCHEMA,
                    encode(&doc)?,
                    terms,
                    Expect::Any,
                );
            if try_commit(self.store(), batch).await? {
                self.authorization_changed(part);
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// DetachThingPrincipal; the thing must exist, detaching an unattached principal succeeds.
    pub async fn detach_thing_principal(
        &self,
        part: &Partition,
        thing: &ThingName,
        principal: &str,
    ) -> Result<()> {
        let key = part.key();
        if self
            .store()
            .get(&key, KIND_THING, thing.as_str())
            .map_err(store_error)?
            .is_none()
        {
            return Err(ServiceError::not_found(format!(
                "Thing {thing} cannot be found."
            )));
        }
        let batch = Batch::new(&key).delete(
            KIND_THING_PRINCIPAL,
            &pair_key(thing.as_str(), principal),
            Expect::Any,
        );
        self.store.commit(batch).await.map_err(store_error)?;
        self.authorization_changed(part);
        Ok(())
    }

    pub fn list_thing_principals(
        &self,
        part: &Partition,
        thing: &ThingName,
        max: usize,
        token: Option<&str>,
    ) -> Result<Page<String>> {
        let key = part.key();
        if self
            .store()
            .get(&key, KIND_THING, thing.as_str())
            .map_err(store_error)?
            .is_none()
        {
            return Err(ServiceError::not_found(format!(
                "Thing {thing} cannot be found."
            )));
        }
        page_of(
            token,
            max,
            |after, n| {
                self.store()
                    .list_by_term(
                        &key,
                        KIND_THING_PRINCIPAL,
                        "thing",
                        TermMatch::Exact(thing.as_str()),
                        after,
                        n,
                    )
                    .map_err(store_error)
            },
            |rec| decode::<ThingPrincipal>(rec).map(|t| Some(t.principal)),
        )
    }

    pub fn list_principal_things(
        &self,
        part: &Partition,
        principal: &str,
        max: usize,
        token: Option<&str>,
    ) -> Result<Page<String>> {
        let key = part.key();
        page_of(
            token,
            max,
            |after, n| {
                self.store()
                    .list_by_term(
                        &key,
                        KIND_THING_PRINCIPAL,
                        "principal",
                        TermMatch::Exact(principal),
                        after,
                        n,
                    )
                    .map_err(store_error)
            },
            |rec| decode::<ThingPrincipal>(rec).map(|t| Some(t.thing)),
        )
    }
}
