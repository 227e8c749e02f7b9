//! Tunnels: secure tunnels to devices, listed, opened (with their access tokens shown once),
//! described and closed (OpenTunnel, ListTunnels, DescribeTunnel, CloseTunnel:
//! https://docs.aws.amazon.com/iot/latest/developerguide/secure-tunneling.html), and how to
//! a terminal to the device in the page (`crate::terminal`), or a local proxy.

use super::{after_change, notice_of, Page};
use crate::html::{self, esc, notice, url};
use crate::{respond, Ctx};
use http::Method;
use shoal_domain::error::Result;
use shoal_domain::tunnels::{DestinationConfig, Tunnel, TunnelStatus};
use shoal_domain::{ErrorKind, ServiceError, Timestamp};
use shoal_services::tunnels::{OpenRequest, Tokens};
use std::fmt::Write;

const PAGE_SIZE: i64 = 50;
/// The service the form offers first: tunnels are mostly for SSH, as AWS's quick setup
/// assumes (https://docs.aws.amazon.com/iot/latest/developerguide/tunneling-tutorial-quick-setup.html).
const DEFAULT_SERVICE: &str = "SSH";
/// AWS's default `maxLifetimeTimeoutMinutes` (12 hours), also its largest.
const DEFAULT_MINUTES: i64 = 720;
/// The port the source proxy listens on in the instructions.
const LOCAL_PORT: u16 = 5555;

pub async fn handle(ctx: &Ctx<'_>, method: &Method, sub: &str) -> Page {
    match (method, sub.split_once('/')) {
        (&Method::GET, None) if sub.is_empty() => list(ctx),
        (&Method::POST, None) if sub.is_empty() => open(ctx).await,
        (&Method::GET, None) => detail(ctx, sub),
        (&Method::POST, Some((id, "close"))) => close(ctx, id).await,
        _ => respond::not_found(),
    }
}

fn time(ms: i64) -> String {
    html::time(Timestamp(ms))
}

fn thing_of(t: &Tunnel) -> Option<&str> {
    t.destination_config
        .as_ref()
        .and_then(|d| d.thing_name.as_deref())
}

fn thing_link(t: &Tunnel) -> String {
    thing_of(t)
        .map(|n| format!("<a href=\"/console/devices/{}\">{}</a>", url(n), esc(n)))
        .unwrap_or_default()
}

/// ListTunnels, newest first, 50 a page.
fn list(ctx: &Ctx<'_>) -> Page {
    let next = ctx.query.opt("next");
    let mut body = notice_of(ctx);
    match ctx
        .deps
        .tunnels
        .list(&ctx.part, None, Some(PAGE_SIZE), next)
    {
        Ok((tunnels, more)) => {
            body.push_str(&tunnel_table(&tunnels));
            body.push_str(&html::pager("/console/tunnels", &[], more.as_deref()));
        }
        Err(e) => body.push_str(&notice("error", &e.message)),
    }
    if !ctx.session.read_only {
        body.push_str(&open_form(ctx));
    }
    ctx.page("Tunnels", "tunnels", &body)
}

fn tunnel_table(tunnels: &[Tunnel]) -> String {
    let rows: Vec<Vec<String>> = tunnels
        .iter()
        .map(|t| {
            vec![
                format!(
                    "<a href=\"/console/tunnels/{}\"><code>{}</code></a>",
                    url(&t.id),
                    esc(&t.id)
                ),
                esc(t.status.as_str()),
                thing_link(t),
                esc(&t.services().join(", ")),
                esc(&time(t.created_at)),
            ]
        })
        .collect();
    html::table(
        "tunnels",
        &["Tunnel", "Status", "Thing", "Services", "Created"],
        &rows,
    )
}

fn open_form(ctx: &Ctx<'_>) -> String {
    format!(
        "<h2>Open a tunnel</h2><form method=\"post\" action=\"/console/tunnels\" class=\"box\" id=\"open\">{}\
         <label>Thing name <input type=\"text\" name=\"thing_name\" maxlength=\"128\" required></label>\
         <label>Services <input type=\"text\" name=\"services\" value=\"{DEFAULT_SERVICE}\"></label>\
         <p class=\"hint\">One to three, separated by commas.</p>\
         <label>Timeout (minutes) <input type=\"number\" name=\"timeout_minutes\" min=\"1\" max=\"{DEFAULT_MINUTES}\" value=\"{DEFAULT_MINUTES}\"></label>\
         <button type=\"submit\">Open tunnel</button></form>",
        html::csrf_field(&ctx.session.csrf)
    )
}

