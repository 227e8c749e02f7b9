//! The outgoing side of a session: messages written to the client, the QoS 1 ones kept until
//! PUBACK, the QoS 2 ones (standard profile) until PUBREC and then PUBCOMP (MQTT 5 §4.3.3). At
//! most the profile's in-flight window (AWS IoT's 100), or the client's smaller Receive
//! Maximum (MQTT 5 §3.1.2.11.3), are unacknowledged at once, whatever their source — live deliveries, retained
//! messages sent on SUBSCRIBE, or a persistent session's stored queue; beyond that they wait
//! here, in a bounded queue. Messages replayed from the stored queue are read a page at a time
//! and leave the store when the client acknowledges them, so a crash before that replays them
//! again.
//! https://docs.aws.amazon.com/general/latest/gr/iot-core.html ("Maximum in-flight
//! unacknowledged messages": 100).

use crate::message::Msg;
use crate::router::Delivery;
use crate::session::{Session, SessionError, SessionResult};
use shoal_domain::logging::{EventType, LogLevel};
use shoal_mqtt::{Packet, PubRel, QoS};
use shoal_services::messaging::Write;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

thread_local! {
    /// A PUBLISH reused for every delivery on this worker thread: its topic keeps its capacity,
    /// so encoding a delivery allocates nothing.
    static SCRATCH: std::cell::RefCell<Packet> =
        std::cell::RefCell::new(Packet::Publish(Default::default()));
}

/// Messages that may wait for room in the window: retained messages for new subscriptions and
/// a page of the stored queue. A client that makes more wait (subscribing over and over without
/// acknowledging) is disconnected with Quota Exceeded.
const MAX_WAITING: usize = 1000;
/// Stored messages read per page, and the level of the waiting queue under which the next
/// page is read.
const REPLAY_PAGE: usize = 100;

struct Inflight {
    msg: Arc<Msg>,
    qos: QoS,
    /// Its sequence number in the session's stored queue, for a replayed message.
    seq: Option<u64>,
    /// Order of sending, so leftovers keep their order.
    order: u64,
    /// QoS 2: PUBREC came and PUBREL went; only PUBCOMP is awaited (§4.3.3).
    released: bool,
}

struct Waiting {
    d: Delivery,
    seq: Option<u64>,
}

pub struct Outgoing {
    inflight: HashMap<u16, Inflight>,
    waiting: VecDeque<Waiting>,
    next_pkid: u16,
    sent: u64,
    /// The window: the profile's in-flight limit, or the client's smaller Receive Maximum.
    pub limit: usize,
    /// The client's Maximum Packet Size (MQTT 5 §3.1.2.11.4): larger PUBLISHes are discarded.
    pub max_packet: usize,
    /// Topic aliases this server set for the client (§3.3.2.3.4), up to the client's Topic
    /// Alias Maximum; 0 when it takes none or the profile sends none.
    pub alias_max: u16,
    aliases: HashMap<Arc<str>, u16>,
    /// The stored queue being replayed: the last sequence number read, and whether more may
    /// follow it.
    replay_after: Option<u64>,
    replay_more: bool,
    /// Messages of the stored queue not yet acknowledged (what is left when the connection ends).
    pub stored: u32,
    /// Stored messages delivered or dropped, to be removed from the queue.
    dequeued: Vec<u64>,
}

impl Outgoing {
    pub fn new(limit: usize) -> Outgoing {
        Outgoing {
            inflight: HashMap::new(),
            waiting: VecDeque::new(),
            next_pkid: 0,
            sent: 0,
            limit,
            max_packet: usize::MAX,
            alias_max: 0,
            aliases: HashMap::new(),
            replay_after: None,
            replay_more: false,
            stored: 0,
            dequeued: Vec::new(),
        }
    }
}

/// Why a delivery could not even wait: the connection must end (Quota Exceeded).
#[derive(Debug)]
pub struct WaitingFull;

impl Outgoing {
    /// Whether one more message may wait without ending the connection.
    pub fn can_wait(&self) -> bool {
        self.waiting.len() < MAX_WAITING
    }

    /// Whether another QoS 1 message may be sent now.
    pub fn has_room(&self) -> bool {
        self.inflight.len() < self.limit && self.waiting.is_empty()
    }

