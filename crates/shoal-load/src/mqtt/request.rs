//! Request/response load: `clients` devices, each sending one request and waiting for its answer
//! before the next (closed loop), or at `rate` requests per second. `shadow` sends Device
//! Shadow updates (`$aws/things/{device}/shadow/update`, QoS 1) and waits for `/update/accepted`;
//! `request` is the same pattern as plain publishes, answered by `responders` connections of the
//! load tool itself (each device publishes on `{prefix}/req/{r}/{device}`, responder `r` answers
//! on `{prefix}/resp/{device}`): the ceiling of a broker doing no work.

use super::conn::{self, Conn, Io, Target};
use super::MqttArgs;
use crate::report::Summary;
use bytes::Bytes;
use shoal_mqtt::{Packet, PubAck, QoS};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Barrier, Semaphore};

/// Devices opening their connection at the same time.
const OPENING: usize = 256;
/// How long a device waits for an answer before it counts the request as lost.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

struct Topics {
    request: String,
    answer: String,
    subscribe: Vec<String>,
}

fn topics(a: &MqttArgs, i: usize) -> Topics {
    let device = format!("{}-{i}", a.prefix);
    if a.scenario == "shadow" {
        let prefix = format!("$aws/things/{device}/shadow/update");
        Topics {
            request: prefix.clone(),
            answer: format!("{prefix}/accepted"),
            subscribe: vec![format!("{prefix}/accepted"), format!("{prefix}/rejected")],
        }
    } else {
        let answer = format!("{}/resp/{device}", a.prefix);
        Topics {
            request: format!("{}/req/{}/{device}", a.prefix, i % a.responders.max(1)),
            subscribe: vec![answer.clone()],
            answer,
        }
    }
}

fn body(a: &MqttArgs, seq: u64) -> Bytes {
    let pad = "x".repeat(a.payload.saturating_sub(48));
    Bytes::from(format!(
        r#"{{"state":{{"reported":{{"seq":{seq},"pad":"{pad}"}}}},"clientToken":"{seq}"}}"#
    ))
}

/// Acknowledges a QoS 1 delivery.
fn ack(c: &mut Conn<Box<dyn Io>>, p: &shoal_mqtt::Publish) -> Result<(), String> {
    if p.qos == QoS::AtLeastOnce {
        c.queue(&Packet::PubAck(PubAck {
            pkid: p.pkid,
            ..PubAck::default()
        }))?;
    }
    Ok(())
}

pub async fn run(a: &MqttArgs, target: &Target) -> Result<(), String> {
    let responders = if a.scenario == "request" {
        let mut r = Vec::new();
        for i in 0..a.responders.max(1) {
            let mut c = conn::open(target).await?;
            c.handshake(&format!("{}-responder-{i}", a.prefix), true)
                .await?;
            c.subscribe(&format!("{}/req/{i}/+", a.prefix), QoS::AtLeastOnce)
                .await?;
            r.push(tokio::spawn(respond(c, a.prefix.clone())));
        }
        r
    } else {
        Vec::new()
    };
    let ready = Arc::new(Barrier::new(a.clients + 1));
    let opening = Arc::new(Semaphore::new(OPENING));
    let mut devices = Vec::new();
    for i in 0..a.clients {
        let (a, target, ready, opening) =
            (a.clone(), target.clone(), ready.clone(), opening.clone());
        devices.push(tokio::spawn(async move {
            let t = topics(&a, i);
            let permit = opening.acquire_owned().await.map_err(|e| e.to_string())?;
            let mut c = conn::open(&target).await?;
            c.handshake(&format!("{}-{i}", a.prefix), true).await?;
            for f in &t.subscribe {
                c.subscribe(f, QoS::AtLeastOnce).await?;
            }
            drop(permit);
            ready.wait().await;
            tokio::time::sleep(Duration::from_secs(a.warmup)).await;
            device(c, &a, &t).await
        }));
    }
    tokio::select! {
        _ = ready.wait() => {}
        _ = tokio::time::sleep(Duration::from_secs(120)) => return Err("devices did not all connect within 120 s".into()),
    }
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    let started = Instant::now();
    let (mut latencies, mut lost, mut rejected) = (Vec::new(), 0usize, 0usize);
    let mut per_second: Vec<Vec<u64>> = vec![Vec::new(); a.seconds as usize + 1];
    // Connections close only once every device is done, so that disconnects do not weigh on
    // the last requests of the others.
    let mut open = Vec::with_capacity(devices.len());
    for d in devices {
        let (c, l, lo, re) = d.await.map_err(|e| e.to_string())??;
        open.push(c);
        for (at, us) in l {
            let second = at.saturating_duration_since(started).as_secs() as usize;
            per_second[second.min(a.seconds as usize)].push(us);
            latencies.push(us);
        }
        lost += lo;
        rejected += re;
    }
    let elapsed = started.elapsed().min(a.duration());
    drop(open);
    for r in responders {
        r.abort();
    }
    println!(
        "{} x{} payload {} B rate {}: {} answered, {lost} lost, {rejected} rejected",
        a.scenario,
        a.clients,
        a.payload,
        match (a.period_ms, a.rate) {
            (Some(ms), _) => format!("one per {ms} ms each"),
            (None, 0) => "closed loop".to_string(),
            (None, r) => format!("{r}/s each"),
        },
        latencies.len(),
    );
    Summary::new(latencies, lost + rejected, elapsed).print("  requests");
    if a.verbose {
        for (i, l) in per_second.into_iter().enumerate() {
            let n = l.len();
            let s = Summary::new(l, 0, Duration::from_secs(1));
            println!(
                "  second {i}: {n} answered, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                s.p50_us as f64 / 1000.0,
                s.p99_us as f64 / 1000.0,
                s.max_us as f64 / 1000.0
            );
        }
    }
    Ok(())
}

