//! The MQTT device gateway (L4): device listeners over mutual TLS, the device's identity taken
//! from its registered client certificate, IoT policies checked on CONNECT, PUBLISH, SUBSCRIBE
//! and every delivery, and the routing of messages between connections. It calls services and
//! the pure MQTT codec; it must not reach a store backend or the HTTP gateway.

mod connection;
mod router;
pub mod tls;

use shoal_domain::{Region, ServiceError};
use shoal_services::identity::{Device, IdentityEvent};
use shoal_services::{Accounts, Identity};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the gateway needs from the rest of the process.
pub struct Gateway {
    identity: Arc<Identity>,
    accounts: Arc<Accounts>,
    /// A listener serves one region, as an AWS IoT endpoint does.
    region: Region,
    tls: tokio_rustls::TlsAcceptor,
    router: router::Router,
    next_conn: AtomicU64,
}

impl Gateway {
    /// Must be called inside a tokio runtime: it starts the router task.
    pub fn new(
        identity: Arc<Identity>,
        accounts: Arc<Accounts>,
        region: Region,
        tls: Arc<rustls::ServerConfig>,
    ) -> Arc<Gateway> {
        let events = identity.events();
        let gw = Arc::new(Gateway {
            identity,
            accounts,
            region,
            tls: tokio_rustls::TlsAcceptor::from(tls),
            router: router::Router::spawn(),
            next_conn: AtomicU64::new(1),
        });
        tokio::spawn(follow_identity(Arc::downgrade(&gw), events));
        gw
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
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let conn = gw.next_conn.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(connection::handle(gw.clone(), tcp, conn));
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
