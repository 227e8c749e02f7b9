//! Why a session ends early, typed: each cause carries what the client is told (the MQTT 5
//! DISCONNECT reason code, §3.14.2.1) and how the lifecycle event names it. The codec's
//! `DecodeError` keeps its reason code on the way (0x81 Malformed Packet, 0x82 Protocol Error,
//! 0x95 Packet Too Large), so no error turns into a silent close.

use crate::lifecycle::EndReason;
use shoal_mqtt::{reason, DecodeError};
use std::borrow::Cow;

#[derive(Debug)]
pub(crate) enum SessionError {
    /// The client's bytes are not a valid packet: DISCONNECT with the codec's reason code.
    Decode(DecodeError),
    /// The client broke the protocol: MQTT 5 clients get DISCONNECT with `code` (§4.13).
    Client { code: u8, why: Cow<'static, str> },
    /// The connection's certificate may no longer connect (0x87 Not Authorized).
    Revoked(String),
    /// The client made more wait for it than a connection may hold (0x97 Quota Exceeded).
    Quota,
    /// The transport failed: reading or writing, or the client stopped reading in time.
    Io(String),
    /// Something on the server failed (the store, an encoding): 0x80 Unspecified Error.
    Server(String),
}

pub(crate) type SessionResult<T> = Result<T, SessionError>;

impl SessionError {
    pub(crate) fn client(code: u8, why: impl Into<Cow<'static, str>>) -> SessionError {
        SessionError::Client {
            code,
            why: why.into(),
        }
    }

    pub(crate) fn protocol(why: impl Into<Cow<'static, str>>) -> SessionError {
        SessionError::client(reason::PROTOCOL_ERROR, why)
    }

    pub(crate) fn server(why: impl Into<String>) -> SessionError {
        SessionError::Server(why.into())
    }

    /// The DISCONNECT reason code an MQTT 5 client gets, if the connection can still carry one.
    pub(crate) fn disconnect_code(&self) -> Option<u8> {
        match self {
            SessionError::Decode(e) => Some(e.reason_code()),
            SessionError::Client { code, .. } => Some(*code),
            SessionError::Revoked(_) => Some(reason::NOT_AUTHORIZED),
            SessionError::Quota => Some(reason::QUOTA_EXCEEDED),
            SessionError::Server(_) => Some(reason::UNSPECIFIED_ERROR),
            SessionError::Io(_) => None,
        }
    }

    /// How the lifecycle event names the ending (`disconnectReason`).
    pub(crate) fn end_reason(&self) -> EndReason {
        match self {
            SessionError::Decode(_) | SessionError::Client { .. } => EndReason::ClientError,
            SessionError::Revoked(_) => EndReason::AuthError,
            SessionError::Quota => EndReason::Throttled,
            SessionError::Io(_) => EndReason::ConnectionLost,
            SessionError::Server(_) => EndReason::ServerInitiated,
        }
    }
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::Decode(e) => write!(f, "decode: {e}"),
            SessionError::Client { code, why } => write!(f, "client error 0x{code:02X}: {why}"),
            SessionError::Revoked(e) => write!(f, "not authorized: {e}"),
            SessionError::Quota => f.write_str("quota exceeded"),
            SessionError::Io(e) => write!(f, "transport: {e}"),
            SessionError::Server(e) => write!(f, "server: {e}"),
        }
    }
}

impl From<DecodeError> for SessionError {
    fn from(e: DecodeError) -> SessionError {
        SessionError::Decode(e)
    }
}

impl From<std::io::Error> for SessionError {
    fn from(e: std::io::Error) -> SessionError {
        SessionError::Io(e.to_string())
    }
}

impl From<shoal_mqtt::EncodeError> for SessionError {
    fn from(e: shoal_mqtt::EncodeError) -> SessionError {
        SessionError::Server(format!("encode: {e}"))
    }
}

/// What a client whose first packet could not be read as CONNECT is answered, before the
/// connection closes: MQTT 3.1.1 (§3.1.2.2) answers an unknown protocol level with CONNACK
/// 0x01 and says nothing otherwise; MQTT 5 (§3.2.2.2) answers with the reason code, in the
/// format of the level the client asked for. `level` is the protocol level byte of the CONNECT,
/// if it got that far.
pub(crate) fn connect_refusal(
    e: &DecodeError,
    level: Option<u8>,
) -> Option<(shoal_mqtt::Protocol, u8)> {
    use shoal_mqtt::{return_code, Protocol};
    match (e, level) {
        (DecodeError::UnsupportedProtocol(_), _) => {
            Some((Protocol::V311, return_code::UNACCEPTABLE_PROTOCOL_VERSION))
        }
        (_, Some(5)) => Some((Protocol::V5, e.reason_code())),
        _ => None,
    }
}

/// The protocol level byte of a CONNECT at the start of `buf` (fixed header, Remaining
/// Length, then the protocol name "MQTT" or "MQIsdp" and the level, §3.1.2.1-2).
pub(crate) fn connect_level(buf: &[u8]) -> Option<u8> {
    if buf.first()? >> 4 != 1 {
        return None;
    }
    // Remaining Length: 1 to 4 bytes, the high bit says another follows (§1.5.5).
    let mut i = 1;
    while *buf.get(i)? & 0x80 != 0 {
        i += 1;
        if i > 4 {
            return None;
        }
    }
    let name_len = usize::from(u16::from_be_bytes([*buf.get(i + 1)?, *buf.get(i + 2)?]));
    buf.get(i + 3 + name_len).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_mqtt::{return_code, Protocol};

    #[test]
    fn decode_errors_keep_their_reason_codes() {
        let e: SessionError = DecodeError::MalformedPacket("x").into();
        assert_eq!(e.disconnect_code(), Some(reason::MALFORMED_PACKET));
        let e: SessionError = DecodeError::PacketTooLarge { size: 9 }.into();
        assert_eq!(e.disconnect_code(), Some(reason::PACKET_TOO_LARGE));
        assert_eq!(e.end_reason(), EndReason::ClientError);
        assert_eq!(SessionError::Io("x".into()).disconnect_code(), None);
    }

    #[test]
    fn connect_levels_are_read_from_the_bytes() {
        // MQTT 3.1: "MQIsdp", level 3.
        let v31 = [0x10, 0x10, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3];
        assert_eq!(connect_level(&v31), Some(3));
        let v5 = [0x10, 0x80, 0x01, 0, 4, b'M', b'Q', b'T', b'T', 5];
        assert_eq!(connect_level(&v5), Some(5));
        assert_eq!(connect_level(&[0x30, 0]), None);
        assert_eq!(
            connect_refusal(&DecodeError::UnsupportedProtocol(3), Some(3)),
            Some((Protocol::V311, return_code::UNACCEPTABLE_PROTOCOL_VERSION))
        );
        assert_eq!(
            connect_refusal(&DecodeError::ProtocolError("x"), Some(5)),
            Some((Protocol::V5, reason::PROTOCOL_ERROR))
        );
        assert_eq!(
            connect_refusal(&DecodeError::ProtocolError("x"), Some(4)),
            None
        );
    }
}
