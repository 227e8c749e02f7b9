//! The identity part of a provisioning (RegisterThing, fleet provisioning, JITP, bulk
//! registration): the certificate a template declares (from a CSR, by id, or by PEM), its
//! policies (existing by name, or made from a document), and the attachments between them and
//! the thing, staged into the caller's batch
//! (https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html).

use super::certificates::cert_terms;
use super::owners::Owned;
use super::policies::{stage_policy_attachment, validate_new_document};
use super::{pair_key, pki_error, Identity, ThingPrincipalType, KIND_CA, KIND_CERT, KIND_POLICY};
use crate::records::{encode, load, SCHEMA};
use shoal_domain::error::Result;
use shoal_domain::identity::{
    check_policy_name, Certificate, CertificateStatus, Ownership, Policy, ProvisioningClaim,
};
use shoal_domain::provisioning::{CertificateSource, CertificateSpec, Override};
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_store::{Batch, Expect};

/// The certificate a provisioning leaves.
#[derive(Debug, Clone)]
pub struct StagedCertificate {
    pub certificate: Certificate,
    /// Its status changed (live connections must hear of it once committed).
    pub status_changed: bool,
    /// Shoal made its id's ownership claim for this provisioning: a failed commit gives it
    /// back (`Identity::abandon`).
    pub claimed: bool,
    /// It was ACTIVE before this provisioning, so live connections may be using it.
    pub was_active: bool,
}

/// How long a `certificateOwnershipToken` counts. AWS documents no figure; an hour is ample
/// for a device that asks for its certificate and registers straight after.
pub const OWNERSHIP_TOKEN_TTL_MS: i64 = 3_600_000;
/// How long a CreateProvisioningClaim certificate may connect: "valid for five minutes".
pub const CLAIM_TTL_MS: i64 = 300_000;

fn registration_failed(why: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::RegistrationFailed, why)
}

impl Identity {
    /// Adds the certificate of `spec` to `batch`. A certificate the template gives by id must
    /// exist; one given by PEM is registered unless it already is; one from a CSR is issued by
    /// Shoal's CA. An existing certificate takes the template's status when it is
    /// PENDING_ACTIVATION (the state of a fleet-provisioning or just-in-time certificate), or
    /// as the status override setting says.
    pub(crate) async fn stage_provisioned_certificate(
        &self,
        part: &Partition,
        batch: Batch,
        spec: &CertificateSpec,
    ) -> Result<(Batch, StagedCertificate)> {
        let wanted = if spec.active {
            CertificateStatus::Active
        } else {
            CertificateStatus::Inactive
        };
        let key = part.key();
        let (pem, ca_pem) = match &spec.source {
            CertificateSource::Id(id) => {
                let cur =
                    load::<Certificate>(self.store(), &key, KIND_CERT, id)?.ok_or_else(|| {
                        registration_failed(format!("The certificate {id} does not exist"))
                    })?;
                return self.restage_certificate(batch, cur, wanted, spec.on_status);
            }
            CertificateSource::Csr(csr) => {
                let (pem, parsed) = self
                    .authority
                    .issue_from_csr(csr)
                    .map_err(|e| ServiceError::invalid(e.to_string()))?;
                let cert = self.new_certificate(&parsed, pem, wanted, None);
                return self.stage_new_certificate(part, batch, cert).await;
            }
            CertificateSource::Pem { pem, ca } => (pem, ca.as_deref()),
        };
        let parsed = shoal_pki::parse_pem(pem).map_err(pki_error)?;
        if let Some(cur) = load::<Certificate>(self.store(), &key, KIND_CERT, &parsed.id)? {
            return self.restage_certificate(batch, cur, wanted, spec.on_status);
        }
        self.check_validity(&parsed)?;
        let (ca_id, sni_only) = self.registration_ca(part, &parsed, ca_pem)?;
        let mut cert = self.new_certificate(&parsed, pem.to_string(), wanted, ca_id);
        cert.sni_only = sni_only;
        self.stage_new_certificate(part, batch, cert).await
    }

    /// A new certificate record, after claiming its id for the account: a certificate id has
    /// one owning account per region unless every holder registered it SNI_ONLY (`owners.rs`).
    /// A CA's signature is checked again in the batch: the CA must still be there, so
    /// DeleteCACertificate cannot leave a certificate without its CA.
    pub(super) async fn stage_new_certificate(
        &self,
        part: &Partition,
        mut batch: Batch,
        cert: Certificate,
    ) -> Result<(Batch, StagedCertificate)> {
        let claimed = self
            .claim(Owned::Device, part, &cert.id, cert.sni_only)
            .await?;
        if let Some(ca) = &cert.ca_id {
            batch = batch.check(KIND_CA, ca, Expect::Present);
        }
        let batch = batch.put(
            KIND_CERT,
            &cert.id,
            SCHEMA,
            encode(&cert)?,
            cert_terms(&cert),
            Expect::Absent,
        );
        Ok((
            batch,
            StagedCertificate {
                certificate: cert,
                status_changed: false,
                claimed,
                was_active: false,
            },
        ))
    }

