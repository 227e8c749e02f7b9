//! The router: the one owner of MQTT sessions — who is connected under which client id, every
//! subscription, which sessions persist while offline — (DESIGN.md §3: one owner of broker
//! state, fed by a channel). Connections send it commands; it answers publishes by handing each
//! matching subscriber's connection a delivery, or by queueing QoS 1 messages durably for
//! offline persistent sessions. Topics are per account, as on AWS: a message never crosses
//! accounts.

use crate::message::Msg;
use crate::persister::{Persister, Then};
use crate::subtree::SubTree;
use shoal_domain::{Clock, Partition};
use shoal_mqtt::QoS;
use shoal_services::messaging::{PersistentSession, SessionSubscription, Write};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
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

struct Subscriber {
    /// As the client sent it, `$share/...` included.
    raw: String,
    /// The share group of a shared subscription (MQTT 5 §4.8.2).
    group: Option<String>,
    client: Arc<str>,
    qos: QoS,
    no_local: bool,
}

struct Online {
    conn: ConnId,
    /// The id of the certificate the connection authenticated with.
    cert: String,
    outbox: mpsc::Sender<Out>,
    /// Its outbox stayed full for `STALL`: it is being disconnected and gets nothing more.
    stuck: bool,
}

struct Session {
    online: Option<Online>,
    /// The session's subscriptions (filter as sent, granted QoS), also in the account's tree.
    subs: Vec<(String, QoS)>,
    /// Seconds the session outlives its connection; 0 for a clean session.
    expiry: u32,
    disconnected_at: Option<i64>,
}

struct Account {
    /// The store partition its persistent state goes to.
    part: String,
    /// Looked up for every delivery: hashed with aHash (randomly keyed per process, so client
    /// ids cannot be chosen to collide), several times faster than SipHash on short keys.
    sessions: HashMap<Arc<str>, Session, ahash::RandomState>,
    subscriptions: SubTree<Subscriber>,
    /// Next member of each share group to get a message (round robin).
    share_turn: HashMap<String, usize>,
}

impl Account {
    fn new(part: String) -> Account {
        Account {
            part,
            sessions: HashMap::default(),
            subscriptions: SubTree::default(),
            share_turn: HashMap::new(),
        }
    }

    fn persistent(&self, client: &str) -> Option<PersistentSession> {
        let s = self.sessions.get(client)?;
        if s.expiry == 0 {
            return None;
        }
        Some(PersistentSession {
            client_id: client.to_string(),
            subscriptions: s
                .subs
                .iter()
                .map(|(filter, qos)| SessionSubscription {
                    filter: filter.clone(),
                    qos: *qos as u8,
                })
                .collect(),
            expiry_secs: s.expiry,
            disconnected_at: s.disconnected_at,
        })
    }
}

/// A share group's member matching a message: its client id and subscription QoS.
type Member<'a> = (&'a Arc<str>, QoS);

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

