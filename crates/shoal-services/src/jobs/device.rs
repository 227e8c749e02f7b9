//! The Jobs device API over MQTT, one of the reserved-topic port's services: requests on
//! `$aws/things/{thing}/jobs/get`, `.../start-next`, `.../{jobId}/get` (`$next` too) and
//! `.../{jobId}/update`, answered on the request topic's `/accepted` or `/rejected` with AWS's
//! payloads and error codes (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html).

use super::notify::{document_value, execution, execution_state, split};
use super::{Jobs, Refusal};
use crate::reserved::{Answer, TopicService};
use serde_json::{json, Map, Value};
use shoal_domain::jobs::{DeviceUpdate, ExecutionStatus, JobId, StatusDetails};
use shoal_domain::{ErrorKind, Partition, ServiceError, ThingName};
use shoal_store::BoxFuture;

/// Pending executions GetPendingJobExecutions lists.
const PENDING_LIMIT: usize = 100;

#[derive(Debug, PartialEq, Eq)]
enum Request<'a> {
    Pending,
    StartNext,
    Describe(&'a str),
    Update(&'a str),
}

/// The thing and request a jobs topic names.
fn parse(topic: &str) -> Option<(&str, Request<'_>)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once("/jobs/")?;
    ThingName::parse(thing).ok()?;
    let req = match rest {
        "get" => Request::Pending,
        "start-next" => Request::StartNext,
        _ => {
            let (job, op) = rest.split_once('/')?;
            if job != "$next" && JobId::parse(job).is_err() {
                return None;
            }
            match op {
                "get" => Request::Describe(job),
                // `$next` names no execution to update.
                "update" if job != "$next" => Request::Update(job),
                _ => return None,
            }
        }
    };
    Some((thing, req))
}

/// The request's members; an empty payload is an empty request.
struct Body(Map<String, Value>);

impl Body {
    fn parse(payload: &[u8]) -> Result<Body, (&'static str, String)> {
        if payload.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Map::new()));
        }
        match serde_json::from_slice::<Value>(payload) {
            Ok(Value::Object(m)) => Ok(Body(m)),
            _ => Err(("InvalidJson", "The payload is not a JSON object".into())),
        }
    }

    fn token(&self) -> Option<Value> {
        self.0.get("clientToken").cloned()
    }

    fn bool(&self, name: &str, default: bool) -> Result<bool, ServiceError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ServiceError::invalid(format!("{name} must be a boolean"))),
        }
    }

    fn int(&self, name: &str) -> Result<Option<i64>, ServiceError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ServiceError::invalid(format!("{name} must be an integer"))),
        }
    }

    fn details(&self) -> Result<Option<StatusDetails>, ServiceError> {
        match self.0.get("statusDetails") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(ServiceError::invalid(
                        "statusDetails values must be strings",
                    )),
                })
                .collect::<Result<StatusDetails, _>>()
                .map(Some),
            Some(_) => Err(ServiceError::invalid("statusDetails must be an object")),
        }
    }

    fn status(&self) -> Result<ExecutionStatus, ServiceError> {
        match self.0.get("status") {
            Some(Value::String(s)) => ExecutionStatus::parse(s)
                .ok_or_else(|| ServiceError::invalid(format!("Invalid status {s}"))),
            _ => Err(ServiceError::invalid("status is required")),
        }
    }
}

/// AWS's code for a refusal on MQTT.
fn code(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "ResourceNotFound",
        ErrorKind::InvalidStateTransition => "InvalidStateTransition",
        ErrorKind::VersionConflict => "VersionMismatch",
        ErrorKind::Throttled | ErrorKind::LimitExceeded => "RequestThrottled",
        ErrorKind::Internal => "InternalError",
        _ => "InvalidRequest",
    }
}

fn with_token(mut v: Value, token: &Option<Value>) -> Value {
    if let Some(t) = token {
        v["clientToken"] = t.clone();
    }
    v
}

