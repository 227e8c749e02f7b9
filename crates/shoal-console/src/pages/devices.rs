//! Devices: the fleet at a glance and one device in full, as Fleet Hub shows them
//! (<https://docs.aws.amazon.com/iot/latest/fleethubuguide/aws-iot-monitor-technicians.html>).
//!
//! The list is the registry's ListThings page when no query is given (it needs no fleet
//! indexing) and SearchIndex on `AWS_Things` otherwise, in the fleet query language
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/query-syntax.html>). Either way one
//! page of 50 is read from the service and the next page is the service's own token, so the
//! page costs the same at a million things. Columns are paths into the search document
//! (`attributes.firmware`, `shadow.reported.temp`), picked by the user.
//!
//! A device's own page is `device.rs`; the pieces both files (and `groups.rs`) use are here.

use super::{after_change, device, notice_of, Page};
use crate::html::{self, esc, url};
use crate::{respond, Ctx};
use http::{HeaderValue, Method, StatusCode};
use serde_json::{json, Value};
use shoal_domain::fleet::fields::{thing_field, THINGS_INDEX};
use shoal_domain::thing::Thing;
use shoal_domain::ServiceError;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Rows per page of every list on these pages.
pub(super) const PAGE_SIZE: usize = 50;
/// Columns a user may add, and the length of each path: a bound on the work of one page.
const MAX_COLUMNS: usize = 12;
const MAX_COLUMN_LEN: usize = 256;

pub async fn handle(ctx: &Ctx<'_>, method: &Method, sub: &str) -> Page {
    // A thing name never holds '/' (`[a-zA-Z0-9:_-]+`), so the first '/' ends it.
    let (name, action) = sub.split_once('/').unwrap_or((sub, ""));
    match (method, name, action) {
        (&Method::GET, "", "") => list(ctx),
        (&Method::POST, "saved", "") => save_query(ctx),
        (&Method::GET, name, "") => device::page(ctx, name).await,
        (&Method::POST, name, "attributes") => device::set_attribute(ctx, name).await,
        (&Method::POST, name, "desired") => device::set_desired(ctx, name).await,
        (&Method::POST, name, "groups") => device::join_group(ctx, name).await,
        (&Method::POST, name, "revoke") => device::revoke(ctx, name).await,
        (&Method::POST, name, "tunnel") => device::open_tunnel(ctx, name).await,
        _ => respond::not_found(),
    }
}

// ---------------------------------------------------------------------------------------
// Pieces both section files use.

/// A page of the frame answered 404, for a thing or group that does not exist.
pub(super) fn missing(ctx: &Ctx<'_>, title: &str, section: &str, text: &str) -> Page {
    let body = html::notice("error", text);
    respond::html(
        StatusCode::NOT_FOUND,
        html::page(title, section, Some(&ctx.frame()), &body),
    )
}

/// A "more" link for a second list on one page (`html::pager` is the page's main list):
/// `base?key=TOKEN`, with its own element id.
pub(super) fn more_link(id: &str, base: &str, key: &str, token: Option<&str>) -> String {
    token.map_or_else(String::new, |t| {
        format!(
            "<p class=\"pager\"><a id=\"{}\" href=\"{}?{}={}\">More →</a></p>",
            esc(id),
            esc(base),
            esc(key),
            esc(&url(t))
        )
    })
}

/// Forms that change something are shown to sessions that may change things.
pub(super) fn can_change(ctx: &Ctx<'_>) -> bool {
    !ctx.session.read_only
}

/// A POST form with the session's CSRF token around `fields`.
pub(super) fn post_form(ctx: &Ctx<'_>, action: &str, id: &str, fields: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" class=\"box\" id=\"{}\">{}{fields}</form>",
        esc(action),
        esc(id),
        html::csrf_field(&ctx.session.csrf)
    )
}

/// The device page's address.
pub(super) fn device_href(name: &str) -> String {
    format!("/console/devices/{}", url(name))
}

