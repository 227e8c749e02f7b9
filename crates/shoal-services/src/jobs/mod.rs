//! The Jobs service: jobs and their executions, run for real. A job's record holds its
//! definition and the progress of its rollout; each (job, thing) has one execution record, the
//! latest attempt. Everything time-based — expanding targets into executions, releasing them
//! at the rollout's rate, canceling them, timing them out — is a timer of the durable
//! scheduler, so a restart (or another node) carries on where the last one stopped, and each
//! step commits with its timer, so nothing is done twice.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs.html>

mod continuous;
mod device;
mod events;
mod executions;
mod notify;
mod preview;
mod rollout;
mod templates;
#[cfg(test)]
mod tests;

pub use executions::{ExecutionFilter, Refusal};
pub use preview::{AbortFrom, Preview, PreviewWave};
pub use templates::{CreateTemplate, JobTemplate};

use crate::records::{decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use crate::registry::{Page, KIND_GROUP, KIND_THING};
use crate::scheduler::{Scheduler, TimerId};
use crate::Messaging;
use shoal_domain::error::Result;
use shoal_domain::jobs::{
    check_document, ExecutionStatus, Job, JobConfig, JobId, JobStatus, ProcessDetails,
    RolloutWindow, Schedule, TargetSelection,
};
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::{Arn, Clock, ErrorKind, Partition, ServiceError};
use shoal_store::{Batch, Expect, Store, Term, TermMatch};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) const KIND_JOB: &str = "job";
pub(crate) const KIND_EXECUTION: &str = "job-execution";
/// Job: its status (ListJobs' filter).
const TERM_STATUS: &str = "status";
/// Job: each thing-group target's name (ListJobs' thingGroupName filter).
const TERM_GROUP: &str = "group";
/// Execution: `JOB/STATUS` (counts and listings by status).
const TERM_JOB_STATUS: &str = "job-status";
/// Execution: its thing.
const TERM_THING: &str = "thing";
/// Execution released and not ended: its thing (the device's pending list).
const TERM_PENDING: &str = "pending";
/// Execution not yet released by the rollout: its job.
const TERM_UNRELEASED: &str = "unreleased";
/// Timers: a job's rollout (expanding, releasing, canceling), an execution's time-out.
pub(crate) const ROLLOUT: &str = "job-rollout";
pub(crate) const TIMEOUT: &str = "job-timeout";
/// Targets per job (AssociateTargetsWithJob's documented total).
const MAX_TARGETS: usize = 100;

/// What CreateJob asks.
pub struct CreateJob {
    pub job_id: JobId,
    pub targets: Vec<String>,
    pub document: Option<String>,
    pub document_source: Option<String>,
    pub description: Option<String>,
    pub target_selection: Option<TargetSelection>,
    pub config: JobConfig,
    pub job_template_arn: Option<String>,
    pub document_parameters: BTreeMap<String, String>,
}

/// ListJobs' filters.
#[derive(Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub target_selection: Option<TargetSelection>,
    pub thing_group_name: Option<String>,
}

pub struct Jobs {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    scheduler: Arc<Scheduler>,
    messaging: Arc<Messaging>,
    events: Arc<crate::Events>,
    /// The store's change `seq` the membership follower has applied (tests wait on it).
    applied: tokio::sync::watch::Sender<u64>,
    /// Itself, for work it hands to tasks of their own.
    me: std::sync::Weak<Jobs>,
    /// The fleet index, for abort criteria with a fleet query (set once both exist).
    fleet: std::sync::OnceLock<crate::FleetIndexing>,
    /// When each large job's abort criteria were last judged from a device update (a throttle:
    /// the job's timer judges them every minute whatever happens here).
    abort_judged: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// Object storage: documents from `documentSource`, and the presigned URLs that replace
    /// `${aws:iot:s3-presigned-url:...}` placeholders in what devices get.
    objects: std::sync::OnceLock<Arc<crate::Objects>>,
    /// Device logs, for ReportFinalJobExecutionCount when a job completes.
    logs: std::sync::OnceLock<Arc<crate::DeviceLogs>>,
    /// Notifications being sent in the background: a bound, so a rollout of a million waits
    /// for its devices to be told rather than growing the process.
    notifying: Arc<tokio::sync::Semaphore>,
}

