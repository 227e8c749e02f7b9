//! An in-process Shoal on port 0 with a temporary data folder and a clock the test moves, and
//! `aws-sdk-iot` clients pointed at it.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

pub mod device;
pub mod raw;

use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use shoal::config::Config;
use shoal::Server;
use shoal_domain::{Clock, ManualClock, SystemClock};
use std::sync::Arc;

/// The operator's scrape token the test servers are configured with (`[metrics] token`).
pub const METRICS_TOKEN: &str = "test-scrape-token";

pub struct TestServer {
    pub server: Option<Server>,
    pub clock: Arc<ManualClock>,
    pub key: (String, String),
    pub cfg: Config,
    dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts with the test settings, then `tune`'s changes to them.
    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            data: dir.path().to_path_buf(),
            ..Default::default()
        };
        cfg.api.listen = "127.0.0.1:0".parse().unwrap();
        cfg.mqtt.listen = "127.0.0.1:0".parse().unwrap();
        cfg.device_https.listen = "127.0.0.1:0".parse().unwrap();
        cfg.tunnels.listen = "127.0.0.1:0".parse().unwrap();
        // Tests run side by side: none takes port 443 (a test that wants it sets it).
        cfg.device.alpn_listen = String::new();
        cfg.metrics.token = METRICS_TOKEN.to_string();
        tune(&mut cfg);
        // Starts at the real time so SigV4's 15-minute window accepts the SDK's signatures.
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let server = Server::start(&cfg, clock.clone(), None).await.unwrap();
        let key = server.admin.clone().unwrap();
        TestServer {
            server: Some(server),
            clock,
            key,
            cfg,
            dir,
        }
    }

    /// Stops the server gracefully and starts it again on the same data folder (new ports).
    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
        self.server = Some(
            Server::start(&self.cfg, self.clock.clone(), None)
                .await
                .unwrap(),
        );
    }

    /// Fires every timer of the durable scheduler due on the test's clock now, and waits for
    /// the notifications they sent; returns how many fired.
    pub async fn run_due(&self) -> usize {
        let server = self.server.as_ref().unwrap();
        let n = server.scheduler.run_due().await.unwrap();
        server.jobs.quiet().await;
        n
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn api_port(&self) -> u16 {
        self.server.as_ref().unwrap().api_addr.port()
    }

    pub fn device_https_port(&self) -> u16 {
        self.server.as_ref().unwrap().device_https_addr.port()
    }

    /// The ALPN listener's port (AWS's 443), when it was started.
    pub fn alpn_port(&self) -> Option<u16> {
        self.server.as_ref().unwrap().alpn_addr.map(|a| a.port())
    }

    pub fn mqtt_port(&self) -> u16 {
        self.server.as_ref().unwrap().mqtt_addr.port()
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.pem")).unwrap()
    }

    pub fn endpoint(&self) -> String {
        self.server.as_ref().unwrap().endpoint()
    }

    pub fn client(&self, region: &str) -> aws_sdk_iot::Client {
        self.client_with(region, &self.key.0, &self.key.1)
    }

    pub fn client_with(&self, region: &str, key: &str, secret: &str) -> aws_sdk_iot::Client {
        let conf = aws_sdk_iot::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new(key, secret, None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_iot::Client::from_conf(conf)
    }

    /// A new account (as `shoal account create` makes one) and an `aws-sdk-iot` client signed
    /// by its key, in us-east-1.
    pub async fn second_account(&self) -> (String, aws_sdk_iot::Client) {
        let (account, key) = self
            .server
            .as_ref()
            .unwrap()
            .accounts
            .create_account()
            .await
            .unwrap();
        let client = self.client_with("us-east-1", &key.access_key_id, &key.secret_access_key);
        (account.to_string(), client)
    }

    /// An `aws-sdk-iotdataplane` client on the same endpoint (signing name `iotdata`).
    pub fn data_client(&self) -> aws_sdk_iotdataplane::Client {
        self.data_client_in("us-east-1")
    }

    /// The same, signing for `region`.
    pub fn data_client_in(&self, region: &str) -> aws_sdk_iotdataplane::Client {
        let conf = aws_sdk_iotdataplane::Config::builder()
            .behavior_version(aws_sdk_iotdataplane::config::BehaviorVersion::latest())
            .region(aws_sdk_iotdataplane::config::Region::new(
                region.to_string(),
            ))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_iotdataplane::config::Credentials::new(
                &self.key.0,
                &self.key.1,
                None,
                None,
                "test",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_iotdataplane::Client::from_conf(conf)
    }

    /// An `aws-sdk-iotjobsdataplane` client on the same endpoint (signing name
    /// `iot-jobs-data`).
    pub fn jobs_data_client(&self) -> aws_sdk_iotjobsdataplane::Client {
        use aws_sdk_iotjobsdataplane::config;
        let conf = config::Config::builder()
            .behavior_version(config::BehaviorVersion::latest())
            .region(config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(config::Credentials::new(
                &self.key.0,
                &self.key.1,
                None,
                None,
                "test",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_iotjobsdataplane::Client::from_conf(conf)
    }

    /// An `aws-sdk-iotsecuretunneling` client on the same endpoint (signing name
    /// `IoTSecuredTunneling`).
    pub fn tunneling_client(&self) -> aws_sdk_iotsecuretunneling::Client {
        use aws_sdk_iotsecuretunneling::config;
        let conf = config::Config::builder()
            .behavior_version(config::BehaviorVersion::latest())
            .region(config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(config::Credentials::new(
                &self.key.0,
                &self.key.1,
                None,
                None,
                "test",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_iotsecuretunneling::Client::from_conf(conf)
    }

    /// The tunnel proxy endpoint as a client of it sees it (`localhost:PORT`, the name the
    /// server certificate covers) and trusting Shoal's CA.
    pub fn tunnel_endpoint(&self) -> shoal_localproxy::client::Endpoint {
        let port = self.server.as_ref().unwrap().tunnel_addr.port();
        shoal_localproxy::client::Endpoint::new(&format!("localhost:{port}"), &self.ca_pem())
            .unwrap()
    }

    /// An `aws-sdk-s3` client on the same endpoint, path-style (the endpoint is an IP literal,
    /// which the S3 endpoint rules address path-style anyway).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config;
        let conf = config::Config::builder()
            .behavior_version(config::BehaviorVersion::latest())
            .region(config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(config::Credentials::new(
                &self.key.0,
                &self.key.1,
                None,
                None,
                "test",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}

/// The AWS error code of a failed SDK call.
pub fn code<E, R>(r: Result<R, aws_sdk_iot::error::SdkError<E>>) -> String
where
    E: aws_sdk_iot::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e
            .as_service_error()
            .and_then(|s| s.code())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{e:?}")),
    }
}

/// A SigV4-signed JSON request to the API port with no SDK (for Shoal's own extensions and
/// members no SDK knows): the status and the JSON answer.
pub async fn signed_json(
    s: &TestServer,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = format!("127.0.0.1:{}", s.api_port());
    let body = body.to_string();
    let now = SystemClock.now().secs();
    let date = shoal_sigv4::format_amz_date(now);
    let hash = shoal_sigv4::sha256_hex(body.as_bytes());
    let headers = [("host", host.as_str()), ("x-amz-date", date.as_str())];
    let auth = shoal_sigv4::authorization_header(
        method,
        path,
        "",
        &headers,
        &hash,
        &s.key.0,
        &s.key.1,
        &date,
        "us-east-1",
        "iot",
    );
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nx-amz-date: {date}\r\nauthorization: {auth}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text[9..12].parse().unwrap();
    let json = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(serde_json::Value::Null))
        .unwrap_or_default();
    (status, json)
}
