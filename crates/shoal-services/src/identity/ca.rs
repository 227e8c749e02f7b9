//! CA certificates: GetRegistrationCode, RegisterCACertificate (proof of possession through a
//! verification certificate whose common name is the registration code), Describe/List/Update/
//! DeleteCACertificate. https://docs.aws.amazon.com/iot/latest/developerguide/register-CA-cert.html

use super::owners::Owned;
use super::{pki_error, Identity, KIND_CA, KIND_CERT, KIND_SETTING};
use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use crate::registry::{page_of, Page};
use rand::RngCore;
use shoal_domain::error::Result;
use shoal_domain::identity::{CaCertificate, CaStatus};
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_store::{Batch, Expect, Term, TermMatch};

const REGISTRATION_CODE: &str = "registration-code";

/// What RegisterCACertificate asks for.
pub struct RegisterCa<'a> {
    pub ca_pem: &'a str,
    pub verification_pem: Option<&'a str>,
    pub set_as_active: bool,
    pub allow_auto_registration: bool,
    pub registration_config: Option<serde_json::Value>,
    /// SNI_ONLY CAs are registered without a verification certificate.
    pub sni_only: bool,
}

impl Identity {
    /// The registration code of the (account, region): 64 hex characters, made on first request
    /// and then kept, as on AWS.
    pub async fn registration_code(&self, part: &Partition) -> Result<String> {
        let key = part.key();
        if let Some(l) = load::<String>(self.store(), &key, KIND_SETTING, REGISTRATION_CODE)? {
            return Ok(l.value);
        }
        let mut b = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut b);
        let code = hex::encode(b);
        let batch = Batch::new(&key).put(
            KIND_SETTING,
            REGISTRATION_CODE,
            SCHEMA,
            encode(&code)?,
            vec![],
            Expect::Absent,
        );
        if try_commit(self.store(), batch).await? {
            return Ok(code);
        }
        load::<String>(self.store(), &key, KIND_SETTING, REGISTRATION_CODE)?
            .map(|l| l.value)
            .ok_or_else(contention)
    }

    pub async fn register_ca_certificate(
        &self,
        part: &Partition,
        req: RegisterCa<'_>,
    ) -> Result<CaCertificate> {
        let ca = shoal_pki::parse_pem(req.ca_pem).map_err(pki_error)?;
        if !ca.is_ca {
            return Err(ServiceError::new(
                ErrorKind::CertificateValidation,
                "The certificate is not a CA certificate (basic constraints CA:TRUE is missing)",
            ));
        }
        let now = self.clock.now();
        if now.secs() > ca.not_after || now.secs() < ca.not_before {
            return Err(ServiceError::new(
                ErrorKind::CertificateValidation,
                "The CA certificate is expired or not yet valid",
            ));
        }
        if !req.sni_only {
            let pem = req.verification_pem.ok_or_else(|| {
                ServiceError::invalid("verificationCertificate is required to register a CA certificate in DEFAULT mode")
            })?;
            let verification = shoal_pki::parse_pem(pem).map_err(pki_error)?;
            if !shoal_pki::verify_signed_by(&verification, &ca) {
                return Err(ServiceError::new(
                    ErrorKind::CertificateValidation,
                    "The verification certificate is not signed by the CA certificate",
                ));
            }
            let code = self.registration_code(part).await?;
            if verification.subject_common_name.as_deref() != Some(code.as_str()) {
                return Err(ServiceError::new(
                    ErrorKind::RegistrationCodeValidation,
                    "The verification certificate's common name is not this account's registration code",
                ));
            }
        }
        let record = CaCertificate {
            id: ca.id.clone(),
            pem: req.ca_pem.to_string(),
            status: if req.set_as_active {
                CaStatus::Active
            } else {
                CaStatus::Inactive
            },
            auto_registration: req.allow_auto_registration,
            created: now,
            last_modified: now,
            customer_version: 1,
            generation_id: Self::generation_id(),
            not_before: ca.not_before,
            not_after: ca.not_after,
            registration_config: req.registration_config,
            sni_only: req.sni_only,
        };
        // One account per region may hold a CA in DEFAULT mode; several in SNI_ONLY mode.
        let claimed = self
            .claim(Owned::Ca, part, &record.id, record.sni_only)
            .await?;
        let batch = Batch::new(part.key()).put(
            KIND_CA,
            &record.id,
            SCHEMA,
            encode(&record)?,
            vec![],
            Expect::Absent,
        );
        if try_commit(self.store(), batch).await? {
            return Ok(record);
        }
        if claimed {
            self.release(Owned::Ca, part, &record.id).await?;
        }
        Err(ServiceError::already_exists(
            "The CA certificate is already registered",
            &record.id,
            &part.arn("cacert", &record.id),
        ))
    }

    pub fn describe_ca_certificate(&self, part: &Partition, id: &str) -> Result<CaCertificate> {
        load::<CaCertificate>(self.store(), &part.key(), KIND_CA, id)?
            .map(|l| l.value)
            .ok_or_else(|| {
                ServiceError::not_found(format!("The CA certificate {id} cannot be found."))
            })
    }

    pub fn list_ca_certificates(
        &self,
        part: &Partition,
        page_size: usize,
        marker: Option<&str>,
    ) -> Result<Page<CaCertificate>> {
        let key = part.key();
        page_of(
            marker,
            page_size,
            |after, n| {
                self.store()
                    .list(&key, KIND_CA, "", after, n)
                    .map_err(store_error)
            },
            |rec| decode(rec).map(Some),
        )
    }

    pub async fn update_ca_certificate(
        &self,
        part: &Partition,
        id: &str,
        status: Option<CaStatus>,
        auto_registration: Option<bool>,
        registration_config: Option<serde_json::Value>,
        remove_auto_registration: bool,
    ) -> Result<()> {
        let missing =
            || ServiceError::not_found(format!("The CA certificate {id} cannot be found."));
        let now = self.clock.now();
        crate::records::modify(
            self.store(),
            &part.key(),
            KIND_CA,
            id,
            missing,
            |_| vec![],
            |next: &mut CaCertificate| {
                if let Some(s) = status {
                    next.status = s;
                }
                if let Some(a) = auto_registration {
                    next.auto_registration = a;
                }
                if remove_auto_registration {
                    next.registration_config = None;
                } else if registration_config.is_some() {
                    next.registration_config = registration_config.clone();
                }
                next.last_modified = now;
                next.customer_version += 1;
                Ok(())
            },
        )
        .await?;
        Ok(())
    }

    /// DeleteCACertificate: only an INACTIVE CA (CertificateStateException otherwise), and not
    /// while device certificates it signed are registered.
    pub async fn delete_ca_certificate(&self, part: &Partition, id: &str) -> Result<()> {
        let key = part.key();
        for _ in 0..RETRIES {
            let cur = load::<CaCertificate>(self.store(), &key, KIND_CA, id)?.ok_or_else(|| {
                ServiceError::not_found(format!("The CA certificate {id} cannot be found."))
            })?;
            if cur.value.status == CaStatus::Active {
                return Err(ServiceError::new(
                    ErrorKind::CertificateState,
                    "Cannot delete an ACTIVE CA certificate; set its status to INACTIVE first",
                ));
            }
            let signed = self
                .store()
                .list_by_term(&key, KIND_CERT, "ca", TermMatch::Exact(id), None, 1)
                .map_err(store_error)?;
            if !signed.is_empty() {
                return Err(ServiceError::new(
                    ErrorKind::CertificateState,
                    "Cannot delete a CA certificate while device certificates it signed are registered",
                ));
            }
            // A certificate registered with this CA after the listing makes the batch fail.
            let batch = Batch::new(&key)
                .check_none(KIND_CERT, Term::new("ca", id))
                .delete(KIND_CA, id, Expect::Rev(cur.rev));
            if try_commit(self.store(), batch).await? {
                self.release(Owned::Ca, part, id).await?;
                return Ok(());
            }
        }
        Err(contention())
    }
}
