//! A device as the MQTT tests make one: a certificate made through `aws-sdk-iot`, things it is
//! attached to, and `rumqttc` options for mutual TLS against the test server.

use super::TestServer;
use rumqttc::{Event, EventLoop, Incoming, MqttOptions, TlsConfiguration, Transport};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use std::time::Duration;

pub struct DeviceCert {
    pub arn: String,
    pub id: String,
    pub pem: String,
    pub key: String,
    pub account: String,
}

pub async fn device_cert(c: &aws_sdk_iot::Client) -> DeviceCert {
    let made = c
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let arn = made.certificate_arn().unwrap().to_string();
    DeviceCert {
        account: arn.split(':').nth(4).unwrap().to_string(),
        arn,
        id: made.certificate_id().unwrap().to_string(),
        pem: made.certificate_pem().unwrap().to_string(),
        key: made.key_pair().unwrap().private_key().unwrap().to_string(),
    }
}

/// Things named `names`, each with the certificate attached (its policy variables then see the
/// thing when the client id is its name).
/// Creates policy `name` with `doc` and attaches it to the certificate.
/// A policy that allows every IoT action on every resource.
pub const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

/// A device certificate of the default account with a policy that allows everything.
pub async fn open_device(s: &TestServer) -> DeviceCert {
    let c = s.client("us-east-1");
    let cert = device_cert(&c).await;
    attach_new_policy(&c, &cert, &format!("all-{}", &cert.id[..8]), ALLOW_ALL).await;
    cert
}

pub async fn attach_new_policy(c: &aws_sdk_iot::Client, cert: &DeviceCert, name: &str, doc: &str) {
    c.create_policy()
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    c.attach_policy()
        .policy_name(name)
        .target(&cert.arn)
        .send()
        .await
        .unwrap();
}

pub async fn things_of(c: &aws_sdk_iot::Client, cert: &DeviceCert, names: &[&str]) {
    for thing in names {
        c.create_thing().thing_name(*thing).send().await.unwrap();
        c.attach_thing_principal()
            .thing_name(*thing)
            .principal(&cert.arn)
            .send()
            .await
            .unwrap();
    }
}

/// TLS for a device: Shoal's root CA trusted, the device's certificate presented.
pub fn tls_config(s: &TestServer, cert: &DeviceCert) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(s.ca_pem().as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let chain = vec![CertificateDer::from_pem_slice(cert.pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(cert.key.as_bytes()).unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap()
}

pub fn options(s: &TestServer, client_id: &str, cert: &DeviceCert) -> MqttOptions {
    let tls = tls_config(s, cert);
    let mut o = MqttOptions::new(client_id, "localhost", s.mqtt_port());
    o.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::new(tls))));
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// Polls until the connection is acknowledged or fails.
pub async fn connected(ev: &mut EventLoop) -> Result<(), String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ev.poll()).await {
            Err(_) => return Err("timed out".into()),
            Ok(Ok(Event::Incoming(Incoming::ConnAck(a)))) => {
                return if a.code == rumqttc::ConnectReturnCode::Success {
                    Ok(())
                } else {
                    Err(format!("{:?}", a.code))
                }
            }
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => return Err(e.to_string()),
        }
    }
}

/// Polls until `pred` accepts an incoming packet; `Err` when the connection ends first.
pub async fn until(
    ev: &mut EventLoop,
    mut pred: impl FnMut(&Incoming) -> bool,
) -> Result<Incoming, String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ev.poll()).await {
            Err(_) => return Err("timed out".into()),
            Ok(Ok(Event::Incoming(i))) if pred(&i) => return Ok(i),
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => return Err(e.to_string()),
        }
    }
}

/// A CA of the test's own ("a factory CA"), signing device certificates.
pub struct TestCa {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pub pem: String,
}

impl TestCa {
    pub fn new(common_name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { params, key, pem }
    }

    /// A certificate with common name `cn` signed by the CA, and its key: (cert PEM, key PEM).
    pub fn sign(&self, cn: &str) -> (String, String) {
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        (
            p.signed_by(&key, &issuer).unwrap().pem(),
            key.serialize_pem(),
        )
    }
}
