//! Alarms: the account's CloudWatch metric alarms with their live state, a form that creates
//! one (PutMetricAlarm: one metric, a static threshold, an MQTT topic or a configured ARN as
//! its action), an alarm's page (definition, state, recent datapoints, history, Set state and
//! Delete), and "connected devices dropped" in one click: a fleet metric counting connected
//! things and an alarm on it. The alarm is built as `shoal-api`'s PutMetricAlarm builds it.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html>

use super::{after_change, notice_of, Page};
use crate::form::Form;
use crate::html::{self, esc, url};
use crate::{respond, Ctx};
use http::{Method, StatusCode};
use shoal_domain::cloudwatch::alarm::{Comparison, MetricAlarm, MissingData, State};
use shoal_domain::cloudwatch::stats::Stat;
use shoal_domain::cloudwatch::{MetricId, FLEET_DIMENSION, FLEET_NAMESPACE, IOT_NAMESPACE};
use shoal_domain::fleet::metric::{AggregationType, STATISTICS};
use shoal_domain::{ErrorKind, Timestamp};
use shoal_services::cloudwatch::{AlarmFilter, AlarmInput, HistoryItem, HistoryQuery};
use shoal_services::fleet::MetricInput;
use std::fmt::Write;

/// Rows per page of every list.
const PAGE: usize = 50;
/// Metrics the create form offers to pick from (more are typed).
const CHOICES: usize = 100;
/// What the charts show: the last three hours.
pub(crate) const CHART_MS: i64 = 3 * 3_600_000;

/// The one-click alarm: the fleet metric it watches, the alarm, and the topic it publishes to.
pub(crate) const CONNECTED_METRIC: &str = "shoal-connected-devices";
pub(crate) const CONNECTED_ALARM: &str = "connected-devices-dropped";
const CONNECTED_QUERY: &str = "connectivity.connected:true";
const CONNECTED_TOPIC: &str = "alerts/connected-drop";

pub async fn handle(ctx: &Ctx<'_>, method: &Method, sub: &str) -> Page {
    match (method, sub) {
        (&Method::GET, "") => list(ctx, &ctx.query, None),
        (&Method::POST, "") => create(ctx).await,
        (&Method::POST, "connected-drop") => connected_drop(ctx).await,
        (&Method::GET, name) => show(ctx, name),
        // Alarm names may hold '/': the action is the last segment.
        (&Method::POST, path) => match path.rsplit_once('/') {
            Some((name, "delete")) => delete(ctx, name).await,
            Some((name, "state")) => set_state(ctx, name).await,
            _ => respond::not_found(),
        },
        _ => respond::not_found(),
    }
}

fn page_with(ctx: &Ctx<'_>, status: StatusCode, title: &str, body: &str) -> Page {
    respond::html(
        status,
        html::page(title, "alarms", Some(&ctx.frame()), body),
    )
}

fn option(value: &str, label: &str, on: bool) -> String {
    format!(
        "<option value=\"{}\"{}>{}</option>",
        esc(value),
        if on { " selected" } else { "" },
        esc(label)
    )
}

fn alarm_path(name: &str) -> String {
    format!("/console/alarms/{}", url(name))
}

/// A state as a span its class colours.
fn state_span(id: &str, s: State) -> String {
    let id = if id.is_empty() {
        String::new()
    } else {
        format!(" id=\"{}\"", esc(id))
    };
    format!("<span{id} class=\"state-{0}\">{0}</span>", esc(s.as_str()))
}

/// `IoTFleetMetrics / name (AggregationType=count)`.
fn metric_label(m: &MetricId) -> String {
    let dims: Vec<String> = m
        .dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if dims.is_empty() {
        format!("{} / {}", m.namespace, m.name)
    } else {
        format!("{} / {} ({})", m.namespace, m.name, dims.join(", "))
    }
}

fn operator(c: Comparison) -> &'static str {
    match c {
        Comparison::GreaterThanOrEqualToThreshold => "≥",
        Comparison::GreaterThanThreshold => ">",
        Comparison::LessThanThreshold => "<",
        Comparison::LessThanOrEqualToThreshold => "≤",
    }
}

