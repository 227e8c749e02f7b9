//! A tunnel's timer: at the end of its lifetime (`maxLifetimeTimeoutMinutes` after it opened)
//! it closes, and a closed tunnel's record goes `CLOSED_RETENTION_MS` later. Each step commits
//! with the timer's completion, so a restart or a second node does it exactly once.

use super::{put, Tunnels, CLOSED_RETENTION_MS, KIND};
use crate::records::load;
use crate::scheduler::{Due, TimerHandler};
use shoal_domain::error::Result;
use shoal_domain::tunnels::Tunnel;
use shoal_domain::Timestamp;
use shoal_store::{Batch, BoxFuture, Expect};
use std::sync::{LazyLock, Weak};

pub(super) static CLOSE: LazyLock<serde_json::Value> =
    LazyLock::new(|| serde_json::json!({ "then": "close" }));
pub(super) static DELETE: LazyLock<serde_json::Value> =
    LazyLock::new(|| serde_json::json!({ "then": "delete" }));

pub(super) struct Lifetime(pub Weak<Tunnels>);

impl TimerHandler for Lifetime {
    fn fire<'a>(&'a self, due: &'a Due) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(tunnels) = self.0.upgrade() else {
                return Ok(());
            };
            let pk = due.part.key();
            let found = load::<Tunnel>(tunnels.store.as_ref(), &pk, KIND, &due.name)?;
            let Some(found) = found else {
                tunnels.scheduler.commit(due, Batch::new(&pk), None).await?;
                return Ok(());
            };
            let mut tunnel = found.value;
            if due.payload == *DELETE {
                let batch = Batch::new(&pk).delete(KIND, &due.name, Expect::Rev(found.rev));
                tunnels.scheduler.commit(due, batch, None).await?;
                return Ok(());
            }
            let now = due.at.millis().max(tunnels.now());
            tunnel.close(now);
            let batch = put(Batch::new(&pk), &tunnel, Expect::Rev(found.rev))?;
            let next = (Timestamp(now + CLOSED_RETENTION_MS), DELETE.clone());
            tunnels.scheduler.commit(due, batch, Some(next)).await?;
            Ok(())
        })
    }
}
