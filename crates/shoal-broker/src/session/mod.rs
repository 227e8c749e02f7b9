//! One MQTT session on one connection: CONNECT, then packets in and deliveries out until either
//! side ends it. Every CONNECT, PUBLISH, SUBSCRIBE and delivery is checked against the
//! principal's IoT policies
//! (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html). The
//! transport (TLS, WebSocket, plain TCP) is the caller's; this sees a byte stream.

mod connect;
mod custom;
mod error;
mod events;
mod inbound;
mod logs;

pub(crate) use error::{SessionError, SessionResult};

use crate::connection::Transport;
use crate::lifecycle::{self, EndReason};
use crate::message::{props_from_publish, Msg};
use crate::principal::Principal;
use crate::router::{self, ConnId, Control, Delivery, Out, Shard, OUTBOX};
use crate::Gateway;
use bytes::{Bytes, BytesMut};
use shoal_domain::logging::{EventType, LogLevel};
use shoal_mqtt::{
    reason, return_code, ConnAck, Connect, Packet, Protocol, PubAck, PubComp, PubRec, QoS, SubAck,
    UnsubAck,
};
use shoal_services::identity::Authorizer;
use shoal_services::messaging::{Connectivity, Write};
use shoal_services::EpochCounter;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The time a client gets to send CONNECT once its transport is up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest CONNECT read: AWS IoT's largest MQTT message, 128 KB of payload plus headers
/// (a will's payload is one). Later packets have the profile's limit.
pub const MAX_CONNECT: usize = 128 * 1024 + 1024;
/// AWS's default persistent-session expiry, which MQTT 3.1.1 sessions get.
const DEFAULT_SESSION_EXPIRY: u32 = 3600;
/// AWS's longest persistent-session expiry (7 days).
const MAX_SESSION_EXPIRY: u32 = 7 * 24 * 3600;
/// AWS IoT: "Client ID size: 128 bytes of UTF-8 encoded characters".
const MAX_CLIENT_ID: usize = 128;
/// A client that does not take what is written to it within this time is disconnected: the
/// bytes buffered for it, and the deliveries waiting for it, stay bounded.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries encoded before they are written: a burst of large QoS 0 messages is written in
/// pieces rather than all buffered first.
const WRITE_BATCH: usize = 256 * 1024;
/// Why the connection ended: for the log, the lifecycle event and the will.
pub(crate) type End = SessionResult<EndReason>;

pub(crate) struct Session {
    pub(crate) gw: Arc<Gateway>,
    pub(crate) principal: Principal,
    /// The principal's partition.
    partition: Arc<shoal_domain::Partition>,
    /// The router shard of that partition.
    pub(crate) shard: Shard,
    /// Moves when authorization may have changed in the partition.
    epoch: EpochCounter,
    pub(crate) conn: ConnId,
    pub(crate) transport: Transport,
    pub(crate) protocol: Protocol,
    pub(crate) client_id: Arc<str>,
    /// `principal()` of the rules for this connection's messages: its certificate id.
    pub(crate) rule_principal: Option<Arc<str>>,
    authorizer: Option<Authorizer>,
    /// The partition's authorization epoch when `authorizer` was built.
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
    /// The keep-alive in force, for the connectivity record.
    keep_alive_secs: u16,
    /// What this device's log records are checked against (`logs.rs`).
    log_gate: shoal_services::logging::LogGate,
}

impl Session {
    pub fn new(
        gw: Arc<Gateway>,
        principal: Principal,
        conn: ConnId,
        transport: Transport,
    ) -> Session {
        let partition = principal.partition().clone();
        let rule_principal =
            (!principal.cert_id().is_empty()).then(|| Arc::from(principal.cert_id()));
        let inflight = usize::from(gw.profile.limits.inflight);
        let log_gate = gw
            .logs
            .gate(&partition, Self::log_origin(&principal, &transport));
        Session {
            log_gate,
            shard: gw.router.shard(&partition),
            epoch: gw.identity.epoch_of(&partition),
            partition: Arc::new(partition),
            gw,
            principal,
            conn,
            transport,
            protocol: Protocol::V311,
            client_id: Arc::from(""),
            rule_principal,
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
            out: crate::delivery::Outgoing::new(inflight),
            wbuf: BytesMut::new(),
            session_id: uuid::Uuid::new_v4().to_string(),
            version: 0,
            keep_alive_secs: 0,
        }
    }

