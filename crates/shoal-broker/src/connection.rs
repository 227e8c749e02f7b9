//! The device listeners' transports, each ending in an MQTT session with a principal:
//! - TLS with a client certificate: the certificate must be registered and ACTIVE
//!   (https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html);
//! - TLS without one: MQTT over WebSocket on `/mqtt`, the upgrade request presigned with SigV4
//!   for the service `iotdevicegateway` by one of the account's access keys
//!   (https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html);
//! - plain TCP, only when configured: the CONNECT's user name and password are one of the
//!   account's access key ids and its secret.

use crate::principal::Principal;
use crate::router::ConnId;
use crate::session::{self, Session};
use crate::websocket;
use crate::Gateway;
use bytes::BytesMut;
use shoal_domain::{AccountId, Partition};
use shoal_mqtt::{reason, return_code, ConnAck, Packet, Protocol};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where a connection comes from and how, for policy conditions (`aws:SourceIp`,
/// `aws:SecureTransport`, `iot:DomainName`) and lifecycle events.
#[derive(Debug, Clone)]
pub struct Transport {
    pub peer: std::net::SocketAddr,
    pub tls: bool,
    /// The TLS server name the client asked for (SNI).
    pub server_name: Option<String>,
}

pub async fn handle_tls(gw: Arc<Gateway>, tcp: TcpStream, net: shoal_net::Conn, conn: ConnId) {
    // The handshake's and the WebSocket path's futures are boxed: inline they would size every
    // idle connection's task for their largest state.
    let handshake = Box::pin(tokio::time::timeout(
        session::CONNECT_TIMEOUT,
        gw.accept_tls(tcp, &gw.tls),
    ));
    let tls = match handshake.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return tracing::debug!(conn, error = %e, "tls handshake failed"),
        Err(_) => return tracing::debug!(conn, "tls handshake timed out"),
    };
    handle_established(gw, tls, net, conn).await
}

/// MQTT on a TLS connection whose handshake is done: a device with its client certificate,
/// or MQTT over WebSocket without one.
pub async fn handle_established(
    gw: Arc<Gateway>,
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    net: shoal_net::Conn,
    conn: ConnId,
) {
    let transport = Transport {
        peer: net.peer(),
        tls: true,
        server_name: tls.get_ref().1.server_name().map(str::to_string),
    };
    let authenticated = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
        Some(der) => gw.authenticate(der, transport.server_name.as_deref()),
        None => return Box::pin(without_certificate(gw, tls, net, conn, transport)).await,
    };
    let device = match authenticated {
        Ok(d) => d,
        Err(e) => {
            tracing::info!(conn, reason = %e.message, "device certificate refused");
            if let Some(chain) = tls.get_ref().1.peer_certificates() {
                gw.just_in_time(chain, transport.server_name.as_deref())
                    .await;
            }
            return;
        }
    };
    Session::new(gw, Principal::Device(device), conn, transport)
        .run(tls, None)
        .await;
    drop(net);
}

/// A TLS connection without a client certificate: a WebSocket upgrade (`GET`), or an MQTT
/// CONNECT for a custom authorizer.
async fn without_certificate(
    gw: Arc<Gateway>,
    mut tls: tokio_rustls::server::TlsStream<TcpStream>,
    net: shoal_net::Conn,
    conn: ConnId,
    transport: Transport,
) {
    let mut rbuf = BytesMut::with_capacity(4096);
    match tokio::time::timeout(session::CONNECT_TIMEOUT, tls.read_buf(&mut rbuf)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return,
    }
    if rbuf.starts_with(b"G") {
        let io = crate::rewind::Rewind::new(rbuf.freeze(), tls);
        return handle_websocket(gw, io, conn, transport).await;
    }
    let connect = match session::read_connect(&mut tls, &mut rbuf).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(conn, error = %e, "no connect");
            session::refuse_unreadable_connect(&mut tls, &e, &rbuf).await;
            return;
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    let principal = match gw
        .custom_login(&connect, transport.server_name.as_deref(), id)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(conn, reason = %e.message, "custom authentication refused");
            // MQTT 3.1.1 §3.2.2.3 return code 5, MQTT 5 0x87: not authorized.
            let code = match connect.protocol {
                Protocol::V311 => return_code::NOT_AUTHORIZED,
                Protocol::V5 => reason::NOT_AUTHORIZED,
            };
            refuse(&mut tls, connect.protocol, code).await;
            return;
        }
    };
    Session::new(gw, principal, conn, transport)
        .run(tls, Some(Box::new((connect, rbuf))))
        .await;
    drop(net);
}

