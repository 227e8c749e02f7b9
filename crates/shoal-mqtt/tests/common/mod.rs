//! Helpers shared by the integration tests.
#![allow(dead_code)]

use bytes::BytesMut;
use shoal_mqtt::{decode, encode, DecodeError, Packet, Protocol};

/// Plenty for any test packet.
pub const MAX: usize = 1 << 20;

/// Encodes `p`, checks that every strict prefix of the bytes is "need more" and leaves the
/// buffer as it was, that the whole decodes back to `p` and consumes exactly its bytes, and
/// returns the bytes.
pub fn roundtrip(p: &Packet, protocol: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(p, protocol, &mut out).unwrap_or_else(|e| panic!("encode {p:?}: {e}"));
    let bytes = out.to_vec();
    assert_eq!(
        shoal_mqtt::encoded_len(p, protocol).unwrap(),
        bytes.len(),
        "encoded_len of {p:?}"
    );
    every_prefix_needs_more(&bytes, protocol);
    // A following packet must be left in the buffer untouched.
    let mut buf = BytesMut::from(&bytes[..]);
    buf.extend_from_slice(&[0xC0, 0x00]);
    let got = decode(&mut buf, protocol, MAX)
        .unwrap_or_else(|e| panic!("decode {p:?} from {bytes:02x?}: {e}"));
    assert_eq!(got.as_ref(), Some(p), "bytes {bytes:02x?}");
    assert_eq!(&buf[..], &[0xC0, 0x00]);
    bytes
}

pub fn every_prefix_needs_more(bytes: &[u8], protocol: Protocol) {
    for cut in 0..bytes.len() {
        let mut buf = BytesMut::from(&bytes[..cut]);
        let got = decode(&mut buf, protocol, MAX);
        assert_eq!(got, Ok(None), "prefix of {cut} bytes of {bytes:02x?}");
        assert_eq!(&buf[..], &bytes[..cut], "prefix of {cut} bytes was changed");
    }
}

/// Decodes exactly one packet from `bytes`, which must all be consumed.
pub fn decode_one(bytes: &[u8], protocol: Protocol) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let p = decode(&mut buf, protocol, MAX)?;
    let p = p.unwrap_or_else(|| panic!("incomplete: {bytes:02x?}"));
    assert!(buf.is_empty(), "left over: {:02x?}", &buf[..]);
    Ok(p)
}

/// Encodes `p` for `protocol`.
pub fn bytes_of(p: &Packet, protocol: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(p, protocol, &mut out).unwrap_or_else(|e| panic!("encode {p:?}: {e}"));
    out.to_vec()
}

/// Builds a packet from a first byte and a body, computing the Remaining Length.
pub fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![first];
    let mut n = body.len();
    loop {
        let mut b = (n & 0x7F) as u8;
        n >>= 7;
        if n > 0 {
            b |= 0x80;
        }
        v.push(b);
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(body);
    v
}

/// A UTF-8 string or binary field: two-byte length, then the bytes.
pub fn s(v: &[u8]) -> Vec<u8> {
    let mut out = (v.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(v);
    out
}
