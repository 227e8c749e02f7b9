//! Jobs: the account's jobs, a form that creates one (its document typed as JSON, taken from a
//! job template of the account, or from an AWS managed template with its parameters), the
//! rollout preview of that form, and a job's page: its definition, document and live progress
//! with Cancel and Delete. The service inputs are built as `shoal-api`'s CreateJob, CancelJob
//! and DeleteJob build them.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs.html>

use super::{after_change, notice_of, Page};
use crate::form::Form;
use crate::html::{self, esc, url};
use crate::{respond, Ctx};
use http::{Method, StatusCode};
use shoal_domain::jobs::{
    managed_template, managed_templates, AbortConfig, AbortCriteria, Execution, ExecutionStatus,
    Job, JobConfig, JobId, JobStatus, ProcessDetails, RolloutConfig, TargetSelection,
    TimeoutConfig,
};
use shoal_domain::{ErrorKind, ServiceError};
use shoal_services::jobs::{CreateJob, JobFilter, Preview};
use shoal_services::registry::ListThingGroups;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Rows per page of every list.
const PAGE: usize = 50;
/// Groups and templates the create form offers to pick from (more are typed).
const CHOICES: usize = 100;
/// What the preview shows of its waves and of each wave's things.
const PREVIEW_ROWS: usize = 50;

pub async fn handle(ctx: &Ctx<'_>, method: &Method, sub: &str) -> Page {
    match (method, sub) {
        (&Method::GET, "") => list(ctx),
        (&Method::GET, "new") => new_form(ctx, &ctx.query, None, StatusCode::OK),
        (&Method::POST, "new") => create(ctx).await,
        (&Method::POST, "preview") => preview(ctx),
        (&Method::GET, id) if !id.contains('/') => show(ctx, id),
        (&Method::POST, path) => match path.rsplit_once('/') {
            Some((id, "cancel")) => cancel(ctx, id).await,
            Some((id, "delete")) => delete(ctx, id).await,
            _ => respond::not_found(),
        },
        _ => respond::not_found(),
    }
}

/// A page of this section with a status other than 200 (a refused form, a missing job).
fn page_with(ctx: &Ctx<'_>, status: StatusCode, title: &str, body: &str) -> Page {
    respond::html(status, html::page(title, "jobs", Some(&ctx.frame()), body))
}

/// A service error as a page: 404 for a job that does not exist.
fn failure(ctx: &Ctx<'_>, title: &str, e: &ServiceError) -> Page {
    let status = match e.kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    page_with(ctx, status, title, &html::notice("error", &e.message))
}

fn selected(on: bool) -> &'static str {
    if on {
        " selected"
    } else {
        ""
    }
}

fn checked(on: bool) -> &'static str {
    if on {
        " checked"
    } else {
        ""
    }
}

fn option(value: &str, label: &str, on: bool) -> String {
    format!(
        "<option value=\"{}\"{}>{}</option>",
        esc(value),
        selected(on),
        esc(label)
    )
}

// ---- The list -------------------------------------------------------------------------------

/// ListJobs, 50 a page, optionally by status. Each row shows what the job record holds (its
/// targets and the things notified so far); the per-status counts are on the job's page, as
/// ListJobs' summaries carry none (counting them costs one index scan per status).
fn list(ctx: &Ctx<'_>) -> Page {
    let status = ctx.query.opt("status").and_then(JobStatus::parse);
    let filter = JobFilter {
        status,
        ..Default::default()
    };
    let mut body = notice_of(ctx);
    body.push_str("<p><a id=\"new-job\" href=\"/console/jobs/new\">Create a job</a></p>");
    body.push_str(&status_filter(status));
    match ctx
        .deps
        .jobs
        .list_jobs(&ctx.part, &filter, ctx.query.opt("next"), PAGE)
    {
        Ok(page) => {
            let rows: Vec<Vec<String>> = page.items.iter().map(job_row).collect();
            body.push_str(&html::table(
                "jobs",
                &[
                    "Job",
                    "Status",
                    "Target selection",
                    "Created",
                    "Targets",
                    "Notified",
                ],
                &rows,
            ));
            let s = status.map(JobStatus::as_str).unwrap_or("");
            body.push_str(&html::pager(
                "/console/jobs",
                &[("status", s)],
                page.next_token.as_deref(),
            ));
        }
        Err(e) => body.push_str(&html::notice("error", &e.message)),
    }
    ctx.page("Jobs", "jobs", &body)
}

