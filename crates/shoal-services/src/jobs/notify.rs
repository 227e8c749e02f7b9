//! What devices are told, and the JSON shapes of executions on MQTT: `notify` whenever an
//! execution enters or leaves a thing's pending list, `notify-next` whenever the head of that
//! list changes (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-comm-notifications.html).
//! Times are whole epoch seconds, and the job document is a JSON object, as AWS sends them.

use super::executions::pending_order;
use super::Jobs;
use crate::reserved::Answer;
use serde_json::{json, Map, Value};
use shoal_domain::jobs::{Execution, ExecutionStatus};
use shoal_domain::{Partition, Timestamp};

/// Executions listed in one `notify` (AWS's limit without scheduling).
const NOTIFY_LIMIT: usize = 10;

/// `JobExecutionSummary` as MQTT carries it.
pub(crate) fn summary(e: &Execution) -> Value {
    let mut v = json!({
        "jobId": e.job_id,
        "queuedAt": e.queued_at.secs(),
        "lastUpdatedAt": e.last_updated_at.secs(),
        "versionNumber": e.version_number,
        "executionNumber": e.execution_number,
    });
    if let Some(s) = e.started_at {
        v["startedAt"] = s.secs().into();
    }
    v
}

/// The document as devices get it on MQTT: the JSON object (a document that is not one, which
/// CreateJob refuses, would go as its text).
pub(crate) fn document_value(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap_or_else(|_| Value::String(doc.to_string()))
}

/// `JobExecutionData` as MQTT carries it; `document` when it is to be included.
pub(crate) fn execution(e: &Execution, document: Option<&str>, now: Timestamp) -> Value {
    let mut v = Map::new();
    v.insert("jobId".into(), e.job_id.clone().into());
    v.insert("thingName".into(), e.thing_name.clone().into());
    if let Some(d) = document {
        v.insert("jobDocument".into(), document_value(d));
    }
    v.insert("status".into(), e.status.as_str().into());
    if !e.status_details.is_empty() {
        v.insert("statusDetails".into(), json!(e.status_details));
    }
    v.insert("queuedAt".into(), e.queued_at.secs().into());
    if let Some(s) = e.started_at {
        v.insert("startedAt".into(), s.secs().into());
    }
    v.insert("lastUpdatedAt".into(), e.last_updated_at.secs().into());
    v.insert("versionNumber".into(), e.version_number.into());
    v.insert("executionNumber".into(), e.execution_number.into());
    if let Some(s) = e.seconds_before_timed_out(now) {
        v.insert("approximateSecondsBeforeTimedOut".into(), s.into());
    }
    Value::Object(v)
}

/// `executionState`: what a refusal or an accepted update may carry.
pub(crate) fn execution_state(e: &Execution) -> Value {
    json!({
        "status": e.status.as_str(),
        "statusDetails": e.status_details,
        "versionNumber": e.version_number,
    })
}

/// The pending list split as `notify` and GetPendingJobExecutions give it.
pub(crate) fn split(pending: &[Execution], limit: usize) -> (Vec<Value>, Vec<Value>) {
    let mut in_progress = Vec::new();
    let mut queued = Vec::new();
    for e in pending.iter().take(limit) {
        match e.status {
            ExecutionStatus::InProgress => in_progress.push(summary(e)),
            _ => queued.push(summary(e)),
        }
    }
    (in_progress, queued)
}

impl Jobs {
    /// Tells a thing's device that its pending list changed: `notify` always, `notify-next`
    /// when the head changed — `left` (an execution that ended or went) was the head, or
    /// `entered` (an execution just released) is the head now.
    pub(crate) async fn announce_pending_change(
        &self,
        part: &Partition,
        thing: &str,
        left: Option<&Execution>,
        entered: Option<&Execution>,
        list_changed: bool,
        // The document of a job as devices get it, when the caller has it (the rollout: one
        // document for every device of a step instead of one job read each).
        known: Option<&(String, String)>,
    ) {
        let pending = match self.pending(part, thing) {
            Ok(p) => p,
            Err(e) => return tracing::warn!(thing, error = %e.message, "job notification not sent"),
        };
        let now = self.clock.now();
        let head = pending.first();
        let head_changed = match (left, entered) {
            (_, Some(n)) if head.is_some_and(|h| h.job_id == n.job_id) => {
                // A released execution is new; one that only started heads the list now, and
                // the head changed unless it headed it already as QUEUED.
                list_changed || {
                    let queued = Execution {
                        status: ExecutionStatus::Queued,
                        ..n.clone()
                    };
                    !pending
                        .iter()
                        .filter(|o| o.job_id != n.job_id)
                        .all(|o| pending_order(&queued, o).is_lt())
                }
            }
            (Some(l), _) => head.is_none_or(|h| pending_order(l, h).is_lt()),
            _ => false,
        };
        let (in_progress, queued) = split(&pending, NOTIFY_LIMIT);
        let mut jobs = Map::new();
        if !in_progress.is_empty() {
            jobs.insert("IN_PROGRESS".into(), in_progress.into());
        }
        if !queued.is_empty() {
            jobs.insert("QUEUED".into(), queued.into());
        }
        let prefix = format!("$aws/things/{thing}/jobs");
        let mut answers = Vec::new();
        if list_changed {
            answers.push(Answer {
                topic: format!("{prefix}/notify"),
                payload: json!({"timestamp": now.secs(), "jobs": jobs})
                    .to_string()
                    .into_bytes(),
            });
        }
        if head_changed {
            let mut next = json!({ "timestamp": now.secs() });
            if let Some(h) = head {
                let doc = match known {
                    Some((id, d)) if *id == h.job_id => Some(d.clone()),
                    _ => self.job_document(part, &h.job_id).ok(),
                };
                next["execution"] = execution(h, doc.as_deref(), now);
            }
            answers.push(Answer {
                topic: format!("{prefix}/notify-next"),
                payload: next.to_string().into_bytes(),
            });
        }
        if let Err(e) =
            crate::reserved::publish(&self.messaging, self.clock.as_ref(), part, answers).await
        {
            tracing::warn!(thing, error = %e.message, "job notification not published");
        }
    }
}
