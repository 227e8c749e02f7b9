//! Log groups: the records' folders are the log store's; what a group's settings are
//! (retention) is a store record of the partition (kind `log-group`), so every node applies
//! them. DescribeLogGroups, PutRetentionPolicy, DeleteRetentionPolicy, DeleteLogGroup
//! (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
//! Retention: reads skip records past it, and the writer's hourly sweep deletes whole
//! segments past it.

use super::DeviceLogs;
use crate::records::{encode, load, store_error, SCHEMA};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::{Partition, ServiceError};
use shoal_logstore::LogStore;
use shoal_store::{Batch, Expect, Store};

const KIND: &str = "log-group";
const DAY_MS: i64 = 86_400_000;

/// The values PutRetentionPolicy takes.
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Settings {
    retention_days: Option<u32>,
}

/// A log group as DescribeLogGroups shows it.
#[derive(Debug, Clone)]
pub struct LogGroup {
    pub name: String,
    pub created: i64,
    pub retention_days: Option<u32>,
    pub stored_bytes: u64,
}

fn missing() -> ServiceError {
    ServiceError::not_found("The specified log group does not exist.")
}

fn retention(store: &dyn Store, scope: &str, group: &str) -> Option<u32> {
    load::<Settings>(store, scope, KIND, group)
        .ok()
        .flatten()
        .and_then(|l| l.value.retention_days)
}

/// The oldest timestamp a group keeps at `now` (i64::MIN without retention).
pub(super) fn cutoff(store: &dyn Store, scope: &str, group: &str, now: i64) -> i64 {
    retention(store, scope, group).map_or(i64::MIN, |d| now - i64::from(d) * DAY_MS)
}

/// Deletes the segments every group holds past its retention.
pub(super) fn sweep(logs: &LogStore, store: &dyn Store, now: i64) {
    for (scope, group) in logs.all_groups() {
        let cut = cutoff(store, &scope, &group, now);
        if cut > i64::MIN {
            if let Err(e) = logs.expire(&scope, &group, cut) {
                tracing::warn!(error = %e, group, "dropping expired log segments");
            }
        }
    }
}

impl DeviceLogs {
    /// DescribeLogGroups: the partition's groups whose name starts with `prefix`, by name.
    pub async fn describe_groups(&self, part: &Partition, prefix: &str) -> Vec<LogGroup> {
        self.flush().await;
        let scope = part.key();
        self.logs
            .groups(&scope)
            .into_iter()
            .filter(|g| g.name.starts_with(prefix))
            .map(|g| LogGroup {
                retention_days: retention(self.store.as_ref(), &scope, &g.name),
                name: g.name,
                created: g.created,
                stored_bytes: g.stored_bytes,
            })
            .collect()
    }

    pub(super) fn group_exists(&self, part: &Partition, group: &str) -> bool {
        self.logs.streams(&part.key(), group).is_some()
    }

    pub async fn put_retention(&self, part: &Partition, group: &str, days: u32) -> Result<()> {
        if !RETENTION_DAYS.contains(&days) {
            let set: Vec<String> = RETENTION_DAYS.iter().map(|d| d.to_string()).collect();
            return Err(ServiceError::invalid(format!(
                "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                set.join(", ")
            )));
        }
        self.flush().await;
        if !self.group_exists(part, group) {
            return Err(missing());
        }
        let doc = encode(&Settings {
            retention_days: Some(days),
        })?;
        let b = Batch::new(part.key()).put(KIND, group, SCHEMA, doc, vec![], Expect::Any);
        self.store.commit(b).await.map_err(store_error)?;
        Ok(())
    }

    pub async fn delete_retention(&self, part: &Partition, group: &str) -> Result<()> {
        self.flush().await;
        if !self.group_exists(part, group) {
            return Err(missing());
        }
        let b = Batch::new(part.key()).delete(KIND, group, Expect::Any);
        self.store.commit(b).await.map_err(store_error)?;
        Ok(())
    }

    pub async fn delete_group(&self, part: &Partition, group: &str) -> Result<()> {
        self.flush().await;
        let deleted = self.logs.delete_group(&part.key(), group).map_err(|e| {
            tracing::error!(error = %e, "deleting a log group");
            ServiceError::internal("An internal error occurred")
        })?;
        if !deleted {
            return Err(missing());
        }
        let b = Batch::new(part.key()).delete(KIND, group, Expect::Any);
        self.store.commit(b).await.map_err(store_error)?;
        Ok(())
    }
}
