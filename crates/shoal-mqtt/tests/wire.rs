//! Byte-exact tests: packets captured from mosquitto_pub / mosquitto_sub 2.x (Debian's
//! mosquitto-clients, connecting to a listener that recorded the bytes), and packets written out
//! by hand from the non-normative examples of the specifications.

mod common;

use bytes::{Bytes, BytesMut};
use common::{bytes_of, decode_one, every_prefix_needs_more, frame, roundtrip, s, MAX};
use shoal_mqtt::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decodes a whole captured stream.
fn decode_stream(bytes: &[u8], protocol_after_connect: Protocol) -> Vec<Packet> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    let mut protocol = Protocol::V311;
    while let Some(p) = decode(&mut buf, protocol, MAX).unwrap() {
        if let Packet::Connect(c) = &p {
            protocol = c.protocol;
            assert_eq!(protocol, protocol_after_connect);
        }
        out.push(p);
    }
    assert!(buf.is_empty(), "left over {:02x?}", &buf[..]);
    out
}

/// `mosquitto_pub -V mqttv311 -i shoal-cap -u user -P pass -k 30 --will-topic will/t
/// --will-payload bye --will-qos 1 --will-retain -t a/b -m hello -q 1`
const MOSQUITTO_PUB_V311: &str = "102e00044d51545404ee001e000973686f616c2d636170000677696c6c2f74\
0003627965000475736572000470617373320c0003612f620001\
68656c6c6fe000";

