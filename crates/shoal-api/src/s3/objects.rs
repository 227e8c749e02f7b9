//! Object operations: PutObject, GetObject (ranges, conditions, response-* overrides),
//! HeadObject, DeleteObject and ListObjectsV2.

use super::body::{object_headers, receive};
use super::xml::{self, Doc};
use super::{empty, header, xml_reply};
use crate::api::{Body, Call, Reply};
use crate::error::ApiError;
use crate::request::Query;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use shoal_domain::objects::{bare_etag, parse_range, BucketName, ObjectKey, StorageError, MAX_PUT};
use shoal_services::objects::{ObjectInfo, WriteCondition};
use std::time::{Duration, UNIX_EPOCH};

/// The precondition of a write (`If-None-Match: *`, `If-Match`).
pub fn write_condition(h: &HeaderMap) -> Result<WriteCondition, ApiError> {
    if let Some(v) = header(h, "if-none-match") {
        if v.trim() == "*" {
            return Ok(WriteCondition::Absent);
        }
        return Err(ApiError::UnknownOperation(
            "If-None-Match on a write is only supported with '*'".into(),
        ));
    }
    Ok(header(h, "if-match").map_or(WriteCondition::None, |v| {
        WriteCondition::Matches(v.to_string())
    }))
}

pub async fn put(mut call: Call<'_>, bucket: &BucketName, key: &ObjectKey) -> Reply<Body> {
    if header(call.headers, "x-amz-copy-source").is_some() {
        return Err(ApiError::UnknownOperation(
            "CopyObject is not yet supported by Shoal".into(),
        ));
    }
    let (headers, metadata) = object_headers(call.headers)?;
    let cond = write_condition(call.headers)?;
    let objects = &call.state.objects;
    // Refused before a byte is stored.
    objects.bucket(call.part, bucket)?;
    let stream = call
        .stream
        .take()
        .ok_or_else(|| ApiError::invalid("no body"))?;
    let writer = objects.blobs().writer(call.part).await?;
    let got = receive(call.headers, stream, writer, MAX_PUT).await?;
    let info = ObjectInfo {
        blob: got.blob,
        size: got.size,
        etag: got.md5_hex,
        modified: call.state.clock.now(),
        headers,
        metadata,
        checksum: got.checksum,
    };
    let (etag, checksum) = (info.etag.clone(), info.checksum.clone());
    objects.put(call.part, bucket, key, info, &cond).await?;
    let mut r = empty(StatusCode::OK, call.request_id);
    set(r.headers_mut(), "etag", &format!("\"{etag}\""));
    if let Some((alg, v)) = checksum {
        set(r.headers_mut(), &format!("x-amz-checksum-{alg}"), &v);
    }
    Ok(r)
}

fn set(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        h.insert(n, v);
    }
}

fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn parse_date(v: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(v.trim()).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64)
}

/// The conditional headers of a read, in RFC 9110's order as S3 applies them: Ok(true) when
/// the answer is 304 Not Modified.
fn not_modified(h: &HeaderMap, info: &ObjectInfo) -> Result<bool, shoal_domain::ServiceError> {
    let failed = || {
        StorageError::PreconditionFailed
            .error("At least one of the pre-conditions you specified did not hold")
    };
    let modified = info.modified.millis().div_euclid(1000);
    let matches = |list: &str| {
        list.split(',')
            .any(|e| e.trim() == "*" || bare_etag(e) == info.etag)
    };
    if let Some(m) = header(h, "if-match") {
        if !matches(m) {
            return Err(failed());
        }
    } else if let Some(since) = header(h, "if-unmodified-since").and_then(parse_date) {
        if modified > since {
            return Err(failed());
        }
    }
    if let Some(m) = header(h, "if-none-match") {
        return Ok(matches(m));
    }
    if let Some(since) = header(h, "if-modified-since").and_then(parse_date) {
        return Ok(modified <= since);
    }
    Ok(false)
}

/// The headers of an object's GET and HEAD.
fn object_reply_headers(h: &mut HeaderMap, info: &ObjectInfo, q: &Query) {
    set(h, "etag", &format!("\"{}\"", info.etag));
    set(h, "last-modified", &http_date(info.modified.millis()));
    set(h, "accept-ranges", "bytes");
    if !info.headers.contains_key("content-type") {
        set(h, "content-type", "binary/octet-stream");
    }
    for (name, value) in &info.headers {
        set(h, name, value);
    }
    for (name, value) in &info.metadata {
        set(h, &format!("x-amz-meta-{name}"), value);
    }
    // GetObject's response-* parameters replace the stored headers in this answer.
    for name in [
        "content-type",
        "content-language",
        "expires",
        "cache-control",
        "content-disposition",
        "content-encoding",
    ] {
        if let Some(v) = q.get(&format!("response-{name}")) {
            set(h, name, v);
        }
    }
}

