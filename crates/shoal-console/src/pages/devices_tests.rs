//! The devices list (registry page, fleet search, columns, saved queries) and the device page
//! with its changes, over real services.

use super::*;
use crate::pages::device::shadow_id;
use crate::testkit::{Answer, Kit};
use serde_json::json;
use shoal_domain::fleet::config::{IndexingConfig, ThingMode};
use shoal_domain::identity::CertificateStatus;
use shoal_domain::shadow::UpdateRequest;
use shoal_domain::{ThingGroupName, ThingName};
use shoal_services::identity::ThingPrincipalType;
use shoal_services::messaging::{Connectivity, Write as Change};
use shoal_services::registry::{CreateThing, CreateThingGroup};

pub(crate) async fn thing(k: &Kit, name: &str, attrs: &[(&str, &str)]) {
    k.registry
        .create_thing(
            &k.part,
            CreateThing {
                name: ThingName::parse(name).unwrap(),
                type_name: None,
                attributes: attrs
                    .iter()
                    .map(|(a, v)| (a.to_string(), v.to_string()))
                    .collect(),
                billing_group: None,
            },
        )
        .await
        .unwrap();
}

/// Turns thing indexing on (registry, classic shadow, connectivity) and waits for the build.
pub(crate) async fn index_on(k: &Kit) {
    let cfg = IndexingConfig {
        thing_mode: ThingMode::RegistryAndShadow,
        connectivity: true,
        ..Default::default()
    };
    k.fleet.update_config(&k.part, cfg).await.unwrap();
    k.fleet.caught_up().await;
}

/// The HTML of the table with `id`.
pub(crate) fn table<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id} in {body}"));
    let end = body[start..].find("</table>").unwrap() + start;
    &body[start..end]
}

/// The element with `id` up to the end of its first closing `tag`.
pub(crate) fn element<'a>(body: &'a str, tag: &str, id: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id} in {body}"));
    let end = body[start..].find(&format!("</{tag}>")).unwrap() + start;
    &body[start..end]
}

/// The target of the `next-page` link, if any.
pub(crate) fn next_page(a: &Answer) -> Option<String> {
    let marker = "id=\"next-page\" href=\"";
    let at = a.body.find(marker)? + marker.len();
    let end = a.body[at..].find('"')? + at;
    Some(a.body[at..end].replace("&amp;", "&"))
}

/// A link's path segment as the name it encodes.
pub(crate) fn decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Device links in a table, in order.
pub(crate) fn device_links(table: &str) -> Vec<String> {
    table
        .split("<a href=\"/console/devices/")
        .skip(1)
        .map(|s| decoded(&s[..s.find('"').unwrap()]))
        .collect()
}

fn assert_redirect(a: &Answer, to: &str, outcome: &str) {
    assert_eq!(a.status, 303, "{}", a.body);
    let loc = a.location();
    assert!(
        loc.starts_with(&format!("{to}?{outcome}=")),
        "{loc} is not {to} with {outcome}"
    );
}