fn status_filter(current: Option<JobStatus>) -> String {
    let mut opts = option("", "any status", current.is_none());
    for s in [
        JobStatus::InProgress,
        JobStatus::Scheduled,
        JobStatus::Completed,
        JobStatus::Canceled,
        JobStatus::DeletionInProgress,
    ] {
        opts.push_str(&option(s.as_str(), s.as_str(), current == Some(s)));
    }
    format!(
        "<form method=\"get\" action=\"/console/jobs\" class=\"inline\"><select name=\"status\">{opts}</select> <button type=\"submit\">Filter</button></form>"
    )
}

fn job_row(j: &Job) -> Vec<String> {
    vec![
        format!(
            "<a href=\"/console/jobs/{}\">{}</a>",
            url(&j.job_id),
            esc(&j.job_id)
        ),
        esc(j.status.as_str()),
        esc(j.target_selection.as_str()),
        html::time(j.created_at),
        j.targets.len().to_string(),
        j.notified.to_string(),
    ]
}

// ---- The create form and its preview ----------------------------------------------------------

/// The form, filled from `f` (the query of a first visit, which may name a `group`, or the
/// fields of a refused submission), with an error notice and a preview above it.
fn new_form(ctx: &Ctx<'_>, f: &Form, error: Option<&str>, status: StatusCode) -> Page {
    render_form(ctx, f, error, "", status)
}

fn render_form(
    ctx: &Ctx<'_>,
    f: &Form,
    error: Option<&str>,
    above: &str,
    status: StatusCode,
) -> Page {
    let mut body = error.map(|e| html::notice("error", e)).unwrap_or_default();
    body.push_str(above);
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/jobs/new\" class=\"box\" id=\"job-form\">{}\
         <label>Job ID <input type=\"text\" name=\"job_id\" value=\"{}\" required maxlength=\"64\"></label>\
         <label>Description <input type=\"text\" name=\"description\" value=\"{}\"></label>\
         {}{}{}\
         <button type=\"submit\">Create job</button> \
         <button type=\"submit\" formaction=\"/console/jobs/preview\" id=\"preview-button\">Preview rollout</button></form>",
        html::csrf_field(&ctx.session.csrf),
        esc(f.get("job_id")),
        esc(f.get("description")),
        targets_fields(ctx, f),
        document_fields(ctx, f),
        rollout_fields(f),
    );
    page_with(ctx, status, "Create a job", &body)
}

/// Targets: groups picked from the first 100 (static and dynamic), things typed.
fn targets_fields(ctx: &Ctx<'_>, f: &Form) -> String {
    let chosen = f.all("group");
    let groups = ctx
        .deps
        .registry
        .list_thing_groups(
            &ctx.part,
            &ListThingGroups {
                max_results: CHOICES,
                ..Default::default()
            },
        )
        .map(|p| p.items)
        .unwrap_or_default();
    let opts: String = groups
        .iter()
        .map(|g| {
            let label = if g.dynamic.is_some() {
                format!("{} (dynamic)", g.name)
            } else {
                g.name.clone()
            };
            option(&g.name, &label, chosen.contains(&g.name.as_str()))
        })
        .collect();
    let ts = TargetSelection::parse(f.get("target_selection")).unwrap_or(TargetSelection::Snapshot);
    format!(
        "<fieldset><legend>Targets</legend>\
         <label>Thing groups (the first {CHOICES}) <select name=\"group\" multiple size=\"6\">{opts}</select></label>\
         <label>Things (names or ARNs, separated by commas or spaces) <input type=\"text\" name=\"things\" value=\"{}\"></label>\
         <label>Target selection <select name=\"target_selection\">{}{}</select></label></fieldset>",
        esc(f.get("things")),
        option("SNAPSHOT", "SNAPSHOT: the members now", ts == TargetSelection::Snapshot),
        option(
            "CONTINUOUS",
            "CONTINUOUS: also things that join the groups later",
            ts == TargetSelection::Continuous
        ),
    )
}

