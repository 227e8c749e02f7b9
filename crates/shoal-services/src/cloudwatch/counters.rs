//! The `AWS/IoT` operational counters as datapoints: each node counts in memory (one atomic
//! add per event, `logging/counters.rs`) and flushes what it counted since its last flush as
//! one datapoint per metric and partition (Sum is the count). Counts are this node's own, so
//! the flush is this node's work, not a shared timer: several nodes each write their share,
//! and CloudWatch's Sum over a period adds them up.

use super::series;
use super::CloudWatch;
use crate::records::try_commit;
use shoal_domain::cloudwatch::stats::Sample;
use shoal_domain::cloudwatch::{MetricId, IOT_NAMESPACE};
use shoal_domain::error::Result;
use shoal_store::Batch;

impl CloudWatch {
    /// Writes every partition's counts since the last flush; returns the datapoints written.
    pub async fn flush_counters(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut written = 0;
        for (scope, counts) in self.logs.counter_snapshot() {
            let last = self
                .flushed
                .lock()
                .expect("flushed")
                .get(&scope)
                .cloned()
                .unwrap_or_default();
            let mut batch = Batch::new(scope.clone());
            let mut points = 0;
            for (i, (name, n)) in counts.iter().enumerate() {
                let delta = n.saturating_sub(last.get(i).copied().unwrap_or(0));
                if delta == 0 {
                    continue;
                }
                let metric = MetricId::new(IOT_NAMESPACE, name, Vec::new())?;
                batch = series::stage(
                    self.store.as_ref(),
                    batch,
                    &metric,
                    now,
                    Sample::count_of(delta),
                )?;
                points += 1;
            }
            if points > 0 && try_commit(self.store.as_ref(), batch).await? {
                written += points;
            }
            self.flushed
                .lock()
                .expect("flushed")
                .insert(scope, counts.iter().map(|(_, n)| *n).collect());
        }
        Ok(written)
    }
}
