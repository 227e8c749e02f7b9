//! One relay per live tunnel, the one owner of what the tunnel's two connections share: which
//! connection holds each side, and each service's active stream (with its V3 connection ids).
//! A frame from one side is decoded to decide where it goes and forwarded as its own bytes;
//! the relay's lock is held only for that decision, never across a send, and each side's
//! queue is bounded, so a slow reader slows its own tunnel's sender alone.
//!
//! What the service itself says, following the local proxy's protocol guides
//! (docs/V2WebSocketProtocolGuide.md, V3...): SERVICE_IDS first to each V2/V3 proxy that connects
//! (AWS's local proxy does nothing until it has them, even for a tunnel without services);
//! STREAM_RESET to the other side for every active stream when a side is replaced (as AWS
//! does) and also when it leaves (AWS sends nothing then and the other side's TCP connections
//! hang until it gives up; Shoal ends them), and to a source whose STREAM_START finds no
//! destination; messages only the service sends
//! (SERVICE_IDS, SESSION_RESET), a destination's STREAM_START and messages of a stale stream
//! are dropped.

use crate::frame::{encode, Message, Type};
use bytes::Bytes;
use shoal_domain::tunnels::Side;
use shoal_services::tunnels::Claim;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// What a connection's writer is told to do. Frames carry the connection that sent them (none
/// for the service's own): the writer drops a batch whose sender no longer holds its side, so
/// frames routed just before a replacement never follow the newcomer's.
pub(crate) enum Out {
    Frames(Vec<Bytes>, Option<(Side, u64)>),
    Close(CloseCode, &'static str),
}

/// Connections of one stream at once (AWS's local proxy's own limit per service).
const MAX_CONNECTIONS_PER_STREAM: usize = 128;

/// How a connection another connection of the same proxy replaced is closed.
pub(crate) const REPLACED: (CloseCode, &str) = (CloseCode::Policy, "Replaced by a new connection");
/// How a connection of a closed tunnel, or with a rotated token, is closed.
pub(crate) const ENDED: (CloseCode, &str) = (
    CloseCode::Normal,
    "The tunnel was closed or its token rotated",
);

/// The close a connection gets when its record no longer names it.
pub(crate) fn close_for(s: shoal_services::tunnels::Standing) -> Option<(CloseCode, &'static str)> {
    use shoal_services::tunnels::Standing;
    match s {
        Standing::Holds => None,
        Standing::Replaced => Some(REPLACED),
        Standing::Ended => Some(ENDED),
    }
}

/// The queue of frames waiting for one connection's writer, in WebSocket messages' worth
/// (each at most 131 KB): about 1 MB per direction of a tunnel.
pub(crate) const QUEUE: usize = 8;

pub(crate) struct Slot {
    pub claim: Claim,
    pub tx: mpsc::Sender<Out>,
    /// The subprotocol's version (1, 2 or 3).
    pub version: u8,
    pub kick: crate::kick::Kick,
}

#[derive(Default)]
struct State {
    source: Option<Slot>,
    destination: Option<Slot>,
    /// Active stream per service id ("" for V1's one unnamed service).
    streams: HashMap<String, Stream>,
}

struct Stream {
    id: i32,
    connections: BTreeSet<u32>,
}

impl State {
    fn slot(&self, side: Side) -> &Option<Slot> {
        match side {
            Side::Source => &self.source,
            Side::Destination => &self.destination,
        }
    }

    fn slot_mut(&mut self, side: Side) -> &mut Option<Slot> {
        match side {
            Side::Source => &mut self.source,
            Side::Destination => &mut self.destination,
        }
    }

