//! Every receiver-side MUST of the specifications that the codec enforces, each with the error
//! it must produce; and the encoder's refusal of packets a receiver would reject.

mod common;

use bytes::{Bytes, BytesMut};
use common::{decode_one, frame, s, MAX};
use shoal_mqtt::*;
use DecodeError::{MalformedPacket, PacketTooLarge, ProtocolError, UnsupportedProtocol};

const V3: Protocol = Protocol::V311;
const V5: Protocol = Protocol::V5;

fn err(bytes: &[u8], protocol: Protocol) -> DecodeError {
    let mut buf = BytesMut::from(bytes);
    match decode(&mut buf, protocol, MAX) {
        Err(e) => e,
        Ok(p) => panic!("{bytes:02x?} decoded to {p:?}"),
    }
}

fn is_malformed(e: DecodeError) -> bool {
    matches!(e, MalformedPacket(_))
}

fn is_protocol(e: DecodeError) -> bool {
    matches!(e, ProtocolError(_))
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A CONNECT body for `level` with the given flags and the fields after Keep Alive.
fn connect_body(name: &[u8], level: u8, flags: u8, rest: &[u8]) -> Vec<u8> {
    cat(&[&s(name), &[level, flags, 0, 60], rest])
}

// ---- Fixed header (§2.1 of 5.0, §2.2 of 3.1.1) ----

#[test]
fn reserved_packet_types() {
    // Detected from the first byte alone, without waiting for a length.
    assert!(is_malformed(err(&[0x00], V3)));
    assert!(is_malformed(err(&[0x00], V5)));
    // Type 15 is AUTH in 5.0 and reserved in 3.1.1.
    assert!(is_malformed(err(&[0xF0, 0x00], V3)));
    assert!(decode_one(&[0xF0, 0x00], V5).is_ok());
}

#[test]
fn fixed_header_flags_per_packet_type() {
    // [MQTT-2.1.3-1] (5.0) / [MQTT-2.2.2-2] (3.1.1): each reserved flag pattern is checked.
    let expected: &[(u8, u8)] = &[
        (1, 0),
        (2, 0),
        (4, 0),
        (5, 0),
        (6, 0b0010),
        (7, 0),
        (8, 0b0010),
        (9, 0),
        (10, 0b0010),
        (11, 0),
        (12, 0),
        (13, 0),
        (14, 0),
        (15, 0),
    ];
    for &(ty, good) in expected {
        for flags in 0..16u8 {
            if flags == good {
                continue;
            }
            let first = ty << 4 | flags;
            assert!(
                is_malformed(err(&[first], V5)),
                "type {ty} flags {flags:04b}"
            );
        }
    }
    // The right flags pass the first-byte check and then wait for more.
    let mut buf = BytesMut::from(&[0x62][..]);
    assert_eq!(decode(&mut buf, V5, MAX), Ok(None));
}

#[test]
fn publish_qos_3_is_malformed() {
    // [MQTT-3.3.1-4]; detected from the first byte.
    for first in [0x36, 0x37, 0x3E, 0x3F] {
        assert!(is_malformed(err(&[first], V3)));
        assert!(is_malformed(err(&[first], V5)));
    }
}

#[test]
fn publish_qos_0_with_dup_is_a_protocol_error() {
    // [MQTT-3.3.1-2]
    let bytes = frame(0x38, &cat(&[&s(b"a"), b"x"]));
    assert!(is_protocol(err(&bytes, V3)));
    let bytes = frame(0x38, &cat(&[&s(b"a"), &[0], b"x"]));
    assert!(is_protocol(err(&bytes, V5)));
}

#[test]
fn remaining_length_of_five_bytes_is_malformed() {
    // §1.5.5 / §2.2.3: at most four bytes; refused as soon as the fifth byte shows up.
    assert!(is_malformed(err(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF], V3)));
    assert!(is_malformed(err(&[0x30, 0x80, 0x80, 0x80, 0x80, 0x01], V5)));
}

