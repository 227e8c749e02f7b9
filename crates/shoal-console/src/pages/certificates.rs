//! Certificates: the account's device certificates with their expiry, those about to expire,
//! the registered CA certificates, and one certificate's validity, PEM, things and policies
//! with a form to change its status (ListCertificates, ListCACertificates,
//! DescribeCertificate, ListPrincipalThings, ListAttachedPolicies, UpdateCertificate:
//! https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html).

use super::{after_change, notice_of, Page};
use crate::html::{self, esc, notice, url};
use crate::{respond, Ctx};
use http::Method;
use shoal_domain::error::Result;
use shoal_domain::identity::{Certificate, CertificateStatus};
use shoal_domain::{ErrorKind, Timestamp};
use std::fmt::Write;

const PAGE_SIZE: usize = 50;
/// What "expiring soon" means here: the window the AWS IoT Device Defender audit check
/// DEVICE_CERTIFICATE_EXPIRING_CHECK uses
/// (https://docs.aws.amazon.com/iot-device-defender/latest/devguide/device-certificate-expiring-check.html).
const EXPIRING_DAYS: i64 = 30;
const DAY_SECS: i64 = 86_400;
/// The statuses UpdateCertificate takes from a person (the others are AWS's own states).
const SETTABLE: [&str; 3] = ["ACTIVE", "INACTIVE", "REVOKED"];

pub async fn handle(ctx: &Ctx<'_>, method: &Method, sub: &str) -> Page {
    match (method, sub.split_once('/')) {
        (&Method::GET, None) if sub.is_empty() => list(ctx),
        (&Method::GET, None) => detail(ctx, sub),
        (&Method::POST, Some((id, "status"))) => set_status(ctx, id).await,
        _ => respond::not_found(),
    }
}

fn now_secs(ctx: &Ctx<'_>) -> i64 {
    ctx.deps.logs.clock().now().secs()
}

/// A certificate time (`notBefore`/`notAfter` are epoch seconds).
fn date(secs: i64) -> String {
    html::time(Timestamp::from_secs(secs))
}

fn cert_link(id: &str) -> String {
    format!(
        "<a href=\"/console/certificates/{}\"><code>{}</code></a>",
        url(id),
        esc(&id.chars().take(12).collect::<String>())
    )
}

/// A page of certificates sorted by expiry, the expiring ones among them, and the CAs.
///
/// The service lists certificates by creation date only (its store index is the creation
/// time, as ListCertificates' `ascendingOrder` is); ordering a whole fleet by `notAfter` would
/// need an index on it, which it does not keep. So each page of 50 is sorted by expiry within
/// itself, and the expiring section covers that page: the page says so.
fn list(ctx: &Ctx<'_>) -> Page {
    let next = ctx.query.opt("next");
    let page = match ctx
        .deps
        .identity
        .list_certificates(&ctx.part, None, false, PAGE_SIZE, next)
    {
        Ok(p) => p,
        Err(e) => return ctx.page("Certificates", "certificates", &notice("error", &e.message)),
    };
    let mut certs = page.items;
    certs.sort_by(|a, b| a.not_after.cmp(&b.not_after).then(a.id.cmp(&b.id)));
    let now = now_secs(ctx);
    let mut body = notice_of(ctx);
    body.push_str(&expiring_section(&certs, now));
    body.push_str("<h2>Device certificates</h2><p class=\"hint\">Newest first by creation, 50 a page; each page is sorted by expiry.</p>");
    body.push_str(&cert_table(&certs, now));
    body.push_str(&html::pager(
        "/console/certificates",
        &[],
        page.next_token.as_deref(),
    ));
    body.push_str(&ca_section(ctx));
    ctx.page("Certificates", "certificates", &body)
}

/// How far the expiry is from `now`, in whole days.
fn expiry_text(not_after: i64, now: i64) -> String {
    if not_after <= now {
        return format!("expired {} days ago", (now - not_after) / DAY_SECS);
    }
    match (not_after - now) / DAY_SECS {
        0 => "expires within a day".into(),
        d => format!("in {d} days"),
    }
}

