//! The admin reset, a Shoal extension (moto and LocalStack offer the same): `POST /shoal/reset`,
//! signed with the operator's admin key (the one `shoal env` prints; a tenant's key is refused),
//! empties one account's region, or every account's every region, keeping accounts and access
//! keys. A test suite gets a clean account per test without restarting the server.
//!
//! Body: `{"accountId": "...", "region": "..."}` (the region defaults to the signature's) or
//! `{"all": true}`. Answer: `{"partitions": ["ACCOUNT/REGION", ...]}`, the ones emptied.
//!
//! What a reset does: `shoal_services::reset`.

use crate::error::ApiError;
use crate::ApiState;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use shoal_domain::{AccountId, ErrorKind, Partition, Region, ServiceError};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResetIn {
    account_id: Option<String>,
    region: Option<String>,
    #[serde(default)]
    all: bool,
}

pub async fn reset(
    state: &ApiState,
    parts: &http::request::Parts,
    body: &Bytes,
    request_id: &str,
) -> Result<http::Response<http_body_util::Full<Bytes>>, ApiError> {
    let caller = crate::auth::authenticate_request(state, parts, body)?;
    if state.admin_key.as_deref() != Some(caller.access_key_id.as_str()) {
        return Err(ServiceError::new(
            ErrorKind::Forbidden,
            "Only the operator's admin key may reset accounts",
        )
        .into());
    }
    let input: ResetIn = if body.is_empty() {
        ResetIn::default()
    } else {
        crate::json::parse(body)?
    };
    let targets: Vec<Partition> = match (&input.account_id, input.all) {
        (None, true) => state.reset.partitions()?,
        (Some(a), false) => {
            let region = match &input.region {
                Some(r) => Region::parse(r)?,
                None => caller.partition.region.clone(),
            };
            vec![Partition::new(AccountId::parse(a)?, region)]
        }
        _ => {
            return Err(ApiError::invalid(
                "Give either accountId (and optionally region) or all: true",
            ))
        }
    };
    for part in &targets {
        state.reset.reset(part).await?;
    }
    let names: Vec<String> = targets.iter().map(Partition::key).collect();
    Ok(crate::json::ok(&json!({ "partitions": names }), request_id))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockIn {
    advance_seconds: Option<i64>,
}

/// `POST /shoal/test/clock` `{"advanceSeconds": N}` (1 to 3600), only on a server started
/// with `SHOAL_TEST_CLOCK=1` and only with the admin key: moves the server's clock forward,
/// flushes the operational counters, runs every timer then due (fleet metrics, alarms, job
/// time-outs...) and answers `{"now": EPOCH_MS, "fired": N}` once they ran. End-to-end tests
/// use it instead of waiting minutes; anywhere else the path does not exist.
pub async fn test_clock(
    state: &ApiState,
    parts: &http::request::Parts,
    body: &Bytes,
    request_id: &str,
) -> Result<http::Response<http_body_util::Full<Bytes>>, ApiError> {
    let Some(clock) = &state.test_clock else {
        return Err(ApiError::UnknownOperation(
            "POST /shoal/test/clock exists only on a server started with SHOAL_TEST_CLOCK=1".into(),
        ));
    };
    let caller = crate::auth::authenticate_request(state, parts, body)?;
    if state.admin_key.as_deref() != Some(caller.access_key_id.as_str()) {
        return Err(ServiceError::new(
            ErrorKind::Forbidden,
            "Only the operator's admin key may move the test clock",
        )
        .into());
    }
    let input: ClockIn = serde_json::from_slice(body)
        .map_err(|e| ApiError::Serialization(format!("The body is not valid: {e}")))?;
    let secs = input.advance_seconds.unwrap_or(0);
    if !(1..=3600).contains(&secs) {
        return Err(ApiError::invalid(
            "advanceSeconds must be between 1 and 3600",
        ));
    }
    clock.advance_millis(secs * 1000);
    state.cloudwatch.flush_counters().await?;
    let fired = state.cloudwatch.scheduler().run_due().await?;
    Ok(crate::json::ok(
        &json!({ "now": state.clock.now().millis(), "fired": fired }),
        request_id,
    ))
}
