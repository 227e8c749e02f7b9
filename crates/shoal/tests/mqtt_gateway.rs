//! The MQTT device gateway driven by `rumqttc` over mutual TLS, with a certificate, a policy and
//! the attachments made through `aws-sdk-iot`: what a device and its operator see.

mod common;

use aws_sdk_iot::types::CertificateStatus;
use common::device::{
    attach_new_policy, connected, device_cert, options, things_of, until, DeviceCert,
};
use common::TestServer;
use rumqttc::{AsyncClient, EventLoop, Incoming, QoS};

/// A device certificate with the policy below attached to it.
async fn device_with_policy(c: &aws_sdk_iot::Client) -> DeviceCert {
    let cert = device_cert(c).await;
    let doc = policy(&cert.account);
    attach_new_policy(c, &cert, "device", &doc).await;
    cert
}

/// A policy in the style of AWS's examples: connect as your own thing, publish and receive on
/// `d/<thing>/...` and `shared/...`, subscribe to the same.
fn policy(account: &str) -> String {
    let arn = |r: &str| format!("arn:aws:iot:us-east-1:{account}:{r}");
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Effect": "Allow", "Action": "iot:Connect", "Resource": "{}"}},
            {{"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": ["{}", "{}"]}},
            {{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": ["{}", "{}"]}},
            {{"Effect": "Deny", "Action": "iot:Receive", "Resource": "{}"}}
        ]}}"#,
        arn("client/${iot:Connection.Thing.ThingName}"),
        arn("topic/d/${iot:Connection.Thing.ThingName}/*"),
        arn("topic/shared/*"),
        arn("topicfilter/d/${iot:Connection.Thing.ThingName}/*"),
        arn("topicfilter/shared/*"),
        arn("topic/shared/secret"),
    )
}

