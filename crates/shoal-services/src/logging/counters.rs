//! The operational counts AWS IoT publishes to CloudWatch under `AWS/IoT`
//! (https://docs.aws.amazon.com/iot/latest/developerguide/metrics_dimensions.html), per
//! account and region, counted where the device's records are (each connection's gate holds
//! its partition's counters: one relaxed atomic add per event), and printed on `/metrics`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// One `AWS/IoT` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    ConnectSuccess,
    ConnectAuthError,
    PublishInSuccess,
    PublishInAuthError,
    PublishOutSuccess,
    SubscribeSuccess,
    SubscribeAuthError,
    UnsubscribeSuccess,
    GetThingShadowAccepted,
    UpdateThingShadowAccepted,
    DeleteThingShadowAccepted,
    JobsRequestSuccess,
    ProvisioningRequestSuccess,
    RequestRejected,
}

impl Op {
    const COUNT: usize = 14;
    const ALL: [Op; Op::COUNT] = [
        Op::ConnectSuccess,
        Op::ConnectAuthError,
        Op::PublishInSuccess,
        Op::PublishInAuthError,
        Op::PublishOutSuccess,
        Op::SubscribeSuccess,
        Op::SubscribeAuthError,
        Op::UnsubscribeSuccess,
        Op::GetThingShadowAccepted,
        Op::UpdateThingShadowAccepted,
        Op::DeleteThingShadowAccepted,
        Op::JobsRequestSuccess,
        Op::ProvisioningRequestSuccess,
        Op::RequestRejected,
    ];

    /// The CloudWatch metric name (Shoal's own for the last three, which AWS splits further).
    pub fn name(self) -> &'static str {
        match self {
            Op::ConnectSuccess => "Connect.Success",
            Op::ConnectAuthError => "Connect.AuthError",
            Op::PublishInSuccess => "PublishIn.Success",
            Op::PublishInAuthError => "PublishIn.AuthError",
            Op::PublishOutSuccess => "PublishOut.Success",
            Op::SubscribeSuccess => "Subscribe.Success",
            Op::SubscribeAuthError => "Subscribe.AuthError",
            Op::UnsubscribeSuccess => "Unsubscribe.Success",
            Op::GetThingShadowAccepted => "GetThingShadow.Accepted",
            Op::UpdateThingShadowAccepted => "UpdateThingShadow.Accepted",
            Op::DeleteThingShadowAccepted => "DeleteThingShadow.Accepted",
            Op::JobsRequestSuccess => "Jobs.Request.Success",
            Op::ProvisioningRequestSuccess => "Provisioning.Request.Success",
            Op::RequestRejected => "ReservedTopic.Request.Rejected",
        }
    }
}

/// One partition's counts.
#[derive(Default)]
pub struct Counters([AtomicU64; Op::COUNT]);

impl Counters {
    #[inline]
    pub fn add(&self, op: Op) {
        self.0[op as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, op: Op) -> u64 {
        self.0[op as usize].load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub(super) struct AllCounters(RwLock<HashMap<String, Arc<Counters>>>);

impl AllCounters {
    pub fn of(&self, scope: &str) -> Arc<Counters> {
        if let Some(c) = self.0.read().unwrap_or_else(|p| p.into_inner()).get(scope) {
            return c.clone();
        }
        let mut all = self.0.write().unwrap_or_else(|p| p.into_inner());
        all.entry(scope.to_string()).or_default().clone()
    }

    /// Every scope's counts now, by metric name (what the CloudWatch flush writes).
    pub fn snapshot(&self) -> Vec<(String, Vec<(&'static str, u64)>)> {
        let all = self.0.read().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .map(|(scope, c)| {
                (
                    scope.clone(),
                    Op::ALL.iter().map(|op| (op.name(), c.get(*op))).collect(),
                )
            })
            .collect()
    }

    /// Prometheus text for one scope (`ACCOUNT/REGION`) or all.
    pub fn prometheus(&self, only: Option<&str>, out: &mut String) {
        out.push_str("# HELP iot_operations_total AWS IoT's operational metrics (CloudWatch namespace AWS/IoT), counted since start.\n# TYPE iot_operations_total counter\n");
        let all = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut scopes: Vec<&String> = all
            .keys()
            .filter(|k| only.is_none_or(|o| o == *k))
            .collect();
        scopes.sort();
        for scope in scopes {
            let (account, region) = scope.split_once('/').unwrap_or((scope, ""));
            let c = &all[scope];
            for op in Op::ALL {
                let _ = writeln!(
                    out,
                    "iot_operations_total{{account=\"{account}\",region=\"{region}\",metric_name=\"{}\"}} {}",
                    op.name(),
                    c.get(op)
                );
            }
        }
    }
}
