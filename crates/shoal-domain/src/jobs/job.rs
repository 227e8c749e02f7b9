//! A job: its targets, document, configurations, status and the progress of its rollout
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_Job.html).

use super::config::JobConfig;
use super::execution::ExecutionStatus;
use crate::clock::Timestamp;
use crate::error::{Result, ServiceError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    InProgress,
    Canceled,
    DeletionInProgress,
    Completed,
    Scheduled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Canceled => "CANCELED",
            JobStatus::DeletionInProgress => "DELETION_IN_PROGRESS",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Scheduled => "SCHEDULED",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        [
            JobStatus::InProgress,
            JobStatus::Canceled,
            JobStatus::DeletionInProgress,
            JobStatus::Completed,
            JobStatus::Scheduled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// COMPLETED and CANCELED: the job may be deleted without `force`.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Canceled)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetSelection {
    Continuous,
    Snapshot,
}

impl TargetSelection {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSelection::Continuous => "CONTINUOUS",
            TargetSelection::Snapshot => "SNAPSHOT",
        }
    }

    pub fn parse(s: &str) -> Option<TargetSelection> {
        match s {
            "CONTINUOUS" => Some(TargetSelection::Continuous),
            "SNAPSHOT" => Some(TargetSelection::Snapshot),
            _ => None,
        }
    }
}

/// `jobProcessDetails`: executions by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessDetails {
    pub counts: BTreeMap<ExecutionStatus, u64>,
}

impl ProcessDetails {
    pub fn count(&self, s: ExecutionStatus) -> u64 {
        self.counts.get(&s).copied().unwrap_or(0)
    }

    /// Executions that reached a terminal status.
    pub fn executed(&self) -> u64 {
        self.counts
            .iter()
            .filter(|(s, _)| s.is_terminal())
            .map(|(_, n)| n)
            .sum()
    }

    /// Whether an abort criterion holds: at least `min` executions ended, and those of the
    /// failure type (ALL: failed, rejected and timed out) are `threshold` percent of them.
    pub fn abort_fires(&self, failure_type: &str, threshold: f64, min: i64) -> bool {
        let executed = self.executed();
        if executed == 0 || executed < min.max(0) as u64 {
            return false;
        }
        let failed = match failure_type {
            "FAILED" => self.count(ExecutionStatus::Failed),
            "REJECTED" => self.count(ExecutionStatus::Rejected),
            "TIMED_OUT" => self.count(ExecutionStatus::TimedOut),
            _ => {
                self.count(ExecutionStatus::Failed)
                    + self.count(ExecutionStatus::Rejected)
                    + self.count(ExecutionStatus::TimedOut)
            }
        };
        failed as f64 * 100.0 >= threshold * executed as f64
    }
}

/// The most characters a job document may have.
pub const MAX_DOCUMENT: usize = 32_768;

/// A job document: a JSON object of at most 32,768 characters (model `JobDocument`).
pub fn check_document(doc: &str) -> Result<()> {
    if doc.chars().count() > MAX_DOCUMENT {
        return Err(ServiceError::invalid(
            "The job document exceeds the maximum size of 32768 characters",
        ));
    }
    match serde_json::from_str::<serde_json::Value>(doc) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(ServiceError::invalid(
            "The job document must be a JSON object",
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub job_id: String,
    pub targets: Vec<String>,
    pub target_selection: TargetSelection,
    pub status: JobStatus,
    #[serde(default)]
    pub description: Option<String>,
    pub document: String,
    #[serde(default)]
    pub document_source: Option<String>,
    #[serde(default)]
    pub config: JobConfig,
    #[serde(default)]
    pub job_template_arn: Option<String>,
    #[serde(default)]
    pub document_parameters: BTreeMap<String, String>,
    pub created_at: Timestamp,
    pub last_updated_at: Timestamp,
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    #[serde(default)]
    pub force_canceled: bool,
    #[serde(default)]
    pub reason_code: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    /// Every target has been expanded into executions.
    #[serde(default)]
    pub expanded: bool,
    /// Where the expansion goes on: the target's index, and the last thing of a group target
    /// done.
    #[serde(default)]
    pub cursor_target: usize,
    #[serde(default)]
    pub cursor_after: Option<String>,
    /// Executions released to their devices so far (the rollout's count of notified things).
    #[serde(default)]
    pub notified: u64,
    /// When the rollout may release its next minute's executions.
    #[serde(default)]
    pub next_release_at: Option<Timestamp>,
    /// Canceled, and its executions are still being canceled.
    #[serde(default)]
    pub canceling: bool,
    /// Its schedule ended with STOP_ROLLOUT: no thing gets a new execution of it (a CONTINUOUS
    /// job no longer follows its groups); the executions it has run to their end.
    #[serde(default)]
    pub rollout_stopped: bool,
}

impl Job {
    /// A new job as CreateJob makes it: nothing rolled out yet.
    pub fn new(
        job_id: &str,
        targets: Vec<String>,
        target_selection: TargetSelection,
        status: JobStatus,
        document: String,
        config: JobConfig,
        now: Timestamp,
    ) -> Job {
        Job {
            job_id: job_id.to_string(),
            targets,
            target_selection,
            status,
            description: None,
            document,
            document_source: None,
            config,
            job_template_arn: None,
            document_parameters: BTreeMap::new(),
            created_at: now,
            last_updated_at: now,
            completed_at: None,
            force_canceled: false,
            reason_code: None,
            comment: None,
            expanded: false,
            cursor_target: 0,
            cursor_after: None,
            notified: 0,
            next_release_at: None,
            canceling: false,
            rollout_stopped: false,
        }
    }

    /// IN_PROGRESS, or SCHEDULED between its windows: its executions still run, retry and
    /// complete it.
    pub fn is_running(&self) -> bool {
        matches!(self.status, JobStatus::InProgress | JobStatus::Scheduled)
    }

    /// `isConcurrent`: while the job still rolls out or cancels executions.
    pub fn is_concurrent(&self) -> bool {
        (self.status == JobStatus::InProgress && !self.expanded) || self.canceling
    }
}
