//! The rule actions Shoal runs, typed from the `Action` JSON (one member per action), and the
//! refusal of the others: an action Shoal does not run is refused when the rule is written,
//! never stored to be silently ignored (https://docs.aws.amazon.com/iot/latest/developerguide/iot-rule-actions.html).

use crate::error::{Result, ServiceError};
use serde_json::Value;

/// The action types Shoal runs, as the `Action` shape names them.
pub const SUPPORTED_ACTIONS: [&str; 4] = ["republish", "http", "s3", "cloudwatchLogs"];

/// One action of a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Republish(Republish),
    Http(HttpAction),
    S3(S3Action),
    CloudwatchLogs(LogsAction),
}

/// Republish to an MQTT topic (https://docs.aws.amazon.com/iot/latest/developerguide/republish-rule-action.html).
#[derive(Debug, Clone, PartialEq)]
pub struct Republish {
    /// A substitution template; `$$` stands for `$` in reserved topics.
    pub topic: String,
    /// 0 or 1 (AWS's default is 0).
    pub qos: u8,
    pub headers: Option<MqttHeaders>,
}

/// The MQTT 5 properties a republished message carries (MqttHeaders); each a substitution
/// template except the payload format.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MqttHeaders {
    pub payload_format_indicator: Option<PayloadFormat>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    /// Base64 of the bytes (after substitution).
    pub correlation_data: Option<String>,
    /// Seconds, as a template that must give a whole number.
    pub message_expiry: Option<String>,
    pub user_properties: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    Utf8,
    Bytes,
}

/// HTTPS (or HTTP) POST of the rule's output to a confirmed destination
/// (https://docs.aws.amazon.com/iot/latest/developerguide/https-rule-action.html).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAction {
    /// A substitution template.
    pub url: String,
    /// The destination's URL: `url` when not given; `url` must start with it (after substitution).
    pub confirmation_url: String,
    /// Header values are substitution templates.
    pub headers: Vec<(String, String)>,
}

/// PutObject into a bucket of Shoal's object store (https://docs.aws.amazon.com/iot/latest/developerguide/s3-rule-action.html).
#[derive(Debug, Clone, PartialEq)]
pub struct S3Action {
    pub bucket_name: String,
    /// A substitution template.
    pub key: String,
}

/// Log events into a log group of Shoal's log store (https://docs.aws.amazon.com/iot/latest/developerguide/cloudwatch-logs-rule-action.html).
#[derive(Debug, Clone, PartialEq)]
pub struct LogsAction {
    /// A substitution template.
    pub log_group_name: String,
    /// The output is a JSON array of `{"timestamp", "message"}` events rather than one event.
    pub batch_mode: bool,
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid(message)
}

fn string(o: &serde_json::Map<String, Value>, action: &str, field: &str) -> Result<String> {
    match o.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(invalid(format!("{action}.{field} is required")))
        }
        Some(_) => Err(invalid(format!("{action}.{field} must be a string"))),
    }
}

fn optional(
    o: &serde_json::Map<String, Value>,
    action: &str,
    field: &str,
) -> Result<Option<String>> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{action}.{field} must be a string"))),
    }
}

/// `[{key, value}]` lists (HeaderList, UserProperties).
fn pairs(v: Option<&Value>, what: &str, max: usize) -> Result<Vec<(String, String)>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or_else(|| invalid(format!("{what} must be a list")))?;
    if list.len() > max {
        return Err(invalid(format!("{what} can have at most {max} entries")));
    }
    list.iter()
        .map(|p| {
            let key = p.get("key").and_then(Value::as_str);
            let value = p.get("value").and_then(Value::as_str);
            match (key, value) {
                (Some(k), Some(v)) if !k.is_empty() && k.len() <= 256 => {
                    Ok((k.to_string(), v.to_string()))
                }
                _ => Err(invalid(format!(
                    "each entry of {what} needs a key (1 to 256 characters) and a value"
                ))),
            }
        })
        .collect()
}

/// Whether `roleArn` is present: the model requires it of these actions; Shoal has no IAM
/// and does not use it.
fn role(o: &serde_json::Map<String, Value>, action: &str) -> Result<()> {
    string(o, action, "roleArn").map(|_| ())
}