/// One device: request, wait for the answer, repeat until the run's time is up.
/// What a device measured: its connection (still open), when each answered request was sent
/// with its latency in µs, and the lost and rejected counts.
type Measured = (Conn<Box<dyn Io>>, Vec<(Instant, u64)>, usize, usize);

async fn device(mut c: Conn<Box<dyn Io>>, a: &MqttArgs, t: &Topics) -> Result<Measured, String> {
    let deadline = Instant::now() + a.duration();
    let period = match (a.period_ms, a.rate) {
        (Some(ms), _) => Some(Duration::from_millis(ms.max(1))),
        (None, 0) => None,
        (None, r) => Some(Duration::from_nanos(1_000_000_000 / r)),
    };
    let mut interval = period.map(|period| {
        // Spread the devices' first requests over one period.
        let start = tokio::time::Instant::now() + period.mul_f64(rand_fraction(&t.request));
        let mut i = tokio::time::interval_at(start, period);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    let (mut lat, mut lost, mut rejected) = (Vec::new(), 0, 0);
    let mut seq = 0u64;
    while Instant::now() < deadline {
        if let Some(i) = interval.as_mut() {
            i.tick().await;
        }
        seq += 1;
        let t0 = Instant::now();
        let pkid = (seq % 65_535 + 1) as u16;
        c.send(&conn::publish(
            &t.request,
            QoS::AtLeastOnce,
            pkid,
            body(a, seq),
        ))
        .await?;
        let answered = tokio::time::timeout(ANSWER_TIMEOUT, async {
            loop {
                match c.recv().await? {
                    Some(Packet::Publish(p)) => {
                        ack(&mut c, &p)?;
                        c.flush().await?;
                        return Ok::<_, String>(p.topic == t.answer);
                    }
                    Some(_) => continue,
                    None => return Err("closed".into()),
                }
            }
        })
        .await;
        match answered {
            Ok(Ok(true)) => lat.push((t0, t0.elapsed().as_micros() as u64)),
            Ok(Ok(false)) => rejected += 1,
            Ok(Err(e)) => return Err(e),
            Err(_) => lost += 1,
        }
    }
    Ok((c, lat, lost, rejected))
}

/// A stable fraction in [0, 1) from a name, to spread devices without a random source.
fn rand_fraction(s: &str) -> f64 {
    let h = s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    (h % 10_000) as f64 / 10_000.0
}

/// Answers every request on its device's answer topic with the request's payload.
async fn respond(mut c: Conn<Box<dyn Io>>, prefix: String) -> Result<(), String> {
    let mut pkid: u16 = 0;
    loop {
        match c.recv().await? {
            Some(Packet::Publish(p)) => {
                ack(&mut c, &p)?;
                let device = p.topic.rsplit('/').next().unwrap_or_default();
                pkid = pkid.wrapping_add(1).max(1);
                c.queue(&conn::publish(
                    &format!("{prefix}/resp/{device}"),
                    QoS::AtLeastOnce,
                    pkid,
                    p.payload.clone(),
                ))?;
                if c.rbuf.is_empty() {
                    c.flush().await?;
                }
            }
            Some(_) => {}
            None => return Ok(()),
        }
    }
}
