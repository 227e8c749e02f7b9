//! One device in full, as Fleet Hub's device page shows it
//! (<https://docs.aws.amazon.com/iot/latest/fleethubuguide/aws-iot-monitor-technicians.html>):
//! its registry record, groups, connectivity, certificates and their policies, shadows, job
//! executions and its recent log records, with the changes an operator makes from there (each a
//! POST answered by a redirect back to the page): attributes, desired state, a static group,
//! revoking a certificate, opening a tunnel.

use super::devices::{can_change, device_href, missing, more_link, post_form, PAGE_SIZE};
use super::{after_change, notice_of, Page};
use crate::html::{self, esc, url};
use crate::Ctx;
use serde_json::{json, Value};
use shoal_domain::identity::CertificateStatus;
use shoal_domain::shadow::{ShadowName, UpdateRequest};
use shoal_domain::thing::{AttributePayload, Thing, ThingUpdate};
use shoal_domain::{Arn, ErrorKind, ServiceError, ThingGroupName, ThingName, Timestamp};
use shoal_services::messaging::{MessageProps, StoredMessage};
use shoal_services::shadows::ShadowId;
use std::fmt::Write;

/// Named shadows shown on a device's page.
const NAMED_SHADOWS: usize = 10;

// ---------------------------------------------------------------------------------------
// One device.

pub(super) async fn page(ctx: &Ctx<'_>, name: &str) -> Page {
    let thing = match ThingName::parse(name).and_then(|n| {
        ctx.deps
            .registry
            .describe_thing(&ctx.part, &n)
            .map(|t| (n, t))
    }) {
        Ok(found) => found,
        Err(e) => return missing(ctx, name, "devices", &e.message),
    };
    let (name, t) = thing;
    let sections = [
        notice_of(ctx),
        summary(&t),
        attributes_section(ctx, &t),
        groups_section(ctx, &t),
        connectivity_section(ctx, &name),
        principals_section(ctx, &name),
        shadow_section(ctx, &name),
        named_shadows_section(ctx, &name),
        desired_form(ctx, &name),
        jobs_section(ctx, &name),
        logs_section(ctx, &name).await,
        tunnel_form(ctx, &name),
    ];
    ctx.page(&t.name, "devices", &sections.concat())
}

fn summary(t: &Thing) -> String {
    let mut h = String::from("<dl id=\"thing\">");
    let mut item = |k: &str, v: &str| {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    };
    item("Thing ID", &t.id);
    item("Type", t.type_name.as_deref().unwrap_or("—"));
    item("Version", &t.version.to_string());
    item("Created", &html::time(t.created));
    if let Some(b) = &t.billing_group {
        item("Billing group", b);
    }
    h.push_str("</dl>");
    h
}

fn attributes_section(ctx: &Ctx<'_>, t: &Thing) -> String {
    let rows: Vec<Vec<String>> = t
        .attributes
        .iter()
        .map(|(k, v)| vec![esc(k), esc(v)])
        .collect();
    let mut h = String::from("<h2>Attributes</h2>");
    h.push_str(&html::table("attributes", &["Name", "Value"], &rows));
    if can_change(ctx) {
        h.push_str(&post_form(
            ctx,
            &format!("{}/attributes", device_href(&t.name)),
            "edit-attribute",
            "<label>Name <input type=\"text\" name=\"name\" required></label>\
             <label>Value <input type=\"text\" name=\"value\" placeholder=\"empty removes the attribute\"></label>\
             <button type=\"submit\">Set attribute</button>",
        ));
    }
    h
}

fn groups_section(ctx: &Ctx<'_>, t: &Thing) -> String {
    let mut h = String::from("<h2>Groups</h2>");
    let name = ThingName::parse(&t.name);
    let page = name.and_then(|n| {
        ctx.deps.registry.list_thing_groups_for_thing(
            &ctx.part,
            &n,
            PAGE_SIZE,
            ctx.query.opt("groups_next"),
        )
    });
    match page {
        Ok(p) => {
            h.push_str(&group_list(t, &p.items));
            h.push_str(&more_link(
                "next-groups",
                &device_href(&t.name),
                "groups_next",
                p.next_token.as_deref(),
            ));
        }
        Err(e) => h.push_str(&html::notice("error", &e.message)),
    }
    if can_change(ctx) {
        h.push_str(&post_form(
            ctx,
            &format!("{}/groups", device_href(&t.name)),
            "add-group",
            "<label>Static group <input type=\"text\" name=\"group\" required></label>\
             <button type=\"submit\">Add to group</button>",
        ));
    }
    h
}

