//! The jobs' timers on the durable scheduler. A job's rollout timer expands its targets into
//! executions (2,000 per step, as fast as the store takes them), releases them to their devices
//! at the rollout's rate (all at once without one), and cancels them after CancelJob or an
//! abort; an execution's time-out timer ends it as TIMED_OUT (and queues its retry). Each step
//! commits together with its timer, under the revisions it read.

use super::executions::{execution_key, execution_terms};
use super::*;
use crate::scheduler::{Due, TimerHandler};
use shoal_domain::jobs::{Execution, RolloutWindow, Schedule};
use shoal_store::BoxFuture;
use std::collections::HashSet;
use std::sync::Weak;

/// Executions written per step (one commit; larger steps spend less per execution on the job
/// record and the timer they rewrite).
const CHUNK: usize = 2000;
/// A rate-limited rollout releases once a minute.
const MINUTE_MS: i64 = 60_000;
/// How often a rolled-out job's completion and abort criteria are checked again.
const CHECK_MS: i64 = 60_000;

struct RolloutTimer(Weak<Jobs>);
struct TimeoutTimer(Weak<Jobs>);

impl TimerHandler for RolloutTimer {
    fn fire<'a>(&'a self, due: &'a Due) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.0.upgrade() {
                Some(jobs) => jobs.fire_rollout(due).await,
                None => Ok(()),
            }
        })
    }
}

impl TimerHandler for TimeoutTimer {
    fn fire<'a>(&'a self, due: &'a Due) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.0.upgrade() {
                Some(jobs) => jobs.fire_timeout(due).await,
                None => Ok(()),
            }
        })
    }
}

pub(super) fn register(jobs: &Arc<Jobs>, scheduler: &Scheduler) {
    scheduler.register(ROLLOUT, Arc::new(RolloutTimer(Arc::downgrade(jobs))));
    scheduler.register(TIMEOUT, Arc::new(TimeoutTimer(Arc::downgrade(jobs))));
}

