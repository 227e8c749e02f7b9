//! UNSUBSCRIBE – Unsubscribe request (§3.10 of both versions).

use super::primitives::{put_string, Reader, Sink};
use super::properties::{UnsubscribeProperties, WriteProperties};
use super::{DecodeError, EncodeError, Protocol};

/// A request to remove subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Never 0 ([MQTT-2.2.1-3]).
    pub pkid: u16,
    /// At least one ([MQTT-3.10.3-2]); compared character by character with existing
    /// subscriptions, so their validity is the server's concern.
    pub filters: Vec<String>,
    /// MQTT 5.0 only.
    pub properties: UnsubscribeProperties,
}

impl Unsubscribe {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let pkid = r.u16()?;
        if pkid == 0 {
            return Err(DecodeError::ProtocolError("packet identifier 0"));
        }
        let properties = match protocol {
            Protocol::V5 => UnsubscribeProperties::decode(r)?,
            Protocol::V311 => UnsubscribeProperties::default(),
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(r.string()?);
        }
        if filters.is_empty() {
            // "An UNSUBSCRIBE packet with no Payload is a Protocol Error" (§3.10.3 of 5.0).
            return Err(DecodeError::ProtocolError(
                "UNSUBSCRIBE without topic filters",
            ));
        }
        Ok(Unsubscribe {
            pkid,
            filters,
            properties,
        })
    }

    pub(crate) fn write<S: Sink>(&self, protocol: Protocol, s: &mut S) -> Result<(), EncodeError> {
        if self.pkid == 0 {
            return Err(EncodeError::Invalid("packet identifier 0"));
        }
        if self.filters.is_empty() {
            return Err(EncodeError::Invalid("UNSUBSCRIBE without topic filters"));
        }
        s.put_u16(self.pkid);
        if protocol == Protocol::V5 {
            self.properties.write(s)?;
        }
        for f in &self.filters {
            put_string(s, f)?;
        }
        Ok(())
    }
}
