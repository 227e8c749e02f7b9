//! The outgoing side of a session: messages written to the client, the QoS 1 ones kept until
//! PUBACK. An MQTT 5 client's Receive Maximum bounds how many are unacknowledged at once
//! (§3.1.2.11.3); while it is reached, deliveries wait in the connection's outbox. Messages
//! replayed from a persistent session's stored queue leave the store when the client
//! acknowledges them, so a crash before that replays them again.

use crate::message::Msg;
use crate::session::Session;
use shoal_mqtt::{Packet, QoS};
use shoal_services::messaging::Write;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

thread_local! {
    /// A PUBLISH reused for every delivery on this worker thread: its topic keeps its capacity,
    /// so encoding a delivery allocates nothing.
    static SCRATCH: std::cell::RefCell<Packet> =
        std::cell::RefCell::new(Packet::Publish(Default::default()));
}

/// MQTT's largest Receive Maximum, the window of clients that set none (and of MQTT 3.1.1).
const UNLIMITED: usize = u16::MAX as usize;

struct Inflight {
    msg: Arc<Msg>,
    /// Its sequence number in the session's stored queue, for a replayed message.
    seq: Option<u64>,
    /// Order of sending, so leftovers keep their order.
    order: u64,
}

pub struct Outgoing {
    inflight: HashMap<u16, Inflight>,
    /// Replayed messages waiting for room in flight.
    waiting: VecDeque<(Arc<Msg>, QoS, u64)>,
    next_pkid: u16,
    sent: u64,
    /// The client's Receive Maximum (MQTT 5 §3.1.2.11.3).
    pub limit: usize,
}

impl Default for Outgoing {
    fn default() -> Self {
        Outgoing {
            inflight: HashMap::new(),
            waiting: VecDeque::new(),
            next_pkid: 0,
            sent: 0,
            limit: UNLIMITED,
        }
    }
}

impl Outgoing {
    /// Whether another QoS 1 message may be sent now.
    pub fn has_room(&self) -> bool {
        self.inflight.len() < self.limit && self.waiting.is_empty()
    }

    /// QoS 1 messages sent and not acknowledged that are not in the stored queue, in the order
    /// they were sent: a persistent session keeps them for its next connection.
    pub fn unacknowledged(&mut self) -> Vec<Arc<Msg>> {
        let mut left: Vec<Inflight> = self
            .inflight
            .drain()
            .map(|(_, f)| f)
            .filter(|f| f.seq.is_none())
            .collect();
        left.sort_by_key(|f| f.order);
        left.into_iter().map(|f| f.msg).collect()
    }
}

impl Session {
    /// Sends a message if the client may receive it (`iot:Receive` on `topic/<topic>`) and it
    /// has not expired.
    pub(crate) fn deliver(
        &mut self,
        msg: Arc<Msg>,
        qos: QoS,
        seq: Option<u64>,
        retain: bool,
    ) -> Result<(), String> {
        // The clock is read only for messages that can expire: most have no expiry, and a
        // fan-out delivers millions of messages a second.
        let now = match msg.props.as_ref().and_then(|p| p.expires_at) {
            Some(_) => self.now(),
            None => 0,
        };
        if msg.expired(now)
            || !self
                .authorizer()?
                .allows("iot:Receive", "topic", &msg.topic)
        {
            if let Some(seq) = seq {
                self.dequeue(seq);
            }
            return Ok(());
        }
        let pkid = if qos == QoS::AtMostOnce {
            0
        } else {
            loop {
                self.out.next_pkid = self.out.next_pkid.wrapping_add(1).max(1);
                if !self.out.inflight.contains_key(&self.out.next_pkid) {
                    break;
                }
            }
            self.out.next_pkid
        };
        let encoded = SCRATCH.with(|cell| {
            let mut packet = cell.borrow_mut();
            let Packet::Publish(p) = &mut *packet else {
                return Err("the scratch packet is not a PUBLISH".to_string());
            };
            p.topic.clear();
            p.topic.push_str(&msg.topic);
            p.qos = qos;
            p.retain = retain;
            p.pkid = pkid;
            p.payload = msg.payload.clone();
            p.properties = msg.publish_properties(now);
            let r = self.queue(&packet);
            if let Packet::Publish(p) = &mut *packet {
                p.payload = bytes::Bytes::new();
                p.properties = Default::default();
            }
            r
        });
        encoded?;
        if pkid != 0 {
            self.out.sent += 1;
            let order = self.out.sent;
            self.out.inflight.insert(pkid, Inflight { msg, seq, order });
        } else if let Some(seq) = seq {
            self.dequeue(seq);
        }
        Ok(())
    }

    /// PUBACK from the client: the message is delivered; a stored one leaves the queue.
    pub(crate) fn acknowledged(&mut self, pkid: u16) -> Result<(), String> {
        if let Some(f) = self.out.inflight.remove(&pkid) {
            if let Some(seq) = f.seq {
                self.dequeue(seq);
            }
        }
        self.send_waiting()
    }

    fn dequeue(&self, seq: u64) {
        let part = self.principal.partition().key();
        self.gw.persister.try_submit(
            vec![(
                part,
                Write::Dequeue {
                    client_id: self.client_id.to_string(),
                    seq,
                },
            )],
            None,
        );
    }

    fn send_waiting(&mut self) -> Result<(), String> {
        while self.out.inflight.len() < self.out.limit {
            let Some((msg, qos, seq)) = self.out.waiting.pop_front() else {
                break;
            };
            self.deliver(msg, qos, Some(seq), false)?;
        }
        Ok(())
    }

    /// Sends what a continued persistent session had queued while offline, oldest first.
    pub(crate) fn replay(&mut self) {
        let part = self.principal.partition().key();
        match self.gw.messaging.queued(&part, &self.client_id) {
            Ok(queued) => {
                self.out.waiting.extend(queued.into_iter().map(|(seq, m)| {
                    let m = Msg::from_stored(m);
                    let qos = m.qos;
                    (Arc::new(m), qos, seq)
                }));
                if let Err(e) = self.send_waiting() {
                    tracing::debug!(conn = self.conn, error = %e, "replay failed");
                }
            }
            Err(e) => tracing::error!(error = %e.message, "queued messages not read"),
        }
    }
}
