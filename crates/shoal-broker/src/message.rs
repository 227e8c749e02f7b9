//! A message on its way through the broker: cheap to clone for fan-out (the topic and the
//! properties are shared, the payload is a slice of the publisher's receive buffer), and
//! convertible to and from the stored form that retained and queued messages take.

use bytes::Bytes;
use shoal_mqtt::{PublishProperties, QoS};
use shoal_services::messaging::{MessageProps, StoredMessage};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Msg {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub qos: QoS,
    /// MQTT 5 properties forwarded to subscribers; `None` for the common case of none.
    pub props: Option<Arc<MessageProps>>,
    /// The publishing client, for MQTT 5's No Local option (§3.8.3.1).
    pub from: Option<Arc<str>>,
    /// When it was published, epoch milliseconds.
    pub published_at: i64,
    /// A direct message's caller, waiting for its one receiver's PUBACK (SendDirectMessage).
    pub ack: Option<Arc<AckSignal>>,
    /// The publisher's principal for the rules' `principal()`: a device's certificate id.
    pub principal: Option<Arc<str>>,
    /// Republish actions that led to it (the rules engine stops loops with it).
    pub hops: u8,
    /// The rules engine has seen it already (the messaging bus's sender evaluated it).
    pub evaluated: bool,
}

/// Tells the sender of a direct message whether its receiver acknowledged it (`true`) or it
/// was not delivered (`false`: not allowed, expired, or the connection ended first). Fires once.
#[derive(Debug, Default)]
pub struct AckSignal(std::sync::Mutex<Option<tokio::sync::oneshot::Sender<bool>>>);

impl AckSignal {
    pub fn new() -> (Arc<AckSignal>, tokio::sync::oneshot::Receiver<bool>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (Arc::new(AckSignal(std::sync::Mutex::new(Some(tx)))), rx)
    }

    pub fn fire(&self, delivered: bool) {
        if let Some(tx) = self.0.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(delivered);
        }
    }
}

impl Msg {
    /// Whether its MQTT 5 Message Expiry Interval has passed (§3.3.2.3.3: the server must then
    /// not deliver it).
    pub fn expired(&self, now: i64) -> bool {
        self.props
            .as_ref()
            .and_then(|p| p.expires_at)
            .is_some_and(|at| now >= at)
    }

    /// The properties of a PUBLISH carrying this message at `now`: the expiry interval is what
    /// is left of it, as §3.3.2.3.3 requires of a forwarding server.
    pub fn publish_properties(&self, now: i64) -> PublishProperties {
        let Some(p) = &self.props else {
            return PublishProperties::default();
        };
        PublishProperties {
            payload_format_indicator: p.payload_format,
            message_expiry_interval: p
                .expires_at
                .map(|at| ((at - now).max(1000) as u64).div_ceil(1000) as u32),
            response_topic: p.response_topic.clone(),
            correlation_data: p.correlation_data.clone().map(Bytes::from),
            user_properties: p.user_properties.clone(),
            content_type: p.content_type.clone(),
            ..PublishProperties::default()
        }
    }

    /// The message as the rules engine sees it.
    pub fn rule_message(&self) -> shoal_services::rules::Message<'_> {
        shoal_services::rules::Message {
            topic: &self.topic,
            payload: &self.payload,
            client_id: self.from.as_deref(),
            principal: self.principal.as_deref(),
            // 0: not stamped yet; the engine takes its clock's time.
            timestamp_ms: self.published_at,
            hops: self.hops,
        }
    }

    pub fn stored(&self) -> StoredMessage {
        StoredMessage {
            topic: self.topic.to_string(),
            qos: self.qos as u8,
            payload: self.payload.to_vec(),
            props: self.props.as_deref().cloned().unwrap_or_default(),
            published_at: self.published_at,
        }
    }

    pub fn from_stored(m: StoredMessage) -> Msg {
        Msg {
            topic: Arc::from(m.topic),
            payload: Bytes::from(m.payload),
            qos: if m.qos == 0 {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            },
            props: (!m.props.is_empty()).then(|| Arc::new(m.props)),
            from: None,
            ack: None,
            principal: None,
            hops: 0,
            evaluated: false,
            published_at: m.published_at,
        }
    }
}

/// The properties a server keeps from a client's PUBLISH (or will), with the expiry interval
/// turned into a deadline.
pub fn props_from_publish(
    payload_format: Option<u8>,
    expiry_interval: Option<u32>,
    response_topic: &Option<String>,
    correlation_data: &Option<Bytes>,
    user_properties: &[(String, String)],
    content_type: &Option<String>,
    now: i64,
) -> Option<Arc<MessageProps>> {
    let p = MessageProps {
        payload_format,
        content_type: content_type.clone(),
        response_topic: response_topic.clone(),
        correlation_data: correlation_data.as_ref().map(|b| b.to_vec()),
        user_properties: user_properties.to_vec(),
        expires_at: expiry_interval.map(|s| now + i64::from(s) * 1000),
    };
    (!p.is_empty()).then(|| Arc::new(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarded_expiry_is_what_is_left_of_it() {
        let props = props_from_publish(None, Some(10), &None, &None, &[], &None, 1_000);
        let m = Msg {
            topic: Arc::from("t"),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            props,
            from: None,
            ack: None,
            principal: None,
            hops: 0,
            evaluated: false,
            published_at: 1_000,
        };
        assert_eq!(m.publish_properties(4_500).message_expiry_interval, Some(7));
        assert!(!m.expired(10_999));
        assert!(m.expired(11_000));
        let back = Msg::from_stored(m.stored());
        assert_eq!(back.props, m.props);
    }
}
