//! The session's lifecycle events and connectivity records
//! (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html).

use super::*;

impl Session {
    pub(super) fn who(&self) -> lifecycle::Who<'_> {
        lifecycle::Who {
            client_id: &self.client_id,
            session: &self.session_id,
            principal: self.principal.identifier(),
            version: self.version,
        }
    }

    /// Records the connection and publishes `connected`.
    pub(super) fn connected_event(&mut self, keep_alive: Duration) {
        let part = self.principal.partition().clone();
        let previous = self
            .gw
            .messaging
            .connectivity(&part, &self.client_id)
            .ok()
            .flatten();
        self.version = previous.map_or(1, |c| c.version + 1);
        let now = self.now();
        let record = Connectivity {
            client_id: self.client_id.to_string(),
            connected: true,
            timestamp: now,
            disconnect_reason: None,
            principal: self.principal.identifier().to_string(),
            clean_session: self.clean_start,
            keep_alive_secs: keep_alive.as_secs() as u16,
            session_expiry_secs: self.expiry,
            version: self.version,
            source_ip: self.peer.map(|p| p.ip().to_string()),
            source_port: self.peer.map(|p| p.port()),
        };
        self.gw
            .persister
            .try_submit(vec![(part.key(), Write::Connectivity(record))], None);
        if lifecycle::has_events(&self.client_id) {
            let ip = self.peer.map(|p| p.ip().to_string()).unwrap_or_default();
            let (topic, body) = lifecycle::connected(&self.who(), now, &ip);
            self.system_publish(topic, body);
        }
    }

    pub(super) async fn disconnected_event(&mut self, reason: EndReason) {
        let part = self.principal.partition().clone();
        let now = self.now();
        // A takeover's new connection has already written its own record.
        if reason != EndReason::DuplicateClientId {
            if let Ok(Some(mut c)) = self.gw.messaging.connectivity(&part, &self.client_id) {
                if c.version == self.version {
                    c.connected = false;
                    c.timestamp = now;
                    c.disconnect_reason = Some(reason.as_str().to_string());
                    self.gw
                        .persister
                        .submit(vec![(part.key(), Write::Connectivity(c))], None)
                        .await;
                }
            }
        }
        if lifecycle::has_events(&self.client_id) {
            let (topic, body) = lifecycle::disconnected(&self.who(), now, reason);
            self.system_publish(topic, body);
        }
    }

    pub(super) fn subscription_event(&mut self, event: &str, topics: Vec<String>) {
        if lifecycle::has_events(&self.client_id) {
            let (topic, body) = lifecycle::subscriptions(&self.who(), self.now(), event, &topics);
            self.system_publish(topic, body);
        }
    }

    /// A message AWS itself publishes (lifecycle events): QoS 0, no policy check on the
    /// sender, `iot:Receive` on each subscriber as for any message.
    pub(super) fn system_publish(&self, topic: String, body: Vec<u8>) {
        let msg = Msg {
            topic: Arc::from(topic.as_str()),
            payload: Bytes::from(body),
            qos: QoS::AtMostOnce,
            props: None,
            from: None,
            published_at: self.now(),
        };
        // Not awaited: the event may wait for the router without holding up the session.
        let sent = self.gw.router.publish(&self.partition, msg, false, false);
        tokio::spawn(sent);
    }
}
