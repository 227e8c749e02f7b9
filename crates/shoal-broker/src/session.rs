//! One MQTT session on one connection: CONNECT, then packets in and deliveries out until either
//! side ends it. Every CONNECT, PUBLISH, SUBSCRIBE and delivery is checked against the
//! principal's IoT policies
//! (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html). The
//! transport (TLS, WebSocket, plain TCP) is the caller's; this sees a byte stream.

use crate::lifecycle::{self, EndReason};
use crate::message::{props_from_publish, Msg};
use crate::principal::Principal;
use crate::router::{self, ConnId, Out, OUTBOX};
use crate::Gateway;
use bytes::{Bytes, BytesMut};
use shoal_mqtt::{
    reason, return_code, ConnAck, Connect, Packet, Protocol, PubAck, PubComp, PubRec, QoS, SubAck,
    UnsubAck,
};
use shoal_services::identity::Authorizer;
use shoal_services::messaging::{Connectivity, Write};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The time a client gets to send CONNECT once its transport is up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// AWS IoT's largest MQTT message: 128 KB of payload, plus headers.
pub const MAX_PACKET: usize = 128 * 1024 + 1024;
/// AWS IoT: at most 8 topic filters in one SUBSCRIBE.
const MAX_FILTERS: usize = 8;
/// AWS IoT's quota of unacknowledged QoS 1 publishes from a client, its Receive Maximum.
const RECEIVE_MAXIMUM: u16 = 100;
/// AWS IoT's topic alias maximum for MQTT 5 clients.
const TOPIC_ALIAS_MAX: u16 = 8;
/// AWS's default persistent-session expiry, which MQTT 3.1.1 sessions get.
const DEFAULT_SESSION_EXPIRY: u32 = 3600;
/// AWS's longest persistent-session expiry (7 days).
const MAX_SESSION_EXPIRY: u32 = 7 * 24 * 3600;

/// AWS IoT's keep-alive: 30..=1200 seconds; 0 means the maximum
/// (https://docs.aws.amazon.com/general/latest/gr/iot-core.html, "Keep-alive period").
fn clamp_keep_alive(secs: u16) -> Duration {
    let s = match secs {
        0 => 1200,
        s => s.clamp(30, 1200),
    };
    Duration::from_secs(u64::from(s))
}

/// Why the connection ended: for the log, the lifecycle event and the will.
pub(crate) type End = Result<EndReason, String>;

pub(crate) struct Session {
    pub(crate) gw: Arc<Gateway>,
    pub(crate) principal: Principal,
    /// The principal's partition, shared with every publish the router gets from here.
    partition: Arc<shoal_domain::Partition>,
    pub(crate) conn: ConnId,
    peer: Option<std::net::SocketAddr>,
    pub(crate) protocol: Protocol,
    pub(crate) client_id: Arc<str>,
    authorizer: Option<Authorizer>,
    /// The gateway's policy epoch when `authorizer` was built.
    authorizer_epoch: u64,
    requested_keep_alive: u16,
    assigned_id: bool,
    clean_start: bool,
    /// Session expiry interval in seconds; 0 is a clean session.
    expiry: u32,
    requested_expiry: u32,
    will: Option<router::Will>,
    /// Set by an MQTT 5 DISCONNECT that changes the session expiry.
    disconnect_expiry: Option<u32>,
    /// MQTT 5 topic aliases the client set (§3.3.2.3.4).
    aliases: HashMap<u16, Arc<str>>,
    /// Packet ids of QoS 2 publishes received and not yet released (PUBREL), so a resent
    /// PUBLISH is not routed twice (MQTT 3.1.1 §4.3.3).
    qos2_received: HashSet<u16>,
    pub(crate) out: crate::delivery::Outgoing,
    pub(crate) wbuf: BytesMut,
    session_id: String,
    version: u64,
}

