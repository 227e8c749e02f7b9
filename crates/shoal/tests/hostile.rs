//! Hostile tenants and devices: what one tenant or one device must not be able to do to the
//! others, tried through the real listeners with aws-sdk-rust and a raw MQTT client.

mod common;

use aws_sdk_iot::types::CertificateStatus;
use aws_sdk_iotdataplane::primitives::Blob;
use common::device::{attach_new_policy, device_cert, open_device, DeviceCert, ALLOW_ALL};
use common::raw::Raw;
use common::{code, TestServer};
use shoal_domain::Clock;
use shoal_mqtt::{reason, return_code, ConnectProperties, Packet, Protocol, PubAck, QoS};

async fn connected_raw(s: &TestServer, cert: &DeviceCert, id: &str, protocol: Protocol) -> Raw {
    Raw::connected(s, cert, id, protocol).await
}

/// The payload of the next PUBLISH, acknowledging it when QoS 1.
async fn next_publish(raw: &mut Raw) -> String {
    loop {
        match raw.recv().await.expect("connection open") {
            Packet::Publish(p) => {
                if p.qos == QoS::AtLeastOnce {
                    raw.send(&Packet::PubAck(PubAck {
                        pkid: p.pkid,
                        ..PubAck::default()
                    }))
                    .await;
                }
                return String::from_utf8(p.payload.to_vec()).unwrap();
            }
            Packet::SubAck(_) | Packet::PingResp => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_publish_signed_for_another_region_stays_in_that_region() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    let mut sub = connected_raw(&s, &cert, "region-sub", Protocol::V311).await;
    sub.send(&Raw::subscribe(1, "iso/t", QoS::AtLeastOnce))
        .await;
    assert!(matches!(sub.recv().await, Some(Packet::SubAck(_))));

    let (us, eu) = (s.data_client(), s.data_client_in("eu-west-1"));
    eu.publish()
        .topic("iso/t")
        .qos(1)
        .retain(true)
        .payload(Blob::new("from eu"))
        .send()
        .await
        .unwrap();
    us.publish()
        .topic("iso/t")
        .qos(1)
        .payload(Blob::new("from us"))
        .send()
        .await
        .unwrap();
    // The eu-west-1 message was routed (and stored) before the us-east-1 one was sent: had it
    // reached this region's subscriber, it would come first.
    assert_eq!(next_publish(&mut sub).await, "from us");
    // Its retained copy lives in eu-west-1 only.
    let kept = eu
        .get_retained_message()
        .topic("iso/t")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.payload().unwrap().as_ref(), b"from eu");
    assert!(us
        .get_retained_message()
        .topic("iso/t")
        .send()
        .await
        .is_err());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ids_longer_than_128_bytes_are_refused() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    let long = "c".repeat(129);
    for (protocol, want) in [
        (Protocol::V311, return_code::IDENTIFIER_REJECTED),
        (Protocol::V5, reason::CLIENT_IDENTIFIER_NOT_VALID),
    ] {
        let mut raw = Raw::tls(&s, &cert, "localhost").await;
        let got = raw
            .connect(&long, protocol, true, ConnectProperties::default())
            .await;
        assert_eq!(got, Some(want), "{protocol:?}");
    }
    let mut raw = Raw::tls(&s, &cert, "localhost").await;
    let got = raw
        .connect(
            &"c".repeat(128),
            Protocol::V311,
            true,
            ConnectProperties::default(),
        )
        .await;
    assert_eq!(got, Some(0));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_holds_at_most_50_subscriptions() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    let mut raw = connected_raw(&s, &cert, "many-subs", Protocol::V311).await;
    let mut codes = Vec::new();
    for i in 0..51u16 {
        raw.send(&Raw::subscribe(i + 1, &format!("f/{i}"), QoS::AtMostOnce))
            .await;
        let Some(Packet::SubAck(a)) = raw.recv().await else {
            panic!("SUBACK")
        };
        codes.push(a.return_codes[0]);
    }
    assert!(codes[..50].iter().all(|c| *c == 0), "{codes:?}");
    assert_eq!(codes[50], return_code::SUBACK_FAILURE);
    // Subscribing again to a filter it has replaces it; leaving one makes room.
    raw.send(&Raw::subscribe(60, "f/0", QoS::AtLeastOnce)).await;
    let Some(Packet::SubAck(a)) = raw.recv().await else {
        panic!("SUBACK")
    };
    assert_eq!(a.return_codes, [1]);
    raw.send(&Packet::Unsubscribe(shoal_mqtt::Unsubscribe {
        pkid: 61,
        filters: vec!["f/1".into()],
        ..Default::default()
    }))
    .await;
    assert!(matches!(raw.recv().await, Some(Packet::UnsubAck(_))));
    raw.send(&Raw::subscribe(62, "f/50", QoS::AtMostOnce)).await;
    let Some(Packet::SubAck(a)) = raw.recv().await else {
        panic!("SUBACK")
    };
    assert_eq!(a.return_codes, [0]);
    s.stop().await;
}

/// A client re-subscribing 70,000 times to a topic with a retained QoS 1 message, never
/// acknowledging, gets at most the window of 100 copies in flight: the others do not pile up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_without_acknowledging_is_bounded_by_the_window() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    s.data_client()
        .publish()
        .topic("kept/r")
        .qos(1)
        .retain(true)
        .payload(Blob::new("state"))
        .send()
        .await
        .unwrap();
    let raw = connected_raw(&s, &cert, "resubscriber", Protocol::V311).await;
    let Raw { io, protocol, .. } = raw;
    let (mut rd, mut wr) = tokio::io::split(io);
    const N: usize = 70_000;
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        for chunk in 0..N / 1000 {
            let mut out = bytes::BytesMut::new();
            for i in 0..1000 {
                let pkid = ((chunk * 1000 + i) % 60_000 + 1) as u16;
                shoal_mqtt::encode(
                    &Raw::subscribe(pkid, "kept/r", QoS::AtLeastOnce),
                    protocol,
                    &mut out,
                )
                .unwrap();
            }
            wr.write_all(&out).await.unwrap();
        }
        let mut out = bytes::BytesMut::new();
        shoal_mqtt::encode(&Packet::PingReq, protocol, &mut out).unwrap();
        wr.write_all(&out).await.unwrap();
        wr
    });
    let (mut subacks, mut publishes) = (0usize, 0usize);
    let mut rbuf = bytes::BytesMut::new();
    'read: loop {
        use tokio::io::AsyncReadExt;
        while let Some(p) = shoal_mqtt::decode(&mut rbuf, protocol, 1 << 20).unwrap() {
            match p {
                Packet::SubAck(_) => subacks += 1,
                Packet::Publish(p) => {
                    assert!(p.retain);
                    publishes += 1;
                }
                Packet::PingResp => break 'read,
                other => panic!("unexpected {other:?}"),
            }
        }
        let n = tokio::time::timeout(std::time::Duration::from_secs(60), rd.read_buf(&mut rbuf))
            .await
            .expect("the server kept answering")
            .unwrap();
        assert!(n > 0, "the server closed the connection");
    }
    writer.await.unwrap();
    assert_eq!(subacks, N);
    assert_eq!(publishes, 100, "the window of unacknowledged messages");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_mqtt5_clients_the_server_is_shutting_down() {
    let mut s = TestServer::start().await;
    let cert = open_device(&s).await;
    let mut raw = connected_raw(&s, &cert, "until-shutdown", Protocol::V5).await;
    let server = s.server.take().unwrap();
    let stopping = tokio::spawn(server.stop());
    match raw.recv().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason, reason::SERVER_SHUTTING_DOWN),
        other => panic!("expected DISCONNECT 0x8B, got {other:?}"),
    }
    assert!(raw.recv().await.is_none(), "then the connection closes");
    stopping.await.unwrap();
}

