//! Shoal's certificate authority: a self-signed root (ECDSA P-256) created on first start, that
//! signs device certificates (CreateKeysAndCertificate, CreateCertificateFromCsr) and the
//! server certificate of the device listeners.

use crate::cert::{parse_der, ParsedCert};
use crate::{PkiError, Result};
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber, SubjectPublicKeyInfo,
};
use x509_parser::prelude::FromDer;

fn internal(e: impl std::fmt::Display) -> PkiError {
    PkiError::Internal(e.to_string())
}

pub struct Authority {
    pub cert_pem: String,
    pub key_pem: String,
    cert: ParsedCert,
    issuer: Issuer<'static, KeyPair>,
}

fn random_serial() -> SerialNumber {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[0] &= 0x7f; // a positive INTEGER
    SerialNumber::from_slice(&b)
}

fn validity(params: &mut CertificateParams, years: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365 * years);
}

impl Authority {
    /// A new self-signed root.
    pub fn generate(common_name: &str) -> Result<Authority> {
        let key = KeyPair::generate().map_err(internal)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Shoal");
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial());
        validity(&mut params, 25);
        let cert = params.self_signed(&key).map_err(internal)?;
        Self::from_pem(&cert.pem(), &key.serialize_pem())
    }

    /// Loads a root saved by `generate`.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Authority> {
        let key =
            KeyPair::from_pem(key_pem).map_err(|e| PkiError::Invalid(format!("CA key: {e}")))?;
        let cert = crate::cert::parse_pem(cert_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(|e| PkiError::Invalid(format!("CA certificate: {e}")))?;
        Ok(Authority {
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
            cert,
            issuer,
        })
    }

    pub fn certificate(&self) -> &ParsedCert {
        &self.cert
    }

    /// A device certificate for a public key (SubjectPublicKeyInfo DER), valid until the end of
    /// 2049 as AWS's are, with AWS's subject "CN=AWS IoT Certificate".
    pub fn issue_device(
        &self,
        public_key_der: &[u8],
        subject: Option<DistinguishedName>,
    ) -> Result<(String, ParsedCert)> {
        let spki = SubjectPublicKeyInfo::from_der(public_key_der).map_err(|e| match e {
            // rcgen's ring backend cannot write P-521 subject keys.
            rcgen::Error::UnsupportedSignatureAlgorithm => PkiError::Invalid(
                "The public key type is not supported by Shoal yet (supported: RSA, EC P-256, EC P-384, Ed25519)".into(),
            ),
            e => PkiError::Invalid(format!("public key: {e}")),
        })?;
        let mut params = CertificateParams::default();
        params.distinguished_name = subject.unwrap_or_else(|| {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, "AWS IoT Certificate");
            dn
        });
        params.serial_number = Some(random_serial());
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
        params.not_after = rcgen::date_time_ymd(2049, 12, 31);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&spki, &self.issuer).map_err(internal)?;
        let parsed = parse_der(cert.der())?;
        Ok((cert.pem(), parsed))
    }

    /// CreateCertificateFromCsr: the CSR's signature must verify; its subject and public key are
    /// certified, its requested extensions are not (AWS decides the certificate's contents).
    pub fn issue_from_csr(&self, csr_pem: &str) -> Result<(String, ParsedCert)> {
        let bad = || PkiError::Invalid("The certificate signing request is not valid".into());
        let (_, block) = x509_parser::pem::parse_x509_pem(csr_pem.as_bytes()).map_err(|_| bad())?;
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&block.contents)
                .map_err(|_| bad())?;
        // P-521 (secp521r1) subject keys cannot be written by rcgen's ring backend; say so
        // rather than report a signature failure.
        let curve = csr
            .certification_request_info
            .subject_pki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        if curve.is_some_and(|c| c.to_id_string() == "1.3.132.0.35") {
            return Err(PkiError::Invalid(
                "The public key type is not supported by Shoal yet (supported: RSA, EC P-256, EC P-384, Ed25519)".into(),
            ));
        }
        if !csr_signature_verifies(&csr) {
            return Err(PkiError::Invalid(
                "The signature of the certificate signing request does not verify".into(),
            ));
        }
        let info = &csr.certification_request_info;
        let mut dn = DistinguishedName::new();
        for attr in info.subject.iter_attributes() {
            let Ok(value) = attr.as_str() else { continue };
            let ty = match attr.attr_type().to_id_string().as_str() {
                "2.5.4.3" => DnType::CommonName,
                "2.5.4.10" => DnType::OrganizationName,
                "2.5.4.11" => DnType::OrganizationalUnitName,
                "2.5.4.6" => DnType::CountryName,
                "2.5.4.8" => DnType::StateOrProvinceName,
                "2.5.4.7" => DnType::LocalityName,
                _ => continue,
            };
            dn.push(ty, value);
        }
        self.issue_device(info.subject_pki.raw, Some(dn))
    }

    /// The TLS server certificate for the device listeners, for the given host names and IPs.
    pub fn issue_server(&self, hosts: &[String]) -> Result<(String, String)> {
        let key = KeyPair::generate().map_err(internal)?;
        let mut params = CertificateParams::new(hosts.to_vec()).map_err(internal)?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            hosts.first().cloned().unwrap_or_else(|| "localhost".into()),
        );
        params.distinguished_name = dn;
        params.serial_number = Some(random_serial());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, 10);
        let cert = params.signed_by(&key, &self.issuer).map_err(internal)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// ring checks RSA and the common ECDSA pairs; the others AWS accepts go to `ecdsa_fallback`.
fn csr_signature_verifies(
    csr: &x509_parser::certification_request::X509CertificationRequest<'_>,
) -> bool {
    match csr.verify_signature() {
        Ok(()) => true,
        Err(x509_parser::error::X509Error::SignatureUnsupportedAlgorithm) => {
            let info = &csr.certification_request_info;
            let spki = &info.subject_pki;
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            crate::ecdsa_fallback::verify(
                &curve,
                &csr.signature_algorithm.algorithm.to_id_string(),
                &spki.subject_public_key.data,
                &csr.signature_value.data,
                info.raw,
            )
        }
        Err(_) => false,
    }
}
