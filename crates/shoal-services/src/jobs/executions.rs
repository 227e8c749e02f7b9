//! Executions: their records and terms, what a device asks of its own (the pending list,
//! start-next, describe, update) and what the job's owner does to them (describe, list,
//! cancel, delete). After a change commits, the device is told (`notify.rs`), the job may be
//! complete or aborted, and a retry may be queued.

use super::*;
use crate::records::Loaded;
use shoal_domain::jobs::{DeviceUpdate, Execution, StatusDetails};
use shoal_domain::Timestamp;

/// A refusal of a device's request, with the execution's state when AWS sends it
/// (InvalidStateTransition and VersionMismatch).
#[derive(Debug)]
pub struct Refusal {
    pub error: ServiceError,
    pub state: Option<Execution>,
}

impl From<ServiceError> for Refusal {
    fn from(error: ServiceError) -> Self {
        Refusal { error, state: None }
    }
}

/// ListJobExecutionsForJob / ForThing filters.
#[derive(Default)]
pub struct ExecutionFilter {
    pub status: Option<ExecutionStatus>,
    pub job_id: Option<String>,
}

pub(crate) fn execution_key(job: &str, thing: &str) -> String {
    format!("{job}/{thing}")
}

pub(crate) fn execution_terms(e: &Execution) -> Vec<Term> {
    let mut terms = vec![
        Term::new(
            TERM_JOB_STATUS,
            format!("{}/{}", e.job_id, e.status.as_str()),
        ),
        Term::new(TERM_THING, e.thing_name.as_str()),
    ];
    if e.is_pending() {
        terms.push(Term::new(TERM_PENDING, e.thing_name.as_str()));
    }
    if !e.released && !e.status.is_terminal() {
        terms.push(Term::new(TERM_UNRELEASED, e.job_id.as_str()));
    }
    terms
}

/// The order a device's pending executions come in: IN_PROGRESS first, then QUEUED, each by
/// the time it was queued.
pub(crate) fn pending_order(a: &Execution, b: &Execution) -> std::cmp::Ordering {
    let rank = |e: &Execution| (e.status != ExecutionStatus::InProgress) as u8;
    (rank(a), a.queued_at, &a.job_id).cmp(&(rank(b), b.queued_at, &b.job_id))
}

impl Jobs {
    pub(crate) fn load_execution(
        &self,
        part: &Partition,
        job: &str,
        thing: &str,
    ) -> Result<Option<Loaded<Execution>>> {
        load::<Execution>(
            self.store(),
            &part.key(),
            KIND_EXECUTION,
            &execution_key(job, thing),
        )
    }

    fn execution_not_found(job: &str, thing: &str) -> ServiceError {
        ServiceError::not_found(format!(
            "No job execution exists for job {job} and thing {thing}"
        ))
    }

    /// A thing's pending executions, in the order its device works through them.
    pub fn pending(&self, part: &Partition, thing: &str) -> Result<Vec<Execution>> {
        let recs = self
            .store()
            .list_by_term(
                &part.key(),
                KIND_EXECUTION,
                TERM_PENDING,
                TermMatch::Exact(thing),
                None,
                1000,
            )
            .map_err(store_error)?;
        let mut out = Vec::with_capacity(recs.len());
        for r in &recs {
            out.push(decode::<Execution>(r)?);
        }
        out.sort_by(pending_order);
        Ok(out)
    }

    /// An execution as its device may see it: `$next` is the head of the pending list.
    pub fn describe_for_device(
        &self,
        part: &Partition,
        thing: &str,
        job: &str,
        execution_number: Option<i64>,
    ) -> Result<Option<(Execution, String)>> {
        let exec = if job == "$next" {
            match self.pending(part, thing)?.into_iter().next() {
                Some(e) => e,
                None => return Ok(None),
            }
        } else {
            match self.load_execution(part, job, thing)? {
                Some(l) if l.value.released => l.value,
                _ => return Err(Self::execution_not_found(job, thing)),
            }
        };
        if execution_number.is_some_and(|n| n != exec.execution_number) {
            return Err(Self::execution_not_found(&exec.job_id, thing));
        }
        let document = self.job_document(part, &exec.job_id)?;
        Ok(Some((exec, document)))
    }

