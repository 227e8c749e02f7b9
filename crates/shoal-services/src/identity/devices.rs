//! Devices on the MQTT gateway and the device HTTPS port: which registered certificate a TLS
//! client presented, in which account, and the policies that decide what that connection may
//! do.
//! https://docs.aws.amazon.com/iot/latest/developerguide/iot-authorization.html

use super::context::{ConnFacts, RequestContext, Timed};
use super::owners::Owned;
use super::{Identity, KIND_CERT};
use crate::records::load;
use shoal_domain::error::Result;
use shoal_domain::identity::{Certificate, CertificateStatus};
use shoal_domain::{AccountId, Clock, ErrorKind, Partition, Region, ServiceError};
use shoal_policy::Decision;
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

/// What one connection may do: its policies, compiled, and the values of its policy variables
/// and condition keys.
pub struct Authorizer {
    /// Compiled once per distinct document and shared by every connection that has it.
    policies: Vec<Arc<shoal_policy::Policy>>,
    context: RequestContext,
    arn_prefix: String,
    /// Set when a policy tests `aws:CurrentTime` or `aws:EpochTime`: those are read at each
    /// evaluation. Other connections never read the clock here.
    clock: Option<Arc<dyn Clock>>,
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
            let policies = self.policies.iter().map(|p| &**p);
            let decision = match &self.clock {
                None => shoal_policy::evaluate(policies, action, &resource, &self.context),
                Some(clock) => {
                    let timed = Timed::at(&self.context, clock);
                    shoal_policy::evaluate(policies, action, &resource, &timed)
                }
            };
            decision == Decision::Allowed
        })
    }
}

/// What a provisioning-claim certificate may do without any attached policy: connect, and
/// the fleet provisioning MQTT API of its template (its certificate topics and its template's
/// `provision` topics).
fn claim_document(part: &Partition, template: &str) -> String {
    let arn = |kind: &str, rest: &str| {
        format!("arn:aws:iot:{}:{}:{kind}/{rest}", part.region, part.account)
    };
    let topics = |kind: &str| {
        serde_json::json!([
            arn(kind, "$aws/certificates/create/*"),
            arn(kind, "$aws/certificates/create-from-csr/*"),
            arn(
                kind,
                &format!("$aws/provisioning-templates/{template}/provision/*")
            ),
        ])
    };
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": topics("topic")},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": topics("topicfilter")},
        ],
    })
    .to_string()
}

