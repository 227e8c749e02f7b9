//! Custom authorizers end to end: `aws-sdk-iot` makes one, an MQTT client (rumqttc, TLS without
//! a certificate) connects with a user name and password, and the authorizer's function — a
//! small HTTP server here, as `[functions]` maps its ARN — lets it in or not. The test's clock
//! runs out `refreshAfterInSeconds` and `disconnectAfterInSeconds`.

mod common;

use base64::Engine;
use common::device::{connected, ALLOW_ALL};
use common::TestServer;
use rumqttc::{AsyncClient, EventLoop, MqttOptions, QoS, TlsConfiguration, Transport};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:auth";

/// The function: answers each event with what `answer` makes of it, and counts the calls.
struct Function {
    url: String,
    answer: Arc<Mutex<Value>>,
    calls: Arc<AtomicUsize>,
    events: Arc<Mutex<Vec<Value>>>,
}

async fn function() -> Function {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let answer = Arc::new(Mutex::new(allow(3600, 300)));
    let calls = Arc::new(AtomicUsize::new(0));
    let events = Arc::new(Mutex::new(Vec::new()));
    let (a, c, e) = (answer.clone(), calls.clone(), events.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (a, c, e) = (a.clone(), c.clone(), e.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break body[..len].to_string();
                        }
                    }
                };
                let event: Value = serde_json::from_str(&body).unwrap();
                c.fetch_add(1, Ordering::SeqCst);
                let password = event["protocolData"]["mqtt"]["password"]
                    .as_str()
                    .map(|p| base64::engine::general_purpose::STANDARD.decode(p).unwrap());
                let mut out = a.lock().unwrap().clone();
                if password.as_deref() != Some(b"pw".as_slice()) {
                    out["isAuthenticated"] = false.into();
                }
                e.lock().unwrap().push(event);
                let text = out.to_string();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    Function {
        url,
        answer,
        calls,
        events,
    }
}

fn allow(disconnect: i64, refresh: i64) -> Value {
    json!({
        "isAuthenticated": true,
        "principalId": "dev1",
        "disconnectAfterInSeconds": disconnect,
        "refreshAfterInSeconds": refresh,
        "policyDocuments": [ALLOW_ALL],
    })
}

async fn server_with(f: &Function) -> TestServer {
    let url = f.url.clone();
    let s = TestServer::start_with(move |cfg| {
        cfg.functions.insert(ARN.to_string(), url);
    })
    .await;
    s.client("us-east-1")
        .create_authorizer()
        .authorizer_name("auth")
        .authorizer_function_arn(ARN)
        .signing_disabled(true)
        .status(aws_sdk_iot::types::AuthorizerStatus::Active)
        .send()
        .await
        .unwrap();
    s
}

/// TLS that trusts Shoal's CA and presents no certificate.
fn options(s: &TestServer, client_id: &str, password: &str) -> MqttOptions {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(s.ca_pem().as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut o = MqttOptions::new(client_id, "localhost", s.mqtt_port());
    o.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::new(tls))));
    o.set_credentials("device?x-amz-customauthorizer-name=auth", password);
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// Publishes until the connection ends (the server looks at the clock on each packet);
/// `Err` if it is still up after that.
async fn ends_on_next_packet(client: &AsyncClient, ev: &mut EventLoop) -> Result<(), String> {
    client
        .publish("t/x", QoS::AtLeastOnce, false, "x")
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ev.poll()).await {
            Err(_) => return Err("still connected".into()),
            Ok(Err(_)) => return Ok(()),
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Incoming::PubAck(_)))) => {
                return Err("the publish was acknowledged".into())
            }
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_lets_devices_in_or_not() {
    let f = function().await;
    let s = server_with(&f).await;

    let (client, mut ev) = AsyncClient::new(options(&s, "dev-1", "pw"), 10);
    connected(&mut ev).await.unwrap();
    client.subscribe("t/#", QoS::AtLeastOnce).await.unwrap();
    client
        .publish("t/1", QoS::AtLeastOnce, false, "hello")
        .await
        .unwrap();
    let got = common::device::until(&mut ev, |i| matches!(i, rumqttc::Incoming::Publish(_)))
        .await
        .unwrap();
    assert!(matches!(got, rumqttc::Incoming::Publish(p) if p.topic == "t/1"));
    let event = f.events.lock().unwrap()[0].clone();
    assert_eq!(
        event["protocolData"]["mqtt"]["username"],
        "device?x-amz-customauthorizer-name=auth"
    );
    assert_eq!(event["protocolData"]["mqtt"]["clientId"], "dev-1");
    assert_eq!(event["signatureVerified"], false);
    assert!(event["connectionMetadata"]["id"].is_string());

    // A wrong password: the function says no, CONNACK 5 (not authorized).
    let (_c2, mut ev2) = AsyncClient::new(options(&s, "dev-2", "wrong"), 10);
    let refused = connected(&mut ev2).await.unwrap_err();
    assert!(refused.contains("NotAuthorized"), "{refused}");

    // An INACTIVE authorizer lets nobody in.
    s.client("us-east-1")
        .update_authorizer()
        .authorizer_name("auth")
        .status(aws_sdk_iot::types::AuthorizerStatus::Inactive)
        .send()
        .await
        .unwrap();
    let (_c3, mut ev3) = AsyncClient::new(options(&s, "dev-3", "pw"), 10);
    assert!(connected(&mut ev3).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_ends_after_disconnect_after_in_seconds() {
    let f = function().await;
    *f.answer.lock().unwrap() = allow(600, 86_400);
    let s = server_with(&f).await;
    let (client, mut ev) = AsyncClient::new(options(&s, "dev-ttl", "pw"), 10);
    connected(&mut ev).await.unwrap();
    s.clock.advance_millis(599_000);
    client
        .publish("t/x", QoS::AtLeastOnce, false, "x")
        .await
        .unwrap();
    common::device::until(&mut ev, |i| matches!(i, rumqttc::Incoming::PubAck(_)))
        .await
        .unwrap();
    s.clock.advance_millis(2_000);
    ends_on_next_packet(&client, &mut ev).await.unwrap();
    assert_eq!(f.calls.load(Ordering::SeqCst), 1, "no refresh was due");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_the_function_refuses_ends_the_connection() {
    let f = function().await;
    *f.answer.lock().unwrap() = allow(86_400, 300);
    let s = server_with(&f).await;
    let (client, mut ev) = AsyncClient::new(options(&s, "dev-refresh", "pw"), 10);
    connected(&mut ev).await.unwrap();
    // The first refresh still allows: the connection goes on.
    s.clock.advance_millis(301_000);
    client
        .publish("t/x", QoS::AtLeastOnce, false, "x")
        .await
        .unwrap();
    common::device::until(&mut ev, |i| matches!(i, rumqttc::Incoming::PubAck(_)))
        .await
        .unwrap();
    assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    // The next refresh refuses.
    f.answer.lock().unwrap()["isAuthenticated"] = false.into();
    s.clock.advance_millis(301_000);
    ends_on_next_packet(&client, &mut ev).await.unwrap();
    assert_eq!(f.calls.load(Ordering::SeqCst), 3);
}