    /// StartNextPendingJobExecution: the IN_PROGRESS execution as it is, else the oldest
    /// QUEUED one moved to IN_PROGRESS; `None` when nothing is pending.
    pub async fn start_next(
        &self,
        part: &Partition,
        thing: &str,
        details: Option<StatusDetails>,
        step_minutes: Option<i64>,
    ) -> Result<Option<(Execution, String)>> {
        for _ in 0..RETRIES {
            let Some(head) = self.pending(part, thing)?.into_iter().next() else {
                return Ok(None);
            };
            let document = self.job_document(part, &head.job_id)?;
            if head.status == ExecutionStatus::InProgress {
                return Ok(Some((head, document)));
            }
            // The head as read now: another request may have started or ended it meanwhile.
            let cur = match self.load_execution(part, &head.job_id, thing)? {
                Some(c) if c.value.status == ExecutionStatus::Queued && c.value.released => c,
                _ => continue,
            };
            let job = self.load_job(part, &head.job_id)?.value;
            let mut next = cur.value.clone();
            next.start_next(
                details.as_ref(),
                step_minutes,
                in_progress_minutes(&job),
                self.clock.now(),
            )?;
            if self.write_execution(part, &cur, &next, None).await? {
                return Ok(Some((next, document)));
            }
        }
        Err(crate::records::contention())
    }

    /// UpdateJobExecution from a device. A FAILED update with retries left queues the next
    /// attempt in the same write.
    pub async fn update_execution(
        &self,
        part: &Partition,
        thing: &str,
        job_id: &str,
        update: &DeviceUpdate,
        execution_number: Option<i64>,
    ) -> std::result::Result<(Execution, Job), Refusal> {
        for _ in 0..RETRIES {
            let cur = match self.load_execution(part, job_id, thing)? {
                Some(l) if l.value.released => l,
                _ => return Err(Self::execution_not_found(job_id, thing).into()),
            };
            if execution_number.is_some_and(|n| n != cur.value.execution_number) {
                return Err(Self::execution_not_found(job_id, thing).into());
            }
            let loaded_job = self.load_job(part, job_id)?;
            let job = &loaded_job.value;
            if job.status == JobStatus::DeletionInProgress {
                return Err(Self::execution_not_found(job_id, thing).into());
            }
            let now = self.clock.now();
            let mut next = cur.value.clone();
            if let Err(error) = next.apply(update, in_progress_minutes(job), now) {
                let state = matches!(
                    error.kind,
                    ErrorKind::InvalidStateTransition | ErrorKind::VersionConflict
                )
                .then(|| cur.value.clone());
                return Err(Refusal { error, state });
            }
            let retry = (next.status == ExecutionStatus::Failed
                && job.config.retries_left("FAILED", &next) > 0
                && job.is_running())
            .then(|| next.retried("FAILED", now));
            // The last open execution of a SNAPSHOT job completes it in the same write, so a
            // crash right after cannot leave it IN_PROGRESS (a race between two last ones is
            // settled after the write, and by the job's periodic check).
            let completed = (next.status.is_terminal()
                && retry.is_none()
                && job.is_running()
                && job.target_selection == TargetSelection::Snapshot
                && job.expanded
                && job.config.abort_config.is_none()
                && self.only_open_execution(part, job_id)?)
            .then(|| {
                let mut done = job.clone();
                done.status = JobStatus::Completed;
                done.completed_at = Some(now);
                done.last_updated_at = now;
                (done, loaded_job.rev)
            });
            // A retry stands only while the job it was decided on is unchanged.
            let check = retry.as_ref().map(|_| loaded_job.rev);
            if self
                .write_execution_with(part, &cur, &next, retry.as_ref(), completed.as_ref(), check)
                .await?
            {
                if let Some((done, _)) = &completed {
                    let all = self.process_details(part, job_id)?;
                    self.job_event(part, done, "completed", Some(&all)).await;
                }
                self.after_change(part, &cur.value, &next, retry.is_some())
                    .await;
                // The job, not its document: only an update that asks for the document
                // pays for it (and its presigned URLs).
                return Ok((next, loaded_job.value));
            }
        }
        Err(crate::records::contention().into())
    }

