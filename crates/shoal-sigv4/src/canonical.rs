//! Canonical request and string to sign, steps 1–2 of
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>.
//!
//! Everything is written through a [`Sink`], so the verifier can hash the
//! canonical request as it is produced while tests and error messages can
//! still see it as text.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use crate::encode::{canonical_query_component, encode_into, Sink};
use crate::parse::ParsedAuth;
use crate::{RequestParts, ALGORITHM, UNSIGNED_PAYLOAD};

/// Which query parameters the canonical query leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryFilter {
    /// Header-form requests: every parameter is covered.
    KeepAll,
    /// Presigned requests: the signature cannot sign itself.
    DropSignature,
    /// Presigned requests from signers that append the session token after
    /// signing, as AWS IoT's WebSocket presigning does
    /// (<https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html>).
    DropSignatureAndToken,
}

impl QueryFilter {
    fn drops(self, raw_name: &str) -> bool {
        match self {
            QueryFilter::KeepAll => false,
            QueryFilter::DropSignature => raw_name == "X-Amz-Signature",
            QueryFilter::DropSignatureAndToken => {
                raw_name == "X-Amz-Signature" || raw_name == "X-Amz-Security-Token"
            }
        }
    }
}

/// Everything that goes into one canonical request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Canonical<'r> {
    pub method: &'r str,
    pub path: &'r str,
    pub query: &'r str,
    pub filter: QueryFilter,
    pub headers: &'r [(&'r str, &'r str)],
    pub signed_headers: &'r [&'r str],
    pub payload_hash: &'r str,
    /// S3's canonical URI: the path as sent, neither normalised nor encoded again.
    pub raw_uri: bool,
}

/// The credential scope parts of the string to sign.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'r> {
    pub amz_date: &'r str,
    pub date: &'r str,
    pub region: &'r str,
    pub service: &'r str,
}

impl Canonical<'_> {
    /// Write the canonical request:
    /// method, URI, query, headers, blank line, signed header list, payload hash.
    pub(crate) fn write<S: Sink>(&self, out: &mut S) {
        out.put(self.method.as_bytes());
        out.put(b"\n");
        if self.raw_uri {
            out.put(if self.path.is_empty() {
                b"/"
            } else {
                self.path.as_bytes()
            });
        } else {
            write_uri(self.path, out);
        }
        out.put(b"\n");
        write_query(self.query, self.filter, out);
        out.put(b"\n");
        for name in self.signed_headers {
            put_lowercase(name, out);
            out.put(b":");
            let mut values = self
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name));
            if let Some((_, first)) = values.next() {
                write_header_value(first, out);
                for (_, value) in values {
                    out.put(b",");
                    write_header_value(value, out);
                }
            }
            out.put(b"\n");
        }
        out.put(b"\n");
        for (i, name) in self.signed_headers.iter().enumerate() {
            if i > 0 {
                out.put(b";");
            }
            put_lowercase(name, out);
        }
        out.put(b"\n");
        out.put(self.payload_hash.as_bytes());
    }

    /// Lowercase hex SHA-256 of the canonical request, without materialising it.
    pub(crate) fn hash_hex(&self) -> [u8; 64] {
        let mut hasher = Sha256::new();
        self.write(&mut hasher);
        let mut hex_out = [0u8; 64];
        // 32 digest bytes always fit 64 hex digits, so this cannot fail.
        let _ = hex::encode_to_slice(hasher.finalize(), &mut hex_out);
        hex_out
    }

    pub(crate) fn to_text(self) -> String {
        let mut buf = Vec::with_capacity(256);
        self.write(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl Scope<'_> {
    /// Write the string to sign: algorithm, request time, credential scope,
    /// and the hex hash of the canonical request.
    pub(crate) fn write_string_to_sign<S: Sink>(&self, canonical_hash_hex: &[u8], out: &mut S) {
        out.put(ALGORITHM.as_bytes());
        out.put(b"\n");
        out.put(self.amz_date.as_bytes());
        out.put(b"\n");
        self.write_scope(out);
        out.put(b"\n");
        out.put(canonical_hash_hex);
    }

    /// `yyyymmdd/region/service/aws4_request`.
    pub(crate) fn write_scope<S: Sink>(&self, out: &mut S) {
        out.put(self.date.as_bytes());
        out.put(b"/");
        out.put(self.region.as_bytes());
        out.put(b"/");
        out.put(self.service.as_bytes());
        out.put(b"/aws4_request");
    }
}

fn put_lowercase<S: Sink>(s: &str, out: &mut S) {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        for b in s.bytes() {
            out.put(&[b.to_ascii_lowercase()]);
        }
    } else {
        out.put(s.as_bytes());
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// AWS's "Trimall": drop leading and trailing whitespace and turn each run of
/// inner whitespace into one space. Tabs and line breaks count as whitespace
/// so that no byte sequence can smuggle an unexpected line into the canonical
/// request.
fn write_header_value<S: Sink>(value: &str, out: &mut S) {
    let mut rest = value.as_bytes();
    while let [first, tail @ ..] = rest {
        if !is_space(*first) {
            break;
        }
        rest = tail;
    }
    while let [head @ .., last] = rest {
        if !is_space(*last) {
            break;
        }
        rest = head;
    }
    let mut words = rest.split(|b| is_space(*b)).filter(|w| !w.is_empty());
    if let Some(first) = words.next() {
        out.put(first);
        for word in words {
            out.put(b" ");
            out.put(word);
        }
    }
}

/// Whether `path` is already in normal form: absolute, with no empty, `.` or
/// `..` segments except an empty last one (the trailing slash).
fn is_normalized(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let mut segments = rest.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if (seg.is_empty() && !last) || seg == "." || seg == ".." {
            return false;
        }
    }
    true
}

/// Canonical URI for every service except S3: the path is normalised
/// (RFC 3986 dot-segment removal, repeated slashes collapsed, empty path is
/// `/`) and then each segment of the *raw, already-encoded* path is
/// URI-encoded again. That double encoding is what the SDKs do, e.g. botocore
/// signs `/topics/a%2Fb%20c` as `/topics/a%252Fb%2520c`.
fn write_uri<S: Sink>(path: &str, out: &mut S) {
    if is_normalized(path) {
        for seg in path.split('/').skip(1) {
            out.put(b"/");
            encode_into(seg.as_bytes(), out);
        }
        return;
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        out.put(b"/");
        return;
    }
    for seg in &segments {
        out.put(b"/");
        encode_into(seg.as_bytes(), out);
    }
    if path.ends_with('/') {
        out.put(b"/");
    }
}

/// Canonical query: every `name=value` pair decoded and re-encoded, sorted by
/// encoded name and then value, joined with `&`; a name without `=` gets an
/// empty value.
fn write_query<S: Sink>(query: &str, filter: QueryFilter, out: &mut S) {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (!filter.drops(name)).then(|| {
                (
                    canonical_query_component(name),
                    canonical_query_component(value),
                )
            })
        })
        .collect();
    pairs.sort_unstable();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.put(b"&");
        }
        out.put(name.as_bytes());
        out.put(b"=");
        out.put(value.as_bytes());
    }
}