fn qos_of(q: u8) -> QoS {
    if q == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

/// A QoS 1 copy of `m` for an offline session's stored queue, numbered after the last one.
fn enqueue(seq: &mut u64, part: &str, client: &str, m: &Msg, now: i64) -> (String, Write) {
    *seq += 1;
    let mut message = m.stored();
    message.qos = 1;
    if message.published_at == 0 {
        message.published_at = now;
    }
    (
        part.to_string(),
        Write::Enqueue {
            client_id: client.to_string(),
            seq: *seq,
            message,
        },
    )
}

/// The filter a subscription is matched with: a shared subscription's inner filter.
fn split_share(raw: &str) -> (Option<String>, &str) {
    match shoal_mqtt::shared_subscription(raw) {
        Some((g, f)) => (Some(g.to_string()), f),
        None => (None, raw),
    }
}

/// Adds (or updates) a subscription of an existing session.
fn add_subscription(acc: &mut Account, client: &Arc<str>, raw: &str, qos: QoS, no_local: bool) {
    // Subscriptions carry the session's own key, so that within an account one client is one
    // pointer: routing compares clients by address.
    let Some(client) = acc.sessions.get_key_value(client).map(|(k, _)| k.clone()) else {
        return;
    };
    let client = &client;
    let Some(session) = acc.sessions.get_mut(client) else {
        return;
    };
    match session.subs.iter_mut().find(|(f, _)| f == raw) {
        Some(s) => s.1 = qos,
        None => session.subs.push((raw.to_string(), qos)),
    }
    let (group, filter) = split_share(raw);
    let entry = acc.subscriptions.upsert(
        filter,
        Subscriber {
            raw: raw.to_string(),
            group,
            client: client.clone(),
            qos,
            no_local,
        },
        |s| &s.client == client && s.raw == raw,
    );
    entry.qos = qos;
    entry.no_local = no_local;
}

fn remove_subscription(acc: &mut Account, client: &Arc<str>, raw: &str) {
    if let Some(session) = acc.sessions.get_mut(client) {
        session.subs.retain(|(f, _)| f != raw);
    }
    let (_, filter) = split_share(raw);
    acc.subscriptions
        .remove(filter, |s| &s.client == client && s.raw == raw);
}

/// Takes a session's subscriptions out of the account's tree.
fn drop_subscriptions(tree: &mut SubTree<Subscriber>, client: &Arc<str>, subs: &[(String, QoS)]) {
    for (raw, _) in subs {
        let (_, filter) = split_share(raw);
        tree.remove(filter, |s| &s.client == client && s.raw == *raw);
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

impl State {
    fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    async fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Connect {
                account,
                partition,
                client_id,
                conn,
                cert,
                outbox,
                clean_start,
                expiry,
                done,
            } => self.connect(
                account,
                &partition,
                client_id,
                Online {
                    conn,
                    cert,
                    outbox,
                    stuck: false,
                },
                clean_start,
                expiry,
                done,
            ),
            Cmd::Revoke { account, cert } => {
                if let Some(acc) = self.accounts.get(&account) {
                    for s in acc.sessions.values() {
                        if let Some(o) = s.online.as_ref().filter(|o| o.cert == cert) {
                            send_control(&o.outbox, Out::Revoked);
                        }
                    }
                }
            }
            Cmd::Disconnect(d) => self.disconnect(d).await,
            Cmd::Subscribe {
                account,
                client_id,
                conn,
                filter,
                qos,
                no_local,
                done,
            } => {
                let Some(acc) = self.live(&account, &client_id, conn) else {
                    return;
                };
                add_subscription(acc, &client_id, &filter, qos, no_local);
                let saved = acc
                    .persistent(&client_id)
                    .map(|session| (acc.part.clone(), Write::SaveSession(session)));
                match saved {
                    Some(write) => {
                        let then: Then = Box::new(move |_| {
                            let _ = done.send(());
                        });
                        self.persister.try_submit(vec![write], Some(then));
                    }
                    None => {
                        let _ = done.send(());
                    }
                }
            }
            Cmd::Unsubscribe {
                account,
                client_id,
                conn,
                filter,
            } => {
                let Some(acc) = self.live(&account, &client_id, conn) else {
                    return;
                };
                remove_subscription(acc, &client_id, &filter);
                self.save_session(&account, &client_id);
            }
            Cmd::Publish {
                partition,
                msg,
                retain,
                ack,
            } => {
                self.publish(
                    partition.account.as_str(),
                    Some(&partition),
                    msg,
                    retain,
                    ack,
                )
                .await
            }
        }
    }

    /// The account of a client id whose session is held by connection `conn` right now.
    fn live(&mut self, account: &str, client: &str, conn: ConnId) -> Option<&mut Account> {
        let acc = self.accounts.get_mut(account)?;
        let s = acc.sessions.get(client)?;
        (s.online.as_ref()?.conn == conn).then_some(acc)
    }

    fn save_session(&self, account: &str, client: &str) {
        let Some(acc) = self.accounts.get(account) else {
            return;
        };
        if let Some(s) = acc.persistent(client) {
            self.persister
                .try_submit(vec![(acc.part.clone(), Write::SaveSession(s))], None);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn connect(
        &mut self,
        account: String,
        partition: &Partition,
        client: Arc<str>,
        online: Online,
        clean_start: bool,
        expiry: u32,
        done: oneshot::Sender<Connected>,
    ) {
        let now = self.now();
        let acc = self
            .accounts
            .entry(account.clone())
            .or_insert_with(|| Account::new(partition.key()));
        let mut writes = Vec::new();
        let previous = acc.sessions.remove_entry(&client);
        let mut session_present = false;
        let mut subs = Vec::new();
        let mut client = client;
        if let Some((old_key, old)) = previous {
            if let Some(o) = &old.online {
                send_control(&o.outbox, Out::TakenOver);
            } else if old.expiry > 0 {
                self.offline.fetch_sub(1, Ordering::Relaxed);
            }
            let expired = old
                .disconnected_at
                .is_some_and(|at| now >= at + i64::from(old.expiry) * 1000);
            // MQTT 3.1.1 §3.1.2.4: a clean session discards the previous one; so does the end
            // of the previous session's expiry interval.
            if clean_start || old.expiry == 0 || expired {
                drop_subscriptions(&mut acc.subscriptions, &client, &old.subs);
                if old.expiry > 0 {
                    writes.push((
                        acc.part.clone(),
                        Write::DeleteSession {
                            client_id: client.to_string(),
                        },
                    ));
                }
            } else {
                session_present = true;
                subs = old.subs;
                // The subscriptions in the tree hold the session's key: keep it.
                client = old_key;
            }
        }
        acc.sessions.insert(
            client.clone(),
            Session {
                online: Some(online),
                subs,
                expiry,
                disconnected_at: None,
            },
        );
        if let Some(s) = acc.persistent(&client) {
            writes.push((acc.part.clone(), Write::SaveSession(s)));
        }
        // The queue in the store is complete once everything submitted before is durable.
        let then: Then = Box::new(move |_| {
            let _ = done.send(Connected { session_present });
        });
        self.persister.try_submit(writes, Some(then));
    }

    async fn disconnect(&mut self, d: Disconnect) {
        let now = self.now();
        let Some(acc) = self.accounts.get_mut(&d.account) else {
            return;
        };
        let part = acc.part.clone();
        let mut writes = Vec::new();
        if let Some(s) = acc.sessions.get_mut(&d.client_id) {
            let ours = s.online.as_ref().is_some_and(|o| o.conn == d.conn);
            if ours {
                s.online = None;
                if let Some(e) = d.expiry {
                    s.expiry = e;
                }
                if s.expiry > 0 {
                    s.disconnected_at = Some(now);
                    self.offline.fetch_add(1, Ordering::Relaxed);
                    for m in d.leftovers {
                        writes.push(enqueue(&mut self.seq, &part, &d.client_id, &m, now));
                    }
                } else if let Some(gone) = acc.sessions.remove(&d.client_id) {
                    drop_subscriptions(&mut acc.subscriptions, &d.client_id, &gone.subs);
                }
            } else if let (Some(o), true) = (&s.online, s.expiry > 0) {
                // Taken over by a connection that continues the session: it gets what the old
                // one had not had acknowledged.
                for m in d.leftovers {
                    let _ = o.outbox.try_send(Out::Deliver(m, QoS::AtLeastOnce));
                }
            }
        }
        if let Some(session) = acc.persistent(&d.client_id) {
            writes.push((part, Write::SaveSession(session)));
        }
        if !writes.is_empty() {
            self.persister.try_submit(writes, None);
        }
        if let Some(w) = d.will {
            self.publish(&d.account, None, w.msg, w.retain, None).await;
        }
    }

    /// Hands a message to every client with a matching subscription — once per client at the
    /// highest matching QoS (MQTT 3.1.1 §3.3.5), capped by the publish QoS — and to one member
    /// of each matching share group (MQTT 5 §4.8.2). Live deliveries carry RETAIN 0
    /// (§3.3.1.3). QoS 1 messages for offline persistent sessions are queued in the store.
    async fn publish(
        &mut self,
        account: &str,
        partition: Option<&Partition>,
        msg: Msg,
        retain: bool,
        ack: Option<oneshot::Sender<bool>>,
    ) {
        if let (Some(p), false) = (partition, self.accounts.contains_key(account)) {
            self.accounts
                .insert(account.to_string(), Account::new(p.key()));
        }
        let acc = match partition {
            Some(_) => match self.accounts.get_mut(account) {
                Some(a) => a,
                None => return,
            },
            None => match self.accounts.get_mut(account) {
                Some(a) => a,
                None => {
                    if let Some(ack) = ack {
                        let _ = ack.send(true);
                    }
                    return;
                }
            },
        };
        let Account {
            part,
            sessions,
            subscriptions,
            share_turn,
        } = acc;
        let mut writes = Vec::new();
        if retain {
            let mut stored = msg.stored();
            if stored.published_at == 0 {
                stored.published_at = self.clock.now().millis();
            }
            writes.push((part.clone(), Write::Retain(stored)));
        }
        // Every matching subscription, then one entry per client at its highest QoS (MQTT
        // 3.1.1 §3.3.5). A client is one pointer within an account (subscriptions hold their
        // session's key), so sorting by address finds duplicates without comparing strings.
        let mut best: Vec<(&Arc<str>, QoS)> = Vec::new();
        // Keyed by the filter as sent, `$share/<group>/<filter>`: one entry per share group.
        let mut groups: HashMap<&str, Vec<Member<'_>>> = HashMap::new();
        subscriptions.matches(&msg.topic, |s| {
            if s.no_local && msg.from.as_deref() == Some(&*s.client) {
                return;
            }
            match &s.group {
                None => best.push((&s.client, s.qos)),
                Some(_) => groups
                    .entry(s.raw.as_str())
                    .or_default()
                    .push((&s.client, s.qos)),
            }
        });
        if best.len() > 1 {
            let addr = |c: &Arc<str>| Arc::as_ptr(c) as *const u8 as usize;
            best.sort_unstable_by(|a, b| addr(a.0).cmp(&addr(b.0)).then(b.1.cmp(&a.1)));
            best.dedup_by(|later, first| Arc::ptr_eq(later.0, first.0));
        }
        for (share, members) in groups {
            let turn = share_turn.entry(share.to_string()).or_insert(0);
            // The next member that is connected; an offline persistent one only if none is.
            let n = members.len();
            let pick = (0..n)
                .map(|i| members[(*turn + i) % n])
                .find(|(c, _)| sessions.get(*c).is_some_and(|s| s.online.is_some()))
                .unwrap_or(members[*turn % n]);
            *turn = (*turn + 1) % n;
            best.push(pick);
        }
        let shared = Arc::new(msg);
        for (client, sub_qos) in best {
            let Some(session) = sessions.get_mut(client) else {
                continue;
            };
            let qos = shared.qos.min(sub_qos);
            match &mut session.online {
                Some(o) if o.stuck => {}
                Some(o) => match o.outbox.try_send(Out::Deliver(shared.clone(), qos)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(Out::Deliver(_, QoS::AtMostOnce))) => {
                        tracing::debug!(client = %client, "subscriber outbox full; QoS 0 delivery dropped");
                    }
                    Err(mpsc::error::TrySendError::Full(out)) => {
                        match tokio::time::timeout(STALL, o.outbox.send(out)).await {
                            Ok(_) => {}
                            Err(_) => {
                                tracing::info!(client = %client, "subscriber not reading; disconnected");
                                o.stuck = true;
                                send_control(&o.outbox, Out::Overflowed);
                            }
                        }
                    }
                    // The connection is ending and the router has not heard yet: a persistent
                    // session keeps the message for its next connection.
                    Err(mpsc::error::TrySendError::Closed(Out::Deliver(m, QoS::AtLeastOnce)))
                        if session.expiry > 0 =>
                    {
                        writes.push(enqueue(
                            &mut self.seq,
                            part,
                            client,
                            &m,
                            self.clock.now().millis(),
                        ));
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                },
                // AWS stores QoS 1 messages for offline persistent sessions; QoS 0 ones are lost.
                None if session.expiry > 0 && qos == QoS::AtLeastOnce => {
                    writes.push(enqueue(
                        &mut self.seq,
                        part,
                        client,
                        &shared,
                        self.clock.now().millis(),
                    ));
                }
                None => {}
            }
        }
        match (writes.is_empty(), ack) {
            (true, Some(ack)) => {
                let _ = ack.send(true);
            }
            (true, None) => {}
            (false, ack) => {
                let then: Option<Then> = ack.map(|ack| {
                    Box::new(move |ok| {
                        let _ = ack.send(ok);
                    }) as Then
                });
                self.persister.try_submit(writes, then);
            }
        }
    }

    /// Removes offline sessions past their expiry interval, and what was queued for them.
    fn sweep(&mut self) {
        let now = self.now();
        let mut writes = Vec::new();
        for acc in self.accounts.values_mut() {
            let expired: Vec<Arc<str>> = acc
                .sessions
                .iter()
                .filter(|(_, s)| {
                    s.online.is_none()
                        && s.disconnected_at
                            .is_some_and(|at| now >= at + i64::from(s.expiry) * 1000)
                })
                .map(|(c, _)| c.clone())
                .collect();
            for c in expired {
                if let Some(gone) = acc.sessions.remove(&c) {
                    drop_subscriptions(&mut acc.subscriptions, &c, &gone.subs);
                }
                self.offline.fetch_sub(1, Ordering::Relaxed);
                writes.push((
                    acc.part.clone(),
                    Write::DeleteSession {
                        client_id: c.to_string(),
                    },
                ));
            }
        }
        self.accounts
            .retain(|_, a| !a.sessions.is_empty() || a.subscriptions.len() > 0);
        if !writes.is_empty() {
            self.persister.try_submit(writes, None);
        }
    }
}
