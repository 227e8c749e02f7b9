//! The MQTT device gateway (L4): device listeners (mutual TLS, and plain TCP when configured),
//! the device's identity taken from its registered client certificate, IoT policies checked on
//! CONNECT, PUBLISH, SUBSCRIBE and every delivery, sessions (persistent ones included) and the
//! routing of messages between connections, retained messages, wills, lifecycle events and
//! device shadow requests. It
//! calls services and the pure MQTT codec; it must not reach a store backend or the HTTP
//! gateway (messages published over HTTP arrive on the messaging service's bus).

mod connection;
mod delivery;
mod lifecycle;
mod message;
mod persister;
mod principal;
mod router;
mod session;
mod subtree;
pub mod tls;
mod websocket;

use message::Msg;
use shoal_domain::{Clock, Region, ServiceError};
use shoal_services::identity::{Device, IdentityEvent};
use shoal_services::messaging::Inbound;
use shoal_services::{Accounts, Identity, Messaging, Shadows};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the gateway needs from the rest of the process.
pub struct Gateway {
    identity: Arc<Identity>,
    accounts: Arc<Accounts>,
    messaging: Arc<Messaging>,
    shadows: Arc<Shadows>,
    /// A listener serves one region, as an AWS IoT endpoint does.
    region: Region,
    tls: tokio_rustls::TlsAcceptor,
    router: router::Router,
    persister: persister::Persister,
    next_conn: AtomicU64,
}

impl Gateway {
    /// Must be called inside a tokio runtime: it starts the router, the persister and the task
    /// that takes HTTP publishes, after loading the persistent sessions from the store.
    pub fn new(
        identity: Arc<Identity>,
        accounts: Arc<Accounts>,
        messaging: Arc<Messaging>,
        shadows: Arc<Shadows>,
        clock: Arc<dyn Clock>,
        region: Region,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<Arc<Gateway>, ServiceError> {
        let events = identity.events();
        let sessions = messaging.sessions(&accounts.list_accounts()?, &region)?;
        let last_seq = messaging.last_sequence(&sessions)?;
        let persister = persister::Persister::spawn(messaging.clone());
        let router = router::Router::spawn(persister.clone(), clock, sessions, last_seq);
        let bus = messaging.take_bus();
        let gw = Arc::new(Gateway {
            identity,
            accounts,
            messaging,
            shadows,
            region,
            tls: tokio_rustls::TlsAcceptor::from(tls),
            router,
            persister,
            next_conn: AtomicU64::new(1),
        });
        tokio::spawn(follow_identity(Arc::downgrade(&gw), events));
        if let Some(bus) = bus {
            tokio::spawn(follow_bus(gw.router.clone(), bus));
        }
        Ok(gw)
    }

    /// Moves whenever certificates, policies or attachments change; a connection re-checks its
    /// certificate and rebuilds its authorizer when it moved since its last check.
    fn policy_epoch(&self) -> u64 {
        self.identity.epoch()
    }

    fn authenticate(&self, der: &[u8]) -> Result<Device, ServiceError> {
        let accounts = self.accounts.list_accounts()?;
        self.identity
            .authenticate_device(&accounts, &self.region, der)
    }
}

/// Serves MQTT over TLS on `listener` until `shutdown` resolves; then stops accepting.
pub async fn serve(listener: TcpListener, gw: Arc<Gateway>, shutdown: impl Future<Output = ()>) {
    accept_loop(listener, gw, shutdown, false).await
}

/// Serves MQTT over plain TCP (access key as user name, secret as password): for trusted
/// networks and benchmarks only, and only when configured.
pub async fn serve_plain(
    listener: TcpListener,
    gw: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
) {
    accept_loop(listener, gw, shutdown, true).await
}

async fn accept_loop(
    listener: TcpListener,
    gw: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
    plain: bool,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let conn = gw.next_conn.fetch_add(1, Ordering::Relaxed);
                    if plain {
                        tokio::spawn(connection::handle_plain(gw.clone(), tcp, conn));
                    } else {
                        tokio::spawn(connection::handle_tls(gw.clone(), tcp, conn));
                    }
                }
                Err(e) => {
                    // Running out of file descriptors must not end the listener.
                    tracing::warn!(error = %e, "mqtt accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
}

/// Routes messages published through the HTTP API (iot-data Publish), answering each caller
/// once what must be durable is.
async fn follow_bus(router: router::Router, mut bus: tokio::sync::mpsc::Receiver<Inbound>) {
    while let Some(Inbound {
        partition,
        message,
        retain,
        done,
    }) = bus.recv().await
    {
        let durable = retain || message.qos > 0;
        let msg = Msg::from_stored(message);
        let sent = router.publish(&Arc::new(partition), msg, retain, durable);
        tokio::spawn(async move {
            if sent.await {
                let _ = done.send(());
            }
        });
    }
}

/// Ends the live connections of a certificate that may no longer connect as soon as the change
/// is committed (AWS: revocation disconnects), even when they are idle; other changes reach each
/// connection through the identity epoch on its next packet.
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
                gw.router.revoke(partition.account.as_str(), &id).await;
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}
