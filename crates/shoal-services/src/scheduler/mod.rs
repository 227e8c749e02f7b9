//! The durable scheduler: the one home of time-based work (fleet metrics now; job rollouts,
//! timeouts, retries and schedules, alarms later). A timer is a record in the partition of the
//! work it triggers, keyed by its due time, so
//! - a restart, or another node sharing the store, finds every timer still due;
//! - a handler fires a timer and writes what it does in one batch that also removes (or moves)
//!   the timer under the revision it read: if two nodes fire the same timer, one batch commits
//!   and the other is rolled back whole, so nothing is done twice and nothing is lost;
//! - timers fire in time order, by the `Clock`: tests move a `ManualClock` and call
//!   [`Scheduler::run_due`], which returns once everything due has fired — no sleeps.
//!
//! The partitions that hold timers are listed in the global partition (`timer-partition`), so
//! a node finds them without scanning the store. In memory there is nothing but the handlers.

#[cfg(test)]
mod tests;
mod timer;

pub use timer::{Due, TimerId};

use crate::records::{decode, encode, store_error, try_commit, SCHEMA};
use shoal_domain::error::Result;
use shoal_domain::{Clock, Partition, Timestamp};
use shoal_store::{Batch, BoxFuture, Expect, Store};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use timer::{TimerDoc, KIND_TIMER, TERM_TIMER};

const GLOBAL: &str = "global";
const KIND_TIMER_PARTITION: &str = "timer-partition";
/// Timers read per partition and pass; a pass repeats while any partition had this many due.
const PAGE: usize = 256;
/// Passes of one `run_due`: a handler that keeps a timer due (or keeps failing) cannot hold
/// the scheduler; what is left fires on the next tick.
const MAX_PASSES: usize = 64;
/// The longest the loop sleeps: timers written by another node (which this node's change
/// stream does not carry) are seen within it.
const POLL: Duration = Duration::from_secs(1);
/// A handler that failed is tried again this much later (on the `Clock`).
const RETRY_MS: i64 = 5_000;

/// What a service runs when one of its timers is due. The handler completes the timer with
/// [`Scheduler::commit`] in the batch that writes its effects; a timer it does not complete
/// fires again on the next tick (at least once, never lost).
pub trait TimerHandler: Send + Sync + 'static {
    fn fire<'a>(&'a self, due: &'a Due) -> BoxFuture<'a, Result<()>>;
}

pub struct Scheduler {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    handlers: Mutex<HashMap<&'static str, Arc<dyn TimerHandler>>>,
    /// Partitions known to be listed in `timer-partition` (so `track` writes once).
    tracked: Mutex<BTreeSet<String>>,
    /// One firing pass at a time, so `run_due` returns only after the loop's pass too.
    firing: tokio::sync::Mutex<()>,
    wake: tokio::sync::Notify,
}

