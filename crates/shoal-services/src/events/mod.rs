//! Event configurations (Update/DescribeEventConfigurations): which kinds of `$aws/events/...`
//! messages an account and region receive. One record per partition, read when a service is
//! about to publish an event, so every node sees a change at once
//! (https://docs.aws.amazon.com/iot/latest/developerguide/iot-events.html). `outbox.rs` stages
//! events in the batch of the change they report and publishes them once it is durable.

mod outbox;

pub use outbox::{Event, ALWAYS};

use crate::records::{encode, load, try_commit, RETRIES, SCHEMA};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::{Clock, Partition, Timestamp};
use shoal_store::{Batch, Expect, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

const KIND: &str = "event-configuration";
const KEY: &str = "events";

/// The event types of the model's `EventType`.
pub const EVENT_TYPES: [&str; 11] = [
    "THING",
    "THING_GROUP",
    "THING_TYPE",
    "THING_GROUP_MEMBERSHIP",
    "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION",
    "JOB",
    "JOB_EXECUTION",
    "POLICY",
    "CERTIFICATE",
    "CA_CERTIFICATE",
];

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventConfigurations {
    /// Enabled types (all others are off, AWS's default).
    pub enabled: BTreeMap<String, bool>,
    pub created: Option<Timestamp>,
    pub modified: Option<Timestamp>,
}

impl EventConfigurations {
    pub fn is_enabled(&self, kind: &str) -> bool {
        self.enabled.get(kind).copied().unwrap_or(false)
    }
}

pub struct Events {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Set by `publish_with`: staged events become timers of this scheduler.
    scheduler: std::sync::OnceLock<Arc<crate::Scheduler>>,
}

impl Events {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Events {
        Events {
            store,
            clock,
            scheduler: std::sync::OnceLock::new(),
        }
    }

    pub fn describe(&self, part: &Partition) -> Result<EventConfigurations> {
        Ok(
            load::<EventConfigurations>(self.store.as_ref(), &part.key(), KIND, KEY)?
                .map(|l| l.value)
                .unwrap_or_default(),
        )
    }

    pub fn is_enabled(&self, part: &Partition, kind: &str) -> bool {
        self.describe(part).is_ok_and(|c| c.is_enabled(kind))
    }

    /// UpdateEventConfigurations: the types given change, the others keep their setting.
    pub async fn update(&self, part: &Partition, changes: &BTreeMap<String, bool>) -> Result<()> {
        for k in changes.keys() {
            if !EVENT_TYPES.contains(&k.as_str()) {
                return Err(shoal_domain::ids::validation_error(
                    "eventConfigurations",
                    k,
                    &format!(
                        "Map keys must satisfy enum value set: [{}]",
                        EVENT_TYPES.join(", ")
                    ),
                ));
            }
        }
        for _ in 0..RETRIES {
            let cur = load::<EventConfigurations>(self.store.as_ref(), &part.key(), KIND, KEY)?;
            let now = self.clock.now();
            let (mut c, expect) = match cur {
                Some(l) => (l.value, Expect::Rev(l.rev)),
                None => (EventConfigurations::default(), Expect::Absent),
            };
            c.enabled
                .extend(changes.iter().map(|(k, v)| (k.clone(), *v)));
            c.created.get_or_insert(now);
            c.modified = Some(now);
            let batch = Batch::new(part.key()).put(KIND, KEY, SCHEMA, encode(&c)?, vec![], expect);
            if try_commit(self.store.as_ref(), batch).await? {
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }
}
