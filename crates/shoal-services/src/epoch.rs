//! A counter of committed changes that can alter what a live device connection may do: the
//! identity service bumps it for certificates, policies and attachments, the registry for a
//! thing's groups and attributes (thing-group policies and `iot:Connection.Thing.*` variables).
//! A connection rebuilds its authorizer when the count moved since it built it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct AuthorizationEpoch(Arc<AtomicU64>);

impl AuthorizationEpoch {
    /// Called after the change is committed and before the API call returns, so the caller's
    /// next packet sees it.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}