fn group_list(t: &Thing, groups: &[String]) -> String {
    if groups.is_empty() {
        return "<ul id=\"groups\"><li class=\"empty\">In no group.</li></ul>".into();
    }
    let mut h = String::from("<ul id=\"groups\">");
    for g in groups {
        let kind = if t.dynamic_groups.contains(g) {
            "dynamic"
        } else {
            "static"
        };
        let _ = write!(
            h,
            "<li><a href=\"/console/groups/{}\">{}</a> <small>{kind}</small></li>",
            esc(&url(g)),
            esc(g)
        );
    }
    h.push_str("</ul>");
    h
}

/// The device's last connect or disconnect, refreshed in place. AWS's default MQTT client id
/// of a thing is its name, so that is the connection looked up.
fn connectivity_section(ctx: &Ctx<'_>, name: &ThingName) -> String {
    let inner = match ctx.deps.messaging.connectivity(&ctx.part, name.as_str()) {
        Ok(Some(c)) => {
            let since = html::time(Timestamp(c.timestamp));
            let mut s = if c.connected {
                format!("<b class=\"state-OK\">Connected</b> since {since}")
            } else {
                format!("<b class=\"state-ALARM\">Disconnected</b> since {since}")
            };
            if let (false, Some(r)) = (c.connected, &c.disconnect_reason) {
                let _ = write!(s, " · reason {}", esc(r));
            }
            if let Some(ip) = &c.source_ip {
                let _ = write!(s, " · from {}", esc(ip));
            }
            s
        }
        Ok(None) => "Never connected.".into(),
        Err(e) => html::notice("error", &e.message),
    };
    format!("<h2>Connectivity</h2><p id=\"connectivity\" data-live=\"10\">{inner}</p>")
}

/// The certificate id of a principal that is a certificate ARN of this partition.
fn certificate_id(principal: &str) -> Option<String> {
    Arn::parse(principal)
        .ok()
        .filter(|a| a.resource_type == "cert")
        .map(|a| a.resource)
}

fn principals_section(ctx: &Ctx<'_>, name: &ThingName) -> String {
    let mut h = String::from("<h2>Certificates and policies</h2>");
    let page = ctx.deps.identity.list_thing_principals(
        &ctx.part,
        name,
        None,
        PAGE_SIZE,
        ctx.query.opt("principals_next"),
    );
    match page {
        Ok(p) => {
            let rows: Vec<Vec<String>> = p
                .items
                .iter()
                .map(|a| principal_row(ctx, name, &a.principal, a.kind.as_str()))
                .collect();
            h.push_str(&html::table(
                "principals",
                &["Principal", "Attachment", "Status", "Policies", ""],
                &rows,
            ));
            h.push_str(&more_link(
                "next-principals",
                &device_href(name.as_str()),
                "principals_next",
                p.next_token.as_deref(),
            ));
        }
        Err(e) => h.push_str(&html::notice("error", &e.message)),
    }
    h
}

fn principal_row(ctx: &Ctx<'_>, thing: &ThingName, principal: &str, kind: &str) -> Vec<String> {
    let policies = ctx
        .deps
        .identity
        .attached_policy_names(&ctx.part, principal)
        .map(|p| esc(&p.join(", ")))
        .unwrap_or_else(|e| esc(&e.message));
    let Some(id) = certificate_id(principal) else {
        return vec![
            esc(principal),
            esc(kind),
            String::new(),
            policies,
            String::new(),
        ];
    };
    let status = ctx.deps.identity.describe_certificate(&ctx.part, &id);
    let status = status.map(|c| c.status);
    let action = match status {
        Ok(s) if s != CertificateStatus::Revoked && can_change(ctx) => post_form(
            ctx,
            &format!("{}/revoke", device_href(thing.as_str())),
            &format!("revoke-{id}"),
            &format!(
                "<input type=\"hidden\" name=\"certificate_id\" value=\"{}\">\
                 <button type=\"submit\" class=\"danger\">Revoke</button>",
                esc(&id)
            ),
        ),
        _ => String::new(),
    };
    vec![
        format!(
            "<a href=\"/console/certificates/{}\">{}</a>",
            esc(&url(&id)),
            esc(&id)
        ),
        esc(kind),
        esc(status.map(|s| s.as_str()).unwrap_or("unknown")),
        policies,
        action,
    ]
}

pub(super) fn shadow_id(thing: &ThingName, name: Option<&str>) -> Result<ShadowId, ServiceError> {
    Ok(ShadowId {
        thing: thing.clone(),
        name: name.map(ShadowName::parse).transpose()?,
    })
}

