//! One device connection: mutual TLS, identity from the registered client certificate, CONNECT,
//! then packets in and deliveries out until either side ends it. Every CONNECT, PUBLISH,
//! SUBSCRIBE and delivery is checked against the device's IoT policies
//! (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html).

use crate::router::{ConnId, Out, OUTBOX};
use crate::Gateway;
use bytes::BytesMut;
use shoal_mqtt::{
    reason, return_code, ConnAck, Connect, Packet, Protocol, PubAck, PubComp, PubRec, QoS, SubAck,
    UnsubAck,
};
use shoal_services::identity::Authorizer;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The time a client gets to finish TLS and send CONNECT.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// AWS IoT's largest MQTT message: 128 KB of payload, plus headers.
pub const MAX_PACKET: usize = 128 * 1024 + 1024;
/// AWS IoT: at most 8 topic filters in one SUBSCRIBE.
const MAX_FILTERS: usize = 8;

/// AWS IoT's keep-alive: 30..=1200 seconds; 0 means the maximum
/// (https://docs.aws.amazon.com/general/latest/gr/iot-core.html, "Keep-alive period").
fn clamp_keep_alive(secs: u16) -> Duration {
    let s = match secs {
        0 => 1200,
        s => s.clamp(30, 1200),
    };
    Duration::from_secs(u64::from(s))
}

/// Why a connection ended, for the log.
type End = Result<(), String>;

pub async fn handle(gw: Arc<Gateway>, tcp: TcpStream, conn: ConnId) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(CONNECT_TIMEOUT, gw.tls.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return tracing::debug!(conn, error = %e, "tls handshake failed"),
        Err(_) => return tracing::debug!(conn, "tls handshake timed out"),
    };
    let der = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
        Some(c) => c.to_vec(),
        None => return,
    };
    let device = match gw.authenticate(&der) {
        Ok(d) => d,
        Err(e) => return tracing::info!(conn, reason = %e.message, "device certificate refused"),
    };
    let mut session = Session::new(gw, device, conn);
    if let Err(e) = session.run(tls).await {
        tracing::debug!(conn, error = %e, "connection ended");
    }
}

struct Session {
    gw: Arc<Gateway>,
    device: shoal_services::identity::Device,
    conn: ConnId,
    protocol: Protocol,
    client_id: String,
    authorizer: Option<Authorizer>,
    /// The gateway's policy epoch when `authorizer` was built.
    authorizer_epoch: u64,
    requested_keep_alive: u16,
    assigned_id: bool,
    /// Packet ids of our QoS 1 deliveries awaiting PUBACK.
    inflight: HashSet<u16>,
    next_pkid: u16,
    /// Packet ids of QoS 2 publishes received and not yet released (PUBREL), so a resent
    /// PUBLISH is not routed twice (MQTT 3.1.1 §4.3.3).
    qos2_received: HashSet<u16>,
    wbuf: BytesMut,
}

impl Session {
    fn new(gw: Arc<Gateway>, device: shoal_services::identity::Device, conn: ConnId) -> Session {
        Session {
            gw,
            device,
            conn,
            protocol: Protocol::V311,
            client_id: String::new(),
            authorizer: None,
            authorizer_epoch: 0,
            requested_keep_alive: 0,
            assigned_id: false,
            inflight: HashSet::new(),
            next_pkid: 0,
            qos2_received: HashSet::new(),
            wbuf: BytesMut::with_capacity(4096),
        }
    }

    fn account(&self) -> &str {
        self.device.partition.account.as_str()
    }

    fn queue(&mut self, p: &Packet) -> End {
        shoal_mqtt::encode(p, self.protocol, &mut self.wbuf).map_err(|e| format!("encode: {e}"))
    }

    async fn flush<W: AsyncWrite + Unpin>(&mut self, wr: &mut W) -> End {
        if !self.wbuf.is_empty() {
            wr.write_all(&self.wbuf).await.map_err(|e| e.to_string())?;
            self.wbuf.clear();
        }
        Ok(())
    }