/// An action ARN as shown: the topic of one of the account's own topic ARNs.
fn action_label(ctx: &Ctx<'_>, arn: &str) -> String {
    let own = ctx.part.arn("topic", "");
    match arn.strip_prefix(&own) {
        Some(topic) => format!("MQTT <code>{}</code>", esc(topic)),
        None => format!("<code>{}</code>", esc(arn)),
    }
}

// ---- The list and the create form -------------------------------------------------------------

/// DescribeAlarms, 50 a page by the service's token, live every 5 seconds; the create form
/// below it, filled from `f` when a submission was refused.
fn list(ctx: &Ctx<'_>, f: &Form, error: Option<&str>) -> Page {
    let mut body = match error {
        Some(e) => html::notice("error", e),
        None => notice_of(ctx),
    };
    body.push_str("<div id=\"alarms-live\" data-live=\"5\">");
    let filter = AlarmFilter::default();
    match ctx
        .deps
        .cloudwatch
        .describe_alarms(&ctx.part, &filter, ctx.query.opt("next"), PAGE)
    {
        Ok((alarms, next)) => {
            let rows: Vec<Vec<String>> = alarms.iter().map(|a| alarm_row(ctx, a)).collect();
            body.push_str(&html::table(
                "alarms",
                &["Name", "State", "Metric", "Threshold", "Actions"],
                &rows,
            ));
            body.push_str(&html::pager("/console/alarms", &[], next.as_deref()));
        }
        Err(e) => body.push_str(&html::notice("error", &e.message)),
    }
    body.push_str("</div>");
    if !ctx.session.read_only {
        body.push_str(&create_form(ctx, f));
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page_with(ctx, status, "Alarms", &body)
}

fn alarm_row(ctx: &Ctx<'_>, a: &MetricAlarm) -> Vec<String> {
    let actions: Vec<String> = a
        .alarm_actions
        .iter()
        .map(|x| action_label(ctx, x))
        .collect();
    vec![
        format!(
            "<a href=\"{}\">{}</a>",
            esc(&alarm_path(&a.name)),
            esc(&a.name)
        ),
        state_span("", a.state),
        esc(&metric_label(&a.metric)),
        esc(&condition(a)),
        actions.join("<br>"),
    ]
}

/// `Minimum < 5 for 1 of 1 periods of 60 s`.
fn condition(a: &MetricAlarm) -> String {
    format!(
        "{} {} {} for {} of {} periods of {} s",
        a.statistic,
        operator(a.comparison),
        a.threshold,
        a.required_datapoints(),
        a.evaluation_periods,
        a.period
    )
}

fn create_form(ctx: &Ctx<'_>, f: &Form) -> String {
    let g = |name: &str, default: &str| -> String { esc(f.opt(name).unwrap_or(default)) };
    format!(
        "<h2>Create an alarm</h2><form method=\"post\" action=\"/console/alarms\" class=\"box\" id=\"alarm-form\">{}\
         <label>Name <input type=\"text\" name=\"name\" value=\"{}\" required maxlength=\"255\"></label>\
         <label>Description <input type=\"text\" name=\"description\" value=\"{}\"></label>\
         {}{}\
         <label>Period in seconds <input type=\"number\" name=\"period\" min=\"60\" step=\"60\" value=\"{}\"></label>\
         <label>Evaluation periods <input type=\"number\" name=\"evaluation_periods\" min=\"1\" value=\"{}\"></label>\
         <label>Datapoints to alarm (empty: all of them) <input type=\"number\" name=\"datapoints_to_alarm\" min=\"1\" value=\"{}\"></label>\
         {}\
         <label>Threshold <input type=\"text\" name=\"threshold\" value=\"{}\" required></label>\
         {}{}\
         <button type=\"submit\">Create alarm</button></form>",
        html::csrf_field(&ctx.session.csrf),
        g("name", ""),
        g("description", ""),
        metric_fields(ctx, f),
        statistic_field(f),
        g("period", "60"),
        g("evaluation_periods", "1"),
        g("datapoints_to_alarm", ""),
        comparison_field(f),
        g("threshold", ""),
        missing_field(f),
        action_fields(f),
    )
}

/// The metric: one of the account's metrics with recent data (ListMetrics, the first 100), or
/// a namespace, name and dimensions typed (a metric with no data yet).
fn metric_fields(ctx: &Ctx<'_>, f: &Form) -> String {
    let metrics = ctx
        .deps
        .cloudwatch
        .list_metrics(&ctx.part, None, None, &[], None, CHOICES, None)
        .map(|(m, _)| m)
        .unwrap_or_default();
    let picked = f.get("metric");
    let mut opts = option("", "— the metric typed below —", picked.is_empty());
    for m in &metrics {
        let value =
            serde_json::to_string(&(&m.namespace, &m.name, &m.dimensions)).unwrap_or_default();
        opts.push_str(&option(&value, &metric_label(m), picked == value));
    }
    let ns = f.opt("namespace").unwrap_or(FLEET_NAMESPACE);
    format!(
        "<fieldset><legend>Metric</legend>\
         <label>A metric with data <select name=\"metric\" id=\"metric-choice\">{opts}</select></label>\
         <label>or namespace <select name=\"namespace\">{}{}</select></label>\
         <label>metric name <input type=\"text\" name=\"metric_name\" value=\"{}\"></label>\
         <label>dimensions (Name=Value, separated by commas) <input type=\"text\" name=\"dimensions\" value=\"{}\" placeholder=\"{FLEET_DIMENSION}=count\"></label></fieldset>",
        option(FLEET_NAMESPACE, FLEET_NAMESPACE, ns == FLEET_NAMESPACE),
        option(IOT_NAMESPACE, IOT_NAMESPACE, ns == IOT_NAMESPACE),
        esc(f.get("metric_name")),
        esc(f.get("dimensions")),
    )
}

fn statistic_field(f: &Form) -> String {
    let cur = f.opt("statistic").unwrap_or("Average");
    let opts: String = [
        "SampleCount",
        "Average",
        "Sum",
        "Minimum",
        "Maximum",
        "p50",
        "p90",
        "p99",
    ]
    .iter()
    .map(|s| option(s, s, cur == *s))
    .collect();
    format!("<label>Statistic <select name=\"statistic\">{opts}</select></label>")
}

fn comparison_field(f: &Form) -> String {
    use Comparison as C;
    let cur = f.opt("comparison").unwrap_or("GreaterThanThreshold");
    let opts: String = [
        C::GreaterThanOrEqualToThreshold,
        C::GreaterThanThreshold,
        C::LessThanThreshold,
        C::LessThanOrEqualToThreshold,
    ]
    .iter()
    .map(|c| option(c.as_str(), c.as_str(), cur == c.as_str()))
    .collect();
    format!("<label>Comparison <select name=\"comparison\">{opts}</select></label>")
}

fn missing_field(f: &Form) -> String {
    let cur = f.opt("treat_missing_data").unwrap_or("missing");
    let opts: String = ["missing", "ignore", "breaching", "notBreaching"]
        .iter()
        .map(|m| option(m, m, cur == *m))
        .collect();
    format!(
        "<label>Treat missing data as <select name=\"treat_missing_data\">{opts}</select></label>"
    )
}

/// The action: an MQTT topic of the account (its AWS IoT topic ARN), or an ARN the
/// configuration maps (`[alarms] actions`), typed.
fn action_fields(f: &Form) -> String {
    format!(
        "<fieldset><legend>When it goes to ALARM</legend>\
         <label>Publish to the MQTT topic <input type=\"text\" name=\"topic\" value=\"{}\" placeholder=\"alerts/fleet\"></label>\
         <label>or notify the configured ARN <input type=\"text\" name=\"arn\" value=\"{}\"></label>\
         <label><input type=\"checkbox\" name=\"notify_ok\" value=\"true\"{}> Notify it too when the alarm goes back to OK</label></fieldset>",
        esc(f.get("topic")),
        esc(f.get("arn")),
        if f.get("notify_ok").is_empty() { "" } else { " checked" },
    )
}

/// An optional number field; a value that is not a (finite) number is refused with its label.
fn number<T: std::str::FromStr>(f: &Form, name: &str, label: &str) -> Result<Option<T>, String> {
    match f.opt(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{label} must be a number, not \"{v}\".")),
    }
}

