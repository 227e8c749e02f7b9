//! MQTT 5.0 properties (§2.2.2): a Variable Byte Integer length, then identifier/value pairs.
//! Each packet type has its own struct holding exactly the properties §2.2.2.2 (Table 2-4)
//! allows for it; absent properties are `None` (or empty lists), and the default of each is the
//! spec's default for the packet (e.g. no Receive Maximum means 65,535).
//!
//! Reading enforces the rules every property shares: a known identifier, a value of the right
//! type, no property twice except User Property and (in PUBLISH) Subscription Identifier, the
//! value ranges the spec calls a Protocol Error to break (§3.1.2.11, §3.2.2.3, §3.3.2.3,
//! §3.8.2.1), and only identifiers that belong in the packet.

use bytes::Bytes;

use super::primitives::{
    put_binary, put_string, put_variable_byte_integer, Counter, Reader, Sink,
    MAX_VARIABLE_BYTE_INTEGER,
};
use super::{DecodeError, EncodeError, QoS};

/// Property identifiers (Table 2-4).
pub(crate) mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// The data type of a property's value (Table 2-4's "Type" column).
#[derive(Clone, Copy)]
enum Kind {
    Byte,
    TwoByte,
    FourByte,
    VarInt,
    Utf8,
    Binary,
    Pair,
}

fn kind_of(identifier: u32) -> Option<Kind> {
    use id::*;
    let identifier = u8::try_from(identifier).ok()?;
    Some(match identifier {
        PAYLOAD_FORMAT_INDICATOR
        | REQUEST_PROBLEM_INFORMATION
        | REQUEST_RESPONSE_INFORMATION
        | MAXIMUM_QOS
        | RETAIN_AVAILABLE
        | WILDCARD_SUBSCRIPTION_AVAILABLE
        | SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | SHARED_SUBSCRIPTION_AVAILABLE => Kind::Byte,
        SERVER_KEEP_ALIVE | RECEIVE_MAXIMUM | TOPIC_ALIAS_MAXIMUM | TOPIC_ALIAS => Kind::TwoByte,
        MESSAGE_EXPIRY_INTERVAL
        | SESSION_EXPIRY_INTERVAL
        | WILL_DELAY_INTERVAL
        | MAXIMUM_PACKET_SIZE => Kind::FourByte,
        SUBSCRIPTION_IDENTIFIER => Kind::VarInt,
        CONTENT_TYPE
        | RESPONSE_TOPIC
        | ASSIGNED_CLIENT_IDENTIFIER
        | AUTHENTICATION_METHOD
        | RESPONSE_INFORMATION
        | SERVER_REFERENCE
        | REASON_STRING => Kind::Utf8,
        CORRELATION_DATA | AUTHENTICATION_DATA => Kind::Binary,
        USER_PROPERTY => Kind::Pair,
        _ => return None,
    })
}

/// One decoded property value.
pub(crate) enum Value {
    Byte(u8),
    TwoByte(u16),
    FourByte(u32),
    VarInt(u32),
    Utf8(String),
    Binary(Bytes),
    Pair(String, String),
}

const NOT_ALLOWED: DecodeError = DecodeError::ProtocolError("property not allowed in this packet");

/// The value ranges the spec makes a Protocol Error to break, whatever the packet.
fn check_value(identifier: u8, v: &Value) -> Result<(), DecodeError> {
    use id::*;
    let bad = match (identifier, v) {
        // Byte properties that are booleans, and Maximum QoS (§3.2.2.3.4), take 0 or 1.
        (
            PAYLOAD_FORMAT_INDICATOR
            | REQUEST_PROBLEM_INFORMATION
            | REQUEST_RESPONSE_INFORMATION
            | MAXIMUM_QOS
            | RETAIN_AVAILABLE
            | WILDCARD_SUBSCRIPTION_AVAILABLE
            | SUBSCRIPTION_IDENTIFIER_AVAILABLE
            | SHARED_SUBSCRIPTION_AVAILABLE,
            Value::Byte(b),
        ) => *b > 1,
        // Topic Alias 0 (§3.3.2.3.4) is Topic Alias Invalid.
        (TOPIC_ALIAS, Value::TwoByte(0)) => return Err(DecodeError::TopicAliasZero),
        // Receive Maximum 0 (§3.1.2.11.3) is a Protocol Error.
        (RECEIVE_MAXIMUM, Value::TwoByte(0)) => true,
        // Maximum Packet Size 0 (§3.1.2.11.4).
        (MAXIMUM_PACKET_SIZE, Value::FourByte(0)) => true,
        // Subscription Identifier 0 (§3.3.2.3.8, §3.8.2.1.2).
        (SUBSCRIPTION_IDENTIFIER, Value::VarInt(0)) => true,
        _ => false,
    };
    if bad {
        Err(DecodeError::ProtocolError("property value out of range"))
    } else {
        Ok(())
    }
}