/// OpenTunnel's request from the form; the service checks names, services and the lifetime.
fn open_request(ctx: &Ctx<'_>) -> Result<OpenRequest> {
    let services: Vec<String> = ctx
        .form
        .get("services")
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let lifetime = match ctx.form.opt("timeout_minutes") {
        None => None,
        Some(m) => Some(m.parse::<i64>().map_err(|_| {
            ServiceError::invalid(format!("The timeout {m} is not a number of minutes"))
        })?),
    };
    Ok(OpenRequest {
        destination: Some(DestinationConfig {
            thing_name: ctx.form.opt("thing_name").map(str::to_string),
            services,
        }),
        lifetime_minutes: lifetime,
        ..OpenRequest::default()
    })
}

/// Opens the tunnel and answers with its page and both tokens, once: they must not go in a
/// URL (a redirect would put them in the history and logs), and the service keeps only their
/// hashes, so this response is the only place they appear (as OpenTunnel's answer is on AWS).
async fn open(ctx: &Ctx<'_>) -> Page {
    let opened = async { ctx.deps.tunnels.open(&ctx.part, open_request(ctx)?).await };
    match opened.await {
        Ok(tokens) => opened_page(ctx, &tokens),
        Err(e) => after_change("/console/tunnels", Err(e.message)),
    }
}

/// The answer to a POST that opened a tunnel (here or from a device's page): the tokens,
/// shown this once and never put in a URL, and the tunnel.
pub(super) fn opened_page(ctx: &Ctx<'_>, tokens: &Tokens) -> Page {
    match ctx.deps.tunnels.describe(&ctx.part, &tokens.id) {
        Ok(tunnel) => {
            let mut body = notice("ok", "The tunnel is open.");
            body.push_str(&tokens_section(tokens));
            body.push_str(&detail_body(ctx, &tunnel, tokens.source.as_deref()));
            ctx.page("Tunnel", "tunnels", &body)
        }
        Err(e) => after_change("/console/tunnels", Err(e.message)),
    }
}

fn tokens_section(t: &Tokens) -> String {
    let token = |s: &Option<String>| esc(s.as_deref().unwrap_or(""));
    format!(
        "<section id=\"tokens\"><h2>Access tokens</h2>{}\
         <p>Source token (for the local proxy at your desk):</p><pre id=\"source-token\">{}</pre>\
         <p>Destination token (already sent to the thing on <code>$aws/things/THING/tunnels/notify</code>):</p><pre id=\"destination-token\">{}</pre></section>",
        notice(
            "error",
            "Copy these tokens now: they are shown only this once. Shoal keeps only their hashes; new ones come from rotating them (RotateTunnelAccessToken)."
        ),
        token(&t.source),
        token(&t.destination)
    )
}

/// DescribeTunnel; never the tokens.
fn detail(ctx: &Ctx<'_>, id: &str) -> Page {
    match ctx.deps.tunnels.describe(&ctx.part, id) {
        Ok(t) => {
            let mut body = notice_of(ctx);
            body.push_str(&detail_body(ctx, &t, None));
            ctx.page("Tunnel", "tunnels", &body)
        }
        Err(e) if e.kind == ErrorKind::NotFound => respond::not_found(),
        Err(e) => ctx.page("Tunnel", "tunnels", &notice("error", &e.message)),
    }
}

fn detail_body(ctx: &Ctx<'_>, t: &Tunnel, source_token: Option<&str>) -> String {
    let mut h = summary(t);
    if t.status == TunnelStatus::Open && !ctx.session.read_only {
        let _ = write!(
            h,
            "<form method=\"post\" action=\"/console/tunnels/{}/close\" class=\"inline\" id=\"close\">{}<button class=\"danger\">Close tunnel</button></form>",
            url(&t.id),
            html::csrf_field(&ctx.session.csrf)
        );
    }
    h.push_str(&terminal(ctx, t, source_token));
    h
}

fn connection(connected: bool) -> &'static str {
    if connected {
        "CONNECTED"
    } else {
        "DISCONNECTED"
    }
}

fn summary(t: &Tunnel) -> String {
    let rows = [
        (
            "ID",
            format!("<code id=\"tunnel-id\">{}</code>", esc(&t.id)),
        ),
        ("ARN", format!("<code>{}</code>", esc(&t.arn))),
        (
            "Status",
            format!("<span id=\"status\">{}</span>", esc(t.status.as_str())),
        ),
        ("Thing", thing_link(t)),
        ("Services", esc(&t.services().join(", "))),
        ("Description", esc(t.description.as_deref().unwrap_or(""))),
        ("Created", esc(&time(t.created_at))),
        ("Last updated", esc(&time(t.last_updated_at))),
        (
            "Timeout",
            format!(
                "{} minutes (until {})",
                t.lifetime_minutes,
                esc(&time(t.closes_at()))
            ),
        ),
        ("Source", connection(t.source.connected).to_string()),
        (
            "Destination",
            connection(t.destination.connected).to_string(),
        ),
    ];
    let mut h = String::from("<table id=\"tunnel\"><tbody>");
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    h.push_str("</tbody></table>");
    h
}

