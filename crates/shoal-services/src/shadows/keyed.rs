//! One writer at a time per shadow on this node: updates of one shadow wait in arrival order
//! (tokio's mutex is fair) instead of racing for its revision and retrying, while updates of
//! different shadows never wait for each other. The store's revision check still guards
//! against other nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub(super) struct KeyedLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while one shadow is read, changed and committed; forgets the key when nobody else
/// holds or waits for it.
pub(super) struct KeyGuard<'a> {
    owner: &'a KeyedLocks,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub(super) async fn lock(&self, key: String) -> KeyGuard<'_> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        KeyGuard {
            owner: self,
            key,
            guard: Some(guard),
        }
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.owner.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it: no one else holds or waits (they would hold a clone).
        if map
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.key);
        }
    }
}
