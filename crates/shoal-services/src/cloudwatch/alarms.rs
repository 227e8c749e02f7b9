//! Metric alarms (kind `alarm`, keyed by name) and their history (kind `alarm-history`, keyed
//! newest first with a term naming the alarm): PutMetricAlarm, DescribeAlarms, DeleteAlarms,
//! SetAlarmState and DescribeAlarmHistory. A new alarm gets its evaluation timer in the batch
//! that creates it, and loses it in the batch that deletes it; history outlives the alarm
//! (30 days, as CloudWatch keeps it).

use super::{CloudWatch, TIMERS};
use crate::records::{decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use crate::scheduler::{Scheduler, TimerId};
use shoal_domain::cloudwatch::alarm::{check_name, MetricAlarm, State};
use shoal_domain::error::{ParameterError, Result};
use shoal_domain::{Partition, ServiceError, Timestamp};
use shoal_store::{Batch, Expect, Term, TermMatch};

pub(super) const KIND_ALARM: &str = "alarm";
pub(super) const KIND_HISTORY: &str = "alarm-history";
const TERM_ALARM: &str = "alarm";
/// History is kept 30 days.
const HISTORY_MS: i64 = 30 * 86_400_000;
/// Old history items one write may drop.
const PRUNE: usize = 16;
/// Alarms per account and region (CloudWatch's default quota is higher; Shoal bounds the
/// evaluation work of one tenant).
pub const MAX_ALARMS: usize = 5_000;

/// What PutMetricAlarm sets (the state is kept when an alarm is replaced).
pub struct AlarmInput {
    pub alarm: MetricAlarm,
}

/// DescribeAlarms' filters.
#[derive(Default)]
pub struct AlarmFilter {
    pub names: Vec<String>,
    pub prefix: Option<String>,
    pub state: Option<State>,
    pub action_prefix: Option<String>,
}

/// DescribeAlarmHistory's filters.
#[derive(Default)]
pub struct HistoryQuery {
    pub name: Option<String>,
    pub item_type: Option<String>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub ascending: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistoryItem {
    pub alarm_name: String,
    pub at: Timestamp,
    /// ConfigurationUpdate, StateUpdate or Action.
    pub item_type: String,
    pub summary: String,
    pub data: String,
}

pub(super) fn timer(name: &str) -> TimerId {
    TimerId::new(TIMERS, name)
}

/// How often an alarm is evaluated: every minute, or every period when it is shorter.
pub(super) fn interval_ms(alarm: &MetricAlarm) -> i64 {
    alarm.period.min(60) * 1000
}

fn not_found() -> ServiceError {
    ServiceError::not_found("The named resource does not exist.")
}

fn bad_token() -> ServiceError {
    ServiceError::parameter(
        ParameterError::NextToken,
        "The service couldn't process your request because the NextToken is not valid.",
    )
}

/// A history item's key: newest first (the time subtracted from a constant), then a sequence.
fn history_key(at: Timestamp) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    // Within one millisecond, later items first too; a number drawn per process keeps nodes
    // apart.
    format!(
        "{:015}.{:012x}{:08x}",
        999_999_999_999_999 - at.0.clamp(0, 999_999_999_999_999),
        0xffff_ffff_ffff - (seq & 0xffff_ffff_ffff),
        super::series::node_nonce()
    )
}

/// The smallest key of items at `at` (every later item's key is smaller still).
fn history_key_at(at: Timestamp) -> String {
    format!(
        "{:015}.",
        999_999_999_999_999 - at.0.clamp(0, 999_999_999_999_999)
    )
}

/// A page of history: (key, item) newest first, and the key to go on from.
type HistoryPage = (Vec<(String, HistoryItem)>, Option<String>);

impl CloudWatch {
    /// Adds a history item to `batch`, and drops items past the retention.
    pub(super) fn stage_history(&self, batch: Batch, item: &HistoryItem) -> Result<Batch> {
        let part = batch.partition.clone();
        let mut batch = batch.put(
            KIND_HISTORY,
            &history_key(item.at),
            SCHEMA,
            encode(item)?,
            vec![Term::new(TERM_ALARM, item.alarm_name.clone())],
            Expect::Any,
        );
        // The oldest items have the greatest keys: those past the retention are the keys
        // after the cutoff's.
        let cutoff = history_key_at(item.at.plus_millis(-HISTORY_MS));
        let old = self
            .store
            .list(&part, KIND_HISTORY, "", Some(&cutoff), PRUNE)
            .map_err(store_error)?;
        for r in &old {
            batch = batch.delete(KIND_HISTORY, &r.key, Expect::Any);
        }
        Ok(batch)
    }

    /// PutMetricAlarm: creates the alarm (INSUFFICIENT_DATA, evaluated a minute later) or
    /// replaces its definition, keeping its state.
    pub async fn put_alarm(&self, part: &Partition, input: AlarmInput) -> Result<()> {
        let next = input.alarm;
        next.check()?;
        self.check_actions(part, &next)?;
        let name = next.name.clone();
        for _ in 0..RETRIES {
            let now = self.clock.now();
            let cur = load::<MetricAlarm>(self.store.as_ref(), &part.key(), KIND_ALARM, &name)?;
            let mut alarm = next.clone();
            alarm.configuration_updated = now;
            let (expect, summary) = match &cur {
                Some(c) => {
                    alarm.state = c.value.state;
                    alarm.state_reason = c.value.state_reason.clone();
                    alarm.state_reason_data = c.value.state_reason_data.clone();
                    alarm.state_updated = c.value.state_updated;
                    alarm.state_transitioned = c.value.state_transitioned;
                    (Expect::Rev(c.rev), format!("Alarm \"{name}\" updated"))
                }
                None => {
                    let count = self
                        .store
                        .count(&part.key(), KIND_ALARM, "", MAX_ALARMS)
                        .map_err(store_error)?;
                    if count >= MAX_ALARMS {
                        return Err(ServiceError::limit(format!(
                            "The maximum number of alarms ({MAX_ALARMS}) has been reached."
                        )));
                    }
                    alarm.state = State::InsufficientData;
                    alarm.state_reason = "Unchecked: Initial alarm creation".into();
                    alarm.state_reason_data = None;
                    alarm.state_updated = now;
                    alarm.state_transitioned = now;
                    (Expect::Absent, format!("Alarm \"{name}\" created"))
                }
            };
            let history = HistoryItem {
                alarm_name: name.clone(),
                at: now,
                item_type: "ConfigurationUpdate".into(),
                summary,
                data: serde_json::json!({
                    "version": "1.0",
                    "type": if cur.is_some() { "Update" } else { "Create" },
                    "updatedAlarm": super::actions::describe(part, &alarm),
                })
                .to_string(),
            };
            let mut batch = Batch::new(part.key()).put(
                KIND_ALARM,
                &name,
                SCHEMA,
                encode(&alarm)?,
                Vec::new(),
                expect,
            );
            batch = self.stage_history(batch, &history)?;
            // The evaluation timer: set anew (one interval on) when there is none, or moved
            // when the interval got shorter.
            let current = self.scheduler.find(part, &timer(&name))?;
            let due = now.plus_millis(interval_ms(&alarm));
            if current.as_ref().is_none_or(|c| c.at > due) {
                self.scheduler.track(part).await?;
                batch = Scheduler::set(
                    batch,
                    &timer(&name),
                    due,
                    serde_json::Value::Null,
                    current.as_ref(),
                )?;
            }
            if try_commit(self.store.as_ref(), batch).await? {
                self.scheduler.wake();
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// DescribeAlarms: alarms in name order after `after` (a name), at most `limit`.
    pub fn describe_alarms(
        &self,
        part: &Partition,
        filter: &AlarmFilter,
        token: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<MetricAlarm>, Option<String>)> {
        let after = match token {
            Some(t) => Some(shoal_domain::page::decode_token(t).map_err(|_| bad_token())?),
            None => None,
        };
        let prefix = filter.prefix.as_deref().unwrap_or("");
        let mut out = Vec::new();
        let mut cursor = after;
        loop {
            let page = self
                .store
                .list(&part.key(), KIND_ALARM, prefix, cursor.as_deref(), 256)
                .map_err(store_error)?;
            for r in &page {
                let a: MetricAlarm = decode(r)?;
                let keep = (filter.names.is_empty() || filter.names.contains(&a.name))
                    && filter.state.is_none_or(|s| s == a.state)
                    && filter.action_prefix.as_ref().is_none_or(|p| {
                        a.ok_actions
                            .iter()
                            .chain(&a.alarm_actions)
                            .chain(&a.insufficient_data_actions)
                            .any(|x| x.starts_with(p.as_str()))
                    });
                if !keep {
                    continue;
                }
                if out.len() == limit {
                    return Ok((out, cursor.map(|c| shoal_domain::page::encode_token(&c))));
                }
                cursor = Some(a.name.clone());
                out.push(a);
            }
            if page.len() < 256 {
                return Ok((out, None));
            }
            cursor = page.last().map(|r| r.key.clone());
        }
    }

    /// DeleteAlarms: every name must exist, or nothing is deleted.
    pub async fn delete_alarms(&self, part: &Partition, names: &[String]) -> Result<()> {
        if names.len() > 100 {
            return Err(ServiceError::parameter(
                ParameterError::Combination,
                "The collection AlarmNames must not have a size greater than 100.",
            ));
        }
        for _ in 0..RETRIES {
            let now = self.clock.now();
            let mut batch = Batch::new(part.key());
            for name in names {
                check_name(name)?;
                let Some(cur) =
                    load::<MetricAlarm>(self.store.as_ref(), &part.key(), KIND_ALARM, name)?
                else {
                    return Err(not_found());
                };
                if batch
                    .ops
                    .iter()
                    .any(|op| matches!(op, shoal_store::Op::Delete { key, .. } if key == name))
                {
                    continue;
                }
                batch = batch.delete(KIND_ALARM, name, Expect::Rev(cur.rev));
                if let Some(t) = self.scheduler.find(part, &timer(name))? {
                    batch = Scheduler::clear(batch, &t);
                }
                batch = self.stage_history(
                    batch,
                    &HistoryItem {
                        alarm_name: name.clone(),
                        at: now,
                        item_type: "ConfigurationUpdate".into(),
                        summary: format!("Alarm \"{name}\" deleted"),
                        data: serde_json::json!({
                            "version": "1.0",
                            "type": "Delete",
                            "deletedAlarm": super::actions::describe(part, &cur.value),
                        })
                        .to_string(),
                    },
                )?;
            }
            if try_commit(self.store.as_ref(), batch).await? {
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// SetAlarmState: the state changes now and its actions run; the next evaluation sets it
    /// from the data again.
    pub async fn set_alarm_state(
        &self,
        part: &Partition,
        name: &str,
        state: State,
        reason: &str,
        reason_data: Option<&str>,
    ) -> Result<()> {
        check_name(name)?;
        if reason.chars().count() > 1023 {
            return Err(shoal_domain::cloudwatch::invalid_value(
                "StateReason",
                reason,
                "must be at most 1023 characters",
            ));
        }
        if let Some(d) = reason_data {
            if d.len() > 4000 || serde_json::from_str::<serde_json::Value>(d).is_err() {
                return Err(ServiceError::parameter(
                    ParameterError::Format,
                    "StateReasonData must be a JSON document of at most 4000 characters.",
                ));
            }
        }
        for _ in 0..RETRIES {
            let Some(cur) =
                load::<MetricAlarm>(self.store.as_ref(), &part.key(), KIND_ALARM, name)?
            else {
                return Err(not_found());
            };
            let change = super::evaluate::Change {
                state,
                reason: reason.to_string(),
                data: reason_data.map(str::to_string),
            };
            if self
                .transition(
                    part,
                    &cur.value,
                    cur.rev,
                    change,
                    Batch::new(part.key()),
                    None,
                )
                .await?
            {
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// DescribeAlarmHistory, newest first (or oldest first), paged by an index token.
    pub fn history(
        &self,
        part: &Partition,
        q: &HistoryQuery,
        token: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<HistoryItem>, Option<String>)> {
        let after = match token {
            Some(t) => Some(shoal_domain::page::decode_token(t).map_err(|_| bad_token())?),
            None => None,
        };
        let keep = |h: &HistoryItem| {
            q.item_type.as_ref().is_none_or(|t| *t == h.item_type)
                && q.start.is_none_or(|s| h.at >= s)
                && q.end.is_none_or(|e| h.at <= e)
        };
        if q.ascending {
            // Oldest first: the whole (bounded) history read newest first, then turned.
            let (mut all, _) = self.history_page(part, q, None, 10_000, &keep)?;
            all.reverse();
            let start = match after {
                Some(a) => a.parse::<usize>().map_err(|_| bad_token())?,
                None => 0,
            };
            let page: Vec<HistoryItem> = all
                .iter()
                .skip(start)
                .take(limit)
                .map(|(_, h)| h.clone())
                .collect();
            let next = (start + page.len() < all.len())
                .then(|| shoal_domain::page::encode_token(&(start + page.len()).to_string()));
            return Ok((page, next));
        }
        let (items, next) = self.history_page(part, q, after.as_deref(), limit, &keep)?;
        Ok((
            items.into_iter().map(|(_, h)| h).collect(),
            next.map(|k| shoal_domain::page::encode_token(&k)),
        ))
    }

    /// Up to `limit` items (key, item) after key `after`, newest first, and the key to go on
    /// from when there may be more.
    fn history_page(
        &self,
        part: &Partition,
        q: &HistoryQuery,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&HistoryItem) -> bool,
    ) -> Result<HistoryPage> {
        let mut out = Vec::new();
        let mut cursor = after.map(str::to_string);
        loop {
            let page = match &q.name {
                Some(n) => self.store.list_by_term(
                    &part.key(),
                    KIND_HISTORY,
                    TERM_ALARM,
                    TermMatch::Exact(n),
                    cursor.as_deref(),
                    256,
                ),
                None => self
                    .store
                    .list(&part.key(), KIND_HISTORY, "", cursor.as_deref(), 256),
            }
            .map_err(store_error)?;
            for r in &page {
                let h: HistoryItem = decode(r)?;
                if !keep(&h) {
                    continue;
                }
                if out.len() == limit {
                    return Ok((out, cursor));
                }
                cursor = Some(r.key.clone());
                out.push((r.key.clone(), h));
            }
            if page.len() < 256 {
                return Ok((out, None));
            }
            cursor = page.last().map(|r| r.key.clone());
        }
    }

    /// One alarm, if it exists.
    pub fn alarm(&self, part: &Partition, name: &str) -> Result<Option<MetricAlarm>> {
        Ok(
            load::<MetricAlarm>(self.store.as_ref(), &part.key(), KIND_ALARM, name)?
                .map(|l| l.value),
        )
    }
}
