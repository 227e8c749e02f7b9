//! CONNECT – Connection Request (§3.1 of both versions).

use bytes::Bytes;

use super::primitives::{put_binary, put_string, Reader, Sink};
use super::properties::{ConnectProperties, WillProperties, WriteProperties};
use super::{DecodeError, EncodeError, Protocol, QoS};
use crate::topic::valid_topic_name;

/// The first packet of a connection. Its Protocol Level decides the version of everything that
/// follows on the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connect {
    /// From the Protocol Level byte (§3.1.2.2). Encoding uses this, not the `protocol`
    /// argument of [`encode`](super::encode).
    pub protocol: Protocol,
    /// May be empty, asking the server to assign one (§3.1.3.1). In MQTT 3.1.1 an empty
    /// identifier with `clean_start` 0 must be refused with CONNACK 0x02
    /// ([MQTT-3.1.3-8]); that decision is the server's, not the codec's.
    pub client_id: String,
    /// Clean Session in 3.1.1 (§3.1.2.4), Clean Start in 5.0 (§3.1.2.4).
    pub clean_start: bool,
    /// Seconds; 0 turns keep-alive off (§3.1.2.10).
    pub keep_alive: u16,
    pub username: Option<String>,
    /// Binary Data. MQTT 5.0 allows a password without a user name (§3.1.2.9); 3.1.1 does not
    /// ([MQTT-3.1.2-22]).
    pub password: Option<Bytes>,
    pub will: Option<LastWill>,
    /// MQTT 5.0 only; ignored when encoding 3.1.1.
    pub properties: ConnectProperties,
}

/// The Will Message (§3.1.2.5 to §3.1.2.7, §3.1.3.2 to §3.1.3.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastWill {
    /// A topic name: not empty, no wildcards.
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5.0 only.
    pub properties: WillProperties,
}

/// Connect Flags bits (§3.1.2.3).
const RESERVED: u8 = 0x01;
const CLEAN_START: u8 = 0x02;
const WILL: u8 = 0x04;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

impl Connect {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        // §3.1.2.1 Protocol Name and §3.1.2.2 Protocol Level. MQTT 3.1 named itself "MQIsdp"
        // with level 3: report its level so the server can answer with return code 0x01.
        let name = r.binary()?;
        let level = r.u8()?;
        let protocol = match (&name[..], level) {
            (b"MQTT", 4) => Protocol::V311,
            (b"MQTT", 5) => Protocol::V5,
            (b"MQTT", level) | (b"MQIsdp", level @ 3) => {
                return Err(DecodeError::UnsupportedProtocol(level))
            }
            _ => {
                return Err(DecodeError::MalformedPacket(
                    "protocol name is not \"MQTT\" (or MQTT 3.1's \"MQIsdp\" at level 3)",
                ))
            }
        };

        // §3.1.2.3 Connect Flags.
        let flags = r.u8()?;
        if flags & RESERVED != 0 {
            // [MQTT-3.1.2-3] of both versions.
            return Err(DecodeError::MalformedPacket(
                "reserved connect flag is not 0",
            ));
        }
        let will_flag = flags & WILL != 0;
        let will_qos = (flags >> 3) & 0x03;
        let will_retain = flags & WILL_RETAIN != 0;
        if will_qos == 3 {
            // [MQTT-3.1.2-12] (5.0), [MQTT-3.1.2-14] (3.1.1).
            return Err(DecodeError::MalformedPacket("will QoS 3"));
        }
        if !will_flag && (will_qos != 0 || will_retain) {
            // [MQTT-3.1.2-11], [MQTT-3.1.2-13] (5.0); [MQTT-3.1.2-13], [MQTT-3.1.2-15] (3.1.1).
            return Err(DecodeError::MalformedPacket(
                "will QoS or will retain set without the will flag",
            ));
        }
        let has_username = flags & USERNAME != 0;
        let has_password = flags & PASSWORD != 0;
        if protocol == Protocol::V311 && has_password && !has_username {
            // [MQTT-3.1.2-22] of 3.1.1; MQTT 5.0 dropped the rule.
            return Err(DecodeError::MalformedPacket(
                "password flag set without the user name flag",
            ));
        }

        // §3.1.2.10 Keep Alive, §3.1.2.11 Properties.
        let keep_alive = r.u16()?;
        let properties = match protocol {
            Protocol::V5 => ConnectProperties::decode(r)?,
            Protocol::V311 => ConnectProperties::default(),
        };

        // §3.1.3 Payload, in the order the spec fixes [MQTT-3.1.3-1].
        let client_id = r.string()?;
        let will = if will_flag {
            let properties = match protocol {
                Protocol::V5 => WillProperties::decode(r)?,
                Protocol::V311 => WillProperties::default(),
            };
            let topic = r.string()?;
            if !valid_topic_name(&topic) {
                return Err(DecodeError::MalformedPacket(
                    "will topic is not a valid topic name",
                ));
            }
            let payload = r.binary()?;
            Some(LastWill {
                topic,
                payload,
                qos: QoS::from_u8(will_qos).unwrap_or_default(),
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if has_username {
            Some(r.string()?)
        } else {
            None
        };
        let password = if has_password {
            Some(r.binary()?)
        } else {
            None
        };
        r.finish()?;
        Ok(Connect {
            protocol,
            client_id,
            clean_start: flags & CLEAN_START != 0,
            keep_alive,
            username,
            password,
            will,
            properties,
        })
    }

    pub(crate) fn write<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        let v5 = self.protocol == Protocol::V5;
        if !v5 && self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::Invalid(
                "MQTT 3.1.1 has no password without a user name",
            ));
        }
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(w) = &self.will {
            if !valid_topic_name(&w.topic) {
                return Err(EncodeError::Invalid("will topic is not a valid topic name"));
            }
            flags |= WILL | (w.qos as u8) << 3;
            if w.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        put_string(s, "MQTT")?;
        s.put_u8(self.protocol.level());
        s.put_u8(flags);
        s.put_u16(self.keep_alive);
        if v5 {
            self.properties.write(s)?;
        }
        put_string(s, &self.client_id)?;
        if let Some(w) = &self.will {
            if v5 {
                w.properties.write(s)?;
            }
            put_string(s, &w.topic)?;
            put_binary(s, &w.payload)?;
        }
        if let Some(u) = &self.username {
            put_string(s, u)?;
        }
        if let Some(p) = &self.password {
            put_binary(s, p)?;
        }
        Ok(())
    }
}
