//! `shoal`: the command line. `shoal` alone (what `cargo run --release` runs) is `shoal serve`.

use clap::{Parser, Subcommand};
use shoal::config::{Config, DEFAULT_TOML};
use shoal::credentials;
use shoal::Server;
use shoal_domain::{AccountId, SystemClock};
use shoal_services::Accounts;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "shoal",
    version,
    about = "Self-hosted AWS IoT Core + Device Management"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Clone, Default)]
struct Common {
    /// Configuration file (TOML); defaults apply without one.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data folder (overrides the file and SHOAL_DATA).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve {
        /// API listener address, HOST:PORT; port 0 picks a free port.
        #[arg(long)]
        api: Option<std::net::SocketAddr>,
        /// MQTT (TLS) listener address, HOST:PORT; port 0 picks a free port.
        #[arg(long)]
        mqtt: Option<std::net::SocketAddr>,
        /// Plain-TCP MQTT listener address (off unless given), HOST:PORT.
        #[arg(long)]
        mqtt_plain: Option<std::net::SocketAddr>,
        /// Device HTTPS (client certificates) listener address, HOST:PORT; port 0 picks one.
        #[arg(long)]
        device_https: Option<std::net::SocketAddr>,
        /// Secure-tunneling proxy endpoint (wss) address, HOST:PORT; port 0 picks one.
        #[arg(long)]
        tunnel: Option<std::net::SocketAddr>,
    },
    /// Print the export lines for the admin credentials again.
    Env,
    /// Print the commented default configuration.
    GenerateConfig,
    /// Validate a configuration file.
    CheckConfig { file: PathBuf },
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// Manage access keys.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Empty an account's region (or, with --all, every account's every region) on the running
    /// server, keeping accounts and access keys: a clean account for the next test.
    Reset {
        /// The account to empty.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        account: Option<String>,
        /// Its region (default: the configuration's).
        #[arg(long, requires = "account")]
        region: Option<String>,
        /// Every account's every region.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum AccountAction {
    /// Create an account and a first access key for it.
    Create,
    /// List account ids.
    List,
}

#[derive(Subcommand)]
enum KeyAction {
    /// Create an access key (for the default account unless --account is given).
    Create {
        #[arg(long)]
        account: Option<String>,
        /// The key may sign in to the console and read, and change nothing there; the APIs
        /// and device gateways refuse it.
        #[arg(long)]
        read_only: bool,
    },
    /// List access keys (all accounts unless --account is given); secrets are not shown.
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Deactivate a key: requests signed with it are refused until it is activated again.
    Deactivate { key: String },
    /// Activate a deactivated key.
    Activate { key: String },
    /// Delete a key for good.
    Delete { key: String },
}

impl KeyAction {
    /// The key and the state asked for, for `activate` and `deactivate`.
    fn activation(&self) -> Option<(&str, bool)> {
        match self {
            KeyAction::Activate { key } => Some((key, true)),
            KeyAction::Deactivate { key } => Some((key, false)),
            _ => None,
        }
    }
}

