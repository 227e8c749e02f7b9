//! Server-side verification and the key derivation it shares with the signer:
//! step 3–4 of <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>
//! plus the request-time checks described in
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/signing-elements.html>.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::canonical::{header_form_payload_hash, Canonical, QueryFilter, Scope};
use crate::encode::Sink;
use crate::error::AuthError;
use crate::parse::ParsedAuth;
use crate::time::{format_amz_date, parse_amz_date};
use crate::{RequestParts, UNSIGNED_PAYLOAD};

type HmacSha256 = Hmac<Sha256>;

/// Allowed clock skew for header-signed requests, and how far ahead of its
/// X-Amz-Date a presigned URL may be used.
const MAX_SKEW_SECS: i128 = 15 * 60;
/// Longest presigned lifetime SigV4 allows (seven days).
const MAX_PRESIGNED_EXPIRES: u64 = 604_800;
const SHA256_BLOCK: usize = 64;

/// HMAC-SHA256 keyed with the concatenation of `key_parts`.
///
/// RFC 2104 §2 prepares the key by hashing it when it is longer than the hash
/// block and zero-padding it to the block size otherwise. Doing that here lets
/// us use the fixed-size, infallible constructor, so there is no error path to
/// handle, and lets the `"AWS4" + secret` key be built without allocating.
fn mac(key_parts: &[&[u8]]) -> HmacSha256 {
    let mut block = [0u8; SHA256_BLOCK];
    let total: usize = key_parts.iter().map(|p| p.len()).sum();
    if total > SHA256_BLOCK {
        let mut hasher = Sha256::new();
        for part in key_parts {
            hasher.update(part);
        }
        block[..32].copy_from_slice(&hasher.finalize());
    } else {
        let mut at = 0;
        for part in key_parts {
            block[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
    }
    <HmacSha256 as KeyInit>::new(&block.into())
}

fn hmac(key_parts: &[&[u8]], data: &[u8]) -> [u8; 32] {
    let mut m = mac(key_parts);
    m.update(data);
    m.finalize().into_bytes().into()
}

/// Derive the signing key: HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
///
/// The key only changes daily per (secret, region, service), so servers may
/// cache it instead of recomputing four HMACs per request.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(&[b"AWS4", secret.as_bytes()], date.as_bytes());
    let k_region = hmac(&[&k_date], region.as_bytes());
    let k_service = hmac(&[&k_region], service.as_bytes());
    hmac(&[&k_service], b"aws4_request")
}

/// The signature of one canonical request under `key`.
pub(crate) fn compute_signature(
    canonical: &Canonical<'_>,
    scope: &Scope<'_>,
    key: &[u8; 32],
) -> [u8; 32] {
    let canonical_hash = canonical.hash_hex();
    let mut m = mac(&[key]);
    scope.write_string_to_sign(&canonical_hash, &mut m);
    m.finalize().into_bytes().into()
}

/// Compare without an early exit, so response timing does not reveal how
/// many leading bytes of a forged signature were right.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn show_time(epoch: i128) -> String {
    format_amz_date(i64::try_from(epoch).unwrap_or(if epoch < 0 { i64::MIN } else { i64::MAX }))
}

/// Reject requests signed too long ago or too far in the future. The wording
/// follows the messages AWS returns with InvalidSignatureException.
fn check_time(auth: &ParsedAuth<'_>, signed_at: i64, now: i64) -> Result<(), AuthError> {
    let (signed_at, now) = (i128::from(signed_at), i128::from(now));
    let lifetime = match auth.presigned {
        None => MAX_SKEW_SECS,
        Some(expires) => {
            if expires == 0 || expires > MAX_PRESIGNED_EXPIRES {
                return Err(AuthError::Incomplete(format!(
                    "X-Amz-Expires must be between 1 and {MAX_PRESIGNED_EXPIRES} seconds (one week), not {expires}."
                )));
            }
            i128::from(expires)
        }
    };
    if now - signed_at > lifetime {
        let note = match auth.presigned {
            None => "15 min.".to_owned(),
            Some(expires) => format!("{expires} sec."),
        };
        return Err(AuthError::Expired(format!(
            "Signature expired: {} is now earlier than {} ({} - {note})",
            auth.amz_date,
            show_time(now - lifetime),
            show_time(now)
        )));
    }
    if signed_at - now > MAX_SKEW_SECS {
        return Err(AuthError::Expired(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            auth.amz_date,
            show_time(now + MAX_SKEW_SECS),
            show_time(now)
        )));
    }
    Ok(())
}

