//! Wiring: opens the store, makes the services, binds the listeners and runs the gateways until
//! told to stop. Binding happens before `start` returns, so the printed addresses are live.

use crate::config::Config;
use crate::credentials;
use shoal_api::ApiState;
use shoal_domain::Clock;
use shoal_services::{AccessKey, Accounts, FleetIndexing, Identity, Messaging, Registry, Shadows};
use shoal_store::sqlite::SqliteStore;
use shoal_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Opens (creating) the data folder's embedded store.
pub fn open_store(cfg: &Config) -> Result<Arc<SqliteStore>, String> {
    std::fs::create_dir_all(&cfg.data)
        .map_err(|e| format!("cannot create {}: {e}", cfg.data.display()))?;
    SqliteStore::open(&cfg.data.join("shoal.db"))
        .map(Arc::new)
        .map_err(|e| format!("cannot open the store in {}: {e}", cfg.data.display()))
}

/// Names the server certificate covers: the configured public host and the loopback names.
fn server_hosts(cfg: &Config) -> Vec<String> {
    let mut hosts = vec![
        cfg.api.public_host.clone(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ];
    hosts.dedup();
    hosts.sort();
    hosts.dedup();
    hosts
}

pub struct Server {
    pub api_addr: SocketAddr,
    pub mqtt_addr: SocketAddr,
    pub mqtt_plain_addr: Option<SocketAddr>,
    pub device_https_addr: SocketAddr,
    /// The admin key, read from the data folder (created there on first start).
    pub admin: Option<(String, String)>,
    /// Set on the first start only.
    pub created_admin: Option<AccessKey>,
    pub accounts: Arc<Accounts>,
    /// The fleet index, so tests can wait until a change is searchable.
    pub fleet: FleetIndexing,
    store: Arc<SqliteStore>,
    stop: tokio::sync::watch::Sender<bool>,
    api: JoinHandle<()>,
    mqtt: JoinHandle<()>,
    mqtt_plain: Option<JoinHandle<()>>,
    device_https: JoinHandle<()>,
}

fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

impl Server {
    pub async fn start(cfg: &Config, clock: Arc<dyn Clock>) -> Result<Server, String> {
        let store = open_store(cfg)?;
        let dyn_store: Arc<dyn Store> = store.clone();
        let accounts = Arc::new(Accounts::new(dyn_store.clone(), clock.clone()));
        let created_admin = accounts.initialize().await.map_err(|e| e.message)?;
        if let Some(key) = &created_admin {
            credentials::write_credentials(&cfg.data, key)
                .map_err(|e| format!("cannot write credentials: {e}"))?;
        }
        let admin = credentials::read_credentials(&cfg.data).ok();
        let authority = Arc::new(credentials::load_or_create_authority(&cfg.data)?);
        credentials::ensure_server_certificate(&cfg.data, &authority, &server_hosts(cfg))?;
        let epoch = shoal_services::AuthorizationEpoch::default();
        let registry = Arc::new(Registry::new(
            dyn_store.clone(),
            clock.clone(),
            epoch.clone(),
        ));
        let identity = Arc::new(Identity::new(
            dyn_store.clone(),
            clock.clone(),
            authority,
            epoch,
        ));
        let mqtt_tls = shoal_broker::tls::server_config(
            &read(&credentials::server_cert_path(&cfg.data))?,
            &read(&credentials::server_key_path(&cfg.data))?,
        )?;
        let region = shoal_domain::Region::parse(&cfg.region).map_err(|e| e.message)?;
        let messaging = Arc::new(Messaging::new(dyn_store.clone(), clock.clone()));
        let shadows = Arc::new(Shadows::new(dyn_store.clone(), clock.clone()));
        // Derived data beside the store: deleting the folder only costs a rebuild.
        let fleet = FleetIndexing::start(
            dyn_store.clone(),
            registry.clone(),
            clock.clone(),
            &cfg.data.join("index"),
        )
        .map_err(|e| e.message)?;
        let gateway = shoal_broker::Gateway::new(
            identity.clone(),
            accounts.clone(),
            messaging.clone(),
            shadows.clone(),
            clock.clone(),
            region.clone(),
            mqtt_tls.clone(),
        )
        .map_err(|e| e.message)?;
        let mqtt_listener = tokio::net::TcpListener::bind(cfg.mqtt.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", cfg.mqtt.listen))?;
        let mqtt_addr = mqtt_listener.local_addr().map_err(|e| e.to_string())?;
        let _ = std::fs::write(
            credentials::mqtt_addr_path(&cfg.data),
            mqtt_addr.to_string(),
        );
        let state = Arc::new(ApiState::new(
            shoal_api::Services {
                registry,
                identity,
                accounts: accounts.clone(),
                messaging,
                shadows,
                fleet: fleet.clone(),
            },
            clock,
            cfg.api.public_host.clone(),
        ));
        let listener = tokio::net::TcpListener::bind(cfg.api.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", cfg.api.listen))?;
        let api_addr = listener.local_addr().map_err(|e| e.to_string())?;
        let _ = std::fs::write(credentials::api_addr_path(&cfg.data), api_addr.to_string());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut api_stop = stopped.clone();
        let api = tokio::spawn(shoal_api::serve(listener, state.clone(), async move {
            let _ = api_stop.wait_for(|s| *s).await;
        }));
        let (mqtt_plain, mqtt_plain_addr) = match cfg.mqtt.plain_listen {
            Some(addr) => {
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                let bound = l.local_addr().map_err(|e| e.to_string())?;
                let mut plain_stop = stopped.clone();
                let task =
                    tokio::spawn(shoal_broker::serve_plain(l, gateway.clone(), async move {
                        let _ = plain_stop.wait_for(|s| *s).await;
                    }));
                (Some(task), Some(bound))
            }
            None => (None, None),
        };
        let https_listener = tokio::net::TcpListener::bind(cfg.device_https.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", cfg.device_https.listen))?;
        let device_https_addr = https_listener.local_addr().map_err(|e| e.to_string())?;
        let _ = std::fs::write(
            credentials::device_https_addr_path(&cfg.data),
            device_https_addr.to_string(),
        );
        let mut https_stop = stopped.clone();
        let device_https = tokio::spawn(shoal_api::serve_devices(
            https_listener,
            state,
            mqtt_tls,
            region,
            async move {
                let _ = https_stop.wait_for(|s| *s).await;
            },
        ));
        let mut mqtt_stop = stopped;
        let mqtt = tokio::spawn(shoal_broker::serve(mqtt_listener, gateway, async move {
            let _ = mqtt_stop.wait_for(|s| *s).await;
        }));
        Ok(Server {
            api_addr,
            mqtt_addr,
            mqtt_plain_addr,
            device_https_addr,
            mqtt,
            mqtt_plain,
            device_https,
            admin,
            created_admin,
            accounts,
            store,
            fleet,
            stop,
            api,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// Graceful stop: no new connections, in-flight requests finish, the store flushes.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.api.await;
        let _ = self.mqtt.await;
        if let Some(p) = self.mqtt_plain {
            let _ = p.await;
        }
        let _ = self.device_https.await;
        self.fleet.shutdown().await;
        self.store.shutdown().await;
    }
}
