//! The rules engine driven by real clients: topic rules made with `aws-sdk-iot`, messages
//! published by a device with `rumqttc` over mutual TLS, the rule's republish received by the
//! same device; WHERE clauses that must and must not match, Basic Ingest, and the errors AWS
//! gives for what a rule may not hold.

mod common;

use aws_sdk_iot::types::{Action, RepublishAction, S3Action, TopicRulePayload};
use common::device::{connected, open_device, options, until};
use common::{code, TestServer};
use rumqttc::{AsyncClient, EventLoop, Incoming, QoS};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/rules";

fn republish(topic: &str) -> Action {
    Action::builder()
        .republish(
            RepublishAction::builder()
                .topic(topic)
                .role_arn(ROLE)
                .qos(1)
                .build()
                .unwrap(),
        )
        .build()
}

fn payload(sql: &str, actions: Vec<Action>) -> TopicRulePayload {
    TopicRulePayload::builder()
        .sql(sql)
        .set_actions(Some(actions))
        .aws_iot_sql_version("2016-03-23")
        .build()
        .unwrap()
}

async fn subscribed(dev: &AsyncClient, ev: &mut EventLoop, filter: &str) {
    dev.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    until(ev, |i| matches!(i, Incoming::SubAck(_)))
        .await
        .unwrap();
}

