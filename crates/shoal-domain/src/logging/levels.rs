//! Levels, targets, options and the precedence that decides a device's level.

use crate::error::{ErrorKind, Result, ServiceError};
use crate::ids::validation_error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A log level, ordered from quietest to most verbose, so "a record at `r` is kept under the
/// level `l`" is `r <= l` (and nothing is kept under DISABLED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Disabled,
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub const NAMES: &'static str = "DEBUG, INFO, ERROR, WARN, DISABLED";

    pub fn parse(field: &str, s: &str) -> Result<LogLevel> {
        Ok(match s {
            "DEBUG" => LogLevel::Debug,
            "INFO" => LogLevel::Info,
            "WARN" => LogLevel::Warn,
            "ERROR" => LogLevel::Error,
            "DISABLED" => LogLevel::Disabled,
            _ => {
                return Err(validation_error(
                    field,
                    s,
                    &format!("Member must satisfy enum value set: [{}]", Self::NAMES),
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Disabled => "DISABLED",
        }
    }

    /// Whether a record of level `record` is kept under this level.
    pub fn keeps(self, record: LogLevel) -> bool {
        record != LogLevel::Disabled && record <= self
    }
}

/// What a logging level is set for (the model's `LogTargetType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetType {
    Default,
    ThingGroup,
    ClientId,
    SourceIp,
    PrincipalId,
}

impl TargetType {
    pub const NAMES: &'static str = "DEFAULT, THING_GROUP, CLIENT_ID, SOURCE_IP, PRINCIPAL_ID";
    pub const ALL: [TargetType; 5] = [
        TargetType::Default,
        TargetType::ThingGroup,
        TargetType::ClientId,
        TargetType::SourceIp,
        TargetType::PrincipalId,
    ];

    pub fn parse(field: &str, s: &str) -> Result<TargetType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                validation_error(
                    field,
                    s,
                    &format!("Member must satisfy enum value set: [{}]", Self::NAMES),
                )
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Default => "DEFAULT",
            TargetType::ThingGroup => "THING_GROUP",
            TargetType::ClientId => "CLIENT_ID",
            TargetType::SourceIp => "SOURCE_IP",
            TargetType::PrincipalId => "PRINCIPAL_ID",
        }
    }
}

/// A target: its type and, except for DEFAULT, its name (a thing group's name, a client id, an
/// IP address, a principal: a certificate id or a Cognito identity).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogTarget {
    pub kind: TargetType,
    pub name: Option<String>,
}

impl LogTarget {
    /// A target as SetV2LoggingLevel and DeleteV2LoggingLevel take it: a named type needs its
    /// name, DEFAULT is set through SetV2LoggingOptions' defaultLogLevel.
    pub fn new(kind: TargetType, name: Option<String>) -> Result<LogTarget> {
        let name = name.filter(|n| !n.is_empty());
        match (kind, &name) {
            (TargetType::Default, _) => Err(ServiceError::invalid(
                "The DEFAULT log level is set with SetV2LoggingOptions' defaultLogLevel",
            )),
            (_, None) => Err(ServiceError::invalid(format!(
                "A targetName is required for the target type {}",
                kind.as_str()
            ))),
            (TargetType::SourceIp, Some(n)) if n.parse::<std::net::IpAddr>().is_err() => Err(
                ServiceError::invalid(format!("{n} is not a valid IP address")),
            ),
            (_, Some(n)) if n.len() > 256 => Err(validation_error(
                "logTarget.targetName",
                n,
                "Member must have length less than or equal to 256",
            )),
            _ => Ok(LogTarget { kind, name }),
        }
    }

    /// The record key: type and name.
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.kind.as_str(),
            self.name.as_deref().unwrap_or("")
        )
    }
}

/// AWS's quota on resource-specific logging levels per account and region.
pub const MAX_LOG_TARGETS: usize = 1000;

/// The kinds of device-facing events Shoal writes records for: AWS's `eventType` values, as
/// its log entries spell them (`GetPendingJobExecution` is singular there; fleet provisioning's
/// certificate requests are `GetDeviceCredentials` and RegisterThing `ProvisionDevice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    Connect,
    Disconnect,
    PublishIn,
    PublishOut,
    Subscribe,
    Unsubscribe,
    GetThingShadow,
    UpdateThingShadow,
    DeleteThingShadow,
    GetRetainedMessage,
    ListRetainedMessage,
    DescribeJobExecution,
    GetPendingJobExecution,
    StartNextPendingJobExecution,
    UpdateJobExecution,
    ReportFinalJobExecutionCount,
    GetDeviceCredentials,
    ProvisionDevice,
}

