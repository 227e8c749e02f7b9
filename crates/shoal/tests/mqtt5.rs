//! MQTT 5 behaviour at the packet level, through the real TLS listener with a raw client: the
//! reason codes a misbehaving client gets (MQTT 5 §4.13), the limits a client announces, the
//! subscription options, and what the standard profile adds to AWS's MQTT.

mod common;

use bytes::Bytes;
use common::device::{open_device, DeviceCert};
use common::raw::Raw;
use common::TestServer;
use shoal_mqtt::{
    reason, return_code, Connect, ConnectProperties, LastWill, Packet, Protocol, PubComp, PubRel,
    Publish, PublishProperties, QoS, Subscribe, SubscribeProperties, Subscription, WillProperties,
};

async fn standard() -> TestServer {
    TestServer::start_with(|c| c.mqtt.profile = "standard".into()).await
}

fn publish(topic: &str, payload: &[u8], qos: QoS, pkid: u16) -> Packet {
    Packet::Publish(Publish {
        qos,
        pkid,
        topic: topic.into(),
        payload: Bytes::copy_from_slice(payload),
        ..Publish::default()
    })
}

fn retained(topic: &str, payload: &[u8]) -> Packet {
    let Packet::Publish(mut p) = publish(topic, payload, QoS::AtLeastOnce, 1) else {
        unreachable!()
    };
    p.retain = true;
    Packet::Publish(p)
}

fn subscription(filter: &str, qos: QoS) -> Subscription {
    Subscription {
        filter: filter.into(),
        qos,
        ..Subscription::default()
    }
}

fn subscribe(pkid: u16, filters: Vec<Subscription>, id: Option<u32>) -> Packet {
    Packet::Subscribe(Subscribe {
        pkid,
        filters,
        properties: SubscribeProperties {
            subscription_identifier: id,
            ..SubscribeProperties::default()
        },
    })
}

/// An MQTT 5 connection with `properties` that must be accepted.
async fn v5(s: &TestServer, cert: &DeviceCert, id: &str, properties: ConnectProperties) -> Raw {
    let mut raw = Raw::tls(s, cert, "localhost").await;
    let code = raw.connect(id, Protocol::V5, true, properties).await;
    assert_eq!(code, Some(0), "CONNACK");
    raw
}