pub async fn get(
    call: &Call<'_>,
    bucket: &BucketName,
    key: &ObjectKey,
    q: &Query,
    head_only: bool,
) -> Reply<Body> {
    let objects = &call.state.objects;
    let h = call.headers;
    let range_header = header(h, "range");
    if head_only {
        let info = objects.head(call.part, bucket, key)?;
        let range = parse_range(range_header, info.size)?;
        return answer(call, info, range, q, None);
    }
    let checked = |info: &ObjectInfo| {
        // Conditions first: a 304 or 412 needs no bytes.
        if not_modified(h, info)? {
            return Err(StorageError::NotModified.error("Not Modified"));
        }
        parse_range(range_header, info.size)
    };
    match objects.get(call.part, bucket, key, checked).await {
        Ok((info, range, stream)) => answer(call, info, range, q, Some(stream)),
        Err(e) if e.kind == shoal_domain::ErrorKind::Storage(StorageError::NotModified) => {
            let info = objects.head(call.part, bucket, key)?;
            let mut r = empty(StatusCode::NOT_MODIFIED, call.request_id);
            set(r.headers_mut(), "etag", &format!("\"{}\"", info.etag));
            set(
                r.headers_mut(),
                "last-modified",
                &http_date(info.modified.millis()),
            );
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

fn answer(
    call: &Call<'_>,
    info: ObjectInfo,
    range: Option<shoal_domain::objects::ByteRange>,
    q: &Query,
    stream: Option<shoal_services::objects::ByteStream>,
) -> Reply<Body> {
    if stream.is_none() && not_modified(call.headers, &info)? {
        let mut r = empty(StatusCode::NOT_MODIFIED, call.request_id);
        set(r.headers_mut(), "etag", &format!("\"{}\"", info.etag));
        return Ok(r);
    }
    let body: Body = match stream {
        Some(s) => {
            use futures_util::StreamExt;
            StreamBody::new(s.map(|r| r.map(http_body::Frame::data))).boxed_unsync()
        }
        None => crate::api::boxed(http_body_util::Full::new(bytes::Bytes::new())),
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    super::common_headers(h, call.request_id);
    object_reply_headers(h, &info, q);
    let length = match range {
        Some(br) => {
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            set(
                r.headers_mut(),
                "content-range",
                &format!("bytes {}-{}/{}", br.first, br.last, info.size),
            );
            br.len()
        }
        None => {
            // The whole object: its verified checksum, when the client asks (SDKs then check
            // the bytes against it).
            let asked = header(call.headers, "x-amz-checksum-mode")
                .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
            if let (true, Some((alg, v))) = (asked, &info.checksum) {
                set(r.headers_mut(), &format!("x-amz-checksum-{alg}"), v);
            }
            info.size
        }
    };
    set(r.headers_mut(), "content-length", &length.to_string());
    Ok(r)
}

pub async fn delete(call: &Call<'_>, bucket: &BucketName, key: &ObjectKey) -> Reply<Body> {
    call.state.objects.delete(call.part, bucket, key).await?;
    Ok(empty(StatusCode::NO_CONTENT, call.request_id))
}

/// Keys one DeleteObjects may name.
const MAX_DELETE: usize = 1000;
/// The largest DeleteObjects body read (1,000 keys of 1,024 bytes, escaped).
const MAX_DELETE_BODY: usize = 8 * 1024 * 1024;

/// DeleteObjects: up to 1,000 keys, each deleted on its own; `Quiet` lists only the failures
/// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
pub async fn delete_many(mut call: Call<'_>, bucket: &BucketName) -> Reply<Body> {
    let malformed = || {
        ApiError::from(StorageError::MalformedXml.error(
            "The XML you provided was not well-formed or did not validate against our published schema",
        ))
    };
    call.state.objects.bucket(call.part, bucket)?;
    let stream = call.stream.take().ok_or_else(malformed)?;
    let body = http_body_util::Limited::new(stream.body, MAX_DELETE_BODY)
        .collect()
        .await
        .map_err(|_| malformed())?
        .to_bytes();
    super::body::check_whole(call.headers, &body)?;
    let text = std::str::from_utf8(&body).map_err(|_| malformed())?;
    let quiet = xml::texts(text, "Quiet")
        .and_then(|v| v.into_iter().next())
        .is_some_and(|q| q.eq_ignore_ascii_case("true"));
    let objects = xml::blocks(text, "Object").ok_or_else(malformed)?;
    if objects.is_empty() || objects.len() > MAX_DELETE {
        return Err(malformed());
    }
    let mut d = Doc::new("DeleteResult");
    for o in objects {
        let key = xml::texts(o, "Key")
            .and_then(|v| v.into_iter().next())
            .ok_or_else(malformed)?;
        let done = match ObjectKey::parse(&key) {
            Ok(k) => call.state.objects.delete(call.part, bucket, &k).await,
            Err(e) => Err(e),
        };
        match done {
            Ok(()) if quiet => {}
            Ok(()) => {
                d.open("Deleted").el("Key", &key).close("Deleted");
            }
            Err(e) => {
                let code = <super::S3 as crate::api::Api>::code(&e.kind).1;
                d.open("Error")
                    .el("Key", &key)
                    .el("Code", code)
                    .el("Message", &e.message)
                    .close("Error");
            }
        }
    }
    Ok(xml_reply(d.end("DeleteResult"), call.request_id))
}