impl Action {
    /// Types one `Action` member list. Exactly one member must be set; a type Shoal does not
    /// run is refused by name.
    pub fn from_json(v: &Value) -> Result<Action> {
        let o = v
            .as_object()
            .ok_or_else(|| invalid("An action must be an object"))?;
        let set: Vec<(&String, &Value)> = o.iter().filter(|(_, v)| !v.is_null()).collect();
        let [(kind, body)] = set.as_slice() else {
            return Err(invalid("Each action must specify exactly one action type"));
        };
        let kind = kind.as_str();
        let Some(b) = body.as_object() else {
            return Err(invalid(format!("{kind} must be an object")));
        };
        match kind {
            "republish" => {
                role(b, kind)?;
                let topic = string(b, kind, "topic")?;
                let qos = match b.get("qos") {
                    None | Some(Value::Null) => 0,
                    Some(q) => match q.as_u64() {
                        Some(q @ 0..=1) => q as u8,
                        _ => return Err(invalid("republish.qos must be 0 or 1")),
                    },
                };
                let headers = match b.get("headers").filter(|h| !h.is_null()) {
                    None => None,
                    Some(h) => Some(headers(h)?),
                };
                Ok(Action::Republish(Republish {
                    topic,
                    qos,
                    headers,
                }))
            }
            "http" => {
                let url = string(b, kind, "url")?;
                if b.get("auth").is_some_and(|a| !a.is_null()) {
                    return Err(invalid(
                        "http.auth (SigV4 signing of the request) is not supported by Shoal",
                    ));
                }
                if b.get("enableBatching").and_then(Value::as_bool) == Some(true) {
                    return Err(invalid(
                        "http.enableBatching is not supported by Shoal",
                    ));
                }
                let confirmation_url = optional(b, kind, "confirmationUrl")?.unwrap_or_else(|| url.clone());
                if !confirmation_url.contains("${") {
                    check_url(&confirmation_url, "http.confirmationUrl")?;
                }
                if !url.contains("${") {
                    check_url(&url, "http.url")?;
                    if !confirmation_url.contains("${")
                        && !super::destination::under(&url, &confirmation_url)
                    {
                        return Err(invalid(
                            "http.url must start with http.confirmationUrl",
                        ));
                    }
                } else if b.get("confirmationUrl").is_none_or(|c| c.is_null()) {
                    // AWS: with a substitution template in the URL the confirmation URL must
                    // be given (https-rule-action.html).
                    return Err(invalid(
                        "http.confirmationUrl is required when http.url has a substitution template",
                    ));
                }
                let headers = pairs(b.get("headers"), "http.headers", 100)?;
                // The request's framing is Shoal's to write, not a rule's.
                if let Some((k, _)) = headers.iter().find(|(k, _)| {
                    ["host", "content-length", "transfer-encoding", "connection", "upgrade"]
                        .iter()
                        .any(|h| k.eq_ignore_ascii_case(h))
                }) {
                    return Err(invalid(format!("http.headers may not set {k}")));
                }
                Ok(Action::Http(HttpAction {
                    url,
                    confirmation_url,
                    headers,
                }))
            }
            "s3" => {
                role(b, kind)?;
                Ok(Action::S3(S3Action {
                    bucket_name: string(b, kind, "bucketName")?,
                    key: string(b, kind, "key")?,
                }))
            }
            "cloudwatchLogs" => {
                role(b, kind)?;
                let batch_mode = match b.get("batchMode") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(x)) => *x,
                    Some(_) => return Err(invalid("cloudwatchLogs.batchMode must be a boolean")),
                };
                Ok(Action::CloudwatchLogs(LogsAction {
                    log_group_name: string(b, kind, "logGroupName")?,
                    batch_mode,
                }))
            }
            "lambda" => Err(invalid(
                "Action type lambda is not supported by Shoal: it runs no Lambda functions; use an http action to call your function's endpoint",
            )),
            other => Err(invalid(format!(
                "Action type {other} is not supported by Shoal (supported: {})",
                SUPPORTED_ACTIONS.join(", ")
            ))),
        }
    }

    /// The `Action` member name.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Republish(_) => "republish",
            Action::Http(_) => "http",
            Action::S3(_) => "s3",
            Action::CloudwatchLogs(_) => "cloudwatchLogs",
        }
    }

    /// The substitution templates the action holds, for checking when the rule is written.
    pub fn templates(&self) -> Vec<&str> {
        match self {
            Action::Republish(r) => {
                let mut t = vec![r.topic.as_str()];
                if let Some(h) = &r.headers {
                    t.extend(h.content_type.as_deref());
                    t.extend(h.response_topic.as_deref());
                    t.extend(h.correlation_data.as_deref());
                    t.extend(h.message_expiry.as_deref());
                    for (k, v) in &h.user_properties {
                        t.push(k);
                        t.push(v);
                    }
                }
                t
            }
            Action::Http(h) => {
                let mut t = vec![h.url.as_str(), h.confirmation_url.as_str()];
                t.extend(h.headers.iter().map(|(_, v)| v.as_str()));
                t
            }
            Action::S3(s) => vec![s.key.as_str()],
            Action::CloudwatchLogs(l) => vec![l.log_group_name.as_str()],
        }
    }
}

fn headers(h: &Value) -> Result<MqttHeaders> {
    let o = h
        .as_object()
        .ok_or_else(|| invalid("republish.headers must be an object"))?;
    let what = "republish.headers";
    let payload_format_indicator = match optional(o, what, "payloadFormatIndicator")?.as_deref() {
        None => None,
        Some("UTF8_DATA") => Some(PayloadFormat::Utf8),
        Some("UNSPECIFIED_BYTES") => Some(PayloadFormat::Bytes),
        Some(_) => {
            return Err(invalid(
                "payloadFormatIndicator must be UTF8_DATA or UNSPECIFIED_BYTES",
            ))
        }
    };
    Ok(MqttHeaders {
        payload_format_indicator,
        content_type: optional(o, what, "contentType")?,
        response_topic: optional(o, what, "responseTopic")?,
        correlation_data: optional(o, what, "correlationData")?,
        message_expiry: optional(o, what, "messageExpiry")?,
        user_properties: pairs(
            o.get("userProperties"),
            "republish.headers.userProperties",
            100,
        )?,
    })
}

/// An `http://` or `https://` URL with a host and no user information (Url: at most 2,000
/// characters).
pub fn check_url(url: &str, field: &str) -> Result<()> {
    if url.len() > 2000 || super::destination::url_parts(url).is_none() {
        return Err(invalid(format!(
            "{field} must be an http(s) URL with a host (and no user information)"
        )));
    }
    Ok(())
}
