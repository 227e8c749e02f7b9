//! The secure-tunneling proxy endpoint (L4 gateway): `wss://HOST:PORT/tunnel` on a listener of
//! its own (the API port authenticates a whole request before routing it and cannot hand a
//! socket over), TLS with Shoal's server certificate. A local proxy's handshake is checked
//! (`handshake.rs`) and its token claims its side of the tunnel through the tunnels service;
//! the upgraded WebSocket then runs in the same task (`session.rs`), relaying protobuf frames
//! (`frame.rs`) through the tunnel's relay (`relay.rs`). The relays are this node's; a
//! watcher follows the tunnel records' changes and closes every connection whose record no
//! longer names it (closed, deleted, rotated, or taken by a newer connection).
//!
//! It uses the tunnels service and the listener helper; it knows nothing of the store, HTTP
//! APIs or MQTT.

pub mod frame;
mod handshake;
mod kick;
mod relay;
mod session;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use relay::Relays;
use shoal_net::{CancellationToken, Conn, Listener, Served};
use shoal_services::tunnels::{AccessError, Claim};
use shoal_services::Tunnels;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// TLS and the HTTP request head must be done within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer per WebSocket, allocated up front: small, so idle tunnels cost little.
const READ_BUFFER: usize = 8 * 1024;

pub struct Gateway {
    tunnels: Arc<Tunnels>,
    relays: Relays,
    tls: Arc<rustls::ServerConfig>,
}

impl Gateway {
    /// The gateway, and its watcher of tunnel records (which ends with the store).
    pub fn new(tunnels: Arc<Tunnels>, tls: Arc<rustls::ServerConfig>) -> Arc<Gateway> {
        let gw = Arc::new(Gateway {
            tunnels: tunnels.clone(),
            relays: Relays::default(),
            tls,
        });
        tokio::spawn(watch(Arc::downgrade(&gw), tunnels.watch()));
        gw
    }

    /// Tunnels with a connection on this node.
    pub fn live_tunnels(&self) -> usize {
        self.relays.len()
    }
}

