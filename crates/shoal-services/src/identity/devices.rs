//! Devices on the MQTT gateway: which registered certificate a TLS client presented, and the
//! policies that decide what that connection may do.
//! https://docs.aws.amazon.com/iot/latest/developerguide/iot-authorization.html

use super::{Identity, KIND_CERT};
use crate::records::load;
use shoal_domain::error::Result;
use shoal_domain::identity::{Certificate, CertificateStatus};
use shoal_domain::{AccountId, ErrorKind, Partition, Region, ServiceError};
use shoal_policy::{Decision, MapContext};
use std::sync::Arc;

thread_local! {
    static RESOURCE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Distinct policy documents kept compiled; beyond this the cache starts over.
const COMPILED_LIMIT: usize = 10_000;

/// A device identified by its client certificate.
#[derive(Debug, Clone)]
pub struct Device {
    pub partition: Partition,
    /// The certificate's id (the SHA-256 of its DER); the record itself is not kept, so that a
    /// connection costs little memory.
    pub certificate_id: String,
    /// The certificate's ARN: the principal its policies are attached to.
    pub principal: String,
}

/// What one connection may do: its policies, compiled, and the values of its policy variables.
pub struct Authorizer {
    /// Compiled once per distinct document and shared by every connection that has it.
    policies: Vec<Arc<shoal_policy::Policy>>,
    context: MapContext,
    arn_prefix: String,
}

impl Authorizer {
    /// Whether `action` on `arn:aws:iot:REGION:ACCOUNT:KIND/NAME`, the resource AWS checks for
    /// each MQTT action, is allowed.
    pub fn allows(&self, action: &str, kind: &str, name: &str) -> bool {
        // The ARN is built in a buffer kept per thread: a broker checks every delivery, and a
        // fresh string each time would be an allocation per message.
        RESOURCE.with(|buf| {
            let mut resource = buf.borrow_mut();
            resource.clear();
            resource.push_str(&self.arn_prefix);
            resource.push_str(kind);
            resource.push('/');
            resource.push_str(name);
            shoal_policy::evaluate(
                self.policies.iter().map(|p| &**p),
                action,
                &resource,
                &self.context,
            ) == Decision::Allowed
        })
    }
}

impl Identity {
    /// The registered, ACTIVE certificate with this DER in one of `accounts` of `region`. AWS
    /// refuses any other certificate at connection time.
    pub fn authenticate_device(
        &self,
        accounts: &[String],
        region: &Region,
        der: &[u8],
    ) -> Result<Device> {
        let id = shoal_pki::certificate_id(der);
        for account in accounts {
            let part = Partition::new(AccountId::parse(account)?, region.clone());
            let Some(cert) = load::<Certificate>(self.store(), &part.key(), KIND_CERT, &id)? else {
                continue;
            };
            let cert = cert.value;
            if cert.status != CertificateStatus::Active {
                return Err(ServiceError::new(
                    ErrorKind::Unauthorized,
                    format!("certificate {id} is {}", cert.status.as_str()),
                ));
            }
            let now = self.clock.now().secs();
            if now < cert.not_before || now > cert.not_after {
                return Err(ServiceError::new(
                    ErrorKind::Unauthorized,
                    format!("certificate {id} is not valid now"),
                ));
            }
            let principal = part.arn("cert", &id);
            return Ok(Device {
                partition: part,
                certificate_id: cert.id,
                principal,
            });
        }
        Err(ServiceError::new(
            ErrorKind::Unauthorized,
            format!("certificate {id} is not registered"),
        ))
    }

    /// Whether the device's certificate may still be used: still registered and ACTIVE.
    pub fn check_device(&self, device: &Device) -> Result<()> {
        let id = &device.certificate_id;
        match load::<Certificate>(self.store(), &device.partition.key(), KIND_CERT, id)? {
            Some(c) if c.value.status == CertificateStatus::Active => Ok(()),
            _ => Err(ServiceError::new(
                ErrorKind::Unauthorized,
                format!("certificate {id} may no longer connect"),
            )),
        }
    }

    /// The authorizer of a device connecting with `client_id`: the policies of its certificate,
    /// and of the groups of the thing named like the client id when that thing is attached to it.
    pub fn authorizer(&self, device: &Device, client_id: &str) -> Result<Authorizer> {
        let part = &device.partition;
        let thing = if self.is_attached(part, client_id, &device.principal)? {
            Some(client_id)
        } else {
            None
        };
        let policies = self
            .effective_policies(part, Some(&device.principal), thing)?
            .iter()
            .map(|p| self.compiled(p.default_document()))
            .collect::<Result<Vec<_>>>()?;
        let context = self.context_for(part, Some(&device.principal), Some(client_id))?;
        Ok(Authorizer {
            policies,
            context,
            arn_prefix: format!("arn:aws:iot:{}:{}:", part.region, part.account),
        })
    }

    /// A policy document compiled, from the cache when another connection compiled the same
    /// text. Keyed by the text itself, so a new version is a new entry and nothing goes stale.
    fn compiled(&self, doc: &str) -> Result<Arc<shoal_policy::Policy>> {
        if let Some(p) = self.compiled.lock().ok().and_then(|c| c.get(doc).cloned()) {
            return Ok(p);
        }
        let p = Arc::new(super::policies::validate_document(doc)?);
        if let Ok(mut c) = self.compiled.lock() {
            if c.len() >= COMPILED_LIMIT {
                c.clear();
            }
            c.insert(doc.to_string(), p.clone());
        }
        Ok(p)
    }

    /// The authorizer of a connection signed with one of the account's access keys (MQTT over
    /// WebSocket with SigV4, or the plain-TCP listener). On AWS such a connection is governed
    /// by the caller's IAM policies; Shoal's access keys are the account's administrators, so
    /// it may do everything under the account.
    pub fn account_authorizer(&self, part: &Partition) -> Result<Authorizer> {
        let all = super::policies::validate_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
        )?;
        Ok(Authorizer {
            policies: vec![Arc::new(all)],
            context: MapContext::default(),
            arn_prefix: format!("arn:aws:iot:{}:{}:", part.region, part.account),
        })
    }
}