/// The next message on a topic under `prefix`: (topic, JSON payload).
async fn next_under(ev: &mut EventLoop, prefix: &str) -> (String, Value) {
    let Incoming::Publish(p) = until(
        ev,
        |i| matches!(i, Incoming::Publish(p) if p.topic.starts_with(prefix)),
    )
    .await
    .unwrap_or_else(|e| panic!("nothing under {prefix}: {e}")) else {
        unreachable!()
    };
    (p.topic, serde_json::from_slice(&p.payload).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_selects_filters_and_republishes_a_devices_messages() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = open_device(&s).await;
    c.create_topic_rule()
        .rule_name("hot")
        .topic_rule_payload(payload(
            "SELECT temp, topic(2) AS device, clientid() AS client FROM 'sensors/+/data' WHERE temp > 30",
            vec![republish("alerts/${topic(2)}")],
        ))
        .send()
        .await
        .unwrap();
    let got = c.get_topic_rule().rule_name("hot").send().await.unwrap();
    let rule = got.rule().unwrap();
    assert_eq!(rule.aws_iot_sql_version(), Some("2016-03-23"));
    assert_eq!(rule.rule_disabled(), Some(false));
    assert!(got.rule_arn().unwrap().ends_with(":rule/hot"));
    let listed = c
        .list_topic_rules()
        .topic("sensors/+/data")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.rules()[0].topic_pattern(), Some("sensors/+/data"));

    let (dev, mut ev) = AsyncClient::new(options(&s, "probe-1", &cert), 32);
    connected(&mut ev).await.unwrap();
    subscribed(&dev, &mut ev, "alerts/#").await;
    // Not hot enough: the rule's WHERE refuses it, so the first alert is the second message.
    for temp in [20, 35] {
        dev.publish(
            "sensors/d1/data",
            QoS::AtLeastOnce,
            false,
            json!({ "temp": temp, "other": 1 }).to_string(),
        )
        .await
        .unwrap();
    }
    let (topic, body) = next_under(&mut ev, "alerts/").await;
    assert_eq!(topic, "alerts/d1");
    assert_eq!(
        body,
        json!({ "temp": 35, "device": "d1", "client": "probe-1" })
    );

    // Disabled, the rule is silent; enabled again, it runs.
    c.disable_topic_rule()
        .rule_name("hot")
        .send()
        .await
        .unwrap();
    dev.publish(
        "sensors/d2/data",
        QoS::AtLeastOnce,
        false,
        r#"{"temp": 99}"#,
    )
    .await
    .unwrap();
    // rumqttc sends when its event loop is polled: the PUBACK says the broker has it.
    until(&mut ev, |i| matches!(i, Incoming::PubAck(_)))
        .await
        .unwrap();
    c.enable_topic_rule().rule_name("hot").send().await.unwrap();
    dev.publish(
        "sensors/d3/data",
        QoS::AtLeastOnce,
        false,
        r#"{"temp": 98}"#,
    )
    .await
    .unwrap();
    let (topic, body) = next_under(&mut ev, "alerts/").await;
    assert_eq!((topic.as_str(), &body["temp"]), ("alerts/d3", &json!(98)));

    c.delete_topic_rule().rule_name("hot").send().await.unwrap();
    let gone = c.get_topic_rule().rule_name("hot").send().await;
    assert_eq!(code(gone), "UnauthorizedException");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_ingest_runs_one_rule_and_reaches_no_subscriber() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = open_device(&s).await;
    c.create_topic_rule()
        .rule_name("ingest")
        .topic_rule_payload(payload(
            "SELECT *, topic() AS t FROM 'ignored/by/basic/ingest'",
            vec![republish("ingested/${topic(1)}")],
        ))
        .send()
        .await
        .unwrap();
    let (dev, mut ev) = AsyncClient::new(options(&s, "ingester", &cert), 32);
    connected(&mut ev).await.unwrap();
    subscribed(&dev, &mut ev, "ingested/#").await;
    subscribed(&dev, &mut ev, "$aws/rules/#").await;
    dev.publish(
        "$aws/rules/ingest/plant/line-4",
        QoS::AtLeastOnce,
        false,
        r#"{"v": 7}"#,
    )
    .await
    .unwrap();
    // The first message this device hears is the rule's: none on `$aws/rules/...`.
    let Incoming::Publish(p) = until(&mut ev, |i| matches!(i, Incoming::Publish(_)))
        .await
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(p.topic, "ingested/plant");
    let body: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(body, json!({ "v": 7, "t": "plant/line-4" }));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_rule_may_not_hold_gets_awss_errors() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let bad_sql = c
        .create_topic_rule()
        .rule_name("bad")
        .topic_rule_payload(payload("SELECT FROM WHERE", vec![]))
        .send()
        .await;
    assert_eq!(code(bad_sql), "SqlParseException");
    let sqs = Action::builder()
        .sqs(
            aws_sdk_iot::types::SqsAction::builder()
                .role_arn(ROLE)
                .queue_url("https://sqs.us-east-1.amazonaws.com/1/q")
                .build()
                .unwrap(),
        )
        .build();
    let refused = c
        .create_topic_rule()
        .rule_name("to_sqs")
        .topic_rule_payload(payload("SELECT * FROM 'a'", vec![sqs]))
        .send()
        .await;
    let e = refused.unwrap_err().into_service_error();
    assert_eq!(e.meta().code(), Some("InvalidRequestException"));
    assert!(e.meta().message().unwrap().contains("sqs"), "{e:?}");
    let s3 = Action::builder()
        .s3(S3Action::builder()
            .role_arn(ROLE)
            .bucket_name("b")
            .key("${newuuid(}")
            .build()
            .unwrap())
        .build();
    let bad_template = c
        .create_topic_rule()
        .rule_name("bad_key")
        .topic_rule_payload(payload("SELECT * FROM 'a'", vec![s3]))
        .send()
        .await;
    assert_eq!(code(bad_template), "InvalidRequestException");
    c.create_topic_rule()
        .rule_name("twice")
        .topic_rule_payload(payload("SELECT * FROM 'a'", vec![]))
        .send()
        .await
        .unwrap();
    let again = c
        .create_topic_rule()
        .rule_name("twice")
        .topic_rule_payload(payload("SELECT * FROM 'a'", vec![]))
        .send()
        .await;
    assert_eq!(code(again), "ResourceAlreadyExistsException");
    let missing = c.enable_topic_rule().rule_name("nope").send().await;
    assert_eq!(code(missing), "UnauthorizedException");
    s.stop().await;
}
