//! Control-plane load: N clients, each on its own keep-alive connection, signing every request.

use crate::report::Summary;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(clap::Args, Clone)]
pub struct ApiArgs {
    /// create-thing, describe-thing, list-things, create-keys-and-certificate, update-shadow,
    /// search, statistics, percentiles, buckets, index-lag (a shadow change until a search
    /// finds it) or rebuild (UpdateIndexingConfiguration with --body until DescribeIndex says
    /// ACTIVE).
    #[arg(long, default_value = "")]
    pub(crate) op: String,
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub(crate) endpoint: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub(crate) key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub(crate) secret: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub(crate) region: String,
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// Requests in all (create-thing creates this many things, numbered from --start).
    #[arg(long, default_value_t = 100_000)]
    pub(crate) count: usize,
    /// First thing number (create-thing) or number of existing things to pick from (describe-thing).
    #[arg(long, default_value_t = 0)]
    pub(crate) start: usize,
    /// describe-thing: things `PREFIX-0` .. `PREFIX-(things-1)` exist.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) things: usize,
    #[arg(long, default_value = "load")]
    pub(crate) prefix: String,
    /// Stop after this many seconds even if --count is not reached.
    #[arg(long, default_value_t = 120)]
    pub(crate) max_seconds: u64,
    /// Fleet-index query (search and the aggregations).
    #[arg(long, default_value = "*")]
    pub(crate) query: String,
    /// Aggregation field.
    #[arg(long, default_value = "attributes.n")]
    pub(crate) field: String,
    /// Requests per second across all clients (0: as fast as they go).
    #[arg(long, default_value_t = 0)]
    pub(crate) rate: u64,
    /// rebuild: the UpdateIndexingConfiguration body.
    #[arg(long, default_value = "")]
    pub(crate) body: String,
}

pub(crate) struct Target {
    host: String,
    addr: String,
}

impl Target {
    pub(crate) fn host(&self) -> &str {
        &self.host
    }
}

pub(crate) fn target(endpoint: &str) -> Result<Target, String> {
    let rest = endpoint
        .strip_prefix("http://")
        .ok_or("only http:// endpoints are supported")?;
    let host = rest.trim_end_matches('/').to_string();
    Ok(Target {
        addr: host.clone(),
        host,
    })
}

fn amz_date() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    shoal_sigv4::format_amz_date(now)
}