    /// Writes an execution's new state under the revision read (or its retry in its place),
    /// with its time-out timer set, moved or cleared to match.
    pub(crate) async fn write_execution(
        &self,
        part: &Partition,
        cur: &Loaded<Execution>,
        next: &Execution,
        retry: Option<&Execution>,
    ) -> Result<bool> {
        self.write_execution_with(part, cur, next, retry, None, None)
            .await
    }

    /// The same, with the job's new state (under its revision) in the same write.
    async fn write_execution_with(
        &self,
        part: &Partition,
        cur: &Loaded<Execution>,
        next: &Execution,
        retry: Option<&Execution>,
        job: Option<&(Job, u64)>,
        job_unchanged: Option<u64>,
    ) -> Result<bool> {
        let stored = retry.unwrap_or(next);
        let key = execution_key(&next.job_id, &next.thing_name);
        let mut batch = Batch::new(part.key());
        if let (None, Some(rev)) = (job, job_unchanged) {
            batch = batch.check(KIND_JOB, &next.job_id, Expect::Rev(rev));
        }
        if let Some((j, rev)) = job {
            batch = batch.put(
                KIND_JOB,
                &j.job_id,
                SCHEMA,
                encode(j)?,
                job_terms(j),
                Expect::Rev(*rev),
            );
        }
        let batch = batch.put(
            KIND_EXECUTION,
            &key,
            SCHEMA,
            encode(stored)?,
            execution_terms(stored),
            Expect::Rev(cur.rev),
        );
        let batch = self
            .timeout_timer(part, batch, &key, cur.value.deadline(), stored.deadline())
            .await?;
        try_commit(self.store(), batch).await
    }

    /// Adds the ops that make the execution's time-out timer match its deadline.
    pub(crate) async fn timeout_timer(
        &self,
        part: &Partition,
        batch: Batch,
        key: &str,
        before: Option<Timestamp>,
        after: Option<Timestamp>,
    ) -> Result<Batch> {
        if before == after {
            return Ok(batch);
        }
        let id = TimerId::new(TIMEOUT, key.to_string());
        let current = self.scheduler.find(part, &id)?;
        match (after, current) {
            (Some(at), current) => {
                self.scheduler.track(part).await?;
                Scheduler::set(batch, &id, at, serde_json::Value::Null, current.as_ref())
            }
            (None, Some(t)) => Ok(Scheduler::clear(batch, &t)),
            (None, None) => Ok(batch),
        }
    }

    /// What follows a committed change of one execution: its device is told when its pending
    /// list changed, and the job may now be complete or aborted.
    pub(crate) async fn after_change(
        &self,
        part: &Partition,
        before: &Execution,
        after: &Execution,
        retried: bool,
    ) {
        if before.released && (after.status.is_terminal() || retried) {
            let (p, thing, left) = (part.clone(), after.thing_name.clone(), before.clone());
            self.in_background(move |jobs| async move {
                jobs.announce_pending_change(&p, &thing, Some(&left), None, true, None)
                    .await
            })
            .await;
        } else if before.status == ExecutionStatus::Queued
            && after.status == ExecutionStatus::InProgress
        {
            // Not a change of the pending list (no `notify`), but it may now head it.
            let (p, thing, entered) = (part.clone(), after.thing_name.clone(), after.clone());
            self.in_background(move |jobs| async move {
                jobs.announce_pending_change(&p, &thing, None, Some(&entered), false, None)
                    .await
            })
            .await;
        }
        if after.status.is_terminal() && !before.status.is_terminal() {
            self.execution_events(part, std::slice::from_ref(after), false)
                .await;
            if let Err(e) = self.job_progressed(part, &after.job_id, false).await {
                tracing::warn!(job = %after.job_id, error = %e.message, "job progress not applied");
            }
        }
    }

