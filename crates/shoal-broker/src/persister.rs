//! Writes the broker's durable state — retained messages, persistent sessions, messages queued
//! for offline sessions, connectivity — through the messaging service, in the order it was
//! submitted. Whatever is waiting when a commit ends goes into the next one (group commit),
//! and each write's completion runs only once it is durable: a publisher's PUBACK, a
//! reconnecting session's "your queue is complete" (DESIGN.md §3: queued QoS 1 messages are
//! stored before they are acknowledged).
//!
//! The queue is bounded and submitting waits for room: that wait is the backpressure that slows
//! the shards (and through them the publishers) to the store's pace. Nothing is ever handed to
//! a task of its own to wait, so writes cannot overtake one another.

use shoal_services::messaging::Write;
use shoal_services::Messaging;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// What runs once a write is durable (`true`) or could not be written (`false`).
pub type Then = Box<dyn FnOnce(bool) + Send>;

pub struct Job {
    /// (store partition, write).
    pub writes: Vec<(String, Write)>,
    pub then: Option<Then>,
}

/// Jobs waiting to be written; a full queue makes submitters wait.
const QUEUE: usize = 8192;
/// Writes put in one commit at most.
const GROUP: usize = 4096;

#[derive(Clone)]
pub struct Persister {
    tx: mpsc::Sender<Job>,
}

impl Persister {
    pub fn spawn(messaging: Arc<Messaging>) -> Persister {
        Self::spawn_with_queue(messaging, QUEUE)
    }

    pub(crate) fn spawn_with_queue(messaging: Arc<Messaging>, queue: usize) -> Persister {
        let (tx, rx) = mpsc::channel(queue);
        tokio::spawn(run(messaging, rx));
        Persister { tx }
    }

    /// Queues writes, waiting while the queue is full; `then` runs once they are durable, or
    /// with `false` when they failed or the persister has stopped, so a waiting publisher is
    /// never left hanging and never told a lie.
    pub async fn submit(&self, writes: Vec<(String, Write)>, then: Option<Then>) {
        if let Err(mpsc::error::SendError(job)) = self.tx.send(Job { writes, then }).await {
            if let Some(then) = job.then {
                then(false);
            }
        }
    }

    /// Returns once everything submitted before it is durable (or has failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        let then: Then = Box::new(move |_| {
            let _ = done.send(());
        });
        self.submit(Vec::new(), Some(then)).await;
        let _ = wait.await;
    }
}

async fn run(messaging: Arc<Messaging>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut writes = first.writes;
        let mut thens: Vec<Then> = first.then.into_iter().collect();
        while writes.len() < GROUP {
            match rx.try_recv() {
                Ok(job) => {
                    writes.extend(job.writes);
                    thens.extend(job.then);
                }
                Err(_) => break,
            }
        }
        let mut ok = true;
        if !writes.is_empty() {
            let n = writes.len();
            if let Err(e) = messaging.apply(writes).await {
                tracing::error!(writes = n, error = %e.message, "mqtt state not written");
                ok = false;
            }
        }
        for then in thens {
            then(ok);
        }
    }
}
