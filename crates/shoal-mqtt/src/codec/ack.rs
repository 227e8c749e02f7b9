//! PUBACK (§3.4), PUBREC (§3.5), PUBREL (§3.6) and PUBCOMP (§3.7): the acknowledgements of the
//! QoS 1 and QoS 2 flows. They share one layout: a Packet Identifier, then in MQTT 5.0 a Reason
//! Code and properties, both of which may be left out — Remaining Length 2 means reason 0 and
//! no properties, 3 means no properties (§3.4.2.1, §3.4.2.2.1 and the matching sections).

use super::primitives::{Reader, Sink};
use super::properties::{AckProperties, WriteProperties};
use super::{reason, DecodeError, EncodeError, Protocol};

fn decode_parts(
    r: &mut Reader,
    protocol: Protocol,
    valid: fn(u8) -> bool,
) -> Result<(u16, u8, AckProperties), DecodeError> {
    let pkid = r.u16()?;
    if pkid == 0 {
        return Err(DecodeError::ProtocolError("packet identifier 0"));
    }
    let mut code = reason::SUCCESS;
    let mut properties = AckProperties::default();
    if protocol == Protocol::V5 && !r.is_empty() {
        code = r.u8()?;
        if !valid(code) {
            return Err(DecodeError::ProtocolError(
                "reason code not allowed in this packet",
            ));
        }
        if !r.is_empty() {
            properties = AckProperties::decode(r)?;
        }
    }
    r.finish()?;
    Ok((pkid, code, properties))
}

fn write_parts<S: Sink>(
    s: &mut S,
    protocol: Protocol,
    valid: fn(u8) -> bool,
    pkid: u16,
    code: u8,
    properties: &AckProperties,
) -> Result<(), EncodeError> {
    if pkid == 0 {
        return Err(EncodeError::Invalid("packet identifier 0"));
    }
    s.put_u16(pkid);
    if protocol == Protocol::V5 {
        if !valid(code) {
            return Err(EncodeError::Invalid(
                "reason code not allowed in this packet",
            ));
        }
        // The shortest form the spec allows.
        let no_properties = properties.is_empty();
        if code != reason::SUCCESS || !no_properties {
            s.put_u8(code);
        }
        if !no_properties {
            properties.write(s)?;
        }
    }
    Ok(())
}

macro_rules! ack_packet {
    ($(#[$doc:meta])* $name:ident, $valid:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            /// The identifier of the packet acknowledged; never 0.
            pub pkid: u16,
            /// MQTT 5.0 Reason Code (see [`reason`]); 0 is success. Not sent in MQTT 3.1.1.
            pub reason: u8,
            /// MQTT 5.0 only.
            pub properties: AckProperties,
        }

        impl $name {
            pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
                let (pkid, reason, properties) = decode_parts(r, protocol, $valid)?;
                Ok($name {
                    pkid,
                    reason,
                    properties,
                })
            }

            pub(crate) fn write<S: Sink>(
                &self,
                protocol: Protocol,
                s: &mut S,
            ) -> Result<(), EncodeError> {
                write_parts(s, protocol, $valid, self.pkid, self.reason, &self.properties)
            }
        }
    };
}

ack_packet!(
    /// PUBACK – Publish acknowledgement, the answer to a QoS 1 PUBLISH (§3.4).
    PubAck,
    reason::valid_puback
);
ack_packet!(
    /// PUBREC – Publish received, the first answer to a QoS 2 PUBLISH (§3.5).
    PubRec,
    reason::valid_puback
);
ack_packet!(
    /// PUBREL – Publish release, the answer to PUBREC (§3.6). Its fixed header flags are 0b0010.
    PubRel,
    reason::valid_pubrel
);
ack_packet!(
    /// PUBCOMP – Publish complete, the answer to PUBREL (§3.7).
    PubComp,
    reason::valid_pubrel
);
