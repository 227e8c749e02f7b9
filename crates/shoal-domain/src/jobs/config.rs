//! A job's configurations as CreateJob takes them and DescribeJob echoes them (members never
//! set stay absent), each checked against the botocore model's ranges with AWS's validation
//! message.

use crate::error::{Result, ServiceError};
use crate::ids::validation_error;
use serde::{Deserialize, Serialize};

fn at_least(field: &str, v: f64, min: f64) -> Result<()> {
    if v < min {
        return Err(validation_error(
            field,
            &trim(v),
            &format!(
                "Member must have value greater than or equal to {}",
                trim(min)
            ),
        ));
    }
    Ok(())
}

fn at_most(field: &str, v: f64, max: f64) -> Result<()> {
    if v > max {
        return Err(validation_error(
            field,
            &trim(v),
            &format!("Member must have value less than or equal to {}", trim(max)),
        ));
    }
    Ok(())
}

fn within(field: &str, v: f64, min: f64, max: f64) -> Result<()> {
    at_least(field, v, min)?;
    at_most(field, v, max)
}

fn trim(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// `presignedUrlConfig`: the role AWS would assume, and how long a presigned URL lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignedUrlConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_sec: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateIncrease {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_notified_things: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_succeeded_things: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExponentialRate {
    pub base_rate_per_minute: i64,
    pub increment_factor: f64,
    pub rate_increase_criteria: RateIncrease,
}

/// `jobExecutionsRolloutConfig`: how many things are notified per minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_per_minute: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exponential_rate: Option<ExponentialRate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortCriteria {
    pub failure_type: String,
    pub action: String,
    pub threshold_percentage: f64,
    pub min_number_of_executed_things: i64,
    /// Shoal's extension: a fleet-indexing query; the failures counted are then the executed
    /// things it matches (`shadow.reported.crashCount > 0`), whatever their status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string: Option<String>,
}

/// `abortConfig`: when enough executions failed, the job is canceled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortConfig {
    pub criteria_list: Vec<AbortCriteria>,
}

/// `timeoutConfig`: how long an execution may stay IN_PROGRESS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeoutConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_progress_timeout_in_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryCriteria {
    pub failure_type: String,
    pub number_of_retries: i64,
}

/// `jobExecutionsRetryConfig`: new attempts after FAILED or TIMED_OUT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryConfig {
    pub criteria_list: Vec<RetryCriteria>,
}

/// `schedulingConfig`, kept as given (its rollout windows are not run yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_behavior: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<serde_json::Value>,
}

/// Every configuration of a job (or a template), absent when never given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presigned_url_config: Option<PresignedUrlConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_executions_rollout_config: Option<RolloutConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_config: Option<AbortConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_config: Option<TimeoutConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_executions_retry_config: Option<RetryConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling_config: Option<SchedulingConfig>,
}

const FAILURE_TYPES: [&str; 4] = ["FAILED", "REJECTED", "TIMED_OUT", "ALL"];
const RETRY_TYPES: [&str; 3] = ["FAILED", "TIMED_OUT", "ALL"];

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&v) {
        return Ok(());
    }
    Err(validation_error(
        field,
        v,
        &format!(
            "Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ),
    ))
}

