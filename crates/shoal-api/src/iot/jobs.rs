//! The Jobs operations of `iot`: CreateJob, DescribeJob, UpdateJob, CancelJob, DeleteJob,
//! ListJobs, GetJobDocument and the execution operations, shaped as the botocore model's `Job`,
//! `JobExecution` and their summaries (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html).

use super::shapes::{epoch, with_token};
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::jobs::{format_date_time, Schedule};
use shoal_domain::jobs::{
    managed_template, managed_templates, Execution, ExecutionStatus, Job, JobConfig, JobId,
    JobStatus, JobTemplateId, ManagedTemplate, ProcessDetails, StatusDetails, TargetSelection,
};
use shoal_domain::page::max_results;
use shoal_domain::{Partition, ServiceError, ThingName};
use shoal_services::jobs::{CreateJob, CreateTemplate, ExecutionFilter, JobFilter};
use shoal_services::Jobs;
use std::collections::BTreeMap;

type R = Result<Value, ApiError>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateJobIn {
    targets: Option<Vec<String>>,
    document_source: Option<String>,
    document: Option<String>,
    description: Option<String>,
    target_selection: Option<String>,
    job_template_arn: Option<String>,
    document_parameters: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    config: JobConfig,
}

fn job_id(id: &str) -> Result<JobId, ApiError> {
    Ok(JobId::parse(id)?)
}

fn enum_value<T>(field: &str, v: &str, parse: fn(&str) -> Option<T>) -> Result<T, ApiError> {
    parse(v).ok_or_else(|| {
        ApiError::from(shoal_domain::ids::validation_error(
            field,
            v,
            "Member must satisfy enum value set",
        ))
    })
}

pub async fn create(jobs: &Jobs, part: &Partition, id: &str, body: &[u8]) -> R {
    let i: CreateJobIn = json::parse(body)?;
    let target_selection = i
        .target_selection
        .as_deref()
        .map(|t| enum_value("targetSelection", t, TargetSelection::parse))
        .transpose()?;
    let job = jobs
        .create_job(
            part,
            CreateJob {
                job_id: job_id(id)?,
                targets: i
                    .targets
                    .ok_or_else(|| ApiError::invalid("targets is required"))?,
                document: i.document,
                document_source: i.document_source,
                description: i.description,
                target_selection,
                config: i.config,
                job_template_arn: i.job_template_arn,
                document_parameters: i.document_parameters.unwrap_or_default(),
            },
        )
        .await?;
    Ok(created(part, &job))
}

/// CreateJob's and CancelJob's answer.
fn created(part: &Partition, job: &Job) -> Value {
    let mut v = json!({ "jobArn": part.arn("job", &job.job_id), "jobId": job.job_id });
    if let Some(d) = &job.description {
        v["description"] = d.as_str().into();
    }
    v
}

fn process_details(job: &Job, d: &ProcessDetails) -> Value {
    use ExecutionStatus as S;
    let mut v = json!({
        "numberOfCanceledThings": d.count(S::Canceled),
        "numberOfSucceededThings": d.count(S::Succeeded),
        "numberOfFailedThings": d.count(S::Failed),
        "numberOfRejectedThings": d.count(S::Rejected),
        "numberOfQueuedThings": d.count(S::Queued),
        "numberOfInProgressThings": d.count(S::InProgress),
        "numberOfRemovedThings": d.count(S::Removed),
        "numberOfTimedOutThings": d.count(S::TimedOut),
    });
    // The targets still being rolled out.
    if job.is_concurrent() {
        v["processingTargets"] = json!(job.targets[job.cursor_target.min(job.targets.len())..]);
    }
    v
}

