//! The fleet overview: for a fleet-index query and a field, the things matching and connected,
//! and the aggregations AWS IoT offers over the field (GetStatistics, GetPercentiles,
//! GetCardinality, GetBucketsAggregation, asked as `shoal-api`'s indexing operations ask
//! them); the account's fleet metrics over the last three hours; and the one-click "connected
//! devices dropped" alarm.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/index-aggregate.html>

use super::{notice_of, Page};
use crate::html::{self, esc};
use crate::{respond, Ctx};
use http::Method;
use shoal_domain::cloudwatch::stats::Stat;
use shoal_domain::cloudwatch::{MetricId, FLEET_DIMENSION, FLEET_NAMESPACE};
use shoal_domain::fleet::aggregate::Statistics;
use shoal_domain::fleet::config::IndexingConfig;
use shoal_domain::fleet::fields::THINGS_INDEX;
use shoal_domain::fleet::metric::CARDINALITY;
use shoal_domain::ServiceError;
use shoal_services::fleet::Stats;
use std::fmt::Write;

/// Fleet metrics per page.
const PAGE: usize = 50;
/// GetPercentiles' default percents (API_GetPercentiles).
const PERCENTS: [f64; 7] = [1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0];
/// Buckets shown: GetBucketsAggregation's default `maxBuckets`.
const BUCKETS: usize = 10;
/// GetStatistics' default field, a number every thing has (API_GetStatistics).
const DEFAULT_FIELD: &str = "registry.version";
const CONNECTED: &str = "connectivity.connected:true";

/// How to turn thing indexing (with connectivity) on
/// (https://docs.aws.amazon.com/iot/latest/developerguide/managing-index.html).
pub(crate) const ENABLE_COMMAND: &str = "aws iot update-indexing-configuration --thing-indexing-configuration thingIndexingMode=REGISTRY,thingConnectivityIndexingMode=STATUS";
const ENABLE_DOC: &str =
    "https://docs.aws.amazon.com/iot/latest/developerguide/managing-index.html";

/// Fields offered as suggestions (any indexed field may be typed).
const FIELDS: [&str; 7] = [
    "registry.version",
    "thingName",
    "thingTypeName",
    "thingGroupNames",
    "connectivity.connected",
    "connectivity.disconnectReason",
    "shadow.version",
];

pub async fn handle(ctx: &Ctx<'_>, method: &Method, sub: &str) -> Page {
    match (method, sub) {
        (&Method::GET, "") => overview(ctx),
        _ => respond::not_found(),
    }
}

/// The things matching `query`: GetStatistics' count over `registry.version`, which every
/// thing has.
pub(crate) fn count(ctx: &Ctx<'_>, query: &str) -> Result<u64, ServiceError> {
    Ok(
        match ctx
            .deps
            .fleet
            .statistics(&ctx.part, THINGS_INDEX, query, DEFAULT_FIELD)?
        {
            Stats::Numbers(s) => s.count,
            Stats::Count(n) => n,
        },
    )
}

fn overview(ctx: &Ctx<'_>) -> Page {
    let q = ctx.query.opt("q").unwrap_or("*");
    let field = ctx.query.opt("field").unwrap_or(DEFAULT_FIELD);
    let mut body = notice_of(ctx);
    body.push_str(&query_form(q, field));
    let cfg = ctx.deps.fleet.config(&ctx.part);
    if cfg.things_on() {
        body.push_str(&fleet_now(ctx, &cfg, q, field));
    } else {
        body.push_str(&indexing_off());
    }
    body.push_str(&fleet_metrics(ctx, q, field));
    body.push_str("<h2>Alert when connected devices drop</h2>");
    body.push_str(&super::alarms::connected_drop_form(ctx));
    ctx.page("Fleet overview", "overview", &body)
}

fn query_form(q: &str, field: &str) -> String {
    let fields: String = FIELDS
        .iter()
        .map(|f| format!("<option value=\"{f}\">"))
        .collect();
    format!(
        "<form method=\"get\" action=\"/console/overview\" class=\"box\" id=\"overview-query\">\
         <label>Query <input type=\"text\" name=\"q\" value=\"{}\"></label>\
         <label>Field <input type=\"text\" name=\"field\" value=\"{}\" list=\"overview-fields\"></label>\
         <datalist id=\"overview-fields\">{fields}</datalist>\
         <button type=\"submit\">Aggregate</button></form>",
        esc(q),
        esc(field)
    )
}

/// No index, no aggregation: say so and how to turn it on, rather than fail.
fn indexing_off() -> String {
    format!(
        "<p class=\"notice error\" id=\"indexing-off\">Fleet indexing is off, so there is nothing to count or aggregate. \
         Turn it on with <code>{}</code> (<a href=\"{ENABLE_DOC}\">how to manage fleet indexing</a>).</p>",
        esc(ENABLE_COMMAND)
    )
}

/// The cards and aggregations for the query; an invalid query or field is one notice.
fn fleet_now(ctx: &Ctx<'_>, cfg: &IndexingConfig, q: &str, field: &str) -> String {
    let matching = match count(ctx, q) {
        Ok(n) => n,
        Err(e) => return html::notice("error", &e.message),
    };
    let mut h = format!(
        "<div class=\"cards\"><div class=\"card\">Things matching<b id=\"count\">{matching}</b></div>{}",
        connected_card(ctx, cfg, q)
    );
    let fleet = &ctx.deps.fleet;
    let cardinality = fleet.cardinality(&ctx.part, THINGS_INDEX, q, field);
    if let Ok(n) = &cardinality {
        let _ = write!(
            h,
            "<div class=\"card\">Distinct values of {}<b id=\"cardinality\">{n}</b></div>",
            esc(field)
        );
    }
    h.push_str("</div>");
    match fleet.statistics(&ctx.part, THINGS_INDEX, q, field) {
        Ok(Stats::Numbers(s)) => {
            h.push_str(&statistics_table(field, &s));
            h.push_str(&percentiles(ctx, q, field));
        }
        Ok(Stats::Count(n)) => {
            let _ = write!(
                h,
                "<h2>Statistics of {}</h2><table id=\"statistics\"><tbody><tr><th>count</th><td>{n}</td></tr></tbody></table>\
                 <p id=\"percentiles\" class=\"empty\">{} holds no numbers: only its count, cardinality and buckets.</p>",
                esc(field),
                esc(field)
            );
        }
        Err(e) => return h + &html::notice("error", &e.message),
    }
    h.push_str(&buckets(ctx, q, field));
    h
}

