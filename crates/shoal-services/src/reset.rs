//! The admin reset, a Shoal extension: empties an account's region (or every one), keeping
//! accounts and access keys, so a test suite gets a clean account per test without restarting
//! the server (moto and LocalStack offer the same).
//!
//! For each partition: its live MQTT connections end (DISCONNECT 0x98, no will, no lifecycle
//! event) and the broker forgets its sessions, its writes made durable first; then the store
//! drops every record of the partition in one commit (the fleet index, following the store's
//! changes, empties its scopes; the partition's timers go with it); then what services hold in
//! memory for it, its indexing configuration and its object bytes go. Other nodes' brokers
//! and caches are not told yet: the reset is for one node (docs/compatibility.md).

use crate::records::store_error;
use crate::{FleetIndexing, Identity, Jobs, Messaging, Objects};
use shoal_domain::error::Result;
use shoal_domain::Partition;
use shoal_store::{Batch, Store};
use std::sync::Arc;

pub struct Reset {
    pub store: Arc<dyn Store>,
    pub messaging: Arc<Messaging>,
    pub fleet: FleetIndexing,
    pub identity: Arc<Identity>,
    pub jobs: Arc<Jobs>,
    pub objects: Arc<Objects>,
    pub logs: Arc<crate::DeviceLogs>,
}

impl Reset {
    /// Every partition that holds anything (the `global` one, of accounts and keys, is not one).
    pub fn partitions(&self) -> Result<Vec<Partition>> {
        Ok(self
            .store
            .partitions()
            .map_err(store_error)?
            .iter()
            .filter_map(|k| Partition::from_key(k))
            .collect())
    }

    pub async fn reset(&self, part: &Partition) -> Result<()> {
        // First the connections: nothing they write can land after the wipe.
        if let Ok(live) = self.messaging.live() {
            live.reset(part).await;
        }
        self.store
            .commit(Batch::new(part.key()).delete_partition())
            .await
            .map_err(store_error)?;
        self.fleet.reset(part).await?;
        self.identity.reset(part);
        self.jobs.reset(part);
        let blobs = self.objects.reset(part).await;
        self.logs.reset(part).await;
        tracing::info!(partition = %part.key(), blobs, "partition reset");
        Ok(())
    }
}
