//! Thing principals: AttachThingPrincipal (with `thingPrincipalType`), DetachThingPrincipal,
//! ListThingPrincipals(V2), ListPrincipalThings(V2). A principal is a certificate ARN of the
//! same account and region. An exclusive attachment makes its thing the only one the
//! certificate may be attached to until it is detached
//! (https://docs.aws.amazon.com/iot/latest/developerguide/exclusive-thing.html); a guard record
//! per principal, written by every attach and by the detach of the exclusive thing, makes two
//! concurrent attachments of one certificate see each other.

use super::{pair_key, Identity, KIND_THING_PRINCIPAL};
use crate::records::{decode, encode, store_error, try_commit, RETRIES, SCHEMA};
use crate::registry::{page_of, Page, KIND_THING};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::{Partition, ServiceError, ThingName};
use shoal_store::{Batch, Expect, Term, TermMatch};

/// The per-principal guard: which thing, if any, holds the certificate exclusively.
const KIND_PRINCIPAL_GUARD: &str = "principal-guard";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PrincipalGuard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exclusive: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ThingPrincipal {
    thing: String,
    principal: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    exclusive: bool,
}

/// The model's `ThingPrincipalType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThingPrincipalType {
    Exclusive,
    NonExclusive,
}

impl ThingPrincipalType {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "EXCLUSIVE_THING" => Ok(Self::Exclusive),
            "NON_EXCLUSIVE_THING" => Ok(Self::NonExclusive),
            other => Err(shoal_domain::ids::validation_error(
                "thingPrincipalType",
                other,
                "Member must satisfy enum value set: [EXCLUSIVE_THING, NON_EXCLUSIVE_THING]",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exclusive => "EXCLUSIVE_THING",
            Self::NonExclusive => "NON_EXCLUSIVE_THING",
        }
    }
}

/// One attachment as the V2 listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub thing: String,
    pub principal: String,
    pub kind: ThingPrincipalType,
}

impl From<ThingPrincipal> for Attachment {
    fn from(t: ThingPrincipal) -> Self {
        Attachment {
            thing: t.thing,
            principal: t.principal,
            kind: if t.exclusive {
                ThingPrincipalType::Exclusive
            } else {
                ThingPrincipalType::NonExclusive
            },
        }
    }
}

