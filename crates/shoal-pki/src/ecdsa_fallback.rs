//! ECDSA signatures that ring, and so x509-parser's verifier, does not check: SHA-512, or a
//! digest that does not match the curve, on P-256 and P-384. AWS accepts CSRs signed with any
//! of P-256, P-384 and P-521 with SHA-256, SHA-384 or SHA-512 (P-521 keys are refused earlier:
//! Shoal cannot certify them yet)
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateCertificateFromCsr.html).

use ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384, Sha512};

const SECP256R1: &str = "1.2.840.10045.3.1.7";
const SECP384R1: &str = "1.3.132.0.34";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";

/// True when `signature` (DER) by the SEC1 `public_key` on curve `curve_oid` verifies over
/// `message` with the digest named by `signature_oid`. Unknown curves or digests: false.
pub fn verify(
    curve_oid: &str,
    signature_oid: &str,
    public_key: &[u8],
    signature: &[u8],
    message: &[u8],
) -> bool {
    let prehash: Vec<u8> = match signature_oid {
        ECDSA_SHA256 => Sha256::digest(message).to_vec(),
        ECDSA_SHA384 => Sha384::digest(message).to_vec(),
        ECDSA_SHA512 => Sha512::digest(message).to_vec(),
        _ => return false,
    };
    match curve_oid {
        SECP256R1 => {
            let prehash = pad(prehash, 32);
            let (Ok(key), Ok(sig)) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key),
                p256::ecdsa::Signature::from_der(signature),
            ) else {
                return false;
            };
            key.verify_prehash(&prehash, &sig).is_ok()
        }
        SECP384R1 => {
            let prehash = pad(prehash, 48);
            let (Ok(key), Ok(sig)) = (
                p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key),
                p384::ecdsa::Signature::from_der(signature),
            ) else {
                return false;
            };
            key.verify_prehash(&prehash, &sig).is_ok()
        }
        _ => false,
    }
}

/// ECDSA takes the digest as an integer (FIPS 186-5 §6.4.1); the `ecdsa` crate refuses digests
/// shorter than half the field, so those get leading zero bytes, which leave the integer
/// unchanged.
fn pad(prehash: Vec<u8>, field_bytes: usize) -> Vec<u8> {
    let min = field_bytes.div_ceil(2);
    if prehash.len() >= min {
        return prehash;
    }
    let mut out = vec![0u8; min - prehash.len()];
    out.extend_from_slice(&prehash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_digests_are_padded_without_changing_their_value() {
        assert_eq!(pad(vec![1; 16], 48).len(), 24);
        assert_eq!(pad(vec![1; 16], 48)[0], 0);
        assert_eq!(pad(vec![1; 32], 48).len(), 32);
        assert!(!verify(
            SECP384R1,
            ECDSA_SHA256,
            b"not a key",
            b"not a signature",
            b"m"
        ));
        assert!(!verify("1.2.3", ECDSA_SHA256, b"", b"", b""));
    }
}
