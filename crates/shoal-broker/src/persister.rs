//! Writes the router's durable state — retained messages, persistent sessions, messages queued
//! for offline sessions, connectivity — through the messaging service, in the order the router
//! decided them. Whatever is waiting when a commit ends goes into the next one (group commit),
//! and each write's completion runs only once it is durable: a publisher's PUBACK, a
//! reconnecting session's "your queue is complete" (DESIGN.md §3: queued QoS 1 messages are
//! stored before they are acknowledged).

use shoal_services::messaging::Write;
use shoal_services::Messaging;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What runs once a write is durable (`true`) or could not be written (`false`).
pub type Then = Box<dyn FnOnce(bool) + Send>;

pub struct Job {
    /// (store partition, write).
    pub writes: Vec<(String, Write)>,
    pub then: Option<Then>,
}

/// Jobs waiting to be written; a full queue slows the router, and so the publishers.
const QUEUE: usize = 8192;
/// Writes put in one commit at most.
const GROUP: usize = 4096;

#[derive(Clone)]
pub struct Persister {
    tx: mpsc::Sender<Job>,
}

impl Persister {
    pub fn spawn(messaging: Arc<Messaging>) -> Persister {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(messaging, rx));
        Persister { tx }
    }

    /// Queues writes without waiting (the router's own loop must never block on the store);
    /// `then` runs once they are durable, or with `false` when they failed, so a waiting
    /// publisher is never left hanging and never told a lie.
    pub fn try_submit(&self, writes: Vec<(String, Write)>, then: Option<Then>) {
        match self.tx.try_send(Job { writes, then }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(job)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(job).await;
                });
            }
            Err(mpsc::error::TrySendError::Closed(job)) => {
                if let Some(then) = job.then {
                    then(false);
                }
            }
        }
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
