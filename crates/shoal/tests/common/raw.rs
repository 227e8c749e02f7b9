//! A raw MQTT client over mutual TLS, packets encoded and decoded with `shoal-mqtt`: for tests
//! that must do what no well-behaved client library does (never acknowledge, subscribe tens of
//! thousands of times, choose the TLS server name, read the server's DISCONNECT).

use super::device::DeviceCert;
use super::TestServer;
use bytes::BytesMut;
use rustls_pki_types::ServerName;
use shoal_mqtt::{
    ConnAck, Connect, ConnectProperties, Packet, Protocol, QoS, Subscribe, Subscription,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub struct Raw {
    pub io: TlsStream<TcpStream>,
    rbuf: BytesMut,
    pub protocol: Protocol,
}

/// How long a test waits for a packet the server must send.
const WAIT: Duration = Duration::from_secs(10);

impl Raw {
    /// TLS to the MQTT port on 127.0.0.1 with the device's certificate, sending `server_name`
    /// as the TLS server name (SNI) and checking the server certificate against it.
    pub async fn tls(s: &TestServer, cert: &DeviceCert, server_name: &str) -> Raw {
        Raw::tls_alpn(s, cert, server_name, s.mqtt_port(), &[]).await
    }

    /// The same to `port`, offering the ALPN protocol names `alpn`.
    pub async fn tls_alpn(
        s: &TestServer,
        cert: &DeviceCert,
        server_name: &str,
        port: u16,
        alpn: &[&[u8]],
    ) -> Raw {
        let mut cfg = super::device::tls_config(s, cert);
        cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let name = ServerName::try_from(server_name.to_string()).unwrap();
        let io = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .unwrap();
        Raw {
            io,
            rbuf: BytesMut::new(),
            protocol: Protocol::V311,
        }
    }

    /// TLS as `tls` with SNI "localhost", then a clean CONNECT that must be accepted.
    pub async fn connected(s: &TestServer, cert: &DeviceCert, id: &str, protocol: Protocol) -> Raw {
        let mut raw = Raw::tls(s, cert, "localhost").await;
        let code = raw
            .connect(id, protocol, true, ConnectProperties::default())
            .await;
        assert_eq!(code, Some(0), "CONNACK");
        raw
    }

    /// Sends `c` and returns the CONNACK (`None` when the server closed without one).
    pub async fn connack(&mut self, c: Connect) -> Option<ConnAck> {
        self.protocol = c.protocol;
        self.send(&Packet::Connect(c)).await;
        match self.recv().await? {
            Packet::ConnAck(a) => Some(a),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Whatever bytes the server sends next (a non-MQTT answer).
    pub async fn read_some(&mut self) -> Vec<u8> {
        let mut buf = vec![0; 4096];
        let n = tokio::time::timeout(WAIT, self.io.read(&mut buf))
            .await
            .expect("the server sent nothing in time")
            .unwrap();
        buf.truncate(n);
        buf
    }

    pub async fn send_bytes(&mut self, b: &[u8]) {
        self.io.write_all(b).await.unwrap();
    }

    /// Reads until the server's DISCONNECT and returns its reason code; `None` when the
    /// connection closed without one. Other packets on the way are skipped.
    pub async fn disconnect_reason(&mut self) -> Option<u8> {
        loop {
            match self.recv().await? {
                Packet::Disconnect(d) => return Some(d.reason),
                _ => continue,
            }
        }
    }

    pub async fn send(&mut self, p: &Packet) {
        let mut out = BytesMut::new();
        shoal_mqtt::encode(p, self.protocol, &mut out).unwrap();
        self.io.write_all(&out).await.unwrap();
    }

    /// Sends several packets in one write.
    pub async fn send_all(&mut self, packets: &[Packet]) {
        let mut out = BytesMut::new();
        for p in packets {
            shoal_mqtt::encode(p, self.protocol, &mut out).unwrap();
        }
        self.io.write_all(&out).await.unwrap();
    }

    /// The next packet, or `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Option<Packet> {
        self.recv_within(WAIT).await
    }

    /// The same, waiting up to `wait` between reads.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Packet> {
        loop {
            if let Some(p) = shoal_mqtt::decode(&mut self.rbuf, self.protocol, 1 << 20).unwrap() {
                return Some(p);
            }
            let n = tokio::time::timeout(wait, self.io.read_buf(&mut self.rbuf))
                .await
                .expect("the server sent nothing in time");
            match n {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// CONNECT and its CONNACK code (`None` when the server closed without one).
    pub async fn connect(
        &mut self,
        client_id: &str,
        protocol: Protocol,
        clean: bool,
        properties: ConnectProperties,
    ) -> Option<u8> {
        self.protocol = protocol;
        self.send(&Packet::Connect(Connect {
            protocol,
            client_id: client_id.into(),
            clean_start: clean,
            keep_alive: 60,
            properties,
            ..Connect::default()
        }))
        .await;
        match self.recv().await? {
            Packet::ConnAck(a) => Some(a.code),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    pub fn subscribe(pkid: u16, filter: &str, qos: QoS) -> Packet {
        Packet::Subscribe(Subscribe {
            pkid,
            filters: vec![Subscription {
                filter: filter.into(),
                qos,
                ..Subscription::default()
            }],
            ..Subscribe::default()
        })
    }
}
