//! An alarm's evaluation, fired by its scheduler timer every minute (or every period when it
//! is shorter): the window's buckets from the series, the domain's verdict, and on a change
//! of state the new state, its history item and the timer's next time in one batch under
//! the alarm's revision; the state's actions run after that batch commits.

use super::alarms::{interval_ms, HistoryItem, KIND_ALARM};
use super::{series, CloudWatch};
use crate::records::{encode, load, try_commit, SCHEMA};
use crate::scheduler::{Due, TimerHandler};
use shoal_domain::cloudwatch::alarm::{evaluate, window, Bucket, MetricAlarm, State};
use shoal_domain::error::Result;
use shoal_domain::{Partition, Timestamp};
use shoal_store::{Batch, BoxFuture, Expect};
use std::sync::Weak;

pub(super) struct AlarmTimer(pub(super) Weak<CloudWatch>);

impl TimerHandler for AlarmTimer {
    fn fire<'a>(&'a self, due: &'a Due) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.0.upgrade() {
                Some(cw) => cw.fire(due).await,
                None => Ok(()),
            }
        })
    }
}

/// A new state and why.
pub(super) struct Change {
    pub state: State,
    pub reason: String,
    pub data: Option<String>,
}

impl CloudWatch {
    async fn fire(&self, due: &Due) -> Result<()> {
        let part = &due.part;
        let Some(cur) =
            load::<MetricAlarm>(self.store.as_ref(), &part.key(), KIND_ALARM, &due.name)?
        else {
            self.scheduler
                .commit(due, Batch::new(part.key()), None)
                .await?;
            return Ok(());
        };
        let now = self.clock.now();
        let alarm = &cur.value;
        let buckets = self.buckets(part, alarm, now)?;
        let verdict = evaluate(alarm, &buckets, now);
        let mut next = due.at.plus_millis(interval_ms(alarm));
        if next <= now {
            next = now.plus_millis(interval_ms(alarm));
        }
        let next = Some((next, serde_json::Value::Null));
        match verdict.state {
            Some(s) if s != alarm.state => {
                let change = Change {
                    state: s,
                    reason: verdict.reason,
                    data: Some(verdict.data),
                };
                let batch = Batch::new(part.key());
                self.transition(part, alarm, cur.rev, change, batch, Some((due, next)))
                    .await?;
            }
            _ => {
                let batch =
                    Batch::new(part.key()).check(KIND_ALARM, &due.name, Expect::Rev(cur.rev));
                self.scheduler.commit(due, batch, next).await?;
            }
        }
        Ok(())
    }

    /// The window's buckets, newest first: the newest is the period holding `now`, unless it
    /// has no data yet (the period is still open), then the one before.
    fn buckets(
        &self,
        part: &Partition,
        alarm: &MetricAlarm,
        now: Timestamp,
    ) -> Result<Vec<Bucket>> {
        let p = alarm.period * 1000;
        let n = alarm.evaluation_periods;
        let oldest = window(alarm.period, n + 1, now)
            .last()
            .copied()
            .unwrap_or(now);
        let points = series::read(
            self.store.as_ref(),
            part,
            &alarm.metric,
            oldest,
            now.plus_millis(p),
        )?;
        let stat = alarm.stat();
        // One pass over the datapoints: each goes to its period, counted back from the newest.
        let starts = window(alarm.period, n + 1, now);
        let newest = starts.first().copied().unwrap_or(now);
        let mut samples = vec![Vec::new(); starts.len()];
        for (t, s) in &points {
            let back = (newest.0 - t.0.div_euclid(p) * p).div_euclid(p);
            if let Some(slot) = usize::try_from(back).ok().and_then(|i| samples.get_mut(i)) {
                slot.push(*s);
            }
        }
        let all: Vec<Bucket> = starts
            .into_iter()
            .zip(samples)
            .map(|(start, samples)| Bucket {
                start,
                value: stat
                    .of(&samples)
                    .map(|v| (v, samples.iter().map(|s| s.count).sum())),
            })
            .collect();
        let skip = usize::from(all.first().is_some_and(|b| b.value.is_none()));
        Ok(all.into_iter().skip(skip).take(n as usize).collect())
    }

    /// Moves `alarm` (read at `rev`) to a new state: the record, its history item (and, from a
    /// timer, the timer's completion) in one batch; then the new state's actions. `Ok(false)`
    /// when the alarm changed in between and nothing was written.
    pub(super) async fn transition(
        &self,
        part: &Partition,
        alarm: &MetricAlarm,
        rev: u64,
        change: Change,
        batch: Batch,
        timer: Option<(&Due, Option<(Timestamp, serde_json::Value)>)>,
    ) -> Result<bool> {
        let now = self.clock.now();
        let old = alarm.state;
        let mut next = alarm.clone();
        next.state = change.state;
        next.state_reason = change.reason;
        next.state_reason_data = change.data;
        next.state_updated = now;
        if old != change.state {
            next.state_transitioned = now;
        }
        let history = HistoryItem {
            alarm_name: alarm.name.clone(),
            at: now,
            item_type: "StateUpdate".into(),
            summary: format!(
                "Alarm updated from {} to {}",
                old.as_str(),
                change.state.as_str()
            ),
            data: serde_json::json!({
                "version": "1.0",
                "oldState": { "stateValue": old.as_str(), "stateReason": alarm.state_reason },
                "newState": {
                    "stateValue": next.state.as_str(),
                    "stateReason": next.state_reason,
                    "stateReasonData": next.state_reason_data.as_deref()
                        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()),
                },
            })
            .to_string(),
        };
        let batch = batch.put(
            KIND_ALARM,
            &alarm.name,
            SCHEMA,
            encode(&next)?,
            Vec::new(),
            Expect::Rev(rev),
        );
        let batch = self.stage_history(batch, &history)?;
        let written = match timer {
            Some((due, then)) => self.scheduler.commit(due, batch, then).await?,
            None => try_commit(self.store.as_ref(), batch).await?,
        };
        // Actions run on a change of state only (SetAlarmState to the state it has runs none).
        if written && old != next.state && next.actions_enabled {
            self.run_actions(part, &next, old).await;
        }
        Ok(written)
    }
}
