//! Each partition's enabled rules, compiled once (statement, templates, action queues) and
//! replaced whole when the store's change stream carries a change to its rules or
//! destinations, on this node or another; and the evaluation of one message against them, in
//! the publisher's own task: the payload is parsed once for every rule whose FROM filter
//! matches, WHERE decides, SELECT builds the output, and each action's templates are rendered
//! against the message before the work is handed to the action's bounded queue (never
//! awaited: a slow action drops its own work, it never holds routing up).

use super::actions::{self, ActionCounters, Compiled, CompiledAction, Work};
use super::{sql_version, Rules, KIND_DESTINATION, KIND_RULE};
use crate::records::{decode, store_error};
use shoal_domain::error::Result;
use shoal_domain::rules::{Destination, TopicRule};
use shoal_domain::Partition;
use shoal_iotsql::{Context, ShadowSource};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A message as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    /// The publishing client (`clientid()`), none for service and HTTP messages.
    pub client_id: Option<&'a str>,
    /// `principal()`: the certificate id of a device, the access key of a signed request.
    pub principal: Option<&'a str>,
    pub timestamp_ms: i64,
    /// How many republish actions led to this message: past `MAX_HOPS` its rules' republish
    /// actions stop, so a rule that republishes onto its own filter cannot loop for ever.
    pub hops: u8,
}

/// FROM filters matching one message whose indexes each read its payload; past it the
/// message is read once and every rule of those filters evaluated.
const MAX_SCANS: usize = 4;

/// Republished messages that may themselves be republished, at most (AWS documents the loop
/// and no limit, https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-rule.html).
pub const MAX_HOPS: u8 = 8;

/// One partition's rules in memory.
pub struct PartitionRules {
    pub(super) part: Partition,
    set: RwLock<Arc<RuleSet>>,
    pub(super) rules: std::sync::Weak<Rules>,
    /// Per (rule, action index): counters that outlive recompilations.
    pub(super) counters: RwLock<HashMap<(String, usize), Arc<ActionCounters>>>,
    /// Messages evaluated (one per message with at least one rule whose FROM matched).
    pub evaluated: AtomicU64,
    /// Statements that failed while evaluating (a function's error, the step bound).
    pub errors: AtomicU64,
    /// What its actions may hold at once.
    pub(super) budget: Arc<super::budget::Budget>,
    /// Whether any rule is enabled, for the one check every message makes.
    active: std::sync::atomic::AtomicBool,
    /// One compilation at a time: the API's own and the change stream's may run together, and
    /// the one that read the store last must be the one that stays.
    compiling: std::sync::Mutex<()>,
}

#[derive(Default)]
pub(super) struct RuleSet {
    /// The enabled rules.
    pub rules: Vec<Arc<Compiled>>,
    /// The rules by FROM filter: one topic match per filter, then the filter's WHERE index
    /// picks the rules to evaluate in full.
    pub filters: Vec<FilterGroup>,
    /// Basic Ingest looks rules up by name.
    pub by_name: HashMap<String, usize>,
    /// The partition's destinations (the HTTP actions check them when they send).
    pub destinations: Arc<Vec<Destination>>,
}

/// The rules sharing one FROM filter.
pub(super) struct FilterGroup {
    pub filter: String,
    /// Indexed by their place in `RuleSet::rules`.
    pub index: shoal_iotsql::RuleIndex,
}

impl RuleSet {
    fn group(&mut self) {
        let mut filters: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            match filters.iter_mut().find(|(f, _)| *f == r.statement.from) {
                Some((_, ids)) => ids.push(i),
                None => filters.push((r.statement.from.clone(), vec![i])),
            }
        }
        self.filters = filters
            .into_iter()
            .map(|(filter, ids)| FilterGroup {
                index: shoal_iotsql::RuleIndex::new(
                    ids.iter().map(|&i| (i, &self.rules[i].statement)),
                ),
                filter,
            })
            .collect();
    }
}