fn required<T: std::str::FromStr>(f: &Form, name: &str, label: &str) -> Result<T, String> {
    number(f, name, label)?.ok_or_else(|| format!("{label} is required."))
}

/// `Name=Value` pairs separated by commas or lines.
fn dimensions(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("The dimension \"{d}\" is not Name=Value."))
        })
        .collect()
}

/// The metric picked, or the one typed.
fn metric(f: &Form) -> Result<MetricId, String> {
    let (ns, name, dims) = match f.opt("metric") {
        Some(m) => serde_json::from_str::<(String, String, Vec<(String, String)>)>(m)
            .map_err(|_| "The metric picked is not one the form offered.".to_string())?,
        None => (
            f.opt("namespace").unwrap_or(FLEET_NAMESPACE).to_string(),
            f.get("metric_name").to_string(),
            dimensions(f.get("dimensions"))?,
        ),
    };
    MetricId::new(&ns, &name, dims).map_err(|e| e.message)
}

/// The action ARNs: the topic's ARN (arn:aws:iot:REGION:ACCOUNT:topic/TOPIC), the ARN typed.
fn actions(ctx: &Ctx<'_>, f: &Form) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t) = f.opt("topic") {
        out.push(ctx.part.arn("topic", t));
    }
    if let Some(a) = f.opt("arn") {
        out.push(a.to_string());
    }
    out
}

