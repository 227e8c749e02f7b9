//! Fleet metrics: Create/Describe/List/Update/DeleteFleetMetric, each evaluated on its period
//! by a timer of the durable scheduler (so tests move the `Clock` instead of waiting, and one
//! node evaluates a metric however many share the store); the last values are a record beside
//! the metric, which `/metrics` exports as Prometheus gauges: Shoal's stand-in for CloudWatch's IoTFleetMetrics
//! namespace, with the aggregation type as a label as CloudWatch has it as a dimension.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-fleet-metrics.html>

use super::queries::{prepare, Stats};
use super::{FleetIndexing, Inner};
use crate::records::{decode, encode, load, store_error, try_commit, RETRIES, SCHEMA};
use crate::registry::Page;
use crate::scheduler::{Due, Scheduler, TimerHandler, TimerId};
use shoal_domain::cloudwatch::stats::Sample;
use shoal_domain::cloudwatch::{MetricId, FLEET_DIMENSION, FLEET_NAMESPACE};
use shoal_domain::error::Result;
use shoal_domain::fleet::fields::THINGS_INDEX;
use shoal_domain::fleet::metric::{
    check_aggregation, check_name, check_period, statistics_value, AggregationType, FleetMetric,
    CARDINALITY, PERCENTILES, STATISTICS,
};
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::thing_group::QUERY_VERSION;
use shoal_domain::{Partition, ServiceError, Timestamp};
use shoal_store::{Batch, BoxFuture, Expect};
use std::fmt::Write;
use std::sync::Weak;

pub(crate) const KIND_METRIC: &str = "fleet-metric";
/// The last values of a metric, keyed by its name.
const KIND_VALUES: &str = "fleet-metric-value";
/// The scheduler's name for the metric timers.
pub(crate) const TIMERS: &str = "fleet-metric";

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

/// A metric's values by aggregation type, as last evaluated.
#[derive(serde::Serialize, serde::Deserialize)]
struct MetricValues {
    at: Timestamp,
    values: Vec<(String, f64)>,
}

fn not_found(name: &str) -> ServiceError {
    ServiceError::not_found(format!("The fleet metric {name} does not exist"))
}

fn timer(name: &str) -> TimerId {
    TimerId::new(TIMERS, name)
}

/// Fires a metric's timer: evaluates it and writes its values (holds the index weakly, so the
/// scheduler does not keep a stopped index alive).
pub(crate) struct MetricTimer(pub(crate) Weak<Inner>);