#[test]
fn packet_too_large_is_refused_before_its_bytes_arrive() {
    // A PUBLISH announcing 1,000 bytes of content against a 100-byte limit: the size counts the
    // fixed header too (1 + 2 + 1000).
    let mut buf = BytesMut::from(&[0x30, 0xE8, 0x07][..]);
    assert_eq!(
        decode(&mut buf, V3, 100),
        Err(PacketTooLarge { size: 1003 })
    );
    // Exactly at the limit is fine.
    let p = Packet::Publish(Publish {
        topic: "t".into(),
        payload: Bytes::from(vec![1; 95]),
        ..Publish::default()
    });
    let mut buf = BytesMut::new();
    encode(&p, V3, &mut buf).unwrap();
    assert_eq!(buf.len(), 100);
    assert_eq!(decode(&mut buf.clone(), V3, 100), Ok(Some(p)));
    assert_eq!(decode(&mut buf, V3, 99), Err(PacketTooLarge { size: 100 }));
    assert_eq!(PacketTooLarge { size: 1 }.reason_code(), 0x95);
}

#[test]
fn content_must_match_the_remaining_length() {
    // Trailing bytes after a complete CONNECT.
    let body = connect_body(b"MQTT", 4, 0x02, &cat(&[&s(b"id"), &[0]]));
    assert!(is_malformed(err(&frame(0x10, &body), V3)));
    // PINGREQ, PINGRESP and 3.1.1 DISCONNECT have no body.
    assert!(is_malformed(err(&[0xC0, 0x01, 0x00], V3)));
    assert!(is_malformed(err(&[0xD0, 0x01, 0x00], V5)));
    assert!(is_malformed(err(&[0xE0, 0x01, 0x00], V3)));
    // 3.1.1 acknowledgements are exactly two bytes long.
    for first in [0x40, 0x50, 0x62, 0x70, 0xB0] {
        assert!(is_malformed(err(&[first, 0x03, 0x00, 0x01, 0x00], V3)));
        assert!(is_malformed(err(&[first, 0x01, 0x00], V3)));
    }
    // 3.1.1 CONNACK is exactly two bytes long.
    assert!(is_malformed(err(&[0x20, 0x03, 0x00, 0x00, 0x00], V3)));
    assert!(is_malformed(err(&[0x20, 0x01, 0x00], V3)));
    // A string whose length runs past the end of the packet.
    assert!(is_malformed(err(
        &frame(0x30, &[0x00, 0x0A, b'a', b'b']),
        V3
    )));
    // A property length past the end of the packet.
    assert!(is_malformed(err(&frame(0xE0, &[0x00, 0x05, 0x11]), V5)));
    // A property value cut short by the property length.
    assert!(is_malformed(err(
        &frame(0xE0, &[0x00, 0x03, 0x11, 0x00, 0x00]),
        V5
    )));
    // A CONNECT whose payload ends early (no client identifier).
    let body = connect_body(b"MQTT", 4, 0x02, &[]);
    assert!(is_malformed(err(&frame(0x10, &body), V3)));
}

// ---- UTF-8 strings (§1.5.4 of 5.0, §1.5.3 of 3.1.1) ----

#[test]
fn strings_must_be_well_formed_utf8_without_nul() {
    // [MQTT-1.5.4-1]: ill-formed UTF-8, including an encoded surrogate.
    for bad in [&b"\xC3\x28"[..], b"\xED\xA0\x80", b"\xFF", b"a\xF0\x9F"] {
        let bytes = frame(0x30, &cat(&[&s(bad), b"x"]));
        assert!(is_malformed(err(&bytes, V3)), "{bad:02x?}");
    }
    // [MQTT-1.5.4-2]: U+0000.
    let bytes = frame(0x30, &cat(&[&s(b"a\0b"), b"x"]));
    assert!(is_malformed(err(&bytes, V3)));
    // In a client identifier, a user name, a user property.
    let body = connect_body(b"MQTT", 4, 0x02, &s(b"i\0d"));
    assert!(is_malformed(err(&frame(0x10, &body), V3)));
    let body = connect_body(b"MQTT", 4, 0x82, &cat(&[&s(b"id"), &s(b"\xC0\x80")]));
    assert!(is_malformed(err(&frame(0x10, &body), V3)));
    let props = cat(&[&[0x26], &s(b"k"), &s(b"v\0")]);
    let body = cat(&[&[0x00, props.len() as u8], &props]);
    assert!(is_malformed(err(&frame(0xE0, &body), V5)));
    // Other control characters are only "SHOULD NOT" and pass.
    let bytes = frame(0x30, &cat(&[&s(b"a\x01\x7F"), b"x"]));
    assert!(decode_one(&bytes, V3).is_ok());
}

