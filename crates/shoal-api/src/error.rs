//! Errors of the API port: a service error (which each API maps to its own code with its
//! `Api::code`), or a failure of the request itself (authentication, an unknown operation, a
//! body that does not parse), and how each protocol writes them on the wire. Codes and
//! statuses of the request failures follow the botocore models (reference:
//! aws-iot-api-map.md §2.1).

use crate::api::Protocol;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use shoal_domain::{ErrorKind, ServiceError};
use shoal_sigv4::AuthError;

/// Anything a request can fail with before or inside a handler.
#[derive(Debug)]
pub enum ApiError {
    Service(ServiceError),
    Auth(AuthError),
    UnknownAccessKey,
    UnknownOperation(String),
    Serialization(String),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError::Service(e)
    }
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::Service(ServiceError::invalid(message))
    }

    /// A body or payload above the API's limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError::Service(ServiceError::new(ErrorKind::PayloadTooLarge, message))
    }

    /// (HTTP status, AWS error code, message, extra body members), service errors by `code`.
    fn parts(
        &self,
        protocol: Protocol,
        code: fn(&ErrorKind) -> (StatusCode, &'static str),
    ) -> (StatusCode, &'static str, String, Option<serde_json::Value>) {
        use StatusCode as S;
        match self {
            // S3 (the only restXml API) names request failures its own way
            // (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
            ApiError::Auth(a) if protocol == Protocol::RestXml => {
                let (status, code) = match a {
                    AuthError::Missing => (S::FORBIDDEN, "AccessDenied"),
                    AuthError::Incomplete(_) => {
                        (S::BAD_REQUEST, "AuthorizationQueryParametersError")
                    }
                    AuthError::SignatureMismatch => (S::FORBIDDEN, "SignatureDoesNotMatch"),
                    AuthError::Expired(_) => (S::FORBIDDEN, "AccessDenied"),
                };
                (status, code, a.message(), None)
            }
            ApiError::UnknownAccessKey if protocol == Protocol::RestXml => (
                S::FORBIDDEN,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.".into(),
                None,
            ),
            ApiError::UnknownOperation(m) if protocol == Protocol::RestXml => {
                (S::NOT_IMPLEMENTED, "NotImplemented", m.clone(), None)
            }
            ApiError::Serialization(m) if protocol == Protocol::RestXml => {
                (S::BAD_REQUEST, "MalformedXML", m.clone(), None)
            }
            ApiError::Service(e) => {
                let (status, code) = code(&e.kind);
                let extra = match &e.kind {
                    ErrorKind::AlreadyExists {
                        resource_id,
                        resource_arn,
                    } => Some(serde_json::json!({
                        "resourceId": resource_id,
                        "resourceArn": resource_arn,
                    })),
                    // CloudWatch Logs says where a query stopped parsing.
                    ErrorKind::MalformedQuery { start, end } => Some(serde_json::json!({
                        "queryCompileError": {
                            "location": { "startCharOffset": start, "endCharOffset": end },
                            "message": e.message,
                        }
                    })),
                    _ => None,
                };
                (status, code, e.message.clone(), extra)
            }
            ApiError::Auth(a) => {
                let (status, code) = match a {
                    AuthError::Missing => (S::FORBIDDEN, "MissingAuthenticationTokenException"),
                    AuthError::Incomplete(_) => (S::BAD_REQUEST, "IncompleteSignatureException"),
                    AuthError::SignatureMismatch | AuthError::Expired(_) => {
                        (S::FORBIDDEN, "InvalidSignatureException")
                    }
                };
                (status, code, a.message(), None)
            }
            ApiError::UnknownAccessKey => (
                S::FORBIDDEN,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.".into(),
                None,
            ),
            // awsJson answers request failures with 400 and its own codes.
            ApiError::UnknownOperation(m) if protocol.is_rpc() => {
                (S::BAD_REQUEST, "UnknownOperationException", m.clone(), None)
            }
            ApiError::Serialization(m) if protocol.is_rpc() => {
                (S::BAD_REQUEST, "SerializationException", m.clone(), None)
            }
            ApiError::UnknownOperation(m) => {
                (S::NOT_FOUND, "UnknownOperationException", m.clone(), None)
            }
            ApiError::Serialization(m) => {
                (S::BAD_REQUEST, "InvalidRequestException", m.clone(), None)
            }
        }
    }

    /// The error as `protocol` writes it, service errors coded by the API's `code`.
    pub fn into_response(
        self,
        protocol: Protocol,
        code: fn(&ErrorKind) -> (StatusCode, &'static str),
        request_id: &str,
    ) -> Response<Full<Bytes>> {
        let (status, code, message, extra) = self.parts(protocol, code);
        if status.is_server_error() {
            tracing::warn!(code, request_id, "request failed");
        } else {
            tracing::debug!(code, request_id, message = %message, "request rejected");
        }
        match protocol {
            Protocol::RestJson | Protocol::AwsJson => {
                let mut body = serde_json::json!({ "message": message });
                if protocol == Protocol::AwsJson {
                    body["__type"] = code.into();
                }
                if let Some(serde_json::Value::Object(extra)) = extra {
                    for (k, v) in extra {
                        body[k] = v;
                    }
                }
                let mut resp = crate::json::response(status, &body, request_id);
                if let Ok(v) = HeaderValue::from_str(code) {
                    resp.headers_mut().insert("x-amzn-ErrorType", v);
                }
                resp
            }
            Protocol::CborQuery | Protocol::JsonQuery => {
                let body = serde_json::json!({ "__type": code, "message": message });
                let cbor = protocol == Protocol::CborQuery;
                let mut resp = crate::monitoring::wire::ok(&body, cbor, request_id);
                *resp.status_mut() = status;
                // awsQueryCompatible: the query protocol's code and fault side.
                let side = if status.is_server_error() {
                    "Receiver"
                } else {
                    "Sender"
                };
                let query = format!("{};{side}", crate::monitoring::query_code(code));
                if let Ok(v) = HeaderValue::from_str(&query) {
                    resp.headers_mut().insert("x-amzn-query-error", v);
                }
                resp
            }
            Protocol::RestXml => {
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
                    xml_escape(&message),
                    xml_escape(request_id)
                );
                let mut resp = Response::new(Full::new(Bytes::from(body)));
                *resp.status_mut() = status;
                let h = resp.headers_mut();
                h.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml"),
                );
                if let Ok(v) = HeaderValue::from_str(request_id) {
                    h.insert("x-amz-request-id", v.clone());
                    h.insert("x-amz-id-2", v);
                }
                resp
            }
        }
    }

    /// The error of a request no API took yet (its credentials, an unknown service): written
    /// as restJson1 with `iot`'s codes.
    pub fn into_default_response(self, request_id: &str) -> Response<Full<Bytes>> {
        use crate::api::Api;
        self.into_response(Protocol::RestJson, crate::iot::Iot::code, request_id)
    }
}

/// Escapes text for an XML element.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
