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

/// Writes a record of `event` if the caller's level keeps it: at `ok_level` when `outcome` is a
/// success, at ERROR with the error's reason otherwise.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record<T>(
    state: &ApiState,
    part: &Partition,
    origin: &Origin,
    event: EventType,
    ok_level: LogLevel,
    topic: Option<&str>,
    extra: Extra,
    outcome: &Result<T, ApiError>,
    code: fn(&ErrorKind) -> (http::StatusCode, &'static str),
) {
    let failure = match outcome {
        Ok(_) => None,
        Err(ApiError::Service(e)) if matches!(e.kind, ErrorKind::Unauthorized) => Some((
            AUTHORIZATION_FAILURE.0.to_string(),
            AUTHORIZATION_FAILURE.1.to_string(),
        )),
        Err(ApiError::Service(e)) => {
            Some((code(&e.kind).0.as_u16().to_string(), e.message.clone()))
        }
        Err(_) => Some(("400".to_string(), "Invalid request".to_string())),
    };
    write(state, part, origin, event, ok_level, topic, extra, failure);
}

/// Writes a record of `event`: a success at `ok_level`, or with `failure` (AWS's reason and
/// its text) at ERROR.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write(
    state: &ApiState,
    part: &Partition,
    origin: &Origin,
    event: EventType,
    ok_level: LogLevel,
    topic: Option<&str>,
    extra: Extra,
    failure: Option<(String, String)>,
) {
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
