//! AWS IoT's logging settings: SetV2LoggingOptions, GetV2LoggingOptions, SetV2LoggingLevel,
//! ListV2LoggingLevels, DeleteV2LoggingLevel and the legacy Set/GetLoggingOptions
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_SetV2LoggingLevel.html and
//! siblings). The rules are the domain's (`shoal_domain::logging`); the records the
//! services' (`shoal_services::logging`).

use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::logging::{
    not_configured, EventConfiguration, EventType, LogLevel, LogTarget, TargetType, V1Options,
    V2Options,
};
use shoal_domain::Partition;
use shoal_services::logging::LogLevels;

type R = Result<Value, ApiError>;

#[derive(Debug)]
pub enum Route {
    SetV2LoggingOptions,
    GetV2LoggingOptions { query: Query },
    SetV2LoggingLevel,
    ListV2LoggingLevels { query: Query },
    DeleteV2LoggingLevel { query: Query },
    SetLoggingOptions,
    GetLoggingOptions,
}

impl Route {
    /// The route of `method` and `segs` if it is a logging operation.
    pub fn parse(method: &str, segs: &[&str], raw_query: &str) -> Option<Result<Route, ApiError>> {
        use Route as L;
        let q = || Query::parse(raw_query);
        Some(match (method, segs) {
            ("POST", ["v2LoggingOptions"]) => Ok(L::SetV2LoggingOptions),
            ("GET", ["v2LoggingOptions"]) => q().map(|query| L::GetV2LoggingOptions { query }),
            ("POST", ["v2LoggingLevel"]) => Ok(L::SetV2LoggingLevel),
            ("GET", ["v2LoggingLevel"]) => q().map(|query| L::ListV2LoggingLevels { query }),
            ("DELETE", ["v2LoggingLevel"]) => q().map(|query| L::DeleteV2LoggingLevel { query }),
            ("POST", ["loggingOptions"]) => Ok(L::SetLoggingOptions),
            ("GET", ["loggingOptions"]) => Ok(L::GetLoggingOptions),
            _ => return None,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventIn {
    event_type: Option<String>,
    log_level: Option<String>,
    log_destination: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OptionsIn {
    role_arn: Option<String>,
    default_log_level: Option<String>,
    disable_all_logs: Option<bool>,
    event_configurations: Option<Vec<EventIn>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetIn {
    target_type: Option<String>,
    target_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LevelIn {
    log_target: Option<TargetIn>,
    log_level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1In {
    role_arn: Option<String>,
    log_level: Option<String>,
}

fn level(field: &str, s: Option<&str>) -> Result<Option<LogLevel>, ApiError> {
    Ok(s.map(|s| LogLevel::parse(field, s)).transpose()?)
}

/// The log group pattern of `logDestination` (the model's `LogDestination`).
fn check_destination(d: &str) -> Result<(), ApiError> {
    let ok = (1..=512).contains(&d.len())
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_/#".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("Invalid logDestination: {d}")))
    }
}

fn target_json(t: &LogTarget) -> Value {
    let mut v = json!({ "targetType": t.kind.as_str() });
    if let Some(n) = &t.name {
        v["targetName"] = n.clone().into();
    }
    v
}

pub async fn handle(levels: &LogLevels, part: &Partition, route: Route, body: &[u8]) -> R {
    use Route as L;
    match route {
        L::SetV2LoggingOptions => {
            let i: OptionsIn = json::parse(body)?;
            let mut events = Vec::new();
            for e in i.event_configurations.unwrap_or_default() {
                let event_type = e
                    .event_type
                    .ok_or_else(|| ApiError::invalid("eventType is required"))?;
                if let Some(d) = &e.log_destination {
                    check_destination(d)?;
                }
                events.push(EventConfiguration {
                    event_type,
                    log_level: level(
                        "eventConfigurations.member.logLevel",
                        e.log_level.as_deref(),
                    )?,
                    log_destination: e.log_destination,
                });
            }
            let options = V2Options {
                role_arn: i.role_arn,
                default_level: level("defaultLogLevel", i.default_log_level.as_deref())?,
                disable_all: i.disable_all_logs.unwrap_or(false),
                events,
            };
            levels.set_options(part, options).await?;
            Ok(json!({}))
        }
        L::GetV2LoggingOptions { query } => {
            let o = levels.options(part)?;
            let verbose = query.bool("verbose")?.unwrap_or(false);
            let mut v = json!({ "disableAllLogs": o.disable_all });
            if let Some(r) = &o.role_arn {
                v["roleArn"] = r.clone().into();
            }
            if let Some(l) = o.default_level {
                v["defaultLogLevel"] = l.as_str().into();
            }
            // verbose: every event type event-based logging supports, configured or not.
            let events: Vec<Value> = if verbose {
                EventType::ALL
                    .iter()
                    .map(|t| {
                        let set = o.events.iter().find(|e| e.event_type == t.as_str());
                        event_json(t.as_str(), set)
                    })
                    .collect()
            } else {
                o.events
                    .iter()
                    .map(|e| event_json(&e.event_type, Some(e)))
                    .collect()
            };
            if !events.is_empty() {
                v["eventConfigurations"] = Value::Array(events);
            }
            Ok(v)
        }
        L::SetV2LoggingLevel => {
            let i: LevelIn = json::parse(body)?;
            let t = i
                .log_target
                .ok_or_else(|| ApiError::invalid("logTarget is required"))?;
            let kind = TargetType::parse(
                "logTarget.targetType",
                t.target_type
                    .as_deref()
                    .ok_or_else(|| ApiError::invalid("logTarget.targetType is required"))?,
            )?;
            let l = level("logLevel", i.log_level.as_deref())?
                .ok_or_else(|| ApiError::invalid("logLevel is required"))?;
            // AWS answers NotConfiguredException until SetV2LoggingOptions was called.
            let mut options = levels.options(part)?;
            if kind == TargetType::Default {
                // The DEFAULT target is the options' default level (ListV2LoggingLevels shows
                // it as such).
                options.default_level = Some(l);
                levels.set_options(part, options).await?;
                return Ok(json!({}));
            }
            let target = LogTarget::new(kind, t.target_name)?;
            levels.set_level(part, target, l).await?;
            Ok(json!({}))
        }
        L::ListV2LoggingLevels { query } => {
            let kind = query
                .get("targetType")
                .map(|t| TargetType::parse("targetType", t))
                .transpose()?;
            let max = match query.int("maxResults")? {
                None => 250,
                Some(n @ 1..=250) => n as usize,
                Some(n) => {
                    return Err(ApiError::invalid(format!(
                        "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 250"
                    )))
                }
            };
            let Ok(options) = levels.options(part) else {
                return Err(not_configured().into());
            };
            // The first page starts with the DEFAULT target: the options' default level, as
            // AWS lists it.
            let token = query.get("nextToken");
            let default = options
                .default_level
                .filter(|_| token.is_none() && kind.is_none_or(|k| k == TargetType::Default));
            let named = kind.filter(|k| *k == TargetType::Default).is_none();
            let room = max - usize::from(default.is_some());
            let (items, next) = match (named, room) {
                (true, 1..) => levels.list_levels(part, kind, room, token)?,
                // A page the DEFAULT entry fills: the named targets follow on the next one.
                (true, 0) => (Vec::new(), Some(shoal_domain::page::encode_token("\0"))),
                (false, _) => (Vec::new(), None),
            };
            let mut configs: Vec<Value> = Vec::with_capacity(items.len() + 1);
            if let Some(l) = default {
                configs.push(
                    json!({ "logTarget": { "targetType": "DEFAULT" }, "logLevel": l.as_str() }),
                );
            }
            configs.extend(items.iter().map(
                |t| json!({ "logTarget": target_json(&t.target), "logLevel": t.level.as_str() }),
            ));
            let mut v = json!({ "logTargetConfigurations": configs });
            if let Some(n) = next {
                v["nextToken"] = n.into();
            }
            Ok(v)
        }
        L::DeleteV2LoggingLevel { query } => {
            let kind = TargetType::parse(
                "targetType",
                query
                    .get("targetType")
                    .ok_or_else(|| ApiError::invalid("targetType is required"))?,
            )?;
            let name = query
                .get("targetName")
                .ok_or_else(|| ApiError::invalid("targetName is required"))?;
            let target = LogTarget::new(kind, Some(name.to_string()))?;
            levels.delete_level(part, &target).await?;
            Ok(json!({}))
        }
        L::SetLoggingOptions => {
            let i: V1In = json::parse(body)?;
            let role_arn = i
                .role_arn
                .ok_or_else(|| ApiError::invalid("roleArn is required"))?;
            let l = level("logLevel", i.log_level.as_deref())?;
            levels
                .set_v1(part, V1Options { role_arn, level: l })
                .await?;
            Ok(json!({}))
        }
        L::GetLoggingOptions => {
            let mut v = json!({});
            if let Some(o) = levels.v1(part)? {
                v["roleArn"] = o.role_arn.into();
                if let Some(l) = o.level {
                    v["logLevel"] = l.as_str().into();
                }
            }
            Ok(v)
        }
    }
}

fn event_json(event_type: &str, set: Option<&EventConfiguration>) -> Value {
    let mut v = json!({ "eventType": event_type });
    if let Some(e) = set {
        if let Some(l) = e.log_level {
            v["logLevel"] = l.as_str().into();
        }
        if let Some(d) = &e.log_destination {
            v["logDestination"] = d.clone().into();
        }
    }
    v
}
