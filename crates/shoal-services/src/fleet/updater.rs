//! Keeps the index in step with the store. It follows the store's change stream, and for each
//! burst of committed changes rebuilds the documents of the things and groups they touched,
//! then commits the index once: under load, one commit covers many changes. A configuration
//! change, a start after a crash (no clean marker) or a lagging stream rebuilds whole scopes
//! from the store; the rebuild commits once at the end, so queries see the old data until then.

use super::documents::{group_doc, load_group, load_thing, records_of, thing_doc};
use super::membership::{self, Moves};
use super::{scope, IndexStatus, Inner, CONFIG_PARTITION, KIND_CONFIG};
use crate::records::{decode, store_error};
use crate::registry::{KIND_GROUP, KIND_THING};
use shoal_domain::error::Result;
use shoal_domain::fleet::config::IndexingConfig;
use shoal_domain::fleet::fields::{GROUPS_INDEX, THINGS_INDEX};
use shoal_store::Changes;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

const CLEAN_MARKER: &str = "shoal-clean-shutdown";
/// Things read from the store per step of a rebuild.
const REBUILD_CHUNK: usize = 1000;

/// Whether the last run closed the index cleanly; the marker is removed so that a crash from
/// now on is noticed at the next start.
pub(super) fn take_clean_marker(dir: &Path) -> bool {
    std::fs::remove_file(dir.join(CLEAN_MARKER)).is_ok()
}

/// How long a clean stop waits for the updater to apply what the store holds; past it the
/// index is left unmarked and rebuilt at the next start.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Marks the index clean only once it holds every change the store announced: the updater is
/// drained, then stopped (a burst in progress finishes first), then the index is committed.
pub(super) async fn shutdown(inner: &Inner) {
    // Applying changes can write more (dynamic-group memberships): drain until none come.
    let drained = async {
        loop {
            let seen = inner.store.announced();
            caught_up(inner).await;
            if inner.store.announced() == seen {
                break;
            }
        }
    };
    if tokio::time::timeout(DRAIN, drained).await.is_err() {
        tracing::warn!("fleet index not caught up at shutdown; it will be rebuilt at start");
        stop_tasks(inner).await;
        return;
    }
    close_and_mark(inner);
    stop_tasks(inner).await;
}

/// Stops the updater applying (a burst in progress finishes first), commits, marks clean.
fn close_and_mark(inner: &Inner) {
    let mut closed = inner.closed.lock().expect("closed");
    *closed = true;
    match inner.index.commit() {
        Ok(()) => {
            if let Err(e) = std::fs::write(inner.dir.join(CLEAN_MARKER), b"") {
                tracing::warn!(error = %e, "fleet index: clean marker not written");
            }
        }
        Err(e) => tracing::warn!(error = %e, "fleet index: final commit failed"),
    }
}

/// Ends the updater and the metric timer, so that nothing holds the index any more.
async fn stop_tasks(inner: &Inner) {
    let _ = inner.stop.send(true);
    let tasks: Vec<_> = std::mem::take(&mut *inner.tasks.lock().expect("tasks"));
    for t in tasks {
        let _ = t.await;
    }
}

pub(super) async fn caught_up(inner: &Inner) {
    // A write is announced before its caller is answered, so everything acknowledged so far
    // is at or below `announced`.
    let target = inner.store.announced();
    let mut rx = inner.applied.subscribe();
    let _ = rx.wait_for(|n| *n >= target).await;
}

/// What one burst of changes touched, per partition.
#[derive(Default)]
struct Dirty {
    things: BTreeSet<String>,
    groups: BTreeSet<String>,
}

