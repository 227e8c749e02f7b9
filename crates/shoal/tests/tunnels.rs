//! Secure tunneling end to end: `aws-sdk-iotsecuretunneling` for the API, and a local proxy
//! written from AWS's protocol guides (`shoal-localproxy`, not Shoal's relay) on the proxy
//! endpoint: the handshake's refusals, single-use and client tokens, rotation, stream rules,
//! size limits, a source before its destination, the lifetime on the test's clock, and TCP
//! forwarding with several connections per stream.

mod common;

use common::TestServer;
use shoal_localproxy::client::{connect, Conn, Error, Mode, Options};
use shoal_localproxy::forward::{self, Side};
use shoal_localproxy::message::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Opened {
    id: String,
    source: String,
    destination: String,
}

async fn open(s: &TestServer, services: &[&str], minutes: Option<i32>) -> Opened {
    let c = s.tunneling_client();
    let mut dest = aws_sdk_iotsecuretunneling::types::DestinationConfig::builder();
    for svc in services {
        dest = dest.services(*svc);
    }
    let mut req = c
        .open_tunnel()
        .destination_config(dest.thing_name("dev-1").build().unwrap());
    if let Some(m) = minutes {
        req = req.timeout_config(
            aws_sdk_iotsecuretunneling::types::TimeoutConfig::builder()
                .max_lifetime_timeout_minutes(m)
                .build(),
        );
    }
    let r = req.send().await.unwrap();
    Opened {
        id: r.tunnel_id().unwrap().to_string(),
        source: r.source_access_token().unwrap().to_string(),
        destination: r.destination_access_token().unwrap().to_string(),
    }
}

async fn proxy(s: &TestServer, mode: Mode, token: &str, client_token: Option<&str>) -> Conn {
    let mut o = Options::new(mode, token);
    o.client_token = client_token.map(str::to_string);
    connect(&s.tunnel_endpoint(), &o).await.unwrap()
}

async fn refused(
    s: &TestServer,
    mode: Mode,
    token: &str,
    client_token: Option<&str>,
) -> (u16, String) {
    let mut o = Options::new(mode, token);
    o.client_token = client_token.map(str::to_string);
    match connect(&s.tunnel_endpoint(), &o).await {
        Err(Error::Refused(status, body)) => (status, body),
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, got a connection"),
    }
}

/// The close code a connection ends with (after any messages still queued).
async fn close_code(c: &mut Conn) -> u16 {
    while c.recv().await.is_some() {}
    u16::from(c.close.as_ref().expect("a close frame").code)
}

fn data(stream: i32, service: &str, conn: u32, payload: &[u8]) -> Msg {
    Msg {
        kind: DATA,
        stream_id: stream,
        payload: payload.to_vec(),
        service_id: service.into(),
        connection_id: conn,
        ..Default::default()
    }
}

