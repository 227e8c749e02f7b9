//! The one error taxonomy every service speaks. Each gateway owns exactly one exhaustive mapping
//! from these kinds to its wire format (AWS code, HTTP status, MQTT reason or `rejected` payload).

use std::fmt;

/// What went wrong, independent of any wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The named resource does not exist.
    NotFound,
    /// A resource with that name already exists with another configuration. AWS returns the
    /// existing resource's id and ARN with the error, so clients can find it.
    AlreadyExists {
        resource_id: String,
        resource_arn: String,
    },
    /// The request conflicts with the resource's current state (e.g. deleting a thing type that
    /// is not deprecated long enough).
    Conflict,
    /// A resource cannot be deleted while others depend on it (AWS `DeleteConflictException`).
    DeleteConflict,
    /// An id that is already taken where the model answers `ConflictException` rather than
    /// ResourceAlreadyExistsException (CreateJobTemplate).
    IdConflict,
    /// `expectedVersion` did not match the stored version.
    VersionConflict,
    /// The request is malformed or breaks a documented rule.
    InvalidRequest,
    /// The resource is not in a state that allows the transition.
    InvalidStateTransition,
    /// The caller may not do this.
    Unauthorized,
    /// The request is understood but refused for the target's sake (iot-data's
    /// ForbiddenException: a direct message its receiver may not receive).
    Forbidden,
    /// A wait the caller asked for ran out (iot-data's GatewayTimeoutException).
    Timeout,
    /// A custom authorizer's function answered what the rules do not allow
    /// (TestInvokeAuthorizer's InvalidResponseException).
    InvalidResponse,
    /// An AWS quota would be exceeded.
    LimitExceeded,
    /// Too many requests.
    Throttled,
    /// A payload or document above AWS's size limit (HTTP 413).
    PayloadTooLarge,
    /// A document that is not UTF-8 (HTTP 415).
    UnsupportedEncoding,
    /// The certificate's status does not allow the operation (AWS `CertificateStateException`).
    CertificateState,
    /// A certificate does not parse, is not valid, or is not signed as required.
    CertificateValidation,
    /// A CA's verification certificate does not carry the registration code.
    RegistrationCodeValidation,
    /// A policy document is not a valid IoT policy.
    MalformedPolicy,
    /// A policy already has the most versions AWS allows (5).
    VersionsLimitExceeded,
    /// A provisioning template's resources could not be registered (RegisterThing's
    /// ResourceRegistrationFailureException).
    RegistrationFailed,
    /// A fleet-indexing query that does not parse or names an unknown field.
    InvalidQuery,
    /// An aggregation over a field that cannot be aggregated that way.
    InvalidAggregation,
    /// A topic rule's SQL that does not parse (SqlParseException).
    SqlParse,
    /// A request parameter CloudWatch names with a code of its own (its query-compatible
    /// codes: MissingParameter, InvalidParameterCombination, InvalidFormat, InvalidNextToken);
    /// every other API answers it as an invalid request.
    Parameter(ParameterError),
    /// The fleet index is still being built.
    IndexNotReady,
    /// The operation exists on AWS but Shoal does not implement it yet.
    NotSupported,
    /// A setting the operation needs was never made (GetV2LoggingOptions before
    /// SetV2LoggingOptions: NotConfiguredException).
    NotConfigured,
    /// A Logs Insights query that does not parse: where (character offsets) and why
    /// (CloudWatch Logs' MalformedQueryException with its queryCompileError).
    MalformedQuery { start: usize, end: usize },
    /// An object-storage failure S3 names with a code of its own.
    Storage(crate::objects::StorageError),
    /// A bug or a failed backend; details are logged, not returned.
    Internal,
}

/// What is wrong with a parameter, where an API tells the cases apart (CloudWatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterError {
    Missing,
    Combination,
    Format,
    NextToken,
}

/// An error with the message that the client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ServiceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }
    pub fn parameter(p: ParameterError, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parameter(p), message)
    }
    pub fn version_conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::VersionConflict, message)
    }
    pub fn limit(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::LimitExceeded, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn already_exists(
        message: impl Into<String>,
        resource_id: &str,
        resource_arn: &str,
    ) -> Self {
        Self::new(
            ErrorKind::AlreadyExists {
                resource_id: resource_id.to_string(),
                resource_arn: resource_arn.to_string(),
            },
            message,
        )
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ServiceError {}

pub type Result<T> = std::result::Result<T, ServiceError>;
