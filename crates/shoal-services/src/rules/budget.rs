//! What one account and region's rule actions may hold at once: bytes of queued work and
//! outbound HTTP requests, so one tenant's rules can neither fill the process's memory nor
//! take its sockets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of work (payloads, rendered targets, error actions' copies of the message) one
/// account and region may have waiting in all its actions' queues: 1,000 rules of 10 actions
/// with full queues of 128 KB messages would otherwise hold terabytes.
pub const BYTES_PER_PARTITION: usize = 64 << 20;
/// Outbound HTTP requests (actions and confirmations) of one account and region at once, so
/// one tenant's slow endpoints cannot take every socket of the process.
pub const HTTP_PER_PARTITION: usize = 32;

/// What one account and region's actions may hold at once.
pub struct Budget {
    bytes: AtomicUsize,
    pub(super) http: Arc<tokio::sync::Semaphore>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            bytes: AtomicUsize::new(0),
            http: Arc::new(tokio::sync::Semaphore::new(HTTP_PER_PARTITION)),
        }
    }
}

impl Budget {
    /// Takes `bytes` of the partition's budget until the reservation is dropped; `None` when
    /// that would pass `BYTES_PER_PARTITION`.
    pub(super) fn reserve(self: &Arc<Self>, bytes: usize) -> Option<Reservation> {
        let mut held = self.bytes.load(Ordering::Relaxed);
        loop {
            if held + bytes > BYTES_PER_PARTITION {
                return None;
            }
            match self.bytes.compare_exchange_weak(
                held,
                held + bytes,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(Reservation {
                        budget: self.clone(),
                        bytes,
                    })
                }
                Err(now) => held = now,
            }
        }
    }
}

/// Bytes of a partition's budget, given back when dropped.
pub(super) struct Reservation {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}