impl Identity {
    /// The registered, ACTIVE certificate with this DER in `region`, in the account that holds
    /// it: the one the connection's TLS server name names (`named`, from the account's
    /// endpoint), or else the only account that holds it. AWS refuses any other certificate at
    /// connection time; a certificate held by several accounts (SNI_ONLY) needs the name.
    pub fn authenticate_device(
        &self,
        region: &Region,
        der: &[u8],
        named: Option<&AccountId>,
    ) -> Result<Device> {
        let id = shoal_pki::certificate_id(der);
        let refused = |why: String| ServiceError::new(ErrorKind::Unauthorized, why);
        // One read in the common case (one claim, then the certificate's own record, which
        // proves the claim); the claims are checked one by one only when there are several
        // and no server name to choose.
        let mut holders = self.claimed_by(Owned::Device, region, &id)?;
        if named.is_none() && holders.len() > 1 {
            holders = self.holders(Owned::Device, region, &id)?;
        }
        let account = match (named, holders.as_slice()) {
            (_, []) => return Err(refused(format!("certificate {id} is not registered"))),
            (Some(named), _) => holders
                .iter()
                .find(|h| h.account == named.as_str())
                .map(|h| h.account.clone())
                .ok_or_else(|| {
                    refused(format!(
                        "certificate {id} is not registered in the account of the endpoint"
                    ))
                })?,
            (None, [only]) => only.account.clone(),
            (None, _) => {
                return Err(refused(format!(
                    "certificate {id} is registered in several accounts; connect to your account's endpoint (DescribeEndpoint) so that the TLS server name selects one"
                )))
            }
        };
        let part = Partition::new(AccountId::parse(&account)?, region.clone());
        let Some(cert) = load::<Certificate>(self.store(), &part.key(), KIND_CERT, &id)? else {
            return Err(refused(format!("certificate {id} is not registered")));
        };
        let cert = cert.value;
        if cert.status != CertificateStatus::Active {
            return Err(refused(format!(
                "certificate {id} is {}",
                cert.status.as_str()
            )));
        }
        let now = self.clock.now().secs();
        if now < cert.not_before || now > cert.not_after {
            return Err(refused(format!("certificate {id} is not valid now")));
        }
        if let Some(claim) = &cert.claim {
            if self.clock.now() >= claim.expires {
                return Err(refused(format!("provisioning claim {id} has expired")));
            }
        }
        let principal = part.arn("cert", &id);
        Ok(Device {
            partition: part,
            certificate_id: cert.id,
            principal,
        })
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
    pub fn authorizer(
        &self,
        device: &Device,
        client_id: &str,
        facts: &ConnFacts<'_>,
    ) -> Result<Authorizer> {
        let part = &device.partition;
        let thing = if self.is_attached(part, client_id, &device.principal)? {
            Some(client_id)
        } else {
            None
        };
        let mut policies = self
            .effective_policies(part, Some(&device.principal), thing)?
            .iter()
            .map(|p| self.compiled(p.default_document()))
            .collect::<Result<Vec<_>>>()?;
        if let Some(claim) = self.claim_of(device)? {
            policies.push(self.compiled(&claim_document(part, &claim.template))?);
        }
        // Over HTTP there is no client id: policies see the certificate alone.
        let client_id = (!client_id.is_empty()).then_some(client_id);
        let wanted = super::context::wanted_by(&policies);
        let context = self.context_for(part, Some(&device.principal), client_id, facts, &wanted)?;
        Ok(Authorizer {
            clock: super::context::uses_time(&policies).then(|| self.clock.clone()),
            policies,
            context,
            arn_prefix: format!("arn:aws:iot:{}:{}:", part.region, part.account),
        })
    }

    /// The claim scope of a CreateProvisioningClaim certificate.
    fn claim_of(
        &self,
        device: &Device,
    ) -> Result<Option<shoal_domain::identity::ProvisioningClaim>> {
        Ok(load::<Certificate>(
            self.store(),
            &device.partition.key(),
            KIND_CERT,
            &device.certificate_id,
        )?
        .and_then(|c| c.value.claim))
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

    /// The authorizer of a connection a custom authorizer let in: the policy documents its
    /// function returned, with the connection's facts (there is no certificate or thing).
    pub fn documents_authorizer(
        &self,
        part: &Partition,
        documents: &[String],
        client_id: &str,
        facts: &ConnFacts<'_>,
    ) -> Result<Authorizer> {
        let policies = documents
            .iter()
            .map(|d| self.compiled(d))
            .collect::<Result<Vec<_>>>()?;
        let client_id = (!client_id.is_empty()).then_some(client_id);
        let wanted = super::context::wanted_by(&policies);
        let context = self.context_for(part, None, client_id, facts, &wanted)?;
        Ok(Authorizer {
            clock: super::context::uses_time(&policies).then(|| self.clock.clone()),
            policies,
            context,
            arn_prefix: format!("arn:aws:iot:{}:{}:", part.region, part.account),
        })
    }

    /// The authorizer of a connection signed with one of the account's access keys (MQTT over
    /// WebSocket with SigV4, or the plain-TCP listener). On AWS such a connection is governed
    /// by the caller's IAM policies; Shoal's access keys are the account's administrators, so
    /// it may do everything under the account.
    pub fn account_authorizer(&self, part: &Partition) -> Result<Authorizer> {
        // Parsed once: every plain-TCP and WebSocket connection gets it.
        static ALL: std::sync::OnceLock<Arc<shoal_policy::Policy>> = std::sync::OnceLock::new();
        let all = match ALL.get() {
            Some(p) => p.clone(),
            None => {
                let p = Arc::new(super::policies::validate_document(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
                )?);
                ALL.get_or_init(|| p).clone()
            }
        };
        Ok(Authorizer {
            policies: vec![all],
            context: RequestContext::default(),
            arn_prefix: format!("arn:aws:iot:{}:{}:", part.region, part.account),
            clock: None,
        })
    }
}
