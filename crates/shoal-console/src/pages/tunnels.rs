//! Tunnels.

use super::Page;
use crate::Ctx;
use http::Method;

pub async fn handle(ctx: &Ctx<'_>, method: &Method, sub: &str) -> Page {
    let _ = (method, sub);
    ctx.page(
        "Tunnels",
        "tunnels",
        "<p class=\"empty\">This page is not built yet.</p>",
    )
}
