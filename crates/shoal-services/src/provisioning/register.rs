//! One provisioning: a template evaluated with a device's parameters, and every resource of
//! its plan — thing, certificate, policies and their attachments — written as one unit of
//! work. The registry and identity services each stage their records into one store batch
//! (reading what exists, checking it again at commit), and the batch commits whole or not at
//! all: nothing is half-registered on any failure. A conflicting change in between makes the
//! whole provisioning read again and retry. Used by RegisterThing
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterThing.html) and by the
//! device-side ways of provisioning.

use super::Provisioning;
use crate::identity::StagedCertificate;
use crate::records::{contention, try_commit, RETRIES};
use shoal_domain::error::Result;
use shoal_domain::identity::Certificate;
use shoal_domain::provisioning::{Plan, PolicySpec, Template};
use shoal_domain::thing::Thing;
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_store::Batch;
use std::collections::BTreeMap;

/// What one provisioning registered.
#[derive(Debug, Clone, Default)]
pub struct Provisioned {
    pub thing: Option<Thing>,
    pub certificate: Option<Certificate>,
    pub policies: Vec<String>,
    /// Logical id → ARN, RegisterThing's `resourceArns`.
    pub resource_arns: BTreeMap<String, String>,
    pub device_configuration: BTreeMap<String, String>,
}

impl Provisioned {
    /// RegisterThing's `certificatePem`.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate.as_ref().map(|c| c.pem.as_str())
    }
}

/// A resource the template names that is not there is a registration failure, as AWS reports
/// it (ResourceRegistrationFailureException); malformed input stays an invalid request.
fn as_registration_failure(e: ServiceError) -> ServiceError {
    match e.kind {
        ErrorKind::NotFound | ErrorKind::AlreadyExists { .. } => {
            ServiceError::new(ErrorKind::RegistrationFailed, e.message)
        }
        _ => e,
    }
}

impl Provisioning {
    /// RegisterThing: a template body and its parameters.
    pub async fn register_thing(
        &self,
        part: &Partition,
        body: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<Provisioned> {
        let template = Template::parse(body)?;
        let plan = template.evaluate_in(part, parameters, &BTreeMap::new())?;
        self.provision(part, &plan).await
    }

    /// Registers every resource of `plan` in one commit.
    pub async fn provision(&self, part: &Partition, plan: &Plan) -> Result<Provisioned> {
        self.provision_with(part, plan, |_, b| Ok(b)).await
    }

    /// `provision`, with what `extra` adds (knowing what is registered) in the same commit: a
    /// bulk task's record of the line and its report.
    pub(crate) async fn provision_with(
        &self,
        part: &Partition,
        plan: &Plan,
        extra: impl Fn(&Provisioned, Batch) -> Result<Batch>,
    ) -> Result<Provisioned> {
        for _ in 0..RETRIES {
            let mut cert: Option<StagedCertificate> = None;
            let staged = match self.stage(part, plan, &mut cert).await {
                Ok((b, existing, done)) => extra(&done, b).map(|b| ((b, existing), done)),
                Err(e) => Err(e),
            };
            let outcome = match staged {
                Ok(((batch, existing_thing), done)) => {
                    match try_commit(self.store(), batch).await {
                        Ok(true) => {
                            // Only a thing or an ACTIVE certificate that existed before can be in
                            // use by a live connection.
                            let live =
                                existing_thing || cert.as_ref().is_some_and(|c| c.was_active);
                            if existing_thing {
                                self.registry.provisioned(part);
                            }
                            self.identity.provisioned(part, cert.as_ref(), live);
                            return Ok(done);
                        }
                        Ok(false) => None,
                        Err(e) => Some(e),
                    }
                }
                Err(e) => Some(as_registration_failure(e)),
            };
            if let Some(c) = &cert {
                self.identity.abandon(part, c).await?;
            }
            if let Some(e) = outcome {
                return Err(e);
            }
        }
        Err(contention())
    }

    /// Stages the plan's records into one batch; `cert` receives the staged certificate as
    /// soon as it exists, so that a failure after it can give back its ownership claim. Also
    /// says whether the thing existed before.
    async fn stage(
        &self,
        part: &Partition,
        plan: &Plan,
        cert: &mut Option<StagedCertificate>,
    ) -> Result<(Batch, bool, Provisioned)> {
        let mut out = Provisioned {
            device_configuration: plan.device_configuration.clone(),
            ..Provisioned::default()
        };
        let mut batch = Batch::new(part.key());
        let mut existing_thing = false;
        if let Some(spec) = &plan.thing {
            let (b, t) = self
                .registry
                .stage_provisioned_thing(part, batch, spec)
                .await?;
            batch = b;
            existing_thing = !t.created;
            out.resource_arns
                .insert(spec.logical_id.clone(), part.arn("thing", &t.thing.name));
            out.thing = Some(t.thing);
        }
        for p in &plan.policies {
            let (logical_id, name, document) = match p {
                PolicySpec::Named { logical_id, name } => (logical_id, Some(name.as_str()), None),
                PolicySpec::Document {
                    logical_id,
                    name,
                    document,
                } => (logical_id, name.as_deref(), Some(document.as_str())),
            };
            if let Some(n) = name.filter(|n| out.policies.iter().any(|p| p == n)) {
                // Named twice: staged once.
                out.resource_arns
                    .insert(logical_id.clone(), part.arn("policy", n));
                continue;
            }
            let (b, name) = self
                .identity
                .stage_provisioned_policy(part, batch, name, document)?;
            batch = b;
            out.resource_arns
                .insert(logical_id.clone(), part.arn("policy", &name));
            if !out.policies.contains(&name) {
                out.policies.push(name);
            }
        }
        if let Some(spec) = &plan.certificate {
            let (b, c) = self
                .identity
                .stage_provisioned_certificate(part, batch, spec)
                .await?;
            batch = b;
            let id = c.certificate.id.clone();
            out.resource_arns
                .insert(spec.logical_id.clone(), part.arn("cert", &id));
            out.certificate = Some(c.certificate.clone());
            *cert = Some(c);
            batch = self.identity.stage_provisioned_attachments(
                part,
                batch,
                out.thing.as_ref().map(|t| t.name.as_str()),
                &id,
                &out.policies,
            )?;
        }
        Ok((batch, existing_thing, out))
    }
}
