//! The CloudWatch Logs subset (awsJson 1.1, `X-Amz-Target: Logs_20140328.<Operation>`, SigV4
//! scope service `logs`): reading the device logs Shoal keeps
//! (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/Welcome.html).
//! Every error is HTTP 400 except the service's own failures, as CloudWatch Logs answers.

use crate::api::{Api, Call, Protocol, Reply};
use crate::error::ApiError;
use crate::json;
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::{ErrorKind, Partition};
use shoal_services::logging::{FilterRequest, GetRequest, LogEvent, RETENTION_DAYS};

pub struct Logs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    DescribeLogGroups,
    DescribeLogStreams,
    GetLogEvents,
    FilterLogEvents,
    PutRetentionPolicy,
    DeleteRetentionPolicy,
    DeleteLogGroup,
    StartQuery,
    GetQueryResults,
    StopQuery,
}

const PREFIX: &str = "Logs_20140328.";

impl Endpoint {
    pub fn from_target(target: &str) -> Result<Endpoint, ApiError> {
        use Endpoint as E;
        let op = target.strip_prefix(PREFIX).unwrap_or("");
        Ok(match op {
            "DescribeLogGroups" => E::DescribeLogGroups,
            "DescribeLogStreams" => E::DescribeLogStreams,
            "GetLogEvents" => E::GetLogEvents,
            "FilterLogEvents" => E::FilterLogEvents,
            "PutRetentionPolicy" => E::PutRetentionPolicy,
            "DeleteRetentionPolicy" => E::DeleteRetentionPolicy,
            "DeleteLogGroup" => E::DeleteLogGroup,
            "StartQuery" => E::StartQuery,
            "GetQueryResults" => E::GetQueryResults,
            "StopQuery" => E::StopQuery,
            _ => {
                return Err(ApiError::UnknownOperation(format!(
                    "{target} is not an operation Shoal's CloudWatch Logs subset serves (see docs/compatibility.md)"
                )))
            }
        })
    }
}

impl Api for Logs {
    type Endpoint = Endpoint;
    const NAME: &'static str = "logs";
    const PROTOCOL: Protocol = Protocol::AwsJson;
    type Output = http_body_util::Full<bytes::Bytes>;

    fn parse(
        method: &Method,
        path: &str,
        _query: &str,
        headers: &HeaderMap,
    ) -> Result<Endpoint, ApiError> {
        Endpoint::from_target(crate::api::aws_json_target(
            method,
            path,
            headers,
            "CloudWatch Logs",
        )?)
    }

    async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply {
        let v = handle(&call, endpoint).await?;
        Ok(crate::api::aws_json_ok(&v, call.request_id))
    }