/// The listener's TLS: Shoal's server certificate, no client certificate, HTTP/1.1.
pub fn tls_config(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("server certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("server key: {e}"))?;
    // AES-128-GCM first, and the server's order decides: a tunnel carries bulk data through
    // two TLS legs, and AES-128 costs less per byte than AES-256 at no loss that matters.
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("server certificate: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg.ignore_client_order = true;
    Ok(Arc::new(cfg))
}

/// Serves the proxy endpoint on `listener` until `stop`.
pub fn serve(listener: Listener, gw: Arc<Gateway>, stop: CancellationToken) -> Served {
    listener.serve(stop, move |tcp, conn| {
        let gw = gw.clone();
        async move { connection(gw, tcp, conn).await }
    })
}

/// What the request handler hands the connection's task: the side it claimed (written by the
/// claim's own task, so it lands even if hyper drops the handler because the client hung up)
/// and, once the 101 is answered, the upgrade.
#[derive(Default)]
struct Pending {
    claim: Option<(Claim, u8)>,
    upgrade: Option<hyper::upgrade::OnUpgrade>,
}

#[derive(Default)]
struct Handshake {
    pending: Mutex<Pending>,
    /// Held while a claim is being committed: the connection's task waits for it before it
    /// looks at `pending`.
    claiming: Arc<tokio::sync::Mutex<()>>,
}

impl Handshake {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn connection(gw: Arc<Gateway>, tcp: TcpStream, conn: Conn) {
    let acceptor = tokio_rustls::TlsAcceptor::from(gw.tls.clone());
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        _ => return,
    };
    let hs = Arc::new(Handshake::default());
    let service = {
        let (gw, hs) = (gw.clone(), hs.clone());
        hyper::service::service_fn(move |req| {
            let (gw, hs) = (gw.clone(), hs.clone());
            async move { Ok::<_, std::convert::Infallible>(answer(gw, req, hs).await) }
        })
    };
    // One request per connection (a refusal says `Connection: close`) and one deadline for all
    // of it, so no client holds a slot by sending requests slowly or one after another.
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .max_buf_size(8192)
        .serve_connection(TokioIo::new(tls), service)
        .with_upgrades();
    let stopped = tokio::select! {
        _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, http) => false,
        () = conn.stop().cancelled() => true,
    };
    let _claimed = hs.claiming.lock().await;
    let (claim, upgrade) = {
        let mut p = hs.pending();
        (p.claim.take(), p.upgrade.take())
    };
    let Some((claim, version)) = claim else {
        return;
    };
    let upgraded = match upgrade {
        Some(u) if !stopped => u.await.ok(),
        _ => None,
    };
    let Some(upgraded) = upgraded else {
        // Claimed, but the proxy never got (or took) the 101: the side is let go.
        gw.tunnels.disconnect(&claim).await;
        return;
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(session::MAX_WS_MESSAGE))
        .max_frame_size(Some(session::MAX_WS_MESSAGE));
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    session::run(&gw, ws, claim, version, conn.stop()).await;
}

fn refuse(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(message.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    r
}

async fn answer(
    gw: Arc<Gateway>,
    mut req: Request<Incoming>,
    hs: Arc<Handshake>,
) -> Response<Full<Bytes>> {
    let asked = match handshake::check(
        req.method(),
        req.uri().path(),
        req.uri().query(),
        req.headers(),
    ) {
        Ok(a) => a,
        Err((status, message)) => return refuse(status, message),
    };
    let held = hs.claiming.clone().lock_owned().await;
    let claimed = tokio::spawn({
        let (gw, hs) = (gw.clone(), hs.clone());
        let (token, mode, client_token, version) = (
            asked.token.clone(),
            asked.mode,
            asked.client_token.clone(),
            asked.version,
        );
        async move {
            let r = gw
                .tunnels
                .connect(&token, mode, client_token.as_deref())
                .await;
            if let Ok(c) = &r {
                hs.pending().claim = Some((c.clone(), version));
            }
            drop(held);
            r
        }
    })
    .await;
    let claim = match claimed {
        Ok(Ok(c)) => c,
        Ok(Err(AccessError::InvalidToken)) => {
            return refuse(StatusCode::UNAUTHORIZED, "Invalid access token")
        }
        // AWS's texts (iot-secure-tunneling-troubleshooting.html).
        Ok(Err(AccessError::TokenUsed)) if asked.client_token.is_some() => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "Invalid client token: The provided client token does not match the client token that was previously set.",
            )
        }
        Ok(Err(AccessError::TokenUsed)) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "Invalid access token: The access token was previously used and cannot be used again",
            )
        }
        Ok(Err(AccessError::WrongMode)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "The access token is not for this local-proxy-mode",
            )
        }
        Ok(Err(AccessError::Unavailable)) | Err(_) => {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "Try again")
        }
    };
    hs.pending().upgrade = Some(hyper::upgrade::on(&mut req));
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(asked.key.as_bytes());
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("websocket"),
    );
    h.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = http::HeaderValue::from_str(&accept) {
        h.insert(http::header::SEC_WEBSOCKET_ACCEPT, v);
    }
    h.insert(
        http::header::SEC_WEBSOCKET_PROTOCOL,
        http::HeaderValue::from_static(asked.subprotocol),
    );
    if let Ok(v) = http::HeaderValue::from_str(&claim.tunnel) {
        h.insert("channel-id", v);
    }
    r
}

/// Ends the connections whose records stopped naming them.
async fn watch(gw: Weak<Gateway>, mut w: shoal_services::tunnels::TunnelWatch) {
    while let Ok(changed) = w.next().await {
        let Some(gw) = gw.upgrade() else { return };
        let relays = match changed {
            Some(ids) => ids
                .iter()
                .filter_map(|(part, id)| gw.relays.find(part, id))
                .collect(),
            None => gw.relays.all(),
        };
        for r in relays {
            for claim in r.claims() {
                if let Some(why) = relay::close_for(gw.tunnels.standing(&claim)) {
                    r.kick(&claim, why);
                }
            }
            let key = r.key.clone();
            drop(r);
            gw.relays.forget(&key);
        }
    }
}
