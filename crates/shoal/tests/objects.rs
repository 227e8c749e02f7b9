//! The S3 subset, driven by `aws-sdk-s3` unmodified: buckets, objects in memory and streamed
//! from a file (aws-chunked with signed chunks and a CRC32 trailer), ranges and conditions,
//! ListObjectsV2 pages, multipart uploads out of order, presigned GETs, and S3's error codes.

mod common;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use common::TestServer;
use std::time::Duration;

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn body(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn buckets_objects_ranges_and_errors() {
    let s = TestServer::start().await;
    let c = s.s3_client();
    c.create_bucket().bucket("firmware").send().await.unwrap();
    assert_eq!(
        common::code(c.create_bucket().bucket("firmware").send().await),
        "BucketAlreadyOwnedByYou"
    );
    assert_eq!(
        common::code(c.create_bucket().bucket("Bad_Name").send().await),
        "InvalidBucketName"
    );
    let listed = c.list_buckets().send().await.unwrap();
    let names: Vec<_> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["firmware"]);

    let data = pattern(100_000, 7);
    let put = c
        .put_object()
        .bucket("firmware")
        .key("dir/v2 +~.bin")
        .content_type("application/x-firmware")
        .metadata("build", "42")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_string();
    assert_eq!(etag, format!("\"{:x}\"", md5_of(&data)));

    let head = c
        .head_object()
        .bucket("firmware")
        .key("dir/v2 +~.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(100_000));
    assert_eq!(head.content_type(), Some("application/x-firmware"));
    assert_eq!(head.metadata().unwrap()["build"], "42");
    assert_eq!(head.e_tag(), Some(etag.as_str()));

    let got = c
        .get_object()
        .bucket("firmware")
        .key("dir/v2 +~.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(body(got).await, data);

    let ranged = c
        .get_object()
        .bucket("firmware")
        .key("dir/v2 +~.bin")
        .range("bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.content_range(), Some("bytes 10-19/100000"));
    assert_eq!(body(ranged).await, data[10..20]);
    let suffix = c
        .get_object()
        .bucket("firmware")
        .key("dir/v2 +~.bin")
        .range("bytes=-5")
        .send()
        .await
        .unwrap();
    assert_eq!(body(suffix).await, data[99_995..]);
    assert_eq!(
        common::code(
            c.get_object()
                .bucket("firmware")
                .key("dir/v2 +~.bin")
                .range("bytes=100000-")
                .send()
                .await
        ),
        "InvalidRange"
    );

    // Conditions: a matching If-None-Match is 304, a wrong If-Match 412.
    let not_modified = c
        .get_object()
        .bucket("firmware")
        .key("dir/v2 +~.bin")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(not_modified.raw_response().unwrap().status().as_u16(), 304);
    assert_eq!(
        common::code(
            c.get_object()
                .bucket("firmware")
                .key("dir/v2 +~.bin")
                .if_match("\"0123\"")
                .send()
                .await
        ),
        "PreconditionFailed"
    );
    // A create-only put of an existing key is refused.
    assert_eq!(
        common::code(
            c.put_object()
                .bucket("firmware")
                .key("dir/v2 +~.bin")
                .if_none_match("*")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        ),
        "PreconditionFailed"
    );

    assert_eq!(
        common::code(
            c.get_object()
                .bucket("firmware")
                .key("missing")
                .send()
                .await
        ),
        "NoSuchKey"
    );
    assert_eq!(
        common::code(c.get_object().bucket("nobucket").key("k").send().await),
        "NoSuchBucket"
    );
    let head_missing = c
        .head_object()
        .bucket("firmware")
        .key("missing")
        .send()
        .await;
    assert!(head_missing
        .unwrap_err()
        .into_service_error()
        .is_not_found());
    assert_eq!(
        common::code(c.delete_bucket().bucket("firmware").send().await),
        "BucketNotEmpty"
    );
    c.delete_object()
        .bucket("firmware")
        .key("dir/v2 +~.bin")
        .send()
        .await
        .unwrap();
    // Deleting what is not there succeeds, as in S3.
    c.delete_object()
        .bucket("firmware")
        .key("dir/v2 +~.bin")
        .send()
        .await
        .unwrap();
    c.delete_bucket().bucket("firmware").send().await.unwrap();
    assert_eq!(
        common::code(c.delete_bucket().bucket("firmware").send().await),
        "NoSuchBucket"
    );
    s.stop().await;
}

fn md5_of(data: &[u8]) -> u128 {
    use md5::{Digest, Md5};
    u128::from_be_bytes(Md5::digest(data).into())
}

#[tokio::test]
async fn streamed_upload_from_a_file_with_signed_chunks() {
    let s = TestServer::start().await;
    let c = s.s3_client();
    c.create_bucket().bucket("big").send().await.unwrap();
    let data = pattern(3 * 1024 * 1024 + 17, 3);
    let file = s.data_dir().join("upload.bin");
    std::fs::write(&file, &data).unwrap();
    // From a path the SDK streams: aws-chunked, each chunk signed, a CRC32 trailer.
    c.put_object()
        .bucket("big")
        .key("image.bin")
        .body(ByteStream::from_path(&file).await.unwrap())
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("big")
        .key("image.bin")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(data.len() as i64));
    assert!(got.checksum_crc32().is_some());
    assert_eq!(body(got).await, data);
    s.stop().await;
}

#[tokio::test]
async fn list_objects_v2_pages_and_common_prefixes() {
    let s = TestServer::start().await;
    let c = s.s3_client();
    c.create_bucket().bucket("logs").send().await.unwrap();
    for k in ["a/1", "a/2", "b/1", "c", "d/x/y", "e"] {
        c.put_object()
            .bucket("logs")
            .key(k)
            .body(ByteStream::from_static(b"1"))
            .send()
            .await
            .unwrap();
    }
    let top = c
        .list_objects_v2()
        .bucket("logs")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    let keys: Vec<_> = top.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(prefixes, ["a/", "b/", "d/"]);
    assert_eq!(keys, ["c", "e"]);
    assert_eq!(top.key_count(), Some(5));

    // Two at a time, prefixes and keys mixed, every item exactly once.
    let mut seen = Vec::new();
    let mut pages = c
        .list_objects_v2()
        .bucket("logs")
        .delimiter("/")
        .max_keys(2)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        count += 1;
        seen.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        seen.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    seen.sort();
    assert_eq!(seen, ["a/", "b/", "c", "d/", "e"]);
    assert_eq!(count, 3);

    let under_a = c
        .list_objects_v2()
        .bucket("logs")
        .prefix("a/")
        .start_after("a/1")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = under_a.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a/2"]);
    assert_eq!(under_a.contents()[0].size(), Some(1));
    s.stop().await;
}

#[tokio::test]
async fn multipart_upload_out_of_order_and_its_rules() {
    let s = TestServer::start().await;
    let c = s.s3_client();
    c.create_bucket().bucket("uploads").send().await.unwrap();
    let created = c
        .create_multipart_upload()
        .bucket("uploads")
        .key("fw.bin")
        .content_type("application/octet-stream")
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap().to_string();
    let p1 = pattern(5 * 1024 * 1024, 1);
    let p2 = pattern(1234, 2);
    // Part 2 first, as concurrent clients do.
    let e2 = c
        .upload_part()
        .bucket("uploads")
        .key("fw.bin")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from(p2.clone()))
        .send()
        .await
        .unwrap();
    let e1 = c
        .upload_part()
        .bucket("uploads")
        .key("fw.bin")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(p1.clone()))
        .send()
        .await
        .unwrap();
    let part = |n: i32, e: &str| CompletedPart::builder().part_number(n).e_tag(e).build();
    let parts = c
        .list_parts()
        .bucket("uploads")
        .key("fw.bin")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 2);
    // Out of order, or a wrong ETag, is refused and the upload stays.
    let wrong_order = CompletedMultipartUpload::builder()
        .parts(part(2, e2.e_tag().unwrap()))
        .parts(part(1, e1.e_tag().unwrap()))
        .build();
    assert_eq!(
        common::code(
            c.complete_multipart_upload()
                .bucket("uploads")
                .key("fw.bin")
                .upload_id(&id)
                .multipart_upload(wrong_order)
                .send()
                .await
        ),
        "InvalidPartOrder"
    );
    let wrong_etag = CompletedMultipartUpload::builder()
        .parts(part(1, "\"00\""))
        .parts(part(2, e2.e_tag().unwrap()))
        .build();
    assert_eq!(
        common::code(
            c.complete_multipart_upload()
                .bucket("uploads")
                .key("fw.bin")
                .upload_id(&id)
                .multipart_upload(wrong_etag)
                .send()
                .await
        ),
        "InvalidPart"
    );
    let done = c
        .complete_multipart_upload()
        .bucket("uploads")
        .key("fw.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(part(1, e1.e_tag().unwrap()))
                .parts(part(2, e2.e_tag().unwrap()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        done.e_tag().unwrap().ends_with("-2\""),
        "{:?}",
        done.e_tag()
    );
    let got = c
        .get_object()
        .bucket("uploads")
        .key("fw.bin")
        .send()
        .await
        .unwrap();
    let mut all = p1.clone();
    all.extend_from_slice(&p2);
    assert_eq!(body(got).await, all);
    // Completed, the upload is gone.
    assert_eq!(
        common::code(
            c.abort_multipart_upload()
                .bucket("uploads")
                .key("fw.bin")
                .upload_id(&id)
                .send()
                .await
        ),
        "NoSuchUpload"
    );
    // A small first part makes the whole too small.
    let small = c
        .create_multipart_upload()
        .bucket("uploads")
        .key("small")
        .send()
        .await
        .unwrap();
    let sid = small.upload_id().unwrap();
    let mut etags = Vec::new();
    for n in 1..=2 {
        let e = c
            .upload_part()
            .bucket("uploads")
            .key("small")
            .upload_id(sid)
            .part_number(n)
            .body(ByteStream::from_static(b"tiny"))
            .send()
            .await
            .unwrap();
        etags.push(e.e_tag().unwrap().to_string());
    }
    assert_eq!(
        common::code(
            c.complete_multipart_upload()
                .bucket("uploads")
                .key("small")
                .upload_id(sid)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .parts(part(1, &etags[0]))
                        .parts(part(2, &etags[1]))
                        .build()
                )
                .send()
                .await
        ),
        "EntityTooSmall"
    );
    c.abort_multipart_upload()
        .bucket("uploads")
        .key("small")
        .upload_id(sid)
        .send()
        .await
        .unwrap();
    s.stop().await;
}