/// The fields the thing index always knows (query-syntax page), for completion.
pub(super) const KNOWN_FIELDS: &[&str] = &[
    "thingName",
    "thingId",
    "thingTypeName",
    "thingGroupNames",
    "registry.version",
    "connectivity.connected",
    "connectivity.timestamp",
    "connectivity.disconnectReason",
    "connectivity.version",
    "shadow.version",
    "shadow.hasDelta",
];

/// `<datalist id="fields">` of field names.
pub(super) fn datalist(fields: &BTreeSet<String>) -> String {
    let mut h = String::from("<datalist id=\"fields\">");
    for f in fields {
        let _ = write!(h, "<option value=\"{}\">", esc(f));
    }
    h.push_str("</datalist>");
    h
}

// ---------------------------------------------------------------------------------------
// The list.

/// One page of things as search documents (the SearchIndex `ThingDocument` shape).
struct Found {
    docs: Vec<Value>,
    next: Option<String>,
}

fn list(ctx: &Ctx<'_>) -> Page {
    let q = ctx.query.get("q");
    let cols_raw = ctx.query.get("cols");
    let cols = columns(cols_raw);
    let next = ctx.query.opt("next");
    let found = if q.is_empty() {
        registry_page(ctx, next)
    } else {
        search_page(ctx, q, next)
    };
    let (found, error) = match found {
        Ok(f) => (f, String::new()),
        // A bad query or indexing turned off is the user's to fix: say why, keep the form.
        Err(e) => (
            Found {
                docs: Vec::new(),
                next: None,
            },
            html::notice("error", &e.message),
        ),
    };
    let mut body = notice_of(ctx);
    body.push_str(&error);
    body.push_str(&search_form(ctx, q, cols_raw, &found.docs));
    body.push_str(&saved_section(ctx, q));
    body.push_str(&devices_table(&found.docs, &cols));
    body.push_str(&html::pager(
        "/console/devices",
        &[("q", q), ("cols", cols_raw)],
        found.next.as_deref(),
    ));
    ctx.page("Devices", "devices", &body)
}

/// ListThings, one page; each thing as the document a search would give.
fn registry_page(ctx: &Ctx<'_>, next: Option<&str>) -> Result<Found, ServiceError> {
    let page = ctx.deps.registry.list_things(
        &ctx.part,
        &shoal_services::registry::ListThings {
            max_results: PAGE_SIZE,
            next_token: next.map(str::to_string),
            ..Default::default()
        },
    )?;
    Ok(Found {
        docs: page.items.iter().map(thing_document).collect(),
        next: page.next_token,
    })
}

/// A registry thing in SearchIndex's `ThingDocument` shape, so columns read both alike.
fn thing_document(t: &Thing) -> Value {
    let mut doc = json!({ "thingName": t.name, "thingId": t.id });
    if let Some(ty) = &t.type_name {
        doc["thingTypeName"] = json!(ty);
    }
    if !t.attributes.is_empty() {
        doc["attributes"] = json!(t.attributes);
    }
    let groups = t.all_groups();
    if !groups.is_empty() {
        doc["thingGroupNames"] = json!(groups);
    }
    doc["registry"] = json!({ "version": t.version });
    doc
}

/// SearchIndex on AWS_Things, one page, as the API's SearchIndex calls it.
fn search_page(ctx: &Ctx<'_>, q: &str, next: Option<&str>) -> Result<Found, ServiceError> {
    let page = ctx
        .deps
        .fleet
        .search(&ctx.part, THINGS_INDEX, q, next, PAGE_SIZE)?;
    Ok(Found {
        docs: page
            .documents
            .iter()
            .filter_map(|d| serde_json::from_slice(d).ok())
            .collect(),
        next: page.next_token,
    })
}

/// The `cols` parameter: comma-separated field paths, bounded in number and length.
fn columns(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() <= MAX_COLUMN_LEN)
        .take(MAX_COLUMNS)
        .map(str::to_string)
        .collect()
}