fn job_json(
    part: &Partition,
    job: &Job,
    details: &ProcessDetails,
    now: shoal_domain::Timestamp,
) -> Value {
    let mut v = json!({
        "jobArn": part.arn("job", &job.job_id),
        "jobId": job.job_id,
        "targetSelection": job.target_selection.as_str(),
        "status": job.status.as_str(),
        "forceCanceled": job.force_canceled,
        "targets": job.targets,
        "createdAt": epoch(job.created_at),
        "lastUpdatedAt": epoch(job.last_updated_at),
        "jobProcessDetails": process_details(job, details),
        "isConcurrent": job.is_concurrent(),
    });
    let extra = [
        ("description", job.description.clone()),
        ("reasonCode", job.reason_code.clone()),
        ("comment", job.comment.clone()),
    ];
    for (k, val) in extra {
        if let Some(s) = val {
            v[k] = s.into();
        }
    }
    if let Some(c) = job.completed_at {
        v["completedAt"] = epoch(c);
    }
    if let Some(t) = &job.job_template_arn {
        v["jobTemplateArn"] = t.as_str().into();
    }
    if !job.document_parameters.is_empty() {
        v["documentParameters"] = json!(job.document_parameters);
    }
    if let (Value::Object(m), Ok(Value::Object(c))) = (&mut v, serde_json::to_value(&job.config)) {
        m.extend(c);
    }
    // The next seven maintenance windows.
    let windows = job
        .config
        .scheduling_config
        .as_ref()
        .and_then(|c| Schedule::parse(c).ok())
        .map(|s| s.next_window_starts(now, 7))
        .unwrap_or_default();
    if !windows.is_empty() {
        v["scheduledJobRollouts"] = windows
            .into_iter()
            .map(|t| json!({ "startTime": format_date_time(t) }))
            .collect::<Vec<_>>()
            .into();
    }
    v
}

pub fn describe(jobs: &Jobs, part: &Partition, id: &str, now: shoal_domain::Timestamp) -> R {
    let (job, details) = jobs.describe_job(part, id)?;
    let mut out = json!({ "job": job_json(part, &job, &details, now) });
    if let Some(s) = &job.document_source {
        out["documentSource"] = s.as_str().into();
    }
    Ok(out)
}

/// GetJobDocument; `beforeSubstitution=true` gives a managed template's document with its
/// placeholders.
pub fn document(jobs: &Jobs, part: &Partition, id: &str, query: &Query) -> R {
    let (job, _) = jobs.describe_job(part, id)?;
    let raw = query.bool("beforeSubstitution")?.unwrap_or(false);
    let managed = job
        .job_template_arn
        .as_deref()
        .and_then(shoal_domain::jobs::parse_managed_arn)
        .and_then(|(n, v)| managed_template(&n, Some(&v)));
    let doc = match managed {
        Some(t) if raw => t.document,
        _ => job.document,
    };
    Ok(json!({ "document": doc }))
}

pub fn list(jobs: &Jobs, part: &Partition, query: &Query) -> R {
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let filter = JobFilter {
        status: query
            .get("status")
            .map(|s| enum_value("status", s, JobStatus::parse))
            .transpose()?,
        target_selection: query
            .get("targetSelection")
            .map(|s| enum_value("targetSelection", s, TargetSelection::parse))
            .transpose()?,
        thing_group_name: query.string("thingGroupName"),
    };
    let page = jobs.list_jobs(part, &filter, query.get("nextToken"), max)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|j| {
            let mut v = json!({
                "jobArn": part.arn("job", &j.job_id),
                "jobId": j.job_id,
                "targetSelection": j.target_selection.as_str(),
                "status": j.status.as_str(),
                "createdAt": epoch(j.created_at),
                "lastUpdatedAt": epoch(j.last_updated_at),
                "isConcurrent": j.is_concurrent(),
            });
            if let Some(c) = j.completed_at {
                v["completedAt"] = epoch(c);
            }
            v
        })
        .collect();
    Ok(with_token(json!({ "jobs": items }), page.next_token))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateJobIn {
    description: Option<String>,
    #[serde(flatten)]
    config: JobConfig,
}

