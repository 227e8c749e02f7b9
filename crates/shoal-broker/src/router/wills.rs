//! Wills with a delay (MQTT 5 §3.1.3.2.2, standard profile): published once the Will Delay
//! Interval has passed or the session has ended, whichever comes first, and never if the client
//! connects to the session again before. They live in the shard's memory, like the connection
//! whose end they announce: a restart publishes none, as a crash of the connection's own
//! server would not.

use super::{State, Will};
use crate::message::Msg;
use std::sync::Arc;
use tokio::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct Pending {
    wills: Vec<(Instant, Arc<str>, Will)>,
}

impl Pending {
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.wills.iter().map(|(at, _, _)| *at).min()
    }

    /// Holds `will` for `delay` seconds; a later will of the same client replaces it.
    pub(super) fn hold(&mut self, client: Arc<str>, will: Will, delay: u32) {
        self.cancel(&client);
        let at = Instant::now() + Duration::from_secs(u64::from(delay));
        self.wills.push((at, client, will));
    }

    /// The client connected again: its will is not published.
    pub(super) fn cancel(&mut self, client: &str) {
        self.wills.retain(|(_, c, _)| &**c != client);
    }

    fn take_due(&mut self, now: Instant) -> Vec<Will> {
        let mut due = Vec::new();
        self.wills.retain_mut(|(at, _, w)| {
            if *at <= now {
                due.push(w.clone());
                false
            } else {
                true
            }
        });
        due
    }
}

/// Sleeps until `at`, or for ever without one.
pub(super) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl State {
    /// A will is a message like any other for the rules (wills do not pass `Shard::publish`).
    fn evaluate_rules(&self, msg: &Msg) {
        if let Some(r) = self.rules.as_ref().filter(|r| !r.is_empty()) {
            r.evaluate(&msg.rule_message());
        }
    }

    pub(super) async fn publish_due_wills(&mut self) {
        for w in self.wills.take_due(Instant::now()) {
            self.evaluate_rules(&w.msg);
            self.publish(w.msg, w.retain, None).await;
        }
    }

    /// A will from an ended connection: published now, or held for its delay — at most until
    /// the session's own end (`expiry` seconds after the disconnection).
    pub(super) async fn will(&mut self, client: &Arc<str>, will: Will, expiry: u32) {
        let delay = will.delay.min(expiry);
        if delay == 0 {
            self.evaluate_rules(&will.msg);
            self.publish(will.msg, will.retain, None).await;
        } else {
            self.wills.hold(client.clone(), will, delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Msg;

    fn will(payload: &'static str) -> Will {
        Will {
            msg: Msg {
                topic: Arc::from("w"),
                payload: bytes::Bytes::from_static(payload.as_bytes()),
                qos: shoal_mqtt::QoS::AtMostOnce,
                props: None,
                from: None,
                ack: None,
                principal: None,
                hops: 0,
                evaluated: false,
                published_at: 0,
            },
            retain: false,
            delay: 30,
        }
    }

    #[test]
    fn a_will_waits_for_its_delay_and_a_return_cancels_it() {
        let start = Instant::now();
        let mut p = Pending::default();
        p.hold(Arc::from("a"), will("a"), 30);
        p.hold(Arc::from("b"), will("b"), 30);
        assert_eq!(p.next_due(), p.wills.first().map(|w| w.0));
        assert!(p.take_due(start + Duration::from_secs(29)).is_empty());
        p.cancel("a");
        let due = p.take_due(start + Duration::from_secs(31));
        assert_eq!(due.len(), 1, "only the will of the client that stayed away");
        assert_eq!(&due[0].msg.payload[..], b"b");
        assert_eq!(p.next_due(), None);
    }

    #[test]
    fn a_second_will_of_one_client_replaces_the_first() {
        let mut p = Pending::default();
        p.hold(Arc::from("a"), will("1"), 30);
        p.hold(Arc::from("a"), will("2"), 30);
        let due = p.take_due(Instant::now() + Duration::from_secs(31));
        assert_eq!(due.len(), 1);
        assert_eq!(&due[0].msg.payload[..], b"2");
    }
}
