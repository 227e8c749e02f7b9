//! Device shadows driven by real clients: an app with `aws-sdk-iotdataplane` and a device with
//! `rumqttc` over mutual TLS, as in the seed's four steps (the app sets `desired`, the device
//! gets the delta, reports, and the delta is gone).

mod common;

use aws_sdk_iotdataplane::primitives::Blob;
use common::device::{
    attach_new_policy, connected, device_cert, options, things_of, until, DeviceCert,
};
use common::TestServer;
use rumqttc::{AsyncClient, EventLoop, Incoming, QoS};
use serde_json::{json, Value};

/// Devices may use only their own thing's shadows, classic and named.
async fn shadow_device(c: &aws_sdk_iot::Client) -> DeviceCert {
    let cert = device_cert(c).await;
    let arn = |r: &str| format!("arn:aws:iot:us-east-1:{}:{r}", cert.account);
    let doc = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Effect": "Allow", "Action": "iot:Connect", "Resource": "{}"}},
            {{"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "{}"}},
            {{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "{}"}}
        ]}}"#,
        arn("client/${iot:Connection.Thing.ThingName}"),
        arn("topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"),
        arn("topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"),
    );
    attach_new_policy(c, &cert, "shadow-device", &doc).await;
    cert
}

async fn subscribed(dev: &AsyncClient, ev: &mut EventLoop, filters: &[&str]) {
    for f in filters {
        dev.subscribe(*f, QoS::AtLeastOnce).await.unwrap();
        let Incoming::SubAck(ack) = until(ev, |i| matches!(i, Incoming::SubAck(_)))
            .await
            .unwrap()
        else {
            unreachable!()
        };
        assert_eq!(
            ack.return_codes,
            [rumqttc::SubscribeReasonCode::Success(QoS::AtLeastOnce)],
            "{f}"
        );
    }
}

/// The next message on `topic`, as JSON.
async fn message_on(ev: &mut EventLoop, topic: &str) -> Value {
    let Incoming::Publish(p) = until(
        ev,
        |i| matches!(i, Incoming::Publish(p) if p.topic == topic),
    )
    .await
    .unwrap_or_else(|e| panic!("nothing on {topic}: {e}")) else {
        unreachable!()
    };
    serde_json::from_slice(&p.payload).unwrap()
}

