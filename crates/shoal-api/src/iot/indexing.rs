//! Fleet indexing: Get/UpdateIndexingConfiguration, DescribeIndex, ListIndices, SearchIndex
//! and the four aggregations. Shapes follow the botocore model; `shadow` in a thing document is
//! a JSON string, as on AWS.

use crate::error::ApiError;
use crate::json;
use crate::request::Query;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use shoal_domain::fleet::aggregate::DEFAULT_PERCENTS;
use shoal_domain::fleet::config::{Field, FieldType, IndexingConfig, ThingMode};
use shoal_domain::fleet::fields::{GROUPS_INDEX, THINGS_INDEX};
use shoal_domain::Partition;
use shoal_services::fleet::Stats;
use shoal_services::FleetIndexing;

type R = Result<Value, ApiError>;

/// SearchIndex returns at most 100 things a page ("This maximum number cannot exceed 100").
const MAX_SEARCH_RESULTS: i64 = 100;
/// GetPercentiles takes at most 100 percents.
const MAX_PERCENTS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FieldIn {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterIn {
    named_shadow_names: Option<Vec<String>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThingIndexingIn {
    thing_indexing_mode: Option<String>,
    thing_connectivity_indexing_mode: Option<String>,
    device_defender_indexing_mode: Option<String>,
    named_shadow_indexing_mode: Option<String>,
    custom_fields: Option<Vec<FieldIn>>,
    filter: Option<FilterIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupIndexingIn {
    thing_group_indexing_mode: Option<String>,
    custom_fields: Option<Vec<FieldIn>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateIn {
    thing_indexing_configuration: Option<ThingIndexingIn>,
    thing_group_indexing_configuration: Option<GroupIndexingIn>,
}

fn mode<'a>(
    member: &str,
    v: Option<&'a str>,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match v {
        Some(s) if !allowed.contains(&s) => Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{s}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ))),
        v => Ok(v),
    }
}

fn fields(list: Option<Vec<FieldIn>>) -> Result<Vec<Field>, ApiError> {
    list.unwrap_or_default()
        .into_iter()
        .map(|f| {
            let name = f
                .name
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::invalid("A custom field must have a name"))?;
            let kind = match f.kind.as_deref() {
                None => None,
                Some(k) => Some(FieldType::parse(k).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "Value '{k}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [Number, String, Boolean]"
                    ))
                })?),
            };
            Ok(Field { name, kind })
        })
        .collect()
}

fn fields_json(list: &[Field]) -> Value {
    Value::Array(
        list.iter()
            .map(|f| {
                let mut v = json!({ "name": f.name });
                if let Some(k) = f.kind {
                    v["type"] = k.as_str().into();
                }
                v
            })
            .collect(),
    )
}

pub async fn update_config(fleet: &FleetIndexing, part: &Partition, body: &[u8]) -> R {
    let input: UpdateIn = json::parse(body)?;
    let mut cfg = fleet.config(part);
    if let Some(t) = input.thing_indexing_configuration {
        let m = mode(
            "thingIndexingConfiguration.thingIndexingMode",
            t.thing_indexing_mode.as_deref(),
            &["OFF", "REGISTRY", "REGISTRY_AND_SHADOW"],
        )?
        .ok_or_else(|| ApiError::invalid("thingIndexingMode is required"))?;
        cfg.thing_mode = ThingMode::parse(m).unwrap_or_default();
        cfg.connectivity = mode(
            "thingIndexingConfiguration.thingConnectivityIndexingMode",
            t.thing_connectivity_indexing_mode.as_deref(),
            &["OFF", "STATUS"],
        )? == Some("STATUS");
        cfg.device_defender = mode(
            "thingIndexingConfiguration.deviceDefenderIndexingMode",
            t.device_defender_indexing_mode.as_deref(),
            &["OFF", "VIOLATIONS"],
        )? == Some("VIOLATIONS");
        cfg.named_shadows = mode(
            "thingIndexingConfiguration.namedShadowIndexingMode",
            t.named_shadow_indexing_mode.as_deref(),
            &["OFF", "ON"],
        )? == Some("ON");
        cfg.custom_fields = fields(t.custom_fields)?;
        match t.filter {
            Some(f) => {
                cfg.named_shadow_names = f.named_shadow_names.unwrap_or_default();
                cfg.filter_extra = (!f.rest.is_empty()).then_some(Value::Object(f.rest));
            }
            None => {
                cfg.named_shadow_names.clear();
                cfg.filter_extra = None;
            }
        }
    }
    if let Some(g) = input.thing_group_indexing_configuration {
        let m = mode(
            "thingGroupIndexingConfiguration.thingGroupIndexingMode",
            g.thing_group_indexing_mode.as_deref(),
            &["OFF", "ON"],
        )?
        .ok_or_else(|| ApiError::invalid("thingGroupIndexingMode is required"))?;
        cfg.groups = m == "ON";
        cfg.group_custom_fields = fields(g.custom_fields)?;
    }
    fleet.update_config(part, cfg).await?;
    Ok(json!({}))
}

