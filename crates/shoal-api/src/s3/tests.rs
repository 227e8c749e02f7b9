//! Every route of the S3 subset, and the requests it refuses before a handler runs.

use super::*;

fn route(method: &str, path: &str, query: &str) -> String {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    match S3::parse(&m, path, query, &http::HeaderMap::new()) {
        Ok(e) => format!("{e:?}")
            .split(['(', ' '])
            .next()
            .unwrap()
            .to_string(),
        Err(ApiError::UnknownOperation(_)) => "NotImplemented".into(),
        Err(ApiError::Service(e)) => S3::code(&e.kind).1.to_string(),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn routes() {
    for (method, path, query, want) in [
        ("GET", "/", "", "ListBuckets"),
        ("GET", "/", "x-id=ListBuckets", "ListBuckets"),
        ("PUT", "/bkt", "", "CreateBucket"),
        ("PUT", "/bkt/", "", "CreateBucket"),
        ("DELETE", "/bkt", "", "DeleteBucket"),
        ("HEAD", "/bkt", "", "HeadBucket"),
        ("GET", "/bkt", "location", "GetBucketLocation"),
        ("GET", "/bkt", "list-type=2&prefix=a", "ListObjectsV2"),
        ("PUT", "/bkt/a/b", "x-id=PutObject", "PutObject"),
        ("GET", "/bkt/a%20b", "", "GetObject"),
        ("HEAD", "/bkt/k", "", "HeadObject"),
        ("DELETE", "/bkt/k", "", "DeleteObject"),
        ("POST", "/bkt/k", "uploads", "CreateMultipartUpload"),
        ("PUT", "/bkt/k", "partNumber=3&uploadId=u", "UploadPart"),
        ("POST", "/bkt/k", "uploadId=u", "CompleteMultipartUpload"),
        ("DELETE", "/bkt/k", "uploadId=u", "AbortMultipartUpload"),
        ("GET", "/bkt/k", "uploadId=u", "ListParts"),
        // Refused.
        ("GET", "/bkt", "", "ListObjects"),
        ("GET", "/bkt", "marker=a&prefix=b", "ListObjects"),
        ("GET", "/bkt", "acl", "NotImplemented"),
        ("PUT", "/bkt/k", "tagging", "NotImplemented"),
        ("POST", "/bkt", "delete", "DeleteObjects"),
        ("GET", "/bkt", "uploads", "NotImplemented"),
        ("GET", "/bkt/k", "partNumber=1", "NotImplemented"),
        ("POST", "/bkt", "", "MethodNotAllowed"),
        ("PUT", "/", "", "MethodNotAllowed"),
        (
            "PUT",
            "/bkt/k",
            "partNumber=0&uploadId=u",
            "InvalidArgument",
        ),
        (
            "PUT",
            "/bkt/k",
            "partNumber=10001&uploadId=u",
            "InvalidArgument",
        ),
        ("GET", "/BK/k", "", "InvalidBucketName"),
    ] {
        assert_eq!(route(method, path, query), want, "{method} {path}?{query}");
    }
    let long = format!("/bkt/{}", "k".repeat(1025));
    assert_eq!(route("GET", &long, ""), "KeyTooLongError");
}

#[test]
fn keys_are_decoded_not_normalised() {
    let e = S3::parse(
        &Method::GET,
        "/bkt/a%2F..//b%2Bc%20",
        "",
        &http::HeaderMap::new(),
    )
    .unwrap();
    match e {
        Endpoint::GetObject(_, k, _) => assert_eq!(k.as_str(), "a/..//b+c "),
        other => panic!("{other:?}"),
    }
}
