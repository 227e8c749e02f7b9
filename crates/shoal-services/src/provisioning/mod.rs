//! Provisioning (https://docs.aws.amazon.com/iot/latest/developerguide/iot-provision.html): the
//! provisioning templates and their versions (`templates.rs`), one provisioning as a unit of
//! work (`register.rs`), and fleet provisioning by claim: the MQTT API on the reserved-topic
//! port (`device.rs`) and RegisterThing with an ownership token and the pre-provisioning hook
//! (`fleet.rs`); bulk registration tasks on the durable scheduler (`bulk.rs`). The template language itself is
//! the domain's (`shoal_domain::provisioning`).

mod bulk;
mod device;
mod fleet;
mod jit;
mod register;
mod templates;

pub use bulk::{RegistrationTask, StartTask, TaskStatus};
pub use jit::JustInTime;
pub use register::Provisioned;
pub use templates::{ProvisioningTemplate, TemplateInput, TemplateVersion};

use crate::{Identity, Registry};
use shoal_domain::Clock;
use shoal_store::Store;
use std::sync::Arc;

pub struct Provisioning {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    registry: Arc<Registry>,
    identity: Arc<Identity>,
    /// Calls pre-provisioning hooks (set at start-up).
    functions: std::sync::OnceLock<Arc<dyn crate::authorizers::FunctionPort>>,
    /// Bulk registration's scheduler and object storage (set at start-up).
    bulk: std::sync::OnceLock<(Arc<crate::Scheduler>, Arc<crate::Objects>)>,
    /// Publishes JITR's registration event once the certificate is durable (set at start-up).
    events: std::sync::OnceLock<Arc<crate::Events>>,
}

impl Provisioning {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        registry: Arc<Registry>,
        identity: Arc<Identity>,
    ) -> Provisioning {
        Provisioning {
            store,
            clock,
            registry,
            identity,
            functions: std::sync::OnceLock::new(),
            bulk: std::sync::OnceLock::new(),
            events: std::sync::OnceLock::new(),
        }
    }

    /// Lets JITR publish its events through the events outbox.
    pub fn set_events(&self, events: Arc<crate::Events>) {
        let _ = self.events.set(events);
    }

    /// Lets bulk registration tasks run: their steps on `scheduler`, their input files and
    /// reports in `objects`.
    pub fn enable_bulk(
        self: &Arc<Self>,
        scheduler: Arc<crate::Scheduler>,
        objects: Arc<crate::Objects>,
    ) {
        scheduler.register(bulk::SERVICE, Arc::new(bulk::Steps(self.clone())));
        let _ = self.bulk.set((scheduler, objects));
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}