pub async fn update(jobs: &Jobs, part: &Partition, id: &str, body: &[u8]) -> R {
    let i: UpdateJobIn = json::parse(body)?;
    jobs.update_job(part, id, i.description, i.config).await?;
    Ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelIn {
    reason_code: Option<String>,
    comment: Option<String>,
}

pub async fn cancel(jobs: &Jobs, part: &Partition, id: &str, query: &Query, body: &[u8]) -> R {
    let i: CancelIn = json::parse(body)?;
    if let Some(r) = &i.reason_code {
        shoal_domain::ids::check("reasonCode", r, 0, 128, "[\\p{Upper}\\p{Digit}_]+", |c| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
        })?;
    }
    let force = query.bool("force")?.unwrap_or(false);
    let job = jobs
        .cancel_job(part, id, force, i.reason_code, i.comment)
        .await?;
    Ok(created(part, &job))
}

pub async fn delete(jobs: &Jobs, part: &Partition, id: &str, query: &Query) -> R {
    jobs.delete_job(part, id, query.bool("force")?.unwrap_or(false))
        .await?;
    Ok(json!({}))
}

/// `JobExecution` (control plane: `statusDetails` nests a `detailsMap`).
fn execution_json(part: &Partition, e: &Execution, now: shoal_domain::Timestamp) -> Value {
    let mut v = json!({
        "jobId": e.job_id,
        "status": e.status.as_str(),
        "forceCanceled": e.force_canceled,
        "statusDetails": { "detailsMap": e.status_details },
        "thingArn": part.arn("thing", &e.thing_name),
        "queuedAt": epoch(e.queued_at),
        "lastUpdatedAt": epoch(e.last_updated_at),
        "executionNumber": e.execution_number,
        "versionNumber": e.version_number,
    });
    if let Some(s) = e.started_at {
        v["startedAt"] = epoch(s);
    }
    if let Some(s) = e.seconds_before_timed_out(now) {
        v["approximateSecondsBeforeTimedOut"] = s.into();
    }
    v
}

fn execution_summary(e: &Execution) -> Value {
    let mut v = json!({
        "status": e.status.as_str(),
        "queuedAt": epoch(e.queued_at),
        "lastUpdatedAt": epoch(e.last_updated_at),
        "executionNumber": e.execution_number,
        "retryAttempt": e.retry_attempt,
    });
    if let Some(s) = e.started_at {
        v["startedAt"] = epoch(s);
    }
    v
}

fn thing(name: &str) -> Result<ThingName, ApiError> {
    Ok(ThingName::parse(name)?)
}

pub fn describe_execution(
    jobs: &Jobs,
    part: &Partition,
    thing_name: &str,
    id: &str,
    query: &Query,
    now: shoal_domain::Timestamp,
) -> R {
    thing(thing_name)?;
    let e = jobs.describe_execution(part, id, thing_name, query.int("executionNumber")?)?;
    Ok(json!({ "execution": execution_json(part, &e, now) }))
}

fn status_filter(query: &Query) -> Result<Option<ExecutionStatus>, ApiError> {
    query
        .get("status")
        .map(|s| enum_value("status", s, ExecutionStatus::parse))
        .transpose()
}

pub fn list_for_job(jobs: &Jobs, part: &Partition, id: &str, query: &Query) -> R {
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let page = jobs.list_for_job(part, id, status_filter(query)?, query.get("nextToken"), max)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|e| {
            json!({
                "thingArn": part.arn("thing", &e.thing_name),
                "jobExecutionSummary": execution_summary(e),
            })
        })
        .collect();
    Ok(with_token(
        json!({ "executionSummaries": items }),
        page.next_token,
    ))
}

