//! The CloudWatch subset (SigV4 scope service `monitoring`): metrics of the `IoTFleetMetrics`
//! and `AWS/IoT` namespaces (ListMetrics, GetMetricStatistics, GetMetricData) and metric
//! alarms (PutMetricAlarm, DescribeAlarms, DeleteAlarms, SetAlarmState,
//! DescribeAlarmHistory), over RPC v2 CBOR or awsJson 1.0 (`wire.rs`), with CloudWatch's
//! query-compatible error codes. <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/>

mod alarms;
mod metrics;
pub mod wire;

use crate::api::{Api, Call, Protocol, Reply};
use crate::error::ApiError;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use shoal_domain::{ErrorKind, ParameterError, ServiceError};

pub struct Monitoring;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ListMetrics,
    GetMetricStatistics,
    GetMetricData,
    PutMetricAlarm,
    DescribeAlarms,
    DeleteAlarms,
    SetAlarmState,
    DescribeAlarmHistory,
}

/// The service's Smithy name: the path segment (CBOR) and the target prefix (JSON).
const SERVICE: &str = "GraniteServiceVersion20100801";

impl Endpoint {
    fn from_name(op: &str) -> Result<Endpoint, ApiError> {
        use Endpoint as E;
        Ok(match op {
            "ListMetrics" => E::ListMetrics,
            "GetMetricStatistics" => E::GetMetricStatistics,
            "GetMetricData" => E::GetMetricData,
            "PutMetricAlarm" => E::PutMetricAlarm,
            "DescribeAlarms" => E::DescribeAlarms,
            "DeleteAlarms" => E::DeleteAlarms,
            "SetAlarmState" => E::SetAlarmState,
            "DescribeAlarmHistory" => E::DescribeAlarmHistory,
            _ => {
                return Err(ApiError::UnknownOperation(format!(
                    "{op} is not an operation Shoal's CloudWatch subset serves (see docs/compatibility.md)"
                )))
            }
        })
    }
}

/// Whether a request speaks RPC v2 CBOR (else awsJson 1.0).
fn is_cbor(headers: &HeaderMap) -> bool {
    headers
        .get("smithy-protocol")
        .is_some_and(|v| v.as_bytes() == b"rpc-v2-cbor")
}

/// The query-compatible code of an error shape (the `x-amzn-query-error` header), from the
/// botocore model's `error.code` of each shape.
pub(crate) fn query_code(shape: &str) -> &str {
    match shape {
        "InvalidParameterValueException" => "InvalidParameterValue",
        "MissingRequiredParameterException" => "MissingParameter",
        "InvalidParameterCombinationException" => "InvalidParameterCombination",
        "InvalidFormatFault" => "InvalidFormat",
        "LimitExceededFault" => "LimitExceeded",
        "InternalServiceFault" => "InternalServiceError",
        "ValidationException" => "ValidationError",
        other => other,
    }
}

impl Api for Monitoring {
    type Endpoint = Endpoint;
    const NAME: &'static str = "monitoring";
    const PROTOCOL: Protocol = Protocol::CborQuery;
    type Output = http_body_util::Full<bytes::Bytes>;

    fn protocol(headers: &HeaderMap) -> Protocol {
        if is_cbor(headers) {
            Protocol::CborQuery
        } else {
            Protocol::JsonQuery
        }
    }

    fn parse(
        method: &Method,
        path: &str,
        _query: &str,
        headers: &HeaderMap,
    ) -> Result<Endpoint, ApiError> {
        if is_cbor(headers) {
            let op = path
                .strip_prefix("/service/")
                .and_then(|p| p.strip_prefix(SERVICE))
                .and_then(|p| p.strip_prefix("/operation/"));
            return match op {
                Some(op) if method == Method::POST => Endpoint::from_name(op),
                _ => Err(ApiError::UnknownOperation(format!(
                    "{method} {path} is not a CloudWatch operation"
                ))),
            };
        }
        let target = crate::api::aws_json_target(method, path, headers, "CloudWatch")?;
        match target
            .strip_prefix(SERVICE)
            .and_then(|t| t.strip_prefix('.'))
        {
            Some(op) => Endpoint::from_name(op),
            None => Err(ApiError::UnknownOperation(format!(
                "{target} is not a CloudWatch operation"
            ))),
        }
    }