fn load_config(common: &Common) -> Result<Config, String> {
    let mut cfg = Config::load(common.config.as_deref())?;
    if let Some(d) = &common.data {
        cfg.data = d.clone();
    }
    Ok(cfg)
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Files and folders this process creates are its owner's only: the data folder holds every
/// secret access key, the CA key and the admin credentials.
fn private_umask() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

fn main() -> ExitCode {
    private_umask();
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_serve(&cli.common, Listeners::default()),
        Some(Command::Serve {
            api,
            mqtt,
            mqtt_plain,
            device_https,
            tunnel,
        }) => run_serve(
            &cli.common,
            Listeners {
                api,
                mqtt,
                mqtt_plain,
                device_https,
                tunnel,
            },
        ),
        Some(Command::Env) => run_env(&cli.common),
        Some(Command::GenerateConfig) => {
            print!("{DEFAULT_TOML}");
            Ok(())
        }
        Some(Command::CheckConfig { file }) => std::fs::read_to_string(&file)
            .map_err(|e| format!("{}: {e}", file.display()))
            .and_then(|t| Config::parse(&t).map_err(|e| format!("{}: {e}", file.display())))
            .map(|_| println!("{}: ok", file.display())),
        Some(Command::Account { action }) => run_admin(&cli.common, Admin::Account(action)),
        Some(Command::Key { action }) => run_admin(&cli.common, Admin::Key(action)),
        Some(Command::Reset {
            account,
            region,
            all,
        }) => run_reset(&cli.common, account, region, all),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shoal: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// Listener addresses given on the command line; they override the configuration.
#[derive(Default)]
struct Listeners {
    api: Option<std::net::SocketAddr>,
    mqtt: Option<std::net::SocketAddr>,
    mqtt_plain: Option<std::net::SocketAddr>,
    device_https: Option<std::net::SocketAddr>,
    tunnel: Option<std::net::SocketAddr>,
}

fn run_serve(common: &Common, l: Listeners) -> Result<(), String> {
    let mut cfg = load_config(common)?;
    if l.mqtt_plain.is_some() {
        cfg.mqtt.plain_listen = l.mqtt_plain;
    }
    if let Some(a) = l.api {
        cfg.api.listen = a;
    }
    if let Some(m) = l.mqtt {
        cfg.mqtt.listen = m;
    }
    if let Some(d) = l.device_https {
        cfg.device_https.listen = d;
    }
    if let Some(t) = l.tunnel {
        cfg.tunnels.listen = t;
    }
    init_tracing(&cfg.log.level);
    runtime()?.block_on(async {
        // SHOAL_TEST_CLOCK=1: a clock end-to-end tests may move (POST /shoal/test/clock).
        let test_clock = (std::env::var("SHOAL_TEST_CLOCK").as_deref() == Ok("1"))
            .then(|| Arc::new(shoal_domain::OffsetClock::default()));
        let clock: Arc<dyn shoal_domain::Clock> = match &test_clock {
            Some(c) => c.clone(),
            None => Arc::new(SystemClock),
        };
        let server = Server::start(&cfg, clock, test_clock).await?;
        let data = std::fs::canonicalize(&cfg.data).unwrap_or(cfg.data.clone());
        println!("shoal {}  data={}  (embedded store)", env!("CARGO_PKG_VERSION"), data.display());
        println!("  api      {:<26}iot, iot-data, iot-jobs-data, s3, logs, monitoring, iotsecuretunneling", server.endpoint());
        println!("  console  {}/console  the fleet console (sign in with an access key)", server.endpoint());
        println!("  mqtt     mqtts://{:<18}mutual TLS, MQTT 3.1.1 + 5; WebSocket /mqtt (SigV4)", server.mqtt_addr);
        println!("  https    https://{:<18}device HTTPS (client certificates): iot-data, iot-jobs-data; MQTT by ALPN x-amzn-mqtt-ca", server.device_https_addr);
        println!("  tunnel   wss://{:<20}secure tunneling: local proxies (-e HOST:PORT), /tunnel", server.tunnel_addr);
        if let Some(a) = server.alpn_addr {
            println!("  alpn     {a:<26}AWS's 443: MQTT (x-amzn-mqtt-ca) and HTTPS (x-amzn-http-ca) by ALPN");
        }
        if let Some(a) = server.mqtt_plain_addr {
            println!("  mqtt-tcp mqtt://{a:<19}plain TCP, access key as user name");
        }
        println!("  ca       {}", credentials::ca_cert_path(&data).display());
        match &server.admin {
            Some((k, s)) => println!("{}", credentials::export_line(&server.endpoint(), k, s, &cfg.region)),
            None => println!("  (no admin credentials file in the data folder; make a key with `shoal key create`)"),
        }
        tracing::info!(api = %server.api_addr, "serving");
        let pid_file = credentials::pid_path(&cfg.data);
        let _ = credentials::write_file(&pid_file, &std::process::id().to_string(), 0o600);
        tokio::spawn(forget_keys_on_hangup(server.accounts.clone()));
        shutdown_signal().await;
        tracing::info!("shutting down");
        server.stop().await;
        let _ = std::fs::remove_file(&pid_file);
        Ok(())
    })
}

/// SIGHUP: `shoal key` changed keys in the store from another process; the ones this server
/// keeps in memory are dropped, so the change applies to the next request.
async fn forget_keys_on_hangup(accounts: Arc<Accounts>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("access keys changed; forgetting the ones in memory");
            accounts.forget_keys();
        }
    }
    #[cfg(not(unix))]
    let _ = accounts;
}

