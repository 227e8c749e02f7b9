//! The rule tester, Shoal's extension (docs/compatibility.md, Rules engine): a statement (or a stored rule) and a
//! sample message in; whether WHERE matched, the output SELECT built and what each action
//! would do with its templates rendered, out. Nothing is published, sent or written.

use super::actions::{CompiledAction, Job};
use super::engine::Message;
use super::{parse_sql, sql_version, Rules};
use base64::Engine;
use bytes::Bytes;
use shoal_domain::error::Result;
use shoal_domain::rules::Action;
use shoal_domain::{Partition, ServiceError};
use shoal_iotsql::{Context, Output};
use std::sync::Arc;

/// What the tester found.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTest {
    pub matched: bool,
    /// The output, when WHERE matched.
    pub output: Option<Output>,
    pub actions: Vec<TestedAction>,
}

/// What one action would do.
#[derive(Debug, Clone, PartialEq)]
pub struct TestedAction {
    /// The `Action` member name.
    pub kind: &'static str,
    /// The topic, URL, bucket/key or log group, rendered.
    pub target: String,
    /// Why it would fail before running (a template that cannot be rendered).
    pub error: Option<String>,
}

impl Rules {
    /// Tests `sql` (with `actions`, given as the API's JSON) against a message.
    #[allow(clippy::too_many_arguments)]
    pub fn test_rule(
        self: &Arc<Self>,
        part: &Partition,
        sql: &str,
        version: Option<&str>,
        actions: &[serde_json::Value],
        topic: &str,
        payload: &[u8],
        client_id: Option<&str>,
    ) -> Result<RuleTest> {
        if !shoal_mqtt::topic::valid_topic_name(topic) {
            return Err(ServiceError::invalid(
                "topic must be a valid MQTT topic name",
            ));
        }
        let v = sql_version(version);
        let statement = parse_sql(sql, v)?;
        let p = self.partition(part);
        if actions.len() > shoal_domain::rules::MAX_ACTIONS {
            return Err(ServiceError::invalid(format!(
                "A rule can have at most {} actions",
                shoal_domain::rules::MAX_ACTIONS
            )));
        }
        let typed: Vec<Action> = actions
            .iter()
            .map(Action::from_json)
            .collect::<Result<_>>()?;
        let mut compiled = Vec::new();
        for a in typed {
            compiled.push(CompiledAction::new(a, v, Default::default(), &p, None)?);
        }
        let m = Message {
            topic,
            payload,
            client_id,
            principal: None,
            timestamp_ms: self.clock.now().millis(),
            hops: 0,
        };
        let uuid = || uuid::Uuid::new_v4().to_string();
        let mut ctx = Context::new(topic, payload, m.timestamp_ms)
            .with_account_id(part.account.as_str())
            .with_new_uuid(&uuid);
        if let Some(c) = client_id {
            ctx = ctx.with_client_id(c);
        }
        let output = statement
            .evaluate_output(&ctx)
            .map_err(|e| ServiceError::invalid(format!("The statement failed: {e}")))?;
        let Some(output) = output else {
            return Ok(RuleTest {
                matched: false,
                output: None,
                actions: Vec::new(),
            });
        };
        let bytes = Bytes::from(output.to_bytes());
        let actions = compiled
            .iter()
            .map(|a| describe(a.action.kind(), a.prepare(&ctx, &bytes, &m)))
            .collect();
        Ok(RuleTest {
            matched: true,
            output: Some(output),
            actions,
        })
    }
}

fn describe(kind: &'static str, job: Job) -> TestedAction {
    let (target, error) = match job {
        Job::Republish { topic, .. } => (topic, None),
        Job::Http { url, .. } => (url, None),
        Job::S3 { bucket, key, .. } => (format!("s3://{bucket}/{key}"), None),
        Job::Logs { group, .. } => (group, None),
        Job::Failed { resource, reason } => (resource, Some(reason)),
    };
    TestedAction {
        kind,
        target,
        error,
    }
}

/// The output as the tester's JSON: the document, or base64 of binary output.
pub fn output_json(o: &Output) -> serde_json::Value {
    match o {
        Output::Json(v) => serde_json::json!({ "output": v }),
        Output::Bytes(b) => serde_json::json!({
            "outputBase64": base64::engine::general_purpose::STANDARD.encode(b)
        }),
        Output::Empty => serde_json::json!({ "outputBase64": "" }),
    }
}
