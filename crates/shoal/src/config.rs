//! The configuration file: one TOML document, `version = 1`, unknown keys rejected, and every key
//! overridable by a `SHOAL_...` environment variable (`SHOAL_API_LISTEN` for `[api] listen`).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The commented defaults that `shoal generate-config` prints. `Config::default()` parses it,
/// so the printed file and the built-in defaults cannot drift apart.
pub const DEFAULT_TOML: &str = r#"# Shoal configuration. Every key can also be set by an environment variable:
# SHOAL_DATA, SHOAL_REGION, SHOAL_API_LISTEN, SHOAL_API_PUBLIC_HOST, SHOAL_API_MAX_CONNECTIONS,
# SHOAL_MQTT_LISTEN, SHOAL_MQTT_PLAIN_LISTEN, SHOAL_MQTT_MAX_CONNECTIONS, SHOAL_MQTT_PROFILE,
# SHOAL_DEVICE_HTTPS_LISTEN, SHOAL_DEVICE_HTTPS_MAX_CONNECTIONS, SHOAL_DEVICE_ALPN_LISTEN,
# SHOAL_METRICS_TOKEN, SHOAL_OBJECTS_URL, SHOAL_OBJECTS_ENDPOINT, SHOAL_OBJECTS_REGION,
# SHOAL_OBJECTS_ACCESS_KEY_ID, SHOAL_OBJECTS_SECRET_ACCESS_KEY, SHOAL_INDEXING_READ_YOUR_WRITES_MS,
# SHOAL_FUNCTIONS ("ARN=URL,ARN=URL"), SHOAL_RULES_ALLOW_NETWORKS ("CIDR,CIDR"),
# SHOAL_ALARM_ACTIONS ("ARN=mqtt:TOPIC;ARN=URL"), SHOAL_METRICS_FLUSH_SECONDS, SHOAL_LOG_LEVEL.
version = 1

# Folder of the embedded store and the admin credentials; created on first start.
data = "./shoal-data"

# Region printed in the export lines. Clients may sign for any region: each region's
# resources are kept apart, as on AWS.
region = "us-east-1"

[api]
# The AWS HTTP API listener (iot control plane). Port 0 picks a free port.
listen = "127.0.0.1:9080"
# The host devices reach Shoal at. DescribeEndpoint returns each account's own names under it,
# shaped as AWS's: "<prefix>-ats.iot.<region>.<public_host>" (a wildcard DNS record for
# "*.iot.<region>.<public_host>" makes them resolve); the server certificate covers them.
public_host = "localhost"
# Connections open at once; more are closed as they arrive.
max_connections = 4096

[mqtt]
# The MQTT device listener: TLS with client certificates (MQTT 3.1.1 and 5), and MQTT over
# WebSocket (path /mqtt, SigV4-presigned) for clients without one. Port 0 picks a free port.
listen = "127.0.0.1:8883"
# A plain-TCP MQTT listener, off unless set: no TLS, the user name is an access key id and the
# password its secret. For trusted networks and benchmarks only.
# plain_listen = "127.0.0.1:1883"
# Connections open at once on each MQTT listener; more are closed as they arrive.
max_connections = 50000
# "aws": AWS IoT Core's MQTT, its limits and refusals (QoS 0 and 1, retained messages only
# for exact filters, keep-alive 30..1200 s, no $ topics but AWS's). "standard": a full MQTT
# 3.1.1/5 broker (QoS 2 end to end, retained messages for wildcard filters, keep-alive as
# asked, other $ topics, subscription identifiers, will delay, server topic aliases) with the
# same identity, policies and shadows. The limits below are AWS's quotas; only the standard
# profile may change them.
profile = "aws"
# Largest PUBLISH payload, bytes.
max_payload = 131072
# Most levels in a topic or filter (AWS: 7 forward slashes).
max_topic_levels = 8
# Topic filters in one SUBSCRIBE.
max_filters_per_subscribe = 8
# Unacknowledged QoS 1/2 publishes each way (the Receive Maximum announced).
max_inflight = 100
# Longest keep-alive, seconds, announced as Server Keep Alive to clients asking for more
# (standard profile: 65535 lets a client ask for none).
max_keep_alive = 1200