/// The document: typed JSON, an account template (from a list of the first 100), or a managed
/// template with its `documentParameters`
/// (https://docs.aws.amazon.com/iot/latest/developerguide/job-templates-managed.html).
fn document_fields(ctx: &Ctx<'_>, f: &Form) -> String {
    let source = f.opt("source").unwrap_or("json");
    let templates = ctx
        .deps
        .jobs
        .list_templates(&ctx.part, None, CHOICES)
        .map(|p| p.items)
        .unwrap_or_default();
    let listed: String = templates
        .iter()
        .map(|t| option(&t.id, &t.description, false))
        .collect();
    let managed: String = managed_templates()
        .iter()
        .map(|t| {
            let keys: Vec<&str> = t.parameters.iter().map(|p| p.key).collect();
            let label = format!("{} ({})", t.name, keys.join(", "));
            option(t.name, &label, f.get("managed") == t.name)
        })
        .collect();
    format!(
        "<fieldset><legend>Job document</legend>\
         <label><input type=\"radio\" name=\"source\" value=\"json\"{}> A JSON document</label>\
         <textarea name=\"document\" placeholder=\"{{&quot;operation&quot;: &quot;update&quot;}}\">{}</textarea>\
         <label><input type=\"radio\" name=\"source\" value=\"template\"{}> A job template of the account: \
         <input type=\"text\" name=\"template_id\" list=\"job-templates\" value=\"{}\"></label>\
         <datalist id=\"job-templates\">{listed}</datalist>\
         <label><input type=\"radio\" name=\"source\" value=\"managed\"{}> An AWS managed template: \
         <select name=\"managed\">{managed}</select></label>\
         <label>Its parameters (a JSON object of strings) <textarea name=\"parameters\" placeholder=\"{{&quot;services&quot;: &quot;cron&quot;}}\">{}</textarea></label></fieldset>",
        checked(source == "json"),
        esc(f.get("document")),
        checked(source == "template"),
        esc(f.get("template_id")),
        checked(source == "managed"),
        esc(f.get("parameters")),
    )
}

/// Rollout rate, one abort criterion and the in-progress timeout (API_CreateJob's
/// jobExecutionsRolloutConfig, abortConfig and timeoutConfig).
fn rollout_fields(f: &Form) -> String {
    let failure = f.get("abort_failure_type");
    let mut types = option("", "never", failure.is_empty());
    for t in ["FAILED", "REJECTED", "TIMED_OUT", "ALL"] {
        types.push_str(&option(t, t, failure == t));
    }
    format!(
        "<fieldset><legend>Rollout and abort</legend>\
         <label>Things notified per minute at most <input type=\"number\" name=\"maximum_per_minute\" min=\"1\" max=\"1000\" value=\"{}\"></label>\
         <label>Cancel the job when executions end <select name=\"abort_failure_type\">{types}</select></label>\
         <label>in at least this percentage <input type=\"number\" name=\"abort_threshold\" min=\"0\" max=\"100\" step=\"0.01\" value=\"{}\"></label>\
         <label>once at least this many things executed <input type=\"number\" name=\"abort_min_executed\" min=\"1\" value=\"{}\"></label>\
         <label>In-progress timeout in minutes <input type=\"number\" name=\"timeout_minutes\" min=\"1\" max=\"10080\" value=\"{}\"></label></fieldset>",
        esc(f.get("maximum_per_minute")),
        esc(f.get("abort_threshold")),
        esc(f.get("abort_min_executed")),
        esc(f.get("timeout_minutes")),
    )
}

/// An optional number field; a value that is not a number is refused with its label.
fn number<T: std::str::FromStr>(f: &Form, name: &str, label: &str) -> Result<Option<T>, String> {
    match f.opt(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{label} must be a number, not \"{v}\".")),
    }
}

