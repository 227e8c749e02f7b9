//! The messaging service: the MQTT state that must outlive a connection or a restart — retained
//! messages, persistent sessions with their queued QoS 1 messages, and client connectivity — and
//! the in-process bus that carries messages published over HTTP (iot-data Publish) to the broker.
//! The broker owns the live state (who is connected, subscriptions) and writes through here.

mod live;
mod message;
mod sessions;

pub use live::{Deleted, Direct, DirectMessage, LiveConnections, LiveSession};
pub use message::{MessageProps, StoredMessage};
pub use sessions::{Connectivity, PersistentSession, SessionSubscription};

use crate::records::{self, store_error};
use shoal_domain::error::Result;
use shoal_domain::{Clock, ErrorKind, Partition, ServiceError};
use shoal_store::{Batch, Expect, Store};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

const KIND_RETAINED: &str = "mqtt-retained";
const KIND_SESSION: &str = "mqtt-session";
/// One record per queued message, key `HEX(CLIENT_ID)/SEQUENCE` so that one client's queue is
/// a key prefix in delivery order whatever characters its client id holds.
const KIND_QUEUE: &str = "mqtt-queue";
pub(crate) const KIND_CONNECTIVITY: &str = "mqtt-connectivity";

/// Records read per store call when a listing has to walk everything.
const PAGE: usize = 1000;

/// A change to messaging state. The broker batches them: many writes, one durable commit.
#[derive(Debug, Clone)]
pub enum Write {
    /// Sets the topic's retained message; an empty payload clears it (MQTT 3.1.1 §3.3.1.3).
    Retain(StoredMessage),
    Enqueue {
        client_id: String,
        seq: u64,
        message: StoredMessage,
    },
    Dequeue {
        client_id: String,
        seq: u64,
    },
    SaveSession(PersistentSession),
    /// Removes the session and everything queued for it.
    DeleteSession {
        client_id: String,
    },
    Connectivity(Connectivity),
}

/// A message published through the HTTP API, on its way to the broker. `done` is answered once
/// the broker has routed it and made durable what must be (retained, queued QoS 1).
pub struct Inbound {
    pub partition: Partition,
    pub message: StoredMessage,
    pub retain: bool,
    pub done: oneshot::Sender<()>,
    /// Republish actions that led to it (0: a client's or service's own message).
    pub hops: u8,
    /// The rules engine has seen it already (in its sender's task).
    pub evaluated: bool,
}

/// HTTP publishes waiting for the broker; a full bus makes callers wait.
const BUS: usize = 4096;

pub struct Messaging {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    bus: mpsc::Sender<Inbound>,
    bus_rx: Mutex<Option<mpsc::Receiver<Inbound>>>,
    /// The broker's live connections, once it runs.
    live: std::sync::OnceLock<Arc<dyn LiveConnections>>,
    /// The rules engine, which evaluates a message handed to the bus in its sender's task
    /// (the bus's one task is every tenant's).
    rules: std::sync::OnceLock<std::sync::Weak<crate::Rules>>,
}

fn queue_prefix(client_id: &str) -> String {
    format!("{}/", hex::encode(client_id))
}

fn queue_key(client_id: &str, seq: u64) -> String {
    format!("{}/{seq:020}", hex::encode(client_id))
}

