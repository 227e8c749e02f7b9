//! A job execution: one thing's run of one job, its status machine, the updates its device may
//! make, and its timers (the in-progress timeout and the step timeout)
//! (https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs-lifecycle.html).

use crate::clock::Timestamp;
use crate::error::{ErrorKind, Result, ServiceError};
use crate::ids::{check, validation_error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type StatusDetails = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
    Rejected,
    Removed,
    Canceled,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 8] = [
        ExecutionStatus::Queued,
        ExecutionStatus::InProgress,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Rejected,
        ExecutionStatus::Removed,
        ExecutionStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "QUEUED",
            ExecutionStatus::InProgress => "IN_PROGRESS",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Rejected => "REJECTED",
            ExecutionStatus::Removed => "REMOVED",
            ExecutionStatus::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<ExecutionStatus> {
        ExecutionStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Terminal: nothing moves it again (a retry is a new attempt).
    pub fn is_terminal(self) -> bool {
        !matches!(self, ExecutionStatus::Queued | ExecutionStatus::InProgress)
    }

    /// What a device may report: the service alone queues, times out, removes and cancels.
    pub fn device_settable(self) -> bool {
        matches!(
            self,
            ExecutionStatus::InProgress
                | ExecutionStatus::Succeeded
                | ExecutionStatus::Failed
                | ExecutionStatus::Rejected
        )
    }
}

/// `statusDetails`: at most 10 pairs, keys `[a-zA-Z0-9:_-]+` up to 128, values of 1 to 1024
/// characters without control characters (model `DetailsMap`).
pub fn check_status_details(d: &StatusDetails) -> Result<()> {
    if d.len() > 10 {
        return Err(ServiceError::invalid(
            "statusDetails can have at most 10 name/value pairs",
        ));
    }
    for (k, v) in d {
        check("statusDetails.key", k, 1, 128, "[a-zA-Z0-9:_-]+", |c| {
            c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')
        })?;
        check("statusDetails.value", v, 1, 1024, "[^\\p{C}]+", |c| {
            !c.is_control()
        })?;
    }
    Ok(())
}

/// `stepTimeoutInMinutes`: 1 to 10080, or -1 to clear the step timer.
pub fn check_step_timeout(m: i64) -> Result<()> {
    if m == -1 || (1..=10080).contains(&m) {
        return Ok(());
    }
    Err(validation_error(
        "stepTimeoutInMinutes",
        &m.to_string(),
        "Member must be -1 or between 1 and 10080",
    ))
}

/// What a device asks with UpdateJobExecution (MQTT `.../update` or iot-jobs-data).
#[derive(Debug, Clone, Default)]
pub struct DeviceUpdate {
    pub status: Option<ExecutionStatus>,
    pub status_details: Option<StatusDetails>,
    pub expected_version: Option<i64>,
    pub step_timeout_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub job_id: String,
    pub thing_name: String,
    pub status: ExecutionStatus,
    #[serde(default)]
    pub status_details: StatusDetails,
    pub queued_at: Timestamp,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    pub last_updated_at: Timestamp,
    pub execution_number: i64,
    pub version_number: i64,
    #[serde(default)]
    pub retry_attempt: i64,
    #[serde(default)]
    pub force_canceled: bool,
    /// When the in-progress timer ends (set when the execution starts, if the job has one).
    #[serde(default)]
    pub in_progress_deadline: Option<Timestamp>,
    /// When the current step timer ends.
    #[serde(default)]
    pub step_deadline: Option<Timestamp>,
    /// The rollout reached it: its device is told and sees it as pending. Until then it is
    /// QUEUED for the job's owner only.
    #[serde(default)]
    pub released: bool,
    /// The retries it had so far per failure type (FAILED, TIMED_OUT): each type's
    /// `numberOfRetries` counts its own.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub retries_by_type: std::collections::BTreeMap<String, i64>,
}

impl Execution {
    pub fn queued(
        job_id: &str,
        thing: &str,
        number: i64,
        retry: i64,
        released: bool,
        now: Timestamp,
    ) -> Self {
        Execution {
            job_id: job_id.to_string(),
            thing_name: thing.to_string(),
            status: ExecutionStatus::Queued,
            status_details: StatusDetails::new(),
            queued_at: now,
            started_at: None,
            last_updated_at: now,
            execution_number: number,
            version_number: 1,
            retry_attempt: retry,
            force_canceled: false,
            in_progress_deadline: None,
            step_deadline: None,
            released,
            retries_by_type: Default::default(),
        }
    }

    /// Whether the device sees it as pending (GetPendingJobExecutions, start-next).
    pub fn is_pending(&self) -> bool {
        self.released && !self.status.is_terminal()
    }

    /// The next attempt after a `failure` (FAILED or TIMED_OUT), when retries are left.
    pub fn retried(&self, failure: &str, now: Timestamp) -> Execution {
        let mut next = Execution::queued(
            &self.job_id,
            &self.thing_name,
            self.execution_number + 1,
            self.retry_attempt + 1,
            true,
            now,
        );
        next.retries_by_type = self.retries_by_type.clone();
        *next.retries_by_type.entry(failure.to_string()).or_default() += 1;
        next
    }

    /// When it times out: the earlier of the step and in-progress timers.
    pub fn deadline(&self) -> Option<Timestamp> {
        match (self.in_progress_deadline, self.step_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `approximateSecondsBeforeTimedOut`, while a timer runs.
    pub fn seconds_before_timed_out(&self, now: Timestamp) -> Option<i64> {
        if self.status.is_terminal() {
            return None;
        }
        self.deadline().map(|d| ((d.0 - now.0).max(0) + 999) / 1000)
    }

    fn refuse_transition(&self, to: &str) -> ServiceError {
        ServiceError::new(
            ErrorKind::InvalidStateTransition,
            format!(
                "Job execution of job {} on thing {} cannot move from {} to {to}",
                self.job_id,
                self.thing_name,
                self.status.as_str()
            ),
        )
    }

    /// Applies a device's update: the version must match when given, only IN_PROGRESS,
    /// SUCCEEDED, FAILED and REJECTED may be asked, and a terminal execution moves no more.
    /// `in_progress_minutes` is the job's in-progress timeout, started on the move to
    /// IN_PROGRESS.
    pub fn apply(
        &mut self,
        u: &DeviceUpdate,
        in_progress_minutes: Option<i64>,
        now: Timestamp,
    ) -> Result<()> {
        let Some(to) = u.status else {
            return Err(ServiceError::invalid("status is required"));
        };
        if !to.device_settable() {
            return Err(ServiceError::invalid(format!(
                "A device cannot set the status {}; it may set IN_PROGRESS, SUCCEEDED, FAILED or REJECTED",
                to.as_str()
            )));
        }
        if let Some(d) = &u.status_details {
            check_status_details(d)?;
        }
        if let Some(m) = u.step_timeout_minutes {
            check_step_timeout(m)?;
        }
        if self.status.is_terminal() {
            return Err(self.refuse_transition(to.as_str()));
        }
        if let Some(v) = u.expected_version {
            if v != self.version_number {
                return Err(ServiceError::version_conflict(format!(
                    "The expected version {v} does not match the current version {}",
                    self.version_number
                )));
            }
        }
        if to == ExecutionStatus::InProgress && self.status == ExecutionStatus::Queued {
            self.start(now, in_progress_minutes);
        }
        self.status = to;
        if let Some(d) = &u.status_details {
            self.status_details.clone_from(d);
        }
        if to.is_terminal() {
            self.in_progress_deadline = None;
            self.step_deadline = None;
        } else if let Some(m) = u.step_timeout_minutes {
            self.set_step_timer(m, now);
        }
        self.version_number += 1;
        self.last_updated_at = now;
        Ok(())
    }

    /// StartNextPendingJobExecution on this (QUEUED) execution.
    pub fn start_next(
        &mut self,
        details: Option<&StatusDetails>,
        step_minutes: Option<i64>,
        in_progress_minutes: Option<i64>,
        now: Timestamp,
    ) -> Result<()> {
        if let Some(d) = details {
            check_status_details(d)?;
        }
        if let Some(m) = step_minutes {
            check_step_timeout(m)?;
        }
        self.start(now, in_progress_minutes);
        self.status = ExecutionStatus::InProgress;
        if let Some(d) = details {
            self.status_details.clone_from(d);
        }
        if let Some(m) = step_minutes {
            self.set_step_timer(m, now);
        }
        self.version_number += 1;
        self.last_updated_at = now;
        Ok(())
    }

    fn start(&mut self, now: Timestamp, in_progress_minutes: Option<i64>) {
        self.started_at = Some(now);
        self.in_progress_deadline = in_progress_minutes.map(|m| now.plus_millis(m * 60_000));
    }

    /// A new step timer replaces the last; -1 clears it. It never ends after the in-progress
    /// timer (which `deadline` already takes as the earlier one).
    fn set_step_timer(&mut self, minutes: i64, now: Timestamp) {
        self.step_deadline = (minutes > 0).then(|| now.plus_millis(minutes * 60_000));
    }

    /// A service-side end: canceled, removed or timed out. The version moves as for a device's
    /// update, so a device holding the old version learns it changed.
    pub fn end(&mut self, status: ExecutionStatus, now: Timestamp) {
        self.status = status;
        self.in_progress_deadline = None;
        self.step_deadline = None;
        self.version_number += 1;
        self.last_updated_at = now;
    }
}