fn body(b: Option<&Blob>) -> Value {
    serde_json::from_slice(b.unwrap().as_ref()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_sets_desired_and_the_device_reports_it_back() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let app = s.data_client();
    let cert = shadow_device(&c).await;
    things_of(&c, &cert, &["lamp"]).await;
    let (dev, mut ev) = AsyncClient::new(options(&s, "lamp", &cert), 32);
    connected(&mut ev).await.unwrap();
    let prefix = "$aws/things/lamp/shadow";
    subscribed(
        &dev,
        &mut ev,
        &[
            "$aws/things/lamp/shadow/update/delta",
            "$aws/things/lamp/shadow/update/accepted",
            "$aws/things/lamp/shadow/get/+",
        ],
    )
    .await;

    // No shadow yet: the device's get is rejected with 404 and its token.
    dev.publish(
        format!("{prefix}/get"),
        QoS::AtLeastOnce,
        false,
        r#"{"clientToken":"g1"}"#,
    )
    .await
    .unwrap();
    let rejected = message_on(&mut ev, &format!("{prefix}/get/rejected")).await;
    assert_eq!(rejected["code"], 404);
    assert_eq!(rejected["message"], "No shadow exists with name: 'lamp'");
    assert_eq!(rejected["clientToken"], "g1");

    // 1. The app sets desired.
    let out = app
        .update_thing_shadow()
        .thing_name("lamp")
        .payload(Blob::new(
            r#"{"state":{"desired":{"color":"red","level":3}}}"#,
        ))
        .send()
        .await
        .unwrap();
    let accepted = body(out.payload());
    assert_eq!(accepted["version"], 1);
    assert_eq!(accepted["state"]["desired"]["color"], "red");
    // 2. The device gets the delta (the accepted document reaches subscribers too).
    let delta = message_on(&mut ev, &format!("{prefix}/update/delta")).await;
    assert_eq!(delta["state"], json!({"color": "red", "level": 3}));
    assert_eq!(delta["version"], 1);
    assert!(delta["metadata"]["color"]["timestamp"].is_i64());

    // 3. The device reports what it did.
    let report = json!({"state": {"reported": {"color": "red", "level": 3}}, "clientToken": "r1"});
    dev.publish(
        format!("{prefix}/update"),
        QoS::AtLeastOnce,
        false,
        report.to_string(),
    )
    .await
    .unwrap();
    let mut acc = message_on(&mut ev, &format!("{prefix}/update/accepted")).await;
    if acc["clientToken"] != "r1" {
        // The app's update was announced first.
        acc = message_on(&mut ev, &format!("{prefix}/update/accepted")).await;
    }
    assert_eq!(acc["clientToken"], "r1");
    assert_eq!(acc["version"], 2);

    // 4. The delta is gone.
    let got = app
        .get_thing_shadow()
        .thing_name("lamp")
        .send()
        .await
        .unwrap();
    let doc = body(got.payload());
    assert_eq!(doc["version"], 2);
    assert!(doc["state"].get("delta").is_none(), "{doc}");
    assert_eq!(
        doc["state"]["reported"],
        json!({"color": "red", "level": 3})
    );

    // A stale version is refused, and not published as rejected over MQTT.
    let stale = app
        .update_thing_shadow()
        .thing_name("lamp")
        .payload(Blob::new(
            r#"{"state":{"desired":{"color":"blue"}},"version":1}"#,
        ))
        .send()
        .await;
    assert_eq!(
        stale.unwrap_err().into_service_error().meta().code(),
        Some("ConflictException")
    );

    // Named shadows live beside the classic one.
    app.update_thing_shadow()
        .thing_name("lamp")
        .shadow_name("schedule")
        .payload(Blob::new(r#"{"state":{"desired":{"on":"07:00"}}}"#))
        .send()
        .await
        .unwrap();
    let listed = app
        .list_named_shadows_for_thing()
        .thing_name("lamp")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.results(), ["schedule"]);

    // Deleting keeps nothing readable.
    let deleted = app
        .delete_thing_shadow()
        .thing_name("lamp")
        .send()
        .await
        .unwrap();
    assert_eq!(body(Some(deleted.payload()))["version"], 2);
    let missing = app.get_thing_shadow().thing_name("lamp").send().await;
    let err = missing.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    // Another thing's shadow is out of this device's reach: MQTT 3.1.1 is disconnected.
    dev.publish(
        "$aws/things/other/shadow/update",
        QoS::AtLeastOnce,
        false,
        report.to_string(),
    )
    .await
    .unwrap();
    assert!(until(&mut ev, |i| matches!(i, Incoming::PubAck(_)))
        .await
        .is_err());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_updates_get_aws_errors_on_both_transports() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let app = s.data_client();
    let cert = shadow_device(&c).await;
    things_of(&c, &cert, &["meter"]).await;
    let (dev, mut ev) = AsyncClient::new(options(&s, "meter", &cert), 32);
    connected(&mut ev).await.unwrap();
    let prefix = "$aws/things/meter/shadow/name/cfg";
    subscribed(
        &dev,
        &mut ev,
        &["$aws/things/meter/shadow/name/cfg/update/rejected"],
    )
    .await;
    for (payload, code, message) in [
        ("{nope", 400, "Invalid JSON"),
        (
            r#"{"clientToken":"c"}"#,
            400,
            "Missing required node: state",
        ),
        (
            r#"{"state":{"desired":1}}"#,
            400,
            "Desired node must be an object",
        ),
    ] {
        dev.publish(format!("{prefix}/update"), QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
        let r = message_on(&mut ev, &format!("{prefix}/update/rejected")).await;
        assert_eq!(
            (r["code"].as_i64(), r["message"].as_str()),
            (Some(code), Some(message))
        );
    }
    let big = json!({"state": {"reported": {"blob": "x".repeat(9000)}}}).to_string();
    let e = app
        .update_thing_shadow()
        .thing_name("meter")
        .shadow_name("cfg")
        .payload(Blob::new(big))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_request_entity_too_large_exception(), "{e:?}");
    let e = app
        .update_thing_shadow()
        .thing_name("meter")
        .payload(Blob::new("[]"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(e.meta().message(), Some("Invalid JSON"));
    s.stop().await;
}
