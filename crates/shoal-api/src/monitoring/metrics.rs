//! ListMetrics, GetMetricStatistics and GetMetricData over the series Shoal keeps. Datapoints
//! are grouped into periods aligned to the epoch, as CloudWatch aligns them; metric math is
//! not supported (refused by name).

use super::{dimensions, metric_dimensions, required, secs, time, Dimension};
use crate::api::Call;
use crate::error::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_domain::cloudwatch::stats::{Sample, Stat};
use shoal_domain::cloudwatch::{check_period, invalid_value, MetricId};
use shoal_domain::{ParameterError, ServiceError, Timestamp};

/// Datapoints GetMetricStatistics answers at most.
const MAX_STATISTICS_POINTS: i64 = 1_440;
/// GetMetricData's default and largest MaxDatapoints.
const MAX_DATA_POINTS: usize = 100_800;
/// Queries in one GetMetricData.
const MAX_QUERIES: usize = 500;
/// ListMetrics' page.
const LIST_PAGE: usize = 500;

const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A unit must be one of CloudWatch's (StandardUnit).
pub(super) fn check_unit(unit: Option<&str>) -> Result<(), ServiceError> {
    match unit {
        Some(u) if !UNITS.contains(&u) => Err(invalid_value("Unit", u, "not a CloudWatch unit")),
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListIn {
    namespace: Option<String>,
    metric_name: Option<String>,
    dimensions: Option<Vec<Dimension>>,
    next_token: Option<String>,
    recently_active: Option<String>,
}

pub(super) fn list(call: &Call<'_>, i: ListIn) -> Result<Value, ApiError> {
    let filter: Vec<(String, Option<String>)> = i
        .dimensions
        .unwrap_or_default()
        .into_iter()
        .map(|d| Ok((required(d.name, "Dimensions.member.Name")?, d.value)))
        .collect::<Result<_, ServiceError>>()?;
    if filter.len() > 10 {
        return Err(ServiceError::limit(
            "The collection Dimensions must not have a size greater than 10.",
        )
        .into());
    }
    let recent = match i.recently_active.as_deref() {
        None => None,
        Some("PT3H") => Some(3 * 3_600_000),
        Some(other) => return Err(invalid_value("RecentlyActive", other, "must be PT3H").into()),
    };
    let after = match &i.next_token {
        Some(t) => Some(shoal_domain::page::decode_token(t).map_err(|_| {
            ServiceError::parameter(ParameterError::NextToken, "The NextToken is not valid.")
        })?),
        None => None,
    };
    let (metrics, next) = call.state.cloudwatch.list_metrics(
        call.part,
        i.namespace.as_deref(),
        i.metric_name.as_deref(),
        &filter,
        after.as_deref(),
        LIST_PAGE,
        recent,
    )?;
    let mut out = json!({
        "Metrics": metrics.iter().map(|m| json!({
            "Namespace": m.namespace,
            "MetricName": m.name,
            "Dimensions": dimensions(&m.dimensions),
        })).collect::<Vec<_>>(),
    });
    if let Some(n) = next {
        out["NextToken"] = shoal_domain::page::encode_token(&n).into();
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StatisticsIn {
    namespace: Option<String>,
    metric_name: Option<String>,
    dimensions: Option<Vec<Dimension>>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    period: Option<i64>,
    statistics: Option<Vec<String>>,
    extended_statistics: Option<Vec<String>>,
    unit: Option<String>,
}

/// The time range's checks: start before end, and at most `max` periods when given.
fn range(
    start: Option<f64>,
    end: Option<f64>,
    period: i64,
    max: Option<i64>,
) -> Result<(Timestamp, Timestamp), ServiceError> {
    let start = time(required(start, "StartTime")?);
    let end = time(required(end, "EndTime")?);
    if start >= end {
        return Err(ServiceError::invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let p = period * 1000;
    let first = Timestamp(start.0.div_euclid(p) * p);
    if let Some(max) = max {
        // Times come from any number a client sends: no arithmetic here may overflow.
        let n = end.0.saturating_sub(first.0).saturating_add(p - 1) / p;
        if n > max {
            return Err(ServiceError::parameter(
                ParameterError::Combination,
                format!("You have requested up to {n} datapoints, which exceeds the limit of {max}. You may reduce the datapoints requested by increasing Period, or decreasing the time range."),
            ));
        }
    }
    Ok((first, end))
}

/// The datapoints of a metric grouped by aligned period: (period start, samples), oldest first.
fn buckets(
    call: &Call<'_>,
    metric: &MetricId,
    from: Timestamp,
    to: Timestamp,
    period: i64,
) -> Result<Vec<(Timestamp, Vec<Sample>)>, ServiceError> {
    let points = call
        .state
        .cloudwatch
        .datapoints(call.part, metric, from, to)?;
    let p = period * 1000;
    let mut out: Vec<(Timestamp, Vec<Sample>)> = Vec::new();
    for (t, s) in points {
        let start = Timestamp(t.0.div_euclid(p) * p);
        match out.last_mut() {
            Some((b, v)) if *b == start => v.push(s),
            _ => out.push((start, vec![s])),
        }
    }
    Ok(out)
}

pub(super) fn statistics(call: &Call<'_>, i: StatisticsIn) -> Result<Value, ApiError> {
    let metric = MetricId::new(
        &required(i.namespace, "Namespace")?,
        &required(i.metric_name, "MetricName")?,
        metric_dimensions(i.dimensions)?,
    )?;
    let period = required(i.period, "Period")?;
    check_period("Period", period)?;
    check_unit(i.unit.as_deref())?;
    let simple = i.statistics.unwrap_or_default();
    let extended = i.extended_statistics.unwrap_or_default();
    if simple.is_empty() && extended.is_empty() {
        return Err(ServiceError::parameter(
            ParameterError::Missing,
            "Must specify either Statistics or ExtendedStatistics.",
        )
        .into());
    }
    if simple.len() > 5 || extended.len() > 10 {
        return Err(ServiceError::parameter(
            ParameterError::Combination,
            "At most 5 Statistics and 10 ExtendedStatistics may be asked for.",
        )
        .into());
    }
    let simple: Vec<(String, Stat)> = simple
        .into_iter()
        .map(|s| {
            let st = Stat::parse("Statistics.member", &s)?;
            if st.is_extended() {
                return Err(invalid_value(
                    "Statistics.member",
                    &s,
                    "use ExtendedStatistics for percentiles",
                ));
            }
            Ok((s, st))
        })
        .collect::<Result<_, ServiceError>>()?;
    let extended: Vec<(String, Stat)> = extended
        .into_iter()
        .map(|s| {
            let st = Stat::parse("ExtendedStatistics.member", &s)?;
            if !st.is_extended() {
                return Err(invalid_value(
                    "ExtendedStatistics.member",
                    &s,
                    "must be a percentile pNN",
                ));
            }
            Ok((s, st))
        })
        .collect::<Result<_, ServiceError>>()?;
    let (from, to) = range(
        i.start_time,
        i.end_time,
        period,
        Some(MAX_STATISTICS_POINTS),
    )?;
    let unit = i.unit.unwrap_or_else(|| "None".into());
    let datapoints: Vec<Value> = buckets(call, &metric, from, to, period)?
        .into_iter()
        .map(|(t, samples)| {
            let mut d = json!({ "Timestamp": secs(t), "Unit": unit });
            for (name, st) in &simple {
                d[name.as_str()] = st.of(&samples).unwrap_or(0.0).into();
            }
            if !extended.is_empty() {
                let mut e = serde_json::Map::new();
                for (name, st) in &extended {
                    e.insert(name.clone(), st.of(&samples).unwrap_or(0.0).into());
                }
                d["ExtendedStatistics"] = Value::Object(e);
            }
            d
        })
        .collect();
    Ok(json!({ "Label": metric.name, "Datapoints": datapoints }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricIn {
    namespace: Option<String>,
    metric_name: Option<String>,
    dimensions: Option<Vec<Dimension>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricStatIn {
    metric: Option<MetricIn>,
    period: Option<i64>,
    stat: Option<String>,
    unit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueryIn {
    id: Option<String>,
    metric_stat: Option<MetricStatIn>,
    expression: Option<String>,
    label: Option<String>,
    return_data: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DataIn {
    metric_data_queries: Option<Vec<QueryIn>>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    next_token: Option<String>,
    scan_by: Option<String>,
    max_datapoints: Option<i64>,
}

/// A query id: a lower-case letter, then letters, digits and underscores (API_MetricDataQuery).
fn check_id(id: &str) -> Result<(), ServiceError> {
    let mut chars = id.chars();
    let ok = id.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid_value(
            "MetricDataQueries.member.Id",
            id,
            "must start with a lowercase letter and hold only letters, numbers and underscores",
        ))
    }
}

pub(super) fn data(call: &Call<'_>, i: DataIn) -> Result<Value, ApiError> {
    let queries = required(i.metric_data_queries, "MetricDataQueries")?;
    if queries.is_empty() || queries.len() > MAX_QUERIES {
        return Err(ServiceError::parameter(
            ParameterError::Combination,
            format!("MetricDataQueries must hold 1 to {MAX_QUERIES} queries."),
        )
        .into());
    }
    let descending = match i.scan_by.as_deref() {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(invalid_value(
                "ScanBy",
                other,
                "must be TimestampDescending or TimestampAscending",
            )
            .into())
        }
    };
    let max = match i.max_datapoints {
        None => MAX_DATA_POINTS,
        Some(n) if n >= 1 => (n as usize).min(MAX_DATA_POINTS),
        Some(n) => {
            return Err(invalid_value("MaxDatapoints", &n.to_string(), "must be at least 1").into())
        }
    };
    let offset = match &i.next_token {
        None => 0,
        Some(t) => shoal_domain::page::decode_token(t)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| {
                ServiceError::parameter(ParameterError::NextToken, "The NextToken is not valid.")
            })?,
    };
    // Every query is checked before any is run.
    let mut plans = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for q in queries {
        let id = required(q.id, "MetricDataQueries.member.Id")?;
        check_id(&id)?;
        if !ids.insert(id.clone()) {
            return Err(
                invalid_value("MetricDataQueries.member.Id", &id, "the Id is used twice").into(),
            );
        }
        if q.expression.is_some() {
            return Err(ServiceError::invalid(format!(
                "The query {id} has an Expression: Shoal does not support metric math (use MetricStat)."
            ))
            .into());
        }
        let ms = q.metric_stat.ok_or_else(|| {
            ServiceError::parameter(
                ParameterError::Missing,
                format!("The query {id} must have a MetricStat."),
            )
        })?;
        let m = required(ms.metric, "MetricStat.Metric")?;
        let metric = MetricId::new(
            &required(m.namespace, "Metric.Namespace")?,
            &required(m.metric_name, "Metric.MetricName")?,
            metric_dimensions(m.dimensions)?,
        )?;
        let period = required(ms.period, "MetricStat.Period")?;
        check_period("MetricStat.Period", period)?;
        check_unit(ms.unit.as_deref())?;
        let stat = Stat::parse("MetricStat.Stat", &required(ms.stat, "MetricStat.Stat")?)?;
        let label = q.label.unwrap_or_else(|| metric.name.clone());
        plans.push((
            id,
            metric,
            period,
            stat,
            label,
            q.return_data.unwrap_or(true),
        ));
    }
    let returned = plans.iter().filter(|p| p.5).count().max(1);
    let per_query = (max / returned).max(1);
    let mut more = false;
    let mut results = Vec::new();
    for (id, metric, period, stat, label, return_data) in &plans {
        if !return_data {
            continue;
        }
        let (from, to) = range(i.start_time, i.end_time, *period, None)?;
        let mut points: Vec<(Timestamp, f64)> = buckets(call, metric, from, to, *period)?
            .into_iter()
            .filter_map(|(t, s)| stat.of(&s).map(|v| (t, v)))
            .collect();
        if descending {
            points.reverse();
        }
        let page: Vec<&(Timestamp, f64)> = points.iter().skip(offset).take(per_query).collect();
        let partial = offset + page.len() < points.len();
        more |= partial;
        results.push(json!({
            "Id": id,
            "Label": label,
            "Timestamps": page.iter().map(|(t, _)| secs(*t)).collect::<Vec<_>>(),
            "Values": page.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            "StatusCode": if partial { "PartialData" } else { "Complete" },
        }));
    }
    let mut out = json!({ "MetricDataResults": results, "Messages": [] });
    if more {
        out["NextToken"] =
            shoal_domain::page::encode_token(&(offset + per_query).to_string()).into();
    }
    Ok(out)
}
