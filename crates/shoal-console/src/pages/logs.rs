//! Logs: a Logs Insights query over the account's `AWSIotLogsV2` log group, as the CloudWatch
//! console's Logs Insights page runs it (StartQuery, then GetQueryResults until the query
//! ends: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AnalyzingLogData.html),
//! and AWS IoT's v2 logging levels per target (ListV2LoggingLevels, SetV2LoggingLevel,
//! DeleteV2LoggingLevel, SetV2LoggingOptions:
//! https://docs.aws.amazon.com/iot/latest/developerguide/configure-logging.html).

use super::{after_change, notice_of, Page};
use crate::html::{self, esc, notice, url};
use crate::{respond, Ctx};
use http::Method;
use shoal_domain::error::Result;
use shoal_domain::logging::{LogLevel, LogTarget, TargetType, V2Options};
use shoal_domain::{ErrorKind, ServiceError, Timestamp};
use shoal_services::logging::{QueryResults, QueryStatus, V2_GROUP};
use std::fmt::Write;
use std::time::Duration;

/// What the query box holds first: the newest records, as the Logs Insights console's sample.
const DEFAULT_QUERY: &str = "fields @timestamp, @message | sort @timestamp desc | limit 100";
/// StartQuery's bound on `queryString`
/// (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html).
const MAX_QUERY_CHARS: usize = 10_000;
/// The time ranges offered (minutes, label), and the bucket of the histogram for each.
const RANGES: [(i64, &str, i64); 4] = [
    (15, "Last 15 minutes", 60_000),
    (60, "Last hour", 300_000),
    (360, "Last 6 hours", 1_800_000),
    (1440, "Last 24 hours", 7_200_000),
];
const DEFAULT_MINUTES: i64 = 60;
/// How long a page waits for its query before it offers a link to the results instead.
const WAIT: Duration = Duration::from_secs(10);
/// Between two reads of a running query's state.
const POLL: Duration = Duration::from_millis(5);
const PAGE_SIZE: usize = 50;
const LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARN", "ERROR", "DISABLED"];
/// The target types SetV2LoggingLevel takes a name for (DEFAULT is the options' level).
const TARGET_TYPES: [&str; 4] = ["THING_GROUP", "CLIENT_ID", "SOURCE_IP", "PRINCIPAL_ID"];

pub async fn handle(ctx: &Ctx<'_>, method: &Method, sub: &str) -> Page {
    match (method, sub) {
        (&Method::GET, "") => view(ctx).await,
        (&Method::POST, "levels") => after_change("/console/logs", set_level(ctx).await),
        (&Method::POST, "levels/delete") => after_change("/console/logs", delete_level(ctx).await),
        (&Method::POST, "options") => after_change("/console/logs", set_options(ctx).await),
        _ => respond::not_found(),
    }
}

async fn view(ctx: &Ctx<'_>) -> Page {
    let minutes = range_of(ctx);
    let text = ctx.query.opt("q");
    let mut body = notice_of(ctx);
    body.push_str(&query_form(text.unwrap_or(DEFAULT_QUERY), minutes));
    if let Some(t) = text {
        body.push_str(&run_section(ctx, t, minutes).await);
    }
    body.push_str(&levels_section(ctx));
    ctx.page("Logs", "logs", &body)
}

/// The range asked for, if it is one the page offers.
fn range_of(ctx: &Ctx<'_>) -> i64 {
    ctx.query
        .get("minutes")
        .parse::<i64>()
        .ok()
        .filter(|m| RANGES.iter().any(|r| r.0 == *m))
        .unwrap_or(DEFAULT_MINUTES)
}

fn query_form(text: &str, minutes: i64) -> String {
    let mut options = String::new();
    for (m, label, _) in RANGES {
        let sel = if m == minutes { " selected" } else { "" };
        let _ = write!(options, "<option value=\"{m}\"{sel}>{label}</option>");
    }
    // A GET form: a query changes nothing, and its URL can be shared or bookmarked.
    format!(
        "<h2>Logs Insights</h2><form method=\"get\" action=\"/console/logs\" class=\"box\" id=\"query\">\
         <label>Query over the <code>{}</code> log group <textarea name=\"q\" rows=\"4\" maxlength=\"{MAX_QUERY_CHARS}\">{}</textarea></label>\
         <label>Time range <select name=\"minutes\">{options}</select></label>\
         <button type=\"submit\">Run query</button></form>",
        V2_GROUP,
        esc(text)
    )
}