/// A field of a search document by its query path. Attribute names may hold dots, so all of
/// `attributes.` is the name; the `shadow` member is itself a JSON string (as SearchIndex
/// returns it) and is read inside.
fn field_value(doc: &Value, path: &str) -> Option<Value> {
    let path = thing_field(path).unwrap_or(path);
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    match head {
        "attributes" => doc.get("attributes")?.get(rest).cloned(),
        "shadow" => {
            let shadow: Value = serde_json::from_str(doc.get("shadow")?.as_str()?).ok()?;
            walk(&shadow, rest)
        }
        _ => walk(doc, path),
    }
}

fn walk(v: &Value, path: &str) -> Option<Value> {
    path.split('.')
        .filter(|k| !k.is_empty())
        .try_fold(v, |v, k| v.get(k))
        .cloned()
}

/// A value as cell text: strings as they are, lists joined, anything else as JSON.
fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn devices_table(docs: &[Value], cols: &[String]) -> String {
    let mut headers: Vec<&str> = vec!["Thing", "Type"];
    if cols.is_empty() {
        headers.push("Attributes");
    } else {
        headers.extend(cols.iter().map(String::as_str));
    }
    let rows: Vec<Vec<String>> = docs.iter().map(|d| device_row(d, cols)).collect();
    html::table("devices", &headers, &rows)
}

fn device_row(doc: &Value, cols: &[String]) -> Vec<String> {
    let name = doc["thingName"].as_str().unwrap_or_default();
    let mut row = vec![
        format!("<a href=\"{}\">{}</a>", esc(&device_href(name)), esc(name)),
        esc(doc["thingTypeName"].as_str().unwrap_or("")),
    ];
    if cols.is_empty() {
        row.push(esc(&attributes_summary(doc)));
    }
    for c in cols {
        row.push(esc(&field_value(doc, c)
            .map(|v| cell_text(&v))
            .unwrap_or_default()));
    }
    row
}

