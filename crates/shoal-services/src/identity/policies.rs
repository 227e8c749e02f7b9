//! IoT policies and their versions (Create/Get/List/DeletePolicy, Create/Get/List/
//! DeletePolicyVersion, SetDefaultPolicyVersion) and their attachment to targets
//! (AttachPolicy, DetachPolicy, ListAttachedPolicies, ListTargetsForPolicy).

use super::{pair_key, Identity, KIND_ATTACHMENT, KIND_CERT, KIND_POLICY};
use crate::records::{
    contention, decode, encode, load, store_error, try_commit, Loaded, RETRIES, SCHEMA,
};
use crate::registry::{page_of, Page};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::identity::{check_policy_name, Policy};
use shoal_domain::{Arn, ErrorKind, Partition, ServiceError};
use shoal_store::{Batch, Expect, Term, TermMatch};

/// AWS's answer for a policy that does not exist, as SDK users quote it
/// (awslabs/aws-sdk-ios-samples#91).
const POLICY_NOT_FOUND: &str = "Policy not found";

/// An attachment record: which policy is attached to which target ARN.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Attachment {
    policy: String,
    target: String,
}

/// Adds the attachment of policy `name` to `target` to `batch`; the caller checks that both
/// exist (or writes them in the same batch).
pub(crate) fn stage_policy_attachment(batch: Batch, name: &str, target: &str) -> Result<Batch> {
    let doc = Attachment {
        policy: name.to_string(),
        target: target.to_string(),
    };
    let terms = vec![Term::new("policy", name), Term::new("target", target)];
    Ok(batch.put(
        KIND_ATTACHMENT,
        &pair_key(name, target),
        SCHEMA,
        encode(&doc)?,
        terms,
        Expect::Any,
    ))
}

/// Parses and validates a policy document, as AWS does on every create.
pub(crate) fn validate_document(doc: &str) -> Result<shoal_policy::Policy> {
    shoal_policy::parse(doc).map_err(|e| ServiceError::new(ErrorKind::MalformedPolicy, e.message))
}

/// A new document (CreatePolicy, CreatePolicyVersion): valid, and testing only condition keys
/// Shoal gives values to.
pub(crate) fn validate_new_document(doc: &str) -> Result<()> {
    super::context::check_condition_keys(&validate_document(doc)?)
}

impl Identity {
    pub(crate) fn require_policy(&self, part: &Partition, name: &str) -> Result<Loaded<Policy>> {
        check_policy_name(name)?;
        load::<Policy>(self.store(), &part.key(), KIND_POLICY, name)?
            .ok_or_else(|| ServiceError::not_found(POLICY_NOT_FOUND))
    }

    pub async fn create_policy(
        &self,
        part: &Partition,
        name: &str,
        document: &str,
    ) -> Result<Policy> {
        check_policy_name(name)?;
        validate_new_document(document)?;
        let policy = Policy::new(
            name,
            document.to_string(),
            self.clock.now(),
            Self::generation_id(),
        );
        let batch = Batch::new(part.key()).put(
            KIND_POLICY,
            name,
            SCHEMA,
            encode(&policy)?,
            vec![],
            Expect::Absent,
        );
        if try_commit(self.store(), batch).await? {
            return Ok(policy);
        }
        Err(ServiceError::already_exists(
            // AWS's text, as the CLI shows it (getmoto/moto#5352).
            format!("Policy cannot be created - name already exists (name={name})"),
            name,
            &part.arn("policy", name),
        ))
    }

    pub fn get_policy(&self, part: &Partition, name: &str) -> Result<Policy> {
        Ok(self.require_policy(part, name)?.value)
    }

    pub fn list_policies(
        &self,
        part: &Partition,
        page_size: usize,
        marker: Option<&str>,
    ) -> Result<Page<Policy>> {
        let key = part.key();
        page_of(
            marker,
            page_size,
            |after, n| {
                self.store()
                    .list(&key, KIND_POLICY, "", after, n)
                    .map_err(store_error)
            },
            |rec| decode(rec).map(Some),
        )
    }

    /// Read-modify-write of a policy under its revision.
    async fn modify_policy<T>(
        &self,
        part: &Partition,
        name: &str,
        change: impl FnMut(&mut Policy) -> Result<T>,
    ) -> Result<(Policy, T)> {
        check_policy_name(name)?;
        let missing = || ServiceError::not_found(POLICY_NOT_FOUND);
        crate::records::modify(
            self.store(),
            &part.key(),
            KIND_POLICY,
            name,
            missing,
            |_| vec![],
            change,
        )
        .await
    }

    pub async fn create_policy_version(
        &self,
        part: &Partition,
        name: &str,
        document: &str,
        set_default: bool,
    ) -> Result<(Policy, u32)> {
        validate_new_document(document)?;
        let now = self.clock.now();
        let out = self
            .modify_policy(part, name, |p| {
                p.add_version(document.to_string(), set_default, now)
            })
            .await?;
        if set_default {
            self.authorization_changed(part);
        }
        Ok(out)
    }

    pub async fn set_default_policy_version(
        &self,
        part: &Partition,
        name: &str,
        version: u32,
    ) -> Result<()> {
        let now = self.clock.now();
        self.modify_policy(part, name, |p| p.set_default(version, now))
            .await?;
        self.authorization_changed(part);
        Ok(())
    }

    pub async fn delete_policy_version(
        &self,
        part: &Partition,
        name: &str,
        version: u32,
    ) -> Result<()> {
        let now = self.clock.now();
        self.modify_policy(part, name, |p| p.delete_version(version, now))
            .await
            .map(|_| ())
    }

