//! Create/Describe/List/Update/DeleteFleetMetric. The values go to `/metrics` (Prometheus),
//! Shoal's stand-in for CloudWatch.

use super::shapes::{epoch, tag_pairs, with_token, TagIn};
use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::fleet::metric::{AggregationType, FleetMetric};
use shoal_domain::page::max_results;
use shoal_domain::Partition;
use shoal_services::fleet::MetricInput;
use shoal_services::FleetIndexing;

type R = Result<Value, ApiError>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AggregationTypeIn {
    name: Option<String>,
    values: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricIn {
    query_string: Option<String>,
    aggregation_type: Option<AggregationTypeIn>,
    period: Option<i64>,
    aggregation_field: Option<String>,
    description: Option<String>,
    query_version: Option<String>,
    index_name: Option<String>,
    unit: Option<String>,
    tags: Option<Vec<TagIn>>,
    expected_version: Option<i64>,
}

fn input(body: &[u8]) -> Result<MetricInput, ApiError> {
    let i: MetricIn = json::parse(body)?;
    let aggregation_type = match i.aggregation_type {
        Some(t) => Some(AggregationType {
            name: t
                .name
                .ok_or_else(|| ApiError::invalid("aggregationType.name is required"))?,
            values: t.values.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(MetricInput {
        query_string: i.query_string,
        aggregation_type,
        period: i.period,
        aggregation_field: i.aggregation_field,
        description: i.description,
        query_version: i.query_version,
        index_name: i.index_name,
        unit: i.unit,
        tags: tag_pairs(i.tags),
        expected_version: i.expected_version,
    })
}

pub async fn create(fleet: &FleetIndexing, part: &Partition, name: &str, body: &[u8]) -> R {
    let m = fleet.create_metric(part, name, input(body)?).await?;
    Ok(json!({ "metricName": m.name, "metricArn": part.arn("fleetmetric", &m.name) }))
}

fn describe_json(part: &Partition, m: &FleetMetric) -> Value {
    let mut v = json!({
        "metricName": m.name,
        "queryString": m.query_string,
        "aggregationType": { "name": m.aggregation_type.name, "values": m.aggregation_type.values },
        "period": m.period,
        "aggregationField": m.aggregation_field,
        "queryVersion": m.query_version,
        "indexName": m.index_name,
        "creationDate": epoch(m.creation_date),
        "lastModifiedDate": epoch(m.last_modified_date),
        "version": m.version,
        "metricArn": part.arn("fleetmetric", &m.name),
    });
    if let Some(d) = &m.description {
        v["description"] = d.as_str().into();
    }
    if let Some(u) = &m.unit {
        v["unit"] = u.as_str().into();
    }
    v
}

pub fn describe(fleet: &FleetIndexing, part: &Partition, name: &str) -> R {
    Ok(describe_json(part, &fleet.describe_metric(part, name)?))
}

pub fn list(fleet: &FleetIndexing, part: &Partition, query: &Query) -> R {
    let max = max_results("maxResults", query.int("maxResults")?, 250)?;
    let page = fleet.list_metrics(part, query.get("nextToken"), max)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|n| json!({ "metricName": n, "metricArn": part.arn("fleetmetric", n) }))
        .collect();
    Ok(with_token(
        json!({ "fleetMetrics": items }),
        page.next_token,
    ))
}

pub async fn update(fleet: &FleetIndexing, part: &Partition, name: &str, body: &[u8]) -> R {
    fleet.update_metric(part, name, input(body)?).await?;
    Ok(json!({}))
}

pub async fn delete(fleet: &FleetIndexing, part: &Partition, name: &str, query: &Query) -> R {
    fleet
        .delete_metric(part, name, query.int("expectedVersion")?)
        .await?;
    Ok(json!({}))
}