/// Notifications sent at once.
const NOTIFYING: u32 = 256;
/// Jobs with up to this many released executions judge their abort criteria on every device
/// update; larger ones at most once a second (a judgment counts every execution).
#[cfg(not(test))]
const ABORT_EVERY_UPDATE: u64 = 10_000;
#[cfg(test)]
const ABORT_EVERY_UPDATE: u64 = 1;
/// DeleteJob removes a job with at most this many executions in one write; a larger one goes
/// this many at a time on its timer.
#[cfg(not(test))]
pub(crate) const DELETE_AT_ONCE: usize = 2000;
#[cfg(test)]
pub(crate) const DELETE_AT_ONCE: usize = 1;

fn job_not_found(id: &str) -> ServiceError {
    ServiceError::not_found(format!("Job {id} does not exist"))
}

fn job_terms(job: &Job) -> Vec<Term> {
    let mut terms = vec![Term::new(TERM_STATUS, job.status.as_str())];
    if job.target_selection == TargetSelection::Continuous
        && job.status == JobStatus::InProgress
        && !job.rollout_stopped
    {
        terms.push(Term::new(continuous::TERM_CONTINUOUS, "1"));
    }
    for t in &job.targets {
        if let Some(g) = t.split_once(":thinggroup/").map(|(_, g)| g) {
            terms.push(Term::new(TERM_GROUP, g));
        }
    }
    terms
}

/// A job's target: a thing or a thing group of the caller's partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Thing(String),
    Group(String),
}

pub(crate) fn parse_target(part: &Partition, arn: &str) -> Result<Target> {
    let a = Arn::parse(arn)?;
    if a.account != part.account.as_str() || a.region != part.region.as_str() {
        return Err(ServiceError::invalid(format!(
            "The target {arn} is not in this account and region"
        )));
    }
    match a.resource_type.as_str() {
        "thing" => Ok(Target::Thing(a.resource)),
        "thinggroup" => Ok(Target::Group(a.resource)),
        _ => Err(ServiceError::invalid(format!(
            "The target {arn} is not a thing or a thing group"
        ))),
    }
}

