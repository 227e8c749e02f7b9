//! The S3 subset on the API port (SigV4 scope service `s3`, path-style `/{bucket}/{key}`):
//! buckets, objects with ranges and conditions, ListObjectsV2, multipart uploads and presigned
//! GETs, enough for `aws s3 cp`, boto3, aws-sdk-s3 and object_store clients
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html).
//! Bodies stream both ways: a request body goes to the blob store as it arrives, checked against
//! its declared hash, chunk signatures and checksums; an object goes back from disk.

mod body;
mod buckets;
mod list;
mod multipart;
mod objects;
pub(crate) mod sigv2;
mod xml;

use crate::api::{Api, Body, Call, Protocol, Reply};
use crate::error::ApiError;
use crate::request::Query;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use shoal_domain::objects::{BucketName, ObjectKey, StorageError};
use shoal_domain::ErrorKind;

pub struct S3;

/// Every operation served; the bucket and key already validated.
#[derive(Debug)]
pub enum Endpoint {
    ListBuckets,
    CreateBucket(BucketName),
    DeleteBucket(BucketName),
    HeadBucket(BucketName),
    GetBucketLocation(BucketName),
    ListObjectsV2(BucketName, Query),
    ListObjects(BucketName, Query),
    PutObject(BucketName, ObjectKey),
    GetObject(BucketName, ObjectKey, Query),
    HeadObject(BucketName, ObjectKey, Query),
    DeleteObject(BucketName, ObjectKey),
    DeleteObjects(BucketName),
    CreateMultipartUpload(BucketName, ObjectKey),
    UploadPart(BucketName, ObjectKey, String, u32),
    CompleteMultipartUpload(BucketName, ObjectKey, String),
    AbortMultipartUpload(BucketName, ObjectKey, String),
    ListParts(BucketName, ObjectKey, String, Query),
}

fn not_implemented(what: &str) -> ApiError {
    ApiError::UnknownOperation(format!("{what} is not yet supported by Shoal"))
}

fn method_not_allowed() -> ApiError {
    ApiError::Service(shoal_domain::ServiceError::new(
        ErrorKind::NotSupported,
        "The specified method is not allowed against this resource.",
    ))
}

/// Sub-resources Shoal does not serve (ACLs, versioning, tagging...): a query flag among these
/// makes the request NotImplemented rather than a plain read or write of the object.
const SUBRESOURCES: [&str; 22] = [
    "acl",
    "versioning",
    "versions",
    "tagging",
    "policy",
    "cors",
    "lifecycle",
    "website",
    "logging",
    "notification",
    "replication",
    "encryption",
    "object-lock",
    "retention",
    "legal-hold",
    "torrent",
    "restore",
    "select",
    "attributes",
    "accelerate",
    "requestPayment",
    "ownershipControls",
];

impl Api for S3 {
    type Endpoint = Endpoint;
    const NAME: &'static str = "s3";
    const PROTOCOL: Protocol = Protocol::RestXml;
    type Output = Body;

