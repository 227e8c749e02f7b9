//! The port through which the data-plane connection operations (GetConnection's session facts,
//! DeleteConnection, ListSubscriptions, SendDirectMessage) reach the broker, which owns the live
//! connections; the broker installs its implementation when it starts
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Data_Plane.html).

use super::MessageProps;
use shoal_domain::Partition;
use shoal_store::BoxFuture;
use std::time::Duration;

/// A client's session as the broker holds it.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub online: bool,
    /// Topic filters (as the client sent them) with their QoS.
    pub subscriptions: Vec<(String, u8)>,
    /// Seconds the session outlives its connection; 0 for a clean session.
    pub expiry_secs: u32,
}

/// What DeleteConnection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// A live connection, now told to end.
    Connected,
    /// An offline persistent session (removed when `cleanSession` was asked).
    Offline,
    NotFound,
}

/// A message for one client (SendDirectMessage).
#[derive(Debug, Clone)]
pub struct DirectMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub props: MessageProps,
    /// Wait this long for the client's PUBACK (the message goes at QoS 1); `None` sends it at
    /// QoS 0 and returns once it is on its way.
    pub confirm: Option<Duration>,
}

/// What became of a direct message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direct {
    /// On its way (QoS 0) or acknowledged by the client (QoS 1).
    Sent,
    /// The client is not connected; `persistent` when it has an offline persistent session.
    NotConnected { persistent: bool },
    /// The client's policy does not let it receive the topic (`iot:Receive`).
    Denied,
    /// No PUBACK within the time asked for.
    TimedOut,
    /// The client's outgoing queue is full.
    Busy,
}

pub trait LiveConnections: Send + Sync {
    fn session<'a>(
        &'a self,
        part: &'a Partition,
        client_id: &'a str,
    ) -> BoxFuture<'a, Option<LiveSession>>;

    /// Ends the client's connection (DISCONNECT 0x98 to MQTT 5 clients, lifecycle reason
    /// API_INITIATED_DISCONNECT); `clean_session` also removes a persistent session, and
    /// `prevent_will` keeps its will from being published.
    fn delete<'a>(
        &'a self,
        part: &'a Partition,
        client_id: &'a str,
        clean_session: bool,
        prevent_will: bool,
    ) -> BoxFuture<'a, Deleted>;

    /// The admin reset: every connection of the partition ends (DISCONNECT 0x98) without a
    /// will, a lifecycle event or a connectivity record, and every session is forgotten;
    /// returns once what the broker wrote before is durable, so nothing lands after a wipe.
    fn reset<'a>(&'a self, part: &'a Partition) -> BoxFuture<'a, ()>;

    fn send<'a>(
        &'a self,
        part: &'a Partition,
        client_id: &'a str,
        message: DirectMessage,
    ) -> BoxFuture<'a, Direct>;

    /// Routes a message to the partition's subscribers now if its shard has room, without
    /// waiting (a rule's republish, `hops` republishes deep); false when it was not taken.
    /// What it stores for offline sessions is written, but not waited for.
    fn route(&self, part: &Partition, message: crate::messaging::StoredMessage, hops: u8) -> bool;
}