impl Jobs {
    async fn fire_rollout(&self, due: &Due) -> Result<()> {
        let part = &due.part;
        let Some(cur) = load::<Job>(self.store(), &part.key(), KIND_JOB, &due.name)? else {
            self.scheduler
                .commit(due, Batch::new(part.key()), None)
                .await?;
            return Ok(());
        };
        if cur.value.status == JobStatus::DeletionInProgress {
            return self.delete_step(due, cur).await;
        }
        if cur.value.canceling {
            return self.cancel_step(due, cur).await;
        }
        if !matches!(
            cur.value.status,
            JobStatus::InProgress | JobStatus::Scheduled
        ) {
            self.scheduler
                .commit(due, Batch::new(part.key()), None)
                .await?;
            return Ok(());
        }
        let mut job = cur.value.clone();
        let now = self.clock.now();
        let key = part.key();
        // A schedule decides whether the rollout may go on now, and until when.
        let mut window_closes = None;
        if let Some(c) = &job.config.scheduling_config {
            let schedule = Schedule::parse(c)?;
            match schedule.rollout_at(now) {
                RolloutWindow::Ended => {
                    return self.end_schedule(due, cur, &schedule.end_behavior).await
                }
                RolloutWindow::Closed { opens } => {
                    job.status = JobStatus::Scheduled;
                    job.last_updated_at = now;
                    let batch = Batch::new(&key).put(
                        KIND_JOB,
                        &job.job_id,
                        SCHEMA,
                        encode(&job)?,
                        job_terms(&job),
                        Expect::Rev(cur.rev),
                    );
                    let next = Some((opens, serde_json::Value::Null));
                    self.scheduler.commit(due, batch, next).await?;
                    return Ok(());
                }
                RolloutWindow::Open { closes } => {
                    if job.status == JobStatus::Scheduled {
                        job.status = JobStatus::InProgress;
                        job.last_updated_at = now;
                    }
                    window_closes = closes;
                }
            }
        }
        let succeeded = if job.config.job_executions_rollout_config.is_some() {
            self.count_status(
                part,
                &job.job_id,
                ExecutionStatus::Succeeded,
                usize::MAX >> 1,
            )? as u64
        } else {
            0
        };
        let rate = job.config.rate_per_minute(job.notified, succeeded);
        // What may be released in this step: everything without a rate; with one, a minute's
        // worth once the minute since the last release is over.
        let window_open = job.next_release_at.is_none_or(|t| t <= now);
        let mut budget = match rate {
            None => usize::MAX,
            Some(r) if window_open => r as usize,
            Some(_) => 0,
        };
        let mut batch = Batch::new(&key);
        let mut released: Vec<Execution> = Vec::new();
        let mut unreleased_left = 0usize;
        if rate.is_some() {
            // Executions made earlier and still waiting go first.
            let waiting = self.unreleased(part, &job.job_id, budget.min(CHUNK))?;
            unreleased_left = self
                .store()
                .count_by_term(
                    &key,
                    KIND_EXECUTION,
                    TERM_UNRELEASED,
                    TermMatch::Exact(&job.job_id),
                    usize::MAX >> 1,
                )
                .map_err(store_error)?;
            for r in &waiting {
                let mut e: Execution = decode(r)?;
                e.released = true;
                batch = batch.put(
                    KIND_EXECUTION,
                    &r.key,
                    SCHEMA,
                    encode(&e)?,
                    execution_terms(&e),
                    Expect::Rev(r.rev),
                );
                job.notified += 1;
                unreleased_left -= 1;
                budget -= 1;
                released.push(e);
            }
        }
        if !job.expanded {
            let (names, done) = self.next_targets(part, &mut job, CHUNK)?;
            // A SNAPSHOT job of one target walks it once, in key order, its cursor committed
            // with each step: no thing can already have an execution, so none is looked up.
            let fresh = job.target_selection == TargetSelection::Snapshot && job.targets.len() == 1;
            let mut seen = HashSet::new();
            for name in names {
                let ek = execution_key(&job.job_id, &name);
                if !seen.insert(name.clone())
                    || (!fresh
                        && self
                            .store()
                            .get(&key, KIND_EXECUTION, &ek)
                            .map_err(store_error)?
                            .is_some())
                {
                    continue;
                }
                let release = budget > 0;
                let e = Execution::queued(&job.job_id, &name, 1, 0, release, now);
                batch = batch.put(
                    KIND_EXECUTION,
                    &ek,
                    SCHEMA,
                    encode(&e)?,
                    execution_terms(&e),
                    Expect::Absent,
                );
                if release {
                    budget = budget.saturating_sub(1);
                    job.notified += 1;
                    released.push(e);
                } else {
                    unreleased_left += 1;
                }
            }
            job.expanded = done;
        }
        if rate.is_some() && window_open {
            job.next_release_at = Some(now.plus_millis(MINUTE_MS));
        }
        let work_next = if !job.expanded {
            Some(now)
        } else if unreleased_left > 0 {
            job.next_release_at
        } else {
            None
        };
        let rolled_out = work_next.is_none();
        // A schedule's window (or end) closing is a step of its own; once everything is out,
        // a job that can complete or abort is checked again every minute, so a crash between
        // an execution's end and the job's never leaves the job behind.
        let check = (rolled_out
            && (job.target_selection == TargetSelection::Snapshot
                || job.config.abort_config.is_some()))
        .then(|| now.plus_millis(CHECK_MS));
        let next = [work_next, window_closes, check]
            .into_iter()
            .flatten()
            .min();
        batch = batch.put(
            KIND_JOB,
            &job.job_id,
            SCHEMA,
            encode(&job)?,
            job_terms(&job),
            Expect::Rev(cur.rev),
        );
        let next = next.map(|at| (at, serde_json::Value::Null));
        if self.scheduler.commit(due, batch, next.clone()).await? {
            let known = Arc::new((job.job_id.clone(), self.device_document(part, &job)));
            for e in released {
                let (p, known) = (part.clone(), known.clone());
                self.in_background(move |jobs| async move {
                    jobs.announce_pending_change(
                        &p,
                        &e.thing_name,
                        None,
                        Some(&e),
                        true,
                        Some(&known),
                    )
                    .await
                })
                .await;
            }
            if rolled_out {
                // Everything is out: a job with no (or only ended) executions is complete now.
                self.job_progressed(part, &job.job_id, true).await?;
            }
        }
        Ok(())
    }

