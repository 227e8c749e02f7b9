//! The rules engine's operations: topic rules, topic rule destinations and their confirmation
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateTopicRule.html and siblings),
//! and the rule tester, Shoal's extension (`POST /shoal/rules/test`, docs/compatibility.md).

use super::shapes::{epoch, with_token};
use crate::error::ApiError;
use crate::json;
use crate::request::{decode, Query};
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::page::max_results;
use shoal_domain::rules::{Destination, DestinationStatus, TopicRule, TopicRulePayload};
use shoal_domain::{Partition, Timestamp};
use shoal_services::Rules;

type R = Result<Value, ApiError>;

#[derive(Debug)]
pub enum Route {
    CreateTopicRule {
        name: String,
    },
    GetTopicRule {
        name: String,
    },
    ReplaceTopicRule {
        name: String,
    },
    DeleteTopicRule {
        name: String,
    },
    EnableTopicRule {
        name: String,
    },
    DisableTopicRule {
        name: String,
    },
    ListTopicRules {
        query: Query,
    },
    CreateTopicRuleDestination,
    GetTopicRuleDestination {
        arn: String,
    },
    UpdateTopicRuleDestination,
    DeleteTopicRuleDestination {
        arn: String,
    },
    ListTopicRuleDestinations {
        query: Query,
    },
    ConfirmTopicRuleDestination {
        token: String,
    },
    /// Shoal's rule tester.
    TestTopicRule,
}

/// `{arn+}` and `{confirmationToken+}`: the rest of the path, each segment decoded.
fn greedy(segs: &[&str]) -> Result<String, ApiError> {
    let parts: Result<Vec<String>, ApiError> = segs.iter().map(|s| decode(s)).collect();
    Ok(parts?.join("/"))
}

impl Route {
    /// The route of `method` and `segs` if it is a rules operation.
    pub fn parse(method: &str, segs: &[&str], raw_query: &str) -> Option<Result<Route, ApiError>> {
        use Route as T;
        let q = || Query::parse(raw_query);
        let name = |n: &str, f: fn(String) -> Route| Some(decode(n).map(f));
        match (method, segs) {
            ("GET", ["rules"]) => Some(q().map(|query| T::ListTopicRules { query })),
            ("POST", ["rules", n]) => name(n, |name| T::CreateTopicRule { name }),
            ("GET", ["rules", n]) => name(n, |name| T::GetTopicRule { name }),
            ("PATCH", ["rules", n]) => name(n, |name| T::ReplaceTopicRule { name }),
            ("DELETE", ["rules", n]) => name(n, |name| T::DeleteTopicRule { name }),
            ("POST", ["rules", n, "enable"]) => name(n, |name| T::EnableTopicRule { name }),
            ("POST", ["rules", n, "disable"]) => name(n, |name| T::DisableTopicRule { name }),
            ("POST", ["destinations"]) => Some(Ok(T::CreateTopicRuleDestination)),
            ("PATCH", ["destinations"]) => Some(Ok(T::UpdateTopicRuleDestination)),
            ("GET", ["destinations"]) => {
                Some(q().map(|query| T::ListTopicRuleDestinations { query }))
            }
            ("GET", ["destinations", rest @ ..]) => {
                Some(greedy(rest).map(|arn| T::GetTopicRuleDestination { arn }))
            }
            ("DELETE", ["destinations", rest @ ..]) => {
                Some(greedy(rest).map(|arn| T::DeleteTopicRuleDestination { arn }))
            }
            ("GET", ["confirmdestination", rest @ ..]) if !rest.is_empty() => {
                Some(greedy(rest).map(|token| T::ConfirmTopicRuleDestination { token }))
            }
            ("POST", ["shoal", "rules", "test"]) => Some(Ok(T::TestTopicRule)),
            _ => None,
        }
    }
}

fn payload(body: &[u8]) -> Result<TopicRulePayload, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("topicRulePayload is required"));
    }
    json::parse(body)
}

fn rule_json(part: &Partition, r: &TopicRule) -> Value {
    let mut rule = json!({
        "ruleName": r.name.as_str(),
        "sql": r.sql,
        "createdAt": epoch(Timestamp(r.created_at)),
        "actions": r.actions,
        "ruleDisabled": r.disabled,
        "awsIotSqlVersion": r.sql_version.as_deref().unwrap_or("2015-10-08"),
    });
    if let Some(d) = &r.description {
        rule["description"] = d.as_str().into();
    }
    if let Some(e) = &r.error_action {
        rule["errorAction"] = e.clone();
    }
    json!({ "ruleArn": part.arn("rule", r.name.as_str()), "rule": rule })
}