pub fn list_for_thing(jobs: &Jobs, part: &Partition, thing_name: &str, query: &Query) -> R {
    thing(thing_name)?;
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let filter = ExecutionFilter {
        status: status_filter(query)?,
        job_id: query.string("jobId"),
    };
    let page = jobs.list_for_thing(part, thing_name, &filter, query.get("nextToken"), max)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|e| json!({ "jobId": e.job_id, "jobExecutionSummary": execution_summary(e) }))
        .collect();
    Ok(with_token(
        json!({ "executionSummaries": items }),
        page.next_token,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelExecutionIn {
    expected_version: Option<i64>,
    status_details: Option<StatusDetails>,
}

pub async fn cancel_execution(
    jobs: &Jobs,
    part: &Partition,
    thing_name: &str,
    id: &str,
    query: &Query,
    body: &[u8],
) -> R {
    thing(thing_name)?;
    let i: CancelExecutionIn = json::parse(body)?;
    jobs.cancel_execution(
        part,
        id,
        thing_name,
        query.bool("force")?.unwrap_or(false),
        i.expected_version,
        i.status_details,
    )
    .await?;
    Ok(json!({}))
}

pub async fn delete_execution(
    jobs: &Jobs,
    part: &Partition,
    thing_name: &str,
    id: &str,
    number: &str,
    query: &Query,
) -> R {
    thing(thing_name)?;
    let number: i64 = number.parse().map_err(|_| {
        ApiError::from(ServiceError::invalid(format!(
            "Invalid executionNumber {number}"
        )))
    })?;
    jobs.delete_execution(
        part,
        id,
        thing_name,
        number,
        query.bool("force")?.unwrap_or(false),
    )
    .await?;
    Ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTemplateIn {
    description: Option<String>,
    job_arn: Option<String>,
    document: Option<String>,
    document_source: Option<String>,
    maintenance_windows: Option<Vec<Value>>,
    destination_package_versions: Option<Vec<String>>,
    #[serde(flatten)]
    config: JobConfig,
}

pub async fn create_template(jobs: &Jobs, part: &Partition, id: &str, body: &[u8]) -> R {
    let i: CreateTemplateIn = json::parse(body)?;
    let t = jobs
        .create_template(
            part,
            CreateTemplate {
                id: JobTemplateId::parse(id)?,
                description: i.description,
                job_arn: i.job_arn,
                document: i.document,
                document_source: i.document_source,
                config: i.config,
                maintenance_windows: i.maintenance_windows.unwrap_or_default(),
                destination_package_versions: i.destination_package_versions.unwrap_or_default(),
            },
        )
        .await?;
    Ok(json!({
        "jobTemplateArn": part.arn("jobtemplate", &t.id),
        "jobTemplateId": t.id,
    }))
}

pub fn describe_template(jobs: &Jobs, part: &Partition, id: &str) -> R {
    let t = jobs.describe_template(part, id)?;
    let mut v = json!({
        "jobTemplateArn": part.arn("jobtemplate", &t.id),
        "jobTemplateId": t.id,
        "description": t.description,
        "createdAt": epoch(t.created_at),
    });
    if let Some(d) = &t.document {
        v["document"] = d.as_str().into();
    }
    if !t.maintenance_windows.is_empty() {
        v["maintenanceWindows"] = t.maintenance_windows.clone().into();
    }
    if !t.destination_package_versions.is_empty() {
        v["destinationPackageVersions"] = json!(t.destination_package_versions);
    }
    if let (Value::Object(m), Ok(Value::Object(c))) = (&mut v, serde_json::to_value(&t.config)) {
        m.extend(c);
    }
    Ok(v)
}

pub async fn delete_template(jobs: &Jobs, part: &Partition, id: &str) -> R {
    jobs.delete_template(part, id).await?;
    Ok(json!({}))
}

pub fn list_templates(jobs: &Jobs, part: &Partition, query: &Query) -> R {
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let page = jobs.list_templates(part, query.get("nextToken"), max)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|t| {
            json!({
                "jobTemplateArn": part.arn("jobtemplate", &t.id),
                "jobTemplateId": t.id,
                "description": t.description,
                "createdAt": epoch(t.created_at),
            })
        })
        .collect();
    Ok(with_token(
        json!({ "jobTemplates": items }),
        page.next_token,
    ))
}

fn managed_summary(part: &Partition, t: &ManagedTemplate) -> Value {
    json!({
        "templateArn": t.arn(part.region.as_str()),
        "templateName": t.name,
        "description": t.description,
        "environments": ManagedTemplate::ENVIRONMENTS,
        "templateVersion": t.version,
    })
}

pub fn describe_managed(part: &Partition, name: &str, query: &Query) -> R {
    let version = query.get("templateVersion");
    let t = managed_template(name, version).ok_or_else(|| {
        ApiError::from(ServiceError::not_found(format!(
            "Managed job template {name} does not exist"
        )))
    })?;
    let params: Vec<Value> = t
        .parameters
        .iter()
        .map(|p| {
            json!({
                "key": p.key,
                "description": p.description,
                "regex": p.regex,
                "example": p.example,
                "optional": p.optional,
            })
        })
        .collect();
    let mut v = managed_summary(part, &t);
    v["documentParameters"] = params.into();
    v["document"] = t.document.clone().into();
    Ok(v)
}

pub fn list_managed(part: &Partition, query: &Query) -> R {
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let name = query.get("templateName");
    let all: Vec<ManagedTemplate> = managed_templates()
        .into_iter()
        .filter(|t| name.is_none_or(|n| n == t.name))
        .collect();
    if let Some(n) = name {
        if all.is_empty() {
            return Err(ServiceError::not_found(format!(
                "Managed job template {n} does not exist"
            ))
            .into());
        }
    }
    // The token is the last name listed.
    let after = query
        .get("nextToken")
        .map(shoal_domain::page::decode_token)
        .transpose()?;
    let rest: Vec<&ManagedTemplate> = all
        .iter()
        .filter(|t| after.as_deref().is_none_or(|a| t.name > a))
        .collect();
    let page: Vec<Value> = rest
        .iter()
        .take(max)
        .map(|t| managed_summary(part, t))
        .collect();
    let next = (rest.len() > max).then(|| shoal_domain::page::encode_token(rest[max - 1].name));
    Ok(with_token(json!({ "managedJobTemplates": page }), next))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociateIn {
    targets: Option<Vec<String>>,
    comment: Option<String>,
}

pub async fn associate_targets(jobs: &Jobs, part: &Partition, id: &str, body: &[u8]) -> R {
    let i: AssociateIn = json::parse(body)?;
    let job = jobs
        .associate_targets(part, id, i.targets.unwrap_or_default(), i.comment)
        .await?;
    Ok(created(part, &job))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreviewIn {
    targets: Option<Vec<String>>,
    #[serde(flatten)]
    config: JobConfig,
}

/// Shoal's rollout preview (`POST /shoal/rollout-preview`, a CreateJob body): the waves of
/// things and their times under the rollout, schedule and abort settings, nothing sent.
pub fn preview(jobs: &Jobs, part: &Partition, body: &[u8]) -> R {
    let i: PreviewIn = json::parse(body)?;
    let p = jobs.preview(part, &i.targets.unwrap_or_default(), &i.config)?;
    let waves: Vec<Value> = p
        .waves
        .iter()
        .enumerate()
        .map(|(n, w)| {
            json!({
                "wave": n + 1,
                "startTime": epoch(w.wave.at),
                "startTimeUtc": format_date_time(w.wave.at),
                "ratePerMinute": w.wave.rate,
                "count": w.wave.count,
                "things": w.things,
            })
        })
        .collect();
    let abort: Vec<Value> = p
        .abort
        .iter()
        .map(|a| {
            let mut v = json!({
                "failureType": a.failure_type,
                "thresholdPercentage": a.threshold_percentage,
                "minNumberOfExecutedThings": a.min_executed,
            });
            if let Some((wave, at)) = a.from {
                v["earliestWave"] = wave.into();
                v["earliestTime"] = epoch(at);
            }
            v
        })
        .collect();
    Ok(json!({
        "targets": p.targets,
        "neverReleased": p.never_released,
        "waves": waves,
        "abortCriteria": abort,
    }))
}