/// The targets as ARNs: each group picked, each thing typed (an ARN typed is kept as it is).
fn targets(ctx: &Ctx<'_>, f: &Form) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = f
        .all("group")
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(|g| ctx.part.arn("thinggroup", g))
        .collect();
    for t in f
        .get("things")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        if t.starts_with("arn:") {
            out.push(t.to_string());
        } else {
            out.push(ctx.part.arn("thing", t));
        }
    }
    if out.is_empty() {
        return Err("Pick a thing group or type a thing name: a job needs a target.".into());
    }
    Ok(out)
}

/// The configurations the form sets; absent fields stay absent, as in a CreateJob body.
fn config(f: &Form) -> Result<JobConfig, String> {
    let mut c = JobConfig::default();
    if let Some(n) = number::<i64>(f, "maximum_per_minute", "Things notified per minute")? {
        c.job_executions_rollout_config = Some(RolloutConfig {
            maximum_per_minute: Some(n),
            exponential_rate: None,
        });
    }
    if let Some(failure_type) = f.opt("abort_failure_type") {
        c.abort_config = Some(AbortConfig {
            criteria_list: vec![AbortCriteria {
                failure_type: failure_type.to_string(),
                action: "CANCEL".into(),
                threshold_percentage: number(f, "abort_threshold", "The abort percentage")?
                    .ok_or("An abort criterion needs a percentage.")?,
                min_number_of_executed_things: number(
                    f,
                    "abort_min_executed",
                    "The things executed before aborting",
                )?
                .ok_or("An abort criterion needs a number of executed things.")?,
                query_string: None,
            }],
        });
    }
    if let Some(m) = number::<i64>(f, "timeout_minutes", "The in-progress timeout")? {
        c.timeout_config = Some(TimeoutConfig {
            in_progress_timeout_in_minutes: Some(m),
        });
    }
    Ok(c)
}

/// Where the document comes from: (document, jobTemplateArn, documentParameters).
type DocumentParts = (Option<String>, Option<String>, BTreeMap<String, String>);

fn document(ctx: &Ctx<'_>, f: &Form) -> Result<DocumentParts, String> {
    match f.opt("source").unwrap_or("json") {
        "template" => {
            let id = f
                .opt("template_id")
                .ok_or("Type the id of a job template.")?;
            Ok((None, Some(ctx.part.arn("jobtemplate", id)), BTreeMap::new()))
        }
        "managed" => {
            let name = f.get("managed");
            let t = managed_template(name, None)
                .ok_or_else(|| format!("There is no managed template {name}."))?;
            let params = parameters(f.get("parameters"))?;
            Ok((None, Some(t.arn(ctx.part.region.as_str())), params))
        }
        _ => {
            let doc = f
                .opt("document")
                .ok_or("Type the job document (a JSON object).")?;
            Ok((Some(doc.to_string()), None, BTreeMap::new()))
        }
    }
}

/// A managed template's `documentParameters`: a JSON object of strings (empty: none).
fn parameters(text: &str) -> Result<BTreeMap<String, String>, String> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    serde_json::from_str(text).map_err(|_| {
        "The parameters must be a JSON object of strings, such as {\"services\": \"cron\"}.".into()
    })
}

/// CreateJob's input from the form, as `shoal-api`'s CreateJob builds it.
fn create_input(ctx: &Ctx<'_>, f: &Form) -> Result<CreateJob, String> {
    let job_id = JobId::parse(f.get("job_id")).map_err(|e| e.message)?;
    let (document, job_template_arn, document_parameters) = document(ctx, f)?;
    let target_selection = match f.opt("target_selection") {
        None => None,
        Some(t) => Some(
            TargetSelection::parse(t)
                .ok_or_else(|| format!("{t} is not SNAPSHOT or CONTINUOUS."))?,
        ),
    };
    Ok(CreateJob {
        job_id,
        targets: targets(ctx, f)?,
        document,
        document_source: None,
        description: f.opt("description").map(str::to_string),
        target_selection,
        config: config(f)?,
        job_template_arn,
        document_parameters,
    })
}

