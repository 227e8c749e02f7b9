//! The router: the one owner of MQTT sessions — who is connected under which client id, every
//! subscription, which sessions persist while offline — (DESIGN.md §3: one owner of broker
//! state, fed by a channel). Topics are per account and region, as on AWS: a message never
//! crosses partitions. So the router is sharded by partition: each (account, region) has a task
//! of its own with its own tables and command queue, and a subscriber that stops reading can
//! hold up only its own tenant's traffic, never another's.
//!
//! Connections send a shard commands; it answers publishes by handing each matching
//! subscriber's connection a delivery, or by queueing QoS 1 messages durably for offline
//! persistent sessions.

mod control;
mod fanout;
mod sessions;
mod table;
mod wills;

use crate::message::Msg;
use crate::persister::Persister;
pub use control::Control;
use shoal_domain::{Clock, Partition};
use shoal_mqtt::QoS;
use shoal_services::messaging::{Deleted, Direct, LiveSession, PersistentSession};
use shoal_services::rules::PartitionRules;
use shoal_services::Rules;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use table::{add_subscription, qos_of, Session, Table};
use tokio::sync::{mpsc, oneshot};

/// A connection, unique for the life of the process.
pub type ConnId = u64;

/// A message for a connection, shared by every subscriber it goes to, as this one gets it.
#[derive(Debug)]
pub struct Delivery {
    pub msg: Arc<Msg>,
    pub qos: QoS,
    /// The RETAIN flag it goes out with: 0 for live messages unless the subscription asked for
    /// Retain As Published (MQTT 5 §3.8.3.1) and the message was published retained.
    pub retain: bool,
    /// The identifiers of the subscriptions it matched (MQTT 5 §3.3.4), rarely any: boxed,
    /// so a delivery stays 24 bytes (each connection's outbox allocates room for 32 at once).
    #[allow(clippy::box_collection)] // a thin pointer: `Option<Box<[u32]>>` would be 16 bytes
    pub ids: Option<Box<Vec<u32>>>,
}

const _: () = assert!(std::mem::size_of::<Delivery>() <= 24);

impl Delivery {
    pub fn new(msg: Arc<Msg>, qos: QoS) -> Delivery {
        Delivery {
            msg,
            qos,
            retain: false,
            ids: None,
        }
    }
}

/// What a subscription asked for (MQTT 5 §3.8.3.1; MQTT 3.1.1 has only the QoS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubOptions {
    /// The QoS granted.
    pub qos: QoS,
    /// Not sent the messages its own client publishes.
    pub no_local: bool,
    /// Messages keep the RETAIN flag they were published with.
    pub retain_as_published: bool,
    /// The Subscription Identifier its messages carry.
    pub id: Option<u32>,
}

#[cfg(test)]
impl SubOptions {
    pub fn qos(qos: QoS) -> SubOptions {
        SubOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            id: None,
        }
    }
}

/// What became of a SUBSCRIBE's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// A subscription the session did not have.
    New,
    /// It replaced one with the same filter (Retain Handling 1 sends no retained messages).
    Replaced,
    /// Refused: the session has `MAX_SUBSCRIPTIONS` others, or is no longer this connection's.
    Refused,
}

/// What the router tells a connection beside deliveries, on a channel of its own.
#[derive(Debug, Clone)]
pub enum Out {
    /// Another connection took this client id (MQTT §3.1.4: the server disconnects the old one).
    TakenOver,
    /// The connection's certificate was deactivated, revoked or deleted (AWS disconnects).
    Revoked,
    /// Identity changes may have been missed (the event stream lagged): the connection checks
    /// its certificate and rebuilds its authorizer now, even while idle.
    Recheck,
    /// A QoS 1 message could not be queued for this slow subscriber: the connection ends rather
    /// than lose it silently.
    Overflowed,
    /// The server is shutting down: MQTT 5 clients are told so (DISCONNECT 0x8B).
    ServerShutdown,
    /// iot-data DeleteConnection ends the connection.
    Deleted {
        clean_session: bool,
        prevent_will: bool,
    },
    /// The admin reset emptied the partition: the connection ends without a trace.
    Reset,
}

/// Deliveries waiting for a slow subscriber beyond this are dropped (QoS 0) or end the
/// connection, so one stuck device cannot grow the broker's memory without bound.
pub const OUTBOX: usize = 1024;