thread_local! {
    /// Candidate rules of the message being evaluated (reused: no allocation per message).
    static CANDIDATES: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl PartitionRules {
    pub(super) fn current(&self) -> Arc<RuleSet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether no rule is enabled: the gateways' one check per message when none is.
    pub fn is_empty(&self) -> bool {
        !self.active.load(Ordering::Relaxed)
    }

    /// Evaluates `m` against every enabled rule whose FROM filter matches its topic. Basic
    /// Ingest topics are not evaluated here (their port calls `ingest`).
    pub fn evaluate(&self, m: &Message) {
        if self.is_empty() {
            return;
        }
        let set = self.current();
        if set.rules.is_empty() || m.topic.starts_with("$aws/rules/") {
            return;
        }
        // The groups whose filter matches, in one pass (past MAX_SCANS the count is enough).
        let mut matched: [Option<&FilterGroup>; MAX_SCANS] = [None; MAX_SCANS];
        let mut count = 0;
        for g in set
            .filters
            .iter()
            .filter(|g| filter_matches(&g.filter, m.topic))
        {
            if let Some(slot) = matched.get_mut(count) {
                *slot = Some(g);
            }
            count += 1;
        }
        if count == 0 {
            return;
        }
        self.evaluated.fetch_add(1, Ordering::Relaxed);
        // The index reads only the fields its rules name; the payload is parsed in full, and
        // the evaluation context made, only for a message some rule may match.
        CANDIDATES.with(|c| {
            let mut ids = c.take();
            ids.clear();
            let mut one = Vec::new();
            if count > MAX_SCANS {
                // Many filters match (one payload scan each would add up): every rule of
                // them is a candidate, evaluated within the message's step budget.
                ids.extend(
                    set.rules
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| filter_matches(&r.statement.from, m.topic))
                        .map(|(i, _)| i),
                );
            } else {
                for g in matched.iter().flatten() {
                    g.index.candidates(m.payload, &mut one);
                    ids.extend_from_slice(&one);
                }
            }
            // The engine is reached only for a message some rule may match.
            if let Some(rules) = (!ids.is_empty()).then(|| self.rules.upgrade()).flatten() {
                let m = &rules.stamped(m);
                rules.with_context(&self.part, m, |ctx| {
                    for &i in &ids {
                        self.run(&set.rules[i], ctx, m, &set);
                    }
                });
            }
            c.replace(ids);
        });
    }

    /// Basic Ingest: the named rule alone, with the topic after `$aws/rules/RULE/`. False when
    /// no enabled rule has that name (AWS drops the message).
    pub fn ingest(&self, rule: &str, m: &Message) -> bool {
        let set = self.current();
        let Some(r) = set.by_name.get(rule).map(|&i| set.rules[i].clone()) else {
            return false;
        };
        let Some(rules) = self.rules.upgrade() else {
            return false;
        };
        let m = &rules.stamped(m);
        self.evaluated.fetch_add(1, Ordering::Relaxed);
        rules.with_context(&self.part, m, |ctx| self.run(&r, ctx, m, &set));
        true
    }

    fn run(&self, r: &Compiled, ctx: &Context, m: &Message, set: &RuleSet) {
        match r.statement.evaluate_payload(ctx) {
            Ok(None) => {}
            Ok(Some(out)) => {
                let payload = bytes::Bytes::from(out);
                let failure = r
                    .error_action
                    .as_ref()
                    .and_then(|e| actions::prepare_error(e, r, ctx, m, set.destinations.clone()));
                for a in &r.actions {
                    let job = a.prepare(ctx, &payload, m);
                    a.offer(Work::new(job, set.destinations.clone(), failure.clone()));
                }
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(rule = %r.name, error = %e, "rule evaluation failed");
            }
        }
    }

    pub(super) fn replace(&self, set: RuleSet) {
        let active = !set.rules.is_empty();
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        self.active.store(active, Ordering::Relaxed);
    }
}