async fn states(s: &TestServer, id: &str) -> (String, String, String) {
    let t = s
        .tunneling_client()
        .describe_tunnel()
        .tunnel_id(id)
        .send()
        .await
        .unwrap()
        .tunnel
        .unwrap();
    let st = |c: Option<&aws_sdk_iotsecuretunneling::types::ConnectionState>| {
        c.and_then(|c| c.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()
    };
    (
        t.status().unwrap().as_str().to_string(),
        st(t.source_connection_state()),
        st(t.destination_connection_state()),
    )
}

#[tokio::test]
async fn streams_of_several_services_relay_both_ways_and_stale_ones_are_dropped() {
    let s = TestServer::start().await;
    let t = open(&s, &["SSH", "HTTP"], None).await;
    assert_eq!(states(&s, &t.id).await.1, "DISCONNECTED");
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    let mut dst = proxy(&s, Mode::Destination, &t.destination, None).await;
    assert_eq!(
        src.subprotocol.as_deref(),
        Some("aws.iot.securetunneling-3.0")
    );
    for c in [&mut src, &mut dst] {
        let ids = forward::service_ids(c).await.unwrap();
        assert_eq!(ids, vec!["SSH".to_string(), "HTTP".to_string()]);
    }
    assert_eq!(
        states(&s, &t.id).await,
        ("OPEN".into(), "CONNECTED".into(), "CONNECTED".into())
    );
    // A service the tunnel does not have starts nothing.
    src.send(&Msg::control(STREAM_START, 3, "RDP", 1))
        .await
        .unwrap();
    src.send(&Msg::control(STREAM_START, 1, "SSH", 1))
        .await
        .unwrap();
    src.send(&Msg::control(STREAM_START, 7, "HTTP", 1))
        .await
        .unwrap();
    // A stale stream's data, then a live one's, in one WebSocket message.
    let mut both = data(5, "SSH", 1, b"stale").frame();
    both.extend(data(1, "SSH", 1, b"ping").frame());
    both.extend(data(7, "HTTP", 1, b"GET /").frame());
    src.send_raw(both).await.unwrap();
    let got: Vec<Msg> = vec![
        dst.recv().await.unwrap(),
        dst.recv().await.unwrap(),
        dst.recv().await.unwrap(),
        dst.recv().await.unwrap(),
    ];
    assert_eq!(got[0], Msg::control(STREAM_START, 1, "SSH", 1));
    assert_eq!(got[1], Msg::control(STREAM_START, 7, "HTTP", 1));
    assert_eq!(got[2], data(1, "SSH", 1, b"ping"));
    assert_eq!(got[3], data(7, "HTTP", 1, b"GET /"));
    // A destination may not start a stream; its data goes back on the live stream.
    dst.send(&Msg::control(STREAM_START, 9, "SSH", 1))
        .await
        .unwrap();
    dst.send(&data(1, "SSH", 1, b"pong")).await.unwrap();
    assert_eq!(src.recv().await.unwrap(), data(1, "SSH", 1, b"pong"));
    // V3: a second connection of the stream.
    src.send(&Msg::control(CONNECTION_START, 1, "SSH", 2))
        .await
        .unwrap();
    src.send(&data(1, "SSH", 2, b"second")).await.unwrap();
    assert_eq!(
        dst.recv().await.unwrap(),
        Msg::control(CONNECTION_START, 1, "SSH", 2)
    );
    assert_eq!(dst.recv().await.unwrap(), data(1, "SSH", 2, b"second"));
    // The source leaves: the destination hears that its streams ended.
    drop(src);
    let mut resets = vec![dst.recv().await.unwrap(), dst.recv().await.unwrap()];
    resets.sort_by_key(|m| m.stream_id);
    assert_eq!(
        resets,
        vec![
            Msg::control(STREAM_RESET, 1, "SSH", 0),
            Msg::control(STREAM_RESET, 7, "HTTP", 0)
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn handshakes_refuse_wrong_used_and_rotated_tokens() {
    let s = TestServer::start().await;
    let t = open(&s, &["SSH"], None).await;
    assert_eq!(refused(&s, Mode::Source, "not-a-token", None).await.0, 401);
    assert_eq!(refused(&s, Mode::Destination, &t.source, None).await.0, 400);
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    forward::service_ids(&mut src).await.unwrap();
    // Single use: the same token again is refused with AWS's text, even after it left.
    let (status, body) = refused(&s, Mode::Source, &t.source, None).await;
    assert_eq!(status, 401);
    assert!(body.contains("previously used"), "{body}");
    drop(src);
    assert_eq!(refused(&s, Mode::Source, &t.source, None).await.0, 401);
    // A client token lets the same proxy back; the newcomer replaces the old connection.
    let ct = "0123456789abcdef0123456789abcdef";
    let mut d1 = proxy(&s, Mode::Destination, &t.destination, Some(ct)).await;
    forward::service_ids(&mut d1).await.unwrap();
    let (status, body) =
        refused(&s, Mode::Destination, &t.destination, Some(&"f".repeat(32))).await;
    assert_eq!(status, 401);
    assert!(body.contains("client token does not match"), "{body}");
    let mut d2 = proxy(&s, Mode::Destination, &t.destination, Some(ct)).await;
    forward::service_ids(&mut d2).await.unwrap();
    assert_eq!(close_code(&mut d1).await, 1008);
    assert_eq!(states(&s, &t.id).await.2, "CONNECTED");
    // Rotation revokes the token: its connection ends and the new token works.
    let r = s
        .tunneling_client()
        .rotate_tunnel_access_token()
        .tunnel_id(&t.id)
        .client_mode(aws_sdk_iotsecuretunneling::types::ClientMode::Destination)
        .send()
        .await
        .unwrap();
    assert!(r.source_access_token().is_none());
    assert_eq!(close_code(&mut d2).await, 1000);
    assert_eq!(
        refused(&s, Mode::Destination, &t.destination, Some(ct))
            .await
            .0,
        401
    );
    let mut d3 = proxy(
        &s,
        Mode::Destination,
        r.destination_access_token().unwrap(),
        None,
    )
    .await;
    forward::service_ids(&mut d3).await.unwrap();
    // Closing the tunnel ends every connection; a closed tunnel takes none.
    s.tunneling_client()
        .close_tunnel()
        .tunnel_id(&t.id)
        .send()
        .await
        .unwrap();
    assert_eq!(close_code(&mut d3).await, 1000);
    assert_eq!(
        states(&s, &t.id).await,
        (
            "CLOSED".into(),
            "DISCONNECTED".into(),
            "DISCONNECTED".into()
        )
    );
    s.stop().await;
}

#[tokio::test]
async fn oversize_and_malformed_messages_close_the_connection() {
    let s = TestServer::start().await;
    let t = open(&s, &["SSH"], None).await;
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    forward::service_ids(&mut src).await.unwrap();
    // 63 KB of payload is the most a message may carry.
    src.send(&data(1, "SSH", 1, &vec![0; MAX_PAYLOAD + 1]))
        .await
        .unwrap();
    assert_eq!(close_code(&mut src).await, 1009);
    let t = open(&s, &["SSH"], None).await;
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    forward::service_ids(&mut src).await.unwrap();
    src.send_raw(vec![0, 3, 0xff, 0xff, 0xff]).await.unwrap();
    assert_eq!(close_code(&mut src).await, 1002);
    // A WebSocket message past 131,076 bytes is refused by the WebSocket layer.
    let t = open(&s, &["SSH"], None).await;
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    forward::service_ids(&mut src).await.unwrap();
    let mut big = Vec::new();
    while big.len() <= 131_076 {
        big.extend(data(1, "SSH", 1, &[1; 60_000]).frame());
    }
    let _ = src.send_raw(big).await;
    assert_eq!(close_code(&mut src).await, 1009);
    s.stop().await;
}

#[tokio::test]
async fn a_source_before_its_destination_is_reset_until_the_destination_comes() {
    let s = TestServer::start().await;
    let t = open(&s, &["SSH"], None).await;
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    forward::service_ids(&mut src).await.unwrap();
    src.send(&Msg::control(STREAM_START, 1, "SSH", 1))
        .await
        .unwrap();
    assert_eq!(
        src.recv().await.unwrap(),
        Msg::control(STREAM_RESET, 1, "SSH", 1)
    );
    let mut dst = proxy(&s, Mode::Destination, &t.destination, None).await;
    forward::service_ids(&mut dst).await.unwrap();
    src.send(&Msg::control(STREAM_START, 2, "SSH", 1))
        .await
        .unwrap();
    src.send(&data(2, "SSH", 1, b"hello")).await.unwrap();
    assert_eq!(
        dst.recv().await.unwrap(),
        Msg::control(STREAM_START, 2, "SSH", 1)
    );
    assert_eq!(dst.recv().await.unwrap(), data(2, "SSH", 1, b"hello"));
    s.stop().await;
}

#[tokio::test]
async fn the_lifetime_closes_the_tunnel_on_the_clock() {
    let s = TestServer::start().await;
    let t = open(&s, &["SSH"], Some(1)).await;
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    forward::service_ids(&mut src).await.unwrap();
    s.clock.advance_millis(59_000);
    s.run_due().await;
    assert_eq!(states(&s, &t.id).await.0, "OPEN");
    s.clock.advance_millis(1_000);
    s.run_due().await;
    assert_eq!(close_code(&mut src).await, 1000);
    assert_eq!(states(&s, &t.id).await.0, "CLOSED");
    assert_eq!(
        refused(&s, Mode::Destination, &t.destination, None).await.0,
        401
    );
    s.stop().await;
}

#[tokio::test]
async fn tcp_connections_are_forwarded_intact_several_at_once() {
    let s = TestServer::start().await;
    let t = open(&s, &["ECHO"], None).await;
    // The application: an echo server.
    let app = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr = app.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let (mut c, _) = app.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut r, mut w) = c.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let mut dst = proxy(&s, Mode::Destination, &t.destination, None).await;
    forward::service_ids(&mut dst).await.unwrap();
    tokio::spawn(forward::run(dst, "ECHO", Side::Destination(app_addr)));
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    forward::service_ids(&mut src).await.unwrap();
    let local = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local_addr = local.local_addr().unwrap();
    tokio::spawn(forward::run(src, "ECHO", Side::Source(local)));
    let mut clients = Vec::new();
    for i in 0..3u8 {
        clients.push(tokio::spawn(async move {
            let mut c = tokio::net::TcpStream::connect(local_addr).await.unwrap();
            let sent: Vec<u8> = (0..300_000u32).map(|n| (n as u8) ^ i).collect();
            let (mut r, mut w) = c.split();
            let write = async {
                w.write_all(&sent).await.unwrap();
            };
            let mut back = vec![0u8; sent.len()];
            let read = r.read_exact(&mut back);
            let (_, got) = tokio::join!(write, read);
            got.unwrap();
            assert!(back == sent, "connection {i} came back changed");
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    s.stop().await;
}

#[tokio::test]
async fn both_sides_reconnect_with_their_client_tokens_and_a_new_stream_flows() {
    let s = TestServer::start().await;
    let t = open(&s, &["SSH"], None).await;
    let (cs, cd) = ("a".repeat(32), "b".repeat(32));
    let mut src = proxy(&s, Mode::Source, &t.source, Some(&cs)).await;
    forward::service_ids(&mut src).await.unwrap();
    let mut dst = proxy(&s, Mode::Destination, &t.destination, Some(&cd)).await;
    forward::service_ids(&mut dst).await.unwrap();
    src.send(&Msg::control(STREAM_START, 1, "SSH", 1))
        .await
        .unwrap();
    assert_eq!(
        dst.recv().await.unwrap(),
        Msg::control(STREAM_START, 1, "SSH", 1)
    );
    // The source's TCP connection drops without a close frame: the stream ended with it.
    drop(src);
    assert_eq!(
        dst.recv().await.unwrap(),
        Msg::control(STREAM_RESET, 1, "SSH", 0)
    );
    let mut src = proxy(&s, Mode::Source, &t.source, Some(&cs)).await;
    forward::service_ids(&mut src).await.unwrap();
    // Now the destination drops and comes back with its client token.
    drop(dst);
    let mut dst = proxy(&s, Mode::Destination, &t.destination, Some(&cd)).await;
    forward::service_ids(&mut dst).await.unwrap();
    src.send(&Msg::control(STREAM_START, 2, "SSH", 1))
        .await
        .unwrap();
    src.send(&data(2, "SSH", 1, b"again")).await.unwrap();
    assert_eq!(
        dst.recv().await.unwrap(),
        Msg::control(STREAM_START, 2, "SSH", 1)
    );
    assert_eq!(dst.recv().await.unwrap(), data(2, "SSH", 1, b"again"));
    dst.send(&data(2, "SSH", 1, b"back")).await.unwrap();
    assert_eq!(src.recv().await.unwrap(), data(2, "SSH", 1, b"back"));
    assert_eq!(
        states(&s, &t.id).await,
        ("OPEN".into(), "CONNECTED".into(), "CONNECTED".into())
    );
    s.stop().await;
}

#[tokio::test]
async fn pings_are_answered_with_their_payload_and_v1_proxies_get_no_service_ids() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Ws;
    let s = TestServer::start().await;
    let t = open(&s, &["SSH"], None).await;
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    forward::service_ids(&mut src).await.unwrap();
    // AWS's local proxy pings with the time in milliseconds as ASCII digits.
    src.ws
        .send(Ws::Ping(b"1733130869380".to_vec().into()))
        .await
        .unwrap();
    match src.ws.next().await.unwrap().unwrap() {
        Ws::Pong(p) => assert_eq!(&p[..], b"1733130869380"),
        other => panic!("expected a pong, got {other:?}"),
    }
    // A proxy offering only the 1.0 subprotocol speaks V1: no SERVICE_IDS, streams without a
    // service id.
    let mut o = Options::new(Mode::Destination, &t.destination);
    o.subprotocols = vec!["aws.iot.securetunneling-1.0".into()];
    let mut dst = connect(&s.tunnel_endpoint(), &o).await.unwrap();
    assert_eq!(
        dst.subprotocol.as_deref(),
        Some("aws.iot.securetunneling-1.0")
    );
    src.send(&Msg::control(STREAM_START, 1, "", 0))
        .await
        .unwrap();
    assert_eq!(
        dst.recv().await.unwrap(),
        Msg::control(STREAM_START, 1, "", 0)
    );
    s.stop().await;
}

#[tokio::test]
async fn a_stream_takes_at_most_128_connections() {
    let s = TestServer::start().await;
    let t = open(&s, &["SSH"], None).await;
    let mut src = proxy(&s, Mode::Source, &t.source, None).await;
    forward::service_ids(&mut src).await.unwrap();
    let mut dst = proxy(&s, Mode::Destination, &t.destination, None).await;
    forward::service_ids(&mut dst).await.unwrap();
    src.send(&Msg::control(STREAM_START, 1, "SSH", 1))
        .await
        .unwrap();
    for c in 2..=130 {
        src.send(&Msg::control(CONNECTION_START, 1, "SSH", c))
            .await
            .unwrap();
    }
    // A marker after them: everything relayed before it has arrived when it does.
    src.send(&data(1, "SSH", 1, b"end")).await.unwrap();
    let mut started = 0;
    loop {
        let m = dst.recv().await.unwrap();
        if m.kind == DATA {
            break;
        }
        started += 1;
        assert!(
            m.connection_id <= 128,
            "connection {} was relayed",
            m.connection_id
        );
    }
    assert_eq!(started, 128);
    s.stop().await;
}