/// How long a shard waits for room in a subscriber's full outbox before it gives up on the
/// connection. Waiting holds the tenant's publishers back (their PUBACKs come after routing):
/// QoS 1 flows at the pace of its slowest subscriber instead of being lost, and a subscriber
/// that stopped reading costs its tenant at most this once. Other tenants' shards never wait.
const STALL: Duration = Duration::from_millis(250);

/// How often offline sessions past their expiry are removed.
const SWEEP: Duration = Duration::from_secs(30);

/// AWS IoT: "Maximum number of subscriptions per connection: 50"
/// (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits).
pub const MAX_SUBSCRIPTIONS: usize = 50;

/// Messages kept for one offline persistent session; later ones are dropped, as AWS drops
/// "messages that exceed the limit" (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-persistent-sessions).
pub const MAX_QUEUED: u32 = 10_000;

/// What a connection learns when the router has taken it.
pub struct Connected {
    /// An earlier session continues (CONNACK Session Present, MQTT 3.1.1 §3.2.2.2).
    pub session_present: bool,
    /// Messages in the session's stored queue, which the connection now owns and replays.
    pub queued: u32,
}

/// A message to publish when its client's connection ends abnormally (MQTT 3.1.1 §3.1.2.5).
#[derive(Debug, Clone)]
pub struct Will {
    pub msg: Msg,
    pub retain: bool,
    /// MQTT 5 Will Delay Interval (§3.1.3.2.2), seconds; 0 publishes it when the connection
    /// ends (always so in the aws profile).
    pub delay: u32,
}

pub struct Disconnect {
    pub client_id: Arc<str>,
    pub conn: ConnId,
    /// Messages the connection had not got acknowledged, with their delivery QoS; a persistent
    /// session keeps them.
    pub leftovers: Vec<(Arc<Msg>, QoS)>,
    /// Messages still in the session's stored queue (not yet acknowledged by the client).
    pub stored: u32,
    pub will: Option<Will>,
    /// MQTT 5 DISCONNECT may change the session expiry interval (§3.14.2.2.2).
    pub expiry: Option<u32>,
}

enum Cmd {
    Connect {
        client_id: Arc<str>,
        conn: ConnId,
        cert: String,
        outbox: mpsc::Sender<Delivery>,
        control: Arc<Control>,
        clean_start: bool,
        expiry: u32,
        done: oneshot::Sender<Connected>,
    },
    Revoke {
        cert: String,
    },
    Recheck,
    /// Boxed: the largest command, and rare; every publish moves a `Cmd`.
    Disconnect(Box<Disconnect>),
    Subscribe {
        client_id: Arc<str>,
        conn: ConnId,
        filter: String,
        opts: SubOptions,
        done: oneshot::Sender<Subscribed>,
    },
    Unsubscribe {
        client_id: Arc<str>,
        conn: ConnId,
        filter: String,
    },
    Publish {
        msg: Msg,
        retain: bool,
        ack: Option<oneshot::Sender<bool>>,
    },
    /// Answered once every command before it is handled and its writes are durable.
    Flush {
        done: oneshot::Sender<()>,
    },
    /// The server is stopping: every connection, and any that connects from now on, is told
    /// to end.
    Shutdown,
    /// A client's session as the shard holds it (iot-data GetConnection, ListSubscriptions).
    Inspect {
        client_id: String,
        done: oneshot::Sender<Option<LiveSession>>,
    },
    /// iot-data DeleteConnection.
    Kick {
        client_id: String,
        clean_session: bool,
        prevent_will: bool,
        done: oneshot::Sender<Deleted>,
    },
    /// The admin reset: every connection ends, every session and pending will is forgotten,
    /// and what the shard had submitted is durable before `done`.
    Reset {
        done: oneshot::Sender<()>,
    },
    /// iot-data SendDirectMessage: one message to one connected client.
    Direct {
        client_id: String,
        delivery: Delivery,
        done: oneshot::Sender<Direct>,
    },
}

/// Sends a control message without waiting. A connection whose control queue is full has
/// unread control messages already, each of which ends it or makes it re-check itself, so
/// dropping one more loses nothing.
fn send_control(control: &Control, out: Out) {
    control.send(out);
}

/// Commands waiting for a shard. A full queue makes connections wait before reading more from
/// their sockets, so a fast publisher slows to its shard's pace instead of growing memory.
const QUEUE: usize = 8192;