/// The payload hash a header-form request signs: the `x-amz-content-sha256`
/// header when the client sent one (it may be `UNSIGNED-PAYLOAD`), otherwise
/// the hash of the body.
pub(crate) fn header_form_payload_hash<'r>(
    headers: &[(&'r str, &'r str)],
    body_hash: &'r str,
) -> &'r str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-content-sha256"))
        .map_or(body_hash, |(_, v)| v.trim())
}

fn canonical_for<'r>(req: &RequestParts<'r>, auth: &'r ParsedAuth<'_>) -> Canonical<'r> {
    let (filter, payload_hash) = match auth.presigned {
        Some(_) => (QueryFilter::DropSignature, UNSIGNED_PAYLOAD),
        None => (
            QueryFilter::KeepAll,
            header_form_payload_hash(req.headers, req.payload_sha256_hex),
        ),
    };
    Canonical {
        method: req.method,
        path: req.path,
        query: req.query,
        filter,
        headers: req.headers,
        signed_headers: &auth.signed_headers,
        payload_hash,
        raw_uri: is_s3(auth.service),
    }
}

/// S3 signs its path as sent: it is not normalised and not encoded a second time
/// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
pub(crate) fn is_s3(service: &str) -> bool {
    service == "s3"
}

/// The canonical request the server expects for `req` as described by `auth`,
/// as text. For diagnostics and tests; [`crate::verify`] hashes the same bytes
/// without building this string. A presigned request is shown in its
/// `UNSIGNED-PAYLOAD` variant.
pub fn canonical_request(req: &RequestParts<'_>, auth: &ParsedAuth<'_>) -> String {
    canonical_for(req, auth).to_text()
}