/// Publishes with QoS 1 and checks the server refuses it: an MQTT 3.1.1 client is disconnected
/// instead of getting a PUBACK, as on AWS.
async fn publish_refused(dev: &AsyncClient, ev: &mut EventLoop, topic: &str, why: &str) {
    dev.publish(topic, QoS::AtLeastOnce, false, "x")
        .await
        .unwrap();
    assert!(
        until(ev, |i| matches!(i, Incoming::PubAck(_)))
            .await
            .is_err(),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_connect_publish_and_subscribe_as_their_policy_allows() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = device_with_policy(&c).await;
    things_of(&c, &cert, &["sensor-a", "sensor-b"]).await;

    let (sub, mut sub_ev) = AsyncClient::new(options(&s, "sensor-a", &cert), 16);
    connected(&mut sub_ev).await.unwrap();
    sub.subscribe("shared/#", QoS::AtLeastOnce).await.unwrap();
    let ack = until(&mut sub_ev, |i| matches!(i, Incoming::SubAck(_)))
        .await
        .unwrap();
    let Incoming::SubAck(ack) = ack else {
        unreachable!()
    };
    assert_eq!(
        ack.return_codes,
        [rumqttc::SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );

    let (publ, mut pub_ev) = AsyncClient::new(options(&s, "sensor-b", &cert), 16);
    connected(&mut pub_ev).await.unwrap();
    publ.publish("shared/temp", QoS::AtLeastOnce, false, "21.5")
        .await
        .unwrap();
    publ.publish("shared/secret", QoS::AtLeastOnce, false, "hidden")
        .await
        .unwrap();
    publ.publish("shared/humidity", QoS::AtMostOnce, false, "40")
        .await
        .unwrap();
    let pub_driver = tokio::spawn(async move {
        let _ = until(&mut pub_ev, |_| false).await;
        pub_ev
    });
    let mut got = Vec::new();
    while got.len() < 2 {
        if let Incoming::Publish(p) = until(&mut sub_ev, |i| matches!(i, Incoming::Publish(_)))
            .await
            .unwrap()
        {
            got.push((
                p.topic.clone(),
                String::from_utf8(p.payload.to_vec()).unwrap(),
            ));
        }
    }
    // `shared/secret` was published but the subscriber's policy denies receiving it.
    assert_eq!(
        got,
        [
            ("shared/temp".to_string(), "21.5".to_string()),
            ("shared/humidity".to_string(), "40".to_string())
        ]
    );
    pub_driver.abort();

    // A client id that is not an attached thing may not connect.
    let (_x, mut x_ev) = AsyncClient::new(options(&s, "intruder", &cert), 16);
    assert!(connected(&mut x_ev).await.is_err());

    // Publishing where the policy does not allow ends an MQTT 3.1.1 connection, as on AWS.
    publish_refused(
        &sub,
        &mut sub_ev,
        "d/sensor-b/temp",
        "publish elsewhere is refused",
    )
    .await;

    // A subscription the policy does not allow is refused in the SUBACK.
    let (third, mut third_ev) = AsyncClient::new(options(&s, "sensor-b", &cert), 16);
    connected(&mut third_ev).await.unwrap();
    third
        .subscribe("d/sensor-a/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let Incoming::SubAck(ack) = until(&mut third_ev, |i| matches!(i, Incoming::SubAck(_)))
        .await
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(ack.return_codes, [rumqttc::SubscribeReasonCode::Failure]);

    // An inactive certificate cannot connect.
    c.update_certificate()
        .certificate_id(&cert.id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    let (_y, mut y_ev) = AsyncClient::new(options(&s, "sensor-a", &cert), 16);
    assert!(connected(&mut y_ev).await.is_err());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_and_policy_changes_reach_live_connections() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = device_with_policy(&c).await;
    things_of(&c, &cert, &["sensor-a"]).await;

    // Detaching the policy applies to the next packet of a connection already open.
    let (dev, mut ev) = AsyncClient::new(options(&s, "sensor-a", &cert), 16);
    connected(&mut ev).await.unwrap();
    dev.publish("shared/ok", QoS::AtLeastOnce, false, "1")
        .await
        .unwrap();
    until(&mut ev, |i| matches!(i, Incoming::PubAck(_)))
        .await
        .unwrap();
    c.detach_policy()
        .policy_name("device")
        .target(&cert.arn)
        .send()
        .await
        .unwrap();
    publish_refused(
        &dev,
        &mut ev,
        "shared/ok",
        "publish after detach is refused",
    )
    .await;

    // Revoking the certificate ends its live connections.
    c.attach_policy()
        .policy_name("device")
        .target(&cert.arn)
        .send()
        .await
        .unwrap();
    let (_dev, mut ev) = AsyncClient::new(options(&s, "sensor-a", &cert), 16);
    connected(&mut ev).await.unwrap();
    c.update_certificate()
        .certificate_id(&cert.id)
        .new_status(CertificateStatus::Revoked)
        .send()
        .await
        .unwrap();
    assert!(
        until(&mut ev, |_| false).await.unwrap_err() != "timed out",
        "the connection was closed by the server"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thing_group_policies_follow_membership_on_live_connections() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = device_cert(&c).await;
    things_of(&c, &cert, &["sensor-g"]).await;
    // The certificate may only connect; publishing comes from its thing's group.
    let arn = |r: &str| format!("arn:aws:iot:us-east-1:{}:{r}", cert.account);
    let connect_only = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{}"}}]}}"#,
        arn("client/sensor-g")
    );
    let publish = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Publish","Resource":"{}"}}]}}"#,
        arn("topic/fleet/*")
    );
    for (name, doc) in [("connect", &connect_only), ("fleet-publish", &publish)] {
        c.create_policy()
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await
            .unwrap();
    }
    c.attach_policy()
        .policy_name("connect")
        .target(&cert.arn)
        .send()
        .await
        .unwrap();
    let group = c
        .create_thing_group()
        .thing_group_name("fleet")
        .send()
        .await
        .unwrap();
    c.attach_policy()
        .policy_name("fleet-publish")
        .target(group.thing_group_arn().unwrap())
        .send()
        .await
        .unwrap();

    let (dev, mut ev) = AsyncClient::new(options(&s, "sensor-g", &cert), 16);
    connected(&mut ev).await.unwrap();
    // Joining the group while connected lets the very next publish through.
    c.add_thing_to_thing_group()
        .thing_name("sensor-g")
        .thing_group_name("fleet")
        .send()
        .await
        .unwrap();
    dev.publish("fleet/t", QoS::AtLeastOnce, false, "1")
        .await
        .unwrap();
    until(&mut ev, |i| matches!(i, Incoming::PubAck(_)))
        .await
        .unwrap();
    // Leaving it takes the permission away from the same connection.
    c.remove_thing_from_thing_group()
        .thing_name("sensor-g")
        .thing_group_name("fleet")
        .send()
        .await
        .unwrap();
    publish_refused(
        &dev,
        &mut ev,
        "fleet/t",
        "publish after leaving the group is refused",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_session_gets_what_was_published_while_it_was_away() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = device_with_policy(&c).await;
    things_of(&c, &cert, &["sensor-p", "sensor-q"]).await;
    let mut o = options(&s, "sensor-p", &cert);
    o.set_clean_session(false);
    let (sub, mut sub_ev) = AsyncClient::new(o.clone(), 16);
    connected(&mut sub_ev).await.unwrap();
    sub.subscribe("shared/queued", QoS::AtLeastOnce)
        .await
        .unwrap();
    until(&mut sub_ev, |i| matches!(i, Incoming::SubAck(_)))
        .await
        .unwrap();
    sub.disconnect().await.unwrap();
    let _ = until(&mut sub_ev, |_| false).await;

    let (publ, mut pub_ev) = AsyncClient::new(options(&s, "sensor-q", &cert), 16);
    connected(&mut pub_ev).await.unwrap();
    for i in 0..5 {
        publ.publish("shared/queued", QoS::AtLeastOnce, false, format!("m{i}"))
            .await
            .unwrap();
    }
    let mut acked = 0;
    while acked < 5 {
        until(&mut pub_ev, |i| matches!(i, Incoming::PubAck(_)))
            .await
            .unwrap();
        acked += 1;
    }

    let (_again, mut ev) = AsyncClient::new(o, 16);
    let Incoming::ConnAck(ack) = until(&mut ev, |i| matches!(i, Incoming::ConnAck(_)))
        .await
        .unwrap()
    else {
        unreachable!()
    };
    assert!(ack.session_present);
    let mut got = Vec::new();
    while got.len() < 5 {
        if let Incoming::Publish(p) = until(&mut ev, |i| matches!(i, Incoming::Publish(_)))
            .await
            .unwrap()
        {
            got.push(String::from_utf8(p.payload.to_vec()).unwrap());
        }
    }
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4"]);
    s.stop().await;
}
