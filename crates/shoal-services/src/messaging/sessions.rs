//! What the messaging service remembers of MQTT clients between connections: persistent sessions
//! (their subscriptions, expiry and when they went offline) and each client's connectivity, the
//! record behind lifecycle events, GetThingConnectivityData and `connectivity.*` in the fleet
//! index. https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-persistent-sessions

use serde::{Deserialize, Serialize};

/// One subscription of a persistent session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSubscription {
    pub filter: String,
    pub qos: u8,
    /// MQTT 5 subscription options (§3.8.3.1), absent from records written before them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_local: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_as_published: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
}

/// A session that outlives its connection (MQTT 3.1.1 CleanSession=0, or MQTT 5 with a session
/// expiry interval): its subscriptions keep collecting QoS 1 messages while it is offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentSession {
    pub client_id: String,
    pub subscriptions: Vec<SessionSubscription>,
    /// Seconds the session lives on after its connection ends.
    pub expiry_secs: u32,
    /// When its last connection ended (epoch milliseconds); `None` while connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_at: Option<i64>,
}

impl PersistentSession {
    /// Whether an offline session has outlived its expiry interval at `now` (epoch ms).
    pub fn expired(&self, now: i64) -> bool {
        self.disconnected_at
            .is_some_and(|at| now >= at + i64::from(self.expiry_secs) * 1000)
    }
}

/// A client's last connection state, as AWS's GetThingConnectivityData and the fleet index's
/// `connectivity` fields report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connectivity {
    pub client_id: String,
    pub connected: bool,
    /// Of the last connect or disconnect, epoch milliseconds.
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<String>,
    pub principal: String,
    pub clean_session: bool,
    pub keep_alive_secs: u16,
    pub session_expiry_secs: u32,
    /// Increases with each connection of the client id; a connect and its disconnect share it
    /// (the lifecycle events' `versionNumber`).
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
}
