//! Device identities: certificates and their status machine, CA certificates, IoT policies and
//! their versions. https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html
//! and https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html.

use crate::clock::Timestamp;
use crate::error::{ErrorKind, Result, ServiceError};
use crate::ids::{check, validation_error};
use serde::{Deserialize, Serialize};

/// AWS: a policy has at most five versions.
pub const MAX_POLICY_VERSIONS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertificateStatus {
    Active,
    Inactive,
    Revoked,
    PendingTransfer,
    RegisterInactive,
    PendingActivation,
}

impl CertificateStatus {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "ACTIVE" => Self::Active,
            "INACTIVE" => Self::Inactive,
            "REVOKED" => Self::Revoked,
            "PENDING_TRANSFER" => Self::PendingTransfer,
            "REGISTER_INACTIVE" => Self::RegisterInactive,
            "PENDING_ACTIVATION" => Self::PendingActivation,
            _ => {
                return Err(validation_error(
                    "newStatus",
                    s,
                    "Member must satisfy enum value set: [ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE, PENDING_ACTIVATION]",
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::Revoked => "REVOKED",
            Self::PendingTransfer => "PENDING_TRANSFER",
            Self::RegisterInactive => "REGISTER_INACTIVE",
            Self::PendingActivation => "PENDING_ACTIVATION",
        }
    }

    /// UpdateCertificate: PENDING_TRANSFER and PENDING_ACTIVATION are AWS-internal states a
    /// caller cannot set, and a revoked certificate stays revoked.
    pub fn transition(self, to: CertificateStatus) -> Result<CertificateStatus> {
        if matches!(to, Self::PendingTransfer | Self::PendingActivation) {
            return Err(ServiceError::invalid(format!(
                "The certificate status cannot be set to {}",
                to.as_str()
            )));
        }
        if self == Self::Revoked && to != Self::Revoked {
            return Err(ServiceError::new(
                ErrorKind::CertificateState,
                "Certificate is revoked and its status cannot be changed",
            ));
        }
        if self == Self::PendingTransfer {
            return Err(ServiceError::new(
                ErrorKind::CertificateState,
                "Certificate is pending transfer",
            ));
        }
        Ok(to)
    }
}

/// A device certificate registered in an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub id: String,
    pub pem: String,
    pub status: CertificateStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_id: Option<String>,
    pub created: Timestamp,
    pub last_modified: Timestamp,
    pub customer_version: i64,
    pub generation_id: String,
    pub not_before: i64,
    pub not_after: i64,
    /// Fields of the subject and issuer, for `${iot:Certificate.*}` policy variables.
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub issuer: String,
    /// `certificateMode` SNI_ONLY: registered without an issuer CA.
    #[serde(default)]
    pub sni_only: bool,
    /// A certificate made by the fleet-provisioning MQTT API waits for the RegisterThing that
    /// presents its ownership token (once, before it expires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Ownership>,
    /// A temporary claim certificate from CreateProvisioningClaim: it may only use the fleet
    /// provisioning MQTT API of its template, until it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<ProvisioningClaim>,
}

/// What a CreateProvisioningClaim certificate is for, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningClaim {
    pub template: String,
    pub expires: Timestamp,
}

/// The proof a fleet-provisioning RegisterThing must give: the SHA-256 (hex) of the secret
/// part of the `certificateOwnershipToken` handed out with the certificate, and when it
/// stops counting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    pub secret_sha256: String,
    pub expires: Timestamp,
}

