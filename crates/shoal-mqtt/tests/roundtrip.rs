//! Encode/decode round trips of every packet type in both protocol versions, with every MQTT 5
//! property set. Each round trip also checks that every prefix of the encoding is "need more
//! bytes" and leaves the buffer alone (see `common::roundtrip`).

mod common;

use bytes::Bytes;
use common::{bytes_of, decode_one, roundtrip};
use shoal_mqtt::*;

fn users() -> Vec<(String, String)> {
    vec![
        ("region".into(), "eu-west-1".into()),
        ("region".into(), "twice is allowed".into()),
        (String::new(), "ünïcødé ✓".into()),
    ]
}

fn full_connect(protocol: Protocol) -> Connect {
    let v5 = protocol == Protocol::V5;
    Connect {
        protocol,
        client_id: "thing-1".into(),
        clean_start: true,
        keep_alive: 1200,
        username: Some("user".into()),
        password: Some(Bytes::from_static(b"\x00\xffsecret")),
        will: Some(LastWill {
            topic: "things/thing-1/lwt".into(),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: if v5 {
                WillProperties {
                    will_delay_interval: Some(30),
                    payload_format_indicator: Some(1),
                    message_expiry_interval: Some(3600),
                    content_type: Some("text/plain".into()),
                    response_topic: Some("replies/thing-1".into()),
                    correlation_data: Some(Bytes::from_static(b"\x01\x02")),
                    user_properties: users(),
                }
            } else {
                WillProperties::default()
            },
        }),
        properties: if v5 {
            ConnectProperties {
                session_expiry_interval: Some(u32::MAX),
                receive_maximum: Some(100),
                maximum_packet_size: Some(131_072),
                topic_alias_maximum: Some(8),
                request_response_information: Some(true),
                request_problem_information: Some(false),
                user_properties: users(),
                authentication_method: Some("SCRAM-SHA-256".into()),
                authentication_data: Some(Bytes::from_static(b"client-first")),
            }
        } else {
            ConnectProperties::default()
        },
    }
}

#[test]
fn connect_both_versions() {
    for protocol in [Protocol::V311, Protocol::V5] {
        let c = full_connect(protocol);
        // CONNECT is encoded and decoded with its own level, whatever the connection's.
        for conn in [Protocol::V311, Protocol::V5] {
            roundtrip(&Packet::Connect(c.clone()), conn);
        }
        let minimal = Connect {
            protocol,
            ..Connect::default()
        };
        roundtrip(&Packet::Connect(minimal), protocol);
        let no_will = Connect {
            will: None,
            password: None,
            ..full_connect(protocol)
        };
        roundtrip(&Packet::Connect(no_will), protocol);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut c = full_connect(protocol);
            if let Some(w) = c.will.as_mut() {
                w.qos = qos;
                w.retain = false;
                w.payload = Bytes::new();
            }
            roundtrip(&Packet::Connect(c), protocol);
        }
    }
}

#[test]
fn connect_v5_password_without_username() {
    let c = Connect {
        protocol: Protocol::V5,
        client_id: "x".into(),
        password: Some(Bytes::from_static(b"token")),
        ..Connect::default()
    };
    roundtrip(&Packet::Connect(c.clone()), Protocol::V5);
    let v311 = Connect {
        protocol: Protocol::V311,
        ..c
    };
    let mut out = bytes::BytesMut::new();
    assert!(encode(&Packet::Connect(v311), Protocol::V311, &mut out).is_err());
    assert!(out.is_empty(), "a failed encode writes nothing");
}

#[test]
fn connack_both_versions() {
    for code in 0..=5 {
        let p = Packet::ConnAck(ConnAck {
            session_present: code == 0,
            code,
            properties: ConnAckProperties::default(),
        });
        roundtrip(&p, Protocol::V311);
    }
    let full = ConnAck {
        session_present: true,
        code: reason::SUCCESS,
        properties: ConnAckProperties {
            session_expiry_interval: Some(7200),
            receive_maximum: Some(100),
            maximum_qos: Some(QoS::AtLeastOnce),
            retain_available: Some(true),
            maximum_packet_size: Some(131_072),
            assigned_client_identifier: Some("auto-1234".into()),
            topic_alias_maximum: Some(8),
            reason_string: Some("welcome".into()),
            user_properties: users(),
            wildcard_subscription_available: Some(true),
            subscription_identifiers_available: Some(false),
            shared_subscription_available: Some(true),
            server_keep_alive: Some(1200),
            response_information: Some("replies/".into()),
            server_reference: Some("other.example.com".into()),
            authentication_method: Some("SCRAM-SHA-256".into()),
            authentication_data: Some(Bytes::from_static(b"server-final")),
        },
    };
    roundtrip(&Packet::ConnAck(full.clone()), Protocol::V5);
    for code in [0x80, 0x84, 0x85, 0x86, 0x87, 0x9F] {
        let p = ConnAck {
            session_present: false,
            code,
            properties: ConnAckProperties::default(),
        };
        roundtrip(&Packet::ConnAck(p), Protocol::V5);
    }
    // Encoding an MQTT 5 CONNACK for 3.1.1 drops the properties.
    let v311 = bytes_of(&Packet::ConnAck(full), Protocol::V311);
    assert_eq!(v311, [0x20, 0x02, 0x01, 0x00]);
}

