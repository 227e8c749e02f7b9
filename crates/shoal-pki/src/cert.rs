//! Parsing certificates and checking signatures.

use crate::{PkiError, Result};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

/// What Shoal keeps from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCert {
    pub der: Vec<u8>,
    /// AWS's certificate id: the SHA-256 of the DER encoding, in lower-case hex.
    pub id: String,
    pub subject: String,
    pub issuer: String,
    pub subject_common_name: Option<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub is_ca: bool,
    /// SubjectPublicKeyInfo DER, to verify what this certificate signed.
    pub public_key_der: Vec<u8>,
}

pub fn certificate_id(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Parses exactly one PEM certificate (the first `CERTIFICATE` block).
pub fn parse_pem(pem: &str) -> Result<ParsedCert> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|_| {
        PkiError::Invalid("The certificate is not a valid PEM-encoded X.509 certificate".into())
    })?;
    if block.label != "CERTIFICATE" {
        return Err(PkiError::Invalid(format!(
            "Expected a CERTIFICATE PEM block, found {}",
            block.label
        )));
    }
    parse_der(&block.contents)
}

pub fn parse_der(der: &[u8]) -> Result<ParsedCert> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| {
        PkiError::Invalid("The certificate is not a valid X.509 certificate".into())
    })?;
    let validity = cert.validity();
    let subject_common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    Ok(ParsedCert {
        der: der.to_vec(),
        id: certificate_id(der),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        subject_common_name,
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        is_ca: cert.is_ca(),
        public_key_der: cert.public_key().raw.to_vec(),
    })
}

/// The subject public key (the BIT STRING's bytes) of a certificate of any X.509 version:
/// what a TLS handshake signature is checked against when the certificate is an X.509 v1 one,
/// which WebPKI does not parse (AWS's own JITR guide makes v1 device certificates with
/// `openssl x509 -req`).
pub fn subject_public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

/// True when `cert` carries a valid signature by the key of `issuer`.
pub fn verify_signed_by(cert: &ParsedCert, issuer: &ParsedCert) -> bool {
    let Ok((_, c)) = X509Certificate::from_der(&cert.der) else {
        return false;
    };
    let Ok((_, i)) = X509Certificate::from_der(&issuer.der) else {
        return false;
    };
    c.verify_signature(Some(i.public_key())).is_ok()
}
