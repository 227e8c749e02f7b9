//! A simulated fleet that stays: `shoal-load jobs --scenario simulate` connects the things
//! `setup` made (`PREFIX-0..N`, plain listener, the access key as MQTT login, the thing name
//! as client id) and keeps them connected, answering every job execution they are notified
//! of (SUCCEEDED, FAILED or REJECTED in the `--succeed/--fail/--reject` shares, the rest
//! silent), job after job. It prints `simulate: N devices connected` once all are up, then
//! reads commands on stdin: `disconnect K` disconnects devices 0..K (a clean MQTT DISCONNECT)
//! and answers `simulate: K devices disconnected`; end of input or `quit` stops. The console's
//! browser tests drive the seed's demo with it.

use crate::jobs::{outcome, thing, JobsArgs, Outcome};
use crate::mqtt::conn::{self, Target};
use shoal_mqtt::{Packet, QoS};

pub async fn simulate(a: &JobsArgs) -> Result<(), String> {
    let target = Target {
        addr: a.mqtt.clone(),
        tls: None,
        login: Some((a.api.key.clone(), a.api.secret.clone())),
    };
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(a.devices.max(1));
    let mut stops = Vec::with_capacity(a.devices);
    for i in 0..a.devices {
        let (a, target, ready) = (a.clone(), target.clone(), ready_tx.clone());
        let (stop_tx, stop_rx) =
            tokio::sync::oneshot::channel::<tokio::sync::oneshot::Sender<()>>();
        stops.push(stop_tx);
        tokio::spawn(async move {
            if let Err(e) = device(&a, i, &target, ready, stop_rx).await {
                eprintln!("simulate: {}: {e}", thing(&a, i));
            }
        });
    }
    drop(ready_tx);
    let mut up = 0;
    while up < a.devices && ready_rx.recv().await.is_some() {
        up += 1;
    }
    println!("simulate: {up} devices connected");
    // Commands come from a thread reading stdin (the runtime has no stdin of its own).
    let (line_tx, mut lines) = tokio::sync::mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if line_tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    let mut stops = stops.into_iter();
    let mut gone = 0;
    while let Some(line) = lines.recv().await {
        let mut words = line.split_whitespace();
        match (
            words.next(),
            words.next().and_then(|n| n.parse::<usize>().ok()),
        ) {
            (Some("disconnect"), Some(k)) => {
                for stop in stops.by_ref().take(k) {
                    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
                    if stop.send(done_tx).is_ok() {
                        let _ = done_rx.await;
                    }
                    gone += 1;
                }
                println!("simulate: {gone} devices disconnected");
            }
            (Some("quit"), _) => break,
            _ => println!("simulate: commands are `disconnect K` and `quit`"),
        }
    }
    Ok(())
}

/// One device: connect, subscribe to its jobs, answer each notified execution, until told to
/// disconnect (it then acknowledges on the channel it is given).
async fn device(
    a: &JobsArgs,
    i: usize,
    target: &Target,
    ready: tokio::sync::mpsc::Sender<()>,
    mut stop: tokio::sync::oneshot::Receiver<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), String> {
    let name = thing(a, i);
    let mut c = conn::open(target).await?;
    c.handshake(&name, true).await?;
    c.subscribe(
        &format!("$aws/things/{name}/jobs/notify-next"),
        QoS::AtLeastOnce,
    )
    .await?;
    let _ = ready.send(()).await;
    loop {
        let p = tokio::select! {
            p = c.recv() => p?,
            done = &mut stop => {
                let _ = c.send(&Packet::Disconnect(Default::default())).await;
                if let Ok(done) = done {
                    let _ = done.send(());
                }
                return Ok(());
            }
        };
        let Some(p) = p else {
            return Err("connection closed".into());
        };
        let Packet::Publish(p) = p else { continue };
        if p.qos != QoS::AtMostOnce {
            c.send(&Packet::PubAck(shoal_mqtt::PubAck {
                pkid: p.pkid,
                ..Default::default()
            }))
            .await?;
        }
        let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
        let (Some(job), Some("QUEUED")) = (
            v["execution"]["jobId"].as_str(),
            v["execution"]["status"].as_str(),
        ) else {
            continue;
        };
        let status = match outcome(a, i) {
            Outcome::Succeed => "SUCCEEDED",
            Outcome::Fail => "FAILED",
            Outcome::Reject => "REJECTED",
            Outcome::Silent => continue,
        };
        let topic = format!("$aws/things/{name}/jobs/{job}/update");
        let body = format!(r#"{{"status":"{status}"}}"#);
        c.send(&conn::publish(&topic, QoS::AtMostOnce, 0, body.into()))
            .await?;
    }
}
