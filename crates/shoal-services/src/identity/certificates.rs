//! Device certificates: CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterCertificate,
//! RegisterCertificateWithoutCA, DescribeCertificate, ListCertificates(ByCA), UpdateCertificate
//! and DeleteCertificate.

use super::owners::Owned;
use super::{
    pair_key, pki_error, Identity, KIND_ATTACHMENT, KIND_CA, KIND_CERT, KIND_THING_PRINCIPAL,
};
use crate::records::{contention, decode, load, store_error, try_commit, RETRIES};
use crate::registry::Page;
use shoal_domain::error::Result;
use shoal_domain::identity::{CaCertificate, CaStatus, Certificate, CertificateStatus};
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_pki::{KeyPairPem, ParsedCert};
use shoal_store::{Batch, Expect, Term, TermMatch};

/// A certificate just created, with the key pair when Shoal generated it.
pub struct NewCertificate {
    pub certificate: Certificate,
    pub keys: Option<KeyPairPem>,
}

pub type CertPage = Page<Certificate>;

/// How long a key generation waits for a core before the request is throttled.
const KEYGEN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A certificate's secondary keys: its CA, and its creation time (alone and under its CA) so
/// that listings come in creation order, as AWS's `isAscendingOrder` describes.
pub(super) fn cert_terms(c: &Certificate) -> Vec<Term> {
    let created = format!("{:016}", c.created.millis());
    let ca = c.ca_id.as_deref().unwrap_or("");
    vec![
        Term::new("ca", ca),
        Term::new("created", created.as_str()),
        Term::new("ca-created", format!("{ca}|{created}")),
    ]
}

impl Identity {
    pub(super) fn new_certificate(
        &self,
        parsed: &ParsedCert,
        pem: String,
        status: CertificateStatus,
        ca_id: Option<String>,
    ) -> Certificate {
        let now = self.clock.now();
        Certificate {
            id: parsed.id.clone(),
            pem,
            status,
            ca_id,
            created: now,
            last_modified: now,
            customer_version: 1,
            generation_id: Self::generation_id(),
            not_before: parsed.not_before,
            not_after: parsed.not_after,
            subject: parsed.subject.clone(),
            issuer: parsed.issuer.clone(),
            sni_only: false,
            ownership: None,
            claim: None,
        }
    }

    /// Writes a new certificate record, after claiming its id for the account: a certificate
    /// id has one owning account per region unless every holder registered it SNI_ONLY
    /// (`owners.rs`). A CA's signature is checked again in the batch: the CA must still be
    /// there, so DeleteCACertificate cannot leave a certificate without its CA.
    async fn insert_certificate(&self, part: &Partition, cert: &Certificate) -> Result<()> {
        let (batch, staged) = self
            .stage_new_certificate(part, Batch::new(part.key()), cert.clone())
            .await?;
        let written = try_commit(self.store(), batch).await;
        if !matches!(written, Ok(true)) {
            self.abandon(part, &staged).await?;
        }
        if written? {
            return Ok(());
        }
        Err(ServiceError::already_exists(
            "The certificate is already provisioned or registered",
            &cert.id,
            &part.arn("cert", &cert.id),
        ))
    }

    fn initial_status(set_as_active: bool) -> CertificateStatus {
        if set_as_active {
            CertificateStatus::Active
        } else {
            CertificateStatus::Inactive
        }
    }

    /// CreateKeysAndCertificate: a 2048-bit RSA key pair (generated off the async threads: it
    /// takes tens of milliseconds) and a certificate for it signed by Shoal's root.
    pub async fn create_keys_and_certificate(
        &self,
        part: &Partition,
        set_as_active: bool,
    ) -> Result<NewCertificate> {
        self.issue_with_keys(part, Self::initial_status(set_as_active), |_| {})
            .await
    }

