//! AWS IoT Jobs as pure rules: job and execution records, their status machines, the device's
//! updates, and the validation of every configuration with AWS's limits
//! (https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs.html; the digest of what the
//! sources settle is docs/design/jobs.md). Services load these records, ask what the next state
//! is, and write it back; timers, targets and notifications live there.

mod config;
mod execution;
mod job;
mod managed;
mod schedule;

pub use config::{
    AbortConfig, AbortCriteria, ExponentialRate, JobConfig, PresignedUrlConfig, RateIncrease,
    RetryConfig, RetryCriteria, RolloutConfig, SchedulingConfig, TimeoutConfig,
};
pub use execution::{
    check_status_details, check_step_timeout, DeviceUpdate, Execution, ExecutionStatus,
    StatusDetails,
};
pub use job::{check_document, Job, JobStatus, ProcessDetails, TargetSelection, MAX_DOCUMENT};
pub use managed::{
    managed_template, managed_templates, parse_managed_arn, ManagedTemplate, ParameterSpec,
};
pub use schedule::{
    format_date_time, parse_date_time, preview_waves, Cron, RolloutWindow, Schedule, Wave,
};

use crate::error::Result;
use crate::ids::check;
use std::fmt;

/// A job's id: `[a-zA-Z0-9_-]+`, 1..64, unique in its (account, region) while the job exists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(String);

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

impl JobId {
    pub fn parse(s: &str) -> Result<JobId> {
        check("jobId", s, 1, 64, "[a-zA-Z0-9_-]+", is_id_char)?;
        Ok(JobId(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job template's id: the same pattern as a job id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobTemplateId(String);

impl JobTemplateId {
    pub fn parse(s: &str) -> Result<JobTemplateId> {
        check("jobTemplateId", s, 1, 64, "[a-zA-Z0-9_-]+", is_id_char)?;
        Ok(JobTemplateId(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobTemplateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