    /// Completes a SNAPSHOT job whose executions all ended, and cancels one whose abort
    /// criteria hold. Criteria with a fleet query (a search over the executed things) are
    /// judged only `with_queries` (the job's own timer, once a minute), not on every update.
    pub(crate) async fn job_progressed(
        &self,
        part: &Partition,
        id: &str,
        with_queries: bool,
    ) -> Result<()> {
        for _ in 0..RETRIES {
            let Some(cur) = load::<Job>(self.store(), &part.key(), KIND_JOB, id)? else {
                return Ok(());
            };
            let mut job = cur.value;
            if !job.is_running() {
                return Ok(());
            }
            let completes = job.target_selection == TargetSelection::Snapshot && job.expanded;
            if job.config.abort_config.is_none() && !completes {
                return Ok(());
            }
            // Counting every status is for abort criteria; completion only asks whether any
            // execution is still open. A large job's criteria are judged at most once a second
            // from device updates (each judgment counts all its executions), and by its timer.
            let mut judge = job.config.abort_config.is_some()
                && (with_queries || self.abort_judgment_due(part, &job));
            let mut details = if judge {
                self.process_details(part, id)?
            } else {
                self.open_counts(part, id)?
            };
            // A job never completes unjudged: its last update judges it whatever the throttle.
            let open_now =
                details.count(ExecutionStatus::Queued) + details.count(ExecutionStatus::InProgress);
            if !judge && job.config.abort_config.is_some() && completes && open_now == 0 {
                judge = true;
                details = self.process_details(part, id)?;
            }
            let mut aborted = None;
            for c in job
                .config
                .abort_config
                .iter()
                .filter(|_| judge)
                .flat_map(|a| &a.criteria_list)
            {
                let fires = match &c.query_string {
                    None => details.abort_fires(
                        &c.failure_type,
                        c.threshold_percentage,
                        c.min_number_of_executed_things,
                    ),
                    Some(q) if with_queries => {
                        let executed = details.executed();
                        executed > 0
                            && executed >= c.min_number_of_executed_things.max(0) as u64
                            && self.query_failures(part, id, q)? as f64 * 100.0
                                >= c.threshold_percentage * executed as f64
                    }
                    Some(_) => false,
                };
                if fires {
                    aborted = Some(c);
                    break;
                }
            }
            let now = self.clock.now();
            if let Some(c) = aborted {
                job.status = JobStatus::Canceled;
                job.canceling = true;
                job.reason_code = Some(match c.query_string {
                    Some(_) => "QUERY_THRESHOLD_EXCEEDED".to_string(),
                    None => format!("{}_THRESHOLD_EXCEEDED", c.failure_type),
                });
                job.comment = Some(format!(
                    "Canceled by its abort configuration: {}% or more of at least {} executed things are {}",
                    c.threshold_percentage,
                    c.min_number_of_executed_things,
                    c.query_string
                        .as_ref()
                        .map_or(c.failure_type.clone(), |q| format!("matched by {q}"))
                ));
                job.last_updated_at = now;
                if self.write_job_with_rollout(part, &job, cur.rev).await? {
                    self.job_event(part, &job, "canceled", None).await;
                    return Ok(());
                }
                continue;
            }
            let open =
                details.count(ExecutionStatus::Queued) + details.count(ExecutionStatus::InProgress);
            if completes && open == 0 {
                job.status = JobStatus::Completed;
                job.completed_at = Some(now);
                job.last_updated_at = now;
                let batch = Batch::new(part.key()).put(
                    KIND_JOB,
                    id,
                    SCHEMA,
                    encode(&job)?,
                    job_terms(&job),
                    Expect::Rev(cur.rev),
                );
                if try_commit(self.store(), batch).await? {
                    let all = self.process_details(part, id)?;
                    self.job_event(part, &job, "completed", Some(&all)).await;
                    return Ok(());
                }
                continue;
            }
            return Ok(());
        }
        Err(crate::records::contention())
    }

