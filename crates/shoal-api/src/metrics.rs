//! `GET /metrics` on the API port: the fleet metrics' last values as Prometheus gauges, the
//! operational counts of `AWS/IoT` per account and region, and (for the operator) the device
//! log writer's counts and the fleet index's lag behind the store. They
//! are tenants' data, so the endpoint needs credentials: the operator's scrape token (a bearer
//! token from the configuration, what Prometheus' `authorization` setting sends) sees every
//! account; a request signed with SigV4 (any service name) sees its own account and region
//! only; anything else is refused as an unsigned AWS request is.

use crate::error::ApiError;
use crate::ApiState;
use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use shoal_sigv4::AuthError;

pub fn handle(
    state: &ApiState,
    parts: &http::request::Parts,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let text = match who(state, parts) {
        Ok(Scope::All) => {
            let mut t = state.fleet.prometheus(None);
            state.logs.prometheus(None, &mut t);
            state.rules.prometheus(None, &mut t);
            t.push_str(&state.fleet.store_prometheus());
            t
        }
        Ok(Scope::Partition(p)) => {
            let mut t = state.fleet.prometheus(Some(&p));
            state.logs.prometheus(Some(&p), &mut t);
            state.rules.prometheus(Some(&p), &mut t);
            t
        }
        Err(e) => return e.into_default_response(request_id),
    };
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

enum Scope {
    All,
    Partition(shoal_domain::Partition),
}

fn who(state: &ApiState, parts: &http::request::Parts) -> Result<Scope, ApiError> {
    let authorization = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let (Some(token), Some(presented)) = (
        state.metrics_token.as_deref(),
        authorization.and_then(|a| a.strip_prefix("Bearer ")),
    ) {
        return if constant_time_eq(token.as_bytes(), presented.trim().as_bytes()) {
            Ok(Scope::All)
        } else {
            Err(ApiError::Auth(AuthError::SignatureMismatch))
        };
    }
    let caller = crate::auth::authenticate_request(state, parts, b"")?;
    Ok(Scope::Partition(caller.partition))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
