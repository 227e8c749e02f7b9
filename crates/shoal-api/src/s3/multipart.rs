//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts. Parts arrive concurrently and in any order (the AWS CLI
//! sends ten at a time); each is verified like a PutObject body.

use super::body::{object_headers, receive};
use super::objects::write_condition;
use super::xml::{self, Doc};
use super::{empty, header, xml_reply};
use crate::api::{Body, Call, Reply};
use crate::error::ApiError;
use crate::request::Query;
use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt;
use shoal_domain::objects::{BucketName, ObjectKey, StorageError, MAX_PUT};
use shoal_services::objects::PartInfo;

/// The largest CompleteMultipartUpload body read (10,000 parts with checksums).
const MAX_COMPLETE: usize = 4 * 1024 * 1024;

fn malformed() -> ApiError {
    StorageError::MalformedXml
        .error("The XML you provided was not well-formed or did not validate against our published schema")
        .into()
}

pub async fn create(call: &Call<'_>, bucket: &BucketName, key: &ObjectKey) -> Reply<Body> {
    let (headers, metadata) = object_headers(call.headers)?;
    let algorithm = header(call.headers, "x-amz-checksum-algorithm").map(str::to_string);
    let id = call
        .state
        .objects
        .create_upload(call.part, bucket, key, headers, metadata, algorithm.clone())
        .await?;
    let mut d = Doc::new("InitiateMultipartUploadResult");
    d.el("Bucket", bucket.as_str())
        .el("Key", key.as_str())
        .el("UploadId", &id);
    let mut r = xml_reply(d.end("InitiateMultipartUploadResult"), call.request_id);
    if let Some(a) = algorithm.and_then(|a| HeaderValue::from_str(&a).ok()) {
        r.headers_mut().insert("x-amz-checksum-algorithm", a);
    }
    Ok(r)
}

pub async fn upload_part(
    mut call: Call<'_>,
    bucket: &BucketName,
    key: &ObjectKey,
    id: &str,
    number: u32,
) -> Reply<Body> {
    if header(call.headers, "x-amz-copy-source").is_some() {
        return Err(ApiError::UnknownOperation(
            "UploadPartCopy is not yet supported by Shoal".into(),
        ));
    }
    let objects = &call.state.objects;
    objects.upload(call.part, bucket, key, id)?;
    let stream = call
        .stream
        .take()
        .ok_or_else(|| ApiError::invalid("no body"))?;
    let writer = objects.blobs().writer(call.part).await?;
    let got = receive(call.headers, stream, writer, MAX_PUT).await?;
    let info = PartInfo {
        number,
        blob: got.blob,
        size: got.size,
        etag: got.md5_hex.clone(),
        modified: call.state.clock.now(),
        checksum: got.checksum.clone(),
    };
    objects.put_part(call.part, bucket, key, id, info).await?;
    let mut r = empty(StatusCode::OK, call.request_id);
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", got.md5_hex)) {
        r.headers_mut().insert(http::header::ETAG, v);
    }
    // s3transfer copies an echoed checksum into CompleteMultipartUpload.
    if let Some((alg, v)) = got.checksum {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(format!("x-amz-checksum-{alg}").as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            r.headers_mut().insert(n, v);
        }
    }
    Ok(r)
}

pub async fn complete(
    mut call: Call<'_>,
    bucket: &BucketName,
    key: &ObjectKey,
    id: &str,
) -> Reply<Body> {
    let cond = write_condition(call.headers)?;
    let stream = call.stream.take().ok_or_else(malformed)?;
    let body = http_body_util::Limited::new(stream.body, MAX_COMPLETE)
        .collect()
        .await
        .map_err(|_| malformed())?
        .to_bytes();
    let text = std::str::from_utf8(&body).map_err(|_| malformed())?;
    let mut listed = Vec::new();
    for part in xml::blocks(text, "Part").ok_or_else(malformed)? {
        let number = xml::texts(part, "PartNumber")
            .and_then(|v| v.into_iter().next())
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(malformed)?;
        let etag = xml::texts(part, "ETag")
            .and_then(|v| v.into_iter().next())
            .ok_or_else(malformed)?;
        listed.push((number, etag));
    }
    let info = call
        .state
        .objects
        .complete(call.part, bucket, key, id, &listed, &cond)
        .await?;
    let mut d = Doc::new("CompleteMultipartUploadResult");
    let host = header(call.headers, "host").unwrap_or("localhost");
    d.el("Location", &format!("http://{host}/{bucket}/{key}"))
        .el("Bucket", bucket.as_str())
        .el("Key", key.as_str())
        .el("ETag", &format!("\"{}\"", info.etag));
    Ok(xml_reply(
        d.end("CompleteMultipartUploadResult"),
        call.request_id,
    ))
}

pub async fn abort(call: &Call<'_>, bucket: &BucketName, key: &ObjectKey, id: &str) -> Reply<Body> {
    call.state
        .objects
        .abort_upload(call.part, bucket, key, id)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT, call.request_id))
}

pub fn list_parts(
    call: &Call<'_>,
    bucket: &BucketName,
    key: &ObjectKey,
    id: &str,
    q: &Query,
) -> Reply<Body> {
    let objects = &call.state.objects;
    objects.upload(call.part, bucket, key, id)?;
    let invalid = |m: &str| ApiError::from(StorageError::InvalidArgument.error(m));
    let max = match q.get("max-parts") {
        None => 1000,
        Some(v) => v
            .parse::<usize>()
            .map(|n| n.min(1000))
            .map_err(|_| invalid("Provided max-parts not an integer or within integer range"))?,
    };
    let marker = match q.get("part-number-marker") {
        None => 0,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| invalid("Provided part-number-marker not an integer"))?,
    };
    let parts: Vec<PartInfo> = objects
        .parts(call.part, bucket, id)?
        .into_iter()
        .filter(|p| p.number > marker)
        .collect();
    let truncated = parts.len() > max;
    let shown = &parts[..parts.len().min(max)];
    let account = call.part.account.as_str();
    let mut d = Doc::new("ListPartsResult");
    d.el("Bucket", bucket.as_str())
        .el("Key", key.as_str())
        .el("UploadId", id)
        .el("PartNumberMarker", &marker.to_string())
        .el(
            "NextPartNumberMarker",
            &shown.last().map_or(marker, |p| p.number).to_string(),
        )
        .el("MaxParts", &max.to_string())
        .el("IsTruncated", if truncated { "true" } else { "false" });
    for p in shown {
        d.open("Part")
            .el("PartNumber", &p.number.to_string())
            .el("LastModified", &xml::timestamp(p.modified.millis()))
            .el("ETag", &format!("\"{}\"", p.etag))
            .el("Size", &p.size.to_string())
            .close("Part");
    }
    let owner = super::buckets::owner_id(account);
    d.open("Initiator")
        .el("ID", &owner)
        .el("DisplayName", account)
        .close("Initiator")
        .open("Owner")
        .el("ID", &owner)
        .el("DisplayName", account)
        .close("Owner")
        .el("StorageClass", "STANDARD");
    Ok(xml_reply(d.end("ListPartsResult"), call.request_id))
}
