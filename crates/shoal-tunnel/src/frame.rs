//! The tunnel frames, sans-io: a 2-byte big-endian length, then a protobuf `Message`
//! (`com.amazonaws.iot.securedtunneling.Message`, declared here with prost's derive so no
//! `protoc` runs at build time). Frames do not follow WebSocket messages: one WebSocket message
//! may carry several frames or part of one (the local proxy's V1/V2/V3 WebSocket protocol
//! guides, "Tunneling message frames"). The relay decodes each frame to route it and forwards
//! the frame's own bytes, never a re-encoding.

use bytes::{Buf, Bytes, BytesMut};

/// The largest payload a message may carry: 63 KiB (the guides' "maximum data payload size").
pub const MAX_PAYLOAD: usize = 63 * 1024;
/// A frame's length prefix is 16 bits, so no message is larger.
pub const MAX_MESSAGE: usize = u16::MAX as usize;

/// The message types of the protocol (`Message.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Type {
    Unknown = 0,
    Data = 1,
    StreamStart = 2,
    StreamReset = 3,
    SessionReset = 4,
    ServiceIds = 5,
    ConnectionStart = 6,
    ConnectionReset = 7,
}

/// One tunnel message (field numbers as the protocol defines them).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    #[prost(enumeration = "Type", tag = "1")]
    pub r#type: i32,
    #[prost(int32, tag = "2")]
    pub stream_id: i32,
    #[prost(bool, tag = "3")]
    pub ignorable: bool,
    #[prost(bytes = "bytes", tag = "4")]
    pub payload: Bytes,
    /// V2 and later: which service a stream belongs to.
    #[prost(string, tag = "5")]
    pub service_id: String,
    /// Only in SERVICE_IDS, from the service.
    #[prost(string, repeated, tag = "6")]
    pub available_service_ids: Vec<String>,
    /// V3: which of a stream's simultaneous connections (0: not V3).
    #[prost(uint32, tag = "7")]
    pub connection_id: u32,
}

impl Message {
    pub fn kind(&self) -> Type {
        Type::try_from(self.r#type).unwrap_or(Type::Unknown)
    }

    /// A control message of the service (no payload).
    pub fn control(kind: Type, stream_id: i32, service_id: &str, connection_id: u32) -> Message {
        Message {
            r#type: kind as i32,
            stream_id,
            service_id: service_id.to_string(),
            connection_id,
            ..Default::default()
        }
    }
}

/// Why a peer's bytes are refused (the connection is closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A message that does not decode.
    Malformed,
    /// A payload over `MAX_PAYLOAD`.
    TooLarge(usize),
}

/// A message as a frame: its length prefix and encoding.
pub fn encode(m: &Message) -> Bytes {
    use prost::Message as _;
    let len = m.encoded_len();
    let mut out = BytesMut::with_capacity(2 + len);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    m.encode(&mut out).expect("capacity reserved");
    out.freeze()
}

/// Cuts whole frames out of the bytes of WebSocket messages as they come. A frame inside one
/// WebSocket message is a slice of it (no copy); only a frame split across messages is
/// gathered, and never more than one frame's bytes are held.
#[derive(Default)]
pub struct Frames {
    partial: BytesMut,
}

impl Frames {
    /// The frames completed by `data` (each with its prefix, as forwarded) and their decoded
    /// messages.
    pub fn push(&mut self, mut data: Bytes) -> Result<Vec<(Bytes, Message)>, FrameError> {
        let mut out = Vec::new();
        if !self.partial.is_empty() {
            let need = if self.partial.len() < 2 {
                2 - self.partial.len()
            } else {
                2 + u16::from_be_bytes([self.partial[0], self.partial[1]]) as usize
                    - self.partial.len()
            };
            let take = need.min(data.len());
            self.partial.extend_from_slice(&data[..take]);
            data.advance(take);
            if self.partial.len() < 2 {
                return Ok(out);
            }
            let total = 2 + u16::from_be_bytes([self.partial[0], self.partial[1]]) as usize;
            if self.partial.len() < total {
                // The prefix just completed: take what the rest of this message holds.
                let more = (total - self.partial.len()).min(data.len());
                self.partial.extend_from_slice(&data[..more]);
                data.advance(more);
            }
            if self.partial.len() < total {
                return Ok(out);
            }
            let frame = std::mem::take(&mut self.partial).freeze();
            let m = decode(&frame)?;
            out.push((frame, m));
        }
        while data.len() >= 2 {
            let total = 2 + u16::from_be_bytes([data[0], data[1]]) as usize;
            if data.len() < total {
                break;
            }
            let frame = data.split_to(total);
            let m = decode(&frame)?;
            // Nothing routes an unknown type (an empty frame is one): no entry for it.
            if m.kind() != Type::Unknown {
                out.push((frame, m));
            }
        }
        if !data.is_empty() {
            self.partial.extend_from_slice(&data);
        }
        Ok(out)
    }
}

fn decode(frame: &Bytes) -> Result<Message, FrameError> {
    use prost::Message as _;
    let m = Message::decode(frame.slice(2..)).map_err(|_| FrameError::Malformed)?;
    if m.payload.len() > MAX_PAYLOAD {
        return Err(FrameError::TooLarge(m.payload.len()));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(stream: i32, payload: &[u8]) -> Message {
        Message {
            r#type: Type::Data as i32,
            stream_id: stream,
            payload: Bytes::copy_from_slice(payload),
            service_id: "SSH".into(),
            ..Default::default()
        }
    }

    #[test]
    fn frames_split_and_joined_across_messages_come_out_whole() {
        let a = encode(&data(1, b"hello"));
        let b = encode(&data(1, &[7u8; 1000]));
        let mut all = a.to_vec();
        all.extend_from_slice(&b);
        // Every way of cutting the two frames into two WebSocket messages.
        for cut in 0..=all.len() {
            let mut f = Frames::default();
            let mut got = f.push(Bytes::copy_from_slice(&all[..cut])).unwrap();
            got.extend(f.push(Bytes::copy_from_slice(&all[cut..])).unwrap());
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(got[0].0, a);
            assert_eq!(got[1].1.payload.len(), 1000);
            assert!(f.partial.is_empty());
        }
        // One byte at a time.
        let mut f = Frames::default();
        let mut n = 0;
        for byte in all.iter() {
            n += f.push(Bytes::copy_from_slice(&[*byte])).unwrap().len();
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn bad_and_oversize_messages_are_refused() {
        let mut f = Frames::default();
        assert_eq!(
            f.push(Bytes::from_static(&[0, 3, 0xff, 0xff, 0xff]))
                .unwrap_err(),
            FrameError::Malformed
        );
        let big = encode(&data(1, &vec![0u8; MAX_PAYLOAD + 1]));
        assert_eq!(
            Frames::default().push(big).unwrap_err(),
            FrameError::TooLarge(MAX_PAYLOAD + 1)
        );
        let max = encode(&data(1, &vec![0u8; MAX_PAYLOAD]));
        assert_eq!(Frames::default().push(max).unwrap().len(), 1);
    }

    #[test]
    fn the_wire_form_is_protobufs() {
        // type=STREAM_START(2), streamId=1, serviceId="SSH", connectionId=1.
        let m = Message::control(Type::StreamStart, 1, "SSH", 1);
        let f = encode(&m);
        assert_eq!(
            &f[..],
            &[0, 11, 0x08, 2, 0x10, 1, 0x2a, 3, b'S', b'S', b'H', 0x38, 1][..]
        );
    }
}
