//! The `iot-jobs-data` API (restJson1, signing name `iot-jobs-data`): the Jobs device API over
//! HTTPS — DescribeJobExecution, GetPendingJobExecutions, StartNextPendingJobExecution and
//! UpdateJobExecution — with SigV4 on the API port or a device's certificate on the device
//! HTTPS port, where the certificate's policies must allow the action on `thing/{thingName}`.
//! Times are whole epoch seconds and the job document is a string, as the model has them
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Jobs_Data_Plane.html).

use crate::api::{Api, Call, Caller, Protocol, Reply};
use crate::error::ApiError;
use crate::request::{decode, segments, Query};
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::jobs::{DeviceUpdate, Execution, ExecutionStatus, JobId, StatusDetails};
use shoal_domain::{ErrorKind, ServiceError, ThingName, Timestamp};

#[derive(Debug)]
pub enum Endpoint {
    DescribeJobExecution {
        thing: ThingName,
        job: String,
        query: Query,
    },
    GetPendingJobExecutions {
        thing: ThingName,
    },
    StartNextPendingJobExecution {
        thing: ThingName,
    },
    UpdateJobExecution {
        thing: ThingName,
        job: JobId,
    },
}

impl Endpoint {
    /// The MQTT topic of the same request (`$aws/things/THING/jobs/...`).
    fn topic(&self) -> String {
        match self {
            Endpoint::DescribeJobExecution { thing, job, .. } => {
                format!("$aws/things/{thing}/jobs/{job}/get")
            }
            Endpoint::GetPendingJobExecutions { thing } => format!("$aws/things/{thing}/jobs/get"),
            Endpoint::StartNextPendingJobExecution { thing } => {
                format!("$aws/things/{thing}/jobs/start-next")
            }
            Endpoint::UpdateJobExecution { thing, job } => {
                format!("$aws/things/{thing}/jobs/{job}/update")
            }
        }
    }
}

/// The `iot-jobs-data` API.
pub struct JobsData;

fn thing(raw: &str) -> Result<ThingName, ApiError> {
    Ok(ThingName::parse(&decode(raw)?)?)
}

impl Api for JobsData {
    type Endpoint = Endpoint;
    const NAME: &'static str = "iot-jobs-data";
    const PROTOCOL: Protocol = Protocol::RestJson;
    type Output = http_body_util::Full<bytes::Bytes>;

    fn parse(
        method: &Method,
        path: &str,
        query: &str,
        _headers: &HeaderMap,
    ) -> Result<Endpoint, ApiError> {
        let segs = segments(path);
        Ok(match (method.as_str(), segs.as_slice()) {
            ("GET", ["things", t, "jobs"]) => {
                Endpoint::GetPendingJobExecutions { thing: thing(t)? }
            }
            ("PUT", ["things", t, "jobs", "$next" | "%24next"]) => {
                Endpoint::StartNextPendingJobExecution { thing: thing(t)? }
            }
            ("GET", ["things", t, "jobs", j]) => {
                let job = decode(j)?;
                if job != "$next" {
                    JobId::parse(&job)?;
                }
                Endpoint::DescribeJobExecution {
                    thing: thing(t)?,
                    job,
                    query: Query::parse(query)?,
                }
            }
            ("POST", ["things", t, "jobs", j]) => Endpoint::UpdateJobExecution {
                thing: thing(t)?,
                job: JobId::parse(&decode(j)?)?,
            },
            _ => {
                return Err(ApiError::UnknownOperation(format!(
                    "{method} {path} is not an iot-jobs-data operation Shoal serves"
                )))
            }
        })
    }

    async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply {
        // The device's log record: the request named as its MQTT topic would name it.
        let topic = endpoint.topic();
        let (state, part, origin) = (call.state, call.part, call.origin.clone());
        let out = handle(call, endpoint).await;
        if let Some((event, ok_level, extra)) = shoal_domain::logging::reserved_request(&topic) {
            let log = crate::http_logs::HttpLog {
                state,
                part,
                origin: &origin,
                code: JobsData::code,
            };
            let topic = Some(topic.as_str());
            let what = crate::http_logs::What {
                event,
                ok_level,
                topic,
                extra,
            };
            log.outcome(what, &out);
        }
        out
    }

