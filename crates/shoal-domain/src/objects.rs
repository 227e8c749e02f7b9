//! Object storage (the S3 subset on the API port): bucket names and object keys validated once,
//! the errors S3 names precisely, ETags and byte ranges, as pure functions. Rules follow
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html,
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html and
//! https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html.

use crate::error::{ErrorKind, Result, ServiceError};
use std::fmt;

/// The storage failures S3 reports with their own codes (each API maps them; S3 one to one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageError {
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidBucketName,
    KeyTooLong,
    InvalidPart,
    InvalidPartOrder,
    EntityTooSmall,
    EntityTooLarge,
    MalformedXml,
    InvalidArgument,
    InvalidRange,
    PreconditionFailed,
    NotModified,
    BadDigest,
    InvalidDigest,
    IncompleteBody,
    MissingContentLength,
    Sha256Mismatch,
    RequestTimeout,
    MetadataTooLarge,
}

impl StorageError {
    pub fn error(self, message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::Storage(self), message)
    }
}

/// Largest object one PutObject or one part may carry (5 GiB).
pub const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest part of a multipart upload but the last (5 MiB).
pub const MIN_PART: u64 = 5 * 1024 * 1024;
/// Part numbers run 1..=10000.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Keys are at most 1024 bytes of UTF-8.
pub const MAX_KEY: usize = 1024;
/// User metadata (`x-amz-meta-*` names and values) is at most 2 KiB in all.
pub const MAX_METADATA: usize = 2048;

/// A bucket name under S3's general-purpose naming rules.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketName(String);