async fn create(ctx: &Ctx<'_>) -> Page {
    let f = &ctx.form;
    let input = match create_input(ctx, f) {
        Ok(i) => i,
        Err(m) => return new_form(ctx, f, Some(&m), StatusCode::BAD_REQUEST),
    };
    match ctx.deps.jobs.create_job(&ctx.part, input).await {
        Ok(job) => after_change(
            &format!("/console/jobs/{}", url(&job.job_id)),
            Ok(format!("Job {} created.", job.job_id)),
        ),
        Err(e) => new_form(ctx, f, Some(&e.message), StatusCode::BAD_REQUEST),
    }
}

/// Shoal's rollout preview (what `POST /shoal/rollout-preview` answers): the waves of things
/// the job would reach, and when, under its rollout and abort settings; nothing is created.
fn preview(ctx: &Ctx<'_>) -> Page {
    let f = &ctx.form;
    let planned = targets(ctx, f).and_then(|t| Ok((t, config(f)?)));
    let (targets, config) = match planned {
        Ok(p) => p,
        Err(m) => return new_form(ctx, f, Some(&m), StatusCode::BAD_REQUEST),
    };
    match ctx.deps.jobs.preview(&ctx.part, &targets, &config) {
        Ok(p) => render_form(ctx, f, None, &preview_html(&p), StatusCode::OK),
        Err(e) => new_form(ctx, f, Some(&e.message), StatusCode::BAD_REQUEST),
    }
}

fn preview_html(p: &Preview) -> String {
    let mut h = format!(
        "<section id=\"preview\"><h2>Rollout preview</h2><p id=\"preview-count\">The job would reach {} things in {} waves{}.</p>",
        p.targets,
        p.waves.len(),
        if p.never_released > 0 {
            format!("; {} would never be notified (the schedule ends first)", p.never_released)
        } else {
            String::new()
        }
    );
    let rows: Vec<Vec<String>> = p
        .waves
        .iter()
        .take(PREVIEW_ROWS)
        .enumerate()
        .map(|(n, w)| {
            let mut things: Vec<String> =
                w.things.iter().take(PREVIEW_ROWS).map(|t| esc(t)).collect();
            if w.things.len() > PREVIEW_ROWS {
                things.push(format!("… and {} more", w.things.len() - PREVIEW_ROWS));
            }
            vec![
                (n + 1).to_string(),
                html::time(w.wave.at),
                w.wave.rate.map_or("no limit".into(), |r| r.to_string()),
                w.wave.count.to_string(),
                things.join(", "),
            ]
        })
        .collect();
    h.push_str(&html::table(
        "preview-waves",
        &["Wave", "Starts", "Per minute", "Things", "Which"],
        &rows,
    ));
    if p.waves.len() > PREVIEW_ROWS {
        let _ = write!(
            h,
            "<p>… and {} more waves.</p>",
            p.waves.len() - PREVIEW_ROWS
        );
    }
    for a in &p.abort {
        let from = match a.from {
            Some((wave, at)) => format!("from wave {wave} ({})", html::time(at)),
            None => "never: the rollout does not get that far".into(),
        };
        let _ = write!(
            h,
            "<p class=\"abort\">Abort when {} ≥ {} % of at least {} executed things: {}.</p>",
            esc(&a.failure_type),
            a.threshold_percentage,
            a.min_executed,
            from
        );
    }
    h.push_str("</section>");
    h
}

// ---- A job's page ---------------------------------------------------------------------------

/// DescribeJob, the document and the executions, with the live part the page's script
/// refreshes every 3 seconds.
fn show(ctx: &Ctx<'_>, id: &str) -> Page {
    let (job, details) = match ctx.deps.jobs.describe_job(&ctx.part, id) {
        Ok(d) => d,
        Err(e) => return failure(ctx, &format!("Job {id}"), &e),
    };
    let mut body = notice_of(ctx);
    body.push_str(&definition(ctx, &job));
    let _ = write!(
        body,
        "<div id=\"job-live\" data-live=\"3\"><p>Status: <b id=\"job-status\">{}</b></p>{}{}</div>",
        esc(job.status.as_str()),
        progress(&details),
        executions(ctx, id),
    );
    let _ = write!(
        body,
        "<h2>Document</h2><pre id=\"job-document\">{}</pre>",
        esc(&pretty(&job.document))
    );
    if !ctx.session.read_only {
        body.push_str(&actions(ctx, &job));
    }
    ctx.page(&format!("Job {}", job.job_id), "jobs", &body)
}

