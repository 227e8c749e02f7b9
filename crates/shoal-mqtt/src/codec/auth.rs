//! AUTH – Authentication exchange (MQTT 5.0 §3.15); MQTT 3.1.1 has no such packet.

use super::primitives::{Reader, Sink};
use super::properties::{AuthProperties, WriteProperties};
use super::{reason, DecodeError, EncodeError, Protocol};

/// One step of extended authentication (§4.12).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// 0x00 Success, 0x18 Continue authentication, 0x19 Re-authenticate (§3.15.2.1).
    pub reason: u8,
    pub properties: AuthProperties,
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut a = Auth::default();
        // Reason and properties are omitted together, as Remaining Length 0 (§3.15.2.1); unlike
        // DISCONNECT, a reason without a property length is not a form the spec allows.
        if !r.is_empty() {
            a.reason = r.u8()?;
            if !reason::valid_auth(a.reason) {
                return Err(DecodeError::ProtocolError("invalid AUTH reason code"));
            }
            a.properties = AuthProperties::decode(r)?;
        }
        r.finish()?;
        Ok(a)
    }

    pub(crate) fn write<S: Sink>(&self, protocol: Protocol, s: &mut S) -> Result<(), EncodeError> {
        if protocol == Protocol::V311 {
            return Err(EncodeError::NotInProtocol("AUTH"));
        }
        if !reason::valid_auth(self.reason) {
            return Err(EncodeError::Invalid("invalid AUTH reason code"));
        }
        if self.reason != reason::SUCCESS || !self.properties.is_empty() {
            s.put_u8(self.reason);
            self.properties.write(s)?;
        }
        Ok(())
    }
}
