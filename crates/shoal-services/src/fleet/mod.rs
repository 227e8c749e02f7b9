//! Fleet indexing: the indexing configuration, the index's status, and the queries
//! (SearchIndex and the aggregations). The index itself is derived data kept by the updater
//! (`updater.rs`), which follows the store's change stream; this module answers from it.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-indexing.html>

mod documents;
mod dynamic;
mod membership;
mod metrics;
mod queries;
mod updater;

#[cfg(test)]
mod tests;

pub use dynamic::DynamicSpec;
pub use metrics::MetricInput;
pub use queries::{Buckets, SearchPage, Stats};

use crate::records::{decode, encode, store_error, SCHEMA};
use crate::scheduler::Scheduler;
use crate::Registry;
use shoal_domain::error::Result;
use shoal_domain::fleet::config::IndexingConfig;
use shoal_domain::fleet::fields::{GROUPS_INDEX, THINGS_INDEX};
use shoal_domain::{Clock, ErrorKind, Partition, ServiceError};
use shoal_index::FleetIndex;
use shoal_store::{Batch, Expect, Store};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Configurations live in the global partition, keyed by the account/region partition, so that
/// start-up finds every partition that has an index.
pub(crate) const CONFIG_PARTITION: &str = "global";
pub(crate) const KIND_CONFIG: &str = "indexing-config";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexStatus {
    Active,
    /// First build: queries fail with IndexNotReadyException.
    Building,
    /// Rebuild after a configuration change or a crash: queries see the previous data.
    Rebuilding,
}

impl IndexStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexStatus::Active => "ACTIVE",
            IndexStatus::Building => "BUILDING",
            IndexStatus::Rebuilding => "REBUILDING",
        }
    }
}

pub(crate) struct Inner {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    index: FleetIndex,
    dir: PathBuf,
    configs: Mutex<HashMap<String, IndexingConfig>>,
    /// Per scope (`PARTITION|INDEX`), when not ACTIVE.
    status: Mutex<HashMap<String, IndexStatus>>,
    clock: Arc<dyn Clock>,
    /// Fleet metrics are evaluated by its timers.
    scheduler: Arc<Scheduler>,
    /// Set by a clean stop; the updater applies nothing more (see `updater::shutdown`).
    closed: Mutex<bool>,
    /// Tells the updater to end, and their tasks, awaited at shutdown.
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The store's change `seq` up to which everything is searchable (tests wait on it).
    applied: watch::Sender<u64>,
}

#[derive(Clone)]
pub struct FleetIndexing {
    inner: Arc<Inner>,
}

pub(crate) fn scope(part: &str, index: &str) -> String {
    format!("{part}|{index}")
}

fn config_key(part: &Partition) -> String {
    part.key()
}

impl FleetIndexing {
    /// Opens the index in `dir` and starts the updater. An index that was not closed cleanly
    /// (or is missing) is rebuilt from the store in the background.
    pub fn start(
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        clock: Arc<dyn Clock>,
        scheduler: Arc<Scheduler>,
        dir: &Path,
    ) -> Result<FleetIndexing> {
        let (index, fresh) = FleetIndex::open(dir)
            .map_err(|e| ServiceError::internal(format!("fleet index: {e}")))?;
        let clean = updater::take_clean_marker(dir) && !fresh;
        let mut configs = HashMap::new();
        let recs = store
            .list(CONFIG_PARTITION, KIND_CONFIG, "", None, usize::MAX >> 1)
            .map_err(store_error)?;
        for r in &recs {
            configs.insert(r.key.clone(), decode::<IndexingConfig>(r)?);
        }
        let inner = Arc::new(Inner {
            store,
            registry,
            index,
            dir: dir.to_path_buf(),
            configs: Mutex::new(configs),
            status: Mutex::new(HashMap::new()),
            clock,
            scheduler: scheduler.clone(),
            closed: Mutex::new(false),
            stop: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
            applied: watch::channel(0).0,
        });
        let updater = updater::spawn(inner.clone(), clean, fresh);
        inner.tasks.lock().expect("tasks").push(updater);
        scheduler.register(
            metrics::TIMERS,
            Arc::new(metrics::MetricTimer(Arc::downgrade(&inner))),
        );
        let fleet = FleetIndexing { inner };
        let migrate = fleet.clone();
        let untimed = tokio::spawn(async move {
            if let Err(e) = migrate.schedule_untimed_metrics().await {
                tracing::warn!(error = %e.message, "fleet metrics without a timer were not scheduled");
            }
        });
        fleet.inner.tasks.lock().expect("tasks").push(untimed);
        Ok(fleet)
    }

    /// Commits the index and marks it clean, so the next start trusts it.
    pub async fn shutdown(&self) {
        updater::shutdown(&self.inner).await;
    }

    /// Resolves once every change acknowledged so far is searchable, and the dynamic-group
    /// memberships it caused are written (their own re-indexing is a later change).
    pub async fn caught_up(&self) {
        updater::caught_up(&self.inner).await
    }