/// Reads a property list (§2.2.2) and hands each property to `f`, which stores it or rejects
/// it as not belonging to the packet.
pub(crate) fn read_properties(
    r: &mut Reader,
    mut f: impl FnMut(u8, Value) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let len = r.variable_byte_integer()? as usize;
    if len > r.remaining() {
        return Err(DecodeError::MalformedPacket(
            "property length beyond the end of the packet",
        ));
    }
    let mut p = Reader::new(r.take(len)?);
    let mut seen: u64 = 0;
    while !p.is_empty() {
        // The identifier is a Variable Byte Integer, though every defined one fits a byte.
        let raw = p.variable_byte_integer()?;
        let kind =
            kind_of(raw).ok_or(DecodeError::MalformedPacket("unknown property identifier"))?;
        let identifier = u8::try_from(raw).map_err(|_| NOT_ALLOWED)?;
        if identifier != id::USER_PROPERTY && identifier != id::SUBSCRIPTION_IDENTIFIER {
            // Every known identifier is below 64, so it indexes the bit set directly.
            let bit = 1u64 << (identifier & 63);
            if seen & bit != 0 {
                return Err(DecodeError::ProtocolError(
                    "property included more than once",
                ));
            }
            seen |= bit;
        }
        let value = match kind {
            Kind::Byte => Value::Byte(p.u8()?),
            Kind::TwoByte => Value::TwoByte(p.u16()?),
            Kind::FourByte => Value::FourByte(p.u32()?),
            Kind::VarInt => Value::VarInt(p.variable_byte_integer()?),
            Kind::Utf8 => Value::Utf8(p.string()?),
            Kind::Binary => Value::Binary(p.binary()?),
            Kind::Pair => {
                let (k, v) = p.string_pair()?;
                Value::Pair(k, v)
            }
        };
        check_value(identifier, &value)?;
        f(identifier, value)?;
    }
    Ok(())
}

/// Writing one property list; `write` is generic over the [`Sink`] so the same code measures
/// and writes.
pub(crate) trait WriteProperties: Default + PartialEq {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError>;

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The property length followed by the properties.
    fn write<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        let mut c = Counter::default();
        self.write_each(&mut c)?;
        put_variable_byte_integer(s, c.0)?;
        self.write_each(s)
    }
}

fn put_u8<S: Sink>(s: &mut S, identifier: u8, v: Option<u8>) {
    if let Some(v) = v {
        s.put_u8(identifier);
        s.put_u8(v);
    }
}

fn put_bool<S: Sink>(s: &mut S, identifier: u8, v: Option<bool>) {
    put_u8(s, identifier, v.map(u8::from));
}

fn put_u16<S: Sink>(s: &mut S, identifier: u8, v: Option<u16>) {
    if let Some(v) = v {
        s.put_u8(identifier);
        s.put_u16(v);
    }
}

fn put_u32<S: Sink>(s: &mut S, identifier: u8, v: Option<u32>) {
    if let Some(v) = v {
        s.put_u8(identifier);
        s.put_u32(v);
    }
}

fn put_str<S: Sink>(s: &mut S, identifier: u8, v: &Option<String>) -> Result<(), EncodeError> {
    if let Some(v) = v {
        s.put_u8(identifier);
        put_string(s, v)?;
    }
    Ok(())
}