    /// Messages sent and not acknowledged that are not in the stored queue, in the order they
    /// were sent, and those that waited: a persistent session keeps them for its next
    /// connection. A QoS 2 message already released (PUBREC received) was delivered.
    pub fn unacknowledged(&mut self) -> Vec<(Arc<Msg>, QoS)> {
        let mut left: Vec<Inflight> = self
            .inflight
            .drain()
            .map(|(_, f)| f)
            .filter(|f| f.seq.is_none() && !f.released)
            .collect();
        left.sort_by_key(|f| f.order);
        let waited = self
            .waiting
            .drain(..)
            .filter(|w| w.seq.is_none() && w.d.qos != QoS::AtMostOnce && !w.d.retain)
            .map(|w| (w.d.msg, w.d.qos));
        left.into_iter()
            .map(|f| (f.msg, f.qos))
            .chain(waited)
            .collect()
    }

    /// Whether stored messages wait to be removed from the queue.
    pub fn has_dequeued(&self) -> bool {
        !self.dequeued.is_empty()
    }

    /// Takes the sequence numbers to remove from the stored queue.
    pub fn take_dequeued(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.dequeued)
    }

    fn dequeue(&mut self, seq: u64) {
        self.stored = self.stored.saturating_sub(1);
        self.dequeued.push(seq);
    }

    /// The next free packet id. The window keeps fewer than `limit` (at most 65,535) in use,
    /// so the search ends; it is bounded all the same.
    fn next_pkid(&mut self) -> Option<u16> {
        for _ in 0..=u16::MAX {
            self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
            if !self.inflight.contains_key(&self.next_pkid) {
                return Some(self.next_pkid);
            }
        }
        None
    }

    /// Queues a delivery to send once the window has room. A retained message replaces one of
    /// the same topic still waiting, so resubscribing cannot pile copies up.
    fn wait(&mut self, w: Waiting) -> Result<(), WaitingFull> {
        if w.d.retain {
            if let Some(same) = self
                .waiting
                .iter_mut()
                .find(|o| o.d.retain && o.d.msg.topic == w.d.msg.topic)
            {
                *same = w;
                return Ok(());
            }
        }
        if self.waiting.len() >= MAX_WAITING {
            return Err(WaitingFull);
        }
        self.waiting.push_back(w);
        Ok(())
    }

    /// The alias to send `topic` with, and whether the topic itself must go too (the first
    /// time): `None` once the client's aliases are all taken.
    fn alias(&mut self, topic: &Arc<str>) -> Option<(u16, bool)> {
        if self.alias_max == 0 {
            return None;
        }
        if let Some(a) = self.aliases.get(topic) {
            return Some((*a, false));
        }
        let next = u16::try_from(self.aliases.len() + 1).ok()?;
        if next > self.alias_max {
            return None;
        }
        self.aliases.insert(topic.clone(), next);
        Some((next, true))
    }
}

impl Session {
    /// Sends a message if the client may receive it (`iot:Receive` on `topic/<topic>`) and it
    /// has not expired; a QoS 1 or 2 message waits while the window is full.
    pub(crate) fn deliver(&mut self, d: Delivery, seq: Option<u64>) -> SessionResult<()> {
        if d.qos != QoS::AtMostOnce && (self.out.inflight.len() >= self.out.limit) {
            return self
                .out
                .wait(Waiting { d, seq })
                .map_err(|_| SessionError::Quota);
        }
        self.send(d, seq)
    }