    /// The schedule's end: STOP_ROLLOUT withdraws the executions not yet released (2,000 per
    /// step) and lets the rest run to their end; CANCEL and FORCE_CANCEL cancel the job as
    /// CancelJob does, without and with force.
    async fn end_schedule(
        &self,
        due: &Due,
        cur: crate::records::Loaded<Job>,
        behavior: &str,
    ) -> Result<()> {
        let part = &due.part;
        let key = part.key();
        let mut job = cur.value;
        let now = self.clock.now();
        let mut batch = Batch::new(&key);
        let mut next = None;
        if behavior == "STOP_ROLLOUT" {
            let waiting = self.unreleased(part, &job.job_id, CHUNK)?;
            for r in &waiting {
                batch = batch.delete(KIND_EXECUTION, &r.key, Expect::Rev(r.rev));
            }
            if waiting.len() == CHUNK {
                next = Some((now, serde_json::Value::Null));
            }
            job.expanded = true;
            job.rollout_stopped = true;
            job.status = JobStatus::InProgress;
        } else {
            job.status = JobStatus::Canceled;
            job.canceling = true;
            job.force_canceled = behavior == "FORCE_CANCEL";
            next = Some((now, serde_json::Value::Null));
        }
        job.last_updated_at = now;
        batch = batch.put(
            KIND_JOB,
            &job.job_id,
            SCHEMA,
            encode(&job)?,
            job_terms(&job),
            Expect::Rev(cur.rev),
        );
        let more = next.is_some();
        if self.scheduler.commit(due, batch, next).await? {
            if job.status == JobStatus::Canceled {
                self.job_event(part, &job, "canceled", None).await;
            } else if !more {
                self.job_progressed(part, &job.job_id, true).await?;
            }
        }
        Ok(())
    }

    /// The next things of the job's targets, from its cursor (which moves on), and whether
    /// the targets are exhausted. A thing target that no longer exists is skipped.
    pub(crate) fn next_targets(
        &self,
        part: &Partition,
        job: &mut Job,
        limit: usize,
    ) -> Result<(Vec<String>, bool)> {
        let key = part.key();
        let mut out = Vec::new();
        while job.cursor_target < job.targets.len() && out.len() < limit {
            match parse_target(part, &job.targets[job.cursor_target])? {
                Target::Thing(n) => {
                    if self
                        .store()
                        .get(&key, KIND_THING, &n)
                        .map_err(store_error)?
                        .is_some()
                    {
                        out.push(n);
                    }
                    job.cursor_target += 1;
                    job.cursor_after = None;
                }
                Target::Group(g) => {
                    let want = limit - out.len();
                    let recs = self
                        .store()
                        .list_by_term(
                            &key,
                            KIND_THING,
                            "group-tree",
                            TermMatch::Exact(&g),
                            job.cursor_after.as_deref(),
                            want,
                        )
                        .map_err(store_error)?;
                    let exhausted = recs.len() < want;
                    if let Some(last) = recs.last() {
                        job.cursor_after = Some(last.key.clone());
                    }
                    out.extend(recs.into_iter().map(|r| r.key));
                    if exhausted {
                        job.cursor_target += 1;
                        job.cursor_after = None;
                    }
                }
            }
        }
        Ok((out, job.cursor_target >= job.targets.len()))
    }

    /// One step of a DeleteJob of a large job: up to DELETE_AT_ONCE executions go (their
    /// devices are told), and with the last of them the job and its timer.
    async fn delete_step(&self, due: &Due, cur: crate::records::Loaded<Job>) -> Result<()> {
        let part = &due.part;
        let key = part.key();
        let id = &cur.value.job_id;
        let recs = self
            .store()
            .list(
                &key,
                KIND_EXECUTION,
                &format!("{id}/"),
                None,
                DELETE_AT_ONCE,
            )
            .map_err(store_error)?;
        let last = recs.len() < DELETE_AT_ONCE;
        let mut batch = Batch::new(&key);
        let mut removed = Vec::new();
        for r in &recs {
            let e: Execution = decode(r)?;
            if e.released && e.is_pending() {
                removed.push(e);
            }
            batch = batch.delete(KIND_EXECUTION, &r.key, Expect::Rev(r.rev));
        }
        let next = if last {
            batch = batch.delete(KIND_JOB, id, Expect::Rev(cur.rev));
            None
        } else {
            batch = batch.check(KIND_JOB, id, Expect::Rev(cur.rev));
            Some((self.clock.now(), serde_json::Value::Null))
        };
        if self.scheduler.commit(due, batch, next).await? {
            if last {
                self.job_event(part, &cur.value, "deleted", None).await;
            }
            self.tell_removed(part, removed).await;
        }
        Ok(())
    }

