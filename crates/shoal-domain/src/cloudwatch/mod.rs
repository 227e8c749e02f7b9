//! CloudWatch's metrics and alarms as Shoal keeps them for the `IoTFleetMetrics` and `AWS/IoT`
//! namespaces: a metric's identity and its checks (`MetricId`), the statistics of a period's
//! samples (`stats.rs`), and metric alarms with their evaluation (`alarm.rs`), all pure.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html>

pub mod alarm;
pub mod stats;
#[cfg(test)]
mod tests;

use crate::error::{ParameterError, Result};
use crate::ServiceError;

/// The namespace of fleet metrics' values.
pub const FLEET_NAMESPACE: &str = "IoTFleetMetrics";
/// The dimension of a fleet metric's value: its aggregation type's value (`count`, `p50`...).
pub const FLEET_DIMENSION: &str = "AggregationType";
/// The namespace of AWS IoT's operational metrics.
pub const IOT_NAMESPACE: &str = "AWS/IoT";
/// A metric may have at most 30 dimensions (API_Metric).
pub const MAX_DIMENSIONS: usize = 30;
/// Data older than this is dropped (CloudWatch keeps one-minute data 15 days).
pub const RETENTION_MS: i64 = 15 * 86_400_000;
/// ListMetrics shows metrics with data in the last two weeks.
pub const LISTED_MS: i64 = 14 * 86_400_000;

/// A metric: namespace, name and dimensions (sorted by name, so one metric has one key).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct MetricId {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

/// The separator of a metric's parts in a key: a control character no name may hold.
const SEP: char = '\u{1}';

impl MetricId {
    /// Checks the parts (API_Metric, API_Dimension) and sorts the dimensions.
    pub fn new(
        namespace: &str,
        name: &str,
        mut dimensions: Vec<(String, String)>,
    ) -> Result<MetricId> {
        check_text("Namespace", namespace, 255)?;
        if namespace.contains(':') {
            return Err(invalid_value(
                "Namespace",
                namespace,
                "must not contain ':'",
            ));
        }
        check_text("MetricName", name, 255)?;
        if dimensions.len() > MAX_DIMENSIONS {
            return Err(ServiceError::limit(format!(
                "The collection Dimensions must not have a size greater than {MAX_DIMENSIONS}."
            )));
        }
        for (n, v) in &dimensions {
            check_text("Dimensions.member.Name", n, 255)?;
            check_text("Dimensions.member.Value", v, 1024)?;
        }
        dimensions.sort();
        if dimensions.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(ServiceError::invalid(
                "No Metric may specify the same dimension name twice.",
            ));
        }
        Ok(MetricId {
            namespace: namespace.to_string(),
            name: name.to_string(),
            dimensions,
        })
    }

    /// The key of the metric: namespace, name and dimensions, so that every metric of a
    /// namespace (and name) is one key range.
    pub fn key(&self) -> String {
        let mut k = String::with_capacity(64);
        k.push_str(&self.namespace);
        k.push(SEP);
        k.push_str(&self.name);
        k.push(SEP);
        for (n, v) in &self.dimensions {
            k.push_str(n);
            k.push('=');
            k.push_str(v);
            k.push(SEP);
        }
        k
    }

    /// The key prefix of a namespace (and a name).
    pub fn prefix(namespace: Option<&str>, name: Option<&str>) -> String {
        let mut k = String::new();
        if let Some(ns) = namespace {
            k.push_str(ns);
            k.push(SEP);
            if let Some(n) = name {
                k.push_str(n);
                k.push(SEP);
            }
        }
        k
    }

    /// Whether the metric has every dimension of `filter` (a name, with a value or any).
    pub fn matches(&self, filter: &[(String, Option<String>)]) -> bool {
        filter.iter().all(|(n, v)| {
            self.dimensions
                .iter()
                .any(|(dn, dv)| dn == n && v.as_ref().is_none_or(|v| v == dv))
        })
    }
}

/// A value's length and characters (CloudWatch's names are 1..=max non-control characters).
fn check_text(member: &str, v: &str, max: usize) -> Result<()> {
    if v.is_empty() {
        return Err(ServiceError::parameter(
            ParameterError::Missing,
            format!("The parameter {member} is required."),
        ));
    }
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid_value(
            member,
            v,
            &format!("must be 1 to {max} printable characters"),
        ));
    }
    Ok(())
}

/// CloudWatch's InvalidParameterValue wording.
pub fn invalid_value(member: &str, value: &str, why: &str) -> ServiceError {
    let shown: String = value.chars().take(64).collect();
    ServiceError::invalid(format!(
        "The parameter {member} with value '{shown}' is not valid: {why}."
    ))
}

/// Longest period Shoal takes: a year (CloudWatch keeps no data longer than 15 months).
const MAX_PERIOD: i64 = 366 * 86_400;

/// A period: 1, 5, 10, 20, 30 (high resolution) or a multiple of 60 seconds, up to a year.
pub fn check_period(member: &str, period: i64) -> Result<()> {
    if matches!(period, 1 | 5 | 10 | 20 | 30)
        || ((60..=MAX_PERIOD).contains(&period) && period % 60 == 0)
    {
        Ok(())
    } else {
        Err(invalid_value(
            member,
            &period.to_string(),
            "the period must be 1, 5, 10, 20, 30, or a multiple of 60 up to a year",
        ))
    }
}

/// `2026-12-07T21:40:05.123+0000`: how CloudWatch writes times inside StateReasonData.
pub fn iso_time(t: crate::Timestamp) -> String {
    let (y, m, d) = crate::clock::civil_from_days(t.0.div_euclid(86_400_000));
    let ms = t.0.rem_euclid(86_400_000);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+0000",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// `07/12/26 21:40:00` (day/month/year): how CloudWatch writes a datapoint's time in a reason.
pub fn reason_time(t: crate::Timestamp) -> String {
    let (y, m, d) = crate::clock::civil_from_days(t.0.div_euclid(86_400_000));
    let ms = t.0.rem_euclid(86_400_000);
    format!(
        "{d:02}/{m:02}/{:02} {:02}:{:02}:{:02}",
        y % 100,
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60
    )
}
