//! The pages: `route` hands each section its requests (`/console/SECTION[/...]`); each
//! section's file renders its pages and carries out its forms' changes (POST, after the
//! CSRF and read-only checks in `lib.rs`).

pub mod alarms;
pub mod certificates;
pub mod device;
pub mod devices;
pub mod groups;
pub mod jobs;
pub mod login;
pub mod logs;
pub mod overview;
pub mod tunnels;

use crate::respond;
use crate::Ctx;
use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;

pub type Page = Response<Full<Bytes>>;

pub async fn route(ctx: &Ctx<'_>, method: &Method, rest: &str) -> Page {
    let (section, sub) = match rest.trim_start_matches('/').split_once('/') {
        Some((s, sub)) => (s, sub),
        None => (rest.trim_start_matches('/'), ""),
    };
    // Sub-paths arrive percent-encoded (a thing name may hold ':').
    let sub = percent_encoding::percent_decode_str(sub)
        .decode_utf8_lossy()
        .into_owned();
    match section {
        "" => respond::redirect("/console/devices"),
        "devices" => devices::handle(ctx, method, &sub).await,
        "groups" => groups::handle(ctx, method, &sub).await,
        "overview" => overview::handle(ctx, method, &sub).await,
        "jobs" => jobs::handle(ctx, method, &sub).await,
        "alarms" => alarms::handle(ctx, method, &sub).await,
        "logs" => logs::handle(ctx, method, &sub).await,
        "certificates" => certificates::handle(ctx, method, &sub).await,
        "tunnels" => tunnels::handle(ctx, method, &sub).await,
        _ => respond::not_found(),
    }
}

/// A change's outcome as a redirect back to a page with a notice (`ok=` or `error=`), so a
/// reload does not repeat the change (POST, then GET).
pub fn after_change(to: &str, outcome: Result<String, String>) -> Page {
    let (k, v) = match outcome {
        Ok(m) => ("ok", m),
        Err(m) => ("error", m),
    };
    let sep = if to.contains('?') { '&' } else { '?' };
    respond::redirect(&format!("{to}{sep}{k}={}", crate::html::url(&v)))
}

/// The notice a page shows after a change (`ok=` / `error=` in its query).
pub fn notice_of(ctx: &Ctx<'_>) -> String {
    if let Some(m) = ctx.query.opt("ok") {
        crate::html::notice("ok", m)
    } else if let Some(m) = ctx.query.opt("error") {
        crate::html::notice("error", m)
    } else {
        String::new()
    }
}
