//! Device log records of HTTP requests (iot-data Publish, the shadow REST operations and the
//! Jobs device API, over SigV4 or a client certificate): the same records as MQTT's with
//! `"protocol": "HTTP"` (https://docs.aws.amazon.com/iot/latest/developerguide/cwl-format.html).
//! A request has no connection, so each one asks its partition's settings through a gate of
//! its own; the check costs a map lookup and, when logging is off, nothing more.

use crate::error::ApiError;
use crate::ApiState;
use shoal_domain::logging::{EventType, Extra, LogLevel, LogRecord, Origin, Transport};
use shoal_domain::{ErrorKind, Partition};

/// AWS's reason for a refused request.
const AUTHORIZATION_FAILURE: (&str, &str) = ("AUTHORIZATION_FAILURE", "Authorization Failure");

/// Who a request's records are about, and how its API names errors.
pub(crate) struct HttpLog<'a> {
    pub state: &'a ApiState,
    pub part: &'a Partition,
    pub origin: &'a Origin,
    /// The API's mapping of errors (its HTTP status is a failure's `reason`).
    pub code: fn(&ErrorKind) -> (http::StatusCode, &'static str),
}

/// What a record says besides its outcome: the event, the level of its success, the topic
/// (or the MQTT topic of the same request) and the event's own attributes.
pub(crate) struct What<'a> {
    pub event: EventType,
    pub ok_level: LogLevel,
    pub topic: Option<&'a str>,
    pub extra: Extra,
}

impl HttpLog<'_> {
    /// Writes a record if the caller's level keeps it: a success, or with the error's reason
    /// at ERROR.
    pub fn outcome<T>(&self, what: What<'_>, outcome: &Result<T, ApiError>) {
        let failure = match outcome {
            Ok(_) => None,
            Err(ApiError::Service(e)) if matches!(e.kind, ErrorKind::Unauthorized) => Some((
                AUTHORIZATION_FAILURE.0.to_string(),
                AUTHORIZATION_FAILURE.1.to_string(),
            )),
            Err(ApiError::Service(e)) => Some((
                (self.code)(&e.kind).0.as_u16().to_string(),
                e.message.clone(),
            )),
            Err(_) => Some(("400".to_string(), "Invalid request".to_string())),
        };
        self.failure(what, failure);
    }

    /// Writes a record: a success, or with `failure` (AWS's reason and its text) at ERROR.
    pub fn failure(&self, what: What<'_>, failure: Option<(String, String)>) {
        let (state, part, origin) = (self.state, self.part, self.origin);
        let What {
            event,
            ok_level,
            topic,
            extra,
        } = what;
        let level = if failure.is_some() {
            LogLevel::Error
        } else {
            ok_level
        };
        let mut gate = state.logs.gate(part, origin.clone());
        if !gate.wants(&state.logs, event, level) {
            return;
        }
        let r = LogRecord {
            timestamp: state.clock.now(),
            level,
            trace_id: uuid::Uuid::new_v4().as_u128(),
            event,
            transport: Some(Transport::Http),
            failure: failure.as_ref().map(|(r, d)| (r.as_str(), d.as_str())),
            topic,
            extra,
        };
        state.logs.emit(&gate, &r);
    }
}