/// The terminal: a shell on the device in the page, with Shoal as the tunnel's source (see
/// `crate::terminal`). The form's credentials go over the terminal's WebSocket, never in a
/// form post or a URL; `token` is the source access token when this page has it (just after
/// opening), otherwise Shoal rotates the source token. A local proxy works as well, as in AWS's
/// tutorial (https://docs.aws.amazon.com/iot/latest/developerguide/tunneling-tutorial-manual-setup.html).
fn terminal(ctx: &Ctx<'_>, t: &Tunnel, source_token: Option<&str>) -> String {
    let service = t.services().first().map_or(DEFAULT_SERVICE, String::as_str);
    let commands = format!(
        "export AWSIOT_TUNNEL_ACCESS_TOKEN=SOURCE_TOKEN\n\
         shoal-localproxy -e $SHOAL_TUNNEL_ENDPOINT -c $SHOAL_CA_FILE -s {service}={LOCAL_PORT}\n\
         # or AWS's local proxy:\n\
         localproxy -e $SHOAL_TUNNEL_ENDPOINT -c CA_DIR -s {service}={LOCAL_PORT}\n\
         ssh -p {LOCAL_PORT} USER@127.0.0.1"
    );
    let local = format!(
        "<details><summary>From your computer instead</summary><p>Run a local proxy in source mode with the source access token (<code>shoal env</code> prints <code>SHOAL_TUNNEL_ENDPOINT</code> and <code>SHOAL_CA_FILE</code>):</p><pre>{}</pre></details>",
        esc(&commands)
    );
    let mut h = String::from("<section id=\"terminal\"><h2>Terminal</h2>");
    if t.status != TunnelStatus::Open {
        h.push_str("<p class=\"empty\">The tunnel is closed.</p></section>");
        return h;
    }
    if ctx.session.read_only {
        let _ = write!(
            h,
            "<p class=\"empty\">A read-only key cannot open a terminal.</p>{local}</section>"
        );
        return h;
    }
    let options: String = if t.services().is_empty() {
        "<option value=\"\">(the tunnel's only service)</option>".to_string()
    } else {
        t.services()
            .iter()
            .map(|s| format!("<option>{}</option>", esc(s)))
            .collect()
    };
    let _ = write!(
        h,
        "<form id=\"terminal-form\" class=\"box\" data-tunnel=\"{id}\" autocomplete=\"off\">{csrf}\
         <label>Service <select name=\"service\" id=\"term-service\">{options}</select></label>\
         <label>User <input type=\"text\" name=\"user\" id=\"term-user\" maxlength=\"256\" required></label>\
         <label>Password <input type=\"password\" name=\"password\" id=\"term-password\"></label>\
         <label>Private key <textarea name=\"key\" id=\"term-key\" placeholder=\"-----BEGIN OPENSSH PRIVATE KEY-----\"></textarea></label>\
         <label>Key passphrase <input type=\"password\" name=\"passphrase\" id=\"term-passphrase\"></label>\
         <label>Source access token <input type=\"password\" name=\"token\" id=\"term-token\" value=\"{token}\"></label>\
         <p class=\"hint\">Empty: Shoal rotates the source token (RotateTunnelAccessToken), which disconnects any other source.</p>\
         <label>Host key fingerprint <input type=\"text\" name=\"fingerprint\" id=\"term-fingerprint\" placeholder=\"SHA256:...\"></label>\
         <p class=\"hint\">Optional: when given, Shoal logs in only if the device's host key has it.</p>\
         <button type=\"submit\" id=\"term-connect\">Connect</button> <button type=\"button\" id=\"term-disconnect\" class=\"danger\">Disconnect</button></form>\
         <p id=\"term-status\" class=\"hint\">Not connected.</p>\
         <pre id=\"term-screen\" class=\"screen\" tabindex=\"0\"></pre>{local}</section>",
        id = esc(&t.id),
        csrf = html::csrf_field(&ctx.session.csrf),
        token = esc(source_token.unwrap_or("")),
    );
    h
}

/// CloseTunnel: the tunnel stays listed as CLOSED a while, as on AWS.
async fn close(ctx: &Ctx<'_>, id: &str) -> Page {
    let back = format!("/console/tunnels/{}", url(id));
    let outcome = ctx
        .deps
        .tunnels
        .close(&ctx.part, id, false)
        .await
        .map(|()| "The tunnel is closed.".to_string())
        .map_err(|e| e.message);
    after_change(&back, outcome)
}

#[cfg(test)]
#[path = "tunnels_tests.rs"]
mod tests;
