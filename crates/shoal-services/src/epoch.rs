//! Counters of committed changes that can alter what a live device connection may do, one per
//! partition (account and region): the identity service bumps its partition's counter for
//! certificates, policies and attachments, the registry for a thing's groups and attributes
//! (thing-group policies and `iot:Connection.Thing.*` variables). A connection holds its
//! partition's counter and rebuilds its authorizer when the count moved since it built it, so
//! one tenant's changes never make another tenant's connections rebuild theirs.

use shoal_domain::Partition;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone, Default)]
pub struct AuthorizationEpoch(Arc<RwLock<HashMap<String, EpochCounter>>>);

/// One partition's counter, cheap to read on every packet.
#[derive(Debug, Clone, Default)]
pub struct EpochCounter(Arc<AtomicU64>);

impl EpochCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

impl AuthorizationEpoch {
    /// The counter of a partition. A connection reads it before it builds its authorizer: a
    /// change committed after that read moves the counter it holds.
    pub fn counter(&self, part: &Partition) -> EpochCounter {
        let key = part.key();
        if let Some(c) = self.0.read().ok().and_then(|m| m.get(&key).cloned()) {
            return c;
        }
        match self.0.write() {
            Ok(mut m) => m.entry(key).or_default().clone(),
            Err(_) => EpochCounter::default(),
        }
    }

    /// Called after a change in the partition (`ACCOUNT/REGION`) is committed and before the
    /// API call returns, so the caller's next packet sees it. A partition without a counter has
    /// no connection that built an authorizer yet, so there is nothing to move.
    pub fn bump(&self, part_key: &str) {
        if let Some(c) = self.0.read().ok().and_then(|m| m.get(part_key).cloned()) {
            c.0.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_domain::{AccountId, Region};

    fn part(account: &str, region: &str) -> Partition {
        Partition::new(
            AccountId::parse(account).unwrap(),
            Region::parse(region).unwrap(),
        )
    }

    #[test]
    fn a_change_moves_only_its_own_partition() {
        let epochs = AuthorizationEpoch::default();
        let (a, b, a_eu) = (
            part("111111111111", "us-east-1"),
            part("222222222222", "us-east-1"),
            part("111111111111", "eu-west-1"),
        );
        let (ca, cb, ca_eu) = (
            epochs.counter(&a),
            epochs.counter(&b),
            epochs.counter(&a_eu),
        );
        epochs.bump(&a.key());
        assert_eq!((ca.get(), cb.get(), ca_eu.get()), (1, 0, 0));
        assert_eq!(epochs.counter(&a).get(), 1, "one counter per partition");
    }
}
