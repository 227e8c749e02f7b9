//! Key pairs for CreateKeysAndCertificate. AWS answers with a 2048-bit RSA key pair, PKCS#1
//! private key and SPKI public key in PEM, and so does Shoal, so tools that handle AWS's files
//! handle these.

use crate::{PkiError, Result};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

pub struct KeyPairPem {
    /// `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1), as AWS returns it.
    pub private_key_pem: String,
    /// `-----BEGIN PUBLIC KEY-----` (SPKI).
    pub public_key_pem: String,
    /// The public key's SubjectPublicKeyInfo in DER, to certify.
    pub public_key_der: Vec<u8>,
    /// The private key in PKCS#8 DER (for tests that sign with it).
    pub private_key_pkcs8_der: Vec<u8>,
}

pub fn generate_rsa_key_pair() -> Result<KeyPairPem> {
    let mut rng = rand::thread_rng();
    let key =
        rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| PkiError::Internal(e.to_string()))?;
    let public = rsa::RsaPublicKey::from(&key);
    let private_key_pem = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| PkiError::Internal(e.to_string()))?
        .to_string();
    let public_key_pem = public
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| PkiError::Internal(e.to_string()))?;
    let public_key_der = public
        .to_public_key_der()
        .map_err(|e| PkiError::Internal(e.to_string()))?
        .into_vec();
    let private_key_pkcs8_der = key
        .to_pkcs8_der()
        .map_err(|e| PkiError::Internal(e.to_string()))?
        .as_bytes()
        .to_vec();
    Ok(KeyPairPem {
        private_key_pem,
        public_key_pem,
        public_key_der,
        private_key_pkcs8_der,
    })
}
