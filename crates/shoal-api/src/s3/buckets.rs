//! Bucket operations: CreateBucket, DeleteBucket, HeadBucket, ListBuckets, GetBucketLocation.

use super::xml::{self, Doc};
use super::{empty, xml_reply};
use crate::api::{Body, Call, Reply};
use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt;
use shoal_domain::objects::{BucketName, StorageError};

/// The largest CreateBucketConfiguration read.
const MAX_CONFIG: usize = 64 * 1024;

/// S3 shows a canonical user id per account; Shoal derives one from the account id.
pub fn owner_id(account: &str) -> String {
    shoal_sigv4::sha256_hex(account.as_bytes())
}

pub async fn create(call: Call<'_>, bucket: &BucketName) -> Reply<Body> {
    let mut location = String::new();
    if let Some(stream) = call.stream {
        let body = http_body_util::Limited::new(stream.body, MAX_CONFIG)
            .collect()
            .await
            .map_err(|_| {
                StorageError::MalformedXml
                    .error("The XML you provided was not well-formed or did not validate against our published schema")
            })?
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        if !text.trim().is_empty() {
            let found = xml::texts(&text, "LocationConstraint").ok_or_else(|| {
                StorageError::MalformedXml.error(
                    "The XML you provided was not well-formed or did not validate against our published schema",
                )
            })?;
            location = found.into_iter().next().unwrap_or_default();
        }
    }
    call.state
        .objects
        .create_bucket(call.part, bucket, &location)
        .await?;
    let mut r = empty(StatusCode::OK, call.request_id);
    if let Ok(v) = HeaderValue::from_str(&format!("/{bucket}")) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    Ok(r)
}

pub async fn delete(call: &Call<'_>, bucket: &BucketName) -> Reply<Body> {
    call.state.objects.delete_bucket(call.part, bucket).await?;
    Ok(empty(StatusCode::NO_CONTENT, call.request_id))
}

pub fn head(call: &Call<'_>, bucket: &BucketName) -> Reply<Body> {
    call.state.objects.bucket(call.part, bucket)?;
    let mut r = empty(StatusCode::OK, call.request_id);
    if let Ok(v) = HeaderValue::from_str(call.part.region.as_str()) {
        r.headers_mut().insert("x-amz-bucket-region", v);
    }
    Ok(r)
}

pub fn location(call: &Call<'_>, bucket: &BucketName) -> Reply<Body> {
    let b = call.state.objects.bucket(call.part, bucket)?;
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
        xml::NS,
        crate::error::xml_escape(&b.location)
    );
    Ok(xml_reply(body, call.request_id))
}

pub fn list(call: &Call<'_>) -> Reply<Body> {
    let buckets = call.state.objects.list_buckets(call.part)?;
    let account = call.part.account.as_str();
    let mut d = Doc::new("ListAllMyBucketsResult");
    d.open("Owner")
        .el("ID", &owner_id(account))
        .el("DisplayName", account)
        .close("Owner")
        .open("Buckets");
    for (name, b) in &buckets {
        d.open("Bucket")
            .el("Name", name)
            .el("CreationDate", &xml::timestamp(b.created.millis()))
            .el("BucketRegion", call.part.region.as_str())
            .close("Bucket");
    }
    d.close("Buckets");
    Ok(xml_reply(d.end("ListAllMyBucketsResult"), call.request_id))
}
