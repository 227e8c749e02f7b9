//! The AWSIotLogsV2 record a device-facing event produces: the common attributes every entry
//! carries, then the event's own, in the order AWS writes them
//! (https://docs.aws.amazon.com/iot/latest/developerguide/cwl-format.html).

use super::levels::{EventType, LogLevel};
use crate::clock::Timestamp;
use serde::Serialize;

/// How the device reached Shoal (the record's `protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Mqtt,
    Http,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Mqtt => "MQTT",
            Transport::Http => "HTTP",
        }
    }
}

/// Who caused an event: the connection's facts, shared by every record of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub account_id: String,
    pub client_id: Option<String>,
    pub principal_id: Option<String>,
    pub source_ip: Option<String>,
    pub source_port: Option<u16>,
}

/// One log record before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub timestamp: Timestamp,
    pub level: LogLevel,
    pub trace_id: String,
    pub event: EventType,
    pub transport: Transport,
    /// None: `Success`; Some((reason, details)): `Failure` with AWS's reason code and its text.
    pub failure: Option<(String, String)>,
    pub topic: Option<String>,
    /// The event's own attributes (`disconnectReason`, `thingName`, `jobId`...), in order.
    pub extra: Extra,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    timestamp: String,
    log_level: &'static str,
    trace_id: &'a str,
    account_id: &'a str,
    status: &'static str,
    event_type: &'static str,
    protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a str>,
    #[serde(flatten)]
    extra: std::collections::BTreeMap<&'static str, &'a str>,
}

impl LogRecord {
    /// The record as the JSON message CloudWatch Logs would hold.
    pub fn to_json(&self, origin: &Origin) -> String {
        let w = Wire {
            timestamp: self.timestamp.log_format(),
            log_level: self.level.as_str(),
            trace_id: &self.trace_id,
            account_id: &origin.account_id,
            status: if self.failure.is_some() {
                "Failure"
            } else {
                "Success"
            },
            event_type: self.event.as_str(),
            protocol: self.transport.as_str(),
            topic_name: self.topic.as_deref(),
            client_id: origin.client_id.as_deref(),
            principal_id: origin.principal_id.as_deref(),
            source_ip: origin.source_ip.as_deref(),
            source_port: origin.source_port,
            reason: self.failure.as_ref().map(|f| f.0.as_str()),
            details: self.failure.as_ref().map(|f| f.1.as_str()),
            extra: self.extra.iter().map(|(k, v)| (*k, v.as_str())).collect(),
        };
        serde_json::to_string(&w).unwrap_or_default()
    }
}

/// A record's own attributes, in order.
pub type Extra = Vec<(&'static str, String)>;

/// The record kind of a device request on a reserved topic: its event type, the level of its
/// success (shadow and provisioning requests are INFO, jobs requests DEBUG, as AWS logs them)
/// and its own attributes; None for a topic that is no logged request.
pub fn reserved_request(topic: &str) -> Option<(EventType, LogLevel, Extra)> {
    use EventType as E;
    let parts: Vec<&str> = topic.split('/').collect();
    match parts.as_slice() {
        ["$aws", "things", thing, "shadow", rest @ ..] => {
            let op = match rest {
                [op] | ["name", _, op] => *op,
                _ => return None,
            };
            let event = match op {
                "get" => E::GetThingShadow,
                "update" => E::UpdateThingShadow,
                "delete" => E::DeleteThingShadow,
                _ => return None,
            };
            Some((
                event,
                LogLevel::Info,
                vec![("deviceShadowName", thing.to_string())],
            ))
        }
        ["$aws", "things", _, "jobs", "get"] => {
            Some((E::GetPendingJobExecution, LogLevel::Debug, Vec::new()))
        }
        ["$aws", "things", _, "jobs", "start-next"] => {
            Some((E::StartNextPendingJobExecution, LogLevel::Debug, Vec::new()))
        }
        ["$aws", "things", _, "jobs", job, op @ ("get" | "update")] => {
            let event = if *op == "get" {
                E::DescribeJobExecution
            } else {
                E::UpdateJobExecution
            };
            Some((event, LogLevel::Debug, vec![("jobId", job.to_string())]))
        }
        ["$aws", "certificates", "create" | "create-from-csr", _] => {
            Some((E::GetDeviceCredentials, LogLevel::Info, Vec::new()))
        }
        ["$aws", "provisioning-templates", template, "provision", _] => Some((
            E::ProvisionDevice,
            LogLevel::Info,
            vec![("provisioningTemplateName", template.to_string())],
        )),
        _ => None,
    }
}