impl Certificate {
    pub fn mode(&self) -> &'static str {
        if self.sni_only {
            "SNI_ONLY"
        } else {
            "DEFAULT"
        }
    }

    /// DeleteCertificate is refused for an ACTIVE certificate (AWS `CertificateStateException`).
    pub fn check_deletable(&self) -> Result<()> {
        if self.status == CertificateStatus::Active {
            return Err(ServiceError::new(
                ErrorKind::CertificateState,
                format!(
                    "Certificate must be deactivated (not ACTIVE) before deletion. Id: {}",
                    self.id
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaStatus {
    Active,
    Inactive,
}

impl CaStatus {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "ACTIVE" => Ok(Self::Active),
            "INACTIVE" => Ok(Self::Inactive),
            _ => Err(validation_error(
                "newStatus",
                s,
                "Member must satisfy enum value set: [ACTIVE, INACTIVE]",
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
        }
    }
}

/// A CA certificate registered with RegisterCACertificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaCertificate {
    pub id: String,
    pub pem: String,
    pub status: CaStatus,
    pub auto_registration: bool,
    pub created: Timestamp,
    pub last_modified: Timestamp,
    pub customer_version: i64,
    pub generation_id: String,
    pub not_before: i64,
    pub not_after: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_config: Option<serde_json::Value>,
    /// `certificateMode` SNI_ONLY: registered without a verification certificate, possibly in
    /// several accounts; the device certificates registered with it share its mode.
    #[serde(default)]
    pub sni_only: bool,
}

impl CaCertificate {
    pub fn mode(&self) -> &'static str {
        if self.sni_only {
            "SNI_ONLY"
        } else {
            "DEFAULT"
        }
    }
}

/// PolicyName: `[\w+=,.@-]+`, 1..=128.
pub fn check_policy_name(name: &str) -> Result<()> {
    check("policyName", name, 1, 128, "[\\w+=,.@-]+", |c| {
        c.is_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
    })
}

/// CertificateId: 64 hex characters (optionally `0x`-prefixed in the model; AWS ids are plain).
pub fn check_certificate_id(field: &str, id: &str) -> Result<()> {
    check(field, id, 64, 64, "(0x)?[a-fA-F0-9]+", |c| {
        c.is_ascii_hexdigit()
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: u32,
    pub document: String,
    pub created: Timestamp,
}

/// An IoT policy and its versions, kept in one record so that version changes are atomic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub versions: Vec<PolicyVersion>,
    pub default_version: u32,
    pub next_version: u32,
    pub created: Timestamp,
    pub last_modified: Timestamp,
    pub generation_id: String,
}

impl Policy {
    pub fn new(name: &str, document: String, now: Timestamp, generation_id: String) -> Policy {
        Policy {
            name: name.to_string(),
            versions: vec![PolicyVersion {
                id: 1,
                document,
                created: now,
            }],
            default_version: 1,
            next_version: 2,
            created: now,
            last_modified: now,
            generation_id,
        }
    }

    pub fn default_document(&self) -> &str {
        self.version(self.default_version)
            .map(|v| v.document.as_str())
            .unwrap_or("")
    }

    pub fn version(&self, id: u32) -> Option<&PolicyVersion> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// CreatePolicyVersion: at most five versions (VersionsLimitExceededException).
    pub fn add_version(
        &mut self,
        document: String,
        set_default: bool,
        now: Timestamp,
    ) -> Result<u32> {
        if self.versions.len() >= MAX_POLICY_VERSIONS {
            return Err(ServiceError::new(
                ErrorKind::VersionsLimitExceeded,
                format!(
                    "The policy {} already has the maximum number of versions ({MAX_POLICY_VERSIONS}); delete one before creating a new one",
                    self.name
                ),
            ));
        }
        let id = self.next_version;
        self.next_version += 1;
        self.versions.push(PolicyVersion {
            id,
            document,
            created: now,
        });
        if set_default {
            self.default_version = id;
        }
        self.last_modified = now;
        Ok(id)
    }

    pub fn set_default(&mut self, id: u32, now: Timestamp) -> Result<()> {
        if self.version(id).is_none() {
            return Err(ServiceError::not_found(format!(
                "Policy version {id} of policy {} cannot be found.",
                self.name
            )));
        }
        self.default_version = id;
        self.last_modified = now;
        Ok(())
    }

    /// DeletePolicyVersion: the default version cannot be deleted (DeleteConflictException).
    pub fn delete_version(&mut self, id: u32, now: Timestamp) -> Result<()> {
        if self.version(id).is_none() {
            return Err(ServiceError::not_found(format!(
                "Policy version {id} of policy {} cannot be found.",
                self.name
            )));
        }
        if id == self.default_version {
            return Err(ServiceError::new(
                ErrorKind::DeleteConflict,
                "Cannot delete the default version of a policy; make another version the default first",
            ));
        }
        self.versions.retain(|v| v.id != id);
        self.last_modified = now;
        Ok(())
    }

    /// DeletePolicy: all non-default versions must be deleted first.
    pub fn check_deletable(&self) -> Result<()> {
        if self.versions.len() > 1 {
            return Err(ServiceError::new(
                ErrorKind::DeleteConflict,
                format!(
                    "Cannot delete policy {}: delete its non-default versions first",
                    self.name
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_status_machine() {
        use CertificateStatus as S;
        assert_eq!(S::Active.transition(S::Inactive).unwrap(), S::Inactive);
        assert_eq!(S::Inactive.transition(S::Revoked).unwrap(), S::Revoked);
        assert_eq!(
            S::Revoked.transition(S::Active).unwrap_err().kind,
            ErrorKind::CertificateState
        );
        assert_eq!(
            S::Active.transition(S::PendingTransfer).unwrap_err().kind,
            ErrorKind::InvalidRequest
        );
        assert!(S::parse("BOGUS").is_err());
    }

    #[test]
    fn policy_versions_are_limited_to_five_and_default_is_protected() {
        let mut p = Policy::new("p", "{}".into(), Timestamp(0), "g".into());
        for _ in 0..4 {
            p.add_version("{}".into(), false, Timestamp(1)).unwrap();
        }
        let e = p.add_version("{}".into(), false, Timestamp(2)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::VersionsLimitExceeded);
        assert_eq!(
            p.delete_version(1, Timestamp(3)).unwrap_err().kind,
            ErrorKind::DeleteConflict
        );
        assert_eq!(
            p.check_deletable().unwrap_err().kind,
            ErrorKind::DeleteConflict
        );
        p.set_default(5, Timestamp(4)).unwrap();
        p.delete_version(1, Timestamp(5)).unwrap();
        assert_eq!(p.add_version("{}".into(), true, Timestamp(6)).unwrap(), 6);
        assert_eq!(p.default_version, 6);
        assert!(check_policy_name("my.policy@x").is_ok());
        assert!(check_policy_name("bad name").is_err());
    }
}
