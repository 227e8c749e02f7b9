//! URI encoding as SigV4 defines it: every byte outside the RFC 3986 unreserved
//! set (`A-Za-z0-9-._~`) becomes `%XX` with uppercase hex, and a space is `%20`,
//! never `+` (see "UriEncode" in
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>).

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Bytes that must be percent-encoded: everything except the unreserved set.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where canonical-request bytes go. Streaming into a hasher instead of building
/// a `String` keeps the per-request verify path free of large allocations.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for sha2::Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        sha2::Digest::update(self, bytes);
    }
}

/// Write `bytes` URI-encoded.
pub(crate) fn encode_into<S: Sink>(bytes: &[u8], out: &mut S) {
    for chunk in percent_encode(bytes, NOT_UNRESERVED) {
        out.put(chunk.as_bytes());
    }
}

/// URI-encode a plain string (used by the signer for values it adds itself).
pub(crate) fn encode(s: &str) -> Cow<'_, str> {
    percent_encode(s.as_bytes(), NOT_UNRESERVED).into()
}

/// Canonical form of one raw query name or value: percent-decode whatever the
/// client sent, then encode it again, so `%7e`, `~` and `%7E` all sign alike.
/// Borrows when the input is already canonical (the common case), so typical
/// queries cost no allocation.
pub(crate) fn canonical_query_component(raw: &str) -> Cow<'_, str> {
    match percent_decode_str(raw).into() {
        Cow::Borrowed(_) => encode(raw),
        Cow::Owned(decoded) => Cow::Owned(percent_encode(&decoded, NOT_UNRESERVED).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_stay_literal() {
        let s = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        assert!(matches!(encode(s), Cow::Borrowed(b) if b == s));
    }

    #[test]
    fn reserved_and_utf8_are_escaped_uppercase() {
        assert_eq!(encode("a b+c/d%e=f&ሴ"), "a%20b%2Bc%2Fd%25e%3Df%26%E1%88%B4");
    }

    #[test]
    fn query_components_are_normalised() {
        assert_eq!(canonical_query_component("%7e%7E~"), "~~~");
        assert_eq!(canonical_query_component("a%20b"), "a%20b");
        assert_eq!(canonical_query_component("a+b"), "a%2Bb");
        assert_eq!(canonical_query_component("%e1%88%b4"), "%E1%88%B4");
        assert_eq!(canonical_query_component("ሴ"), "%E1%88%B4");
        // A lone or broken escape is kept as literal text, so it is re-encoded.
        assert_eq!(canonical_query_component("%zz%"), "%25zz%25");
        assert_eq!(canonical_query_component("%ff"), "%FF");
    }
}
