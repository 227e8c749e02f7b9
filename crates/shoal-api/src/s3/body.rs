//! Receiving an object's bytes (PutObject, UploadPart) as they arrive: the payload modes of
//! `x-amz-content-sha256` (a hex hash, UNSIGNED-PAYLOAD, the aws-chunked STREAMING-* forms with
//! signed chunks and trailers), `Content-MD5` and the `x-amz-checksum-*` header or trailer,
//! each checked before the object exists. Nothing is held in memory beyond one frame and the
//! blob writer's buffer; the client must make progress or the upload ends
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html,
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).

use super::header;
use crate::api::Streamed;
use crate::error::ApiError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use sha2::Sha256;
use shoal_domain::objects::{StorageError, MAX_METADATA};
use shoal_services::objects::BlobWriter;
use shoal_sigv4::{AwsChunked, ChunkError};
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest a client may send nothing in the middle of a body.
const IDLE: Duration = Duration::from_secs(30);

/// What arrived, verified.
pub struct Received {
    pub blob: String,
    pub size: u64,
    pub md5_hex: String,
    /// The checksum the client sent and that matched: (algorithm lowercase, base64).
    pub checksum: Option<(String, String)>,
}

enum Payload {
    Hashed(String),
    Unsigned,
    Chunked { signed: bool },
}

/// The checksum algorithms verified (what botocore, the AWS CLI and aws-sdk-rust send by
/// default, and SHA-256).
enum Checksum {
    Crc32(crc32fast::Hasher),
    Sha256(Sha256),
}

impl Checksum {
    fn of(alg: &str) -> Result<Checksum, ApiError> {
        match alg {
            "crc32" => Ok(Checksum::Crc32(crc32fast::Hasher::new())),
            "sha256" => Ok(Checksum::Sha256(Sha256::new())),
            other => Err(ApiError::UnknownOperation(format!(
                "The checksum algorithm {} is not yet supported by Shoal (CRC32 and SHA256 are)",
                other.to_ascii_uppercase()
            ))),
        }
    }
    fn update(&mut self, data: &[u8]) {
        match self {
            Checksum::Crc32(h) => h.update(data),
            Checksum::Sha256(h) => h.update(data),
        }
    }
    fn finish(self) -> String {
        match self {
            Checksum::Crc32(h) => B64.encode(h.finalize().to_be_bytes()),
            Checksum::Sha256(h) => B64.encode(h.finalize()),
        }
    }
}

fn storage(e: StorageError, message: impl Into<String>) -> ApiError {
    ApiError::Service(e.error(message))
}

fn payload_mode(h: &HeaderMap, presigned: bool) -> Result<Payload, ApiError> {
    let Some(v) = header(h, "x-amz-content-sha256") else {
        return if presigned {
            Ok(Payload::Unsigned)
        } else {
            Err(ApiError::invalid(
                "Missing required header for this request: x-amz-content-sha256",
            ))
        };
    };
    match v.trim() {
        "UNSIGNED-PAYLOAD" => Ok(Payload::Unsigned),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
            Ok(Payload::Chunked { signed: true })
        }
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Ok(Payload::Chunked { signed: false }),
        v if v.starts_with("STREAMING-AWS4-ECDSA") => Err(ApiError::UnknownOperation(
            "Signature Version 4A is not yet supported by Shoal".into(),
        )),
        v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Payload::Hashed(v.to_ascii_lowercase()))
        }
        _ => Err(storage(
            StorageError::InvalidArgument,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
        )),
    }
}

/// The `x-amz-checksum-*` the request names: in a header (with its value) or as a trailer.
fn checksum_asked(h: &HeaderMap) -> Result<Option<(String, Option<String>)>, ApiError> {
    if let Some(t) = header(h, "x-amz-trailer") {
        let t = t.trim().to_ascii_lowercase();
        let alg = t.strip_prefix("x-amz-checksum-").ok_or_else(|| {
            ApiError::invalid(format!("The trailer {t} is not a checksum Shoal knows"))
        })?;
        return Ok(Some((alg.to_string(), None)));
    }
    for (name, value) in h {
        if let Some(alg) = name.as_str().strip_prefix("x-amz-checksum-") {
            if alg == "algorithm" || alg == "mode" || alg == "type" {
                continue;
            }
            let v = value
                .to_str()
                .map_err(|_| ApiError::invalid("Invalid checksum value"))?;
            return Ok(Some((alg.to_string(), Some(v.trim().to_string()))));
        }
    }
    Ok(None)
}

