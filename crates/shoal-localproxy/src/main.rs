//! `shoal-localproxy`: forwards one TCP service through a secure tunnel, with options named as
//! AWS's local proxy names them:
//!
//! ```text
//! shoal-localproxy -e HOST:PORT -c CA.pem -t TOKEN -s [SERVICE=]PORT          (source)
//! shoal-localproxy -e HOST:PORT -c CA.pem -t TOKEN -d [SERVICE=]HOST:PORT     (destination)
//! ```
//!
//! It prints `listening on ADDR` (source) or `connected` (destination) once the endpoint's
//! SERVICE_IDS arrived, and exits when the tunnel closes.

use clap::Parser;
use shoal_localproxy::client::{connect, Endpoint, Mode, Options};
use shoal_localproxy::forward::{self, Side};

#[derive(Parser)]
#[command(about = "Forward a TCP service through a secure tunnel (source or destination mode)")]
struct Args {
    /// The tunneling endpoint, HOST:PORT (Shoal's SHOAL_TUNNEL_ENDPOINT).
    #[arg(short = 'e', long = "proxy-endpoint")]
    endpoint: String,
    /// PEM file of the CA that signed the endpoint's certificate (Shoal's SHOAL_CA_FILE).
    #[arg(short = 'c', long = "ca-file")]
    ca: String,
    /// The client access token.
    #[arg(short = 't', long = "access-token", env = "AWSIOT_TUNNEL_ACCESS_TOKEN")]
    token: String,
    /// A client token (32 to 128 letters, digits or dashes) to reconnect with the same token.
    #[arg(short = 'i', long = "client-token", env = "AWSIOT_TUNNEL_CLIENT_TOKEN")]
    client_token: Option<String>,
    /// Source mode: [SERVICE=]PORT to listen on (0: any free port).
    #[arg(
        short = 's',
        long = "source-listen-port",
        conflicts_with = "destination"
    )]
    source: Option<String>,
    /// Destination mode: [SERVICE=]HOST:PORT of the application.
    #[arg(short = 'd', long = "destination-app")]
    destination: Option<String>,
    /// The address the source listens on.
    #[arg(short = 'b', long = "local-bind-address", default_value = "127.0.0.1")]
    bind: String,
}

fn split_service(v: &str) -> (String, String) {
    match v.split_once('=') {
        Some((s, rest)) => (s.to_string(), rest.to_string()),
        None => (String::new(), v.to_string()),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("shoal-localproxy: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let ca = std::fs::read_to_string(&args.ca).map_err(|e| format!("{}: {e}", args.ca))?;
    let ep = Endpoint::new(&args.endpoint, &ca)?;
    let (mode, spec) = match (&args.source, &args.destination) {
        (Some(s), None) => (Mode::Source, s.clone()),
        (None, Some(d)) => (Mode::Destination, d.clone()),
        _ => return Err("give one of -s (source) or -d (destination)".into()),
    };
    let (mut service, target) = split_service(&spec);
    let mut o = Options::new(mode, &args.token);
    o.client_token = args.client_token;
    let mut conn = connect(&ep, &o).await.map_err(|e| e.to_string())?;
    let ids = forward::service_ids(&mut conn).await?;
    if service.is_empty() && ids.len() == 1 {
        service = ids[0].clone();
    }
    if !ids.is_empty() && !ids.contains(&service) {
        return Err(format!("the tunnel serves {ids:?}, not {service:?}"));
    }
    let side = match mode {
        Mode::Source => {
            let l = tokio::net::TcpListener::bind(format!("{}:{target}", args.bind))
                .await
                .map_err(|e| format!("listen on {target}: {e}"))?;
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            println!("listening on {addr}");
            Side::Source(l)
        }
        Mode::Destination => {
            println!("connected");
            Side::Destination(target)
        }
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    forward::run(conn, &service, side).await
}