[device_https]
# HTTPS with client certificates for devices (AWS's port 8443): iot-data Publish and the
# retained-message reads, allowed by the certificate's IoT policies. Port 0 picks a free port.
listen = "127.0.0.1:8443"
# Connections open at once; more are closed as they arrive.
max_connections = 4096

[device]
# AWS's port 443: MQTT and HTTPS on one TLS listener, told apart by ALPN (x-amzn-mqtt-ca,
# x-amzn-http-ca), where the AWS IoT Device SDKs connect when given no port. Used when the
# process may bind it (root, or CAP_NET_BIND_SERVICE); otherwise the device HTTPS port above
# serves those clients. Empty: off. It takes [device_https] max_connections.
alpn_listen = "127.0.0.1:443"

[tunnels]
# Secure tunneling's proxy endpoint (wss://HOST:PORT/tunnel, TLS with the server certificate):
# where AWS's local proxy (-e HOST:PORT) and other tunnel clients connect. Port 0 picks a free
# port; `shoal env` prints it as SHOAL_TUNNEL_ENDPOINT.
listen = "127.0.0.1:8444"
# Proxy connections open at once (two per tunnel in use); more are closed as they arrive.
max_connections = 10000
# Tunnels open at once per account and region (AWS's default quota); OpenTunnel past it is
# LimitExceededException.
max_open = 300

[rules]
# Outbound HTTP of the rules engine (HTTP actions, destination confirmations) never reaches
# loopback, private, link-local, multicast or other non-public addresses, whatever a URL's
# host name resolves to, unless one of these networks holds the address: for example
# ["127.0.0.1/32"] for a receiver on this machine, ["10.0.0.0/8"] for a plant network.
allow_networks = []

[metrics]
# GET /metrics on the API port (Prometheus) needs credentials: this bearer token (Prometheus'
# `authorization: {credentials: ...}`) shows every account's metrics; a SigV4-signed request
# shows its own account's. Empty: SigV4 only.
token = ""

[objects]
# Where the bytes of S3 objects go (their metadata is in the store). Empty: the folder
# "objects" in the data folder. "s3://BUCKET" or "s3://BUCKET/PREFIX": an S3-compatible store
# (AWS S3, MinIO, Garage, another Shoal); the settings below, when empty, come from the usual
# AWS_* environment variables.
url = ""
# The store's endpoint, e.g. "http://minio:9000" (path-style requests); empty: AWS S3.
endpoint = ""
region = ""
access_key_id = ""
secret_access_key = ""

[indexing]
# Fleet searches and aggregations (SearchIndex, GetStatistics...) first wait, at most this many
# milliseconds, until the index holds every change acknowledged before they arrived, so a
# search right after CreateThing finds the thing (a Shoal extension: AWS's index is eventually
# consistent). 0: answer at once from the index as it is, as AWS does.
read_your_writes_ms = 2000

[functions]
# Custom authorizers name a Lambda function by ARN; Shoal posts AWS's event to the HTTP(S)
# endpoint given here for that ARN and reads the function's answer from the response, e.g.
# "arn:aws:lambda:us-east-1:123456789012:function:my-authorizer" = "http://127.0.0.1:9000/"

[alarms]
# CloudWatch alarm actions name ARNs (SNS topics on AWS). An AWS IoT topic ARN of the alarm's
# own account and region ("arn:aws:iot:REGION:ACCOUNT:topic/alerts/fleet") publishes the
# notification to that MQTT topic; other ARNs are mapped here to a topic ("mqtt:TOPIC") or a
# webhook URL (POSTed through the rules engine's outbound guard, [rules] allow_networks), e.g.
# "arn:aws:sns:us-east-1:123456789012:ops" = "https://hooks.example.com/ops"
# An ARN serves the account and region it names; one without an account ("arn:aws:sns:us-east-1::ops")
# is every account's. An alarm naming any other ARN is refused.
[alarms.actions]

[cloudwatch]
# Seconds between two writes of this node's AWS/IoT operational counts as datapoints.
flush_seconds = 60