/// `get_thing_shadow` reads Shoal's shadows of the message's partition, at most
/// `SHADOW_READS` times for one message (each is a store read).
struct ShadowReader<'a> {
    shadows: &'a crate::Shadows,
    part: &'a Partition,
    reads: std::cell::Cell<u32>,
}

/// Shadow reads one message's rules may make; past it `get_thing_shadow` is Undefined.
const SHADOW_READS: u32 = 16;

impl ShadowSource for ShadowReader<'_> {
    fn get_thing_shadow(
        &self,
        thing: &str,
        shadow: Option<&str>,
        _role_arn: &str,
    ) -> Option<serde_json::Value> {
        if self.reads.get() >= SHADOW_READS {
            return None;
        }
        self.reads.set(self.reads.get() + 1);
        let id = crate::shadows::ShadowId {
            thing: shoal_domain::ThingName::parse(thing).ok()?,
            name: match shadow {
                Some(n) => Some(shoal_domain::shadow::ShadowName::parse(n).ok()?),
                None => None,
            },
        };
        self.shadows.get(self.part, &id, None).ok()
    }
}

/// A rule's FROM filter matches as the broker's subscriptions do: MQTT §4.7, except that
/// `a/#` does not match `a` (AWS IoT's difference,
/// https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences).
fn filter_matches(filter: &str, topic: &str) -> bool {
    if let Some(parent) = filter.strip_suffix("/#") {
        if topic == parent {
            return false;
        }
    }
    shoal_mqtt::topic::matches(filter, topic)
}

