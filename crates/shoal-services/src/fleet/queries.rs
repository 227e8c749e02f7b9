//! SearchIndex, GetStatistics, GetPercentiles, GetCardinality and GetBucketsAggregation.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/index-aggregate.html>

use super::FleetIndexing;
use shoal_domain::error::Result;
use shoal_domain::fleet::aggregate::{self, Statistics};
use shoal_domain::fleet::fields::{group_field, thing_field, GROUPS_INDEX};
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::{ErrorKind, Partition, ServiceError};
use shoal_fleetquery::Query;
use shoal_index::SearchError;

pub struct SearchPage {
    /// Each match's stored `ThingDocument` or `ThingGroupDocument` JSON.
    pub documents: Vec<Vec<u8>>,
    pub next_token: Option<String>,
}

/// GetStatistics' answer: every value over numbers, only the count over other fields.
pub enum Stats {
    Numbers(Statistics),
    Count(u64),
}

pub struct Buckets {
    pub total_count: u64,
    pub buckets: Vec<(String, u64)>,
}

fn invalid_query(message: String) -> ServiceError {
    ServiceError::new(ErrorKind::InvalidQuery, message)
}

fn index_error(e: SearchError, query: &str) -> ServiceError {
    match e {
        SearchError::Query(m) => {
            invalid_query(format!("Unable to parse query, {m}, query string: {query}"))
        }
        SearchError::Index(e) => {
            tracing::error!(error = %e, "fleet index");
            ServiceError::internal("An internal error occurred")
        }
    }
}

/// Parses a query string and maps its fields to the names the index holds; an unknown field
/// is refused with AWS's message.
pub(crate) fn prepare(index: &str, text: &str) -> Result<Query> {
    let mut q = shoal_fleetquery::parse(text)
        .map_err(|e| invalid_query(format!("Unable to parse query, {e}, query string: {text}")))?;
    let resolve = if index == GROUPS_INDEX {
        group_field
    } else {
        thing_field
    };
    let mut bad = None;
    q.fields_mut(&mut |f| match resolve(f) {
        Some(c) => *f = c.to_string(),
        None => bad = bad.take().or(Some(f.clone())),
    });
    if let Some(f) = bad {
        return Err(invalid_query(format!(
            "Unable to parse query, invalid field name, field name: {f}, query string: {text}"
        )));
    }
    Ok(q)
}

/// The field an aggregation reads, by the name the index holds it under.
fn aggregation_field(index: &str, field: &str) -> Result<String> {
    let resolved = if index == GROUPS_INDEX {
        group_field(field)
    } else {
        thing_field(field)
    };
    resolved.map(str::to_string).ok_or_else(|| {
        ServiceError::new(
            ErrorKind::InvalidAggregation,
            format!("Invalid aggregation field: {field}"),
        )
    })
}

impl FleetIndexing {
    pub fn search(
        &self,
        part: &Partition,
        index: &str,
        query: &str,
        next_token: Option<&str>,
        max_results: usize,
    ) -> Result<SearchPage> {
        let scope = self.ready_scope(part, index)?;
        let q = prepare(index, query)?;
        let after = next_token.map(decode_token).transpose()?;
        let page = self
            .inner
            .index
            .search(&scope, &q, after.as_deref(), max_results)
            .map_err(|e| index_error(e, query))?;
        Ok(SearchPage {
            documents: page.sources,
            next_token: page.resume_after.as_deref().map(encode_token),
        })
    }

    /// What every aggregation starts from: the index ready, the query parsed, the field known.
    fn aggregation<'a>(
        &'a self,
        part: &Partition,
        index: &str,
        query: &'a str,
        field: &str,
    ) -> Result<Aggregation<'a>> {
        Ok(Aggregation {
            fleet: self,
            scope: self.ready_scope(part, index)?,
            q: prepare(index, query)?,
            field: aggregation_field(index, field)?,
            text: query,
        })
    }

    /// GetStatistics: all eight values over a numeric field; only `count` (of things having
    /// the field) over a string field, as AWS documents.
    pub fn statistics(
        &self,
        part: &Partition,
        index: &str,
        query: &str,
        field: &str,
    ) -> Result<Stats> {
        let a = self.aggregation(part, index, query, field)?;
        if let Some(s) = aggregate::statistics(&a.numbers()?) {
            return Ok(Stats::Numbers(s));
        }
        Ok(Stats::Count(a.values()?.0.values().sum()))
    }

    /// GetPercentiles over a numeric field; `[]` when nothing matches.
    pub fn percentiles(
        &self,
        part: &Partition,
        index: &str,
        query: &str,
        field: &str,
        percents: &[f64],
    ) -> Result<Vec<(f64, f64)>> {
        let a = self.aggregation(part, index, query, field)?;
        let numbers = a.numbers()?;
        if numbers.is_empty() && !a.values()?.0.is_empty() {
            return Err(ServiceError::new(
                ErrorKind::InvalidAggregation,
                format!("Aggregation field {field} must be of type Number"),
            ));
        }
        Ok(aggregate::percentiles(&numbers, percents))
    }

    /// GetCardinality: the number of distinct values (exact).
    pub fn cardinality(
        &self,
        part: &Partition,
        index: &str,
        query: &str,
        field: &str,
    ) -> Result<u64> {
        let a = self.aggregation(part, index, query, field)?;
        Ok(a.values()?.0.len() as u64)
    }

    /// GetBucketsAggregation: the most frequent values, most frequent first.
    pub fn buckets(
        &self,
        part: &Partition,
        index: &str,
        query: &str,
        field: &str,
        max_buckets: usize,
    ) -> Result<Buckets> {
        let (values, matched) = self.aggregation(part, index, query, field)?.values()?;
        let mut buckets: Vec<(String, u64)> = values.into_iter().collect();
        buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        buckets.truncate(max_buckets);
        Ok(Buckets {
            total_count: matched,
            buckets,
        })
    }
}

/// One aggregation request, ready to read the field's values from the index.
struct Aggregation<'a> {
    fleet: &'a FleetIndexing,
    scope: String,
    q: Query,
    field: String,
    text: &'a str,
}

impl Aggregation<'_> {
    /// The field's numbers in the matching documents, ascending, with their counts.
    fn numbers(&self) -> Result<Vec<(f64, u64)>> {
        let index = &self.fleet.inner.index;
        index
            .numbers(&self.scope, &self.q, &self.field)
            .map(|(n, _)| n)
            .map_err(|e| index_error(e, self.text))
    }

    /// The field's whole values with their counts, and how many documents matched.
    fn values(&self) -> Result<(std::collections::HashMap<String, u64>, u64)> {
        let index = &self.fleet.inner.index;
        index
            .values(&self.scope, &self.q, &self.field)
            .map_err(|e| index_error(e, self.text))
    }
}