#[test]
fn mosquitto_pub_v311_capture() {
    let bytes = hex(MOSQUITTO_PUB_V311);
    let packets = decode_stream(&bytes, Protocol::V311);
    let connect = Connect {
        protocol: Protocol::V311,
        client_id: "shoal-cap".into(),
        clean_start: true,
        keep_alive: 30,
        username: Some("user".into()),
        password: Some(Bytes::from_static(b"pass")),
        will: Some(LastWill {
            topic: "will/t".into(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: WillProperties::default(),
        }),
        properties: ConnectProperties::default(),
    };
    let publish = Publish {
        qos: QoS::AtLeastOnce,
        topic: "a/b".into(),
        pkid: 1,
        payload: Bytes::from_static(b"hello"),
        ..Publish::default()
    };
    let expected = vec![
        Packet::Connect(connect),
        Packet::Publish(publish),
        Packet::Disconnect(Disconnect::default()),
    ];
    assert_eq!(packets, expected);
    // Encoding gives back exactly the captured bytes.
    let mut out = BytesMut::new();
    for p in &expected {
        encode(p, Protocol::V311, &mut out).unwrap();
    }
    assert_eq!(&out[..], &bytes[..]);
}

/// `mosquitto_pub -V mqttv5 -i shoal-cap5 -t a/b -m hi -q 1 -D connect session-expiry-interval
/// 60 -D connect receive-maximum 20 -D publish user-property k v -D publish content-type
/// text/plain -D publish message-expiry-interval 30`
const MOSQUITTO_PUB_V5: &str = "101f00044d5154540502003c08110000003c210014000a73686f616c2d63617035\
32230003612f620001192600016b00017603000a746578742f706c61696e020000001e6869\
e000";

#[test]
fn mosquitto_pub_v5_capture() {
    let bytes = hex(MOSQUITTO_PUB_V5);
    let packets = decode_stream(&bytes, Protocol::V5);
    let connect = Connect {
        protocol: Protocol::V5,
        client_id: "shoal-cap5".into(),
        clean_start: true,
        keep_alive: 60,
        properties: ConnectProperties {
            session_expiry_interval: Some(60),
            receive_maximum: Some(20),
            ..ConnectProperties::default()
        },
        ..Connect::default()
    };
    let publish = Publish {
        qos: QoS::AtLeastOnce,
        topic: "a/b".into(),
        pkid: 1,
        payload: Bytes::from_static(b"hi"),
        properties: PublishProperties {
            user_properties: vec![("k".into(), "v".into())],
            content_type: Some("text/plain".into()),
            message_expiry_interval: Some(30),
            ..PublishProperties::default()
        },
        ..Publish::default()
    };
    assert_eq!(
        packets,
        vec![
            Packet::Connect(connect.clone()),
            Packet::Publish(publish.clone()),
            Packet::Disconnect(Disconnect::default())
        ]
    );
    // CONNECT's properties are in the order Shoal writes them, so it is byte-exact. PUBLISH's
    // are not (property order is free, §2.2.2.2), so it is checked by length and round trip.
    let connect_len = 2 + 0x1f;
    assert_eq!(
        bytes_of(&Packet::Connect(connect), Protocol::V5),
        &bytes[..connect_len]
    );
    let publish_bytes = roundtrip(&Packet::Publish(publish), Protocol::V5);
    assert_eq!(publish_bytes.len(), 2 + 0x23);
}

/// `mosquitto_sub -V mqttv311 -i shoal-sub -t 'x/+/y' -q 1`, stopped with SIGTERM.
const MOSQUITTO_SUB_V311: &str =
    "101500044d5154540402003c000973686f616c2d737562820a00010005782f2b2f7901e000";

#[test]
fn mosquitto_sub_v311_capture() {
    let bytes = hex(MOSQUITTO_SUB_V311);
    let packets = decode_stream(&bytes, Protocol::V311);
    let expected = vec![
        Packet::Connect(Connect {
            client_id: "shoal-sub".into(),
            clean_start: true,
            keep_alive: 60,
            ..Connect::default()
        }),
        Packet::Subscribe(Subscribe {
            pkid: 1,
            filters: vec![Subscription::new("x/+/y", QoS::AtLeastOnce)],
            properties: SubscribeProperties::default(),
        }),
        Packet::Disconnect(Disconnect::default()),
    ];
    assert_eq!(packets, expected);
    let mut out = BytesMut::new();
    for p in &expected {
        encode(p, Protocol::V311, &mut out).unwrap();
    }
    assert_eq!(&out[..], &bytes[..]);
}

/// `mosquitto_sub -V mqttv5 -i shoal-sub5 -t 'x/+/y' -t 'z/#' -q 2 -D subscribe user-property
/// a b -D subscribe subscription-identifier 7`, stopped with SIGTERM (mosquitto then sends
/// DISCONNECT with reason 0x04).
const MOSQUITTO_SUB_V5: &str = "101a00044d5154540502003c03210014000a73686f616c2d73756235\
821a000109260001610001620b070005782f2b2f790200037a2f2302\
e00104";

#[test]
fn mosquitto_sub_v5_capture() {
    let bytes = hex(MOSQUITTO_SUB_V5);
    let packets = decode_stream(&bytes, Protocol::V5);
    let subscribe = Subscribe {
        pkid: 1,
        filters: vec![
            Subscription::new("x/+/y", QoS::ExactlyOnce),
            Subscription::new("z/#", QoS::ExactlyOnce),
        ],
        properties: SubscribeProperties {
            subscription_identifier: Some(7),
            user_properties: vec![("a".into(), "b".into())],
        },
    };
    let expected = vec![
        Packet::Connect(Connect {
            protocol: Protocol::V5,
            client_id: "shoal-sub5".into(),
            clean_start: true,
            keep_alive: 60,
            properties: ConnectProperties {
                receive_maximum: Some(20),
                ..ConnectProperties::default()
            },
            ..Connect::default()
        }),
        Packet::Subscribe(subscribe),
        Packet::Disconnect(Disconnect {
            reason: reason::DISCONNECT_WITH_WILL_MESSAGE,
            properties: DisconnectProperties::default(),
        }),
    ];
    assert_eq!(packets, expected);
    let connect_len = 2 + 0x1a;
    assert_eq!(bytes_of(&expected[0], Protocol::V5), &bytes[..connect_len]);
    assert_eq!(bytes_of(&expected[2], Protocol::V5), hex("e00104"));
    roundtrip(&expected[1], Protocol::V5);
}

#[test]
fn captured_streams_need_more_at_every_cut() {
    // Cutting a stream anywhere yields the complete packets before the cut, then "need more".
    for (stream, proto) in [
        (MOSQUITTO_PUB_V311, Protocol::V311),
        (MOSQUITTO_PUB_V5, Protocol::V5),
        (MOSQUITTO_SUB_V311, Protocol::V311),
        (MOSQUITTO_SUB_V5, Protocol::V5),
    ] {
        let bytes = hex(stream);
        let whole = decode_stream(&bytes, proto);
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            let mut protocol = Protocol::V311;
            let mut n = 0;
            while let Some(p) = decode(&mut buf, protocol, MAX).unwrap() {
                if let Packet::Connect(c) = &p {
                    protocol = c.protocol;
                }
                assert_eq!(p, whole[n]);
                n += 1;
            }
            assert!(n < whole.len() || buf.is_empty());
        }
    }
}