    async fn run<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: S) -> End {
        let (mut rd, mut wr) = tokio::io::split(io);
        let mut rbuf = BytesMut::with_capacity(4096);
        let connect = tokio::time::timeout(CONNECT_TIMEOUT, read_connect(&mut rd, &mut rbuf))
            .await
            .map_err(|_| "no CONNECT in time".to_string())??;
        let keep_alive = clamp_keep_alive(connect.keep_alive);
        if !self.accept(connect, &mut wr).await? {
            return Ok(());
        }
        let (outbox, mut deliveries) = mpsc::channel(OUTBOX);
        let cert = self.device.certificate.id.clone();
        self.gw
            .router
            .connect(self.account(), &self.client_id, self.conn, &cert, outbox)
            .await;
        let connack = self.connack(keep_alive);
        self.queue(&Packet::ConnAck(connack))?;
        self.flush(&mut wr).await?;
        let result = self
            .serve(&mut rd, &mut wr, &mut rbuf, &mut deliveries, keep_alive)
            .await;
        self.gw
            .router
            .disconnect(self.account(), &self.client_id, self.conn)
            .await;
        result
    }

    /// CONNACK. MQTT 5 clients learn what this server does not do and what it decided for them
    /// (§3.2.2.3): an assigned client id, the keep-alive it uses, no retained messages, no
    /// shared subscriptions or subscription identifiers, no topic aliases, the packet size limit.
    fn connack(&self, keep_alive: Duration) -> ConnAck {
        let mut ack = ConnAck::default();
        if self.protocol == Protocol::V5 {
            let p = &mut ack.properties;
            if self.assigned_id {
                p.assigned_client_identifier = Some(self.client_id.clone());
            }
            if self.requested_keep_alive != keep_alive.as_secs() as u16 {
                p.server_keep_alive = Some(keep_alive.as_secs() as u16);
            }
            p.retain_available = Some(false);
            p.shared_subscription_available = Some(false);
            p.subscription_identifiers_available = Some(false);
            p.maximum_packet_size = Some(MAX_PACKET as u32);
        }
        ack
    }

    /// Authorizes CONNECT (`iot:Connect` on `client/<clientId>`). A refusal ends the connection:
    /// MQTT 5 clients get CONNACK 0x87; MQTT 3.1.1 ones are disconnected, as AWS does.
    async fn accept<W: AsyncWrite + Unpin>(
        &mut self,
        connect: Connect,
        wr: &mut W,
    ) -> Result<bool, String> {
        self.protocol = connect.protocol;
        self.requested_keep_alive = connect.keep_alive;
        self.client_id = connect.client_id;
        if self.client_id.is_empty() {
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
            self.client_id = format!("shoal-{}", self.conn);
            self.assigned_id = true;
        }
        let authorizer = self
            .gw
            .identity
            .authorizer(&self.device, &self.client_id)
            .map_err(|e| e.message)?;
        if !authorizer.allows("iot:Connect", "client", &self.client_id) {
            tracing::info!(conn = self.conn, client_id = %self.client_id, "connect denied by policy");
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
        loop {
            while let Some(p) = shoal_mqtt::decode(rbuf, self.protocol, MAX_PACKET)
                .map_err(|e| format!("decode: {e}"))?
            {
                deadline = Instant::now() + idle_limit;
                if !self.on_packet(p).await? {
                    self.flush(wr).await?;
                    return Ok(());
                }
            }
            self.flush(wr).await?;
            tokio::select! {
                n = rd.read_buf(rbuf) => {
                    if n.map_err(|e| e.to_string())? == 0 {
                        return Ok(());
                    }
                }
                out = deliveries.recv() => match out {
                    Some(Out::Deliver { topic, payload, qos }) => {
                        self.deliver(&topic, payload, qos)?;
                        // Take whatever else is waiting, so one write carries many messages.
                        while let Ok(Out::Deliver { topic, payload, qos }) = deliveries.try_recv() {
                            self.deliver(&topic, payload, qos)?;
                        }
                    }
                    Some(Out::TakenOver) => return self.end(wr, reason::SESSION_TAKEN_OVER).await,
                    Some(Out::Revoked) => return self.end(wr, reason::NOT_AUTHORIZED).await,
                    Some(Out::Overflowed) => return self.end(wr, reason::QUOTA_EXCEEDED).await,
                    None => return Ok(()),
                },
                () = tokio::time::sleep_until(deadline) => return Err("keep-alive expired".into()),
            }
        }
    }

    /// The connection's authorizer, rebuilt first if policies changed since it was made.
    fn authorizer(&mut self) -> Result<&Authorizer, String> {
        let epoch = self.gw.policy_epoch();
        if self.authorizer.is_none() || epoch != self.authorizer_epoch {
            self.authorizer_epoch = epoch;
            // The certificate may have been deactivated since the last check.
            self.gw
                .identity
                .check_device(&self.device)
                .map_err(|e| e.message)?;
            let a = self
                .gw
                .identity
                .authorizer(&self.device, &self.client_id)
                .map_err(|e| e.message)?;
            self.authorizer = Some(a);
        }
        self.authorizer
            .as_ref()
            .ok_or_else(|| "no authorizer".to_string())
    }

    /// Ends the connection from the server side: MQTT 5 clients are told why (§3.14).
    async fn end<W: AsyncWrite + Unpin>(&mut self, wr: &mut W, code: u8) -> End {
        if self.protocol == Protocol::V5 {
            self.queue(&Packet::Disconnect(shoal_mqtt::Disconnect {
                reason: code,
                ..Default::default()
            }))?;
            self.flush(wr).await?;
        }
        Ok(())
    }

    /// Handles one packet; `Ok(false)` ends the connection normally.
    async fn on_packet(&mut self, p: Packet) -> Result<bool, String> {
        match p {
            Packet::Publish(p) => return self.on_publish(p).await,
            Packet::Subscribe(s) => self.on_subscribe(s).await?,
            Packet::Unsubscribe(u) => {
                for f in &u.filters {
                    self.gw
                        .router
                        .unsubscribe(self.account(), self.conn, f)
                        .await;
                }
                let reasons = vec![reason::SUCCESS; u.filters.len()];
                self.queue(&Packet::UnsubAck(UnsubAck {
                    pkid: u.pkid,
                    reason_codes: reasons,
                    ..UnsubAck::default()
                }))?;
            }
            Packet::PubAck(a) => {
                self.inflight.remove(&a.pkid);
            }
            Packet::PubRel(r) => {
                self.qos2_received.remove(&r.pkid);
                self.queue(&Packet::PubComp(PubComp {
                    pkid: r.pkid,
                    ..PubComp::default()
                }))?;
            }
            Packet::PingReq => self.queue(&Packet::PingResp)?,
            Packet::Disconnect(_) => return Ok(false),
            other => return Err(format!("unexpected packet from a client: {other:?}")),
        }
        Ok(true)
    }

    async fn on_publish(&mut self, p: shoal_mqtt::Publish) -> Result<bool, String> {
        let topic_ok = shoal_mqtt::valid_topic_name(&p.topic)
            && shoal_mqtt::topic::aws_topic_ok(&p.topic).is_ok();
        // Reserved `$aws/` topics are served by the device services (shadows, jobs...), which
        // come in later issues; until then publishing to them is refused like any denied topic.
        let allowed = topic_ok
            && !p.topic.starts_with('$')
            && self.authorizer()?.allows("iot:Publish", "topic", &p.topic);
        if !allowed {
            tracing::info!(conn = self.conn, topic = %p.topic, "publish denied");
            // AWS disconnects an MQTT 3.1.1 client that publishes where it may not; MQTT 5
            // clients get the reason code on the acknowledgement.
            if self.protocol == Protocol::V311 {
                return Ok(false);
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
            return Ok(true);
        }
        match p.qos {
            QoS::AtMostOnce => self.route(p).await,
            QoS::AtLeastOnce => {
                let pkid = p.pkid;
                self.route(p).await;
                self.queue(&Packet::PubAck(PubAck {
                    pkid,
                    ..PubAck::default()
                }))?;
            }
            QoS::ExactlyOnce => {
                let pkid = p.pkid;
                if self.qos2_received.insert(pkid) {
                    self.route(p).await;
                }
                self.queue(&Packet::PubRec(PubRec {
                    pkid,
                    ..PubRec::default()
                }))?;
            }
        }
        Ok(true)
    }

    async fn route(&self, p: shoal_mqtt::Publish) {
        let topic = Arc::from(p.topic.as_str());
        self.gw
            .router
            .publish(self.account(), topic, p.payload, p.qos)
            .await;
    }

    async fn on_subscribe(&mut self, s: shoal_mqtt::Subscribe) -> End {
        let mut codes = Vec::with_capacity(s.filters.len());
        let too_many = s.filters.len() > MAX_FILTERS;
        for f in &s.filters {
            let valid = shoal_mqtt::valid_topic_filter(&f.filter)
                && shoal_mqtt::topic::aws_topic_ok(&f.filter).is_ok()
                && shoal_mqtt::shared_subscription(&f.filter).is_none()
                && !f.filter.starts_with('$');
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
                .subscribe(self.account(), self.conn, &f.filter, granted)
                .await;
        }
        self.queue(&Packet::SubAck(SubAck {
            pkid: s.pkid,
            return_codes: codes,
            ..SubAck::default()
        }))
    }

    /// Sends a routed message if the device may receive it (`iot:Receive` on `topic/<topic>`).
    fn deliver(&mut self, topic: &str, payload: bytes::Bytes, qos: QoS) -> End {
        if !self.authorizer()?.allows("iot:Receive", "topic", topic) {
            return Ok(());
        }
        let pkid = if qos == QoS::AtMostOnce {
            0
        } else {
            loop {
                self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
                if !self.inflight.contains(&self.next_pkid) {
                    break;
                }
            }
            self.inflight.insert(self.next_pkid);
            self.next_pkid
        };
        let p = shoal_mqtt::Publish {
            topic: topic.to_string(),
            qos,
            pkid,
            payload,
            ..Default::default()
        };
        self.queue(&Packet::Publish(p))
    }
}

/// Reads until the first packet, which must be CONNECT (MQTT §3.1).
async fn read_connect<R: AsyncRead + Unpin>(
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
