//! The MQTT device gateway (L4): device listeners (mutual TLS, and plain TCP when configured),
//! the device's identity taken from its registered client certificate, IoT policies checked on
//! CONNECT, PUBLISH, SUBSCRIBE and every delivery, sessions (persistent ones included) and the
//! routing of messages between connections, retained messages, wills, lifecycle events and
//! device shadow requests. It
//! calls services and the pure MQTT codec; it must not reach a store backend or the HTTP
//! gateway (messages published over HTTP arrive on the messaging service's bus).

mod connection;
mod custom_auth;
mod delivery;
mod lifecycle;
mod live;
mod message;
mod persister;
mod principal;
pub mod profile;
mod rewind;
mod router;
mod session;
mod subtree;
pub mod tls;
mod websocket;

use message::Msg;
pub use profile::{Limits, Profile, ProfileKind};
use shoal_domain::{AccountId, Clock, Partition, Region, ServiceError};
use shoal_net::{CancellationToken, Listener, Served};
use shoal_services::identity::{Device, IdentityEvent};
use shoal_services::messaging::Inbound;
use shoal_services::{Accounts, Identity, Messaging, ReservedTopics};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What a device endpoint is: the region it serves (one, as an AWS IoT endpoint), its TLS
/// server configuration, and the MQTT it speaks.
pub struct Endpoint {
    pub region: Region,
    pub tls: tls::TlsConfigs,
    pub profile: Profile,
    /// Custom authorizers, for devices that connect without a certificate.
    pub authorizers: Arc<shoal_services::authorizers::Authorizers>,
    /// Domain configurations: what a TLS server name asks of a connection.
    pub domains: Arc<shoal_services::domains::Domains>,
    /// Just-in-time registration and provisioning of unknown device certificates.
    pub provisioning: Arc<shoal_services::provisioning::Provisioning>,
    /// Device logs: each connection's gate and the records it writes.
    pub logs: Arc<shoal_services::DeviceLogs>,
    /// The rules engine, which sees every message routed.
    pub rules: Option<Arc<shoal_services::Rules>>,
}

/// What the gateway needs from the rest of the process.
pub struct Gateway {
    identity: Arc<Identity>,
    accounts: Arc<Accounts>,
    messaging: Arc<Messaging>,
    /// Device requests on reserved topics (shadows...): the services' one port.
    reserved: Arc<ReservedTopics>,
    /// A listener serves one region, as an AWS IoT endpoint does.
    region: Region,
    /// AWS IoT Core's MQTT, or the standard one.
    profile: Profile,
    tls: tls::TlsConfigs,
    authorizers: Arc<shoal_services::authorizers::Authorizers>,
    domains: Arc<shoal_services::domains::Domains>,
    provisioning: Arc<shoal_services::provisioning::Provisioning>,
    logs: Arc<shoal_services::DeviceLogs>,
    router: router::Router,
    persister: persister::Persister,
    next_conn: AtomicU64,
    /// The last connection version given out (see `next_version`).
    last_version: AtomicU64,
}

impl Gateway {
    /// Must be called inside a tokio runtime: it starts the persister, a router shard for each
    /// partition with persistent sessions in the store, and the task that takes HTTP publishes.
    pub fn new(
        identity: Arc<Identity>,
        accounts: Arc<Accounts>,
        messaging: Arc<Messaging>,
        reserved: Arc<ReservedTopics>,
        clock: Arc<dyn Clock>,
        endpoint: Endpoint,
    ) -> Result<Arc<Gateway>, ServiceError> {
        let Endpoint {
            region,
            tls,
            profile,
            authorizers,
            domains,
            provisioning,
            logs,
            rules,
        } = endpoint;
        let events = identity.events();
        let restored = restore(&messaging, &accounts, &region)?;
        let persister = persister::Persister::spawn(messaging.clone());
        let router = router::Router::new(persister.clone(), clock.clone(), restored, rules);
        messaging.set_live(Arc::new(live::Live {
            router: router.clone(),
            region: region.clone(),
            clock,
        }));
        let bus = messaging.take_bus();
        let gw = Arc::new(Gateway {
            identity,
            accounts,
            messaging,
            reserved,
            region,
            profile,
            tls,
            authorizers,
            domains,
            provisioning,
            logs,
            router,
            persister,
            next_conn: AtomicU64::new(1),
            last_version: AtomicU64::new(0),
        });
        tokio::spawn(follow_identity(Arc::downgrade(&gw), events));
        if let Some(bus) = bus {
            tokio::spawn(follow_bus(
                gw.router.clone(),
                gw.persister.clone(),
                gw.region.clone(),
                bus,
            ));
        }
        Ok(gw)
    }

