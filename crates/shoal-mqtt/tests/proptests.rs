//! Property tests: random valid packets of both versions round-trip (and every prefix of their
//! encoding is "need more bytes"); random and mutated bytes never panic the decoder, and
//! whatever it accepts encodes again and decodes to the same packet.

mod common;

use bytes::{Bytes, BytesMut};
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::FileFailurePersistence;
use shoal_mqtt::*;

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 /éü✓+#$]{0,12}"
}

fn topic() -> impl Strategy<Value = String> {
    "[a-z$]{1,4}(/[a-z]{0,4}){0,3}"
}

fn filter() -> impl Strategy<Value = String> {
    "[a-z/+#]{1,10}"
}

fn bin() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn users() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((text(), text()), 0..3)
}

fn qos() -> impl Strategy<Value = QoS> {
    select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

fn pkid() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn sub_id() -> impl Strategy<Value = u32> {
    1..=268_435_455u32
}

prop_compose! {
    fn connect_properties()(
        session_expiry_interval in of(any::<u32>()),
        receive_maximum in of(1..=u16::MAX),
        maximum_packet_size in of(1..=u32::MAX),
        topic_alias_maximum in of(any::<u16>()),
        request_response_information in of(any::<bool>()),
        request_problem_information in of(any::<bool>()),
        user_properties in users(),
        authentication_method in of(text()),
        authentication_data in of(bin()),
    ) -> ConnectProperties {
        let authentication_method = if authentication_data.is_some() {
            authentication_method.or(Some("m".into()))
        } else {
            authentication_method
        };
        ConnectProperties {
            session_expiry_interval,
            receive_maximum,
            maximum_packet_size,
            topic_alias_maximum,
            request_response_information,
            request_problem_information,
            user_properties,
            authentication_method,
            authentication_data,
        }
    }
}

prop_compose! {
    fn will_properties()(
        will_delay_interval in of(any::<u32>()),
        payload_format_indicator in of(0..=1u8),
        message_expiry_interval in of(any::<u32>()),
        content_type in of(text()),
        response_topic in of(topic()),
        correlation_data in of(bin()),
        user_properties in users(),
    ) -> WillProperties {
        WillProperties {
            will_delay_interval,
            payload_format_indicator,
            message_expiry_interval,
            content_type,
            response_topic,
            correlation_data,
            user_properties,
        }
    }
}

prop_compose! {
    fn connect(protocol: Protocol)(
        client_id in text(),
        clean_start in any::<bool>(),
        keep_alive in any::<u16>(),
        username in of(text()),
        password in of(bin()),
        will in of((topic(), bin(), qos(), any::<bool>(), will_properties())),
        properties in connect_properties(),
    ) -> Connect {
        let v5 = protocol == Protocol::V5;
        Connect {
            protocol,
            client_id,
            clean_start,
            keep_alive,
            // 3.1.1 has no password without a user name.
            password: if v5 || username.is_some() { password } else { None },
            username,
            will: will.map(|(topic, payload, qos, retain, properties)| LastWill {
                topic,
                payload,
                qos,
                retain,
                properties: if v5 { properties } else { WillProperties::default() },
            }),
            properties: if v5 { properties } else { ConnectProperties::default() },
        }
    }
}

prop_compose! {
    fn connack_properties()(
        a in (of(any::<u32>()), of(1..=u16::MAX), of(select(vec![QoS::AtMostOnce, QoS::AtLeastOnce])),
              of(any::<bool>()), of(1..=u32::MAX), of(text())),
        b in (of(any::<u16>()), of(text()), users(), of(any::<bool>()), of(any::<bool>()),
              of(any::<bool>())),
        c in (of(any::<u16>()), of(text()), of(text()), of(text()), of(bin())),
    ) -> ConnAckProperties {
        ConnAckProperties {
            session_expiry_interval: a.0,
            receive_maximum: a.1,
            maximum_qos: a.2,
            retain_available: a.3,
            maximum_packet_size: a.4,
            assigned_client_identifier: a.5,
            topic_alias_maximum: b.0,
            reason_string: b.1,
            user_properties: b.2,
            wildcard_subscription_available: b.3,
            subscription_identifiers_available: b.4,
            shared_subscription_available: b.5,
            server_keep_alive: c.0,
            response_information: c.1,
            server_reference: c.2,
            authentication_method: c.3,
            authentication_data: c.4,
        }
    }
}

fn connack(protocol: Protocol) -> BoxedStrategy<ConnAck> {
    match protocol {
        Protocol::V311 => (any::<bool>(), 0..=5u8)
            .prop_map(|(session_present, code)| ConnAck {
                session_present,
                code,
                properties: ConnAckProperties::default(),
            })
            .boxed(),
        Protocol::V5 => (
            any::<bool>(),
            select(vec![0x00, 0x80, 0x84, 0x87, 0x8C, 0x9F]),
            connack_properties(),
        )
            .prop_map(|(session_present, code, properties)| ConnAck {
                session_present,
                code,
                properties,
            })
            .boxed(),
    }
}

prop_compose! {
    fn publish_properties()(
        payload_format_indicator in of(0..=1u8),
        message_expiry_interval in of(any::<u32>()),
        topic_alias in of(1..=u16::MAX),
        response_topic in of(topic()),
        correlation_data in of(bin()),
        user_properties in users(),
        subscription_identifiers in proptest::collection::vec(sub_id(), 0..3),
        content_type in of(text()),
    ) -> PublishProperties {
        PublishProperties {
            payload_format_indicator,
            message_expiry_interval,
            topic_alias,
            response_topic,
            correlation_data,
            user_properties,
            subscription_identifiers,
            content_type,
        }
    }
}

prop_compose! {
    fn publish(protocol: Protocol)(
        qos in qos(),
        dup in any::<bool>(),
        retain in any::<bool>(),
        topic in topic(),
        empty_topic in any::<bool>(),
        pkid in pkid(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        properties in publish_properties(),
    ) -> Publish {
        let v5 = protocol == Protocol::V5;
        let properties = if v5 { properties } else { PublishProperties::default() };
        let aliased = properties.topic_alias.is_some();
        Publish {
            dup: dup && qos != QoS::AtMostOnce,
            qos,
            retain,
            topic: if v5 && aliased && empty_topic { String::new() } else { topic },
            pkid: if qos == QoS::AtMostOnce { 0 } else { pkid },
            payload: Bytes::from(payload),
            properties,
        }
    }
}

fn ack_properties(protocol: Protocol) -> BoxedStrategy<AckProperties> {
    match protocol {
        Protocol::V311 => Just(AckProperties::default()).boxed(),
        Protocol::V5 => (of(text()), users())
            .prop_map(|(reason_string, user_properties)| AckProperties {
                reason_string,
                user_properties,
            })
            .boxed(),
    }
}

fn ack_reason(protocol: Protocol, codes: Vec<u8>) -> BoxedStrategy<u8> {
    match protocol {
        Protocol::V311 => Just(0).boxed(),
        Protocol::V5 => select(codes).boxed(),
    }
}

const PUBACK_CODES: [u8; 9] = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];

prop_compose! {
    fn subscription(protocol: Protocol)(
        filter in filter(),
        shared in any::<bool>(),
        qos in qos(),
        no_local in any::<bool>(),
        retain_as_published in any::<bool>(),
        retain_handling in 0..=2u8,
    ) -> Subscription {
        let filter = if shared { format!("$share/g/{filter}") } else { filter };
        if protocol == Protocol::V311 {
            return Subscription::new(filter, qos);
        }
        Subscription {
            no_local: no_local && !shared,
            filter,
            qos,
            retain_as_published,
            retain_handling,
        }
    }
}

fn subscribe(protocol: Protocol) -> impl Strategy<Value = Subscribe> {
    (
        pkid(),
        proptest::collection::vec(subscription(protocol), 1..4),
        of(sub_id()),
        users(),
    )
        .prop_map(move |(pkid, filters, id, user_properties)| Subscribe {
            pkid,
            filters,
            properties: if protocol == Protocol::V5 {
                SubscribeProperties {
                    subscription_identifier: id,
                    user_properties,
                }
            } else {
                SubscribeProperties::default()
            },
        })
}

fn packet(protocol: Protocol) -> BoxedStrategy<Packet> {
    let v5 = protocol == Protocol::V5;
    let suback_codes = if v5 {
        vec![
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
        ]
    } else {
        vec![0x00, 0x01, 0x02, 0x80]
    };
    let mut options = vec![
        connect(Protocol::V311).prop_map(Packet::Connect).boxed(),
        connect(Protocol::V5).prop_map(Packet::Connect).boxed(),
        connack(protocol).prop_map(Packet::ConnAck).boxed(),
        publish(protocol).prop_map(Packet::Publish).boxed(),
        (
            pkid(),
            ack_reason(protocol, PUBACK_CODES.to_vec()),
            ack_properties(protocol),
        )
            .prop_map(|(pkid, reason, properties)| {
                Packet::PubAck(PubAck {
                    pkid,
                    reason,
                    properties,
                })
            })
            .boxed(),
        (
            pkid(),
            ack_reason(protocol, PUBACK_CODES.to_vec()),
            ack_properties(protocol),
        )
            .prop_map(|(pkid, reason, properties)| {
                Packet::PubRec(PubRec {
                    pkid,
                    reason,
                    properties,
                })
            })
            .boxed(),
        (
            pkid(),
            ack_reason(protocol, vec![0x00, 0x92]),
            ack_properties(protocol),
        )
            .prop_map(|(pkid, reason, properties)| {
                Packet::PubRel(PubRel {
                    pkid,
                    reason,
                    properties,
                })
            })
            .boxed(),
        (
            pkid(),
            ack_reason(protocol, vec![0x00, 0x92]),
            ack_properties(protocol),
        )
            .prop_map(|(pkid, reason, properties)| {
                Packet::PubComp(PubComp {
                    pkid,
                    reason,
                    properties,
                })
            })
            .boxed(),
        subscribe(protocol).prop_map(Packet::Subscribe).boxed(),
        (
            pkid(),
            proptest::collection::vec(select(suback_codes), 1..5),
            ack_properties(protocol),
        )
            .prop_map(|(pkid, return_codes, properties)| {
                Packet::SubAck(SubAck {
                    pkid,
                    return_codes,
                    properties,
                })
            })
            .boxed(),
        (pkid(), proptest::collection::vec(filter(), 1..4), users())
            .prop_map(move |(pkid, filters, user_properties)| {
                Packet::Unsubscribe(Unsubscribe {
                    pkid,
                    filters,
                    properties: UnsubscribeProperties {
                        user_properties: if v5 { user_properties } else { Vec::new() },
                    },
                })
            })
            .boxed(),
        (
            pkid(),
            proptest::collection::vec(select(vec![0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91]), 1..5),
            ack_properties(protocol),
        )
            .prop_map(move |(pkid, reason_codes, properties)| {
                Packet::UnsubAck(UnsubAck {
                    pkid,
                    reason_codes: if v5 { reason_codes } else { Vec::new() },
                    properties,
                })
            })
            .boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        (
            ack_reason(protocol, vec![0x00, 0x04, 0x80, 0x8E, 0x95, 0xA2]),
            of(any::<u32>()),
            of(text()),
            users(),
            of(text()),
        )
            .prop_map(
                move |(reason, sei, reason_string, user_properties, server_reference)| {
                    Packet::Disconnect(Disconnect {
                        reason,
                        properties: if v5 {
                            DisconnectProperties {
                                session_expiry_interval: sei,
                                reason_string,
                                user_properties,
                                server_reference,
                            }
                        } else {
                            DisconnectProperties::default()
                        },
                    })
                },
            )
            .boxed(),
    ];
    if v5 {
        options.push(
            (
                select(vec![0x00, 0x18, 0x19]),
                of(text()),
                of(bin()),
                of(text()),
                users(),
            )
                .prop_map(|(reason, m, d, reason_string, user_properties)| {
                    Packet::Auth(Auth {
                        reason,
                        properties: AuthProperties {
                            authentication_method: m,
                            authentication_data: d,
                            reason_string,
                            user_properties,
                        },
                    })
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(options).boxed()
}

fn protocol() -> impl Strategy<Value = Protocol> {
    select(vec![Protocol::V311, Protocol::V5])
}

fn packet_any() -> impl Strategy<Value = (Protocol, Packet)> {
    protocol().prop_flat_map(|p| (Just(p), packet(p)))
}

/// Decodes everything in `bytes` with a few packet size limits; must never panic, and anything
/// accepted must encode again and decode to the same packet.
fn decode_arbitrary(bytes: &[u8], protocol: Protocol) {
    for max in [16, 1 << 16] {
        let mut buf = BytesMut::from(bytes);
        let mut proto = protocol;
        while let Ok(Some(p)) = decode(&mut buf, proto, max) {
            let enc_proto = match &p {
                Packet::Connect(c) => c.protocol,
                _ => proto,
            };
            let mut out = BytesMut::new();
            encode(&p, enc_proto, &mut out)
                .unwrap_or_else(|e| panic!("decoded {p:?} but cannot encode it: {e}"));
            let again = decode(&mut out, enc_proto, usize::MAX);
            assert_eq!(again, Ok(Some(p.clone())));
            if let Packet::Connect(c) = &p {
                proto = c.protocol;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Keep failing cases next to this file (the default looks for a lib.rs).
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_packets_round_trip((protocol, p) in packet_any()) {
        common::roundtrip(&p, protocol);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_arbitrary(&bytes, Protocol::V311);
        decode_arbitrary(&bytes, Protocol::V5);
    }

    #[test]
    fn mutated_packets_never_panic(
        (protocol, p) in packet_any(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = common::bytes_of(&p, protocol);
        for (at, v) in edits {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        decode_arbitrary(&bytes, protocol);
        let n = cut.index(bytes.len() + 1);
        decode_arbitrary(&bytes[..n], protocol);
    }
}
