"""The S3 subset on the API port, driven by the AWS CLI and boto3 with nothing changed but the
endpoint (https://docs.aws.amazon.com/cli/latest/reference/s3/,
https://docs.aws.amazon.com/AmazonS3/latest/API/):
  * `aws s3 mb / cp / ls / rm / rb` with a 100 MB file: the CLI uploads it as a multipart
    upload of 8 MiB parts, ten at a time, each with `Expect: 100-continue` and a CRC32
    checksum, and downloads it as a HEAD and ranged GETs with `If-Match`; the bytes come back
    identical;
  * boto3: PutObject/GetObject with ranges, ListObjectsV2 with the `encoding-type=url` botocore
    adds on its own (keys with spaces and `+`), a SigV4 presigned GET fetched with no
    credentials, and S3's error codes;
  * durability: objects acknowledged before a SIGKILL are all there, whole, after a restart.
"""

import hashlib
import os
import signal
import subprocess
import tempfile
import shutil
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import (DEFAULT_REGION, EMPTY_AWS_CONFIG, EMPTY_AWS_CREDENTIALS,
                      _aws_executable)

MB = 1024 * 1024


def s3_client(srv, **cfg):
    return boto3.session.Session(
        aws_access_key_id=srv.access_key,
        aws_secret_access_key=srv.secret_key,
        region_name=DEFAULT_REGION,
    ).client("s3", endpoint_url=srv.endpoint,
             config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **cfg))


def s3_cli(srv, *args, timeout=300):
    """`aws s3 ...` against `srv`; returns stdout (the s3 commands print text, not JSON)."""
    home = tempfile.mkdtemp(prefix="shoal-e2e-home-")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "AWS_ENDPOINT_URL": srv.endpoint,
        "AWS_ACCESS_KEY_ID": srv.access_key,
        "AWS_SECRET_ACCESS_KEY": srv.secret_key,
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
        "AWS_CONFIG_FILE": EMPTY_AWS_CONFIG,
        "AWS_SHARED_CREDENTIALS_FILE": EMPTY_AWS_CREDENTIALS,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }
    try:
        proc = subprocess.run([_aws_executable(), "s3", *args], env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MB), b""):
            h.update(block)
    return h.hexdigest()


