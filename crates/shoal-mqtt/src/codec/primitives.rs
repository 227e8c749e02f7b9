//! The data representations both versions share (MQTT 3.1.1 §1.5, MQTT 5.0 §1.5): two- and
//! four-byte integers, Variable Byte Integers, UTF-8 Encoded Strings, Binary Data and string
//! pairs. Reading is always checked against what is left of the packet, so a length that points
//! past the end is a Malformed Packet rather than a panic; writing goes through a `Sink` so one
//! function both measures a packet and writes it.

use bytes::{BufMut, Bytes, BytesMut};

use super::{DecodeError, EncodeError};

/// The largest value a Variable Byte Integer can carry (§1.5.5 of MQTT 5.0, §2.2.3 of 3.1.1):
/// four bytes of seven bits.
pub const MAX_VARIABLE_BYTE_INTEGER: u32 = 268_435_455;

/// The longest UTF-8 Encoded String or Binary Data: its length is a two-byte integer (§1.5.4,
/// §1.5.6).
pub const MAX_STRING_LEN: usize = 65_535;

const TRUNCATED: DecodeError = DecodeError::MalformedPacket("packet ends inside a field");

/// Decodes a Variable Byte Integer from the front of `b` (§1.5.5): `Ok(None)` while `b` ends
/// before its last byte, or the value and how many bytes it took. A fourth byte that still has
/// the continuation bit set is malformed. Encodings longer than necessary are accepted: the
/// minimal-length rule binds the sender, and the value is unambiguous either way.
pub fn read_variable_byte_integer(b: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, &byte) in b.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if b.len() >= 4 {
        Err(DecodeError::MalformedPacket(
            "variable byte integer longer than 4 bytes",
        ))
    } else {
        Ok(None)
    }
}

/// How many bytes the minimal encoding of `v` takes.
pub fn variable_byte_integer_len(v: usize) -> usize {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Checked reads over what is left of one packet. It holds a `Bytes` so that Binary Data and
/// payloads are handed out as slices of the received buffer, without copying.
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Fails unless the whole packet has been read: content must match the Remaining Length.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::MalformedPacket(
                "remaining length longer than the packet's content",
            ))
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        if n > self.buf.len() {
            return Err(TRUNCATED);
        }
        Ok(self.buf.split_to(n))
    }

    /// Everything left, e.g. a PUBLISH payload.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.first().ok_or(TRUNCATED)?;
        self.buf = self.buf.slice(1..);
        Ok(b)
    }

    /// Two Byte Integer, big-endian (§1.5.2).
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        let b: [u8; 2] = b.as_ref().try_into().map_err(|_| TRUNCATED)?;
        Ok(u16::from_be_bytes(b))
    }

    /// Four Byte Integer, big-endian (MQTT 5.0 §1.5.3).
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        let b: [u8; 4] = b.as_ref().try_into().map_err(|_| TRUNCATED)?;
        Ok(u32::from_be_bytes(b))
    }

    /// Variable Byte Integer (MQTT 5.0 §1.5.5); ending inside one is malformed here because the
    /// packet is already complete.
    pub(crate) fn variable_byte_integer(&mut self) -> Result<u32, DecodeError> {
        match read_variable_byte_integer(&self.buf)? {
            Some((v, n)) => {
                self.buf = self.buf.slice(n..);
                Ok(v)
            }
            None => Err(TRUNCATED),
        }
    }

    /// Binary Data (MQTT 5.0 §1.5.6; the Will Message and password of 3.1.1 §3.1.3 have the same
    /// form): a two-byte length, then that many bytes, returned without copying.
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// UTF-8 Encoded String (§1.5.4 of MQTT 5.0, §1.5.3 of 3.1.1). The receiver MUST close the
    /// connection on ill-formed UTF-8 (which includes the UTF-16 surrogates U+D800..U+DFFF) and
    /// on U+0000 [MQTT-1.5.4-1], [MQTT-1.5.4-2]. Other control characters and non-characters are
    /// only "SHOULD NOT" for the sender and are let through.
    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        let raw = self.binary()?;
        let s = std::str::from_utf8(&raw)
            .map_err(|_| DecodeError::MalformedPacket("string is not well-formed UTF-8"))?;
        if s.contains('\0') {
            return Err(DecodeError::MalformedPacket("string contains U+0000"));
        }
        Ok(s.to_owned())
    }

    /// UTF-8 String Pair (MQTT 5.0 §1.5.7), the form of User Properties.
    pub(crate) fn string_pair(&mut self) -> Result<(String, String), DecodeError> {
        let k = self.string()?;
        let v = self.string()?;
        Ok((k, v))
    }
}

/// Where encoded bytes go: a [`Counter`] to measure a packet before writing it, or the output
/// buffer. Writing every field through one generic function keeps the measured length and the
/// written bytes from ever disagreeing.
pub(crate) trait Sink {
    fn put_slice(&mut self, s: &[u8]);