/// A JSON text indented (as it is when it does not parse).
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

fn definition(ctx: &Ctx<'_>, job: &Job) -> String {
    let targets: Vec<String> = job.targets.iter().map(|t| target_link(t)).collect();
    let mut rows = vec![
        ("Job ARN", esc(&ctx.part.arn("job", &job.job_id))),
        ("Targets", targets.join(", ")),
        ("Target selection", esc(job.target_selection.as_str())),
        ("Created", html::time(job.created_at)),
        ("Last updated", html::time(job.last_updated_at)),
    ];
    let optional = [
        ("Description", job.description.clone()),
        ("Template", job.job_template_arn.clone()),
        ("Reason code", job.reason_code.clone()),
        ("Comment", job.comment.clone()),
        ("Completed", job.completed_at.map(html::time)),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            rows.push((k, esc(&v)));
        }
    }
    if !job.document_parameters.is_empty() {
        let p = serde_json::to_string(&job.document_parameters).unwrap_or_default();
        rows.push(("Document parameters", esc(&p)));
    }
    if job.force_canceled {
        rows.push(("Force canceled", "yes".into()));
    }
    let config = serde_json::to_string(&job.config).unwrap_or_default();
    if config != "{}" {
        rows.push(("Configuration", format!("<code>{}</code>", esc(&config))));
    }
    let mut h = String::from("<table id=\"job\"><tbody>");
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    h.push_str("</tbody></table>");
    h
}

/// A target ARN as a link to its thing's or group's page.
fn target_link(arn: &str) -> String {
    let (section, name) = match (arn.split_once(":thing/"), arn.split_once(":thinggroup/")) {
        (Some((_, n)), _) => ("devices", n),
        (_, Some((_, n))) => ("groups", n),
        _ => return esc(arn),
    };
    format!(
        "<a href=\"/console/{section}/{}\" title=\"{}\">{}</a>",
        url(name),
        esc(arn),
        esc(name)
    )
}

/// The execution overview: one bar per status (DescribeJob's jobProcessDetails) and the share
/// of executions that ended.
fn progress(d: &ProcessDetails) -> String {
    use ExecutionStatus as S;
    let parts = [
        ("Succeeded", d.count(S::Succeeded), "succeeded"),
        ("Failed", d.count(S::Failed), "failed"),
        ("Rejected", d.count(S::Rejected), "rejected"),
        ("Canceled", d.count(S::Canceled), "canceled"),
        ("Removed", d.count(S::Removed), "removed"),
        ("Timed out", d.count(S::TimedOut), "timed_out"),
        ("Queued", d.count(S::Queued), "queued"),
        ("In progress", d.count(S::InProgress), "in_progress"),
    ];
    let total: u64 = parts.iter().map(|p| p.1).sum();
    format!(
        "<p id=\"job-percent\">Progress: {} %</p>{}",
        percent(d.executed(), total),
        html::progress("job-progress", &parts)
    )
}

/// Ended executions as a whole percentage of all, rounded down (100 only when all ended).
fn percent(ended: u64, total: u64) -> u64 {
    (ended * 100).checked_div(total).unwrap_or(0)
}

/// ListJobExecutionsForJob, 50 a page.
fn executions(ctx: &Ctx<'_>, id: &str) -> String {
    let next = ctx.query.opt("next");
    match ctx.deps.jobs.list_for_job(&ctx.part, id, None, next, PAGE) {
        Ok(page) => {
            let rows: Vec<Vec<String>> = page.items.iter().map(execution_row).collect();
            let mut h = html::table(
                "executions",
                &[
                    "Thing",
                    "Status",
                    "Execution",
                    "Queued",
                    "Started",
                    "Last updated",
                    "Details",
                ],
                &rows,
            );
            h.push_str(&html::pager(
                &format!("/console/jobs/{}", url(id)),
                &[],
                page.next_token.as_deref(),
            ));
            h
        }
        Err(e) => html::notice("error", &e.message),
    }
}