fn put_bin<S: Sink>(s: &mut S, identifier: u8, v: &Option<Bytes>) -> Result<(), EncodeError> {
    if let Some(v) = v {
        s.put_u8(identifier);
        put_binary(s, v)?;
    }
    Ok(())
}

fn put_user_properties<S: Sink>(s: &mut S, v: &[(String, String)]) -> Result<(), EncodeError> {
    for (k, v) in v {
        s.put_u8(id::USER_PROPERTY);
        put_string(s, k)?;
        put_string(s, v)?;
    }
    Ok(())
}

fn put_subscription_identifier<S: Sink>(s: &mut S, v: u32) -> Result<(), EncodeError> {
    if v == 0 || v > MAX_VARIABLE_BYTE_INTEGER {
        return Err(EncodeError::Invalid(
            "subscription identifier outside 1..=268,435,455",
        ));
    }
    s.put_u8(id::SUBSCRIPTION_IDENTIFIER);
    put_variable_byte_integer(s, v as usize)
}

fn nonzero<T: Default + PartialEq>(v: Option<T>, what: &'static str) -> Result<(), EncodeError> {
    match v {
        Some(v) if v == T::default() => Err(EncodeError::Invalid(what)),
        _ => Ok(()),
    }
}

fn format_indicator(v: Option<u8>) -> Result<(), EncodeError> {
    match v {
        Some(v) if v > 1 => Err(EncodeError::Invalid(
            "payload format indicator other than 0 or 1",
        )),
        _ => Ok(()),
    }
}

/// CONNECT properties (§3.1.2.11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectProperties {
    /// Seconds the session outlives the connection; absent means 0 (§3.1.2.11.2).
    pub session_expiry_interval: Option<u32>,
    /// QoS 1 and 2 publications the client will process at once; never 0 (§3.1.2.11.3).
    pub receive_maximum: Option<u16>,
    /// Largest packet the client accepts; never 0 (§3.1.2.11.4).
    pub maximum_packet_size: Option<u32>,
    /// Highest topic alias the client accepts from the server (§3.1.2.11.5).
    pub topic_alias_maximum: Option<u16>,
    /// Whether the server may return Response Information (§3.1.2.11.6).
    pub request_response_information: Option<bool>,
    /// Whether the server may send Reason Strings and User Properties on failures (§3.1.2.11.7).
    pub request_problem_information: Option<bool>,
    pub user_properties: Vec<(String, String)>,
    /// Extended authentication method (§3.1.2.11.9).
    pub authentication_method: Option<String>,
    /// Requires `authentication_method` (§3.1.2.11.10).
    pub authentication_data: Option<Bytes>,
}

impl ConnectProperties {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        use id::*;
        let mut p = Self::default();
        read_properties(r, |identifier, v| {
            match (identifier, v) {
                (SESSION_EXPIRY_INTERVAL, Value::FourByte(x)) => {
                    p.session_expiry_interval = Some(x)
                }
                (RECEIVE_MAXIMUM, Value::TwoByte(x)) => p.receive_maximum = Some(x),
                (MAXIMUM_PACKET_SIZE, Value::FourByte(x)) => p.maximum_packet_size = Some(x),
                (TOPIC_ALIAS_MAXIMUM, Value::TwoByte(x)) => p.topic_alias_maximum = Some(x),
                (REQUEST_RESPONSE_INFORMATION, Value::Byte(x)) => {
                    p.request_response_information = Some(x == 1)
                }
                (REQUEST_PROBLEM_INFORMATION, Value::Byte(x)) => {
                    p.request_problem_information = Some(x == 1)
                }
                (USER_PROPERTY, Value::Pair(k, v)) => p.user_properties.push((k, v)),
                (AUTHENTICATION_METHOD, Value::Utf8(x)) => p.authentication_method = Some(x),
                (AUTHENTICATION_DATA, Value::Binary(x)) => p.authentication_data = Some(x),
                _ => return Err(NOT_ALLOWED),
            }
            Ok(())
        })?;
        if p.authentication_data.is_some() && p.authentication_method.is_none() {
            return Err(DecodeError::ProtocolError(
                "authentication data without an authentication method",
            ));
        }
        Ok(p)
    }
}

