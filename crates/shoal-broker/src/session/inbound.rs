//! What a client sends: PUBLISH (topic aliases, reserved topics, policy checks, routing with
//! durability) and SUBSCRIBE (filters, policy checks, retained messages).

use super::*;
use crate::router::{SubOptions, Subscribed};
use shoal_services::reserved::{Handled, Requester};

/// Stored retained messages read for one wildcard subscription (standard profile) before it is
/// left at that: the read happens in the subscriber's task, so it is bounded.
const RETAINED_SCAN: usize = 10_000;
/// Retained messages read per page of that scan.
const RETAINED_PAGE: usize = 500;

/// What a PUBLISH comes to once checked: its answer is already queued (refused, or a resent
/// QoS 2 one), it is to be routed, or it is on a service's reserved topic.
pub(super) enum Inbound {
    Done(Option<EndReason>),
    Route {
        msg: Msg,
        retain: bool,
        durable: bool,
        qos: QoS,
        pkid: u16,
    },
    Reserved(Box<(shoal_mqtt::Publish, Arc<str>)>),
}

impl Session {
    /// A PUBLISH from the client. The checks run without awaiting, so that what is awaited per
    /// message — the router taking it, and the store when it must be durable — is a small
    /// future: a publish moves no large state around (flat-out publishers send hundreds of
    /// thousands a second).
    pub(super) fn on_publish(
        &mut self,
        p: shoal_mqtt::Publish,
    ) -> impl std::future::Future<Output = SessionResult<Option<EndReason>>> + '_ {
        // Checked before the future is made: the PUBLISH itself (about 400 bytes) is not part
        // of it.
        let checked = self.check_publish(p);
        async move { self.finish_publish(checked?).await }
    }

    async fn finish_publish(&mut self, checked: Inbound) -> SessionResult<Option<EndReason>> {
        match checked {
            Inbound::Done(end) => Ok(end),
            Inbound::Route {
                msg,
                retain,
                durable,
                qos,
                pkid,
            } => {
                if !self.route(msg, retain, durable).await && qos != QoS::AtMostOnce {
                    return Err(SessionError::server("message could not be stored"));
                }
                self.acknowledge(qos, pkid, reason::SUCCESS)?;
                Ok(None)
            }
            // Boxed: a service request's state (the service's store calls) is large.
            Inbound::Reserved(b) => {
                let (p, topic) = *b;
                Box::pin(self.on_reserved_publish(p, topic)).await
            }
        }
    }

    /// Resolves the topic (aliases), checks the policy and builds the message to route.
    fn check_publish(&mut self, mut p: shoal_mqtt::Publish) -> SessionResult<Inbound> {
        let topic: Option<Arc<str>> = match (p.topic.is_empty(), p.properties.topic_alias) {
            // MQTT 5 §3.3.2.3.4: more than the Topic Alias Maximum given in CONNACK is Topic
            // Alias Invalid (0 never gets here: the decoder refuses it with the same code).
            (_, Some(a)) if a == 0 || a > self.gw.profile.topic_alias_maximum() => {
                return Err(SessionError::client(
                    reason::TOPIC_ALIAS_INVALID,
                    format!("topic alias {a} out of range"),
                ));
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
            // §3.3.4: an alias the client never set is a Protocol Error.
            return Err(SessionError::protocol(
                "publish without a topic or a known alias",
            ));
        };
        p.topic.clear();
        if self.gw.reserved.owns(&topic) {
            return Ok(Inbound::Reserved(Box::new((p, topic))));
        }
        // Reserved topics are refused as not authorized, as AWS does.
        let allowed = self.gw.profile.topic_publishable(&topic) && {
            let a = self.authorizer()?;
            a.allows("iot:Publish", "topic", &topic)
                && (!p.retain || a.allows("iot:RetainPublish", "topic", &topic))
        };
        if !allowed {
            return self.refuse_publish(&p, &topic).map(Inbound::Done);
        }
        self.count(shoal_services::logging::Op::PublishInSuccess);
        if self.logs_want(EventType::PublishIn, LogLevel::Info) {
            let retain = if p.retain {
                vec![("retain", "True".to_string())]
            } else {
                Vec::new()
            };
            self.write_log(
                EventType::PublishIn,
                LogLevel::Info,
                Some(&topic),
                None,
                retain,
            );
        }
        if !self.first_receipt(p.qos, p.pkid)? {
            // A resent QoS 2 publish already routed is only acknowledged again.
            self.acknowledge(p.qos, p.pkid, reason::SUCCESS)?;
            return Ok(Inbound::Done(None));
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
        // QoS 1 and 2 are stored before they are acknowledged: the retained message, and the
        // copies queued for offline persistent sessions (DESIGN.md §3).
        let durable = p.qos != QoS::AtMostOnce && (p.retain || self.shard.has_offline_sessions());
        let msg = Msg {
            topic,
            payload: p.payload,
            qos: p.qos.min(self.gw.profile.max_qos()),
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
            ack: None,
            principal: self.rule_principal.clone(),
            hops: 0,
            evaluated: false,
            published_at: now,
        };
        Ok(Inbound::Route {
            msg,
            retain: p.retain,
            durable,
            qos: p.qos,
            pkid: p.pkid,
        })
    }

    /// Whether a publish is seen for the first time: a resent QoS 2 publish already routed is
    /// only acknowledged again (MQTT 3.1.1 §4.3.3). QoS 2 publishes not yet released count
    /// against the Receive Maximum the server announced; one more is a protocol violation
    /// (MQTT 5 §3.3.4: DISCONNECT 0x93). QoS 1 ones are acknowledged as they are read, so
    /// they never wait.
    fn first_receipt(&mut self, qos: QoS, pkid: u16) -> SessionResult<bool> {
        if qos != QoS::ExactlyOnce {
            return Ok(true);
        }
        if self.qos2_received.contains(&pkid) {
            return Ok(false);
        }
        if self.qos2_received.len() >= usize::from(self.gw.profile.limits.inflight) {
            return Err(SessionError::client(
                reason::RECEIVE_MAXIMUM_EXCEEDED,
                "more unreleased QoS 2 publishes than the Receive Maximum",
            ));
        }
        self.qos2_received.insert(pkid);
        Ok(true)
    }

    /// PUBACK (QoS 1) or PUBREC (QoS 2) with `code`; QoS 0 has no acknowledgement.
    fn acknowledge(&mut self, qos: QoS, pkid: u16, code: u8) -> SessionResult<()> {
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
    ) -> SessionResult<Option<EndReason>> {
        tracing::info!(conn = self.conn, topic = %topic, "publish denied");
        self.count(shoal_services::logging::Op::PublishInAuthError);
        if self.logs_want(EventType::PublishIn, LogLevel::Error) {
            let failure = Some(super::logs::AUTHORIZATION_FAILURE);
            self.write_log(
                EventType::PublishIn,
                LogLevel::Error,
                Some(topic),
                failure,
                Vec::new(),
            );
        }
        if self.protocol == Protocol::V311 {
            return Ok(Some(EndReason::ForbiddenAccess));
        }
        let topic_ok = shoal_mqtt::valid_topic_name(topic) && self.gw.profile.topic_ok(topic);
        let code = if topic_ok {
            reason::NOT_AUTHORIZED
        } else {
            reason::TOPIC_NAME_INVALID
        };
        self.acknowledge(p.qos, p.pkid, code)?;
        Ok(None)
    }

    /// A request to a service on its reserved topic (the reserved-topic port). It needs
    /// `iot:Publish` on its topic like any publish (no RETAIN: AWS refuses it on reserved
    /// topics); the port publishes the answers once the change is durable, and only then is the
    /// request acknowledged.
    async fn on_reserved_publish(
        &mut self,
        p: shoal_mqtt::Publish,
        topic: Arc<str>,
    ) -> SessionResult<Option<EndReason>> {
        let allowed = !p.retain
            && self.gw.reserved.is_request(&topic)
            && self.authorizer()?.allows("iot:Publish", "topic", &topic);
        if !allowed {
            return self.refuse_publish(&p, &topic);
        }
        // A resent QoS 2 request that was already carried out is only acknowledged again.
        if self.first_receipt(p.qos, p.pkid)? {
            let cert = self.principal.cert_id();
            let requester = Requester::Connection {
                client_id: self.client_id.to_string(),
                certificate_id: (!cert.is_empty()).then(|| cert.to_string()),
            };
            let handled = self
                .gw
                .reserved
                .handle(&self.partition, &topic, &p.payload, requester)
                .await
                .map_err(|_| SessionError::server("service answer could not be published"))?;
            match handled {
                Handled::NotARequest => return self.refuse_publish(&p, &topic),
                Handled::Answered { rejection } => self.log_request(&topic, rejection),
                // Written on this connection only, whether or not it subscribed to them.
                Handled::ToRequester(answers) => {
                    let rejection = shoal_services::reserved::rejection(&answers);
                    self.log_request(&topic, rejection);
                    for a in answers {
                        let msg = crate::message::Msg {
                            topic: Arc::from(a.topic.as_str()),
                            payload: bytes::Bytes::from(a.payload),
                            qos: shoal_mqtt::QoS::AtLeastOnce,
                            props: None,
                            from: None,
                            ack: None,
                            principal: None,
                            hops: 0,
                            evaluated: false,
                            published_at: self.now(),
                        };
                        let d = crate::router::Delivery {
                            msg: Arc::new(msg),
                            qos: shoal_mqtt::QoS::AtLeastOnce,
                            retain: false,
                            ids: None,
                        };
                        self.deliver(d, None)?;
                    }
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

    pub(super) async fn on_subscribe(&mut self, s: shoal_mqtt::Subscribe) -> SessionResult<()> {
        let id = s.properties.subscription_identifier;
        if id.is_some() && !self.gw.profile.subscription_identifiers() {
            // MQTT 5 §3.8.2.1.2 and AWS's reason code table: 0xA1, the subscription is not
            // accepted.
            return Err(SessionError::client(
                reason::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                "subscription identifiers are not supported",
            ));
        }
        let profile = self.gw.profile.clone();
        let mut codes = Vec::with_capacity(s.filters.len());
        let too_many = s.filters.len() > profile.limits.max_filters;
        let mut granted_filters = Vec::new();
        let mut retained_for = Vec::new();
        for f in &s.filters {
            let shared = shoal_mqtt::shared_subscription(&f.filter);
            let inner = shared.map_or(f.filter.as_str(), |(_, inner)| inner);
            let valid = shoal_mqtt::valid_topic_filter(&f.filter)
                && profile.topic_ok(inner)
                && profile.filter_subscribable(inner)
                && (shared.is_none() || !f.no_local);
            let allowed = !too_many
                && valid
                && self
                    .authorizer()?
                    .allows("iot:Subscribe", "topicfilter", &f.filter);
            if !allowed {
                tracing::info!(conn = self.conn, filter = %f.filter, "subscribe denied");
                self.log_filters(EventType::Subscribe, std::slice::from_ref(&f.filter), true);
                codes.push(match self.protocol {
                    Protocol::V311 => return_code::SUBACK_FAILURE,
                    Protocol::V5 if !valid => reason::TOPIC_FILTER_INVALID,
                    Protocol::V5 => reason::NOT_AUTHORIZED,
                });
                continue;
            }
            // AWS IoT grants at most QoS 1.
            let granted = f.qos.min(profile.max_qos());
            let opts = SubOptions {
                qos: granted,
                no_local: f.no_local,
                retain_as_published: f.retain_as_published,
                id,
            };
            let outcome = self
                .shard
                .subscribe(&self.client_id, self.conn, &f.filter, opts)
                .await;
            if outcome == Subscribed::Refused {
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
            // MQTT 5 §3.8.3.1: no retained messages for shared subscriptions, when the client
            // asked for none (2), or asked for them only on a new subscription (1) and this
            // one replaced another.
            let wanted = match f.retain_handling {
                0 => true,
                1 => outcome == Subscribed::New,
                _ => false,
            };
            if shared.is_none() && wanted {
                retained_for.push((f.filter.clone(), granted));
            }
        }
        self.queue(&Packet::SubAck(SubAck {
            pkid: s.pkid,
            return_codes: codes,
            ..SubAck::default()
        }))?;
        for (filter, qos) in retained_for {
            self.send_retained(&filter, qos, id)?;
        }
        if !granted_filters.is_empty() {
            self.log_filters(EventType::Subscribe, &granted_filters, false);
            self.subscription_event("subscribed", granted_filters);
        }
        Ok(())
    }

    /// The retained messages a new subscription matches, with RETAIN set (MQTT 3.1.1
    /// §3.3.1.3). AWS IoT sends one only to a filter without wildcards that names the topic
    /// exactly (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-retain);
    /// the standard profile sends every one a wildcard filter matches, as MQTT says, as many
    /// as the waiting queue takes.
    pub(super) fn send_retained(
        &mut self,
        filter: &str,
        qos: QoS,
        id: Option<u32>,
    ) -> SessionResult<()> {
        let part = self.principal.partition().clone();
        let send = |s: &mut Session, m| {
            let msg = Msg::from_stored(m);
            let qos = msg.qos.min(qos);
            let mut d = Delivery::new(Arc::new(msg), qos);
            d.retain = true;
            d.ids = id.map(|i| Box::new(vec![i]));
            s.deliver(d, None)
        };
        if !filter.contains(['+', '#']) {
            let found = self
                .gw
                .messaging
                .retained(&part, filter)
                .map_err(|e| SessionError::server(e.message))?;
            return match found {
                Some(m) => send(self, m),
                None => Ok(()),
            };
        }
        if !self.gw.profile.retained_for_wildcards() {
            return Ok(());
        }
        // Topics matching the filter all start with its part before the first wildcard.
        let prefix = &filter[..filter.find(['+', '#']).unwrap_or(filter.len())];
        let mut after: Option<String> = None;
        let mut scanned = 0;
        while scanned < RETAINED_SCAN {
            let page = self
                .gw
                .messaging
                .list_retained(&part, prefix, after.as_deref(), RETAINED_PAGE)
                .map_err(|e| SessionError::server(e.message))?;
            let last = page.len() < RETAINED_PAGE;
            scanned += page.len();
            for m in page {
                after = Some(m.topic.clone());
                if shoal_mqtt::matches(filter, &m.topic) {
                    if !self.out.can_wait() {
                        tracing::info!(
                            conn = self.conn,
                            filter,
                            "retained messages beyond the waiting queue not sent"
                        );
                        return Ok(());
                    }
                    send(self, m)?;
                }
            }
            if last {
                break;
            }
        }
        Ok(())
    }
}