/// PutMetricAlarm's alarm from the form: Statistic or ExtendedStatistic as the API tells them
/// apart, the state left for the service to set.
fn alarm_from(ctx: &Ctx<'_>, f: &Form) -> Result<MetricAlarm, String> {
    let statistic = f.opt("statistic").unwrap_or("Average").to_string();
    let extended = Stat::parse("Statistic", &statistic)
        .map_err(|e| e.message)?
        .is_extended();
    let actions = actions(ctx, f);
    let ok_actions = if f.get("notify_ok").is_empty() {
        Vec::new()
    } else {
        actions.clone()
    };
    Ok(MetricAlarm {
        name: f.get("name").to_string(),
        description: f.opt("description").map(str::to_string),
        actions_enabled: true,
        ok_actions,
        alarm_actions: actions,
        insufficient_data_actions: Vec::new(),
        metric: metric(f)?,
        statistic,
        extended,
        period: required(f, "period", "The period")?,
        unit: None,
        evaluation_periods: required(f, "evaluation_periods", "The evaluation periods")?,
        datapoints_to_alarm: number(f, "datapoints_to_alarm", "The datapoints to alarm")?,
        threshold: required(f, "threshold", "The threshold")?,
        comparison: Comparison::parse(f.get("comparison")).map_err(|e| e.message)?,
        treat_missing_data: f
            .opt("treat_missing_data")
            .map(MissingData::parse)
            .transpose()
            .map_err(|e| e.message)?,
        state: State::InsufficientData,
        state_reason: String::new(),
        state_reason_data: None,
        state_updated: Timestamp(0),
        state_transitioned: Timestamp(0),
        configuration_updated: Timestamp(0),
        tags: Vec::new(),
    })
}

async fn create(ctx: &Ctx<'_>) -> Page {
    let f = &ctx.form;
    let alarm = match alarm_from(ctx, f) {
        Ok(a) => a,
        Err(m) => return list(ctx, f, Some(&m)),
    };
    let name = alarm.name.clone();
    match ctx
        .deps
        .cloudwatch
        .put_alarm(&ctx.part, AlarmInput { alarm })
        .await
    {
        Ok(()) => after_change(&alarm_path(&name), Ok(format!("Alarm {name} saved."))),
        Err(e) => list(ctx, f, Some(&e.message)),
    }
}

// ---- An alarm's page ------------------------------------------------------------------------

