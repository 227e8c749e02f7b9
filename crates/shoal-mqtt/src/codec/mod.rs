//! MQTT control packets and their wire format, for both MQTT 3.1.1 and MQTT 5.0.
//!
//! [`decode`] takes one packet off the front of a receive buffer, or says it needs more bytes;
//! [`encode`] appends one packet to a send buffer. Each packet type lives in its own module; the
//! fixed header (§2.1 of MQTT 5.0, §2.2 of 3.1.1) is handled here.
//!
//! The decoder enforces what the specifications require a receiver to check (reserved flags,
//! QoS 3, packet identifiers, string rules, property rules, lengths that agree with content) and
//! reports a violation as [`DecodeError`], whose [`DecodeError::reason_code`] is what an MQTT 5
//! server puts in its DISCONNECT or CONNACK. The encoder refuses packets that a conforming
//! receiver would reject, so what Shoal sends always decodes. Policy — whether a Client
//! Identifier is acceptable, whether a topic filter is allowed, AWS IoT's limits, topic alias
//! bookkeeping, which direction a packet may flow in — belongs to the caller.

use bytes::{Buf, BytesMut};

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod ping;
pub mod primitives;
mod properties;
mod publish;
pub mod reason;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use ack::{PubAck, PubComp, PubRec, PubRel};
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, LastWill};
pub use disconnect::Disconnect;
pub use properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PublishProperties, SubscribeProperties, UnsubscribeProperties, WillProperties,
};
pub use publish::{encode_publish_header, Publish};
pub use reason::return_code;
pub use suback::SubAck;
pub use subscribe::{Subscribe, Subscription};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use primitives::{Counter, Reader, Sink, MAX_VARIABLE_BYTE_INTEGER};

/// The protocol version of a connection, from the Protocol Level byte of CONNECT (§3.1.2.2):
/// 4 for MQTT 3.1.1, 5 for MQTT 5.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    #[default]
    V311,
    V5,
}

impl Protocol {
    /// The Protocol Level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Protocol::V311 => 4,
            Protocol::V5 => 5,
        }
    }
}

