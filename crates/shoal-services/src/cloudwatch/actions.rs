//! Alarm actions. CloudWatch notifies SNS topics; Shoal delivers the same notification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-sns-notifications.html>
//! shows its fields) to an MQTT topic or a webhook:
//! - `arn:aws:iot:REGION:ACCOUNT:topic/TOPIC` of the alarm's own account and region publishes
//!   to TOPIC;
//! - any ARN the configuration maps (`[alarms] actions`) publishes to its topic or POSTs to its
//!   URL (through the outbound HTTP port, with the rules engine's guard), for the account and
//!   region the ARN names (an ARN without an account is every account's).
//!
//! Any other ARN is refused when the alarm is written, so no action is stored that could never
//! run. Each delivery leaves an `Action` history item saying whether it worked.

use super::alarms::HistoryItem;
use super::CloudWatch;
use crate::messaging::{MessageProps, StoredMessage};
use crate::records::try_commit;
use crate::rules::{HttpPort, HttpRequest};
use shoal_domain::cloudwatch::alarm::{MetricAlarm, State};
use shoal_domain::cloudwatch::stats::notification_name;
use shoal_domain::cloudwatch::{invalid_value, iso_time};
use shoal_domain::error::Result;
use shoal_domain::Partition;
use shoal_store::Batch;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a configured ARN's notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionTarget {
    Mqtt(String),
    Webhook(String),
}

impl ActionTarget {
    /// A configured target: `mqtt:TOPIC` or an http(s) URL.
    pub fn parse(target: &str) -> std::result::Result<ActionTarget, String> {
        if let Some(topic) = target.strip_prefix("mqtt:") {
            if !shoal_mqtt::topic::valid_topic_name(topic) || topic.starts_with('$') {
                return Err(format!("{topic} is not a topic an alarm may publish to"));
            }
            Ok(ActionTarget::Mqtt(topic.to_string()))
        } else if target.starts_with("http://") || target.starts_with("https://") {
            Ok(ActionTarget::Webhook(target.to_string()))
        } else {
            Err(format!(
                "{target} is neither \"mqtt:TOPIC\" nor an http(s) URL"
            ))
        }
    }
}

pub struct Ports {
    pub messaging: Arc<crate::Messaging>,
    pub http: Arc<dyn HttpPort>,
    /// The configuration's ARNs.
    pub actions: HashMap<String, ActionTarget>,
}

