//! The scenarios. Every message's payload starts with the nanoseconds since the run began, so a
//! subscriber in the same process measures the end-to-end latency.

use super::conn::{self, Target};
use super::MqttArgs;
use crate::report::Summary;
use bytes::{BufMut, Bytes, BytesMut};
use shoal_mqtt::{Packet, PubAck, PubComp, PubRec, PubRel, QoS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Barrier, Semaphore};

/// Time after the publishers stop in which deliveries still count.
const GRACE: Duration = Duration::from_secs(2);

fn qos(a: &MqttArgs) -> Result<QoS, String> {
    match a.qos {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        q => Err(format!("qos {q} does not exist")),
    }
}

fn payload(base: Instant, size: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(size.max(8));
    b.put_u64(base.elapsed().as_nanos() as u64);
    b.resize(size.max(8), b'x');
    b.freeze()
}

/// `{"t":NANOS,"n":N,"p":"xx.."}` padded to `size` (at least its fields).
fn json_payload(base: Instant, n: u64, size: usize) -> Bytes {
    let head = format!(
        "{{\"t\":{},\"n\":{},\"p\":\"",
        base.elapsed().as_nanos() as u64,
        n % 10_000
    );
    let pad = size.saturating_sub(head.len() + 2);
    let mut b = BytesMut::with_capacity(head.len() + pad + 2);
    b.extend_from_slice(head.as_bytes());
    b.resize(head.len() + pad, b'x');
    b.extend_from_slice(b"\"}");
    b.freeze()
}

/// The send time a payload carries: the first 8 bytes, or a JSON payload's `"t"`.
fn sent_ns(payload: &[u8]) -> Option<u64> {
    if payload.first() == Some(&b'{') {
        let at = payload.windows(4).position(|w| w == b"\"t\":")? + 4;
        let digits: Vec<u8> = payload[at..]
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        return std::str::from_utf8(&digits).ok()?.parse().ok();
    }
    Some(u64::from_be_bytes(payload.get(..8)?.try_into().ok()?))
}

/// (publisher topics, subscriber filters, deliveries per message) of a message scenario.
fn topology(a: &MqttArgs) -> (Vec<String>, Vec<String>, u64) {
    let p = &a.prefix;
    match a.scenario.as_str() {
        "fan-in" => (
            (0..a.clients).map(|i| format!("{p}/in/{i}")).collect(),
            vec![format!("{p}/in/+")],
            1,
        ),
        "fan-out" => (
            vec![format!("{p}/out")],
            vec![format!("{p}/out"); a.clients],
            a.clients as u64,
        ),
        _ => {
            let topics: Vec<String> = (0..a.clients).map(|i| format!("{p}/pair/{i}")).collect();
            (topics.clone(), topics, 1)
        }
    }
}