/// A shadow's document (GetThingShadow) as its sections in pretty JSON.
fn shadow_block(ctx: &Ctx<'_>, id: &ShadowId, element_id: &str) -> String {
    let doc = match ctx.deps.shadows.get(&ctx.part, id, None) {
        Ok(d) => d,
        Err(e) if e.kind == ErrorKind::NotFound => {
            return format!(
                "<p class=\"empty\" id=\"{}\">No shadow.</p>",
                esc(element_id)
            )
        }
        Err(e) => return html::notice("error", &e.message),
    };
    let mut h = format!(
        "<div id=\"{}\" class=\"shadow\"><p>Version {}</p>",
        esc(element_id),
        esc(&doc["version"].to_string())
    );
    for section in ["desired", "reported", "delta"] {
        if let Some(v) = doc["state"].get(section) {
            let _ = write!(h, "<h3>{section}</h3>{}", pretty(v));
        }
    }
    if let Some(m) = doc.get("metadata") {
        let _ = write!(h, "<h3>metadata</h3>{}", pretty(m));
    }
    h.push_str("</div>");
    h
}

fn pretty(v: &Value) -> String {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    format!("<pre>{}</pre>", esc(&text))
}

fn shadow_section(ctx: &Ctx<'_>, name: &ThingName) -> String {
    let block = match shadow_id(name, None) {
        Ok(id) => shadow_block(ctx, &id, "shadow"),
        Err(e) => html::notice("error", &e.message),
    };
    format!("<h2>Classic shadow</h2>{block}")
}

fn named_shadows_section(ctx: &Ctx<'_>, name: &ThingName) -> String {
    let mut h = String::from("<h2>Named shadows</h2><div id=\"named-shadows\">");
    match ctx
        .deps
        .shadows
        .list_named(&ctx.part, name, None, NAMED_SHADOWS)
    {
        Ok((names, next)) => {
            if names.is_empty() {
                h.push_str("<p class=\"empty\">None.</p>");
            }
            for n in &names {
                let _ = write!(h, "<h3>{}</h3>", esc(n));
                match shadow_id(name, Some(n)) {
                    Ok(id) => h.push_str(&shadow_block(ctx, &id, &format!("shadow-{n}"))),
                    Err(e) => h.push_str(&html::notice("error", &e.message)),
                }
            }
            if next.is_some() {
                let _ = write!(
                    h,
                    "<p class=\"empty\">The first {NAMED_SHADOWS} named shadows are shown.</p>"
                );
            }
        }
        Err(e) => h.push_str(&html::notice("error", &e.message)),
    }
    h.push_str("</div>");
    h
}

fn desired_form(ctx: &Ctx<'_>, name: &ThingName) -> String {
    if !can_change(ctx) {
        return String::new();
    }
    post_form(
        ctx,
        &format!("{}/desired", device_href(name.as_str())),
        "update-desired",
        "<label>Shadow <input type=\"text\" name=\"shadow\" placeholder=\"empty: the classic shadow\"></label>\
         <label>Desired state (a JSON object; null removes a key) \
         <textarea name=\"desired\" required placeholder=\"{&quot;firmware&quot;: &quot;1.2.0&quot;}\"></textarea></label>\
         <button type=\"submit\">Update desired state</button>",
    )
}

fn jobs_section(ctx: &Ctx<'_>, name: &ThingName) -> String {
    let mut h = String::from("<h2>Jobs</h2>");
    let page = ctx.deps.jobs.list_for_thing(
        &ctx.part,
        name.as_str(),
        &Default::default(),
        ctx.query.opt("jobs_next"),
        PAGE_SIZE,
    );
    match page {
        Ok(p) => {
            let rows: Vec<Vec<String>> = p
                .items
                .iter()
                .map(|e| {
                    vec![
                        format!(
                            "<a href=\"/console/jobs/{}\">{}</a>",
                            esc(&url(&e.job_id)),
                            esc(&e.job_id)
                        ),
                        esc(e.status.as_str()),
                        e.execution_number.to_string(),
                        html::time(e.queued_at),
                        html::time(e.last_updated_at),
                    ]
                })
                .collect();
            h.push_str(&html::table(
                "jobs",
                &["Job", "Status", "Execution", "Queued", "Last updated"],
                &rows,
            ));
            h.push_str(&more_link(
                "next-jobs",
                &device_href(name.as_str()),
                "jobs_next",
                p.next_token.as_deref(),
            ));
        }
        Err(e) => h.push_str(&html::notice("error", &e.message)),
    }
    h
}