    fn parse(
        method: &Method,
        path: &str,
        query: &str,
        _headers: &HeaderMap,
    ) -> Result<Endpoint, ApiError> {
        let q = Query::parse(query)?;
        let has = |name: &str| q.get(name).is_some();
        if let Some(sub) = SUBRESOURCES.iter().find(|s| has(s)) {
            return Err(not_implemented(&format!("The '{sub}' subresource")));
        }
        let rest = path.strip_prefix('/').unwrap_or(path);
        let (bucket, key) = match rest.split_once('/') {
            Some((b, k)) => (b, Some(k)),
            None => (rest, None),
        };
        if bucket.is_empty() {
            return match *method {
                Method::GET => Ok(Endpoint::ListBuckets),
                _ => Err(method_not_allowed()),
            };
        }
        let bucket = BucketName::parse(&crate::request::decode(bucket)?)?;
        let key = match key.map(crate::request::decode).transpose()? {
            Some(k) if !k.is_empty() => ObjectKey::parse(&k)?,
            _ => {
                return match *method {
                    Method::PUT => Ok(Endpoint::CreateBucket(bucket)),
                    Method::DELETE => Ok(Endpoint::DeleteBucket(bucket)),
                    Method::HEAD => Ok(Endpoint::HeadBucket(bucket)),
                    Method::GET if has("location") => Ok(Endpoint::GetBucketLocation(bucket)),
                    Method::GET if q.get("list-type") == Some("2") => {
                        Ok(Endpoint::ListObjectsV2(bucket, q))
                    }
                    Method::GET if has("uploads") => Err(not_implemented("ListMultipartUploads")),
                    Method::GET => Ok(Endpoint::ListObjects(bucket, q)),
                    Method::POST if has("delete") => Ok(Endpoint::DeleteObjects(bucket)),
                    _ => Err(method_not_allowed()),
                };
            }
        };
        let upload = q.get("uploadId").map(str::to_string);
        match (method.clone(), upload) {
            (Method::POST, None) if has("uploads") => {
                Ok(Endpoint::CreateMultipartUpload(bucket, key))
            }
            (Method::POST, Some(id)) => Ok(Endpoint::CompleteMultipartUpload(bucket, key, id)),
            (Method::PUT, Some(id)) => {
                let n =
                    q.get("partNumber")
                        .and_then(|n| n.parse::<u32>().ok())
                        .filter(|n| (1..=shoal_domain::objects::MAX_PART_NUMBER).contains(n))
                        .ok_or_else(|| {
                            ApiError::from(StorageError::InvalidArgument.error(
                                "Part number must be an integer between 1 and 10000, inclusive",
                            ))
                        })?;
                Ok(Endpoint::UploadPart(bucket, key, id, n))
            }
            (Method::DELETE, Some(id)) => Ok(Endpoint::AbortMultipartUpload(bucket, key, id)),
            (Method::GET, Some(id)) => Ok(Endpoint::ListParts(bucket, key, id, q)),
            (Method::PUT, None) => Ok(Endpoint::PutObject(bucket, key)),
            (Method::GET, None) if has("partNumber") => {
                Err(not_implemented("GetObject of one part (partNumber)"))
            }
            (Method::GET, None) => Ok(Endpoint::GetObject(bucket, key, q)),
            (Method::HEAD, None) => Ok(Endpoint::HeadObject(bucket, key, q)),
            (Method::DELETE, None) => Ok(Endpoint::DeleteObject(bucket, key)),
            _ => Err(method_not_allowed()),
        }
    }

    async fn handle(call: Call<'_>, endpoint: Endpoint) -> Reply<Body> {
        use Endpoint as E;
        match endpoint {
            E::ListBuckets => buckets::list(&call),
            E::CreateBucket(b) => buckets::create(call, &b).await,
            E::DeleteBucket(b) => buckets::delete(&call, &b).await,
            E::HeadBucket(b) => buckets::head(&call, &b),
            E::GetBucketLocation(b) => buckets::location(&call, &b),
            E::ListObjectsV2(b, q) => list::list(&call, &b, &q),
            E::ListObjects(b, q) => list::list_v1(&call, &b, &q),
            E::PutObject(b, k) => objects::put(call, &b, &k).await,
            E::GetObject(b, k, q) => objects::get(&call, &b, &k, &q, false).await,
            E::HeadObject(b, k, q) => objects::get(&call, &b, &k, &q, true).await,
            E::DeleteObject(b, k) => objects::delete(&call, &b, &k).await,
            E::DeleteObjects(b) => objects::delete_many(call, &b).await,
            E::CreateMultipartUpload(b, k) => multipart::create(&call, &b, &k).await,
            E::UploadPart(b, k, id, n) => multipart::upload_part(call, &b, &k, &id, n).await,
            E::CompleteMultipartUpload(b, k, id) => multipart::complete(call, &b, &k, &id).await,
            E::AbortMultipartUpload(b, k, id) => multipart::abort(&call, &b, &k, &id).await,
            E::ListParts(b, k, id, q) => multipart::list_parts(&call, &b, &k, &id, &q),
        }
    }

