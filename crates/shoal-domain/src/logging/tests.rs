use super::*;
use crate::clock::Timestamp;

fn config(default: Option<LogLevel>, targets: &[(TargetType, &str, LogLevel)]) -> LoggingConfig {
    LoggingConfig {
        options: Some(V2Options {
            default_level: default,
            ..V2Options::default()
        }),
        targets: targets
            .iter()
            .map(|(k, n, l)| {
                (
                    LogTarget {
                        kind: *k,
                        name: Some(n.to_string()),
                    },
                    *l,
                )
            })
            .collect(),
    }
}

#[test]
fn the_most_specific_target_decides() {
    use LogLevel::*;
    use TargetType::*;
    let c = config(
        Some(Error),
        &[
            (ThingGroup, "plant", Info),
            (ThingGroup, "line-3", Debug),
            (PrincipalId, "cert-1", Warn),
            (SourceIp, "10.0.0.9", Disabled),
            (ClientId, "dev-1", Info),
        ],
    );
    let groups = [(0, "plant"), (1, "line-3")];
    let cases: [(DeviceFacts<'_>, LogLevel); 6] = [
        (DeviceFacts::default(), Error),
        (
            DeviceFacts {
                groups: &groups[..1],
                ..DeviceFacts::default()
            },
            Info,
        ),
        (
            DeviceFacts {
                groups: &groups,
                ..DeviceFacts::default()
            },
            Debug,
        ),
        (
            DeviceFacts {
                principal_id: Some("cert-1"),
                groups: &groups,
                ..DeviceFacts::default()
            },
            Warn,
        ),
        (
            DeviceFacts {
                source_ip: Some("10.0.0.9"),
                principal_id: Some("cert-1"),
                ..DeviceFacts::default()
            },
            Disabled,
        ),
        (
            DeviceFacts {
                client_id: Some("dev-1"),
                source_ip: Some("10.0.0.9"),
                ..DeviceFacts::default()
            },
            Info,
        ),
    ];
    for (facts, want) in cases {
        assert_eq!(c.levels(&facts).of(EventType::Connect), want, "{facts:?}");
    }
}

#[test]
fn nothing_is_kept_without_options_or_with_everything_disabled() {
    let mut c = config(Some(LogLevel::Debug), &[]);
    assert!(c
        .levels(&DeviceFacts::default())
        .keeps(EventType::Connect, LogLevel::Info));
    c.options.as_mut().unwrap().disable_all = true;
    assert!(c.levels(&DeviceFacts::default()).is_off());
    assert!(LoggingConfig::default()
        .levels(&DeviceFacts::default())
        .is_off());
}

#[test]
fn an_event_configuration_replaces_the_level_of_its_event_type() {
    let mut c = config(Some(LogLevel::Error), &[]);
    c.options.as_mut().unwrap().events = vec![EventConfiguration {
        event_type: "Publish-In".into(),
        log_level: Some(LogLevel::Debug),
        log_destination: None,
    }];
    let l = c.levels(&DeviceFacts::default());
    assert!(l.keeps(EventType::PublishIn, LogLevel::Info));
    assert!(!l.keeps(EventType::Connect, LogLevel::Info));
    assert!(l.keeps(EventType::Connect, LogLevel::Error));
}

#[test]
fn levels_keep_what_is_at_or_above_them() {
    assert!(LogLevel::Debug.keeps(LogLevel::Info));
    assert!(LogLevel::Info.keeps(LogLevel::Error));
    assert!(!LogLevel::Error.keeps(LogLevel::Info));
    assert!(!LogLevel::Disabled.keeps(LogLevel::Error));
    assert!(LogLevel::parse("logLevel", "VERBOSE").is_err());
}

#[test]
fn targets_need_a_name_and_a_source_ip_must_be_an_address() {
    assert!(LogTarget::new(TargetType::ThingGroup, None).is_err());
    assert!(LogTarget::new(TargetType::Default, None).is_err());
    assert!(LogTarget::new(TargetType::SourceIp, Some("not-an-ip".into())).is_err());
    assert!(LogTarget::new(TargetType::SourceIp, Some("2001:db8::1".into())).is_ok());
}

#[test]
fn a_record_is_written_as_aws_writes_it() {
    let r = LogRecord {
        timestamp: Timestamp(1_502_379_443_476),
        level: LogLevel::Info,
        trace_id: 0x20b23f3f_d7f1_4eae_969f_82263394fbdb,
        event: EventType::Connect,
        transport: Some(Transport::Mqtt),
        failure: None,
        topic: None,
        extra: vec![],
    };
    let o = Origin {
        account_id: "123456789012".into(),
        client_id: Some("abf27092886e49a8a5c1922749736453".into()),
        principal_id: Some(
            "145179c40e2219e18a909d896a5340b74cf97a39641beec2fc3eeafc5a932167".into(),
        ),
        source_ip: Some("205.251.233.181".into()),
        source_port: Some(13490),
    };
    assert_eq!(
        r.to_json(&o),
        r#"{"timestamp":"2017-08-10 15:37:23.476","logLevel":"INFO","traceId":"20b23f3f-d7f1-4eae-969f-82263394fbdb","accountId":"123456789012","status":"Success","eventType":"Connect","protocol":"MQTT","clientId":"abf27092886e49a8a5c1922749736453","principalId":"145179c40e2219e18a909d896a5340b74cf97a39641beec2fc3eeafc5a932167","sourceIp":"205.251.233.181","sourcePort":13490}"#
    );
}

#[test]
fn reserved_requests_are_named_as_aws_logs_them() {
    let kind = |t: &str| reserved_request(t).map(|(e, l, x)| (e.as_str(), l, x));
    assert_eq!(
        kind("$aws/things/Jack/shadow/update"),
        Some((
            "UpdateThingShadow",
            LogLevel::Info,
            vec![("deviceShadowName", "Jack".into())]
        ))
    );
    assert_eq!(
        kind("$aws/things/Jack/shadow/name/cfg/get").map(|k| k.0),
        Some("GetThingShadow")
    );
    assert_eq!(
        kind("$aws/things/t/jobs/002/update"),
        Some((
            "UpdateJobExecution",
            LogLevel::Debug,
            vec![("jobId", "002".into())]
        ))
    );
    assert_eq!(
        kind("$aws/things/t/jobs/get").map(|k| k.0),
        Some("GetPendingJobExecution")
    );
    assert_eq!(
        kind("$aws/certificates/create-from-csr/json").map(|k| k.0),
        Some("GetDeviceCredentials")
    );
    assert_eq!(
        kind("$aws/provisioning-templates/tpl/provision/cbor").map(|k| k.2),
        Some(vec![("provisioningTemplateName", "tpl".into())])
    );
    assert_eq!(kind("$aws/things/t/shadow/update/accepted"), None);
}

#[test]
fn values_are_escaped_and_attributes_follow_in_order() {
    let r = LogRecord {
        timestamp: Timestamp(0),
        level: LogLevel::Error,
        trace_id: 0,
        event: EventType::PublishIn,
        transport: Some(Transport::Mqtt),
        failure: Some(("AUTHORIZATION_FAILURE", "Authorization Failure")),
        topic: Some("a/\"b\"\\\n"),
        extra: vec![("retain", "True".into())],
    };
    let json = r.to_json(&Origin::default());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["topicName"], "a/\"b\"\\\n");
    assert_eq!(v["traceId"], "00000000-0000-4000-8000-000000000000");
    assert_eq!(v["timestamp"], "1970-01-01 00:00:00.000");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert!(keys.contains(&"retain") && keys.contains(&"reason"));
    assert!(json.ends_with(r#""retain":"True"}"#), "{json}");
}