pub fn get_config(fleet: &FleetIndexing, part: &Partition) -> R {
    let cfg: IndexingConfig = fleet.config(part);
    let mut things = json!({
        "thingIndexingMode": cfg.thing_mode.as_str(),
        "thingConnectivityIndexingMode": if cfg.connectivity { "STATUS" } else { "OFF" },
    });
    if cfg.things_on() {
        things["deviceDefenderIndexingMode"] = (if cfg.device_defender {
            "VIOLATIONS"
        } else {
            "OFF"
        })
        .into();
        things["namedShadowIndexingMode"] = (if cfg.named_shadows { "ON" } else { "OFF" }).into();
        things["managedFields"] = fields_json(&cfg.managed_fields());
        if !cfg.custom_fields.is_empty() {
            things["customFields"] = fields_json(&cfg.custom_fields);
        }
        let mut filter = match &cfg.filter_extra {
            Some(Value::Object(o)) => o.clone(),
            _ => Map::new(),
        };
        if !cfg.named_shadow_names.is_empty() {
            filter.insert("namedShadowNames".into(), json!(cfg.named_shadow_names));
        }
        if !filter.is_empty() {
            things["filter"] = Value::Object(filter);
        }
    }
    let mut groups = json!({
        "thingGroupIndexingMode": if cfg.groups { "ON" } else { "OFF" },
    });
    if cfg.groups {
        groups["managedFields"] = fields_json(&cfg.group_managed_fields());
        if !cfg.group_custom_fields.is_empty() {
            groups["customFields"] = fields_json(&cfg.group_custom_fields);
        }
    }
    Ok(json!({
        "thingIndexingConfiguration": things,
        "thingGroupIndexingConfiguration": groups,
    }))
}

pub fn describe_index(fleet: &FleetIndexing, part: &Partition, name: &str) -> R {
    let (status, schema) = fleet.describe_index(part, name)?;
    Ok(json!({ "indexName": name, "indexStatus": status.as_str(), "schema": schema }))
}

