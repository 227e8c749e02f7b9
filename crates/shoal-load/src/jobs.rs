//! Jobs load: a simulated fleet of devices that carry out jobs over MQTT — succeeding,
//! failing, rejecting or staying silent in set proportions — and the time a job takes to
//! exist for every target.
//!
//! - `setup`: things `PREFIX-0..N` in the static group `PREFIX-fleet` (CreateThing and
//!   AddThingToThingGroup, `--concurrency` at a time).
//! - `create`: CreateJob on that group, then DescribeJob until every execution exists.
//! - `fleet`: N devices connect (plain listener, an access key as MQTT login, the thing name
//!   as client id) and wait for `notify-next`; a job on the group is created; each device
//!   answers its execution with one `update` and times the round trip to `update/accepted`.
//!   Prints executions notified per second and the update round trips.

use crate::api::{call, connect, target, ApiArgs};
use crate::mqtt::conn::{self, Target};
use crate::report::Summary;
use shoal_mqtt::{Packet, QoS};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct JobsArgs {
    /// setup, create, fleet or simulate (a fleet that stays connected, see simulate.rs).
    #[arg(long)]
    pub scenario: String,
    #[command(flatten)]
    pub api: ApiArgs,
    /// The MQTT listener (plain TCP; the access key is the login).
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub mqtt: String,
    /// Devices (things) in the fleet.
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    /// Shares of devices that succeed, fail and reject; the rest stay silent.
    #[arg(long, default_value_t = 1.0)]
    pub succeed: f64,
    #[arg(long, default_value_t = 0.0)]
    pub fail: f64,
    #[arg(long, default_value_t = 0.0)]
    pub reject: f64,
    /// Job id (a new one per run by default).
    #[arg(long)]
    pub job: Option<String>,
    /// Progress updates (IN_PROGRESS with status details) each answering device sends, one
    /// after the other's answer, before its final status.
    #[arg(long, default_value_t = 0)]
    pub updates: usize,
    /// Progress updates per second across the fleet (0: each device sends its next one as soon
    /// as the last is answered, a closed loop).
    #[arg(long, default_value_t = 0)]
    pub update_rate: u64,
}

fn group(a: &JobsArgs) -> String {
    format!("{}-fleet", a.api.prefix)
}

pub(crate) fn thing(a: &JobsArgs, i: usize) -> String {
    format!("{}-{i}", a.api.prefix)
}

fn job_id(a: &JobsArgs) -> String {
    a.job.clone().unwrap_or_else(|| {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        format!("{}-job-{n}", a.api.prefix)
    })
}

pub async fn run(a: JobsArgs) -> Result<(), String> {
    match a.scenario.as_str() {
        "setup" => setup(&a).await,
        "create" => create(&a).await,
        "fleet" => fleet(&a).await,
        "simulate" => crate::simulate::simulate(&a).await,
        other => Err(format!("unknown jobs scenario {other}")),
    }
}