    /// STREAM_RESET of every active stream (the streams end).
    fn reset_all(&mut self) -> Vec<Bytes> {
        self.streams
            .drain()
            .map(|(service, s)| encode(&Message::control(Type::StreamReset, s.id, &service, 0)))
            .collect()
    }
}

/// Frames for the other side's queue (service-made resets).
pub(crate) type ToPeer = Option<(mpsc::Sender<Out>, Vec<Bytes>)>;

/// Where the frames of one WebSocket message go.
#[derive(Default)]
pub(crate) struct Routed {
    pub peer: Option<mpsc::Sender<Out>>,
    pub forward: Vec<Bytes>,
    pub back: Vec<Bytes>,
}

pub(crate) struct Relay {
    pub key: (String, String),
    state: Mutex<State>,
}

impl Relay {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection takes its side; a connection it replaces is told to close, and the other
    /// side hears STREAM_RESET for the streams that ended with it. SERVICE_IDS (V2 and V3) is
    /// queued for the newcomer before anything can be routed to it (AWS's local proxy fails on
    /// any other message first). `None`: a newer connection already holds the side.
    pub fn attach(&self, slot: Slot) -> Option<ToPeer> {
        let side = slot.claim.side;
        let mut st = self.lock();
        if let Some(cur) = st.slot(side) {
            if cur.claim.connection > slot.claim.connection {
                return None;
            }
        }
        if slot.version >= 2 {
            let ids = encode(&Message {
                r#type: Type::ServiceIds as i32,
                available_service_ids: slot.claim.services.clone(),
                ..Default::default()
            });
            // The queue is new and empty: there is room.
            let _ = slot.tx.try_send(Out::Frames(vec![ids], None));
        }
        let mut to_peer = None;
        if let Some(old) = st.slot_mut(side).take() {
            old.kick.kick(REPLACED.0, REPLACED.1);
            let resets = st.reset_all();
            if let Some(peer) = st.slot(side.other()) {
                to_peer = Some((peer.tx.clone(), resets));
            }
        }
        *st.slot_mut(side) = Some(slot);
        Some(to_peer)
    }

    /// Whether connection `connection` still holds `side`.
    pub fn holds(&self, side: Side, connection: u64) -> bool {
        self.lock()
            .slot(side)
            .as_ref()
            .is_some_and(|s| s.claim.connection == connection)
    }

    /// Connection `connection` of `side` ended. If it still held the side, the other side
    /// hears STREAM_RESET for the active streams (returned with its queue). The bool: whether
    /// the relay is now empty.
    pub fn detach(&self, side: Side, connection: u64) -> (ToPeer, bool) {
        let mut st = self.lock();
        let holds = st
            .slot(side)
            .as_ref()
            .is_some_and(|s| s.claim.connection == connection);
        let mut to_peer = None;
        if holds {
            *st.slot_mut(side) = None;
            let resets = st.reset_all();
            if let Some(peer) = st.slot(side.other()) {
                if !resets.is_empty() {
                    to_peer = Some((peer.tx.clone(), resets));
                }
            }
        }
        let empty = st.source.is_none() && st.destination.is_none();
        (to_peer, empty)
    }

    /// The live connections' claims, to check against their records.
    pub fn claims(&self) -> Vec<Claim> {
        let st = self.lock();
        [&st.source, &st.destination]
            .into_iter()
            .flatten()
            .map(|s| s.claim.clone())
            .collect()
    }

