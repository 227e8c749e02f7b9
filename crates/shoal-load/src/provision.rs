//! Fleet provisioning by claim over MQTT: `devices` clients at once, each connecting with the
//! claim certificate, asking for its certificate (`create-from-csr` with a P-256 key made
//! before the clock starts, or `create` when `--keys`), registering itself with the template,
//! and connecting again with its new certificate. The latency is from the claim connection's
//! start to the CONNACK of the new certificate; the throughput counts completed devices.

use crate::mqtt::conn::{open, publish, tls_config, Target};
use crate::report::Summary;
use bytes::Bytes;
use serde_json::{json, Value};
use shoal_mqtt::{Packet, QoS};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct ProvisionArgs {
    /// The device listener, `host:port`.
    #[arg(long, default_value = "localhost:8883")]
    mqtt: String,
    /// The server's CA certificate (PEM file).
    #[arg(long)]
    ca: String,
    /// The claim certificate and its key (PEM files).
    #[arg(long)]
    claim_cert: String,
    #[arg(long)]
    claim_key: String,
    /// The fleet provisioning template (its parameters: SerialNumber).
    #[arg(long)]
    template: String,
    /// Devices provisioning at once.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Devices provisioned in all.
    #[arg(long, default_value_t = 2000)]
    count: usize,
    /// Ask for keys and certificate (`$aws/certificates/create`) instead of sending a CSR.
    #[arg(long)]
    keys: bool,
    /// A prefix for serial numbers, so that runs do not collide.
    #[arg(long, default_value = "load")]
    prefix: String,
}

/// A device's key and CSR, made before the measurement.
struct Prepared {
    key_pem: String,
    csr_pem: String,
}

fn prepare() -> Result<Prepared, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    let csr = params.serialize_request(&key).map_err(|e| e.to_string())?;
    Ok(Prepared {
        key_pem: key.serialize_pem(),
        csr_pem: csr.pem().map_err(|e| e.to_string())?,
    })
}

fn host_of(addr: &str) -> String {
    addr.rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_matches(|c| c == '[' || c == ']')
        .to_string()
}

fn target(a: &ProvisionArgs, cfg: Arc<rustls::ClientConfig>) -> Result<Target, String> {
    let name = rustls_pki_types::ServerName::try_from(host_of(&a.mqtt))
        .map_err(|e| e.to_string())?
        .to_owned();
    Ok(Target {
        addr: a.mqtt.clone(),
        tls: Some((cfg, name)),
        login: None,
    })
}