/// Starts the query (or reads the one `query=ID` names), waits for it a bounded while, and
/// shows its statistics, histogram and rows.
async fn run_section(ctx: &Ctx<'_>, text: &str, minutes: i64) -> String {
    let end = ctx.deps.logs.clock().now().millis();
    let start = end - minutes * 60_000;
    let id = match ctx.query.opt("query") {
        Some(id) => id.to_string(),
        None => match start_query(ctx, text, start, end).await {
            Ok(id) => id,
            Err(e) => return start_error(text, &e),
        },
    };
    match wait_for(ctx, &id).await {
        Ok(r) => results_html(&r, &id, text, minutes, (start, end)),
        Err(e) => notice("error", &e.message),
    }
}

async fn start_query(ctx: &Ctx<'_>, text: &str, start: i64, end: i64) -> Result<String> {
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ServiceError::invalid(format!(
            "The query must be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let groups = [V2_GROUP.to_string()];
    ctx.deps
        .logs
        .start_query(&ctx.part, &groups, start, end, text, None)
        .await
}

/// The service runs a query on blocking threads and offers no completion future
/// (`shoal_services::logging::queries`), so the page reads its state as GetQueryResults does,
/// every few milliseconds for at most `WAIT`.
async fn wait_for(ctx: &Ctx<'_>, id: &str) -> Result<QueryResults> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r = ctx.deps.logs.query_results(&ctx.part, id)?;
        if r.status != QueryStatus::Running || tokio::time::Instant::now() >= deadline {
            return Ok(r);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// StartQuery's refusal: a malformed query with where it went wrong (MalformedQueryException's
/// queryCompileError), a log group not made yet, or anything else as it was said.
fn start_error(text: &str, e: &ServiceError) -> String {
    match e.kind {
        ErrorKind::MalformedQuery { start, .. } => format!(
            "{}<pre id=\"query-error\">{}</pre>",
            notice("error", &format!("MalformedQueryException: {}", e.message)),
            esc(&caret(text, start))
        ),
        ErrorKind::NotFound => notice(
            "info",
            &format!("There are no device log records yet: the {V2_GROUP} log group is made by the first record a device writes once logging is configured (below)."),
        ),
        _ => notice("error", &e.message),
    }
}

/// The query's line holding character `pos`, with a caret under that character.
fn caret(text: &str, pos: usize) -> String {
    let before: String = text.chars().take(pos).collect();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count();
    let line = text[line_start..].split('\n').next().unwrap_or("");
    format!("{line}\n{}^", " ".repeat(col))
}

fn results_html(r: &QueryResults, id: &str, text: &str, minutes: i64, range: (i64, i64)) -> String {
    let mut h = format!(
        "<section id=\"query-results\"><h2>Results</h2><p id=\"query-stats\">{} · {} records matched · {} records scanned · {} bytes scanned</p>",
        r.status.as_str(),
        r.records_matched,
        r.records_scanned,
        r.bytes_scanned
    );
    match r.status {
        QueryStatus::Running => {
            let link = format!(
                "/console/logs?q={}&minutes={minutes}&query={}",
                url(text),
                url(id)
            );
            let _ = write!(
                h,
                "{}<p><a id=\"query-link\" href=\"{}\">Show its results</a></p>",
                notice("info", "The query is still running."),
                esc(&link)
            );
        }
        QueryStatus::Failed => h.push_str(&notice("error", "The query failed.")),
        QueryStatus::Cancelled => h.push_str(&notice("error", "The query was cancelled.")),
        QueryStatus::Complete => {}
    }
    h.push_str("<h3>Records over time</h3>");
    h.push_str(&histogram(&r.rows, range, bucket_of(minutes)));
    let (headers, rows) = result_table(&r.rows);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    h.push_str(&html::table("results", &headers, &rows));
    h.push_str("</section>");
    h
}

fn bucket_of(minutes: i64) -> i64 {
    RANGES
        .iter()
        .find(|r| r.0 == minutes)
        .map_or(300_000, |r| r.2)
}

/// The rows' columns in order of first appearance; `@ptr` is left out as the Logs Insights
/// console leaves it out (it is an id for GetLogRecord, not something to read).
fn result_table(rows: &[Vec<(String, String)>]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut headers: Vec<String> = Vec::new();
    for (f, _) in rows.iter().flatten() {
        if f != "@ptr" && !headers.contains(f) {
            headers.push(f.clone());
        }
    }
    let cells = rows
        .iter()
        .map(|row| {
            headers
                .iter()
                .map(|h| {
                    let v = row.iter().find(|(f, _)| f == h).map_or("", |(_, v)| v);
                    format!("<code>{}</code>", esc(v))
                })
                .collect()
        })
        .collect();
    (headers, cells)
}

/// Rows per time bucket over the range, from the rows' `@timestamp`. The service returns rows,
/// not a histogram (GetQueryResults has none), and a second query cannot count for the user's
/// query in general (`limit` may not come before `stats`), so this counts the rows returned:
/// with a `limit` smaller than the records matched, it is the histogram of those rows.
fn histogram(rows: &[Vec<(String, String)>], (start, end): (i64, i64), step: i64) -> String {
    let n = usize::try_from((end - start + step - 1) / step)
        .unwrap_or(1)
        .max(1);
    let mut counts = vec![0u64; n];
    let stamps = rows.iter().filter_map(|row| {
        row.iter()
            .find(|(f, _)| f == "@timestamp")
            .and_then(|(_, v)| parse_log_time(v))
    });
    let mut any = false;
    for t in stamps {
        let i = usize::try_from((t - start).max(0) / step).unwrap_or(0);
        counts[i.min(n - 1)] += 1;
        any = true;
    }
    if !any {
        return html::bar_chart("histogram", &[]);
    }
    let bars: Vec<(String, f64)> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let at = html::time(Timestamp(start + i as i64 * step));
            (at.get(5..16).unwrap_or(&at).to_string(), *c as f64)
        })
        .collect();
    html::bar_chart("histogram", &bars)
}

/// Milliseconds of a Logs Insights time (`2026-12-07 21:40:05.123`, UTC).
fn parse_log_time(s: &str) -> Option<i64> {
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let days = shoal_domain::clock::days_from_civil(num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let secs = num(11, 13)? * 3600 + num(14, 16)? * 60 + num(17, 19)?;
    let ms = num(20, 23).unwrap_or(0);
    Some(days * 86_400_000 + secs * 1000 + ms)
}

/// The levels, or an offer to configure logging when it never was (GetV2LoggingOptions'
/// NotConfiguredException).
fn levels_section(ctx: &Ctx<'_>) -> String {
    let mut h = String::from("<h2>Log levels</h2>");
    match ctx.deps.logs.levels.options(&ctx.part) {
        Err(e) if e.kind == ErrorKind::NotConfigured => {
            h.push_str(&notice(
                "info",
                "Logging was never configured for this account and region: devices write no log records until a default level is set.",
            ));
            h.push_str(&writable(ctx, options_form(ctx, None)));
        }
        Err(e) => h.push_str(&notice("error", &e.message)),
        Ok(o) => {
            h.push_str(&levels_table(ctx, &o));
            h.push_str(&writable(ctx, set_level_form(ctx)));
            h.push_str(&writable(ctx, options_form(ctx, Some(&o))));
        }
    }
    h
}

/// A form that changes something, for a session that may.
fn writable(ctx: &Ctx<'_>, form: String) -> String {
    if ctx.session.read_only {
        String::new()
    } else {
        form
    }
}

/// ListV2LoggingLevels: the DEFAULT target first (the options' level, as AWS lists it), then
/// a page of the named targets.
fn levels_table(ctx: &Ctx<'_>, o: &V2Options) -> String {
    let next = ctx.query.opt("next");
    let (items, more) = match ctx
        .deps
        .logs
        .levels
        .list_levels(&ctx.part, None, PAGE_SIZE, next)
    {
        Ok(page) => page,
        Err(e) => return notice("error", &e.message),
    };
    let mut rows = Vec::with_capacity(items.len() + 1);
    if next.is_none() {
        let level = o.default_level.map_or("(not set)", |l| l.as_str());
        rows.push(vec![
            "DEFAULT".into(),
            String::new(),
            esc(level),
            String::new(),
        ]);
    }
    for t in &items {
        let name = t.target.name.as_deref().unwrap_or("");
        rows.push(vec![
            esc(t.target.kind.as_str()),
            esc(name),
            esc(t.level.as_str()),
            writable(ctx, delete_form(ctx, t.target.kind.as_str(), name)),
        ]);
    }
    let mut h = String::new();
    if o.disable_all {
        h.push_str(&notice("info", "All logs are disabled (disableAllLogs)."));
    }
    h.push_str(&html::table(
        "levels",
        &["Target type", "Target name", "Level", ""],
        &rows,
    ));
    h.push_str(&html::pager("/console/logs", &[], more.as_deref()));
    h
}

fn delete_form(ctx: &Ctx<'_>, kind: &str, name: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/logs/levels/delete\" class=\"inline\">{}\
         <input type=\"hidden\" name=\"target_type\" value=\"{}\"><input type=\"hidden\" name=\"target_name\" value=\"{}\">\
         <button class=\"danger\">Delete</button></form>",
        html::csrf_field(&ctx.session.csrf),
        esc(kind),
        esc(name)
    )
}

fn select(name: &str, options: &[&str], selected: &str) -> String {
    let mut h = format!("<select name=\"{}\">", esc(name));
    for o in options {
        let sel = if *o == selected { " selected" } else { "" };
        let _ = write!(h, "<option{sel}>{}</option>", esc(o));
    }
    h.push_str("</select>");
    h
}

fn set_level_form(ctx: &Ctx<'_>) -> String {
    format!(
        "<form method=\"post\" action=\"/console/logs/levels\" class=\"box\" id=\"set-level\">{}\
         <label>Target type {}</label>\
         <label>Target name <input type=\"text\" name=\"target_name\" required maxlength=\"256\"></label>\
         <label>Level {}</label><button type=\"submit\">Set level</button></form>",
        html::csrf_field(&ctx.session.csrf),
        select("target_type", &TARGET_TYPES, "CLIENT_ID"),
        select("level", &LEVELS, "DEBUG")
    )
}

/// The role AWS IoT would write logs with; Shoal writes them itself, but SetV2LoggingOptions
/// carries one, so the form offers a name in the account.
fn default_role(ctx: &Ctx<'_>) -> String {
    format!("arn:aws:iam::{}:role/shoal-logging", ctx.session.account)
}

fn options_form(ctx: &Ctx<'_>, current: Option<&V2Options>) -> String {
    let level = current
        .and_then(|o| o.default_level)
        .map_or("ERROR", |l| l.as_str());
    let role = current
        .and_then(|o| o.role_arn.clone())
        .unwrap_or_else(|| default_role(ctx));
    format!(
        "<form method=\"post\" action=\"/console/logs/options\" class=\"box\" id=\"options\">{}\
         <label>Default level {}</label>\
         <label>Role ARN <input type=\"text\" name=\"role_arn\" value=\"{}\"></label>\
         <button type=\"submit\">Save logging options</button></form>",
        html::csrf_field(&ctx.session.csrf),
        select("default_level", &LEVELS, level),
        esc(&role)
    )
}

fn target_of(ctx: &Ctx<'_>) -> Result<LogTarget> {
    let kind = TargetType::parse("target_type", ctx.form.get("target_type"))?;
    LogTarget::new(kind, ctx.form.opt("target_name").map(str::to_string))
}

fn describe(t: &LogTarget) -> String {
    format!("{} {}", t.kind.as_str(), t.name.as_deref().unwrap_or(""))
}

/// SetV2LoggingLevel: AWS answers NotConfiguredException until SetV2LoggingOptions was called
/// (https://docs.aws.amazon.com/iot/latest/apireference/API_SetV2LoggingLevel.html).
async fn set_level(ctx: &Ctx<'_>) -> std::result::Result<String, String> {
    let run = async {
        let level = LogLevel::parse("level", ctx.form.get("level"))?;
        let target = target_of(ctx)?;
        let levels = &ctx.deps.logs.levels;
        levels.options(&ctx.part)?;
        let what = describe(&target);
        levels.set_level(&ctx.part, target, level).await?;
        Ok::<_, ServiceError>(format!("{what} is logged at {}.", level.as_str()))
    };
    run.await.map_err(|e| e.message)
}

async fn delete_level(ctx: &Ctx<'_>) -> std::result::Result<String, String> {
    let run = async {
        let target = target_of(ctx)?;
        ctx.deps
            .logs
            .levels
            .delete_level(&ctx.part, &target)
            .await?;
        Ok::<_, ServiceError>(format!("The level of {} was deleted.", describe(&target)))
    };
    run.await.map_err(|e| e.message)
}

/// SetV2LoggingOptions replaces the options whole, so the ones the form does not show (event
/// configurations, disableAllLogs) are kept as they were.
async fn set_options(ctx: &Ctx<'_>) -> std::result::Result<String, String> {
    let run = async {
        let level = LogLevel::parse("default_level", ctx.form.get("default_level"))?;
        let levels = &ctx.deps.logs.levels;
        let mut o = match levels.options(&ctx.part) {
            Ok(o) => o,
            Err(e) if e.kind == ErrorKind::NotConfigured => V2Options::default(),
            Err(e) => return Err(e),
        };
        o.default_level = Some(level);
        o.role_arn = Some(
            ctx.form
                .opt("role_arn")
                .map_or_else(|| default_role(ctx), str::to_string),
        );
        levels.set_options(&ctx.part, o).await?;
        Ok::<_, ServiceError>(format!("The default log level is {}.", level.as_str()))
    };
    run.await.map_err(|e| e.message)
}

#[cfg(test)]
#[path = "logs_tests.rs"]
mod tests;
