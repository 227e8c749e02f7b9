//! The tunnel message, encoded by hand from the protocol's definition (Message.proto in AWS's
//! local proxy: type=1 varint, streamId=2 varint, ignorable=3 varint, payload=4 bytes,
//! serviceId=5 string, availableServiceIds=6 repeated string, connectionId=7 varint), each
//! behind a 2-byte big-endian length. Independent of the server's prost types on purpose.

pub const DATA: i32 = 1;
pub const STREAM_START: i32 = 2;
pub const STREAM_RESET: i32 = 3;
pub const SESSION_RESET: i32 = 4;
pub const SERVICE_IDS: i32 = 5;
pub const CONNECTION_START: i32 = 6;
pub const CONNECTION_RESET: i32 = 7;
/// The guides' largest payload per message.
pub const MAX_PAYLOAD: usize = 64512;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msg {
    pub kind: i32,
    pub stream_id: i32,
    pub ignorable: bool,
    pub payload: Vec<u8>,
    pub service_id: String,
    pub available_service_ids: Vec<String>,
    pub connection_id: u32,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_bytes(out: &mut Vec<u8>, tag: u64, b: &[u8]) {
    varint(out, (tag << 3) | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

impl Msg {
    pub fn control(kind: i32, stream_id: i32, service_id: &str, connection_id: u32) -> Msg {
        Msg {
            kind,
            stream_id,
            service_id: service_id.to_string(),
            connection_id,
            ..Default::default()
        }
    }

    /// The message with its length prefix.
    pub fn frame(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(self.payload.len() + 32);
        if self.kind != 0 {
            varint(&mut m, 1 << 3);
            varint(&mut m, self.kind as u64);
        }
        if self.stream_id != 0 {
            varint(&mut m, 2 << 3);
            // int32: negative values take ten bytes, as protobuf sign-extends them.
            varint(&mut m, self.stream_id as i64 as u64);
        }
        if self.ignorable {
            varint(&mut m, 3 << 3);
            varint(&mut m, 1);
        }
        if !self.payload.is_empty() {
            field_bytes(&mut m, 4, &self.payload);
        }
        if !self.service_id.is_empty() {
            field_bytes(&mut m, 5, self.service_id.as_bytes());
        }
        for s in &self.available_service_ids {
            field_bytes(&mut m, 6, s.as_bytes());
        }
        if self.connection_id != 0 {
            varint(&mut m, 7 << 3);
            varint(&mut m, self.connection_id as u64);
        }
        let mut out = Vec::with_capacity(m.len() + 2);
        out.extend_from_slice(&(m.len() as u16).to_be_bytes());
        out.extend_from_slice(&m);
        out
    }

    /// Decodes one message (without its prefix).
    pub fn decode(mut b: &[u8]) -> Option<Msg> {
        fn read_varint(b: &mut &[u8]) -> Option<u64> {
            let mut v = 0u64;
            for i in 0..10 {
                let (&byte, rest) = b.split_first()?;
                *b = rest;
                v |= u64::from(byte & 0x7f) << (7 * i);
                if byte & 0x80 == 0 {
                    return Some(v);
                }
            }
            None
        }
        let mut m = Msg::default();
        while !b.is_empty() {
            let key = read_varint(&mut b)?;
            let (tag, wire) = (key >> 3, key & 7);
            match wire {
                0 => {
                    let v = read_varint(&mut b)?;
                    match tag {
                        1 => m.kind = v as i32,
                        2 => m.stream_id = v as i32,
                        3 => m.ignorable = v != 0,
                        7 => m.connection_id = v as u32,
                        _ => {}
                    }
                }
                2 => {
                    let len = read_varint(&mut b)? as usize;
                    if b.len() < len {
                        return None;
                    }
                    let (v, rest) = b.split_at(len);
                    b = rest;
                    match tag {
                        4 => m.payload = v.to_vec(),
                        5 => m.service_id = String::from_utf8(v.to_vec()).ok()?,
                        6 => m
                            .available_service_ids
                            .push(String::from_utf8(v.to_vec()).ok()?),
                        _ => {}
                    }
                }
                5 => b = b.get(4..)?,
                1 => b = b.get(8..)?,
                _ => return None,
            }
        }
        Some(m)
    }
}

/// A DATA frame built around bytes already read into `buf[DATA_HEADROOM..DATA_HEADROOM + n]`:
/// the header goes in front, so the payload is not copied again.
pub const DATA_HEADROOM: usize = 32;

pub fn data_frame_in_place(
    mut buf: Vec<u8>,
    n: usize,
    stream_id: i32,
    service_id: &str,
    connection_id: u32,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(DATA_HEADROOM);
    varint(&mut head, 1 << 3);
    varint(&mut head, DATA as u64);
    varint(&mut head, 2 << 3);
    varint(&mut head, stream_id as i64 as u64);
    varint(&mut head, (4 << 3) | 2);
    varint(&mut head, n as u64);
    let mut tail = Vec::new();
    if !service_id.is_empty() {
        field_bytes(&mut tail, 5, service_id.as_bytes());
    }
    if connection_id != 0 {
        varint(&mut tail, 7 << 3);
        varint(&mut tail, connection_id as u64);
    }
    let len = head.len() + n + tail.len();
    let start = DATA_HEADROOM - head.len() - 2;
    buf[start..start + 2].copy_from_slice(&(len as u16).to_be_bytes());
    buf[start + 2..DATA_HEADROOM].copy_from_slice(&head);
    buf.truncate(DATA_HEADROOM + n);
    buf.extend_from_slice(&tail);
    buf.drain(..start);
    buf
}

/// Cuts messages out of a byte stream of WebSocket payloads.
#[derive(Default)]
pub struct Reader {
    buf: Vec<u8>,
}

impl Reader {
    pub fn push(&mut self, data: &[u8]) -> Option<Vec<Msg>> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut at = 0;
        while self.buf.len() - at >= 2 {
            let len = u16::from_be_bytes([self.buf[at], self.buf[at + 1]]) as usize;
            if self.buf.len() - at - 2 < len {
                break;
            }
            out.push(Msg::decode(&self.buf[at + 2..at + 2 + len])?);
            at += 2 + len;
        }
        self.buf.drain(..at);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_frames_split_anywhere() {
        let m = Msg {
            kind: DATA,
            stream_id: 3,
            payload: vec![9; 300],
            service_id: "SSH".into(),
            connection_id: 2,
            ..Default::default()
        };
        let ids = Msg {
            kind: SERVICE_IDS,
            available_service_ids: vec!["A".into(), "B".into()],
            ..Default::default()
        };
        let mut all = m.frame();
        all.extend(ids.frame());
        for cut in 0..all.len() {
            let mut r = Reader::default();
            let mut got = r.push(&all[..cut]).unwrap();
            got.extend(r.push(&all[cut..]).unwrap());
            assert_eq!(got, vec![m.clone(), ids.clone()]);
        }
        // The guides' example: SERVICE_IDS ["SSH1"].
        let one = Msg {
            kind: SERVICE_IDS,
            available_service_ids: vec!["SSH1".into()],
            ..Default::default()
        };
        assert_eq!(
            one.frame(),
            vec![0, 8, 0x08, 5, 0x32, 4, b'S', b'S', b'H', b'1']
        );
    }
}