/// The certificates on the page that are still in use (not revoked) and expire within
/// `EXPIRING_DAYS`, or already did.
fn expiring_section(certs: &[Certificate], now: i64) -> String {
    let soon: Vec<&Certificate> = certs
        .iter()
        .filter(|c| c.status != CertificateStatus::Revoked)
        .filter(|c| c.not_after <= now + EXPIRING_DAYS * DAY_SECS)
        .collect();
    let rows: Vec<Vec<String>> = soon
        .iter()
        .map(|c| {
            vec![
                cert_link(&c.id),
                esc(c.status.as_str()),
                esc(&date(c.not_after)),
                esc(&expiry_text(c.not_after, now)),
            ]
        })
        .collect();
    format!(
        "<h2>Expiring in the next {EXPIRING_DAYS} days</h2><p class=\"hint\">Among the certificates on this page, revoked ones left out.</p>{}",
        html::table("expiring", &["Certificate", "Status", "Expires", ""], &rows)
    )
}

fn cert_table(certs: &[Certificate], now: i64) -> String {
    let rows: Vec<Vec<String>> = certs
        .iter()
        .map(|c| {
            vec![
                cert_link(&c.id),
                esc(c.status.as_str()),
                esc(&html::time(c.created)),
                format!(
                    "{} <small>({})</small>",
                    esc(&date(c.not_after)),
                    esc(&expiry_text(c.not_after, now))
                ),
                c.ca_id.as_deref().map(cert_id_short).unwrap_or_default(),
            ]
        })
        .collect();
    html::table(
        "certificates",
        &[
            "Certificate",
            "Status",
            "Created",
            "Expires (notAfter)",
            "CA",
        ],
        &rows,
    )
}

fn cert_id_short(id: &str) -> String {
    format!(
        "<code>{}</code>",
        esc(&id.chars().take(12).collect::<String>())
    )
}

/// ListCACertificates, paged on its own (`ca_next`) so both lists page independently.
fn ca_section(ctx: &Ctx<'_>) -> String {
    let next = ctx.query.opt("ca_next");
    let page = match ctx
        .deps
        .identity
        .list_ca_certificates(&ctx.part, PAGE_SIZE, next)
    {
        Ok(p) => p,
        Err(e) => return notice("error", &e.message),
    };
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|c| {
            vec![
                cert_id_short(&c.id),
                esc(c.status.as_str()),
                esc(c.mode()),
                esc(&html::time(c.created)),
                esc(&date(c.not_after)),
            ]
        })
        .collect();
    let mut h = String::from("<h2>CA certificates</h2>");
    h.push_str(&html::table(
        "cas",
        &["CA certificate", "Status", "Mode", "Created", "Expires"],
        &rows,
    ));
    if let Some(t) = page.next_token {
        let _ = write!(
            h,
            "<p class=\"pager\"><a id=\"next-ca-page\" href=\"/console/certificates?ca_next={}\">Next CA certificates →</a></p>",
            esc(&url(&t))
        );
    }
    h
}

/// DescribeCertificate with the things and policies attached to it.
fn detail(ctx: &Ctx<'_>, id: &str) -> Page {
    let cert = match ctx.deps.identity.describe_certificate(&ctx.part, id) {
        Ok(c) => c,
        Err(e) if e.kind == ErrorKind::NotFound => return respond::not_found(),
        Err(e) => return ctx.page("Certificate", "certificates", &notice("error", &e.message)),
    };
    let arn = ctx.part.arn("cert", &cert.id);
    let mut body = notice_of(ctx);
    body.push_str(&summary(&cert, &arn, now_secs(ctx)));
    if !ctx.session.read_only {
        body.push_str(&status_form(ctx, &cert));
    }
    body.push_str(&things_section(ctx, &cert.id, &arn));
    body.push_str(&policies_section(ctx, &arn));
    let _ = write!(body, "<h2>PEM</h2><pre id=\"pem\">{}</pre>", esc(&cert.pem));
    ctx.page("Certificate", "certificates", &body)
}