    /// How many of the job's executed things (any ended status) a fleet query matches.
    fn query_failures(&self, part: &Partition, id: &str, query: &str) -> Result<u64> {
        let Some(fleet) = self.fleet.get() else {
            return Ok(0);
        };
        // The things the query matches, a page at a time, each looked up in the job: memory
        // stays one page whatever the size of the job or of the match.
        let mut matched = 0;
        let mut token: Option<String> = None;
        loop {
            let page = fleet.search(
                part,
                shoal_domain::fleet::fields::THINGS_INDEX,
                query,
                token.as_deref(),
                500,
            )?;
            for doc in &page.documents {
                let name = serde_json::from_slice::<serde_json::Value>(doc)
                    .ok()
                    .and_then(|v| v["thingName"].as_str().map(str::to_string));
                let Some(name) = name else { continue };
                let executed = self
                    .load_execution(part, id, &name)?
                    .is_some_and(|e| e.value.status.is_terminal());
                if executed {
                    matched += 1;
                }
            }
            match page.next_token {
                Some(t) => token = Some(t),
                None => return Ok(matched),
            }
        }
    }

    /// Whether exactly one execution of the job is still open (the one being ended).
    fn only_open_execution(&self, part: &Partition, id: &str) -> Result<bool> {
        let open = self.count_status(part, id, ExecutionStatus::Queued, 2)?
            + self.count_status(part, id, ExecutionStatus::InProgress, 2)?;
        Ok(open == 1)
    }

    /// Whether any execution of the job is QUEUED or IN_PROGRESS (counts of at most one).
    /// Whether a device update may judge `job`'s abort criteria now: always for a job of up to
    /// `ABORT_EVERY_UPDATE` released executions, else once a second per job on this node.
    fn abort_judgment_due(&self, part: &Partition, job: &Job) -> bool {
        if job.notified <= ABORT_EVERY_UPDATE {
            return true;
        }
        let now = self.clock.now().millis();
        let key = format!("{}/{}", part.key(), job.job_id);
        let mut last = self.abort_judged.lock().expect("abort_judged");
        if last.get(&key).is_some_and(|t| now - *t < 1000) {
            return false;
        }
        if last.len() >= 10_000 {
            last.clear();
        }
        last.insert(key, now);
        true
    }

    fn open_counts(&self, part: &Partition, id: &str) -> Result<ProcessDetails> {
        let mut d = ProcessDetails::default();
        for s in [ExecutionStatus::Queued, ExecutionStatus::InProgress] {
            d.counts
                .insert(s, self.count_status(part, id, s, 1)? as u64);
        }
        Ok(d)
    }

    /// DescribeJobExecution (control plane).
    pub fn describe_execution(
        &self,
        part: &Partition,
        job: &str,
        thing: &str,
        execution_number: Option<i64>,
    ) -> Result<Execution> {
        match self.load_execution(part, job, thing)? {
            Some(l) if execution_number.is_none_or(|n| n == l.value.execution_number) => {
                Ok(l.value)
            }
            _ => Err(Self::execution_not_found(job, thing)),
        }
    }

