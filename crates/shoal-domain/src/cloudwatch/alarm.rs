//! Metric alarms: what PutMetricAlarm may set and how an alarm is evaluated
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html>,
//! "Evaluating an alarm" and "Configuring how CloudWatch alarms treat missing data").

use super::stats::Stat;
use super::{invalid_value, iso_time, reason_time, MetricId};
use crate::error::{ParameterError, Result};
use crate::{ServiceError, Timestamp};

/// An alarm name: 1 to 255 characters (API_PutMetricAlarm).
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(ServiceError::parameter(
            ParameterError::Missing,
            "The parameter AlarmName is required.",
        ));
    }
    if name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(invalid_value(
            "AlarmName",
            name,
            "must be 1 to 255 printable characters",
        ));
    }
    Ok(())
}

/// Actions per state (API_PutMetricAlarm: at most 5 of each).
pub const MAX_ACTIONS: usize = 5;
/// An alarm evaluates at most one day of data: EvaluationPeriods × Period ≤ 86,400 s
/// (7 days for periods of an hour or more; Shoal keeps the one-day bound).
pub const MAX_WINDOW_SECS: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum State {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Alarm => "ALARM",
            State::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
    pub fn parse(s: &str) -> Result<State> {
        Ok(match s {
            "OK" => State::Ok,
            "ALARM" => State::Alarm,
            "INSUFFICIENT_DATA" => State::InsufficientData,
            _ => {
                return Err(invalid_value(
                    "StateValue",
                    s,
                    "must be OK, ALARM or INSUFFICIENT_DATA",
                ))
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn parse(s: &str) -> Result<Comparison> {
        use Comparison as C;
        Ok(match s {
            "GreaterThanOrEqualToThreshold" => C::GreaterThanOrEqualToThreshold,
            "GreaterThanThreshold" => C::GreaterThanThreshold,
            "LessThanThreshold" => C::LessThanThreshold,
            "LessThanOrEqualToThreshold" => C::LessThanOrEqualToThreshold,
            // The anomaly-detection operators need a band (ThresholdMetricId).
            _ => {
                return Err(invalid_value(
                    "ComparisonOperator",
                    s,
                    "Shoal's alarms compare with a static threshold",
                ))
            }
        })
    }
    pub fn as_str(self) -> &'static str {
        use Comparison as C;
        match self {
            C::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            C::GreaterThanThreshold => "GreaterThanThreshold",
            C::LessThanThreshold => "LessThanThreshold",
            C::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }
    pub fn breaches(self, v: f64, threshold: f64) -> bool {
        use Comparison as C;
        match self {
            C::GreaterThanOrEqualToThreshold => v >= threshold,
            C::GreaterThanThreshold => v > threshold,
            C::LessThanThreshold => v < threshold,
            C::LessThanOrEqualToThreshold => v <= threshold,
        }
    }
    /// How a reason says it: "was greater than or equal to".
    fn words(self) -> &'static str {
        use Comparison as C;
        match self {
            C::GreaterThanOrEqualToThreshold => "greater than or equal to",
            C::GreaterThanThreshold => "greater than",
            C::LessThanThreshold => "less than",
            C::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MissingData {
    Missing,
    Ignore,
    Breaching,
    NotBreaching,
}

impl MissingData {
    pub fn parse(s: &str) -> Result<MissingData> {
        Ok(match s {
            "missing" => MissingData::Missing,
            "ignore" => MissingData::Ignore,
            "breaching" => MissingData::Breaching,
            "notBreaching" => MissingData::NotBreaching,
            _ => {
                return Err(invalid_value(
                    "TreatMissingData",
                    s,
                    "must be breaching, notBreaching, ignore or missing",
                ))
            }
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            MissingData::Missing => "missing",
            MissingData::Ignore => "ignore",
            MissingData::Breaching => "breaching",
            MissingData::NotBreaching => "notBreaching",
        }
    }
}

/// A metric alarm as stored: its definition and its state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricAlarm {
    pub name: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub metric: MetricId,
    /// `Statistic` (SampleCount...Maximum) or `ExtendedStatistic` (`pNN`), as given.
    pub statistic: String,
    pub extended: bool,
    pub period: i64,
    pub unit: Option<String>,
    pub evaluation_periods: i64,
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: f64,
    pub comparison: Comparison,
    pub treat_missing_data: Option<MissingData>,
    pub state: State,
    pub state_reason: String,
    pub state_reason_data: Option<String>,
    pub state_updated: Timestamp,
    pub state_transitioned: Timestamp,
    pub configuration_updated: Timestamp,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl MetricAlarm {
    /// The definition's rules beyond each member's own (API_PutMetricAlarm).
    pub fn check(&self) -> Result<()> {
        check_name(&self.name)?;
        if let Some(d) = &self.description {
            if d.chars().count() > 1024 {
                return Err(invalid_value(
                    "AlarmDescription",
                    d,
                    "must be at most 1024 characters",
                ));
            }
        }
        // An alarm's period is 10, 20, 30 or a multiple of 60 (API_PutMetricAlarm), so one
        // alarm is evaluated at most every 10 s over at most 8,640 periods.
        if !(matches!(self.period, 10 | 20 | 30) || (self.period >= 60 && self.period % 60 == 0)) {
            return Err(invalid_value(
                "Period",
                &self.period.to_string(),
                "an alarm's period must be 10, 20, 30, or a multiple of 60",
            ));
        }
        Stat::parse(
            if self.extended {
                "ExtendedStatistic"
            } else {
                "Statistic"
            },
            &self.statistic,
        )?;
        if self.evaluation_periods < 1 {
            return Err(invalid_value(
                "EvaluationPeriods",
                &self.evaluation_periods.to_string(),
                "must be at least 1",
            ));
        }
        if self.evaluation_periods.saturating_mul(self.period) > MAX_WINDOW_SECS {
            return Err(ServiceError::parameter(
                ParameterError::Combination,
                "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400)",
            ));
        }
        if let Some(m) = self.datapoints_to_alarm {
            if m < 1 || m > self.evaluation_periods {
                return Err(invalid_value(
                    "DatapointsToAlarm",
                    &m.to_string(),
                    "must be between 1 and EvaluationPeriods",
                ));
            }
        }
        if !self.threshold.is_finite() {
            return Err(invalid_value(
                "Threshold",
                &self.threshold.to_string(),
                "must be a finite number",
            ));
        }
        for (member, list) in [
            ("OKActions", &self.ok_actions),
            ("AlarmActions", &self.alarm_actions),
            ("InsufficientDataActions", &self.insufficient_data_actions),
        ] {
            if list.len() > MAX_ACTIONS {
                return Err(ServiceError::parameter(
                    ParameterError::Combination,
                    format!(
                        "The collection {member} must not have a size greater than {MAX_ACTIONS}."
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn stat(&self) -> Stat {
        Stat::parse("Statistic", &self.statistic).unwrap_or(Stat::Average)
    }

    /// The actions of a state.
    pub fn actions_of(&self, s: State) -> &[String] {
        match s {
            State::Ok => &self.ok_actions,
            State::Alarm => &self.alarm_actions,
            State::InsufficientData => &self.insufficient_data_actions,
        }
    }

    pub fn required_datapoints(&self) -> i64 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }
}

/// One period of the evaluation window: its start and the statistic's value (with the number
/// of samples behind it), or nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub start: Timestamp,
    pub value: Option<(f64, f64)>,
}

/// What an evaluation concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// `None`: keep the current state (missing data treated as `ignore`).
    pub state: Option<State>,
    pub reason: String,
    pub data: String,
}

/// The window's start times: `evaluation_periods` periods aligned to the epoch, the newest
/// being the one that holds `now` (the caller drops it first when it is still empty).
pub fn window(period_secs: i64, periods: i64, newest: Timestamp) -> Vec<Timestamp> {
    let p = period_secs * 1000;
    let last = newest.0.div_euclid(p) * p;
    (0..periods).map(|i| Timestamp(last - i * p)).collect()
}

/// The state the window's buckets (newest first) call for. A breaching bucket counts towards
/// ALARM; a missing one counts as `treat_missing_data` says, and with `missing`/`ignore` the
/// decision rests on the buckets that have data.
pub fn evaluate(alarm: &MetricAlarm, buckets: &[Bucket], now: Timestamp) -> Evaluated {
    let treat = alarm.treat_missing_data.unwrap_or(MissingData::Missing);
    let needed = alarm.required_datapoints();
    let present: Vec<(Timestamp, f64, f64)> = buckets
        .iter()
        .filter_map(|b| b.value.map(|(v, n)| (b.start, v, n)))
        .collect();
    let breaching = present
        .iter()
        .filter(|(_, v, _)| alarm.comparison.breaches(*v, alarm.threshold))
        .count() as i64;
    let missing = buckets.len() as i64 - present.len() as i64;
    let breaching_all = breaching
        + if treat == MissingData::Breaching {
            missing
        } else {
            0
        };
    let total = buckets.len() as i64;
    let start = buckets.last().map(|b| b.start).unwrap_or(now);
    let data = reason_data(alarm, &present, now, start);
    let datapoints = present
        .iter()
        .map(|(t, v, _)| format!("{} ({})", number(*v), reason_time(*t)))
        .collect::<Vec<_>>()
        .join(", ");
    if present.is_empty() {
        return match treat {
            MissingData::Missing => Evaluated {
                state: Some(State::InsufficientData),
                reason: format!(
                    "Insufficient Data: {total} datapoint{} {} unknown.",
                    if total == 1 { "" } else { "s" },
                    if total == 1 { "was" } else { "were" }
                ),
                data,
            },
            MissingData::Ignore => Evaluated {
                state: None,
                reason: String::new(),
                data,
            },
            MissingData::Breaching => Evaluated {
                state: Some(State::Alarm),
                reason: format!(
                    "Threshold Crossed: no datapoints were received for {total} period{} and {total} missing datapoint{} {} treated as [Breaching].",
                    plural(total), plural(total), if total == 1 { "was" } else { "were" }
                ),
                data,
            },
            MissingData::NotBreaching => Evaluated {
                state: Some(State::Ok),
                reason: format!(
                    "Threshold Crossed: no datapoints were received for {total} period{} and {total} missing datapoint{} {} treated as [NonBreaching].",
                    plural(total), plural(total), if total == 1 { "was" } else { "were" }
                ),
                data,
            },
        };
    }
    let threshold = number(alarm.threshold);
    let words = alarm.comparison.words();
    // With fewer datapoints than DatapointsToAlarm, all of them breaching: `missing` goes to
    // ALARM on those it has, `ignore` keeps the state (the table of "How alarm state is
    // evaluated when data is missing").
    let all_present_breach = breaching == present.len() as i64 && breaching < needed;
    if all_present_breach && treat == MissingData::Ignore {
        return Evaluated {
            state: None,
            reason: String::new(),
            data,
        };
    }
    if breaching_all >= needed || (all_present_breach && treat == MissingData::Missing) {
        Evaluated {
            state: Some(State::Alarm),
            reason: format!(
                "Threshold Crossed: {breaching_all} out of the last {total} datapoint{} [{datapoints}] {} {words} the threshold ({threshold}) (minimum {needed} datapoint{} for OK -> ALARM transition).",
                plural(total),
                if breaching_all == 1 { "was" } else { "were" },
                plural(needed)
            ),
            data,
        }
    } else {
        let fine = present.len() as i64 - breaching;
        Evaluated {
            state: Some(State::Ok),
            reason: format!(
                "Threshold Crossed: {fine} out of the last {total} datapoint{} [{datapoints}] {} not {words} the threshold ({threshold}) (minimum {needed} datapoint{} for ALARM -> OK transition).",
                plural(total),
                if fine == 1 { "was" } else { "were" },
                plural(needed)
            ),
            data,
        }
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A number as CloudWatch writes it in a reason: always with a fraction (`2.0`).
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// StateReasonData: the datapoints the evaluation used.
fn reason_data(
    alarm: &MetricAlarm,
    present: &[(Timestamp, f64, f64)],
    now: Timestamp,
    start: Timestamp,
) -> String {
    let evaluated: Vec<serde_json::Value> = present
        .iter()
        .map(|(t, v, n)| {
            serde_json::json!({ "timestamp": iso_time(*t), "sampleCount": n, "value": v })
        })
        .collect();
    let recent: Vec<f64> = present.iter().map(|(_, v, _)| *v).collect();
    let mut d = serde_json::json!({
        "version": "1.0",
        "queryDate": iso_time(now),
        "startDate": iso_time(start),
        "period": alarm.period,
        "recentDatapoints": recent,
        "threshold": alarm.threshold,
        "evaluatedDatapoints": evaluated,
    });
    let key = if alarm.extended {
        "extendedStatistic"
    } else {
        "statistic"
    };
    d[key] = alarm.statistic.clone().into();
    if let Some(u) = &alarm.unit {
        d["unit"] = u.clone().into();
    }
    d.to_string()
}
