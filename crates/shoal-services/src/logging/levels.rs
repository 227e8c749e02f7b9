//! The account's logging settings as records (SetV2LoggingOptions, SetV2LoggingLevel and the
//! legacy SetLoggingOptions), and each partition's settings in memory for the devices' checks:
//! loaded on first use, replaced when the store's change stream (this node's commits and, on
//! several nodes, the others') carries a change to them, with a generation counter that tells
//! every connection of the partition to work its levels out again.

use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use serde::{Deserialize, Serialize};
use shoal_domain::error::Result;
use shoal_domain::logging::{
    not_configured, LogLevel, LogTarget, LoggingConfig, TargetType, V1Options, V2Options,
    MAX_LOG_TARGETS,
};
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_store::{Batch, Expect, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub(super) const KIND_OPTIONS: &str = "logging-options";
pub(super) const KIND_LEVEL: &str = "log-level";
const KEY_V2: &str = "v2";
const KEY_V1: &str = "v1";

/// A target's level as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetLevel {
    pub target: LogTarget,
    pub level: LogLevel,
}

/// One partition's settings as devices see them.
pub struct PartitionLogging {
    /// Moves whenever `config` is replaced.
    pub generation: AtomicU64,
    config: RwLock<Arc<LoggingConfig>>,
}

impl PartitionLogging {
    pub fn config(&self) -> Arc<LoggingConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

pub struct LogLevels {
    store: Arc<dyn Store>,
    parts: RwLock<HashMap<String, Arc<PartitionLogging>>>,
}

impl LogLevels {
    pub fn new(store: Arc<dyn Store>) -> Arc<LogLevels> {
        Arc::new(LogLevels {
            store,
            parts: RwLock::default(),
        })
    }

    /// Follows the store's change stream, replacing a partition's settings in memory when one
    /// of its logging records changed (all of them if the stream was missed).
    pub fn follow(self: &Arc<Self>) {
        crate::records::follow_kinds(
            self.store.as_ref(),
            self,
            &[KIND_OPTIONS, KIND_LEVEL],
            |me, part| me.reload(part),
            |me| {
                let keys: Vec<String> = me.read_parts().keys().cloned().collect();
                for k in keys {
                    me.reload(&k);
                }
            },
        );
    }

    fn read_parts(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<PartitionLogging>>> {
        self.parts.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The partition's settings in memory (loaded on first use).
    pub fn partition(&self, part: &Partition) -> Arc<PartitionLogging> {
        let key = part.key();
        if let Some(p) = self.read_parts().get(&key) {
            return p.clone();
        }
        let config = self.load_config(&key).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "logging settings unreadable; logging off");
            LoggingConfig::default()
        });
        let mut parts = self.parts.write().unwrap_or_else(|p| p.into_inner());
        parts
            .entry(key)
            .or_insert_with(|| {
                Arc::new(PartitionLogging {
                    generation: AtomicU64::new(0),
                    config: RwLock::new(Arc::new(config)),
                })
            })
            .clone()
    }

    /// Reads the partition's settings again, if it is in memory.
    fn reload(&self, key: &str) {
        let Some(p) = self.read_parts().get(key).cloned() else {
            return;
        };
        match self.load_config(key) {
            Ok(c) => {
                *p.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(c);
                p.generation.fetch_add(1, Ordering::Release);
            }
            Err(e) => tracing::warn!(error = %e, "logging settings unreadable"),
        }
    }