    pub(crate) fn queue(&mut self, p: &Packet) -> SessionResult<()> {
        Ok(shoal_mqtt::encode(p, self.protocol, &mut self.wbuf)?)
    }

    async fn flush<W: AsyncWrite + Unpin>(&mut self, wr: &mut W) -> SessionResult<()> {
        if !self.wbuf.is_empty() {
            // The write is tried first: the timer is armed only when it has to wait.
            tokio::select! {
                biased;
                r = wr.write_all(&self.wbuf) => r?,
                () = tokio::time::sleep(WRITE_TIMEOUT) => {
                    return Err(SessionError::Io("the client stopped reading".into()))
                }
            }
            self.wbuf.clear();
            // A burst may have grown it; a quiet connection should not keep that.
            if self.wbuf.capacity() > 64 * 1024 {
                self.wbuf = BytesMut::new();
            }
        }
        Ok(())
    }

    pub(crate) fn now(&self) -> i64 {
        self.gw.messaging.now()
    }

    /// Runs the session to its end. `first` is the CONNECT and what followed it in the
    /// buffer when the transport had to read it to find the principal (plain TCP).
    pub fn run<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        io: S,
        first: Option<Box<(Connect, BytesMut)>>,
    ) -> impl std::future::Future<Output = ()> {
        // Split and box here, not in the async fn: its arguments stay in its state for the
        // life of the connection (an async fn keeps a moved argument's place as well as its
        // binding's), and the session (about 0.8 KB), the transport (about 1.2 KB for TLS) and
        // a CONNECT would make every idle connection's task that much larger.
        let (rd, wr) = tokio::io::split(io);
        Box::new(self).run_split(rd, wr, first)
    }

    async fn run_split<S: AsyncRead + AsyncWrite + Unpin>(
        mut self: Box<Self>,
        mut rd: tokio::io::ReadHalf<S>,
        mut wr: tokio::io::WriteHalf<S>,
        first: Option<Box<(Connect, BytesMut)>>,
    ) {
        // The handshake runs in a future of its own, freed once it is done: what it holds (the
        // CONNECT, the CONNACK) is not kept in every connection's task for its whole life.
        let Some(mut live) = Box::pin(self.start(&mut rd, &mut wr, first)).await else {
            return;
        };
        let result = self.serve(&mut rd, &mut wr, &mut live).await;
        let told = matches!(&result, Err(e) if e.disconnect_code().is_some());
        let reason = Box::pin(self.wind_down(&mut wr, result)).await;
        Box::pin(self.finish(reason, &mut live.deliveries)).await;
        if told {
            Box::pin(linger(&mut rd, &mut wr)).await;
        }
    }

    /// CONNECT to CONNACK: reads the CONNECT unless the transport did, authorizes it, takes the
    /// client id in the router, answers. `None` when the connection ends there.
    async fn start<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        rd: &mut tokio::io::ReadHalf<S>,
        wr: &mut tokio::io::WriteHalf<S>,
        first: Option<Box<(Connect, BytesMut)>>,
    ) -> Option<Live> {
        let (connect, rbuf) = match first {
            Some(f) => *f,
            None => {
                let mut rbuf = BytesMut::with_capacity(4096);
                match read_connect(rd, &mut rbuf).await {
                    Ok(c) => (c, rbuf),
                    Err(e) => {
                        tracing::debug!(conn = self.conn, error = %e, "no connect");
                        refuse_unreadable_connect(wr, &e, &rbuf).await;
                        return None;
                    }
                }
            }
        };
        let keep_alive = self.gw.profile.keep_alive(connect.keep_alive);
        match self.accept(connect, wr).await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::debug!(conn = self.conn, error = %e, "connect failed");
                return None;
            }
        }
        let (outbox, deliveries) = mpsc::channel(OUTBOX);
        let controls = Control::new();
        let connected = self
            .shard
            .connect(
                self.client_id.clone(),
                self.conn,
                self.principal.cert_id(),
                outbox,
                controls.clone(),
                self.clean_start,
                self.expiry,
            )
            .await;
        let mut ack = self.connack(keep_alive);
        ack.session_present = connected.session_present;
        let started = self.queue(&Packet::ConnAck(ack));
        self.connected_event(keep_alive).await;
        let mut live = Live {
            rbuf,
            deliveries,
            controls,
            keep_alive,
            failed: None,
        };
        match started {
            Ok(()) if connected.session_present => self.replay(connected.queued),
            Ok(()) => {}
            Err(e) => live.failed = Some(e),
        }
        Some(live)
    }

    /// Tells an MQTT 5 client why the server ends the connection, and writes what is left.
    async fn wind_down<W: AsyncWrite + Unpin>(&mut self, wr: &mut W, result: End) -> EndReason {
        let reason = match &result {
            Ok(r) => *r,
            Err(e) => {
                match e {
                    SessionError::Quota => tracing::info!(
                        conn = self.conn,
                        "too many deliveries waiting; disconnected"
                    ),
                    _ => tracing::debug!(conn = self.conn, error = %e, "connection ended"),
                }
                if let Some(code) = e.disconnect_code() {
                    let _ = self.end(wr, code).await;
                }
                e.end_reason()
            }
        };
        let _ = self.flush(wr).await;
        reason
    }

    /// Tells the router the connection is gone: what it had not had acknowledged, the will if
    /// this ending publishes it; then the lifecycle event.
    async fn finish(&mut self, reason: EndReason, deliveries: &mut mpsc::Receiver<Delivery>) {
        deliveries.close();
        let mut leftovers = self.out.unacknowledged();
        while let Ok(d) = deliveries.try_recv() {
            if d.qos != QoS::AtMostOnce {
                leftovers.push((d.msg, d.qos));
            }
        }
        // A direct message is never queued for an offline session (AWS: "not queued for
        // offline devices"); its sender learns it was not delivered.
        leftovers.retain(|(m, _)| match &m.ack {
            Some(a) => {
                a.fire(false);
                false
            }
            None => true,
        });
        let will = self.will.take().filter(|_| reason.publishes_will());
        self.write_dequeued().await;
        self.shard
            .disconnect(router::Disconnect {
                client_id: self.client_id.clone(),
                conn: self.conn,
                leftovers,
                stored: self.out.stored,
                will,
                expiry: self.disconnect_expiry,
            })
            .await;
        self.disconnected_event(reason).await;
    }

    async fn serve<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
        &mut self,
        rd: &mut R,
        wr: &mut W,
        live: &mut Live,
    ) -> End {
        if let Some(e) = live.failed.take() {
            return Err(e);
        }
        let Live {
            rbuf,
            deliveries,
            controls,
            keep_alive,
            ..
        } = live;
        let keep_alive = *keep_alive;
        // MQTT §3.1.2.10: one and a half keep-alive periods without a packet end the connection;
        // without a keep-alive (standard profile), none do.
        let idle_limit = match keep_alive {
            Some(k) => k + k / 2,
            None => NO_KEEP_ALIVE,
        };
        let max_packet = self.gw.profile.max_packet();
        let mut deadline = Instant::now() + idle_limit;
        let mut last_read = 0;
        loop {
            while let Some(p) = shoal_mqtt::decode(rbuf, self.protocol, max_packet)? {
                deadline = Instant::now() + idle_limit;
                // A custom authorizer's answer runs out on the clock: a packet that arrives
                // after that is not handled.
                if self.custom_check_due() {
                    if let Some(end) = Box::pin(self.custom_due(wr)).await? {
                        self.flush(wr).await?;
                        return Ok(end);
                    }
                }
                // Publishes and acknowledgements, the traffic, are handled inline; the rest is
                // rare and boxed, so the task every idle connection keeps stays small.
                let end = match p {
                    Packet::Publish(p) => self.on_publish(p).await?,
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
            if self.out.has_dequeued() {
                // Boxed: only a persistent session's replay gets here.
                Box::pin(self.write_dequeued()).await;
            }
            size_read_buffer(rbuf, last_read);
            // While the client has as many unacknowledged messages as it may, the outbox is
            // left to fill: the router then drops QoS 0 and ends a connection that cannot keep
            // up with QoS 1, instead of this task buffering without bound.
            let room = self.out.has_room();
            let auth_at = self.custom_wake();
            tokio::select! {
                () = tokio::time::sleep_until(auth_at.unwrap_or(deadline)), if auth_at.is_some() => {
                    if let Some(end) = Box::pin(self.custom_due(wr)).await? {
                        self.flush(wr).await?;
                        return Ok(end);
                    }
                }
                n = rd.read_buf(rbuf) => {
                    last_read = n?;
                    if last_read == 0 {
                        return Ok(EndReason::ConnectionLost);
                    }
                }
                out = deliveries.recv(), if room => match out {
                    Some(d) => {
                        self.deliver(d, None)?;
                        // Take whatever else is waiting, so one write carries many messages.
                        while self.out.has_room() && self.wbuf.len() < WRITE_BATCH {
                            match deliveries.try_recv() {
                                Ok(d) => self.deliver(d, None)?,
                                Err(_) => break,
                            }
                        }
                    }
                    // The shard let go of this connection; it told it why first.
                    None => {
                        if let Some(out) = controls.try_recv() {
                            if let Some(end) = Box::pin(self.control(wr, out)).await? {
                                return Ok(end);
                            }
                        }
                        return Ok(EndReason::ServerInitiated);
                    }
                },
                // Control messages come apart from deliveries, so a full window of
                // unacknowledged deliveries cannot hold back a revocation or a takeover.
                out = controls.recv() => {
                    if let Some(end) = Box::pin(self.control(wr, out)).await? {
                        return Ok(end);
                    }
                },
                () = tokio::time::sleep_until(deadline) => return Ok(EndReason::KeepAliveTimeout),
            }
        }
    }

    /// A control message from the shard; `Some(reason)` ends the connection.
    async fn control<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        out: Out,
    ) -> SessionResult<Option<EndReason>> {
        let (code, why) = match out {
            Out::TakenOver => (reason::SESSION_TAKEN_OVER, EndReason::DuplicateClientId),
            Out::Revoked => (reason::NOT_AUTHORIZED, EndReason::AuthError),
            Out::Overflowed => (reason::QUOTA_EXCEEDED, EndReason::Throttled),
            // MQTT 5 §3.14.2.1: the server tells the client it is shutting down.
            Out::ServerShutdown => (reason::SERVER_SHUTTING_DOWN, EndReason::ServerInitiated),
            // iot-data DeleteConnection: "Administrative action" (§3.14.2.1), the will unless
            // the caller prevented it, and the session ends with the connection if asked.
            Out::Deleted {
                clean_session,
                prevent_will,
            } => {
                if prevent_will {
                    self.will = None;
                }
                if clean_session {
                    self.disconnect_expiry = Some(0);
                }
                (reason::ADMINISTRATIVE_ACTION, EndReason::ApiInitiated)
            }
            Out::Reset => {
                self.will = None;
                self.disconnect_expiry = Some(0);
                (reason::ADMINISTRATIVE_ACTION, EndReason::Reset)
            }
            Out::Recheck => {
                // Forget the authorizer: the next check rebuilds it, re-checking the
                // certificate first; a certificate that may no longer connect ends here.
                self.authorizer = None;
                return match self.principal.check(&self.gw.identity, &self.gw.accounts) {
                    Ok(()) => Ok(None),
                    Err(_) => {
                        self.end(wr, reason::NOT_AUTHORIZED).await?;
                        Ok(Some(EndReason::AuthError))
                    }
                };
            }
        };
        self.end(wr, code).await?;
        Ok(Some(why))
    }

    /// The connection's authorizer, rebuilt first if policies changed since it was made.
    pub(crate) fn authorizer(&mut self) -> SessionResult<&Authorizer> {
        let epoch = self.epoch.get();
        if self.authorizer.is_none() || epoch != self.authorizer_epoch {
            self.authorizer_epoch = epoch;
            // The certificate may have been deactivated since the last check.
            self.principal
                .check(&self.gw.identity, &self.gw.accounts)
                .map_err(|e| SessionError::Revoked(e.message))?;
            let a = self
                .principal
                .authorizer(&self.gw.identity, &self.client_id, &self.conn_facts())
                .map_err(|e| SessionError::server(e.message))?;
            self.authorizer = Some(a);
        }
        self.authorizer
            .as_ref()
            .ok_or_else(|| SessionError::server("no authorizer"))
    }

    /// What the transport and CONNECT tell policies about this connection.
    pub(crate) fn conn_facts(&self) -> shoal_services::identity::ConnFacts<'_> {
        shoal_services::identity::ConnFacts {
            source_ip: Some(self.transport.peer.ip()),
            secure_transport: self.transport.tls,
            domain_name: self.transport.server_name.as_deref(),
            persistent: self.expiry > 0,
            will_topic: self.will.as_ref().map(|w| &*w.msg.topic),
        }
    }

    /// Ends the connection from the server side: MQTT 5 clients are told why (§3.14).
    async fn end<W: AsyncWrite + Unpin>(&mut self, wr: &mut W, code: u8) -> SessionResult<()> {
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
    async fn on_packet(&mut self, p: Packet) -> SessionResult<Option<EndReason>> {
        match p {
            Packet::Publish(p) => return self.on_publish(p).await,
            // Rare and deep: boxed, so every idle connection's task stays small.
            Packet::Subscribe(s) => Box::pin(self.on_subscribe(s)).await?,
            Packet::Unsubscribe(u) => {
                self.log_filters(EventType::Unsubscribe, &u.filters, false);
                for f in &u.filters {
                    Box::pin(self.shard.unsubscribe(&self.client_id, self.conn, f)).await;
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
            Packet::PubRec(r) => self.received(r.pkid, r.reason)?,
            Packet::PubComp(c) => self.acknowledged(c.pkid)?,
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
                        return Err(SessionError::protocol(
                            "session expiry set on DISCONNECT of a clean session",
                        ));
                    }
                    self.disconnect_expiry = Some(e.min(MAX_SESSION_EXPIRY));
                }
                return Ok(Some(if d.reason == reason::DISCONNECT_WITH_WILL_MESSAGE {
                    EndReason::ClientInitiatedWithWill
                } else {
                    EndReason::ClientInitiated
                }));
            }
            other => {
                return Err(SessionError::protocol(format!(
                    "unexpected packet from a client: {other:?}"
                )))
            }
        }
        Ok(None)
    }
}