fn destination_json(d: &Destination, summary: bool) -> Value {
    let mut v = json!({
        "arn": d.arn,
        "status": d.status.as_str(),
        "createdAt": epoch(Timestamp(d.created_at)),
        "lastUpdatedAt": epoch(Timestamp(d.last_updated_at)),
    });
    if let Some(r) = &d.status_reason {
        v["statusReason"] = r.as_str().into();
    }
    let key = if summary {
        "httpUrlSummary"
    } else {
        "httpUrlProperties"
    };
    v[key] = json!({ "confirmationUrl": d.confirmation_url });
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DestinationIn {
    destination_configuration: Option<ConfigurationIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigurationIn {
    http_url_configuration: Option<HttpUrlIn>,
    vpc_configuration: Option<Value>,
    #[serde(rename = "influxDBConfiguration")]
    influx_db_configuration: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpUrlIn {
    confirmation_url: Option<String>,
}

#[derive(Deserialize)]
struct UpdateIn {
    arn: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestIn {
    /// A stored rule to test, or `sql` (with `actions`).
    rule_name: Option<String>,
    sql: Option<String>,
    aws_iot_sql_version: Option<String>,
    #[serde(default)]
    actions: Vec<Value>,
    topic: Option<String>,
    /// The payload as text (usually JSON), or `payloadBase64` for binary.
    payload: Option<Value>,
    payload_base64: Option<String>,
    client_id: Option<String>,
}

pub async fn handle(
    rules: &std::sync::Arc<Rules>,
    part: &Partition,
    route: Route,
    body: &[u8],
) -> R {
    use Route as T;
    match route {
        T::CreateTopicRule { name } => {
            rules.create(part, &name, payload(body)?).await?;
            Ok(json!({}))
        }
        T::GetTopicRule { name } => Ok(rule_json(part, &rules.get(part, &name)?)),
        T::ReplaceTopicRule { name } => {
            rules.replace(part, &name, payload(body)?).await?;
            Ok(json!({}))
        }
        T::DeleteTopicRule { name } => {
            rules.delete(part, &name).await?;
            Ok(json!({}))
        }
        T::EnableTopicRule { name } => {
            rules.set_disabled(part, &name, false).await?;
            Ok(json!({}))
        }
        T::DisableTopicRule { name } => {
            rules.set_disabled(part, &name, true).await?;
            Ok(json!({}))
        }
        T::ListTopicRules { query } => {
            let max = max_results("maxResults", query.int("maxResults")?, 10_000)?;
            let (page, next) = rules.list(
                part,
                query.get("topic"),
                query.bool("ruleDisabled")?,
                max,
                query.get("nextToken"),
            )?;
            let items: Vec<Value> = page
                .iter()
                .map(|r| {
                    json!({
                        "ruleArn": part.arn("rule", &r.name),
                        "ruleName": r.name,
                        "topicPattern": r.topic_pattern,
                        "createdAt": epoch(Timestamp(r.created_at)),
                        "ruleDisabled": r.disabled,
                    })
                })
                .collect();
            Ok(with_token(json!({ "rules": items }), next))
        }
        T::CreateTopicRuleDestination => {
            let i: DestinationIn = json::parse(body)?;
            let c = i
                .destination_configuration
                .ok_or_else(|| ApiError::invalid("destinationConfiguration is required"))?;
            if c.vpc_configuration.is_some() || c.influx_db_configuration.is_some() {
                return Err(ApiError::invalid(
                    "Only httpUrlConfiguration destinations are supported by Shoal",
                ));
            }
            let url = c
                .http_url_configuration
                .and_then(|h| h.confirmation_url)
                .ok_or_else(|| {
                    ApiError::invalid("httpUrlConfiguration.confirmationUrl is required")
                })?;
            let d = rules.create_destination(part, &url).await?;
            Ok(json!({ "topicRuleDestination": destination_json(&d, false) }))
        }
        T::GetTopicRuleDestination { arn } => Ok(json!({
            "topicRuleDestination": destination_json(&rules.get_destination(part, &arn)?, false)
        })),
        T::UpdateTopicRuleDestination => {
            let i: UpdateIn = json::parse(body)?;
            let arn = i.arn.ok_or_else(|| ApiError::invalid("arn is required"))?;
            let status = i
                .status
                .ok_or_else(|| ApiError::invalid("status is required"))?;
            let status = DestinationStatus::parse(&status)?;
            rules.update_destination(part, &arn, status).await?;
            Ok(json!({}))
        }
        T::DeleteTopicRuleDestination { arn } => {
            rules.delete_destination(part, &arn).await?;
            Ok(json!({}))
        }
        T::ListTopicRuleDestinations { query } => {
            let max = max_results("maxResults", query.int("maxResults")?, 1000)?;
            let (page, next) = rules.list_destinations(part, max, query.get("nextToken"))?;
            let items: Vec<Value> = page.iter().map(|d| destination_json(d, true)).collect();
            Ok(with_token(json!({ "destinationSummaries": items }), next))
        }
        T::ConfirmTopicRuleDestination { token } => {
            rules.confirm_destination(Some(part), &token).await?;
            Ok(json!({}))
        }
        T::TestTopicRule => test(rules, part, body),
    }
}

fn test(rules: &std::sync::Arc<Rules>, part: &Partition, body: &[u8]) -> R {
    use base64::Engine;
    let i: TestIn = json::parse(body)?;
    let (sql, version, actions) = match (&i.rule_name, i.sql) {
        (Some(n), None) => {
            let r = rules.get(part, n)?;
            (r.sql, r.sql_version, r.actions)
        }
        (None, Some(sql)) => (sql, i.aws_iot_sql_version, i.actions),
        _ => return Err(ApiError::invalid("Give either ruleName or sql")),
    };
    let topic = i
        .topic
        .ok_or_else(|| ApiError::invalid("topic is required"))?;
    let payload: Vec<u8> = match (i.payload, i.payload_base64) {
        (Some(Value::String(s)), None) => s.into_bytes(),
        (Some(v), None) => v.to_string().into_bytes(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b.as_bytes())
            .map_err(|_| ApiError::invalid("payloadBase64 is not base64"))?,
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => return Err(ApiError::invalid("Give payload or payloadBase64")),
    };
    let t = rules.test_rule(
        part,
        &sql,
        version.as_deref(),
        &actions,
        &topic,
        &payload,
        i.client_id.as_deref(),
    )?;
    let mut v = json!({ "matched": t.matched });
    if let Some(o) = &t.output {
        if let Value::Object(m) = shoal_services::rules::output_json(o) {
            for (k, x) in m {
                v[k] = x;
            }
        }
    }
    v["actions"] = t
        .actions
        .iter()
        .map(|a| {
            let mut x = json!({ "action": a.kind, "target": a.target });
            if let Some(e) = &a.error {
                x["error"] = e.as_str().into();
            }
            x
        })
        .collect();
    Ok(v)
}
