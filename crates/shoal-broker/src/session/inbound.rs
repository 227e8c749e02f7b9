//! What a client sends: PUBLISH (topic aliases, reserved topics, policy checks, routing with
//! durability) and SUBSCRIBE (filters, policy checks, retained messages).

use super::*;
use shoal_services::shadows::requests;

impl Session {
    pub(super) async fn on_publish(
        &mut self,
        mut p: shoal_mqtt::Publish,
    ) -> Result<Option<EndReason>, String> {
        let topic: Option<Arc<str>> = match (p.topic.is_empty(), p.properties.topic_alias) {
            (_, Some(a)) if a == 0 || a > TOPIC_ALIAS_MAX => {
                return Err(format!("topic alias {a} out of range"));
            }
            (true, Some(a)) => self.aliases.get(&a).cloned(),
            (false, Some(a)) => {
                let t: Arc<str> = Arc::from(p.topic.as_str());
                self.aliases.insert(a, t.clone());
                Some(t)
            }
            (false, None) => Some(Arc::from(p.topic.as_str())),
            (true, None) => None,
        };
        let Some(topic) = topic else {
            return Err("publish without a topic or a known alias".into());
        };
        p.topic.clear();
        if requests::is_shadow_topic(&topic) {
            return self.on_shadow_publish(p, topic).await;
        }
        // Reserved topics are refused as not authorized, as AWS does.
        let allowed = topic_publishable(&topic) && {
            let a = self.authorizer()?;
            a.allows("iot:Publish", "topic", &topic)
                && (!p.retain || a.allows("iot:RetainPublish", "topic", &topic))
        };
        if !allowed {
            return self.refuse_publish(&p, &topic);
        }
        let pp = &p.properties;
        // The time is needed only for what may be stored or may expire; the router stamps the
        // rest if it stores them.
        let now = if p.retain
            || pp.message_expiry_interval.is_some()
            || self.shard.has_offline_sessions()
        {
            self.now()
        } else {
            0
        };
        let msg = Msg {
            topic,
            payload: p.payload,
            qos: p.qos.min(QoS::AtLeastOnce),
            props: props_from_publish(
                pp.payload_format_indicator,
                pp.message_expiry_interval,
                &pp.response_topic,
                &pp.correlation_data,
                &pp.user_properties,
                &pp.content_type,
                now,
            ),
            from: Some(self.client_id.clone()),
            published_at: now,
        };
        // A resent QoS 2 publish that was already routed is only acknowledged again.
        let fresh = p.qos != QoS::ExactlyOnce || self.qos2_received.insert(p.pkid);
        if fresh {
            // QoS 1 and 2 are stored before they are acknowledged: the retained message, and
            // the copies queued for offline persistent sessions (DESIGN.md §3).
            let durable =
                p.qos != QoS::AtMostOnce && (p.retain || self.shard.has_offline_sessions());
            if !self.route(msg, p.retain, durable).await && p.qos != QoS::AtMostOnce {
                return Err("message could not be stored".into());
            }
        }
        self.acknowledge(p.qos, p.pkid, reason::SUCCESS)?;
        Ok(None)
    }

    /// PUBACK (QoS 1) or PUBREC (QoS 2) with `code`; QoS 0 has no acknowledgement.
    fn acknowledge(&mut self, qos: QoS, pkid: u16, code: u8) -> Result<(), String> {
        match qos {
            QoS::AtMostOnce => Ok(()),
            QoS::AtLeastOnce => self.queue(&Packet::PubAck(PubAck {
                pkid,
                reason: code,
                ..PubAck::default()
            })),
            QoS::ExactlyOnce => self.queue(&Packet::PubRec(PubRec {
                pkid,
                reason: code,
                ..PubRec::default()
            })),
        }
    }

    /// A publish the client may not make. AWS disconnects an MQTT 3.1.1 client that publishes
    /// where it may not; MQTT 5 clients get the reason code on the acknowledgement.
    fn refuse_publish(
        &mut self,
        p: &shoal_mqtt::Publish,
        topic: &str,
    ) -> Result<Option<EndReason>, String> {
        tracing::info!(conn = self.conn, topic = %topic, "publish denied");
        if self.protocol == Protocol::V311 {
            return Ok(Some(EndReason::ForbiddenAccess));
        }
        let topic_ok =
            shoal_mqtt::valid_topic_name(topic) && shoal_mqtt::topic::aws_topic_ok(topic).is_ok();
        let code = if topic_ok {
            reason::NOT_AUTHORIZED
        } else {
            reason::TOPIC_NAME_INVALID
        };
        self.acknowledge(p.qos, p.pkid, code)?;
        Ok(None)
    }