/// The persistent sessions of one partition found in the store at start-up, with the number
/// of messages queued for each, and the last queue sequence number used in the partition.
pub struct Restored {
    pub sessions: Vec<(PersistentSession, u32)>,
    pub last_seq: u64,
}

/// A cheap handle to every shard.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

struct Inner {
    /// Looked up for every message a rule republishes: aHash, randomly keyed as SipHash is
    /// and several times faster on keys this short.
    shards: RwLock<HashMap<Partition, Shard, ahash::RandomState>>,
    persister: Persister,
    clock: Arc<dyn Clock>,
    /// Set once the server is shutting down; shards started after it start closing.
    closing: std::sync::atomic::AtomicBool,
    /// The rules engine: each shard holds its partition's rules.
    rules: Option<Arc<Rules>>,
}

/// A cheap handle to one partition's shard.
#[derive(Clone)]
pub struct Shard {
    tx: mpsc::Sender<Cmd>,
    /// Offline persistent sessions of the partition; while there are none, a QoS 1 publish
    /// needs no store write before its PUBACK and the publisher does not wait for the shard.
    offline: Arc<AtomicUsize>,
    /// Whether some subscription may match a lifecycle event (`$aws/events/...`): while none
    /// does, connections do not build and route events nobody can receive.
    events: Arc<std::sync::atomic::AtomicBool>,
    /// The partition's topic rules: every message routed through this handle is evaluated
    /// against them first, in the publisher's task.
    rules: Option<Arc<PartitionRules>>,
}

struct State {
    /// The store partition its durable state goes to.
    part: String,
    table: Table,
    persister: Persister,
    clock: Arc<dyn Clock>,
    offline: Arc<AtomicUsize>,
    events: Arc<std::sync::atomic::AtomicBool>,
    /// Numbers queued messages in arrival order, across restarts.
    seq: u64,
    /// The server is shutting down: a connection that arrives is told to end at once.
    closing: bool,
    /// Wills waiting for their delay (MQTT 5 §3.1.3.2.2).
    wills: wills::Pending,
    /// The partition's topic rules, which see every will too.
    rules: Option<Arc<PartitionRules>>,
}

impl Router {
    /// Starts a shard for every partition with persistent sessions in the store, all offline.
    pub fn new(
        persister: Persister,
        clock: Arc<dyn Clock>,
        restored: HashMap<Partition, Restored>,
        rules: Option<Arc<Rules>>,
    ) -> Router {
        let router = Router {
            inner: Arc::new(Inner {
                shards: RwLock::new(HashMap::default()),
                persister,
                clock,
                closing: std::sync::atomic::AtomicBool::new(false),
                rules,
            }),
        };
        if let Ok(mut shards) = router.inner.shards.write() {
            for (part, r) in restored {
                let rules = router.inner.rules.as_ref().map(|x| x.partition(&part));
                let shard = router.spawn_shard(&part, Some(r), rules);
                shards.insert(part, shard);
            }
        }
        router
    }

    /// The shard of a partition, started on first use.
    pub fn shard(&self, part: &Partition) -> Shard {
        if let Some(s) = self
            .inner
            .shards
            .read()
            .ok()
            .and_then(|m| m.get(part).cloned())
        {
            return s;
        }
        // The partition's rules are compiled (store reads) before the map is locked, so a
        // tenant's first message never holds up every other tenant's shard lookups.
        let rules = self.inner.rules.as_ref().map(|r| r.partition(part));
        let Ok(mut shards) = self.inner.shards.write() else {
            // A poisoned map: a shard of its own still serves this caller.
            return self.spawn_shard(part, None, rules);
        };
        shards
            .entry(part.clone())
            .or_insert_with(|| self.spawn_shard(part, None, rules))
            .clone()
    }

    fn shards(&self) -> Vec<Shard> {
        self.inner
            .shards
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Asks every live connection to check its certificate and policies again.
    pub async fn recheck_all(&self) {
        for s in self.shards() {
            let _ = s.tx.send(Cmd::Recheck).await;
        }
    }

    /// Tells every connection, and every one that connects from now on, that the server is
    /// shutting down. The connections then end in their own time (their wills, unacknowledged
    /// messages and connectivity reaching their shards), which the listener's drain waits for.
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        for s in self.shards() {
            let _ = s.tx.send(Cmd::Shutdown).await;
        }
    }

