use super::*;
use serde_json::json;

fn payload(v: serde_json::Value) -> TopicRulePayload {
    serde_json::from_value(v).unwrap()
}

#[test]
fn rule_names_follow_the_model() {
    assert!(RuleName::parse("my_rule_1").is_ok());
    assert!(RuleName::parse("").is_err());
    assert!(RuleName::parse("has-dash").is_err());
    assert!(RuleName::parse(&"a".repeat(129)).is_err());
}

#[test]
fn supported_actions_are_typed() {
    let a = Action::from_json(&json!({"republish": {"topic": "out/${topic(2)}", "roleArn": "arn:aws:iam::1:role/r", "qos": 1}})).unwrap();
    assert_eq!(a.kind(), "republish");
    assert_eq!(a.templates(), vec!["out/${topic(2)}"]);
    let h = Action::from_json(&json!({"http": {"url": "https://example.com/in/x", "confirmationUrl": "https://example.com/in", "headers": [{"key": "k", "value": "${clientid()}"}]}})).unwrap();
    let Action::Http(h) = h else { panic!() };
    assert_eq!(h.confirmation_url, "https://example.com/in");
    assert_eq!(
        h.headers,
        vec![("k".to_string(), "${clientid()}".to_string())]
    );
}

#[test]
fn unsupported_actions_are_refused_by_name() {
    for kind in ["dynamoDB", "sqs", "kinesis", "lambda", "timestream"] {
        let e = Action::from_json(&json!({ kind: {"roleArn": "r"} })).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidRequest);
        assert!(e.message.contains(kind), "{}", e.message);
    }
    assert!(Action::from_json(&json!({})).is_err());
    assert!(Action::from_json(&json!({"republish": {"topic": "a", "roleArn": "r"}, "s3": {"bucketName": "b", "key": "k", "roleArn": "r"}})).is_err());
}

#[test]
fn required_members_are_checked() {
    assert!(Action::from_json(&json!({"republish": {"topic": "a"}})).is_err());
    assert!(
        Action::from_json(&json!({"republish": {"topic": "a", "roleArn": "r", "qos": 2}})).is_err()
    );
    assert!(Action::from_json(&json!({"s3": {"bucketName": "b", "roleArn": "r"}})).is_err());
    assert!(Action::from_json(&json!({"http": {"url": "ftp://x"}})).is_err());
    assert!(Action::from_json(
        &json!({"http": {"url": "https://a/x", "confirmationUrl": "https://b/"}})
    )
    .is_err());
}

#[test]
fn payloads_need_sql_and_actions_and_at_most_ten_actions() {
    let name = RuleName::parse("r").unwrap();
    assert!(payload(json!({"actions": []}))
        .into_rule(name.clone(), 0)
        .is_err());
    assert!(payload(json!({"sql": "SELECT * FROM 'a'"}))
        .into_rule(name.clone(), 0)
        .is_err());
    let eleven: Vec<_> = (0..11)
        .map(|_| json!({"republish": {"topic": "a", "roleArn": "r"}}))
        .collect();
    assert!(payload(json!({"sql": "x", "actions": eleven}))
        .into_rule(name.clone(), 0)
        .is_err());
    let r = payload(json!({"sql": "SELECT * FROM 'a'", "actions": [], "ruleDisabled": true, "awsIotSqlVersion": "2016-03-23"}))
        .into_rule(name, 5)
        .unwrap();
    assert!(r.disabled);
    assert_eq!(r.created_at, 5);
}

#[test]
fn basic_ingest_topics_name_their_rule() {
    assert_eq!(basic_ingest("$aws/rules/r1/a/b"), Some(("r1", "a/b")));
    assert_eq!(basic_ingest("$aws/rules/r1"), Some(("r1", "")));
    assert_eq!(basic_ingest("$aws/rules/bad-name/x"), None);
    assert_eq!(basic_ingest("a/b"), None);
}

#[test]
fn destinations_are_enabled_only_by_their_token() {
    let mut d = Destination::new("arn".into(), "https://h/in".into(), "tok".into(), 1);
    assert!(!d.admits("https://h/in/x"));
    assert!(d
        .update(DestinationStatus::Enabled, "t2".into(), 2)
        .is_err());
    assert!(d.confirm("wrong", 2).is_err());
    d.confirm("tok", 3).unwrap();
    assert!(d.admits("https://h/in/x"));
    assert!(!d.admits("https://other/in"));
    assert!(!d
        .update(DestinationStatus::Disabled, "t".into(), 4)
        .unwrap());
    assert!(!d.admits("https://h/in/x"));
    assert!(!d.update(DestinationStatus::Enabled, "t".into(), 5).unwrap());
    d.status = DestinationStatus::Error;
    assert!(d
        .update(DestinationStatus::InProgress, "t3".into(), 6)
        .unwrap());
    assert_eq!(d.token, "t3");
}

#[test]
fn a_destination_admits_only_urls_under_its_own_origin() {
    assert!(under(
        "https://h.example.com/in/x",
        "https://h.example.com/in"
    ));
    assert!(under(
        "https://H.example.com:443/in",
        "https://h.example.com"
    ));
    assert!(!under(
        "https://h.example.com.evil.net/",
        "https://h.example.com"
    ));
    assert!(!under(
        "https://h.example.com@evil.net/",
        "https://h.example.com"
    ));
    assert!(!under("http://127.0.0.1:80801/", "http://127.0.0.1:8080"));
    assert!(!under(
        "http://h.example.com/in",
        "https://h.example.com/in"
    ));
    assert!(!under(
        "https://h.example.com/other",
        "https://h.example.com/in"
    ));
    assert!(Action::from_json(&json!({"http": {"url": "https://a@b/x"}})).is_err());
    assert!(Action::from_json(&json!({"http": {"url": "https://b/${topic()}"}})).is_err());
    assert!(Action::from_json(
        &json!({"http": {"url": "https://b/${topic()}", "confirmationUrl": "https://b/"}})
    )
    .is_ok());
}
