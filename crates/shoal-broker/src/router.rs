//! The router: the one owner of who is connected under which client id and of every
//! subscription (DESIGN.md §3: one owner of broker state, fed by a channel). Connections send it
//! commands; it answers publishes by handing each matching subscriber's connection a delivery.
//! Topics are per account, as on AWS: a message never crosses accounts.

use bytes::Bytes;
use shoal_mqtt::QoS;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A connection, unique for the life of the process.
pub type ConnId = u64;

/// What the router sends a connection.
#[derive(Debug, Clone)]
pub enum Out {
    Deliver {
        topic: Arc<str>,
        payload: Bytes,
        qos: QoS,
    },
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

#[derive(Debug)]
enum Cmd {
    Connect {
        account: String,
        client_id: String,
        conn: ConnId,
        cert: String,
        outbox: mpsc::Sender<Out>,
        done: oneshot::Sender<()>,
    },
    Revoke {
        account: String,
        cert: String,
    },
    Disconnect {
        account: String,
        client_id: String,
        conn: ConnId,
    },
    Subscribe {
        account: String,
        conn: ConnId,
        filter: String,
        qos: QoS,
    },
    Unsubscribe {
        account: String,
        conn: ConnId,
        filter: String,
    },
    Publish {
        account: String,
        topic: Arc<str>,
        payload: Bytes,
        qos: QoS,
    },
}

struct Subscriber {
    filter: String,
    conn: ConnId,
    qos: QoS,
}

struct Client {
    conn: ConnId,
    /// The id of the certificate the connection authenticated with.
    cert: String,
    outbox: mpsc::Sender<Out>,
}

#[derive(Default)]
struct Account {
    clients: HashMap<String, Client>,
    subscriptions: Vec<Subscriber>,
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
}

impl Router {
    /// Starts the router task; it ends when every handle is dropped.
    pub fn spawn() -> Router {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(rx));
        Router { tx }
    }

    /// Registers a connection under its client id, taking the id over from any older one.
    pub async fn connect(
        &self,
        account: &str,
        client_id: &str,
        conn: ConnId,
        cert: &str,
        outbox: mpsc::Sender<Out>,
    ) {
        let (done, wait) = oneshot::channel();
        let cmd = Cmd::Connect {
            account: account.into(),
            client_id: client_id.into(),
            conn,
            cert: cert.into(),
            outbox,
            done,
        };
        if self.tx.send(cmd).await.is_ok() {
            let _ = wait.await;
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

    pub async fn disconnect(&self, account: &str, client_id: &str, conn: ConnId) {
        let _ = self
            .tx
            .send(Cmd::Disconnect {
                account: account.into(),
                client_id: client_id.into(),
                conn,
            })
            .await;
    }

    /// Adds (or replaces) a subscription. The router applies commands in the order they are
    /// sent, so a publish that anyone sends after this call returns reaches the subscriber: a
    /// SUBACK written after it is a promise kept.
    pub async fn subscribe(&self, account: &str, conn: ConnId, filter: &str, qos: QoS) {
        let _ = self
            .tx
            .send(Cmd::Subscribe {
                account: account.into(),
                conn,
                filter: filter.into(),
                qos,
            })
            .await;
    }

    pub async fn unsubscribe(&self, account: &str, conn: ConnId, filter: &str) {
        let _ = self
            .tx
            .send(Cmd::Unsubscribe {
                account: account.into(),
                conn,
                filter: filter.into(),
            })
            .await;
    }

    pub async fn publish(&self, account: &str, topic: Arc<str>, payload: Bytes, qos: QoS) {
        let _ = self
            .tx
            .send(Cmd::Publish {
                account: account.into(),
                topic,
                payload,
                qos,
            })
            .await;
    }
}

async fn run(mut rx: mpsc::Receiver<Cmd>) {
    let mut accounts: HashMap<String, Account> = HashMap::new();
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Connect {
                account,
                client_id,
                conn,
                cert,
                outbox,
                done,
            } => {
                let acc = accounts.entry(account).or_default();
                if let Some(old) = acc.clients.insert(client_id, Client { conn, cert, outbox }) {
                    // The old connection's subscriptions end with it (clean sessions).
                    acc.subscriptions.retain(|s| s.conn != old.conn);
                    send_control(&old.outbox, Out::TakenOver);
                }
                let _ = done.send(());
            }
            Cmd::Revoke { account, cert } => {
                if let Some(acc) = accounts.get(&account) {
                    for c in acc.clients.values().filter(|c| c.cert == cert) {
                        send_control(&c.outbox, Out::Revoked);
                    }
                }
            }
            Cmd::Disconnect {
                account,
                client_id,
                conn,
            } => {
                if let Some(acc) = accounts.get_mut(&account) {
                    if acc.clients.get(&client_id).is_some_and(|c| c.conn == conn) {
                        acc.clients.remove(&client_id);
                    }
                    acc.subscriptions.retain(|s| s.conn != conn);
                    if acc.clients.is_empty() && acc.subscriptions.is_empty() {
                        accounts.remove(&account);
                    }
                }
            }
            Cmd::Subscribe {
                account,
                conn,
                filter,
                qos,
            } => {
                let acc = accounts.entry(account).or_default();
                match acc
                    .subscriptions
                    .iter_mut()
                    .find(|s| s.conn == conn && s.filter == filter)
                {
                    Some(s) => s.qos = qos,
                    None => acc.subscriptions.push(Subscriber { filter, conn, qos }),
                }
            }
            Cmd::Unsubscribe {
                account,
                conn,
                filter,
            } => {
                if let Some(acc) = accounts.get_mut(&account) {
                    acc.subscriptions
                        .retain(|s| !(s.conn == conn && s.filter == filter));
                }
            }
            Cmd::Publish {
                account,
                topic,
                payload,
                qos,
            } => {
                let Some(acc) = accounts.get(&account) else {
                    continue;
                };
                deliver(acc, &topic, &payload, qos);
            }
        }
    }
}

/// Hands a message to every connection with a matching subscription, once per connection at
/// the highest matching QoS (MQTT 3.1.1 §3.3.5), capped by the publish QoS. Live deliveries
/// carry RETAIN 0 (§3.3.1.3).
fn deliver(acc: &Account, topic: &Arc<str>, payload: &Bytes, qos: QoS) {
    let mut best: HashMap<ConnId, QoS> = HashMap::new();
    for s in &acc.subscriptions {
        if shoal_mqtt::matches(&s.filter, topic) {
            let q = best.entry(s.conn).or_insert(s.qos);
            if s.qos > *q {
                *q = s.qos;
            }
        }
    }
    if best.is_empty() {
        return;
    }
    for c in acc.clients.values() {
        let (conn, outbox) = (&c.conn, &c.outbox);
        if let Some(sub_qos) = best.get(conn) {
            let out = Out::Deliver {
                topic: topic.clone(),
                payload: payload.clone(),
                qos: qos.min(*sub_qos),
            };
            match outbox.try_send(out) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(Out::Deliver {
                    qos: QoS::AtMostOnce,
                    ..
                })) => {
                    tracing::debug!(conn, "subscriber outbox full; QoS 0 delivery dropped");
                }
                Err(mpsc::error::TrySendError::Full(_)) => send_control(outbox, Out::Overflowed),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}
