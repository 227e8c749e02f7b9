//! PutMetricAlarm, DescribeAlarms, DeleteAlarms, SetAlarmState and DescribeAlarmHistory: the
//! shapes of the API (API_MetricAlarm, API_AlarmHistoryItem) around the alarms service.

use super::metrics::check_unit;
use super::{dimensions, metric_dimensions, required, secs, time, Dimension};
use crate::api::Call;
use crate::error::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::cloudwatch::alarm::{Comparison, MetricAlarm, MissingData, State};
use shoal_domain::cloudwatch::stats::Stat;
use shoal_domain::cloudwatch::{invalid_value, MetricId};
use shoal_domain::{ParameterError, Partition, ServiceError, Timestamp};
use shoal_services::cloudwatch::{AlarmFilter, AlarmInput, HistoryItem, HistoryQuery};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutIn {
    alarm_name: Option<String>,
    alarm_description: Option<String>,
    actions_enabled: Option<bool>,
    #[serde(rename = "OKActions")]
    ok_actions: Option<Vec<String>>,
    alarm_actions: Option<Vec<String>>,
    insufficient_data_actions: Option<Vec<String>>,
    metric_name: Option<String>,
    namespace: Option<String>,
    statistic: Option<String>,
    extended_statistic: Option<String>,
    dimensions: Option<Vec<Dimension>>,
    period: Option<i64>,
    unit: Option<String>,
    evaluation_periods: Option<i64>,
    datapoints_to_alarm: Option<i64>,
    threshold: Option<f64>,
    comparison_operator: Option<String>,
    treat_missing_data: Option<String>,
    metrics: Option<Value>,
    threshold_metric_id: Option<String>,
    tags: Option<Vec<Tag>>,
}

pub(super) async fn put(call: &Call<'_>, i: PutIn) -> Result<Value, ApiError> {
    let name = required(i.alarm_name, "AlarmName")?;
    if i.metrics.is_some() || i.threshold_metric_id.is_some() {
        return Err(ServiceError::invalid(
            "Shoal's alarms watch one metric (MetricName, Namespace, Dimensions): metric math and anomaly bands are not supported.",
        )
        .into());
    }
    let (statistic, extended) = match (i.statistic, i.extended_statistic) {
        (Some(_), Some(_)) => {
            return Err(ServiceError::parameter(
                ParameterError::Combination,
                "Exactly one of Statistic and ExtendedStatistic must be given.",
            )
            .into())
        }
        (Some(s), None) => {
            if Stat::parse("Statistic", &s)?.is_extended() {
                return Err(invalid_value(
                    "Statistic",
                    &s,
                    "use ExtendedStatistic for percentiles",
                )
                .into());
            }
            (s, false)
        }
        (None, Some(s)) => {
            if !Stat::parse("ExtendedStatistic", &s)?.is_extended() {
                return Err(
                    invalid_value("ExtendedStatistic", &s, "must be a percentile pNN").into(),
                );
            }
            (s, true)
        }
        (None, None) => {
            return Err(ServiceError::parameter(
                ParameterError::Missing,
                "One of Statistic and ExtendedStatistic must be given.",
            )
            .into())
        }
    };
    check_unit(i.unit.as_deref())?;
    let metric = MetricId::new(
        &required(i.namespace, "Namespace")?,
        &required(i.metric_name, "MetricName")?,
        metric_dimensions(i.dimensions)?,
    )?;
    let comparison = Comparison::parse(&required(i.comparison_operator, "ComparisonOperator")?)?;
    let treat_missing_data = i
        .treat_missing_data
        .as_deref()
        .map(MissingData::parse)
        .transpose()?;
    let tags = i
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            Ok((
                required(t.key, "Tags.member.Key")?,
                required(t.value, "Tags.member.Value")?,
            ))
        })
        .collect::<Result<Vec<_>, ServiceError>>()?;
    let alarm = MetricAlarm {
        name,
        description: i.alarm_description,
        actions_enabled: i.actions_enabled.unwrap_or(true),
        ok_actions: i.ok_actions.unwrap_or_default(),
        alarm_actions: i.alarm_actions.unwrap_or_default(),
        insufficient_data_actions: i.insufficient_data_actions.unwrap_or_default(),
        metric,
        statistic,
        extended,
        period: required(i.period, "Period")?,
        unit: i.unit,
        evaluation_periods: required(i.evaluation_periods, "EvaluationPeriods")?,
        datapoints_to_alarm: i.datapoints_to_alarm,
        threshold: required(i.threshold, "Threshold")?,
        comparison,
        treat_missing_data,
        state: State::InsufficientData,
        state_reason: String::new(),
        state_reason_data: None,
        state_updated: Timestamp(0),
        state_transitioned: Timestamp(0),
        configuration_updated: Timestamp(0),
        tags,
    };
    call.state
        .cloudwatch
        .put_alarm(call.part, AlarmInput { alarm })
        .await?;
    Ok(json!({}))
}