/// One signed request; returns whether it got a 200.
pub(crate) async fn call(
    sender: &mut SendRequest<Full<Bytes>>,
    a: &ApiArgs,
    t: &Target,
    method: &str,
    path: &str,
    query: &str,
    body: Vec<u8>,
) -> Result<(bool, Bytes), String> {
    call_service(sender, a, t, method, path, query, body, "iot").await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn call_service(
    sender: &mut SendRequest<Full<Bytes>>,
    a: &ApiArgs,
    t: &Target,
    method: &str,
    path: &str,
    query: &str,
    body: Vec<u8>,
    service: &str,
) -> Result<(bool, Bytes), String> {
    let date = amz_date();
    let hash = shoal_sigv4::sha256_hex(&body);
    let headers = [("host", t.host.as_str()), ("x-amz-date", date.as_str())];
    let auth = shoal_sigv4::authorization_header(
        method, path, query, &headers, &hash, &a.key, &a.secret, &date, &a.region, service,
    );
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", &t.host)
        .header("x-amz-date", &date)
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    // A fresh connection may not be ready for its first request yet.
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let ok = resp.status().is_success();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((ok, bytes))
}

pub(crate) async fn connect(t: &Target) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(&t.addr)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

/// A tiny xorshift so the load tool needs no random-number crate.
pub(crate) fn next_rand(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

pub async fn run(a: ApiArgs) -> Result<(), String> {
    match a.op.as_str() {
        "index-lag" => return crate::fleet::index_lag(a).await,
        "rebuild" => return crate::fleet::rebuild(a).await,
        _ => {}
    }
    let t = Arc::new(target(&a.endpoint)?);
    let a = Arc::new(a);
    let issued = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(a.max_seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..a.concurrency {
        let (a, t, issued) = (a.clone(), t.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(&t).await?;
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (worker as u64 + 1);
            let mut token: Option<String> = None;
            // At a fixed rate each client sends one request every `concurrency / rate` seconds.
            let pace = (a.rate > 0).then(|| Duration::from_secs_f64(a.concurrency as f64 / a.rate as f64));
            let mut next_at = Instant::now() + pace.map(|p| p.mul_f64(worker as f64 / a.concurrency as f64)).unwrap_or_default();
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= a.count || Instant::now() > deadline {
                    break;
                }
                if let Some(p) = pace {
                    tokio::time::sleep_until(next_at.into()).await;
                    next_at += p;
                }
                let t0 = Instant::now();
                let r = match a.op.as_str() {
                    "create-thing" => {
                        let i = a.start + n;
                        let body = format!(r#"{{"attributePayload":{{"attributes":{{"n":"{i}","batch":"b{}"}}}}}}"#, i % 16);
                        call(&mut sender, &a, &t, "POST", &format!("/things/{}-{i}", a.prefix), "", body.into_bytes()).await
                    }
                    "create-keys-and-certificate" => {
                        call(&mut sender, &a, &t, "POST", "/keys-and-certificate", "setAsActive=true", Vec::new()).await
                    }
                    "describe-thing" => {
                        let i = next_rand(&mut rng) as usize % a.things.max(1);
                        call(&mut sender, &a, &t, "GET", &format!("/things/{}-{i}", a.prefix), "", Vec::new()).await
                    }
                    "list-things" => {
                        let q = match &token {
                            Some(tok) => format!("maxResults=250&nextToken={tok}"),
                            None => "maxResults=250".to_string(),
                        };
                        let r = call(&mut sender, &a, &t, "GET", "/things", &q, Vec::new()).await;
                        if let Ok((true, body)) = &r {
                            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                            token = v["nextToken"].as_str().map(str::to_string);
                        }
                        r
                    }
                    "update-shadow" => {
                        let i = (a.start + n) % a.things.max(1);
                        let body = crate::fleet::shadow_body(&mut rng);
                        call_service(&mut sender, &a, &t, "POST", &format!("/things/{}-{i}/shadow", a.prefix), "", body, "iotdata").await
                    }
                    "search" | "statistics" | "percentiles" | "buckets" => {
                        let (path, body) = crate::fleet::query_request(&a.op, &a.query, &a.field);
                        call(&mut sender, &a, &t, "POST", path, "", body).await
                    }
                    other => return Err(format!("unknown op {other}")),
                };
                match r {
                    Ok((true, _)) => lat.push(t0.elapsed().as_micros() as u64),
                    Ok((false, _)) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        sender = connect(&t).await?;
                    }
                }
            }
            Ok::<_, String>((lat, errors))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (lat, e) = task.await.map_err(|e| e.to_string())??;
        all.extend(lat);
        errors += e;
    }
    let s = Summary::new(all, errors, started.elapsed());
    s.print(&format!("{} x{}", a.op, a.concurrency));
    Ok(())
}

impl ApiArgs {
    /// One ListThings call against an endpoint, for the start-up measurement.
    pub fn for_one_request(endpoint: String, key: String, secret: String) -> ApiArgs {
        ApiArgs {
            op: "list-things".into(),
            endpoint,
            key,
            secret,
            region: "us-east-1".into(),
            concurrency: 1,
            count: 1,
            start: 0,
            things: 1,
            prefix: "load".into(),
            max_seconds: 10,
            query: "*".into(),
            field: "attributes.n".into(),
            rate: 0,
            body: String::new(),
        }
    }
}

/// Runs one request and fails unless it got a 200.
pub async fn run_quiet(a: ApiArgs) -> Result<(), String> {
    let t = target(&a.endpoint)?;
    let mut sender = connect(&t).await?;
    match call(
        &mut sender,
        &a,
        &t,
        "GET",
        "/things",
        "maxResults=1",
        Vec::new(),
    )
    .await?
    {
        (true, _) => Ok(()),
        (false, body) => Err(format!(
            "request refused: {}",
            String::from_utf8_lossy(&body)
        )),
    }
}