fn summary(c: &Certificate, arn: &str, now: i64) -> String {
    let rows = [
        ("ID", format!("<code>{}</code>", esc(&c.id))),
        ("ARN", format!("<code>{}</code>", esc(arn))),
        (
            "Status",
            format!("<span id=\"status\">{}</span>", esc(c.status.as_str())),
        ),
        ("Created", esc(&html::time(c.created))),
        ("Valid from (notBefore)", esc(&date(c.not_before))),
        (
            "Valid until (notAfter)",
            format!(
                "<span id=\"not-after\">{}</span> ({})",
                esc(&date(c.not_after)),
                esc(&expiry_text(c.not_after, now))
            ),
        ),
        ("Subject", esc(&c.subject)),
        ("Issuer", esc(&c.issuer)),
        (
            "CA",
            esc(c.ca_id.as_deref().unwrap_or("(Shoal's root or none)")),
        ),
    ];
    let mut h = String::from("<table id=\"certificate\"><tbody>");
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    h.push_str("</tbody></table>");
    h
}

fn status_form(ctx: &Ctx<'_>, c: &Certificate) -> String {
    let mut options = String::new();
    for s in SETTABLE {
        let sel = if s == c.status.as_str() {
            " selected"
        } else {
            ""
        };
        let _ = write!(options, "<option{sel}>{s}</option>");
    }
    format!(
        "<form method=\"post\" action=\"/console/certificates/{}/status\" class=\"box\" id=\"set-status\">{}\
         <label>Status <select name=\"status\">{options}</select></label>\
         <p class=\"hint\">A revoked certificate cannot be made active again; devices using an inactive or revoked one are disconnected.</p>\
         <button type=\"submit\">Set status</button></form>",
        url(&c.id),
        html::csrf_field(&ctx.session.csrf)
    )
}

/// ListPrincipalThings, 50 a page.
fn things_section(ctx: &Ctx<'_>, id: &str, arn: &str) -> String {
    let next = ctx.query.opt("next");
    let page = match ctx
        .deps
        .identity
        .list_principal_things(&ctx.part, arn, None, PAGE_SIZE, next)
    {
        Ok(p) => p,
        Err(e) => return notice("error", &e.message),
    };
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|a| {
            vec![
                format!(
                    "<a href=\"/console/devices/{}\">{}</a>",
                    url(&a.thing),
                    esc(&a.thing)
                ),
                esc(a.kind.as_str()),
            ]
        })
        .collect();
    let base = format!("/console/certificates/{}", url(id));
    format!(
        "<h2>Things</h2>{}{}",
        html::table("things", &["Thing", "Attachment"], &rows),
        html::pager(&base, &[], page.next_token.as_deref())
    )
}

/// ListAttachedPolicies answers in one page: AWS allows at most 10 policies per certificate
/// (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#limits_iot).
fn policies_section(ctx: &Ctx<'_>, arn: &str) -> String {
    let names: Result<Vec<String>> = ctx
        .deps
        .identity
        .list_attached_policies(&ctx.part, arn, false);
    let names = match names {
        Ok(n) => n,
        Err(e) => return notice("error", &e.message),
    };
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|n| vec![format!("<code>{}</code>", esc(n))])
        .collect();
    format!(
        "<h2>Policies</h2>{}",
        html::table("policies", &["Policy"], &rows)
    )
}

/// UpdateCertificate (https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateCertificate.html).
async fn set_status(ctx: &Ctx<'_>, id: &str) -> Page {
    let back = format!("/console/certificates/{}", url(id));
    let wanted = ctx.form.get("status");
    if !SETTABLE.contains(&wanted) {
        return after_change(&back, Err(format!("{wanted} is not a status to set")));
    }
    let outcome = match CertificateStatus::parse(wanted) {
        Ok(s) => ctx
            .deps
            .identity
            .update_certificate(&ctx.part, id, s)
            .await
            .map(|c| format!("The certificate is {}.", c.status.as_str()))
            .map_err(|e| e.message),
        Err(e) => Err(e.message),
    };
    after_change(&back, outcome)
}

#[cfg(test)]
#[path = "certificates_tests.rs"]
mod tests;
