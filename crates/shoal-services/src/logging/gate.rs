//! A connection's logging gate. It keeps the levels worked out for its device and the
//! generation of the partition's settings they came from; `wants` is one atomic load and one
//! comparison, and only a change of the settings makes it work the levels out again (reading
//! the thing's groups only when some THING_GROUP level is set).

use super::levels::PartitionLogging;
use super::DeviceLogs;
use shoal_domain::logging::{DeviceFacts, EventType, Levels, LogLevel, Origin, TargetType};
use shoal_domain::Partition;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub struct LogGate {
    settings: Arc<PartitionLogging>,
    /// The partition's operational counters (`AWS/IoT` metrics).
    pub counters: Arc<super::Counters>,
    part: Partition,
    origin: Origin,
    scope: Arc<str>,
    /// The generation `levels` were worked out at; u64::MAX: not yet.
    seen: u64,
    levels: Levels,
    /// The log group of each event type: AWSIotLogsV2, or an event configuration's
    /// `logDestination`.
    groups: Arc<[Arc<str>; EventType::COUNT]>,
}

/// Every event type's records in AWSIotLogsV2.
fn default_groups() -> Arc<[Arc<str>; EventType::COUNT]> {
    let g: Arc<str> = Arc::from(super::V2_GROUP);
    Arc::new(std::array::from_fn(|_| g.clone()))
}

impl LogGate {
    pub(super) fn new(
        settings: Arc<PartitionLogging>,
        counters: Arc<super::Counters>,
        part: Partition,
        origin: Origin,
    ) -> Self {
        LogGate {
            settings,
            counters,
            scope: Arc::from(part.key()),
            part,
            origin,
            seen: u64::MAX,
            levels: Levels::OFF,
            groups: default_groups(),
        }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    pub(super) fn scope(&self) -> &Arc<str> {
        &self.scope
    }

    /// The log group records of `event` go to.
    pub(super) fn group(&self, event: EventType) -> &Arc<str> {
        &self.groups[event as usize]
    }

    /// Sets what the gate knows of the device once it is known (the client id after CONNECT).
    pub fn set_origin(&mut self, origin: Origin) {
        self.origin = origin;
        self.seen = u64::MAX;
    }

    /// Whether a record of `event` at `level` is to be written for this device.
    #[inline]
    pub fn wants(&mut self, logs: &DeviceLogs, event: EventType, level: LogLevel) -> bool {
        let generation = self.settings.generation.load(Ordering::Acquire);
        if generation != self.seen {
            self.refresh(logs, generation);
        }
        self.levels.keeps(event, level)
    }

    #[cold]
    fn refresh(&mut self, logs: &DeviceLogs, generation: u64) {
        let config = self.settings.config();
        let groups = match (&self.origin.client_id, config.has(TargetType::ThingGroup)) {
            (Some(client), true) => logs
                .registry
                .group_depths(&self.part, client)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let groups: Vec<(usize, &str)> = groups.iter().map(|(d, g)| (*d, g.as_str())).collect();
        let facts = DeviceFacts {
            client_id: self.origin.client_id.as_deref(),
            source_ip: self.origin.source_ip.as_deref(),
            principal_id: self.origin.principal_id.as_deref(),
            groups: &groups,
        };
        self.levels = config.levels(&facts);
        self.groups = match &config.options {
            Some(o) if o.events.iter().any(|e| e.log_destination.is_some()) => {
                let mut groups = (*default_groups()).clone();
                for e in &o.events {
                    if let (Some(t), Some(d)) =
                        (EventType::parse(&e.event_type), &e.log_destination)
                    {
                        groups[t as usize] = Arc::from(d.as_str());
                    }
                }
                Arc::new(groups)
            }
            _ => default_groups(),
        };
        self.seen = generation;
    }
}