/// How far back the page looks for the device's log records, and how many it shows (the
/// newest of at most `RECENT_SCAN` matching records): a bounded read, whatever the fleet
/// logs.
const RECENT_WINDOW_MS: i64 = 60 * 60 * 1000;
const RECENT_SHOWN: usize = 10;
const RECENT_SCAN: usize = 1_000;

/// The device's recent records from AWSIotLogsV2 (AWS IoT v2 log entries carry the client id
/// and, for shadow and job events, the thing name), read as FilterLogEvents reads them, and a
/// Logs Insights query for all of them.
async fn logs_section(ctx: &Ctx<'_>, name: &ThingName) -> String {
    let q = format!(
        "fields @timestamp, eventType, status, topic | filter clientId = \"{name}\" or thingName = \"{name}\" | sort @timestamp desc | limit 100"
    );
    let mut h = String::from("<h2>Logs</h2>");
    let now = ctx.deps.logs.clock().now().millis();
    let req = shoal_services::logging::FilterRequest {
        group: shoal_services::logging::V2_GROUP.to_string(),
        start: Some(now - RECENT_WINDOW_MS),
        pattern: Some(format!(
            "{{ ($.clientId = \"{name}\") || ($.thingName = \"{name}\") }}"
        )),
        limit: Some(RECENT_SCAN),
        ..Default::default()
    };
    match ctx.deps.logs.filter_events(&ctx.part, req).await {
        Ok(page) if !page.events.is_empty() => {
            let rows: Vec<Vec<String>> = page
                .events
                .iter()
                .rev()
                .take(RECENT_SHOWN)
                .map(|e| {
                    let mut m: String = e.message.chars().take(300).collect();
                    if m.len() < e.message.len() {
                        m.push('…');
                    }
                    vec![
                        esc(&html::time(Timestamp(e.timestamp))),
                        format!("<code>{}</code>", esc(&m)),
                    ]
                })
                .collect();
            h.push_str(&html::table("recent-logs", &["Time", "Record"], &rows));
        }
        // No record in the last hour, or no log group yet (logging never turned on).
        _ => h.push_str("<p class=\"empty\" id=\"recent-logs\">No log records of this device in the last hour.</p>"),
    }
    let _ = write!(
        h,
        "<p><a id=\"logs\" href=\"/console/logs?q={}\">All its log records in Logs Insights</a></p>",
        esc(&url(&q))
    );
    h
}

fn tunnel_form(ctx: &Ctx<'_>, name: &ThingName) -> String {
    if !can_change(ctx) {
        return String::new();
    }
    format!(
        "<h2>Secure tunneling</h2>{}",
        post_form(
            ctx,
            &format!("{}/tunnel", device_href(name.as_str())),
            "open-tunnel",
            "<button type=\"submit\">Open an SSH tunnel</button>",
        )
    )
}

// ---------------------------------------------------------------------------------------
// Changes from the device page: each a POST, answered by a redirect back to the page.

/// UpdateThing with `merge`: one attribute set, or removed by an empty value, as the
/// UpdateThing page says ("To remove an attribute, call UpdateThing with an empty attribute
/// value"). <https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateThing.html>
pub(super) async fn set_attribute(ctx: &Ctx<'_>, name: &str) -> Page {
    let key = ctx.form.get("name");
    let value = ctx.form.get("value");
    let outcome = async {
        if key.is_empty() {
            return Err(ServiceError::invalid("An attribute needs a name."));
        }
        let thing = ThingName::parse(name)?;
        let upd = ThingUpdate {
            attributes: Some(AttributePayload {
                attributes: [(key.to_string(), value.to_string())].into(),
                merge: true,
            }),
            ..Default::default()
        };
        ctx.deps.registry.update_thing(&ctx.part, &thing, upd).await
    }
    .await;
    let said = if value.is_empty() {
        format!("Attribute {key} removed.")
    } else {
        format!("Attribute {key} set to {value}.")
    };
    after_change(
        &device_href(name),
        outcome.map(|_| said).map_err(|e| e.message),
    )
}

/// The `desired` field as UpdateThingShadow's request: it must be a JSON object.
fn desired_request(text: &str) -> Result<UpdateRequest, ServiceError> {
    let desired: Value = serde_json::from_str(text)
        .map_err(|e| ServiceError::invalid(format!("The desired state is not JSON: {e}")))?;
    if !desired.is_object() {
        return Err(ServiceError::invalid(
            "The desired state must be a JSON object.",
        ));
    }
    UpdateRequest::parse(
        json!({ "state": { "desired": desired } })
            .to_string()
            .as_bytes(),
    )
}

