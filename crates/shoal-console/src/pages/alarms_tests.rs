//! The alarms pages over real services: an alarm made through the form, refusals with the
//! service's reason, Set state and Delete, the one-click "connected devices dropped" alarm
//! that fires when things disconnect, escaping and read-only sessions.

use super::{CONNECTED_ALARM, CONNECTED_METRIC};
use crate::html::url;
use crate::testkit::Kit;
use shoal_domain::cloudwatch::alarm::{Comparison, MissingData, State};
use shoal_domain::ThingName;
use shoal_services::cloudwatch::AlarmFilter;
use shoal_services::registry::CreateThing;

const FORM: &str = "name=high-temp&description=hot&namespace=IoTFleetMetrics&metric_name=temps&dimensions=AggregationType%3Daverage&statistic=Average&period=60&evaluation_periods=2&datapoints_to_alarm=1&comparison=GreaterThanThreshold&threshold=30&treat_missing_data=notBreaching&topic=alerts%2Ftemp";

fn alarm_names(k: &Kit) -> Vec<String> {
    let (alarms, _) = k
        .cloudwatch
        .describe_alarms(&k.part, &AlarmFilter::default(), None, 100)
        .unwrap();
    alarms.into_iter().map(|a| a.name).collect()
}

#[tokio::test]
async fn an_alarm_made_through_the_form_is_listed_with_insufficient_data() {
    let k = Kit::signed_in().await;
    let page = k.get("/console/alarms").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"alarms-live\" data-live=\"5\""));
    assert!(page.body.contains("id=\"alarm-form\""));

    let a = k.post("/console/alarms", FORM).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(a
        .location()
        .starts_with(&format!("/console/alarms/{}?ok=", url("high-temp"))));
    let alarm = k.cloudwatch.alarm(&k.part, "high-temp").unwrap().unwrap();
    assert_eq!(
        alarm.alarm_actions,
        vec![format!(
            "arn:aws:iot:us-east-1:{}:topic/alerts/temp",
            k.part.account.as_str()
        )]
    );
    assert!(alarm.ok_actions.is_empty());
    assert_eq!(alarm.metric.namespace, "IoTFleetMetrics");
    assert_eq!(alarm.metric.name, "temps");
    assert_eq!(
        alarm.metric.dimensions,
        vec![("AggregationType".to_string(), "average".to_string())]
    );
    assert_eq!(
        (alarm.threshold, alarm.comparison, alarm.period),
        (30.0, Comparison::GreaterThanThreshold, 60)
    );
    assert_eq!(
        (alarm.evaluation_periods, alarm.datapoints_to_alarm),
        (2, Some(1))
    );
    assert_eq!(alarm.treat_missing_data, Some(MissingData::NotBreaching));

    let list = k.get("/console/alarms").await;
    let table = &list.body[list.body.find("id=\"alarms\"").unwrap()..];
    assert!(table.contains(&format!(
        "<a href=\"/console/alarms/{}\">high-temp</a>",
        url("high-temp")
    )));
    assert!(
        table.contains("class=\"state-INSUFFICIENT_DATA\""),
        "{table}"
    );
    assert!(table.contains("MQTT <code>alerts/temp</code>"));
    assert!(table.contains("Average &gt; 30 for 1 of 2 periods of 60 s"));

    let page = k.get("/console/alarms/high-temp").await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("id=\"alarm-state\" class=\"state-INSUFFICIENT_DATA\""));
    assert!(page.body.contains("Unchecked: Initial alarm creation"));
    assert!(page.body.contains("<p class=\"empty\" id=\"alarm-chart\">"));
    let history = &page.body[page.body.find("id=\"history\"").unwrap()..];
    assert!(
        history.contains("Alarm &quot;high-temp&quot; created"),
        "{history}"
    );
}

