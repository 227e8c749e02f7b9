//! Fleet metrics: Create/Describe/List/Update/DeleteFleetMetric, each evaluated on its period
//! (by the `Clock`, so tests advance time instead of waiting) and kept as the last values, which
//! `/metrics` exports as Prometheus gauges: Shoal's stand-in for CloudWatch's IoTFleetMetrics
//! namespace, with the aggregation type as a label as CloudWatch has it as a dimension.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-fleet-metrics.html>

use super::queries::{prepare, Stats};
use super::FleetIndexing;
use crate::records::{decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use crate::registry::Page;
use shoal_domain::error::Result;
use shoal_domain::fleet::fields::THINGS_INDEX;
use shoal_domain::fleet::metric::{
    check_aggregation, check_name, check_period, statistics_value, AggregationType, FleetMetric,
    CARDINALITY, PERCENTILES, STATISTICS,
};
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::thing_group::QUERY_VERSION;
use shoal_domain::{AccountId, Partition, Region, ServiceError};
use shoal_store::{Batch, Expect};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

pub(crate) const KIND_METRIC: &str = "fleet-metric";

/// What Create/UpdateFleetMetric may set; `None` keeps the current value on update.
#[derive(Default)]
pub struct MetricInput {
    pub query_string: Option<String>,
    pub aggregation_type: Option<AggregationType>,
    pub period: Option<i64>,
    pub aggregation_field: Option<String>,
    pub description: Option<String>,
    pub query_version: Option<String>,
    pub index_name: Option<String>,
    pub unit: Option<String>,
    pub tags: Vec<(String, String)>,
    pub expected_version: Option<i64>,
}

/// A metric, when it is next due, and its last values by aggregation type.
pub(crate) struct MetricState {
    def: FleetMetric,
    due_ms: i64,
    values: Vec<(String, f64)>,
}

pub(crate) type Metrics = BTreeMap<(String, String), MetricState>;

fn not_found(name: &str) -> ServiceError {
    ServiceError::not_found(format!("The fleet metric {name} does not exist"))
}

fn partition_of(key: &str) -> Option<Partition> {
    let (a, r) = key.split_once('/')?;
    Some(Partition::new(
        AccountId::parse(a).ok()?,
        Region::parse(r).ok()?,
    ))
}

impl FleetIndexing {
    /// The metric's query and field must be valid, on an index that is on.
    fn check_metric(&self, part: &Partition, m: &FleetMetric) -> Result<()> {
        check_period(m.period)?;
        check_aggregation(&m.aggregation_type)?;
        self.ready_scope(part, &m.index_name)?;
        prepare(&m.index_name, &m.query_string)?;
        Ok(())
    }

    pub async fn create_metric(
        &self,
        part: &Partition,
        name: &str,
        input: MetricInput,
    ) -> Result<FleetMetric> {
        check_name(name)?;
        let required = |v: Option<String>, member: &str| {
            v.filter(|s| !s.is_empty())
                .ok_or_else(|| ServiceError::invalid(format!("{member} is required")))
        };
        let now = self.inner.clock.now();
        let mut tags = shoal_domain::tags::Tags::default();
        tags.merge(&input.tags)?;
        let m = FleetMetric {
            name: name.to_string(),
            query_string: required(input.query_string, "queryString")?,
            aggregation_type: input
                .aggregation_type
                .ok_or_else(|| ServiceError::invalid("aggregationType is required"))?,
            period: input
                .period
                .ok_or_else(|| ServiceError::invalid("period is required"))?,
            aggregation_field: required(input.aggregation_field, "aggregationField")?,
            description: input.description,
            query_version: input.query_version.unwrap_or_else(|| QUERY_VERSION.into()),
            index_name: input.index_name.unwrap_or_else(|| THINGS_INDEX.into()),
            unit: input.unit,
            version: 1,
            creation_date: now,
            last_modified_date: now,
            tags,
        };
        self.check_metric(part, &m)?;
        let batch = Batch::new(part.key()).put(
            KIND_METRIC,
            name,
            SCHEMA,
            encode(&m)?,
            Vec::new(),
            Expect::Absent,
        );
        if !try_commit(&*self.inner.store, batch).await? {
            return Err(ServiceError::already_exists(
                format!("The fleet metric {name} already exists"),
                name,
                &part.arn("fleetmetric", name),
            ));
        }
        self.schedule(part, m.clone());
        Ok(m)
    }

    pub fn describe_metric(&self, part: &Partition, name: &str) -> Result<FleetMetric> {
        load::<FleetMetric>(&*self.inner.store, &part.key(), KIND_METRIC, name)?
            .map(|l| l.value)
            .ok_or_else(|| not_found(name))
    }

    pub fn list_metrics(
        &self,
        part: &Partition,
        token: Option<&str>,
        max: usize,
    ) -> Result<Page<String>> {
        let after = token.map(decode_token).transpose()?;
        let recs = self
            .inner
            .store
            .list(&part.key(), KIND_METRIC, "", after.as_deref(), max + 1)
            .map_err(store_error)?;
        let more = recs.len() > max;
        let items: Vec<String> = recs.into_iter().take(max).map(|r| r.key).collect();
        let next_token = if more {
            items.last().map(|l| encode_token(l))
        } else {
            None
        };
        Ok(Page { items, next_token })
    }

    pub async fn update_metric(
        &self,
        part: &Partition,
        name: &str,
        input: MetricInput,
    ) -> Result<()> {
        for _ in 0..RETRIES {
            let cur = load::<FleetMetric>(&*self.inner.store, &part.key(), KIND_METRIC, name)?
                .ok_or_else(|| not_found(name))?;
            if input
                .expected_version
                .is_some_and(|v| v != cur.value.version)
            {
                return Err(ServiceError::version_conflict(format!(
                    "The version for fleet metric {name} does not match the expected version."
                )));
            }
            let mut m = cur.value.clone();
            let set = |slot: &mut String, v: &Option<String>| {
                if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                    slot.clone_from(v);
                }
            };
            set(&mut m.query_string, &input.query_string);
            set(&mut m.aggregation_field, &input.aggregation_field);
            set(&mut m.query_version, &input.query_version);
            set(&mut m.index_name, &input.index_name);
            if let Some(t) = &input.aggregation_type {
                m.aggregation_type = t.clone();
            }
            if let Some(p) = input.period {
                m.period = p;
            }
            if input.description.is_some() {
                m.description.clone_from(&input.description);
            }
            if input.unit.is_some() {
                m.unit.clone_from(&input.unit);
            }
            m.version += 1;
            m.last_modified_date = self.inner.clock.now();
            self.check_metric(part, &m)?;
            let batch = Batch::new(part.key()).put(
                KIND_METRIC,
                name,
                SCHEMA,
                encode(&m)?,
                Vec::new(),
                Expect::Rev(cur.rev),
            );
            if try_commit(&*self.inner.store, batch).await? {
                self.schedule(part, m);
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// DeleteFleetMetric succeeds for a metric that does not exist, as AWS documents.
    pub async fn delete_metric(
        &self,
        part: &Partition,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<()> {
        check_name(name)?;
        for _ in 0..RETRIES {
            let Some(cur) =
                load::<FleetMetric>(&*self.inner.store, &part.key(), KIND_METRIC, name)?
            else {
                return Ok(());
            };
            if expected_version.is_some_and(|v| v != cur.value.version) {
                return Err(ServiceError::version_conflict(format!(
                    "The version for fleet metric {name} does not match the expected version."
                )));
            }
            let batch = Batch::new(part.key()).delete(KIND_METRIC, name, Expect::Rev(cur.rev));
            if try_commit(&*self.inner.store, batch).await? {
                self.inner
                    .metrics
                    .lock()
                    .expect("metrics")
                    .remove(&(part.key(), name.to_string()));
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// Evaluates a new or changed metric now, then every period.
    fn schedule(&self, part: &Partition, def: FleetMetric) {
        let values = self.evaluate(part, &def);
        let due_ms = self.inner.clock.now().0 + def.period * 1000;
        self.inner.metrics.lock().expect("metrics").insert(
            (part.key(), def.name.clone()),
            MetricState {
                def,
                due_ms,
                values,
            },
        );
    }

    /// The metric's values now; an index that is off or not ready gives none.
    fn evaluate(&self, part: &Partition, m: &FleetMetric) -> Vec<(String, f64)> {
        let field = &m.aggregation_field;
        let (q, index) = (&m.query_string, &m.index_name);
        let values = &m.aggregation_type.values;
        let out: Result<Vec<(String, f64)>> = (|| {
            Ok(match m.aggregation_type.name.as_str() {
                STATISTICS => match self.statistics(part, index, q, field)? {
                    Stats::Numbers(s) => values
                        .iter()
                        .filter_map(|v| statistics_value(&s, v).map(|x| (v.clone(), x)))
                        .collect(),
                    // No values: a count of 0 (or of things with a non-numeric value) is still
                    // emitted, other statistics are not (AWS's fleet-metrics troubleshooting).
                    Stats::Count(n) => values
                        .iter()
                        .filter(|v| *v == "count")
                        .map(|v| (v.clone(), n as f64))
                        .collect(),
                },
                PERCENTILES => {
                    let percents: Vec<f64> = values.iter().filter_map(|v| v.parse().ok()).collect();
                    self.percentiles(part, index, q, field, &percents)?
                        .into_iter()
                        .zip(values)
                        .map(|((_, x), v)| (v.clone(), x))
                        .collect()
                }
                CARDINALITY => vec![(
                    "cardinality".to_string(),
                    self.cardinality(part, index, q, field)? as f64,
                )],
                _ => Vec::new(),
            })
        })();
        out.unwrap_or_else(|e| {
            tracing::debug!(metric = %m.name, error = %e.message, "fleet metric not evaluated");
            Vec::new()
        })
    }

    /// Loads every metric of the partitions that have an index (at start).
    pub(crate) fn load_metrics(&self) -> Result<()> {
        let parts: Vec<String> = self
            .inner
            .configs
            .lock()
            .expect("configs")
            .keys()
            .cloned()
            .collect();
        for key in parts {
            let Some(part) = partition_of(&key) else {
                continue;
            };
            let recs = self
                .inner
                .store
                .list(&key, KIND_METRIC, "", None, usize::MAX >> 1)
                .map_err(store_error)?;
            for r in &recs {
                self.schedule(&part, decode(r)?);
            }
        }
        Ok(())
    }

    /// Evaluates the metrics that are due, once a second, for as long as the process runs.
    pub(crate) fn spawn_metric_timer(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let mut stop = self.inner.stop.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                let now = me.inner.clock.now().0;
                let due: Vec<(String, FleetMetric)> = me
                    .inner
                    .metrics
                    .lock()
                    .expect("metrics")
                    .iter()
                    .filter(|(_, s)| s.due_ms <= now)
                    .map(|((p, _), s)| (p.clone(), s.def.clone()))
                    .collect();
                for (key, def) in due {
                    let Some(part) = partition_of(&key) else {
                        continue;
                    };
                    let worker = me.clone();
                    let eval_def = def.clone();
                    let values =
                        tokio::task::spawn_blocking(move || worker.evaluate(&part, &eval_def))
                            .await
                            .unwrap_or_default();
                    if let Some(s) = me
                        .inner
                        .metrics
                        .lock()
                        .expect("metrics")
                        .get_mut(&(key, def.name.clone()))
                    {
                        if s.def.version == def.version {
                            s.values = values;
                            s.due_ms = now + def.period * 1000;
                        }
                    }
                }
            }
        })
    }

    /// The last value of fleet metrics, in Prometheus' text format: those of one partition, or
    /// of all (`None`, for the operator's scrape token).
    pub fn prometheus(&self, only: Option<&shoal_domain::Partition>) -> String {
        let mut out = String::from(
            "# HELP iot_fleet_metric AWS IoT fleet metrics (CloudWatch namespace IoTFleetMetrics): the last value of each metric's aggregation.\n# TYPE iot_fleet_metric gauge\n",
        );
        let only = only.map(|p| p.key());
        for ((part, name), s) in self.inner.metrics.lock().expect("metrics").iter() {
            if only.as_ref().is_some_and(|o| o != part) {
                continue;
            }
            let (account, region) = part.split_once('/').unwrap_or((part, ""));
            for (agg, v) in &s.values {
                let _ = writeln!(
                    out,
                    "iot_fleet_metric{{account=\"{account}\",region=\"{region}\",metric_name=\"{name}\",aggregation_type=\"{agg}\"}} {v}"
                );
            }
        }
        out
    }
}