impl Jobs {
    /// The admin reset: forgets what this node remembers of the partition's jobs (their
    /// records are gone with the partition).
    pub fn reset(&self, part: &Partition) {
        let prefix = format!("{}/", part.key());
        self.abort_judged
            .lock()
            .expect("abort_judged")
            .retain(|k, _| !k.starts_with(&prefix));
    }

    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        scheduler: Arc<Scheduler>,
        messaging: Arc<Messaging>,
        events: Arc<crate::Events>,
    ) -> Arc<Jobs> {
        let jobs = Arc::new_cyclic(|me| Jobs {
            store,
            clock,
            scheduler: scheduler.clone(),
            messaging,
            events,
            applied: tokio::sync::watch::channel(0).0,
            me: me.clone(),
            fleet: std::sync::OnceLock::new(),
            objects: std::sync::OnceLock::new(),
            logs: std::sync::OnceLock::new(),
            abort_judged: Default::default(),
            notifying: Arc::new(tokio::sync::Semaphore::new(NOTIFYING as usize)),
        });
        rollout::register(&jobs, &scheduler);
        jobs
    }

    /// Lets jobs read documents from object storage and presign the URLs devices get.
    pub fn with_objects(self: Arc<Self>, objects: Arc<crate::Objects>) -> Arc<Self> {
        let _ = self.objects.set(objects);
        self
    }

    /// A job document kept in object storage (`documentSource`), read when the job or
    /// template is made, as AWS reads it.
    pub(crate) async fn document_from(&self, part: &Partition, source: &str) -> Result<String> {
        let (bucket, key) = shoal_domain::objects::parse_object_url(source)?;
        let objects = self
            .objects
            .get()
            .ok_or_else(|| ServiceError::internal("object storage is not set up"))?;
        let bytes = objects
            .read_small(
                part,
                &bucket,
                &key,
                4 * shoal_domain::jobs::MAX_DOCUMENT as u64,
            )
            .await
            .map_err(|e| {
                ServiceError::invalid(format!(
                    "The documentSource {source} cannot be read: {}",
                    e.message
                ))
            })?;
        String::from_utf8(bytes)
            .map_err(|_| ServiceError::invalid(format!("The documentSource {source} is not UTF-8")))
    }

    /// The document as a device gets it: each `${aws:iot:s3-presigned-url:URL}` replaced by a
    /// presigned GET of that object, valid `presignedUrlConfig.expiresInSec` (an hour unless
    /// set), made anew each time
    /// (https://docs.aws.amazon.com/iot/latest/developerguide/create-manage-jobs.html).
    pub fn device_document(&self, part: &Partition, job: &Job) -> String {
        let found = shoal_domain::objects::presigned_placeholders(&job.document);
        let Some(objects) = self.objects.get().filter(|_| !found.is_empty()) else {
            return job.document.clone();
        };
        let expires = job
            .config
            .presigned_url_config
            .as_ref()
            .and_then(|p| p.expires_in_sec)
            .unwrap_or(3600)
            .clamp(60, 3600) as u64;
        let mut out = String::with_capacity(job.document.len() + found.len() * 512);
        let mut at = 0;
        for (start, end, url) in found {
            out.push_str(&job.document[at..start]);
            let signed = shoal_domain::objects::parse_object_url(url)
                .and_then(|(b, k)| objects.presign_get(part, &b, &k, expires));
            match signed {
                // The document is JSON: the URL goes in a JSON string.
                Ok(u) => out.push_str(&u),
                Err(e) => {
                    tracing::warn!(job = %job.job_id, url, error = %e.message, "placeholder left as it is");
                    out.push_str(&job.document[start..end]);
                }
            }
            at = end;
        }
        out.push_str(&job.document[at..]);
        out
    }

    /// Lets abort criteria name fleet queries.
    pub fn with_logs(self: Arc<Self>, logs: Arc<crate::DeviceLogs>) -> Arc<Self> {
        let _ = self.logs.set(logs);
        self
    }

    pub fn with_fleet(self: Arc<Self>, fleet: crate::FleetIndexing) -> Arc<Self> {
        let _ = self.fleet.set(fleet);
        self
    }

    /// Checks the fleet queries of abort criteria: the index must be on and the query valid.
    pub(crate) fn check_abort_queries(&self, part: &Partition, config: &JobConfig) -> Result<()> {
        for q in config
            .abort_config
            .iter()
            .flat_map(|a| &a.criteria_list)
            .filter_map(|c| c.query_string.as_deref())
        {
            let fleet = self.fleet.get().ok_or_else(|| {
                ServiceError::invalid("Abort criteria with a query need the fleet index")
            })?;
            fleet.search(part, shoal_domain::fleet::fields::THINGS_INDEX, q, None, 1)?;
        }
        Ok(())
    }

    /// Runs `work` on a task of its own once one of the `NOTIFYING` places is free.
    pub(crate) async fn in_background<F, Fut>(&self, work: F)
    where
        F: FnOnce(Arc<Jobs>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (Some(me), Ok(permit)) = (
            self.me.upgrade(),
            self.notifying.clone().acquire_owned().await,
        ) else {
            return;
        };
        tokio::spawn(async move {
            work(me).await;
            drop(permit);
        });
    }

    /// Resolves once every notification handed to the background so far has been sent.
    pub async fn quiet(&self) {
        if let Ok(all) = self.notifying.acquire_many(NOTIFYING).await {
            drop(all);
        }
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub(crate) fn load_job(
        &self,
        part: &Partition,
        id: &str,
    ) -> Result<crate::records::Loaded<Job>> {
        load::<Job>(self.store(), &part.key(), KIND_JOB, id)?.ok_or_else(|| job_not_found(id))
    }

    /// CreateJob (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html): the
    /// job is written with its rollout timer due now; the scheduler expands its targets into
    /// executions.
    pub async fn create_job(&self, part: &Partition, req: CreateJob) -> Result<Job> {
        if req.targets.is_empty() {
            return Err(ServiceError::invalid(
                "targets must name at least one thing or group",
            ));
        }
        if req.targets.len() > MAX_TARGETS {
            return Err(ServiceError::limit(format!(
                "A job can have at most {MAX_TARGETS} targets"
            )));
        }
        let key = part.key();
        for t in &req.targets {
            self.check_target(part, t)?;
        }
        let (document, config) = match &req.job_template_arn {
            Some(arn) => {
                let t = self.template_parts(part, arn, &req.document_parameters, &req.config)?;
                (req.document.or(t.document), t.config)
            }
            None if !req.document_parameters.is_empty() => {
                return Err(ServiceError::invalid(
                    "Document parameters are only supported for managed job templates.",
                ))
            }
            None => (req.document, req.config),
        };
        let document = match (document, &req.document_source) {
            (Some(_), Some(_)) => {
                return Err(ServiceError::invalid(
                    "A job takes a document or a documentSource, not both",
                ))
            }
            (None, Some(source)) => Some(self.document_from(part, source).await?),
            (d, None) => d,
        };
        let Some(document) = document else {
            return Err(ServiceError::invalid(
                "A job needs a document, a documentSource or a jobTemplateArn",
            ));
        };
        check_document(&document)?;
        config.validate()?;
        self.check_abort_queries(part, &config)?;
        let now = self.clock.now();
        // A schedule: SCHEDULED until its start or first maintenance window.
        let (status, first_step) = match &config.scheduling_config {
            Some(c) => match Schedule::of(c, now)?.rollout_at(now) {
                RolloutWindow::Open { .. } => (JobStatus::InProgress, now),
                RolloutWindow::Closed { opens } => (JobStatus::Scheduled, opens),
                RolloutWindow::Ended => {
                    return Err(ServiceError::invalid(
                        "No maintenance window of the schedule opens before its endTime",
                    ))
                }
            },
            None => (JobStatus::InProgress, now),
        };
        if let Some(d) = &req.description {
            shoal_domain::ids::check("description", d, 0, 2028, "[^\\p{C}]+", |c| !c.is_control())?;
        }
        let job = Job {
            description: req.description,
            job_template_arn: req.job_template_arn,
            document_parameters: req.document_parameters,
            document_source: req.document_source,
            ..Job::new(
                req.job_id.as_str(),
                req.targets,
                req.target_selection.unwrap_or(TargetSelection::Snapshot),
                status,
                document,
                config,
                now,
            )
        };
        self.scheduler.track(part).await?;
        let batch = Batch::new(&key).put(
            KIND_JOB,
            &job.job_id,
            SCHEMA,
            encode(&job)?,
            job_terms(&job),
            Expect::Absent,
        );
        let batch = Scheduler::set(
            batch,
            &TimerId::new(ROLLOUT, job.job_id.clone()),
            first_step,
            serde_json::Value::Null,
            None,
        )?;
        if !try_commit(self.store(), batch).await? {
            return Err(ServiceError::already_exists(
                format!("Job {} already exists", job.job_id),
                &job.job_id,
                &part.arn("job", &job.job_id),
            ));
        }
        Ok(job)
    }

    /// DescribeJob: the job and its executions counted by status.
    pub fn describe_job(&self, part: &Partition, id: &str) -> Result<(Job, ProcessDetails)> {
        let job = self.load_job(part, id)?.value;
        let details = self.process_details(part, id)?;
        Ok((job, details))
    }

    /// `jobProcessDetails`: a count per status, from the executions' terms.
    pub fn process_details(&self, part: &Partition, id: &str) -> Result<ProcessDetails> {
        let mut d = ProcessDetails::default();
        for s in ExecutionStatus::ALL {
            d.counts
                .insert(s, self.count_status(part, id, s, usize::MAX >> 1)? as u64);
        }
        Ok(d)
    }

    /// The job's executions of one status, counting at most `limit`.
    pub(crate) fn count_status(
        &self,
        part: &Partition,
        id: &str,
        status: ExecutionStatus,
        limit: usize,
    ) -> Result<usize> {
        self.store()
            .count_by_term(
                &part.key(),
                KIND_EXECUTION,
                TERM_JOB_STATUS,
                TermMatch::Exact(&format!("{id}/{}", status.as_str())),
                limit,
            )
            .map_err(store_error)
    }

    /// The job's executions not yet released, oldest key first, at most `limit`.
    pub(crate) fn unreleased(
        &self,
        part: &Partition,
        id: &str,
        limit: usize,
    ) -> Result<Vec<shoal_store::Record>> {
        self.store()
            .list_by_term(
                &part.key(),
                KIND_EXECUTION,
                TERM_UNRELEASED,
                TermMatch::Exact(id),
                None,
                limit,
            )
            .map_err(store_error)
    }

    /// ListJobs, in job id order.
    pub fn list_jobs(
        &self,
        part: &Partition,
        filter: &JobFilter,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page<Job>> {
        let key = part.key();
        let after = token.map(decode_token).transpose()?;
        let mut items = Vec::new();
        let mut cursor = after;
        loop {
            let recs = match (&filter.thing_group_name, filter.status) {
                (Some(g), _) => self.store().list_by_term(
                    &key,
                    KIND_JOB,
                    TERM_GROUP,
                    TermMatch::Exact(g),
                    cursor.as_deref(),
                    max + 1,
                ),
                (None, Some(s)) => self.store().list_by_term(
                    &key,
                    KIND_JOB,
                    TERM_STATUS,
                    TermMatch::Exact(s.as_str()),
                    cursor.as_deref(),
                    max + 1,
                ),
                (None, None) => self
                    .store()
                    .list(&key, KIND_JOB, "", cursor.as_deref(), max + 1),
            }
            .map_err(store_error)?;
            let exhausted = recs.len() <= max;
            for r in &recs {
                let job: Job = decode(r)?;
                cursor = Some(r.key.clone());
                let keep = filter.status.is_none_or(|s| job.status == s)
                    && filter
                        .target_selection
                        .is_none_or(|t| job.target_selection == t);
                if keep {
                    if items.len() == max {
                        let last: &Job = items.last().expect("max >= 1");
                        return Ok(Page {
                            next_token: Some(encode_token(&last.job_id)),
                            items,
                        });
                    }
                    items.push(job);
                }
            }
            if exhausted {
                return Ok(Page {
                    items,
                    next_token: None,
                });
            }
        }
    }

    /// CancelJob: no more executions are released; QUEUED ones are canceled (IN_PROGRESS ones
    /// too with `force`) by the rollout timer, in chunks.
    pub async fn cancel_job(
        &self,
        part: &Partition,
        id: &str,
        force: bool,
        reason_code: Option<String>,
        comment: Option<String>,
    ) -> Result<Job> {
        for _ in 0..RETRIES {
            let cur = self.load_job(part, id)?;
            let mut job = cur.value;
            match job.status {
                JobStatus::DeletionInProgress => {
                    return Err(ServiceError::invalid(format!(
                        "Job {id} is being deleted and cannot be canceled"
                    )))
                }
                JobStatus::Completed => {
                    return Err(ServiceError::invalid(format!(
                        "Job {id} is COMPLETED and cannot be canceled"
                    )))
                }
                // Canceling again only adds force (IN_PROGRESS executions too).
                JobStatus::Canceled if !force || job.force_canceled => return Ok(job),
                _ => {}
            }
            job.status = JobStatus::Canceled;
            job.canceling = true;
            job.force_canceled |= force;
            if reason_code.is_some() {
                job.reason_code = reason_code.clone();
            }
            if comment.is_some() {
                job.comment = comment.clone();
            }
            job.last_updated_at = self.clock.now();
            if self.write_job_with_rollout(part, &job, cur.rev).await? {
                self.job_event(part, &job, "canceled", None).await;
                return Ok(job);
            }
        }
        Err(crate::records::contention())
    }

    /// Writes a job (under `rev`) with its rollout timer due now.
    pub(crate) async fn write_job_with_rollout(
        &self,
        part: &Partition,
        job: &Job,
        rev: u64,
    ) -> Result<bool> {
        self.scheduler.track(part).await?;
        let id = TimerId::new(ROLLOUT, job.job_id.clone());
        let current = self.scheduler.find(part, &id)?;
        let batch = Batch::new(part.key()).put(
            KIND_JOB,
            &job.job_id,
            SCHEMA,
            encode(job)?,
            job_terms(job),
            Expect::Rev(rev),
        );
        let batch = Scheduler::set(
            batch,
            &id,
            self.clock.now(),
            serde_json::Value::Null,
            current.as_ref(),
        )?;
        try_commit(self.store(), batch).await
    }

    /// DeleteJob: a COMPLETED or CANCELED job, or any with `force`, goes with all its
    /// executions at once; devices that had one pending are told.
    pub async fn delete_job(&self, part: &Partition, id: &str, force: bool) -> Result<()> {
        for _ in 0..RETRIES {
            let cur = self.load_job(part, id)?;
            if cur.value.status == JobStatus::DeletionInProgress {
                return Ok(());
            }
            if !cur.value.status.is_terminal() && !force {
                return Err(ServiceError::new(
                    ErrorKind::InvalidStateTransition,
                    format!(
                        "Job {id} is {}; only a COMPLETED or CANCELED job can be deleted without force",
                        cur.value.status.as_str()
                    ),
                ));
            }
            // A large job goes step by step on its timer (DELETION_IN_PROGRESS meanwhile), so
            // that no single write holds the store for the whole of it.
            let executions = self
                .store()
                .count(
                    &part.key(),
                    KIND_EXECUTION,
                    &format!("{id}/"),
                    DELETE_AT_ONCE + 1,
                )
                .map_err(store_error)?;
            if executions > DELETE_AT_ONCE {
                let mut job = cur.value.clone();
                job.status = JobStatus::DeletionInProgress;
                job.last_updated_at = self.clock.now();
                if self.write_job_with_rollout(part, &job, cur.rev).await? {
                    return Ok(());
                }
                continue;
            }
            let pending = self.pending_of_job(part, id)?;
            let mut batch = Batch::new(part.key())
                .delete(KIND_JOB, id, Expect::Rev(cur.rev))
                .delete_prefix(KIND_EXECUTION, &format!("{id}/"));
            if let Some(t) = self
                .scheduler
                .find(part, &TimerId::new(ROLLOUT, id.to_string()))?
            {
                batch = Scheduler::clear(batch, &t);
            }
            if try_commit(self.store(), batch).await? {
                self.job_event(part, &cur.value, "deleted", None).await;
                self.tell_removed(part, pending).await;
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// Tells the devices whose pending executions went that their lists changed.
    pub(crate) async fn tell_removed(
        &self,
        part: &Partition,
        removed: Vec<shoal_domain::jobs::Execution>,
    ) {
        for e in removed {
            let p = part.clone();
            self.in_background(move |jobs| async move {
                jobs.announce_pending_change(&p, &e.thing_name, Some(&e), None, true, None)
                    .await
            })
            .await;
        }
    }

    /// Things with an execution of the job their device sees as pending (at most 10,000 are
    /// told of a forced deletion).
    fn pending_of_job(
        &self,
        part: &Partition,
        id: &str,
    ) -> Result<Vec<shoal_domain::jobs::Execution>> {
        let mut out = Vec::new();
        for s in [ExecutionStatus::Queued, ExecutionStatus::InProgress] {
            let recs = self
                .store()
                .list_by_term(
                    &part.key(),
                    KIND_EXECUTION,
                    TERM_JOB_STATUS,
                    TermMatch::Exact(&format!("{id}/{}", s.as_str())),
                    None,
                    10_000,
                )
                .map_err(store_error)?;
            for r in &recs {
                let e: shoal_domain::jobs::Execution = decode(r)?;
                if e.released {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// UpdateJob: the description and the configurations AWS lets change; retries may only be
    /// lowered to none.
    pub async fn update_job(
        &self,
        part: &Partition,
        id: &str,
        description: Option<String>,
        config: JobConfig,
    ) -> Result<()> {
        config.validate()?;
        self.check_abort_queries(part, &config)?;
        for _ in 0..RETRIES {
            let cur = self.load_job(part, id)?;
            let mut job = cur.value;
            if !job.is_running() {
                return Err(ServiceError::invalid(format!(
                    "Job {id} is {} and cannot be updated",
                    job.status.as_str()
                )));
            }
            if let Some(d) = &description {
                job.description = Some(d.clone());
            }
            if let Some(r) = &config.job_executions_retry_config {
                if r.criteria_list.iter().any(|c| c.number_of_retries > 0) {
                    return Err(ServiceError::invalid(
                        "The number of retries can only be set to 0 after a job is created",
                    ));
                }
                job.config.job_executions_retry_config = Some(r.clone());
            }
            let c = &mut job.config;
            if config.presigned_url_config.is_some() {
                c.presigned_url_config
                    .clone_from(&config.presigned_url_config);
            }
            if config.job_executions_rollout_config.is_some() {
                c.job_executions_rollout_config
                    .clone_from(&config.job_executions_rollout_config);
            }
            if config.abort_config.is_some() {
                c.abort_config.clone_from(&config.abort_config);
            }
            if config.timeout_config.is_some() {
                c.timeout_config.clone_from(&config.timeout_config);
            }
            job.last_updated_at = self.clock.now();
            if self.write_job_with_rollout(part, &job, cur.rev).await? {
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// The document of a job as its devices get it (placeholders resolved).
    pub fn job_document(&self, part: &Partition, id: &str) -> Result<String> {
        Ok(self.device_document(part, &self.load_job(part, id)?.value))
    }
}