// ---- CONNECT (§3.1) ----

#[test]
fn connect_protocol_name_and_level() {
    // MQTT 3.1 ("MQIsdp", level 3): the caller answers CONNACK 0x01.
    let body = connect_body(b"MQIsdp", 3, 0x02, &s(b"id"));
    assert_eq!(err(&frame(0x10, &body), V3), UnsupportedProtocol(3));
    assert_eq!(UnsupportedProtocol(3).reason_code(), 0x84);
    for level in [0, 3, 6, 0x84] {
        let body = connect_body(b"MQTT", level, 0x02, &s(b"id"));
        assert_eq!(err(&frame(0x10, &body), V3), UnsupportedProtocol(level));
    }
    for name in [&b"MQTX"[..], b"mqtt", b"", b"MQIsdp"] {
        let body = connect_body(name, 4, 0x02, &s(b"id"));
        assert!(is_malformed(err(&frame(0x10, &body), V3)), "{name:?}");
    }
}

#[test]
fn connect_reserved_flag_must_be_zero() {
    // [MQTT-3.1.2-3] of both versions.
    let body = connect_body(b"MQTT", 4, 0x03, &s(b"id"));
    assert!(is_malformed(err(&frame(0x10, &body), V3)));
    let body = connect_body(b"MQTT", 5, 0x03, &cat(&[&[0], &s(b"id")]));
    assert!(is_malformed(err(&frame(0x10, &body), V3)));
}

#[test]
fn connect_will_flag_rules() {
    // Will QoS or Will Retain without the Will Flag [MQTT-3.1.2-11], [MQTT-3.1.2-13].
    for flags in [0x0A, 0x12, 0x22, 0x3A] {
        let body = connect_body(b"MQTT", 4, flags, &s(b"id"));
        assert!(is_malformed(err(&frame(0x10, &body), V3)), "{flags:#x}");
        let body = connect_body(b"MQTT", 5, flags, &cat(&[&[0], &s(b"id")]));
        assert!(is_malformed(err(&frame(0x10, &body), V3)), "{flags:#x}");
    }
    // Will QoS 3 [MQTT-3.1.2-12].
    let will = cat(&[&s(b"id"), &s(b"w"), &s(b"x")]);
    let body = connect_body(b"MQTT", 4, 0x1E, &will);
    assert!(is_malformed(err(&frame(0x10, &body), V3)));
    // Will topic must be a topic name.
    for topic in [&b"a/+"[..], b"#", b""] {
        let will = cat(&[&s(b"id"), &s(topic), &s(b"x")]);
        let body = connect_body(b"MQTT", 4, 0x06, &will);
        assert!(is_malformed(err(&frame(0x10, &body), V3)), "{topic:?}");
    }
    // Will flag set but the will fields missing.
    let body = connect_body(b"MQTT", 4, 0x06, &s(b"id"));
    assert!(is_malformed(err(&frame(0x10, &body), V3)));
}

#[test]
fn connect_password_without_user_name() {
    // Refused by 3.1.1 [MQTT-3.1.2-22], allowed by 5.0 (§3.1.2.9).
    let body = connect_body(b"MQTT", 4, 0x42, &cat(&[&s(b"id"), &s(b"pw")]));
    assert!(is_malformed(err(&frame(0x10, &body), V3)));
    let body = connect_body(b"MQTT", 5, 0x42, &cat(&[&[0], &s(b"id"), &s(b"pw")]));
    let Packet::Connect(c) = decode_one(&frame(0x10, &body), V3).unwrap() else {
        panic!()
    };
    assert_eq!(
        (c.username, c.password),
        (None, Some(Bytes::from_static(b"pw")))
    );
}

#[test]
fn connect_authentication_data_needs_a_method() {
    // §3.1.2.11.10
    let props = cat(&[&[0x16], &s(b"data")]);
    let body = connect_body(
        b"MQTT",
        5,
        0x02,
        &cat(&[&[props.len() as u8], &props, &s(b"id")]),
    );
    assert!(is_protocol(err(&frame(0x10, &body), V3)));
}

// ---- Properties (§2.2.2) ----