impl Session {
    pub fn new(
        gw: Arc<Gateway>,
        principal: Principal,
        conn: ConnId,
        peer: Option<std::net::SocketAddr>,
    ) -> Session {
        Session {
            gw,
            partition: Arc::new(principal.partition().clone()),
            principal,
            conn,
            peer,
            protocol: Protocol::V311,
            client_id: Arc::from(""),
            authorizer: None,
            authorizer_epoch: 0,
            requested_keep_alive: 0,
            assigned_id: false,
            clean_start: true,
            expiry: 0,
            requested_expiry: 0,
            will: None,
            disconnect_expiry: None,
            aliases: HashMap::new(),
            qos2_received: HashSet::new(),
            out: crate::delivery::Outgoing::default(),
            wbuf: BytesMut::new(),
            session_id: uuid::Uuid::new_v4().to_string(),
            version: 0,
        }
    }

    pub(crate) fn queue(&mut self, p: &Packet) -> Result<(), String> {
        shoal_mqtt::encode(p, self.protocol, &mut self.wbuf).map_err(|e| format!("encode: {e}"))
    }

    async fn flush<W: AsyncWrite + Unpin>(&mut self, wr: &mut W) -> Result<(), String> {
        if !self.wbuf.is_empty() {
            wr.write_all(&self.wbuf).await.map_err(|e| e.to_string())?;
            self.wbuf.clear();
            // A burst may have grown it; a quiet connection should not keep that.
            if self.wbuf.capacity() > 64 * 1024 {
                self.wbuf = BytesMut::new();
            }
        }
        Ok(())
    }

    fn account(&self) -> &str {
        self.principal.partition().account.as_str()
    }

    pub(crate) fn now(&self) -> i64 {
        self.gw.messaging.now()
    }