/// The CONNECT Variable Header non-normative example of MQTT 3.1.1 §3.1.2: protocol "MQTT",
/// level 4, flags 0xCE (user name, password, will QoS 1, will flag, clean session), Keep Alive
/// 10. The payload is ours.
#[test]
fn spec_v311_connect_variable_header_example() {
    let mut body = hex("00044d51545404ce000a");
    body.extend(s(b"id"));
    body.extend(s(b"w/t"));
    body.extend(s(b"will"));
    body.extend(s(b"u"));
    body.extend(s(b"p"));
    let bytes = frame(0x10, &body);
    every_prefix_needs_more(&bytes, Protocol::V311);
    let Packet::Connect(c) = decode_one(&bytes, Protocol::V311).unwrap() else {
        panic!()
    };
    assert_eq!(c.protocol, Protocol::V311);
    assert!(c.clean_start);
    assert_eq!(c.keep_alive, 10);
    let w = c.will.as_ref().unwrap();
    assert_eq!((w.qos, w.retain), (QoS::AtLeastOnce, false));
    assert_eq!(c.username.as_deref(), Some("u"));
    assert_eq!(c.password.as_deref(), Some(&b"p"[..]));
    assert_eq!(bytes_of(&Packet::Connect(c), Protocol::V311), bytes);
}

/// The CONNECT Variable Header non-normative example of MQTT 5.0 §3.1.2: level 5, flags 0xCE,
/// Keep Alive 10, properties of length 5 holding Session Expiry Interval 10.
#[test]
fn spec_v5_connect_variable_header_example() {
    let mut body = hex("00044d51545405ce000a05110000000a");
    body.extend(s(b"id"));
    body.push(0); // will properties
    body.extend(s(b"w/t"));
    body.extend(s(b"will"));
    body.extend(s(b"u"));
    body.extend(s(b"p"));
    let bytes = frame(0x10, &body);
    let Packet::Connect(c) = decode_one(&bytes, Protocol::V311).unwrap() else {
        panic!()
    };
    assert_eq!(c.protocol, Protocol::V5);
    assert_eq!(c.properties.session_expiry_interval, Some(10));
    assert_eq!(c.keep_alive, 10);
    assert_eq!(bytes_of(&Packet::Connect(c), Protocol::V5), bytes);
}

/// The PUBLISH Variable Header non-normative example of §3.3.2 (both versions): topic "a/b",
/// packet identifier 10; in 5.0 an empty property list.
#[test]
fn spec_publish_variable_header_example() {
    let p = Packet::Publish(Publish {
        qos: QoS::AtLeastOnce,
        topic: "a/b".into(),
        pkid: 10,
        ..Publish::default()
    });
    assert_eq!(roundtrip(&p, Protocol::V311), hex("32070003612f62000a"));
    assert_eq!(roundtrip(&p, Protocol::V5), hex("32080003612f62000a00"));
}

/// The SUBSCRIBE Payload non-normative example of MQTT 3.1.1 §3.8.3: "a/b" QoS 1, "c/d" QoS 2,
/// with the packet identifier 10 of the §3.8.2 example.
#[test]
fn spec_subscribe_payload_example() {
    let p = Packet::Subscribe(Subscribe {
        pkid: 10,
        filters: vec![
            Subscription::new("a/b", QoS::AtLeastOnce),
            Subscription::new("c/d", QoS::ExactlyOnce),
        ],
        properties: SubscribeProperties::default(),
    });
    assert_eq!(
        roundtrip(&p, Protocol::V311),
        hex("820e000a0003612f62010003632f6402")
    );
    assert_eq!(
        roundtrip(&p, Protocol::V5),
        hex("820f000a000003612f62010003632f6402")
    );
}