impl BucketName {
    pub fn parse(s: &str) -> Result<BucketName> {
        let bad = |why: &str| {
            StorageError::InvalidBucketName
                .error(format!("The specified bucket is not valid: {why}"))
        };
        if !(3..=63).contains(&s.len()) {
            return Err(bad("a name is 3 to 63 characters long"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(bad("only lowercase letters, digits, dots and hyphens"));
        }
        let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !edge(s.as_bytes()[0]) || !edge(s.as_bytes()[s.len() - 1]) {
            return Err(bad("a name begins and ends with a letter or digit"));
        }
        if s.contains("..") {
            return Err(bad("no two adjacent periods"));
        }
        if s.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err(bad("a name is not formatted as an IP address"));
        }
        const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
        const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
        if PREFIXES.iter().any(|p| s.starts_with(p)) || SUFFIXES.iter().any(|x| s.ends_with(x)) {
            return Err(bad("the name uses a reserved prefix or suffix"));
        }
        Ok(BucketName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object key: 1 to 1024 bytes of UTF-8, never normalised (`a//b` and `a/./b` are keys of
/// their own).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn parse(s: &str) -> Result<ObjectKey> {
        if s.is_empty() {
            return Err(StorageError::InvalidArgument.error("An object key must not be empty"));
        }
        if s.len() > MAX_KEY {
            return Err(StorageError::KeyTooLong.error("Your key is too long"));
        }
        Ok(ObjectKey(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ETag of a multipart object: the MD5 of the parts' binary MD5s, then `-<count>`
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
pub fn multipart_etag(md5_of_md5s_hex: &str, parts: usize) -> String {
    format!("{md5_of_md5s_hex}-{parts}")
}

/// An ETag as a client sent it (`"abc"`, `W/"abc"`, `abc`), bare.
pub fn bare_etag(s: &str) -> &str {
    let s = s.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    s.trim_matches('"')
}

/// A satisfiable byte range, inclusive, of an object of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// What a `Range` header asks of an object of `size` bytes (RFC 9110 §14, as S3 applies it):
/// `Ok(None)` for the whole object (no header, or one S3 ignores: unparsable or several
/// ranges), `Ok(Some)` for a satisfiable range (an end beyond the object is clamped), and
/// InvalidRange when it starts at or after the end.
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<ByteRange>> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable =
        || StorageError::InvalidRange.error("The requested range is not satisfiable");
    if a.is_empty() {
        // Suffix: the last n bytes.
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        return Ok(Some(ByteRange {
            first: size.saturating_sub(n),
            last: size - 1,
        }));
    }
    let Ok(first) = a.parse::<u64>() else {
        return Ok(None);
    };
    let last = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(l) if l >= first => l,
            _ => return Ok(None),
        }
    };
    if first >= size {
        return Err(unsatisfiable());
    }
    Ok(Some(ByteRange {
        first,
        last: last.min(size - 1),
    }))
}

/// The bucket and key an S3 object URL names, in the forms AWS IoT takes in a job's
/// `documentSource` and in `${aws:iot:s3-presigned-url:...}` placeholders
/// (https://docs.aws.amazon.com/iot/latest/developerguide/create-manage-jobs.html):
/// `https://s3.amazonaws.com/B/K`, `https://s3.REGION.amazonaws.com/B/K`,
/// `https://B.s3.amazonaws.com/K`, `https://B.s3.REGION.amazonaws.com/K`, `s3://B/K`, and
/// path-style on any other host (Shoal's own API endpoint).
pub fn parse_object_url(url: &str) -> Result<(BucketName, ObjectKey)> {
    let bad = || {
        ServiceError::invalid(format!(
            "{url} is not an S3 object URL (https://s3.amazonaws.com/BUCKET/KEY, https://BUCKET.s3.amazonaws.com/KEY or s3://BUCKET/KEY)"
        ))
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = rest.split_once('/').ok_or_else(bad)?;
    let (bucket, key) = match scheme {
        "s3" => (host, path),
        "http" | "https" => {
            let host = host.split(':').next().unwrap_or_default();
            match host.split_once(".s3.").or_else(|| host.split_once(".s3-")) {
                Some((b, aws)) if aws.ends_with("amazonaws.com") => (b, path),
                _ => path.split_once('/').unwrap_or((path, "")),
            }
        }
        _ => return Err(bad()),
    };
    let key = percent_decode(key).ok_or_else(bad)?;
    Ok((BucketName::parse(bucket)?, ObjectKey::parse(&key)?))
}

/// `%XX` sequences of a URL path decoded (as UTF-8).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The `${aws:iot:s3-presigned-url:URL}` placeholders of a job document: (start, end, URL) of
/// each, in order.
pub fn presigned_placeholders(doc: &str) -> Vec<(usize, usize, &str)> {
    const OPEN: &str = "${aws:iot:s3-presigned-url:";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = doc[from..].find(OPEN) {
        let start = from + i;
        let inner = start + OPEN.len();
        let Some(len) = doc[inner..].find('}') else {
            break;
        };
        out.push((start, inner + len + 1, &doc[inner..inner + len]));
        from = inner + len + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket.v2", "a1b", &"a".repeat(63)] {
            assert!(BucketName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a b",
        ] {
            let e = BucketName::parse(bad).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::Storage(StorageError::InvalidBucketName),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_are_bounded_not_normalised() {
        assert_eq!(ObjectKey::parse("a//./b/").unwrap().as_str(), "a//./b/");
        assert!(ObjectKey::parse(&"k".repeat(1024)).is_ok());
        let e = ObjectKey::parse(&"k".repeat(1025)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Storage(StorageError::KeyTooLong));
        assert!(ObjectKey::parse("").is_err());
    }

    #[test]
    fn ranges_as_s3_reads_them() {
        let r = |h: &str, size| parse_range(Some(h), size);
        let br = |first, last| Some(ByteRange { first, last });
        assert_eq!(r("bytes=0-9", 100).unwrap(), br(0, 9));
        assert_eq!(r("bytes=90-200", 100).unwrap(), br(90, 99));
        assert_eq!(r("bytes=10-", 100).unwrap(), br(10, 99));
        assert_eq!(r("bytes=-10", 100).unwrap(), br(90, 99));
        assert_eq!(r("bytes=-500", 100).unwrap(), br(0, 99));
        // Ignored: several ranges, nonsense, reversed.
        assert_eq!(r("bytes=0-1,5-6", 100).unwrap(), None);
        assert_eq!(r("bytes=x-y", 100).unwrap(), None);
        assert_eq!(r("bytes=9-3", 100).unwrap(), None);
        assert_eq!(r("items=0-1", 100).unwrap(), None);
        assert_eq!(parse_range(None, 100).unwrap(), None);
        // Unsatisfiable.
        for (h, size) in [("bytes=100-", 100), ("bytes=0-0", 0), ("bytes=-0", 10)] {
            let e = r(h, size).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::Storage(StorageError::InvalidRange),
                "{h}"
            );
        }
    }

    #[test]
    fn object_urls_in_every_form() {
        for url in [
            "https://s3.amazonaws.com/fw-bucket/dir/v2.bin",
            "https://s3.eu-west-1.amazonaws.com/fw-bucket/dir/v2.bin",
            "https://fw-bucket.s3.amazonaws.com/dir/v2.bin",
            "https://fw-bucket.s3.eu-west-1.amazonaws.com/dir/v2.bin",
            "s3://fw-bucket/dir/v2.bin",
            "http://127.0.0.1:9080/fw-bucket/dir/v2.bin",
            "http://shoal.local/fw-bucket/dir%2Fv2.bin?x=1",
        ] {
            let (b, k) = parse_object_url(url).unwrap();
            assert_eq!(
                (b.as_str(), k.as_str()),
                ("fw-bucket", "dir/v2.bin"),
                "{url}"
            );
        }
        for bad in [
            "fw/x",
            "ftp://h/b/k",
            "https://s3.amazonaws.com/fw-bucket",
            "s3://fw-bucket/",
        ] {
            assert!(parse_object_url(bad).is_err(), "{bad}");
        }
        let doc = r#"{"url":"${aws:iot:s3-presigned-url:s3://b1b/k}","n":"${other}","u2":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b2b/k2}"}"#;
        let found: Vec<&str> = presigned_placeholders(doc).iter().map(|p| p.2).collect();
        assert_eq!(found, ["s3://b1b/k", "https://s3.amazonaws.com/b2b/k2"]);
    }

    #[test]
    fn etags_compare_bare() {
        assert_eq!(bare_etag("\"abc\""), "abc");
        assert_eq!(bare_etag("W/\"abc\""), "abc");
        assert_eq!(bare_etag("abc"), "abc");
        assert_eq!(multipart_etag("ff", 3), "ff-3");
    }
}
