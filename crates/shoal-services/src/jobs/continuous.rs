//! CONTINUOUS jobs: a thing that joins one of the job's target groups later gets an execution
//! at once, and one that leaves (or is deleted) has its pending execution REMOVED
//! (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html).
//! A follower reads the store's change stream for things; AssociateTargetsWithJob adds
//! targets, which the rollout timer expands.

use super::executions::{execution_key, execution_terms};
use super::*;
use shoal_domain::jobs::Execution;
use shoal_domain::thing::Thing;
use std::collections::HashSet;

/// Jobs that follow membership: CONTINUOUS and IN_PROGRESS (a term on the job record).
pub(crate) const TERM_CONTINUOUS: &str = "continuous";

impl Jobs {
    /// AssociateTargetsWithJob: more targets for a CONTINUOUS job in progress (100 in all).
    pub async fn associate_targets(
        &self,
        part: &Partition,
        id: &str,
        targets: Vec<String>,
        comment: Option<String>,
    ) -> Result<Job> {
        if targets.is_empty() {
            return Err(ServiceError::invalid(
                "targets must name at least one thing or group",
            ));
        }
        for t in &targets {
            self.check_target(part, t)?;
        }
        for _ in 0..RETRIES {
            let cur = self.load_job(part, id)?;
            let mut job = cur.value;
            if job.target_selection != TargetSelection::Continuous
                || job.status != JobStatus::InProgress
                || job.rollout_stopped
            {
                return Err(ServiceError::invalid(format!(
                    "Targets can be added only to a CONTINUOUS job in progress; job {id} is {} and {}",
                    job.target_selection.as_str(),
                    job.status.as_str()
                )));
            }
            for t in &targets {
                if !job.targets.contains(t) {
                    job.targets.push(t.clone());
                }
            }
            if job.targets.len() > MAX_TARGETS {
                return Err(ServiceError::limit(format!(
                    "A job can have at most {MAX_TARGETS} targets"
                )));
            }
            // The cursor stands past the old targets: the rollout goes on with the new ones.
            job.expanded = false;
            if comment.is_some() {
                job.comment = comment.clone();
            }
            job.last_updated_at = self.clock.now();
            if self.write_job_with_rollout(part, &job, cur.rev).await? {
                return Ok(job);
            }
        }
        Err(crate::records::contention())
    }

    /// A target must exist in the caller's partition.
    pub(crate) fn check_target(&self, part: &Partition, arn: &str) -> Result<()> {
        let (kind, name) = match parse_target(part, arn)? {
            Target::Thing(n) => (KIND_THING, n),
            Target::Group(n) => (KIND_GROUP, n),
        };
        if self
            .store()
            .get(&part.key(), kind, &name)
            .map_err(store_error)?
            .is_none()
        {
            return Err(ServiceError::not_found(format!(
                "The target {arn} does not exist"
            )));
        }
        Ok(())
    }

    /// Resolves once every change committed so far has been applied to CONTINUOUS jobs.
    pub async fn caught_up(&self) {
        let target = self.store.announced();
        let mut rx = self.applied.subscribe();
        let _ = rx.wait_for(|seq| *seq >= target).await;
    }

    /// Walks the targets of every CONTINUOUS job in progress again from the start, so that its
    /// rollout timer makes the executions things lack: what the follower misses when the
    /// process stops between a membership change and its execution, or when it falls behind
    /// the change stream. Existing executions are skipped; each job's walk is one timer, so
    /// nodes that do this at once do not duplicate anything. Returns the jobs walked again.
    pub async fn reconcile_continuous(&self) -> Result<usize> {
        let mut walked = 0;
        for key in self.scheduler.partitions()? {
            let Some(part) = Partition::from_key(&key) else {
                continue;
            };
            let mut after: Option<String> = None;
            loop {
                let recs = self
                    .store()
                    .list_by_term(
                        &key,
                        KIND_JOB,
                        TERM_CONTINUOUS,
                        TermMatch::Exact("1"),
                        after.as_deref(),
                        1000,
                    )
                    .map_err(store_error)?;
                let Some(last) = recs.last() else { break };
                after = Some(last.key.clone());
                for r in &recs {
                    if self.walk_again(&part, &r.key).await? {
                        walked += 1;
                    }
                }
            }
        }
        Ok(walked)
    }