impl Identity {
    pub async fn attach_thing_principal(
        &self,
        part: &Partition,
        thing: &ThingName,
        principal: &str,
        kind: ThingPrincipalType,
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
            let batch = Batch::new(&key)
                .check(KIND_THING, thing.as_str(), Expect::Present)
                .check(super::KIND_CERT, &cert_id, Expect::Present);
            let batch = self.stage_thing_principal(part, batch, thing.as_str(), principal, kind)?;
            if try_commit(self.store(), batch).await? {
                self.authorization_changed(part);
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// Adds the attachment of `principal` to `thing` to `batch`, after AWS's rules for
    /// exclusive attachments; the caller checks that the thing and the certificate exist (or
    /// writes them in the same batch).
    pub(crate) fn stage_thing_principal(
        &self,
        part: &Partition,
        batch: Batch,
        thing: &str,
        principal: &str,
        kind: ThingPrincipalType,
    ) -> Result<Batch> {
        let key = part.key();
        let guard = crate::records::load::<PrincipalGuard>(
            self.store(),
            &key,
            KIND_PRINCIPAL_GUARD,
            principal,
        )?;
        let (current, guard_expect) = match guard {
            Some(g) => (g.value, Expect::Rev(g.rev)),
            None => (PrincipalGuard::default(), Expect::Absent),
        };
        if let Some(other) = current.exclusive.as_deref().filter(|o| *o != thing) {
            return Err(ServiceError::invalid(format!(
                "The principal {principal} is exclusively attached to thing {other}; detach it from that thing first"
            )));
        }
        if kind == ThingPrincipalType::Exclusive {
            let others = self
                .store()
                .list_by_term(
                    &key,
                    KIND_THING_PRINCIPAL,
                    "principal",
                    TermMatch::Exact(principal),
                    None,
                    2,
                )
                .map_err(store_error)?;
            for rec in &others {
                let tp: ThingPrincipal = decode(rec)?;
                if tp.thing != thing {
                    return Err(ServiceError::invalid(format!(
                        "The principal {principal} is attached to thing {}; an exclusive attachment needs it attached to no other thing",
                        tp.thing
                    )));
                }
            }
        }
        let exclusive = kind == ThingPrincipalType::Exclusive;
        let next_guard = PrincipalGuard {
            exclusive: exclusive.then(|| thing.to_string()),
        };
        let doc = ThingPrincipal {
            thing: thing.to_string(),
            principal: principal.to_string(),
            exclusive,
        };
        let terms = vec![Term::new("thing", thing), Term::new("principal", principal)];
        Ok(batch
            .put(
                KIND_PRINCIPAL_GUARD,
                principal,
                SCHEMA,
                encode(&next_guard)?,
                vec![],
                guard_expect,
            )
            .put(
                KIND_THING_PRINCIPAL,
                &pair_key(thing, principal),
                SCHEMA,
                encode(&doc)?,
                terms,
                Expect::Any,
            ))
    }

    /// The thing `principal` is exclusively attached to, if any.
    pub(crate) fn exclusive_thing(
        &self,
        part: &Partition,
        principal: &str,
    ) -> Result<Option<String>> {
        Ok(crate::records::load::<PrincipalGuard>(
            self.store(),
            &part.key(),
            KIND_PRINCIPAL_GUARD,
            principal,
        )?
        .and_then(|g| g.value.exclusive))
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
        for _ in 0..RETRIES {
            let mut batch = Batch::new(&key).delete(
                KIND_THING_PRINCIPAL,
                &pair_key(thing.as_str(), principal),
                Expect::Any,
            );
            // The exclusive thing lets the certificate go.
            if let Some(g) = crate::records::load::<PrincipalGuard>(
                self.store(),
                &key,
                KIND_PRINCIPAL_GUARD,
                principal,
            )? {
                if g.value.exclusive.as_deref() == Some(thing.as_str()) {
                    batch = batch.delete(KIND_PRINCIPAL_GUARD, principal, Expect::Rev(g.rev));
                }
            }
            if try_commit(self.store(), batch).await? {
                self.authorization_changed(part);
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// ListThingPrincipals(V2): the thing's attachments, of one type when `only` is given.
    pub fn list_thing_principals(
        &self,
        part: &Partition,
        thing: &ThingName,
        only: Option<ThingPrincipalType>,
        max: usize,
        token: Option<&str>,
    ) -> Result<Page<Attachment>> {
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
        self.attachments(&key, "thing", thing.as_str(), only, max, token)
    }

    /// ListPrincipalThings(V2): the principal's attachments, of one type when `only` is given.
    pub fn list_principal_things(
        &self,
        part: &Partition,
        principal: &str,
        only: Option<ThingPrincipalType>,
        max: usize,
        token: Option<&str>,
    ) -> Result<Page<Attachment>> {
        self.attachments(&part.key(), "principal", principal, only, max, token)
    }

    fn attachments(
        &self,
        key: &str,
        term: &str,
        value: &str,
        only: Option<ThingPrincipalType>,
        max: usize,
        token: Option<&str>,
    ) -> Result<Page<Attachment>> {
        page_of(
            token,
            max,
            |after, n| {
                self.store()
                    .list_by_term(
                        key,
                        KIND_THING_PRINCIPAL,
                        term,
                        TermMatch::Exact(value),
                        after,
                        n,
                    )
                    .map_err(store_error)
            },
            |rec| {
                let a = Attachment::from(decode::<ThingPrincipal>(rec)?);
                Ok(only.is_none_or(|k| k == a.kind).then_some(a))
            },
        )
    }
}