    fn load_config(&self, key: &str) -> Result<LoggingConfig> {
        let options =
            load::<V2Options>(self.store.as_ref(), key, KIND_OPTIONS, KEY_V2)?.map(|l| l.value);
        let mut targets = std::collections::BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list(key, KIND_LEVEL, "", after.as_deref(), 1000)
                .map_err(store_error)?;
            for rec in &page {
                let t: TargetLevel = decode(rec)?;
                targets.insert(t.target, t.level);
            }
            if page.len() < 1000 {
                break;
            }
            after = page.last().map(|r| r.key.clone());
        }
        Ok(LoggingConfig { options, targets })
    }

    /// SetV2LoggingOptions: replaces the options whole, as AWS does.
    pub async fn set_options(&self, part: &Partition, options: V2Options) -> Result<()> {
        options.validate()?;
        let key = part.key();
        for _ in 0..RETRIES {
            let expect = match self
                .store
                .get(&key, KIND_OPTIONS, KEY_V2)
                .map_err(store_error)?
            {
                Some(r) => Expect::Rev(r.rev),
                None => Expect::Absent,
            };
            let b = Batch::new(&key).put(
                KIND_OPTIONS,
                KEY_V2,
                SCHEMA,
                encode(&options)?,
                vec![],
                expect,
            );
            if try_commit(self.store.as_ref(), b).await? {
                self.reload(&key);
                return Ok(());
            }
        }
        Err(contention())
    }

    /// GetV2LoggingOptions: NotConfiguredException before the first SetV2LoggingOptions.
    pub fn options(&self, part: &Partition) -> Result<V2Options> {
        load::<V2Options>(self.store.as_ref(), &part.key(), KIND_OPTIONS, KEY_V2)?
            .map(|l| l.value)
            .ok_or_else(not_configured)
    }

    /// SetV2LoggingLevel: sets (or replaces) one target's level, within AWS's quota of targets.
    pub async fn set_level(
        &self,
        part: &Partition,
        target: LogTarget,
        level: LogLevel,
    ) -> Result<()> {
        let key = part.key();
        let rec_key = target.key();
        let doc = encode(&TargetLevel { target, level })?;
        for _ in 0..RETRIES {
            let expect = match self
                .store
                .get(&key, KIND_LEVEL, &rec_key)
                .map_err(store_error)?
            {
                Some(r) => Expect::Rev(r.rev),
                None => {
                    let n = self
                        .store
                        .count(&key, KIND_LEVEL, "", MAX_LOG_TARGETS)
                        .map_err(store_error)?;
                    if n >= MAX_LOG_TARGETS {
                        return Err(ServiceError::new(
                            ErrorKind::LimitExceeded,
                            format!("The number of logging levels per account cannot exceed {MAX_LOG_TARGETS}"),
                        ));
                    }
                    Expect::Absent
                }
            };
            let b = Batch::new(&key).put(KIND_LEVEL, &rec_key, SCHEMA, doc.clone(), vec![], expect);
            if try_commit(self.store.as_ref(), b).await? {
                self.reload(&key);
                return Ok(());
            }
        }
        Err(contention())
    }

    /// DeleteV2LoggingLevel: removing a target that has no level is not an error on AWS.
    pub async fn delete_level(&self, part: &Partition, target: &LogTarget) -> Result<()> {
        let key = part.key();
        let b = Batch::new(&key).delete(KIND_LEVEL, &target.key(), Expect::Any);
        self.store.commit(b).await.map_err(store_error)?;
        self.reload(&key);
        Ok(())
    }

    /// ListV2LoggingLevels: the targets' levels in key order, optionally of one type.
    pub fn list_levels(
        &self,
        part: &Partition,
        kind: Option<TargetType>,
        max: usize,
        token: Option<&str>,
    ) -> Result<(Vec<TargetLevel>, Option<String>)> {
        let after = token.map(decode_token).transpose()?;
        let prefix = kind.map(|k| format!("{}/", k.as_str())).unwrap_or_default();
        let page = self
            .store
            .list(&part.key(), KIND_LEVEL, &prefix, after.as_deref(), max + 1)
            .map_err(store_error)?;
        let mut out = Vec::with_capacity(page.len().min(max));
        for rec in page.iter().take(max) {
            out.push(decode::<TargetLevel>(rec)?);
        }
        let next = (page.len() > max).then(|| encode_token(&page[max - 1].key));
        Ok((out, next))
    }

    /// SetLoggingOptions (legacy v1).
    pub async fn set_v1(&self, part: &Partition, options: V1Options) -> Result<()> {
        let key = part.key();
        let b = Batch::new(&key).put(
            KIND_OPTIONS,
            KEY_V1,
            SCHEMA,
            encode(&options)?,
            vec![],
            Expect::Any,
        );
        self.store.commit(b).await.map_err(store_error)?;
        Ok(())
    }

    /// GetLoggingOptions (legacy v1): None before it was ever set.
    pub fn v1(&self, part: &Partition) -> Result<Option<V1Options>> {
        Ok(
            load::<V1Options>(self.store.as_ref(), &part.key(), KIND_OPTIONS, KEY_V1)?
                .map(|l| l.value),
        )
    }
}
