//! AWS Signature Version 4 for Shoal: parsing the `Authorization` header or a
//! presigned query string, rebuilding the canonical request, verifying the
//! signature on the server side, and signing requests for the load tool and
//! tests. The crate owns only the SigV4 algorithm and its error taxonomy; it
//! is pure computation over borrowed request parts and must not depend on
//! tokio, an HTTP stack or a database, so every server and client in the
//! workspace can share it.
//!
//! The algorithm follows
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>
//! and is checked against AWS's published SigV4 test suite.

mod canonical;
mod chunked;
mod encode;
mod error;
mod parse;
mod sign;
mod time;
mod verify;

pub use canonical::{canonical_request, string_to_sign};
pub use chunked::{AwsChunked, ChunkError, ChunkSigner, MAX_CHUNK};
pub use error::AuthError;
pub use parse::{parse, ParsedAuth, DEFAULT_PRESIGNED_EXPIRES};
pub use sign::{authorization_header, presigned_query, Presign};
pub use time::{format_amz_date, format_iso8601, parse_amz_date};
pub use verify::{signing_key, verify, verify_with_secret};

use sha2::{Digest, Sha256};

/// The only algorithm SigV4 defines for HMAC signing; SigV4a (ECDSA) is not supported.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Payload hash clients use when they choose not to sign the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The parts of an HTTP request that SigV4 covers, borrowed from the server's request.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// Raw path exactly as received on the wire, still percent-encoded (e.g. "/topics/a%2Fb%20c").
    pub path: &'a str,
    /// Raw query string without the leading '?', "" when absent.
    pub query: &'a str,
    /// Header (name, value) pairs as received; names in any case; a name may repeat.
    pub headers: &'a [(&'a str, &'a str)],
    /// SHA-256 hex of the body (lowercase). The caller computes it once.
    pub payload_sha256_hex: &'a str,
}

/// Lowercase hex SHA-256 of `data`, the form SigV4 uses for payload hashes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}