/// A persistent session's long queue comes back in order, a page at a time, never more than
/// the window in flight; acknowledged messages leave the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_stored_queue_replays_in_order_within_the_window() {
    let mut s = TestServer::start().await;
    let cert = open_device(&s).await;
    let mut raw = Raw::tls(&s, &cert, "localhost").await;
    assert_eq!(
        raw.connect(
            "queued",
            Protocol::V311,
            false,
            ConnectProperties::default()
        )
        .await,
        Some(0)
    );
    raw.send(&Raw::subscribe(1, "q/#", QoS::AtLeastOnce)).await;
    assert!(matches!(raw.recv().await, Some(Packet::SubAck(_))));
    raw.send(&Packet::Disconnect(Default::default())).await;
    assert!(raw.recv().await.is_none());
    let data = s.data_client();
    for i in 0..250 {
        data.publish()
            .topic("q/m")
            .qos(1)
            .payload(Blob::new(format!("{i}")))
            .send()
            .await
            .unwrap();
    }
    // Across a restart too: the queue is counted and numbered from the store's keys.
    s.restart().await;
    let mut raw = Raw::tls(&s, &cert, "localhost").await;
    assert_eq!(
        raw.connect(
            "queued",
            Protocol::V311,
            false,
            ConnectProperties::default()
        )
        .await,
        Some(0)
    );
    let mut next = 0;
    while next < 250 {
        // Take what is in flight without acknowledging: at most the window.
        let mut pending = Vec::new();
        let expected = (250 - next).min(100);
        while pending.len() < expected {
            match raw.recv().await.expect("open") {
                Packet::Publish(p) => {
                    assert_eq!(
                        String::from_utf8(p.payload.to_vec()).unwrap(),
                        next.to_string()
                    );
                    next += 1;
                    pending.push(p.pkid);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // Nothing more comes before the acknowledgements: PINGRESP is next.
        raw.send(&Packet::PingReq).await;
        assert!(matches!(raw.recv().await, Some(Packet::PingResp)));
        let acks: Vec<Packet> = pending
            .into_iter()
            .map(|pkid| {
                Packet::PubAck(PubAck {
                    pkid,
                    ..PubAck::default()
                })
            })
            .collect();
        raw.send_all(&acks).await;
    }
    raw.send(&Packet::Disconnect(Default::default())).await;
    assert!(raw.recv().await.is_none());
    // Everything acknowledged left the store: a new connection gets nothing queued.
    s.restart().await;
    let mut raw = Raw::tls(&s, &cert, "localhost").await;
    raw.connect(
        "queued",
        Protocol::V311,
        false,
        ConnectProperties::default(),
    )
    .await;
    raw.send(&Packet::PingReq).await;
    assert!(matches!(raw.recv().await, Some(Packet::PingResp)));
    s.stop().await;
}

/// A stored message that an MQTT 5 client cannot be sent (it was queued before such messages
/// were refused, or by a bug) is dropped and dequeued: it never ends the connection, so it is
/// not met again at every reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeliverable_stored_message_is_dropped_not_replayed_forever() {
    use shoal_services::messaging::{MessageProps, StoredMessage, Write};
    let mut s = TestServer::start().await;
    let cert = open_device(&s).await;
    let v5_session = ConnectProperties {
        session_expiry_interval: Some(3600),
        ..ConnectProperties::default()
    };
    let mut raw = Raw::tls(&s, &cert, "localhost").await;
    assert_eq!(
        raw.connect("poisoned", Protocol::V5, true, v5_session.clone())
            .await,
        Some(0)
    );
    raw.send(&Raw::subscribe(1, "p/#", QoS::AtLeastOnce)).await;
    assert!(matches!(raw.recv().await, Some(Packet::SubAck(_))));
    raw.send(&Packet::Disconnect(Default::default())).await;
    assert!(raw.recv().await.is_none());
    // Written behind the server's back, while it is stopped.
    let server = s.server.take().unwrap();
    server.stop().await;
    {
        let store = std::sync::Arc::new(
            shoal_store::sqlite::SqliteStore::open(&s.data_dir().join("shoal.db")).unwrap(),
        );
        let messaging = shoal_services::Messaging::new(store.clone(), s.clock.clone());
        let part = format!("{}/us-east-1", cert.account);
        let msg = |payload: &str, bad: bool| StoredMessage {
            topic: "p/x".into(),
            qos: 1,
            payload: payload.as_bytes().to_vec(),
            props: MessageProps {
                user_properties: if bad {
                    vec![("k".into(), "nul\0inside".into())]
                } else {
                    vec![]
                },
                ..MessageProps::default()
            },
            published_at: 1,
        };
        let enqueue = |seq: u64, m: StoredMessage| {
            (
                part.clone(),
                Write::Enqueue {
                    client_id: "poisoned".into(),
                    seq,
                    message: m,
                },
            )
        };
        messaging
            .apply(vec![
                enqueue(1_000_001, msg("bad", true)),
                enqueue(1_000_002, msg("good", false)),
            ])
            .await
            .unwrap();
        shoal_store::Store::shutdown(store.as_ref()).await;
    }
    s.server = Some(
        shoal::Server::start(&s.cfg, s.clock.clone(), None)
            .await
            .unwrap(),
    );
    for _ in 0..2 {
        let mut raw = Raw::tls(&s, &cert, "localhost").await;
        assert_eq!(
            raw.connect("poisoned", Protocol::V5, false, v5_session.clone())
                .await,
            Some(0)
        );
        raw.send(&Packet::PingReq).await;
        // The first connection gets the good message only; the second nothing at all.
        let mut got = Vec::new();
        loop {
            match raw.recv().await.expect("the connection stays open") {
                Packet::Publish(p) => {
                    got.push(String::from_utf8(p.payload.to_vec()).unwrap());
                    raw.send(&Packet::PubAck(PubAck {
                        pkid: p.pkid,
                        ..PubAck::default()
                    }))
                    .await;
                }
                Packet::PingResp => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(got.is_empty() || got == ["good"], "{got:?}");
        raw.send(&Packet::Disconnect(Default::default())).await;
        assert!(raw.recv().await.is_none());
    }
    s.stop().await;
}

/// The same self-signed certificate registered without a CA (SNI_ONLY) in two accounts: the
/// TLS server name, one of the accounts' endpoints, picks the account; without one the
/// device is refused, as the account is ambiguous.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_in_two_accounts_is_told_apart_by_the_server_name() {
    let s = TestServer::start().await;
    let a = s.client("us-east-1");
    let (_, b) = s.second_account().await;
    let kp = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "shared-device");
    let pem = params.self_signed(&kp).unwrap().pem();
    let mut certs = Vec::new();
    for (client, who) in [(&a, "a"), (&b, "b")] {
        let made = client
            .register_certificate_without_ca()
            .certificate_pem(&pem)
            .status(CertificateStatus::Active)
            .send()
            .await
            .unwrap();
        let arn = made.certificate_arn().unwrap().to_string();
        let account = arn.split(':').nth(4).unwrap().to_string();
        let cert = DeviceCert {
            arn: arn.clone(),
            id: made.certificate_id().unwrap().to_string(),
            pem: pem.clone(),
            key: kp.serialize_pem(),
            account: account.clone(),
        };
        let mode = client
            .describe_certificate()
            .certificate_id(&cert.id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            mode.certificate_description()
                .unwrap()
                .certificate_mode()
                .map(|m| m.as_str()),
            Some("SNI_ONLY")
        );
        // Each account lets the device connect only as its own client id.
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:{account}:client/only-{who}"}}]}}"#
        );
        client
            .create_policy()
            .policy_name("conn")
            .policy_document(doc)
            .send()
            .await
            .unwrap();
        client
            .attach_policy()
            .policy_name("conn")
            .target(&arn)
            .send()
            .await
            .unwrap();
        let host = client
            .describe_endpoint()
            .endpoint_type("iot:Data-ATS")
            .send()
            .await
            .unwrap()
            .endpoint_address()
            .unwrap()
            .to_string();
        certs.push((cert, host));
    }
    let ((cert_a, host_a), (_, host_b)) = (&certs[0], &certs[1]);
    assert!(host_a.ends_with("-ats.iot.us-east-1.localhost"), "{host_a}");
    assert_ne!(host_a, host_b);
    for (host, client_id, ok) in [
        (host_a, "only-a", true),
        (host_a, "only-b", false),
        (host_b, "only-b", true),
        (host_b, "only-a", false),
    ] {
        let mut raw = Raw::tls(&s, cert_a, host).await;
        let got = raw
            .connect(client_id, Protocol::V5, true, ConnectProperties::default())
            .await;
        let want = if ok { 0 } else { reason::NOT_AUTHORIZED };
        assert_eq!(got, Some(want), "{client_id} through {host}");
    }
    // Without an account's name the device is refused after the handshake.
    let mut raw = Raw::tls(&s, cert_a, "localhost").await;
    let got = raw
        .connect("only-a", Protocol::V5, true, ConnectProperties::default())
        .await;
    assert_eq!(got, None, "closed without CONNACK");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_made_by_one_account_cannot_be_registered_by_another() {
    let s = TestServer::start().await;
    let a = s.client("us-east-1");
    let (b_account, b) = s.second_account().await;
    let cert = device_cert(&a).await;
    let stolen = b
        .register_certificate_without_ca()
        .certificate_pem(&cert.pem)
        .status(CertificateStatus::Active)
        .send()
        .await;
    let err = stolen.unwrap_err();
    let svc = err.as_service_error().unwrap();
    assert!(svc.is_resource_already_exists_exception(), "{svc:?}");
    if let aws_sdk_iot::operation::register_certificate_without_ca::RegisterCertificateWithoutCAError::ResourceAlreadyExistsException(e) = svc {
        if let Some(arn) = e.resource_arn() {
            assert!(arn.contains(&format!(":{b_account}:")), "never A's ARN: {arn}");
        }
    }
    assert_eq!(
        code(
            b.register_certificate()
                .certificate_pem(&cert.pem)
                .send()
                .await
        ),
        "ResourceAlreadyExistsException"
    );
    // Once A deletes it, it is free.
    a.update_certificate()
        .certificate_id(&cert.id)
        .new_status(CertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    a.delete_certificate()
        .certificate_id(&cert.id)
        .force_delete(true)
        .send()
        .await
        .unwrap();
    b.register_certificate_without_ca()
        .certificate_pem(&cert.pem)
        .send()
        .await
        .unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_testing_a_key_shoal_does_not_supply_is_refused() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let doc = |key: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"iot:Connect","Resource":"*","Condition":{{"StringEquals":{{"{key}":"x"}}}}}}]}}"#
        )
    };
    assert_eq!(
        code(
            c.create_policy()
                .policy_name("ua")
                .policy_document(doc("aws:UserAgent"))
                .send()
                .await
        ),
        "MalformedPolicyException"
    );
    for (i, key) in [
        "aws:SourceIp",
        "iot:ConnectAttributes",
        "iot:Certificate.Subject.CommonName",
        "iot:Connection.Thing.Attributes[color]",
    ]
    .into_iter()
    .enumerate()
    {
        c.create_policy()
            .policy_name(format!("ok{i}"))
            .policy_document(doc(key))
            .send()
            .await
            .unwrap();
    }
    s.stop().await;
}