impl JobConfig {
    /// Checks every member against the model's ranges
    /// (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html).
    pub fn validate(&self) -> Result<()> {
        if let Some(p) = &self.presigned_url_config {
            if let Some(e) = p.expires_in_sec {
                within("presignedUrlConfig.expiresInSec", e as f64, 60.0, 3600.0)?;
            }
        }
        if let Some(r) = &self.job_executions_rollout_config {
            if let Some(m) = r.maximum_per_minute {
                within(
                    "jobExecutionsRolloutConfig.maximumPerMinute",
                    m as f64,
                    1.0,
                    1000.0,
                )?;
            }
            if let Some(x) = &r.exponential_rate {
                let f = "jobExecutionsRolloutConfig.exponentialRate";
                within(
                    &format!("{f}.baseRatePerMinute"),
                    x.base_rate_per_minute as f64,
                    1.0,
                    1000.0,
                )?;
                within(
                    &format!("{f}.incrementFactor"),
                    x.increment_factor,
                    1.1,
                    5.0,
                )?;
                if (x.increment_factor * 10.0).fract().abs() > 1e-9 {
                    return Err(ServiceError::invalid(
                        "incrementFactor can have at most one digit after the decimal point",
                    ));
                }
                let c = &x.rate_increase_criteria;
                match (c.number_of_notified_things, c.number_of_succeeded_things) {
                    (None, None) => {
                        return Err(ServiceError::invalid(
                            "rateIncreaseCriteria needs numberOfNotifiedThings or numberOfSucceededThings",
                        ))
                    }
                    (n, s) => {
                        for (name, v) in [
                            ("numberOfNotifiedThings", n),
                            ("numberOfSucceededThings", s),
                        ] {
                            if let Some(v) = v {
                                at_least(
                                    &format!("{f}.rateIncreaseCriteria.{name}"),
                                    v as f64,
                                    1.0,
                                )?;
                            }
                        }
                    }
                }
            }
        }
        if let Some(a) = &self.abort_config {
            if a.criteria_list.is_empty() {
                return Err(validation_error(
                    "abortConfig.criteriaList",
                    "[]",
                    "Member must have length greater than or equal to 1",
                ));
            }
            for c in &a.criteria_list {
                one_of(
                    "abortConfig.criteriaList.member.failureType",
                    &c.failure_type,
                    &FAILURE_TYPES,
                )?;
                one_of(
                    "abortConfig.criteriaList.member.action",
                    &c.action,
                    &["CANCEL"],
                )?;
                within(
                    "abortConfig.criteriaList.member.thresholdPercentage",
                    c.threshold_percentage,
                    0.0,
                    100.0,
                )?;
                if (c.threshold_percentage * 100.0).fract().abs() > 1e-6 {
                    return Err(ServiceError::invalid(
                        "thresholdPercentage can have at most two digits after the decimal point",
                    ));
                }
                at_least(
                    "abortConfig.criteriaList.member.minNumberOfExecutedThings",
                    c.min_number_of_executed_things as f64,
                    1.0,
                )?;
            }
        }
        if let Some(t) = &self.timeout_config {
            if let Some(m) = t.in_progress_timeout_in_minutes {
                within(
                    "timeoutConfig.inProgressTimeoutInMinutes",
                    m as f64,
                    1.0,
                    10080.0,
                )?;
            }
        }
        if let Some(r) = &self.job_executions_retry_config {
            let n = r.criteria_list.len();
            if !(1..=2).contains(&n) {
                return Err(validation_error(
                    "jobExecutionsRetryConfig.criteriaList",
                    &n.to_string(),
                    "Member must have length between 1 and 2",
                ));
            }
            let mut total = 0;
            for c in &r.criteria_list {
                one_of(
                    "jobExecutionsRetryConfig.criteriaList.member.failureType",
                    &c.failure_type,
                    &RETRY_TYPES,
                )?;
                within(
                    "jobExecutionsRetryConfig.criteriaList.member.numberOfRetries",
                    c.number_of_retries as f64,
                    0.0,
                    10.0,
                )?;
                total += c.number_of_retries;
            }
            // "up to 10 retries per device, for all failure types combined"
            if total > 10 {
                return Err(ServiceError::invalid(
                    "The total number of retries across all failure types cannot exceed 10",
                ));
            }
        }
        if let Some(s) = &self.scheduling_config {
            if let Some(b) = &s.end_behavior {
                one_of(
                    "schedulingConfig.endBehavior",
                    b,
                    &["STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"],
                )?;
            }
        }
        Ok(())
    }

    /// The retries an execution may still get after failing with `failure` (FAILED or
    /// TIMED_OUT): the criterion naming that failure type counts the retries of that type,
    /// else `ALL` counts every retry
    /// (https://docs.aws.amazon.com/iot/latest/apireference/API_RetryCriteria.html: "how many
    /// retries are allowed for each failure type").
    pub fn retries_left(&self, failure: &str, e: &super::Execution) -> i64 {
        let Some(r) = &self.job_executions_retry_config else {
            return 0;
        };
        if let Some(c) = r.criteria_list.iter().find(|c| c.failure_type == failure) {
            let had = e.retries_by_type.get(failure).copied().unwrap_or(0);
            return (c.number_of_retries - had).max(0);
        }
        r.criteria_list
            .iter()
            .find(|c| c.failure_type == "ALL")
            .map_or(0, |c| (c.number_of_retries - e.retry_attempt).max(0))
    }

    /// Executions started per minute under the rollout configuration, given how many things
    /// were notified and succeeded so far; `None` when it sets no limit.
    pub fn rate_per_minute(&self, notified: u64, succeeded: u64) -> Option<u64> {
        let r = self.job_executions_rollout_config.as_ref()?;
        let max = r.maximum_per_minute.map(|m| m.max(1) as u64);
        let Some(x) = &r.exponential_rate else {
            return max;
        };
        // The rate compounds once per whole multiple of the criterion reached; with both
        // criteria, whichever is further along.
        let c = &x.rate_increase_criteria;
        let per = |threshold: Option<i64>, count: u64| {
            threshold.filter(|t| *t > 0).map_or(0, |t| count / t as u64)
        };
        let steps = per(c.number_of_notified_things, notified)
            .max(per(c.number_of_succeeded_things, succeeded));
        let mut rate = x.base_rate_per_minute.max(1) as f64;
        for _ in 0..steps.min(64) {
            rate *= x.increment_factor;
            if rate >= 1000.0 {
                break;
            }
        }
        let rate = (rate.floor() as u64).clamp(1, 1000);
        Some(max.map_or(rate, |m| rate.min(m)))
    }
}
