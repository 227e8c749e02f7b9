//! The rules engine's definitions, pure: a topic rule's name and payload (TopicRulePayload,
//! checked against the `iot` model and AWS's quotas), the actions Shoal runs, typed, and the
//! refusal of every action type it does not run (https://docs.aws.amazon.com/iot/latest/developerguide/iot-rules.html).
//! Topic rule destinations and their confirmation are in `destination.rs`. The SQL itself is
//! `shoal-iotsql`'s; the services compile it.

mod action;
mod destination;

pub use action::{
    check_url, Action, HttpAction, LogsAction, MqttHeaders, PayloadFormat, Republish, S3Action,
    SUPPORTED_ACTIONS,
};
pub use destination::{under, url_parts, Destination, DestinationStatus, MAX_DESTINATIONS};

use crate::error::{Result, ServiceError};
use crate::ids::check;
use serde::{Deserialize, Serialize};

/// "Maximum number of actions per rule: 10"
/// (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#rules-limits).
pub const MAX_ACTIONS: usize = 10;
/// "Maximum number of rules per account: 1,000" (the same page).
pub const MAX_RULES: usize = 1000;
/// Rule descriptions are at most this long (AWS documents no limit; the console allows 1 KB,
/// Shoal keeps the record bounded).
pub const MAX_DESCRIPTION: usize = 1024;

/// A topic rule's name (RuleName: `^[a-zA-Z0-9_]+$`, 1 to 128).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuleName(String);

impl RuleName {
    pub fn parse(s: &str) -> Result<RuleName> {
        check("ruleName", s, 1, 128, "^[a-zA-Z0-9_]+$", |c| {
            c.is_ascii_alphanumeric() || c == '_'
        })?;
        Ok(RuleName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RuleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A rule as stored: the payload as the user gave it (actions kept as their JSON, which
/// GetTopicRule returns), checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicRule {
    pub name: RuleName,
    pub sql: String,
    #[serde(default)]
    pub description: Option<String>,
    pub actions: Vec<serde_json::Value>,
    #[serde(default)]
    pub error_action: Option<serde_json::Value>,
    pub disabled: bool,
    /// `awsIotSqlVersion` as given; `None` means AWS's default, 2015-10-08.
    #[serde(default)]
    pub sql_version: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
}

impl TopicRule {
    /// The actions, typed (every stored rule's actions were checked when it was written).
    pub fn typed_actions(&self) -> Result<Vec<Action>> {
        self.actions.iter().map(Action::from_json).collect()
    }

    pub fn typed_error_action(&self) -> Result<Option<Action>> {
        self.error_action
            .as_ref()
            .map(Action::from_json)
            .transpose()
    }
}

/// The body of CreateTopicRule and ReplaceTopicRule (TopicRulePayload).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRulePayload {
    pub sql: Option<String>,
    pub description: Option<String>,
    pub actions: Option<Vec<serde_json::Value>>,
    pub rule_disabled: Option<bool>,
    pub aws_iot_sql_version: Option<String>,
    pub error_action: Option<serde_json::Value>,
}

impl TopicRulePayload {
    /// Checks the fields the model requires and the actions (each of a type Shoal runs, with
    /// its required members), and makes the rule. The SQL is checked by the caller.
    pub fn into_rule(self, name: RuleName, created_at: i64) -> Result<TopicRule> {
        let sql = self
            .sql
            .ok_or_else(|| ServiceError::invalid("1 validation error detected: Value null at 'topicRulePayload.sql' failed to satisfy constraint: Member must not be null"))?;
        let actions = self
            .actions
            .ok_or_else(|| ServiceError::invalid("1 validation error detected: Value null at 'topicRulePayload.actions' failed to satisfy constraint: Member must not be null"))?;
        if actions.len() > MAX_ACTIONS {
            return Err(ServiceError::invalid(format!(
                "A rule can have at most {MAX_ACTIONS} actions"
            )));
        }
        for a in &actions {
            Action::from_json(a)?;
        }
        if let Some(e) = &self.error_action {
            Action::from_json(e)?;
        }
        if let Some(v) = &self.aws_iot_sql_version {
            if !matches!(v.as_str(), "2015-10-08" | "2016-03-23" | "beta") {
                return Err(ServiceError::invalid(format!(
                    "Invalid SQL version {v}: use 2015-10-08, 2016-03-23 or beta"
                )));
            }
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_DESCRIPTION)
        {
            return Err(ServiceError::invalid(format!(
                "description must be at most {MAX_DESCRIPTION} bytes"
            )));
        }
        Ok(TopicRule {
            name,
            sql,
            description: self.description,
            actions,
            error_action: self.error_action,
            disabled: self.rule_disabled.unwrap_or(false),
            sql_version: self.aws_iot_sql_version,
            created_at,
        })
    }
}

/// A message's topic under Basic Ingest: `$aws/rules/RULE[/...]` names the rule and only that
/// rule sees it, as the rest of the topic (https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html).
/// `None` when the topic is not a Basic Ingest topic or names no valid rule.
pub fn basic_ingest(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix("$aws/rules/")?;
    let (rule, tail) = match rest.split_once('/') {
        Some((r, t)) => (r, t),
        None => (rest, ""),
    };
    if rule.is_empty()
        || rule.len() > 128
        || !rule.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    Some((rule, tail))
}

#[cfg(test)]
mod tests;