pub(super) fn spawn(inner: Arc<Inner>, clean: bool, fresh: bool) -> tokio::task::JoinHandle<()> {
    let mut rx = inner.store.changes();
    let mut stop = inner.stop.subscribe();
    tokio::spawn(async move {
        let startup = inner.clone();
        let rebuilt_to = inner.store.announced();
        // Every partition that has an index is rebuilt unless the index was closed cleanly.
        let moves = tokio::task::spawn_blocking(move || {
            if clean {
                Vec::new()
            } else {
                rebuild_all(&startup, fresh)
            }
        })
        .await
        .unwrap_or_default();
        for m in moves {
            membership::apply(&inner, m).await;
        }
        inner.applied.send_modify(|n| *n = (*n).max(rebuilt_to));
        loop {
            let mut burst: Vec<Arc<Changes>> = Vec::new();
            let mut lagged = false;
            let next = tokio::select! {
                next = rx.recv() => next,
                _ = stop.wait_for(|s| *s) => break,
            };
            match next {
                Ok(c) => burst.push(c),
                Err(RecvError::Lagged(_)) => lagged = true,
                Err(RecvError::Closed) => break,
            }
            loop {
                match rx.try_recv() {
                    Ok(c) => burst.push(c),
                    Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
                    Err(_) => break,
                }
            }
            // After a lag the rebuild reads the store as it is now.
            let upto = if lagged {
                inner.store.announced()
            } else {
                burst.iter().map(|c| c.seq).max().unwrap_or(0)
            };
            let work = inner.clone();
            let moves = tokio::task::spawn_blocking(move || {
                // Held for the whole burst, so a clean stop waits for it; once closed,
                // nothing more is applied.
                let closed = work.closed.lock().expect("closed");
                if *closed {
                    return Vec::new();
                }
                if lagged {
                    tracing::warn!("fleet index fell behind the change stream; rebuilding");
                    rebuild_all(&work, false)
                } else {
                    apply(&work, &burst)
                }
            })
            .await
            .unwrap_or_default();
            for m in moves {
                membership::apply(&inner, m).await;
            }
            inner.applied.send_modify(|n| *n = (*n).max(upto));
        }
    })
}

fn apply(inner: &Inner, burst: &[Arc<Changes>]) -> Vec<Moves> {
    let mut dirty: HashMap<String, Dirty> = HashMap::new();
    let mut reconfigured: BTreeSet<String> = BTreeSet::new();
    for c in burst {
        for (kind, key) in &c.records {
            match kind.as_str() {
                KIND_THING | crate::messaging::KIND_CONNECTIVITY => {
                    let d = dirty.entry(c.partition.clone()).or_default();
                    d.things.insert(key.clone());
                }
                crate::shadows::KIND => {
                    let thing = key.split('/').next().unwrap_or(key);
                    let d = dirty.entry(c.partition.clone()).or_default();
                    d.things.insert(thing.to_string());
                }
                KIND_GROUP => {
                    let d = dirty.entry(c.partition.clone()).or_default();
                    d.groups.insert(key.clone());
                }
                KIND_CONFIG if c.partition == CONFIG_PARTITION => {
                    reconfigured.insert(key.clone());
                }
                // The admin reset emptied the partition: its scopes are rebuilt (to nothing).
                shoal_store::ALL_KINDS => {
                    reconfigured.insert(c.partition.clone());
                }
                _ => {}
            }
        }
    }
    for part in &reconfigured {
        if let Err(e) = reconfigure(inner, part) {
            tracing::error!(error = %e, partition = %part, "fleet index: rebuild failed");
        }
    }
    let mut wrote = false;
    for (part, d) in &dirty {
        if reconfigured.contains(part) {
            continue;
        }
        let cfg = config_of(inner, part);
        match update(inner, part, &cfg, d) {
            Ok(w) => wrote |= w,
            Err(e) => tracing::error!(error = %e, partition = %part, "fleet index: update failed"),
        }
    }
    // A commit syncs files: none for changes no index holds (indexing off, other kinds).
    if wrote {
        if let Err(e) = inner.index.commit() {
            tracing::error!(error = %e, "fleet index: commit failed");
        }
    }
    let mut moves = Vec::new();
    let none = BTreeSet::new();
    let parts: BTreeSet<&String> = dirty.keys().chain(reconfigured.iter()).collect();
    for part in parts {
        if !config_of(inner, part).things_on() {
            continue;
        }
        let full = reconfigured.contains(part);
        let (things, groups) = match dirty.get(part) {
            Some(d) => (&d.things, !d.groups.is_empty()),
            None => (&none, false),
        };
        match membership::evaluate(inner, part, things, groups, full) {
            Ok(Some(m)) => moves.push(m),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, partition = %part, "dynamic groups not evaluated")
            }
        }
    }
    moves
}

fn config_of(inner: &Inner, part: &str) -> IndexingConfig {
    inner
        .configs
        .lock()
        .expect("configs")
        .get(part)
        .cloned()
        .unwrap_or_default()
}