    /// `/metrics` (operator): the store's commits (count and time, so a scraper derives the
    /// latency) and how many committed batches the index has not applied yet.
    pub fn store_prometheus(&self) -> String {
        let announced = self.inner.store.announced();
        let applied = *self.inner.applied.borrow();
        let s = self.inner.store.stats();
        format!(
            "# HELP shoal_fleet_index_lag_batches Committed store batches the fleet index has not applied yet.\n# TYPE shoal_fleet_index_lag_batches gauge\nshoal_fleet_index_lag_batches {}\n# HELP shoal_store_commit_seconds Time the store's writer spent in group commits (one transaction and fsync each).\n# TYPE shoal_store_commit_seconds summary\nshoal_store_commit_seconds_sum {}\nshoal_store_commit_seconds_count {}\n# HELP shoal_store_batches_total Batches committed (several per group commit).\n# TYPE shoal_store_batches_total counter\nshoal_store_batches_total {}\n",
            announced.saturating_sub(applied),
            s.commit_seconds,
            s.group_commits,
            s.batches
        )
    }

    pub fn config(&self, part: &Partition) -> IndexingConfig {
        self.inner
            .configs
            .lock()
            .expect("configs")
            .get(&config_key(part))
            .cloned()
            .unwrap_or_default()
    }

    /// UpdateIndexingConfiguration. The index is rebuilt in the background: BUILDING when it
    /// was off, REBUILDING (queries answer from the old data) when it changes.
    pub async fn update_config(&self, part: &Partition, next: IndexingConfig) -> Result<()> {
        next.validate()?;
        let prev = self.config(part);
        // "you cannot disable it until you delete all of your dynamic thing groups"
        if !next.things_on() && !self.inner.registry.dynamic_groups(&part.key())?.is_empty() {
            return Err(ServiceError::invalid(
                "Thing indexing cannot be turned off while dynamic thing groups exist; delete them first",
            ));
        }
        let batch = Batch::new(CONFIG_PARTITION).put(
            KIND_CONFIG,
            &config_key(part),
            SCHEMA,
            encode(&next)?,
            Vec::new(),
            Expect::Any,
        );
        {
            let mut st = self.inner.status.lock().expect("status");
            let key = part.key();
            if next.things_on() && next != prev {
                let s = if prev.things_on() {
                    IndexStatus::Rebuilding
                } else {
                    IndexStatus::Building
                };
                st.insert(scope(&key, THINGS_INDEX), s);
            }
            if next.groups && !prev.groups {
                st.insert(scope(&key, GROUPS_INDEX), IndexStatus::Building);
            }
        }
        self.inner.store.commit(batch).await.map_err(store_error)?;
        self.inner
            .configs
            .lock()
            .expect("configs")
            .insert(config_key(part), next);
        Ok(())
    }

    /// The admin reset: the partition's indexing configuration goes back to AWS's default
    /// (off). Its documents go when the updater sees the partition emptied.
    pub async fn reset(&self, part: &Partition) -> Result<()> {
        let batch =
            Batch::new(CONFIG_PARTITION).delete(KIND_CONFIG, &config_key(part), Expect::Any);
        self.inner.store.commit(batch).await.map_err(store_error)?;
        self.inner
            .configs
            .lock()
            .expect("configs")
            .remove(&config_key(part));
        let key = part.key();
        self.inner
            .status
            .lock()
            .expect("status")
            .retain(|k, _| !k.starts_with(&format!("{key}|")));
        Ok(())
    }

    /// The index's status and DescribeIndex's `schema`; 404 when it is off.
    pub fn describe_index(&self, part: &Partition, name: &str) -> Result<(IndexStatus, String)> {
        let cfg = self.config(part);
        let (on, schema) = match name {
            THINGS_INDEX => (cfg.things_on(), cfg.schema()),
            GROUPS_INDEX => (cfg.groups, "THING_GROUPS"),
            _ => (false, ""),
        };
        if !on {
            return Err(ServiceError::not_found(format!(
                "Index {name} does not exist"
            )));
        }
        Ok((self.status(&part.key(), name), schema.to_string()))
    }

    /// ListIndices: the indices that are on.
    pub fn list_indices(&self, part: &Partition) -> Vec<&'static str> {
        let cfg = self.config(part);
        let mut out = Vec::new();
        if cfg.things_on() {
            out.push(THINGS_INDEX);
        }
        if cfg.groups {
            out.push(GROUPS_INDEX);
        }
        out
    }

    fn status(&self, part: &str, index: &str) -> IndexStatus {
        self.inner
            .status
            .lock()
            .expect("status")
            .get(&scope(part, index))
            .copied()
            .unwrap_or(IndexStatus::Active)
    }

    /// The scope a query runs in: the index must be on and built.
    fn ready_scope(&self, part: &Partition, index: &str) -> Result<String> {
        let cfg = self.config(part);
        let on = match index {
            THINGS_INDEX => cfg.things_on(),
            GROUPS_INDEX => cfg.groups,
            _ => false,
        };
        if !on {
            return Err(ServiceError::not_found(format!(
                "Index {index} does not exist. Please enable index by calling UpdateIndexingConfiguration"
            )));
        }
        if self.status(&part.key(), index) == IndexStatus::Building {
            return Err(ServiceError::new(
                ErrorKind::IndexNotReady,
                format!("Index {index} is not ready: it is being built"),
            ));
        }
        Ok(scope(&part.key(), index))
    }
}
