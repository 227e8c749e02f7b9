//! An S3-compatible store behind Shoal's object storage (`[objects] url`): a second Shoal is that
//! store, so `object_store`'s S3 client (put, multipart, ranged get, list, delete) runs against
//! a real S3 API; aws-sdk-s3 drives the first.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::TestServer;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

async fn keys(c: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    c.list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn objects_kept_in_another_s3_store() {
    let backing = TestServer::start().await;
    let store = backing.s3_client();
    store
        .create_bucket()
        .bucket("backing")
        .send()
        .await
        .unwrap();
    let (endpoint, key) = (backing.endpoint(), backing.key.clone());
    let front = TestServer::start_with(|c| {
        c.objects.url = "s3://backing/front".into();
        c.objects.endpoint = endpoint;
        c.objects.region = "us-east-1".into();
        c.objects.access_key_id = key.0;
        c.objects.secret_access_key = key.1;
    })
    .await;
    let c = front.s3_client();
    c.create_bucket().bucket("fw-images").send().await.unwrap();
    let small = b"small object".to_vec();
    let big = pattern(12 * 1024 * 1024 + 5);
    c.put_object()
        .bucket("fw-images")
        .key("a/small")
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("fw-images")
        .key("big")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();
    // The bytes are blobs under the prefix in the other store (the big one a multipart upload
    // of 5 MiB parts there); the names are Shoal's, not the keys.
    let stored = keys(&store, "backing").await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored.iter().all(|k| k.starts_with("front/")), "{stored:?}");

    let got = c
        .get_object()
        .bucket("fw-images")
        .key("big")
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes.as_ref(), big.as_slice());
    let ranged = c
        .get_object()
        .bucket("fw-images")
        .key("big")
        .range("bytes=5242880-5242899")
        .send()
        .await
        .unwrap();
    let part = ranged.body.collect().await.unwrap().into_bytes();
    assert_eq!(part.as_ref(), &big[5_242_880..5_242_900]);
    let got = c
        .get_object()
        .bucket("fw-images")
        .key("a/small")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        small.as_slice()
    );

    // An overwrite and a delete remove the blobs they replace.
    c.put_object()
        .bucket("fw-images")
        .key("a/small")
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .unwrap();
    c.delete_object()
        .bucket("fw-images")
        .key("big")
        .send()
        .await
        .unwrap();
    let stored = keys(&store, "backing").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    front.stop().await;
    backing.stop().await;
}
