//! The router: the one owner of MQTT sessions — who is connected under which client id, every
//! subscription, which sessions persist while offline — (DESIGN.md §3: one owner of broker
//! state, fed by a channel). Connections send it commands; it answers publishes by handing each
//! matching subscriber's connection a delivery, or by queueing QoS 1 messages durably for
//! offline persistent sessions. Topics are per account, as on AWS: a message never crosses
//! accounts.

mod fanout;
mod sessions;
mod table;

use crate::message::Msg;
use crate::persister::Persister;
use shoal_domain::{Clock, Partition};
use shoal_mqtt::QoS;
use shoal_services::messaging::PersistentSession;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use table::{add_subscription, qos_of, Account, Session};
use tokio::sync::{mpsc, oneshot};

/// A connection, unique for the life of the process.
pub type ConnId = u64;

/// What the router sends a connection.
#[derive(Debug, Clone)]
pub enum Out {
    /// A message, shared by every subscriber it goes to, at the QoS this one gets it with.
    Deliver(Arc<Msg>, QoS),
    /// Another connection took this client id (MQTT §3.1.4: the server disconnects the old one).
    TakenOver,
    /// The connection's certificate was deactivated, revoked or deleted (AWS disconnects).
    Revoked,
    /// A QoS 1 message could not be queued for this slow subscriber: the connection ends rather
    /// than lose it silently.
    Overflowed,
}

/// Deliveries waiting for a slow subscriber beyond this are dropped (QoS 0) or end the
/// connection, so one stuck device cannot grow the broker's memory without bound.
pub const OUTBOX: usize = 1024;

/// How long the router waits for room in a subscriber's full outbox before it gives up on the
/// connection. Waiting holds every publisher back (their PUBACKs come after routing): QoS 1
/// flows at the pace of its slowest subscriber instead of being lost, and a subscriber that
/// stopped reading costs the broker at most this once.
const STALL: Duration = Duration::from_millis(250);

/// How often offline sessions past their expiry are removed.
const SWEEP: Duration = Duration::from_secs(30);

/// What a connection learns when the router has taken it.
pub struct Connected {
    /// An earlier session continues (CONNACK Session Present, MQTT 3.1.1 §3.2.2.2).
    pub session_present: bool,
}

/// A message to publish when its client's connection ends abnormally (MQTT 3.1.1 §3.1.2.5).
#[derive(Debug, Clone)]
pub struct Will {
    pub msg: Msg,
    pub retain: bool,
}

pub struct Disconnect {
    pub account: String,
    pub client_id: Arc<str>,
    pub conn: ConnId,
    /// QoS 1 messages the connection had not got acknowledged; a persistent session keeps them.
    pub leftovers: Vec<Arc<Msg>>,
    pub will: Option<Will>,
    /// MQTT 5 DISCONNECT may change the session expiry interval (§3.14.2.2.2).
    pub expiry: Option<u32>,
}

enum Cmd {
    Connect {
        account: String,
        partition: Partition,
        client_id: Arc<str>,
        conn: ConnId,
        cert: String,
        outbox: mpsc::Sender<Out>,
        clean_start: bool,
        expiry: u32,
        done: oneshot::Sender<Connected>,
    },
    Revoke {
        account: String,
        cert: String,
    },
    Disconnect(Disconnect),
    Subscribe {
        account: String,
        client_id: Arc<str>,
        conn: ConnId,
        filter: String,
        qos: QoS,
        no_local: bool,
        done: oneshot::Sender<()>,
    },
    Unsubscribe {
        account: String,
        client_id: Arc<str>,
        conn: ConnId,
        filter: String,
    },
    Publish {
        partition: Arc<Partition>,
        msg: Msg,
        retain: bool,
        ack: Option<oneshot::Sender<bool>>,
    },
}

/// Control messages must arrive even when the outbox is full of deliveries.
fn send_control(outbox: &mpsc::Sender<Out>, out: Out) {
    if let Err(mpsc::error::TrySendError::Full(out)) = outbox.try_send(out) {
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let _ = outbox.send(out).await;
        });
    }
}

/// Commands waiting for the router. A full queue makes connections wait before reading more
/// from their sockets, so a fast publisher slows to the router's pace instead of growing memory.
const QUEUE: usize = 8192;

/// A cheap handle to the router task.
#[derive(Clone)]
pub struct Router {
    tx: mpsc::Sender<Cmd>,
    /// Offline persistent sessions; while there are none, a QoS 1 publish needs no store write
    /// before its PUBACK and the publisher does not wait for the router.
    offline: Arc<AtomicUsize>,
}

struct State {
    accounts: HashMap<String, Account, ahash::RandomState>,
    persister: Persister,
    clock: Arc<dyn Clock>,
    offline: Arc<AtomicUsize>,
    /// Numbers queued messages in arrival order, across restarts.
    seq: u64,
}

