//! Just-in-time registration and provisioning: a device presents a certificate no account has
//! registered, signed by a CA certificate registered with auto-registration. JITR registers it
//! PENDING_ACTIVATION and publishes `$aws/events/certificates/registered/{caCertificateId}`
//! (https://docs.aws.amazon.com/iot/latest/developerguide/auto-register-device-cert.html); JITP,
//! when the CA has a registration config, provisions thing, certificate and policy from its
//! template with the certificate's subject as parameters
//! (https://docs.aws.amazon.com/iot/latest/developerguide/jit-provisioning.html). Either way
//! that first connection is refused, as on AWS; the next one finds the certificate.

use super::{Provisioned, Provisioning};
use crate::events::{Event, ALWAYS};
use crate::identity::Owned;
use crate::records::try_commit;
use serde_json::json;
use shoal_domain::error::Result;
use shoal_domain::identity::{CaCertificate, CaStatus};
use shoal_domain::provisioning::{CertificateSource, Template};
use shoal_domain::{AccountId, Partition, Region, ServiceError};
use shoal_pki::ParsedCert;
use shoal_store::Batch;
use std::collections::BTreeMap;

/// What a device's first connection with an unknown certificate led to.
#[derive(Debug)]
pub enum JustInTime {
    /// No registered CA with auto-registration signed it (or it is registered already).
    Nothing,
    /// JITR: registered PENDING_ACTIVATION, the event published.
    Registered { partition: Partition, id: String },
    /// JITP: provisioned from the CA's template.
    Provisioned {
        partition: Partition,
        done: Box<Provisioned>,
    },
}

/// The template parameters JITP gives (the JITP page: "AWS::IoT::Certificate::Country ...
/// AWS::IoT::Certificate::Id"), from the certificate's subject.
fn certificate_parameters(cert: &ParsedCert) -> BTreeMap<String, String> {
    let vars = shoal_pki::policy_variables(&cert.der).unwrap_or_default();
    let subject = |field: &str| {
        vars.iter()
            .find(|(k, _)| k == &format!("iot:Certificate.Subject.{field}"))
            .and_then(|(_, v)| v.first().cloned())
    };
    let mut out = BTreeMap::new();
    for (param, field) in [
        ("Country", "Country"),
        ("Organization", "Organization"),
        ("OrganizationalUnit", "OrganizationalUnit"),
        ("DistinguishedNameQualifier", "DistinguishedNameQualifier"),
        ("StateName", "State"),
        ("CommonName", "CommonName"),
        ("SerialNumber", "SerialNumber"),
    ] {
        if let Some(v) = subject(field) {
            out.insert(format!("AWS::IoT::Certificate::{param}"), v);
        }
    }
    out.insert("AWS::IoT::Certificate::Id".into(), cert.id.clone());
    out
}

impl Provisioning {
    /// The registered, ACTIVE, auto-registering CA certificate that signed `device`, among
    /// the certificates the device sent after its own (the CA must be in the chain, as AWS
    /// asks) — in the account the connection's server name names, when it names one.
    fn signing_ca(
        &self,
        region: &Region,
        device: &ParsedCert,
        chain: &[Vec<u8>],
        named: Option<&AccountId>,
    ) -> Result<Option<(Partition, CaCertificate)>> {
        for der in chain {
            let id = shoal_pki::certificate_id(der);
            for holder in self.identity.claimed_by(Owned::Ca, region, &id)? {
                if named.is_some_and(|n| n.as_str() != holder.account) {
                    continue;
                }
                let part = Partition::new(AccountId::parse(&holder.account)?, region.clone());
                let Ok(ca) = self.identity.describe_ca_certificate(&part, &id) else {
                    continue;
                };
                if ca.status != CaStatus::Active || !ca.auto_registration {
                    continue;
                }
                let Ok(parsed) = shoal_pki::parse_pem(&ca.pem) else {
                    continue;
                };
                if shoal_pki::verify_signed_by(device, &parsed) {
                    return Ok(Some((part, ca)));
                }
            }
        }
        Ok(None)
    }

    /// JITR or JITP for a device certificate (`chain[0]`) that is registered nowhere.
    pub async fn just_in_time(
        &self,
        region: &Region,
        chain: &[Vec<u8>],
        named: Option<&AccountId>,
    ) -> Result<JustInTime> {
        let Some((leaf, rest)) = chain.split_first() else {
            return Ok(JustInTime::Nothing);
        };
        let device =
            shoal_pki::parse_der(leaf).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let Some((part, ca)) = self.signing_ca(region, &device, rest, named)? else {
            return Ok(JustInTime::Nothing);
        };
        let pem = pem_of(&device.der);
        let ca_pem = ca.pem.clone();
        if let Some(template) = self.jitp_template(&part, &ca)? {
            let mut plan = Template::parse(&template)?.evaluate_in(
                &part,
                &BTreeMap::new(),
                &certificate_parameters(&device),
            )?;
            // The template names the certificate by its id; it is registered now, with the
            // CA that signed it.
            if let Some(c) = plan.certificate.as_mut() {
                if c.source == CertificateSource::Id(device.id.clone()) {
                    c.source = CertificateSource::Pem {
                        pem: pem.clone(),
                        ca: Some(ca_pem),
                    };
                }
            }
            let done = self.provision(&part, &plan).await?;
            return Ok(JustInTime::Provisioned {
                partition: part,
                done: Box::new(done),
            });
        }
        let now = self.clock.now();
        let event = Event::new(
            ALWAYS,
            format!("$aws/events/certificates/registered/{}", ca.id),
            json!({
                "certificateId": device.id,
                "caCertificateId": ca.id,
                "timestamp": now.millis(),
                "certificateStatus": "PENDING_ACTIVATION",
                "awsAccountId": part.account.as_str(),
                "certificateRegistrationTimestamp": now.millis(),
            }),
        );
        let (batch, staged) = self
            .identity
            .stage_pending_certificate(&part, Batch::new(part.key()), &pem, &ca_pem)
            .await?;
        let batch = match self.events.get() {
            Some(e) => e.stage(&part, batch, vec![event]).await,
            None => Ok(batch),
        };
        let written = match batch {
            Ok(b) => try_commit(self.store(), b).await,
            Err(e) => Err(e),
        };
        if !matches!(written, Ok(true)) {
            self.identity.abandon(&part, &staged).await?;
        }
        // Another connection of the same device registered it first: nothing more to do.
        if !written? {
            return Ok(JustInTime::Nothing);
        }
        Ok(JustInTime::Registered {
            partition: part,
            id: device.id,
        })
    }

    /// The template of a CA's `registrationConfig`: its `templateBody`, or the JITP
    /// template its `templateName` names.
    fn jitp_template(&self, part: &Partition, ca: &CaCertificate) -> Result<Option<String>> {
        let Some(config) = &ca.registration_config else {
            return Ok(None);
        };
        if let Some(body) = config["templateBody"].as_str().filter(|b| !b.is_empty()) {
            return Ok(Some(body.to_string()));
        }
        if let Some(name) = config["templateName"].as_str().filter(|n| !n.is_empty()) {
            let t = self.describe_template(part, name)?;
            return Ok(Some(t.default_body().to_string()));
        }
        Ok(None)
    }
}

/// A DER certificate as PEM.
fn pem_of(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}