impl WriteProperties for ConnectProperties {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        use id::*;
        nonzero(self.receive_maximum, "receive maximum of 0")?;
        nonzero(self.maximum_packet_size, "maximum packet size of 0")?;
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(EncodeError::Invalid(
                "authentication data without an authentication method",
            ));
        }
        put_u32(s, SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        put_u16(s, RECEIVE_MAXIMUM, self.receive_maximum);
        put_u32(s, MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        put_u16(s, TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        put_bool(
            s,
            REQUEST_RESPONSE_INFORMATION,
            self.request_response_information,
        );
        put_bool(
            s,
            REQUEST_PROBLEM_INFORMATION,
            self.request_problem_information,
        );
        put_user_properties(s, &self.user_properties)?;
        put_str(s, AUTHENTICATION_METHOD, &self.authentication_method)?;
        put_bin(s, AUTHENTICATION_DATA, &self.authentication_data)
    }
}

/// Will Properties, in the CONNECT payload (§3.1.3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WillProperties {
    /// Seconds to wait after the connection ends before publishing the will (§3.1.3.2.2).
    pub will_delay_interval: Option<u32>,
    /// 0 unspecified bytes, 1 UTF-8 text (§3.1.3.2.3).
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

impl WillProperties {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        use id::*;
        let mut p = Self::default();
        read_properties(r, |identifier, v| {
            match (identifier, v) {
                (WILL_DELAY_INTERVAL, Value::FourByte(x)) => p.will_delay_interval = Some(x),
                (PAYLOAD_FORMAT_INDICATOR, Value::Byte(x)) => p.payload_format_indicator = Some(x),
                (MESSAGE_EXPIRY_INTERVAL, Value::FourByte(x)) => {
                    p.message_expiry_interval = Some(x)
                }
                (CONTENT_TYPE, Value::Utf8(x)) => p.content_type = Some(x),
                (RESPONSE_TOPIC, Value::Utf8(x)) => p.response_topic = Some(x),
                (CORRELATION_DATA, Value::Binary(x)) => p.correlation_data = Some(x),
                (USER_PROPERTY, Value::Pair(k, v)) => p.user_properties.push((k, v)),
                _ => return Err(NOT_ALLOWED),
            }
            Ok(())
        })?;
        check_response_topic(&p.response_topic)?;
        Ok(p)
    }
}

impl WriteProperties for WillProperties {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        use id::*;
        format_indicator(self.payload_format_indicator)?;
        check_response_topic_out(&self.response_topic)?;
        put_u32(s, WILL_DELAY_INTERVAL, self.will_delay_interval);
        put_u8(s, PAYLOAD_FORMAT_INDICATOR, self.payload_format_indicator);
        put_u32(s, MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval);
        put_str(s, CONTENT_TYPE, &self.content_type)?;
        put_str(s, RESPONSE_TOPIC, &self.response_topic)?;
        put_bin(s, CORRELATION_DATA, &self.correlation_data)?;
        put_user_properties(s, &self.user_properties)
    }
}

/// A Response Topic is a Topic Name: no wildcards [MQTT-3.3.2-14], and not empty (§4.7.3).
fn check_response_topic(t: &Option<String>) -> Result<(), DecodeError> {
    match t {
        Some(t) if !crate::topic::valid_topic_name(t) => Err(DecodeError::ProtocolError(
            "response topic is not a valid topic name",
        )),
        _ => Ok(()),
    }
}

fn check_response_topic_out(t: &Option<String>) -> Result<(), EncodeError> {
    match t {
        Some(t) if !crate::topic::valid_topic_name(t) => Err(EncodeError::Invalid(
            "response topic is not a valid topic name",
        )),
        _ => Ok(()),
    }
}

