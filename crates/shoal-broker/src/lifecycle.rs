//! Lifecycle events and connectivity: AWS publishes a message on
//! `$aws/events/presence/connected|disconnected/{clientId}` when a client connects or
//! disconnects (`connect_failed` when it may not), and on
//! `$aws/events/subscriptions/subscribed|unsubscribed/{clientId}` when it subscribes or
//! unsubscribes; the same facts are kept as the client's connectivity.
//! https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html

use serde_json::json;

/// Why a connection ended, as AWS names it in `disconnectReason`, and whether the will is
/// published (the table in the lifecycle-events page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    ClientInitiated,
    /// MQTT 5 DISCONNECT with reason 0x04, "disconnect with will message".
    ClientInitiatedWithWill,
    ConnectionLost,
    KeepAliveTimeout,
    DuplicateClientId,
    AuthError,
    ForbiddenAccess,
    ClientError,
    Throttled,
    ServerInitiated,
    /// iot-data DeleteConnection.
    ApiInitiated,
    /// A custom authorizer's `disconnectAfterInSeconds` ran out.
    CustomAuthTtl,
    /// The admin reset emptied the account: the connection leaves no trace (no will, no
    /// connectivity record, no lifecycle event) in the account it belonged to.
    Reset,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::ClientInitiated | EndReason::ClientInitiatedWithWill => {
                "CLIENT_INITIATED_DISCONNECT"
            }
            EndReason::ConnectionLost => "CONNECTION_LOST",
            EndReason::KeepAliveTimeout => "MQTT_KEEP_ALIVE_TIMEOUT",
            EndReason::DuplicateClientId => "DUPLICATE_CLIENTID",
            EndReason::AuthError => "AUTH_ERROR",
            EndReason::ForbiddenAccess => "FORBIDDEN_ACCESS",
            EndReason::ClientError => "CLIENT_ERROR",
            EndReason::Throttled => "THROTTLED",
            EndReason::ServerInitiated => "SERVER_INITIATED_DISCONNECT",
            EndReason::ApiInitiated => "API_INITIATED_DISCONNECT",
            EndReason::CustomAuthTtl => "CUSTOMAUTH_TTL_EXPIRATION",
            EndReason::Reset => "SERVER_INITIATED_DISCONNECT",
        }
    }

    /// MQTT 3.1.1 §3.1.2.5: the will is published unless the client sent DISCONNECT.
    pub fn publishes_will(self) -> bool {
        !matches!(self, EndReason::ClientInitiated | EndReason::Reset)
    }

    pub fn client_initiated(self) -> bool {
        matches!(
            self,
            EndReason::ClientInitiated | EndReason::ClientInitiatedWithWill
        )
    }
}

/// Client ids with `+` or `#` get no lifecycle events, as on AWS (they cannot be in a topic).
pub fn has_events(client_id: &str) -> bool {
    !client_id.contains(['+', '#']) && !client_id.is_empty()
}

pub struct Who<'a> {
    pub client_id: &'a str,
    pub session: &'a str,
    pub principal: &'a str,
    pub version: u64,
}

pub fn connected(w: &Who<'_>, timestamp: i64, ip: &str) -> (String, Vec<u8>) {
    let body = json!({
        "clientId": w.client_id,
        "timestamp": timestamp,
        "eventType": "connected",
        "sessionIdentifier": w.session,
        "principalIdentifier": w.principal,
        "ipAddress": ip,
        "versionNumber": w.version,
    });
    (
        format!("$aws/events/presence/connected/{}", w.client_id),
        body.to_string().into_bytes(),
    )
}

pub fn disconnected(w: &Who<'_>, timestamp: i64, reason: EndReason) -> (String, Vec<u8>) {
    let body = json!({
        "clientId": w.client_id,
        "timestamp": timestamp,
        "eventType": "disconnected",
        "clientInitiatedDisconnect": reason.client_initiated(),
        "sessionIdentifier": w.session,
        "principalIdentifier": w.principal,
        "disconnectReason": reason.as_str(),
        "versionNumber": w.version,
    });
    (
        format!("$aws/events/presence/disconnected/{}", w.client_id),
        body.to_string().into_bytes(),
    )
}

/// A client that was not authorized to connect (or to publish its will).
pub fn connect_failed(w: &Who<'_>, timestamp: i64, ip: &str) -> (String, Vec<u8>) {
    let body = json!({
        "clientId": w.client_id,
        "timestamp": timestamp,
        "eventType": "connect_failed",
        "connectFailureReason": "AUTHORIZATION_FAILED",
        "principalIdentifier": w.principal,
        "sessionIdentifier": w.session,
        "ipAddress": ip,
    });
    (
        format!("$aws/events/presence/connect_failed/{}", w.client_id),
        body.to_string().into_bytes(),
    )
}

/// `subscribed` or `unsubscribed`, with the filters the request changed.
pub fn subscriptions(
    w: &Who<'_>,
    timestamp: i64,
    event: &str,
    topics: &[String],
) -> (String, Vec<u8>) {
    let body = json!({
        "clientId": w.client_id,
        "timestamp": timestamp,
        "eventType": event,
        "sessionIdentifier": w.session,
        "principalIdentifier": w.principal,
        "topics": topics,
    });
    (
        format!("$aws/events/subscriptions/{event}/{}", w.client_id),
        body.to_string().into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_aws_fields() {
        let w = Who {
            client_id: "dev1",
            session: "s",
            principal: "abc",
            version: 3,
        };
        let (topic, body) = disconnected(&w, 7, EndReason::KeepAliveTimeout);
        assert_eq!(topic, "$aws/events/presence/disconnected/dev1");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["disconnectReason"], "MQTT_KEEP_ALIVE_TIMEOUT");
        assert_eq!(v["clientInitiatedDisconnect"], false);
        assert_eq!(v["versionNumber"], 3);
        assert!(EndReason::KeepAliveTimeout.publishes_will());
        assert!(!EndReason::ClientInitiated.publishes_will());
        assert!(!has_events("a+b"));
        let (topic, body) = connect_failed(&w, 8, "127.0.0.1");
        assert_eq!(topic, "$aws/events/presence/connect_failed/dev1");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["connectFailureReason"], "AUTHORIZATION_FAILED");
    }
}
