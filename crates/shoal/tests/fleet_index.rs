//! Fleet indexing driven by `aws-sdk-iot` (and a `rumqttc` device): the seed's TempSensor
//! statistics and percentiles, searches, a shadow update over MQTT becoming searchable, dynamic
//! thing groups following their things, and a fleet metric evaluated on its period by the
//! test's clock and exported on `/metrics`. Waits use `FleetIndexing::caught_up`, not sleeps.

mod common;

use aws_sdk_iot::types::{
    AggregationType, AggregationTypeName, AttributePayload, BucketsAggregationType,
    TermsAggregation, ThingConnectivityIndexingMode, ThingGroupIndexingConfiguration,
    ThingGroupIndexingMode, ThingIndexingConfiguration, ThingIndexingMode,
};
use common::device::{attach_new_policy, connected, device_cert, options, things_of, until};
use common::{code, TestServer};
use rumqttc::{AsyncClient, Incoming, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn caught_up(s: &TestServer) {
    s.server.as_ref().unwrap().fleet.caught_up().await;
}

async fn index_on(c: &aws_sdk_iot::Client) {
    // The seed's flags: registry, shadow and connectivity, and the group index.
    c.update_indexing_configuration()
        .thing_indexing_configuration(
            ThingIndexingConfiguration::builder()
                .thing_indexing_mode(ThingIndexingMode::RegistryAndShadow)
                .thing_connectivity_indexing_mode(ThingConnectivityIndexingMode::Status)
                .build()
                .unwrap(),
        )
        .thing_group_indexing_configuration(
            ThingGroupIndexingConfiguration::builder()
                .thing_group_indexing_mode(ThingGroupIndexingMode::On)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn thing(c: &aws_sdk_iot::Client, name: &str, attrs: &[(&str, &str)]) {
    let mut p = AttributePayload::builder();
    for (k, v) in attrs {
        p = p.attributes(*k, *v);
    }
    c.create_thing()
        .thing_name(name)
        .attribute_payload(p.build())
        .send()
        .await
        .unwrap();
}

async fn names(c: &aws_sdk_iot::Client, query: &str) -> Vec<String> {
    let out = c
        .search_index()
        .index_name("AWS_Things")
        .query_string(query)
        .send()
        .await
        .unwrap();
    out.things()
        .iter()
        .map(|t| t.thing_name().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_s_temp_sensors_give_aws_s_statistics() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let off = c.search_index().query_string("thingName:x").send().await;
    assert_eq!(code(off), "ResourceNotFoundException");
    index_on(&c).await;
    let temps = ["70", "71", "72", "73", "74", "75", "47", "97", "98", "99"];
    let racks = [
        "Rack1", "Rack1", "Rack2", "Rack2", "Rack3", "Rack4", "Rack5", "Rack6", "Rack6", "Rack6",
    ];
    for i in 0..10 {
        let name = format!("TempSensor{i}");
        thing(
            &c,
            &name,
            &[("temperature", temps[i]), ("rackId", racks[i])],
        )
        .await;
    }
    thing(&c, "Other", &[("temperature", "1000")]).await;
    caught_up(&s).await;

    let st = c
        .get_statistics()
        .aggregation_field("attributes.temperature")
        .query_string("thingName:TempSensor*")
        .send()
        .await
        .unwrap();
    let st = st.statistics().unwrap();
    assert_eq!(st.count(), 10);
    assert_eq!(st.average(), Some(77.6));
    assert_eq!(st.sum(), Some(776.0));
    assert_eq!(st.minimum(), Some(47.0));
    assert_eq!(st.maximum(), Some(99.0));
    assert_eq!(st.sum_of_squares(), Some(62578.0));
    assert_eq!(st.variance(), Some(236.04000000000013));
    assert_eq!(st.std_deviation(), Some(15.36359332968691));

    let p = c
        .get_percentiles()
        .aggregation_field("attributes.temperature")
        .query_string("thingName:TempSensor*")
        .set_percents(Some(vec![10.0, 25.0, 50.0, 90.0]))
        .send()
        .await
        .unwrap();
    let values: Vec<f64> = p.percentiles().iter().map(|p| p.value()).collect();
    for (got, want) in values.iter().zip([67.7, 71.25, 73.5, 98.1]) {
        assert!((got - want).abs() < 1e-9, "{values:?}");
    }

    let card = c
        .get_cardinality()
        .aggregation_field("attributes.rackId")
        .query_string("thingName:TempSensor*")
        .send()
        .await
        .unwrap();
    assert_eq!(card.cardinality(), 6);
    let b = c
        .get_buckets_aggregation()
        .aggregation_field("attributes.rackId")
        .query_string("thingName:TempSensor*")
        .buckets_aggregation_type(
            BucketsAggregationType::builder()
                .terms_aggregation(TermsAggregation::builder().max_buckets(1).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(b.total_count(), 10);
    assert_eq!(b.buckets()[0].key_value(), Some("Rack6"));
    assert_eq!(b.buckets()[0].count(), 3);

    assert_eq!(names(&c, "attributes.temperature>90").await.len(), 4);
    assert_eq!(
        names(
            &c,
            "attributes.rackId:rack6 AND NOT attributes.temperature:97"
        )
        .await,
        ["TempSensor8", "TempSensor9"]
    );
    let bad = c.search_index().query_string("thingName:(a").send().await;
    assert_eq!(code(bad), "InvalidQueryException");
    let bad = c
        .search_index()
        .query_string("thingGroupName:a")
        .send()
        .await;
    assert_eq!(code(bad), "InvalidQueryException");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_reported_over_mqtt_is_searchable() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    index_on(&c).await;
    let cert = device_cert(&c).await;
    let arn = |r: &str| format!("arn:aws:iot:us-east-1:{}:{r}", cert.account);
    let doc = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": ["{}", "{}"]}}]}}"#,
        arn("client/sensor-1"),
        arn("topic/$aws/things/sensor-1/shadow/update"),
    );
    attach_new_policy(&c, &cert, "reporter", &doc).await;
    things_of(&c, &cert, &["sensor-1"]).await;
    let (dev, mut ev) = AsyncClient::new(options(&s, "sensor-1", &cert), 16);
    connected(&mut ev).await.unwrap();
    dev.publish(
        "$aws/things/sensor-1/shadow/update",
        QoS::AtLeastOnce,
        false,
        r#"{"state":{"reported":{"firmware":"1.1.0","temp":21.5}}}"#,
    )
    .await
    .unwrap();
    until(&mut ev, |i| matches!(i, Incoming::PubAck(_)))
        .await
        .unwrap();
    caught_up(&s).await;

    // The seed's query, and the connection this device holds.
    assert_eq!(
        names(&c, "shadow.reported.firmware:1.1.0").await,
        ["sensor-1"]
    );
    assert_eq!(
        names(
            &c,
            "shadow.reported.temp>20 AND connectivity.connected:true"
        )
        .await,
        ["sensor-1"]
    );
    let out = c
        .search_index()
        .query_string("thingName:sensor-*")
        .send()
        .await
        .unwrap();
    let t = &out.things()[0];
    let shadow: serde_json::Value = serde_json::from_str(t.shadow().unwrap()).unwrap();
    assert_eq!(shadow["reported"]["firmware"], "1.1.0");
    assert_eq!(shadow["version"], 1);
    assert_eq!(t.connectivity().unwrap().connected(), Some(true));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_groups_follow_their_things() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    // The seed's command needs fleet indexing first.
    let early = c
        .create_dynamic_thing_group()
        .thing_group_name("FirmwareV2")
        .query_string("attributes.fw_version=2.0")
        .send()
        .await;
    assert_eq!(code(early), "ResourceNotFoundException");
    index_on(&c).await;
    thing(&c, "d1", &[("fw_version", "2.0")]).await;
    thing(&c, "d2", &[("fw_version", "1.0")]).await;
    caught_up(&s).await;
    let g = c
        .create_dynamic_thing_group()
        .thing_group_name("FirmwareV2")
        .query_string("attributes.fw_version=2.0")
        .send()
        .await
        .unwrap();
    assert_eq!(g.query_string(), Some("attributes.fw_version=2.0"));
    assert_eq!(g.index_name(), Some("AWS_Things"));
    caught_up(&s).await;
    let members = |c: aws_sdk_iot::Client| async move {
        let out = c
            .list_things_in_thing_group()
            .thing_group_name("FirmwareV2")
            .send()
            .await
            .unwrap();
        out.things().to_vec()
    };
    assert_eq!(members(c.clone()).await, ["d1"]);
    let d = c
        .describe_thing_group()
        .thing_group_name("FirmwareV2")
        .send()
        .await
        .unwrap();
    assert_eq!(d.status().map(|s| s.as_str()), Some("ACTIVE"));

    // d2 is upgraded and d1 downgraded: the membership follows.
    for (t, v) in [("d2", "2.0"), ("d1", "3.0")] {
        c.update_thing()
            .thing_name(t)
            .attribute_payload(
                AttributePayload::builder()
                    .attributes("fw_version", v)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    caught_up(&s).await;
    assert_eq!(members(c.clone()).await, ["d2"]);
    let groups = c
        .list_thing_groups_for_thing()
        .thing_name("d2")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.thing_groups()[0].group_name(), Some("FirmwareV2"));
    // The membership's own change reaches the index next.
    caught_up(&s).await;
    assert_eq!(names(&c, "thingGroupNames:FirmwareV2").await, ["d2"]);

    let refused = c
        .add_thing_to_thing_group()
        .thing_name("d1")
        .thing_group_name("FirmwareV2")
        .send()
        .await;
    assert_eq!(code(refused), "InvalidRequestException");
    c.delete_dynamic_thing_group()
        .thing_group_name("FirmwareV2")
        .send()
        .await
        .unwrap();
    let groups = c
        .list_thing_groups_for_thing()
        .thing_name("d2")
        .send()
        .await
        .unwrap();
    assert!(groups.thing_groups().is_empty());
    s.stop().await;
}

async fn scrape(s: &TestServer) -> String {
    let addr = s.server.as_ref().unwrap().api_addr;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: shoal\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        common::METRICS_TOKEN
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_metric_is_evaluated_every_period() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    index_on(&c).await;
    thing(&c, "m1", &[("watts", "10")]).await;
    caught_up(&s).await;
    let made = c
        .create_fleet_metric()
        .metric_name("power")
        .query_string("thingName:m*")
        .aggregation_type(
            AggregationType::builder()
                .name(AggregationTypeName::Statistics)
                .values("sum")
                .values("count")
                .build()
                .unwrap(),
        )
        .period(60)
        .aggregation_field("attributes.watts")
        .send()
        .await
        .unwrap();
    assert!(made.metric_arn().unwrap().ends_with(":fleetmetric/power"));
    let line = |m: &str, agg: &str| {
        m.lines()
            .find(|l| {
                l.contains("metric_name=\"power\"")
                    && l.contains(&format!("aggregation_type=\"{agg}\""))
            })
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    let m = scrape(&s).await;
    assert_eq!(line(&m, "sum").as_deref(), Some("10"), "{m}");
    assert_eq!(line(&m, "count").as_deref(), Some("1"));

    // A second thing counts only once the period has passed on the clock.
    thing(&c, "m2", &[("watts", "5")]).await;
    caught_up(&s).await;
    assert_eq!(line(&scrape(&s).await, "sum").as_deref(), Some("10"));
    s.clock.advance_millis(59_000);
    assert_eq!(s.run_due().await, 0, "not due before its period");
    s.clock.advance_millis(1_000);
    // The server's own loop may fire it first; either way it has fired once this returns.
    s.run_due().await;
    assert_eq!(line(&scrape(&s).await, "sum").as_deref(), Some("15"));
    let d = c
        .describe_fleet_metric()
        .metric_name("power")
        .send()
        .await
        .unwrap();
    assert_eq!(d.period(), Some(60));
    assert_eq!(d.version(), 1);
    let bad = c
        .create_fleet_metric()
        .metric_name("bad")
        .query_string("*")
        .aggregation_type(
            AggregationType::builder()
                .name(AggregationTypeName::Statistics)
                .values("median")
                .build()
                .unwrap(),
        )
        .period(60)
        .aggregation_field("attributes.watts")
        .send()
        .await;
    assert_eq!(code(bad), "InvalidRequestException");
    s.stop().await;
}