/// CONNACK properties (§3.2.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnAckProperties {
    pub session_expiry_interval: Option<u32>,
    pub receive_maximum: Option<u16>,
    /// Only QoS 0 or 1 may be sent; absent means the server supports QoS 2 (§3.2.2.3.4).
    pub maximum_qos: Option<QoS>,
    pub retain_available: Option<bool>,
    pub maximum_packet_size: Option<u32>,
    pub assigned_client_identifier: Option<String>,
    pub topic_alias_maximum: Option<u16>,
    pub reason_string: Option<String>,
    pub user_properties: Vec<(String, String)>,
    pub wildcard_subscription_available: Option<bool>,
    pub subscription_identifiers_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
    pub server_keep_alive: Option<u16>,
    pub response_information: Option<String>,
    pub server_reference: Option<String>,
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Bytes>,
}

impl ConnAckProperties {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        use id::*;
        let mut p = Self::default();
        read_properties(r, |identifier, v| {
            match (identifier, v) {
                (SESSION_EXPIRY_INTERVAL, Value::FourByte(x)) => {
                    p.session_expiry_interval = Some(x)
                }
                (RECEIVE_MAXIMUM, Value::TwoByte(x)) => p.receive_maximum = Some(x),
                (MAXIMUM_QOS, Value::Byte(x)) => p.maximum_qos = QoS::from_u8(x),
                (RETAIN_AVAILABLE, Value::Byte(x)) => p.retain_available = Some(x == 1),
                (MAXIMUM_PACKET_SIZE, Value::FourByte(x)) => p.maximum_packet_size = Some(x),
                (ASSIGNED_CLIENT_IDENTIFIER, Value::Utf8(x)) => {
                    p.assigned_client_identifier = Some(x)
                }
                (TOPIC_ALIAS_MAXIMUM, Value::TwoByte(x)) => p.topic_alias_maximum = Some(x),
                (REASON_STRING, Value::Utf8(x)) => p.reason_string = Some(x),
                (USER_PROPERTY, Value::Pair(k, v)) => p.user_properties.push((k, v)),
                (WILDCARD_SUBSCRIPTION_AVAILABLE, Value::Byte(x)) => {
                    p.wildcard_subscription_available = Some(x == 1)
                }
                (SUBSCRIPTION_IDENTIFIER_AVAILABLE, Value::Byte(x)) => {
                    p.subscription_identifiers_available = Some(x == 1)
                }
                (SHARED_SUBSCRIPTION_AVAILABLE, Value::Byte(x)) => {
                    p.shared_subscription_available = Some(x == 1)
                }
                (SERVER_KEEP_ALIVE, Value::TwoByte(x)) => p.server_keep_alive = Some(x),
                (RESPONSE_INFORMATION, Value::Utf8(x)) => p.response_information = Some(x),
                (SERVER_REFERENCE, Value::Utf8(x)) => p.server_reference = Some(x),
                (AUTHENTICATION_METHOD, Value::Utf8(x)) => p.authentication_method = Some(x),
                (AUTHENTICATION_DATA, Value::Binary(x)) => p.authentication_data = Some(x),
                _ => return Err(NOT_ALLOWED),
            }
            Ok(())
        })?;
        Ok(p)
    }
}