    fn send(&mut self, d: Delivery, seq: Option<u64>) -> SessionResult<()> {
        let Delivery {
            msg,
            qos,
            retain,
            ids,
        } = d;
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
                self.out.dequeue(seq);
            }
            if let Some(a) = &msg.ack {
                a.fire(false);
            }
            return Ok(());
        }
        self.count(shoal_services::logging::Op::PublishOutSuccess);
        if self.logs_want(EventType::PublishOut, LogLevel::Info) {
            self.write_log(
                EventType::PublishOut,
                LogLevel::Info,
                Some(&msg.topic),
                None,
                Vec::new(),
            );
        }
        let pkid = match qos {
            QoS::AtMostOnce => 0,
            _ => self
                .out
                .next_pkid()
                .ok_or_else(|| SessionError::server("no free packet identifier"))?,
        };
        let alias = self.out.alias(&msg.topic);
        let before = self.wbuf.len();
        let encoded = SCRATCH.with(|cell| {
            let mut packet = cell.borrow_mut();
            let Packet::Publish(p) = &mut *packet else {
                return Err(SessionError::server("the scratch packet is not a PUBLISH"));
            };
            p.topic.clear();
            if alias.is_none_or(|(_, first)| first) {
                p.topic.push_str(&msg.topic);
            }
            p.qos = qos;
            p.retain = retain;
            p.pkid = pkid;
            p.payload = msg.payload.clone();
            p.properties = msg.publish_properties(now);
            p.properties.topic_alias = alias.map(|(a, _)| a);
            p.properties.subscription_identifiers = ids.map(|b| *b).unwrap_or_default();
            let r = self.queue(&packet);
            if let Packet::Publish(p) = &mut *packet {
                p.payload = bytes::Bytes::new();
                p.properties = Default::default();
            }
            r
        });
        let too_large = self.wbuf.len() - before > self.out.max_packet;
        if encoded.is_err() || too_large {
            // A message this connection cannot carry — larger than the client's Maximum Packet
            // Size (MQTT 5 §3.1.2.11.4: the server discards it), or with an MQTT 5 property a
            // client would reject — is dropped, and dequeued if it was stored: ending the
            // connection would only meet it again at the next one.
            self.wbuf.truncate(before);
            if let Some((a, true)) = alias {
                // The alias was never sent: forget it, so the next message with this topic
                // carries the topic again.
                self.out.aliases.retain(|_, v| *v != a);
            }
            tracing::debug!(conn = self.conn, topic = %msg.topic, too_large, "undeliverable message dropped");
            if let Some(seq) = seq {
                self.out.dequeue(seq);
            }
            return Ok(());
        }
        if pkid != 0 {
            self.out.sent += 1;
            let order = self.out.sent;
            let f = Inflight {
                msg,
                qos,
                seq,
                order,
                released: false,
            };
            self.out.inflight.insert(pkid, f);
        } else if let Some(seq) = seq {
            self.out.dequeue(seq);
        }
        Ok(())
    }

    /// PUBACK (QoS 1) or PUBCOMP (QoS 2) from the client: the message is delivered; a stored
    /// one leaves the queue.
    pub(crate) fn acknowledged(&mut self, pkid: u16) -> SessionResult<()> {
        if let Some(f) = self.out.inflight.remove(&pkid) {
            if let Some(seq) = f.seq {
                self.out.dequeue(seq);
            }
            if let Some(a) = &f.msg.ack {
                a.fire(true);
            }
        }
        self.send_waiting()
    }

    /// PUBREC from the client (QoS 2, §4.3.3): it has the message; PUBREL releases the packet
    /// id, which stays in the window until PUBCOMP. A PUBREC with an error code ends the
    /// exchange there (MQTT 5 §4.3.3).
    pub(crate) fn received(&mut self, pkid: u16, code: u8) -> SessionResult<()> {
        if code >= 0x80 {
            return self.acknowledged(pkid);
        }
        let reason = match self.out.inflight.get_mut(&pkid) {
            Some(f) if f.qos == QoS::ExactlyOnce => {
                f.released = true;
                if let Some(seq) = f.seq.take() {
                    // Delivered: a crash from here on must not deliver it again.
                    self.out.dequeue(seq);
                }
                shoal_mqtt::reason::SUCCESS
            }
            _ => shoal_mqtt::reason::PACKET_IDENTIFIER_NOT_FOUND,
        };
        self.queue(&Packet::PubRel(PubRel {
            pkid,
            reason,
            ..PubRel::default()
        }))
    }

    fn send_waiting(&mut self) -> SessionResult<()> {
        loop {
            while self.out.inflight.len() < self.out.limit {
                let Some(w) = self.out.waiting.pop_front() else {
                    break;
                };
                self.send(w.d, w.seq)?;
            }
            // Read the next page of the stored queue once what waits runs low.
            if !self.out.replay_more || self.out.waiting.len() >= REPLAY_PAGE / 2 {
                return Ok(());
            }
            if !self.read_stored_page() {
                return Ok(());
            }
        }
    }

    /// Starts replaying what a continued persistent session had queued while offline, oldest
    /// first, a page at a time.
    pub(crate) fn replay(&mut self, queued: u32) {
        self.out.stored = queued;
        self.out.replay_more = queued > 0;
        if let Err(e) = self.send_waiting() {
            tracing::debug!(conn = self.conn, error = %e, "replay failed");
        }
    }

    /// Reads the next page of the stored queue into the waiting queue; `false` when nothing
    /// more was read.
    fn read_stored_page(&mut self) -> bool {
        let part = self.principal.partition().key();
        let page = match self.gw.messaging.queued(
            &part,
            &self.client_id,
            self.out.replay_after,
            REPLAY_PAGE,
        ) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e.message, "queued messages not read");
                self.out.replay_more = false;
                return false;
            }
        };
        self.out.replay_more = page.len() == REPLAY_PAGE;
        let read = !page.is_empty();
        for (seq, m) in page {
            self.out.replay_after = Some(seq);
            match m {
                Some(m) => {
                    let m = Msg::from_stored(m);
                    let qos = m.qos;
                    self.out.waiting.push_back(Waiting {
                        d: Delivery::new(Arc::new(m), qos),
                        seq: Some(seq),
                    });
                }
                None => self.out.dequeue(seq),
            }
        }
        read
    }

    /// Removes delivered stored messages from the queue, in the order they were delivered.
    pub(crate) async fn write_dequeued(&mut self) {
        let seqs = self.out.take_dequeued();
        if seqs.is_empty() {
            return;
        }
        let part = self.principal.partition().key();
        let writes = seqs
            .into_iter()
            .map(|seq| {
                (
                    part.clone(),
                    Write::Dequeue {
                        client_id: self.client_id.to_string(),
                        seq,
                    },
                )
            })
            .collect();
        self.gw.persister.submit(writes, None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(topic: &str) -> Arc<Msg> {
        Arc::new(Msg {
            topic: Arc::from(topic),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            props: None,
            from: None,
            published_at: 0,
            ack: None,
            principal: None,
            hops: 0,
            evaluated: false,
        })
    }

    fn retained(topic: &str) -> Waiting {
        let mut d = Delivery::new(msg(topic), QoS::AtLeastOnce);
        d.retain = true;
        Waiting { d, seq: None }
    }

    #[test]
    fn server_aliases_stop_at_the_clients_maximum() {
        let mut out = Outgoing::new(100);
        assert_eq!(
            out.alias(&Arc::from("a")),
            None,
            "no aliases unless the client takes them"
        );
        out.alias_max = 2;
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) =
            (Arc::from("a"), Arc::from("b"), Arc::from("c"));
        assert_eq!(out.alias(&a), Some((1, true)));
        assert_eq!(out.alias(&a), Some((1, false)));
        assert_eq!(out.alias(&b), Some((2, true)));
        assert_eq!(out.alias(&c), None);
    }

    #[test]
    fn retained_messages_waiting_for_one_topic_do_not_pile_up() {
        let mut out = Outgoing::new(100);
        for _ in 0..70_000 {
            out.wait(retained("r/1")).unwrap();
        }
        assert_eq!(out.waiting.len(), 1);
    }

    #[test]
    fn the_waiting_queue_is_bounded() {
        let mut out = Outgoing::new(100);
        for i in 0..MAX_WAITING {
            out.wait(retained(&format!("r/{i}"))).unwrap();
        }
        assert!(out.wait(retained("r/x")).is_err());
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_never_spin() {
        let mut out = Outgoing::new(100);
        for id in 1..=u16::MAX {
            out.inflight.insert(
                id,
                Inflight {
                    msg: msg("t"),
                    qos: QoS::AtLeastOnce,
                    seq: None,
                    order: 0,
                    released: false,
                },
            );
        }
        assert_eq!(
            out.next_pkid(),
            None,
            "every id in use: the search gives up"
        );
        out.inflight.remove(&7);
        assert_eq!(out.next_pkid(), Some(7));
    }
}