impl EventType {
    pub const COUNT: usize = 18;
    pub const ALL: [EventType; Self::COUNT] = [
        EventType::Connect,
        EventType::Disconnect,
        EventType::PublishIn,
        EventType::PublishOut,
        EventType::Subscribe,
        EventType::Unsubscribe,
        EventType::GetThingShadow,
        EventType::UpdateThingShadow,
        EventType::DeleteThingShadow,
        EventType::GetRetainedMessage,
        EventType::ListRetainedMessage,
        EventType::DescribeJobExecution,
        EventType::GetPendingJobExecution,
        EventType::StartNextPendingJobExecution,
        EventType::UpdateJobExecution,
        EventType::ReportFinalJobExecutionCount,
        EventType::GetDeviceCredentials,
        EventType::ProvisionDevice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Connect => "Connect",
            EventType::Disconnect => "Disconnect",
            EventType::PublishIn => "Publish-In",
            EventType::PublishOut => "Publish-Out",
            EventType::Subscribe => "Subscribe",
            EventType::Unsubscribe => "Unsubscribe",
            EventType::GetThingShadow => "GetThingShadow",
            EventType::UpdateThingShadow => "UpdateThingShadow",
            EventType::DeleteThingShadow => "DeleteThingShadow",
            EventType::GetRetainedMessage => "GetRetainedMessage",
            EventType::ListRetainedMessage => "ListRetainedMessage",
            EventType::DescribeJobExecution => "DescribeJobExecution",
            EventType::GetPendingJobExecution => "GetPendingJobExecution",
            EventType::StartNextPendingJobExecution => "StartNextPendingJobExecution",
            EventType::UpdateJobExecution => "UpdateJobExecution",
            EventType::ReportFinalJobExecutionCount => "ReportFinalJobExecutionCount",
            EventType::GetDeviceCredentials => "GetDeviceCredentials",
            EventType::ProvisionDevice => "ProvisionDevice",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// One entry of SetV2LoggingOptions' `eventConfigurations`: a level (and log group) for one
/// event type that replaces the resolved level for that type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventConfiguration {
    pub event_type: String,
    pub log_level: Option<LogLevel>,
    pub log_destination: Option<String>,
}

/// SetV2LoggingOptions' settings for an account and region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V2Options {
    pub role_arn: Option<String>,
    pub default_level: Option<LogLevel>,
    pub disable_all: bool,
    #[serde(default)]
    pub events: Vec<EventConfiguration>,
}

/// The legacy SetLoggingOptions settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Options {
    pub role_arn: String,
    pub level: Option<LogLevel>,
}

impl V2Options {
    /// Checks the event configurations: known event types, each at most once.
    pub fn validate(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for e in &self.events {
            if EventType::parse(&e.event_type).is_none() {
                return Err(ServiceError::invalid(format!(
                    "Invalid eventType: {}",
                    e.event_type
                )));
            }
            if !seen.insert(e.event_type.as_str()) {
                return Err(ServiceError::invalid(format!(
                    "Duplicate eventType: {}",
                    e.event_type
                )));
            }
        }
        Ok(())
    }
}

/// What identifies a device to the targets: its client id, address, principal and its thing's
/// groups, each with its depth in the hierarchy (0 for a root group).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceFacts<'a> {
    pub client_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub principal_id: Option<&'a str>,
    pub groups: &'a [(usize, &'a str)],
}

/// The level of each event type for one device: what the records it causes are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels([LogLevel; EventType::COUNT]);

impl Levels {
    pub const OFF: Levels = Levels([LogLevel::Disabled; EventType::COUNT]);

    pub fn of(&self, e: EventType) -> LogLevel {
        self.0[e as usize]
    }

    /// Whether a record of `event` at `level` is kept: one comparison.
    pub fn keeps(&self, event: EventType, level: LogLevel) -> bool {
        self.0[event as usize].keeps(level)
    }

    pub fn is_off(&self) -> bool {
        *self == Self::OFF
    }
}

/// The account's logging configuration: its options and every target's level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoggingConfig {
    pub options: Option<V2Options>,
    pub targets: BTreeMap<LogTarget, LogLevel>,
}

impl LoggingConfig {
    /// Whether any target of this type is set (a device's groups are looked up only then).
    pub fn has(&self, kind: TargetType) -> bool {
        self.targets.keys().any(|t| t.kind == kind)
    }

    fn level(&self, kind: TargetType, name: Option<&str>) -> Option<LogLevel> {
        let name = name?;
        self.targets
            .get(&LogTarget {
                kind,
                name: Some(name.to_string()),
            })
            .copied()
    }

    /// The level a device's records are kept at. Without options nothing is logged; with
    /// `disableAllLogs` nothing either. Otherwise the most specific target decides, in AWS's
    /// order (client id, source IP, principal, the deepest of the thing's groups, then the
    /// default level), and an event configuration's level replaces that for its event type.
    pub fn levels(&self, device: &DeviceFacts<'_>) -> Levels {
        let Some(o) = &self.options else {
            return Levels::OFF;
        };
        if o.disable_all {
            return Levels::OFF;
        }
        let group = || {
            let mut best: Option<(usize, LogLevel)> = None;
            for &(depth, g) in device.groups {
                if let Some(l) = self.level(TargetType::ThingGroup, Some(g)) {
                    if best.is_none_or(|(d, _)| depth > d) {
                        best = Some((depth, l));
                    }
                }
            }
            best.map(|(_, l)| l)
        };
        let level = self
            .level(TargetType::ClientId, device.client_id)
            .or_else(|| self.level(TargetType::SourceIp, device.source_ip))
            .or_else(|| self.level(TargetType::PrincipalId, device.principal_id))
            .or_else(group)
            .or(o.default_level)
            .unwrap_or(LogLevel::Disabled);
        let mut levels = [level; EventType::COUNT];
        for e in &o.events {
            if let (Some(t), Some(l)) = (EventType::parse(&e.event_type), e.log_level) {
                levels[t as usize] = l;
            }
        }
        Levels(levels)
    }
}

/// NotConfiguredException: GetV2LoggingOptions (and level changes) before any options were set.
pub fn not_configured() -> ServiceError {
    ServiceError::new(
        ErrorKind::NotConfigured,
        "Logging options are not configured",
    )
}
