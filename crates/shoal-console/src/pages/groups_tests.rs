//! The groups list (hierarchy, dynamic queries, paging), a group's page with its members,
//! and the forms that create and delete groups.

use super::*;
use crate::pages::devices::tests::{
    decoded, device_links, element, index_on, next_page, table, thing,
};
use crate::testkit::Kit;
use shoal_domain::ThingName;

async fn static_group(k: &Kit, name: &str, parent: Option<&str>, description: Option<&str>) {
    let req = CreateThingGroup {
        name: ThingGroupName::parse(name).unwrap(),
        parent: parent.map(|p| ThingGroupName::parse(p).unwrap()),
        description: description.map(str::to_string),
        attributes: Default::default(),
        tags: Vec::new(),
        dynamic: None,
    };
    k.registry.create_thing_group(&k.part, req).await.unwrap();
}

async fn join(k: &Kit, thing: &str, group: &str) {
    k.registry
        .add_thing_to_thing_group(
            &k.part,
            &ThingName::parse(thing).unwrap(),
            &ThingGroupName::parse(group).unwrap(),
        )
        .await
        .unwrap();
}

/// Group links in a piece of HTML, in order.
fn group_links(h: &str) -> Vec<String> {
    h.split("<a href=\"/console/groups/")
        .skip(1)
        .map(|s| decoded(&s[..s.find('"').unwrap()]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_the_hierarchy_and_dynamic_queries() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    index_on(&k).await;
    static_group(&k, "plant", None, Some("<b>Plant</b> & co")).await;
    static_group(&k, "line-1", Some("plant"), None).await;
    static_group(&k, "line-2", Some("plant"), None).await;
    static_group(&k, "cell-a", Some("line-1"), None).await;
    let a = k
        .post(
            "/console/groups/dynamic",
            "name=old-fw&queryString=attributes.fw%3C%221.0%22",
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);

    let a = k.get("/console/groups").await;
    assert_eq!(a.status, 200);
    let t = table(&a.body, "groups");
    // Root groups are the rows; a static root's subgroups are nested in its row.
    assert_eq!(group_links(t), vec!["old-fw", "plant", "line-1", "line-2"]);
    assert!(t.contains("<td>dynamic</td><td><code>attributes.fw&lt;&quot;1.0&quot;</code>"));
    assert!(
        t.contains("<td>static</td><td>&lt;b&gt;Plant&lt;/b&gt; &amp; co</td>"),
        "{t}"
    );
    assert!(!a.body.contains("<b>Plant"));
    assert!(next_page(&a).is_none());
    // The forms carry the CSRF token.
    for form in ["create-static", "create-dynamic"] {
        let f = element(&a.body, "form", form);
        assert!(f.contains(&format!("value=\"{}\"", k.csrf)), "{form}");
    }

    // The subgroup's own page shows its place in the hierarchy.
    let a = k.get("/console/groups/line-1").await;
    assert_eq!(a.status, 200);
    assert!(element(&a.body, "dl", "group").contains("href=\"/console/groups/plant\""));
    assert_eq!(
        group_links(element(&a.body, "ul", "children")),
        vec!["cell-a"]
    );
}

#[tokio::test]
async fn root_groups_are_paged() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    for i in 0..51 {
        static_group(&k, &format!("g{i:02}"), None, None).await;
    }
    let a = k.get("/console/groups").await;
    assert_eq!(group_links(table(&a.body, "groups")).len(), 50);
    let next = next_page(&a).expect("a next page");
    let b = k.get(&next).await;
    assert_eq!(group_links(table(&b.body, "groups")), vec!["g50"]);
    assert!(next_page(&b).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_group_shows_its_live_members() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    thing(&k, "old-1", &[("fw", "0.9")]).await;
    thing(&k, "new-1", &[("fw", "2.0")]).await;
    // Without indexing the service refuses, and the refusal is shown on the list.
    let a = k
        .post(
            "/console/groups/dynamic",
            "name=old&queryString=attributes.fw%3A0.9",
        )
        .await;
    assert_eq!(a.status, 303);
    assert!(
        a.location().starts_with("/console/groups?error="),
        "{}",
        a.location()
    );
    let page = k.get(a.location()).await;
    assert!(
        page.body.contains("Fleet Indexing is not enabled"),
        "{}",
        page.body
    );

    index_on(&k).await;
    let a = k
        .post(
            "/console/groups/dynamic",
            "name=old&queryString=attributes.fw%3A0.9",
        )
        .await;
    assert_eq!(a.status, 303);
    assert!(
        a.location().starts_with("/console/groups/old?ok="),
        "{}",
        a.location()
    );
    k.fleet.caught_up().await;
    let a = k.get("/console/groups/old").await;
    assert_eq!(a.status, 200);
    assert!(element(&a.body, "code", "query").contains("attributes.fw:0.9"));
    assert_eq!(device_links(table(&a.body, "members")), vec!["old-1"]);

    // The membership follows the things.
    k.registry
        .update_thing(
            &k.part,
            &ThingName::parse("new-1").unwrap(),
            shoal_domain::thing::ThingUpdate {
                attributes: Some(shoal_domain::thing::AttributePayload {
                    attributes: [("fw".to_string(), "0.9".to_string())].into(),
                    merge: true,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    k.fleet.caught_up().await;
    let a = k.get("/console/groups/old").await;
    assert_eq!(
        device_links(table(&a.body, "members")),
        vec!["new-1", "old-1"]
    );

    // A bad query is refused with the service's words.
    let a = k
        .post("/console/groups/dynamic", "name=bad&queryString=nosuch%3A1")
        .await;
    let page = k.get(a.location()).await;
    assert!(page.body.contains("invalid field name"), "{}", page.body);

    // Deleting it.
    let a = k.post("/console/groups/old/delete", "").await;
    assert_eq!(a.status, 303);
    assert!(
        a.location().starts_with("/console/groups?ok="),
        "{}",
        a.location()
    );
    assert_eq!(k.get("/console/groups/old").await.status, 404);
}

#[tokio::test]
async fn a_static_group_pages_its_members() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let a = k
        .post("/console/groups/static", "name=plant&description=Main")
        .await;
    assert_eq!(a.status, 303);
    assert!(
        a.location().starts_with("/console/groups/plant?ok="),
        "{}",
        a.location()
    );
    let a = k
        .post("/console/groups/static", "name=line-1&parent=plant")
        .await;
    assert_eq!(a.status, 303);
    let g = k
        .registry
        .describe_thing_group(&k.part, &ThingGroupName::parse("line-1").unwrap())
        .unwrap();
    assert_eq!(g.root_to_parent, vec!["plant"]);
    let a = k.post("/console/groups/static", "name=x&parent=nope").await;
    assert!(
        a.location().starts_with("/console/groups?error="),
        "{}",
        a.location()
    );
    let a = k.post("/console/groups/static", "name=bad%20name").await;
    assert!(
        a.location().starts_with("/console/groups?error="),
        "{}",
        a.location()
    );

    for i in 0..51 {
        let name = format!("t{i:02}");
        thing(&k, &name, &[]).await;
        join(&k, &name, "plant").await;
    }
    thing(&k, "deep", &[]).await;
    join(&k, "deep", "line-1").await;
    let a = k.get("/console/groups/plant").await;
    assert_eq!(a.status, 200);
    let members = device_links(table(&a.body, "members"));
    assert_eq!(members.len(), 50);
    assert_eq!(members[0], "t00");
    let next = next_page(&a).expect("a next page");
    let b = k.get(&next).await;
    assert_eq!(device_links(table(&b.body, "members")), vec!["t50"]);
    // With subgroups' things.
    let a = k.get("/console/groups/line-1").await;
    assert_eq!(device_links(table(&a.body, "members")), vec!["deep"]);
    let a = k.get("/console/groups/plant?recursive=1").await;
    assert_eq!(device_links(table(&a.body, "members"))[0], "deep");
    assert!(next_page(&a).unwrap().contains("recursive=1"));

    // A group with subgroups is refused deletion by the registry; its leaf goes.
    let a = k.post("/console/groups/plant/delete", "").await;
    assert!(
        a.location().starts_with("/console/groups/plant?error="),
        "{}",
        a.location()
    );
    assert!(k.get(a.location()).await.body.contains("child groups"));
    let a = k.post("/console/groups/line-1/delete", "").await;
    assert!(
        a.location().starts_with("/console/groups?ok="),
        "{}",
        a.location()
    );
    assert_eq!(k.get("/console/groups/line-1").await.status, 404);
    assert_eq!(k.get("/console/groups/nope").await.status, 404);
}

#[tokio::test]
async fn a_read_only_session_changes_no_group() {
    let mut k = Kit::new().await;
    k.sign_in(true).await;
    static_group(&k, "plant", None, None).await;
    let a = k.get("/console/groups").await;
    assert_eq!(a.status, 200);
    assert!(!a.body.contains("id=\"create-static\""));
    for (path, fields) in [
        ("/console/groups/static", "name=g2"),
        (
            "/console/groups/dynamic",
            "name=g3&queryString=thingName%3Ax",
        ),
        ("/console/groups/plant/delete", ""),
    ] {
        assert_eq!(k.post(path, fields).await.status, 403, "{path}");
    }
    assert!(k
        .registry
        .describe_thing_group(&k.part, &ThingGroupName::parse("plant").unwrap())
        .is_ok());
    assert!(k
        .registry
        .describe_thing_group(&k.part, &ThingGroupName::parse("g2").unwrap())
        .is_err());
}