#[tokio::test]
async fn the_list_pages_the_registry_without_indexing() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    for i in 0..51 {
        thing(&k, &format!("t{i:02}"), &[("fw", "1.0")]).await;
    }
    let a = k
        .get("/console/devices?cols=attributes.fw,registry.version")
        .await;
    assert_eq!(a.status, 200);
    let rows = device_links(table(&a.body, "devices"));
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0], "t00");
    assert!(table(&a.body, "devices").contains("<th>attributes.fw</th>"));
    assert!(table(&a.body, "devices").contains("<td>1.0</td><td>1</td>"));
    let next = next_page(&a).expect("a next page");
    assert!(
        next.contains("cols=attributes.fw%2Cregistry.version"),
        "{next}"
    );
    let b = k.get(&next).await;
    assert_eq!(device_links(table(&b.body, "devices")), vec!["t50"]);
    assert!(next_page(&b).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_searches_the_index_and_columns_read_the_document() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    index_on(&k).await;
    thing(&k, "sensor-1", &[("fw", "1.0")]).await;
    thing(&k, "sensor-2", &[("fw", "2.0")]).await;
    thing(&k, "pump-1", &[("fw", "1.0")]).await;
    let id = shadow_id(&ThingName::parse("sensor-1").unwrap(), None).unwrap();
    let req = UpdateRequest::parse(br#"{"state":{"reported":{"temp":21.5}}}"#).unwrap();
    k.shadows.update(&k.part, &id, &req).await.unwrap();
    k.fleet.caught_up().await;

    let a = k
        .get("/console/devices?q=thingName%3Asensor-*%20AND%20attributes.fw%3A1.0&cols=shadow.reported.temp,attributes.fw")
        .await;
    assert_eq!(a.status, 200);
    let t = table(&a.body, "devices");
    assert_eq!(device_links(t), vec!["sensor-1"]);
    assert!(t.contains("<td>21.5</td><td>1.0</td>"), "{t}");
    // Completion knows the fixed fields and the names seen on the page.
    let fields = element(&a.body, "datalist", "fields");
    for f in [
        "thingName",
        "connectivity.connected",
        "attributes.fw",
        "shadow.reported.temp",
    ] {
        assert!(fields.contains(&format!("value=\"{f}\"")), "{f}: {fields}");
    }
    // The query stays in the box.
    assert!(a
        .body
        .contains("value=\"thingName:sensor-* AND attributes.fw:1.0\""));

    let a = k
        .get("/console/devices?q=connectivity.connected%3Afalse")
        .await;
    assert_eq!(
        device_links(table(&a.body, "devices")),
        vec!["pump-1", "sensor-1", "sensor-2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_query_or_indexing_off_is_a_notice_not_a_500() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    thing(&k, "t1", &[]).await;
    let a = k.get("/console/devices?q=thingName%3At1").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("class=\"notice error\""), "{}", a.body);
    assert!(a.body.contains("does not exist"), "{}", a.body);
    assert!(device_links(table(&a.body, "devices")).is_empty());

    index_on(&k).await;
    let a = k.get("/console/devices?q=nosuchfield%3A1").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("invalid field name"), "{}", a.body);
    // The query is the user's text: escaped in the box and in the error.
    let a = k
        .get("/console/devices?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(a.status, 200);
    assert!(!a.body.contains("<script>alert"), "{}", a.body);
    assert!(a.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn saved_queries_are_a_bounded_cookie() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let a = k
        .post(
            "/console/devices/saved",
            "name=old%20firmware&q=shadow.reported.firmware%20%3C%3D%201.0.0",
        )
        .await;
    assert_eq!(a.status, 303);
    let back = format!(
        "/console/devices?q={}&ok=",
        url("shadow.reported.firmware <= 1.0.0")
    );
    assert!(a.location().starts_with(&back), "{}", a.location());
    let cookie = a.headers[http::header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("shoal_saved="), "{cookie}");
    assert!(cookie.contains("; Path=/console;"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let value = cookie.split(';').next().unwrap();
    assert!(!value.contains(' ') && !value.contains(','), "{value}");
    assert_eq!(
        saved_from_cookies(&format!("shoal_console=x; {value}")),
        vec![(
            "old firmware".to_string(),
            "shadow.reported.firmware <= 1.0.0".to_string()
        )]
    );
    // Sent back, the cookie lists the query on the page, and a second save keeps both.
    let session = k.cookie.clone();
    k.cookie = format!("{session}; {value}");
    let page = k.get("/console/devices").await;
    assert!(page.body.contains("old firmware"), "{}", page.body);
    let a = k
        .post(
            "/console/devices/saved",
            "name=online&q=connectivity.connected%3Atrue",
        )
        .await;
    let both = a.headers[http::header::SET_COOKIE].to_str().unwrap();
    let both = both.split(';').next().unwrap().to_string();
    assert_eq!(
        saved_from_cookies(&both)
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>(),
        vec!["old firmware".to_string(), "online".to_string()]
    );
    k.cookie = session;
    // A name is required.
    let a = k.post("/console/devices/saved", "name=&q=x").await;
    assert_eq!(a.status, 303);
    assert!(a.location().contains("error="));
    assert!(a.headers.get(http::header::SET_COOKIE).is_none());

    // At most 20, the oldest going first; saving a name again replaces it; an empty query
    // removes it.
    let mut saved = Vec::new();
    for i in 0..25 {
        saved = with_saved(saved, &format!("q{i}"), &format!("thingName:t{i}"));
    }
    assert_eq!(saved.len(), MAX_SAVED);
    assert_eq!(saved[0].0, "q5");
    saved = with_saved(saved, "q5", "thingName:x");
    assert_eq!(saved.last().unwrap(), &("q5".into(), "thingName:x".into()));
    saved = with_saved(saved, "q6", "");
    assert!(!saved.iter().any(|(n, _)| n == "q6"));
    let big = "x".repeat(1000);
    for i in 0..10 {
        saved = with_saved(saved, &format!("big{i}"), &big);
    }
    assert!(saved_cookie_value(&saved).len() <= MAX_SAVED_BYTES);
    // Each runs as a link; names and queries are escaped.
    let h = saved_list(&[("<b>".into(), "thingName:\"a\"".into())]);
    assert!(h.contains(">&lt;b&gt;</a>"), "{h}");
    assert!(
        h.contains("href=\"/console/devices?q=thingName%3A%22a%22\""),
        "{h}"
    );
}

/// A certificate attached to `thing`, with a policy on it; its id.
async fn certificate(k: &Kit, thing: &str) -> String {
    let c = k
        .identity
        .create_keys_and_certificate(&k.part, true)
        .await
        .unwrap()
        .certificate;
    let arn = k.part.arn("cert", &c.id);
    k.identity
        .attach_thing_principal(
            &k.part,
            &ThingName::parse(thing).unwrap(),
            &arn,
            ThingPrincipalType::NonExclusive,
        )
        .await
        .unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;
    k.identity
        .create_policy(&k.part, "device-policy", doc)
        .await
        .unwrap();
    k.identity
        .attach_policy(&k.part, "device-policy", &arn)
        .await
        .unwrap();
    c.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_page_shows_the_device_whole() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let published = k.broker();
    index_on(&k).await;
    thing(&k, "t1", &[("fw", "1.0"), ("site", "b/7")]).await;
    let name = ThingName::parse("t1").unwrap();
    let plant = CreateThingGroup {
        name: ThingGroupName::parse("plant").unwrap(),
        parent: None,
        description: None,
        attributes: Default::default(),
        tags: Vec::new(),
        dynamic: None,
    };
    k.registry.create_thing_group(&k.part, plant).await.unwrap();
    k.registry
        .add_thing_to_thing_group(&k.part, &name, &ThingGroupName::parse("plant").unwrap())
        .await
        .unwrap();
    let old = CreateThingGroup {
        name: ThingGroupName::parse("old-fw").unwrap(),
        parent: None,
        description: None,
        attributes: Default::default(),
        tags: Vec::new(),
        dynamic: None,
    };
    let spec = shoal_services::fleet::DynamicSpec {
        query_string: "attributes.fw:1.0".into(),
        index_name: None,
        query_version: None,
    };
    k.fleet
        .create_dynamic_group(&k.part, old, spec)
        .await
        .unwrap();
    let cert = certificate(&k, "t1").await;
    let reported =
        br#"{"state":{"reported":{"note":"<script>x</script>","temp":3},"desired":{"temp":4}}}"#;
    let req = UpdateRequest::parse(reported).unwrap();
    k.shadows
        .update(&k.part, &shadow_id(&name, None).unwrap(), &req)
        .await
        .unwrap();
    let req = UpdateRequest::parse(br#"{"state":{"reported":{"mode":"eco"}}}"#).unwrap();
    k.shadows
        .update(&k.part, &shadow_id(&name, Some("config")).unwrap(), &req)
        .await
        .unwrap();
    k.console
        .deps
        .messaging
        .apply(vec![(
            k.part.key(),
            Change::Connectivity(Connectivity {
                client_id: "t1".into(),
                connected: false,
                timestamp: 1_800_000_000_000,
                disconnect_reason: Some("MQTT_KEEP_ALIVE_TIMEOUT".into()),
                principal: cert.clone(),
                clean_session: true,
                keep_alive_secs: 30,
                session_expiry_secs: 0,
                version: 1,
                source_ip: None,
                source_port: None,
            }),
        )])
        .await
        .unwrap();
    let job = shoal_services::jobs::CreateJob {
        job_id: shoal_domain::jobs::JobId::parse("update-fw").unwrap(),
        targets: vec![k.part.arn("thing", "t1")],
        document: Some("{}".into()),
        document_source: None,
        description: None,
        target_selection: None,
        config: Default::default(),
        job_template_arn: None,
        document_parameters: Default::default(),
    };
    k.jobs.create_job(&k.part, job).await.unwrap();
    k.scheduler.run_due().await.unwrap();
    k.jobs.quiet().await;
    k.fleet.caught_up().await;

    let a = k.get("/console/devices/t1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let attrs = table(&a.body, "attributes");
    assert!(attrs.contains("<td>fw</td><td>1.0</td>"), "{attrs}");
    assert!(attrs.contains("<td>site</td><td>b/7</td>"), "{attrs}");
    let groups = element(&a.body, "ul", "groups");
    assert!(groups.contains("href=\"/console/groups/plant\">plant</a> <small>static</small>"));
    assert!(
        groups.contains(">old-fw</a> <small>dynamic</small>"),
        "{groups}"
    );
    let conn = element(&a.body, "p", "connectivity");
    assert!(conn.contains("Disconnected"), "{conn}");
    assert!(conn.contains("MQTT_KEEP_ALIVE_TIMEOUT"), "{conn}");
    assert!(conn.contains("2027-01-15 08:00:00"), "{conn}");
    let principals = table(&a.body, "principals");
    assert!(principals.contains(&format!("href=\"/console/certificates/{cert}\"")));
    assert!(
        principals.contains("<td>ACTIVE</td><td>device-policy</td>"),
        "{principals}"
    );
    let shadow = element(&a.body, "div", "shadow");
    assert!(shadow.contains("&quot;temp&quot;: 4"), "{shadow}");
    assert!(shadow.contains("<h3>delta</h3>"), "{shadow}");
    assert!(shadow.contains("<h3>metadata</h3>"), "{shadow}");
    // A user's string in a shadow is text, never markup.
    assert!(
        shadow.contains("&lt;script&gt;x&lt;/script&gt;"),
        "{shadow}"
    );
    assert!(!a.body.contains("<script>x"));
    let named = element(&a.body, "div", "shadow-config");
    assert!(
        named.contains("&quot;mode&quot;: &quot;eco&quot;"),
        "{named}"
    );
    let jobs = table(&a.body, "jobs");
    assert!(jobs.contains("href=\"/console/jobs/update-fw\""), "{jobs}");
    assert!(jobs.contains("<td>QUEUED</td>"), "{jobs}");
    assert!(a.body.contains("href=\"/console/logs?q="));
    // Every change form carries the CSRF token.
    for form in [
        "edit-attribute",
        "add-group",
        "update-desired",
        "open-tunnel",
    ] {
        let f = element(&a.body, "form", form);
        assert!(f.contains(&format!("value=\"{}\"", k.csrf)), "{form}");
    }
    drop(published);

    let a = k.get("/console/devices/nope").await;
    assert_eq!(a.status, 404);
    assert!(a.body.contains("nope cannot be found"), "{}", a.body);
    let a = k.get("/console/devices/bad%20name").await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn attributes_are_set_merged_and_removed() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    thing(&k, "t1", &[("site", "b7")]).await;
    let a = k
        .post("/console/devices/t1/attributes", "name=fw&value=2")
        .await;
    assert_redirect(&a, "/console/devices/t1", "ok");
    let t = k
        .registry
        .describe_thing(&k.part, &ThingName::parse("t1").unwrap())
        .unwrap();
    assert_eq!(t.attributes.get("fw").map(String::as_str), Some("2"));
    assert_eq!(t.attributes.get("site").map(String::as_str), Some("b7"));
    let page = k.get(a.location()).await;
    assert!(
        page.body.contains("Attribute fw set to 2."),
        "{}",
        page.body
    );
    assert!(table(&page.body, "attributes").contains("<td>fw</td><td>2</td>"));

    let a = k
        .post("/console/devices/t1/attributes", "name=site&value=")
        .await;
    assert_redirect(&a, "/console/devices/t1", "ok");
    let t = k
        .registry
        .describe_thing(&k.part, &ThingName::parse("t1").unwrap())
        .unwrap();
    assert!(!t.attributes.contains_key("site"));

    // The registry refuses a value out of its pattern; the refusal is shown, escaped.
    let a = k
        .post(
            "/console/devices/t1/attributes",
            "name=x&value=%3Cscript%3E",
        )
        .await;
    assert_redirect(&a, "/console/devices/t1", "error");
    let page = k.get(a.location()).await;
    assert!(page.body.contains("&lt;script&gt;"), "{}", page.body);
    assert!(!page.body.contains("<script>"));
    let a = k
        .post("/console/devices/nope/attributes", "name=x&value=1")
        .await;
    assert_redirect(&a, "/console/devices/nope", "error");
}

#[tokio::test]
async fn desired_state_updates_the_shadow_and_tells_the_device() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let published = k.broker();
    thing(&k, "t1", &[]).await;
    let a = k
        .post(
            "/console/devices/t1/desired",
            "shadow=&desired=%7B%22fw%22%3A%222.0%22%7D",
        )
        .await;
    assert_redirect(&a, "/console/devices/t1", "ok");
    let name = ThingName::parse("t1").unwrap();
    let doc = k
        .shadows
        .get(&k.part, &shadow_id(&name, None).unwrap(), None)
        .unwrap();
    assert_eq!(doc["state"]["desired"]["fw"], "2.0");
    let topics: Vec<String> = published
        .lock()
        .unwrap()
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    assert_eq!(
        topics,
        vec![
            "$aws/things/t1/shadow/update/accepted",
            "$aws/things/t1/shadow/update/delta",
            "$aws/things/t1/shadow/update/documents",
        ]
    );

    // A named shadow.
    let a = k
        .post(
            "/console/devices/t1/desired",
            "shadow=config&desired=%7B%22mode%22%3A%22eco%22%7D",
        )
        .await;
    assert_redirect(&a, "/console/devices/t1", "ok");
    let doc = k
        .shadows
        .get(&k.part, &shadow_id(&name, Some("config")).unwrap(), None)
        .unwrap();
    assert_eq!(doc["state"]["desired"]["mode"], "eco");

    // Not JSON, or not an object: refused, the shadow unchanged.
    let mut refused = String::new();
    for bad in ["%7Bfw", "%5B1%5D", ""] {
        let a = k
            .post("/console/devices/t1/desired", &format!("desired={bad}"))
            .await;
        assert_redirect(&a, "/console/devices/t1", "error");
        refused = a.location().to_string();
    }
    let page = k.get(&refused).await;
    assert!(
        page.body.contains("class=\"notice error\""),
        "{}",
        page.body
    );
    let doc = k
        .shadows
        .get(&k.part, &shadow_id(&name, None).unwrap(), None)
        .unwrap();
    assert_eq!(doc["version"], 1);
}

#[tokio::test]
async fn groups_certificates_and_tunnels_from_the_device_page() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let published = k.broker();
    thing(&k, "t1", &[]).await;
    thing(&k, "t2", &[]).await;
    let plant = CreateThingGroup {
        name: ThingGroupName::parse("plant").unwrap(),
        parent: None,
        description: None,
        attributes: Default::default(),
        tags: Vec::new(),
        dynamic: None,
    };
    k.registry.create_thing_group(&k.part, plant).await.unwrap();

    let a = k.post("/console/devices/t1/groups", "group=plant").await;
    assert_redirect(&a, "/console/devices/t1", "ok");
    let t = k
        .registry
        .describe_thing(&k.part, &ThingName::parse("t1").unwrap())
        .unwrap();
    assert_eq!(t.groups, vec!["plant"]);
    let a = k.post("/console/devices/t1/groups", "group=nope").await;
    assert_redirect(&a, "/console/devices/t1", "error");

    // Revoking: only a certificate of this device.
    let mine = certificate(&k, "t1").await;
    let other = k
        .identity
        .create_keys_and_certificate(&k.part, true)
        .await
        .unwrap()
        .certificate
        .id;
    let a = k
        .post(
            "/console/devices/t1/revoke",
            &format!("certificate_id={other}"),
        )
        .await;
    assert_redirect(&a, "/console/devices/t1", "error");
    let status = |id: &str| k.identity.describe_certificate(&k.part, id).unwrap().status;
    assert_eq!(status(&other), CertificateStatus::Active);
    let a = k
        .post(
            "/console/devices/t1/revoke",
            &format!("certificate_id={mine}"),
        )
        .await;
    assert_redirect(&a, "/console/devices/t1", "ok");
    assert_eq!(status(&mine), CertificateStatus::Revoked);
    // A revoked certificate has no revoke button.
    let page = k.get("/console/devices/t1").await;
    assert!(!page.body.contains(&format!("id=\"revoke-{mine}\"")));

    // A tunnel to the device's SSH, and the device told on its notify topic; the answer
    // shows the tokens this once (never in a URL).
    let a = k.post("/console/devices/t2/tunnel", "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("id=\"source-token\""), "{}", a.body);
    let marker = "<code id=\"tunnel-id\">";
    let at = a.body.find(marker).expect("the tunnel's id") + marker.len();
    let id = a.body[at..].split('<').next().unwrap().to_string();
    let tunnel = k.tunnels.describe(&k.part, &id).unwrap();
    let dest = tunnel.destination_config.unwrap();
    assert_eq!(dest.thing_name.as_deref(), Some("t2"));
    assert_eq!(dest.services, vec!["SSH"]);
    assert!(published
        .lock()
        .unwrap()
        .iter()
        .any(|(t, _)| t == "$aws/things/t2/tunnels/notify"));
    let a = k.post("/console/devices/nope/tunnel", "").await;
    assert_redirect(&a, "/console/devices/nope", "error");
}

#[tokio::test]
async fn a_read_only_session_changes_nothing() {
    let mut k = Kit::new().await;
    k.sign_in(true).await;
    thing(&k, "t1", &[]).await;
    let page = k.get("/console/devices/t1").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("id=\"edit-attribute\""));
    for (path, fields) in [
        ("/console/devices/saved", "name=a&q=thingName%3Ax"),
        ("/console/devices/t1/attributes", "name=fw&value=2"),
        ("/console/devices/t1/desired", "desired=%7B%7D"),
        ("/console/devices/t1/groups", "group=plant"),
        ("/console/devices/t1/revoke", "certificate_id=x"),
        ("/console/devices/t1/tunnel", ""),
    ] {
        let a = k.post(path, fields).await;
        assert_eq!(a.status, 403, "{path}");
    }
    let t = k
        .registry
        .describe_thing(&k.part, &ThingName::parse("t1").unwrap())
        .unwrap();
    assert!(t.attributes.is_empty());
}

#[test]
fn columns_read_search_documents() {
    let doc = json!({
        "thingName": "t1",
        "attributes": { "a.b": "1" },
        "thingGroupNames": ["g1", "g2"],
        "shadow": "{\"reported\":{\"temp\":3,\"pos\":{\"x\":1}},\"name\":{\"cfg\":{\"desired\":{\"on\":true}}}}",
        "connectivity": { "connected": true }
    });
    let v = |p: &str| field_value(&doc, p).map(|v| cell_text(&v));
    assert_eq!(v("attributes.a.b").as_deref(), Some("1"));
    assert_eq!(v("shadow.reported.temp").as_deref(), Some("3"));
    assert_eq!(v("shadow.reported.pos").as_deref(), Some("{\"x\":1}"));
    assert_eq!(v("shadow.name.cfg.desired.on").as_deref(), Some("true"));
    assert_eq!(v("connectivity.connected").as_deref(), Some("true"));
    assert_eq!(v("registry.thingGroupNames").as_deref(), Some("g1, g2"));
    assert_eq!(v("shadow.reported.nope"), None);
    assert_eq!(columns(" a , ,b,").len(), 2);
    assert_eq!(columns(&"c,".repeat(100)).len(), MAX_COLUMNS);
}

#[tokio::test]
async fn the_device_page_shows_its_recent_log_records_only() {
    use shoal_services::logging::V2_GROUP;
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    thing(&k, "t1", &[]).await;
    // Before any record: no log group yet.
    let a = k.get("/console/devices/t1").await;
    assert!(a
        .body
        .contains("No log records of this device in the last hour."));
    let now = k.logs.clock().now().millis();
    for (at, msg) in [
        (
            now - 2 * 3600 * 1000,
            r#"{"eventType":"Connect","clientId":"t1","n":"old"}"#,
        ),
        (
            now - 60_000,
            r#"{"eventType":"Connect","clientId":"t1","n":"<b>new</b>"}"#,
        ),
        (
            now - 30_000,
            r#"{"eventType":"UpdateThingShadow","thingName":"t1","n":"shadow"}"#,
        ),
        (
            now - 20_000,
            r#"{"eventType":"Connect","clientId":"t2","n":"other"}"#,
        ),
    ] {
        assert!(k.logs.put_event(&k.part, V2_GROUP, at, msg.to_string()));
    }
    let a = k.get("/console/devices/t1").await;
    let logs = table(&a.body, "recent-logs");
    // The last hour's records of this device, newest first, escaped.
    let shadow = logs.find("shadow").expect(logs);
    let new = logs.find("&lt;b&gt;new&lt;/b&gt;").expect(logs);
    assert!(shadow < new, "{logs}");
    assert!(!logs.contains("old") && !logs.contains("other"), "{logs}");
    assert!(!a.body.contains("<b>new</b>"));
}
