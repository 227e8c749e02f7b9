//! The session's lifecycle events and connectivity records
//! (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html).

use super::*;

impl Session {
    /// Whether this client's lifecycle events are published: AWS publishes them for client
    /// ids that can be in a topic; they are skipped while no subscription could receive them.
    pub(super) fn events_wanted(&self) -> bool {
        lifecycle::has_events(&self.client_id) && self.shard.wants_events()
    }

    pub(super) fn who(&self) -> lifecycle::Who<'_> {
        lifecycle::Who {
            client_id: &self.client_id,
            session: &self.session_id,
            principal: self.principal.identifier(),
            version: self.version,
        }
    }

    /// Records the connection and publishes `connected`.
    pub(super) async fn connected_event(&mut self, keep_alive: Option<Duration>) {
        self.keep_alive_secs = keep_alive.map_or(0, |k| k.as_secs() as u16);
        self.log_client();
        self.count(shoal_services::logging::Op::ConnectSuccess);
        if self.logs_want(EventType::Connect, LogLevel::Info) {
            self.write_log(EventType::Connect, LogLevel::Info, None, None, Vec::new());
        }
        let now = self.now();
        self.version = self.gw.next_version(now);
        let event = self.events_wanted().then(|| {
            let ip = self.transport.peer.ip().to_string();
            lifecycle::connected(&self.who(), now, &ip)
        });
        self.record(now, None, event).await;
    }

    pub(super) async fn disconnected_event(&mut self, reason: EndReason) {
        if reason == EndReason::Reset {
            return;
        }
        if self.logs_want(EventType::Disconnect, LogLevel::Info) {
            let why = vec![("disconnectReason", reason.as_str().to_string())];
            self.write_log(EventType::Disconnect, LogLevel::Info, None, None, why);
        }
        let now = self.now();
        let event = self
            .events_wanted()
            .then(|| lifecycle::disconnected(&self.who(), now, reason));
        if reason == EndReason::DuplicateClientId {
            // The connection that took over has written its own record.
            if let Some((topic, body)) = event {
                self.system_publish(topic, body);
            }
        } else {
            self.record(now, Some(reason), event).await;
        }
    }

    /// Writes the client's connectivity (connected unless `ended`), then publishes `event`:
    /// whoever reacts to a lifecycle event finds the record already there.
    async fn record(&self, now: i64, ended: Option<EndReason>, event: Option<(String, Vec<u8>)>) {
        let record = Connectivity {
            client_id: self.client_id.to_string(),
            connected: ended.is_none(),
            timestamp: now,
            disconnect_reason: ended.map(|r| r.as_str().to_string()),
            principal: self.principal.identifier().to_string(),
            clean_session: self.clean_start,
            keep_alive_secs: self.keep_alive_secs,
            session_expiry_secs: self.expiry,
            version: self.version,
            source_ip: Some(self.transport.peer.ip().to_string()),
            source_port: Some(self.transport.peer.port()),
        };
        // The router is handed the event only once the record is durable: `publish` sends its
        // command when called, not when its future is awaited.
        let then = event.map(|(topic, body)| {
            let shard = self.shard.clone();
            let msg = self.system_message(topic, body);
            Box::new(move |_| {
                tokio::spawn(shard.publish(msg, false, false));
            }) as crate::persister::Then
        });
        self.gw
            .persister
            .submit(
                vec![(self.partition.key(), Write::Connectivity(record))],
                then,
            )
            .await;
    }

    pub(super) fn subscription_event(&mut self, event: &str, topics: Vec<String>) {
        if self.events_wanted() {
            let (topic, body) = lifecycle::subscriptions(&self.who(), self.now(), event, &topics);
            self.system_publish(topic, body);
        }
    }

    /// A message AWS itself publishes (lifecycle events): QoS 0, no policy check on the
    /// sender, `iot:Receive` on each subscriber as for any message.
    fn system_message(&self, topic: String, body: Vec<u8>) -> Msg {
        Msg {
            topic: Arc::from(topic.as_str()),
            payload: Bytes::from(body),
            qos: QoS::AtMostOnce,
            props: None,
            from: None,
            ack: None,
            principal: None,
            hops: 0,
            evaluated: false,
            published_at: self.now(),
        }
    }

    pub(super) fn system_publish(&self, topic: String, body: Vec<u8>) {
        // Not awaited: the event may wait for the router without holding up the session.
        let sent = self
            .shard
            .publish(self.system_message(topic, body), false, false);
        tokio::spawn(sent);
    }
}