fn full_publish_properties() -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(60),
        topic_alias: Some(3),
        response_topic: Some("replies/x".into()),
        correlation_data: Some(Bytes::from_static(b"\xde\xad")),
        user_properties: users(),
        subscription_identifiers: vec![1, 127, 128, 16_384, 268_435_455],
        content_type: Some("application/json".into()),
    }
}

#[test]
fn publish_both_versions() {
    for protocol in [Protocol::V311, Protocol::V5] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            for (dup, retain) in [(false, false), (true, false), (false, true), (true, true)] {
                if dup && qos == QoS::AtMostOnce {
                    continue;
                }
                let p = Publish {
                    dup,
                    qos,
                    retain,
                    topic: "$aws/things/t/shadow/update".into(),
                    pkid: if qos == QoS::AtMostOnce { 0 } else { 0xBEEF },
                    payload: Bytes::from_static(b"{\"state\":{}}"),
                    properties: if protocol == Protocol::V5 {
                        full_publish_properties()
                    } else {
                        PublishProperties::default()
                    },
                };
                roundtrip(&Packet::Publish(p), protocol);
            }
        }
        // Empty payload.
        let p = Publish {
            topic: "a".into(),
            ..Publish::default()
        };
        roundtrip(&Packet::Publish(p), protocol);
    }
    // MQTT 5: an empty topic stands for the alias.
    let aliased = Publish {
        topic: String::new(),
        properties: PublishProperties {
            topic_alias: Some(7),
            ..PublishProperties::default()
        },
        payload: Bytes::from_static(b"x"),
        ..Publish::default()
    };
    roundtrip(&Packet::Publish(aliased), Protocol::V5);
}

#[test]
fn large_publish_uses_a_four_byte_length() {
    let payload = Bytes::from(vec![0x5A; 2_100_000]);
    let p = Publish {
        qos: QoS::AtLeastOnce,
        topic: "big".into(),
        pkid: 1,
        payload,
        ..Publish::default()
    };
    let mut out = bytes::BytesMut::new();
    encode(&Packet::Publish(p.clone()), Protocol::V311, &mut out).unwrap();
    assert_eq!(out[1] & 0x80, 0x80);
    assert_eq!(out[4] & 0x80, 0);
    let got = decode(&mut out, Protocol::V311, 3_000_000).unwrap();
    assert_eq!(got, Some(Packet::Publish(p)));
}

#[test]
fn publish_payload_shares_the_receive_buffer() {
    let p = Publish {
        topic: "a/b".into(),
        payload: Bytes::from_static(b"0123456789"),
        ..Publish::default()
    };
    let mut buf = bytes::BytesMut::new();
    encode(&Packet::Publish(p), Protocol::V311, &mut buf).unwrap();
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let Some(Packet::Publish(got)) = decode(&mut buf, Protocol::V311, 1024).unwrap() else {
        panic!("not a publish");
    };
    let at = got.payload.as_ptr() as usize;
    assert!(
        at >= start && at + got.payload.len() <= end,
        "payload was copied"
    );
}

#[test]
fn publish_header_plus_payload_equals_encode() {
    for protocol in [Protocol::V311, Protocol::V5] {
        let p = Publish {
            qos: QoS::ExactlyOnce,
            topic: "fan/out".into(),
            pkid: 9,
            payload: Bytes::from(vec![7; 300]),
            properties: if protocol == Protocol::V5 {
                full_publish_properties()
            } else {
                PublishProperties::default()
            },
            ..Publish::default()
        };
        let whole = bytes_of(&Packet::Publish(p.clone()), protocol);
        let mut head = bytes::BytesMut::new();
        encode_publish_header(&p, protocol, &mut head).unwrap();
        let mut joined = head.to_vec();
        joined.extend_from_slice(&p.payload);
        assert_eq!(joined, whole);
    }
}