    /// Runs the session to its end. `first` is the CONNECT and what followed it in the
    /// buffer when the transport had to read it to find the principal (plain TCP).
    pub fn run<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        io: S,
        first: Option<(Connect, BytesMut)>,
    ) -> impl std::future::Future<Output = ()> {
        // Split and box here, not in the async fn: its arguments stay in its state for the
        // life of the connection, and the transport (about 1.2 KB for TLS) and a CONNECT would
        // make every idle connection's task that much larger.
        let (rd, wr) = tokio::io::split(io);
        self.run_split(rd, wr, first.map(Box::new))
    }

    async fn run_split<S: AsyncRead + AsyncWrite + Unpin>(
        mut self,
        mut rd: tokio::io::ReadHalf<S>,
        mut wr: tokio::io::WriteHalf<S>,
        first: Option<Box<(Connect, BytesMut)>>,
    ) {
        let (connect, mut rbuf) = match first {
            Some(f) => *f,
            None => {
                let mut rbuf = BytesMut::with_capacity(4096);
                match Box::pin(read_connect(&mut rd, &mut rbuf)).await {
                    Ok(c) => (c, rbuf),
                    Err(e) => return tracing::debug!(conn = self.conn, error = %e, "no connect"),
                }
            }
        };
        let keep_alive = clamp_keep_alive(connect.keep_alive);
        match Box::pin(self.accept(connect, &mut wr)).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return tracing::debug!(conn = self.conn, error = %e, "connect failed"),
        }
        let (outbox, mut deliveries) = mpsc::channel(OUTBOX);
        let connected = Box::pin(self.gw.router.connect(
            self.principal.partition(),
            self.client_id.clone(),
            self.conn,
            self.principal.cert_id(),
            outbox,
            self.clean_start,
            self.expiry,
        ))
        .await;
        let mut ack = self.connack(keep_alive);
        ack.session_present = connected.session_present;
        let started = self.queue(&Packet::ConnAck(ack));
        self.connected_event(keep_alive);
        let result = match started {
            Ok(()) => {
                if connected.session_present {
                    self.replay();
                }
                self.serve(&mut rd, &mut wr, &mut rbuf, &mut deliveries, keep_alive)
                    .await
            }
            Err(e) => Err(e),
        };
        let reason = match &result {
            Ok(r) => *r,
            Err(e) => {
                tracing::debug!(conn = self.conn, error = %e, "connection ended");
                if e.starts_with("decode") {
                    EndReason::ClientError
                } else {
                    EndReason::ConnectionLost
                }
            }
        };
        let _ = self.flush(&mut wr).await;
        Box::pin(self.finish(reason, &mut deliveries)).await;
    }

    /// Tells the router the connection is gone: what it had not had acknowledged, the will if
    /// this ending publishes it; then the lifecycle event.
    async fn finish(&mut self, reason: EndReason, deliveries: &mut mpsc::Receiver<Out>) {
        deliveries.close();
        let mut leftovers = self.out.unacknowledged();
        while let Ok(out) = deliveries.try_recv() {
            if let Out::Deliver(m, QoS::AtLeastOnce) = out {
                leftovers.push(m);
            }
        }
        let will = self.will.take().filter(|_| reason.publishes_will());
        self.gw
            .router
            .disconnect(router::Disconnect {
                account: self.account().to_string(),
                client_id: self.client_id.clone(),
                conn: self.conn,
                leftovers,
                will,
                expiry: self.disconnect_expiry,
            })
            .await;
        self.disconnected_event(reason).await;
    }

    /// CONNACK. MQTT 5 clients learn what this server decided for them and its limits
    /// (§3.2.2.3), with AWS IoT's values.
    fn connack(&self, keep_alive: Duration) -> ConnAck {
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
    async fn accept<W: AsyncWrite + Unpin>(
        &mut self,
        connect: Connect,
        wr: &mut W,
    ) -> Result<bool, String> {
        self.protocol = connect.protocol;
        self.requested_keep_alive = connect.keep_alive;
        self.clean_start = connect.clean_start;
        let mut client_id = connect.client_id;
        if client_id.is_empty() {
            // MQTT 3.1.1 §3.1.3.1 lets a server assign an id to a clean session only; MQTT 5
            // (§3.1.3.1) to any, reported in CONNACK.
            if self.protocol == Protocol::V311 && !connect.clean_start {
                self.queue(&Packet::ConnAck(ConnAck {
                    code: return_code::IDENTIFIER_REJECTED,
                    ..ConnAck::default()
                }))?;
                self.flush(wr).await?;
                return Ok(false);
            }
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
        let authorizer = self
            .principal
            .authorizer(&self.gw.identity, &self.client_id)
            .map_err(|e| e.message)?;
        self.authorizer_epoch = self.gw.policy_epoch();
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
                let ip = self.peer.map(|p| p.ip().to_string()).unwrap_or_default();
                let (topic, body) = lifecycle::connect_failed(&self.who(), self.now(), &ip);
                self.system_publish(topic, body);
            }
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
        if let Some(w) = connect.will {
            let wp = &w.properties;
            self.will = Some(router::Will {
                msg: Msg {
                    topic: Arc::from(w.topic.as_str()),
                    payload: w.payload,
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
            });
        }
        Ok(true)
    }

    async fn serve<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
        &mut self,
        rd: &mut R,
        wr: &mut W,
        rbuf: &mut BytesMut,
        deliveries: &mut mpsc::Receiver<Out>,
        keep_alive: Duration,
    ) -> End {
        // MQTT §3.1.2.10: one and a half keep-alive periods without a packet end the connection.
        let idle_limit = keep_alive + keep_alive / 2;
        let mut deadline = Instant::now() + idle_limit;
        let mut last_read = 0;
        loop {
            while let Some(p) = shoal_mqtt::decode(rbuf, self.protocol, MAX_PACKET)
                .map_err(|e| format!("decode: {e}"))?
            {
                deadline = Instant::now() + idle_limit;
                // Publishes and acknowledgements, the traffic, are handled inline; the rest is
                // rare and boxed, so the task every idle connection keeps stays small.
                let end = match p {
                    // Boxed too: its state is the largest (about 1 KB) and would otherwise be
                    // part of every connection's task.
                    Packet::Publish(p) => Box::pin(self.on_publish(p)).await?,
                    Packet::PubAck(a) => {
                        self.acknowledged(a.pkid)?;
                        None
                    }
                    Packet::PingReq => {
                        self.queue(&Packet::PingResp)?;
                        None
                    }
                    other => Box::pin(self.on_packet(other)).await?,
                };
                if let Some(end) = end {
                    self.flush(wr).await?;
                    return Ok(end);
                }
            }
            self.flush(wr).await?;
            size_read_buffer(rbuf, last_read);
            // While the client has as many unacknowledged messages as it may, the outbox is
            // left to fill: the router then drops QoS 0 and ends a connection that cannot keep
            // up with QoS 1, instead of this task buffering without bound.
            let room = self.out.has_room();
            tokio::select! {
                n = rd.read_buf(rbuf) => {
                    last_read = n.map_err(|e| e.to_string())?;
                    if last_read == 0 {
                        return Ok(EndReason::ConnectionLost);
                    }
                }
                out = deliveries.recv(), if room => match out {
                    Some(Out::Deliver(m, qos)) => {
                        self.deliver(m, qos, None, false)?;
                        // Take whatever else is waiting, so one write carries many messages.
                        while self.out.has_room() {
                            match deliveries.try_recv() {
                                Ok(Out::Deliver(m, qos)) => self.deliver(m, qos, None, false)?,
                                Ok(other) => return Box::pin(self.control(wr, other)).await,
                                Err(_) => break,
                            }
                        }
                    }
                    Some(other) => return Box::pin(self.control(wr, other)).await,
                    None => return Ok(EndReason::ServerInitiated),
                },
                () = tokio::time::sleep_until(deadline) => return Ok(EndReason::KeepAliveTimeout),
            }
        }
    }

    async fn control<W: AsyncWrite + Unpin>(&mut self, wr: &mut W, out: Out) -> End {
        let (code, why) = match out {
            Out::TakenOver => (reason::SESSION_TAKEN_OVER, EndReason::DuplicateClientId),
            Out::Revoked => (reason::NOT_AUTHORIZED, EndReason::AuthError),
            Out::Overflowed => (reason::QUOTA_EXCEEDED, EndReason::Throttled),
            Out::Deliver(..) => return Err("a delivery is not a control message".into()),
        };
        self.end(wr, code).await?;
        Ok(why)
    }

    /// The connection's authorizer, rebuilt first if policies changed since it was made.
    pub(crate) fn authorizer(&mut self) -> Result<&Authorizer, String> {
        let epoch = self.gw.policy_epoch();
        if self.authorizer.is_none() || epoch != self.authorizer_epoch {
            self.authorizer_epoch = epoch;
            // The certificate may have been deactivated since the last check.
            self.principal
                .check(&self.gw.identity)
                .map_err(|e| e.message)?;
            let a = self
                .principal
                .authorizer(&self.gw.identity, &self.client_id)
                .map_err(|e| e.message)?;
            self.authorizer = Some(a);
        }
        self.authorizer
            .as_ref()
            .ok_or_else(|| "no authorizer".to_string())
    }

    /// Ends the connection from the server side: MQTT 5 clients are told why (§3.14).
    async fn end<W: AsyncWrite + Unpin>(&mut self, wr: &mut W, code: u8) -> Result<(), String> {
        if self.protocol == Protocol::V5 {
            self.queue(&Packet::Disconnect(shoal_mqtt::Disconnect {
                reason: code,
                ..Default::default()
            }))?;
            self.flush(wr).await?;
        }
        Ok(())
    }

    /// Handles one packet; `Some(reason)` ends the connection.
    async fn on_packet(&mut self, p: Packet) -> Result<Option<EndReason>, String> {
        match p {
            Packet::Publish(p) => return self.on_publish(p).await,
            // Rare and deep: boxed, so every idle connection's task stays small.
            Packet::Subscribe(s) => Box::pin(self.on_subscribe(s)).await?,
            Packet::Unsubscribe(u) => {
                for f in &u.filters {
                    Box::pin(self.gw.router.unsubscribe(
                        self.account(),
                        &self.client_id,
                        self.conn,
                        f,
                    ))
                    .await;
                }
                let reasons = vec![reason::SUCCESS; u.filters.len()];
                self.queue(&Packet::UnsubAck(UnsubAck {
                    pkid: u.pkid,
                    reason_codes: reasons,
                    ..UnsubAck::default()
                }))?;
                self.subscription_event("unsubscribed", u.filters);
            }
            Packet::PubAck(a) => self.acknowledged(a.pkid)?,
            Packet::PubRel(r) => {
                self.qos2_received.remove(&r.pkid);
                self.queue(&Packet::PubComp(PubComp {
                    pkid: r.pkid,
                    ..PubComp::default()
                }))?;
            }
            Packet::PingReq => self.queue(&Packet::PingResp)?,
            Packet::Disconnect(d) => {
                if let Some(e) = d.properties.session_expiry_interval {
                    // §3.14.2.2.2: a session that ended at 0 may not be made persistent here.
                    if self.expiry == 0 && e > 0 {
                        return Err("session expiry set on DISCONNECT of a clean session".into());
                    }
                    self.disconnect_expiry = Some(e.min(MAX_SESSION_EXPIRY));
                }
                return Ok(Some(if d.reason == reason::DISCONNECT_WITH_WILL_MESSAGE {
                    EndReason::ClientInitiatedWithWill
                } else {
                    EndReason::ClientInitiated
                }));
            }
            other => return Err(format!("unexpected packet from a client: {other:?}")),
        }
        Ok(None)
    }

    async fn on_publish(
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
        let topic_ok =
            shoal_mqtt::valid_topic_name(&topic) && shoal_mqtt::topic::aws_topic_ok(&topic).is_ok();
        // Reserved topics are refused as not authorized, as AWS does.
        let allowed = topic_publishable(&topic) && {
            let a = self.authorizer()?;
            a.allows("iot:Publish", "topic", &topic)
                && (!p.retain || a.allows("iot:RetainPublish", "topic", &topic))
        };
        if !allowed {
            tracing::info!(conn = self.conn, topic = %topic, "publish denied");
            // AWS disconnects an MQTT 3.1.1 client that publishes where it may not; MQTT 5
            // clients get the reason code on the acknowledgement.
            if self.protocol == Protocol::V311 {
                return Ok(Some(EndReason::ForbiddenAccess));
            }
            let code = if topic_ok {
                reason::NOT_AUTHORIZED
            } else {
                reason::TOPIC_NAME_INVALID
            };
            match p.qos {
                QoS::AtMostOnce => {}
                QoS::AtLeastOnce => self.queue(&Packet::PubAck(PubAck {
                    pkid: p.pkid,
                    reason: code,
                    ..PubAck::default()
                }))?,
                QoS::ExactlyOnce => self.queue(&Packet::PubRec(PubRec {
                    pkid: p.pkid,
                    reason: code,
                    ..PubRec::default()
                }))?,
            }
            return Ok(None);
        }
        let pp = &p.properties;
        // The time is needed only for what may be stored or may expire; the router stamps the
        // rest if it stores them.
        let now = if p.retain
            || pp.message_expiry_interval.is_some()
            || self.gw.router.has_offline_sessions()
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
                p.qos != QoS::AtMostOnce && (p.retain || self.gw.router.has_offline_sessions());
            if !self.route(msg, p.retain, durable).await && p.qos != QoS::AtMostOnce {
                return Err("message could not be stored".into());
            }
        }
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.queue(&Packet::PubAck(PubAck {
                pkid: p.pkid,
                ..PubAck::default()
            }))?,
            QoS::ExactlyOnce => self.queue(&Packet::PubRec(PubRec {
                pkid: p.pkid,
                ..PubRec::default()
            }))?,
        }
        Ok(None)
    }

    fn route(
        &self,
        msg: Msg,
        retain: bool,
        durable: bool,
    ) -> impl std::future::Future<Output = bool> + 'static {
        self.gw
            .router
            .publish(&self.partition, msg, retain, durable)
    }

    async fn on_subscribe(&mut self, s: shoal_mqtt::Subscribe) -> Result<(), String> {
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
            codes.push(granted as u8);
            self.gw
                .router
                .subscribe(
                    self.account(),
                    &self.client_id,
                    self.conn,
                    &f.filter,
                    granted,
                    f.no_local,
                )
                .await;
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
    fn send_retained(&mut self, filter: &str, qos: QoS) -> Result<(), String> {
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

    fn who(&self) -> lifecycle::Who<'_> {
        lifecycle::Who {
            client_id: &self.client_id,
            session: &self.session_id,
            principal: self.principal.identifier(),
            version: self.version,
        }
    }

    /// Records the connection and publishes `connected`.
    fn connected_event(&mut self, keep_alive: Duration) {
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

    async fn disconnected_event(&mut self, reason: EndReason) {
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

    fn subscription_event(&mut self, event: &str, topics: Vec<String>) {
        if lifecycle::has_events(&self.client_id) {
            let (topic, body) = lifecycle::subscriptions(&self.who(), self.now(), event, &topics);
            self.system_publish(topic, body);
        }
    }

    /// A message AWS itself publishes (lifecycle events): QoS 0, no policy check on the
    /// sender, `iot:Receive` on each subscriber as for any message.
    fn system_publish(&self, topic: String, body: Vec<u8>) {
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

/// A busy connection reads in chunks this large.
const READ_CHUNK: usize = 4096;
/// What a quiet connection keeps for reading: most devices are idle most of the time, and the
/// read buffer is much of what an idle connection costs.
const IDLE_READ: usize = 512;

/// Sizes the read buffer before the next read: room for a chunk while reads come in large,
/// back to `IDLE_READ` once a small read left nothing pending (also after a large packet).
fn size_read_buffer(rbuf: &mut BytesMut, last_read: usize) {
    if rbuf.is_empty() && last_read < IDLE_READ && rbuf.capacity() > IDLE_READ {
        *rbuf = BytesMut::with_capacity(IDLE_READ);
    } else if rbuf.capacity() - rbuf.len() < IDLE_READ / 2 {
        rbuf.reserve(READ_CHUNK);
    }
}

/// Topics a client may publish to: not reserved (`$...`). The `$aws/` topics served by
/// device services (shadows, jobs, provisioning) arrive with those services.
fn topic_publishable(topic: &str) -> bool {
    shoal_mqtt::valid_topic_name(topic)
        && shoal_mqtt::topic::aws_topic_ok(topic).is_ok()
        && !topic.starts_with('$')
}

/// Filters a client may subscribe to: its own topics, and the reserved families AWS lets
/// clients subscribe to (lifecycle events; thing topics such as shadow responses).
/// https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html
fn filter_subscribable(filter: &str) -> bool {
    !filter.starts_with('$')
        || filter.starts_with("$aws/events/")
        || filter.starts_with("$aws/things/")
}

/// Reads until the first packet, which must be CONNECT (MQTT §3.1), within CONNECT_TIMEOUT.
pub(crate) async fn read_connect<R: AsyncRead + Unpin>(
    rd: &mut R,
    rbuf: &mut BytesMut,
) -> Result<Connect, String> {
    tokio::time::timeout(CONNECT_TIMEOUT, read_connect_packet(rd, rbuf))
        .await
        .map_err(|_| "no CONNECT in time".to_string())?
}

async fn read_connect_packet<R: AsyncRead + Unpin>(
    rd: &mut R,
    rbuf: &mut BytesMut,
) -> Result<Connect, String> {
    loop {
        if let Some(p) = shoal_mqtt::decode(rbuf, Protocol::V311, MAX_PACKET)
            .map_err(|e| format!("decode: {e}"))?
        {
            return match p {
                Packet::Connect(c) => Ok(c),
                other => Err(format!("first packet is not CONNECT: {other:?}")),
            };
        }
        if rd.read_buf(rbuf).await.map_err(|e| e.to_string())? == 0 {
            return Err("closed before CONNECT".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_buffer_shrinks_when_quiet_and_grows_when_busy() {
        let mut b = BytesMut::with_capacity(4096);
        size_read_buffer(&mut b, 20);
        assert_eq!(b.capacity(), IDLE_READ);
        b.extend_from_slice(&[0; 400]);
        size_read_buffer(&mut b, 400);
        assert!(b.capacity() - b.len() >= READ_CHUNK);
        let before = b.capacity();
        size_read_buffer(&mut b, 4000);
        assert_eq!(b.capacity(), before, "a buffer with data pending is kept");
    }

    #[test]
    fn reserved_topics() {
        assert!(topic_publishable("a/b"));
        assert!(!topic_publishable("$aws/events/presence/connected/x"));
        assert!(filter_subscribable("$aws/events/presence/connected/+"));
        assert!(!filter_subscribable("$SYS/#"));
    }
}
