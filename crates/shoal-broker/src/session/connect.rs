//! CONNECT: the client id, session expiry, keep-alive and will a client asks for, the
//! policy checks on them, and the CONNACK with the profile's values (AWS IoT's by default).

use super::*;

impl Session {
    /// Refuses CONNECT with the code of the client's protocol (MQTT 3.1.1 §3.2.2.3, MQTT 5
    /// §3.2.2.2) and ends the connection.
    async fn refuse_connect<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        v311: u8,
        v5: u8,
    ) -> SessionResult<bool> {
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
    pub(super) fn connack(&self, keep_alive: Option<Duration>) -> ConnAck {
        let mut ack = ConnAck::default();
        if self.protocol == Protocol::V5 {
            let profile = &self.gw.profile;
            let p = &mut ack.properties;
            if self.assigned_id {
                p.assigned_client_identifier = Some(self.client_id.to_string());
            }
            let keep_alive = keep_alive.map_or(0, |k| k.as_secs() as u16);
            if self.requested_keep_alive != keep_alive {
                p.server_keep_alive = Some(keep_alive);
            }
            if self.requested_expiry != self.expiry {
                p.session_expiry_interval = Some(self.expiry);
            }
            p.receive_maximum = Some(profile.limits.inflight);
            p.topic_alias_maximum = Some(profile.topic_alias_maximum());
            p.retain_available = Some(true);
            p.shared_subscription_available = Some(true);
            p.subscription_identifiers_available = Some(profile.subscription_identifiers());
            p.maximum_packet_size = Some(profile.max_packet() as u32);
            // No Maximum QoS (§3.2.2.3.4): both profiles take QoS 2 publishes; the aws profile
            // delivers them at QoS 1, as it grants subscriptions.
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
    ) -> SessionResult<bool> {
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
        let cp = &connect.properties;
        if let Some(max) = cp.receive_maximum {
            self.out.limit = self.out.limit.min(usize::from(max));
        }
        if let Some(max) = cp.maximum_packet_size {
            self.out.max_packet = usize::try_from(max).unwrap_or(usize::MAX);
        }
        if self.gw.profile.server_topic_aliases() {
            self.out.alias_max = cp.topic_alias_maximum.unwrap_or(0);
        }
        let max_qos = self.gw.profile.max_qos();
        let will_delay = self.gw.profile.will_delay();
        let will_msg = connect.will.as_ref().map(|w| {
            let wp = &w.properties;
            router::Will {
                msg: Msg {
                    topic: Arc::from(w.topic.as_str()),
                    payload: w.payload.clone(),
                    qos: w.qos.min(max_qos),
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
                    ack: None,
                    principal: None,
                    hops: 0,
                    evaluated: false,
                    published_at: self.now(),
                },
                retain: w.retain,
                delay: match will_delay {
                    true => wp.will_delay_interval.unwrap_or(0),
                    false => 0,
                },
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
            .map_err(|e| SessionError::server(e.message))?;
        let mut allowed = authorizer.allows("iot:Connect", "client", &self.client_id);
        if let (true, Some(w)) = (allowed, &connect.will) {
            // The will is a publish made in the client's name: the policy must let it publish
            // there (and retain, for a retained will), or AWS refuses the connection.
            allowed = self.gw.profile.topic_publishable(&w.topic)
                && authorizer.allows("iot:Publish", "topic", &w.topic)
                && (!w.retain || authorizer.allows("iot:RetainPublish", "topic", &w.topic));
        }
        if !allowed {
            tracing::info!(conn = self.conn, client_id = %self.client_id, "connect denied by policy");
            self.log_connect_refused();
            if self.events_wanted() {
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