impl Jobs {
    async fn device_request(
        &self,
        part: &Partition,
        thing: &str,
        req: Request<'_>,
        body: &Body,
    ) -> Result<Value, Refusal> {
        let now = self.clock.now();
        let ts = now.secs();
        Ok(match req {
            Request::Pending => {
                let pending = self.pending(part, thing)?;
                let (in_progress, queued) = split(&pending, PENDING_LIMIT);
                json!({"inProgressJobs": in_progress, "queuedJobs": queued, "timestamp": ts})
            }
            Request::StartNext => {
                let details = body.details()?;
                let step = body.int("stepTimeoutInMinutes")?;
                match self.start_next(part, thing, details, step).await? {
                    Some((e, doc)) => {
                        json!({"execution": execution(&e, Some(&doc), now), "timestamp": ts})
                    }
                    None => json!({ "timestamp": ts }),
                }
            }
            Request::Describe(job) => {
                let include = body.bool("includeJobDocument", true)?;
                let number = body.int("executionNumber")?;
                match self.describe_for_device(part, thing, job, number)? {
                    Some((e, doc)) => json!({
                        "execution": execution(&e, include.then_some(doc.as_str()), now),
                        "timestamp": ts,
                    }),
                    None => json!({ "timestamp": ts }),
                }
            }
            Request::Update(job) => {
                let update = DeviceUpdate {
                    status: Some(body.status()?),
                    status_details: body.details()?,
                    expected_version: body.int("expectedVersion")?,
                    step_timeout_minutes: body.int("stepTimeoutInMinutes")?,
                };
                let include_state = body.bool("includeJobExecutionState", false)?;
                let include_doc = body.bool("includeJobDocument", false)?;
                let number = body.int("executionNumber")?;
                let (e, job) = self
                    .update_execution(part, thing, job, &update, number)
                    .await?;
                let mut out = json!({ "timestamp": ts });
                if include_state {
                    out["executionState"] = execution_state(&e);
                }
                if include_doc {
                    out["jobDocument"] = document_value(&self.device_document(part, &job));
                }
                out
            }
        })
    }
}

impl TopicService for Jobs {
    /// https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html: the answers
    /// reach the client that published the request, and no one else.
    fn answers_requester_only(&self) -> bool {
        true
    }

    fn owns(&self, topic: &str) -> bool {
        topic
            .strip_prefix("$aws/things/")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(_, rest)| rest == "jobs" || rest.starts_with("jobs/"))
    }

    fn is_request(&self, topic: &str) -> bool {
        parse(topic).is_some()
    }

    fn request<'a>(
        &'a self,
        part: &'a Partition,
        topic: &'a str,
        payload: &'a [u8],
        _requester: &'a crate::reserved::Requester,
    ) -> Option<BoxFuture<'a, Vec<Answer>>> {
        let (thing, req) = parse(topic)?;
        Some(Box::pin(async move {
            let now = self.clock.now().secs();
            let answer = |suffix: &str, v: Value| Answer {
                topic: format!("{topic}/{suffix}"),
                payload: v.to_string().into_bytes(),
            };
            let body = match Body::parse(payload) {
                Ok(b) => b,
                Err((code, message)) => {
                    let v = json!({"code": code, "message": message, "timestamp": now});
                    return vec![answer("rejected", v)];
                }
            };
            let token = body.token();
            match self.device_request(part, thing, req, &body).await {
                Ok(v) => vec![answer("accepted", with_token(v, &token))],
                Err(Refusal { error, state }) => {
                    let mut v = json!({
                        "code": code(&error.kind),
                        "message": error.message,
                        "timestamp": now,
                    });
                    if let Some(s) = state {
                        v["executionState"] = execution_state(&s);
                    }
                    vec![answer("rejected", with_token(v, &token))]
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_topics() {
        assert_eq!(
            parse("$aws/things/t1/jobs/get"),
            Some(("t1", Request::Pending))
        );
        assert_eq!(
            parse("$aws/things/t1/jobs/start-next"),
            Some(("t1", Request::StartNext))
        );
        assert_eq!(
            parse("$aws/things/t1/jobs/$next/get"),
            Some(("t1", Request::Describe("$next")))
        );
        assert_eq!(
            parse("$aws/things/t1/jobs/j-1/update"),
            Some(("t1", Request::Update("j-1")))
        );
        for t in [
            "$aws/things/t1/jobs/notify",
            "$aws/things/t1/jobs/notify-next",
            "$aws/things/t1/jobs/get/accepted",
            "$aws/things/t1/jobs/j-1/update/accepted",
            "$aws/things/t1/jobs/$next/update",
            "$aws/things/t 1/jobs/get",
            "$aws/things/t1/jobs/a.b/get",
            "$aws/things/t1/shadow/get",
        ] {
            assert!(parse(t).is_none(), "{t}");
        }
    }
}
