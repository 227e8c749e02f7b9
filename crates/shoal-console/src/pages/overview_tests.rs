//! The fleet overview over real services: without an index it says how to turn one on; with
//! one, counts and aggregations for a query and a field, fleet metrics as charts, and the
//! one-click alarm's form.

use crate::testkit::Kit;
use shoal_domain::fleet::metric::AggregationType;
use shoal_domain::thing::{AttributePayload, ThingUpdate};
use shoal_domain::ThingName;
use shoal_services::fleet::MetricInput;
use shoal_services::registry::CreateThing;

/// A thing of `kind` at registry version `version` (each update adds one).
async fn thing(k: &Kit, name: &str, kind: &str, version: i64) {
    let n = ThingName::parse(name).unwrap();
    let attrs = |v: i64| {
        [
            ("kind".to_string(), kind.to_string()),
            ("rev".to_string(), v.to_string()),
        ]
        .into_iter()
        .collect()
    };
    k.registry
        .create_thing(
            &k.part,
            CreateThing {
                name: n.clone(),
                type_name: None,
                attributes: attrs(1),
                billing_group: None,
            },
        )
        .await
        .unwrap();
    for v in 2..=version {
        let upd = ThingUpdate {
            attributes: Some(AttributePayload {
                attributes: attrs(v),
                merge: true,
            }),
            ..Default::default()
        };
        k.registry.update_thing(&k.part, &n, upd).await.unwrap();
    }
}

/// Five things (sensors at versions 1, 2, 3; pumps at 1), two connected, indexed.
async fn fleet(k: &Kit) {
    k.index_with_connectivity().await;
    for (n, kind, v) in [
        ("s-1", "sensor", 1),
        ("s-2", "sensor", 2),
        ("s-3", "sensor", 3),
        ("p-1", "pump", 1),
        ("p-2", "pump", 1),
    ] {
        thing(k, n, kind, v).await;
    }
    k.set_connected(&["s-1", "p-1"], true).await;
    k.fleet.caught_up().await;
}

/// The text of the element with `id` up to the end of its tag's content (for a `<b>`).
fn bold(body: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id}: {body}"))
        + marker.len();
    body[at..at + body[at..].find('<').unwrap()].to_string()
}

#[tokio::test]
async fn without_an_index_the_overview_says_how_to_turn_it_on() {
    let k = Kit::signed_in().await;
    let a = k.get("/console/overview").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("id=\"indexing-off\""));
    assert!(a.body.contains("aws iot update-indexing-configuration"));
    assert!(a.body.contains("managing-index.html"));
    assert!(!a.body.contains("id=\"count\""));
    assert!(a.body.contains("action=\"/console/alarms/connected-drop\""));
    assert!(a.body.contains("No fleet metrics yet."));
}

#[tokio::test]
async fn the_overview_counts_and_aggregates_a_query() {
    let k = Kit::signed_in().await;
    fleet(&k).await;
    // The whole fleet, over registry.version.
    let a = k.get("/console/overview").await;
    assert_eq!(a.status, 200);
    assert_eq!(bold(&a.body, "count"), "5");
    assert_eq!(bold(&a.body, "connected"), "2");
    assert_eq!(bold(&a.body, "cardinality"), "3");
    assert!(a.body.contains("class=\"card\""));

    // The sensors: versions 1, 2 and 3.
    let a = k
        .get("/console/overview?q=attributes.kind%3Asensor&field=registry.version")
        .await;
    assert_eq!(bold(&a.body, "count"), "3");
    assert_eq!(bold(&a.body, "connected"), "1");
    let stats = &a.body[a.body.find("id=\"statistics\"").unwrap()..];
    for row in [
        "<th>count</th><td>3</td>",
        "<th>average</th><td>2</td>",
        "<th>sum</th><td>6</td>",
        "<th>minimum</th><td>1</td>",
        "<th>maximum</th><td>3</td>",
        "<th>sumOfSquares</th><td>14</td>",
    ] {
        assert!(stats.contains(row), "{row}: {stats}");
    }
    let pct = &a.body[a.body.find("id=\"percentiles\"").unwrap()..];
    assert!(pct.contains("<td>p50</td><td>2</td>"), "{pct}");
    assert!(pct.contains("<td>p99</td><td>2.98</td>"), "{pct}");
    assert_eq!(bold(&a.body, "cardinality"), "3");
    assert!(a.body.contains("<svg id=\"buckets\""));

    // A string field: its count, cardinality and buckets; no percentiles.
    let a = k.get("/console/overview?q=*&field=attributes.kind").await;
    assert_eq!(bold(&a.body, "cardinality"), "2");
    assert!(a.body.contains("holds no numbers"));
    let bars = &a.body[a.body.find("<svg id=\"buckets\"").unwrap()..];
    let sensor = bars.find(">sensor<").expect("a sensor bar");
    let pump = bars.find(">pump<").expect("a pump bar");
    assert!(sensor < pump, "most frequent first: {bars}");
}

#[tokio::test]
async fn a_bad_query_is_a_notice_and_what_was_typed_is_escaped() {
    let k = Kit::signed_in().await;
    fleet(&k).await;
    let a = k
        .get("/console/overview?q=%3Cscript%3E%28&field=registry.version")
        .await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("notice error"), "{}", a.body);
    assert!(a.body.contains("value=\"&lt;script&gt;(\""));
    assert!(!a.body.contains("<script>("));
    let a = k.get("/console/overview?q=*&field=%3Cimg%3Enothing").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("Invalid aggregation field"), "{}", a.body);
    assert!(!a.body.contains("<img>"));
}

#[tokio::test]
async fn fleet_metrics_are_charted_and_the_alarm_form_is_offered() {
    let k = Kit::signed_in().await;
    fleet(&k).await;
    k.fleet
        .create_metric(
            &k.part,
            "sensors",
            MetricInput {
                query_string: Some("attributes.kind:sensor".into()),
                aggregation_type: Some(AggregationType {
                    name: "Statistics".into(),
                    values: vec!["count".into()],
                }),
                period: Some(60),
                aggregation_field: Some("registry.version".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    k.clock.advance_millis(60_000);
    k.scheduler.run_due().await.unwrap();
    let a = k.get("/console/overview").await;
    let metrics = &a.body[a.body.find("id=\"fleet-metrics\"").unwrap()..];
    assert!(metrics.contains("sensors"), "{metrics}");
    assert!(metrics.contains("(AggregationType=count)"));
    let chart = &metrics[metrics.find("<svg id=\"fleet-metric-0\"").expect("a chart")..];
    // Two evaluations, each counting the three sensors.
    assert_eq!(chart.matches("<title>3</title>").count(), 2, "{chart}");
    assert!(a.body.contains("id=\"connected-drop\""));

    // A read-only session sees the overview, not the form.
    let mut ro = Kit::new().await;
    ro.sign_in(true).await;
    let a = ro.get("/console/overview").await;
    assert_eq!(a.status, 200);
    assert!(!a.body.contains("id=\"connected-drop\""));
}
