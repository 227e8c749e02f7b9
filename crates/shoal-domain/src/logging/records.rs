//! The AWSIotLogsV2 record a device-facing event produces: the common attributes every entry
//! carries, then the event's own, in the order AWS writes them
//! (https://docs.aws.amazon.com/iot/latest/developerguide/cwl-format.html).

use super::levels::{EventType, LogLevel};
use crate::clock::Timestamp;

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

/// One log record before it is written; it borrows what it says (a busy connection makes one
/// per message, so nothing is copied until the JSON is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord<'a> {
    pub timestamp: Timestamp,
    pub level: LogLevel,
    /// 128 random bits, written as a version-4 UUID.
    pub trace_id: u128,
    pub event: EventType,
    /// None for an account's own event (a job's final count), which has no protocol.
    pub transport: Option<Transport>,
    /// None: `Success`; Some((reason, details)): `Failure` with AWS's reason code and its text.
    pub failure: Option<(&'a str, &'a str)>,
    pub topic: Option<&'a str>,
    /// The event's own attributes (`disconnectReason`, `thingName`, `jobId`...), in order.
    pub extra: Extra,
}

impl LogRecord<'_> {
    /// The record as the JSON message CloudWatch Logs would hold, written by hand: a busy
    /// connection writes one per message, so no map and no string per field.
    pub fn to_json(&self, origin: &Origin) -> String {
        let mut o = String::with_capacity(512);
        o.push_str("{\"timestamp\":\"");
        self.timestamp.write_log_format(&mut o);
        o.push_str("\",\"logLevel\":\"");
        o.push_str(self.level.as_str());
        o.push_str("\",\"traceId\":\"");
        write_uuid(&mut o, self.trace_id);
        o.push('"');
        field(&mut o, "accountId", &origin.account_id);
        let status = if self.failure.is_some() {
            "Failure"
        } else {
            "Success"
        };
        field(&mut o, "status", status);
        field(&mut o, "eventType", self.event.as_str());
        if let Some(t) = self.transport {
            field(&mut o, "protocol", t.as_str());
        }
        if let Some(t) = &self.topic {
            field(&mut o, "topicName", t);
        }
        if let Some(c) = &origin.client_id {
            field(&mut o, "clientId", c);
        }
        if let Some(p) = &origin.principal_id {
            field(&mut o, "principalId", p);
        }
        if let Some(ip) = &origin.source_ip {
            field(&mut o, "sourceIp", ip);
        }
        if let Some(port) = origin.source_port {
            use std::fmt::Write;
            let _ = write!(o, ",\"sourcePort\":{port}");
        }
        if let Some((reason, details)) = &self.failure {
            field(&mut o, "reason", reason);
            field(&mut o, "details", details);
        }
        for (k, v) in &self.extra {
            field(&mut o, k, v);
        }
        o.push('}');
        o
    }
}

/// `,"key":"value"` with the value escaped as JSON requires (runs without anything to escape,
/// nearly every value, are copied whole).
fn field(o: &mut String, key: &str, value: &str) {
    o.push_str(",\"");
    o.push_str(key);
    o.push_str("\":\"");
    let mut start = 0;
    for (i, b) in value.bytes().enumerate() {
        if b == b'"' || b == b'\\' || b < 0x20 {
            o.push_str(&value[start..i]);
            match b {
                b'"' => o.push_str("\\\""),
                b'\\' => o.push_str("\\\\"),
                _ => {
                    use std::fmt::Write;
                    let _ = write!(o, "\\u{b:04x}");
                }
            }
            start = i + 1;
        }
    }
    o.push_str(&value[start..]);
    o.push('"');
}

/// 128 bits as a lowercase version-4 UUID (8-4-4-4-12).
fn write_uuid(o: &mut String, bits: u128) {
    let b = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            o.push('-');
        }
        o.push(char::from(HEX[((b >> (124 - 4 * i)) & 0xf) as usize]));
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
