//! What the router tells one connection beside its deliveries (taken over, revoked, re-check,
//! overflowed, shutting down): a few words, rarely, that must not wait behind a full outbox.
//! A small queue and a waker rather than a second channel: a tokio channel costs every
//! connection about 0.6 KB, idle or not.

use super::Out;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Control messages waiting for a connection; it takes them before anything else. One more
/// than this is dropped: each waiting one already ends the connection or makes it re-check
/// itself, so nothing is lost.
pub const CONTROLS: usize = 8;

#[derive(Default)]
pub struct Control {
    queue: Mutex<VecDeque<Out>>,
    notify: Notify,
}

impl Control {
    pub fn new() -> Arc<Control> {
        Arc::new(Control::default())
    }

    /// Queues `out` without waiting.
    pub fn send(&self, out: Out) {
        if let Ok(mut q) = self.queue.lock() {
            if q.len() < CONTROLS {
                q.push_back(out);
            }
        }
        self.notify.notify_one();
    }

    pub fn try_recv(&self) -> Option<Out> {
        self.queue.lock().ok()?.pop_front()
    }

    /// The next message. A `send` between the check and the wait leaves a permit behind
    /// (`Notify::notify_one`), so none is missed.
    pub async fn recv(&self) -> Out {
        loop {
            if let Some(out) = self.try_recv() {
                return out;
            }
            self.notify.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_arrive_in_order_and_the_queue_is_bounded() {
        let c = Control::new();
        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.recv().await }
        });
        c.send(Out::Recheck);
        assert!(matches!(waiter.await.unwrap(), Out::Recheck));
        for _ in 0..CONTROLS + 3 {
            c.send(Out::TakenOver);
        }
        let mut n = 0;
        while c.try_recv().is_some() {
            n += 1;
        }
        assert_eq!(n, CONTROLS);
    }
}
