//! DISCONNECT – Disconnect notification (§3.14 of both versions).

use super::primitives::{Reader, Sink};
use super::properties::{DisconnectProperties, WriteProperties};
use super::{reason, DecodeError, EncodeError, Protocol};

/// The last packet of a connection. MQTT 3.1.1's is a bare fixed header sent by the client;
/// MQTT 5.0's may come from either side with a reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disconnect {
    /// MQTT 5.0 Disconnect Reason Code (§3.14.2.1); 0 is a normal disconnection. Left out of
    /// 3.1.1.
    pub reason: u8,
    /// MQTT 5.0 only.
    pub properties: DisconnectProperties,
}

impl Disconnect {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let mut d = Disconnect::default();
        // Remaining Length 0 means reason 0x00; below 2 means no properties (§3.14.2.1,
        // §3.14.2.2.1). MQTT 3.1.1 has nothing after the fixed header (§3.14.2).
        if protocol == Protocol::V5 && !r.is_empty() {
            d.reason = r.u8()?;
            if !reason::valid_disconnect(d.reason) {
                return Err(DecodeError::ProtocolError("invalid DISCONNECT reason code"));
            }
            if !r.is_empty() {
                d.properties = DisconnectProperties::decode(r)?;
            }
        }
        r.finish()?;
        Ok(d)
    }

    pub(crate) fn write<S: Sink>(&self, protocol: Protocol, s: &mut S) -> Result<(), EncodeError> {
        if protocol == Protocol::V311 {
            return Ok(());
        }
        if !reason::valid_disconnect(self.reason) {
            return Err(EncodeError::Invalid("invalid DISCONNECT reason code"));
        }
        let no_properties = self.properties.is_empty();
        if self.reason != reason::NORMAL_DISCONNECTION || !no_properties {
            s.put_u8(self.reason);
        }
        if !no_properties {
            self.properties.write(s)?;
        }
        Ok(())
    }
}