impl WriteProperties for ConnAckProperties {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        use id::*;
        nonzero(self.receive_maximum, "receive maximum of 0")?;
        nonzero(self.maximum_packet_size, "maximum packet size of 0")?;
        if self.maximum_qos == Some(QoS::ExactlyOnce) {
            return Err(EncodeError::Invalid("maximum QoS property of 2"));
        }
        put_u32(s, SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        put_u16(s, RECEIVE_MAXIMUM, self.receive_maximum);
        put_u8(s, MAXIMUM_QOS, self.maximum_qos.map(|q| q as u8));
        put_bool(s, RETAIN_AVAILABLE, self.retain_available);
        put_u32(s, MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        put_str(
            s,
            ASSIGNED_CLIENT_IDENTIFIER,
            &self.assigned_client_identifier,
        )?;
        put_u16(s, TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        put_str(s, REASON_STRING, &self.reason_string)?;
        put_user_properties(s, &self.user_properties)?;
        put_bool(
            s,
            WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available,
        );
        put_bool(
            s,
            SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifiers_available,
        );
        put_bool(
            s,
            SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available,
        );
        put_u16(s, SERVER_KEEP_ALIVE, self.server_keep_alive);
        put_str(s, RESPONSE_INFORMATION, &self.response_information)?;
        put_str(s, SERVER_REFERENCE, &self.server_reference)?;
        put_str(s, AUTHENTICATION_METHOD, &self.authentication_method)?;
        put_bin(s, AUTHENTICATION_DATA, &self.authentication_data)
    }
}

/// PUBLISH properties (§3.3.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishProperties {
    /// 0 unspecified bytes, 1 UTF-8 text (§3.3.2.3.2).
    pub payload_format_indicator: Option<u8>,
    /// Lifetime of the message in seconds (§3.3.2.3.3).
    pub message_expiry_interval: Option<u32>,
    /// Never 0 (§3.3.2.3.4); whether it is within the agreed maximum is the session's business.
    pub topic_alias: Option<u16>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
    /// Set by the server towards a subscriber; a client sending one is the caller's Protocol
    /// Error to detect (§3.3.4), as the codec does not know the direction.
    pub subscription_identifiers: Vec<u32>,
    pub content_type: Option<String>,
}

impl PublishProperties {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        use id::*;
        let mut p = Self::default();
        read_properties(r, |identifier, v| {
            match (identifier, v) {
                (PAYLOAD_FORMAT_INDICATOR, Value::Byte(x)) => p.payload_format_indicator = Some(x),
                (MESSAGE_EXPIRY_INTERVAL, Value::FourByte(x)) => {
                    p.message_expiry_interval = Some(x)
                }
                (TOPIC_ALIAS, Value::TwoByte(x)) => p.topic_alias = Some(x),
                (RESPONSE_TOPIC, Value::Utf8(x)) => p.response_topic = Some(x),
                (CORRELATION_DATA, Value::Binary(x)) => p.correlation_data = Some(x),
                (USER_PROPERTY, Value::Pair(k, v)) => p.user_properties.push((k, v)),
                (SUBSCRIPTION_IDENTIFIER, Value::VarInt(x)) => p.subscription_identifiers.push(x),
                (CONTENT_TYPE, Value::Utf8(x)) => p.content_type = Some(x),
                _ => return Err(NOT_ALLOWED),
            }
            Ok(())
        })?;
        check_response_topic(&p.response_topic)?;
        Ok(p)
    }
}

impl WriteProperties for PublishProperties {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        use id::*;
        format_indicator(self.payload_format_indicator)?;
        nonzero(self.topic_alias, "topic alias of 0")?;
        check_response_topic_out(&self.response_topic)?;
        put_u8(s, PAYLOAD_FORMAT_INDICATOR, self.payload_format_indicator);
        put_u32(s, MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval);
        put_u16(s, TOPIC_ALIAS, self.topic_alias);
        put_str(s, RESPONSE_TOPIC, &self.response_topic)?;
        put_bin(s, CORRELATION_DATA, &self.correlation_data)?;
        put_user_properties(s, &self.user_properties)?;
        for &v in &self.subscription_identifiers {
            put_subscription_identifier(s, v)?;
        }
        put_str(s, CONTENT_TYPE, &self.content_type)
    }
}

/// SUBSCRIBE properties (§3.8.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscribeProperties {
    /// 1 to 268,435,455, at most once (§3.8.2.1.2).
    pub subscription_identifier: Option<u32>,
    pub user_properties: Vec<(String, String)>,
}

impl SubscribeProperties {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        use id::*;
        let mut p = Self::default();
        read_properties(r, |identifier, v| {
            match (identifier, v) {
                (SUBSCRIPTION_IDENTIFIER, Value::VarInt(x)) => {
                    if p.subscription_identifier.replace(x).is_some() {
                        return Err(DecodeError::ProtocolError(
                            "property included more than once",
                        ));
                    }
                }
                (USER_PROPERTY, Value::Pair(k, v)) => p.user_properties.push((k, v)),
                _ => return Err(NOT_ALLOWED),
            }
            Ok(())
        })?;
        Ok(p)
    }
}

impl WriteProperties for SubscribeProperties {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = self.subscription_identifier {
            put_subscription_identifier(s, v)?;
        }
        put_user_properties(s, &self.user_properties)
    }
}