    /// JITR: a device certificate signed by the auto-registering CA `ca_pem`, registered
    /// PENDING_ACTIVATION (staged into `batch`).
    pub(crate) async fn stage_pending_certificate(
        &self,
        part: &Partition,
        batch: Batch,
        pem: &str,
        ca_pem: &str,
    ) -> Result<(Batch, StagedCertificate)> {
        let parsed = shoal_pki::parse_pem(pem).map_err(pki_error)?;
        self.check_validity(&parsed)?;
        let (ca_id, sni_only) = self.registration_ca(part, &parsed, Some(ca_pem))?;
        let mut cert = self.new_certificate(
            &parsed,
            pem.to_string(),
            CertificateStatus::PendingActivation,
            ca_id,
        );
        cert.sni_only = sni_only;
        self.stage_new_certificate(part, batch, cert).await
    }

    /// An existing certificate, with the template's status where it applies.
    fn restage_certificate(
        &self,
        batch: Batch,
        cur: crate::records::Loaded<Certificate>,
        wanted: CertificateStatus,
        on_status: Override,
    ) -> Result<(Batch, StagedCertificate)> {
        let mut cert = cur.value;
        let was_active = cert.status == CertificateStatus::Active;
        let apply = cert.status != wanted
            && (cert.status == CertificateStatus::PendingActivation
                || on_status == Override::Replace);
        if cert.status != wanted && on_status == Override::Fail && !apply {
            return Err(registration_failed(format!(
                "The certificate {} exists with status {} and its OverrideSettings say FAIL",
                cert.id,
                cert.status.as_str()
            )));
        }
        // The ownership token is spent by the provisioning that activates its certificate.
        let spend = apply && cert.ownership.is_some();
        if !apply {
            let batch = batch.check(KIND_CERT, &cert.id, Expect::Rev(cur.rev));
            return Ok((
                batch,
                StagedCertificate {
                    certificate: cert,
                    status_changed: false,
                    claimed: false,
                    was_active,
                },
            ));
        }
        if cert.status == CertificateStatus::Revoked {
            return Err(ServiceError::new(
                ErrorKind::CertificateState,
                format!("The certificate {} is REVOKED", cert.id),
            ));
        }
        cert.status = wanted;
        if spend {
            cert.ownership = None;
        }
        cert.last_modified = self.clock.now();
        cert.customer_version += 1;
        let batch = batch.put(
            KIND_CERT,
            &cert.id,
            SCHEMA,
            encode(&cert)?,
            cert_terms(&cert),
            Expect::Rev(cur.rev),
        );
        Ok((
            batch,
            StagedCertificate {
                certificate: cert,
                status_changed: true,
                claimed: false,
                was_active,
            },
        ))
    }

    /// Adds the policy a template names or gives to `batch` and returns its name: an existing
    /// policy by name, or one made from the document — named as the template says, or after
    /// the SHA-256 of the document, the same document reusing the same policy.
    pub(crate) fn stage_provisioned_policy(
        &self,
        part: &Partition,
        batch: Batch,
        name: Option<&str>,
        document: Option<&str>,
    ) -> Result<(Batch, String)> {
        use sha2::Digest;
        let name = match (name, document) {
            (Some(n), _) => n.to_string(),
            (None, Some(d)) => hex::encode(sha2::Sha256::digest(d.as_bytes())),
            (None, None) => {
                return Err(ServiceError::invalid(
                    "Neither policyName nor policyDocument is present in the Template.",
                ))
            }
        };
        check_policy_name(&name)?;
        if let Some(l) = load::<Policy>(self.store(), &part.key(), KIND_POLICY, &name)? {
            return Ok((batch.check(KIND_POLICY, &name, Expect::Rev(l.rev)), name));
        }
        let Some(document) = document else {
            return Err(registration_failed(format!(
                "The policy {name} does not exist"
            )));
        };
        validate_new_document(document)?;
        let policy = Policy::new(
            &name,
            document.to_string(),
            self.clock.now(),
            Self::generation_id(),
        );
        let batch = batch.put(
            KIND_POLICY,
            &name,
            SCHEMA,
            encode(&policy)?,
            vec![],
            Expect::Absent,
        );
        Ok((batch, name))
    }