    /// ListJobExecutionsForJob, in thing name order.
    pub fn list_for_job(
        &self,
        part: &Partition,
        job: &str,
        status: Option<ExecutionStatus>,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page<Execution>> {
        self.load_job(part, job)?;
        let key = part.key();
        let prefix = format!("{job}/");
        crate::registry::page_of(
            token,
            max,
            |after, n| {
                let after = after.map(|a| format!("{prefix}{a}"));
                match status {
                    Some(s) => self.store().list_by_term(
                        &key,
                        KIND_EXECUTION,
                        TERM_JOB_STATUS,
                        TermMatch::Exact(&format!("{job}/{}", s.as_str())),
                        after.as_deref(),
                        n,
                    ),
                    None => self
                        .store()
                        .list(&key, KIND_EXECUTION, &prefix, after.as_deref(), n),
                }
                .map(|recs| {
                    recs.into_iter()
                        .map(|mut r| {
                            r.key = r.key[prefix.len()..].to_string();
                            r
                        })
                        .collect()
                })
                .map_err(store_error)
            },
            |r| decode::<Execution>(r).map(Some),
        )
    }

    /// ListJobExecutionsForThing, in job id order.
    pub fn list_for_thing(
        &self,
        part: &Partition,
        thing: &str,
        filter: &ExecutionFilter,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page<Execution>> {
        let key = part.key();
        crate::registry::page_of(
            token,
            max,
            |after, n| {
                self.store()
                    .list_by_term(
                        &key,
                        KIND_EXECUTION,
                        TERM_THING,
                        TermMatch::Exact(thing),
                        after,
                        n,
                    )
                    .map_err(store_error)
            },
            |r| {
                let e: Execution = decode(r)?;
                let keep = filter.status.is_none_or(|s| s == e.status)
                    && filter.job_id.as_ref().is_none_or(|j| *j == e.job_id);
                Ok(keep.then_some(e))
            },
        )
    }

    /// CancelJobExecution: QUEUED ones, IN_PROGRESS ones with `force`.
    pub async fn cancel_execution(
        &self,
        part: &Partition,
        job: &str,
        thing: &str,
        force: bool,
        expected_version: Option<i64>,
        details: Option<StatusDetails>,
    ) -> Result<()> {
        if let Some(d) = &details {
            shoal_domain::jobs::check_status_details(d)?;
        }
        for _ in 0..RETRIES {
            let cur = self
                .load_execution(part, job, thing)?
                .ok_or_else(|| Self::execution_not_found(job, thing))?;
            let e = &cur.value;
            if e.status.is_terminal() || (e.status == ExecutionStatus::InProgress && !force) {
                return Err(ServiceError::new(
                    ErrorKind::InvalidStateTransition,
                    format!(
                        "The job execution is {}; {}",
                        e.status.as_str(),
                        if e.status.is_terminal() {
                            "it has ended"
                        } else {
                            "canceling it needs force"
                        }
                    ),
                ));
            }
            if expected_version.is_some_and(|v| v != e.version_number) {
                return Err(ServiceError::version_conflict(format!(
                    "The expected version {} does not match the current version {}",
                    expected_version.unwrap_or_default(),
                    e.version_number
                )));
            }
            let mut next = e.clone();
            next.end(ExecutionStatus::Canceled, self.clock.now());
            next.force_canceled = force && e.status == ExecutionStatus::InProgress;
            if let Some(d) = &details {
                next.status_details.clone_from(d);
            }
            if self.write_execution(part, &cur, &next, None).await? {
                self.after_change(part, e, &next, false).await;
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// DeleteJobExecution: an ended one, or any with `force`.
    pub async fn delete_execution(
        &self,
        part: &Partition,
        job: &str,
        thing: &str,
        execution_number: i64,
        force: bool,
    ) -> Result<()> {
        for _ in 0..RETRIES {
            let cur = match self.load_execution(part, job, thing)? {
                Some(l) if l.value.execution_number == execution_number => l,
                _ => return Err(Self::execution_not_found(job, thing)),
            };
            if !cur.value.status.is_terminal() && !force {
                return Err(ServiceError::new(
                    ErrorKind::InvalidStateTransition,
                    format!(
                        "The job execution is {}; only an ended one can be deleted without force",
                        cur.value.status.as_str()
                    ),
                ));
            }
            let key = execution_key(job, thing);
            let batch = Batch::new(part.key()).delete(KIND_EXECUTION, &key, Expect::Rev(cur.rev));
            let batch = self
                .timeout_timer(part, batch, &key, cur.value.deadline(), None)
                .await?;
            if try_commit(self.store(), batch).await? {
                self.execution_events(part, std::slice::from_ref(&cur.value), true)
                    .await;
                if cur.value.is_pending() {
                    self.announce_pending_change(part, thing, Some(&cur.value), None, true, None)
                        .await;
                }
                self.job_progressed(part, job, false).await?;
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }
}

/// The job's in-progress timeout, started when an execution starts.
pub(crate) fn in_progress_minutes(job: &Job) -> Option<i64> {
    job.config
        .timeout_config
        .as_ref()
        .and_then(|t| t.in_progress_timeout_in_minutes)
}