    /// One step of canceling a job's executions: QUEUED ones, and IN_PROGRESS ones when it
    /// was forced.
    async fn cancel_step(&self, due: &Due, cur: crate::records::Loaded<Job>) -> Result<()> {
        let part = &due.part;
        let key = part.key();
        let mut job = cur.value;
        let now = self.clock.now();
        let mut statuses = vec![ExecutionStatus::Queued];
        if job.force_canceled {
            statuses.push(ExecutionStatus::InProgress);
        }
        let mut batch = Batch::new(&key);
        let mut ended = Vec::new();
        let mut canceled = Vec::new();
        for s in statuses {
            let recs = self
                .store()
                .list_by_term(
                    &key,
                    KIND_EXECUTION,
                    TERM_JOB_STATUS,
                    TermMatch::Exact(&format!("{}/{}", job.job_id, s.as_str())),
                    None,
                    CHUNK - ended.len(),
                )
                .map_err(store_error)?;
            for r in &recs {
                let before: Execution = decode(r)?;
                let mut e = before.clone();
                e.end(ExecutionStatus::Canceled, now);
                e.force_canceled = before.status == ExecutionStatus::InProgress;
                batch = batch.put(
                    KIND_EXECUTION,
                    &r.key,
                    SCHEMA,
                    encode(&e)?,
                    execution_terms(&e),
                    Expect::Rev(r.rev),
                );
                batch = self
                    .timeout_timer(part, batch, &r.key, before.deadline(), None)
                    .await?;
                ended.push(before);
                canceled.push(e);
            }
        }
        let more = ended.len() == CHUNK;
        job.canceling = more;
        batch = batch.put(
            KIND_JOB,
            &job.job_id,
            SCHEMA,
            encode(&job)?,
            job_terms(&job),
            Expect::Rev(cur.rev),
        );
        let next = more.then_some((now, serde_json::Value::Null));
        if self.scheduler.commit(due, batch, next).await? {
            self.execution_events(part, &canceled, false).await;
            for e in ended.into_iter().filter(|e| e.released) {
                let p = part.clone();
                self.in_background(move |jobs| async move {
                    jobs.announce_pending_change(&p, &e.thing_name, Some(&e), None, true, None)
                        .await
                })
                .await;
            }
        }
        Ok(())
    }

    /// An execution's time-out: TIMED_OUT once its deadline passed (and its retry queued when
    /// the job allows one); a deadline moved later moves the timer.
    async fn fire_timeout(&self, due: &Due) -> Result<()> {
        let part = &due.part;
        let Some((job_id, thing)) = due.name.split_once('/') else {
            self.scheduler
                .commit(due, Batch::new(part.key()), None)
                .await?;
            return Ok(());
        };
        let now = self.clock.now();
        let cur = match self.load_execution(part, job_id, thing)? {
            Some(c) if !c.value.status.is_terminal() => c,
            _ => {
                self.scheduler
                    .commit(due, Batch::new(part.key()), None)
                    .await?;
                return Ok(());
            }
        };
        match cur.value.deadline() {
            None => {
                self.scheduler
                    .commit(due, Batch::new(part.key()), None)
                    .await?;
                return Ok(());
            }
            Some(d) if d > now => {
                let next = Some((d, serde_json::Value::Null));
                self.scheduler
                    .commit(due, Batch::new(part.key()), next)
                    .await?;
                return Ok(());
            }
            Some(_) => {}
        }
        let job = load::<Job>(self.store(), &part.key(), KIND_JOB, job_id)?;
        let job_rev = job.as_ref().map(|l| l.rev);
        let job = job.map(|l| l.value);
        let mut next = cur.value.clone();
        next.end(ExecutionStatus::TimedOut, now);
        let retry = job
            .filter(|j| j.is_running() && j.config.retries_left("TIMED_OUT", &next) > 0)
            .map(|_| next.retried("TIMED_OUT", now));
        let stored = retry.as_ref().unwrap_or(&next);
        let mut batch = Batch::new(part.key());
        if let (Some(_), Some(rev)) = (&retry, job_rev) {
            // A retry stands only while the job it was decided on is unchanged.
            batch = batch.check(KIND_JOB, job_id, Expect::Rev(rev));
        }
        let batch = batch.put(
            KIND_EXECUTION,
            &due.name,
            SCHEMA,
            encode(stored)?,
            execution_terms(stored),
            Expect::Rev(cur.rev),
        );
        if self.scheduler.commit(due, batch, None).await? {
            self.after_change(part, &cur.value, &next, retry.is_some())
                .await;
        }
        Ok(())
    }
}