/// How long a webhook may take.
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl CloudWatch {
    fn target(&self, part: &Partition, arn: &str) -> Option<ActionTarget> {
        let own = format!(
            "arn:aws:iot:{}:{}:topic/",
            part.region.as_str(),
            part.account.as_str()
        );
        if let Some(topic) = arn.strip_prefix(&own) {
            return (shoal_mqtt::topic::valid_topic_name(topic) && !topic.starts_with('$'))
                .then(|| ActionTarget::Mqtt(topic.to_string()));
        }
        // A configured ARN serves only the account and region it names, so one tenant cannot
        // aim its alarms at another's webhook; an ARN the operator writes without an account
        // (or a region) is shared by every account (or region).
        let mut parts = arn.splitn(6, ':');
        let (region, account) = (parts.nth(3)?, parts.next()?);
        if !(account.is_empty() || account == part.account.as_str())
            || !(region.is_empty() || region == part.region.as_str())
        {
            return None;
        }
        self.ports.get()?.actions.get(arn).cloned()
    }

    /// Every action of the alarm must be one Shoal can run.
    pub(super) fn check_actions(&self, part: &Partition, alarm: &MetricAlarm) -> Result<()> {
        for (member, list) in [
            ("OKActions", &alarm.ok_actions),
            ("AlarmActions", &alarm.alarm_actions),
            ("InsufficientDataActions", &alarm.insufficient_data_actions),
        ] {
            for arn in list {
                if self.target(part, arn).is_none() {
                    return Err(invalid_value(
                        &format!("{member}.member"),
                        arn,
                        "Shoal runs actions on an AWS IoT topic ARN of this account and region, or on an ARN its configuration maps ([alarms] actions)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Sends the notification of `alarm`'s new state to each of that state's actions.
    pub(super) async fn run_actions(&self, part: &Partition, alarm: &MetricAlarm, old: State) {
        let arns = alarm.actions_of(alarm.state);
        if arns.is_empty() {
            return;
        }
        let Some(ports) = self.ports.get() else {
            return;
        };
        let body = notification(part, alarm, old).to_string();
        let mut batch = Batch::new(part.key());
        for arn in arns {
            let outcome = match self.target(part, arn) {
                Some(ActionTarget::Mqtt(topic)) => ports
                    .messaging
                    .publish(
                        part.clone(),
                        StoredMessage {
                            topic,
                            qos: 0,
                            payload: body.clone().into_bytes(),
                            props: MessageProps::default(),
                            published_at: self.clock.now().millis(),
                        },
                        false,
                    )
                    .await
                    .map_err(|e| e.message),
                Some(ActionTarget::Webhook(url)) => ports
                    .http
                    .post(
                        HttpRequest {
                            url,
                            headers: vec![("content-type".into(), "application/json".into())],
                            body: bytes::Bytes::from(body.clone()),
                        },
                        WEBHOOK_TIMEOUT,
                    )
                    .await
                    .and_then(|status| {
                        if (200..300).contains(&status) {
                            Ok(())
                        } else {
                            Err(format!("the webhook answered HTTP {status}"))
                        }
                    }),
                None => Err("the action is no longer configured".to_string()),
            };
            let (summary, data) = match &outcome {
                Ok(()) => (
                    format!("Successfully executed action {arn}"),
                    serde_json::json!({ "actionState": "Succeeded", "notificationResource": arn, "stateUpdateTimestamp": alarm.state_updated.millis() }),
                ),
                Err(e) => {
                    tracing::warn!(alarm = %alarm.name, arn = %arn, error = %e, "alarm action failed");
                    (
                        format!("Failed to execute action {arn}. Received error: \"{e}\""),
                        serde_json::json!({ "actionState": "Failed", "notificationResource": arn, "error": e, "stateUpdateTimestamp": alarm.state_updated.millis() }),
                    )
                }
            };
            let item = HistoryItem {
                alarm_name: alarm.name.clone(),
                at: self.clock.now(),
                item_type: "Action".into(),
                summary,
                data: data.to_string(),
            };
            match self.stage_history(batch, &item) {
                Ok(b) => batch = b,
                Err(_) => return,
            }
        }
        if let Err(e) = try_commit(self.store.as_ref(), batch).await {
            tracing::warn!(error = %e.message, "recording alarm actions failed");
        }
    }
}

/// The alarm as its ARN and settings (history data and the notification's trigger).
pub(super) fn describe(part: &Partition, a: &MetricAlarm) -> serde_json::Value {
    serde_json::json!({
        "alarmName": a.name,
        "alarmArn": alarm_arn(part, &a.name),
        "namespace": a.metric.namespace,
        "metricName": a.metric.name,
        "dimensions": a.metric.dimensions.iter().map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect::<Vec<_>>(),
        "statistic": a.statistic,
        "period": a.period,
        "evaluationPeriods": a.evaluation_periods,
        "threshold": a.threshold,
        "comparisonOperator": a.comparison.as_str(),
        "actionsEnabled": a.actions_enabled,
    })
}

pub fn alarm_arn(part: &Partition, name: &str) -> String {
    format!(
        "arn:aws:cloudwatch:{}:{}:alarm:{name}",
        part.region.as_str(),
        part.account.as_str()
    )
}

/// The notification CloudWatch sends to SNS when an alarm changes state.
fn notification(part: &Partition, a: &MetricAlarm, old: State) -> serde_json::Value {
    let mut trigger = serde_json::json!({
        "MetricName": a.metric.name,
        "Namespace": a.metric.namespace,
        "StatisticType": if a.extended { "ExtendedStatistic" } else { "Statistic" },
        "Unit": a.unit,
        "Dimensions": a.metric.dimensions.iter().map(|(n, v)| serde_json::json!({"value": v, "name": n})).collect::<Vec<_>>(),
        "Period": a.period,
        "EvaluationPeriods": a.evaluation_periods,
        "ComparisonOperator": a.comparison.as_str(),
        "Threshold": a.threshold,
        "TreatMissingData": a.treat_missing_data.map(|t| t.as_str()).unwrap_or("missing"),
        "EvaluateLowSampleCountPercentile": "",
    });
    if a.extended {
        trigger["ExtendedStatistic"] = a.statistic.clone().into();
    } else {
        trigger["Statistic"] = notification_name(&a.statistic).into();
    }
    if let Some(m) = a.datapoints_to_alarm {
        trigger["DatapointsToAlarm"] = m.into();
    }
    serde_json::json!({
        "AlarmName": a.name,
        "AlarmDescription": a.description,
        "AWSAccountId": part.account.as_str(),
        "AlarmConfigurationUpdatedTimestamp": iso_time(a.configuration_updated),
        "NewStateValue": a.state.as_str(),
        "NewStateReason": a.state_reason,
        "StateChangeTime": iso_time(a.state_updated),
        "Region": part.region.as_str(),
        "AlarmArn": alarm_arn(part, &a.name),
        "OldStateValue": old.as_str(),
        "OKActions": a.ok_actions,
        "AlarmActions": a.alarm_actions,
        "InsufficientDataActions": a.insufficient_data_actions,
        "Trigger": trigger,
    })
}