fn attributes_summary(doc: &Value) -> String {
    doc["attributes"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", cell_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Field names for completion: the index's fixed fields, the configuration's custom fields,
/// and the attribute and shadow names of the things on this page.
fn field_names(ctx: &Ctx<'_>, docs: &[Value]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = KNOWN_FIELDS.iter().map(|f| f.to_string()).collect();
    let cfg = ctx.deps.fleet.config(&ctx.part);
    out.extend(cfg.custom_fields.iter().map(|f| f.name.clone()));
    for doc in docs {
        if let Some(attrs) = doc["attributes"].as_object() {
            out.extend(attrs.keys().map(|k| format!("attributes.{k}")));
        }
        for section in ["reported", "desired"] {
            if let Some(Value::Object(m)) = field_value(doc, &format!("shadow.{section}")) {
                out.extend(m.keys().map(|k| format!("shadow.{section}.{k}")));
            }
        }
    }
    out
}

fn search_form(ctx: &Ctx<'_>, q: &str, cols: &str, docs: &[Value]) -> String {
    format!(
        "<form method=\"get\" action=\"/console/devices\" class=\"box\" id=\"search\">\
         <label>Query <input type=\"text\" name=\"q\" value=\"{}\" list=\"fields\" \
         placeholder=\"connectivity.connected:true AND shadow.reported.firmware &lt; 2\"></label>\
         <label>Columns <input type=\"text\" name=\"cols\" value=\"{}\" list=\"fields\" \
         placeholder=\"attributes.firmware,connectivity.connected\"></label>{}\
         <button type=\"submit\">Search</button> \
         <a href=\"/console/devices\">All devices</a></form>",
        esc(q),
        esc(cols),
        datalist(&field_names(ctx, docs))
    )
}

// ---------------------------------------------------------------------------------------
// Saved queries: a cookie of url-encoded `name=query` pairs (no store kind of the console's
// own), at most 20, the newest last.

const SAVED_COOKIE: &str = "shoal_saved";
const MAX_SAVED: usize = 20;
const MAX_SAVED_NAME: usize = 64;
/// Browsers keep about 4096 bytes per cookie; the oldest queries go first to stay under it.
const MAX_SAVED_BYTES: usize = 3800;

/// The saved queries in a request's `Cookie` header.
fn saved_from_cookies(header: &str) -> Vec<(String, String)> {
    let Some(value) = header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SAVED_COOKIE)
        .map(|(_, v)| v)
    else {
        return Vec::new();
    };
    crate::form::parse(value)
        .into_iter()
        .filter(|(n, q)| !n.is_empty() && !q.is_empty())
        .take(MAX_SAVED)
        .collect()
}

/// The cookie's value: every name and query percent-encoded, so it holds no `;`, `,` or
/// space a cookie may not.
fn saved_cookie_value(saved: &[(String, String)]) -> String {
    saved
        .iter()
        .map(|(n, q)| format!("{}={}", url(n), url(q)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `saved` with `name` set to `q` (an empty `q` removes it), bounded in count and size.
fn with_saved(mut saved: Vec<(String, String)>, name: &str, q: &str) -> Vec<(String, String)> {
    saved.retain(|(n, _)| n != name);
    if !q.is_empty() {
        saved.push((name.to_string(), q.to_string()));
    }
    while saved.len() > MAX_SAVED || saved_cookie_value(&saved).len() > MAX_SAVED_BYTES {
        saved.remove(0);
    }
    saved
}

fn set_saved_cookie(saved: &[(String, String)]) -> String {
    format!(
        "{SAVED_COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=31536000",
        saved_cookie_value(saved)
    )
}

/// The request's `Cookie` header. `Ctx` carries no request headers (`lib.rs` reads the
/// session cookie only), so until it does, saved queries are written but not read back.
fn request_cookies<'a>(ctx: &'a Ctx<'_>) -> &'a str {
    &ctx.cookies
}

fn saved_section(ctx: &Ctx<'_>, q: &str) -> String {
    let mut h = saved_list(&saved_from_cookies(request_cookies(ctx)));
    if can_change(ctx) && !q.is_empty() {
        h.push_str(&post_form(
            ctx,
            "/console/devices/saved",
            "save-query",
            &format!(
                "<input type=\"hidden\" name=\"q\" value=\"{}\">\
                 <label>Save this query as <input type=\"text\" name=\"name\" required maxlength=\"{MAX_SAVED_NAME}\"></label>\
                 <button type=\"submit\">Save query</button>",
                esc(q)
            ),
        ));
    }
    h
}

/// Links that run the saved queries.
fn saved_list(saved: &[(String, String)]) -> String {
    if saved.is_empty() {
        return String::new();
    }
    let mut h = String::from("<h2>Saved queries</h2><ul id=\"saved\">");
    for (name, q) in saved {
        let _ = write!(
            h,
            "<li><a href=\"/console/devices?q={}\" title=\"{}\">{}</a></li>",
            esc(&url(q)),
            esc(q),
            esc(name)
        );
    }
    h.push_str("</ul>");
    h
}

fn save_query(ctx: &Ctx<'_>) -> Page {
    let name = ctx.form.get("name");
    let q = ctx.form.get("q");
    let back = format!("/console/devices?q={}", url(q));
    if name.is_empty() || name.chars().count() > MAX_SAVED_NAME {
        let why = format!("A saved query needs a name of 1 to {MAX_SAVED_NAME} characters.");
        return after_change(&back, Err(why));
    }
    let saved = with_saved(saved_from_cookies(request_cookies(ctx)), name, q);
    let said = if q.is_empty() {
        format!("Saved query {name} removed.")
    } else {
        format!("Query saved as {name}.")
    };
    let mut r = after_change(&back, Ok(said));
    if let Ok(v) = HeaderValue::from_str(&set_saved_cookie(&saved)) {
        r.headers_mut().append(http::header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
#[path = "devices_tests.rs"]
pub(crate) mod tests;
