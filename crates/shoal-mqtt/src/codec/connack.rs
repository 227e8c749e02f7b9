//! CONNACK – Connect acknowledgement (§3.2 of both versions).

use super::primitives::{Reader, Sink};
use super::properties::{ConnAckProperties, WriteProperties};
use super::{reason, return_code, DecodeError, EncodeError, Protocol};

/// The server's answer to CONNECT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present (§3.2.2.1); must be 0 when `code` refuses the connection.
    pub session_present: bool,
    /// The raw code: an MQTT 3.1.1 Connect Return code ([`return_code`], 0 to 5) or an MQTT 5.0
    /// Connect Reason Code ([`reason`], §3.2.2.2). 0 accepts the connection in both.
    pub code: u8,
    /// MQTT 5.0 only.
    pub properties: ConnAckProperties,
}

impl ConnAck {
    /// MQTT 3.1.1 return codes, under the names of §3.2.2.3.
    pub const ACCEPTED: u8 = return_code::ACCEPTED;
    pub const UNACCEPTABLE_PROTOCOL_VERSION: u8 = return_code::UNACCEPTABLE_PROTOCOL_VERSION;
    pub const IDENTIFIER_REJECTED: u8 = return_code::IDENTIFIER_REJECTED;
    pub const SERVER_UNAVAILABLE: u8 = return_code::SERVER_UNAVAILABLE;
    pub const BAD_USER_NAME_OR_PASSWORD: u8 = return_code::BAD_USER_NAME_OR_PASSWORD;
    pub const NOT_AUTHORIZED: u8 = return_code::NOT_AUTHORIZED;

    fn code_valid(protocol: Protocol, code: u8) -> bool {
        match protocol {
            // Values 6 to 255 are reserved (§3.2.2.3 of 3.1.1).
            Protocol::V311 => code <= return_code::NOT_AUTHORIZED,
            Protocol::V5 => reason::valid_connack(code),
        }
    }

    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        // §3.2.2.1 Connect Acknowledge Flags: bits 7-1 are reserved and 0.
        let flags = r.u8()?;
        if flags & 0xFE != 0 {
            return Err(DecodeError::MalformedPacket(
                "reserved CONNACK flags are not 0",
            ));
        }
        let code = r.u8()?;
        if !Self::code_valid(protocol, code) {
            return Err(DecodeError::ProtocolError("invalid CONNACK code"));
        }
        let properties = match protocol {
            Protocol::V5 => ConnAckProperties::decode(r)?,
            Protocol::V311 => ConnAckProperties::default(),
        };
        r.finish()?;
        Ok(ConnAck {
            session_present: flags & 0x01 != 0,
            code,
            properties,
        })
    }

    pub(crate) fn write<S: Sink>(&self, protocol: Protocol, s: &mut S) -> Result<(), EncodeError> {
        if !Self::code_valid(protocol, self.code) {
            return Err(EncodeError::Invalid(
                "CONNACK code not defined for this protocol version",
            ));
        }
        s.put_u8(u8::from(self.session_present));
        s.put_u8(self.code);
        if protocol == Protocol::V5 {
            self.properties.write(s)?;
        }
        Ok(())
    }
}
