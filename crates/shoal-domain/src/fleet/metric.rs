//! Fleet metrics: a query and an aggregation evaluated every `period` seconds.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-fleet-metrics.html>

use crate::clock::Timestamp;
use crate::error::{Result, ServiceError};
use crate::fleet::aggregate::Statistics;
use crate::tags::Tags;
use serde::{Deserialize, Serialize};

pub const STATISTICS: &str = "Statistics";
pub const PERCENTILES: &str = "Percentiles";
pub const CARDINALITY: &str = "Cardinality";

/// The values a Statistics fleet metric may emit (GetStatistics' members).
pub const STATISTICS_VALUES: [&str; 8] = [
    "count",
    "average",
    "sum",
    "minimum",
    "maximum",
    "sumOfSquares",
    "variance",
    "stdDeviation",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregationType {
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetMetric {
    pub name: String,
    pub query_string: String,
    pub aggregation_type: AggregationType,
    pub period: i64,
    pub aggregation_field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub query_version: String,
    pub index_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub version: i64,
    pub creation_date: Timestamp,
    pub last_modified_date: Timestamp,
    #[serde(default)]
    pub tags: Tags,
}

/// `[a-zA-Z0-9_\-\.]+`, 1 to 128 characters (FleetMetricName).
pub fn check_name(name: &str) -> Result<()> {
    let ok = (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'metricName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_\\-\\.]+"
        )))
    }
}

/// "Range [60(1 min), 86400(1 day)] and must be multiple of 60."
pub fn check_period(period: i64) -> Result<()> {
    if (60..=86400).contains(&period) && period % 60 == 0 {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!(
            "The period {period} is not valid: it must be between 60 and 86400 seconds and a multiple of 60"
        )))
    }
}

/// The aggregation name and the values it emits: statistics members, percents, or
/// `cardinality`.
pub fn check_aggregation(t: &AggregationType) -> Result<()> {
    let bad = |v: &str| {
        ServiceError::invalid(format!(
            "Value {v} is not valid for aggregation type {}",
            t.name
        ))
    };
    for v in &t.values {
        if v.is_empty() || v.len() > 12 || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(v));
        }
    }
    match t.name.as_str() {
        STATISTICS => {
            if let Some(v) = t.values.iter().find(|v| !STATISTICS_VALUES.contains(&v.as_str())) {
                return Err(bad(v));
            }
        }
        PERCENTILES => {
            if let Some(v) = t.values.iter().find(|v| {
                !v.parse::<f64>()
                    .is_ok_and(|p| (0.0..=100.0).contains(&p))
            }) {
                return Err(bad(v));
            }
        }
        CARDINALITY => {
            if let Some(v) = t.values.iter().find(|v| *v != "cardinality") {
                return Err(bad(v));
            }
        }
        other => {
            return Err(ServiceError::invalid(format!(
                "1 validation error detected: Value '{other}' at 'aggregationType.name' failed to satisfy constraint: Member must satisfy enum value set: [Statistics, Percentiles, Cardinality]"
            )))
        }
    }
    Ok(())
}

/// The values a Statistics metric emits, by name.
pub fn statistics_value(s: &Statistics, name: &str) -> Option<f64> {
    Some(match name {
        "count" => s.count as f64,
        "average" => s.average,
        "sum" => s.sum,
        "minimum" => s.minimum,
        "maximum" => s.maximum,
        "sumOfSquares" => s.sum_of_squares,
        "variance" => s.variance,
        "stdDeviation" => s.std_deviation,
        _ => return None,
    })
}