/// UpdateThingShadow with a desired section, and its answers published on the shadow's
/// topics (`/update/accepted`, `/update/delta`, `/update/documents`) as the REST call does,
/// so the device hears the delta.
/// <https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-rest-api.html>
pub(super) async fn set_desired(ctx: &Ctx<'_>, name: &str) -> Page {
    let outcome = async {
        let thing = ThingName::parse(name)?;
        let id = shadow_id(&thing, ctx.form.opt("shadow"))?;
        let req = desired_request(ctx.form.get("desired"))?;
        let applied = ctx.deps.shadows.update(&ctx.part, &id, &req).await?;
        let prefix = id.topic_prefix();
        for (suffix, doc) in applied.answers() {
            let message = StoredMessage {
                topic: format!("{prefix}/update/{suffix}"),
                qos: 1,
                payload: doc.to_vec(),
                props: MessageProps::default(),
                published_at: ctx.deps.messaging.now(),
            };
            ctx.deps
                .messaging
                .publish(ctx.part.clone(), message, false)
                .await?;
        }
        Ok::<_, ServiceError>(applied.shadow.version)
    }
    .await;
    after_change(
        &device_href(name),
        outcome
            .map(|v| format!("Desired state updated (shadow version {v})."))
            .map_err(|e| e.message),
    )
}

/// AddThingToThingGroup. <https://docs.aws.amazon.com/iot/latest/apireference/API_AddThingToThingGroup.html>
pub(super) async fn join_group(ctx: &Ctx<'_>, name: &str) -> Page {
    let group = ctx.form.get("group");
    let outcome = async {
        let thing = ThingName::parse(name)?;
        let g = ThingGroupName::parse(group)?;
        ctx.deps
            .registry
            .add_thing_to_thing_group(&ctx.part, &thing, &g)
            .await
    }
    .await;
    after_change(
        &device_href(name),
        outcome
            .map(|_| format!("Added to group {group}."))
            .map_err(|e| e.message),
    )
}

/// Whether `thing` is attached to the certificate ARN `principal` (ListPrincipalThings, page
/// by page: a certificate is attached to few things).
fn attached(ctx: &Ctx<'_>, thing: &str, principal: &str) -> Result<bool, ServiceError> {
    let mut token: Option<String> = None;
    loop {
        let page = ctx.deps.identity.list_principal_things(
            &ctx.part,
            principal,
            None,
            250,
            token.as_deref(),
        )?;
        if page.items.iter().any(|a| a.thing == thing) {
            return Ok(true);
        }
        match page.next_token {
            Some(t) => token = Some(t),
            None => return Ok(false),
        }
    }
}

/// UpdateCertificate to REVOKED, for a certificate attached to this device only: the form
/// is the device's, so it may not reach another device's certificate.
/// <https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateCertificate.html>
pub(super) async fn revoke(ctx: &Ctx<'_>, name: &str) -> Page {
    let id = ctx.form.get("certificate_id");
    let outcome = async {
        let principal = ctx.part.arn("cert", id);
        if id.is_empty() || !attached(ctx, name, &principal)? {
            return Err(ServiceError::invalid(format!(
                "Certificate {id} is not attached to {name}."
            )));
        }
        ctx.deps
            .identity
            .update_certificate(&ctx.part, id, CertificateStatus::Revoked)
            .await
    }
    .await;
    after_change(
        &device_href(name),
        outcome
            .map(|_| format!("Certificate {id} revoked."))
            .map_err(|e| e.message),
    )
}

/// OpenTunnel to the device's SSH service; the device is told its destination token on
/// `$aws/things/NAME/tunnels/notify`, and the answer shows the tokens this once.
/// <https://docs.aws.amazon.com/iot/latest/apireference/API_iot-secure-tunneling_OpenTunnel.html>
pub(super) async fn open_tunnel(ctx: &Ctx<'_>, name: &str) -> Page {
    let outcome = async {
        let thing = ThingName::parse(name)?;
        // The thing must exist: OpenTunnel itself does not ask, but a tunnel to no device is
        // no use from its page.
        ctx.deps.registry.describe_thing(&ctx.part, &thing)?;
        let req = shoal_services::tunnels::OpenRequest {
            description: Some(format!("Opened from the console for {name}")),
            destination: Some(shoal_domain::tunnels::DestinationConfig {
                thing_name: Some(name.to_string()),
                services: vec!["SSH".into()],
            }),
            ..Default::default()
        };
        ctx.deps.tunnels.open(&ctx.part, req).await
    }
    .await;
    match outcome {
        Ok(tokens) => super::tunnels::opened_page(ctx, &tokens),
        Err(e) => after_change(&device_href(name), Err(e.message)),
    }
}
