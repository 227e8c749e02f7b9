//! Billing groups: Create/Describe/Update/Delete/ListBillingGroups, Add/RemoveThingToBillingGroup
//! and ListThingsInBillingGroup. Membership is stored on the thing (`billing_group`, term
//! `billing`), so a thing is in one billing group at most and DescribeThing is one read
//! (https://docs.aws.amazon.com/iot/latest/developerguide/tagging-iot-billing-groups.html).

use super::{not_found, page_of, Page, Registry, KIND_THING};
use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use shoal_domain::billing_group::BillingGroup;
use shoal_domain::error::Result;
use shoal_domain::tags::Tags;
use shoal_domain::thing::Thing;
use shoal_domain::{BillingGroupName, Partition, ServiceError, ThingName};
use shoal_store::{Batch, Expect, Term, TermMatch};

pub(crate) const KIND_BILLING: &str = "billing-group";
/// Member things updated per batch when a billing group is deleted.
const DELETE_CHUNK: usize = 100;

fn missing(name: &str) -> ServiceError {
    not_found("Billing Group", name)
}

impl Registry {
    /// CreateBillingGroup. The same name with the same description returns the existing group,
    /// as CreateThingGroup does; another description is ResourceAlreadyExistsException.
    pub async fn create_billing_group(
        &self,
        part: &Partition,
        name: &BillingGroupName,
        description: Option<String>,
        tags: &[(String, String)],
    ) -> Result<BillingGroup> {
        let key = part.key();
        for _ in 0..RETRIES {
            if let Some(cur) =
                load::<BillingGroup>(self.store(), &key, KIND_BILLING, name.as_str())?
            {
                if cur.value.description == description {
                    return Ok(cur.value);
                }
                return Err(ServiceError::already_exists(
                    format!("Billing Group {name} already exists with different properties"),
                    &cur.value.id,
                    &part.arn("billinggroup", name.as_str()),
                ));
            }
            let mut g = BillingGroup::new(
                name.as_str(),
                uuid::Uuid::new_v4().to_string(),
                description.clone(),
                self.clock.now(),
            )?;
            let mut t = Tags::default();
            t.merge(tags)?;
            g.tags = t;
            let batch = Batch::new(&key).put(
                KIND_BILLING,
                name.as_str(),
                SCHEMA,
                encode(&g)?,
                vec![],
                Expect::Absent,
            );
            if try_commit(self.store(), batch).await? {
                return Ok(g);
            }
        }
        Err(contention())
    }

    pub fn describe_billing_group(
        &self,
        part: &Partition,
        name: &BillingGroupName,
    ) -> Result<BillingGroup> {
        load::<BillingGroup>(self.store(), &part.key(), KIND_BILLING, name.as_str())?
            .map(|l| l.value)
            .ok_or_else(|| missing(name.as_str()))
    }

    /// UpdateBillingGroup: the new properties replace the old; returns the new version.
    pub async fn update_billing_group(
        &self,
        part: &Partition,
        name: &BillingGroupName,
        description: Option<String>,
        expected: Option<i64>,
    ) -> Result<i64> {
        let (g, ()) = crate::records::modify(
            self.store(),
            &part.key(),
            KIND_BILLING,
            name.as_str(),
            || missing(name.as_str()),
            |_| vec![],
            |g: &mut BillingGroup| {
                *g = g.updated(description.clone(), expected)?;
                Ok(())
            },
        )
        .await?;
        Ok(g.version)
    }

