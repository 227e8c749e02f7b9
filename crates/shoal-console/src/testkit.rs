//! A console over real services on a store in a temporary folder, with a manual clock, signed
//! in with the account's admin key (or a read-only key): pages are asked for with `get` and
//! `post` as a browser would, cookie and CSRF token included.

use crate::{Console, Deps};
use bytes::Bytes;
use http::Method;
use shoal_domain::{AccountId, ManualClock, Partition, Region, Timestamp};
use shoal_services::accounts::Accounts;
use shoal_store::sqlite::SqliteStore;
use shoal_store::Store;
use std::sync::Arc;

/// What the stand-in broker took: (topic, payload).
pub type Published = Arc<std::sync::Mutex<Vec<(String, String)>>>;

pub struct Kit {
    pub console: Arc<Console>,
    pub part: Partition,
    pub clock: Arc<ManualClock>,
    pub accounts: Arc<Accounts>,
    pub registry: Arc<shoal_services::Registry>,
    pub identity: Arc<shoal_services::Identity>,
    pub shadows: Arc<shoal_services::Shadows>,
    pub fleet: shoal_services::FleetIndexing,
    pub jobs: Arc<shoal_services::Jobs>,
    pub cloudwatch: Arc<shoal_services::CloudWatch>,
    pub scheduler: Arc<shoal_services::Scheduler>,
    pub tunnels: Arc<shoal_services::Tunnels>,
    pub logs: Arc<shoal_services::DeviceLogs>,
    /// The session cookie and CSRF token after `sign_in`.
    pub cookie: String,
    pub csrf: String,
    _dir: tempfile::TempDir,
}