    /// The `iot-jobs-data` model's error shapes: a version that does not match is an
    /// InvalidStateTransitionException (UpdateJobExecution lists no other conflict).
    fn code(kind: &ErrorKind) -> (StatusCode, &'static str) {
        use StatusCode as S;
        const INVALID: (StatusCode, &str) = (S::BAD_REQUEST, "InvalidRequestException");
        match kind {
            ErrorKind::NotFound => (S::NOT_FOUND, "ResourceNotFoundException"),
            ErrorKind::InvalidStateTransition
            | ErrorKind::VersionConflict
            | ErrorKind::Conflict
            | ErrorKind::AlreadyExists { .. }
            | ErrorKind::DeleteConflict => (S::CONFLICT, "InvalidStateTransitionException"),
            ErrorKind::IdConflict => (S::CONFLICT, "ConflictException"),
            ErrorKind::Throttled | ErrorKind::LimitExceeded => {
                (S::TOO_MANY_REQUESTS, "ThrottlingException")
            }
            ErrorKind::CertificateState | ErrorKind::CertificateValidation => {
                (S::BAD_REQUEST, "CertificateValidationException")
            }
            // Refused device callers get the same answer as iot-data's.
            ErrorKind::Unauthorized | ErrorKind::Forbidden => {
                (S::UNAUTHORIZED, "UnauthorizedException")
            }
            ErrorKind::Internal | ErrorKind::Timeout => {
                (S::SERVICE_UNAVAILABLE, "ServiceUnavailableException")
            }
            ErrorKind::InvalidRequest
            | ErrorKind::RegistrationCodeValidation
            | ErrorKind::MalformedPolicy
            | ErrorKind::VersionsLimitExceeded
            | ErrorKind::RegistrationFailed
            | ErrorKind::InvalidQuery
            | ErrorKind::NotConfigured
            | ErrorKind::MalformedQuery { .. }
            | ErrorKind::InvalidResponse
            | ErrorKind::InvalidAggregation
            | ErrorKind::SqlParse
            | ErrorKind::Parameter(_)
            | ErrorKind::IndexNotReady
            | ErrorKind::NotSupported
            | ErrorKind::Storage(_)
            | ErrorKind::PayloadTooLarge
            | ErrorKind::UnsupportedEncoding => INVALID,
        }
    }
}

/// `JobExecution` of this API.
fn execution(e: &Execution, document: Option<&str>, now: Timestamp) -> Value {
    let mut v = json!({
        "jobId": e.job_id,
        "thingName": e.thing_name,
        "status": e.status.as_str(),
        "statusDetails": e.status_details,
        "queuedAt": e.queued_at.secs(),
        "lastUpdatedAt": e.last_updated_at.secs(),
        "versionNumber": e.version_number,
        "executionNumber": e.execution_number,
    });
    if let Some(s) = e.started_at {
        v["startedAt"] = s.secs().into();
    }
    if let Some(s) = e.seconds_before_timed_out(now) {
        v["approximateSecondsBeforeTimedOut"] = s.into();
    }
    if let Some(d) = document {
        v["jobDocument"] = d.into();
    }
    v
}