/// The properties of PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4.2.2 to §3.7.2.2), SUBACK (§3.9.2.1)
/// and UNSUBACK (§3.11.2.1): a Reason String and User Properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckProperties {
    pub reason_string: Option<String>,
    pub user_properties: Vec<(String, String)>,
}

impl AckProperties {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        use id::*;
        let mut p = Self::default();
        read_properties(r, |identifier, v| {
            match (identifier, v) {
                (REASON_STRING, Value::Utf8(x)) => p.reason_string = Some(x),
                (USER_PROPERTY, Value::Pair(k, v)) => p.user_properties.push((k, v)),
                _ => return Err(NOT_ALLOWED),
            }
            Ok(())
        })?;
        Ok(p)
    }
}

impl WriteProperties for AckProperties {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        put_str(s, id::REASON_STRING, &self.reason_string)?;
        put_user_properties(s, &self.user_properties)
    }
}

/// UNSUBSCRIBE properties (§3.10.2.1): User Properties only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnsubscribeProperties {
    pub user_properties: Vec<(String, String)>,
}

impl UnsubscribeProperties {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut p = Self::default();
        read_properties(r, |identifier, v| {
            match (identifier, v) {
                (id::USER_PROPERTY, Value::Pair(k, v)) => p.user_properties.push((k, v)),
                _ => return Err(NOT_ALLOWED),
            }
            Ok(())
        })?;
        Ok(p)
    }
}

impl WriteProperties for UnsubscribeProperties {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        put_user_properties(s, &self.user_properties)
    }
}

/// DISCONNECT properties (§3.14.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisconnectProperties {
    /// Only from the client [MQTT-3.14.2-2]; which side sent it is the caller's to check.
    pub session_expiry_interval: Option<u32>,
    pub reason_string: Option<String>,
    pub user_properties: Vec<(String, String)>,
    pub server_reference: Option<String>,
}

impl DisconnectProperties {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        use id::*;
        let mut p = Self::default();
        read_properties(r, |identifier, v| {
            match (identifier, v) {
                (SESSION_EXPIRY_INTERVAL, Value::FourByte(x)) => {
                    p.session_expiry_interval = Some(x)
                }
                (REASON_STRING, Value::Utf8(x)) => p.reason_string = Some(x),
                (USER_PROPERTY, Value::Pair(k, v)) => p.user_properties.push((k, v)),
                (SERVER_REFERENCE, Value::Utf8(x)) => p.server_reference = Some(x),
                _ => return Err(NOT_ALLOWED),
            }
            Ok(())
        })?;
        Ok(p)
    }
}

impl WriteProperties for DisconnectProperties {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        use id::*;
        put_u32(s, SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        put_str(s, REASON_STRING, &self.reason_string)?;
        put_user_properties(s, &self.user_properties)?;
        put_str(s, SERVER_REFERENCE, &self.server_reference)
    }
}

/// AUTH properties (§3.15.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthProperties {
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Bytes>,
    pub reason_string: Option<String>,
    pub user_properties: Vec<(String, String)>,
}

impl AuthProperties {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        use id::*;
        let mut p = Self::default();
        read_properties(r, |identifier, v| {
            match (identifier, v) {
                (AUTHENTICATION_METHOD, Value::Utf8(x)) => p.authentication_method = Some(x),
                (AUTHENTICATION_DATA, Value::Binary(x)) => p.authentication_data = Some(x),
                (REASON_STRING, Value::Utf8(x)) => p.reason_string = Some(x),
                (USER_PROPERTY, Value::Pair(k, v)) => p.user_properties.push((k, v)),
                _ => return Err(NOT_ALLOWED),
            }
            Ok(())
        })?;
        Ok(p)
    }
}

impl WriteProperties for AuthProperties {
    fn write_each<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        use id::*;
        put_str(s, AUTHENTICATION_METHOD, &self.authentication_method)?;
        put_bin(s, AUTHENTICATION_DATA, &self.authentication_data)?;
        put_str(s, REASON_STRING, &self.reason_string)?;
        put_user_properties(s, &self.user_properties)
    }
}