#[test]
fn publish_acks_both_versions() {
    fn all(pkid: u16, reason: u8, properties: AckProperties) -> Vec<Packet> {
        vec![
            Packet::PubAck(PubAck {
                pkid,
                reason,
                properties: properties.clone(),
            }),
            Packet::PubRec(PubRec {
                pkid,
                reason,
                properties: properties.clone(),
            }),
            Packet::PubRel(PubRel {
                pkid,
                reason: if reason == 0 { 0 } else { 0x92 },
                properties: properties.clone(),
            }),
            Packet::PubComp(PubComp {
                pkid,
                reason: if reason == 0 { 0 } else { 0x92 },
                properties,
            }),
        ]
    }
    for p in all(1, 0, AckProperties::default()) {
        let b = roundtrip(&p, Protocol::V311);
        assert_eq!(b.len(), 4);
        // MQTT 5 short form: reason 0 and no properties is the 3.1.1 layout.
        assert_eq!(roundtrip(&p, Protocol::V5), b);
    }
    // A reason without properties: Remaining Length 3.
    for p in all(0xFFFF, 0x10, AckProperties::default()) {
        if matches!(p, Packet::PubAck(_) | Packet::PubRec(_)) {
            assert_eq!(roundtrip(&p, Protocol::V5).len(), 5);
        }
    }
    let props = AckProperties {
        reason_string: Some("quota".into()),
        user_properties: users(),
    };
    for p in all(42, 0x97, props.clone()) {
        let p = match p {
            Packet::PubRel(mut x) => {
                x.reason = 0x92;
                Packet::PubRel(x)
            }
            other => other,
        };
        roundtrip(&p, Protocol::V5);
    }
    // Success with properties keeps the reason byte.
    for p in all(42, 0, props) {
        roundtrip(&p, Protocol::V5);
    }
}

#[test]
fn subscribe_both_versions() {
    let v311 = Subscribe {
        pkid: 10,
        filters: vec![
            Subscription::new("a/+/c", QoS::AtMostOnce),
            Subscription::new("d/#", QoS::AtLeastOnce),
            Subscription::new("#", QoS::ExactlyOnce),
        ],
        properties: SubscribeProperties::default(),
    };
    roundtrip(&Packet::Subscribe(v311), Protocol::V311);
    let mut filters = Vec::new();
    for retain_handling in 0..=2 {
        for (no_local, retain_as_published) in [(false, false), (true, false), (false, true)] {
            filters.push(Subscription {
                filter: format!("f/{retain_handling}/{no_local}/{retain_as_published}"),
                qos: QoS::ExactlyOnce,
                no_local,
                retain_as_published,
                retain_handling,
            });
        }
    }
    filters.push(Subscription::new(
        "$share/group/sensors/#",
        QoS::AtLeastOnce,
    ));
    let v5 = Subscribe {
        pkid: 11,
        filters,
        properties: SubscribeProperties {
            subscription_identifier: Some(268_435_455),
            user_properties: users(),
        },
    };
    roundtrip(&Packet::Subscribe(v5.clone()), Protocol::V5);
    // Encoding for 3.1.1 keeps only filter and QoS.
    let down = decode_one(
        &bytes_of(&Packet::Subscribe(v5.clone()), Protocol::V311),
        Protocol::V311,
    )
    .unwrap();
    let Packet::Subscribe(down) = down else {
        panic!("not a subscribe")
    };
    assert_eq!(down.filters.len(), v5.filters.len());
    assert!(down
        .filters
        .iter()
        .all(|f| !f.no_local && !f.retain_as_published && f.retain_handling == 0));
}

#[test]
fn suback_both_versions() {
    let p = SubAck {
        pkid: 10,
        return_codes: vec![0, 1, 2, 0x80],
        properties: AckProperties::default(),
    };
    roundtrip(&Packet::SubAck(p), Protocol::V311);
    let p = SubAck {
        pkid: 11,
        return_codes: vec![
            0, 1, 2, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
        ],
        properties: AckProperties {
            reason_string: Some("partly".into()),
            user_properties: users(),
        },
    };
    roundtrip(&Packet::SubAck(p), Protocol::V5);
}

