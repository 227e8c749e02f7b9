//! A proxy's connection to the tunneling endpoint: TLS (Shoal's CA trusted), then the
//! WebSocket handshake the guides describe (`GET /tunnel?local-proxy-mode=...`, the
//! `access-token` header, an optional `client-token`, the subprotocol), then messages.

use crate::message::{Msg, Reader};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

pub const V3: &str = "aws.iot.securetunneling-3.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Source,
    Destination,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Source => "source",
            Mode::Destination => "destination",
        }
    }
}

/// Where the endpoint is and whom to trust.
#[derive(Clone)]
pub struct Endpoint {
    /// `HOST:PORT`.
    pub addr: String,
    pub host: String,
    pub tls: Arc<rustls::ClientConfig>,
}

impl Endpoint {
    /// `addr` is `HOST:PORT`; `ca_pem` the CA that signed the endpoint's certificate.
    pub fn new(addr: &str, ca_pem: &str) -> Result<Endpoint, String> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::CertificateDer;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots
                .add(c.map_err(|e| format!("CA: {e}"))?)
                .map_err(|e| format!("CA: {e}"))?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let host = addr
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(addr)
            .to_string();
        Ok(Endpoint {
            addr: addr.to_string(),
            host,
            tls: Arc::new(tls),
        })
    }
}

/// ring's suites with AES-128-GCM first: as safe, and cheaper per byte than AES-256.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    Arc::new(p)
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    pub token: String,
    pub client_token: Option<String>,
    /// Offered subprotocols, in order.
    pub subprotocols: Vec<String>,
}

impl Options {
    pub fn new(mode: Mode, token: &str) -> Options {
        Options {
            mode,
            token: token.to_string(),
            client_token: None,
            subprotocols: vec![V3.to_string()],
        }
    }
}

#[derive(Debug)]
pub enum Error {
    /// The endpoint answered the upgrade with this status and body.
    Refused(u16, String),
    Other(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Refused(s, b) => write!(f, "refused with {s}: {b}"),
            Error::Other(e) => f.write_str(e),
        }
    }
}

pub type Ws = WebSocketStream<TlsStream<TcpStream>>;

pub struct Conn {
    pub ws: Ws,
    /// The subprotocol the endpoint chose.
    pub subprotocol: Option<String>,
    pub(crate) reader: Reader,
    pub(crate) pending: VecDeque<Msg>,
    /// The close frame the endpoint sent, once it did.
    pub close: Option<CloseFrame>,
}

/// How often a proxy pings: the endpoint lets a silent connection go.
pub const PING_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

/// A ping with the time in milliseconds, as AWS's local proxy sends them.
pub fn ping() -> WsMessage {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    WsMessage::Ping(now.to_string().into_bytes().into())
}

pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(131_076))
        .max_frame_size(Some(131_076))
}

pub async fn connect(ep: &Endpoint, o: &Options) -> Result<Conn, Error> {
    let tcp = TcpStream::connect(&ep.addr)
        .await
        .map_err(|e| Error::Other(format!("connect {}: {e}", ep.addr)))?;
    let _ = tcp.set_nodelay(true);
    let name = rustls_pki_types::ServerName::try_from(ep.host.clone())
        .map_err(|e| Error::Other(e.to_string()))?;
    let tls = tokio_rustls::TlsConnector::from(ep.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| Error::Other(format!("TLS: {e}")))?;
    let url = format!(
        "wss://{}/tunnel?local-proxy-mode={}",
        ep.addr,
        o.mode.as_str()
    );
    let mut req = url
        .into_client_request()
        .map_err(|e| Error::Other(e.to_string()))?;
    let h = req.headers_mut();
    let value = |s: &str| {
        s.parse()
            .map_err(|_| Error::Other(format!("bad header {s}")))
    };
    h.insert("access-token", value(&o.token)?);
    if let Some(c) = &o.client_token {
        h.insert("client-token", value(c)?);
    }
    if !o.subprotocols.is_empty() {
        h.insert("sec-websocket-protocol", value(&o.subprotocols.join(", "))?);
    }
    match tokio_tungstenite::client_async_with_config(req, tls, Some(ws_config())).await {
        Ok((ws, resp)) => Ok(Conn {
            ws,
            subprotocol: resp
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            reader: Reader::default(),
            pending: VecDeque::new(),
            close: None,
        }),
        Err(WsError::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err(Error::Refused(resp.status().as_u16(), body))
        }
        Err(e) => Err(Error::Other(e.to_string())),
    }
}

impl Conn {
    pub async fn send(&mut self, m: &Msg) -> Result<(), WsError> {
        self.ws.send(WsMessage::Binary(m.frame().into())).await
    }

    /// Bytes as one WebSocket message, as they are (several frames, part of one...).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<(), WsError> {
        self.ws.send(WsMessage::Binary(bytes.into())).await
    }

    /// The next message; `None` once the connection ended (`close` says how).
    pub async fn recv(&mut self) -> Option<Msg> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Some(m);
            }
            match self.ws.next().await {
                Some(Ok(WsMessage::Binary(b))) => {
                    let msgs = self.reader.push(&b)?;
                    self.pending.extend(msgs);
                }
                Some(Ok(WsMessage::Close(c))) => {
                    self.close = c;
                    return None;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }
}