/// Deny statements conditioned on the connection's facts hold, as on AWS: the source address,
/// the connect attributes, the time, TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_on_the_connection_decide() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let cert = device_cert(&c).await;
    let until = shoal_sigv4::format_iso8601(s.clock.now().secs() + 3600);
    let arn = |id: &str| format!("arn:aws:iot:us-east-1:{}:client/{id}", cert.account);
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{{"DateLessThan":{{"aws:CurrentTime":"{until}"}}}}}},
            {{"Effect":"Deny","Action":"iot:Connect","Resource":"{}","Condition":{{"IpAddress":{{"aws:SourceIp":"127.0.0.0/8"}}}}}},
            {{"Effect":"Deny","Action":"iot:Connect","Resource":"{}","Condition":{{"ForAnyValue:StringEquals":{{"iot:ConnectAttributes":"PersistentConnect"}}}}}},
            {{"Effect":"Deny","Action":"iot:Connect","Resource":"*","Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}
        ]}}"#,
        arn("from-loopback"),
        arn("clean-only"),
    );
    attach_new_policy(&c, &cert, "conditions", &doc).await;
    let try_connect = |id: &'static str, persistent: bool| {
        let (s, cert) = (&s, &cert);
        async move {
            let mut raw = Raw::tls(s, cert, "localhost").await;
            let props = ConnectProperties {
                session_expiry_interval: persistent.then_some(60),
                ..ConnectProperties::default()
            };
            raw.connect(id, Protocol::V5, true, props).await
        }
    };
    let denied = Some(reason::NOT_AUTHORIZED);
    assert_eq!(
        try_connect("anyone", false).await,
        Some(0),
        "TLS is secure transport"
    );
    assert_eq!(
        try_connect("from-loopback", false).await,
        denied,
        "aws:SourceIp"
    );
    assert_eq!(try_connect("clean-only", false).await, Some(0));
    assert_eq!(
        try_connect("clean-only", true).await,
        denied,
        "PersistentConnect"
    );
    // The time is read at evaluation: two hours on, the Allow no longer holds.
    s.clock.advance_millis(2 * 3600 * 1000);
    assert_eq!(
        try_connect("anyone", false).await,
        denied,
        "aws:CurrentTime"
    );
    s.stop().await;
}