    /// Returns once every shard has handled what it was sent before and made it durable: at
    /// shutdown, after the connections have ended, so their last writes are not lost.
    pub async fn flush(&self) {
        for s in self.shards() {
            let (done, wait) = oneshot::channel();
            if s.tx.send(Cmd::Flush { done }).await.is_ok() {
                let _ = wait.await;
            }
        }
    }

    fn spawn_shard(
        &self,
        part: &Partition,
        restored: Option<Restored>,
        rules: Option<Arc<PartitionRules>>,
    ) -> Shard {
        let (tx, rx) = mpsc::channel(QUEUE);
        let offline = Arc::new(AtomicUsize::new(0));
        let events = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clock = self.inner.clock.clone();
        let now = clock.now().millis();
        let mut state = State {
            part: part.key(),
            table: Table::default(),
            persister: self.inner.persister.clone(),
            clock,
            offline: offline.clone(),
            events: events.clone(),
            seq: 0,
            closing: self.inner.closing.load(Ordering::SeqCst),
            wills: wills::Pending::default(),
            rules: rules.clone(),
        };
        if let Some(r) = restored {
            state.seq = r.last_seq;
            for (s, queued) in r.sessions {
                let client: Arc<str> = Arc::from(s.client_id.as_str());
                state.table.sessions.insert(
                    client.clone(),
                    Session {
                        online: None,
                        subs: Vec::new(),
                        expiry: s.expiry_secs,
                        // A session that was online when the process stopped went offline then.
                        disconnected_at: Some(s.disconnected_at.unwrap_or(now)),
                        queued,
                    },
                );
                for sub in &s.subscriptions {
                    let opts = SubOptions {
                        qos: qos_of(sub.qos),
                        no_local: sub.no_local,
                        retain_as_published: sub.retain_as_published,
                        id: sub.id,
                    };
                    add_subscription(&mut state.table, &client, &sub.filter, opts);
                }
                offline.fetch_add(1, Ordering::Relaxed);
            }
        }
        state.note_event_subscribers();
        tokio::spawn(run(state, rx));
        Shard {
            tx,
            offline,
            events,
            rules,
        }
    }
}

impl Shard {
    pub fn has_offline_sessions(&self) -> bool {
        self.offline.load(Ordering::Relaxed) > 0
    }

    /// Whether a lifecycle event published now could reach a subscriber or a rule.
    pub fn wants_events(&self) -> bool {
        // A topic rule may select them too (`FROM '$aws/events/presence/+/+'`).
        self.events.load(Ordering::Relaxed) || self.rules.as_ref().is_some_and(|r| !r.is_empty())
    }

    /// Registers a connection under its client id, taking the id over from any older one, and
    /// returns once every message queued for the session before now is in the store.
    #[allow(clippy::too_many_arguments)]
    pub async fn connect(
        &self,
        client_id: Arc<str>,
        conn: ConnId,
        cert: &str,
        outbox: mpsc::Sender<Delivery>,
        control: Arc<Control>,
        clean_start: bool,
        expiry: u32,
    ) -> Connected {
        let (done, wait) = oneshot::channel();
        let cmd = Cmd::Connect {
            client_id,
            conn,
            cert: cert.into(),
            outbox,
            control,
            clean_start,
            expiry,
            done,
        };
        if self.tx.send(cmd).await.is_ok() {
            if let Ok(c) = wait.await {
                return c;
            }
        }
        Connected {
            session_present: false,
            queued: 0,
        }
    }

    /// Ends every connection of the partition that authenticated with certificate `cert`.
    pub async fn revoke(&self, cert: &str) {
        let _ = self.tx.send(Cmd::Revoke { cert: cert.into() }).await;
    }

    pub async fn disconnect(&self, d: Disconnect) {
        let _ = self.tx.send(Cmd::Disconnect(Box::new(d))).await;
    }

    /// The session of `client_id`, online or offline persistent, if the shard has one.
    pub async fn inspect(&self, client_id: &str) -> Option<LiveSession> {
        let (done, wait) = oneshot::channel();
        let cmd = Cmd::Inspect {
            client_id: client_id.to_string(),
            done,
        };
        self.tx.send(cmd).await.ok()?;
        wait.await.ok().flatten()
    }