fn show(ctx: &Ctx<'_>, name: &str) -> Page {
    let title = format!("Alarm {name}");
    let alarm = match ctx.deps.cloudwatch.alarm(&ctx.part, name) {
        Ok(Some(a)) => a,
        Ok(None) => {
            let text = format!("There is no alarm {name}.");
            return page_with(
                ctx,
                StatusCode::NOT_FOUND,
                &title,
                &html::notice("error", &text),
            );
        }
        Err(e) => {
            let notice = html::notice("error", &e.message);
            return page_with(ctx, StatusCode::INTERNAL_SERVER_ERROR, &title, &notice);
        }
    };
    let mut body = notice_of(ctx);
    let _ = write!(
        body,
        "<div id=\"alarm-live\" data-live=\"5\"><p>State: {} since {}</p><p id=\"alarm-reason\">{}</p></div>",
        state_span("alarm-state", alarm.state),
        html::time(alarm.state_transitioned),
        esc(&alarm.state_reason),
    );
    body.push_str(&definition(ctx, &alarm));
    let stat = alarm.stat();
    let _ = write!(
        body,
        "<h2>{} of {} per {} s, last 3 hours</h2>{}",
        esc(&alarm.statistic),
        esc(&alarm.metric.name),
        alarm.period,
        recent_chart(ctx, "alarm-chart", &alarm.metric, stat, alarm.period)
    );
    body.push_str(&history(ctx, name));
    if !ctx.session.read_only {
        body.push_str(&alarm_actions(ctx, &alarm));
    }
    ctx.page(&title, "alarms", &body)
}

fn definition(ctx: &Ctx<'_>, a: &MetricAlarm) -> String {
    let arns = |list: &[String]| -> String {
        let shown: Vec<String> = list.iter().map(|x| action_label(ctx, x)).collect();
        if shown.is_empty() {
            "none".into()
        } else {
            shown.join("<br>")
        }
    };
    let rows = [
        (
            "ARN",
            esc(&shoal_services::cloudwatch::alarm_arn(&ctx.part, &a.name)),
        ),
        ("Description", esc(a.description.as_deref().unwrap_or(""))),
        ("Metric", esc(&metric_label(&a.metric))),
        ("Condition", esc(&condition(a))),
        (
            "Missing data",
            esc(a
                .treat_missing_data
                .map(|m| m.as_str())
                .unwrap_or("missing")),
        ),
        ("Alarm actions", arns(&a.alarm_actions)),
        ("OK actions", arns(&a.ok_actions)),
        (
            "Insufficient data actions",
            arns(&a.insufficient_data_actions),
        ),
        ("Configuration updated", html::time(a.configuration_updated)),
    ];
    let mut h = String::from("<table id=\"alarm\"><tbody>");
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    h.push_str("</tbody></table>");
    h
}

/// A metric's statistic per period over the last three hours, as a line chart (GetMetricStatistics
/// groups datapoints by aligned period the same way).
pub(crate) fn recent_chart(
    ctx: &Ctx<'_>,
    id: &str,
    metric: &MetricId,
    stat: Stat,
    period: i64,
) -> String {
    let now = ctx.deps.cloudwatch.now();
    let from = now.plus_millis(-CHART_MS);
    let points = match ctx
        .deps
        .cloudwatch
        .datapoints(&ctx.part, metric, from, now.plus_millis(1))
    {
        Ok(p) => p,
        Err(e) => return html::notice("error", &e.message),
    };
    let p = period.max(1) * 1000;
    let mut buckets: Vec<(i64, Vec<shoal_domain::cloudwatch::stats::Sample>)> = Vec::new();
    for (t, s) in points {
        let start = t.0.div_euclid(p) * p;
        match buckets.last_mut() {
            Some((b, v)) if *b == start => v.push(s),
            _ => buckets.push((start, vec![s])),
        }
    }
    let series: Vec<(f64, f64)> = buckets
        .iter()
        .filter_map(|(t, v)| stat.of(v).map(|y| (*t as f64 / 1000.0, y)))
        .collect();
    html::line_chart(id, &series, (&html::time(from), &html::time(now)))
}

