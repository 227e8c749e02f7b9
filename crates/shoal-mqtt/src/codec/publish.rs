//! PUBLISH – Publish message (§3.3 of both versions).

use bytes::{Bytes, BytesMut};

use super::primitives::{
    put_string, put_variable_byte_integer, Counter, Reader, Sink, MAX_VARIABLE_BYTE_INTEGER,
};
use super::properties::{PublishProperties, WriteProperties};
use super::{DecodeError, EncodeError, Protocol, QoS};

/// An application message on its way to or from the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publish {
    /// A possible re-delivery (§3.3.1.1); never set on QoS 0.
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// A topic name (no wildcards). Empty only in MQTT 5.0 when `properties.topic_alias` stands
    /// for it (§3.3.2.1, §3.3.2.3.4); resolving aliases is the session's job.
    pub topic: String,
    /// Packet Identifier: non-zero for QoS 1 and 2, 0 (absent on the wire) for QoS 0 (§2.2.1).
    pub pkid: u16,
    /// A slice of the receive buffer when decoded; cloning it does not copy the bytes.
    pub payload: Bytes,
    /// MQTT 5.0 only; ignored when encoding 3.1.1.
    pub properties: PublishProperties,
}

const DUP: u8 = 0x08;
const RETAIN: u8 = 0x01;

impl Publish {
    /// The flags of the fixed header (§3.3.1).
    pub(crate) fn flags(&self) -> u8 {
        let mut f = (self.qos as u8) << 1;
        if self.dup {
            f |= DUP;
        }
        if self.retain {
            f |= RETAIN;
        }
        f
    }

    pub(crate) fn decode(
        flags: u8,
        r: &mut Reader,
        protocol: Protocol,
    ) -> Result<Self, DecodeError> {
        let qos = QoS::from_u8((flags >> 1) & 0x03)
            .ok_or(DecodeError::MalformedPacket("PUBLISH with QoS 3"))?;
        let dup = flags & DUP != 0;
        if dup && qos == QoS::AtMostOnce {
            // [MQTT-3.3.1-2]: DUP MUST be 0 for QoS 0.
            return Err(DecodeError::ProtocolError("DUP set on a QoS 0 PUBLISH"));
        }
        let topic = r.string()?;
        let pkid = if qos == QoS::AtMostOnce {
            0
        } else {
            let id = r.u16()?;
            if id == 0 {
                // [MQTT-2.2.1-3] (5.0), [MQTT-2.3.1-1] (3.1.1).
                return Err(DecodeError::ProtocolError("packet identifier 0"));
            }
            id
        };
        let properties = match protocol {
            Protocol::V5 => PublishProperties::decode(r)?,
            Protocol::V311 => PublishProperties::default(),
        };
        check_topic(&topic, &properties, protocol).map_err(|e| match e {
            TopicProblem::Wildcard => {
                DecodeError::MalformedPacket("topic name contains a wildcard")
            }
            TopicProblem::Empty => DecodeError::ProtocolError("empty topic name without an alias"),
        })?;
        Ok(Publish {
            dup,
            qos,
            retain: flags & RETAIN != 0,
            topic,
            pkid,
            payload: r.rest(),
            properties,
        })
    }

    /// Everything after the fixed header; the payload only when `payload` is true.
    pub(crate) fn write<S: Sink>(
        &self,
        protocol: Protocol,
        s: &mut S,
        payload: bool,
    ) -> Result<(), EncodeError> {
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(EncodeError::Invalid("DUP set on a QoS 0 PUBLISH"));
        }
        check_topic(&self.topic, &self.properties, protocol).map_err(|e| match e {
            TopicProblem::Wildcard => EncodeError::Invalid("topic name contains a wildcard"),
            TopicProblem::Empty => EncodeError::Invalid("empty topic name without an alias"),
        })?;
        put_string(s, &self.topic)?;
        if self.qos != QoS::AtMostOnce {
            if self.pkid == 0 {
                return Err(EncodeError::Invalid("packet identifier 0 on QoS 1 or 2"));
            }
            s.put_u16(self.pkid);
        }
        if protocol == Protocol::V5 {
            self.properties.write(s)?;
        }
        if payload {
            s.put_slice(&self.payload);
        }
        Ok(())
    }
}

enum TopicProblem {
    Wildcard,
    Empty,
}

/// §3.3.2.1: the Topic Name has no wildcards [MQTT-3.3.2-2], and is empty only when a Topic
/// Alias replaces it (MQTT 5.0 §3.3.2.3.4); MQTT 3.1.1 has no aliases, and §4.7.3 of both
/// requires topic names to be at least one character.
fn check_topic(
    topic: &str,
    properties: &PublishProperties,
    protocol: Protocol,
) -> Result<(), TopicProblem> {
    if topic.contains(['+', '#']) {
        return Err(TopicProblem::Wildcard);
    }
    if topic.is_empty() && (protocol == Protocol::V311 || properties.topic_alias.is_none()) {
        return Err(TopicProblem::Empty);
    }
    Ok(())
}

/// Appends the fixed header and variable header of `publish`, but not its payload, to `out`.
/// Sending `out` and then `publish.payload` (e.g. with a vectored write) puts the same bytes on
/// the wire as [`encode`](super::encode), without copying the payload: a broker fanning one
/// message out to many subscribers encodes only the small per-subscriber header for each.
pub fn encode_publish_header(
    publish: &Publish,
    protocol: Protocol,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let mut c = Counter::default();
    publish.write(protocol, &mut c, true)?;
    if c.0 > MAX_VARIABLE_BYTE_INTEGER as usize {
        return Err(EncodeError::PacketTooLarge { size: c.0 });
    }
    let header = super::packet_type::PUBLISH << 4 | publish.flags();
    out.reserve(5 + c.0.saturating_sub(publish.payload.len()));
    out.put_u8(header);
    put_variable_byte_integer(out, c.0)?;
    publish.write(protocol, out, false)
}
