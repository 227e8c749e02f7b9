//! Update/DescribeEventConfigurations: which `$aws/events/...` kinds the account receives
//! (https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateEventConfigurations.html).

use super::shapes::epoch;
use crate::error::ApiError;
use crate::json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use shoal_domain::Partition;
use shoal_services::events::EVENT_TYPES;
use shoal_services::Events;
use std::collections::BTreeMap;

type R = Result<Value, ApiError>;

#[derive(Debug, Deserialize)]
struct Configuration {
    #[serde(rename = "Enabled")]
    enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateIn {
    event_configurations: Option<BTreeMap<String, Configuration>>,
}

pub async fn update(events: &Events, part: &Partition, body: &[u8]) -> R {
    let i: UpdateIn = json::parse(body)?;
    let changes: BTreeMap<String, bool> = i
        .event_configurations
        .unwrap_or_default()
        .into_iter()
        .map(|(k, c)| (k, c.enabled.unwrap_or(false)))
        .collect();
    events.update(part, &changes).await?;
    Ok(json!({}))
}

pub fn describe(events: &Events, part: &Partition) -> R {
    let c = events.describe(part)?;
    let configs: Map<String, Value> = EVENT_TYPES
        .iter()
        .map(|t| (t.to_string(), json!({ "Enabled": c.is_enabled(t) })))
        .collect();
    let mut v = json!({ "eventConfigurations": configs });
    if let Some(t) = c.created {
        v["creationDate"] = epoch(t);
    }
    if let Some(t) = c.modified {
        v["lastModifiedDate"] = epoch(t);
    }
    Ok(v)
}