/// DescribeAlarmHistory for the alarm, newest first, 50 a page.
fn history(ctx: &Ctx<'_>, name: &str) -> String {
    let q = HistoryQuery {
        name: Some(name.to_string()),
        ..Default::default()
    };
    let mut h = String::from("<h2>History</h2>");
    match ctx
        .deps
        .cloudwatch
        .history(&ctx.part, &q, ctx.query.opt("next"), PAGE)
    {
        Ok((items, next)) => {
            let rows: Vec<Vec<String>> = items.iter().map(history_row).collect();
            h.push_str(&html::table("history", &["Time", "Type", "Summary"], &rows));
            h.push_str(&html::pager(&alarm_path(name), &[], next.as_deref()));
        }
        Err(e) => h.push_str(&html::notice("error", &e.message)),
    }
    h
}

fn history_row(i: &HistoryItem) -> Vec<String> {
    vec![html::time(i.at), esc(&i.item_type), esc(&i.summary)]
}

/// Set state (to try the actions: the next evaluation sets it from the data again) and Delete.
fn alarm_actions(ctx: &Ctx<'_>, a: &MetricAlarm) -> String {
    let base = esc(&alarm_path(&a.name));
    let csrf = html::csrf_field(&ctx.session.csrf);
    let states: String = [State::Alarm, State::Ok, State::InsufficientData]
        .iter()
        .map(|s| option(s.as_str(), s.as_str(), false))
        .collect();
    format!(
        "<h2>Actions</h2><form method=\"post\" action=\"{base}/state\" class=\"box\" id=\"set-state\">{csrf}\
         <label>Set the state to <select name=\"state\">{states}</select></label>\
         <label>Reason <input type=\"text\" name=\"reason\" value=\"Set from the console to try the actions\" required maxlength=\"1023\"></label>\
         <button type=\"submit\">Set state</button></form>\
         <form method=\"post\" action=\"{base}/delete\" class=\"box\" id=\"delete-alarm\">{csrf}\
         <button type=\"submit\" class=\"danger\">Delete alarm</button></form>"
    )
}

/// SetAlarmState: the state changes now and its actions run.
async fn set_state(ctx: &Ctx<'_>, name: &str) -> Page {
    let f = &ctx.form;
    let outcome = match (State::parse(f.get("state")), f.opt("reason")) {
        (Err(e), _) => Err(e.message),
        (_, None) => Err("A reason is required.".to_string()),
        (Ok(s), Some(reason)) => ctx
            .deps
            .cloudwatch
            .set_alarm_state(&ctx.part, name, s, reason, None)
            .await
            .map(|()| format!("The alarm is {} now.", s.as_str()))
            .map_err(|e| e.message),
    };
    after_change(&alarm_path(name), outcome)
}

async fn delete(ctx: &Ctx<'_>, name: &str) -> Page {
    match ctx
        .deps
        .cloudwatch
        .delete_alarms(&ctx.part, &[name.to_string()])
        .await
    {
        Ok(()) => after_change("/console/alarms", Ok(format!("Alarm {name} deleted."))),
        Err(e) => after_change(&alarm_path(name), Err(e.message)),
    }
}

// ---- Connected devices dropped ----------------------------------------------------------------

/// The one-click form (on the overview page).
pub(crate) fn connected_drop_form(ctx: &Ctx<'_>) -> String {
    if ctx.session.read_only {
        return String::new();
    }
    format!(
        "<form method=\"post\" action=\"/console/alarms/connected-drop\" class=\"box\" id=\"connected-drop\">{}\
         <p>An alarm <b>{CONNECTED_ALARM}</b> that fires when the number of connected things falls to a threshold or below, \
         on a fleet metric <b>{CONNECTED_METRIC}</b> counting them every minute.</p>\
         <label>Threshold (empty: half of those connected now) <input type=\"number\" name=\"threshold\" min=\"0\" step=\"any\"></label>\
         <label>MQTT topic to publish to <input type=\"text\" name=\"topic\" value=\"{CONNECTED_TOPIC}\"></label>\
         <button type=\"submit\">Alert me when connected devices drop</button></form>",
        html::csrf_field(&ctx.session.csrf)
    )
}

/// Makes the fleet metric (if missing) and puts the alarm, then shows the alarm; a refusal
/// goes back to the overview, where the form is.
async fn connected_drop(ctx: &Ctx<'_>) -> Page {
    match make_connected_drop(ctx).await {
        Ok(m) => after_change(&alarm_path(CONNECTED_ALARM), Ok(m)),
        Err(m) => after_change("/console/overview", Err(m)),
    }
}

