//! UNSUBACK – Unsubscribe acknowledgement (§3.11 of both versions).

use super::primitives::{Reader, Sink};
use super::properties::{AckProperties, WriteProperties};
use super::{reason, DecodeError, EncodeError, Protocol};

/// The answer to UNSUBSCRIBE. MQTT 3.1.1's carries only the packet identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnsubAck {
    pub pkid: u16,
    /// MQTT 5.0: one Unsubscribe Reason Code per filter, in order (§3.11.3). Empty in 3.1.1,
    /// and left out when encoding it.
    pub reason_codes: Vec<u8>,
    /// MQTT 5.0 only.
    pub properties: AckProperties,
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let pkid = r.u16()?;
        if pkid == 0 {
            return Err(DecodeError::ProtocolError("packet identifier 0"));
        }
        let mut ack = UnsubAck {
            pkid,
            ..UnsubAck::default()
        };
        match protocol {
            // §3.11.1: the Remaining Length of a 3.1.1 UNSUBACK is 2.
            Protocol::V311 => r.finish()?,
            Protocol::V5 => {
                ack.properties = AckProperties::decode(r)?;
                ack.reason_codes = r.rest().to_vec();
                if ack.reason_codes.is_empty() {
                    return Err(DecodeError::ProtocolError("UNSUBACK without reason codes"));
                }
                if !ack.reason_codes.iter().all(|&c| reason::valid_unsuback(c)) {
                    return Err(DecodeError::ProtocolError("invalid UNSUBACK reason code"));
                }
            }
        }
        Ok(ack)
    }

    pub(crate) fn write<S: Sink>(&self, protocol: Protocol, s: &mut S) -> Result<(), EncodeError> {
        if self.pkid == 0 {
            return Err(EncodeError::Invalid("packet identifier 0"));
        }
        s.put_u16(self.pkid);
        if protocol == Protocol::V5 {
            if self.reason_codes.is_empty() {
                return Err(EncodeError::Invalid("UNSUBACK without reason codes"));
            }
            if !self.reason_codes.iter().all(|&c| reason::valid_unsuback(c)) {
                return Err(EncodeError::Invalid("invalid UNSUBACK reason code"));
            }
            self.properties.write(s)?;
            s.put_slice(&self.reason_codes);
        }
        Ok(())
    }
}
