//! SUBACK – Subscribe acknowledgement (§3.9 of both versions).

use super::primitives::{Reader, Sink};
use super::properties::{AckProperties, WriteProperties};
use super::{reason, return_code, DecodeError, EncodeError, Protocol};

/// The answer to SUBSCRIBE: one code per requested filter, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubAck {
    pub pkid: u16,
    /// MQTT 3.1.1: the granted QoS (0, 1, 2) or 0x80 failure (§3.9.3). MQTT 5.0: a SUBACK
    /// Reason Code (§3.9.3, [`reason`]); below 0x80 is the granted QoS.
    pub return_codes: Vec<u8>,
    /// MQTT 5.0 only.
    pub properties: AckProperties,
}

fn code_valid(protocol: Protocol, code: u8) -> bool {
    match protocol {
        // "SUBACK return codes other than 0x00, 0x01, 0x02 and 0x80 are reserved and MUST NOT
        // be used" [MQTT-3.9.3-2].
        Protocol::V311 => matches!(code, 0x00..=0x02 | return_code::SUBACK_FAILURE),
        Protocol::V5 => reason::valid_suback(code),
    }
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let pkid = r.u16()?;
        if pkid == 0 {
            return Err(DecodeError::ProtocolError("packet identifier 0"));
        }
        let properties = match protocol {
            Protocol::V5 => AckProperties::decode(r)?,
            Protocol::V311 => AckProperties::default(),
        };
        let return_codes = r.rest().to_vec();
        if return_codes.is_empty() {
            // A SUBSCRIBE has at least one filter, so its SUBACK has at least one code.
            return Err(DecodeError::ProtocolError("SUBACK without return codes"));
        }
        if !return_codes.iter().all(|&c| code_valid(protocol, c)) {
            return Err(DecodeError::ProtocolError("invalid SUBACK return code"));
        }
        Ok(SubAck {
            pkid,
            return_codes,
            properties,
        })
    }

    pub(crate) fn write<S: Sink>(&self, protocol: Protocol, s: &mut S) -> Result<(), EncodeError> {
        if self.pkid == 0 {
            return Err(EncodeError::Invalid("packet identifier 0"));
        }
        if self.return_codes.is_empty() {
            return Err(EncodeError::Invalid("SUBACK without return codes"));
        }
        if !self.return_codes.iter().all(|&c| code_valid(protocol, c)) {
            return Err(EncodeError::Invalid(
                "SUBACK code not defined for this protocol version",
            ));
        }
        s.put_u16(self.pkid);
        if protocol == Protocol::V5 {
            self.properties.write(s)?;
        }
        s.put_slice(&self.return_codes);
        Ok(())
    }
}