/// A client configuration presenting a certificate and key given as PEM text.
fn config_for(
    ca: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let dir = std::env::temp_dir().join(format!("shoal-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
    let (c, k) = (dir.join(format!("{n}.crt")), dir.join(format!("{n}.key")));
    std::fs::write(&c, cert_pem).map_err(|e| e.to_string())?;
    std::fs::write(&k, key_pem).map_err(|e| e.to_string())?;
    let cfg = tls_config(ca, c.to_str(), k.to_str());
    let _ = std::fs::remove_file(&c);
    let _ = std::fs::remove_file(&k);
    cfg
}

static NEXT_FILE: AtomicUsize = AtomicUsize::new(0);

/// The payload of the next PUBLISH on `topic`'s `accepted` or `rejected` answer.
async fn answer(
    conn: &mut crate::mqtt::conn::Conn<Box<dyn crate::mqtt::conn::Io>>,
    topic: &str,
) -> Result<Value, String> {
    loop {
        match conn.recv().await? {
            Some(Packet::Publish(p)) if p.topic == format!("{topic}/accepted") => {
                return serde_json::from_slice(&p.payload).map_err(|e| e.to_string())
            }
            Some(Packet::Publish(p)) if p.topic == format!("{topic}/rejected") => {
                return Err(String::from_utf8_lossy(&p.payload).into_owned())
            }
            Some(_) => continue,
            None => return Err(format!("closed before the answer to {topic}")),
        }
    }
}

async fn one_device(
    a: &ProvisionArgs,
    claim: &Target,
    serial: &str,
    prepared: Prepared,
) -> Result<(), String> {
    let mut conn = open(claim).await?;
    conn.handshake(&format!("claim-{serial}"), true).await?;
    let create = if a.keys {
        "$aws/certificates/create/json".to_string()
    } else {
        "$aws/certificates/create-from-csr/json".to_string()
    };
    let provision = format!("$aws/provisioning-templates/{}/provision/json", a.template);
    conn.subscribe(&format!("{create}/+"), QoS::AtLeastOnce)
        .await?;
    conn.subscribe(&format!("{provision}/+"), QoS::AtLeastOnce)
        .await?;
    let body = if a.keys {
        json!({})
    } else {
        json!({ "certificateSigningRequest": prepared.csr_pem })
    };
    conn.send(&publish(
        &create,
        QoS::AtMostOnce,
        0,
        Bytes::from(body.to_string()),
    ))
    .await?;
    let made = answer(&mut conn, &create).await?;
    let token = made["certificateOwnershipToken"]
        .as_str()
        .unwrap_or_default();
    let body =
        json!({ "certificateOwnershipToken": token, "parameters": {"SerialNumber": serial} });
    conn.send(&publish(
        &provision,
        QoS::AtMostOnce,
        0,
        Bytes::from(body.to_string()),
    ))
    .await?;
    let done = answer(&mut conn, &provision).await?;
    drop(conn);
    let cert = made["certificatePem"].as_str().unwrap_or_default();
    let key = if a.keys {
        made["privateKey"].as_str().unwrap_or_default().to_string()
    } else {
        prepared.key_pem
    };
    let own = target(a, config_for(&a.ca, cert, &key)?)?;
    let mut conn = open(&own).await?;
    let thing = done["thingName"].as_str().unwrap_or(serial);
    conn.handshake(thing, true).await
}

pub async fn run(a: ProvisionArgs) -> Result<(), String> {
    let claim = target(
        &a,
        tls_config(&a.ca, Some(&a.claim_cert), Some(&a.claim_key))?,
    )?;
    let mut prepared = Vec::with_capacity(a.count);
    if !a.keys {
        for _ in 0..a.count {
            prepared.push(prepare()?);
        }
    }
    let next = Arc::new(AtomicUsize::new(0));
    let prepared = Arc::new(std::sync::Mutex::new(prepared));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..a.devices {
        let (a, claim, next, prepared) = (a.clone(), claim.clone(), next.clone(), prepared.clone());
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut first_error) = (Vec::new(), 0usize, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= a.count {
                    return (lat, errors, first_error);
                }
                let p = prepared
                    .lock()
                    .expect("prepared")
                    .pop()
                    .unwrap_or(Prepared {
                        key_pem: String::new(),
                        csr_pem: String::new(),
                    });
                let serial = format!("{}-{i}", a.prefix);
                let t = Instant::now();
                match tokio::time::timeout(
                    Duration::from_secs(60),
                    one_device(&a, &claim, &serial, p),
                )
                .await
                {
                    Ok(Ok(())) => lat.push(t.elapsed().as_micros() as u64),
                    Ok(Err(e)) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                    Err(_) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| "timed out".into());
                    }
                }
            }
        }));
    }
    let (mut all, mut errors, mut first) = (Vec::new(), 0, None);
    for w in workers {
        let (lat, e, f) = w.await.map_err(|e| e.to_string())?;
        all.extend(lat);
        errors += e;
        first = first.or(f);
    }
    let s = Summary::new(all, errors, start.elapsed());
    s.print(&format!(
        "fleet provisioning by claim ({}, {} devices at once)",
        if a.keys { "create keys" } else { "CSR" },
        a.devices
    ));
    if let Some(e) = first {
        println!("first error: {e}");
    }
    Ok(())
}