/// Connected things among those matching (the whole fleet for `*`), when connectivity is
/// indexed.
fn connected_card(ctx: &Ctx<'_>, cfg: &IndexingConfig, q: &str) -> String {
    if !cfg.connectivity {
        return "<div class=\"card\">Connected<b id=\"connected\">—</b>connectivity is not indexed</div>"
            .into();
    }
    let query = if q.trim() == "*" {
        CONNECTED.to_string()
    } else {
        format!("({q}) AND {CONNECTED}")
    };
    match count(ctx, &query) {
        Ok(n) => format!("<div class=\"card\">Connected<b id=\"connected\">{n}</b></div>"),
        Err(e) => html::notice("error", &e.message),
    }
}

fn statistics_table(field: &str, s: &Statistics) -> String {
    let rows = [
        ("count", s.count as f64),
        ("average", s.average),
        ("sum", s.sum),
        ("minimum", s.minimum),
        ("maximum", s.maximum),
        ("sumOfSquares", s.sum_of_squares),
        ("variance", s.variance),
        ("stdDeviation", s.std_deviation),
    ];
    let mut h = format!(
        "<h2>Statistics of {}</h2><table id=\"statistics\"><tbody>",
        esc(field)
    );
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    h.push_str("</tbody></table>");
    h
}

fn percentiles(ctx: &Ctx<'_>, q: &str, field: &str) -> String {
    let got = ctx
        .deps
        .fleet
        .percentiles(&ctx.part, THINGS_INDEX, q, field, &PERCENTS);
    match got {
        Ok(list) => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|(p, v)| vec![format!("p{p}"), v.to_string()])
                .collect();
            format!(
                "<h2>Percentiles</h2>{}",
                html::table("percentiles", &["Percent", "Value"], &rows)
            )
        }
        Err(e) => html::notice("error", &e.message),
    }
}

/// The ten most frequent values, as bars.
fn buckets(ctx: &Ctx<'_>, q: &str, field: &str) -> String {
    match ctx
        .deps
        .fleet
        .buckets(&ctx.part, THINGS_INDEX, q, field, BUCKETS)
    {
        Ok(b) => {
            let bars: Vec<(String, f64)> =
                b.buckets.into_iter().map(|(k, n)| (k, n as f64)).collect();
            format!(
                "<h2>Most frequent values of {}</h2>{}",
                esc(field),
                html::bar_chart("buckets", &bars)
            )
        }
        Err(e) => html::notice("error", &e.message),
    }
}

/// The account's fleet metrics (ListFleetMetrics, 50 a page), each a chart of its first
/// aggregation value over the last three hours, from CloudWatch's IoTFleetMetrics namespace.
fn fleet_metrics(ctx: &Ctx<'_>, q: &str, field: &str) -> String {
    let mut h = String::from("<section id=\"fleet-metrics\"><h2>Fleet metrics</h2>");
    let page = match ctx
        .deps
        .fleet
        .list_metrics(&ctx.part, ctx.query.opt("next"), PAGE)
    {
        Ok(p) => p,
        Err(e) => return h + &html::notice("error", &e.message) + "</section>",
    };
    if page.items.is_empty() {
        h.push_str("<p class=\"empty\">No fleet metrics yet.</p>");
    }
    for (i, name) in page.items.iter().enumerate() {
        h.push_str(&fleet_metric(ctx, i, name));
    }
    h.push_str(&html::pager(
        "/console/overview",
        &[("q", q), ("field", field)],
        page.next_token.as_deref(),
    ));
    h.push_str("</section>");
    h
}

fn fleet_metric(ctx: &Ctx<'_>, i: usize, name: &str) -> String {
    let m = match ctx.deps.fleet.describe_metric(&ctx.part, name) {
        Ok(m) => m,
        Err(e) => return html::notice("error", &e.message),
    };
    // Each aggregation value is a dimension; a Cardinality metric's is `cardinality`.
    let value = m
        .aggregation_type
        .values
        .first()
        .cloned()
        .unwrap_or_else(|| CARDINALITY.to_ascii_lowercase());
    let heading = format!(
        "<h3>{} <small>{} of {} where {} (AggregationType={}), every {} s</small></h3>",
        esc(name),
        esc(&m.aggregation_type.name),
        esc(&m.aggregation_field),
        esc(&m.query_string),
        esc(&value),
        m.period
    );
    let metric = match MetricId::new(
        FLEET_NAMESPACE,
        name,
        vec![(FLEET_DIMENSION.to_string(), value)],
    ) {
        Ok(id) => id,
        Err(e) => return heading + &html::notice("error", &e.message),
    };
    let chart = super::alarms::recent_chart(
        ctx,
        &format!("fleet-metric-{i}"),
        &metric,
        Stat::Average,
        m.period,
    );
    heading + &chart
}

#[cfg(test)]
#[path = "overview_tests.rs"]
mod tests;