/// Quality of Service levels (§4.3). The value 3 is reserved and never decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS with this two-bit value, `None` for 3 and above.
    pub fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// One MQTT control packet (§2.1.2 Control Packet type). `Auth` exists only in MQTT 5.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubAck),
    PubRec(PubRec),
    PubRel(PubRel),
    PubComp(PubComp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

/// Why bytes could not be decoded. Every variant means the connection cannot go on: MQTT has
/// no way to skip a bad packet.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes cannot be parsed as the packet they claim to be (§4.13 of MQTT 5.0, §4.8 of
    /// 3.1.1): reserved bits set, a field running past the end, ill-formed UTF-8, QoS 3...
    #[error("malformed packet: {0}")]
    MalformedPacket(&'static str),
    /// The packet parses but breaks a rule of the protocol (MQTT 5.0 §4.13): a duplicated
    /// property, a zero packet identifier, a property that does not belong in the packet...
    #[error("protocol error: {0}")]
    ProtocolError(&'static str),
    /// The packet's total size (fixed header included) exceeds the limit the caller gave.
    #[error("packet of {size} bytes exceeds the maximum packet size")]
    PacketTooLarge { size: usize },
    /// A CONNECT asking for a protocol level other than 4 or 5 (e.g. MQTT 3.1's "MQIsdp", level
    /// 3). An MQTT 3.1.1 server answers CONNACK with return code 0x01
    /// ([`return_code::UNACCEPTABLE_PROTOCOL_VERSION`]) and closes (§3.1.2.2 of 3.1.1); MQTT 5.0
    /// allows CONNACK 0x84 (§3.1.2.2 of 5.0), sent in the format of the level the client speaks.
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocol(u8),
    /// A PUBLISH with Topic Alias 0, which no sender may send (MQTT 5 §3.3.2.3.4): the
    /// receiver answers DISCONNECT 0x94 Topic Alias Invalid, as for an alias above its maximum
    /// (which only the receiver, knowing its maximum, can tell).
    #[error("topic alias 0")]
    TopicAliasZero,
}

impl DecodeError {
    /// The MQTT 5.0 reason code (§2.4) a server sends in DISCONNECT, or in CONNACK when the
    /// error is in the CONNECT: 0x81 Malformed Packet, 0x82 Protocol Error, 0x95 Packet too
    /// large, 0x84 Unsupported Protocol Version.
    pub fn reason_code(&self) -> u8 {
        match self {
            DecodeError::MalformedPacket(_) => reason::MALFORMED_PACKET,
            DecodeError::ProtocolError(_) => reason::PROTOCOL_ERROR,
            DecodeError::PacketTooLarge { .. } => reason::PACKET_TOO_LARGE,
            DecodeError::UnsupportedProtocol(_) => reason::UNSUPPORTED_PROTOCOL_VERSION,
            DecodeError::TopicAliasZero => reason::TOPIC_ALIAS_INVALID,
        }
    }
}

/// Why a packet could not be encoded: it would not be a valid packet on the wire.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    /// The Remaining Length (or a property length) would exceed 268,435,455 bytes (§1.5.5).
    #[error("packet too large: a length of {size} bytes does not fit a variable byte integer")]
    PacketTooLarge { size: usize },
    /// A string or binary field longer than 65,535 bytes (§1.5.4, §1.5.6).
    #[error("field of {len} bytes is longer than 65,535 bytes")]
    FieldTooLong { len: usize },
    /// A string containing U+0000, which receivers must reject (§1.5.4).
    #[error("string contains U+0000")]
    NullCharacter,
    /// The packet has no representation in the protocol version asked for (AUTH in 3.1.1).
    #[error("{0} does not exist in MQTT 3.1.1")]
    NotInProtocol(&'static str),
    /// A field value the receiver would reject (zero packet identifier, no topic filters,
    /// reserved reason code, property value out of range...).
    #[error("invalid packet: {0}")]
    Invalid(&'static str),
}

/// Packet type numbers of the fixed header (§2.1.2).
mod packet_type {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
    pub const AUTH: u8 = 15;
}

/// Checks the first byte of the fixed header (§2.1.2, §2.1.3 of MQTT 5.0; §2.2.1, §2.2.2 of
/// 3.1.1) as soon as it arrives, so garbage is refused without waiting for a length.
fn check_first_byte(b: u8, protocol: Protocol) -> Result<(), DecodeError> {
    let flags = b & 0x0F;
    let expected = match b >> 4 {
        packet_type::PUBLISH => {
            // DUP, QoS and RETAIN are free, except QoS 3 [MQTT-3.3.1-4].
            if (flags >> 1) & 0x03 == 3 {
                return Err(DecodeError::MalformedPacket("PUBLISH with QoS 3"));
            }
            return Ok(());
        }
        // PUBREL, SUBSCRIBE and UNSUBSCRIBE carry the reserved flags 0b0010 [MQTT-3.6.1-1],
        // [MQTT-3.8.1-1], [MQTT-3.10.1-1].
        packet_type::PUBREL | packet_type::SUBSCRIBE | packet_type::UNSUBSCRIBE => 0b0010,
        packet_type::AUTH if protocol == Protocol::V311 => {
            return Err(DecodeError::MalformedPacket(
                "packet type 15 is reserved in MQTT 3.1.1",
            ))
        }
        0 => return Err(DecodeError::MalformedPacket("packet type 0 is reserved")),
        _ => 0,
    };
    if flags == expected {
        Ok(())
    } else {
        Err(DecodeError::MalformedPacket(
            "invalid fixed header flags for the packet type",
        ))
    }
}

/// Decodes one packet from the front of `buf`, removing its bytes. `Ok(None)` means more bytes
/// are needed, and `buf` is left untouched. `max_packet_size` bounds the packet's total size
/// (fixed header, Remaining Length and the rest, as Maximum Packet Size does in MQTT 5.0
/// §3.1.2.11.4): a larger packet is `Err(PacketTooLarge)` as soon as its length is known,
/// without waiting for its bytes. Before CONNECT is decoded the caller passes the protocol it
/// expects as [`Protocol::V311`]; CONNECT itself is parsed with the level it declares, and the
/// caller then uses [`Connect::protocol`] for the rest of the connection.
///
/// After an error the connection must be closed; how much of `buf` was consumed is unspecified.
/// Binary fields and payloads of the returned packet share `buf`'s memory rather than copying.
pub fn decode(
    buf: &mut BytesMut,
    protocol: Protocol,
    max_packet_size: usize,
) -> Result<Option<Packet>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    check_first_byte(first, protocol)?;
    let Some((remaining, len_bytes)) =
        primitives::read_variable_byte_integer(buf.get(1..).unwrap_or_default())?
    else {
        return Ok(None);
    };
    let header = 1 + len_bytes;
    let size = header + remaining as usize;
    if size > max_packet_size {
        return Err(DecodeError::PacketTooLarge { size });
    }
    if buf.len() < size {
        return Ok(None);
    }
    let mut frame = buf.split_to(size).freeze();
    frame.advance(header);
    let mut r = Reader::new(frame);
    let flags = first & 0x0F;
    let packet = match first >> 4 {
        packet_type::CONNECT => Packet::Connect(Connect::decode(&mut r)?),
        packet_type::CONNACK => Packet::ConnAck(ConnAck::decode(&mut r, protocol)?),
        packet_type::PUBLISH => Packet::Publish(Publish::decode(flags, &mut r, protocol)?),
        packet_type::PUBACK => Packet::PubAck(PubAck::decode(&mut r, protocol)?),
        packet_type::PUBREC => Packet::PubRec(PubRec::decode(&mut r, protocol)?),
        packet_type::PUBREL => Packet::PubRel(PubRel::decode(&mut r, protocol)?),
        packet_type::PUBCOMP => Packet::PubComp(PubComp::decode(&mut r, protocol)?),
        packet_type::SUBSCRIBE => Packet::Subscribe(Subscribe::decode(&mut r, protocol)?),
        packet_type::SUBACK => Packet::SubAck(SubAck::decode(&mut r, protocol)?),
        packet_type::UNSUBSCRIBE => Packet::Unsubscribe(Unsubscribe::decode(&mut r, protocol)?),
        packet_type::UNSUBACK => Packet::UnsubAck(UnsubAck::decode(&mut r, protocol)?),
        packet_type::PINGREQ => {
            ping::decode(&r)?;
            Packet::PingReq
        }
        packet_type::PINGRESP => {
            ping::decode(&r)?;
            Packet::PingResp
        }
        packet_type::DISCONNECT => Packet::Disconnect(Disconnect::decode(&mut r, protocol)?),
        packet_type::AUTH => Packet::Auth(Auth::decode(&mut r)?),
        _ => return Err(DecodeError::MalformedPacket("packet type 0 is reserved")),
    };
    Ok(Some(packet))
}

impl Packet {
    /// The first byte of the fixed header: packet type and flags (§2.1.2, §2.1.3).
    fn first_byte(&self) -> u8 {
        let (ty, flags) = match self {
            Packet::Connect(_) => (packet_type::CONNECT, 0),
            Packet::ConnAck(_) => (packet_type::CONNACK, 0),
            Packet::Publish(p) => (packet_type::PUBLISH, p.flags()),
            Packet::PubAck(_) => (packet_type::PUBACK, 0),
            Packet::PubRec(_) => (packet_type::PUBREC, 0),
            Packet::PubRel(_) => (packet_type::PUBREL, 0b0010),
            Packet::PubComp(_) => (packet_type::PUBCOMP, 0),
            Packet::Subscribe(_) => (packet_type::SUBSCRIBE, 0b0010),
            Packet::SubAck(_) => (packet_type::SUBACK, 0),
            Packet::Unsubscribe(_) => (packet_type::UNSUBSCRIBE, 0b0010),
            Packet::UnsubAck(_) => (packet_type::UNSUBACK, 0),
            Packet::PingReq => (packet_type::PINGREQ, 0),
            Packet::PingResp => (packet_type::PINGRESP, 0),
            Packet::Disconnect(_) => (packet_type::DISCONNECT, 0),
            Packet::Auth(_) => (packet_type::AUTH, 0),
        };
        ty << 4 | flags
    }

    /// Writes everything after the fixed header. Called once with a [`Counter`] to validate and
    /// measure, then with the output buffer; the second call cannot fail where the first passed.
    fn write_body<S: Sink>(&self, protocol: Protocol, s: &mut S) -> Result<(), EncodeError> {
        match self {
            Packet::Connect(p) => p.write(s),
            Packet::ConnAck(p) => p.write(protocol, s),
            Packet::Publish(p) => p.write(protocol, s, true),
            Packet::PubAck(p) => p.write(protocol, s),
            Packet::PubRec(p) => p.write(protocol, s),
            Packet::PubRel(p) => p.write(protocol, s),
            Packet::PubComp(p) => p.write(protocol, s),
            Packet::Subscribe(p) => p.write(protocol, s),
            Packet::SubAck(p) => p.write(protocol, s),
            Packet::Unsubscribe(p) => p.write(protocol, s),
            Packet::UnsubAck(p) => p.write(protocol, s),
            Packet::PingReq | Packet::PingResp => Ok(()),
            Packet::Disconnect(p) => p.write(protocol, s),
            Packet::Auth(p) => p.write(protocol, s),
        }
    }
}

/// Validates `packet` and returns its Remaining Length.
fn remaining_length(packet: &Packet, protocol: Protocol) -> Result<usize, EncodeError> {
    let mut c = Counter::default();
    packet.write_body(protocol, &mut c)?;
    if c.0 > MAX_VARIABLE_BYTE_INTEGER as usize {
        return Err(EncodeError::PacketTooLarge { size: c.0 });
    }
    Ok(c.0)
}

/// The total number of bytes [`encode`] would write, e.g. to respect a client's Maximum Packet
/// Size (MQTT 5.0 §3.1.2.11.4) before sending.
pub fn encoded_len(packet: &Packet, protocol: Protocol) -> Result<usize, EncodeError> {
    let n = remaining_length(packet, protocol)?;
    Ok(1 + primitives::variable_byte_integer_len(n) + n)
}

/// Appends `packet`, encoded for `protocol`, to `out`. On error nothing is written.
///
/// CONNECT is always encoded with its own [`Connect::protocol`]. Encoding for
/// [`Protocol::V311`] leaves out what MQTT 3.1.1 has no room for — properties, the reason codes
/// of acknowledgements, UNSUBACK and DISCONNECT, and the MQTT 5 subscription options — so a
/// broker can forward an MQTT 5 message to an MQTT 3.1.1 subscriber as is. Values 3.1.1 cannot
/// carry at all (AUTH, CONNACK and SUBACK codes outside its tables) are errors.
pub fn encode(packet: &Packet, protocol: Protocol, out: &mut BytesMut) -> Result<(), EncodeError> {
    let n = remaining_length(packet, protocol)?;
    out.reserve(1 + primitives::variable_byte_integer_len(n) + n);
    out.put_u8(packet.first_byte());
    primitives::put_variable_byte_integer(out, n)?;
    packet.write_body(protocol, out)
}
