//! Fleet provisioning by trusted user: `aws-sdk-iot` asks for a provisioning claim, an MQTT
//! client (rumqttc, mutual TLS) connects with the claim certificate — which needs no attached
//! policy and may use only its template's provisioning topics — and gets its own certificate
//! and thing; the test's clock then runs out the claim's five minutes.

mod common;

use common::device::{connected, options, DeviceCert};
use common::TestServer;
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, QoS, SubscribeReasonCode};
use serde_json::{json, Value};
use std::time::Duration;

const TEMPLATE: &str = r#"{
  "Parameters": {"Serial": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Serial"}}},
    "certificate": {"Type": "AWS::IoT::Certificate",
                    "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}}
  },
  "DeviceConfiguration": {"Greeting": "hello"}
}"#;

/// The next incoming packet that is not a ping or an acknowledgement of ours.
async fn next(ev: &mut EventLoop) -> Incoming {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ev.poll()).await {
            Ok(Ok(Event::Incoming(Incoming::PingResp))) | Ok(Ok(Event::Outgoing(_))) => continue,
            Ok(Ok(Event::Incoming(i))) => return i,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

async fn subscribe(client: &AsyncClient, ev: &mut EventLoop, filter: &str) -> SubscribeReasonCode {
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    loop {
        if let Incoming::SubAck(a) = next(ev).await {
            return a.return_codes[0];
        }
    }
}

async fn request(
    client: &AsyncClient,
    ev: &mut EventLoop,
    topic: &str,
    body: Value,
) -> (String, Value) {
    client
        .publish(topic, QoS::AtLeastOnce, false, body.to_string())
        .await
        .unwrap();
    loop {
        if let Incoming::Publish(p) = next(ev).await {
            return (p.topic, serde_json::from_slice(&p.payload).unwrap());
        }
    }
}

#[tokio::test]
async fn a_provisioning_claim_provisions_for_five_minutes() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    c.create_provisioning_template()
        .template_name("trusted")
        .template_body(TEMPLATE)
        .provisioning_role_arn("arn:aws:iam::123456789012:role/provisioning")
        .enabled(true)
        .send()
        .await
        .unwrap();
    let claim = c
        .create_provisioning_claim()
        .template_name("trusted")
        .send()
        .await
        .unwrap();
    let expiration = claim.expiration().unwrap().secs();
    let now = shoal_domain::Clock::now(s.clock.as_ref()).secs();
    assert!(
        (now + 299..=now + 300).contains(&expiration),
        "{expiration} vs {now}"
    );
    let cert = DeviceCert {
        arn: String::new(),
        id: claim.certificate_id().unwrap().to_string(),
        pem: claim.certificate_pem().unwrap().to_string(),
        key: claim.key_pair().unwrap().private_key().unwrap().to_string(),
        account: String::new(),
    };
    let missing = c
        .create_provisioning_claim()
        .template_name("missing")
        .send()
        .await;
    assert_eq!(common::code(missing), "ResourceNotFoundException");

    let (client, mut ev) = AsyncClient::new(options(&s, "installer-1", &cert), 10);
    connected(&mut ev).await.unwrap();
    // Its template's topics, and nothing else.
    let ok = SubscribeReasonCode::Success(QoS::AtLeastOnce);
    assert_eq!(
        subscribe(&client, &mut ev, "$aws/certificates/create/json/+").await,
        ok
    );
    let provision = "$aws/provisioning-templates/trusted/provision/json";
    assert_eq!(
        subscribe(&client, &mut ev, &format!("{provision}/+")).await,
        ok
    );
    assert_eq!(
        subscribe(
            &client,
            &mut ev,
            "$aws/provisioning-templates/other/provision/json/+"
        )
        .await,
        SubscribeReasonCode::Failure
    );
    assert_eq!(
        subscribe(&client, &mut ev, "factory/line-1").await,
        SubscribeReasonCode::Failure
    );

    let (topic, made) = request(&client, &mut ev, "$aws/certificates/create/json", json!({})).await;
    assert_eq!(topic, "$aws/certificates/create/json/accepted");
    let token = made["certificateOwnershipToken"].as_str().unwrap();
    let (topic, done) = request(
        &client,
        &mut ev,
        provision,
        json!({"certificateOwnershipToken": token, "parameters": {"Serial": "unit-42"}}),
    )
    .await;
    assert_eq!(topic, format!("{provision}/accepted"));
    assert_eq!(
        done,
        json!({"thingName": "unit-42", "deviceConfiguration": {"Greeting": "hello"}})
    );
    let described = c
        .describe_certificate()
        .certificate_id(made["certificateId"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        described
            .certificate_description()
            .unwrap()
            .status()
            .unwrap()
            .as_str(),
        "ACTIVE"
    );
    client.disconnect().await.unwrap();

    // Five minutes on, the claim no longer connects.
    s.clock.advance_millis(300_000);
    let (_client, mut ev) = AsyncClient::new(options(&s, "installer-2", &cert), 10);
    assert!(connected(&mut ev).await.is_err());
    s.stop().await;
}
