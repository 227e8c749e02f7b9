//! Client-side signing, for the load tool and tests: the same canonical request
//! code as the verifier, driven from the client's headers
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>).

use crate::canonical::{header_form_payload_hash, Canonical, QueryFilter, Scope};
use crate::encode::encode;
use crate::verify::{compute_signature, signing_key};
use crate::{ALGORITHM, UNSIGNED_PAYLOAD};

/// Every header the client passes is signed: lowercase names, sorted, once each.
fn signed_header_names(headers: &[(&str, &str)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn scope_text(scope: &Scope<'_>) -> String {
    let mut buf = Vec::with_capacity(64);
    scope.write_scope(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Client side: compute the Authorization header value for a request, given the headers that will be
/// signed (must include host and x-amz-date) — used by the load tool.
///
/// `path` and `query` are exactly what will go on the wire (already
/// percent-encoded). If `headers` contains `x-amz-content-sha256`, its value is
/// the signed payload hash (so `UNSIGNED-PAYLOAD` works); otherwise
/// `payload_sha256_hex` is.
#[allow(clippy::too_many_arguments)] // the workspace's API contract fixes this signature
pub fn authorization_header(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload_sha256_hex: &str,
    access_key_id: &str,
    secret: &str,
    amz_date: &str,
    region: &str,
    service: &str,
) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let names = signed_header_names(headers);
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let canonical = Canonical {
        method,
        path,
        query,
        filter: QueryFilter::KeepAll,
        headers,
        signed_headers: &name_refs,
        payload_hash: header_form_payload_hash(headers, payload_sha256_hex),
        raw_uri: crate::canonical::is_s3(service),
    };
    let scope = Scope {
        amz_date,
        date,
        region,
        service,
    };
    let signature = compute_signature(
        &canonical,
        &scope,
        &signing_key(secret, date, region, service),
    );
    format!(
        "{ALGORITHM} Credential={access_key_id}/{}, SignedHeaders={}, Signature={}",
        scope_text(&scope),
        names.join(";"),
        hex::encode(signature)
    )
}

/// Inputs for a presigned (query-string authenticated) request.
#[derive(Debug, Clone, Copy)]
pub struct Presign<'a> {
    pub method: &'a str,
    /// Path as it will go on the wire (percent-encoded).
    pub path: &'a str,
    /// Existing query, as it will go on the wire, without '?'; may be "".
    pub query: &'a str,
    /// Headers to sign; must include `host`.
    pub headers: &'a [(&'a str, &'a str)],
    pub access_key_id: &'a str,
    pub secret: &'a str,
    /// Signed into the query as `X-Amz-Security-Token` when present.
    pub session_token: Option<&'a str>,
    /// `yyyymmddThhmmssZ`.
    pub amz_date: &'a str,
    /// 1..=604800.
    pub expires_secs: u64,
    pub region: &'a str,
    pub service: &'a str,
}

/// The full query string (without '?') of a presigned request: the original
/// query followed by the `X-Amz-*` parameters and finally `X-Amz-Signature`.
/// The payload is signed as `UNSIGNED-PAYLOAD`, as in
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#sigv4-add-signature-querystring>.
pub fn presigned_query(p: &Presign<'_>) -> String {
    let date = p.amz_date.get(..8).unwrap_or(p.amz_date);
    let scope = Scope {
        amz_date: p.amz_date,
        date,
        region: p.region,
        service: p.service,
    };
    let names = signed_header_names(p.headers);
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();

    let mut query = String::from(p.query);
    let mut push = |name: &str, value: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&encode(value));
    };
    push("X-Amz-Algorithm", ALGORITHM);
    push(
        "X-Amz-Credential",
        &format!("{}/{}", p.access_key_id, scope_text(&scope)),
    );
    push("X-Amz-Date", p.amz_date);
    push("X-Amz-Expires", &p.expires_secs.to_string());
    if let Some(token) = p.session_token {
        push("X-Amz-Security-Token", token);
    }
    push("X-Amz-SignedHeaders", &names.join(";"));

    let canonical = Canonical {
        method: p.method,
        path: p.path,
        query: &query,
        filter: QueryFilter::KeepAll,
        headers: p.headers,
        signed_headers: &name_refs,
        payload_hash: UNSIGNED_PAYLOAD,
        raw_uri: crate::canonical::is_s3(p.service),
    };
    let key = signing_key(p.secret, date, p.region, p.service);
    let signature = hex::encode(compute_signature(&canonical, &scope, &key));
    query.push_str("&X-Amz-Signature=");
    query.push_str(&signature);
    query
}