/// A subscriber that stops reading is disconnected once a write to it has waited
/// `WRITE_TIMEOUT` (10 s): what is buffered for it stays bounded, and the publisher is not
/// held up meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_disconnected() {
    let s = TestServer::start().await;
    let cert = open_device(&s).await;
    let mut watcher = connected_raw(&s, &cert, "watcher", Protocol::V311).await;
    watcher
        .send(&Raw::subscribe(
            1,
            "$aws/events/presence/disconnected/stalled",
            QoS::AtMostOnce,
        ))
        .await;
    assert!(matches!(watcher.recv().await, Some(Packet::SubAck(_))));
    let mut stalled = connected_raw(&s, &cert, "stalled", Protocol::V311).await;
    stalled
        .send(&Raw::subscribe(1, "flood/#", QoS::AtMostOnce))
        .await;
    assert!(matches!(stalled.recv().await, Some(Packet::SubAck(_))));
    // From here on `stalled` never reads.
    let mut publisher = connected_raw(&s, &cert, "flooder", Protocol::V311).await;
    let payload = bytes::Bytes::from(vec![b'x'; 100 * 1024]);
    let batch: Vec<Packet> = (0..10)
        .map(|_| {
            Packet::Publish(shoal_mqtt::Publish {
                topic: "flood/a".into(),
                qos: QoS::AtMostOnce,
                payload: payload.clone(),
                ..Default::default()
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(40);
    let flood = tokio::spawn(async move {
        // 60 MB in writes of 1 MB: far more than socket buffers hold.
        for _ in 0..60 {
            publisher.send_all(&batch).await;
        }
        publisher
    });
    let event = loop {
        assert!(tokio::time::Instant::now() < deadline, "never disconnected");
        match watcher
            .recv_within(std::time::Duration::from_secs(30))
            .await
        {
            Some(Packet::Publish(p)) => break p,
            Some(_) => continue,
            None => panic!("the watcher was disconnected"),
        }
    };
    let body: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(body["clientId"], "stalled");
    assert_eq!(body["eventType"], "disconnected");
    // The publisher went on: its connection is still served.
    let mut publisher = flood.await.unwrap();
    publisher.send(&Packet::PingReq).await;
    assert!(matches!(publisher.recv().await, Some(Packet::PingResp)));
    drop(stalled);
    s.stop().await;
}

/// What AWS does when a CA certificate becomes INACTIVE: the device certificates it signed
/// keep connecting until each is revoked, and no new one is registered with it
/// (https://docs.aws.amazon.com/iot/latest/developerguide/deactivate-ca-cert.html).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_ca_stops_registrations_not_its_devices() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let ca = common::device::TestCa::new("Line 3 CA");
    let ca_pem = ca.pem.clone();
    let ca_id = c
        .register_ca_certificate()
        .ca_certificate(&ca_pem)
        .certificate_mode(aws_sdk_iot::types::CertificateMode::SniOnly)
        .set_as_active(true)
        .send()
        .await
        .unwrap()
        .certificate_id()
        .unwrap()
        .to_string();
    let device = |cn: &str| ca.sign(cn);
    let (pem, key) = device("line3-dev-1");
    let reg = c
        .register_certificate()
        .certificate_pem(&pem)
        .ca_certificate_pem(&ca_pem)
        .status(CertificateStatus::Active)
        .send()
        .await
        .unwrap();
    let cert = DeviceCert {
        arn: reg.certificate_arn().unwrap().to_string(),
        id: reg.certificate_id().unwrap().to_string(),
        pem,
        key,
        account: reg
            .certificate_arn()
            .unwrap()
            .split(':')
            .nth(4)
            .unwrap()
            .to_string(),
    };
    attach_new_policy(&c, &cert, "line3", ALLOW_ALL).await;
    c.update_ca_certificate()
        .certificate_id(&ca_id)
        .new_status(aws_sdk_iot::types::CaCertificateStatus::Inactive)
        .send()
        .await
        .unwrap();
    let mut raw = Raw::tls(&s, &cert, "localhost").await;
    assert_eq!(
        raw.connect(
            "line3-dev-1",
            Protocol::V311,
            true,
            ConnectProperties::default()
        )
        .await,
        Some(0),
        "the device keeps connecting"
    );
    let (other, _) = device("line3-dev-2");
    assert_eq!(
        code(
            c.register_certificate()
                .certificate_pem(&other)
                .ca_certificate_pem(&ca_pem)
                .send()
                .await
        ),
        "CertificateStateException"
    );
    s.stop().await;
}