/// Answers a CONNECT with a refusing CONNACK.
async fn refuse<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, protocol: Protocol, code: u8) {
    let mut out = BytesMut::new();
    let ack = Packet::ConnAck(ConnAck {
        code,
        ..ConnAck::default()
    });
    if shoal_mqtt::encode(&ack, protocol, &mut out).is_ok() {
        let _ = w.write_all(&out).await;
        let _ = w.flush().await;
    }
}

async fn handle_websocket<S>(gw: Arc<Gateway>, io: S, conn: ConnId, transport: Transport)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let now = gw.messaging.now() / 1000;
    let mut caller = None;
    let mut custom = None;
    let upgrade = websocket::accept(io, |up| {
        // Without SigV4 in the query, a custom authorizer may decide (after the upgrade: its
        // function is asked asynchronously); with none to ask, the SigV4 check refuses it.
        if !up.query.contains("X-Amz-Signature")
            && gw.custom_auth_possible(up, transport.server_name.as_deref())
        {
            custom = Some(up.clone());
            return Ok(());
        }
        let c = websocket::verify_presigned(
            up,
            |key| {
                let k = gw.accounts.lookup(key).ok()??;
                Some(k.secret_access_key)
            },
            now,
        )?;
        if c.region != gw.region.as_str() {
            return Err((403, format!("this endpoint serves region {}", gw.region)));
        }
        caller = Some(c);
        Ok(())
    });
    let ws = match tokio::time::timeout(session::CONNECT_TIMEOUT, upgrade).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return tracing::info!(conn, error = %e, "websocket upgrade refused"),
        Err(_) => return tracing::debug!(conn, "websocket upgrade timed out"),
    };
    if let Some(up) = custom {
        let id = uuid::Uuid::new_v4().to_string();
        let principal = match gw
            .custom_login_websocket(&up, transport.server_name.as_deref(), id)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                return tracing::info!(conn, reason = %e.message, "custom authentication refused")
            }
        };
        return Session::new(gw, principal, conn, transport)
            .run(ws, None)
            .await;
    }
    let Some(principal) = caller.and_then(|c| {
        let key = gw.accounts.lookup(&c.access_key_id).ok()??;
        Some(Principal::Account {
            partition: Partition::new(AccountId::parse(&key.account).ok()?, gw.region.clone()),
            access_key_id: c.access_key_id,
        })
    }) else {
        return;
    };
    Session::new(gw, principal, conn, transport)
        .run(ws, None)
        .await;
}

pub async fn handle_plain(
    gw: Arc<Gateway>,
    mut tcp: TcpStream,
    net: shoal_net::Conn,
    conn: ConnId,
) {
    let transport = Transport {
        peer: net.peer(),
        tls: false,
        server_name: None,
    };
    // Boxed: what reading the CONNECT holds is freed before the session starts, so it does
    // not size every idle connection's task.
    let Some((principal, first)) = Box::pin(plain_login(&gw, &mut tcp, conn)).await else {
        return;
    };
    Session::new(gw, principal, conn, transport)
        .run(tcp, Some(first))
        .await;
    drop(net);
}

/// Reads the CONNECT of a plain-TCP connection and finds the account whose access key it
/// names; a wrong key gets CONNACK 4 / 0x86.
async fn plain_login(
    gw: &Gateway,
    tcp: &mut TcpStream,
    conn: ConnId,
) -> Option<(Principal, Box<(shoal_mqtt::Connect, BytesMut)>)> {
    let mut rbuf = BytesMut::with_capacity(4096);
    let connect = match session::read_connect(tcp, &mut rbuf).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(conn, error = %e, "no connect");
            session::refuse_unreadable_connect(tcp, &e, &rbuf).await;
            return None;
        }
    };
    let principal = connect
        .username
        .as_deref()
        .zip(connect.password.as_deref())
        .and_then(|(user, pass)| account_principal(gw, user, pass));
    let Some(principal) = principal else {
        tracing::info!(conn, "plain connection refused: no valid access key");
        let code = match connect.protocol {
            Protocol::V311 => return_code::BAD_USER_NAME_OR_PASSWORD,
            Protocol::V5 => reason::BAD_USER_NAME_OR_PASSWORD,
        };
        refuse(tcp, connect.protocol, code).await;
        return None;
    };
    Some((principal, Box::new((connect, rbuf))))
}

/// The account whose access key `user` is, if `password` is its secret.
fn account_principal(gw: &Gateway, user: &str, password: &[u8]) -> Option<Principal> {
    let key = gw.accounts.lookup(user).ok()??;
    if !constant_time_eq(key.secret_access_key.as_bytes(), password) {
        return None;
    }
    let account = AccountId::parse(&key.account).ok()?;
    Some(Principal::Account {
        partition: Partition::new(account, gw.region.clone()),
        access_key_id: user.to_string(),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