    /// The device a client certificate is, in the account the TLS server name names (an
    /// account endpoint) or else the one account that holds it.
    /// A server name that is a created domain configuration's names its account, and a
    /// DISABLED configuration refuses the device ("devices connected to that domain receive an
    /// authentication error").
    fn authenticate(&self, der: &[u8], server_name: Option<&str>) -> Result<Device, ServiceError> {
        let named = self.named_account(server_name)?;
        self.identity
            .authenticate_device(&self.region, der, named.as_ref())
    }

    /// The account a TLS server name names (an account endpoint or a domain configuration's
    /// name), refusing a DISABLED configuration.
    fn named_account(
        &self,
        server_name: Option<&str>,
    ) -> Result<Option<shoal_domain::AccountId>, ServiceError> {
        Ok(match server_name {
            Some(host) => match self.domains.resolve(host)? {
                Some((part, config)) => {
                    if let Some(e) = config.refuses() {
                        return Err(e);
                    }
                    Some(part.account)
                }
                // An account endpoint: its `iot:Data-ATS` configuration may be DISABLED.
                None => {
                    let account = self.accounts.account_of_endpoint(host)?;
                    if let Some(a) = &account {
                        let part = Partition::new(a.clone(), self.region.clone());
                        if let Some(e) = self.domains.data_endpoint(&part)?.refuses() {
                            return Err(e);
                        }
                    }
                    account
                }
            },
            None => None,
        })
    }

    /// A refused device certificate may be one a registered CA signed for just-in-time
    /// registration or provisioning: the device's first connection registers it (and is still
    /// refused, as on AWS). At most the first few certificates of the chain are looked at.
    pub(crate) async fn just_in_time(
        &self,
        chain: &[rustls_pki_types::CertificateDer<'_>],
        server_name: Option<&str>,
    ) {
        let Ok(named) = self.named_account(server_name) else {
            return;
        };
        let chain: Vec<Vec<u8>> = chain.iter().take(4).map(|c| c.to_vec()).collect();
        match self
            .provisioning
            .just_in_time(&self.region, &chain, named.as_ref())
            .await
        {
            Ok(shoal_services::provisioning::JustInTime::Nothing) => {}
            Ok(done) => tracing::info!(outcome = ?done, "just-in-time registration"),
            Err(e) => tracing::info!(reason = %e.message, "just-in-time registration refused"),
        }
    }

    /// The TLS handshake of a device connection: the ClientHello's server name picks the
    /// configuration (a domain configuration's security policy may ask for TLS 1.3 only).
    pub async fn accept_tls(
        &self,
        tcp: tokio::net::TcpStream,
        configs: &tls::TlsConfigs,
    ) -> std::io::Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
        let start =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
        let name = start.client_hello().server_name().map(str::to_string);
        let policy = self.security_policy(name.as_deref());
        tracing::debug!(server_name = ?name, policy = ?policy, "tls handshake");
        let config = configs.for_policy(policy.as_deref());
        start.into_stream(config).await
    }

    /// The TLS security policy of the domain configuration a server name picks, if any.
    fn security_policy(&self, server_name: Option<&str>) -> Option<String> {
        let host = server_name?;
        if let Ok(Some((_, config))) = self.domains.resolve(host) {
            return Some(config.security_policy);
        }
        let account = self.accounts.account_of_endpoint(host).ok()??;
        let part = Partition::new(account, self.region.clone());
        self.domains
            .data_endpoint(&part)
            .ok()
            .map(|c| c.security_policy)
    }

    /// The `versionNumber` of a new connection: AWS says only that it increases with each
    /// connection of a client id
    /// (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html). The
    /// time in microseconds, kept strictly increasing within the process, increases across
    /// connections and restarts without reading the client's previous record on every
    /// CONNECT.
    fn next_version(&self, now_ms: i64) -> u64 {
        let floor = u64::try_from(now_ms).unwrap_or(0).saturating_mul(1000);
        let prev = self
            .last_version
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_add(1).max(floor))
            })
            .unwrap_or(0);
        prev.saturating_add(1).max(floor)
    }

    /// At shutdown, once the listeners stopped accepting: every MQTT session is told to end
    /// (DISCONNECT 0x8B); the listeners' drain then waits for them.
    pub async fn shutdown(&self) {
        self.router.shutdown().await;
    }

    /// At shutdown, once the listeners have drained: returns when every shard has handled what
    /// the ended connections sent it and everything is durable.
    pub async fn flush(&self) {
        self.router.flush().await;
        self.persister.flush().await;
    }
}