    /// Tells the connection of `claim` (if it still holds its side) to close.
    pub fn kick(&self, claim: &Claim, why: (CloseCode, &'static str)) {
        let st = self.lock();
        if let Some(s) = st.slot(claim.side) {
            if s.claim.connection == claim.connection {
                s.kick.kick(why.0, why.1);
            }
        }
    }

    /// Decides where each frame from `side`'s connection `connection` goes.
    pub fn route(&self, side: Side, connection: u64, frames: Vec<(Bytes, Message)>) -> Routed {
        let mut st = self.lock();
        let mut r = Routed::default();
        if st
            .slot(side)
            .as_ref()
            .is_none_or(|s| s.claim.connection != connection)
        {
            return r;
        }
        let peer_here = st.slot(side.other()).is_some();
        let services = st
            .slot(side)
            .as_ref()
            .map(|s| s.claim.services.clone())
            .unwrap_or_default();
        for (bytes, m) in frames {
            let service = m.service_id.as_str();
            // A stream names one of the tunnel's services, or none (V1).
            if !service.is_empty() && !services.iter().any(|s| s == service) {
                continue;
            }
            let pass = match m.kind() {
                Type::Data => st.streams.get(service).is_some_and(|s| {
                    s.id == m.stream_id
                        && (m.connection_id == 0 || s.connections.contains(&m.connection_id))
                }),
                Type::StreamStart if side == Side::Source && m.stream_id != 0 => {
                    if peer_here {
                        st.streams.insert(
                            service.to_string(),
                            Stream {
                                id: m.stream_id,
                                connections: BTreeSet::from([m.connection_id.max(1)]),
                            },
                        );
                        true
                    } else {
                        // No destination to start it: the stream ends at once.
                        r.back.push(encode(&Message::control(
                            Type::StreamReset,
                            m.stream_id,
                            service,
                            m.connection_id,
                        )));
                        false
                    }
                }
                Type::StreamReset
                    if st.streams.get(service).is_some_and(|s| s.id == m.stream_id) =>
                {
                    st.streams.remove(service);
                    true
                }
                Type::ConnectionStart if side == Side::Source => {
                    match st.streams.get_mut(service) {
                        Some(s)
                            if s.id == m.stream_id
                                && m.connection_id != 0
                                && s.connections.len() < MAX_CONNECTIONS_PER_STREAM =>
                        {
                            s.connections.insert(m.connection_id);
                            true
                        }
                        _ => false,
                    }
                }
                Type::ConnectionReset => match st.streams.get_mut(service) {
                    Some(s) if s.id == m.stream_id => {
                        s.connections.remove(&m.connection_id);
                        true
                    }
                    _ => false,
                },
                // Only the service sends SERVICE_IDS and SESSION_RESET; a destination never
                // starts a stream; an unknown type is dropped.
                _ => false,
            };
            if pass && peer_here {
                r.forward.push(bytes);
            }
        }
        if !r.forward.is_empty() {
            r.peer = st.slot(side.other()).as_ref().map(|s| s.tx.clone());
        }
        r
    }
}

/// The live relays of this node, by (partition, tunnel id).
#[derive(Default)]
pub(crate) struct Relays {
    map: Mutex<HashMap<(String, String), Weak<Relay>>>,
}

impl Relays {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Weak<Relay>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tunnel's relay, made if none is live. Callers hold the `Arc` while connected.
    pub fn get(&self, part: &str, tunnel: &str) -> Arc<Relay> {
        let key = (part.to_string(), tunnel.to_string());
        let mut map = self.lock();
        if let Some(r) = map.get(&key).and_then(Weak::upgrade) {
            return r;
        }
        let r = Arc::new(Relay {
            key: key.clone(),
            state: Mutex::default(),
        });
        map.insert(key, Arc::downgrade(&r));
        r
    }

    /// Forgets the relay of `key` once nobody holds it (called by each holder after it
    /// dropped its `Arc`, so whichever lets go last removes the entry).
    pub fn forget(&self, key: &(String, String)) {
        let mut map = self.lock();
        if map.get(key).is_some_and(|w| w.strong_count() == 0) {
            map.remove(key);
        }
    }

    pub fn find(&self, part: &str, tunnel: &str) -> Option<Arc<Relay>> {
        self.lock()
            .get(&(part.to_string(), tunnel.to_string()))
            .and_then(Weak::upgrade)
    }

    pub fn all(&self) -> Vec<Arc<Relay>> {
        self.lock().values().filter_map(Weak::upgrade).collect()
    }

    pub fn len(&self) -> usize {
        self.lock()
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }
}