/// An alarm as API_MetricAlarm.
fn alarm_shape(part: &Partition, a: &MetricAlarm) -> Value {
    let mut v = json!({
        "AlarmName": a.name,
        "AlarmArn": shoal_services::cloudwatch::alarm_arn(part, &a.name),
        "AlarmConfigurationUpdatedTimestamp": secs(a.configuration_updated),
        "ActionsEnabled": a.actions_enabled,
        "OKActions": a.ok_actions,
        "AlarmActions": a.alarm_actions,
        "InsufficientDataActions": a.insufficient_data_actions,
        "StateValue": a.state.as_str(),
        "StateReason": a.state_reason,
        "StateUpdatedTimestamp": secs(a.state_updated),
        "MetricName": a.metric.name,
        "Namespace": a.metric.namespace,
        "Dimensions": dimensions(&a.metric.dimensions),
        "Period": a.period,
        "EvaluationPeriods": a.evaluation_periods,
        "Threshold": a.threshold,
        "ComparisonOperator": a.comparison.as_str(),
        "StateTransitionedTimestamp": secs(a.state_transitioned),
    });
    if a.extended {
        v["ExtendedStatistic"] = a.statistic.clone().into();
    } else {
        v["Statistic"] = a.statistic.clone().into();
    }
    if let Some(d) = &a.description {
        v["AlarmDescription"] = d.clone().into();
    }
    if let Some(d) = &a.state_reason_data {
        v["StateReasonData"] = d.clone().into();
    }
    if let Some(u) = &a.unit {
        v["Unit"] = u.clone().into();
    }
    if let Some(m) = a.datapoints_to_alarm {
        v["DatapointsToAlarm"] = m.into();
    }
    if let Some(t) = a.treat_missing_data {
        v["TreatMissingData"] = t.as_str().into();
    }
    v
}