/// A presigned GET works with no credentials until it expires.
#[tokio::test]
async fn presigned_get_until_it_expires() {
    let s = TestServer::start().await;
    let c = s.s3_client();
    c.create_bucket().bucket("pub").send().await.unwrap();
    c.put_object()
        .bucket("pub")
        .key("doc.json")
        .body(ByteStream::from_static(b"{\"v\":2}"))
        .send()
        .await
        .unwrap();
    let presigned = c
        .get_object()
        .bucket("pub")
        .key("doc.json")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    let (status, text) = plain_get(presigned.uri()).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("{\"v\":2}"), "{text}");
    s.clock.advance_millis(601_000);
    let (status, text) = plain_get(presigned.uri()).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
    s.stop().await;
}

/// GET of a URL with no credentials of its own.
async fn plain_get(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    (text[9..12].parse().unwrap(), text)
}

/// A job whose document lives in object storage (`documentSource`) and names a firmware file
/// with `${aws:iot:s3-presigned-url:...}`: the device's copy carries a presigned URL that
/// fetches the file, valid `presignedUrlConfig.expiresInSec`; the owner's GetJobDocument keeps
/// the placeholder.
#[tokio::test]
async fn job_documents_from_object_storage_with_presigned_urls() {
    let s = TestServer::start().await;
    let c = s.s3_client();
    let iot = s.client("us-east-1");
    c.create_bucket()
        .bucket("fw-artifacts")
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("fw-artifacts")
        .key("images/v2.bin")
        .body(ByteStream::from_static(b"FIRMWARE-V2"))
        .send()
        .await
        .unwrap();
    let doc = r#"{"operation":"install","url":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/fw-artifacts/images/v2.bin}"}"#;
    c.put_object()
        .bucket("fw-artifacts")
        .key("jobs/install.json")
        .body(ByteStream::from_static(doc.as_bytes()))
        .send()
        .await
        .unwrap();
    let thing = iot.create_thing().thing_name("dev-1").send().await.unwrap();
    iot.create_job()
        .job_id("install-v2")
        .targets(thing.thing_arn().unwrap())
        .document_source("https://fw-artifacts.s3.amazonaws.com/jobs/install.json")
        .presigned_url_config(
            aws_sdk_iot::types::PresignedUrlConfig::builder()
                .role_arn("arn:aws:iam::123456789012:role/unused")
                .expires_in_sec(300)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // The rollout's timer creates the execution.
    s.run_due().await;
    let described = iot
        .describe_job()
        .job_id("install-v2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.document_source(),
        Some("https://fw-artifacts.s3.amazonaws.com/jobs/install.json")
    );
    let owner = iot
        .get_job_document()
        .job_id("install-v2")
        .send()
        .await
        .unwrap();
    assert_eq!(owner.document(), Some(doc));

    let device = s
        .jobs_data_client()
        .describe_job_execution()
        .job_id("install-v2")
        .thing_name("dev-1")
        .include_job_document(true)
        .send()
        .await
        .unwrap();
    let got = device.execution().unwrap().job_document().unwrap();
    let v: serde_json::Value = serde_json::from_str(got).unwrap();
    let url = v["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    let (status, text) = plain_get(url).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("FIRMWARE-V2"), "{text}");
    s.clock.advance_millis(301_000);
    assert_eq!(plain_get(url).await.0, 403);

    // A documentSource that names nothing is refused.
    let missing = iot
        .create_job()
        .job_id("nothing")
        .targets(thing.thing_arn().unwrap())
        .document_source("https://s3.amazonaws.com/fw-artifacts/jobs/none.json")
        .send()
        .await;
    assert_eq!(common::code(missing), "InvalidRequestException");
    s.stop().await;
}

/// A signed S3 request over a raw connection: (status, whole answer).
async fn raw_s3(
    s: &TestServer,
    method: &str,
    path: &str,
    payload_hash: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    close_early: bool,
) -> (u16, String) {
    use shoal_domain::Clock;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = format!("127.0.0.1:{}", s.api_port());
    let date = shoal_sigv4::format_amz_date(s.clock.now().secs());
    let mut headers = vec![
        ("host", host.as_str()),
        ("x-amz-content-sha256", payload_hash),
        ("x-amz-date", date.as_str()),
    ];
    headers.extend_from_slice(extra);
    let auth = shoal_sigv4::authorization_header(
        method,
        path,
        "",
        &headers,
        payload_hash,
        &s.key.0,
        &s.key.1,
        &date,
        "us-east-1",
        "s3",
    );
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nauthorization: {auth}\r\nconnection: close\r\n");
    for (n, v) in &headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
    tcp.write_all(req.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    if close_early {
        tcp.shutdown().await.unwrap();
    }
    let mut raw = Vec::new();
    let _ = tcp.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// Bodies that do not match what their request declares are refused, and nothing of them is
/// stored: a wrong payload hash, a body shorter than its length, a chunk whose signature is
/// wrong, a wrong CRC32, a chunk size that is not hexadecimal.
#[tokio::test]
async fn hostile_bodies_store_nothing() {
    let s = TestServer::start().await;
    let c = s.s3_client();
    c.create_bucket().bucket("hostile").send().await.unwrap();
    let wrong_hash = "0".repeat(64);
    let (status, text) = raw_s3(
        &s,
        "PUT",
        "/hostile/a",
        &wrong_hash,
        &[("content-length", "5")],
        b"hello",
        false,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("XAmzContentSHA256Mismatch"), "{text}");

    let (status, _) = raw_s3(
        &s,
        "PUT",
        "/hostile/b",
        "UNSIGNED-PAYLOAD",
        &[("content-length", "100")],
        b"short",
        true,
    )
    .await;
    assert!(status == 400 || status == 0, "{status}");

    let (status, text) = raw_s3(
        &s,
        "PUT",
        "/hostile/c",
        "UNSIGNED-PAYLOAD",
        &[
            ("content-length", "5"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
        ],
        b"hello",
        false,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("BadDigest"), "{text}");

    let chunked = format!(
        "5;chunk-signature={}\r\nhello\r\n0;chunk-signature={}\r\n\r\n",
        "a".repeat(64),
        "b".repeat(64)
    );
    let (status, text) = raw_s3(
        &s,
        "PUT",
        "/hostile/d",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "5"),
            ("content-length", &chunked.len().to_string()),
        ],
        chunked.as_bytes(),
        false,
    )
    .await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");

    let garbage = "zz\r\nhello\r\n0\r\n\r\n";
    let (status, text) = raw_s3(
        &s,
        "PUT",
        "/hostile/e",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "5"),
            ("content-length", &garbage.len().to_string()),
        ],
        garbage.as_bytes(),
        false,
    )
    .await;
    assert_eq!(status, 400, "{text}");

    let listed = c.list_objects_v2().bucket("hostile").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
    // No bytes were left behind either.
    let objects = s.data_dir().join("objects");
    let files = walk_files(&objects);
    assert_eq!(files, 0, "blobs left in {}", objects.display());
    s.stop().await;
}

fn walk_files(p: &std::path::Path) -> usize {
    std::fs::read_dir(p).map_or(0, |d| {
        d.flatten()
            .map(|e| {
                if e.path().is_dir() {
                    walk_files(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}
