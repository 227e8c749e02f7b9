//! Listing a bucket: ListObjectsV2 (`list-type=2`, continuation tokens) and the original
//! ListObjects (`marker`), which older tools and `aws s3api list-objects` still use
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html,
//! https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html).

use super::xml::{self, Doc};
use super::xml_reply;
use crate::api::{Body, Call, Reply};
use crate::error::ApiError;
use crate::request::Query;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use shoal_domain::objects::{BucketName, StorageError};
use shoal_services::objects::{ListItem, ListPage, ListRequest};

/// What `encoding-type=url` leaves as it is (botocore decodes with `unquote_plus`, so `+` and
/// spaces must be encoded).
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Keys per ListObjectsV2 page at most (and by default).
const MAX_KEYS: usize = 1000;

/// `max-keys` (at most 1,000) and whether `encoding-type=url` was asked.
fn paging(q: &Query) -> Result<(usize, bool), ApiError> {
    let invalid = |m: &str| ApiError::from(StorageError::InvalidArgument.error(m));
    let max_keys = match q.get("max-keys") {
        None => MAX_KEYS,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| (n as usize).min(MAX_KEYS))
            .ok_or_else(|| invalid("Provided max-keys not an integer or within integer range"))?,
    };
    let url = match q.get("encoding-type") {
        None => false,
        Some("url") => true,
        Some(_) => return Err(invalid("Invalid Encoding Method specified in Request")),
    };
    Ok((max_keys, url))
}

fn encoded(s: &str, url: bool) -> String {
    if url {
        utf8_percent_encode(s, URL_ENCODE).to_string()
    } else {
        s.to_string()
    }
}

/// The `Contents` and `CommonPrefixes` of a page.
fn write_items(
    d: &mut Doc,
    page: &ListPage,
    enc: &dyn Fn(&str) -> String,
    owner: bool,
    account: &str,
) {
    for item in &page.items {
        match item {
            ListItem::Object(k, info) => {
                d.open("Contents")
                    .el("Key", &enc(k))
                    .el("LastModified", &xml::timestamp(info.modified.millis()))
                    .el("ETag", &format!("\"{}\"", info.etag))
                    .el("Size", &info.size.to_string())
                    .el("StorageClass", "STANDARD");
                if owner {
                    d.open("Owner")
                        .el("ID", &super::buckets::owner_id(account))
                        .el("DisplayName", account)
                        .close("Owner");
                }
                d.close("Contents");
            }
            ListItem::CommonPrefix(p) => {
                d.open("CommonPrefixes")
                    .el("Prefix", &enc(p))
                    .close("CommonPrefixes");
            }
        }
    }
}

/// ListObjectsV2.
pub fn list(call: &Call<'_>, bucket: &BucketName, q: &Query) -> Reply<Body> {
    let (max_keys, url) = paging(q)?;
    let req = ListRequest {
        prefix: q.string("prefix").unwrap_or_default(),
        delimiter: q.string("delimiter").unwrap_or_default(),
        max_keys,
        start_after: q.string("start-after"),
        continuation: q.string("continuation-token"),
    };
    let page = call.state.objects.list(call.part, bucket, &req)?;
    let enc = |s: &str| encoded(s, url);
    let mut d = Doc::new("ListBucketResult");
    d.el("Name", bucket.as_str())
        .el("Prefix", &enc(&req.prefix));
    if !req.delimiter.is_empty() {
        d.el("Delimiter", &enc(&req.delimiter));
    }
    if let Some(s) = &req.start_after {
        d.el("StartAfter", &enc(s));
    }
    if let Some(t) = &req.continuation {
        d.el("ContinuationToken", t);
    }
    if let Some(t) = &page.next {
        d.el("NextContinuationToken", t);
    }
    d.el("KeyCount", &page.items.len().to_string())
        .el("MaxKeys", &max_keys.to_string());
    if url {
        d.el("EncodingType", "url");
    }
    d.el("IsTruncated", if page.truncated { "true" } else { "false" });
    let owner = q.get("fetch-owner") == Some("true");
    write_items(&mut d, &page, &enc, owner, call.part.account.as_str());
    Ok(xml_reply(d.end("ListBucketResult"), call.request_id))
}

/// ListObjects (version 1): `marker` is where the listing resumes; a marker that is a common
/// prefix (it ends with the delimiter) resumes after every key under it. `NextMarker` is sent
/// whenever the page is truncated.
pub fn list_v1(call: &Call<'_>, bucket: &BucketName, q: &Query) -> Reply<Body> {
    let (max_keys, url) = paging(q)?;
    let prefix = q.string("prefix").unwrap_or_default();
    let delimiter = q.string("delimiter").unwrap_or_default();
    let marker = q.string("marker").filter(|m| !m.is_empty());
    let resumes_a_prefix = marker.as_ref().is_some_and(|m| {
        !delimiter.is_empty() && m.ends_with(&delimiter) && m.starts_with(&prefix)
    });
    let req = ListRequest {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        max_keys,
        start_after: marker.clone().filter(|_| !resumes_a_prefix),
        continuation: marker
            .as_deref()
            .filter(|_| resumes_a_prefix)
            .map(shoal_services::objects::after_common_prefix),
    };
    let page = call.state.objects.list(call.part, bucket, &req)?;
    let enc = |s: &str| encoded(s, url);
    let mut d = Doc::new("ListBucketResult");
    d.el("Name", bucket.as_str())
        .el("Prefix", &enc(&prefix))
        .el("Marker", &enc(marker.as_deref().unwrap_or("")));
    if page.truncated {
        let next = page.items.last().map(|i| match i {
            ListItem::Object(k, _) => k.as_str(),
            ListItem::CommonPrefix(p) => p.as_str(),
        });
        if let Some(n) = next {
            d.el("NextMarker", &enc(n));
        }
    }
    d.el("MaxKeys", &max_keys.to_string());
    if !delimiter.is_empty() {
        d.el("Delimiter", &enc(&delimiter));
    }
    if url {
        d.el("EncodingType", "url");
    }
    d.el("IsTruncated", if page.truncated { "true" } else { "false" });
    write_items(&mut d, &page, &enc, true, call.part.account.as_str());
    Ok(xml_reply(d.end("ListBucketResult"), call.request_id))
}
