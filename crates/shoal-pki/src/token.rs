//! Custom-authorizer token signatures: a device sends its token and an RSA SHA-256 signature of
//! it (base64); the authorizer's public keys (PEM, SPKI or PKCS#1) verify it before its
//! function is called (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth.html).

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;

/// Whether `signature` (the raw bytes the base64 carried) is `public_key_pem`'s RSA SHA-256
/// signature of `token`. A key that does not parse verifies nothing.
pub fn verify_token_signature(public_key_pem: &str, token: &[u8], signature: &[u8]) -> bool {
    let pem = public_key_pem.trim();
    let key = rsa::RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem));
    let Ok(key) = key else {
        return false;
    };
    let Ok(sig) = Signature::try_from(signature) else {
        return false;
    };
    VerifyingKey::<rsa::sha2::Sha256>::new(key)
        .verify(token, &sig)
        .is_ok()
}

/// The size in bits of an RSA public key in PEM, if the text is one.
pub fn rsa_public_key_bits(public_key_pem: &str) -> Option<usize> {
    use rsa::traits::PublicKeyParts;
    let pem = public_key_pem.trim();
    rsa::RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem))
        .ok()
        .map(|k| k.size() * 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};

    #[test]
    fn a_signature_verifies_with_its_key_only() {
        let pair = crate::generate_rsa_key_pair().unwrap();
        let other = crate::generate_rsa_key_pair().unwrap();
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&pair.private_key_pkcs8_der).unwrap();
        let sig = SigningKey::<rsa::sha2::Sha256>::new(key)
            .sign(b"token-1")
            .to_vec();
        assert!(verify_token_signature(
            &pair.public_key_pem,
            b"token-1",
            &sig
        ));
        assert!(!verify_token_signature(
            &pair.public_key_pem,
            b"token-2",
            &sig
        ));
        assert!(!verify_token_signature(
            &other.public_key_pem,
            b"token-1",
            &sig
        ));
        assert!(!verify_token_signature("not a key", b"token-1", &sig));
        assert_eq!(rsa_public_key_bits(&pair.public_key_pem), Some(2048));
        assert_eq!(
            rsa_public_key_bits("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            None
        );
    }
}