/// Verify: time window (now_epoch_secs vs amz_date: |skew| <= 900 s for header form; for presigned,
/// not before amz_date-900 and not after amz_date+expires; expires must be 1..=604800), scope date must equal amz_date's date,
/// the canonical request recomputed, string-to-sign, HMAC with the key, constant-time compare.
///
/// `signing_key` must be derived from the secret of `auth.access_key_id` and
/// `auth`'s own date, region and service; the caller decides which regions and
/// services it accepts.
///
/// For the header form an `x-amz-content-sha256` header other than
/// `UNSIGNED-PAYLOAD` must equal the body's hash, otherwise a client could sign
/// one body and send another.
///
/// Presigned URLs are produced two ways in the wild, and both are accepted:
/// the payload hash is `UNSIGNED-PAYLOAD` (S3 style) or the hash of the actual,
/// usually empty, body (botocore's generic signer, aws-c-auth, the AWS IoT
/// WebSocket examples); and `X-Amz-Security-Token` is either signed or, as AWS
/// IoT documents for WebSockets, appended after signing.
pub fn verify(
    req: &RequestParts<'_>,
    auth: &ParsedAuth<'_>,
    signing_key: &[u8; 32],
    now_epoch_secs: i64,
) -> Result<(), AuthError> {
    let Some(signed_at) = parse_amz_date(auth.amz_date) else {
        return Err(AuthError::Incomplete(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"".to_owned(),
        ));
    };
    let amz_day = auth.amz_date.get(..8).unwrap_or_default();
    if amz_day != auth.date {
        return Err(AuthError::Incomplete(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{amz_day}', from '{}'.",
            auth.date, auth.amz_date
        )));
    }
    check_time(auth, signed_at, now_epoch_secs)?;

    let mut provided = [0u8; 32];
    if hex::decode_to_slice(auth.signature, &mut provided).is_err() {
        return Err(AuthError::SignatureMismatch);
    }
    let scope = Scope {
        amz_date: auth.amz_date,
        date: auth.date,
        region: auth.region,
        service: auth.service,
    };
    let mut canonical = Canonical {
        method: req.method,
        path: req.path,
        query: req.query,
        filter: QueryFilter::KeepAll,
        headers: req.headers,
        signed_headers: &auth.signed_headers,
        payload_hash: UNSIGNED_PAYLOAD,
        raw_uri: crate::canonical::is_s3(auth.service),
    };

    if auth.presigned.is_none() {
        // S3 streams its bodies: the signature covers the declared payload hash (a hex hash,
        // UNSIGNED-PAYLOAD or a STREAMING-* mode) and the caller checks the body against it
        // while it reads it.
        let body_mismatch = !canonical.raw_uri
            && req
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("x-amz-content-sha256"))
                .map(|(_, v)| v.trim())
                .any(|v| v != UNSIGNED_PAYLOAD && !v.eq_ignore_ascii_case(req.payload_sha256_hex));
        if body_mismatch {
            return Err(AuthError::SignatureMismatch);
        }
        canonical.payload_hash = header_form_payload_hash(req.headers, req.payload_sha256_hex);
        let expected = compute_signature(&canonical, &scope, signing_key);
        return if constant_time_eq(&expected, &provided) {
            Ok(())
        } else {
            Err(AuthError::SignatureMismatch)
        };
    }

    let has_token = req
        .query
        .split('&')
        .any(|p| p.split_once('=').map_or(p, |(n, _)| n) == "X-Amz-Security-Token");
    let filters: &[QueryFilter] = if has_token {
        &[
            QueryFilter::DropSignature,
            QueryFilter::DropSignatureAndToken,
        ]
    } else {
        &[QueryFilter::DropSignature]
    };
    for &filter in filters {
        for payload_hash in [UNSIGNED_PAYLOAD, req.payload_sha256_hex] {
            canonical.filter = filter;
            canonical.payload_hash = payload_hash;
            if constant_time_eq(
                &compute_signature(&canonical, &scope, signing_key),
                &provided,
            ) {
                return Ok(());
            }
        }
    }
    Err(AuthError::SignatureMismatch)
}

/// [`verify`] with the key derived from `secret` and `auth`'s credential scope.
pub fn verify_with_secret(
    req: &RequestParts<'_>,
    auth: &ParsedAuth<'_>,
    secret: &str,
    now_epoch_secs: i64,
) -> Result<(), AuthError> {
    let key = signing_key(secret, auth.date, auth.region, auth.service);
    verify(req, auth, &key, now_epoch_secs)
}

/// Lets the string to sign stream straight into the HMAC.
impl Sink for HmacSha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_matches_aws_example() {
        // The derived key for the test suite's credentials, as published by AWS.
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "service",
        );
        assert_eq!(
            hex::encode(key),
            "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"
        );
    }

    #[test]
    fn block_prepared_keys_match_the_generic_constructor() {
        for len in [0usize, 1, 32, 60, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let ours = hmac(&[&key], b"data");
            let mut reference =
                <HmacSha256 as KeyInit>::new_from_slice(&key).unwrap_or_else(|e| panic!("{e}"));
            reference.update(b"data");
            let reference: [u8; 32] = reference.finalize().into_bytes().into();
            assert_eq!(ours, reference, "key length {len}");
            let (a, b) = key.split_at(len / 2);
            assert_eq!(hmac(&[a, b], b"data"), reference, "split key length {len}");
        }
    }

    #[test]
    fn constant_time_eq_works() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
    }
}