/// The next PUBLISH, skipping acknowledgements of the client's own packets.
async fn next_publish(raw: &mut Raw) -> Publish {
    loop {
        match raw.recv().await.expect("connection open") {
            Packet::Publish(p) => return p,
            Packet::SubAck(_) | Packet::PubAck(_) | Packet::PingResp => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Waits for the SUBACK of `pkid` and returns its codes.
async fn suback(raw: &mut Raw) -> Vec<u8> {
    loop {
        match raw.recv().await.expect("connection open") {
            Packet::SubAck(a) => return a.return_codes,
            Packet::PubAck(_) => continue,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }
}

/// Asserts nothing but PINGRESP comes before the answer to a PINGREQ sent now: the server
/// had nothing else queued for the client.
async fn nothing_pending(raw: &mut Raw) {
    raw.send(&Packet::PingReq).await;
    match raw.recv().await.expect("connection open") {
        Packet::PingResp => {}
        other => panic!("expected only PINGRESP, got {other:?}"),
    }
}

/// `p` as MQTT 5 bytes.
fn v5_bytes(p: &Packet) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    shoal_mqtt::encode(p, Protocol::V5, &mut b).unwrap();
    b.to_vec()
}

/// The reason code of the DISCONNECT a fresh MQTT 5 connection gets for `bytes`.
async fn answer_to(s: &TestServer, cert: &DeviceCert, bytes: &[u8]) -> Option<u8> {
    let mut raw = v5(s, cert, "bad", ConnectProperties::default()).await;
    raw.send_bytes(bytes).await;
    raw.disconnect_reason().await
}

fn aliased(topic: &str, alias: u16) -> Packet {
    Packet::Publish(Publish {
        topic: topic.into(),
        payload: Bytes::from_static(b"x"),
        properties: PublishProperties {
            topic_alias: Some(alias),
            ..PublishProperties::default()
        },
        ..Publish::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_topic_aliases_get_their_reason_codes() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    // §3.3.2.3.4: an alias above the Topic Alias Maximum (8) is Topic Alias Invalid; an alias
    // never set is a Protocol Error.
    let above = v5_bytes(&aliased("a/b", 9));
    assert_eq!(
        answer_to(&s, &cert, &above).await,
        Some(reason::TOPIC_ALIAS_INVALID)
    );
    let unknown = v5_bytes(&aliased("", 3));
    assert_eq!(
        answer_to(&s, &cert, &unknown).await,
        Some(reason::PROTOCOL_ERROR)
    );
    // Alias 0 is never permitted: Topic Alias Invalid too, found by the decoder (no encoder
    // writes it, so the bytes are written by hand: PUBLISH "a/b", properties {Topic Alias: 0}).
    let zero = [0x30, 10, 0, 3, b'a', b'/', b'b', 3, 0x23, 0, 0, b'x'];
    assert_eq!(
        answer_to(&s, &cert, &zero).await,
        Some(reason::TOPIC_ALIAS_INVALID)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_errors_reach_the_client_as_reason_codes() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    // A PUBLISH with QoS 3 is malformed (§3.3.1.2).
    let qos3 = [0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01];
    assert_eq!(
        answer_to(&s, &cert, &qos3).await,
        Some(reason::MALFORMED_PACKET)
    );
    // A second CONNECT is a Protocol Error (§3.1).
    let again = v5_bytes(&Packet::Connect(Connect {
        protocol: Protocol::V5,
        client_id: "bad".into(),
        ..Connect::default()
    }));
    assert_eq!(
        answer_to(&s, &cert, &again).await,
        Some(reason::PROTOCOL_ERROR)
    );
    // A packet over the Maximum Packet Size announced in CONNACK (128 KB + 1 KB).
    let big = v5_bytes(&publish("a/b", &vec![b'x'; 140_000], QoS::AtMostOnce, 0));
    assert_eq!(
        answer_to(&s, &cert, &big).await,
        Some(reason::PACKET_TOO_LARGE)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt_3_1_client_is_told_its_protocol_is_unacceptable() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    let mut raw = Raw::tls(&s, &cert, "localhost").await;
    // CONNECT of MQTT 3.1: protocol name "MQIsdp", level 3, clean session, keep-alive 60.
    let mut connect = vec![0x10, 17, 0, 6];
    connect.extend_from_slice(b"MQIsdp");
    connect.extend_from_slice(&[3, 0x02, 0, 60, 0, 3]);
    connect.extend_from_slice(b"x31");
    raw.send_bytes(&connect).await;
    // MQTT 3.1.1 §3.1.2.2: CONNACK with return code 0x01, then the connection closes.
    match raw.recv().await {
        Some(Packet::ConnAck(a)) => {
            assert_eq!(a.code, return_code::UNACCEPTABLE_PROTOCOL_VERSION)
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert!(raw.recv().await.is_none(), "the connection closes");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_unreleased_qos2_publishes_than_the_receive_maximum_end_the_connection() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    let mut raw = v5(&s, &cert, "flood", ConnectProperties::default()).await;
    // 100 QoS 2 publishes are received (PUBREC) and never released; the 101st is one too many
    // (§3.3.4: DISCONNECT 0x93).
    let packets: Vec<Packet> = (1..=101)
        .map(|i| publish("flood/t", b"x", QoS::ExactlyOnce, i))
        .collect();
    raw.send_all(&packets).await;
    let mut recs = 0;
    loop {
        match raw.recv().await.expect("a DISCONNECT before the close") {
            Packet::PubRec(_) => recs += 1,
            Packet::Disconnect(d) => {
                assert_eq!(d.reason, reason::RECEIVE_MAXIMUM_EXCEEDED);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(recs, 100);
    // Released ones free their place: a client that completes each exchange is never cut off.
    let mut raw = v5(&s, &cert, "polite", ConnectProperties::default()).await;
    for i in 1..=150u16 {
        raw.send(&publish("flood/t", b"x", QoS::ExactlyOnce, i))
            .await;
        assert!(matches!(raw.recv().await, Some(Packet::PubRec(_))));
        raw.send(&Packet::PubRel(PubRel {
            pkid: i,
            ..PubRel::default()
        }))
        .await;
        assert!(matches!(raw.recv().await, Some(Packet::PubComp(_))));
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_larger_than_the_clients_maximum_packet_size_are_not_sent() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    let small = ConnectProperties {
        maximum_packet_size: Some(200),
        ..ConnectProperties::default()
    };
    let mut sub = v5(&s, &cert, "small", small).await;
    sub.send(&subscribe(
        1,
        vec![subscription("mps/+", QoS::AtLeastOnce)],
        None,
    ))
    .await;
    suback(&mut sub).await;
    let mut publisher = Raw::connected(&s, &cert, "pub", Protocol::V311).await;
    // A retained message too large for the subscriber, sent when it subscribes, is dropped too.
    publisher.send(&retained("mps/big", &[b'r'; 500])).await;
    for (topic, payload) in [
        ("mps/a", &b"first"[..]),
        ("mps/b", &[b'x'; 500]),
        ("mps/c", b"last"),
    ] {
        publisher
            .send(&publish(topic, payload, QoS::AtLeastOnce, 2))
            .await;
        assert!(matches!(publisher.recv().await, Some(Packet::PubAck(_))));
    }
    assert_eq!(&next_publish(&mut sub).await.payload[..], b"first");
    assert_eq!(&next_publish(&mut sub).await.payload[..], b"last");
    sub.send(&subscribe(
        2,
        vec![subscription("mps/big", QoS::AtLeastOnce)],
        None,
    ))
    .await;
    suback(&mut sub).await;
    nothing_pending(&mut sub).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_as_published_and_retain_handling_are_honoured() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    let mut publisher = Raw::connected(&s, &cert, "pub", Protocol::V311).await;
    let mut sub = v5(&s, &cert, "sub", ConnectProperties::default()).await;
    // §3.8.3.1: Retain As Published keeps RETAIN on live messages; without it they carry 0.
    let rap = Subscription {
        retain_as_published: true,
        ..subscription("rap/kept", QoS::AtLeastOnce)
    };
    sub.send(&subscribe(
        1,
        vec![rap, subscription("rap/cleared", QoS::AtLeastOnce)],
        None,
    ))
    .await;
    suback(&mut sub).await;
    publisher.send(&retained("rap/kept", b"k")).await;
    publisher.send(&retained("rap/cleared", b"c")).await;
    let first = next_publish(&mut sub).await;
    let second = next_publish(&mut sub).await;
    assert_eq!((&*first.topic, first.retain), ("rap/kept", true));
    assert_eq!((&*second.topic, second.retain), ("rap/cleared", false));
    // Retain Handling 1: the retained message for a new subscription only.
    let once = Subscription {
        retain_handling: 1,
        ..subscription("rap/kept", QoS::AtLeastOnce)
    };
    let mut other = v5(&s, &cert, "other", ConnectProperties::default()).await;
    other.send(&subscribe(1, vec![once.clone()], None)).await;
    let got = next_publish(&mut other).await;
    assert_eq!((&*got.topic, got.retain), ("rap/kept", true));
    other.send(&subscribe(2, vec![once], None)).await;
    suback(&mut other).await;
    nothing_pending(&mut other).await;
    // Retain Handling 2: never.
    let never = Subscription {
        retain_handling: 2,
        ..subscription("rap/cleared", QoS::AtLeastOnce)
    };
    other.send(&subscribe(3, vec![never], None)).await;
    suback(&mut other).await;
    nothing_pending(&mut other).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_profile_refuses_subscription_identifiers() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    let with_id = v5_bytes(&subscribe(
        1,
        vec![subscription("a/b", QoS::AtMostOnce)],
        Some(4),
    ));
    assert_eq!(
        answer_to(&s, &cert, &with_id).await,
        Some(reason::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_profile_delivers_qos2_with_identifiers_and_aliases() {
    let s = standard().await;
    let cert = open_device(&s).await;
    let aliases = ConnectProperties {
        topic_alias_maximum: Some(4),
        ..ConnectProperties::default()
    };
    let mut sub = v5(&s, &cert, "sub", aliases).await;
    sub.send(&subscribe(
        1,
        vec![subscription("q2/t", QoS::ExactlyOnce)],
        Some(42),
    ))
    .await;
    assert_eq!(suback(&mut sub).await, vec![2], "QoS 2 granted");
    let mut publisher = Raw::connected(&s, &cert, "pub", Protocol::V311).await;
    for pkid in [1, 2] {
        publisher
            .send(&publish("q2/t", b"once", QoS::ExactlyOnce, pkid))
            .await;
        assert!(matches!(publisher.recv().await, Some(Packet::PubRec(_))));
        publisher
            .send(&Packet::PubRel(PubRel {
                pkid,
                ..PubRel::default()
            }))
            .await;
        assert!(matches!(publisher.recv().await, Some(Packet::PubComp(_))));
    }
    // The first delivery names the topic and sets alias 1; the second uses the alias alone.
    let delivered = [next_publish(&mut sub).await, next_publish(&mut sub).await];
    for (p, topic) in delivered.iter().zip(["q2/t", ""]) {
        assert_eq!(p.qos, QoS::ExactlyOnce);
        assert_eq!(&*p.topic, topic);
        assert_eq!(p.properties.topic_alias, Some(1));
        assert_eq!(p.properties.subscription_identifiers, vec![42]);
    }
    for p in delivered {
        // §4.3.3: PUBREC, then the server's PUBREL, then PUBCOMP.
        sub.send(&Packet::PubRec(shoal_mqtt::PubRec {
            pkid: p.pkid,
            ..Default::default()
        }))
        .await;
        match sub.recv().await {
            Some(Packet::PubRel(r)) => assert_eq!(r.pkid, p.pkid),
            other => panic!("expected PUBREL, got {other:?}"),
        }
        sub.send(&Packet::PubComp(PubComp {
            pkid: p.pkid,
            ..PubComp::default()
        }))
        .await;
    }
    nothing_pending(&mut sub).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_profile_sends_retained_messages_to_wildcards_and_allows_dollar_topics() {
    let s = standard().await;
    let cert = open_device(&s).await;
    let mut publisher = Raw::connected(&s, &cert, "pub", Protocol::V311).await;
    for t in ["w/a", "w/b", "x/c"] {
        publisher.send(&retained(t, t.as_bytes())).await;
        assert!(matches!(publisher.recv().await, Some(Packet::PubAck(_))));
    }
    let mut sub = v5(&s, &cert, "sub", ConnectProperties::default()).await;
    sub.send(&subscribe(
        1,
        vec![
            subscription("w/+", QoS::AtLeastOnce),
            subscription("$SYS/#", QoS::AtMostOnce),
        ],
        None,
    ))
    .await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let p = next_publish(&mut sub).await;
        assert!(p.retain);
        got.push(p.topic.clone());
        sub.send(&Packet::PubAck(shoal_mqtt::PubAck {
            pkid: p.pkid,
            ..Default::default()
        }))
        .await;
    }
    got.sort();
    assert_eq!(got, ["w/a", "w/b"]);
    publisher
        .send(&publish("$SYS/uptime", b"1", QoS::AtMostOnce, 0))
        .await;
    let p = next_publish(&mut sub).await;
    assert_eq!(&*p.topic, "$SYS/uptime");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profiles_set_keep_alive_their_own_way() {
    for (server, asked, told) in [
        (TestServer::start().await, 5u16, Some(30u16)),
        (standard().await, 5, None),
    ] {
        let cert = open_device(&server).await;
        let mut raw = Raw::tls(&server, &cert, "localhost").await;
        let ack = raw
            .connack(Connect {
                protocol: Protocol::V5,
                client_id: "ka".into(),
                keep_alive: asked,
                clean_start: true,
                ..Connect::default()
            })
            .await
            .expect("CONNACK");
        assert_eq!(ack.properties.server_keep_alive, told);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_profile_delays_the_will() {
    let s = standard().await;
    let cert = open_device(&s).await;
    let mut watcher = v5(&s, &cert, "watcher", ConnectProperties::default()).await;
    watcher
        .send(&subscribe(
            1,
            vec![
                subscription("will/#", QoS::AtMostOnce),
                subscription("$aws/events/presence/disconnected/leaver", QoS::AtMostOnce),
            ],
            None,
        ))
        .await;
    suback(&mut watcher).await;
    let mut leaver = Raw::tls(&s, &cert, "localhost").await;
    let ack = leaver
        .connack(Connect {
            protocol: Protocol::V5,
            client_id: "leaver".into(),
            keep_alive: 60,
            clean_start: true,
            properties: ConnectProperties {
                session_expiry_interval: Some(60),
                ..ConnectProperties::default()
            },
            will: Some(LastWill {
                topic: "will/leaver".into(),
                payload: Bytes::from_static(b"gone"),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: WillProperties {
                    will_delay_interval: Some(2),
                    ..WillProperties::default()
                },
            }),
            ..Connect::default()
        })
        .await
        .expect("CONNACK");
    assert_eq!(ack.code, 0);
    drop(leaver);
    // The connection is gone (its lifecycle event says so) and the will waits: a message
    // published now arrives first, the will after its delay.
    let event = next_publish(&mut watcher).await;
    assert!(event
        .topic
        .starts_with("$aws/events/presence/disconnected/"));
    watcher
        .send(&publish("will/marker", b"marker", QoS::AtMostOnce, 0))
        .await;
    assert_eq!(&next_publish(&mut watcher).await.payload[..], b"marker");
    assert_eq!(&next_publish(&mut watcher).await.payload[..], b"gone");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_picks_mqtt_on_the_device_https_port_and_on_the_alpn_listener() {
    let s = TestServer::start_with(|c| c.device.alpn_listen = "127.0.0.1:0".into()).await;
    let cert = open_device(&s).await;
    let alpn_port = s.alpn_port().expect("the ALPN listener is up");
    // As the AWS IoT Device SDKs do when given no port: ALPN x-amzn-mqtt-ca.
    for port in [alpn_port, s.device_https_port()] {
        let mut raw = Raw::tls_alpn(&s, &cert, "localhost", port, &[b"x-amzn-mqtt-ca"]).await;
        let code = raw
            .connect("alpn", Protocol::V311, true, ConnectProperties::default())
            .await;
        assert_eq!(code, Some(0), "MQTT on port {port}");
    }
    // x-amzn-http-ca is HTTPS: an HTTP request gets an HTTP answer.
    let mut raw = Raw::tls_alpn(&s, &cert, "localhost", alpn_port, &[b"x-amzn-http-ca"]).await;
    raw.send_bytes(b"GET /retainedmessage/none HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await;
    let head = raw.read_some().await;
    assert!(
        head.starts_with(b"HTTP/1.1 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s.stop().await;
}