/// Reads the body of `stream` into `writer`; on any failure the blob is abandoned.
pub async fn receive(
    h: &HeaderMap,
    stream: Streamed,
    mut writer: BlobWriter,
    limit: u64,
) -> Result<Received, ApiError> {
    match read_into(h, stream, &mut writer, limit).await {
        Ok((size, md5_hex, checksum)) => Ok(Received {
            blob: writer.finish().await?,
            size,
            md5_hex,
            checksum,
        }),
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

async fn read_into(
    h: &HeaderMap,
    stream: Streamed,
    writer: &mut BlobWriter,
    limit: u64,
) -> Result<(u64, String, Option<(String, String)>), ApiError> {
    let Streamed { mut body, signer } = stream;
    let mode = payload_mode(h, signer.is_none())?;
    let number = |name: &str| header(h, name).map(|v| v.trim().parse::<u64>());
    let declared = match mode {
        Payload::Chunked { .. } => match number("x-amz-decoded-content-length") {
            Some(Ok(n)) => n,
            _ => {
                return Err(storage(
                    StorageError::MissingContentLength,
                    "You must provide the Content-Length HTTP header.",
                ))
            }
        },
        _ => match number("content-length") {
            Some(Ok(n)) => n,
            Some(Err(_)) => return Err(ApiError::invalid("Content-Length is not a number")),
            None if h.contains_key(http::header::TRANSFER_ENCODING) => {
                return Err(storage(
                    StorageError::MissingContentLength,
                    "You must provide the Content-Length HTTP header.",
                ))
            }
            None => 0,
        },
    };
    if declared > limit {
        return Err(storage(
            StorageError::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        ));
    }
    let content_md5 = match header(h, "content-md5") {
        Some(v) => match B64.decode(v.trim()) {
            Ok(d) if d.len() == 16 => Some(d),
            _ => {
                return Err(storage(
                    StorageError::InvalidDigest,
                    "The Content-MD5 you specified was invalid.",
                ))
            }
        },
        None => None,
    };
    let asked = checksum_asked(h)?;
    let checksum = asked.as_ref().map(|(a, _)| Checksum::of(a)).transpose()?;
    // Without aws-chunked framing the object bytes are the wire bytes a hex hash covers.
    let sha = matches!(mode, Payload::Hashed(_)).then(Sha256::new);
    let mut digests = Digests::start(checksum, sha);
    let mut chunked = match mode {
        Payload::Chunked { signed } => {
            if signed && signer.is_none() {
                return Err(ApiError::invalid(
                    "A streaming signed payload needs a signed Authorization header",
                ));
            }
            Some(AwsChunked::new(if signed { signer } else { None }))
        }
        _ => None,
    };
    let mut size = 0u64;
    let mut pending = Vec::new();
    loop {
        let frame = match tokio::time::timeout(IDLE, body.frame()).await {
            Err(_) => {
                return Err(storage(
                    StorageError::RequestTimeout,
                    "Your socket connection to the server was not read from or written to within the timeout period.",
                ))
            }
            Ok(None) => break,
            Ok(Some(Err(_))) => {
                return Err(storage(
                    StorageError::IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
                ))
            }
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let object: Bytes = match chunked.as_mut() {
            None => data,
            Some(dec) => {
                pending.extend_from_slice(&data);
                let mut out = Vec::new();
                dec.feed(&mut pending, &mut out).map_err(chunk_error)?;
                Bytes::from(out)
            }
        };
        if object.is_empty() {
            continue;
        }
        size += object.len() as u64;
        if size > declared {
            return Err(storage(
                StorageError::IncompleteBody,
                "The request body is longer than its declared length",
            ));
        }
        digests.update(object.clone()).await;
        writer.write(object).await?;
    }
    if size != declared || chunked.as_ref().is_some_and(|d| !d.is_done()) {
        return Err(storage(
            StorageError::IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ));
    }
    let (md5, checksum, sha) = digests.finish().await?;
    if let (Payload::Hashed(expected), Some(s)) = (&mode, sha) {
        if hex::encode(s.finalize()) != *expected {
            return Err(storage(
                StorageError::Sha256Mismatch,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
    }
    if content_md5.is_some_and(|d| d[..] != md5[..]) {
        return Err(storage(
            StorageError::BadDigest,
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    let verified = match (asked, checksum) {
        (Some((alg, sent)), Some(c)) => {
            let sent = match sent {
                Some(v) => v,
                None => chunked
                    .as_ref()
                    .and_then(|d| {
                        d.trailers()
                            .iter()
                            .find(|(n, _)| *n == format!("x-amz-checksum-{alg}"))
                            .map(|(_, v)| v.clone())
                    })
                    .ok_or_else(|| {
                        storage(
                            StorageError::IncompleteBody,
                            "The checksum trailer is missing",
                        )
                    })?,
            };
            if c.finish() != sent {
                return Err(storage(
                    StorageError::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        alg.to_ascii_uppercase()
                    ),
                ));
            }
            Some((alg, sent))
        }
        _ => None,
    };
    Ok((size, hex::encode(md5), verified))
}

/// The digests of a body (MD5 for the ETag, the checksum, the payload hash), computed on a
/// blocking thread while the body goes on arriving and being written: MD5 alone is slower than
/// the disk, and in line it would halve an upload's speed.
struct Digests {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    done: tokio::task::JoinHandle<DigestsDone>,
}

type DigestsDone = (md5::digest::Output<Md5>, Option<Checksum>, Option<Sha256>);

impl Digests {
    fn start(mut checksum: Option<Checksum>, mut sha: Option<Sha256>) -> Digests {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        let done = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new();
            while let Some(b) = rx.blocking_recv() {
                md5.update(&b);
                if let Some(c) = checksum.as_mut() {
                    c.update(&b);
                }
                if let Some(s) = sha.as_mut() {
                    s.update(&b);
                }
            }
            (md5.finalize(), checksum, sha)
        });
        Digests { tx, done }
    }

    async fn update(&mut self, b: Bytes) {
        // The thread only ends when the sender goes, so a send cannot fail.
        let _ = self.tx.send(b).await;
    }

    async fn finish(self) -> Result<DigestsDone, ApiError> {
        drop(self.tx);
        self.done.await.map_err(|_| {
            ApiError::Service(shoal_domain::ServiceError::internal("digest task failed"))
        })
    }
}

/// A small body read whole (DeleteObjects): its `Content-MD5` and `x-amz-checksum-*`, if sent,
/// must match.
pub fn check_whole(h: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    if let Some(v) = header(h, "content-md5") {
        let sent = B64.decode(v.trim()).map_err(|_| {
            storage(
                StorageError::InvalidDigest,
                "The Content-MD5 you specified was invalid.",
            )
        })?;
        if sent[..] != Md5::digest(body)[..] {
            return Err(storage(
                StorageError::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    if let Some((alg, Some(sent))) = checksum_asked(h)? {
        let mut c = Checksum::of(&alg)?;
        c.update(body);
        if c.finish() != sent {
            return Err(storage(
                StorageError::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    alg.to_ascii_uppercase()
                ),
            ));
        }
    }
    Ok(())
}

fn chunk_error(e: ChunkError) -> ApiError {
    match e {
        ChunkError::Signature => ApiError::Auth(shoal_sigv4::AuthError::SignatureMismatch),
        ChunkError::Malformed(m) => storage(StorageError::IncompleteBody, m),
    }
}

/// Header or metadata names (lowercase) and their values.
type Names = BTreeMap<String, String>;

/// The headers stored with an object and sent back on GET, and its `x-amz-meta-*` metadata.
pub fn object_headers(h: &HeaderMap) -> Result<(Names, Names), ApiError> {
    const KEPT: [&str; 6] = [
        "content-type",
        "content-encoding",
        "cache-control",
        "content-disposition",
        "content-language",
        "expires",
    ];
    let mut headers = BTreeMap::new();
    for name in KEPT {
        let Some(v) = header(h, name) else { continue };
        let v = if name == "content-encoding" {
            // aws-chunked describes the request, not the object.
            let rest: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
                .collect();
            if rest.is_empty() {
                continue;
            }
            rest.join(",")
        } else {
            v.to_string()
        };
        headers.insert(name.to_string(), v);
    }
    let mut metadata = BTreeMap::new();
    let mut total = 0;
    for (name, value) in h {
        if let Some(m) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = value.to_str().unwrap_or_default().to_string();
            total += m.len() + v.len();
            metadata.insert(m.to_string(), v);
        }
    }
    if total > MAX_METADATA {
        return Err(storage(
            StorageError::MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    Ok((headers, metadata))
}