    /// S3's codes (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
    fn code(kind: &ErrorKind) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match kind {
            ErrorKind::Storage(e) => storage_code(*e),
            ErrorKind::NotFound => (S::NOT_FOUND, "NoSuchKey"),
            ErrorKind::AlreadyExists { .. } | ErrorKind::IdConflict => {
                (S::CONFLICT, "BucketAlreadyOwnedByYou")
            }
            ErrorKind::Conflict
            | ErrorKind::DeleteConflict
            | ErrorKind::VersionConflict
            | ErrorKind::InvalidStateTransition => (S::CONFLICT, "OperationAborted"),
            ErrorKind::InvalidRequest
            | ErrorKind::CertificateState
            | ErrorKind::CertificateValidation
            | ErrorKind::RegistrationCodeValidation
            | ErrorKind::MalformedPolicy
            | ErrorKind::InvalidQuery
            | ErrorKind::NotConfigured
            | ErrorKind::MalformedQuery { .. }
            | ErrorKind::RegistrationFailed
            | ErrorKind::InvalidResponse
            | ErrorKind::InvalidAggregation
            | ErrorKind::SqlParse
            | ErrorKind::Parameter(_)
            | ErrorKind::UnsupportedEncoding => (S::BAD_REQUEST, "InvalidRequest"),
            ErrorKind::Unauthorized | ErrorKind::Forbidden => (S::FORBIDDEN, "AccessDenied"),
            ErrorKind::Timeout => (S::SERVICE_UNAVAILABLE, "SlowDown"),
            ErrorKind::LimitExceeded | ErrorKind::VersionsLimitExceeded => {
                (S::BAD_REQUEST, "TooManyBuckets")
            }
            ErrorKind::Throttled | ErrorKind::IndexNotReady => (S::SERVICE_UNAVAILABLE, "SlowDown"),
            ErrorKind::PayloadTooLarge => (S::BAD_REQUEST, "EntityTooLarge"),
            ErrorKind::NotSupported => (S::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            ErrorKind::Internal => (S::INTERNAL_SERVER_ERROR, "InternalError"),
        }
    }
}

fn storage_code(e: StorageError) -> (StatusCode, &'static str) {
    use StatusCode as S;
    use StorageError as E;
    match e {
        E::NoSuchBucket => (S::NOT_FOUND, "NoSuchBucket"),
        E::NoSuchKey => (S::NOT_FOUND, "NoSuchKey"),
        E::NoSuchUpload => (S::NOT_FOUND, "NoSuchUpload"),
        E::BucketAlreadyOwnedByYou => (S::CONFLICT, "BucketAlreadyOwnedByYou"),
        E::BucketNotEmpty => (S::CONFLICT, "BucketNotEmpty"),
        E::InvalidBucketName => (S::BAD_REQUEST, "InvalidBucketName"),
        E::KeyTooLong => (S::BAD_REQUEST, "KeyTooLongError"),
        E::InvalidPart => (S::BAD_REQUEST, "InvalidPart"),
        E::InvalidPartOrder => (S::BAD_REQUEST, "InvalidPartOrder"),
        E::EntityTooSmall => (S::BAD_REQUEST, "EntityTooSmall"),
        E::EntityTooLarge => (S::BAD_REQUEST, "EntityTooLarge"),
        E::MalformedXml => (S::BAD_REQUEST, "MalformedXML"),
        E::InvalidArgument => (S::BAD_REQUEST, "InvalidArgument"),
        E::InvalidRange => (S::RANGE_NOT_SATISFIABLE, "InvalidRange"),
        E::PreconditionFailed => (S::PRECONDITION_FAILED, "PreconditionFailed"),
        E::NotModified => (S::NOT_MODIFIED, "NotModified"),
        E::BadDigest => (S::BAD_REQUEST, "BadDigest"),
        E::InvalidDigest => (S::BAD_REQUEST, "InvalidDigest"),
        E::IncompleteBody => (S::BAD_REQUEST, "IncompleteBody"),
        E::MissingContentLength => (S::LENGTH_REQUIRED, "MissingContentLength"),
        E::Sha256Mismatch => (S::BAD_REQUEST, "XAmzContentSHA256Mismatch"),
        E::RequestTimeout => (S::BAD_REQUEST, "RequestTimeout"),
        E::MetadataTooLarge => (S::BAD_REQUEST, "MetadataTooLarge"),
    }
}

/// An empty answer with S3's common headers.
fn empty(status: StatusCode, request_id: &str) -> Response<Body> {
    let mut r = Response::new(crate::api::boxed(http_body_util::Full::new(
        bytes::Bytes::new(),
    )));
    *r.status_mut() = status;
    common_headers(r.headers_mut(), request_id);
    r
}

/// An XML answer.
fn xml_reply(body: String, request_id: &str) -> Response<Body> {
    let mut r = Response::new(crate::api::boxed(http_body_util::Full::new(
        bytes::Bytes::from(body),
    )));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    common_headers(h, request_id);
    r
}

fn common_headers(h: &mut HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", v.clone());
        h.insert("x-amz-id-2", v);
    }
}

/// A header's value as text, if present and readable.
fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests;