pub async fn messages(a: &MqttArgs, target: &Target) -> Result<(), String> {
    let qos = qos(a)?;
    let (pubs, mut subs, fanout) = topology(a);
    if let Some(f) = &a.subscribe {
        subs = vec![f.clone(); subs.len()];
    }
    let base = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    // The closed loop: a permit per delivery on its way.
    let outstanding = (a.outstanding > 0).then(|| Arc::new(Semaphore::new(a.outstanding)));
    // Everyone starts together, this task too: its release marks the start of the window.
    let ready = Arc::new(Barrier::new(pubs.len() + subs.len() + 1));
    let mut sub_tasks = Vec::new();
    for (i, filter) in subs.into_iter().enumerate() {
        let (a, target, ready) = (a.clone(), target.clone(), ready.clone());
        let outstanding = outstanding.clone();
        sub_tasks.push(tokio::spawn(async move {
            let mut c = conn::open(&target).await?;
            c.handshake(&format!("{}-sub-{i}", a.prefix), true).await?;
            c.subscribe(&filter, qos).await?;
            ready.wait().await;
            subscriber(c, base, a.duration() + GRACE, outstanding).await
        }));
    }
    let mut pub_tasks = Vec::new();
    for (i, topic) in pubs.into_iter().enumerate() {
        let (a, target, ready, sent) = (a.clone(), target.clone(), ready.clone(), sent.clone());
        let loop_ = outstanding.clone().map(|s| (s, fanout as u32));
        pub_tasks.push(tokio::spawn(async move {
            let mut c = conn::open(&target).await?;
            c.handshake(&format!("{}-pub-{i}", a.prefix), true).await?;
            ready.wait().await;
            publisher(c, &a, &topic, qos, base, &sent, loop_).await
        }));
    }
    tokio::select! {
        _ = ready.wait() => {}
        // A client that cannot connect never reaches the barrier: report it instead of waiting.
        _ = tokio::time::sleep(Duration::from_secs(60)) => return Err("clients did not all connect within 60 s".into()),
    }
    let window_start = base.elapsed();
    let window_end = window_start + a.duration();
    for t in pub_tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let mut latencies = Vec::new();
    let mut in_window = 0u64;
    for t in sub_tasks {
        for (at, lat) in t.await.map_err(|e| e.to_string())?? {
            if at >= window_start && at <= window_end {
                in_window += 1;
            }
            latencies.push(lat);
        }
    }
    let sent = sent.load(Ordering::Relaxed);
    let expected = sent * fanout;
    let received = latencies.len() as u64;
    // Throughput counts deliveries inside the publishing window only; latency covers them all.
    let s = Summary::new(latencies, 0, a.duration());
    println!(
        "{} qos{} x{} payload {} B rate {}{}: sent {sent}, expected {expected}, received {received}, lost {}",
        a.scenario,
        a.qos,
        a.clients,
        a.payload,
        if a.rate == 0 { "max".to_string() } else { format!("{}/s each", a.rate) },
        if a.outstanding == 0 { String::new() } else { format!(" outstanding {}", a.outstanding) },
        expected.saturating_sub(received)
    );
    println!(
        "  throughput: {:.0} deliveries/s within the {} s window ({:.0} sent/s)",
        in_window as f64 / a.duration().as_secs_f64(),
        a.seconds,
        sent as f64 / a.duration().as_secs_f64()
    );
    s.print_latency("  latency");
    Ok(())
}

/// Reads deliveries until `until` has passed, acknowledging QoS 1 and 2 (PUBREC, then PUBCOMP
/// for the server's PUBREL); returns, per delivery, when it arrived (since `base`) and its
/// latency in µs. Each delivery gives the closed loop's permit back.
async fn subscriber(
    mut c: conn::Conn<Box<dyn conn::Io>>,
    base: Instant,
    until: Duration,
    outstanding: Option<Arc<Semaphore>>,
) -> Result<Vec<(Duration, u64)>, String> {
    let mut lat = Vec::with_capacity(1 << 16);
    let deadline = base + until;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(lat);
        }
        let p = match tokio::time::timeout(left, c.recv()).await {
            Err(_) => return Ok(lat),
            Ok(r) => r?,
        };
        match p {
            Some(Packet::Publish(p)) => {
                if let Some(sent_ns) = sent_ns(&p.payload) {
                    let now = base.elapsed();
                    lat.push((now, (now.as_nanos() as u64).saturating_sub(sent_ns) / 1000));
                }
                if let Some(o) = &outstanding {
                    o.add_permits(1);
                }
                let pkid = p.pkid;
                match p.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => c.queue(&Packet::PubAck(PubAck {
                        pkid,
                        ..PubAck::default()
                    }))?,
                    QoS::ExactlyOnce => c.queue(&Packet::PubRec(PubRec {
                        pkid,
                        ..PubRec::default()
                    }))?,
                }
                if c.rbuf.is_empty() {
                    c.flush().await?;
                }
            }
            Some(Packet::PubRel(r)) => {
                c.queue(&Packet::PubComp(PubComp {
                    pkid: r.pkid,
                    ..PubComp::default()
                }))?;
                if c.rbuf.is_empty() {
                    c.flush().await?;
                }
            }
            Some(_) => {}
            None => return Ok(lat),
        }
    }
}