impl Rules {
    /// The message with its time: one the gateway did not stamp is stamped now, once, so the
    /// SQL's `timestamp()`, a republish's expiry and a log event's time agree.
    fn stamped<'a>(&self, m: &Message<'a>) -> Message<'a> {
        let mut m = *m;
        if m.timestamp_ms == 0 {
            m.timestamp_ms = self.clock.now().millis();
        }
        m
    }

    /// Runs `f` with the evaluation context of `m`.
    fn with_context(&self, part: &Partition, m: &Message, f: impl FnOnce(&Context)) {
        let uuid = || uuid::Uuid::new_v4().to_string();
        let now = m.timestamp_ms;
        let reader = self.ports().map(|p| ShadowReader {
            shadows: &p.shadows,
            part,
            reads: std::cell::Cell::new(0),
        });
        let mut ctx = Context::new(m.topic, m.payload, now)
            .with_account_id(part.account.as_str())
            .with_new_uuid(&uuid);
        if let Some(c) = m.client_id {
            ctx = ctx.with_client_id(c);
        }
        if let Some(p) = m.principal {
            ctx = ctx.with_principal(p);
        }
        if let Some(r) = &reader {
            ctx = ctx.with_shadows(r);
        }
        f(&ctx)
    }

    /// The partition's rules in memory (compiled on first use).
    pub fn partition(self: &Arc<Self>, part: &Partition) -> Arc<PartitionRules> {
        let key = part.key();
        if let Some(p) = self.read_parts().get(&key) {
            return p.clone();
        }
        let p = Arc::new(PartitionRules {
            part: part.clone(),
            set: RwLock::default(),
            rules: Arc::downgrade(self),
            counters: RwLock::default(),
            evaluated: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            budget: self.budget(part),
            active: std::sync::atomic::AtomicBool::new(false),
            compiling: std::sync::Mutex::new(()),
        });
        let mut parts = self.parts.write().unwrap_or_else(|p| p.into_inner());
        let p = parts.entry(key).or_insert(p).clone();
        drop(parts);
        self.compile(&p);
        p
    }

    /// The partition's budget, shared by its actions and its destinations' confirmations.
    pub(super) fn budget(&self, part: &Partition) -> Arc<super::budget::Budget> {
        self.budgets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(part.key())
            .or_default()
            .clone()
    }

    fn read_parts(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<PartitionRules>>> {
        self.parts.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Every partition in memory.
    pub(super) fn partitions(&self) -> Vec<Arc<PartitionRules>> {
        self.read_parts().values().cloned().collect()
    }

    /// Compiles the partition's rules again, if it is in memory.
    pub(super) fn reload(&self, part: &Partition) {
        self.reload_key(&part.key());
    }

    fn reload_key(&self, key: &str) {
        let p = self.read_parts().get(key).cloned();
        if let Some(p) = p {
            self.compile(&p);
        }
    }

    fn compile(&self, p: &Arc<PartitionRules>) {
        let _one = p.compiling.lock().unwrap_or_else(|e| e.into_inner());
        match self.load_set(p) {
            Ok(set) => p.replace(set),
            Err(e) => {
                tracing::warn!(error = %e.message, "topic rules unreadable; kept the last ones")
            }
        }
    }

    fn load_set(&self, p: &Arc<PartitionRules>) -> Result<RuleSet> {
        let key = p.part.key();
        let rules: Vec<TopicRule> = self.all(&p.part)?;
        let destinations: Vec<Destination> = self
            .store
            .list(
                &key,
                KIND_DESTINATION,
                "",
                None,
                shoal_domain::rules::MAX_DESTINATIONS,
            )
            .map_err(store_error)?
            .iter()
            .map(decode)
            .collect::<Result<_>>()?;
        let mut set = RuleSet {
            destinations: Arc::new(destinations),
            ..RuleSet::default()
        };
        let ports = self.ports().cloned();
        for r in rules.iter().filter(|r| !r.disabled) {
            match compile_rule(r, p, ports.clone()) {
                Ok(c) => {
                    set.by_name.insert(r.name.to_string(), set.rules.len());
                    set.rules.push(Arc::new(c));
                }
                Err(e) => {
                    tracing::warn!(rule = %r.name, error = %e.message, "topic rule not compiled")
                }
            }
        }
        set.group();
        // A deleted rule's counts go with it (metrics keep no series of rules long gone).
        p.counters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(name, _), _| rules.iter().any(|r| r.name.as_str() == name));
        Ok(set)
    }

    /// Follows the store's change stream: a change to a partition's rules or destinations
    /// (here or on another node) compiles that partition again; a missed stretch, all of them.
    pub fn follow(self: &Arc<Self>) {
        crate::records::follow_kinds(
            self.store.as_ref(),
            self,
            &[KIND_RULE, KIND_DESTINATION],
            |me, part| me.reload_key(part),
            |me| {
                for p in me.partitions() {
                    me.compile(&p);
                }
            },
        );
    }
}

fn compile_rule(
    r: &TopicRule,
    p: &Arc<PartitionRules>,
    ports: Option<Arc<super::Ports>>,
) -> Result<Compiled> {
    let version = sql_version(r.sql_version.as_deref());
    let statement = super::parse_sql(&r.sql, version)?;
    let mut actions = Vec::new();
    for (i, a) in r.typed_actions()?.into_iter().enumerate() {
        let counters = p.counters_of(r.name.as_str(), i);
        actions.push(CompiledAction::new(a, version, counters, p, ports.clone())?);
    }
    let error_action = match r.typed_error_action()? {
        Some(a) => {
            let counters = p.counters_of(r.name.as_str(), usize::MAX);
            Some(CompiledAction::new(a, version, counters, p, ports.clone())?)
        }
        None => None,
    };
    Ok(Compiled {
        name: r.name.to_string(),
        statement,
        actions,
        error_action,
    })
}

impl PartitionRules {
    pub(super) fn counters_of(&self, rule: &str, index: usize) -> Arc<ActionCounters> {
        let key = (rule.to_string(), index);
        if let Some(c) = self
            .counters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return c.clone();
        }
        self.counters
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone()
    }
}