    /// DeleteBillingGroup: its things leave it (in chunks, each thing under its revision), then
    /// the group goes in a batch that checks no thing joined meanwhile. Deleting a group that
    /// does not exist succeeds, as the model lists no ResourceNotFoundException for it.
    pub async fn delete_billing_group(
        &self,
        part: &Partition,
        name: &BillingGroupName,
        expected: Option<i64>,
    ) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let Some(cur) = load::<BillingGroup>(self.store(), &key, KIND_BILLING, name.as_str())?
            else {
                return Ok(());
            };
            cur.value.check_expected_version(expected)?;
            loop {
                let members = self
                    .store()
                    .list_by_term(
                        &key,
                        KIND_THING,
                        "billing",
                        TermMatch::Exact(name.as_str()),
                        None,
                        DELETE_CHUNK,
                    )
                    .map_err(store_error)?;
                if members.is_empty() {
                    break;
                }
                let mut batch = Batch::new(&key);
                for rec in &members {
                    let mut t: Thing = decode(rec)?;
                    t.billing_group = None;
                    batch = batch.put(
                        KIND_THING,
                        &rec.key,
                        SCHEMA,
                        encode(&t)?,
                        super::things::thing_terms(&t),
                        Expect::Rev(rec.rev),
                    );
                }
                // A member changed meanwhile: the next listing reads it again.
                try_commit(self.store(), batch).await?;
            }
            let batch = Batch::new(&key)
                .check_none(KIND_THING, Term::new("billing", name.as_str()))
                .delete(KIND_BILLING, name.as_str(), Expect::Rev(cur.rev));
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    pub fn list_billing_groups(
        &self,
        part: &Partition,
        prefix: Option<&str>,
        max: usize,
        token: Option<&str>,
    ) -> Result<Page<String>> {
        let key = part.key();
        page_of(
            token,
            max,
            |after, n| {
                self.store()
                    .list(&key, KIND_BILLING, prefix.unwrap_or(""), after, n)
                    .map_err(store_error)
            },
            |rec| Ok(Some(rec.key.clone())),
        )
    }

    /// AddThingToBillingGroup / RemoveThingFromBillingGroup: `group` becomes the thing's billing
    /// group, or (with `join` false) stops being it. Joining moves a thing out of the billing
    /// group it was in: a thing belongs to one at most.
    pub async fn set_thing_billing_group(
        &self,
        part: &Partition,
        thing: &ThingName,
        group: &BillingGroupName,
        join: bool,
    ) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let g = load::<BillingGroup>(self.store(), &key, KIND_BILLING, group.as_str())?
                .ok_or_else(|| missing(group.as_str()))?;
            let cur = load::<Thing>(self.store(), &key, KIND_THING, thing.as_str())?
                .ok_or_else(|| not_found("Thing", thing.as_str()))?;
            let mut next = cur.value.clone();
            if join {
                next.billing_group = Some(group.as_str().to_string());
            } else if next.billing_group.as_deref() == Some(group.as_str()) {
                next.billing_group = None;
            }
            if next.billing_group == cur.value.billing_group {
                return Ok(());
            }
            let batch = Batch::new(&key)
                .check(KIND_BILLING, group.as_str(), Expect::Rev(g.rev))
                .put(
                    KIND_THING,
                    thing.as_str(),
                    SCHEMA,
                    encode(&next)?,
                    super::things::thing_terms(&next),
                    Expect::Rev(cur.rev),
                );
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    pub fn list_things_in_billing_group(
        &self,
        part: &Partition,
        group: &BillingGroupName,
        max: usize,
        token: Option<&str>,
    ) -> Result<Page<String>> {
        let key = part.key();
        self.describe_billing_group(part, group)?;
        page_of(
            token,
            max,
            |after, n| {
                self.store()
                    .list_by_term(
                        &key,
                        KIND_THING,
                        "billing",
                        TermMatch::Exact(group.as_str()),
                        after,
                        n,
                    )
                    .map_err(store_error)
            },
            |rec| Ok(Some(rec.key.clone())),
        )
    }

    pub(crate) async fn modify_billing_tags(
        &self,
        part: &Partition,
        name: &str,
        mut change: impl FnMut(&mut Tags) -> Result<()>,
    ) -> Result<()> {
        let name = BillingGroupName::parse(name)?;
        crate::records::modify(
            self.store(),
            &part.key(),
            KIND_BILLING,
            name.as_str(),
            || missing(name.as_str()),
            |_| vec![],
            |g: &mut BillingGroup| change(&mut g.tags),
        )
        .await?;
        Ok(())
    }
}