[log]
# A tracing filter: "info", "debug", "shoal_api=debug,info"...
level = "info"
"#;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub version: u32,
    pub data: PathBuf,
    pub region: String,
    pub api: ApiConfig,
    pub mqtt: MqttConfig,
    pub device_https: DeviceHttpsConfig,
    pub device: DeviceConfig,
    pub tunnels: TunnelsConfig,
    #[serde(default)]
    pub rules: RulesConfig,
    pub metrics: MetricsConfig,
    pub objects: ObjectsConfig,
    pub indexing: IndexingConfig,
    /// Function ARN -> HTTP endpoint (custom authorizers).
    #[serde(default)]
    pub functions: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub alarms: AlarmsConfig,
    #[serde(default)]
    pub cloudwatch: CloudWatchConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlarmsConfig {
    /// Alarm action ARN -> "mqtt:TOPIC" or an http(s) URL.
    #[serde(default)]
    pub actions: std::collections::BTreeMap<String, String>,
}

impl AlarmsConfig {
    /// The configured ARNs' targets: `mqtt:TOPIC` or an http(s) URL.
    pub fn targets(
        &self,
    ) -> Result<std::collections::HashMap<String, shoal_services::cloudwatch::ActionTarget>, String>
    {
        use shoal_services::cloudwatch::ActionTarget;
        self.actions
            .iter()
            .map(|(arn, target)| {
                ActionTarget::parse(target)
                    .map(|t| (arn.clone(), t))
                    .map_err(|e| format!("alarms.actions: {arn}: {e}"))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchConfig {
    pub flush_seconds: u64,
}

impl Default for CloudWatchConfig {
    fn default() -> Self {
        CloudWatchConfig { flush_seconds: 60 }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndexingConfig {
    pub read_your_writes_ms: u64,
}

/// Where object bytes go (`crate::objects_backend`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ObjectsConfig {
    pub url: String,
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub token: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    pub listen: SocketAddr,
    #[serde(default)]
    pub plain_listen: Option<SocketAddr>,
    pub max_connections: usize,
    pub profile: String,
    pub max_payload: usize,
    pub max_topic_levels: usize,
    pub max_filters_per_subscribe: usize,
    pub max_inflight: u16,
    pub max_keep_alive: u16,
}

impl MqttConfig {
    /// The broker's profile. The aws profile's limits are AWS's own: changing one is refused
    /// rather than silently ignored.
    pub fn profile(&self) -> Result<shoal_broker::Profile, String> {
        use shoal_broker::{Limits, Profile, ProfileKind};
        let limits = Limits {
            max_payload: self.max_payload,
            max_topic_slashes: self.max_topic_levels.saturating_sub(1),
            max_filters: self.max_filters_per_subscribe,
            inflight: self.max_inflight,
            max_keep_alive: self.max_keep_alive,
        };
        for (name, bad) in [
            (
                "mqtt.max_payload",
                limits.max_payload == 0 || limits.max_payload > 256 << 20,
            ),
            ("mqtt.max_topic_levels", self.max_topic_levels == 0),
            ("mqtt.max_filters_per_subscribe", limits.max_filters == 0),
            ("mqtt.max_inflight", limits.inflight == 0),
            ("mqtt.max_keep_alive", limits.max_keep_alive == 0),
        ] {
            if bad {
                return Err(format!("{name} is out of range"));
            }
        }
        match ProfileKind::parse(&self.profile)? {
            ProfileKind::Aws if limits != Limits::default() => {
                Err("mqtt limits other than AWS's need profile = \"standard\"".to_string())
            }
            ProfileKind::Aws => Ok(Profile::aws()),
            ProfileKind::Standard => Ok(Profile::standard(limits)),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceHttpsConfig {
    pub listen: SocketAddr,
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TunnelsConfig {
    pub listen: SocketAddr,
    pub max_connections: usize,
    pub max_open: usize,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// CIDR networks outbound rule HTTP may reach although they are not public.
    pub allow_networks: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    pub alpn_listen: String,
}

impl DeviceConfig {
    /// The ALPN listener's address, if it is on.
    pub fn alpn_addr(&self) -> Result<Option<SocketAddr>, String> {
        match self.alpn_listen.trim() {
            "" => Ok(None),
            a => a
                .parse()
                .map(Some)
                .map_err(|e| format!("device.alpn_listen: {e}")),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub public_host: String,
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str(DEFAULT_TOML).expect("the built-in default configuration parses")
    }
}

impl Config {
    /// Parses a file's text on top of the defaults: keys it omits keep their default values.
    pub fn parse(text: &str) -> Result<Config, String> {
        let mut base: toml::Table = toml::from_str(DEFAULT_TOML).map_err(|e| e.to_string())?;
        let user: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        merge(&mut base, user);
        let cfg: Config = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(path: Option<&std::path::Path>) -> Result<Config, String> {
        let mut cfg = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                Config::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    /// Environment variables override the file.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(v) = get("SHOAL_DATA") {
            self.data = v.into();
        }
        if let Some(v) = get("SHOAL_REGION") {
            self.region = v;
        }
        if let Some(v) = get("SHOAL_API_LISTEN") {
            self.api.listen = v.parse().map_err(|e| format!("SHOAL_API_LISTEN: {e}"))?;
        }
        if let Some(v) = get("SHOAL_API_PUBLIC_HOST") {
            self.api.public_host = v;
        }
        if let Some(v) = get("SHOAL_TUNNELS_LISTEN") {
            self.tunnels.listen = v
                .parse()
                .map_err(|e| format!("SHOAL_TUNNELS_LISTEN: {e}"))?;
        }
        if let Some(v) = get("SHOAL_MQTT_LISTEN") {
            self.mqtt.listen = v.parse().map_err(|e| format!("SHOAL_MQTT_LISTEN: {e}"))?;
        }
        if let Some(v) = get("SHOAL_MQTT_PLAIN_LISTEN") {
            self.mqtt.plain_listen = Some(
                v.parse()
                    .map_err(|e| format!("SHOAL_MQTT_PLAIN_LISTEN: {e}"))?,
            );
        }
        if let Some(v) = get("SHOAL_DEVICE_HTTPS_LISTEN") {
            self.device_https.listen = v
                .parse()
                .map_err(|e| format!("SHOAL_DEVICE_HTTPS_LISTEN: {e}"))?;
        }
        if let Some(v) = get("SHOAL_DEVICE_ALPN_LISTEN") {
            self.device.alpn_listen = v;
        }
        if let Some(v) = get("SHOAL_RULES_ALLOW_NETWORKS") {
            self.rules.allow_networks = v
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect();
        }
        if let Some(v) = get("SHOAL_LOG_LEVEL") {
            self.log.level = v;
        }
        let count = |name: &str, v: String| v.parse::<usize>().map_err(|e| format!("{name}: {e}"));
        if let Some(v) = get("SHOAL_TUNNELS_MAX_OPEN") {
            self.tunnels.max_open = count("SHOAL_TUNNELS_MAX_OPEN", v)?;
        }
        if let Some(v) = get("SHOAL_TUNNELS_MAX_CONNECTIONS") {
            self.tunnels.max_connections = count("SHOAL_TUNNELS_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = get("SHOAL_API_MAX_CONNECTIONS") {
            self.api.max_connections = count("SHOAL_API_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = get("SHOAL_MQTT_PROFILE") {
            self.mqtt.profile = v;
        }
        if let Some(v) = get("SHOAL_MQTT_MAX_CONNECTIONS") {
            self.mqtt.max_connections = count("SHOAL_MQTT_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = get("SHOAL_DEVICE_HTTPS_MAX_CONNECTIONS") {
            self.device_https.max_connections = count("SHOAL_DEVICE_HTTPS_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = get("SHOAL_ALARM_ACTIONS") {
            for pair in v.split(';').filter(|p| !p.trim().is_empty()) {
                // An ARN holds no '=', so the first one ends it.
                let (arn, target) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("SHOAL_ALARM_ACTIONS: {pair} is not ARN=TARGET"))?;
                self.alarms
                    .actions
                    .insert(arn.trim().to_string(), target.trim().to_string());
            }
        }
        if let Some(v) = get("SHOAL_METRICS_FLUSH_SECONDS") {
            self.cloudwatch.flush_seconds = v
                .parse()
                .map_err(|e| format!("SHOAL_METRICS_FLUSH_SECONDS: {e}"))?;
        }
        if let Some(v) = get("SHOAL_FUNCTIONS") {
            for pair in v.split(',').filter(|p| !p.trim().is_empty()) {
                // An ARN holds no '=', so the first one ends it.
                let (arn, url) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("SHOAL_FUNCTIONS: {pair} is not ARN=URL"))?;
                self.functions
                    .insert(arn.trim().to_string(), url.trim().to_string());
            }
        }
        if let Some(v) = get("SHOAL_INDEXING_READ_YOUR_WRITES_MS") {
            self.indexing.read_your_writes_ms = v
                .parse()
                .map_err(|e| format!("SHOAL_INDEXING_READ_YOUR_WRITES_MS: {e}"))?;
        }
        if let Some(v) = get("SHOAL_METRICS_TOKEN") {
            self.metrics.token = v;
        }
        let objects = [
            ("SHOAL_OBJECTS_URL", &mut self.objects.url),
            ("SHOAL_OBJECTS_ENDPOINT", &mut self.objects.endpoint),
            ("SHOAL_OBJECTS_REGION", &mut self.objects.region),
            (
                "SHOAL_OBJECTS_ACCESS_KEY_ID",
                &mut self.objects.access_key_id,
            ),
            (
                "SHOAL_OBJECTS_SECRET_ACCESS_KEY",
                &mut self.objects.secret_access_key,
            ),
        ];
        for (name, field) in objects {
            if let Some(v) = get(name) {
                *field = v;
            }
        }
        self.validate()
    }

    fn validate(&self) -> Result<(), String> {
        if self.version != 1 {
            return Err(format!(
                "unsupported configuration version {} (this shoal reads version 1)",
                self.version
            ));
        }
        shoal_domain::Region::parse(&self.region).map_err(|e| e.message)?;
        self.mqtt.profile()?;
        self.device.alpn_addr()?;
        self.alarms.targets()?;
        if self.cloudwatch.flush_seconds == 0 {
            return Err("cloudwatch.flush_seconds must be at least 1".into());
        }
        for (name, n) in [
            ("api.max_connections", self.api.max_connections),
            ("mqtt.max_connections", self.mqtt.max_connections),
            (
                "device_https.max_connections",
                self.device_https.max_connections,
            ),
            ("tunnels.max_connections", self.tunnels.max_connections),
            ("tunnels.max_open", self.tunnels.max_open),
        ] {
            if n == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(())
    }
}

fn merge(base: &mut toml::Table, user: toml::Table) {
    for (k, v) in user {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => merge(b, u),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_files_override() {
        let d = Config::default();
        assert_eq!(d.api.listen.port(), 9080);
        let c = Config::parse("version = 1\n[api]\nlisten = \"127.0.0.1:0\"\n").unwrap();
        assert_eq!(c.api.listen.port(), 0);
        assert_eq!(c.region, "us-east-1");
    }

    #[test]
    fn unknown_keys_and_versions_are_refused() {
        assert!(Config::parse("version = 1\nbogus = 2\n")
            .unwrap_err()
            .contains("bogus"));
        assert!(Config::parse("version = 1\n[api]\nlisten2 = \"x\"\n").is_err());
        assert!(Config::parse("version = 2\n")
            .unwrap_err()
            .contains("version"));
    }

    #[test]
    fn the_mqtt_profile_and_its_limits() {
        assert_eq!(
            Config::default().mqtt.profile().unwrap(),
            shoal_broker::Profile::aws()
        );
        let c =
            Config::parse("version = 1\n[mqtt]\nprofile = \"standard\"\nmax_topic_levels = 20\n")
                .unwrap();
        let p = c.mqtt.profile().unwrap();
        assert_eq!(p.kind, shoal_broker::ProfileKind::Standard);
        assert_eq!(p.limits.max_topic_slashes, 19);
        assert!(
            Config::parse("version = 1\n[mqtt]\nmax_topic_levels = 20\n")
                .unwrap_err()
                .contains("standard")
        );
        assert!(Config::parse("version = 1\n[mqtt]\nprofile = \"mosquitto\"\n").is_err());
    }

    #[test]
    fn environment_overrides() {
        let mut c = Config::default();
        c.apply_env(|k| (k == "SHOAL_API_LISTEN").then(|| "127.0.0.1:1234".to_string()))
            .unwrap();
        assert_eq!(c.api.listen.port(), 1234);
        assert!(c
            .apply_env(|k| (k == "SHOAL_REGION").then(|| "Bad Region".to_string()))
            .is_err());
    }
}
