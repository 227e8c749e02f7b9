//! JSON bodies in and out, with malformed input turned into AWS-shaped errors.

use crate::error::ApiError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Parses a request body; an empty body is an empty object, as SDKs send for operations whose
/// members all live in the URI.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::Serialization(format!("Could not parse the request body: {e}")))
}

pub fn response<T: Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    encoded(status, bytes, request_id)
}

/// A response whose JSON body is already encoded.
pub fn encoded(status: StatusCode, bytes: Vec<u8>, request_id: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    resp
}

/// A successful JSON answer.
pub fn ok<T: Serialize + ?Sized>(body: &T, request_id: &str) -> Response<Full<Bytes>> {
    response(StatusCode::OK, body, request_id)
}
