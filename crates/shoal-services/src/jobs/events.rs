//! Jobs events on `$aws/events/job/{jobId}/...` and `$aws/events/jobExecution/{jobId}/...`,
//! published when the account enabled `JOB` or `JOB_EXECUTION` with
//! UpdateEventConfigurations. `timestamp` is in seconds and the job's times in milliseconds,
//! as AWS's examples show them (https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html).

use super::Jobs;
use crate::reserved::Answer;
use serde_json::json;
use shoal_domain::jobs::{Execution, ExecutionStatus, Job, ProcessDetails};
use shoal_domain::Partition;

/// The operation (and topic suffix) of an execution that ended with `s`.
fn operation(s: ExecutionStatus) -> Option<&'static str> {
    Some(match s {
        ExecutionStatus::Succeeded => "succeeded",
        ExecutionStatus::Failed => "failed",
        ExecutionStatus::Rejected => "rejected",
        ExecutionStatus::Canceled => "canceled",
        ExecutionStatus::TimedOut => "timed_out",
        ExecutionStatus::Removed => "removed",
        ExecutionStatus::Queued | ExecutionStatus::InProgress => return None,
    })
}

impl Jobs {
    /// Whether the partition receives events of `kind` (`JOB`, `JOB_EXECUTION`).
    pub(crate) fn events_on(&self, part: &Partition, kind: &str) -> bool {
        self.events.is_enabled(part, kind)
    }

    async fn publish_events(&self, part: &Partition, answers: Vec<Answer>) {
        if let Err(e) =
            crate::reserved::publish(&self.messaging, self.clock.as_ref(), part, answers).await
        {
            tracing::warn!(error = %e.message, "job event not published");
        }
    }

    /// `completed`, `canceled` or `deleted` of a job.
    pub(crate) async fn job_event(
        &self,
        part: &Partition,
        job: &Job,
        operation: &str,
        details: Option<&ProcessDetails>,
    ) {
        if let (Some(logs), Some(d), "completed") = (self.logs.get(), details, operation) {
            logs.report_final_count(part, &job.job_id, &final_count_details(&job.job_id, d));
        }
        if !self.events_on(part, "JOB") {
            return;
        }
        let mut v = json!({
            "eventType": "JOB",
            "eventId": uuid::Uuid::new_v4().to_string(),
            "timestamp": self.clock.now().secs(),
            "operation": operation,
            "jobId": job.job_id,
            "status": operation.to_ascii_uppercase(),
            "targetSelection": job.target_selection.as_str(),
            "targets": job.targets,
            "createdAt": job.created_at.millis(),
            "lastUpdatedAt": job.last_updated_at.millis(),
        });
        if let Some(d) = &job.description {
            v["description"] = d.as_str().into();
        }
        if let Some(c) = &job.comment {
            v["comment"] = c.as_str().into();
        }
        if let Some(c) = job.completed_at {
            v["completedAt"] = c.millis().into();
        }
        if let Some(d) = details {
            use ExecutionStatus as S;
            v["jobProcessDetails"] = json!({
                "numberOfCanceledThings": d.count(S::Canceled),
                "numberOfRejectedThings": d.count(S::Rejected),
                "numberOfFailedThings": d.count(S::Failed),
                "numberOfRemovedThings": d.count(S::Removed),
                "numberOfSucceededThings": d.count(S::Succeeded),
            });
        }
        let answer = Answer {
            topic: format!("$aws/events/job/{}/{operation}", job.job_id),
            payload: v.to_string().into_bytes(),
        };
        self.publish_events(part, vec![answer]).await;
    }

    /// One event per execution that ended (its status names it), or `deleted`.
    pub(crate) async fn execution_events(
        &self,
        part: &Partition,
        ended: &[Execution],
        deleted: bool,
    ) {
        if ended.is_empty() || !self.events_on(part, "JOB_EXECUTION") {
            return;
        }
        let now = self.clock.now().secs();
        let answers = ended
            .iter()
            .filter_map(|e| {
                let (op, status) = if deleted {
                    ("deleted", "DELETED")
                } else {
                    (operation(e.status)?, e.status.as_str())
                };
                let v = json!({
                    "eventType": "JOB_EXECUTION",
                    "eventId": uuid::Uuid::new_v4().to_string(),
                    "timestamp": now,
                    "operation": op,
                    "jobId": e.job_id,
                    "thingArn": part.arn("thing", &e.thing_name),
                    "status": status,
                    "statusDetails": e.status_details,
                });
                Some(Answer {
                    topic: format!("$aws/events/jobExecution/{}/{op}", e.job_id),
                    payload: v.to_string().into_bytes(),
                })
            })
            .collect();
        self.publish_events(part, answers).await;
    }
}

/// ReportFinalJobExecutionCount's `details`, as AWS words it.
fn final_count_details(job: &str, d: &ProcessDetails) -> String {
    use shoal_domain::jobs::ExecutionStatus as S;
    let mut out = format!("Job {job} completed.");
    for (name, s) in [
        ("QUEUED", S::Queued),
        ("IN_PROGRESS", S::InProgress),
        ("FAILED", S::Failed),
        ("SUCCEEDED", S::Succeeded),
        ("CANCELED", S::Canceled),
        ("REJECTED", S::Rejected),
        ("REMOVED", S::Removed),
    ] {
        out.push_str(&format!(" {name} job execution count: {}", d.count(s)));
    }
    out
}