    async fn walk_again(&self, part: &Partition, id: &str) -> Result<bool> {
        for _ in 0..RETRIES {
            let Some(cur) = load::<Job>(self.store(), &part.key(), KIND_JOB, id)? else {
                return Ok(false);
            };
            let mut job = cur.value;
            if job.target_selection != TargetSelection::Continuous
                || job.status != JobStatus::InProgress
                || job.canceling
                || job.rollout_stopped
            {
                return Ok(false);
            }
            job.cursor_target = 0;
            job.cursor_after = None;
            job.expanded = false;
            if self.write_job_with_rollout(part, &job, cur.rev).await? {
                self.remove_strays(part, &job).await?;
                return Ok(true);
            }
        }
        Err(crate::records::contention())
    }

    /// The pending executions of things that are no longer targets (they left while nothing
    /// followed) become REMOVED.
    async fn remove_strays(&self, part: &Partition, job: &Job) -> Result<()> {
        let key = part.key();
        for status in [ExecutionStatus::Queued, ExecutionStatus::InProgress] {
            let value = format!("{}/{}", job.job_id, status.as_str());
            let mut after: Option<String> = None;
            loop {
                let recs = self
                    .store()
                    .list_by_term(
                        &key,
                        KIND_EXECUTION,
                        super::TERM_JOB_STATUS,
                        TermMatch::Exact(&value),
                        after.as_deref(),
                        1000,
                    )
                    .map_err(store_error)?;
                let Some(last) = recs.last() else { break };
                after = Some(last.key.clone());
                for r in &recs {
                    let Some((_, name)) = r.key.split_once('/') else {
                        continue;
                    };
                    let thing = load::<Thing>(self.store(), &key, KIND_THING, name)?;
                    if !thing.is_some_and(|t| targets_thing(part, job, &t.value)) {
                        self.follow(part, job, name, false).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Follows committed changes to things until `stop`, applying membership changes to the
    /// CONTINUOUS jobs of their partition. It starts, and starts again after falling behind,
    /// with `reconcile_continuous`.
    pub fn spawn_membership_follower(
        self: &Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let mut changes = me.store.changes();
        tokio::spawn(async move {
            me.reconcile_logged().await;
            loop {
                let c = tokio::select! {
                    c = changes.recv() => c,
                    _ = stop.wait_for(|s| *s) => break,
                };
                let c = match c {
                    Ok(c) => c,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "jobs fell behind the store's changes; CONTINUOUS jobs walk their targets again");
                        me.reconcile_logged().await;
                        continue;
                    }
                    Err(_) => break,
                };
                let things: Vec<&str> = c
                    .records
                    .iter()
                    .filter(|(k, _)| k == KIND_THING)
                    .map(|(_, key)| key.as_str())
                    .collect();
                if let (Some(part), false) = (Partition::from_key(&c.partition), things.is_empty())
                {
                    if let Err(e) = me.membership_changed(&part, &things).await {
                        tracing::warn!(error = %e.message, "CONTINUOUS jobs not updated");
                    }
                }
                me.applied.send_replace(c.seq);
            }
        })
    }

    async fn reconcile_logged(&self) {
        match self.reconcile_continuous().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "CONTINUOUS jobs walk their targets again"),
            Err(e) => tracing::warn!(error = %e.message, "CONTINUOUS jobs not walked again"),
        }
    }

    async fn membership_changed(&self, part: &Partition, things: &[&str]) -> Result<()> {
        let key = part.key();
        let jobs = self
            .store()
            .list_by_term(
                &key,
                KIND_JOB,
                TERM_CONTINUOUS,
                TermMatch::Exact("1"),
                None,
                1000,
            )
            .map_err(store_error)?;
        if jobs.is_empty() {
            return Ok(());
        }
        let jobs: Vec<Job> = jobs.iter().map(decode).collect::<Result<_>>()?;
        for name in things {
            let thing = load::<Thing>(self.store(), &key, KIND_THING, name)?.map(|l| l.value);
            for job in &jobs {
                let wanted = thing.as_ref().is_some_and(|t| targets_thing(part, job, t));
                self.follow(part, job, name, wanted).await?;
            }
        }
        Ok(())
    }

    /// Gives `thing` an execution of `job` when it is now a target and has none pending, or
    /// removes its pending one when it is no longer a target.
    async fn follow(&self, part: &Partition, job: &Job, thing: &str, wanted: bool) -> Result<()> {
        let key = execution_key(&job.job_id, thing);
        for _ in 0..RETRIES {
            // The job as it is now: a job deleted, canceled or ended meanwhile gets nothing new,
            // and the write stands only while it stays so.
            let Some(current) = load::<Job>(self.store(), &part.key(), KIND_JOB, &job.job_id)?
            else {
                return Ok(());
            };
            if current.value.status != JobStatus::InProgress
                || current.value.target_selection != TargetSelection::Continuous
                || (wanted && current.value.rollout_stopped)
            {
                return Ok(());
            }
            let job_unchanged = |b: Batch| b.check(KIND_JOB, &job.job_id, Expect::Rev(current.rev));
            let cur = self.load_execution(part, &job.job_id, thing)?;
            let now = self.clock.now();
            match (&cur, wanted) {
                (None, true) => {
                    let e = Execution::queued(&job.job_id, thing, 1, 0, true, now);
                    let batch = job_unchanged(Batch::new(part.key())).put(
                        KIND_EXECUTION,
                        &key,
                        SCHEMA,
                        encode(&e)?,
                        execution_terms(&e),
                        Expect::Absent,
                    );
                    if try_commit(self.store(), batch).await? {
                        self.announce_pending_change(part, thing, None, Some(&e), true, None)
                            .await;
                        return Ok(());
                    }
                }
                // A thing that comes back after its execution ended gets a new one.
                (Some(c), true)
                    if c.value.status.is_terminal()
                        && c.value.status == ExecutionStatus::Removed =>
                {
                    let e = Execution::queued(
                        &job.job_id,
                        thing,
                        c.value.execution_number + 1,
                        0,
                        true,
                        now,
                    );
                    let batch = job_unchanged(Batch::new(part.key())).put(
                        KIND_EXECUTION,
                        &key,
                        SCHEMA,
                        encode(&e)?,
                        execution_terms(&e),
                        Expect::Rev(c.rev),
                    );
                    if try_commit(self.store(), batch).await? {
                        self.announce_pending_change(part, thing, None, Some(&e), true, None)
                            .await;
                        return Ok(());
                    }
                }
                (Some(c), false) if !c.value.status.is_terminal() => {
                    let mut next = c.value.clone();
                    next.end(ExecutionStatus::Removed, now);
                    if self.write_execution(part, c, &next, None).await? {
                        self.after_change(part, &c.value, &next, false).await;
                        return Ok(());
                    }
                }
                _ => return Ok(()),
            }
        }
        Err(crate::records::contention())
    }
}

/// Whether `thing` is one of `job`'s targets: named, or in a target group (static with its
/// descendants, or dynamic).
fn targets_thing(part: &Partition, job: &Job, thing: &Thing) -> bool {
    let groups: HashSet<&str> = thing
        .group_tree
        .iter()
        .chain(&thing.dynamic_groups)
        .map(String::as_str)
        .collect();
    job.targets.iter().any(|t| match parse_target(part, t) {
        Ok(Target::Thing(n)) => n == thing.name,
        Ok(Target::Group(g)) => groups.contains(g.as_str()),
        Err(_) => false,
    })
}
