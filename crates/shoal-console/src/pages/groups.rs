//! Groups: static thing groups as their hierarchy and dynamic groups with their queries
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/thing-groups.html>,
//! <https://docs.aws.amazon.com/iot/latest/developerguide/dynamic-thing-groups.html>), and a
//! group's page with its members, paged by ListThingsInThingGroup: for a dynamic group that
//! is its live membership, as the fleet index keeps it.

use super::devices::{
    can_change, datalist, device_href, missing, more_link, post_form, KNOWN_FIELDS, PAGE_SIZE,
};
use super::{after_change, notice_of, Page};
use crate::html::{self, esc, url};
use crate::{respond, Ctx};
use http::Method;
use shoal_domain::thing_group::ThingGroup;
use shoal_domain::{ServiceError, ThingGroupName};
use shoal_services::fleet::DynamicSpec;
use shoal_services::registry::{CreateThingGroup, ListThingGroups};
use std::fmt::Write;

/// Subgroups shown under each root group of the list; the rest are on the group's page.
const CHILDREN_SHOWN: usize = 20;

pub async fn handle(ctx: &Ctx<'_>, method: &Method, sub: &str) -> Page {
    // A group name never holds '/' (`[a-zA-Z0-9:_-]+`), so the first '/' ends it.
    let (name, action) = sub.split_once('/').unwrap_or((sub, ""));
    match (method, name, action) {
        (&Method::GET, "", "") => list(ctx),
        (&Method::POST, "dynamic", "") => create_dynamic(ctx).await,
        (&Method::POST, "static", "") => create_static(ctx).await,
        (&Method::GET, name, "") => group(ctx, name),
        (&Method::POST, name, "delete") => delete(ctx, name).await,
        _ => respond::not_found(),
    }
}

fn group_href(name: &str) -> String {
    format!("/console/groups/{}", url(name))
}

fn group_link(name: &str) -> String {
    format!("<a href=\"{}\">{}</a>", esc(&group_href(name)), esc(name))
}

/// ListThingGroups, one page.
fn groups_page(
    ctx: &Ctx<'_>,
    parent: Option<&ThingGroupName>,
    limit: usize,
    next: Option<&str>,
) -> Result<shoal_services::registry::Page<ThingGroup>, ServiceError> {
    ctx.deps.registry.list_thing_groups(
        &ctx.part,
        &ListThingGroups {
            parent_group: parent.cloned(),
            // Without a parent, `recursive=false` asks for root groups only.
            recursive: Some(false),
            max_results: limit,
            next_token: next.map(str::to_string),
            ..Default::default()
        },
    )
}

// ---------------------------------------------------------------------------------------
// The list: root groups, one page at a time, each with its first subgroups.

fn list(ctx: &Ctx<'_>) -> Page {
    let mut body = notice_of(ctx);
    match groups_page(ctx, None, PAGE_SIZE, ctx.query.opt("next")) {
        Ok(p) => {
            let rows: Vec<Vec<String>> = p.items.iter().map(|g| group_row(ctx, g)).collect();
            body.push_str(&html::table(
                "groups",
                &["Group", "Kind", "Query or description", "Subgroups"],
                &rows,
            ));
            body.push_str(&html::pager(
                "/console/groups",
                &[],
                p.next_token.as_deref(),
            ));
        }
        Err(e) => body.push_str(&html::notice("error", &e.message)),
    }
    if can_change(ctx) {
        body.push_str(&create_forms(ctx));
    }
    ctx.page("Groups", "groups", &body)
}

fn group_row(ctx: &Ctx<'_>, g: &ThingGroup) -> Vec<String> {
    let (kind, about) = match &g.dynamic {
        Some(d) => ("dynamic", format!("<code>{}</code>", esc(&d.query_string))),
        None => ("static", esc(g.description.as_deref().unwrap_or(""))),
    };
    vec![group_link(&g.name), kind.into(), about, subgroups(ctx, g)]
}

/// A static group's first subgroups as a nested list (a dynamic group has none).
fn subgroups(ctx: &Ctx<'_>, g: &ThingGroup) -> String {
    if g.dynamic.is_some() {
        return String::new();
    }
    let Ok(name) = ThingGroupName::parse(&g.name) else {
        return String::new();
    };
    match groups_page(ctx, Some(&name), CHILDREN_SHOWN, None) {
        Ok(p) if p.items.is_empty() => String::new(),
        Ok(p) => {
            let mut h = String::from("<ul class=\"children\">");
            for c in &p.items {
                let _ = write!(h, "<li>{}</li>", group_link(&c.name));
            }
            if p.next_token.is_some() {
                let _ = write!(
                    h,
                    "<li><a href=\"{}\">more…</a></li>",
                    esc(&group_href(&g.name))
                );
            }
            h.push_str("</ul>");
            h
        }
        Err(e) => esc(&e.message),
    }
}

