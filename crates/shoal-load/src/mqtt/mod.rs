//! MQTT load: fan-in (many publishers, one wildcard subscriber), fan-out (one publisher, many
//! subscribers), device pairs (one topic per publisher/subscriber pair), connects per second,
//! idle connections' memory, and request/response (shadow updates, or plain publishes answered
//! by the load tool). Payloads carry the send time, so latency is measured end to
//! end in one process; loss is sent × fan-out minus received.

pub(crate) mod conn;
mod request;
mod scenarios;

use conn::Target;
use std::time::Duration;

#[derive(clap::Args, Clone)]
pub struct MqttArgs {
    /// fan-in, fan-out, pairs, connect, idle, shadow or request.
    #[arg(long)]
    pub scenario: String,
    /// Broker address HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub addr: String,
    /// Root CA file: with it, connect over TLS.
    #[arg(long)]
    pub ca: Option<String>,
    /// Client certificate and key (PEM) for mutual TLS.
    #[arg(long)]
    pub cert: Option<String>,
    #[arg(long)]
    pub key: Option<String>,
    /// Name the server certificate must carry.
    #[arg(long, default_value = "localhost")]
    pub server_name: String,
    /// Publishers (fan-in), subscribers (fan-out), pairs, concurrent connectors or idle connections.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    #[arg(long, default_value_t = 0)]
    pub qos: u8,
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Messages per second per publisher; 0 sends as fast as the broker takes them.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Unacknowledged QoS 1 or 2 messages per publisher (AWS IoT allows 100).
    #[arg(long, default_value_t = 100)]
    pub inflight: usize,
    /// Message scenarios: a closed loop over the whole run, at most this many deliveries sent
    /// and not yet received (publishers wait for subscribers); 0 for none.
    #[arg(long, default_value_t = 0)]
    pub outstanding: usize,
    /// Connect scenario: stop after this many connections in all (0: run for `--seconds`).
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// The broker's process id, to read its memory in the idle scenario.
    #[arg(long)]
    pub pid: Option<u32>,
    /// MQTT user name and password (Shoal's plain-TCP listener: an access key and its secret).
    #[arg(long)]
    pub username: Option<String>,
    #[arg(long)]
    pub password: Option<String>,
    /// Seconds the request scenarios wait after every device is connected before measuring:
    /// a broker may still be writing what the connects caused (Shoal's connectivity records
    /// and lifecycle events).
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Request scenarios: each device sends one request every this many milliseconds (for
    /// rates below one per second); overrides `--rate`.
    #[arg(long)]
    pub period_ms: Option<u64>,
    /// Request scenarios: also print the latency of each second of the run.
    #[arg(long)]
    pub verbose: bool,
    /// Connections of the load tool answering the `request` scenario.
    #[arg(long, default_value_t = 4)]
    pub responders: usize,
    /// Topic and client-id prefix.
    #[arg(long, default_value = "load")]
    pub prefix: String,
    /// Message scenarios: JSON payloads (`{"t": send time, "n": 0..9999, "p": padding}`, `n`
    /// cycling per publisher) for brokers that look into them (the rules engine).
    #[arg(long)]
    pub json: bool,
    /// Message scenarios: the subscribers' filter instead of the scenario's own (to count
    /// the messages a rule republishes elsewhere).
    #[arg(long)]
    pub subscribe: Option<String>,
    /// Connect scenario: each worker cycles through this many client ids (a fleet of devices
    /// that come and go); 0 gives every connection a new client id.
    #[arg(long, default_value_t = 0)]
    pub ids: u64,
}

impl MqttArgs {
    fn duration(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }
}

pub async fn run(a: MqttArgs) -> Result<(), String> {
    let tls = match &a.ca {
        Some(ca) => {
            let cfg = conn::tls_config(ca, a.cert.as_deref(), a.key.as_deref())?;
            let name = rustls_pki_types::ServerName::try_from(a.server_name.clone())
                .map_err(|e| e.to_string())?;
            Some((cfg, name))
        }
        None => None,
    };
    let target = Target {
        addr: a.addr.clone(),
        tls,
        login: a.username.clone().zip(a.password.clone()),
    };
    match a.scenario.as_str() {
        "fan-in" | "fan-out" | "pairs" => scenarios::messages(&a, &target).await,
        "connect" => scenarios::connects(&a, &target).await,
        "idle" => scenarios::idle(&a, &target).await,
        "shadow" | "request" => request::run(&a, &target).await,
        other => Err(format!("unknown scenario {other}")),
    }
}
