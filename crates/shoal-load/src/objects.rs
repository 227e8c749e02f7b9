//! Object throughput: PutObject and GetObject of one large object (100 MB by default) over one
//! connection, beside the plain file operations they replace, in the same run on the same disk:
//! a copy of the file made durable (`fs::copy` then fsync) for PUT, and a read of the file for
//! GET. PUT sends `UNSIGNED-PAYLOAD` with a CRC32 header, as SDKs over HTTPS do; Shoal still
//! computes the MD5 (the ETag) and the CRC32 and fsyncs before it answers.

use crate::api::{connect, next_rand, target, Target};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use std::io::{Read, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(clap::Args, Clone)]
pub struct ObjectsArgs {
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Object size in MB (10^6 bytes).
    #[arg(long, default_value_t = 100)]
    size_mb: usize,
    /// Rounds of each measurement; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Where the reference file copies go (the disk Shoal's data folder is on).
    #[arg(long, default_value = ".")]
    dir: std::path::PathBuf,
    #[arg(long, default_value = "shoal-load-objects")]
    bucket: String,
}

fn amz_date() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    shoal_sigv4::format_amz_date(now)
}

async fn s3(
    sender: &mut SendRequest<Full<Bytes>>,
    a: &ObjectsArgs,
    t: &Target,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Bytes,
) -> Result<(u16, u64), String> {
    let date = amz_date();
    let mut headers = vec![
        ("host", t.host()),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-amz-date", date.as_str()),
    ];
    headers.extend_from_slice(extra);
    let auth = shoal_sigv4::authorization_header(
        method,
        path,
        "",
        &headers,
        "UNSIGNED-PAYLOAD",
        &a.key,
        &a.secret,
        &date,
        &a.region,
        "s3",
    );
    let mut req = http::Request::builder().method(method).uri(path);
    for (n, v) in &headers {
        req = req.header(*n, *v);
    }
    let req = req
        .header("authorization", auth)
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.map_err(|e| e.to_string())?.into_data() {
            n += d.len() as u64;
        }
    }
    Ok((status, n))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub async fn run(a: ObjectsArgs) -> Result<(), String> {
    let t = target(&a.endpoint)?;
    let size = a.size_mb * 1_000_000;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..size / 8)
        .flat_map(|_| next_rand(&mut seed).to_le_bytes())
        .collect();
    let data = Bytes::from(data);
    let crc = {
        let mut h = crc32fast::Hasher::new();
        h.update(&data);
        b64(&h.finalize().to_be_bytes())
    };
    let src = a.dir.join("shoal-load-objects.src");
    let dst = a.dir.join("shoal-load-objects.dst");
    std::fs::write(&src, &data).map_err(|e| e.to_string())?;
    let mb = size as f64 / 1e6;

    let mut sender = connect(&t).await?;
    let bucket_path = format!("/{}", a.bucket);
    let (status, _) = s3(&mut sender, &a, &t, "PUT", &bucket_path, &[], Bytes::new()).await?;
    if status != 200 && status != 409 {
        return Err(format!("CreateBucket answered {status}"));
    }
    let key_path = format!("/{}/object.bin", a.bucket);
    let length = size.to_string();
    let (mut put, mut get, mut copy, mut read) = (vec![], vec![], vec![], vec![]);
    for _ in 0..a.rounds {
        let started = Instant::now();
        let headers = [
            ("content-length", length.as_str()),
            ("x-amz-checksum-crc32", crc.as_str()),
        ];
        let (status, _) = s3(
            &mut sender,
            &a,
            &t,
            "PUT",
            &key_path,
            &headers,
            data.clone(),
        )
        .await?;
        if status != 200 {
            return Err(format!("PutObject answered {status}"));
        }
        put.push(mb / started.elapsed().as_secs_f64());

        let started = Instant::now();
        let (status, n) = s3(&mut sender, &a, &t, "GET", &key_path, &[], Bytes::new()).await?;
        if status != 200 || n != size as u64 {
            return Err(format!("GetObject answered {status} with {n} bytes"));
        }
        get.push(mb / started.elapsed().as_secs_f64());

        let started = Instant::now();
        std::fs::copy(&src, &dst).map_err(|e| e.to_string())?;
        std::fs::File::open(&dst)
            .and_then(|f| f.sync_all())
            .map_err(|e| e.to_string())?;
        copy.push(mb / started.elapsed().as_secs_f64());

        let started = Instant::now();
        let mut f = std::fs::File::open(&dst).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut sink = std::io::sink();
        loop {
            let n = f.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            sink.write_all(&buf[..n]).map_err(|e| e.to_string())?;
        }
        read.push(mb / started.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&dst);
    let (put, get, copy, read) = (median(put), median(get), median(copy), median(read));
    println!("object of {mb:.0} MB, median of {} rounds, MB/s", a.rounds);
    println!(
        "  PutObject                {put:8.1}   file copy + fsync {copy:8.1}   ratio {:.2}x",
        copy / put
    );
    println!(
        "  GetObject                {get:8.1}   file read         {read:8.1}   ratio {:.2}x",
        read / get
    );
    Ok(())
}

fn b64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