impl Router {
    /// Starts the router task with the persistent sessions found in the store, all offline;
    /// it ends when every handle is dropped.
    pub fn spawn(
        persister: Persister,
        clock: Arc<dyn Clock>,
        sessions: Vec<(Partition, PersistentSession)>,
        last_seq: u64,
    ) -> Router {
        let (tx, rx) = mpsc::channel(QUEUE);
        let offline = Arc::new(AtomicUsize::new(0));
        let now = clock.now().millis();
        let mut state = State {
            accounts: HashMap::default(),
            persister,
            clock,
            offline: offline.clone(),
            seq: last_seq,
        };
        for (part, s) in sessions {
            let acc = state
                .accounts
                .entry(part.account.to_string())
                .or_insert_with(|| Account::new(part.key()));
            let client: Arc<str> = Arc::from(s.client_id.as_str());
            acc.sessions.insert(
                client.clone(),
                Session {
                    online: None,
                    subs: Vec::new(),
                    expiry: s.expiry_secs,
                    // A session that was online when the process stopped went offline then.
                    disconnected_at: Some(s.disconnected_at.unwrap_or(now)),
                },
            );
            for sub in &s.subscriptions {
                add_subscription(acc, &client, &sub.filter, qos_of(sub.qos), false);
            }
            offline.fetch_add(1, Ordering::Relaxed);
        }
        tokio::spawn(run(state, rx));
        Router { tx, offline }
    }

    pub fn has_offline_sessions(&self) -> bool {
        self.offline.load(Ordering::Relaxed) > 0
    }

    /// Registers a connection under its client id, taking the id over from any older one, and
    /// returns once every message queued for the session before now is in the store.
    #[allow(clippy::too_many_arguments)]
    pub async fn connect(
        &self,
        partition: &Partition,
        client_id: Arc<str>,
        conn: ConnId,
        cert: &str,
        outbox: mpsc::Sender<Out>,
        clean_start: bool,
        expiry: u32,
    ) -> Connected {
        let (done, wait) = oneshot::channel();
        let cmd = Cmd::Connect {
            account: partition.account.to_string(),
            partition: partition.clone(),
            client_id,
            conn,
            cert: cert.into(),
            outbox,
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
        }
    }

    /// Ends every connection of the account that authenticated with certificate `cert`.
    pub async fn revoke(&self, account: &str, cert: &str) {
        let _ = self
            .tx
            .send(Cmd::Revoke {
                account: account.into(),
                cert: cert.into(),
            })
            .await;
    }

    pub async fn disconnect(&self, d: Disconnect) {
        let _ = self.tx.send(Cmd::Disconnect(d)).await;
    }

    /// Adds (or replaces) a subscription and returns once the router has it and, for a
    /// persistent session, once the session record holding it is durable. The router applies
    /// commands in order, so a publish that anyone sends after this returns reaches the
    /// subscriber: a SUBACK written after it is a promise kept, even across a crash.
    pub async fn subscribe(
        &self,
        account: &str,
        client_id: &Arc<str>,
        conn: ConnId,
        filter: &str,
        qos: QoS,
        no_local: bool,
    ) {
        let (done, wait) = oneshot::channel();
        let cmd = Cmd::Subscribe {
            account: account.into(),
            client_id: client_id.clone(),
            conn,
            filter: filter.into(),
            qos,
            no_local,
            done,
        };
        if self.tx.send(cmd).await.is_ok() {
            let _ = wait.await;
        }
    }

    pub async fn unsubscribe(
        &self,
        account: &str,
        client_id: &Arc<str>,
        conn: ConnId,
        filter: &str,
    ) {
        let _ = self
            .tx
            .send(Cmd::Unsubscribe {
                account: account.into(),
                client_id: client_id.clone(),
                conn,
                filter: filter.into(),
            })
            .await;
    }

    /// Routes a message. With `durable`, returns once whatever it changed in the store (the
    /// retained message, copies queued for offline sessions) is durable: `false` if that
    /// failed. Without, returns as soon as the router has it.
    pub fn publish(
        &self,
        partition: &Arc<Partition>,
        msg: Msg,
        retain: bool,
        durable: bool,
    ) -> impl std::future::Future<Output = bool> + 'static {
        let (ack, wait) = if durable {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let cmd = Cmd::Publish {
            partition: partition.clone(),
            msg,
            retain,
            ack,
        };
        // The common case hands the command over without waiting. Only a full queue keeps it
        // (boxed) in the returned future, which every publishing connection holds while it
        // waits: small, so that idle connections' tasks stay small.
        let pending = match self.tx.try_send(cmd) {
            Ok(()) => Ok(None),
            Err(mpsc::error::TrySendError::Full(cmd)) => Ok(Some(Box::new((self.tx.clone(), cmd)))),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
        };
        async move {
            match pending {
                Err(()) => return false,
                Ok(Some(p)) => {
                    let (tx, cmd) = *p;
                    if tx.send(cmd).await.is_err() {
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
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => st.handle(cmd).await,
                None => return,
            },
            _ = sweep.tick() => st.sweep(),
        }
    }
}