    fn put_u8(&mut self, v: u8) {
        self.put_slice(&[v]);
    }

    fn put_u16(&mut self, v: u16) {
        self.put_slice(&v.to_be_bytes());
    }

    fn put_u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
}

/// A [`Sink`] that only counts bytes.
#[derive(Debug, Default)]
pub(crate) struct Counter(pub usize);

impl Sink for Counter {
    fn put_slice(&mut self, s: &[u8]) {
        self.0 = self.0.saturating_add(s.len());
    }

    fn put_u8(&mut self, _: u8) {
        self.0 = self.0.saturating_add(1);
    }
}

impl Sink for BytesMut {
    fn put_slice(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
    }

    fn put_u8(&mut self, v: u8) {
        BufMut::put_u8(self, v);
    }
}

/// Writes `v` as a minimal Variable Byte Integer.
pub(crate) fn put_variable_byte_integer<S: Sink>(s: &mut S, v: usize) -> Result<(), EncodeError> {
    if v > MAX_VARIABLE_BYTE_INTEGER as usize {
        return Err(EncodeError::PacketTooLarge { size: v });
    }
    let mut v = v;
    loop {
        // Truncation is intended: the low seven bits, with the continuation bit above them.
        let mut byte = (v & 0x7F) as u8;
        v >>= 7;
        if v > 0 {
            byte |= 0x80;
        }
        s.put_u8(byte);
        if v == 0 {
            return Ok(());
        }
    }
}

/// Writes Binary Data: a two-byte length and the bytes.
pub(crate) fn put_binary<S: Sink>(s: &mut S, v: &[u8]) -> Result<(), EncodeError> {
    let n = u16::try_from(v.len()).map_err(|_| EncodeError::FieldTooLong { len: v.len() })?;
    s.put_u16(n);
    s.put_slice(v);
    Ok(())
}

/// Writes a UTF-8 Encoded String, refusing what a receiver would reject: more than 65,535 bytes,
/// or U+0000 (a Rust `str` is well-formed UTF-8 already).
pub(crate) fn put_string<S: Sink>(s: &mut S, v: &str) -> Result<(), EncodeError> {
    if v.contains('\0') {
        return Err(EncodeError::NullCharacter);
    }
    put_binary(s, v.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_byte_integer_boundaries_from_the_spec_table() {
        // §1.5.5 of MQTT 5.0 (§2.2.3 of 3.1.1) lists the edges of each encoded size.
        let cases: &[(usize, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for &(v, bytes) in cases {
            let mut out = BytesMut::new();
            put_variable_byte_integer(&mut out, v).unwrap();
            assert_eq!(&out[..], bytes, "{v}");
            assert_eq!(variable_byte_integer_len(v), bytes.len());
            let decoded = read_variable_byte_integer(bytes).unwrap();
            assert_eq!(decoded, Some((v as u32, bytes.len())));
            for cut in 0..bytes.len() {
                assert_eq!(read_variable_byte_integer(&bytes[..cut]).unwrap(), None);
            }
        }
        let mut out = BytesMut::new();
        assert!(put_variable_byte_integer(&mut out, 268_435_456).is_err());
    }

    #[test]
    fn variable_byte_integer_of_five_bytes_is_malformed() {
        assert!(read_variable_byte_integer(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err());
        assert!(read_variable_byte_integer(&[0x80, 0x80, 0x80, 0x80]).is_err());
    }

    #[test]
    fn strings_follow_the_utf8_rules() {
        let mut r = Reader::new(Bytes::from_static(b"\x00\x03a\x00b"));
        assert_eq!(
            r.string(),
            Err(DecodeError::MalformedPacket("string contains U+0000"))
        );
        // An encoded surrogate (U+D800) is ill-formed UTF-8.
        let mut r = Reader::new(Bytes::from_static(b"\x00\x03\xED\xA0\x80"));
        assert!(r.string().is_err());
        let mut r = Reader::new(Bytes::from_static(b"\x00\x05ab"));
        assert_eq!(r.string(), Err(TRUNCATED));
        // The example of §1.5.4 (Figure 1-1): "A" followed by U+2A6D4.
        let mut r = Reader::new(Bytes::from_static(b"\x00\x05\x41\xF0\xAA\x9B\x94"));
        assert_eq!(r.string().unwrap(), "A\u{2A6D4}");
        assert!(r.is_empty());
    }

    #[test]
    fn writing_refuses_what_reading_would_reject() {
        let mut c = Counter::default();
        assert_eq!(put_string(&mut c, "a\0"), Err(EncodeError::NullCharacter));
        let long = "x".repeat(65_536);
        assert!(put_string(&mut c, &long).is_err());
        assert!(put_string(&mut c, &long[..65_535]).is_ok());
        assert_eq!(c.0, 65_537);
    }
}
