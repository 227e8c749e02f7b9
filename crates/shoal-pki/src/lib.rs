//! X.509 for Shoal (L0): Shoal's own root CA (the analogue of the Amazon root CA devices trust),
//! issuing device certificates (from a generated RSA key pair or from a CSR) and server
//! certificates, parsing PEM certificates, computing AWS certificate ids, and checking that one
//! certificate was signed by another. Pure functions over bytes: no files, no tokio, no HTTP.

mod authority;
mod cert;
mod ecdsa_fallback;
mod keys;
mod token;
mod variables;

pub use authority::Authority;
pub use cert::{
    certificate_id, parse_der, parse_pem, subject_public_key, verify_signed_by, ParsedCert,
};
pub use keys::{generate_rsa_key_pair, KeyPairPem};
pub use token::{rsa_public_key_bits, verify_token_signature};
pub use variables::{policy_variables, Variables};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkiError {
    /// The input is not what it should be (a PEM that does not parse, a bad CSR signature...).
    #[error("{0}")]
    Invalid(String),
    /// Generating or signing failed.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, PkiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_issues_device_certificates_that_verify() {
        let ca = Authority::generate("Shoal Test Root").unwrap();
        assert!(ca.certificate().is_ca);
        let keys = generate_rsa_key_pair().unwrap();
        assert!(keys
            .private_key_pem
            .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let (pem, parsed) = ca.issue_device(&keys.public_key_der, None).unwrap();
        let again = parse_pem(&pem).unwrap();
        assert_eq!(again, parsed);
        assert_eq!(parsed.id.len(), 64);
        assert_eq!(
            parsed.subject_common_name.as_deref(),
            Some("AWS IoT Certificate")
        );
        assert_eq!(parsed.public_key_der, keys.public_key_der);
        assert!(verify_signed_by(&parsed, ca.certificate()));
        let other = Authority::generate("Other").unwrap();
        assert!(!verify_signed_by(&parsed, other.certificate()));
        let reloaded = Authority::from_pem(&ca.cert_pem, &ca.key_pem).unwrap();
        let (_, p2) = reloaded.issue_device(&keys.public_key_der, None).unwrap();
        assert!(verify_signed_by(&p2, ca.certificate()));
    }

    #[test]
    fn csr_subject_and_key_are_certified_and_bad_csrs_refused() {
        let ca = Authority::generate("Shoal Test Root").unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "device-7");
        let csr = params.serialize_request(&key).unwrap().pem().unwrap();
        let (_, cert) = ca.issue_from_csr(&csr).unwrap();
        assert_eq!(cert.subject_common_name.as_deref(), Some("device-7"));
        assert!(verify_signed_by(&cert, ca.certificate()));
        assert!(ca
            .issue_from_csr(
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
            )
            .is_err());
        assert!(ca.issue_from_csr("not a csr").is_err());
        assert!(parse_pem("garbage").is_err());
    }
}
