//! CloudWatch metrics and alarms for the `IoTFleetMetrics` and `AWS/IoT` namespaces: the time
//! series (`series.rs`, written by fleet metrics and by the counter flush in `counters.rs`),
//! metric alarms and their history as records (`alarms.rs`), each alarm evaluated by a timer
//! of the durable scheduler (`evaluate.rs`), and the notifications its actions send to an MQTT
//! topic or a webhook (`actions.rs`). Everything durable is in the store; the only memory is
//! this node's last flushed counts.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/Welcome.html>

mod actions;
mod alarms;
mod counters;
mod evaluate;
pub mod series;
#[cfg(test)]
mod tests;

pub use actions::{alarm_arn, ActionTarget, Ports};
pub use alarms::{AlarmFilter, AlarmInput, HistoryItem, HistoryQuery};

use crate::scheduler::Scheduler;
use shoal_domain::Clock;
use shoal_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The scheduler's name for alarm timers.
pub(crate) const TIMERS: &str = "cloudwatch-alarm";

pub struct CloudWatch {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    scheduler: Arc<Scheduler>,
    ports: OnceLock<Ports>,
    /// Where the operational counters come from (each connection's gate counts into them).
    logs: Arc<crate::DeviceLogs>,
    /// This node's counts as last flushed, per partition.
    flushed: Mutex<HashMap<String, Vec<u64>>>,
}

impl CloudWatch {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        scheduler: Arc<Scheduler>,
        logs: Arc<crate::DeviceLogs>,
    ) -> Arc<CloudWatch> {
        let me = Arc::new(CloudWatch {
            store,
            clock,
            scheduler: scheduler.clone(),
            ports: OnceLock::new(),
            logs,
            flushed: Mutex::new(HashMap::new()),
        });
        scheduler.register(TIMERS, Arc::new(evaluate::AlarmTimer(Arc::downgrade(&me))));
        me
    }

    /// Installs where alarm notifications go (once, at start-up).
    pub fn set_ports(&self, ports: Ports) {
        let _ = self.ports.set(ports);
    }

    pub fn scheduler(&self) -> &Arc<Scheduler> {
        &self.scheduler
    }

    pub fn now(&self) -> shoal_domain::Timestamp {
        self.clock.now()
    }

    /// A metric's datapoints in `[from, to)`, oldest first.
    pub fn datapoints(
        &self,
        part: &shoal_domain::Partition,
        metric: &shoal_domain::cloudwatch::MetricId,
        from: shoal_domain::Timestamp,
        to: shoal_domain::Timestamp,
    ) -> shoal_domain::error::Result<
        Vec<(
            shoal_domain::Timestamp,
            shoal_domain::cloudwatch::stats::Sample,
        )>,
    > {
        series::read(self.store.as_ref(), part, metric, from, to)
    }

    /// ListMetrics: metrics with data in the last two weeks (or `recent` milliseconds).
    #[allow(clippy::too_many_arguments)]
    pub fn list_metrics(
        &self,
        part: &shoal_domain::Partition,
        namespace: Option<&str>,
        name: Option<&str>,
        filter: &[(String, Option<String>)],
        after: Option<&str>,
        limit: usize,
        recent: Option<i64>,
    ) -> shoal_domain::error::Result<(Vec<shoal_domain::cloudwatch::MetricId>, Option<String>)>
    {
        series::list(
            self.store.as_ref(),
            part,
            namespace,
            name,
            filter,
            self.clock.now(),
            after,
            limit,
            recent,
        )
    }

    /// Flushes this node's counters every `every` until `stop` turns true.
    pub fn spawn_flush(
        self: &Arc<Self>,
        every: std::time::Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => {}
                }
                let Some(me) = me.upgrade() else { return };
                if let Err(e) = me.flush_counters().await {
                    tracing::warn!(error = %e.message, "flushing the operational counters failed");
                }
                if *stop.borrow() {
                    return;
                }
            }
        });
    }
}