    /// A new key pair and a certificate for it, in `status`, finished by `prepare` (fleet
    /// provisioning's ownership proof or claim scope) before it is written.
    pub(super) async fn issue_with_keys(
        &self,
        part: &Partition,
        status: CertificateStatus,
        prepare: impl FnOnce(&mut Certificate),
    ) -> Result<NewCertificate> {
        let authority = self.authority.clone();
        let permit = tokio::time::timeout(KEYGEN_WAIT, self.keygen.clone().acquire_owned())
            .await
            .ok()
            .and_then(|p| p.ok())
            .ok_or_else(|| {
                ServiceError::new(
                    ErrorKind::Throttled,
                    "Too many key pairs are being generated",
                )
            })?;
        let (keys, pem, parsed) = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let keys = shoal_pki::generate_rsa_key_pair()?;
            let (pem, parsed) = authority.issue_device(&keys.public_key_der, None)?;
            Ok::<_, shoal_pki::PkiError>((keys, pem, parsed))
        })
        .await
        .map_err(|e| ServiceError::internal(format!("key generation task: {e}")))?
        .map_err(pki_error)?;
        let mut cert = self.new_certificate(&parsed, pem, status, None);
        prepare(&mut cert);
        self.insert_certificate(part, &cert).await?;
        Ok(NewCertificate {
            certificate: cert,
            keys: Some(keys),
        })
    }

    /// CreateCertificateFromCsr: the CSR must carry a valid signature.
    pub async fn create_certificate_from_csr(
        &self,
        part: &Partition,
        csr_pem: &str,
        set_as_active: bool,
    ) -> Result<NewCertificate> {
        self.issue_from_csr(part, csr_pem, Self::initial_status(set_as_active), None)
            .await
    }

    /// A certificate for a CSR, in `status`, with its ownership proof when fleet provisioning
    /// made it.
    pub(super) async fn issue_from_csr(
        &self,
        part: &Partition,
        csr_pem: &str,
        status: CertificateStatus,
        ownership: Option<shoal_domain::identity::Ownership>,
    ) -> Result<NewCertificate> {
        let (pem, parsed) = self
            .authority
            .issue_from_csr(csr_pem)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        let mut cert = self.new_certificate(&parsed, pem, status, None);
        cert.ownership = ownership;
        self.insert_certificate(part, &cert).await?;
        Ok(NewCertificate {
            certificate: cert,
            keys: None,
        })
    }

    pub(super) fn check_validity(&self, parsed: &ParsedCert) -> Result<()> {
        let now = self.clock.now().secs();
        if now < parsed.not_before || now > parsed.not_after {
            return Err(ServiceError::new(
                ErrorKind::CertificateValidation,
                "The certificate is not valid at this time (expired or not yet valid)",
            ));
        }
        Ok(())
    }

    /// RegisterCertificate: a device certificate signed by a CA registered in this account
    /// (named by `ca_pem`, or found among the registered CAs), or by Shoal's own root.
    pub async fn register_certificate(
        &self,
        part: &Partition,
        pem: &str,
        ca_pem: Option<&str>,
        status: CertificateStatus,
    ) -> Result<Certificate> {
        let parsed = shoal_pki::parse_pem(pem).map_err(pki_error)?;
        self.check_validity(&parsed)?;
        let (ca_id, sni_only) = self.registration_ca(part, &parsed, ca_pem)?;
        let mut cert = self.new_certificate(&parsed, pem.to_string(), status, ca_id);
        cert.sni_only = sni_only;
        self.insert_certificate(part, &cert).await?;
        Ok(cert)
    }

    /// The CA a certificate being registered is signed by, and its mode: the one `ca_pem`
    /// names (registered and ACTIVE in this account), or else one found among the registered
    /// CAs or Shoal's root.
    pub(crate) fn registration_ca(
        &self,
        part: &Partition,
        parsed: &ParsedCert,
        ca_pem: Option<&str>,
    ) -> Result<(Option<String>, bool)> {
        // "All the device certificates that are registered using this CA will be registered in
        // the same certificate mode as the CA" (RegisterCACertificate).
        match ca_pem {
            Some(ca_pem) => {
                let ca = shoal_pki::parse_pem(ca_pem).map_err(pki_error)?;
                let registered = load::<CaCertificate>(self.store(), &part.key(), KIND_CA, &ca.id)?
                    .ok_or_else(|| {
                        ServiceError::new(
                            ErrorKind::CertificateValidation,
                            format!("The CA certificate {} is not registered.", ca.id),
                        )
                    })?;
                if registered.value.status != CaStatus::Active {
                    return Err(ServiceError::new(
                        ErrorKind::CertificateState,
                        "The CA certificate is not ACTIVE",
                    ));
                }
                if !shoal_pki::verify_signed_by(parsed, &ca) {
                    return Err(ServiceError::new(
                        ErrorKind::CertificateValidation,
                        "The certificate is not signed by the given CA certificate",
                    ));
                }
                Ok((Some(ca.id), registered.value.sni_only))
            }
            None => self.find_signing_ca(part, parsed),
        }
    }

    /// The registered, active CA (or Shoal's root, reported as no CA) that signed `cert`, and
    /// its mode (SNI_ONLY or not).
    fn find_signing_ca(
        &self,
        part: &Partition,
        cert: &ParsedCert,
    ) -> Result<(Option<String>, bool)> {
        if shoal_pki::verify_signed_by(cert, self.authority.certificate()) {
            return Ok((None, false));
        }
        let cas = self
            .store()
            .list(&part.key(), KIND_CA, "", None, 10_000)
            .map_err(store_error)?;
        for rec in cas {
            let ca: CaCertificate = decode(&rec)?;
            if ca.status != CaStatus::Active {
                continue;
            }
            if let Ok(parsed_ca) = shoal_pki::parse_pem(&ca.pem) {
                if shoal_pki::verify_signed_by(cert, &parsed_ca) {
                    return Ok((Some(ca.id), ca.sni_only));
                }
            }
        }
        Err(ServiceError::new(
            ErrorKind::CertificateValidation,
            "The certificate is not signed by a registered, active CA certificate",
        ))
    }

    /// RegisterCertificateWithoutCA: any valid certificate, its issuer not checked (AWS's
    /// multi-account registration).
    pub async fn register_certificate_without_ca(
        &self,
        part: &Partition,
        pem: &str,
        status: CertificateStatus,
    ) -> Result<Certificate> {
        let parsed = shoal_pki::parse_pem(pem).map_err(pki_error)?;
        self.check_validity(&parsed)?;
        let mut cert = self.new_certificate(&parsed, pem.to_string(), status, None);
        // The model: "A certificate in SNI_ONLY mode is registered without an issuer CA."
        cert.sni_only = true;
        self.insert_certificate(part, &cert).await?;
        Ok(cert)
    }

    pub fn describe_certificate(&self, part: &Partition, id: &str) -> Result<Certificate> {
        Ok(self.require_certificate(part, id)?.value)
    }

    /// ListCertificates / ListCertificatesByCA, by creation date (newest first unless
    /// `ascending`). The marker is the (creation, id) cursor of the last certificate returned.
    pub fn list_certificates(
        &self,
        part: &Partition,
        ca: Option<&str>,
        ascending: bool,
        page_size: usize,
        marker: Option<&str>,
    ) -> Result<CertPage> {
        let cursor = marker.map(decode_token).transpose()?;
        let cursor = match &cursor {
            Some(c) => Some(
                c.split_once('\n')
                    .ok_or_else(|| ServiceError::invalid("The marker is not valid"))?,
            ),
            None => None,
        };
        let (term, prefix) = match ca {
            Some(ca) => ("ca-created", format!("{ca}|")),
            None => ("created", String::new()),
        };
        let rows = self
            .store()
            .list_by_term_ordered(
                &part.key(),
                KIND_CERT,
                term,
                &prefix,
                cursor,
                !ascending,
                page_size + 1,
            )
            .map_err(store_error)?;
        let more = rows.len() > page_size;
        let mut items = Vec::with_capacity(page_size);
        let mut last = None;
        for (value, rec) in rows.into_iter().take(page_size) {
            items.push(decode::<Certificate>(&rec)?);
            last = Some(format!("{value}\n{}", rec.key));
        }
        let next_token = if more {
            last.map(|l| encode_token(&l))
        } else {
            None
        };
        Ok(Page { items, next_token })
    }

    /// UpdateCertificate.
    pub async fn update_certificate(
        &self,
        part: &Partition,
        id: &str,
        status: CertificateStatus,
    ) -> Result<Certificate> {
        let missing = || ServiceError::not_found(format!("The certificate {id} cannot be found."));
        let now = self.clock.now();
        let (cert, ()) = crate::records::modify(
            self.store(),
            &part.key(),
            KIND_CERT,
            id,
            missing,
            cert_terms,
            |c: &mut Certificate| {
                c.status = c.status.transition(status)?;
                c.last_modified = now;
                c.customer_version += 1;
                Ok(())
            },
        )
        .await?;
        let active = cert.status == CertificateStatus::Active;
        self.emit(super::IdentityEvent::Certificate {
            partition: part.clone(),
            id: id.to_string(),
            active,
        });
        Ok(cert)
    }

    /// DeleteCertificate: not while ACTIVE, not while attached to a thing, and not while
    /// policies are attached unless `force` (which detaches them).
    pub async fn delete_certificate(&self, part: &Partition, id: &str, force: bool) -> Result<()> {
        let key = part.key();
        let arn = part.arn("cert", id);
        for _ in 0..RETRIES {
            let cur = self.require_certificate(part, id)?;
            cur.value.check_deletable()?;
            let things = self
                .store()
                .list_by_term(
                    &key,
                    KIND_THING_PRINCIPAL,
                    "principal",
                    TermMatch::Exact(&arn),
                    None,
                    1,
                )
                .map_err(store_error)?;
            if !things.is_empty() {
                return Err(ServiceError::new(
                    ErrorKind::DeleteConflict,
                    "Things must be detached from the certificate before it is deleted",
                ));
            }
            let policies = self
                .store()
                .list_by_term(
                    &key,
                    KIND_ATTACHMENT,
                    "target",
                    TermMatch::Exact(&arn),
                    None,
                    1000,
                )
                .map_err(store_error)?;
            if !policies.is_empty() && !force {
                return Err(ServiceError::new(
                    ErrorKind::DeleteConflict,
                    "Policies must be detached from the certificate before it is deleted",
                ));
            }
            // A thing or a policy attached after the listings above makes the batch fail, and
            // the next turn sees it.
            let mut batch = Batch::new(&key)
                .check_none(KIND_THING_PRINCIPAL, Term::new("principal", &arn))
                .delete(KIND_CERT, id, Expect::Rev(cur.rev));
            for p in &policies {
                batch = batch.delete(KIND_ATTACHMENT, &p.key, Expect::Rev(p.rev));
            }
            // After the detachments: holds only if nothing was attached since the listing.
            batch = batch.check_none(KIND_ATTACHMENT, Term::new("target", &arn));
            if try_commit(self.store(), batch).await? {
                self.release(Owned::Device, part, id).await?;
                self.emit(super::IdentityEvent::Certificate {
                    partition: part.clone(),
                    id: id.to_string(),
                    active: false,
                });
                return Ok(());
            }
        }
        Err(contention())
    }

    /// True when a thing-principal attachment exists (used by principals and authorization).
    pub(crate) fn is_attached(
        &self,
        part: &Partition,
        thing: &str,
        principal: &str,
    ) -> Result<bool> {
        Ok(self
            .store()
            .get(
                &part.key(),
                KIND_THING_PRINCIPAL,
                &pair_key(thing, principal),
            )
            .map_err(store_error)?
            .is_some())
    }
}
