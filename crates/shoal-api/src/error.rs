//! The one error mapping of the restJson1 APIs: service error kinds and authentication
//! failures to AWS's error code, HTTP status, `x-amzn-ErrorType` header and JSON body.
//! Codes and statuses follow the botocore model of `iot` (reference: aws-iot-api-map.md §2.1).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use shoal_domain::{ErrorKind, ServiceError};
use shoal_sigv4::AuthError;

/// Anything a request can fail with before or inside a handler.
#[derive(Debug)]
pub enum ApiError {
    Service(ServiceError),
    /// A service error of the `iot-data` API, whose model maps kinds to its own statuses.
    Data(ServiceError),
    /// iot-data: a payload or document above AWS's limit (413).
    PayloadTooLarge(String),
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

    /// (HTTP status, AWS error code, message, extra body members).
    fn parts(&self) -> (StatusCode, &'static str, String, Option<(String, String)>) {
        use StatusCode as S;
        match self {
            ApiError::Service(e) => {
                let (status, code) = match &e.kind {
                    ErrorKind::NotFound => (S::NOT_FOUND, "ResourceNotFoundException"),
                    ErrorKind::AlreadyExists { .. } => {
                        (S::CONFLICT, "ResourceAlreadyExistsException")
                    }
                    ErrorKind::Conflict => (S::CONFLICT, "ConflictingResourceUpdateException"),
                    ErrorKind::DeleteConflict => (S::CONFLICT, "DeleteConflictException"),
                    ErrorKind::VersionConflict => (S::CONFLICT, "VersionConflictException"),
                    ErrorKind::InvalidRequest => (S::BAD_REQUEST, "InvalidRequestException"),
                    ErrorKind::InvalidStateTransition => {
                        (S::CONFLICT, "InvalidStateTransitionException")
                    }
                    ErrorKind::Unauthorized => (S::UNAUTHORIZED, "UnauthorizedException"),
                    // The model gives LimitExceededException status 410 and ThrottlingException 400.
                    ErrorKind::LimitExceeded => (S::GONE, "LimitExceededException"),
                    ErrorKind::Throttled => (S::BAD_REQUEST, "ThrottlingException"),
                    ErrorKind::CertificateState => (S::NOT_ACCEPTABLE, "CertificateStateException"),
                    ErrorKind::CertificateValidation => {
                        (S::BAD_REQUEST, "CertificateValidationException")
                    }
                    ErrorKind::RegistrationCodeValidation => {
                        (S::BAD_REQUEST, "RegistrationCodeValidationException")
                    }
                    ErrorKind::MalformedPolicy => (S::BAD_REQUEST, "MalformedPolicyException"),
                    ErrorKind::VersionsLimitExceeded => {
                        (S::CONFLICT, "VersionsLimitExceededException")
                    }
                    ErrorKind::InvalidQuery => (S::BAD_REQUEST, "InvalidQueryException"),
                    ErrorKind::InvalidAggregation => {
                        (S::BAD_REQUEST, "InvalidAggregationException")
                    }
                    ErrorKind::IndexNotReady => (S::BAD_REQUEST, "IndexNotReadyException"),
                    ErrorKind::NotSupported => (S::NOT_FOUND, "UnknownOperationException"),
                    ErrorKind::PayloadTooLarge => {
                        (S::PAYLOAD_TOO_LARGE, "RequestEntityTooLargeException")
                    }
                    ErrorKind::UnsupportedEncoding => (
                        S::UNSUPPORTED_MEDIA_TYPE,
                        "UnsupportedDocumentEncodingException",
                    ),
                    ErrorKind::Internal => (S::INTERNAL_SERVER_ERROR, "InternalFailureException"),
                };
                let extra = match &e.kind {
                    ErrorKind::AlreadyExists {
                        resource_id,
                        resource_arn,
                    } => Some((resource_id.clone(), resource_arn.clone())),
                    _ => None,
                };
                (status, code, e.message.clone(), extra)
            }
            ApiError::Data(e) => {
                let (status, code) = match &e.kind {
                    ErrorKind::NotFound => (S::NOT_FOUND, "ResourceNotFoundException"),
                    ErrorKind::Unauthorized => (S::UNAUTHORIZED, "UnauthorizedException"),
                    ErrorKind::Throttled => (S::TOO_MANY_REQUESTS, "ThrottlingException"),
                    ErrorKind::Conflict | ErrorKind::VersionConflict => {
                        (S::CONFLICT, "ConflictException")
                    }
                    ErrorKind::PayloadTooLarge => {
                        (S::PAYLOAD_TOO_LARGE, "RequestEntityTooLargeException")
                    }
                    ErrorKind::UnsupportedEncoding => (
                        S::UNSUPPORTED_MEDIA_TYPE,
                        "UnsupportedDocumentEncodingException",
                    ),
                    ErrorKind::Internal => (S::INTERNAL_SERVER_ERROR, "InternalFailureException"),
                    _ => (S::BAD_REQUEST, "InvalidRequestException"),
                };
                (status, code, e.message.clone(), None)
            }
            ApiError::PayloadTooLarge(m) => (
                S::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                m.clone(),
                None,
            ),
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
            ApiError::UnknownOperation(m) => {
                (S::NOT_FOUND, "UnknownOperationException", m.clone(), None)
            }
            ApiError::Serialization(m) => {
                (S::BAD_REQUEST, "InvalidRequestException", m.clone(), None)
            }
        }
    }

    pub fn into_response(self, request_id: &str) -> Response<Full<Bytes>> {
        let (status, code, message, extra) = self.parts();
        let mut body = serde_json::json!({ "message": message });
        if let Some((id, arn)) = extra {
            body["resourceId"] = id.into();
            body["resourceArn"] = arn.into();
        }
        if status.is_server_error() {
            tracing::warn!(code, request_id, "request failed");
        } else {
            tracing::debug!(code, request_id, message = %message, "request rejected");
        }
        let mut resp = crate::json::response(status, &body, request_id);
        if let Ok(v) = HeaderValue::from_str(code) {
            resp.headers_mut().insert("x-amzn-ErrorType", v);
        }
        resp
    }
}