/// A v5 DISCONNECT (reason 0) carrying `props`.
fn disconnect_with(props: &[u8]) -> Vec<u8> {
    frame(0xE0, &cat(&[&[0x00, props.len() as u8], props]))
}

/// A v5 QoS 0 PUBLISH on "t" carrying `props`.
fn publish_with(props: &[u8]) -> Vec<u8> {
    frame(0x30, &cat(&[&s(b"t"), &[props.len() as u8], props, b"x"]))
}

#[test]
fn unknown_property_identifiers_are_malformed() {
    for id in [0x00, 0x04, 0x0A, 0x14, 0x2B, 0x7F] {
        assert!(is_malformed(err(&disconnect_with(&[id, 0]), V5)), "{id:#x}");
    }
    // A multi-byte identifier is no known property either.
    assert!(is_malformed(err(&disconnect_with(&[0x81, 0x01, 0]), V5)));
}

#[test]
fn properties_not_allowed_in_the_packet_are_protocol_errors() {
    // Topic Alias in DISCONNECT, Session Expiry Interval in PUBLISH, Reason String in CONNECT,
    // Subscription Identifier in UNSUBSCRIBE, Will Delay Interval in PUBLISH.
    assert!(is_protocol(err(&disconnect_with(&[0x23, 0, 1]), V5)));
    assert!(is_protocol(err(&publish_with(&[0x11, 0, 0, 0, 1]), V5)));
    assert!(is_protocol(err(&publish_with(&[0x18, 0, 0, 0, 1]), V5)));
    let props = cat(&[&[0x1F], &s(b"why")]);
    let body = connect_body(
        b"MQTT",
        5,
        0x02,
        &cat(&[&[props.len() as u8], &props, &s(b"id")]),
    );
    assert!(is_protocol(err(&frame(0x10, &body), V3)));
    let body = cat(&[&[0, 1, 2, 0x0B, 5], &s(b"a")]);
    assert!(is_protocol(err(&frame(0xA2, &body), V5)));
    // Server-only CONNACK properties in a PUBACK.
    let body = [0, 1, 0, 2, 0x25, 1];
    assert!(is_protocol(err(&frame(0x40, &body), V5)));
}

#[test]
fn duplicated_properties_are_protocol_errors() {
    // "It is a Protocol Error to include ... more than once" (each property of §3.x.2.x).
    assert!(is_protocol(err(
        &disconnect_with(&[0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2]),
        V5
    )));
    assert!(is_protocol(err(&publish_with(&[0x01, 0, 0x01, 1]), V5)));
    assert!(is_protocol(err(
        &publish_with(&[0x23, 0, 1, 0x23, 0, 1]),
        V5
    )));
    // User Property may repeat; Subscription Identifier may repeat in PUBLISH (§3.3.2.3.8).
    let users = cat(&[&[0x26], &s(b"k"), &s(b"v"), &[0x26], &s(b"k"), &s(b"v")]);
    let Packet::Disconnect(d) = decode_one(&disconnect_with(&users), V5).unwrap() else {
        panic!()
    };
    assert_eq!(d.properties.user_properties.len(), 2);
    let Packet::Publish(p) = decode_one(&publish_with(&[0x0B, 1, 0x0B, 2]), V5).unwrap() else {
        panic!()
    };
    assert_eq!(p.properties.subscription_identifiers, [1, 2]);
    // ...but not in SUBSCRIBE (§3.8.2.1.2).
    let body = cat(&[&[0, 1, 4, 0x0B, 1, 0x0B, 2], &s(b"a"), &[0]]);
    assert!(is_protocol(err(&frame(0x82, &body), V5)));
}