/// The SUBACK Payload non-normative example of MQTT 3.1.1 §3.9.3: Success QoS 0, Success QoS 2,
/// Failure.
#[test]
fn spec_suback_payload_example() {
    let p = Packet::SubAck(SubAck {
        pkid: 10,
        return_codes: vec![0x00, 0x02, 0x80],
        properties: AckProperties::default(),
    });
    assert_eq!(roundtrip(&p, Protocol::V311), hex("9005000a000280"));
    assert_eq!(roundtrip(&p, Protocol::V5), hex("9006000a00000280"));
}

/// The UNSUBSCRIBE Payload non-normative example of MQTT 3.1.1 §3.10.3: "a/b", "c/d".
#[test]
fn spec_unsubscribe_payload_example() {
    let p = Packet::Unsubscribe(Unsubscribe {
        pkid: 10,
        filters: vec!["a/b".into(), "c/d".into()],
        properties: UnsubscribeProperties::default(),
    });
    assert_eq!(
        roundtrip(&p, Protocol::V311),
        hex("a20c000a0003612f620003632f64")
    );
    assert_eq!(
        roundtrip(&p, Protocol::V5),
        hex("a20d000a000003612f620003632f64")
    );
}

#[test]
fn connack_bytes() {
    let ok = Packet::ConnAck(ConnAck::default());
    assert_eq!(roundtrip(&ok, Protocol::V311), hex("20020000"));
    assert_eq!(roundtrip(&ok, Protocol::V5), hex("2003000000"));
    let refused = Packet::ConnAck(ConnAck {
        code: ConnAck::NOT_AUTHORIZED,
        ..ConnAck::default()
    });
    assert_eq!(roundtrip(&refused, Protocol::V311), hex("20020005"));
    let v5 = Packet::ConnAck(ConnAck {
        session_present: true,
        code: reason::SUCCESS,
        properties: ConnAckProperties {
            maximum_qos: Some(QoS::AtLeastOnce),
            topic_alias_maximum: Some(8),
            ..ConnAckProperties::default()
        },
    });
    assert_eq!(roundtrip(&v5, Protocol::V5), hex("20080100052401220008"));
}

#[test]
fn decode_error_reason_codes() {
    assert_eq!(DecodeError::MalformedPacket("x").reason_code(), 0x81);
    assert_eq!(DecodeError::ProtocolError("x").reason_code(), 0x82);
    assert_eq!(DecodeError::PacketTooLarge { size: 9 }.reason_code(), 0x95);
    assert_eq!(DecodeError::UnsupportedProtocol(3).reason_code(), 0x84);
}

/// The fuzzer's seeds (fuzz/seeds) are valid streams, so fuzzing starts from real packets.
#[test]
fn fuzz_seeds_decode() {
    let seeds: [(&[u8], Protocol); 6] = [
        (
            include_bytes!("../fuzz/seeds/mosquitto_pub_v311"),
            Protocol::V311,
        ),
        (
            include_bytes!("../fuzz/seeds/mosquitto_pub_v5"),
            Protocol::V5,
        ),
        (
            include_bytes!("../fuzz/seeds/mosquitto_sub_v311"),
            Protocol::V311,
        ),
        (
            include_bytes!("../fuzz/seeds/mosquitto_sub_v5"),
            Protocol::V5,
        ),
        (include_bytes!("../fuzz/seeds/acks_v311"), Protocol::V311),
        (include_bytes!("../fuzz/seeds/server_v5"), Protocol::V5),
    ];
    for (bytes, protocol) in seeds {
        let mut buf = BytesMut::from(bytes);
        let mut n = 0;
        while let Some(p) = decode(&mut buf, protocol, MAX).unwrap() {
            if !matches!(p, Packet::Connect(_)) {
                roundtrip(&p, protocol);
            }
            n += 1;
        }
        assert!(buf.is_empty() && n >= 3);
    }
}
