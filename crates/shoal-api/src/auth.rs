//! SigV4 authentication of API requests and the signing-key cache. The verification itself is
//! the pure `shoal-sigv4` crate; this file finds the key's secret and account, and caches the
//! derived signing key per (key, date, region, service) so a request costs one HMAC chain only
//! once a day per key.

use crate::error::ApiError;
use shoal_domain::{AccountId, Partition, Region};
use shoal_sigv4::{AuthError, RequestParts};
use std::collections::HashMap;
use std::sync::Mutex;

/// Beyond this many entries the cache starts over; it holds one entry per key and day.
const CACHE_LIMIT: usize = 10_000;

/// (access key id, scope date, region, service).
type ScopeKey = (String, String, String, String);

#[derive(Default)]
pub struct KeyCache(Mutex<HashMap<ScopeKey, ([u8; 32], AccountId)>>);

/// Who a request is from and which service it addresses.
pub struct Caller {
    pub partition: Partition,
    pub service: String,
}

pub fn authenticate(state: &crate::ApiState, req: &RequestParts<'_>) -> Result<Caller, ApiError> {
    let parsed = shoal_sigv4::parse(req).map_err(ApiError::Auth)?;
    let region = Region::parse(parsed.region).map_err(|_| {
        ApiError::Auth(AuthError::Incomplete(format!(
            "Invalid credential scope region '{}'",
            parsed.region
        )))
    })?;
    let cache_key = (
        parsed.access_key_id.to_string(),
        parsed.date.to_string(),
        parsed.region.to_string(),
        parsed.service.to_string(),
    );
    let cached = state
        .auth_cache
        .0
        .lock()
        .ok()
        .and_then(|c| c.get(&cache_key).cloned());
    let (signing_key, account) = match cached {
        Some(v) => v,
        None => {
            let key = state
                .accounts
                .lookup(parsed.access_key_id)?
                .ok_or(ApiError::UnknownAccessKey)?;
            let account = AccountId::parse(&key.account)?;
            let sk = shoal_sigv4::signing_key(
                &key.secret_access_key,
                parsed.date,
                parsed.region,
                parsed.service,
            );
            (sk, account)
        }
    };
    let now = state.clock.now().secs();
    shoal_sigv4::verify(req, &parsed, &signing_key, now).map_err(ApiError::Auth)?;
    if let Ok(mut c) = state.auth_cache.0.lock() {
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.entry(cache_key)
            .or_insert_with(|| (signing_key, account.clone()));
    }
    Ok(Caller {
        partition: Partition::new(account, region),
        service: parsed.service.to_string(),
    })
}