fn summary(e: &Execution) -> Value {
    let mut v = json!({
        "jobId": e.job_id,
        "queuedAt": e.queued_at.secs(),
        "lastUpdatedAt": e.last_updated_at.secs(),
        "versionNumber": e.version_number,
        "executionNumber": e.execution_number,
    });
    if let Some(s) = e.started_at {
        v["startedAt"] = s.secs().into();
    }
    v
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartNextIn {
    status_details: Option<StatusDetails>,
    step_timeout_in_minutes: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateIn {
    status: Option<String>,
    status_details: Option<StatusDetails>,
    step_timeout_in_minutes: Option<i64>,
    expected_version: Option<i64>,
    include_job_execution_state: Option<bool>,
    include_job_document: Option<bool>,
    execution_number: Option<i64>,
}

async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply {
    let Call {
        state,
        part,
        caller,
        body,
        request_id,
        ..
    } = call;
    let jobs = &state.jobs;
    let now = state.clock.now();
    let allow = |action: &str, t: &ThingName| check(&caller, action, t);
    let out = match endpoint {
        Endpoint::GetPendingJobExecutions { thing } => {
            allow("iot:GetPendingJobExecutions", &thing)?;
            let pending = jobs.pending(part, thing.as_str())?;
            let (in_progress, queued): (Vec<_>, Vec<_>) = pending
                .iter()
                .partition(|e| e.status == ExecutionStatus::InProgress);
            json!({
                "inProgressJobs": in_progress.into_iter().map(summary).collect::<Vec<_>>(),
                "queuedJobs": queued.into_iter().map(summary).collect::<Vec<_>>(),
            })
        }
        Endpoint::DescribeJobExecution { thing, job, query } => {
            allow("iot:DescribeJobExecution", &thing)?;
            let include = query.bool("includeJobDocument")?.unwrap_or(true);
            let number = query.int("executionNumber")?;
            match jobs.describe_for_device(part, thing.as_str(), &job, number)? {
                Some((e, doc)) => {
                    json!({ "execution": execution(&e, include.then_some(doc.as_str()), now) })
                }
                None => {
                    return Err(ServiceError::not_found(format!(
                        "No pending job execution for thing {thing}"
                    ))
                    .into())
                }
            }
        }
        Endpoint::StartNextPendingJobExecution { thing } => {
            allow("iot:StartNextPendingJobExecution", &thing)?;
            let i: StartNextIn = crate::json::parse(body)?;
            match jobs
                .start_next(
                    part,
                    thing.as_str(),
                    i.status_details,
                    i.step_timeout_in_minutes,
                )
                .await?
            {
                Some((e, doc)) => json!({ "execution": execution(&e, Some(&doc), now) }),
                None => json!({}),
            }
        }
        Endpoint::UpdateJobExecution { thing, job } => {
            allow("iot:UpdateJobExecution", &thing)?;
            let i: UpdateIn = crate::json::parse(body)?;
            let status = i
                .status
                .as_deref()
                .ok_or_else(|| ApiError::invalid("status is required"))?;
            let status = ExecutionStatus::parse(status)
                .ok_or_else(|| ApiError::invalid(format!("Invalid status {status}")))?;
            let update = DeviceUpdate {
                status: Some(status),
                status_details: i.status_details,
                expected_version: i.expected_version,
                step_timeout_minutes: i.step_timeout_in_minutes,
            };
            let (e, job) = jobs
                .update_execution(
                    part,
                    thing.as_str(),
                    job.as_str(),
                    &update,
                    i.execution_number,
                )
                .await
                .map_err(|r| ApiError::from(r.error))?;
            let mut out = json!({});
            if i.include_job_execution_state.unwrap_or(false) {
                out["executionState"] = json!({
                    "status": e.status.as_str(),
                    "statusDetails": e.status_details,
                    "versionNumber": e.version_number,
                });
            }
            if i.include_job_document.unwrap_or(false) {
                out["jobDocument"] = jobs.device_document(part, &job).into();
            }
            out
        }
    };
    Ok(crate::json::ok(&out, request_id))
}

fn check(caller: &Caller<'_>, action: &str, thing: &ThingName) -> Result<(), ApiError> {
    caller.check(action, "thing", thing.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation of the model routes to its own endpoint; StartCommandExecution is not
    /// served.
    #[test]
    fn routes() {
        let parse = |m: &str, p: &str| {
            let ep = JobsData::parse(
                &Method::from_bytes(m.as_bytes()).unwrap(),
                p,
                "",
                &HeaderMap::new(),
            );
            ep.map(|e| format!("{e:?}"))
        };
        for (m, p, op) in [
            ("GET", "/things/t1/jobs/j1", "DescribeJobExecution"),
            ("GET", "/things/t1/jobs/$next", "DescribeJobExecution"),
            ("GET", "/things/t1/jobs", "GetPendingJobExecutions"),
            (
                "PUT",
                "/things/t1/jobs/$next",
                "StartNextPendingJobExecution",
            ),
            (
                "PUT",
                "/things/t1/jobs/%24next",
                "StartNextPendingJobExecution",
            ),
            ("POST", "/things/t1/jobs/j1", "UpdateJobExecution"),
        ] {
            let got = parse(m, p).unwrap_or_else(|e| panic!("{m} {p}: {e:?}"));
            assert!(got.starts_with(op), "{m} {p}: {got}");
        }
        assert!(matches!(
            parse("POST", "/command-executions"),
            Err(ApiError::UnknownOperation(_))
        ));
        assert!(parse("GET", "/things/bad%20name/jobs").is_err());
        assert!(parse("POST", "/things/t1/jobs/$next").is_err());
    }
}
