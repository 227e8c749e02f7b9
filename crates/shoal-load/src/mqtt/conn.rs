//! One MQTT client connection for the load tool: plain TCP or TLS with a client certificate,
//! packets encoded and decoded with Shoal's own codec.

use bytes::BytesMut;
use shoal_mqtt::{Connect, Packet, Protocol, Publish, QoS, Subscribe, Subscription};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Where to connect and how.
#[derive(Clone)]
pub struct Target {
    pub addr: String,
    pub tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls_pki_types::ServerName<'static>,
    )>,
    /// User name and password sent in CONNECT.
    pub login: Option<(String, String)>,
}

/// The largest packet the load tool accepts.
const MAX_PACKET: usize = 1 << 20;

pub struct Conn<S> {
    pub io: S,
    pub login: Option<(String, String)>,
    pub rbuf: BytesMut,
    pub wbuf: BytesMut,
}

pub async fn open(target: &Target) -> Result<Conn<Box<dyn Io>>, String> {
    let tcp = TcpStream::connect(&target.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", target.addr))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let io: Box<dyn Io> = match &target.tls {
        Some((cfg, name)) => {
            let tls = tokio_rustls::TlsConnector::from(cfg.clone())
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| format!("tls: {e}"))?;
            Box::new(tls)
        }
        None => Box::new(tcp),
    };
    Ok(Conn {
        io,
        login: target.login.clone(),
        rbuf: BytesMut::with_capacity(16 * 1024),
        wbuf: BytesMut::with_capacity(16 * 1024),
    })
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Queues a packet; `flush` writes what is queued.
    pub fn queue(&mut self, p: &Packet) -> Result<(), String> {
        shoal_mqtt::encode(p, Protocol::V311, &mut self.wbuf).map_err(|e| format!("encode: {e}"))
    }

    pub async fn flush(&mut self) -> Result<(), String> {
        if !self.wbuf.is_empty() {
            self.io
                .write_all(&self.wbuf)
                .await
                .map_err(|e| e.to_string())?;
            self.wbuf.clear();
        }
        Ok(())
    }

    pub async fn send(&mut self, p: &Packet) -> Result<(), String> {
        self.queue(p)?;
        self.flush().await
    }

    /// The next packet, reading as needed. `Ok(None)` when the server closed the connection.
    pub async fn recv(&mut self) -> Result<Option<Packet>, String> {
        loop {
            if let Some(p) = shoal_mqtt::decode(&mut self.rbuf, Protocol::V311, MAX_PACKET)
                .map_err(|e| format!("decode: {e}"))?
            {
                return Ok(Some(p));
            }
            let n = self
                .io
                .read_buf(&mut self.rbuf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// CONNECT and wait for a successful CONNACK.
    pub async fn handshake(&mut self, client_id: &str, clean: bool) -> Result<(), String> {
        let connect = Connect {
            client_id: client_id.to_string(),
            clean_start: clean,
            keep_alive: 60,
            username: self.login.as_ref().map(|l| l.0.clone()),
            password: self
                .login
                .as_ref()
                .map(|l| bytes::Bytes::from(l.1.clone().into_bytes())),
            ..Connect::default()
        };
        self.send(&Packet::Connect(connect)).await?;
        match self.recv().await? {
            Some(Packet::ConnAck(ack)) if ack.code == 0 => Ok(()),
            Some(Packet::ConnAck(ack)) => Err(format!("connection refused with code {}", ack.code)),
            other => Err(format!("expected CONNACK, got {other:?}")),
        }
    }

    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<(), String> {
        let sub = Subscribe {
            pkid: 1,
            filters: vec![Subscription::new(filter, qos)],
            ..Subscribe::default()
        };
        self.send(&Packet::Subscribe(sub)).await?;
        loop {
            match self.recv().await? {
                Some(Packet::SubAck(ack)) if ack.return_codes.iter().all(|c| *c < 0x80) => {
                    return Ok(())
                }
                Some(Packet::SubAck(ack)) => {
                    return Err(format!("subscription refused: {:?}", ack.return_codes))
                }
                Some(_) => continue,
                None => return Err("closed before SUBACK".into()),
            }
        }
    }
}

/// A PUBLISH of `payload` on `topic`.
pub fn publish(topic: &str, qos: QoS, pkid: u16, payload: bytes::Bytes) -> Packet {
    Packet::Publish(Publish {
        topic: topic.to_string(),
        qos,
        pkid: if qos == QoS::AtMostOnce { 0 } else { pkid },
        payload,
        ..Publish::default()
    })
}

/// A rustls client configuration trusting `ca` and presenting `cert`/`key` when given.
pub fn tls_config(
    ca: &str,
    cert: Option<&str>,
    key: Option<&str>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))? {
        roots
            .add(c.map_err(|e| format!("{ca}: {e}"))?)
            .map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let cfg = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("{cert}: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{cert}: {e}"))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{key}: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}
