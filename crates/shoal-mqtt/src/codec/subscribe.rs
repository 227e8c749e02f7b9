//! SUBSCRIBE – Subscribe request (§3.8 of both versions).

use super::primitives::{put_string, Reader, Sink};
use super::properties::{SubscribeProperties, WriteProperties};
use super::{DecodeError, EncodeError, Protocol, QoS};

/// A request for one or more subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscribe {
    /// Never 0 ([MQTT-2.2.1-3]).
    pub pkid: u16,
    /// At least one ([MQTT-3.8.3-2] of 5.0, [MQTT-3.8.3-3] of 3.1.1).
    pub filters: Vec<Subscription>,
    /// MQTT 5.0 only.
    pub properties: SubscribeProperties,
}

/// One topic filter and its Subscription Options (§3.8.3.1). Whether the filter is a valid
/// topic filter, and allowed, is for the server to answer in SUBACK (reason 0x8F in MQTT 5.0,
/// 0x80 in 3.1.1); the codec only checks the string rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    pub filter: String,
    /// The maximum QoS the client accepts on this subscription.
    pub qos: QoS,
    /// MQTT 5.0: do not send back the client's own publications; not allowed on shared
    /// subscriptions ([MQTT-3.8.3-4]).
    pub no_local: bool,
    /// MQTT 5.0: keep the RETAIN flag of forwarded messages as published.
    pub retain_as_published: bool,
    /// MQTT 5.0: 0 send retained messages on subscribe, 1 only for a new subscription, 2 never.
    pub retain_handling: u8,
}

impl Subscription {
    /// A subscription with default MQTT 5.0 options.
    pub fn new(filter: impl Into<String>, qos: QoS) -> Self {
        Subscription {
            filter: filter.into(),
            qos,
            ..Subscription::default()
        }
    }
}

const NO_LOCAL: u8 = 0x04;
const RETAIN_AS_PUBLISHED: u8 = 0x08;

impl Subscribe {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let pkid = r.u16()?;
        if pkid == 0 {
            return Err(DecodeError::ProtocolError("packet identifier 0"));
        }
        let properties = match protocol {
            Protocol::V5 => SubscribeProperties::decode(r)?,
            Protocol::V311 => SubscribeProperties::default(),
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string()?;
            let options = r.u8()?;
            filters.push(decode_options(filter, options, protocol)?);
        }
        if filters.is_empty() {
            // "A SUBSCRIBE packet with no Payload is a Protocol Error" (§3.8.3 of 5.0); 3.1.1
            // calls it a protocol violation.
            return Err(DecodeError::ProtocolError(
                "SUBSCRIBE without topic filters",
            ));
        }
        Ok(Subscribe {
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
            return Err(EncodeError::Invalid("SUBSCRIBE without topic filters"));
        }
        s.put_u16(self.pkid);
        if protocol == Protocol::V5 {
            self.properties.write(s)?;
        }
        for f in &self.filters {
            put_string(s, &f.filter)?;
            s.put_u8(encode_options(f, protocol)?);
        }
        Ok(())
    }
}

fn decode_options(
    filter: String,
    options: u8,
    protocol: Protocol,
) -> Result<Subscription, DecodeError> {
    let qos_bits = options & 0x03;
    match protocol {
        Protocol::V311 => {
            // [MQTT-3-8.3-4] of 3.1.1: the upper six bits are reserved, and QoS 3 is malformed.
            if options & 0xFC != 0 {
                return Err(DecodeError::MalformedPacket(
                    "reserved subscription option bits are not 0",
                ));
            }
            let qos = QoS::from_u8(qos_bits)
                .ok_or(DecodeError::MalformedPacket("subscription with QoS 3"))?;
            Ok(Subscription::new(filter, qos))
        }
        Protocol::V5 => {
            // Bits 6 and 7 are reserved [MQTT-3.8.3-5].
            if options & 0xC0 != 0 {
                return Err(DecodeError::MalformedPacket(
                    "reserved subscription option bits are not 0",
                ));
            }
            // §3.8.3.1: Maximum QoS 3 and Retain Handling 3 are Protocol Errors.
            let qos = QoS::from_u8(qos_bits)
                .ok_or(DecodeError::ProtocolError("subscription with QoS 3"))?;
            let retain_handling = (options >> 4) & 0x03;
            if retain_handling == 3 {
                return Err(DecodeError::ProtocolError("retain handling 3"));
            }
            let no_local = options & NO_LOCAL != 0;
            if no_local && is_shared(&filter) {
                return Err(DecodeError::ProtocolError(
                    "no local set on a shared subscription",
                ));
            }
            Ok(Subscription {
                filter,
                qos,
                no_local,
                retain_as_published: options & RETAIN_AS_PUBLISHED != 0,
                retain_handling,
            })
        }
    }
}

fn encode_options(f: &Subscription, protocol: Protocol) -> Result<u8, EncodeError> {
    let mut options = f.qos as u8;
    if protocol == Protocol::V5 {
        if f.retain_handling > 2 {
            return Err(EncodeError::Invalid("retain handling above 2"));
        }
        if f.no_local && is_shared(&f.filter) {
            return Err(EncodeError::Invalid(
                "no local set on a shared subscription",
            ));
        }
        options |= f.retain_handling << 4;
        if f.no_local {
            options |= NO_LOCAL;
        }
        if f.retain_as_published {
            options |= RETAIN_AS_PUBLISHED;
        }
    }
    Ok(options)
}

/// Whether a filter asks for a Shared Subscription (§4.8.2), well-formed or not.
fn is_shared(filter: &str) -> bool {
    filter.starts_with("$share/")
}