def test_cli_copies_a_100_mb_file_both_ways(server, unique, tmp_path):
    bucket = unique("fw").lower().replace("_", "-")
    src = tmp_path / "firmware.bin"
    with open(src, "wb") as f:
        for i in range(100):
            f.write(hashlib.sha256(b"%d" % i).digest() * (MB // 32))
    s3_cli(server, "mb", "s3://%s" % bucket)
    s3_cli(server, "cp", str(src), "s3://%s/v2.bin" % bucket)
    listing = s3_cli(server, "ls", "s3://%s/" % bucket)
    assert "v2.bin" in listing and str(100 * MB) in listing, listing
    assert bucket in s3_cli(server, "ls")
    # 100 MB in 8 MiB parts: a multipart ETag of 13 parts.
    head = s3_client(server).head_object(Bucket=bucket, Key="v2.bin")
    assert head["ContentLength"] == 100 * MB
    assert head["ETag"].endswith('-13"'), head["ETag"]
    dst = tmp_path / "back.bin"
    s3_cli(server, "cp", "s3://%s/v2.bin" % bucket, str(dst))
    assert sha256_file(dst) == sha256_file(src)
    s3_cli(server, "rm", "s3://%s/v2.bin" % bucket)
    s3_cli(server, "rb", "s3://%s" % bucket)
    assert bucket not in s3_cli(server, "ls")


def test_boto3_objects_listing_presign_and_errors(server, unique):
    s3 = s3_client(server)
    bucket = unique("docs").lower().replace("_", "-")
    s3.create_bucket(Bucket=bucket)
    keys = ["a b/c+d.json", "a b/e.json", "z.json"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b'{"k": "%s"}' % k.encode(),
                      ContentType="application/json", Metadata={"owner": "ops"})
    got = s3.get_object(Bucket=bucket, Key="a b/c+d.json")
    assert got["Body"].read() == b'{"k": "a b/c+d.json"}'
    assert got["ContentType"] == "application/json"
    assert got["Metadata"] == {"owner": "ops"}
    part = s3.get_object(Bucket=bucket, Key="z.json", Range="bytes=0-3")
    assert part["Body"].read() == b'{"k"'
    assert part["ContentRange"] == "bytes 0-3/15"

    # botocore asks for encoding-type=url and decodes the keys.
    listed = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["a b/"]
    assert [o["Key"] for o in listed["Contents"]] == ["z.json"]
    inside = s3.list_objects_v2(Bucket=bucket, Prefix="a b/")
    assert [o["Key"] for o in inside["Contents"]] == keys[:2]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, MaxKeys=1)
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == keys
    # The original ListObjects, which older tools use: markers, and a marker that is a common
    # prefix resumes after every key under it.
    v1 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["a b/"] and v1["IsTruncated"]
    assert v1["NextMarker"] == "a b/"
    rest = s3.list_objects(Bucket=bucket, Delimiter="/", Marker=v1["NextMarker"])
    assert [o["Key"] for o in rest["Contents"]] == ["z.json"] and "CommonPrefixes" not in rest
    pages = s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1})
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == keys

    # A presigned GET (SigV4) needs no credentials.
    signer = s3_client(server, signature_version="s3v4")
    url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "a b/e.json"}, ExpiresIn=300)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as resp:
        assert resp.read() == b'{"k": "a b/e.json"}'
    # boto3's default presigned URL is Signature Version 2, also taken (reads only).
    legacy = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "a b/c+d.json"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in legacy and "X-Amz-" not in legacy, legacy
    with opener.open(legacy, timeout=30) as resp:
        assert resp.read() == b'{"k": "a b/c+d.json"}'
    tampered = legacy.replace("c%2Bd.json", "e.json")
    with pytest.raises(urllib.error.HTTPError) as e:
        opener.open(tampered, timeout=30)
    assert e.value.code == 403

    def code(call, **kw):
        with pytest.raises(ClientError) as e:
            call(**kw)
        return e.value.response["Error"]["Code"]

    assert code(s3.get_object, Bucket=bucket, Key="missing") == "NoSuchKey"
    assert code(s3.head_object, Bucket=bucket, Key="missing") == "404"
    assert code(s3.list_objects_v2, Bucket=bucket + "-none") == "NoSuchBucket"
    assert code(s3.delete_bucket, Bucket=bucket) == "BucketNotEmpty"
    assert code(s3.create_bucket, Bucket=bucket) == "BucketAlreadyOwnedByYou"
    bad = s3_client(server)
    bad._request_signer._credentials.secret_key = "wrong" * 8
    assert code(bad.get_object, Bucket=bucket, Key="z.json") == "SignatureDoesNotMatch"
    stranger = boto3.session.Session(
        aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x" * 40,
        region_name=DEFAULT_REGION).client("s3", endpoint_url=server.endpoint)
    assert code(stranger.list_buckets) == "InvalidAccessKeyId"
    assert code(s3.put_object, Bucket=bucket, Key="z.json", Body=b"x",
                ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==") == "BadDigest"
    deleted = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in keys] + [{"Key": "never-there"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys + ["never-there"])
    assert "Errors" not in deleted
    s3.delete_bucket(Bucket=bucket)


def test_acknowledged_objects_survive_sigkill(shoal_factory, tmp_path):
    data_dir = tmp_path / "data"
    srv = shoal_factory(data_dir)
    s3 = s3_client(srv)
    s3.create_bucket(Bucket="durable")
    written = {}
    for i in range(20):
        body = os.urandom(1024 + i * 4099)
        s3.put_object(Bucket="durable", Key="obj/%02d" % i, Body=body)
        written["obj/%02d" % i] = body
    big = os.urandom(6 * MB)
    s3.upload_fileobj(__import__("io").BytesIO(big), "durable", "big.bin",
                      Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 * MB,
                                                              multipart_chunksize=5 * MB))
    written["big.bin"] = big
    os.kill(srv.pid, signal.SIGKILL)
    srv.proc.wait(timeout=30)
    srv2 = shoal_factory(data_dir)
    s3 = s3_client(srv2)
    for k, body in written.items():
        assert s3.get_object(Bucket="durable", Key=k)["Body"].read() == body, k
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="durable")["Contents"]]
    assert sorted(keys) == sorted(written)