    pub async fn kick(&self, client_id: &str, clean_session: bool, prevent_will: bool) -> Deleted {
        let (done, wait) = oneshot::channel();
        let cmd = Cmd::Kick {
            client_id: client_id.to_string(),
            clean_session,
            prevent_will,
            done,
        };
        if self.tx.send(cmd).await.is_err() {
            return Deleted::NotFound;
        }
        wait.await.unwrap_or(Deleted::NotFound)
    }

    /// Forgets the partition's sessions (see `Cmd::Reset`); returns once the shard has.
    pub async fn reset(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Cmd::Reset { done }).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Hands `delivery` to the connection of `client_id`, if it is connected.
    pub async fn direct(&self, client_id: &str, delivery: Delivery) -> Direct {
        let (done, wait) = oneshot::channel();
        let cmd = Cmd::Direct {
            client_id: client_id.to_string(),
            delivery,
            done,
        };
        if self.tx.send(cmd).await.is_err() {
            return Direct::NotConnected { persistent: false };
        }
        wait.await
            .unwrap_or(Direct::NotConnected { persistent: false })
    }

    /// Adds (or replaces) a subscription and returns once the shard has it and, for a
    /// persistent session, once the session record holding it is durable. The shard applies
    /// commands in order, so a publish that anyone sends after this returns reaches the
    /// subscriber: a SUBACK written after it is a promise kept, even across a crash.
    pub async fn subscribe(
        &self,
        client_id: &Arc<str>,
        conn: ConnId,
        filter: &str,
        opts: SubOptions,
    ) -> Subscribed {
        let (done, wait) = oneshot::channel();
        let cmd = Cmd::Subscribe {
            client_id: client_id.clone(),
            conn,
            filter: filter.into(),
            opts,
            done,
        };
        if self.tx.send(cmd).await.is_ok() {
            return wait.await.unwrap_or(Subscribed::Refused);
        }
        Subscribed::Refused
    }

    pub async fn unsubscribe(&self, client_id: &Arc<str>, conn: ConnId, filter: &str) {
        let _ = self
            .tx
            .send(Cmd::Unsubscribe {
                client_id: client_id.clone(),
                conn,
                filter: filter.into(),
            })
            .await;
    }

    /// Routes a message if the shard has room now (never waits, never waits for the store);
    /// false when it was not taken.
    pub fn try_publish(&self, msg: Msg) -> bool {
        if let Some(rules) = &self.rules {
            rules.evaluate(&msg.rule_message());
        }
        let cmd = Cmd::Publish {
            msg,
            retain: false,
            ack: None,
        };
        self.tx.try_send(cmd).is_ok()
    }

    /// Routes a message. With `durable`, returns once whatever it changed in the store (the
    /// retained message, copies queued for offline sessions) is durable: `false` if that
    /// failed. Without, returns as soon as the shard has it.
    pub fn publish(
        &self,
        msg: Msg,
        retain: bool,
        durable: bool,
    ) -> impl std::future::Future<Output = bool> + 'static {
        if let Some(rules) = self.rules.as_ref().filter(|_| !msg.evaluated) {
            rules.evaluate(&msg.rule_message());
        }
        let (ack, wait) = if durable {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let cmd = Cmd::Publish { msg, retain, ack };
        // The common case hands the command over without waiting. Only a full queue makes a
        // future that waits for room, boxed: the returned future is made for every message
        // and moved around, so it must stay a few words (the waiting send holds a whole
        // command).
        type Waiting = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;
        let pending: Result<Option<Waiting>, ()> = match self.tx.try_send(cmd) {
            Ok(()) => Ok(None),
            Err(mpsc::error::TrySendError::Full(cmd)) => {
                let tx = self.tx.clone();
                Ok(Some(Box::pin(async move { tx.send(cmd).await.is_ok() })))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
        };
        async move {
            match pending {
                Err(()) => return false,
                Ok(Some(p)) => {
                    if !p.await {
                        return false;
                    }
                }
                Ok(None) => {}
            }
            match wait {
                Some(w) => w.await.unwrap_or(false),
                None => true,
            }
        }
    }
}

async fn run(mut st: State, mut rx: mpsc::Receiver<Cmd>) {
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next_will = st.wills.next_due();
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => st.handle(cmd).await,
                None => return,
            },
            _ = sweep.tick() => st.sweep().await,
            () = wills::sleep_until(next_will) => st.publish_due_wills().await,
        }
    }
}

#[cfg(test)]
mod tests;
