//! The AWS HTTP API gateway (L4). One port serves every AWS service Shoal speaks; a request's
//! SigV4 credential scope names the service (`iot`, `iotdata`/`iotdevicegateway` for iot-data,
//! `iot-jobs-data`; `IoTSecuredTunneling` later), because three URI templates exist in both
//! `iot` and `iot-jobs-data` (reference: aws-iot-api-map.md §1).
//!
//! Each API is parsed into an `Endpoint` enum from the method and the raw path, then handled;
//! errors go through the one mapping of that API (`error.rs`). This crate calls services and
//! must not reach a store backend or the MQTT gateway.

mod admin;
mod api;
mod auth;
mod connections;
mod data;
mod device;
mod error;
mod http_logs;
mod iot;
mod jobs_data;
mod json;
mod logs;
mod metrics;
mod monitoring;
mod request;
mod s3;
mod server;
mod shadow;
mod tunneling;

pub use device::serve_device_stream;
pub use server::serve;

use shoal_domain::Clock;
use shoal_services::{
    Accounts, Events, FleetIndexing, Identity, Jobs, Messaging, Objects, Registry, ReservedTopics,
    Shadows,
};
use std::sync::Arc;

/// What the API gateway needs from the rest of the process.
pub struct ApiState {
    pub registry: Arc<Registry>,
    pub identity: Arc<Identity>,
    pub accounts: Arc<Accounts>,
    pub messaging: Arc<Messaging>,
    pub shadows: Arc<Shadows>,
    /// Device requests on reserved topics (iot-data Publish) and the answers of REST changes.
    pub reserved: Arc<ReservedTopics>,
    pub jobs: Arc<Jobs>,
    /// Buckets and objects (the S3 subset).
    pub objects: Arc<Objects>,
    /// Which `$aws/events` kinds each account receives.
    pub events: Arc<Events>,
    pub fleet: FleetIndexing,
    pub reset: Arc<shoal_services::reset::Reset>,
    /// Custom authorizers (their control plane; devices use them through the gateways).
    pub authorizers: Arc<shoal_services::authorizers::Authorizers>,
    /// Domain configurations (their control plane; the device listeners apply them).
    pub domains: Arc<shoal_services::domains::Domains>,
    /// Provisioning templates and RegisterThing.
    pub provisioning: Arc<shoal_services::provisioning::Provisioning>,
    /// Device logs: their levels (iot) and reading them (the CloudWatch Logs subset).
    pub logs: Arc<shoal_services::DeviceLogs>,
    /// Secure tunnels (their control plane; the tunnel gateway relays their traffic).
    pub tunnels: Arc<shoal_services::Tunnels>,
    /// The rules engine's topic rules and destinations.
    pub rules: Arc<shoal_services::Rules>,
    /// CloudWatch metrics and alarms.
    pub cloudwatch: Arc<shoal_services::CloudWatch>,
    /// The fleet console, served under `/console` (None: not served).
    pub console: Option<Arc<shoal_console::Console>>,
    /// The test clock (`SHOAL_TEST_CLOCK=1`): `POST /shoal/test/clock` moves it.
    pub test_clock: Option<Arc<shoal_domain::OffsetClock>>,
    /// The operator's admin access key id: the only key `/shoal/reset` takes.
    pub admin_key: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// The domain of the account endpoints DescribeEndpoint returns
    /// (`<prefix>-ats.iot.<region>.<endpoint_host>`).
    pub endpoint_host: String,
    /// The operator's bearer token for `GET /metrics` (every account); without it only SigV4
    /// callers read their own account's metrics.
    pub metrics_token: Option<String>,
    /// The region of requests whose signature names none (S3's SigV2 presigned URLs).
    pub default_region: shoal_domain::Region,
    /// How long fleet searches wait for the index to hold every acknowledged change (zero:
    /// they do not wait).
    pub index_wait: std::time::Duration,
    auth_cache: auth::KeyCache,
}

/// The services the gateway routes to.
pub struct Services {
    pub registry: Arc<Registry>,
    pub identity: Arc<Identity>,
    pub accounts: Arc<Accounts>,
    pub messaging: Arc<Messaging>,
    pub shadows: Arc<Shadows>,
    pub reserved: Arc<ReservedTopics>,
    pub jobs: Arc<Jobs>,
    pub objects: Arc<Objects>,
    pub events: Arc<Events>,
    pub fleet: FleetIndexing,
    /// The admin reset (a Shoal extension).
    pub reset: Arc<shoal_services::reset::Reset>,
    pub authorizers: Arc<shoal_services::authorizers::Authorizers>,
    pub domains: Arc<shoal_services::domains::Domains>,
    pub provisioning: Arc<shoal_services::provisioning::Provisioning>,
    pub logs: Arc<shoal_services::DeviceLogs>,
    pub tunnels: Arc<shoal_services::Tunnels>,
    pub rules: Arc<shoal_services::Rules>,
    pub cloudwatch: Arc<shoal_services::CloudWatch>,
}

impl ApiState {
    pub fn new(services: Services, clock: Arc<dyn Clock>, endpoint_host: String) -> Self {
        let Services {
            registry,
            identity,
            accounts,
            messaging,
            shadows,
            reserved,
            jobs,
            objects,
            events,
            fleet,
            reset,
            authorizers,
            domains,
            provisioning,
            logs,
            tunnels,
            rules,
            cloudwatch,
        } = services;
        ApiState {
            registry,
            identity,
            accounts,
            messaging,
            shadows,
            reserved,
            jobs,
            objects,
            events,
            fleet,
            reset,
            authorizers,
            domains,
            provisioning,
            logs,
            tunnels,
            rules,
            cloudwatch,
            test_clock: None,
            console: None,
            admin_key: None,
            clock,
            endpoint_host,
            metrics_token: None,
            default_region: shoal_domain::Region::parse("us-east-1").expect("a region"),
            index_wait: std::time::Duration::ZERO,
            auth_cache: auth::KeyCache::default(),
        }
    }

    pub fn with_default_region(mut self, region: shoal_domain::Region) -> Self {
        self.default_region = region;
        self
    }

    pub fn with_console(mut self, console: Option<Arc<shoal_console::Console>>) -> Self {
        self.console = console;
        self
    }

    pub fn with_test_clock(mut self, clock: Option<Arc<shoal_domain::OffsetClock>>) -> Self {
        self.test_clock = clock;
        self
    }

    pub fn with_admin_key(mut self, key: Option<String>) -> Self {
        self.admin_key = key;
        self
    }

    pub fn with_index_wait(mut self, wait: std::time::Duration) -> Self {
        self.index_wait = wait;
        self
    }

    /// Read-your-writes for fleet queries (a Shoal extension): waits, up to `index_wait`, until
    /// every change acknowledged before now is searchable. Past the bound the query answers
    /// from the index as it is, as AWS's eventually consistent index would.
    pub async fn index_caught_up(&self) {
        if !self.index_wait.is_zero() {
            let _ = tokio::time::timeout(self.index_wait, self.fleet.caught_up()).await;
        }
    }

    pub fn with_metrics_token(mut self, token: Option<String>) -> Self {
        self.metrics_token = token.filter(|t| !t.is_empty());
        self
    }
}
