//! shoal-load: drives a running Shoal (or a reference broker) the way real clients do and prints
//! throughput and latency.
//! Every request is SigV4-signed; each of the concurrent clients keeps one HTTP/1.1 keep-alive
//! connection. Figures go in BENCHMARKS.md, never in tests.

mod api;
mod fleet;
mod jobs;
mod logs;
mod mqtt;
mod objects;
mod provision;
mod report;
mod simulate;
mod startup;
mod tunnel;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "shoal-load", about = "Load tool for Shoal")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Control-plane API load (CreateThing, DescribeThing, ListThings).
    Api(api::ApiArgs),
    /// Start a shoal binary, time its first served request and read its idle memory.
    Startup(startup::StartupArgs),
    /// MQTT load against any broker (Shoal, Mosquitto...).
    Mqtt(mqtt::MqttArgs),
    /// Jobs: a simulated fleet carrying out jobs over MQTT, and job creation over many targets.
    Jobs(jobs::JobsArgs),
    /// Object storage: PutObject and GetObject of a large object beside a file copy.
    Objects(objects::ObjectsArgs),
    /// Fleet provisioning by claim: devices getting their certificates over MQTT at once.
    Provision(provision::ProvisionArgs),
    /// Device log records written straight into a stopped server's log store.
    LogsFill(logs::LogsArgs),
    /// Secure tunneling: bulk copy and round trips through a tunnel beside direct TCP, and
    /// idle tunnels held open.
    Tunnel(tunnel::TunnelArgs),
}

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async {
        match cli.command {
            Command::Api(a) => api::run(a).await,
            Command::Startup(a) => startup::run(a).await,
            Command::Mqtt(a) => mqtt::run(a).await,
            Command::Jobs(a) => jobs::run(a).await,
            Command::Objects(a) => objects::run(a).await,
            Command::Provision(a) => provision::run(a).await,
            Command::LogsFill(a) => logs::run(a).await,
            Command::Tunnel(a) => tunnel::run(a).await,
        }
    });
    if let Err(e) = result {
        eprintln!("shoal-load: {e}");
        std::process::exit(1);
    }
}