#[test]
fn property_values_out_of_range_are_protocol_errors() {
    let connect_props = |props: &[u8]| {
        let body = connect_body(
            b"MQTT",
            5,
            0x02,
            &cat(&[&[props.len() as u8], props, &s(b"id")]),
        );
        frame(0x10, &body)
    };
    // Receive Maximum 0, Maximum Packet Size 0, Request Problem/Response Information 2.
    for props in [
        &[0x21, 0, 0][..],
        &[0x27, 0, 0, 0, 0],
        &[0x17, 2],
        &[0x19, 2],
    ] {
        assert!(is_protocol(err(&connect_props(props), V3)), "{props:02x?}");
    }
    // Subscription Identifier 0, Payload Format Indicator 2.
    for props in [&[0x0B, 0][..], &[0x01, 2]] {
        assert!(is_protocol(err(&publish_with(props), V5)), "{props:02x?}");
    }
    // Topic Alias 0: Topic Alias Invalid (0x94).
    let zero = err(&publish_with(&[0x23, 0, 0]), V5);
    assert_eq!(zero, DecodeError::TopicAliasZero);
    assert_eq!(zero.reason_code(), 0x94);
    // Maximum QoS 2 and boolean capabilities above 1 in CONNACK.
    for props in [
        &[0x24, 2][..],
        &[0x25, 2],
        &[0x28, 2],
        &[0x29, 2],
        &[0x2A, 7],
    ] {
        let body = cat(&[&[0, 0, props.len() as u8], props]);
        assert!(is_protocol(err(&frame(0x20, &body), V5)), "{props:02x?}");
    }
    // A Subscription Identifier of five bytes is malformed.
    assert!(is_malformed(err(
        &publish_with(&[0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        V5
    )));
}

#[test]
fn response_topic_must_be_a_topic_name() {
    // [MQTT-3.3.2-14]
    let props = cat(&[&[0x08], &s(b"replies/#")]);
    assert!(is_protocol(err(&publish_with(&props), V5)));
}

// ---- PUBLISH (§3.3) ----

#[test]
fn publish_topic_rules() {
    // No wildcards in a topic name [MQTT-3.3.2-2].
    for topic in [&b"a/+"[..], b"#", b"a/b#"] {
        let bytes = frame(0x30, &cat(&[&s(topic), b"x"]));
        assert!(is_malformed(err(&bytes, V3)), "{topic:?}");
    }
    // Empty topic: never in 3.1.1; in 5.0 only with a Topic Alias (§3.3.2.1).
    assert!(is_protocol(err(&frame(0x30, &cat(&[&s(b""), b"x"])), V3)));
    assert!(is_protocol(err(
        &frame(0x30, &cat(&[&s(b""), &[0], b"x"])),
        V5
    )));
    let aliased = frame(0x30, &cat(&[&s(b""), &[3, 0x23, 0, 1], b"x"]));
    assert!(decode_one(&aliased, V5).is_ok());
}

#[test]
fn zero_packet_identifiers_are_protocol_errors() {
    // [MQTT-2.2.1-3] (5.0), [MQTT-2.3.1-1] (3.1.1), and the acknowledgements of packets that
    // carried one.
    assert!(is_protocol(err(
        &frame(0x32, &cat(&[&s(b"t"), &[0, 0]])),
        V3
    )));
    assert!(is_protocol(err(
        &frame(0x34, &cat(&[&s(b"t"), &[0, 0, 0]])),
        V5
    )));
    for first in [0x40, 0x50, 0x62, 0x70, 0xB0] {
        assert!(is_protocol(err(&[first, 0x02, 0, 0], V3)), "{first:#x}");
        assert!(is_protocol(err(&[first, 0x02, 0, 0], V5)), "{first:#x}");
    }
    assert!(is_protocol(err(
        &frame(0x82, &cat(&[&[0, 0], &s(b"a"), &[0]])),
        V3
    )));
    assert!(is_protocol(err(
        &frame(0xA2, &cat(&[&[0, 0], &s(b"a")])),
        V3
    )));
    assert!(is_protocol(err(&[0x90, 0x03, 0, 0, 0], V3)));
}

// ---- Acknowledgements and reason codes ----

#[test]
fn reason_codes_must_belong_to_the_packet() {
    // PUBACK/PUBREC: 0x92 belongs to PUBREL/PUBCOMP; PUBREL/PUBCOMP: 0x10 to PUBACK.
    assert!(is_protocol(err(&[0x40, 0x03, 0, 1, 0x92], V5)));
    assert!(is_protocol(err(&[0x50, 0x03, 0, 1, 0x01], V5)));
    assert!(is_protocol(err(&[0x62, 0x03, 0, 1, 0x10], V5)));
    assert!(is_protocol(err(&[0x70, 0x03, 0, 1, 0x80], V5)));
    // DISCONNECT 0x91 is not a Disconnect Reason Code.
    assert!(is_protocol(err(&[0xE0, 0x01, 0x91], V5)));
    // AUTH takes 0x00, 0x18 and 0x19 only.
    assert!(is_protocol(err(&[0xF0, 0x02, 0x01, 0x00], V5)));
    // CONNACK: 3.1.1 codes 6..255 are reserved; 5.0 0x01 is no CONNACK code.
    assert!(is_protocol(err(&[0x20, 0x02, 0x00, 0x06], V3)));
    assert!(is_protocol(err(&[0x20, 0x03, 0x00, 0x01, 0x00], V5)));
    // SUBACK: 3.1.1 knows 0, 1, 2 and 0x80 [MQTT-3.9.3-2]; 5.0 has its own table.
    assert!(is_protocol(err(&[0x90, 0x03, 0, 1, 0x03], V3)));
    assert!(is_protocol(err(&[0x90, 0x03, 0, 1, 0x83], V3)));
    assert!(is_protocol(err(&[0x90, 0x04, 0, 1, 0, 0x11], V5)));
    // UNSUBACK 5.0: 0x01 is no Unsubscribe Reason Code.
    assert!(is_protocol(err(&[0xB0, 0x04, 0, 1, 0, 0x01], V5)));
    // Acknowledgements without any code.
    assert!(is_protocol(err(&[0x90, 0x02, 0, 1], V3)));
    assert!(is_protocol(err(&[0xB0, 0x03, 0, 1, 0], V5)));
}

#[test]
fn connack_reserved_flags_must_be_zero() {
    // §3.2.2.1: bits 7-1 of the Connect Acknowledge Flags are reserved.
    assert!(is_malformed(err(&[0x20, 0x02, 0x02, 0x00], V3)));
    assert!(is_malformed(err(&[0x20, 0x03, 0x80, 0x00, 0x00], V5)));
}

#[test]
fn short_forms_of_v5_packets() {
    // PUBACK with Remaining Length 2 and 3; DISCONNECT with 0 and 1; AUTH with 0.
    let Packet::PubAck(a) = decode_one(&[0x40, 0x02, 0, 7], V5).unwrap() else {
        panic!()
    };
    assert_eq!((a.pkid, a.reason), (7, 0));
    let Packet::PubAck(a) = decode_one(&[0x40, 0x03, 0, 7, 0x10], V5).unwrap() else {
        panic!()
    };
    assert_eq!((a.pkid, a.reason), (7, 0x10));
    let Packet::Disconnect(d) = decode_one(&[0xE0, 0x01, 0x8E], V5).unwrap() else {
        panic!()
    };
    assert_eq!(d.reason, reason::SESSION_TAKEN_OVER);
    // AUTH with a reason but no property length is not a form §3.15.2 allows.
    assert!(is_malformed(err(&[0xF0, 0x01, 0x18], V5)));
}

// ---- SUBSCRIBE and UNSUBSCRIBE (§3.8, §3.10) ----

#[test]
fn subscribe_needs_a_filter() {
    // [MQTT-3.8.3-3] (3.1.1) / §3.8.3 (5.0).
    assert!(is_protocol(err(&[0x82, 0x02, 0, 1], V3)));
    assert!(is_protocol(err(&[0x82, 0x03, 0, 1, 0], V5)));
    // A filter without its options byte.
    assert!(is_malformed(err(
        &frame(0x82, &cat(&[&[0, 1], &s(b"a")])),
        V3
    )));
}

#[test]
fn unsubscribe_needs_a_filter() {
    // [MQTT-3.10.3-2]
    assert!(is_protocol(err(&[0xA2, 0x02, 0, 1], V3)));
    assert!(is_protocol(err(&[0xA2, 0x03, 0, 1, 0], V5)));
}

#[test]
fn subscription_options() {
    let v3 = |opt: u8| frame(0x82, &cat(&[&[0, 1], &s(b"a"), &[opt]]));
    let v5 = |filter: &[u8], opt: u8| frame(0x82, &cat(&[&[0, 1, 0], &s(filter), &[opt]]));
    // 3.1.1: upper six bits reserved and QoS 3 malformed [MQTT-3-8.3-4].
    for opt in [0x03, 0x04, 0x10, 0x80] {
        assert!(is_malformed(err(&v3(opt), V3)), "{opt:#x}");
    }
    // 5.0: bits 6 and 7 reserved [MQTT-3.8.3-5]; QoS 3 and Retain Handling 3 are Protocol
    // Errors (§3.8.3.1); No Local on a shared subscription too [MQTT-3.8.3-4].
    assert!(is_malformed(err(&v5(b"a", 0x40), V5)));
    assert!(is_malformed(err(&v5(b"a", 0x80), V5)));
    assert!(is_protocol(err(&v5(b"a", 0x03), V5)));
    assert!(is_protocol(err(&v5(b"a", 0x30), V5)));
    assert!(is_protocol(err(&v5(b"$share/g/a", 0x04), V5)));
    let Packet::Subscribe(sub) = decode_one(&v5(b"a", 0x2E), V5).unwrap() else {
        panic!()
    };
    let f = &sub.filters[0];
    assert_eq!(
        (f.qos, f.no_local, f.retain_as_published, f.retain_handling),
        (QoS::ExactlyOnce, true, true, 2)
    );
}

// ---- The encoder refuses what a receiver would reject ----

fn encode_err(p: Packet, protocol: Protocol) -> EncodeError {
    let mut out = BytesMut::new();
    let e = encode(&p, protocol, &mut out).expect_err("encoded");
    assert!(out.is_empty(), "a failed encode wrote bytes");
    e
}

#[test]
fn encoder_refusals() {
    let publish = |f: fn(&mut Publish)| {
        let mut p = Publish {
            qos: QoS::AtLeastOnce,
            pkid: 1,
            topic: "t".into(),
            ..Publish::default()
        };
        f(&mut p);
        Packet::Publish(p)
    };
    assert!(matches!(
        encode_err(publish(|p| p.pkid = 0), V3),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(
            publish(|p| {
                p.qos = QoS::AtMostOnce;
                p.dup = true
            }),
            V3
        ),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(publish(|p| p.topic = "a/#".into()), V5),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(publish(|p| p.topic.clear()), V5),
        EncodeError::Invalid(_)
    ));
    assert_eq!(
        encode_err(publish(|p| p.topic = "a\0".into()), V3),
        EncodeError::NullCharacter
    );
    assert_eq!(
        encode_err(publish(|p| p.topic = "x".repeat(70_000)), V3),
        EncodeError::FieldTooLong { len: 70_000 }
    );
    assert!(matches!(
        encode_err(
            publish(|p| p.properties.subscription_identifiers = vec![0]),
            V5
        ),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(publish(|p| p.properties.topic_alias = Some(0)), V5),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(
            publish(|p| p.properties.payload_format_indicator = Some(2)),
            V5
        ),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(Packet::Subscribe(Subscribe::default()), V3),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(
            Packet::Subscribe(Subscribe {
                pkid: 1,
                ..Subscribe::default()
            }),
            V5
        ),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(
            Packet::SubAck(SubAck {
                pkid: 1,
                return_codes: vec![0x83],
                ..SubAck::default()
            }),
            V3
        ),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(
            Packet::ConnAck(ConnAck {
                code: reason::NOT_AUTHORIZED,
                ..ConnAck::default()
            }),
            V3
        ),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(
            Packet::ConnAck(ConnAck {
                properties: ConnAckProperties {
                    maximum_qos: Some(QoS::ExactlyOnce),
                    ..ConnAckProperties::default()
                },
                ..ConnAck::default()
            }),
            V5
        ),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(
            Packet::Disconnect(Disconnect {
                reason: 0x91,
                ..Disconnect::default()
            }),
            V5
        ),
        EncodeError::Invalid(_)
    ));
    assert!(matches!(
        encode_err(
            Packet::Connect(Connect {
                protocol: V5,
                properties: ConnectProperties {
                    authentication_data: Some(Bytes::from_static(b"x")),
                    ..ConnectProperties::default()
                },
                ..Connect::default()
            }),
            V5
        ),
        EncodeError::Invalid(_)
    ));
    let too_big = Publish {
        topic: "t".into(),
        payload: Bytes::from(vec![0; 268_435_456]),
        ..Publish::default()
    };
    assert!(matches!(
        encode_err(Packet::Publish(too_big), V3),
        EncodeError::PacketTooLarge { .. }
    ));
}
