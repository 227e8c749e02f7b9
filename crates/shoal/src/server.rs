//! Wiring: opens the store, makes the services, binds the listeners and runs the gateways until
//! told to stop. Binding happens before `start` returns, so the printed addresses are live.
//! Stopping drains in order: the listeners stop accepting and their connections wind down
//! (HTTP requests in flight finish, MQTT sessions get DISCONNECT 0x8B), the broker's shards and
//! persister write what they hold, the fleet index commits, and the store closes last.

use crate::config::Config;
use crate::credentials;
use shoal_api::ApiState;
use shoal_domain::Clock;
use shoal_net::{CancellationToken, Listener, Served};
use shoal_services::objects::Objects;
use shoal_services::{
    AccessKey, Accounts, Events, FleetIndexing, Identity, Jobs, Messaging, Registry,
    ReservedTopics, Scheduler, Shadows,
};
use shoal_store::sqlite::SqliteStore;
use shoal_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long connections get to end after the listeners stop.
const DRAIN: Duration = Duration::from_secs(10);

/// Opens (creating) the data folder's embedded store. The folder holds every secret access
/// key and the CA key: only its owner may enter it (0700), and the database files are 0600.
pub fn open_store(cfg: &Config) -> Result<Arc<SqliteStore>, String> {
    credentials::private_dir(&cfg.data)
        .map_err(|e| format!("cannot create {}: {e}", cfg.data.display()))?;
    let db = cfg.data.join("shoal.db");
    credentials::private_file(&db).map_err(|e| format!("{}: {e}", db.display()))?;
    let store = SqliteStore::open(&db)
        .map(Arc::new)
        .map_err(|e| format!("cannot open the store in {}: {e}", cfg.data.display()))?;
    // SQLite gives the WAL and shared-memory files the database's mode; files made by an
    // older version keep theirs until fixed here, by path: opening and closing one of them in
    // this process would drop every POSIX lock SQLite holds on it (fcntl locks belong to the
    // process and go with any close), and the next process to open the store (`shoal account
    // create`) would then think itself alone, reset the shared-memory file under the mapped
    // pages, and kill the server with SIGBUS.
    for suffix in ["-wal", "-shm"] {
        let f = cfg.data.join(format!("shoal.db{suffix}"));
        if f.exists() {
            credentials::restrict_file(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        }
    }
    Ok(store)
}

/// Names the server certificate covers: the configured public host, the loopback names, and
/// the account endpoints under the public host (`<prefix>-ats.iot.<region>.<host>` and the
/// jobs and credentials endpoints).
fn server_hosts(cfg: &Config) -> Vec<String> {
    let host = &cfg.api.public_host;
    let region = &cfg.region;
    let mut hosts = vec![
        host.clone(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        format!("*.iot.{region}.{host}"),
        format!("*.jobs.iot.{region}.{host}"),
        format!("*.credentials.iot.{region}.{host}"),
    ];
    hosts.sort();
    hosts.dedup();
    hosts
}

pub struct Server {
    pub api_addr: SocketAddr,
    pub mqtt_addr: SocketAddr,
    pub mqtt_plain_addr: Option<SocketAddr>,
    pub device_https_addr: SocketAddr,
    /// The ALPN listener (AWS's 443), when configured and the process could bind it.
    pub alpn_addr: Option<SocketAddr>,
    /// The secure-tunneling proxy endpoint.
    pub tunnel_addr: SocketAddr,
    /// The admin key, read from the data folder (created there on first start).
    pub admin: Option<(String, String)>,
    /// Set on the first start only.
    pub created_admin: Option<AccessKey>,
    pub accounts: Arc<Accounts>,
    /// The fleet index, so tests can wait until a change is searchable.
    pub fleet: FleetIndexing,
    /// The durable scheduler, so tests that move the clock can fire what became due.
    pub scheduler: Arc<Scheduler>,
    /// Jobs, so tests can wait until CONTINUOUS jobs followed a membership change.
    pub jobs: Arc<Jobs>,
    scheduler_stop: tokio::sync::watch::Sender<bool>,
    scheduler_task: tokio::task::JoinHandle<()>,
    /// Applies thing membership changes to CONTINUOUS jobs (stops with the scheduler).
    jobs_follower: tokio::task::JoinHandle<()>,
    store: Arc<SqliteStore>,
    gateway: Arc<shoal_broker::Gateway>,
    stop: CancellationToken,
    api: Served,
    device_https: Served,
    alpn: Option<Served>,
    mqtt: Served,
    mqtt_plain: Option<Served>,
    tunnel: Served,
}

fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

impl Server {
    /// Starts every listener and service on `clock`; `test_clock`, when given, is that same
    /// clock, which `POST /shoal/test/clock` may move (`SHOAL_TEST_CLOCK=1`).
    pub async fn start(
        cfg: &Config,
        clock: Arc<dyn Clock>,
        test_clock: Option<Arc<shoal_domain::OffsetClock>>,
    ) -> Result<Server, String> {
        let store = open_store(cfg)?;
        let dyn_store: Arc<dyn Store> = store.clone();
        let accounts = Arc::new(Accounts::new(dyn_store.clone(), clock.clone()));
        let created_admin = accounts.initialize().await.map_err(|e| e.message)?;
        if let Some(key) = &created_admin {
            credentials::write_credentials(&cfg.data, key)
                .map_err(|e| format!("cannot write credentials: {e}"))?;
        }
        accounts.index_endpoints().await.map_err(|e| e.message)?;
        let admin = credentials::read_credentials(&cfg.data).ok();
        let authority = Arc::new(credentials::load_or_create_authority(&cfg.data)?);
        credentials::ensure_server_certificate(&cfg.data, &authority, &server_hosts(cfg))?;
        let epoch = shoal_services::AuthorizationEpoch::default();
        let messaging = Arc::new(Messaging::new(dyn_store.clone(), clock.clone()));
        let scheduler = Scheduler::new(dyn_store.clone(), clock.clone());
        // `$aws/events/...` messages are timers of the scheduler, staged with their changes.
        let events = Arc::new(Events::new(dyn_store.clone(), clock.clone()));
        events.publish_with(&scheduler, messaging.clone());
        let registry = Arc::new(
            Registry::new(dyn_store.clone(), clock.clone(), epoch.clone())
                .with_events(events.clone()),
        );
        let identity = Arc::new(Identity::new(
            dyn_store.clone(),
            clock.clone(),
            authority,
            epoch,
        ));
        let region = shoal_domain::Region::parse(&cfg.region).map_err(|e| e.message)?;
        identity
            .index_certificates(&region, &accounts.list_accounts().map_err(|e| e.message)?)
            .await
            .map_err(|e| e.message)?;
        let device_tls = shoal_broker::tls::server_configs(
            &read(&credentials::server_cert_path(&cfg.data))?,
            &read(&credentials::server_key_path(&cfg.data))?,
        )?;
        let shadows = Arc::new(Shadows::new(dyn_store.clone(), clock.clone()));
        // Device log records: files of this node beside the store (see shoal-logstore).
        let log_store = shoal_logstore::LogStore::open(&cfg.data.join("logs"), 64 << 20)
            .map_err(|e| format!("cannot open the device logs: {e}"))?;
        let logs = shoal_services::DeviceLogs::new(
            dyn_store.clone(),
            registry.clone(),
            Arc::new(log_store),
            clock.clone(),
        );
        logs.follow();
        // Derived data beside the store: deleting the folder only costs a rebuild.
        let fleet = FleetIndexing::start(
            dyn_store.clone(),
            registry.clone(),
            clock.clone(),
            scheduler.clone(),
            &cfg.data.join("index"),
        )
        .map_err(|e| e.message)?;
        let blobs = crate::objects_backend::open(&cfg.objects, &cfg.data)?;
        let objects = Arc::new(Objects::new(dyn_store.clone(), clock.clone(), blobs));
        // Bytes a crash left without a record (written, never committed) go at start-up.
        tokio::spawn({
            let objects = objects.clone();
            async move {
                match objects.sweep_all().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(blobs = n, "removed object bytes no record names"),
                    Err(e) => tracing::warn!(error = %e.message, "object sweep failed"),
                }
            }
        });
        let jobs = Jobs::new(
            dyn_store.clone(),
            clock.clone(),
            scheduler.clone(),
            messaging.clone(),
            events.clone(),
        )
        .with_fleet(fleet.clone())
        .with_objects(objects.clone())
        .with_logs(logs.clone());
        let provisioning = Arc::new(shoal_services::provisioning::Provisioning::new(
            dyn_store.clone(),
            clock.clone(),
            registry.clone(),
            identity.clone(),
        ));
        provisioning.enable_bulk(scheduler.clone(), objects.clone());
        provisioning.set_events(events.clone());
        let functions: Arc<dyn shoal_services::authorizers::FunctionPort> =
            Arc::new(crate::functions::Functions::new(cfg.functions.clone())?);
        provisioning.set_functions(functions.clone());
        let tunnels = shoal_services::Tunnels::new(
            dyn_store.clone(),
            clock.clone(),
            scheduler.clone(),
            messaging.clone(),
            cfg.tunnels.max_open,
        );
        // The rules engine: rules compiled per partition from the store (and its change
        // stream), evaluated by every gateway's messages; Basic Ingest is a reserved topic.
        let rules = shoal_services::Rules::new(dyn_store.clone(), clock.clone());
        rules.follow();
        let reserved = Arc::new(ReservedTopics::new(
            messaging.clone(),
            clock.clone(),
            vec![
                shadows.clone(),
                jobs.clone(),
                provisioning.clone(),
                tunnels.clone(),
                shoal_services::rules::BasicIngest::new(rules.clone()),
            ],
        ));
        reserved.set_rules(rules.clone());
        messaging.set_rules(&rules);
        let rules_http: Arc<dyn shoal_services::rules::HttpPort> = Arc::new(
            crate::rules_http::RulesHttp::new(&cfg.rules.allow_networks)?,
        );
        // CloudWatch: the fleet metrics' and counters' series, and alarms on the scheduler,
        // whose actions publish through the broker or post through the rules' outbound port.
        let cloudwatch = shoal_services::CloudWatch::new(
            dyn_store.clone(),
            clock.clone(),
            scheduler.clone(),
            logs.clone(),
        );
        cloudwatch.set_ports(shoal_services::cloudwatch::Ports {
            messaging: messaging.clone(),
            http: rules_http.clone(),
            actions: cfg.alarms.targets()?,
        });
        let authorizers = Arc::new(shoal_services::authorizers::Authorizers::new(
            dyn_store.clone(),
            clock.clone(),
        ));
        authorizers.set_functions(functions);
        let domains = Arc::new(shoal_services::domains::Domains::new(
            dyn_store.clone(),
            clock.clone(),
            cfg.api.public_host.clone(),
        ));
        let gateway = shoal_broker::Gateway::new(
            identity.clone(),
            accounts.clone(),
            messaging.clone(),
            reserved.clone(),
            clock.clone(),
            shoal_broker::Endpoint {
                region: region.clone(),
                tls: device_tls.clone(),
                profile: cfg.mqtt.profile()?,
                authorizers: authorizers.clone(),
                domains: domains.clone(),
                provisioning: provisioning.clone(),
                logs: logs.clone(),
                rules: Some(rules.clone()),
            },
        )
        .map_err(|e| e.message)?;
        // The fleet console on the API port, over the same services.
        let console = shoal_console::Console::new(shoal_console::Deps {
            sessions: Arc::new(shoal_services::console::Sessions::new(
                dyn_store.clone(),
                clock.clone(),
                accounts.clone(),
            )),
            registry: registry.clone(),
            identity: identity.clone(),
            shadows: shadows.clone(),
            messaging: messaging.clone(),
            fleet: fleet.clone(),
            jobs: jobs.clone(),
            cloudwatch: cloudwatch.clone(),
            logs: logs.clone(),
            tunnels: tunnels.clone(),
            default_region: region.as_str().to_string(),
        });
        let (messaging_for_reset, identity_for_reset) = (messaging.clone(), identity.clone());
        let (messaging_for_rules, shadows_for_rules, reserved_for_rules) =
            (messaging.clone(), shadows.clone(), reserved.clone());

        let state = Arc::new(
            ApiState::new(
                shoal_api::Services {
                    registry,
                    identity,
                    accounts: accounts.clone(),
                    messaging,
                    shadows,
                    reserved,
                    jobs: jobs.clone(),
                    objects: objects.clone(),
                    events,
                    fleet: fleet.clone(),
                    reset: Arc::new(shoal_services::reset::Reset {
                        store: dyn_store.clone(),
                        messaging: messaging_for_reset,
                        fleet: fleet.clone(),
                        identity: identity_for_reset,
                        jobs: jobs.clone(),
                        objects: objects.clone(),
                        logs: logs.clone(),
                    }),
                    authorizers: authorizers.clone(),
                    domains,
                    provisioning,
                    logs: logs.clone(),
                    tunnels: tunnels.clone(),
                    rules: rules.clone(),
                    cloudwatch: cloudwatch.clone(),
                },
                clock,
                cfg.api.public_host.clone(),
            )
            .with_metrics_token(Some(cfg.metrics.token.clone()))
            .with_default_region(region.clone())
            .with_admin_key(admin.as_ref().map(|(id, _)| id.clone()))
            .with_test_clock(test_clock)
            .with_console(Some(console.clone()))
            .with_index_wait(std::time::Duration::from_millis(
                cfg.indexing.read_your_writes_ms,
            )),
        );

        let mqtt = Listener::new(
            "mqtt",
            bind(cfg.mqtt.listen).await?,
            cfg.mqtt.max_connections,
        );
        let mqtt_addr = mqtt.local_addr().map_err(|e| e.to_string())?;
        let api = Listener::new("api", bind(cfg.api.listen).await?, cfg.api.max_connections);
        let api_addr = api.local_addr().map_err(|e| e.to_string())?;
        // Presigned URLs in job documents point at the API port: at its address when it
        // listens on one, else at the public host name.
        let presign_host = if api_addr.ip().is_unspecified() {
            format!("{}:{}", cfg.api.public_host, api_addr.port())
        } else {
            api_addr.to_string()
        };
        objects.set_presigning(accounts.clone(), format!("http://{presign_host}"));
        rules.set_ports(shoal_services::rules::Ports {
            messaging: messaging_for_rules,
            objects: objects.clone(),
            logs: logs.clone(),
            shadows: shadows_for_rules,
            reserved: Arc::downgrade(&reserved_for_rules),
            http: rules_http,
            api_base: format!("http://{presign_host}"),
        });
        let device_https = Listener::new(
            "device-https",
            bind(cfg.device_https.listen).await?,
            cfg.device_https.max_connections,
        );
        let device_https_addr = device_https.local_addr().map_err(|e| e.to_string())?;
        let alpn = match cfg.device.alpn_addr()? {
            Some(addr) => match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => Some(Listener::new(
                    "device-alpn",
                    l,
                    cfg.device_https.max_connections,
                )),
                // Port 443 needs privileges: without them the device HTTPS port serves the
                // same protocols.
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "ALPN listener not started; devices choosing their protocol by ALPN use the device HTTPS port");
                    None
                }
            },
            None => None,
        };
        let alpn_addr = match &alpn {
            Some(l) => Some(l.local_addr().map_err(|e| e.to_string())?),
            None => None,
        };
        let tunnel = Listener::new(
            "tunnel",
            bind(cfg.tunnels.listen).await?,
            cfg.tunnels.max_connections,
        );
        let tunnel_addr = tunnel.local_addr().map_err(|e| e.to_string())?;
        // The console's terminal is a source client of this endpoint.
        console.set_tunnel_endpoint(tunnel_addr, &read(&credentials::ca_cert_path(&cfg.data))?)?;
        let mqtt_plain = match cfg.mqtt.plain_listen {
            Some(addr) => Some(Listener::new(
                "mqtt-plain",
                bind(addr).await?,
                cfg.mqtt.max_connections,
            )),
            None => None,
        };
        let mqtt_plain_addr = match &mqtt_plain {
            Some(l) => Some(l.local_addr().map_err(|e| e.to_string())?),
            None => None,
        };
        for (path, addr) in [
            (credentials::mqtt_addr_path(&cfg.data), mqtt_addr),
            (credentials::api_addr_path(&cfg.data), api_addr),
            (
                credentials::device_https_addr_path(&cfg.data),
                device_https_addr,
            ),
            (
                credentials::alpn_addr_path(&cfg.data),
                alpn_addr.unwrap_or(device_https_addr),
            ),
            (credentials::tunnel_addr_path(&cfg.data), tunnel_addr),
        ] {
            let _ = std::fs::write(path, addr.to_string());
        }

        let (scheduler_stop, stopped) = tokio::sync::watch::channel(false);
        let jobs_follower = jobs.spawn_membership_follower(stopped.clone());
        cloudwatch.spawn_flush(
            std::time::Duration::from_secs(cfg.cloudwatch.flush_seconds),
            stopped.clone(),
        );
        let scheduler_task = scheduler.spawn(stopped);
        let stop = CancellationToken::new();
        let api = shoal_api::serve(api, state.clone(), stop.child_token());
        let devices = Arc::new(crate::alpn::Services {
            gateway: gateway.clone(),
            api: state,
            region,
        });
        let alpn_tls = crate::alpn::tls_config(&device_tls);
        let device_https = crate::alpn::serve(
            device_https,
            alpn_tls.clone(),
            devices.clone(),
            stop.child_token(),
        );
        let alpn = alpn.map(|l| crate::alpn::serve(l, alpn_tls, devices, stop.child_token()));
        let mqtt_plain =
            mqtt_plain.map(|l| shoal_broker::serve_plain(l, gateway.clone(), stop.child_token()));
        let mqtt = shoal_broker::serve(mqtt, gateway.clone(), stop.child_token());
        // No tunnel connection is live before the endpoint listens.
        if let Err(e) = tunnels.forget_connections().await {
            tracing::warn!(error = %e.message, "tunnel connection states not cleared");
        }
        let tunnel_tls = shoal_tunnel::tls_config(
            &read(&credentials::server_cert_path(&cfg.data))?,
            &read(&credentials::server_key_path(&cfg.data))?,
        )?;
        let tunnel = shoal_tunnel::serve(
            tunnel,
            shoal_tunnel::Gateway::new(tunnels, tunnel_tls),
            stop.child_token(),
        );
        Ok(Server {
            api_addr,
            mqtt_addr,
            mqtt_plain_addr,
            device_https_addr,
            alpn_addr,
            admin,
            created_admin,
            accounts,
            fleet,
            scheduler,
            jobs,
            scheduler_stop,
            scheduler_task,
            jobs_follower,
            store,
            gateway,
            stop,
            api,
            device_https,
            alpn,
            mqtt,
            mqtt_plain,
            tunnel_addr,
            tunnel,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// Graceful stop, in order: no new connections anywhere; HTTP requests in flight finish
    /// and MQTT sessions end with DISCONNECT 0x8B (their wills, leftovers and connectivity
    /// handed to the broker); the broker writes what it holds; the fleet index commits; the
    /// store closes.
    pub async fn stop(self) {
        self.stop.cancel();
        self.gateway.shutdown().await;
        let (api, devices) = tokio::join!(self.api.drain(DRAIN), self.device_https.drain(DRAIN));
        let devices = devices
            && match self.alpn {
                Some(a) => a.drain(DRAIN).await,
                None => true,
            };
        let mqtt = self.mqtt.drain(DRAIN).await;
        let tunnel = self.tunnel.drain(DRAIN).await;
        let plain = match self.mqtt_plain {
            Some(p) => p.drain(DRAIN).await,
            None => true,
        };
        if !(api && devices && mqtt && plain && tunnel) {
            tracing::warn!("some connections did not end in time; what they held may be lost");
        }
        self.gateway.flush().await;
        // A timer that fires now would find its services closing: it fires after the restart.
        let _ = self.scheduler_stop.send(true);
        let _ = self.scheduler_task.await;
        let _ = self.jobs_follower.await;
        self.fleet.shutdown().await;
        self.store.shutdown().await;
    }
}