impl TimerHandler for MetricTimer {
    fn fire<'a>(&'a self, due: &'a Due) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.0.upgrade() {
                Some(inner) => FleetIndexing { inner }.fire_metric(due).await,
                None => Ok(()),
            }
        })
    }
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
        let batch = self.evaluated(part, &m, batch).await?;
        if !try_commit(&*self.inner.store, batch).await? {
            return Err(ServiceError::already_exists(
                format!("The fleet metric {name} already exists"),
                name,
                &part.arn("fleetmetric", name),
            ));
        }
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
            let batch = self.evaluated(part, &m, batch).await?;
            if try_commit(&*self.inner.store, batch).await? {
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
            let batch = Batch::new(part.key())
                .delete(KIND_METRIC, name, Expect::Rev(cur.rev))
                .delete(KIND_VALUES, name, Expect::Any);
            let batch = match self.inner.scheduler.find(part, &timer(name))? {
                Some(t) => Scheduler::clear(batch, &t),
                None => batch,
            };
            if try_commit(&*self.inner.store, batch).await? {
                return Ok(());
            }
        }
        Err(crate::records::contention())
    }

    /// Adds to `batch` a new or changed metric's values now and its timer one period later
    /// (replacing the one it had, conditionally).
    async fn evaluated(&self, part: &Partition, m: &FleetMetric, batch: Batch) -> Result<Batch> {
        let scheduler = &self.inner.scheduler;
        scheduler.track(part).await?;
        let now = self.inner.clock.now();
        let values = self.evaluate(part, m);
        let batch = self.stage_values(batch, &m.name, now, values)?;
        let current = scheduler.find(part, &timer(&m.name))?;
        Scheduler::set(
            batch,
            &timer(&m.name),
            now.plus_millis(m.period * 1000),
            serde_json::Value::Null,
            current.as_ref(),
        )
    }

    /// Adds a metric's values at `now` to `batch`: its last values, and each value as a
    /// datapoint of CloudWatch's IoTFleetMetrics namespace (dimension AggregationType).
    fn stage_values(
        &self,
        mut batch: Batch,
        name: &str,
        now: Timestamp,
        values: Vec<(String, f64)>,
    ) -> Result<Batch> {
        for (agg, v) in &values {
            let metric = MetricId::new(
                FLEET_NAMESPACE,
                name,
                vec![(FLEET_DIMENSION.to_string(), agg.clone())],
            )?;
            batch = crate::cloudwatch::series::stage(
                &*self.inner.store,
                batch,
                &metric,
                now,
                Sample::value(*v),
            )?;
        }
        Ok(batch.put(
            KIND_VALUES,
            name,
            SCHEMA,
            encode(&MetricValues { at: now, values })?,
            Vec::new(),
            Expect::Any,
        ))
    }

    /// A metric's timer: its values now, written under the revision of the definition they were
    /// computed from, and the timer moved one period on (a period missed while the process was
    /// down is skipped, not caught up).
    async fn fire_metric(&self, due: &Due) -> Result<()> {
        let part = &due.part;
        let scheduler = &self.inner.scheduler;
        let Some(cur) =
            load::<FleetMetric>(&*self.inner.store, &part.key(), KIND_METRIC, &due.name)?
        else {
            scheduler.commit(due, Batch::new(part.key()), None).await?;
            return Ok(());
        };
        let (worker, p, def) = (self.clone(), part.clone(), cur.value.clone());
        let values = tokio::task::spawn_blocking(move || worker.evaluate(&p, &def))
            .await
            .unwrap_or_default();
        let now = self.inner.clock.now();
        let period = cur.value.period * 1000;
        let mut next = due.at.plus_millis(period);
        if next <= now {
            next = now.plus_millis(period);
        }
        let batch = Batch::new(part.key()).check(KIND_METRIC, &due.name, Expect::Rev(cur.rev));
        let batch = self.stage_values(batch, &due.name, now, values)?;
        scheduler
            .commit(due, batch, Some((next, serde_json::Value::Null)))
            .await?;
        Ok(())
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
        let mut values = out.unwrap_or_else(|e| {
            tracing::debug!(metric = %m.name, error = %e.message, "fleet metric not evaluated");
            Vec::new()
        });
        // JSON has no NaN or infinity: such a value is not emitted.
        values.retain(|(_, v)| v.is_finite());
        values
    }

    /// Gives a timer to every metric that has none (metrics written before the scheduler
    /// existed), at start.
    pub(crate) async fn schedule_untimed_metrics(&self) -> Result<()> {
        for part in self.partitions() {
            let recs = self
                .inner
                .store
                .list(&part.key(), KIND_METRIC, "", None, usize::MAX >> 1)
                .map_err(store_error)?;
            for r in &recs {
                if self.inner.scheduler.find(&part, &timer(&r.key))?.is_some() {
                    continue;
                }
                let m: FleetMetric = decode(r)?;
                let batch = Batch::new(part.key()).check(KIND_METRIC, &r.key, Expect::Rev(r.rev));
                let batch = self.evaluated(&part, &m, batch).await?;
                try_commit(&*self.inner.store, batch).await?;
            }
        }
        Ok(())
    }

    /// The partitions that have an indexing configuration.
    fn partitions(&self) -> Vec<Partition> {
        let mut keys: Vec<String> = self
            .inner
            .configs
            .lock()
            .expect("configs")
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys.iter().filter_map(|k| Partition::from_key(k)).collect()
    }

    /// The last value of fleet metrics, in Prometheus' text format: those of one partition, or
    /// of all (`None`, for the operator's scrape token).
    pub fn prometheus(&self, only: Option<&shoal_domain::Partition>) -> String {
        let mut out = String::from(
            "# HELP iot_fleet_metric AWS IoT fleet metrics (CloudWatch namespace IoTFleetMetrics): the last value of each metric's aggregation.\n# TYPE iot_fleet_metric gauge\n",
        );
        let parts = match only {
            Some(p) => vec![p.clone()],
            None => self.partitions(),
        };
        for part in parts {
            let recs = self
                .inner
                .store
                .list(&part.key(), KIND_VALUES, "", None, usize::MAX >> 1)
                .unwrap_or_default();
            let (account, region) = (&part.account, &part.region);
            for r in &recs {
                let Ok(v) = decode::<MetricValues>(r) else {
                    continue;
                };
                let name = &r.key;
                for (agg, v) in &v.values {
                    let _ = writeln!(
                        out,
                        "iot_fleet_metric{{account=\"{account}\",region=\"{region}\",metric_name=\"{name}\",aggregation_type=\"{agg}\"}} {v}"
                    );
                }
            }
        }
        out
    }
}