fn execution_row(e: &Execution) -> Vec<String> {
    let details: Vec<String> = e
        .status_details
        .iter()
        .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
        .collect();
    vec![
        format!(
            "<a href=\"/console/devices/{}\">{}</a>",
            url(&e.thing_name),
            esc(&e.thing_name)
        ),
        format!(
            "<span class=\"status {}\">{}</span>",
            esc(&e.status.as_str().to_ascii_lowercase()),
            esc(e.status.as_str())
        ),
        e.execution_number.to_string(),
        html::time(e.queued_at),
        e.started_at.map(html::time).unwrap_or_default(),
        html::time(e.last_updated_at),
        details.join(", "),
    ]
}

/// Cancel (while the job runs) and Delete forms.
fn actions(ctx: &Ctx<'_>, job: &Job) -> String {
    let base = format!("/console/jobs/{}", url(&job.job_id));
    let csrf = html::csrf_field(&ctx.session.csrf);
    let mut h = String::from("<h2>Actions</h2>");
    if !matches!(
        job.status,
        JobStatus::Completed | JobStatus::DeletionInProgress
    ) {
        let _ = write!(
            h,
            "<form method=\"post\" action=\"{}/cancel\" class=\"box\" id=\"cancel-job\">{csrf}\
             <label>Reason code <input type=\"text\" name=\"reason_code\" pattern=\"[A-Z0-9_]*\" maxlength=\"128\"></label>\
             <label>Comment <input type=\"text\" name=\"comment\" maxlength=\"2028\"></label>\
             <label><input type=\"checkbox\" name=\"force\" value=\"true\"> Force: cancel executions in progress too</label>\
             <button type=\"submit\" class=\"danger\">Cancel job</button></form>",
            esc(&base)
        );
    }
    let _ = write!(
        h,
        "<form method=\"post\" action=\"{}/delete\" class=\"box\" id=\"delete-job\">{csrf}\
         <label><input type=\"checkbox\" name=\"force\" value=\"true\"> Force: delete a job that has not ended, with its executions</label>\
         <button type=\"submit\" class=\"danger\">Delete job</button></form>",
        esc(&base)
    );
    h
}

fn force(f: &Form) -> bool {
    matches!(f.get("force"), "true" | "on" | "1")
}

/// CancelJob: its reason code checked as the API checks it.
async fn cancel(ctx: &Ctx<'_>, id: &str) -> Page {
    let f = &ctx.form;
    let reason = f.opt("reason_code").map(str::to_string);
    if let Some(r) = &reason {
        if let Err(e) =
            shoal_domain::ids::check("reasonCode", r, 0, 128, "[\\p{Upper}\\p{Digit}_]+", |c| {
                c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
            })
        {
            return after_change(&job_path(id), Err(e.message));
        }
    }
    let comment = f.opt("comment").map(str::to_string);
    let outcome = ctx
        .deps
        .jobs
        .cancel_job(&ctx.part, id, force(f), reason, comment)
        .await
        .map(|_| format!("Job {id} canceled."))
        .map_err(|e| e.message);
    after_change(&job_path(id), outcome)
}

/// DeleteJob: back to the list when it went (or is going), to the job when refused.
async fn delete(ctx: &Ctx<'_>, id: &str) -> Page {
    match ctx
        .deps
        .jobs
        .delete_job(&ctx.part, id, force(&ctx.form))
        .await
    {
        Ok(()) => after_change("/console/jobs", Ok(format!("Job {id} deleted."))),
        Err(e) => after_change(&job_path(id), Err(e.message)),
    }
}

fn job_path(id: &str) -> String {
    format!("/console/jobs/{}", url(id))
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;