#[test]
fn unsubscribe_and_unsuback_both_versions() {
    let u = Unsubscribe {
        pkid: 5,
        filters: vec!["a/b".into(), "c/#".into()],
        properties: UnsubscribeProperties::default(),
    };
    roundtrip(&Packet::Unsubscribe(u.clone()), Protocol::V311);
    let u5 = Unsubscribe {
        properties: UnsubscribeProperties {
            user_properties: users(),
        },
        ..u
    };
    roundtrip(&Packet::Unsubscribe(u5), Protocol::V5);

    let a = UnsubAck {
        pkid: 5,
        ..UnsubAck::default()
    };
    assert_eq!(
        roundtrip(&Packet::UnsubAck(a), Protocol::V311),
        [0xB0, 2, 0, 5]
    );
    let a5 = UnsubAck {
        pkid: 5,
        reason_codes: vec![0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
        properties: AckProperties {
            reason_string: Some("done".into()),
            user_properties: users(),
        },
    };
    roundtrip(&Packet::UnsubAck(a5.clone()), Protocol::V5);
    // 3.1.1 has no reason codes: encoding drops them.
    assert_eq!(
        bytes_of(&Packet::UnsubAck(a5), Protocol::V311),
        [0xB0, 2, 0, 5]
    );
}

#[test]
fn ping_both_versions() {
    for protocol in [Protocol::V311, Protocol::V5] {
        assert_eq!(roundtrip(&Packet::PingReq, protocol), [0xC0, 0x00]);
        assert_eq!(roundtrip(&Packet::PingResp, protocol), [0xD0, 0x00]);
    }
}

#[test]
fn disconnect_both_versions() {
    assert_eq!(
        roundtrip(&Packet::Disconnect(Disconnect::default()), Protocol::V311),
        [0xE0, 0x00]
    );
    assert_eq!(
        roundtrip(&Packet::Disconnect(Disconnect::default()), Protocol::V5),
        [0xE0, 0x00]
    );
    let d = Disconnect {
        reason: reason::DISCONNECT_WITH_WILL_MESSAGE,
        properties: DisconnectProperties::default(),
    };
    assert_eq!(
        roundtrip(&Packet::Disconnect(d), Protocol::V5),
        [0xE0, 0x01, 0x04]
    );
    let d = Disconnect {
        reason: reason::SERVER_MOVED,
        properties: DisconnectProperties {
            session_expiry_interval: Some(0),
            reason_string: Some("moving".into()),
            user_properties: users(),
            server_reference: Some("b.example.com".into()),
        },
    };
    roundtrip(&Packet::Disconnect(d.clone()), Protocol::V5);
    assert_eq!(
        bytes_of(&Packet::Disconnect(d), Protocol::V311),
        [0xE0, 0x00]
    );
}

#[test]
fn auth_is_v5_only() {
    assert_eq!(
        roundtrip(&Packet::Auth(Auth::default()), Protocol::V5),
        [0xF0, 0x00]
    );
    let a = Auth {
        reason: reason::CONTINUE_AUTHENTICATION,
        properties: AuthProperties {
            authentication_method: Some("SCRAM-SHA-256".into()),
            authentication_data: Some(Bytes::from_static(b"client-final")),
            reason_string: Some("step 2".into()),
            user_properties: users(),
        },
    };
    roundtrip(&Packet::Auth(a.clone()), Protocol::V5);
    let re = Auth {
        reason: reason::RE_AUTHENTICATE,
        properties: AuthProperties::default(),
    };
    assert_eq!(
        roundtrip(&Packet::Auth(re), Protocol::V5),
        [0xF0, 0x02, 0x19, 0x00]
    );
    let mut out = bytes::BytesMut::new();
    assert_eq!(
        encode(&Packet::Auth(a), Protocol::V311, &mut out),
        Err(EncodeError::NotInProtocol("AUTH"))
    );
}

#[test]
fn several_packets_in_one_buffer() {
    let packets = [
        Packet::PingReq,
        Packet::Publish(Publish {
            qos: QoS::AtLeastOnce,
            pkid: 3,
            topic: "x".into(),
            payload: Bytes::from_static(b"1"),
            ..Publish::default()
        }),
        Packet::PubAck(PubAck {
            pkid: 3,
            ..PubAck::default()
        }),
        Packet::Disconnect(Disconnect::default()),
    ];
    let mut buf = bytes::BytesMut::new();
    for p in &packets {
        encode(p, Protocol::V5, &mut buf).unwrap();
    }
    for p in &packets {
        assert_eq!(
            decode(&mut buf, Protocol::V5, 1024).unwrap().as_ref(),
            Some(p)
        );
    }
    assert_eq!(decode(&mut buf, Protocol::V5, 1024), Ok(None));
}