pub fn list_indices(fleet: &FleetIndexing, part: &Partition, query: &Query) -> R {
    shoal_domain::page::max_results("maxResults", query.int("maxResults")?, 500)?;
    Ok(json!({ "indexNames": fleet.list_indices(part) }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchIn {
    index_name: Option<String>,
    query_string: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn index_name(n: Option<String>) -> String {
    n.unwrap_or_else(|| THINGS_INDEX.to_string())
}

fn query_string(q: Option<String>) -> Result<String, ApiError> {
    q.filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::invalid("queryString is required and must not be empty"))
}

pub fn search(fleet: &FleetIndexing, part: &Partition, body: &[u8]) -> R {
    let input: SearchIn = json::parse(body)?;
    let index = index_name(input.index_name);
    let q = query_string(input.query_string)?;
    let max = match input.max_results {
        Some(n) if n < 1 => {
            shoal_domain::page::max_results("maxResults", Some(n), MAX_SEARCH_RESULTS)?
        }
        Some(n) => n.min(MAX_SEARCH_RESULTS) as usize,
        None => MAX_SEARCH_RESULTS as usize,
    };
    let page = fleet.search(part, &index, &q, input.next_token.as_deref(), max)?;
    let docs: Vec<Value> = page
        .documents
        .iter()
        .filter_map(|d| serde_json::from_slice(d).ok())
        .collect();
    let key = if index == GROUPS_INDEX {
        "thingGroups"
    } else {
        "things"
    };
    let mut out = json!({ key: docs });
    if let Some(t) = page.next_token {
        out["nextToken"] = t.into();
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TermsIn {
    max_buckets: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BucketsTypeIn {
    terms_aggregation: Option<TermsIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AggregateIn {
    index_name: Option<String>,
    query_string: Option<String>,
    aggregation_field: Option<String>,
    percents: Option<Vec<f64>>,
    buckets_aggregation_type: Option<BucketsTypeIn>,
}

fn required_field(f: Option<String>) -> Result<String, ApiError> {
    f.filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::invalid("aggregationField is required"))
}

pub fn statistics(fleet: &FleetIndexing, part: &Partition, body: &[u8]) -> R {
    let input: AggregateIn = json::parse(body)?;
    let index = index_name(input.index_name);
    let q = query_string(input.query_string)?;
    // "aggregationField ... The default is registry.version" (GetStatistics API reference).
    let field = input
        .aggregation_field
        .unwrap_or_else(|| "registry.version".to_string());
    let stats = match fleet.statistics(part, &index, &q, &field)? {
        Stats::Numbers(s) => json!({
            "count": s.count,
            "average": s.average,
            "sum": s.sum,
            "minimum": s.minimum,
            "maximum": s.maximum,
            "sumOfSquares": s.sum_of_squares,
            "variance": s.variance,
            "stdDeviation": s.std_deviation,
        }),
        Stats::Count(n) => json!({ "count": n }),
    };
    Ok(json!({ "statistics": stats }))
}

pub fn percentiles(fleet: &FleetIndexing, part: &Partition, body: &[u8]) -> R {
    let input: AggregateIn = json::parse(body)?;
    let index = index_name(input.index_name);
    let q = query_string(input.query_string)?;
    let field = required_field(input.aggregation_field)?;
    let percents = input.percents.unwrap_or_else(|| DEFAULT_PERCENTS.to_vec());
    if percents.len() > MAX_PERCENTS {
        return Err(ApiError::invalid(format!(
            "At most {MAX_PERCENTS} percents may be requested"
        )));
    }
    if let Some(p) = percents.iter().find(|p| !(0.0..=100.0).contains(*p)) {
        return Err(ApiError::invalid(format!(
            "Percent {p} is not between 0 and 100"
        )));
    }
    let out = fleet.percentiles(part, &index, &q, &field, &percents)?;
    let list: Vec<Value> = out
        .into_iter()
        .map(|(p, v)| json!({ "percent": p, "value": v }))
        .collect();
    Ok(json!({ "percentiles": list }))
}

pub fn cardinality(fleet: &FleetIndexing, part: &Partition, body: &[u8]) -> R {
    let input: AggregateIn = json::parse(body)?;
    let index = index_name(input.index_name);
    let q = query_string(input.query_string)?;
    let field = required_field(input.aggregation_field)?;
    Ok(json!({ "cardinality": fleet.cardinality(part, &index, &q, &field)? }))
}

pub fn buckets(fleet: &FleetIndexing, part: &Partition, body: &[u8]) -> R {
    let input: AggregateIn = json::parse(body)?;
    let index = index_name(input.index_name);
    let q = query_string(input.query_string)?;
    let field = required_field(input.aggregation_field)?;
    let terms = input
        .buckets_aggregation_type
        .ok_or_else(|| ApiError::invalid("bucketsAggregationType is required"))?
        .terms_aggregation;
    // "maxBuckets ... Default to 10", at most 10,000.
    let max = match terms.and_then(|t| t.max_buckets) {
        None => 10,
        Some(n) => shoal_domain::page::max_results("maxBuckets", Some(n), 10_000)?,
    };
    let b = fleet.buckets(part, &index, &q, &field, max)?;
    let list: Vec<Value> = b
        .buckets
        .into_iter()
        .map(|(k, c)| json!({ "keyValue": k, "count": c }))
        .collect();
    Ok(json!({ "totalCount": b.total_count, "buckets": list }))
}