async fn make_connected_drop(ctx: &Ctx<'_>) -> Result<String, String> {
    let f = &ctx.form;
    if !ctx.deps.fleet.config(&ctx.part).connectivity {
        return Err(format!(
            "Counting connected devices needs fleet indexing with connectivity: {}",
            super::overview::ENABLE_COMMAND
        ));
    }
    let threshold = match number::<f64>(f, "threshold", "The threshold")? {
        Some(t) => t,
        None => super::overview::count(ctx, CONNECTED_QUERY).map_err(|e| e.message)? as f64 / 2.0,
    };
    ensure_connected_metric(ctx).await?;
    let topic = f.opt("topic").unwrap_or(CONNECTED_TOPIC);
    let alarm = connected_alarm(ctx, threshold, topic)?;
    ctx.deps
        .cloudwatch
        .put_alarm(&ctx.part, AlarmInput { alarm })
        .await
        .map_err(|e| e.message)?;
    Ok(format!(
        "Alarm {CONNECTED_ALARM} fires when {threshold} devices or fewer are connected."
    ))
}

/// The fleet metric: things with `connectivity.connected:true`, counted every 60 seconds
/// (a Statistics aggregation's `count` over `registry.version`, which every thing has), its
/// value written to CloudWatch as IoTFleetMetrics / NAME with dimension AggregationType=count
/// (https://docs.aws.amazon.com/iot/latest/developerguide/iot-fleet-metrics.html).
async fn ensure_connected_metric(ctx: &Ctx<'_>) -> Result<(), String> {
    let fleet = &ctx.deps.fleet;
    match fleet.describe_metric(&ctx.part, CONNECTED_METRIC) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind != ErrorKind::NotFound => return Err(e.message),
        Err(_) => {}
    }
    let input = MetricInput {
        query_string: Some(CONNECTED_QUERY.into()),
        aggregation_type: Some(AggregationType {
            name: STATISTICS.into(),
            values: vec!["count".into()],
        }),
        period: Some(60),
        aggregation_field: Some("registry.version".into()),
        description: Some("Things connected now (made by the Shoal console)".into()),
        ..Default::default()
    };
    match fleet
        .create_metric(&ctx.part, CONNECTED_METRIC, input)
        .await
    {
        Ok(_) => Ok(()),
        // Made meanwhile by another click.
        Err(e) if fleet.describe_metric(&ctx.part, CONNECTED_METRIC).is_ok() => {
            tracing::debug!(error = %e.message, "fleet metric made meanwhile");
            Ok(())
        }
        Err(e) => Err(e.message),
    }
}

/// Minimum of the count per minute at or below the threshold, for one period: the alarm fires
/// in the first minute the count drops there (by default when half of the devices are gone).
fn connected_alarm(ctx: &Ctx<'_>, threshold: f64, topic: &str) -> Result<MetricAlarm, String> {
    let metric = MetricId::new(
        FLEET_NAMESPACE,
        CONNECTED_METRIC,
        vec![(FLEET_DIMENSION.to_string(), "count".to_string())],
    )
    .map_err(|e| e.message)?;
    Ok(MetricAlarm {
        name: CONNECTED_ALARM.into(),
        description: Some("Connected devices dropped (made by the Shoal console)".into()),
        actions_enabled: true,
        ok_actions: Vec::new(),
        alarm_actions: vec![ctx.part.arn("topic", topic)],
        insufficient_data_actions: Vec::new(),
        metric,
        statistic: "Minimum".into(),
        extended: false,
        period: 60,
        unit: None,
        evaluation_periods: 1,
        datapoints_to_alarm: None,
        threshold,
        comparison: Comparison::LessThanOrEqualToThreshold,
        treat_missing_data: None,
        state: State::InsufficientData,
        state_reason: String::new(),
        state_reason_data: None,
        state_updated: Timestamp(0),
        state_transitioned: Timestamp(0),
        configuration_updated: Timestamp(0),
        tags: Vec::new(),
    })
}

#[cfg(test)]
#[path = "alarms_tests.rs"]
mod tests;