    async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply {
        let cbor = is_cbor(call.headers);
        let input = if cbor {
            wire::cbor_to_json(call.body).map_err(ApiError::Serialization)?
        } else if call.body.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_slice(call.body)
                .map_err(|e| ApiError::Serialization(format!("The body is not JSON: {e}")))?
        };
        if !input.is_object() {
            return Err(ApiError::Serialization(
                "The input must be a structure".into(),
            ));
        }
        use Endpoint as E;
        let out = match endpoint {
            E::ListMetrics => metrics::list(&call, parse(input)?)?,
            E::GetMetricStatistics => metrics::statistics(&call, parse(input)?)?,
            E::GetMetricData => metrics::data(&call, parse(input)?)?,
            E::PutMetricAlarm => alarms::put(&call, parse(input)?).await?,
            E::DescribeAlarms => alarms::describe(&call, parse(input)?)?,
            E::DeleteAlarms => alarms::delete(&call, parse(input)?).await?,
            E::SetAlarmState => alarms::set_state(&call, parse(input)?).await?,
            E::DescribeAlarmHistory => alarms::history(&call, parse(input)?)?,
        };
        Ok(wire::ok(&out, cbor, call.request_id))
    }

    /// The `cloudwatch` model's error shapes (their query codes go in a header, `query_code`).
    fn code(kind: &ErrorKind) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match kind {
            ErrorKind::NotFound => (S::NOT_FOUND, "ResourceNotFound"),
            ErrorKind::Parameter(ParameterError::Missing) => {
                (S::BAD_REQUEST, "MissingRequiredParameterException")
            }
            ErrorKind::Parameter(ParameterError::Combination) => {
                (S::BAD_REQUEST, "InvalidParameterCombinationException")
            }
            ErrorKind::Parameter(ParameterError::Format) => (S::BAD_REQUEST, "InvalidFormatFault"),
            ErrorKind::Parameter(ParameterError::NextToken) => (S::BAD_REQUEST, "InvalidNextToken"),
            ErrorKind::LimitExceeded | ErrorKind::VersionsLimitExceeded => {
                (S::BAD_REQUEST, "LimitExceededFault")
            }
            ErrorKind::AlreadyExists { .. } | ErrorKind::IdConflict => {
                (S::CONFLICT, "ResourceConflict")
            }
            ErrorKind::Conflict | ErrorKind::VersionConflict | ErrorKind::DeleteConflict => {
                (S::TOO_MANY_REQUESTS, "ConcurrentModificationException")
            }
            ErrorKind::Throttled => (S::BAD_REQUEST, "Throttling"),
            ErrorKind::Unauthorized | ErrorKind::Forbidden => (S::FORBIDDEN, "AccessDenied"),
            ErrorKind::NotSupported => (S::BAD_REQUEST, "InvalidAction"),
            ErrorKind::Internal
            | ErrorKind::Timeout
            | ErrorKind::IndexNotReady
            | ErrorKind::Storage(_) => (S::INTERNAL_SERVER_ERROR, "InternalServiceFault"),
            ErrorKind::InvalidRequest
            | ErrorKind::InvalidStateTransition
            | ErrorKind::InvalidResponse
            | ErrorKind::PayloadTooLarge
            | ErrorKind::UnsupportedEncoding
            | ErrorKind::CertificateState
            | ErrorKind::CertificateValidation
            | ErrorKind::RegistrationCodeValidation
            | ErrorKind::MalformedPolicy
            | ErrorKind::RegistrationFailed
            | ErrorKind::InvalidQuery
            | ErrorKind::InvalidAggregation
            | ErrorKind::SqlParse
            | ErrorKind::NotConfigured
            | ErrorKind::MalformedQuery { .. } => {
                (S::BAD_REQUEST, "InvalidParameterValueException")
            }
        }
    }
}

/// An operation's input from the request's JSON (a member of the wrong type is
/// InvalidParameterValue, as CloudWatch's validation answers).
fn parse<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| {
        ApiError::Service(ServiceError::invalid(format!(
            "The input does not match the operation's shape: {e}"
        )))
    })
}

/// A required member, or MissingParameter.
fn required<T>(v: Option<T>, member: &str) -> Result<T, ServiceError> {
    v.ok_or_else(|| {
        ServiceError::parameter(
            ParameterError::Missing,
            format!("The parameter {member} is required."),
        )
    })
}

/// Epoch seconds (with a fraction) as a timestamp.
/// Epoch seconds (with a fraction) as a timestamp, kept between 1970 and the year 9999 so no
/// later arithmetic on it can overflow.
fn time(secs: f64) -> shoal_domain::Timestamp {
    let ms = (secs * 1000.0).round();
    let ms = if ms.is_nan() {
        0.0
    } else {
        ms.clamp(0.0, 253_402_300_799_000.0)
    };
    shoal_domain::Timestamp(ms as i64)
}

