//! S3's `aws-chunked` request bodies: the framing (`<hex size>[;chunk-signature=<sig>]\r\n`,
//! the data, `\r\n`, a final empty chunk, then trailers such as `x-amz-checksum-crc32` and
//! `x-amz-trailer-signature`), decoded incrementally, and the chain of chunk and trailer
//! signatures that `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` bodies carry
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html). Every line, size
//! and trailer is bounded: the body comes from whoever sent it.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The SHA-256 of nothing, in hex (the fifth line of every chunk's string to sign).
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Longest size line or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Largest chunk accepted (clients send 64 KiB to 1 MiB).
pub const MAX_CHUNK: usize = 16 * 1024 * 1024;
/// Trailers accepted at most.
const MAX_TRAILERS: usize = 16;

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// The framing does not parse (S3: 400 InvalidArgument / IncompleteBody).
    Malformed(&'static str),
    /// A chunk or trailer signature does not match (S3: 403 SignatureDoesNotMatch).
    Signature,
}

/// Verifies the chain of chunk signatures: each chunk's signature covers the previous one,
/// starting from the request's own (the seed).
#[derive(Debug, Clone)]
pub struct ChunkSigner {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    previous: String,
}

impl ChunkSigner {
    /// `scope` is `yyyymmdd/region/s3/aws4_request`; `seed` the request's `Signature=`.
    pub fn new(signing_key: [u8; 32], amz_date: &str, scope: &str, seed: &str) -> ChunkSigner {
        ChunkSigner {
            key: signing_key,
            amz_date: amz_date.to_string(),
            scope: scope.to_string(),
            previous: seed.to_ascii_lowercase(),
        }
    }