/// Publishes until the run's duration has passed: at `rate` per second, or as fast as the
/// broker takes them (QoS 1 and 2 bounded by `inflight` unacknowledged messages, and every
/// message by the closed loop's permits, `fanout` per message, when there is one).
async fn publisher(
    c: conn::Conn<Box<dyn conn::Io>>,
    a: &MqttArgs,
    topic: &str,
    qos: QoS,
    base: Instant,
    sent: &AtomicU64,
    closed_loop: Option<(Arc<Semaphore>, u32)>,
) -> Result<(), String> {
    let deadline = Instant::now() + a.duration();
    let window = Arc::new(Semaphore::new(a.inflight.max(1)));
    let (mut rd, mut wr) = tokio::io::split(c.io);
    // QoS 2: the PUBRECs read, for the writer to answer with PUBREL.
    let (recs, mut to_release) = tokio::sync::mpsc::unbounded_channel::<u16>();
    let acks = {
        let window = window.clone();
        let mut rbuf = c.rbuf;
        tokio::spawn(async move {
            loop {
                match shoal_mqtt::decode(&mut rbuf, shoal_mqtt::Protocol::V311, 1 << 20) {
                    Ok(Some(Packet::PubAck(_) | Packet::PubComp(_))) => window.add_permits(1),
                    Ok(Some(Packet::PubRec(r))) => {
                        let _ = recs.send(r.pkid);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => match rd.read_buf(&mut rbuf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    },
                    Err(_) => return,
                }
            }
        })
    };
    let mut interval = (a.rate > 0).then(|| {
        let mut i = tokio::time::interval(Duration::from_nanos(1_000_000_000 / a.rate));
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        i
    });
    let mut wbuf = BytesMut::with_capacity(64 * 1024);
    let mut pkid: u16 = 0;
    // JSON payloads' `n`: each publisher starts elsewhere in the cycle.
    let mut n: u64 = topic.bytes().map(u64::from).sum::<u64>() * 7919;
    while Instant::now() < deadline {
        // Batch writes when sending flat out; one message per tick at a fixed rate.
        let batch = if interval.is_some() { 1 } else { 32 };
        if let Some(i) = interval.as_mut() {
            i.tick().await;
        }
        for _ in 0..batch {
            if let Some((permits, fanout)) = &closed_loop {
                // A broker that forwards QoS 2 only once released (PUBREL) returns permits only
                // after this publisher's PUBRELs: they go out while it waits.
                let taken = take_permits(
                    permits,
                    *fanout,
                    &mut to_release,
                    &mut wbuf,
                    &mut wr,
                    deadline,
                );
                if !taken.await? {
                    break;
                }
            }
            if qos != QoS::AtMostOnce {
                while let Ok(pk) = to_release.try_recv() {
                    release(&mut wbuf, pk)?;
                }
                // Waiting for room in the window, PUBRECs still get their PUBREL.
                if !take_permits(&window, 1, &mut to_release, &mut wbuf, &mut wr, deadline).await? {
                    break;
                }
                pkid = pkid.wrapping_add(1).max(1);
            }
            let body = if a.json {
                json_payload(base, n, a.payload)
            } else {
                payload(base, a.payload)
            };
            n += 1;
            let p = conn::publish(topic, qos, pkid, body);
            shoal_mqtt::encode(&p, shoal_mqtt::Protocol::V311, &mut wbuf)
                .map_err(|e| e.to_string())?;
            sent.fetch_add(1, Ordering::Relaxed);
        }
        wr.write_all(&wbuf).await.map_err(|e| e.to_string())?;
        wbuf.clear();
    }
    // Let the last acknowledgements arrive (and QoS 2 exchanges finish) before closing.
    let all = a.inflight.max(1) as u32;
    let end = Instant::now() + GRACE;
    let _ = take_permits(&window, all, &mut to_release, &mut wbuf, &mut wr, end).await;
    acks.abort();
    Ok(())
}

/// Waits for `n` permits of `sem`, answering PUBRECs with PUBREL meanwhile; `false` when
/// `until` came first. What is batched is written first if it has to wait: the permits may
/// depend on it.
async fn take_permits<W: tokio::io::AsyncWrite + Unpin>(
    sem: &Semaphore,
    n: u32,
    to_release: &mut tokio::sync::mpsc::UnboundedReceiver<u16>,
    wbuf: &mut BytesMut,
    wr: &mut W,
    until: Instant,
) -> Result<bool, String> {
    if !wbuf.is_empty() && sem.available_permits() < n as usize {
        wr.write_all(wbuf).await.map_err(|e| e.to_string())?;
        wbuf.clear();
    }
    loop {
        tokio::select! {
            biased;
            Some(pk) = to_release.recv() => {
                release(wbuf, pk)?;
                wr.write_all(wbuf).await.map_err(|e| e.to_string())?;
                wbuf.clear();
            }
            p = sem.acquire_many(n) => {
                p.map_err(|e| e.to_string())?.forget();
                return Ok(true);
            }
            () = tokio::time::sleep_until(until.into()) => return Ok(false),
        }
    }
}

/// Queues PUBREL for a QoS 2 publish the broker has received (PUBREC).
fn release(wbuf: &mut BytesMut, pkid: u16) -> Result<(), String> {
    let rel = Packet::PubRel(PubRel {
        pkid,
        ..PubRel::default()
    });
    shoal_mqtt::encode(&rel, shoal_mqtt::Protocol::V311, wbuf).map_err(|e| e.to_string())
}

/// Connects and disconnects as fast as `clients` concurrent workers can, or, with `--rate`,
/// each worker that many times a second (devices joining and leaving, for the soak).
pub async fn connects(a: &MqttArgs, target: &Target) -> Result<(), String> {
    let deadline = Instant::now() + a.duration();
    let started = Instant::now();
    let total = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..a.clients {
        let (a, target, total) = (a.clone(), target.clone(), total.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut n = 0u64;
            let mut pace = (a.rate > 0).then(|| {
                let mut t = tokio::time::interval(Duration::from_secs(1) / a.rate as u32);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            while Instant::now() < deadline {
                if a.count > 0 && total.fetch_add(1, Ordering::Relaxed) >= a.count {
                    break;
                }
                if let Some(p) = pace.as_mut() {
                    p.tick().await;
                }
                let t0 = Instant::now();
                let r = async {
                    let mut c = conn::open(&target).await?;
                    let id = if a.ids > 0 { n % a.ids } else { n };
                    c.handshake(&format!("{}-c-{w}-{id}", a.prefix), true)
                        .await?;
                    c.send(&Packet::Disconnect(Default::default())).await?;
                    let _ = c.io.shutdown().await;
                    Ok::<_, String>(())
                }
                .await;
                n += 1;
                match r {
                    Ok(()) => lat.push(t0.elapsed().as_micros() as u64),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.map_err(|e| e.to_string())?;
        all.extend(l);
        errors += e;
    }
    Summary::new(all, errors, started.elapsed()).print(&format!("connect x{}", a.clients));
    Ok(())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Opens `clients` connections and holds them, reporting the broker's memory per connection.
pub async fn idle(a: &MqttArgs, target: &Target) -> Result<(), String> {
    let before = a.pid.and_then(rss_kib);
    let mut conns = Vec::with_capacity(a.clients);
    let opening = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::new();
    for i in 0..a.clients {
        let (target, prefix, opening) = (target.clone(), a.prefix.clone(), opening.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = opening.acquire_owned().await.map_err(|e| e.to_string())?;
            let mut c = conn::open(&target).await?;
            c.handshake(&format!("{prefix}-idle-{i}"), true).await?;
            Ok::<_, String>(c)
        }));
    }
    for t in tasks {
        conns.push(t.await.map_err(|e| e.to_string())??);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = a.pid.and_then(rss_kib);
    match (before, after) {
        (Some(b), Some(af)) => println!(
            "idle x{}: broker RSS {:.1} MiB -> {:.1} MiB, {:.1} KiB per connection",
            a.clients,
            b as f64 / 1024.0,
            af as f64 / 1024.0,
            (af.saturating_sub(b)) as f64 / a.clients as f64
        ),
        _ => println!(
            "idle x{}: connections open (pass --pid to read the broker's memory)",
            a.clients
        ),
    }
    drop(conns);
    Ok(())
}