    /// A request to the Device Shadow service. It needs `iot:Publish` on its topic like any
    /// publish (no RETAIN: AWS refuses it on reserved topics); the answers are published once
    /// the change is durable, and only then is the request acknowledged.
    async fn on_shadow_publish(
        &mut self,
        p: shoal_mqtt::Publish,
        topic: Arc<str>,
    ) -> Result<Option<EndReason>, String> {
        let request = requests::request(&topic);
        let allowed = request.is_some()
            && !p.retain
            && self.authorizer()?.allows("iot:Publish", "topic", &topic);
        let Some((id, op)) = request.filter(|_| allowed) else {
            return self.refuse_publish(&p, &topic);
        };
        // A resent QoS 2 request that was already carried out is only acknowledged again.
        if p.qos != QoS::ExactlyOnce || self.qos2_received.insert(p.pkid) {
            let now = self.now();
            let replies = self
                .gw
                .shadows
                .handle_request(&self.partition, &id, op, &p.payload)
                .await;
            for r in replies {
                let msg = Msg {
                    topic: Arc::from(format!("{topic}/{}", r.suffix)),
                    payload: r.payload.into(),
                    qos: QoS::AtLeastOnce,
                    props: None,
                    from: None,
                    published_at: now,
                };
                let durable = self.shard.has_offline_sessions();
                if !self.route(msg, false, durable).await {
                    return Err("shadow answer could not be stored".into());
                }
            }
        }
        self.acknowledge(p.qos, p.pkid, reason::SUCCESS)?;
        Ok(None)
    }

    pub(super) fn route(
        &self,
        msg: Msg,
        retain: bool,
        durable: bool,
    ) -> impl std::future::Future<Output = bool> + 'static {
        self.shard.publish(msg, retain, durable)
    }

    pub(super) async fn on_subscribe(&mut self, s: shoal_mqtt::Subscribe) -> Result<(), String> {
        let mut codes = Vec::with_capacity(s.filters.len());
        let too_many = s.filters.len() > MAX_FILTERS;
        let mut granted_filters = Vec::new();
        let mut retained_for = Vec::new();
        for f in &s.filters {
            let shared = shoal_mqtt::shared_subscription(&f.filter);
            let inner = shared.map_or(f.filter.as_str(), |(_, inner)| inner);
            let valid = shoal_mqtt::valid_topic_filter(&f.filter)
                && shoal_mqtt::topic::aws_topic_ok(inner).is_ok()
                && filter_subscribable(inner)
                && (shared.is_none() || !f.no_local);
            let allowed = !too_many
                && valid
                && self
                    .authorizer()?
                    .allows("iot:Subscribe", "topicfilter", &f.filter);
            if !allowed {
                tracing::info!(conn = self.conn, filter = %f.filter, "subscribe denied");
                codes.push(match self.protocol {
                    Protocol::V311 => return_code::SUBACK_FAILURE,
                    Protocol::V5 if !valid => reason::TOPIC_FILTER_INVALID,
                    Protocol::V5 => reason::NOT_AUTHORIZED,
                });
                continue;
            }
            // AWS IoT grants at most QoS 1.
            let granted = f.qos.min(QoS::AtLeastOnce);
            let taken = self
                .shard
                .subscribe(&self.client_id, self.conn, &f.filter, granted, f.no_local)
                .await;
            if !taken {
                // AWS: at most 50 subscriptions per connection.
                tracing::info!(conn = self.conn, filter = %f.filter, "subscription quota reached");
                codes.push(match self.protocol {
                    Protocol::V311 => return_code::SUBACK_FAILURE,
                    Protocol::V5 => reason::QUOTA_EXCEEDED,
                });
                continue;
            }
            codes.push(granted as u8);
            granted_filters.push(f.filter.clone());
            // MQTT 5 §3.8.3.1: no retained messages for shared subscriptions or when the
            // client asked for none.
            if shared.is_none() && f.retain_handling != 2 {
                retained_for.push((f.filter.clone(), granted));
            }
        }
        self.queue(&Packet::SubAck(SubAck {
            pkid: s.pkid,
            return_codes: codes,
            ..SubAck::default()
        }))?;
        for (filter, qos) in retained_for {
            self.send_retained(&filter, qos)?;
        }
        if !granted_filters.is_empty() {
            self.subscription_event("subscribed", granted_filters);
        }
        Ok(())
    }

    /// The retained message of a new subscription's topic, with RETAIN set (MQTT 3.1.1
    /// §3.3.1.3). AWS IoT sends one only to a filter without wildcards that names the topic
    /// exactly (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain).
    pub(super) fn send_retained(&mut self, filter: &str, qos: QoS) -> Result<(), String> {
        if filter.contains(['+', '#']) {
            return Ok(());
        }
        let found = self
            .gw
            .messaging
            .retained(self.principal.partition(), filter)
            .map_err(|e| e.message)?;
        if let Some(m) = found {
            let msg = Msg::from_stored(m);
            let qos = msg.qos.min(qos);
            self.deliver(Arc::new(msg), qos, None, true)?;
        }
        Ok(())
    }
}

/// Topics a client may publish to: not reserved (`$...`). The `$aws/` topics served by
/// device services (shadows, jobs, provisioning) arrive with those services.
pub(super) fn topic_publishable(topic: &str) -> bool {
    shoal_mqtt::valid_topic_name(topic)
        && shoal_mqtt::topic::aws_topic_ok(topic).is_ok()
        && !topic.starts_with('$')
}

/// Filters a client may subscribe to: its own topics, and the reserved families AWS lets
/// clients subscribe to (lifecycle events; thing topics such as shadow responses).
/// https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html
pub(super) fn filter_subscribable(filter: &str) -> bool {
    !filter.starts_with('$')
        || filter.starts_with("$aws/events/")
        || filter.starts_with("$aws/things/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_topics() {
        assert!(topic_publishable("a/b"));
        assert!(!topic_publishable("$aws/events/presence/connected/x"));
        assert!(filter_subscribable("$aws/events/presence/connected/+"));
        assert!(!filter_subscribable("$SYS/#"));
    }
}