/// An answer: status, headers and the body as text.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Kit {
    pub async fn new() -> Kit {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
        let accounts = Arc::new(Accounts::new(store.clone(), clock.clone()));
        accounts.initialize().await.unwrap();
        let account = accounts.default_account().unwrap().unwrap();
        let part = Partition::new(account.clone(), Region::parse("us-east-1").unwrap());
        let epoch = shoal_services::AuthorizationEpoch::default();
        let messaging = Arc::new(shoal_services::Messaging::new(store.clone(), clock.clone()));
        let scheduler = shoal_services::Scheduler::new(store.clone(), clock.clone());
        let registry = Arc::new(shoal_services::Registry::new(
            store.clone(),
            clock.clone(),
            epoch.clone(),
        ));
        let authority = Arc::new(shoal_pki::Authority::generate("Shoal test CA").unwrap());
        let identity = Arc::new(shoal_services::Identity::new(
            store.clone(),
            clock.clone(),
            authority,
            epoch,
        ));
        let shadows = Arc::new(shoal_services::Shadows::new(store.clone(), clock.clone()));
        let log_store =
            Arc::new(shoal_logstore::LogStore::open(&dir.path().join("logs"), 1 << 20).unwrap());
        let logs = shoal_services::DeviceLogs::new(
            store.clone(),
            registry.clone(),
            log_store,
            clock.clone(),
        );
        let fleet = shoal_services::FleetIndexing::start(
            store.clone(),
            registry.clone(),
            clock.clone(),
            scheduler.clone(),
            &dir.path().join("index"),
        )
        .unwrap();
        let events = Arc::new(shoal_services::Events::new(store.clone(), clock.clone()));
        let jobs = shoal_services::Jobs::new(
            store.clone(),
            clock.clone(),
            scheduler.clone(),
            messaging.clone(),
            events,
        )
        .with_fleet(fleet.clone())
        .with_logs(logs.clone());
        let cloudwatch = shoal_services::CloudWatch::new(
            store.clone(),
            clock.clone(),
            scheduler.clone(),
            logs.clone(),
        );
        let tunnels = shoal_services::Tunnels::new(
            store.clone(),
            clock.clone(),
            scheduler.clone(),
            messaging.clone(),
            300,
        );
        let sessions = Arc::new(shoal_services::console::Sessions::new(
            store.clone(),
            clock.clone(),
            accounts.clone(),
        ));
        let console = Console::new(Deps {
            sessions,
            registry: registry.clone(),
            identity: identity.clone(),
            shadows: shadows.clone(),
            messaging,
            fleet: fleet.clone(),
            jobs: jobs.clone(),
            cloudwatch: cloudwatch.clone(),
            logs: logs.clone(),
            tunnels: tunnels.clone(),
            default_region: "us-east-1".into(),
        });
        let _ = AccountId::parse(part.account.as_str());
        Kit {
            console,
            part,
            clock,
            accounts,
            registry,
            identity,
            shadows,
            fleet,
            jobs,
            cloudwatch,
            scheduler,
            tunnels,
            logs,
            cookie: String::new(),
            csrf: String::new(),
            _dir: dir,
        }
    }

    /// Stands in for the broker, which the kit does not run (a publish waits until the broker
    /// has taken it): takes every message and keeps (topic, payload). Call once per kit.
    pub fn broker(&self) -> Published {
        let mut bus = self.console.deps.messaging.take_bus().expect("the bus");
        let seen = Published::default();
        let out = seen.clone();
        tokio::spawn(async move {
            while let Some(m) = bus.recv().await {
                let body = String::from_utf8_lossy(&m.message.payload).into_owned();
                out.lock().unwrap().push((m.message.topic.clone(), body));
                let _ = m.done.send(());
            }
        });
        seen
    }

    /// A kit signed in with a writable key.
    pub async fn signed_in() -> Kit {
        let mut k = Kit::new().await;
        k.sign_in(false).await;
        k
    }

    /// Turns fleet indexing on (registry and connectivity) and waits for the index.
    pub async fn index_with_connectivity(&self) {
        self.fleet
            .update_config(
                &self.part,
                shoal_domain::fleet::config::IndexingConfig {
                    thing_mode: shoal_domain::fleet::config::ThingMode::Registry,
                    connectivity: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        self.fleet.caught_up().await;
    }

    /// Records things `names` as connected or not, as the broker records a connection.
    pub async fn set_connected(&self, names: &[&str], connected: bool) {
        use shoal_services::messaging::{Connectivity, Write};
        let writes = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    self.part.key(),
                    Write::Connectivity(Connectivity {
                        client_id: n.to_string(),
                        connected,
                        timestamp: self.cloudwatch.now().millis() + i as i64,
                        disconnect_reason: None,
                        principal: "cert".into(),
                        clean_session: true,
                        keep_alive_secs: 60,
                        session_expiry_secs: 0,
                        version: 1,
                        source_ip: None,
                        source_port: None,
                    }),
                )
            })
            .collect();
        self.console.deps.messaging.apply(writes).await.unwrap();
    }

    /// Signs in with a new key of the account (read-only or not).
    pub async fn sign_in(&mut self, read_only: bool) {
        let key = self
            .accounts
            .create_key_with(&self.part.account, read_only)
            .await
            .unwrap();
        let body = format!(
            "access_key_id={}&secret_access_key={}&region=us-east-1",
            key.access_key_id, key.secret_access_key
        );
        let a = self
            .request(Method::POST, "/console/login", body.as_bytes())
            .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let set = a.headers[http::header::SET_COOKIE].to_str().unwrap();
        self.cookie = set.split(';').next().unwrap().to_string();
        let page = self.get("/console/devices").await;
        let marker = "name=\"csrf\" value=\"";
        let at = page.body.find(marker).expect("a CSRF field") + marker.len();
        self.csrf = page.body[at..at + 64].to_string();
    }

    pub async fn request(&self, method: Method, target: &str, body: &[u8]) -> Answer {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers = http::HeaderMap::new();
        if !self.cookie.is_empty() {
            headers.insert(http::header::COOKIE, self.cookie.parse().unwrap());
        }
        let r = self
            .console
            .handle(&method, path, query, &headers, Bytes::copy_from_slice(body))
            .await;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        use http_body_util::BodyExt;
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn get(&self, target: &str) -> Answer {
        self.request(Method::GET, target, b"").await
    }

    /// POSTs a form (fields already url-encoded), the session's CSRF token added.
    pub async fn post(&self, target: &str, fields: &str) -> Answer {
        let body = if fields.is_empty() {
            format!("csrf={}", self.csrf)
        } else {
            format!("csrf={}&{fields}", self.csrf)
        };
        self.request(Method::POST, target, body.as_bytes()).await
    }
}