fn create_forms(ctx: &Ctx<'_>) -> String {
    let fields = KNOWN_FIELDS.iter().map(|f| f.to_string()).collect();
    let dynamic = post_form(
        ctx,
        "/console/groups/dynamic",
        "create-dynamic",
        &format!(
            "<h2>New dynamic group</h2>\
             <label>Name <input type=\"text\" name=\"name\" required></label>\
             <label>Query <input type=\"text\" name=\"queryString\" list=\"fields\" required \
             placeholder=\"shadow.reported.firmware:1.0.0\"></label>{}\
             <label>Description <input type=\"text\" name=\"description\"></label>\
             <button type=\"submit\">Create dynamic group</button>",
            datalist(&fields)
        ),
    );
    let fixed = post_form(
        ctx,
        "/console/groups/static",
        "create-static",
        "<h2>New static group</h2>\
         <label>Name <input type=\"text\" name=\"name\" required></label>\
         <label>Parent <input type=\"text\" name=\"parent\" placeholder=\"none: a root group\"></label>\
         <label>Description <input type=\"text\" name=\"description\"></label>\
         <button type=\"submit\">Create static group</button>",
    );
    format!("{fixed}{dynamic}")
}

fn new_group(
    name: ThingGroupName,
    parent: Option<ThingGroupName>,
    ctx: &Ctx<'_>,
) -> CreateThingGroup {
    CreateThingGroup {
        name,
        parent,
        description: ctx.form.opt("description").map(str::to_string),
        attributes: Default::default(),
        tags: Vec::new(),
        dynamic: None,
    }
}

/// CreateThingGroup. <https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThingGroup.html>
async fn create_static(ctx: &Ctx<'_>) -> Page {
    let outcome = async {
        let name = ThingGroupName::parse(ctx.form.get("name"))?;
        let parent = ctx
            .form
            .opt("parent")
            .map(ThingGroupName::parse)
            .transpose()?;
        let req = new_group(name, parent, ctx);
        ctx.deps.registry.create_thing_group(&ctx.part, req).await
    }
    .await;
    created(outcome)
}

/// CreateDynamicThingGroup on AWS_Things: fleet indexing must be on and the query must parse.
/// <https://docs.aws.amazon.com/iot/latest/apireference/API_CreateDynamicThingGroup.html>
async fn create_dynamic(ctx: &Ctx<'_>) -> Page {
    let outcome = async {
        let name = ThingGroupName::parse(ctx.form.get("name"))?;
        let query = ctx.form.get("queryString");
        if query.is_empty() {
            return Err(ServiceError::invalid("A dynamic group needs a query."));
        }
        let spec = DynamicSpec {
            query_string: query.to_string(),
            index_name: None,
            query_version: None,
        };
        let req = new_group(name, None, ctx);
        ctx.deps
            .fleet
            .create_dynamic_group(&ctx.part, req, spec)
            .await
    }
    .await;
    created(outcome)
}

/// To the new group's page, or back to the list with the refusal.
fn created(outcome: Result<ThingGroup, ServiceError>) -> Page {
    match outcome {
        Ok(g) => after_change(
            &group_href(&g.name),
            Ok(format!("Group {} created.", g.name)),
        ),
        Err(e) => after_change("/console/groups", Err(e.message)),
    }
}

// ---------------------------------------------------------------------------------------
// One group.

fn group(ctx: &Ctx<'_>, name: &str) -> Page {
    let found = ThingGroupName::parse(name).and_then(|n| {
        ctx.deps
            .registry
            .describe_thing_group(&ctx.part, &n)
            .map(|g| (n, g))
    });
    let (name, g) = match found {
        Ok(f) => f,
        Err(e) => return missing(ctx, name, "groups", &e.message),
    };
    let sections = [
        notice_of(ctx),
        about(ctx, &g),
        children(ctx, &name, &g),
        members(ctx, &name, &g),
        delete_form(ctx, &g),
    ];
    ctx.page(&g.name, "groups", &sections.concat())
}

