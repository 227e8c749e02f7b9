//! CONNECT: the client id, session expiry, keep-alive and will a client asks for, the
//! policy checks on them, and the CONNACK with AWS IoT's values.

use super::*;

/// AWS IoT's keep-alive: 30..=1200 seconds; 0 means the maximum
/// (https://docs.aws.amazon.com/general/latest/gr/iot-core.html, "Keep-alive period").
pub(super) fn clamp_keep_alive(secs: u16) -> Duration {
    let s = match secs {
        0 => 1200,
        s => s.clamp(30, 1200),
    };
    Duration::from_secs(u64::from(s))
}

impl Session {
    /// Refuses CONNECT with the code of the client's protocol (MQTT 3.1.1 §3.2.2.3, MQTT 5
    /// §3.2.2.2) and ends the connection.
    async fn refuse_connect<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        v311: u8,
        v5: u8,
    ) -> Result<bool, String> {
        let code = match self.protocol {
            Protocol::V311 => v311,
            Protocol::V5 => v5,
        };
        self.queue(&Packet::ConnAck(ConnAck {
            code,
            ..ConnAck::default()
        }))?;
        self.flush(wr).await?;
        Ok(false)
    }

    /// CONNACK. MQTT 5 clients learn what this server decided for them and its limits
    /// (§3.2.2.3), with AWS IoT's values.
    pub(super) fn connack(&self, keep_alive: Duration) -> ConnAck {
        let mut ack = ConnAck::default();
        if self.protocol == Protocol::V5 {
            let p = &mut ack.properties;
            if self.assigned_id {
                p.assigned_client_identifier = Some(self.client_id.to_string());
            }
            if self.requested_keep_alive != keep_alive.as_secs() as u16 {
                p.server_keep_alive = Some(keep_alive.as_secs() as u16);
            }
            if self.requested_expiry != self.expiry {
                p.session_expiry_interval = Some(self.expiry);
            }
            p.receive_maximum = Some(RECEIVE_MAXIMUM);
            p.topic_alias_maximum = Some(TOPIC_ALIAS_MAX);
            p.retain_available = Some(true);
            p.shared_subscription_available = Some(true);
            p.subscription_identifiers_available = Some(false);
            p.maximum_packet_size = Some(MAX_PACKET as u32);
        }
        ack
    }

    /// Authorizes CONNECT (`iot:Connect` on `client/<clientId>`) and the will. A refusal ends
    /// the connection: MQTT 5 clients get CONNACK 0x87; MQTT 3.1.1 ones are disconnected, as
    /// AWS does.
    pub(super) async fn accept<W: AsyncWrite + Unpin>(
        &mut self,
        connect: Connect,
        wr: &mut W,
    ) -> Result<bool, String> {
        self.protocol = connect.protocol;
        self.requested_keep_alive = connect.keep_alive;
        self.clean_start = connect.clean_start;
        let mut client_id = connect.client_id;
        // MQTT 3.1.1 §3.1.3.1 lets a server assign an id to a clean session only; MQTT 5
        // (§3.1.3.1) to any, reported in CONNACK. AWS takes ids of up to 128 bytes.
        let unassignable =
            client_id.is_empty() && self.protocol == Protocol::V311 && !connect.clean_start;
        if unassignable || client_id.len() > MAX_CLIENT_ID {
            tracing::info!(conn = self.conn, len = client_id.len(), "client id refused");
            return self
                .refuse_connect(
                    wr,
                    return_code::IDENTIFIER_REJECTED,
                    reason::CLIENT_IDENTIFIER_NOT_VALID,
                )
                .await;
        }
        if client_id.is_empty() {
            client_id = format!("shoal-{}", self.conn);
            self.assigned_id = true;
        }
        self.client_id = Arc::from(client_id.as_str());
        (self.requested_expiry, self.expiry) = match self.protocol {
            Protocol::V311 if connect.clean_start => (0, 0),
            Protocol::V311 => (DEFAULT_SESSION_EXPIRY, DEFAULT_SESSION_EXPIRY),
            Protocol::V5 => {
                let e = connect.properties.session_expiry_interval.unwrap_or(0);
                (e, e.min(MAX_SESSION_EXPIRY))
            }
        };
        if let Some(max) = connect.properties.receive_maximum {
            self.out.limit = self.out.limit.min(usize::from(max));
        }
        let will_msg = connect.will.as_ref().map(|w| {
            let wp = &w.properties;
            router::Will {
                msg: Msg {
                    topic: Arc::from(w.topic.as_str()),
                    payload: w.payload.clone(),
                    qos: w.qos.min(QoS::AtLeastOnce),
                    props: props_from_publish(
                        wp.payload_format_indicator,
                        wp.message_expiry_interval,
                        &wp.response_topic,
                        &wp.correlation_data,
                        &wp.user_properties,
                        &wp.content_type,
                        self.now(),
                    ),
                    from: Some(self.client_id.clone()),
                    published_at: self.now(),
                },
                retain: w.retain,
            }
        });
        // The will is known before the authorizer is built: `iot:ConnectAttributes` and
        // `iot:LastWillTopic` depend on it.
        self.will = will_msg;
        // Read before the authorizer is built, so a change committed meanwhile moves it.
        self.authorizer_epoch = self.epoch.get();
        let authorizer = self
            .principal
            .authorizer(&self.gw.identity, &self.client_id, &self.conn_facts())
            .map_err(|e| e.message)?;
        let mut allowed = authorizer.allows("iot:Connect", "client", &self.client_id);
        if let (true, Some(w)) = (allowed, &connect.will) {
            // The will is a publish made in the client's name: the policy must let it publish
            // there (and retain, for a retained will), or AWS refuses the connection.
            allowed = topic_publishable(&w.topic)
                && authorizer.allows("iot:Publish", "topic", &w.topic)
                && (!w.retain || authorizer.allows("iot:RetainPublish", "topic", &w.topic));
        }
        if !allowed {
            tracing::info!(conn = self.conn, client_id = %self.client_id, "connect denied by policy");
            if lifecycle::has_events(&self.client_id) {
                let ip = self.transport.peer.ip().to_string();
                let (topic, body) = lifecycle::connect_failed(&self.who(), self.now(), &ip);
                self.system_publish(topic, body);
            }
            self.will = None;
            if self.protocol == Protocol::V5 {
                self.queue(&Packet::ConnAck(ConnAck {
                    code: reason::NOT_AUTHORIZED,
                    ..ConnAck::default()
                }))?;
                self.flush(wr).await?;
            }
            return Ok(false);
        }
        self.authorizer = Some(authorizer);
        Ok(true)
    }
}