impl Messaging {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let (bus, rx) = mpsc::channel(BUS);
        Messaging {
            store,
            clock,
            bus,
            bus_rx: Mutex::new(Some(rx)),
            live: std::sync::OnceLock::new(),
            rules: std::sync::OnceLock::new(),
        }
    }

    /// The broker installs its live connections once, when it starts.
    pub fn set_live(&self, live: Arc<dyn LiveConnections>) {
        let _ = self.live.set(live);
    }

    /// Installs the rules engine that sees what goes through the bus.
    pub fn set_rules(&self, rules: &Arc<crate::Rules>) {
        let _ = self.rules.set(Arc::downgrade(rules));
    }

    /// Evaluates a message about to go through the bus against the partition's rules, here,
    /// in the sender's task; the broker then skips it.
    fn evaluate(&self, partition: &Partition, message: &StoredMessage, hops: u8) -> bool {
        let Some(rules) = self.rules.get().and_then(std::sync::Weak::upgrade) else {
            return false;
        };
        rules.partition(partition).evaluate(&crate::rules::Message {
            topic: &message.topic,
            payload: &message.payload,
            client_id: None,
            principal: None,
            timestamp_ms: message.published_at,
            hops,
        });
        true
    }

    /// The broker's live connections; refused on a node that runs no broker.
    pub fn live(&self) -> Result<&dyn LiveConnections> {
        self.live.get().map(|l| l.as_ref()).ok_or_else(|| {
            ServiceError::new(
                ErrorKind::Internal,
                "The message broker is not running on this node",
            )
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    /// The broker takes the bus once, when it starts.
    pub fn take_bus(&self) -> Option<mpsc::Receiver<Inbound>> {
        self.bus_rx.lock().ok()?.take()
    }

    /// Publishes a message on behalf of an HTTP caller and returns once the broker has taken
    /// it (iot-data Publish: https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html).
    pub async fn publish(
        &self,
        partition: Partition,
        message: StoredMessage,
        retain: bool,
    ) -> Result<()> {
        self.publish_at(partition, message, retain, 0).await
    }

    /// `publish` of a message `hops` rule republishes deep (a service's answer to a rule).
    pub async fn publish_at(
        &self,
        partition: Partition,
        message: StoredMessage,
        retain: bool,
        hops: u8,
    ) -> Result<()> {
        let evaluated = self.evaluate(&partition, &message, hops);
        let (done, wait) = oneshot::channel();
        let unavailable = || {
            ServiceError::new(
                ErrorKind::Internal,
                "The message broker is not running on this node",
            )
        };
        self.bus
            .send(Inbound {
                partition,
                message,
                retain,
                done,
                hops,
                evaluated,
            })
            .await
            .map_err(|_| unavailable())?;
        wait.await.map_err(|_| unavailable())
    }

    /// A rule's republish routed at once by the broker's shard: `Some(taken)` (false: the
    /// shard had no room), `None` when no broker runs on this node (then the bus, `forward`).
    pub fn route(&self, partition: &Partition, message: StoredMessage, hops: u8) -> Option<bool> {
        self.live.get().map(|l| l.route(partition, message, hops))
    }

    /// A rule's republish: handed to the broker (waiting for room on the bus, not for the
    /// routing), `hops` republishes deep.
    pub async fn forward(
        &self,
        partition: Partition,
        message: StoredMessage,
        hops: u8,
    ) -> Result<()> {
        let evaluated = self.evaluate(&partition, &message, hops);
        let (done, _) = oneshot::channel();
        self.bus
            .send(Inbound {
                partition,
                message,
                retain: false,
                done,
                hops,
                evaluated,
            })
            .await
            .map_err(|_| {
                ServiceError::new(
                    ErrorKind::Internal,
                    "The message broker is not running on this node",
                )
            })
    }

    /// Applies writes to several partitions; each partition's writes commit atomically, and
    /// the call returns once all are durable.
    pub async fn apply(&self, writes: Vec<(String, Write)>) -> Result<()> {
        let mut batches: BTreeMap<String, Batch> = BTreeMap::new();
        // A client's connectivity written twice in one batch (a connection that came and went
        // within one group commit) is written once, as it ends: the record is a state, not a
        // log, and half the writes of a connection churn go.
        let mut latest = std::collections::HashSet::new();
        let superseded: Vec<bool> = writes
            .iter()
            .rev()
            .map(|(part, w)| match w {
                Write::Connectivity(c) => !latest.insert((part.as_str(), c.client_id.as_str())),
                _ => false,
            })
            .collect();
        for ((part, w), skip) in writes.into_iter().zip(superseded.into_iter().rev()) {
            if skip {
                continue;
            }
            let batch = batches
                .remove(&part)
                .unwrap_or_else(|| Batch::new(part.clone()));
            let batch = self.add(batch, w)?;
            batches.insert(part, batch);
        }
        for (_, batch) in batches {
            if !batch.ops.is_empty() {
                self.store.commit(batch).await.map_err(store_error)?;
            }
        }
        Ok(())
    }

    fn add(&self, batch: Batch, w: Write) -> Result<Batch> {
        let schema = records::SCHEMA;
        Ok(match w {
            Write::Retain(m) if m.payload.is_empty() => {
                batch.delete(KIND_RETAINED, &m.topic, Expect::Any)
            }
            Write::Retain(m) => {
                let doc = m.encode()?;
                batch.put(KIND_RETAINED, &m.topic, schema, doc, vec![], Expect::Any)
            }
            Write::Enqueue {
                client_id,
                seq,
                message,
            } => batch.put(
                KIND_QUEUE,
                &queue_key(&client_id, seq),
                schema,
                message.encode()?,
                vec![],
                Expect::Any,
            ),
            Write::Dequeue { client_id, seq } => {
                batch.delete(KIND_QUEUE, &queue_key(&client_id, seq), Expect::Any)
            }
            Write::SaveSession(s) => {
                let doc = records::encode(&s)?;
                batch.put(KIND_SESSION, &s.client_id, schema, doc, vec![], Expect::Any)
            }
            Write::DeleteSession { client_id } => batch
                .delete(KIND_SESSION, &client_id, Expect::Any)
                .delete_prefix(KIND_QUEUE, &queue_prefix(&client_id)),
            Write::Connectivity(c) => {
                let doc = records::encode(&c)?;
                batch.put(
                    KIND_CONNECTIVITY,
                    &c.client_id,
                    schema,
                    doc,
                    vec![],
                    Expect::Any,
                )
            }
        })
    }

    pub fn retained(&self, part: &Partition, topic: &str) -> Result<Option<StoredMessage>> {
        match self
            .store
            .get(&part.key(), KIND_RETAINED, topic)
            .map_err(store_error)?
        {
            Some(rec) => Ok(Some(StoredMessage::decode(&rec.doc)?)),
            None => Ok(None),
        }
    }

    /// Retained messages in topic order, after `after`.
    pub fn list_retained(
        &self,
        part: &Partition,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredMessage>> {
        self.store
            .list(&part.key(), KIND_RETAINED, prefix, after, limit)
            .map_err(store_error)?
            .iter()
            .map(|r| StoredMessage::decode(&r.doc))
            .collect()
    }

    /// Up to `limit` messages queued for a client after sequence number `after`, oldest
    /// first. A record that no longer decodes comes back as `None` with its number, so the
    /// caller can dequeue it instead of meeting it again at every connection.
    pub fn queued(
        &self,
        part: &str,
        client_id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Option<StoredMessage>)>> {
        let prefix = queue_prefix(client_id);
        let after = after.map(|seq| queue_key(client_id, seq));
        let page = self
            .store
            .list(part, KIND_QUEUE, &prefix, after.as_deref(), limit)
            .map_err(store_error)?;
        page.iter()
            .map(|rec| {
                let seq = rec.key[prefix.len()..]
                    .parse::<u64>()
                    .map_err(|_| ServiceError::internal(format!("bad queue key {}", rec.key)))?;
                let msg = StoredMessage::decode(&rec.doc)
                    .map_err(|e| {
                        tracing::warn!(client_id, seq, error = %e.message, "queued message unreadable; dropped");
                    })
                    .ok();
                Ok((seq, msg))
            })
            .collect()
    }

    /// How many messages are queued for a client, counting up to `limit`.
    pub fn queue_len(&self, part: &str, client_id: &str, limit: usize) -> Result<usize> {
        self.store
            .count(part, KIND_QUEUE, &queue_prefix(client_id), limit)
            .map_err(store_error)
    }

    /// The highest sequence number queued for a client, read from the keys alone, so that
    /// numbering continues after a restart without decoding any message.
    pub fn last_sequence(&self, part: &str, client_id: &str) -> Result<u64> {
        let prefix = queue_prefix(client_id);
        match self
            .store
            .last_key(part, KIND_QUEUE, &prefix)
            .map_err(store_error)?
        {
            Some(key) => key[prefix.len()..]
                .parse::<u64>()
                .map_err(|_| ServiceError::internal(format!("bad queue key {key}"))),
            None => Ok(0),
        }
    }

    /// Every persistent session stored in a partition.
    pub fn sessions(&self, part: &Partition) -> Result<Vec<PersistentSession>> {
        let key = part.key();
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list(&key, KIND_SESSION, "", after.as_deref(), PAGE)
                .map_err(store_error)?;
            for rec in &page {
                out.push(records::decode(rec)?);
            }
            if page.len() < PAGE {
                return Ok(out);
            }
            after = page.last().map(|r| r.key.clone());
        }
    }

    pub fn connectivity(&self, part: &Partition, client_id: &str) -> Result<Option<Connectivity>> {
        Ok(
            records::load::<Connectivity>(&*self.store, &part.key(), KIND_CONNECTIVITY, client_id)?
                .map(|l| l.value),
        )
    }
}

#[cfg(test)]
mod tests;