fn about(ctx: &Ctx<'_>, g: &ThingGroup) -> String {
    let mut h = String::from("<dl id=\"group\">");
    let mut item = |k: &str, v: String| {
        let _ = write!(h, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    };
    item("ARN", esc(&ctx.part.arn("thinggroup", &g.name)));
    item("Description", esc(g.description.as_deref().unwrap_or("—")));
    item("Version", g.version.to_string());
    item("Created", esc(&html::time(g.creation_date)));
    match &g.dynamic {
        Some(d) => {
            item("Kind", "dynamic".into());
            item(
                "Query",
                format!("<code id=\"query\">{}</code>", esc(&d.query_string)),
            );
            item("Index", esc(&d.index_name));
            item("Membership", esc(&d.status));
        }
        None => {
            item("Kind", "static".into());
            let path: Vec<String> = g.root_to_parent.iter().map(|p| group_link(p)).collect();
            let parent = if path.is_empty() {
                "— (a root group)".to_string()
            } else {
                path.join(" › ")
            };
            item("Parent", parent);
        }
    }
    h.push_str("</dl>");
    h
}

fn children(ctx: &Ctx<'_>, name: &ThingGroupName, g: &ThingGroup) -> String {
    if g.dynamic.is_some() {
        return String::new();
    }
    let mut h = String::from("<h2>Subgroups</h2>");
    match groups_page(ctx, Some(name), PAGE_SIZE, ctx.query.opt("children_next")) {
        Ok(p) if p.items.is_empty() => h.push_str("<p class=\"empty\" id=\"children\">None.</p>"),
        Ok(p) => {
            h.push_str("<ul id=\"children\">");
            for c in &p.items {
                let _ = write!(h, "<li>{}</li>", group_link(&c.name));
            }
            h.push_str("</ul>");
            h.push_str(&more_link(
                "next-children",
                &group_href(&g.name),
                "children_next",
                p.next_token.as_deref(),
            ));
        }
        Err(e) => h.push_str(&html::notice("error", &e.message)),
    }
    h
}

/// ListThingsInThingGroup, one page; a static group's subgroups' things with `recursive=1`.
fn members(ctx: &Ctx<'_>, name: &ThingGroupName, g: &ThingGroup) -> String {
    let recursive = g.dynamic.is_none() && ctx.query.get("recursive") == "1";
    let mut h = String::from("<h2>Members</h2>");
    h.push_str(&members_links(g, recursive));
    let page = ctx.deps.registry.list_things_in_thing_group(
        &ctx.part,
        name,
        recursive,
        PAGE_SIZE,
        ctx.query.opt("next"),
    );
    match page {
        Ok(p) => {
            let rows: Vec<Vec<String>> = p
                .items
                .iter()
                .map(|t| {
                    vec![format!(
                        "<a href=\"{}\">{}</a>",
                        esc(&device_href(t)),
                        esc(t)
                    )]
                })
                .collect();
            h.push_str(&html::table("members", &["Thing"], &rows));
            h.push_str(&html::pager(
                &group_href(&g.name),
                &[("recursive", if recursive { "1" } else { "" })],
                p.next_token.as_deref(),
            ));
        }
        Err(e) => h.push_str(&html::notice("error", &e.message)),
    }
    h
}

/// The members' other views: with subgroups (static groups), and as a device search where
/// the user picks columns (needs fleet indexing).
fn members_links(g: &ThingGroup, recursive: bool) -> String {
    let search = format!(
        "/console/devices?q={}",
        url(&format!("thingGroupNames:{}", g.name))
    );
    let mut h = format!(
        "<p><a id=\"search-members\" href=\"{}\">Search these devices</a>",
        esc(&search)
    );
    if g.dynamic.is_none() {
        let (label, q) = if recursive {
            ("Direct members only", "")
        } else {
            ("Include subgroups' things", "?recursive=1")
        };
        let _ = write!(
            h,
            " · <a id=\"recursive\" href=\"{}{q}\">{label}</a>",
            esc(&group_href(&g.name))
        );
    }
    h.push_str("</p>");
    h
}

fn delete_form(ctx: &Ctx<'_>, g: &ThingGroup) -> String {
    if !can_change(ctx) {
        return String::new();
    }
    post_form(
        ctx,
        &format!("{}/delete", group_href(&g.name)),
        "delete-group",
        "<button type=\"submit\" class=\"danger\">Delete this group</button>",
    )
}

/// DeleteThingGroup or DeleteDynamicThingGroup, as the group is.
async fn delete(ctx: &Ctx<'_>, name: &str) -> Page {
    let outcome = async {
        let n = ThingGroupName::parse(name)?;
        let g = ctx.deps.registry.describe_thing_group(&ctx.part, &n)?;
        if g.dynamic.is_some() {
            ctx.deps
                .fleet
                .delete_dynamic_group(&ctx.part, &n, None)
                .await
        } else {
            ctx.deps
                .registry
                .delete_thing_group(&ctx.part, &n, None)
                .await
        }
    }
    .await;
    match outcome {
        Ok(()) => after_change("/console/groups", Ok(format!("Group {name} deleted."))),
        Err(e) => after_change(&group_href(name), Err(e.message)),
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