/// MaxRecords: 1 to 100 (100 when absent).
fn max_records(n: Option<i64>) -> Result<usize, ServiceError> {
    match n {
        None => Ok(100),
        Some(n) if (1..=100).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid_value(
            "MaxRecords",
            &n.to_string(),
            "must be between 1 and 100",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeIn {
    alarm_names: Option<Vec<String>>,
    alarm_name_prefix: Option<String>,
    alarm_types: Option<Vec<String>>,
    state_value: Option<String>,
    action_prefix: Option<String>,
    max_records: Option<i64>,
    next_token: Option<String>,
}

pub(super) fn describe(call: &Call<'_>, i: DescribeIn) -> Result<Value, ApiError> {
    let limit = max_records(i.max_records)?;
    let names = i.alarm_names.unwrap_or_default();
    if names.len() > 100 {
        return Err(ServiceError::parameter(
            ParameterError::Combination,
            "The collection AlarmNames must not have a size greater than 100.",
        )
        .into());
    }
    if !names.is_empty() && i.alarm_name_prefix.is_some() {
        return Err(ServiceError::parameter(
            ParameterError::Combination,
            "AlarmNames and AlarmNamePrefix cannot be used together.",
        )
        .into());
    }
    let types = i.alarm_types.unwrap_or_default();
    for t in &types {
        if t != "MetricAlarm" && t != "CompositeAlarm" {
            return Err(invalid_value(
                "AlarmTypes.member",
                t,
                "must be MetricAlarm or CompositeAlarm",
            )
            .into());
        }
    }
    let filter = AlarmFilter {
        names,
        prefix: i.alarm_name_prefix,
        state: i.state_value.as_deref().map(State::parse).transpose()?,
        action_prefix: i.action_prefix,
    };
    // Shoal has no composite alarms: asking for those alone finds none.
    let (alarms, next) = if types.is_empty() || types.iter().any(|t| t == "MetricAlarm") {
        call.state
            .cloudwatch
            .describe_alarms(call.part, &filter, i.next_token.as_deref(), limit)?
    } else {
        (Vec::new(), None)
    };
    let mut out = json!({
        "MetricAlarms": alarms.iter().map(|a| alarm_shape(call.part, a)).collect::<Vec<_>>(),
        "CompositeAlarms": [],
    });
    if let Some(n) = next {
        out["NextToken"] = n.into();
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteIn {
    alarm_names: Option<Vec<String>>,
}

pub(super) async fn delete(call: &Call<'_>, i: DeleteIn) -> Result<Value, ApiError> {
    let names = required(i.alarm_names, "AlarmNames")?;
    call.state
        .cloudwatch
        .delete_alarms(call.part, &names)
        .await?;
    Ok(json!({}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SetStateIn {
    alarm_name: Option<String>,
    state_value: Option<String>,
    state_reason: Option<String>,
    state_reason_data: Option<String>,
}

pub(super) async fn set_state(call: &Call<'_>, i: SetStateIn) -> Result<Value, ApiError> {
    let name = required(i.alarm_name, "AlarmName")?;
    let state = State::parse(&required(i.state_value, "StateValue")?)?;
    let reason = required(i.state_reason, "StateReason")?;
    call.state
        .cloudwatch
        .set_alarm_state(
            call.part,
            &name,
            state,
            &reason,
            i.state_reason_data.as_deref(),
        )
        .await?;
    Ok(json!({}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct HistoryIn {
    alarm_name: Option<String>,
    alarm_types: Option<Vec<String>>,
    history_item_type: Option<String>,
    start_date: Option<f64>,
    end_date: Option<f64>,
    max_records: Option<i64>,
    next_token: Option<String>,
    scan_by: Option<String>,
}

fn history_shape(h: &HistoryItem) -> Value {
    json!({
        "AlarmName": h.alarm_name,
        "AlarmType": "MetricAlarm",
        "Timestamp": secs(h.at),
        "HistoryItemType": h.item_type,
        "HistorySummary": h.summary,
        "HistoryData": h.data,
    })
}

pub(super) fn history(call: &Call<'_>, i: HistoryIn) -> Result<Value, ApiError> {
    let limit = max_records(i.max_records)?;
    if let Some(t) = &i.history_item_type {
        if !matches!(
            t.as_str(),
            "ConfigurationUpdate"
                | "StateUpdate"
                | "Action"
                | "AlarmContributorStateUpdate"
                | "AlarmContributorAction"
        ) {
            return Err(invalid_value("HistoryItemType", t, "not a history item type").into());
        }
    }
    let ascending = match i.scan_by.as_deref() {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(invalid_value(
                "ScanBy",
                other,
                "must be TimestampDescending or TimestampAscending",
            )
            .into())
        }
    };
    let only_composite = i
        .alarm_types
        .as_ref()
        .is_some_and(|t| !t.is_empty() && !t.iter().any(|t| t == "MetricAlarm"));
    let q = HistoryQuery {
        name: i.alarm_name,
        item_type: i.history_item_type,
        start: i.start_date.map(time),
        end: i.end_date.map(time),
        ascending,
    };
    let (items, next) = if only_composite {
        (Vec::new(), None)
    } else {
        call.state
            .cloudwatch
            .history(call.part, &q, i.next_token.as_deref(), limit)?
    };
    let mut out =
        json!({ "AlarmHistoryItems": items.iter().map(history_shape).collect::<Vec<_>>() });
    if let Some(n) = next {
        out["NextToken"] = n.into();
    }
    Ok(out)
}