/// After a DISCONNECT that says why, the connection is closed for writing and what the client
/// still sends is read and dropped for a moment: closing with unread bytes would make the
/// kernel reset the connection, and a client still writing (a packet that was too large)
/// would lose the DISCONNECT with its reason code. Bounded in time and bytes.
async fn linger<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(rd: &mut R, wr: &mut W) {
    const LINGER: Duration = Duration::from_secs(1);
    const LINGER_BYTES: usize = 512 * 1024;
    let _ = tokio::time::timeout(LINGER, async {
        let _ = wr.shutdown().await;
        let mut sink = [0u8; 4096];
        let mut read = 0;
        while read < LINGER_BYTES {
            match rd.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

/// What a connection has once CONNACK is sent, for the rest of its life.
struct Live {
    rbuf: BytesMut,
    deliveries: mpsc::Receiver<Delivery>,
    controls: Arc<Control>,
    keep_alive: Option<Duration>,
    /// The CONNACK could not be queued: the connection ends at once.
    failed: Option<SessionError>,
}

/// The idle limit of a connection without keep-alive: in effect none (a century).
const NO_KEEP_ALIVE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

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

/// Reads until the first packet, which must be CONNECT (MQTT §3.1), within CONNECT_TIMEOUT.
pub(crate) async fn read_connect<R: AsyncRead + Unpin>(
    rd: &mut R,
    rbuf: &mut BytesMut,
) -> SessionResult<Connect> {
    tokio::time::timeout(CONNECT_TIMEOUT, read_connect_packet(rd, rbuf))
        .await
        .map_err(|_| SessionError::Io("no CONNECT in time".into()))?
}

async fn read_connect_packet<R: AsyncRead + Unpin>(
    rd: &mut R,
    rbuf: &mut BytesMut,
) -> SessionResult<Connect> {
    loop {
        if let Some(p) = shoal_mqtt::decode(rbuf, Protocol::V311, MAX_CONNECT)? {
            return match p {
                Packet::Connect(c) => Ok(c),
                other => Err(SessionError::protocol(format!(
                    "first packet is not CONNECT: {other:?}"
                ))),
            };
        }
        if rd.read_buf(rbuf).await? == 0 {
            return Err(SessionError::Io("closed before CONNECT".into()));
        }
    }
}

/// Answers a first packet that could not be read as CONNECT, when the protocol says to
/// (see `error::connect_refusal`), before the connection closes.
pub(crate) async fn refuse_unreadable_connect<W: AsyncWrite + Unpin>(
    wr: &mut W,
    e: &SessionError,
    rbuf: &[u8],
) {
    let SessionError::Decode(d) = e else { return };
    let Some((protocol, code)) = error::connect_refusal(d, error::connect_level(rbuf)) else {
        return;
    };
    let mut out = BytesMut::new();
    let ack = Packet::ConnAck(ConnAck {
        code,
        ..ConnAck::default()
    });
    if shoal_mqtt::encode(&ack, protocol, &mut out).is_ok() {
        let _ = wr.write_all(&out).await;
        let _ = wr.flush().await;
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
}