/// Rebuilds the documents of what changed; whether anything was written.
fn update(inner: &Inner, part: &str, cfg: &IndexingConfig, d: &Dirty) -> Result<bool> {
    let mut wrote = false;
    if cfg.things_on() && !d.things.is_empty() {
        wrote = true;
        let scope = scope(part, THINGS_INDEX);
        let mut docs = Vec::new();
        let mut gone = Vec::new();
        for name in &d.things {
            match load_thing(&*inner.store, part, name, cfg)? {
                Some(r) => docs.push(thing_doc(&r, cfg)),
                None => gone.push(name.clone()),
            }
        }
        inner.index.delete(&scope, gone);
        inner.index.put(&scope, docs).map_err(internal)?;
    }
    if cfg.groups && !d.groups.is_empty() {
        wrote = true;
        let scope = scope(part, GROUPS_INDEX);
        let mut docs = Vec::new();
        let mut gone = Vec::new();
        for name in &d.groups {
            match load_group(&*inner.store, part, name)? {
                Some(g) => docs.push(group_doc(&g)),
                None => gone.push(name.clone()),
            }
        }
        inner.index.delete(&scope, gone);
        inner.index.put(&scope, docs).map_err(internal)?;
    }
    Ok(wrote)
}

fn internal(e: shoal_index::IndexError) -> shoal_domain::ServiceError {
    shoal_domain::ServiceError::internal(format!("fleet index: {e}"))
}

/// A partition's configuration changed: read it and rebuild both of its scopes.
fn reconfigure(inner: &Inner, part: &str) -> Result<()> {
    let cfg = match inner
        .store
        .get(CONFIG_PARTITION, KIND_CONFIG, part)
        .map_err(store_error)?
    {
        Some(r) => decode::<IndexingConfig>(&r)?,
        None => IndexingConfig::default(),
    };
    inner
        .configs
        .lock()
        .expect("configs")
        .insert(part.to_string(), cfg.clone());
    rebuild(inner, part, &cfg)
}

fn rebuild_all(inner: &Inner, fresh: bool) -> Vec<Moves> {
    let configs: Vec<(String, IndexingConfig)> = inner
        .configs
        .lock()
        .expect("configs")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut moves = Vec::new();
    for (part, cfg) in configs {
        {
            let status = if fresh {
                IndexStatus::Building
            } else {
                IndexStatus::Rebuilding
            };
            let mut st = inner.status.lock().expect("status");
            if cfg.things_on() {
                st.insert(scope(&part, THINGS_INDEX), status);
            }
            if cfg.groups {
                st.insert(scope(&part, GROUPS_INDEX), status);
            }
        }
        if let Err(e) = rebuild(inner, &part, &cfg) {
            tracing::error!(error = %e, partition = %part, "fleet index: rebuild failed");
        }
        if cfg.things_on() {
            match membership::evaluate(inner, &part, &BTreeSet::new(), false, true) {
                Ok(Some(m)) => moves.push(m),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "dynamic groups not evaluated"),
            }
        }
    }
    moves
}

/// Replaces a partition's documents with ones built from the store, committed at once.
fn rebuild(inner: &Inner, part: &str, cfg: &IndexingConfig) -> Result<()> {
    let things = scope(part, THINGS_INDEX);
    let groups = scope(part, GROUPS_INDEX);
    inner.index.clear(&things);
    inner.index.clear(&groups);
    if cfg.things_on() {
        let mut after: Option<String> = None;
        loop {
            let recs = inner
                .store
                .list(part, KIND_THING, "", after.as_deref(), REBUILD_CHUNK)
                .map_err(store_error)?;
            let mut docs = Vec::with_capacity(recs.len());
            for r in &recs {
                let t = records_of(&*inner.store, part, decode(r)?, cfg)?;
                docs.push(thing_doc(&t, cfg));
            }
            inner.index.put_new(&things, docs).map_err(internal)?;
            match recs.last() {
                Some(last) if recs.len() == REBUILD_CHUNK => after = Some(last.key.clone()),
                _ => break,
            }
        }
    }
    if cfg.groups {
        let mut after: Option<String> = None;
        loop {
            let recs = inner
                .store
                .list(part, KIND_GROUP, "", after.as_deref(), REBUILD_CHUNK)
                .map_err(store_error)?;
            let docs = recs
                .iter()
                .map(|r| decode(r).map(|g| group_doc(&g)))
                .collect::<Result<Vec<_>>>()?;
            inner.index.put_new(&groups, docs).map_err(internal)?;
            match recs.last() {
                Some(last) if recs.len() == REBUILD_CHUNK => after = Some(last.key.clone()),
                _ => break,
            }
        }
    }
    inner.index.commit().map_err(internal)?;
    inner.index.release_memory();
    // A configuration written since this rebuild began has its own rebuild queued: the index
    // stays REBUILDING until that one is done.
    if config_of(inner, part) == *cfg {
        let mut st = inner.status.lock().expect("status");
        st.remove(&things);
        st.remove(&groups);
    }
    Ok(())
}