    /// Adds the attachments of a provisioning to `batch`: every policy to the certificate, and
    /// the certificate to the thing, each unless it is already there.
    pub(crate) fn stage_provisioned_attachments(
        &self,
        part: &Partition,
        mut batch: Batch,
        thing: Option<&str>,
        certificate: &str,
        policies: &[String],
    ) -> Result<Batch> {
        let key = part.key();
        let principal = part.arn("cert", certificate);
        for p in policies {
            batch = stage_policy_attachment(batch, p, &principal)?;
        }
        if let Some(thing) = thing {
            let attached = self
                .store()
                .get(
                    &key,
                    super::KIND_THING_PRINCIPAL,
                    &pair_key(thing, &principal),
                )
                .map_err(crate::records::store_error)?
                .is_some();
            if !attached {
                batch = self.stage_thing_principal(
                    part,
                    batch,
                    thing,
                    &principal,
                    ThingPrincipalType::NonExclusive,
                )?;
            }
        }
        Ok(batch)
    }

    /// After a provisioning committed: when it changed what a live connection may be using
    /// (`live`), connections hear of the new authorization and of a certificate whose status
    /// changed. A provisioning of a new device changes only records no connection uses yet (a
    /// new or PENDING_ACTIVATION certificate, a new thing, a policy attached only to them), and
    /// must not make every connection of the account rebuild its authorizer.
    pub(crate) fn provisioned(
        &self,
        part: &Partition,
        cert: Option<&StagedCertificate>,
        live: bool,
    ) {
        if !live {
            return;
        }
        self.authorization_changed(part);
        if let Some(c) = cert.filter(|c| c.status_changed) {
            self.emit(super::IdentityEvent::Certificate {
                partition: part.clone(),
                id: c.certificate.id.clone(),
                active: c.certificate.status == CertificateStatus::Active,
            });
        }
    }

    /// A certificate for the fleet-provisioning MQTT API (CreateKeysAndCertificate, or
    /// CreateCertificateFromCsr with `csr`): PENDING_ACTIVATION until a RegisterThing presents
    /// the `certificateOwnershipToken` returned with it
    /// (https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html). The
    /// token is the certificate id and a random secret; the certificate keeps only the
    /// secret's hash, so the token needs no record of its own and dies with the certificate.
    pub async fn create_for_provisioning(
        &self,
        part: &Partition,
        csr: Option<&str>,
    ) -> Result<(super::NewCertificate, String)> {
        use rand::RngCore;
        use sha2::Digest;
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let secret = hex::encode(secret);
        let ownership = Ownership {
            secret_sha256: hex::encode(sha2::Sha256::digest(secret.as_bytes())),
            expires: self.clock.now().plus_millis(OWNERSHIP_TOKEN_TTL_MS),
        };
        let made = match csr {
            Some(csr) => {
                self.issue_from_csr(
                    part,
                    csr,
                    CertificateStatus::PendingActivation,
                    Some(ownership),
                )
                .await?
            }
            None => {
                self.issue_with_keys(part, CertificateStatus::PendingActivation, |c| {
                    c.ownership = Some(ownership)
                })
                .await?
            }
        };
        let token = format!("{}.{secret}", made.certificate.id);
        Ok((made, token))
    }

    /// The id of the certificate a `certificateOwnershipToken` proves ownership of: still
    /// PENDING_ACTIVATION, the secret matching, not expired.
    pub fn certificate_of_token(&self, part: &Partition, token: &str) -> Result<String> {
        use sha2::Digest;
        let refused = || {
            ServiceError::new(
                ErrorKind::Unauthorized,
                "The certificate ownership token is not valid",
            )
        };
        let (id, secret) = token.split_once('.').ok_or_else(refused)?;
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refused());
        }
        let cert = load::<Certificate>(self.store(), &part.key(), KIND_CERT, id)?
            .ok_or_else(refused)?
            .value;
        let Some(own) = &cert.ownership else {
            return Err(refused());
        };
        let digest = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
        if digest != own.secret_sha256
            || cert.status != CertificateStatus::PendingActivation
            || self.clock.now() >= own.expires
        {
            return Err(refused());
        }
        Ok(cert.id)
    }

    /// CreateProvisioningClaim: a key pair and an ACTIVE certificate that may, for five
    /// minutes, connect and use the fleet provisioning MQTT API of `template` and nothing else
    /// (https://docs.aws.amazon.com/iot/latest/developerguide/provision-wo-cert.html, "Provisioning
    /// by trusted user").
    pub async fn create_provisioning_claim(
        &self,
        part: &Partition,
        template: &str,
    ) -> Result<super::NewCertificate> {
        let claim = ProvisioningClaim {
            template: template.to_string(),
            expires: self.clock.now().plus_millis(CLAIM_TTL_MS),
        };
        self.issue_with_keys(part, CertificateStatus::Active, |c| c.claim = Some(claim))
            .await
    }

    /// After a provisioning did not commit: the ownership claim it made is given back.
    pub(crate) async fn abandon(&self, part: &Partition, cert: &StagedCertificate) -> Result<()> {
        if cert.claimed {
            self.release(Owned::Device, part, &cert.certificate.id)
                .await?;
        }
        Ok(())
    }
}