async fn setup(a: &JobsArgs) -> Result<(), String> {
    let t = Arc::new(target(&a.api.endpoint)?);
    let mut s = connect(&t).await?;
    let g = group(a);
    let _ = call(
        &mut s,
        &a.api,
        &t,
        "POST",
        &format!("/thing-groups/{g}"),
        "",
        b"{}".to_vec(),
    )
    .await?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.api.concurrency {
        let (a, t, next, g) = (a.clone(), t.clone(), next.clone(), g.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = connect(&t).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= a.devices {
                    return Ok::<(), String>(());
                }
                let name = thing(&a, i);
                call(
                    &mut s,
                    &a.api,
                    &t,
                    "POST",
                    &format!("/things/{name}"),
                    "",
                    b"{}".to_vec(),
                )
                .await?;
                let body = format!(r#"{{"thingGroupName":"{g}","thingName":"{name}"}}"#);
                let (ok, b) = call(
                    &mut s,
                    &a.api,
                    &t,
                    "PUT",
                    "/thing-groups/addThingToThingGroup",
                    "",
                    body.into_bytes(),
                )
                .await?;
                if !ok {
                    return Err(format!(
                        "AddThingToThingGroup {name}: {}",
                        String::from_utf8_lossy(&b)
                    ));
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    println!(
        "setup: {} things in group {g} in {:.1} s",
        a.devices,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// CreateJob on the fleet's group; returns the job id and when it was answered.
async fn create_job(a: &JobsArgs) -> Result<(String, Instant), String> {
    let t = target(&a.api.endpoint)?;
    let mut s = connect(&t).await?;
    let id = job_id(a);
    let account = account_of(a, &t, &mut s).await?;
    let body = serde_json::json!({
        "targets": [format!("arn:aws:iot:{}:{account}:thinggroup/{}", a.api.region, group(a))],
        "document": r#"{"operation":"load"}"#,
    });
    let t0 = Instant::now();
    let (ok, b) = call(
        &mut s,
        &a.api,
        &t,
        "PUT",
        &format!("/jobs/{id}"),
        "",
        body.to_string().into_bytes(),
    )
    .await?;
    if !ok {
        return Err(format!("CreateJob: {}", String::from_utf8_lossy(&b)));
    }
    Ok((id, t0))
}

/// The account of the caller's key, from the group's ARN.
async fn account_of(
    a: &JobsArgs,
    t: &crate::api::Target,
    s: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
) -> Result<String, String> {
    let (ok, b) = call(
        s,
        &a.api,
        t,
        "GET",
        &format!("/thing-groups/{}", group(a)),
        "",
        Vec::new(),
    )
    .await?;
    if !ok {
        return Err(format!(
            "DescribeThingGroup: {}",
            String::from_utf8_lossy(&b)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&b).map_err(|e| e.to_string())?;
    v["thingGroupArn"]
        .as_str()
        .and_then(|arn| arn.split(':').nth(4))
        .map(str::to_string)
        .ok_or_else(|| "no group ARN".to_string())
}

async fn create(a: &JobsArgs) -> Result<(), String> {
    let (id, t0) = create_job(a).await?;
    let answered = t0.elapsed();
    let t = target(&a.api.endpoint)?;
    let mut s = connect(&t).await?;
    loop {
        let (ok, b) = call(
            &mut s,
            &a.api,
            &t,
            "GET",
            &format!("/jobs/{id}"),
            "",
            Vec::new(),
        )
        .await?;
        if !ok {
            return Err(format!("DescribeJob: {}", String::from_utf8_lossy(&b)));
        }
        let v: serde_json::Value = serde_json::from_slice(&b).map_err(|e| e.to_string())?;
        let d = &v["job"]["jobProcessDetails"];
        let made: u64 = [
            "numberOfQueuedThings",
            "numberOfInProgressThings",
            "numberOfSucceededThings",
            "numberOfFailedThings",
        ]
        .iter()
        .map(|k| d[k].as_u64().unwrap_or(0))
        .sum();
        if made >= a.devices as u64 {
            let secs = t0.elapsed().as_secs_f64();
            println!(
                "create: job {id} over {} targets answered in {:.1} ms; every execution exists after {:.2} s = {:.0} executions/s",
                a.devices,
                answered.as_secs_f64() * 1000.0,
                secs,
                a.devices as f64 / secs
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a simulated device does with its execution.
#[derive(Clone, Copy)]
pub(crate) enum Outcome {
    Succeed,
    Fail,
    Reject,
    Silent,
}

pub(crate) fn outcome(a: &JobsArgs, i: usize) -> Outcome {
    // Spread the shares over the fleet evenly (device i of 100 in each hundred).
    let x = (i % 1000) as f64 / 1000.0;
    if x < a.succeed {
        Outcome::Succeed
    } else if x < a.succeed + a.fail {
        Outcome::Fail
    } else if x < a.succeed + a.fail + a.reject {
        Outcome::Reject
    } else {
        Outcome::Silent
    }
}

async fn fleet(a: &JobsArgs) -> Result<(), String> {
    let target = Target {
        addr: a.mqtt.clone(),
        tls: None,
        login: Some((a.api.key.clone(), a.api.secret.clone())),
    };
    let notified = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let round_trips = Arc::new(Mutex::new(Vec::<u64>::new()));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(a.devices.max(1));
    let (go_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let done = Arc::new(tokio::sync::Semaphore::new(0));
    let mut tasks: Vec<tokio::task::JoinHandle<Result<(), String>>> = Vec::new();
    let connecting = Arc::new(tokio::sync::Semaphore::new(64));
    for i in 0..a.devices {
        let (a, target, notified, round_trips, ready, done, connecting) = (
            a.clone(),
            target.clone(),
            notified.clone(),
            round_trips.clone(),
            ready_tx.clone(),
            done.clone(),
            connecting.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let name = thing(&a, i);
            let mut c = {
                let _permit = connecting.acquire().await.map_err(|e| e.to_string())?;
                let mut c = conn::open(&target).await?;
                c.handshake(&name, true).await?;
                c.subscribe(
                    &format!("$aws/things/{name}/jobs/notify-next"),
                    QoS::AtLeastOnce,
                )
                .await?;
                c.subscribe(
                    &format!("$aws/things/{name}/jobs/+/update/+"),
                    QoS::AtLeastOnce,
                )
                .await?;
                c
            };
            let _ = ready.send(()).await;
            let mut sent_at: Option<Instant> = None;
            let (mut job_id, mut left, mut final_status) = (String::new(), 0usize, "SUCCEEDED");
            let period = (a.update_rate > 0)
                .then(|| Duration::from_secs_f64(a.devices as f64 / a.update_rate as f64));
            let mut last_send = Instant::now();
            loop {
                let Some(p) = c.recv().await? else {
                    return Err(format!("{name}: connection closed"));
                };
                let Packet::Publish(p) = p else { continue };
                if p.qos != QoS::AtMostOnce {
                    c.send(&Packet::PubAck(shoal_mqtt::PubAck {
                        pkid: p.pkid,
                        ..Default::default()
                    }))
                    .await?;
                }
                if p.topic.ends_with("/notify-next") {
                    let v: serde_json::Value =
                        serde_json::from_slice(&p.payload).unwrap_or_default();
                    let Some(job) = v["execution"]["jobId"].as_str() else {
                        continue;
                    };
                    if v["execution"]["status"] != "QUEUED" || sent_at.is_some() {
                        continue;
                    }
                    notified.lock().expect("notified").push(Instant::now());
                    let status = match outcome(&a, i) {
                        Outcome::Succeed => "SUCCEEDED",
                        Outcome::Fail => "FAILED",
                        Outcome::Reject => "REJECTED",
                        Outcome::Silent => {
                            done.add_permits(1);
                            continue;
                        }
                    };
                    final_status = status;
                    job_id = job.to_string();
                    left = a.updates;
                    sent_at = Some(Instant::now());
                    // Spread the devices' phases over one period, so the fleet's updates come
                    // at an even rate rather than in waves.
                    last_send = match period {
                        Some(p) => Instant::now() + p.mul_f64(i as f64 / a.devices as f64),
                        None => Instant::now(),
                    };
                    send_update(&mut c, &name, &job_id, left, final_status).await?;
                } else if p.topic.ends_with("/update/accepted")
                    || p.topic.ends_with("/update/rejected")
                {
                    if let Some(t0) = sent_at.take() {
                        // At a fixed rate the first update of every device comes in the burst
                        // of notifications: only the paced ones are measured.
                        if period.is_none() || left < a.updates {
                            round_trips
                                .lock()
                                .expect("round trips")
                                .push(t0.elapsed().as_micros() as u64);
                        }
                        if left == 0 {
                            done.add_permits(1);
                        } else {
                            left -= 1;
                            if let Some(p) = period {
                                // A fixed rate: each device's updates a period apart.
                                last_send += p;
                                tokio::time::sleep_until(last_send.into()).await;
                            }
                            sent_at = Some(Instant::now());
                            send_update(&mut c, &name, &job_id, left, final_status).await?;
                        }
                    }
                }
            }
        }));
    }
    drop(ready_tx);
    let connect_started = Instant::now();
    let mut ready = 0;
    while ready < a.devices {
        if ready_rx.recv().await.is_none() {
            break;
        }
        ready += 1;
    }
    let _ = go_tx;
    println!(
        "fleet: {ready} devices connected and subscribed in {:.1} s",
        connect_started.elapsed().as_secs_f64()
    );
    let (id, t0) = create_job(a).await?;
    let answering = (0..ready)
        .filter(|i| !matches!(outcome(a, *i), Outcome::Silent))
        .count();
    let wait = done.acquire_many(ready as u32);
    match tokio::time::timeout(Duration::from_secs(a.api.max_seconds), wait).await {
        Ok(_) => {}
        Err(_) => println!(
            "fleet: not every device finished within {} s",
            a.api.max_seconds
        ),
    }
    let total = t0.elapsed();
    let notes = notified.lock().expect("notified").clone();
    let last = notes
        .iter()
        .max()
        .map(|t| t.duration_since(t0))
        .unwrap_or_default();
    println!(
        "fleet: job {id}: {} devices notified, the last {:.2} s after CreateJob = {:.0} notifications/s",
        notes.len(),
        last.as_secs_f64(),
        notes.len() as f64 / last.as_secs_f64().max(1e-9)
    );
    let rts = round_trips.lock().expect("round trips").clone();
    println!(
        "fleet: {answering} devices answered with {} update(s) each",
        a.updates + 1
    );
    Summary::new(rts, 0, total).print("fleet: update round trips (durable)");
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// One `update` of a device's execution: IN_PROGRESS with its progress while `left` more are
/// to come, then the final status.
async fn send_update(
    c: &mut conn::Conn<Box<dyn conn::Io>>,
    thing: &str,
    job: &str,
    left: usize,
    final_status: &str,
) -> Result<(), String> {
    let topic = format!("$aws/things/{thing}/jobs/{job}/update");
    let body = if left > 0 {
        format!(r#"{{"status":"IN_PROGRESS","statusDetails":{{"left":"{left}"}}}}"#)
    } else {
        format!(r#"{{"status":"{final_status}"}}"#)
    };
    c.send(&conn::publish(&topic, QoS::AtMostOnce, 0, body.into()))
        .await
}