#[tokio::test]
async fn a_bad_alarm_is_refused_with_the_error_notice() {
    let k = Kit::signed_in().await;
    let bad = |from: &str, to: &str| FORM.replace(from, to);
    let cases = [
        (
            bad("threshold=30", "threshold=lots"),
            "The threshold must be a number",
        ),
        (bad("threshold=30", "threshold=inf"), "Threshold"),
        (
            bad("threshold=30", "threshold="),
            "The threshold is required",
        ),
        (bad("period=60", "period=45"), "multiple of 60"),
        (
            bad("datapoints_to_alarm=1", "datapoints_to_alarm=3"),
            "DatapointsToAlarm",
        ),
        (
            bad("dimensions=AggregationType%3Daverage", "dimensions=oops"),
            "not Name=Value",
        ),
        (
            bad(
                "topic=alerts%2Ftemp",
                "arn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3Ax",
            ),
            "arn:aws:sns:us-east-1:1:x",
        ),
    ];
    for (form, why) in cases {
        let a = k.post("/console/alarms", &form).await;
        assert_eq!(a.status, 400, "{form}");
        let notice = &a.body[a.body.find("notice error").expect("a notice")..];
        assert!(
            notice[..400.min(notice.len())].contains(why),
            "{why}: {notice}"
        );
        // The form comes back filled.
        assert!(a.body.contains("value=\"high-temp\""));
    }
    assert!(alarm_names(&k).is_empty());

    // What the user typed comes back escaped.
    let a = k
        .post(
            "/console/alarms",
            &bad("name=high-temp", "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
                .replace("threshold=30", "threshold=x"),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a
        .body
        .contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert!(!a.body.contains("<script>alert"));
}

#[tokio::test]
async fn an_alarm_state_is_set_and_the_alarm_deleted() {
    let k = Kit::signed_in().await;
    // A name with a slash and markup: paths and pages keep it apart and escaped.
    let form = FORM.replace("name=high-temp", "name=line%2F%3Cb%3E");
    let a = k.post("/console/alarms", &form).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(a
        .location()
        .starts_with("/console/alarms/line%2F%3Cb%3E?ok="));
    let page = k.get("/console/alarms/line%2F%3Cb%3E").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Alarm line/&lt;b&gt;"));
    assert!(!page.body.contains("line/<b>"));
    assert!(page
        .body
        .contains("action=\"/console/alarms/line%2F%3Cb%3E/state\""));

    let a = k
        .post(
            "/console/alarms/line%2F%3Cb%3E/state",
            "state=ALARM&reason=trying+the+topic",
        )
        .await;
    assert_eq!(a.status, 303);
    assert!(a.location().contains("?ok="), "{}", a.location());
    let alarm = k.cloudwatch.alarm(&k.part, "line/<b>").unwrap().unwrap();
    assert_eq!(alarm.state, State::Alarm);
    assert_eq!(alarm.state_reason, "trying the topic");
    let page = k.get("/console/alarms/line%2F%3Cb%3E").await;
    assert!(page
        .body
        .contains("id=\"alarm-state\" class=\"state-ALARM\""));
    assert!(page.body.contains("trying the topic"));
    let history = &page.body[page.body.find("id=\"history\"").unwrap()..];
    assert!(history.contains("StateUpdate"), "{history}");

    let a = k
        .post("/console/alarms/line%2F%3Cb%3E/state", "state=RED&reason=x")
        .await;
    assert!(a.location().contains("error="), "{}", a.location());
    let a = k.post("/console/alarms/nope/delete", "").await;
    assert!(a.location().starts_with("/console/alarms/nope?error="));

    let a = k.post("/console/alarms/line%2F%3Cb%3E/delete", "").await;
    assert_eq!(a.status, 303);
    assert!(a.location().starts_with("/console/alarms?ok="));
    assert!(k.cloudwatch.alarm(&k.part, "line/<b>").unwrap().is_none());
    assert_eq!(k.get("/console/alarms/line%2F%3Cb%3E").await.status, 404);
}

#[tokio::test]
async fn alarms_are_listed_fifty_a_page() {
    let k = Kit::signed_in().await;
    for i in 0..51 {
        let form = FORM.replace("name=high-temp", &format!("name=a-{i:02}"));
        assert_eq!(k.post("/console/alarms", &form).await.status, 303);
    }
    let first = k.get("/console/alarms").await;
    assert!(first.body.contains(">a-49</a>"));
    assert!(!first.body.contains(">a-50</a>"));
    let marker = "id=\"next-page\" href=\"";
    let at = first.body.find(marker).expect("a next page") + marker.len();
    let href = &first.body[at..first.body[at..].find('"').unwrap() + at];
    let second = k.get(&href.replace("&amp;", "&")).await;
    assert!(second.body.contains(">a-50</a>"), "{}", second.body);
    assert!(!second.body.contains(">a-49</a>"));
}

/// Things `names`, made and connected (as the broker records a connection).
async fn connected_things(k: &Kit, names: &[&str], connected: bool) {
    for n in names {
        if k.registry
            .describe_thing(&k.part, &ThingName::parse(n).unwrap())
            .is_ok()
        {
            continue;
        }
        k.registry
            .create_thing(
                &k.part,
                CreateThing {
                    name: ThingName::parse(n).unwrap(),
                    type_name: None,
                    attributes: Default::default(),
                    billing_group: None,
                },
            )
            .await
            .unwrap();
    }
    k.set_connected(names, connected).await;
}

/// Moves the clock a minute and runs what is due (the fleet metric, then the alarm).
async fn a_minute_later(k: &Kit) {
    k.clock.advance_millis(60_000);
    k.scheduler.run_due().await.unwrap();
}

#[tokio::test]
async fn connected_devices_dropped_in_one_click() {
    let k = Kit::signed_in().await;
    // Without connectivity indexing: back to the overview, saying how to turn it on.
    let a = k.post("/console/alarms/connected-drop", "").await;
    assert_eq!(a.status, 303);
    assert!(a.location().starts_with("/console/overview?error="));
    let shown = k.get(a.location()).await;
    assert!(shown.body.contains("update-indexing-configuration"));
    assert!(alarm_names(&k).is_empty());

    k.index_with_connectivity().await;
    connected_things(&k, &["d-1", "d-2", "d-3", "d-4"], true).await;
    k.fleet.caught_up().await;
    let a = k.post("/console/alarms/connected-drop", "").await;
    assert_eq!(a.status, 303);
    assert!(
        a.location()
            .starts_with(&format!("/console/alarms/{}?ok=", url(CONNECTED_ALARM))),
        "{}",
        a.location()
    );
    let m = k.fleet.describe_metric(&k.part, CONNECTED_METRIC).unwrap();
    assert_eq!(m.query_string, "connectivity.connected:true");
    assert_eq!(m.aggregation_type.name, "Statistics");
    assert_eq!(m.aggregation_type.values, vec!["count".to_string()]);
    assert_eq!(
        (m.period, m.aggregation_field.as_str()),
        (60, "registry.version")
    );
    let alarm = k
        .cloudwatch
        .alarm(&k.part, CONNECTED_ALARM)
        .unwrap()
        .unwrap();
    assert_eq!(alarm.threshold, 2.0, "half of the 4 connected");
    assert_eq!(alarm.comparison, Comparison::LessThanOrEqualToThreshold);
    assert_eq!((alarm.statistic.as_str(), alarm.period), ("Minimum", 60));
    assert_eq!(alarm.evaluation_periods, 1);
    assert_eq!(alarm.metric.namespace, "IoTFleetMetrics");
    assert_eq!(alarm.metric.name, CONNECTED_METRIC);
    assert_eq!(
        alarm.metric.dimensions,
        vec![("AggregationType".to_string(), "count".to_string())]
    );
    assert_eq!(
        alarm.alarm_actions,
        vec![k.part.arn("topic", "alerts/connected-drop")]
    );
    // The metric was counted when it was made: the chart has its point.
    let page = k.get(a.location()).await;
    assert!(
        page.body.contains("<svg id=\"alarm-chart\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("<title>4</title>"));

    // Half of the devices go: within two minutes the alarm fires.
    connected_things(&k, &["d-1", "d-2"], false).await;
    k.fleet.caught_up().await;
    a_minute_later(&k).await;
    a_minute_later(&k).await;
    let alarm = k
        .cloudwatch
        .alarm(&k.part, CONNECTED_ALARM)
        .unwrap()
        .unwrap();
    assert_eq!(alarm.state, State::Alarm, "{}", alarm.state_reason);
    let list = k.get("/console/alarms").await;
    assert!(list.body.contains("class=\"state-ALARM\""));

    // A second click sets the threshold and topic given, on the same metric.
    let a = k
        .post(
            "/console/alarms/connected-drop",
            "threshold=3&topic=ops%2Fdown",
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let alarm = k
        .cloudwatch
        .alarm(&k.part, CONNECTED_ALARM)
        .unwrap()
        .unwrap();
    assert_eq!(alarm.threshold, 3.0);
    assert_eq!(alarm.alarm_actions, vec![k.part.arn("topic", "ops/down")]);
    assert_eq!(alarm_names(&k), vec![CONNECTED_ALARM.to_string()]);
    let a = k
        .post("/console/alarms/connected-drop", "threshold=many")
        .await;
    assert!(a.location().starts_with("/console/overview?error="));
}

#[tokio::test]
async fn a_read_only_session_changes_no_alarm() {
    let mut k = Kit::new().await;
    k.sign_in(true).await;
    let page = k.get("/console/alarms").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("id=\"alarm-form\""));
    for (path, form) in [
        ("/console/alarms", FORM),
        ("/console/alarms/connected-drop", "threshold=1"),
        ("/console/alarms/high-temp/state", "state=ALARM&reason=x"),
        ("/console/alarms/high-temp/delete", ""),
    ] {
        assert_eq!(k.post(path, form).await.status, 403, "{path}");
    }
    assert!(alarm_names(&k).is_empty());
}
