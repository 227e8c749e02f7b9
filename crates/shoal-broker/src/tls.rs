//! TLS for the device listener. AWS IoT accepts a client certificate from any issuer once it is
//! registered and ACTIVE in the account (RegisterCertificateWithoutCA exists for exactly that),
//! so the handshake only proves possession of the certificate's key; whether the certificate may
//! connect is decided right after, against the registry (`identity.rs`).
//! https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, ServerConfig, SignatureScheme};
use std::sync::Arc;

/// Asks for a client certificate and checks the handshake signature made with its key. A
/// client without one may still finish the handshake: MQTT over WebSocket authenticates with
/// SigV4 instead, on the same port (the connection then must be a WebSocket upgrade).
#[derive(Debug)]
struct RegisteredCertificates {
    algorithms: WebPkiSupportedAlgorithms,
}

/// The signature schemes TLS 1.3 allows in CertificateVerify (RFC 8446 §4.4.3: no PKCS#1 v1.5,
/// no SHA-1).
fn tls13_scheme(scheme: SignatureScheme) -> bool {
    use SignatureScheme as S;
    matches!(
        scheme,
        S::ECDSA_NISTP256_SHA256
            | S::ECDSA_NISTP384_SHA384
            | S::ECDSA_NISTP521_SHA512
            | S::RSA_PSS_SHA256
            | S::RSA_PSS_SHA384
            | S::RSA_PSS_SHA512
            | S::ED25519
            | S::ED448
    )
}

impl RegisteredCertificates {
    /// The handshake signature checked against the certificate's public key alone, for a
    /// certificate WebPKI does not parse (X.509 v1): any algorithm of the signature scheme
    /// that verifies it with that key proves possession.
    fn verify_with_key(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let key = shoal_pki::subject_public_key(cert).ok_or(Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        let algs = self
            .algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .unwrap_or(&[]);
        if algs
            .iter()
            .any(|alg| alg.verify_signature(&key, message, dss.signature()).is_ok())
        {
            return Ok(HandshakeSignatureValid::assertion());
        }
        Err(Error::InvalidCertificate(
            rustls::CertificateError::BadSignature,
        ))
    }
}

impl ClientCertVerifier for RegisteredCertificates {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match verify_tls12_signature(message, cert, dss, &self.algorithms) {
            Err(Error::InvalidCertificate(_)) => self.verify_with_key(message, cert, dss),
            other => other,
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match verify_tls13_signature(message, cert, dss, &self.algorithms) {
            Err(Error::InvalidCertificate(_)) if tls13_scheme(dss.scheme) => {
                self.verify_with_key(message, cert, dss)
            }
            other => other,
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS security policy that allows TLS 1.3 only (iot-endpoints-tls-config.html); every
/// other policy is served with TLS 1.2 and 1.3 (the versions rustls speaks: the policies that
/// also allow TLS 1.0 and 1.1 get 1.2 at least).
pub const TLS13_ONLY_POLICY: &str = "IoTSecurityPolicy_TLS13_1_3_2022_10";

/// A device listener's TLS configurations: the default one, and TLS 1.3 only for the server
/// names whose domain configuration asks for it. The listener picks one after reading the
/// ClientHello's server name.
#[derive(Clone)]
pub struct TlsConfigs {
    pub default: Arc<ServerConfig>,
    pub tls13_only: Arc<ServerConfig>,
}

impl TlsConfigs {
    /// The same configurations offering the ALPN `protocols` (the port-443 listener).
    pub fn with_alpn(&self, protocols: &[&[u8]]) -> TlsConfigs {
        let alpn = |c: &Arc<ServerConfig>| {
            let mut c = (**c).clone();
            c.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
            Arc::new(c)
        };
        TlsConfigs {
            default: alpn(&self.default),
            tls13_only: alpn(&self.tls13_only),
        }
    }

    /// The configuration for a domain configuration's security policy.
    pub fn for_policy(&self, policy: Option<&str>) -> Arc<ServerConfig> {
        if policy == Some(TLS13_ONLY_POLICY) {
            self.tls13_only.clone()
        } else {
            self.default.clone()
        }
    }
}

/// Both configurations of a device listener from the server certificate and key (PEM).
pub fn server_configs(cert_pem: &str, key_pem: &str) -> Result<TlsConfigs, String> {
    Ok(TlsConfigs {
        default: server_config(cert_pem, key_pem)?,
        tls13_only: config_with(cert_pem, key_pem, &[&rustls::version::TLS13])?,
    })
}

/// The device listener's TLS configuration from the server certificate and key (PEM).
pub fn server_config(cert_pem: &str, key_pem: &str) -> Result<Arc<ServerConfig>, String> {
    config_with(cert_pem, key_pem, rustls::DEFAULT_VERSIONS)
}

fn config_with(
    cert_pem: &str,
    key_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("server certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("server key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(RegisteredCertificates {
        algorithms: provider.signature_verification_algorithms,
    });
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("server certificate: {e}"))?;
    Ok(Arc::new(cfg))
}