    /// The `logs` model's errors: all 400 but ServiceUnavailableException.
    fn code(kind: &ErrorKind) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match kind {
            ErrorKind::NotFound => (S::BAD_REQUEST, "ResourceNotFoundException"),
            ErrorKind::AlreadyExists { .. } | ErrorKind::IdConflict => {
                (S::BAD_REQUEST, "ResourceAlreadyExistsException")
            }
            ErrorKind::Conflict | ErrorKind::VersionConflict | ErrorKind::DeleteConflict => {
                (S::BAD_REQUEST, "OperationAbortedException")
            }
            ErrorKind::LimitExceeded | ErrorKind::VersionsLimitExceeded => {
                (S::BAD_REQUEST, "LimitExceededException")
            }
            ErrorKind::Throttled => (S::BAD_REQUEST, "ThrottlingException"),
            ErrorKind::MalformedQuery { .. } => (S::BAD_REQUEST, "MalformedQueryException"),
            ErrorKind::Unauthorized | ErrorKind::Forbidden => {
                (S::BAD_REQUEST, "AccessDeniedException")
            }
            ErrorKind::NotSupported => (S::BAD_REQUEST, "UnknownOperationException"),
            ErrorKind::Internal | ErrorKind::Timeout | ErrorKind::IndexNotReady => {
                (S::SERVICE_UNAVAILABLE, "ServiceUnavailableException")
            }
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
            | ErrorKind::Parameter(_)
            | ErrorKind::NotConfigured
            | ErrorKind::Storage(_) => (S::BAD_REQUEST, "InvalidParameterException"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct In {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_group_name_prefix: Option<String>,
    log_group_names: Option<Vec<String>>,
    log_group_identifiers: Option<Vec<String>>,
    log_stream_name: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
    start_from_head: Option<bool>,
    retention_in_days: Option<i64>,
    query_string: Option<String>,
    query_id: Option<String>,
}

type R = Result<Value, ApiError>;

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::invalid(m)
}

/// A group named by name or by ARN (`logGroupIdentifier`).
fn group_of(i: &In) -> Result<String, ApiError> {
    match (&i.log_group_name, &i.log_group_identifier) {
        (Some(n), None) => Ok(n.clone()),
        (None, Some(id)) => Ok(group_from_identifier(id)),
        (Some(_), Some(_)) => Err(invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (None, None) => Err(invalid(
            "Either logGroupName or logGroupIdentifier is required",
        )),
    }
}

fn group_from_identifier(id: &str) -> String {
    // arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
    match id.split_once(":log-group:") {
        Some((_, rest)) => rest.trim_end_matches(":*").to_string(),
        None => id.to_string(),
    }
}

fn limit(i: &In, max: i64, default: i64) -> Result<usize, ApiError> {
    match i.limit {
        None => Ok(default as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

fn group_arn(part: &Partition, name: &str) -> String {
    format!(
        "arn:aws:logs:{}:{}:log-group:{name}",
        part.region, part.account
    )
}

fn event_json(e: &LogEvent, with_stream: bool) -> Value {
    let mut v = json!({
        "timestamp": e.timestamp,
        "message": e.message,
        "ingestionTime": e.ingestion_time,
    });
    if with_stream {
        v["logStreamName"] = e.stream.clone().into();
        v["eventId"] = e.event_id().into();
    }
    v
}

/// A page of names: those after the token, `limit` of them, and the next token.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    token: Option<&str>,
    limit: usize,
) -> (Vec<T>, Option<String>) {
    let after =
        token.map(|t| String::from_utf8(hex::decode(t).unwrap_or_default()).unwrap_or_default());
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|x| after.as_deref().is_none_or(|a| key(x) > a))
        .collect();
    let next = (rest.len() > limit).then(|| hex::encode(key(&rest[limit - 1])));
    rest.truncate(limit);
    (rest, next)
}

async fn handle(call: &Call<'_>, endpoint: Endpoint) -> R {
    use Endpoint as E;
    let logs = &call.state.logs;
    let part = call.part;
    let i: In = json::parse(call.body)?;
    match endpoint {
        E::DescribeLogGroups => {
            let n = limit(&i, 50, 50)?;
            let groups = logs
                .describe_groups(part, i.log_group_name_prefix.as_deref().unwrap_or(""))
                .await;
            let (groups, next) = page(groups, |g| &g.name, i.next_token.as_deref(), n);
            let items: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let arn = group_arn(part, &g.name);
                    let mut v = json!({
                        "logGroupName": g.name,
                        "creationTime": g.created,
                        "metricFilterCount": 0,
                        "arn": format!("{arn}:*"),
                        "logGroupArn": arn,
                        "storedBytes": g.stored_bytes,
                        "logGroupClass": "STANDARD",
                    });
                    if let Some(d) = g.retention_days {
                        v["retentionInDays"] = d.into();
                    }
                    v
                })
                .collect();
            let mut v = json!({ "logGroups": items });
            if let Some(t) = next {
                v["nextToken"] = t.into();
            }
            Ok(v)
        }
        E::DescribeLogStreams => {
            let group = group_of(&i)?;
            let n = limit(&i, 50, 50)?;
            let by_time = match i.order_by.as_deref() {
                None | Some("LogStreamName") => false,
                Some("LastEventTime") => true,
                Some(o) => return Err(invalid(format!("Invalid orderBy: {o}"))),
            };
            if by_time && i.log_stream_name_prefix.is_some() {
                return Err(invalid(
                    "Cannot order by LastEventTime with a logStreamNamePrefix.",
                ));
            }
            let mut streams = logs.describe_streams(part, &group).await?;
            if let Some(p) = &i.log_stream_name_prefix {
                streams.retain(|s| s.name.starts_with(p.as_str()));
            }
            if by_time {
                streams.sort_by_key(|s| (s.last_timestamp, s.name.clone()));
            }
            if i.descending.unwrap_or(false) {
                streams.reverse();
            }
            // The token is an index into this order.
            let from: usize = match &i.next_token {
                Some(t) => t
                    .parse()
                    .map_err(|_| invalid("The specified nextToken is invalid."))?,
                None => 0,
            };
            let arn = group_arn(part, &group);
            let items: Vec<Value> = streams
                .iter()
                .skip(from)
                .take(n)
                .map(|s| {
                    let mut v = json!({
                        "logStreamName": s.name,
                        "creationTime": s.created,
                        "arn": format!("{arn}:log-stream:{}", s.name),
                        "storedBytes": 0,
                    });
                    if let Some(t) = s.first_timestamp {
                        v["firstEventTimestamp"] = t.into();
                    }
                    if let Some(t) = s.last_timestamp {
                        v["lastEventTimestamp"] = t.into();
                    }
                    if let Some(t) = s.last_ingestion {
                        v["lastIngestionTime"] = t.into();
                    }
                    v
                })
                .collect();
            let mut v = json!({ "logStreams": items });
            if from + n < streams.len() {
                v["nextToken"] = (from + n).to_string().into();
            }
            Ok(v)
        }
        E::GetLogEvents => {
            let group = group_of(&i)?;
            let stream = i
                .log_stream_name
                .clone()
                .ok_or_else(|| invalid("logStreamName is required"))?;
            let n = limit(&i, 10_000, 10_000)?;
            let page = logs
                .get_events(
                    part,
                    GetRequest {
                        group,
                        stream,
                        start: i.start_time,
                        end: i.end_time,
                        limit: Some(n),
                        from_head: i.start_from_head,
                        token: i.next_token.clone(),
                    },
                )
                .await?;
            let events: Vec<Value> = page.events.iter().map(|e| event_json(e, false)).collect();
            Ok(json!({
                "events": events,
                "nextForwardToken": page.next,
                "nextBackwardToken": page.backward,
            }))
        }
        E::FilterLogEvents => {
            let group = group_of(&i)?;
            let n = limit(&i, 10_000, 10_000)?;
            let page = logs
                .filter_events(
                    part,
                    FilterRequest {
                        group,
                        streams: i.log_stream_names.clone(),
                        stream_prefix: i.log_stream_name_prefix.clone(),
                        start: i.start_time,
                        end: i.end_time,
                        pattern: i.filter_pattern.clone(),
                        limit: Some(n),
                        token: i.next_token.clone(),
                    },
                )
                .await?;
            let events: Vec<Value> = page.events.iter().map(|e| event_json(e, true)).collect();
            let mut v = json!({ "events": events, "searchedLogStreams": [] });
            if let Some(t) = page.next {
                v["nextToken"] = t.into();
            }
            Ok(v)
        }
        E::PutRetentionPolicy => {
            let group = group_of(&i)?;
            let days = i
                .retention_in_days
                .ok_or_else(|| invalid("retentionInDays is required"))?;
            let days = u32::try_from(days)
                .ok()
                .filter(|d| RETENTION_DAYS.contains(d))
                .unwrap_or(0);
            logs.put_retention(part, &group, days).await?;
            Ok(json!({}))
        }
        E::DeleteRetentionPolicy => {
            logs.delete_retention(part, &group_of(&i)?).await?;
            Ok(json!({}))
        }
        E::DeleteLogGroup => {
            logs.delete_group(part, &group_of(&i)?).await?;
            Ok(json!({}))
        }
        E::StartQuery => {
            let mut groups: Vec<String> = Vec::new();
            let given = [
                i.log_group_name.is_some(),
                i.log_group_names.is_some(),
                i.log_group_identifiers.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(invalid(
                    "Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be given",
                ));
            }
            if let Some(n) = &i.log_group_name {
                groups.push(n.clone());
            }
            groups.extend(i.log_group_names.clone().unwrap_or_default());
            groups.extend(
                i.log_group_identifiers
                    .iter()
                    .flatten()
                    .map(|g| group_from_identifier(g)),
            );
            if groups.len() > 50 {
                return Err(invalid("At most 50 log groups can be queried at once"));
            }
            let text = i
                .query_string
                .clone()
                .ok_or_else(|| invalid("queryString is required"))?;
            if text.len() > 10_000 {
                return Err(invalid("queryString must be at most 10000 characters"));
            }
            let (Some(start), Some(end)) = (i.start_time, i.end_time) else {
                return Err(invalid("startTime and endTime are required"));
            };
            if end < start {
                return Err(invalid("endTime must be after startTime"));
            }
            let lim = match i.limit {
                None => None,
                Some(n @ 1..=10_000) => Some(n as usize),
                Some(n) => {
                    return Err(invalid(format!(
                        "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000"
                    )))
                }
            };
            // StartQuery's times are epoch seconds, both ends included.
            let id = logs
                .start_query(
                    part,
                    &groups,
                    start.saturating_mul(1000),
                    end.saturating_mul(1000).saturating_add(999),
                    &text,
                    lim,
                )
                .await?;
            Ok(json!({ "queryId": id }))
        }
        E::GetQueryResults => {
            let id = i
                .query_id
                .clone()
                .ok_or_else(|| invalid("queryId is required"))?;
            let r = logs.query_results(part, &id)?;
            let rows: Vec<Value> = r
                .rows
                .iter()
                .map(|row| {
                    Value::Array(
                        row.iter()
                            .map(|(f, v)| json!({ "field": f, "value": v }))
                            .collect(),
                    )
                })
                .collect();
            Ok(json!({
                "queryLanguage": "CWLI",
                "results": rows,
                "statistics": {
                    "recordsMatched": r.records_matched as f64,
                    "recordsScanned": r.records_scanned as f64,
                    "estimatedRecordsSkipped": 0.0,
                    "bytesScanned": r.bytes_scanned as f64,
                    "estimatedBytesSkipped": 0.0,
                    "logGroupsScanned": 1.0,
                },
                "status": r.status.as_str(),
            }))
        }
        E::StopQuery => {
            let id = i
                .query_id
                .clone()
                .ok_or_else(|| invalid("queryId is required"))?;
            if !logs.stop_query(part, &id)? {
                return Err(invalid(format!("Query {id} is not running")));
            }
            Ok(json!({ "success": true }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_routes_and_others_are_unknown() {
        for (t, e) in [
            (
                "Logs_20140328.DescribeLogGroups",
                Endpoint::DescribeLogGroups,
            ),
            (
                "Logs_20140328.DescribeLogStreams",
                Endpoint::DescribeLogStreams,
            ),
            ("Logs_20140328.GetLogEvents", Endpoint::GetLogEvents),
            ("Logs_20140328.FilterLogEvents", Endpoint::FilterLogEvents),
            (
                "Logs_20140328.PutRetentionPolicy",
                Endpoint::PutRetentionPolicy,
            ),
            (
                "Logs_20140328.DeleteRetentionPolicy",
                Endpoint::DeleteRetentionPolicy,
            ),
            ("Logs_20140328.DeleteLogGroup", Endpoint::DeleteLogGroup),
            ("Logs_20140328.StartQuery", Endpoint::StartQuery),
            ("Logs_20140328.GetQueryResults", Endpoint::GetQueryResults),
            ("Logs_20140328.StopQuery", Endpoint::StopQuery),
        ] {
            let mut h = HeaderMap::new();
            h.insert("x-amz-target", t.parse().unwrap());
            assert_eq!(Logs::parse(&Method::POST, "/", "", &h).unwrap(), e);
        }
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-target",
            "Logs_20140328.PutLogEvents".parse().unwrap(),
        );
        assert!(matches!(
            Logs::parse(&Method::POST, "/", "", &h),
            Err(ApiError::UnknownOperation(_))
        ));
        assert!(Logs::parse(&Method::GET, "/", "", &h).is_err());
    }

    #[test]
    fn a_group_arn_names_its_group() {
        assert_eq!(
            group_from_identifier("arn:aws:logs:us-east-1:123456789012:log-group:AWSIotLogsV2:*"),
            "AWSIotLogsV2"
        );
        assert_eq!(group_from_identifier("AWSIotLogsV2"), "AWSIotLogsV2");
    }
}