    /// DeletePolicy: not while attached to any target, and only its default version may remain.
    pub async fn delete_policy(&self, part: &Partition, name: &str) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = self.require_policy(part, name)?;
            cur.value.check_deletable()?;
            let targets = self
                .store()
                .list_by_term(
                    &key,
                    KIND_ATTACHMENT,
                    "policy",
                    TermMatch::Exact(name),
                    None,
                    1,
                )
                .map_err(store_error)?;
            if !targets.is_empty() {
                return Err(ServiceError::new(
                    ErrorKind::DeleteConflict,
                    format!(
                        "Cannot delete policy {name}: it is attached to one or more principals"
                    ),
                ));
            }
            let batch = Batch::new(&key).delete(KIND_POLICY, name, Expect::Rev(cur.rev));
            if try_commit(self.store(), batch).await? {
                return Ok(());
            }
        }
        Err(contention())
    }

    /// The record a target ARN must exist as: a certificate or a thing group of this partition.
    fn target_record(&self, part: &Partition, target: &str) -> Result<(&'static str, String)> {
        let arn = Arn::parse(target)
            .map_err(|_| ServiceError::invalid(format!("Invalid target: {target}")))?;
        if arn.region != part.region.as_str() || arn.account != part.account.as_str() {
            return Err(ServiceError::not_found(format!(
                "Target {target} cannot be found."
            )));
        }
        let kind = match arn.resource_type.as_str() {
            "cert" => KIND_CERT,
            "thinggroup" => crate::registry::KIND_GROUP,
            other => {
                return Err(ServiceError::invalid(format!(
                    "Policies cannot be attached to targets of type {other} in Shoal yet"
                )))
            }
        };
        Ok((kind, arn.resource))
    }

    pub async fn attach_policy(&self, part: &Partition, name: &str, target: &str) -> Result<()> {
        let (kind, id) = self.target_record(part, target)?;
        let key = part.key();
        for _ in 0..RETRIES {
            let policy = self.require_policy(part, name)?;
            if self
                .store()
                .get(&key, kind, &id)
                .map_err(store_error)?
                .is_none()
            {
                return Err(ServiceError::not_found(format!(
                    "Target {target} cannot be found."
                )));
            }
            let batch = Batch::new(&key)
                .check(KIND_POLICY, name, Expect::Rev(policy.rev))
                .check(kind, &id, Expect::Present);
            let batch = stage_policy_attachment(batch, name, target)?;
            if try_commit(self.store(), batch).await? {
                self.authorization_changed(part);
                return Ok(());
            }
        }
        Err(contention())
    }

    /// DetachPolicy; detaching what is not attached succeeds.
    pub async fn detach_policy(&self, part: &Partition, name: &str, target: &str) -> Result<()> {
        check_policy_name(name)?;
        // The same target rules as AttachPolicy: a malformed target is an invalid request.
        Arn::parse(target)
            .map_err(|_| ServiceError::invalid(format!("Invalid target: {target}")))?;
        let batch =
            Batch::new(part.key()).delete(KIND_ATTACHMENT, &pair_key(name, target), Expect::Any);
        self.store.commit(batch).await.map_err(store_error)?;
        self.authorization_changed(part);
        Ok(())
    }

    /// Names of the policies attached to a target, in name order.
    pub fn attached_policy_names(&self, part: &Partition, target: &str) -> Result<Vec<String>> {
        let recs = self
            .store()
            .list_by_term(
                &part.key(),
                KIND_ATTACHMENT,
                "target",
                TermMatch::Exact(target),
                None,
                10_000,
            )
            .map_err(store_error)?;
        let mut names = Vec::with_capacity(recs.len());
        for r in &recs {
            let a: Attachment = decode(r)?;
            names.push(a.policy);
        }
        names.sort();
        Ok(names)
    }

    /// ListAttachedPolicies; with `recursive` on a thing group, the policies of its ancestors too.
    pub fn list_attached_policies(
        &self,
        part: &Partition,
        target: &str,
        recursive: bool,
    ) -> Result<Vec<String>> {
        let (kind, id) = self.target_record(part, target)?;
        if self
            .store()
            .get(&part.key(), kind, &id)
            .map_err(store_error)?
            .is_none()
        {
            return Err(ServiceError::not_found(format!(
                "Target {target} cannot be found."
            )));
        }
        let mut names = self.attached_policy_names(part, target)?;
        if recursive && kind == crate::registry::KIND_GROUP {
            if let Some(g) =
                load::<shoal_domain::thing_group::ThingGroup>(self.store(), &part.key(), kind, &id)?
            {
                for ancestor in &g.value.root_to_parent {
                    names.extend(
                        self.attached_policy_names(part, &part.arn("thinggroup", ancestor))?,
                    );
                }
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    pub fn list_targets_for_policy(
        &self,
        part: &Partition,
        name: &str,
        page_size: usize,
        marker: Option<&str>,
    ) -> Result<Page<String>> {
        self.require_policy(part, name)?;
        let key = part.key();
        page_of(
            marker,
            page_size,
            |after, n| {
                self.store()
                    .list_by_term(
                        &key,
                        KIND_ATTACHMENT,
                        "policy",
                        TermMatch::Exact(name),
                        after,
                        n,
                    )
                    .map_err(store_error)
            },
            |rec| decode::<Attachment>(rec).map(|a| Some(a.target)),
        )
    }
}
