//! The rules engine (https://docs.aws.amazon.com/iot/latest/developerguide/iot-rules.html):
//! topic rules as records (this file: Create/Get/List/Replace/Delete/Enable/DisableTopicRule),
//! HTTP destinations and their confirmation (`destinations.rs`), each partition's enabled
//! rules compiled in memory and replaced from the store's change stream, and the evaluation of
//! every message against them (`engine.rs`), the actions' bounded queues and workers with the
//! error action (`actions.rs`), Basic Ingest as a reserved-topic service (`ingest.rs`) and the
//! rule tester, Shoal's extension (`tester.rs`). The SQL is `shoal-iotsql`'s.

mod actions;
mod budget;
mod destinations;
mod engine;
mod ingest;
mod metrics;
mod tester;
#[cfg(test)]
mod tests;
mod worker;

pub use actions::{HttpPort, HttpRequest};
pub use engine::{Message, PartitionRules};
pub use ingest::BasicIngest;
pub use tester::{output_json, RuleTest, TestedAction};

use crate::records::{contention, decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use shoal_domain::error::Result;
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::rules::{RuleName, TopicRule, TopicRulePayload, MAX_RULES};
use shoal_domain::{Clock, ErrorKind, Partition, ServiceError};
use shoal_iotsql::SqlVersion;
use shoal_store::{Batch, Expect, Store};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

pub(crate) const KIND_RULE: &str = "topic-rule";
pub(crate) const KIND_DESTINATION: &str = "rule-destination";

/// What the actions reach: the broker (through the messaging service), object storage, the
/// log store and outbound HTTP. Set once by the binary.
pub struct Ports {
    pub messaging: Arc<crate::Messaging>,
    pub objects: Arc<crate::Objects>,
    pub logs: Arc<crate::DeviceLogs>,
    pub shadows: Arc<crate::Shadows>,
    /// A republish onto a service's request topic (`$$aws/things/T/shadow/update`) is handed
    /// to the service. Weak: the port holds the rules engine (Basic Ingest), and the engine's
    /// compiled rules live in the broker's shards, so a strong link would keep every service
    /// alive after a shutdown.
    pub reserved: std::sync::Weak<crate::ReservedTopics>,
    pub http: Arc<dyn HttpPort>,
    /// Where `enableUrl` points: the API port's base URL.
    pub api_base: String,
}

pub struct Rules {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ports: OnceLock<Arc<Ports>>,
    parts: RwLock<HashMap<String, Arc<PartitionRules>>>,
    budgets: std::sync::Mutex<HashMap<String, Arc<budget::Budget>>>,
}

/// A rule's listing entry (TopicRuleListItem).
#[derive(Debug, Clone)]
pub struct RuleSummary {
    pub name: String,
    pub topic_pattern: String,
    pub created_at: i64,
    pub disabled: bool,
}

/// AWS answers a rule that does not exist as one the caller may not see ("Access to topic
/// rule 'x' was denied"): the model lists no ResourceNotFoundException for these operations.
fn no_rule(name: &str) -> ServiceError {
    ServiceError::new(
        ErrorKind::Unauthorized,
        format!("Access to topic rule '{name}' was denied"),
    )
}

fn sql_version(rule_version: Option<&str>) -> SqlVersion {
    rule_version
        .and_then(SqlVersion::from_name)
        .unwrap_or_default()
}

/// The statement of a rule, or SqlParseException with AWS's wording and the position.
pub(crate) fn parse_sql(sql: &str, version: SqlVersion) -> Result<shoal_iotsql::Statement> {
    shoal_iotsql::parse(sql, version).map_err(|e| {
        ServiceError::new(
            ErrorKind::SqlParse,
            format!("Line 1:{}: {}", e.position + 1, e.reason),
        )
    })
}

impl Rules {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Arc<Rules> {
        Arc::new(Rules {
            store,
            clock,
            ports: OnceLock::new(),
            parts: RwLock::default(),
            budgets: std::sync::Mutex::default(),
        })
    }

    /// Installs what the actions reach; actions queued before this are dropped.
    pub fn set_ports(&self, ports: Ports) {
        let _ = self.ports.set(Arc::new(ports));
    }

    fn ports(&self) -> Option<&Arc<Ports>> {
        self.ports.get()
    }

    /// Checks a payload's SQL and substitution templates (each with the rule's SQL version).
    fn check(rule: &TopicRule) -> Result<()> {
        let version = sql_version(rule.sql_version.as_deref());
        parse_sql(&rule.sql, version)?;
        let mut actions = rule.typed_actions()?;
        actions.extend(rule.typed_error_action()?);
        for a in &actions {
            for t in a.templates() {
                shoal_iotsql::Template::parse(t, version).map_err(|e| {
                    ServiceError::invalid(format!(
                        "Invalid substitution template in the {} action at {}: {}",
                        a.kind(),
                        e.position,
                        e.reason
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// CreateTopicRule.
    pub async fn create(
        &self,
        part: &Partition,
        name: &str,
        payload: TopicRulePayload,
    ) -> Result<()> {
        let name = RuleName::parse(name)?;
        let rule = payload.into_rule(name.clone(), self.clock.now().millis())?;
        Self::check(&rule)?;
        let key = part.key();
        if self
            .store
            .count(&key, KIND_RULE, "", MAX_RULES + 1)
            .map_err(store_error)?
            >= MAX_RULES
        {
            return Err(ServiceError::new(
                ErrorKind::LimitExceeded,
                format!("An account can have at most {MAX_RULES} topic rules"),
            ));
        }
        let batch = Batch::new(&key).put(
            KIND_RULE,
            name.as_str(),
            SCHEMA,
            encode(&rule)?,
            vec![],
            Expect::Absent,
        );
        if !try_commit(self.store.as_ref(), batch).await? {
            let arn = part.arn("rule", name.as_str());
            return Err(ServiceError::new(
                ErrorKind::AlreadyExists {
                    resource_id: name.to_string(),
                    resource_arn: arn,
                },
                format!("Topic rule {name} already exists"),
            ));
        }
        self.reload(part);
        self.ensure_destinations(part, &rule).await?;
        Ok(())
    }

    /// GetTopicRule.
    pub fn get(&self, part: &Partition, name: &str) -> Result<TopicRule> {
        RuleName::parse(name).map_err(|_| no_rule(name))?;
        load::<TopicRule>(self.store.as_ref(), &part.key(), KIND_RULE, name)?
            .map(|l| l.value)
            .ok_or_else(|| no_rule(name))
    }

    /// Every rule of the partition in name order (at most MAX_RULES).
    pub fn all(&self, part: &Partition) -> Result<Vec<TopicRule>> {
        let recs = self
            .store
            .list(&part.key(), KIND_RULE, "", None, MAX_RULES + 10)
            .map_err(store_error)?;
        recs.iter().map(decode).collect()
    }

    /// ListTopicRules: in name order, filtered by the rule's FROM topic (`topic`, as written)
    /// and by `ruleDisabled`.
    pub fn list(
        &self,
        part: &Partition,
        topic: Option<&str>,
        disabled: Option<bool>,
        max: usize,
        token: Option<&str>,
    ) -> Result<(Vec<RuleSummary>, Option<String>)> {
        let after = token.map(decode_token).transpose()?;
        let mut out = Vec::new();
        for r in self.all(part)? {
            if after.as_deref().is_some_and(|a| r.name.as_str() <= a) {
                continue;
            }
            if disabled.is_some_and(|d| d != r.disabled) {
                continue;
            }
            let pattern = topic_pattern(&r);
            if topic.is_some_and(|t| t != pattern) {
                continue;
            }
            if out.len() == max {
                let last: &RuleSummary = out.last().expect("max >= 1");
                let next = encode_token(&last.name);
                return Ok((out, Some(next)));
            }
            out.push(RuleSummary {
                name: r.name.to_string(),
                topic_pattern: pattern,
                created_at: r.created_at,
                disabled: r.disabled,
            });
        }
        Ok((out, None))
    }

    /// ReplaceTopicRule: a new payload under the same name (creation time kept).
    pub async fn replace(
        &self,
        part: &Partition,
        name: &str,
        payload: TopicRulePayload,
    ) -> Result<()> {
        let rule_name = RuleName::parse(name).map_err(|_| no_rule(name))?;
        let rule = payload.into_rule(rule_name, 0)?;
        Self::check(&rule)?;
        let (rule, ()) = self
            .modify_rule(part, name, |r| {
                let created_at = r.created_at;
                *r = rule.clone();
                r.created_at = created_at;
                Ok(())
            })
            .await?;
        self.ensure_destinations(part, &rule).await
    }

    /// EnableTopicRule and DisableTopicRule.
    pub async fn set_disabled(&self, part: &Partition, name: &str, disabled: bool) -> Result<()> {
        RuleName::parse(name).map_err(|_| no_rule(name))?;
        self.modify_rule(part, name, |r| {
            r.disabled = disabled;
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// One rule's read-modify-write; the partition's compiled rules follow it at once.
    async fn modify_rule(
        &self,
        part: &Partition,
        name: &str,
        change: impl FnMut(&mut TopicRule) -> Result<()>,
    ) -> Result<(TopicRule, ())> {
        let out = crate::records::modify(
            self.store.as_ref(),
            &part.key(),
            KIND_RULE,
            name,
            || no_rule(name),
            |_| vec![],
            change,
        )
        .await?;
        self.reload(part);
        Ok(out)
    }

    /// DeleteTopicRule.
    pub async fn delete(&self, part: &Partition, name: &str) -> Result<()> {
        RuleName::parse(name).map_err(|_| no_rule(name))?;
        let key = part.key();
        for _ in 0..RETRIES {
            let old = load::<TopicRule>(self.store.as_ref(), &key, KIND_RULE, name)?
                .ok_or_else(|| no_rule(name))?;
            let batch = Batch::new(&key).delete(KIND_RULE, name, Expect::Rev(old.rev));
            if try_commit(self.store.as_ref(), batch).await? {
                self.reload(part);
                return Ok(());
            }
        }
        Err(contention())
    }
}

/// The FROM topic filter of a rule as ListTopicRules shows it (`topicPattern`): empty when
/// the SQL names none (a Basic Ingest rule) or no longer parses.
pub fn topic_pattern(rule: &TopicRule) -> String {
    shoal_iotsql::parse(&rule.sql, sql_version(rule.sql_version.as_deref()))
        .map(|s| s.from)
        .unwrap_or_default()
}
