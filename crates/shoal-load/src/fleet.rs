//! Fleet-index load: shadow updates, queries and aggregations (driven by `api.rs`), the index
//! lag (a shadow change until a search finds it) and the time to rebuild the index.

use crate::api::{call, call_service, connect, next_rand, target, ApiArgs};
use crate::report::Summary;
use std::time::{Duration, Instant};

/// A reported state with a temperature and a firmware version, as the seed's queries expect.
pub fn shadow_body(rng: &mut u64) -> Vec<u8> {
    let r = next_rand(rng);
    format!(
        r#"{{"state":{{"reported":{{"temperature":{},"firmware":"1.{}.0"}}}}}}"#,
        r % 100,
        (r >> 8) % 4
    )
    .into_bytes()
}

/// The path and body of a search or aggregation request.
pub fn query_request(op: &str, query: &str, field: &str) -> (&'static str, Vec<u8>) {
    let q = serde_json::json!(query);
    let f = serde_json::json!(field);
    let (path, body) = match op {
        "statistics" => (
            "/indices/statistics",
            format!(r#"{{"queryString":{q},"aggregationField":{f}}}"#),
        ),
        "percentiles" => (
            "/indices/percentiles",
            format!(r#"{{"queryString":{q},"aggregationField":{f},"percents":[10,50,90,99]}}"#),
        ),
        "buckets" => (
            "/indices/buckets",
            format!(
                r#"{{"queryString":{q},"aggregationField":{f},"bucketsAggregationType":{{"termsAggregation":{{"maxBuckets":10}}}}}}"#
            ),
        ),
        _ => (
            "/indices/search",
            format!(r#"{{"indexName":"AWS_Things","queryString":{q},"maxResults":100}}"#),
        ),
    };
    (path, body.into_bytes())
}

/// `--count` times: report a new `seq` on one thing's shadow, then search for it every
/// millisecond until it is found. Prints the distribution of the lag.
pub async fn index_lag(a: ApiArgs) -> Result<(), String> {
    let t = target(&a.endpoint)?;
    let mut writer = connect(&t).await?;
    let mut reader = connect(&t).await?;
    let started = Instant::now();
    let mut lags = Vec::new();
    let mut errors = 0;
    let run = format!("{}", started.elapsed().as_nanos() ^ 0x5eed);
    for seq in 0..a.count {
        let marker = format!("{run}x{seq}");
        let body = format!(r#"{{"state":{{"reported":{{"lagmarker":"{marker}"}}}}}}"#);
        let t0 = Instant::now();
        let path = format!("/things/{}-0/shadow", a.prefix);
        match call_service(
            &mut writer,
            &a,
            &t,
            "POST",
            &path,
            "",
            body.into_bytes(),
            "iotdata",
        )
        .await
        {
            Ok((true, _)) => {}
            _ => {
                errors += 1;
                continue;
            }
        }
        let q = format!("shadow.reported.lagmarker:{marker}");
        let (p, search) = query_request("search", &q, "");
        loop {
            let (ok, out) = call(&mut reader, &a, &t, "POST", p, "", search.clone()).await?;
            if ok && out.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                lags.push(t0.elapsed().as_micros() as u64);
                break;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                errors += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Spread the samples over the run.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Summary::new(lags, errors, started.elapsed()).print("index lag (update until searchable)");
    Ok(())
}

/// Posts `--body` to UpdateIndexingConfiguration and waits for DescribeIndex to say ACTIVE.
pub async fn rebuild(a: ApiArgs) -> Result<(), String> {
    let t = target(&a.endpoint)?;
    let mut s = connect(&t).await?;
    let t0 = Instant::now();
    let (ok, out) = call(
        &mut s,
        &a,
        &t,
        "POST",
        "/indexing/config",
        "",
        a.body.clone().into_bytes(),
    )
    .await?;
    if !ok {
        return Err(format!(
            "UpdateIndexingConfiguration refused: {}",
            String::from_utf8_lossy(&out)
        ));
    }
    loop {
        let (_, out) = call(&mut s, &a, &t, "GET", "/indices/AWS_Things", "", Vec::new()).await?;
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        if v["indexStatus"] == "ACTIVE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("index rebuilt in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}