    fn sign(&self, algorithm: &str, hash_hex: &str, with_empty: bool) -> String {
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(&self.key).expect("any key length");
        m.update(algorithm.as_bytes());
        m.update(b"\n");
        m.update(self.amz_date.as_bytes());
        m.update(b"\n");
        m.update(self.scope.as_bytes());
        m.update(b"\n");
        m.update(self.previous.as_bytes());
        m.update(b"\n");
        if with_empty {
            m.update(EMPTY_SHA256.as_bytes());
            m.update(b"\n");
        }
        m.update(hash_hex.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// The signature chunk `data` must carry; it becomes the previous one.
    pub fn chunk(&mut self, data: &[u8]) -> String {
        let sig = self.sign(
            "AWS4-HMAC-SHA256-PAYLOAD",
            &hex::encode(Sha256::digest(data)),
            true,
        );
        self.previous.clone_from(&sig);
        sig
    }

    /// The signature the trailers (in their canonical form) must carry.
    pub fn trailer(&mut self, canonical: &[u8]) -> String {
        let sig = self.sign(
            "AWS4-HMAC-SHA256-TRAILER",
            &hex::encode(Sha256::digest(canonical)),
            false,
        );
        self.previous.clone_from(&sig);
        sig
    }

    fn check(expected: &str, provided: &str) -> Result<(), ChunkError> {
        let (a, b) = (expected.as_bytes(), provided.trim().as_bytes());
        let same = a.len() == b.len()
            && a.iter()
                .zip(b)
                .fold(0u8, |acc, (x, y)| acc | (x ^ y.to_ascii_lowercase()))
                == 0;
        if same {
            Ok(())
        } else {
            Err(ChunkError::Signature)
        }
    }
}

enum State {
    /// Reading a size line.
    Size,
    /// Reading `left` more bytes of a chunk (held until its signature is checked).
    Data {
        left: usize,
        signature: Option<String>,
        held: Vec<u8>,
    },
    /// The `\r\n` after a chunk's data.
    DataEnd,
    /// Trailer lines after the final chunk, up to an empty line.
    Trailers,
    Done,
}

/// An incremental decoder of one aws-chunked body.
pub struct AwsChunked {
    state: State,
    signer: Option<ChunkSigner>,
    trailers: Vec<(String, String)>,
    decoded: u64,
}

/// Takes a `\r\n`-terminated line off the front of `input`, if it is there.
fn take_line(input: &mut Vec<u8>) -> Result<Option<String>, ChunkError> {
    match input.windows(2).position(|w| w == b"\r\n") {
        Some(i) => {
            let line = String::from_utf8(input[..i].to_vec())
                .map_err(|_| ChunkError::Malformed("a chunk line is not UTF-8"))?;
            input.drain(..i + 2);
            Ok(Some(line))
        }
        None if input.len() > MAX_LINE => Err(ChunkError::Malformed("a chunk line is too long")),
        None => Ok(None),
    }
}

impl AwsChunked {
    /// A decoder; with a signer, every chunk (and the trailers) must be signed.
    pub fn new(signer: Option<ChunkSigner>) -> AwsChunked {
        AwsChunked {
            state: State::Size,
            signer,
            trailers: Vec::new(),
            decoded: 0,
        }
    }

    /// Bytes of object data decoded so far.
    pub fn decoded(&self) -> u64 {
        self.decoded
    }

    /// The trailers (name lowercased, value trimmed), once the body ended.
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Decodes what `input` holds (consuming it) and appends the object data to `out`;
    /// `Ok(true)` once the whole body, trailers included, has been read.
    pub fn feed(&mut self, input: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<bool, ChunkError> {
        loop {
            match &mut self.state {
                State::Done => return Ok(true),
                State::Size => {
                    let Some(line) = take_line(input)? else {
                        return Ok(false);
                    };
                    let (size, ext) = line.split_once(';').unwrap_or((&line, ""));
                    let size = size.trim();
                    if size.is_empty() || size.len() > 8 {
                        return Err(ChunkError::Malformed("a chunk size is not hexadecimal"));
                    }
                    let size = usize::from_str_radix(size, 16)
                        .map_err(|_| ChunkError::Malformed("a chunk size is not hexadecimal"))?;
                    if size > MAX_CHUNK {
                        return Err(ChunkError::Malformed("a chunk is too large"));
                    }
                    let signature = ext
                        .split(';')
                        .find_map(|e| e.trim().strip_prefix("chunk-signature="))
                        .map(str::to_string);
                    if self.signer.is_some() && signature.is_none() {
                        return Err(ChunkError::Signature);
                    }
                    self.state = State::Data {
                        left: size,
                        signature,
                        held: Vec::new(),
                    };
                    if size == 0 {
                        self.finish_chunk(out)?;
                        self.state = State::Trailers;
                    }
                }
                State::Data { left, held, .. } => {
                    let n = (*left).min(input.len());
                    held.extend(input.drain(..n));
                    *left -= n;
                    if *left > 0 {
                        // An unsigned chunk may go on as it comes.
                        if self.signer.is_none() {
                            self.decoded += held.len() as u64;
                            out.append(held);
                        }
                        return Ok(false);
                    }
                    self.finish_chunk(out)?;
                    self.state = State::DataEnd;
                }
                State::DataEnd => {
                    if input.len() < 2 {
                        return Ok(false);
                    }
                    if &input[..2] != b"\r\n" {
                        return Err(ChunkError::Malformed("a chunk does not end with CRLF"));
                    }
                    input.drain(..2);
                    self.state = State::Size;
                }
                State::Trailers => {
                    let Some(line) = take_line(input)? else {
                        return Ok(false);
                    };
                    if line.is_empty() {
                        self.check_trailers()?;
                        self.state = State::Done;
                        continue;
                    }
                    let (name, value) = line
                        .split_once(':')
                        .ok_or(ChunkError::Malformed("a trailer is not name:value"))?;
                    if self.trailers.len() >= MAX_TRAILERS {
                        return Err(ChunkError::Malformed("too many trailers"));
                    }
                    self.trailers
                        .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                }
            }
        }
    }

    /// A chunk fully read: its signature checked, its data passed on.
    fn finish_chunk(&mut self, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        let State::Data {
            signature, held, ..
        } = &mut self.state
        else {
            return Ok(());
        };
        if let Some(signer) = &mut self.signer {
            let expected = signer.chunk(held);
            ChunkSigner::check(&expected, signature.as_deref().unwrap_or(""))?;
        }
        self.decoded += held.len() as u64;
        out.append(held);
        Ok(())
    }

    /// With a signer and trailers, the trailer signature covers the others.
    fn check_trailers(&mut self) -> Result<(), ChunkError> {
        let Some(signer) = &mut self.signer else {
            return Ok(());
        };
        let provided = self
            .trailers
            .iter()
            .find(|(n, _)| n == "x-amz-trailer-signature")
            .map(|(_, v)| v.clone());
        let mut others: Vec<&(String, String)> = self
            .trailers
            .iter()
            .filter(|(n, _)| n != "x-amz-trailer-signature")
            .collect();
        if others.is_empty() && provided.is_none() {
            return Ok(());
        }
        others.sort();
        let mut canonical = Vec::new();
        for (n, v) in others {
            canonical.extend_from_slice(n.as_bytes());
            canonical.push(b':');
            canonical.extend_from_slice(v.as_bytes());
            canonical.push(b'\n');
        }
        let expected = signer.trailer(&canonical);
        ChunkSigner::check(&expected, provided.as_deref().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Decoded = (Vec<u8>, Vec<(String, String)>);

    fn decode_all(
        body: &[u8],
        signer: Option<ChunkSigner>,
        step: usize,
    ) -> Result<Decoded, ChunkError> {
        let mut d = AwsChunked::new(signer);
        let mut out = Vec::new();
        let mut input = Vec::new();
        for piece in body.chunks(step.max(1)) {
            input.extend_from_slice(piece);
            if d.feed(&mut input, &mut out)? {
                return Ok((out, d.trailers().to_vec()));
            }
        }
        Err(ChunkError::Malformed("the body ended early"))
    }

    #[test]
    fn unsigned_chunks_with_a_trailer_in_any_pieces() {
        // botocore over https: STREAMING-UNSIGNED-PAYLOAD-TRAILER.
        let body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        for step in [1, 2, 7, 100] {
            let (data, trailers) = decode_all(body, None, step).unwrap();
            assert_eq!(data, b"hello world");
            assert_eq!(
                trailers,
                [("x-amz-checksum-crc32".to_string(), "DUoRhQ==".to_string())]
            );
        }
        // Upper-case sizes (aws-sdk-rust) and no trailer.
        let (data, _) = decode_all(b"B\r\nHello world\r\n0\r\n\r\n", None, 3).unwrap();
        assert_eq!(data, b"Hello world");
    }

    #[test]
    fn hostile_framing_is_refused() {
        for bad in [
            &b"zz\r\nxx\r\n"[..],
            b"ffffffffff\r\n",
            b"2\r\nabXX0\r\n\r\n",
            b"2\r\nab\r\n0\r\nnocolon\r\n\r\n",
        ] {
            assert!(
                matches!(decode_all(bad, None, 4), Err(ChunkError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = vec![b'1'; MAX_LINE + 10];
        assert!(decode_all(&long, None, 64).is_err());
    }

    #[test]
    fn signed_chunks_follow_aws_s_example() {
        // The STREAMING-AWS4-HMAC-SHA256-PAYLOAD example of the S3 API reference: 65 KiB of
        // 'a' and 1 KiB of 'a' in two chunks and the final one, from the seed signature.
        let key = crate::signing_key(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "20130524",
            "us-east-1",
            "s3",
        );
        let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
        let mut s = ChunkSigner::new(
            key,
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            seed,
        );
        let first = s.chunk(&vec![b'a'; 65536]);
        let second = s.chunk(&vec![b'a'; 1024]);
        let last = s.chunk(b"");
        assert_eq!(
            first,
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
        assert_eq!(
            second,
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        );
        assert_eq!(
            last,
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        );
        // The same body decodes with its signatures, and fails with one byte changed.
        let mut body = Vec::new();
        body.extend_from_slice(format!("10000;chunk-signature={first}\r\n").as_bytes());
        body.extend_from_slice(&vec![b'a'; 65536]);
        body.extend_from_slice(format!("\r\n400;chunk-signature={second}\r\n").as_bytes());
        body.extend_from_slice(&vec![b'a'; 1024]);
        body.extend_from_slice(format!("\r\n0;chunk-signature={last}\r\n\r\n").as_bytes());
        let fresh = || {
            Some(ChunkSigner::new(
                key,
                "20130524T000000Z",
                "20130524/us-east-1/s3/aws4_request",
                seed,
            ))
        };
        let (data, _) = decode_all(&body, fresh(), 1000).unwrap();
        assert_eq!(data.len(), 66560);
        let mut tampered = body.clone();
        tampered[100] = b'b';
        assert_eq!(
            decode_all(&tampered, fresh(), 1000).unwrap_err(),
            ChunkError::Signature
        );
        let unsigned = b"1\r\na\r\n0\r\n\r\n";
        assert_eq!(
            decode_all(unsigned, fresh(), 4).unwrap_err(),
            ChunkError::Signature
        );
    }

    /// The trailer example of the S3 API reference (sigv4-streaming-trailers): 65 KiB of 'a'
    /// in a 64 KiB and a 1 KiB chunk, then `x-amz-checksum-crc32c` and its trailer signature.
    #[test]
    fn a_signed_trailer_follows_aws_s_example() {
        let key = crate::signing_key(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "20130524",
            "us-east-1",
            "s3",
        );
        let signer = || {
            Some(ChunkSigner::new(
                key,
                "20130524T000000Z",
                "20130524/us-east-1/s3/aws4_request",
                "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
            ))
        };
        let mut body = Vec::new();
        body.extend_from_slice(b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n");
        body.extend_from_slice(&vec![b'a'; 65536]);
        body.extend_from_slice(b"\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n");
        body.extend_from_slice(&vec![b'a'; 1024]);
        body.extend_from_slice(b"\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n");
        body.extend_from_slice(b"x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n");
        let (data, trailers) = decode_all(&body, signer(), 4096).unwrap();
        assert_eq!(data.len(), 66560);
        assert_eq!(
            trailers[0],
            ("x-amz-checksum-crc32c".to_string(), "sOO8/Q==".to_string())
        );
        let forged = String::from_utf8_lossy(&body).replace("sOO8/Q==", "sOO8/Q=A");
        assert_eq!(
            decode_all(forged.as_bytes(), signer(), 4096).unwrap_err(),
            ChunkError::Signature
        );
    }

    #[test]
    fn a_signed_trailer_is_checked() {
        let key = [7u8; 32];
        let mut signer = ChunkSigner::new(
            key,
            "20261207T000000Z",
            "20261207/us-east-1/s3/aws4_request",
            "00",
        );
        let c1 = signer.chunk(b"hi");
        let c0 = signer.chunk(b"");
        let t = signer.trailer(b"x-amz-checksum-crc32:abc=\n");
        let body = format!(
            "2;chunk-signature={c1}\r\nhi\r\n0;chunk-signature={c0}\r\nx-amz-checksum-crc32:abc=\r\nx-amz-trailer-signature:{t}\r\n\r\n"
        );
        let fresh = || {
            Some(ChunkSigner::new(
                key,
                "20261207T000000Z",
                "20261207/us-east-1/s3/aws4_request",
                "00",
            ))
        };
        assert_eq!(decode_all(body.as_bytes(), fresh(), 5).unwrap().0, b"hi");
        let forged = body.replace("abc=", "abd=");
        assert_eq!(
            decode_all(forged.as_bytes(), fresh(), 5).unwrap_err(),
            ChunkError::Signature
        );
    }
}