/// The string to sign for `req` as described by `auth` (see [`canonical_request`]).
pub fn string_to_sign(req: &RequestParts<'_>, auth: &ParsedAuth<'_>) -> String {
    let hash = canonical_for(req, auth).hash_hex();
    let mut buf = Vec::with_capacity(128);
    Scope {
        amz_date: auth.amz_date,
        date: auth.date,
        region: auth.region,
        service: auth.service,
    }
    .write_string_to_sign(&hash, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str) -> String {
        let mut buf = Vec::new();
        write_uri(path, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    fn query(q: &str, filter: QueryFilter) -> String {
        let mut buf = Vec::new();
        write_query(q, filter, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    fn header(v: &str) -> String {
        let mut buf = Vec::new();
        write_header_value(v, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    #[test]
    fn botocore_double_encoding_example() {
        assert_eq!(uri("/topics/a%2Fb%20c"), "/topics/a%252Fb%2520c");
    }

    #[test]
    fn uri_normalisation() {
        for (raw, want) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/example1/example2/../..", "/"),
            ("/a/b/..", "/a"),
            ("/a/b/../", "/a/"),
            ("/../../a", "/a"),
            ("/a/./b/.", "/a/b"),
            ("a/b", "/a/b"),
            ("/example space/", "/example%20space/"),
            ("/ሴ", "/%E1%88%B4"),
            ("/things/my-thing_1.~x", "/things/my-thing_1.~x"),
            ("/a:b@c", "/a%3Ab%40c"),
        ] {
            assert_eq!(uri(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn query_canonicalisation() {
        use QueryFilter::*;
        assert_eq!(query("", KeepAll), "");
        assert_eq!(query("b=2&a=1&A=0", KeepAll), "A=0&a=1&b=2");
        assert_eq!(query("a=2&a=1&a", KeepAll), "a=&a=1&a=2");
        assert_eq!(query("&&x=1&", KeepAll), "x=1");
        assert_eq!(query("k=a%20b&k2=a+b", KeepAll), "k=a%20b&k2=a%2Bb");
        assert_eq!(query("k=a=b", KeepAll), "k=a%3Db");
        assert_eq!(
            query(
                "X-Amz-Signature=ab&X-Amz-Security-Token=t&z=1",
                DropSignature
            ),
            "X-Amz-Security-Token=t&z=1"
        );
        assert_eq!(
            query(
                "X-Amz-Signature=ab&X-Amz-Security-Token=t&z=1",
                DropSignatureAndToken
            ),
            "z=1"
        );
    }

    #[test]
    fn header_value_trimming() {
        assert_eq!(header("  value1  "), "value1");
        assert_eq!(header(" \"a   b   c\" "), "\"a b c\"");
        assert_eq!(header("a\t\tb"), "a b");
        assert_eq!(
            header("value1\n  value2\n     value3"),
            "value1 value2 value3"
        );
        assert_eq!(header("   "), "");
        assert_eq!(header(""), "");
    }
}

#[cfg(test)]
mod s3_tests {
    use crate::{authorization_header, parse, verify, RequestParts};

    /// botocore signs key `a b/c~d+e.txt` as `/mybucket/a%20b/c~d%2Be.txt`, once encoded, and
    /// S3 takes that path as it is.
    #[test]
    fn s3_signs_its_path_as_sent() {
        let path = "/mybucket/a%20b/c~d%2Be.txt";
        let date = "20261207T010000Z";
        let hash = "UNSIGNED-PAYLOAD";
        let base = [
            ("host", "127.0.0.1:9080"),
            ("x-amz-date", date),
            ("x-amz-content-sha256", hash),
        ];
        let auth = authorization_header(
            "PUT",
            path,
            "",
            &base,
            hash,
            "AKID",
            "secret",
            date,
            "us-east-1",
            "s3",
        );
        let mut headers = base.to_vec();
        headers.push(("authorization", auth.as_str()));
        let req = RequestParts {
            method: "PUT",
            path,
            query: "",
            headers: &headers,
            payload_sha256_hex: "",
        };
        let parsed = parse(&req).unwrap();
        assert!(super::canonical_request(&req, &parsed).contains("\n/mybucket/a%20b/c~d%2Be.txt\n"));
        let key = crate::signing_key("secret", "20261207", "us-east-1", "s3");
        let now = crate::parse_amz_date(date).unwrap();
        verify(&req, &parsed, &key, now).unwrap();
        // Another service signs the same path encoded again: it does not verify as S3.
        let iot = authorization_header(
            "PUT",
            path,
            "",
            &base,
            hash,
            "AKID",
            "secret",
            date,
            "us-east-1",
            "iot",
        );
        let other = iot.replace("/iot/", "/s3/");
        let mut headers = base.to_vec();
        headers.push(("authorization", other.as_str()));
        let req = RequestParts {
            headers: &headers,
            ..req
        };
        let parsed = parse(&req).unwrap();
        assert!(verify(&req, &parsed, &key, now).is_err());
    }
}
