//! SigV4 authentication of API requests and the signing-key cache. The verification itself is
//! the pure `shoal-sigv4` crate; this file finds the key's secret and account, and caches the
//! derived signing key per (key, date, region, service) so a request costs one HMAC chain only
//! once a day per key.
//!
//! The key itself is looked up on every request (one indexed read): a key deactivated or
//! deleted with `shoal key ...`, even by another process on the same data folder, stops
//! working at once. Only the derivation is cached, and a cached entry is used only while its
//! key still exists, is active and has the same secret.

use crate::error::ApiError;
use shoal_domain::{AccountId, Partition, Region};
use shoal_services::AccessKey;
use shoal_sigv4::{AuthError, RequestParts};
use std::collections::HashMap;
use std::sync::Mutex;

/// Beyond this many entries the cache starts over; it holds one entry per key and day.
const CACHE_LIMIT: usize = 10_000;

/// (access key id, scope date, region, service).
type ScopeKey = (String, String, String, String);

#[derive(Default)]
pub struct KeyCache(Mutex<HashMap<ScopeKey, [u8; 32]>>);

/// Who a request is from and which service it addresses.
pub struct Caller {
    pub partition: Partition,
    /// The access key the request was signed with.
    pub access_key_id: String,
    pub service: String,
    /// For a header-signed request: what verifies the chunk signatures of a body that signs
    /// each chunk (S3's aws-chunked encoding), seeded with the request's signature.
    pub signer: Option<shoal_sigv4::ChunkSigner>,
}

fn header_pairs(parts: &http::request::Parts) -> Vec<(&str, &str)> {
    parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect()
}

/// What can be checked from the head alone: the request carries a well-formed signature by an
/// active key, for a valid region. Runs before the body is read; returns the service the
/// credential scope names.
pub fn precheck(state: &crate::ApiState, parts: &http::request::Parts) -> Result<String, ApiError> {
    let headers = header_pairs(parts);
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        payload_sha256_hex: "",
    };
    let parsed = shoal_sigv4::parse(&req).map_err(ApiError::Auth)?;
    region_of(parsed.region)?;
    active_key(state, parsed.access_key_id)?;
    Ok(parsed.service.to_string())
}

/// The service a request's credential scope names, if its signature parses (how a refusal is
/// written depends on it: S3 answers in XML).
pub fn scope_service(parts: &http::request::Parts) -> Option<String> {
    let headers = header_pairs(parts);
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        payload_sha256_hex: "",
    };
    shoal_sigv4::parse(&req).ok().map(|p| p.service.to_string())
}

fn region_of(region: &str) -> Result<Region, ApiError> {
    Region::parse(region).map_err(|_| {
        ApiError::Auth(AuthError::Incomplete(format!(
            "Invalid credential scope region '{region}'"
        )))
    })
}

fn active_key(state: &crate::ApiState, id: &str) -> Result<AccessKey, ApiError> {
    state.accounts.lookup(id)?.ok_or(ApiError::UnknownAccessKey)
}

/// An S3 presigned URL of Signature Version 2 (GET and HEAD only), in the server's region.
pub fn authenticate_v2(
    state: &crate::ApiState,
    parts: &http::request::Parts,
    v2: &crate::s3::sigv2::QueryAuth,
) -> Result<Caller, ApiError> {
    let key = active_key(state, &v2.access_key_id)?;
    let account = AccountId::parse(&key.account)?;
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let sts = crate::s3::sigv2::string_to_sign(
        parts.method.as_str(),
        header("content-md5"),
        header("content-type"),
        v2.expires,
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
    );
    if !crate::s3::sigv2::verify(&key.secret_access_key, &sts, &v2.signature) {
        return Err(ApiError::Auth(AuthError::SignatureMismatch));
    }
    if state.clock.now().secs() > v2.expires {
        return Err(ApiError::Auth(AuthError::Expired(
            "Request has expired".into(),
        )));
    }
    Ok(Caller {
        partition: Partition::new(account, state.default_region.clone()),
        access_key_id: v2.access_key_id.clone(),
        service: "s3".into(),
        signer: None,
    })
}

/// Verifies a whole request (head and body).
pub fn authenticate_request(
    state: &crate::ApiState,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<Caller, ApiError> {
    let headers = header_pairs(parts);
    let payload_hash = shoal_sigv4::sha256_hex(body);
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        payload_sha256_hex: &payload_hash,
    };
    authenticate(state, &req)
}

pub fn authenticate(state: &crate::ApiState, req: &RequestParts<'_>) -> Result<Caller, ApiError> {
    let parsed = shoal_sigv4::parse(req).map_err(ApiError::Auth)?;
    let region = region_of(parsed.region)?;
    let key = active_key(state, parsed.access_key_id)?;
    let account = AccountId::parse(&key.account)?;
    let cache_key = (
        // The secret is part of the key: a cached derivation can never outlive it.
        format!("{}:{}", parsed.access_key_id, key.secret_access_key),
        parsed.date.to_string(),
        parsed.region.to_string(),
        parsed.service.to_string(),
    );
    let cached = state
        .auth_cache
        .0
        .lock()
        .ok()
        .and_then(|c| c.get(&cache_key).copied());
    let signing_key = cached.unwrap_or_else(|| {
        shoal_sigv4::signing_key(
            &key.secret_access_key,
            parsed.date,
            parsed.region,
            parsed.service,
        )
    });
    let now = state.clock.now().secs();
    shoal_sigv4::verify(req, &parsed, &signing_key, now).map_err(ApiError::Auth)?;
    if cached.is_none() {
        if let Ok(mut c) = state.auth_cache.0.lock() {
            if c.len() >= CACHE_LIMIT {
                c.clear();
            }
            c.insert(cache_key, signing_key);
        }
    }
    let signer = parsed.presigned.is_none().then(|| {
        let scope = format!(
            "{}/{}/{}/aws4_request",
            parsed.date, parsed.region, parsed.service
        );
        shoal_sigv4::ChunkSigner::new(signing_key, parsed.amz_date, &scope, parsed.signature)
    });
    Ok(Caller {
        partition: Partition::new(account, region),
        access_key_id: parsed.access_key_id.to_string(),
        service: parsed.service.to_string(),
        signer,
    })
}