/// Tells the server running on the data folder, if any, that keys changed. Only a process of
/// this same program is signalled, so a stale pid file never reaches another process.
fn run_reset(
    common: &Common,
    account: Option<String>,
    region: Option<String>,
    all: bool,
) -> Result<(), String> {
    let cfg = load_config(common)?;
    let target = match (account, all) {
        (Some(account), false) => shoal::reset_cli::Target::Account {
            account,
            region: region.unwrap_or_else(|| cfg.region.clone()),
        },
        _ => shoal::reset_cli::Target::All,
    };
    let answer = runtime()?.block_on(shoal::reset_cli::reset(&cfg.data, target))?;
    println!("{answer}");
    Ok(())
}

fn tell_server_keys_changed(data: &std::path::Path) {
    let Ok(text) = std::fs::read_to_string(credentials::pid_path(data)) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return;
    };
    #[cfg(target_os = "linux")]
    {
        let theirs = std::fs::read_link(format!("/proc/{pid}/exe"));
        let ours = std::env::current_exe();
        if let (Ok(theirs), Ok(ours)) = (theirs, ours) {
            if theirs == ours {
                // SAFETY: kill only sends a signal; the target was checked to be a shoal server.
                unsafe {
                    libc::kill(pid, libc::SIGHUP);
                }
                return;
            }
        }
        eprintln!(
            "shoal: the server of {} (pid {pid}) could not be told; keys it already used stay in effect until it restarts",
            data.display()
        );
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn run_env(common: &Common) -> Result<(), String> {
    let cfg = load_config(common)?;
    let (k, s) = credentials::read_credentials(&cfg.data).map_err(|e| {
        format!(
            "no credentials in {} ({e}); start `shoal serve` once first",
            cfg.data.display()
        )
    })?;
    let addr = std::fs::read_to_string(credentials::api_addr_path(&cfg.data))
        .map(|a| a.trim().to_string())
        .unwrap_or_else(|_| cfg.api.listen.to_string());
    println!(
        "{}",
        credentials::export_line(&format!("http://{addr}"), &k, &s, &cfg.region)
    );
    let ca = credentials::ca_cert_path(&cfg.data);
    let ca = std::fs::canonicalize(&ca).unwrap_or(ca);
    println!("export SHOAL_CA_FILE={}", ca.display());
    let mqtt = std::fs::read_to_string(credentials::mqtt_addr_path(&cfg.data))
        .map(|a| a.trim().to_string())
        .unwrap_or_else(|_| cfg.mqtt.listen.to_string());
    println!("export SHOAL_MQTT_ENDPOINT={mqtt}");
    let https = std::fs::read_to_string(credentials::device_https_addr_path(&cfg.data))
        .map(|a| a.trim().to_string())
        .unwrap_or_else(|_| cfg.device_https.listen.to_string());
    println!("export SHOAL_DEVICE_HTTPS_ENDPOINT={https}");
    let alpn = std::fs::read_to_string(credentials::alpn_addr_path(&cfg.data))
        .map(|a| a.trim().to_string())
        .unwrap_or(https);
    println!("export SHOAL_ALPN_ENDPOINT={alpn}");
    let tunnel = std::fs::read_to_string(credentials::tunnel_addr_path(&cfg.data))
        .map(|a| a.trim().to_string())
        .unwrap_or_else(|_| cfg.tunnels.listen.to_string());
    println!("export SHOAL_TUNNEL_ENDPOINT={tunnel}");
    // The AWS IoT Device SDK samples take no CA file: they trust the system's store.
    println!("# To trust Shoal's CA system-wide (AWS IoT Device SDK samples need it), as root:");
    println!(
        "#   Debian/Ubuntu: cp {} /usr/local/share/ca-certificates/shoal.crt && update-ca-certificates",
        ca.display()
    );
    println!(
        "#   Fedora/RHEL:   cp {} /etc/pki/ca-trust/source/anchors/shoal.pem && update-ca-trust",
        ca.display()
    );
    Ok(())
}

enum Admin {
    Account(AccountAction),
    Key(KeyAction),
}

/// Account and key administration works on the data folder directly, also while a server runs
/// on it: the store allows a second writer process, and the server looks keys up as they come.
fn run_admin(common: &Common, what: Admin) -> Result<(), String> {
    let cfg = load_config(common)?;
    runtime()?.block_on(async {
        let store = shoal::open_store(&cfg)?;
        let accounts = Accounts::new(store.clone(), Arc::new(SystemClock));
        let out = async {
            if let Some(key) = accounts.initialize().await.map_err(|e| e.message)? {
                credentials::write_credentials(&cfg.data, &key)
                    .map_err(|e| format!("cannot write credentials: {e}"))?;
            }
            if let Admin::Key(action) = &what {
                if let Some((key, active)) = action.activation() {
                    accounts
                        .set_key_active(key, active)
                        .await
                        .map_err(|e| e.message)?;
                    tell_server_keys_changed(&cfg.data);
                    println!("{key} {}", if active { "activated" } else { "deactivated" });
                    return Ok(());
                }
            }
            match what {
                Admin::Account(AccountAction::Create) => {
                    let (id, key) = accounts.create_account().await.map_err(|e| e.message)?;
                    println!("account {id}");
                    println!(
                        "export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
                        key.access_key_id, key.secret_access_key
                    );
                }
                Admin::Account(AccountAction::List) => {
                    for a in accounts.list_accounts().map_err(|e| e.message)? {
                        println!("{a}");
                    }
                }
                Admin::Key(KeyAction::List { account }) => {
                    let account = account
                        .map(|a| AccountId::parse(&a).map_err(|e| e.message))
                        .transpose()?;
                    println!(
                        "{:<24} {:<14} {:<8} created",
                        "access key id", "account", "status"
                    );
                    for k in accounts
                        .list_keys(account.as_ref())
                        .map_err(|e| e.message)?
                    {
                        let status = if k.active { "active" } else { "inactive" };
                        println!(
                            "{:<24} {:<14} {:<8} {}",
                            k.access_key_id,
                            k.account,
                            status,
                            k.created.secs()
                        );
                    }
                }
                // Handled above, before the match.
                Admin::Key(KeyAction::Deactivate { .. } | KeyAction::Activate { .. }) => {}
                Admin::Key(KeyAction::Delete { key }) => {
                    accounts.delete_key(&key).await.map_err(|e| e.message)?;
                    tell_server_keys_changed(&cfg.data);
                    println!("{key} deleted");
                }
                Admin::Key(KeyAction::Create { account, read_only }) => {
                    let account = match account {
                        Some(a) => AccountId::parse(&a).map_err(|e| e.message)?,
                        None => accounts
                            .default_account()
                            .map_err(|e| e.message)?
                            .ok_or("no default account")?,
                    };
                    let key = accounts
                        .create_key_with(&account, read_only)
                        .await
                        .map_err(|e| e.message)?;
                    println!(
                        "export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
                        key.access_key_id, key.secret_access_key
                    );
                }
            }
            Ok::<(), String>(())
        }
        .await;
        shoal_store::Store::shutdown(store.as_ref()).await;
        out
    })
}