/// A timestamp as epoch seconds (whole when it is).
fn secs(t: shoal_domain::Timestamp) -> serde_json::Value {
    if t.0 % 1000 == 0 {
        (t.0 / 1000).into()
    } else {
        t.epoch_seconds_f64().into()
    }
}

/// Dimensions as the API writes them.
fn dimensions(d: &[(String, String)]) -> serde_json::Value {
    d.iter()
        .map(|(n, v)| serde_json::json!({ "Name": n, "Value": v }))
        .collect()
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Dimension {
    name: Option<String>,
    value: Option<String>,
}

/// Dimensions of a metric: each needs a name and a value.
fn metric_dimensions(d: Option<Vec<Dimension>>) -> Result<Vec<(String, String)>, ServiceError> {
    d.unwrap_or_default()
        .into_iter()
        .map(|d| {
            Ok((
                required(d.name, "Dimensions.member.Name")?,
                required(d.value, "Dimensions.member.Value")?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(&str, Endpoint); 8] = [
        ("ListMetrics", Endpoint::ListMetrics),
        ("GetMetricStatistics", Endpoint::GetMetricStatistics),
        ("GetMetricData", Endpoint::GetMetricData),
        ("PutMetricAlarm", Endpoint::PutMetricAlarm),
        ("DescribeAlarms", Endpoint::DescribeAlarms),
        ("DeleteAlarms", Endpoint::DeleteAlarms),
        ("SetAlarmState", Endpoint::SetAlarmState),
        ("DescribeAlarmHistory", Endpoint::DescribeAlarmHistory),
    ];

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn every_operation_routes_in_both_protocols() {
        let cbor = headers(&[("smithy-protocol", "rpc-v2-cbor")]);
        for (name, ep) in ALL {
            let path = format!("/service/{SERVICE}/operation/{name}");
            assert_eq!(
                Monitoring::parse(&Method::POST, &path, "", &cbor).unwrap(),
                ep
            );
            let json = headers(&[("x-amz-target", &format!("{SERVICE}.{name}"))]);
            assert_eq!(
                Monitoring::parse(&Method::POST, "/", "", &json).unwrap(),
                ep
            );
            assert_eq!(Monitoring::protocol(&cbor), Protocol::CborQuery);
            assert_eq!(Monitoring::protocol(&json), Protocol::JsonQuery);
        }
    }

    #[test]
    fn other_requests_are_unknown_operations() {
        let cbor = headers(&[("smithy-protocol", "rpc-v2-cbor")]);
        for (method, path) in [
            (
                Method::POST,
                format!("/service/{SERVICE}/operation/PutMetricData"),
            ),
            (
                Method::GET,
                format!("/service/{SERVICE}/operation/ListMetrics"),
            ),
            (
                Method::POST,
                "/service/Other/operation/ListMetrics".to_string(),
            ),
            (Method::POST, "/".to_string()),
        ] {
            let r = Monitoring::parse(&method, &path, "", &cbor);
            assert!(
                matches!(r, Err(ApiError::UnknownOperation(_))),
                "{method} {path}"
            );
        }
        for target in [
            "GraniteServiceVersion20100801.PutDashboard",
            "Other.ListMetrics",
            "",
        ] {
            let json = headers(&[("x-amz-target", target)]);
            let r = Monitoring::parse(&Method::POST, "/", "", &json);
            assert!(matches!(r, Err(ApiError::UnknownOperation(_))), "{target}");
        }
    }

    #[test]
    fn query_codes_are_the_models() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::Parameter(ParameterError::Missing),
            ErrorKind::Parameter(ParameterError::Combination),
            ErrorKind::Parameter(ParameterError::Format),
            ErrorKind::Parameter(ParameterError::NextToken),
            ErrorKind::InvalidRequest,
            ErrorKind::LimitExceeded,
        ] {
            let (_, shape) = Monitoring::code(&kind);
            let q = query_code(shape);
            assert!(
                [
                    "ResourceNotFound",
                    "MissingParameter",
                    "InvalidParameterCombination",
                    "InvalidFormat",
                    "InvalidNextToken",
                    "InvalidParameterValue",
                    "LimitExceeded"
                ]
                .contains(&q),
                "{kind:?} -> {shape} -> {q}"
            );
        }
    }
}