/// The persistent sessions of the listener's region, per partition, with how many messages
/// each has queued and where the numbering continues: read from the keys alone, no message is
/// decoded at start-up.
fn restore(
    messaging: &Messaging,
    accounts: &Accounts,
    region: &Region,
) -> Result<HashMap<Partition, router::Restored>, ServiceError> {
    let mut out = HashMap::new();
    for account in accounts.list_accounts()? {
        let part = Partition::new(AccountId::parse(&account)?, region.clone());
        let sessions = messaging.sessions(&part)?;
        if sessions.is_empty() {
            continue;
        }
        let key = part.key();
        let mut restored = router::Restored {
            sessions: Vec::with_capacity(sessions.len()),
            last_seq: 0,
        };
        for s in sessions {
            let queued = messaging.queue_len(&key, &s.client_id, router::MAX_QUEUED as usize)?;
            restored.last_seq = restored
                .last_seq
                .max(messaging.last_sequence(&key, &s.client_id)?);
            restored.sessions.push((s, queued as u32));
        }
        out.insert(part, restored);
    }
    Ok(out)
}

/// Serves MQTT over TLS on `listener` until `stop` is cancelled; `Gateway::shutdown` then ends
/// the sessions (DISCONNECT 0x8B in MQTT 5) and the returned handle drains them.
pub fn serve(listener: Listener, gw: Arc<Gateway>, stop: CancellationToken) -> Served {
    listener.serve(stop, move |tcp, conn| {
        let id = gw.next_conn.fetch_add(1, Ordering::Relaxed);
        connection::handle_tls(gw.clone(), tcp, conn, id)
    })
}

/// MQTT on a TLS connection another listener accepted and handed over (by ALPN,
/// `x-amzn-mqtt-ca`, on AWS's port 443).
pub async fn serve_tls_stream(
    gw: Arc<Gateway>,
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    conn: shoal_net::Conn,
) {
    let id = gw.next_conn.fetch_add(1, Ordering::Relaxed);
    connection::handle_established(gw, tls, conn, id).await
}

/// Serves MQTT over plain TCP (access key as user name, secret as password): for trusted
/// networks and benchmarks only, and only when configured.
pub fn serve_plain(listener: Listener, gw: Arc<Gateway>, stop: CancellationToken) -> Served {
    listener.serve(stop, move |tcp, conn| {
        let id = gw.next_conn.fetch_add(1, Ordering::Relaxed);
        connection::handle_plain(gw.clone(), tcp, conn, id)
    })
}

/// Routes messages published through the HTTP API (iot-data Publish), answering each caller
/// once what must be durable is. Each message goes to its own partition's shard. A message for
/// another region than this broker's has no subscriber here (devices connect to their
/// region's endpoint): only its retained copy is stored, and no shard is started for it, so
/// requests signed for made-up regions cannot make the broker grow.
async fn follow_bus(
    router: router::Router,
    persister: persister::Persister,
    region: Region,
    mut bus: tokio::sync::mpsc::Receiver<Inbound>,
) {
    use shoal_services::messaging::Write;
    while let Some(Inbound {
        partition,
        message,
        retain,
        done,
        hops,
        evaluated,
    }) = bus.recv().await
    {
        if partition.region != region {
            let then: persister::Then = Box::new(move |ok| {
                if ok {
                    let _ = done.send(());
                }
            });
            let writes = if retain {
                vec![(partition.key(), Write::Retain(message))]
            } else {
                Vec::new()
            };
            persister.submit(writes, Some(then)).await;
            continue;
        }
        // A sender that does not wait (a rule's republish) needs no word of the write.
        let durable = (retain || message.qos > 0) && !done.is_closed();
        let mut msg = Msg::from_stored(message);
        msg.hops = hops;
        msg.evaluated = evaluated;
        let mut sent = Box::pin(router.shard(&partition).publish(msg, retain, durable));
        // Most publishes are handed over at once (a rule's republish, whose sender does not
        // wait, nearly always): only one that must wait for room or for the store gets a task.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(sent.as_mut(), &mut cx) {
            std::task::Poll::Ready(ok) => {
                if ok {
                    let _ = done.send(());
                }
            }
            std::task::Poll::Pending => {
                tokio::spawn(async move {
                    if sent.await {
                        let _ = done.send(());
                    }
                });
            }
        }
    }
}

/// Ends the live connections of a certificate that may no longer connect as soon as the change
/// is committed (AWS: revocation disconnects), even when they are idle; other changes reach each
/// connection through its partition's authorization epoch on its next packet. Events missed
/// because this fell behind are not guessed at: every connection checks itself again.
async fn follow_identity(
    gw: std::sync::Weak<Gateway>,
    mut events: tokio::sync::broadcast::Receiver<IdentityEvent>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let event = events.recv().await;
        let Some(gw) = gw.upgrade() else { return };
        match event {
            Ok(IdentityEvent::Certificate {
                partition,
                id,
                active: false,
            }) if partition.region == gw.region => {
                gw.router.shard(&partition).revoke(&id).await;
            }
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "identity events lagged; every connection re-checks"
                );
                gw.router.recheck_all().await;
            }
            Err(RecvError::Closed) => return,
        }
    }
}