impl Scheduler {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            store,
            clock,
            handlers: Mutex::new(HashMap::new()),
            tracked: Mutex::new(BTreeSet::new()),
            firing: tokio::sync::Mutex::new(()),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Registers the handler of `service`'s timers (before `spawn`).
    pub fn register(&self, service: &'static str, handler: Arc<dyn TimerHandler>) {
        self.handlers
            .lock()
            .expect("handlers")
            .insert(service, handler);
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Lists `part` among the partitions that hold timers. Call before committing a batch that
    /// puts a timer there (a listing without timers costs one empty read per pass).
    pub async fn track(&self, part: &Partition) -> Result<()> {
        let key = part.key();
        if self.tracked.lock().expect("tracked").contains(&key) {
            return Ok(());
        }
        let batch = Batch::new(GLOBAL).put(
            KIND_TIMER_PARTITION,
            &key,
            SCHEMA,
            b"{}".to_vec(),
            vec![],
            Expect::Any,
        );
        self.store.commit(batch).await.map_err(store_error)?;
        self.tracked.lock().expect("tracked").insert(key);
        Ok(())
    }

    /// The timer `id` of `part`, if one is set.
    pub fn find(&self, part: &Partition, id: &TimerId) -> Result<Option<Due>> {
        let recs = self
            .store
            .list_by_term(
                &part.key(),
                KIND_TIMER,
                TERM_TIMER,
                shoal_store::TermMatch::Exact(&id.term()),
                None,
                2,
            )
            .map_err(store_error)?;
        match recs.first() {
            Some(r) => Ok(Some(Due::from_record(part.clone(), r, decode(r)?))),
            None => Ok(None),
        }
    }

    /// Adds to `batch` (of `part`) the ops that set timer `id` to fire at `at` with `payload`,
    /// replacing `current` (as read by `find`, so the write is conditional on it). The partition
    /// must be tracked (`track`).
    pub fn set(
        batch: Batch,
        id: &TimerId,
        at: Timestamp,
        payload: serde_json::Value,
        current: Option<&Due>,
    ) -> Result<Batch> {
        let batch = match current {
            Some(c) => batch.delete(KIND_TIMER, &c.key, Expect::Rev(c.rev)),
            None => batch,
        };
        let doc = TimerDoc {
            service: id.service.clone(),
            name: id.name.clone(),
            at: at.millis(),
            payload,
        };
        let key = doc.key();
        // A timer set anew where none was read must not already exist under another due time.
        let batch = match current {
            None => batch.check_none(KIND_TIMER, shoal_store::Term::new(TERM_TIMER, id.term())),
            Some(_) => batch,
        };
        Ok(batch.put(
            KIND_TIMER,
            &key,
            SCHEMA,
            encode(&doc)?,
            vec![shoal_store::Term::new(TERM_TIMER, id.term())],
            Expect::Absent,
        ))
    }

    /// Adds to `batch` the removal of timer `current` (conditional on the revision read).
    pub fn clear(batch: Batch, current: &Due) -> Batch {
        batch.delete(KIND_TIMER, &current.key, Expect::Rev(current.rev))
    }

    /// Commits a handler's `batch` (of the due timer's partition) with the timer completed:
    /// removed, or set again at `next`. `Ok(false)` when the batch lost a race (the timer fired
    /// elsewhere, or a record the handler read changed) and nothing was written.
    pub async fn commit(
        &self,
        due: &Due,
        batch: Batch,
        next: Option<(Timestamp, serde_json::Value)>,
    ) -> Result<bool> {
        let batch = match next {
            None => Self::clear(batch, due),
            Some((at, payload)) => Self::set(batch, &due.id(), at, payload, Some(due))?,
        };
        let written = try_commit(self.store.as_ref(), batch).await?;
        Ok(written)
    }

    /// Fires every timer due now, in time order (across partitions), and returns how many
    /// fired. Timers a handler sets due again now fire in the same call (up to `MAX_PASSES`).
    pub async fn run_due(&self) -> Result<usize> {
        let _pass = self.firing.lock().await;
        let mut fired = 0;
        for _ in 0..MAX_PASSES {
            let now = self.clock.now();
            let (due, more) = self.due(now)?;
            if due.is_empty() {
                break;
            }
            for d in &due {
                self.fire(d, now).await;
                fired += 1;
            }
            if !more && self.due(self.clock.now())?.0.is_empty() {
                break;
            }
        }
        Ok(fired)
    }

    /// The partitions that hold timers (as every node sees them in the store).
    pub(crate) fn partitions(&self) -> Result<Vec<String>> {
        let recs = self
            .store
            .list(GLOBAL, KIND_TIMER_PARTITION, "", None, usize::MAX >> 1)
            .map_err(store_error)?;
        Ok(recs.into_iter().map(|r| r.key).collect())
    }

    /// The timers due at `now`, in time order, and whether a partition may hold more.
    fn due(&self, now: Timestamp) -> Result<(Vec<Due>, bool)> {
        let mut out = Vec::new();
        let mut more = false;
        for key in self.partitions()? {
            let Some(part) = Partition::from_key(&key) else {
                continue;
            };
            let recs = self
                .store
                .list(&key, KIND_TIMER, "", None, PAGE)
                .map_err(store_error)?;
            more |= recs.len() == PAGE;
            for r in &recs {
                let doc: TimerDoc = decode(r)?;
                if doc.at > now.millis() {
                    break;
                }
                out.push(Due::from_record(part.clone(), r, doc));
            }
        }
        out.sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
        Ok((out, more))
    }

    /// The earliest due time of any timer.
    fn next_due(&self) -> Result<Option<Timestamp>> {
        let mut next: Option<i64> = None;
        for key in self.partitions()? {
            let recs = self
                .store
                .list(&key, KIND_TIMER, "", None, 1)
                .map_err(store_error)?;
            if let Some(r) = recs.first() {
                let at = decode::<TimerDoc>(r)?.at;
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        Ok(next.map(Timestamp))
    }

    async fn fire(&self, due: &Due, now: Timestamp) {
        let handler = self
            .handlers
            .lock()
            .expect("handlers")
            .get(due.service.as_str())
            .cloned();
        let result = match handler {
            // On a task of its own: a handler that panics fails this timer (tried again
            // later), not the scheduler.
            Some(h) => {
                let owned = due.clone();
                match tokio::spawn(async move { h.fire(&owned).await }).await {
                    Ok(r) => r,
                    Err(e) => Err(shoal_domain::ServiceError::internal(format!(
                        "timer handler failed: {e}"
                    ))),
                }
            }
            None => Err(shoal_domain::ServiceError::internal(format!(
                "no handler for timers of {}",
                due.service
            ))),
        };
        if let Err(e) = result {
            tracing::warn!(service = %due.service, timer = %due.name, error = %e.message, "timer failed; trying again later");
            let retry = (now.plus_millis(RETRY_MS), due.payload.clone());
            let batch = Batch::new(due.part.key());
            if let Err(e) = self.commit(due, batch, Some(retry)).await {
                tracing::warn!(error = %e.message, "timer not rescheduled");
            }
        }
    }

    /// Runs the scheduler until `stop` is set: fires what is due, then sleeps until the next
    /// due time, a local change to a timer, or `POLL`, whichever comes first.
    pub fn spawn(
        self: &Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let mut changes = me.store.changes();
        tokio::spawn(async move {
            // Partitions written before this start count as tracked.
            if let Ok(parts) = me.partitions() {
                me.tracked.lock().expect("tracked").extend(parts);
            }
            loop {
                if let Err(e) = me.run_due().await {
                    tracing::warn!(error = %e.message, "scheduler pass failed");
                }
                let wait = match me.next_due() {
                    Ok(Some(at)) => {
                        let ms = (at.millis() - me.clock.now().millis()).max(0) as u64;
                        POLL.min(Duration::from_millis(ms))
                    }
                    _ => POLL,
                };
                if wait.is_zero() {
                    // Still due after a whole pass: a failing handler waits for its retry time;
                    // yield so the rest of the process runs.
                    tokio::task::yield_now().await;
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
                    _ = me.wake.notified() => {}
                    _ = timer_changed(&mut changes) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        })
    }

    /// Makes the loop look again now (after a write it may not see, e.g. a clock moved).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Resolves when a committed batch touched a timer (or the stream lagged).
async fn timer_changed(changes: &mut tokio::sync::broadcast::Receiver<Arc<shoal_store::Changes>>) {
    loop {
        match changes.recv().await {
            Ok(c) if c.records.iter().any(|(k, _)| k == KIND_TIMER) => return,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                std::future::pending::<()>().await
            }
        }
    }
}
