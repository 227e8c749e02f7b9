//! Documents AWS refuses with `MalformedPolicyException`, and documents it
//! accepts.

use shoal_policy::{evaluate, parse, MapContext, MAX_DOCUMENT_CHARS};

fn statement(body: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": [{body}]}}"#)
}

const OK_STATEMENT: &str = r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/c"}"#;

#[test]
fn rejected_documents() {
    let over_long = statement(&format!(
        r#"{{"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/{}"}}"#,
        "a".repeat(MAX_DOCUMENT_CHARS)
    ));
    let cases: Vec<(&str, String)> = vec![
        ("empty text", String::new()),
        ("only whitespace", "  \n\t ".into()),
        ("bad JSON", "{\"Version\": ".into()),
        ("trailing garbage", format!("{} x", statement(OK_STATEMENT))),
        ("not an object", "[]".into()),
        ("a string", "\"policy\"".into()),
        ("no Statement", r#"{"Version": "2012-10-17"}"#.into()),
        (
            "empty Statement",
            r#"{"Version": "2012-10-17", "Statement": []}"#.into(),
        ),
        (
            "Statement a string",
            r#"{"Version": "2012-10-17", "Statement": "x"}"#.into(),
        ),
        ("Statement item not object", statement(r#""x""#)),
        (
            "unknown Version",
            format!(r#"{{"Version": "2020-01-01", "Statement": [{OK_STATEMENT}]}}"#),
        ),
        (
            "Version a number",
            format!(r#"{{"Version": 2012, "Statement": [{OK_STATEMENT}]}}"#),
        ),
        (
            "unknown top-level key",
            format!(r#"{{"Version": "2012-10-17", "Statement": [{OK_STATEMENT}], "Extra": 1}}"#),
        ),
        (
            "Id not a string",
            format!(r#"{{"Version": "2012-10-17", "Id": 1, "Statement": [{OK_STATEMENT}]}}"#),
        ),
        (
            "missing Effect",
            statement(r#"{"Action": "iot:Connect", "Resource": "*"}"#),
        ),
        (
            "Effect lower case",
            statement(r#"{"Effect": "allow", "Action": "iot:Connect", "Resource": "*"}"#),
        ),
        (
            "Effect other",
            statement(r#"{"Effect": "Maybe", "Action": "iot:Connect", "Resource": "*"}"#),
        ),
        (
            "Effect not a string",
            statement(r#"{"Effect": true, "Action": "iot:Connect", "Resource": "*"}"#),
        ),
        (
            "missing Action",
            statement(r#"{"Effect": "Allow", "Resource": "*"}"#),
        ),
        (
            "Action and NotAction",
            statement(
                r#"{"Effect": "Allow", "Action": "iot:Connect", "NotAction": "iot:Publish", "Resource": "*"}"#,
            ),
        ),
        (
            "service prefix with a space",
            statement(r#"{"Effect": "Allow", "Action": " iot:Connect", "Resource": "*"}"#),
        ),
        (
            "two colons",
            statement(r#"{"Effect": "Allow", "Action": "iot:Connect:x", "Resource": "*"}"#),
        ),
        (
            "action without service",
            statement(r#"{"Effect": "Allow", "Action": "Publish", "Resource": "*"}"#),
        ),
        (
            "empty action",
            statement(r#"{"Effect": "Allow", "Action": "", "Resource": "*"}"#),
        ),
        (
            "empty Action array",
            statement(r#"{"Effect": "Allow", "Action": [], "Resource": "*"}"#),
        ),
        (
            "Action a number",
            statement(r#"{"Effect": "Allow", "Action": 1, "Resource": "*"}"#),
        ),
        (
            "Action array with a number",
            statement(r#"{"Effect": "Allow", "Action": ["iot:Connect", 1], "Resource": "*"}"#),
        ),
        (
            "missing Resource",
            statement(r#"{"Effect": "Allow", "Action": "iot:Connect"}"#),
        ),
        (
            "Resource and NotResource",
            statement(
                r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "NotResource": "*"}"#,
            ),
        ),
        (
            "resource not an ARN",
            statement(r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "not-an-arn"}"#),
        ),
        (
            "resource ARN in upper case",
            statement(
                r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "ARN:aws:iot:us-east-1:1:client/c"}"#,
            ),
        ),
        (
            "empty resource",
            statement(r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": ""}"#),
        ),
        (
            "empty Resource array",
            statement(r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": []}"#),
        ),
        (
            "Resource an object",
            statement(r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": {}}"#),
        ),
        (
            "Principal",
            statement(
                r#"{"Effect": "Allow", "Principal": "*", "Action": "iot:Connect", "Resource": "*"}"#,
            ),
        ),
        (
            "unknown statement key",
            statement(r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "Foo": 1}"#),
        ),
        (
            "statement key in other case",
            statement(r#"{"effect": "Allow", "Action": "iot:Connect", "Resource": "*"}"#),
        ),
        (
            "Sid not a string",
            statement(r#"{"Sid": 1, "Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}"#),
        ),
        (
            "Condition not an object",
            statement(
                r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "Condition": []}"#,
            ),
        ),
        (
            "unknown condition operator",
            statement(
                r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "Condition": {"StringSimilar": {"iot:ClientId": "x"}}}"#,
            ),
        ),
        (
            "condition operator without keys",
            statement(
                r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "Condition": {"StringEquals": "x"}}"#,
            ),
        ),
        (
            "bad IP range",
            statement(
                r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "300.1.1.1"}}}"#,
            ),
        ),
        (
            "bad number",
            statement(
                r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "Condition": {"NumericLessThan": {"k": "many"}}}"#,
            ),
        ),
        ("over-long document", over_long),
    ];
    let mut accepted = Vec::new();
    for (name, document) in &cases {
        match parse(document) {
            Ok(_) => accepted.push(*name),
            Err(e) => assert!(
                e.message.starts_with("Policy document is malformed"),
                "{name}: {}",
                e.message
            ),
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:?}");
}

#[test]
fn error_messages_name_the_problem() {
    let message = |doc: &str| parse(doc).err().map(|e| e.message).unwrap_or_default();
    assert!(message(&statement(
        r#"{"Effect": "Allow", "Action": "io t:Fly", "Resource": "*"}"#
    ))
    .contains("io t:Fly"));
    assert!(message(&statement(
        r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "x"}"#
    ))
    .contains("\"x\""));
    assert!(
        message(&statement(r#"{"Action": "iot:Connect", "Resource": "*"}"#)).contains("Effect")
    );
    assert!(message("{").contains("invalid JSON"));
}

#[test]
fn length_limit_ignores_whitespace() {
    let head = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/"#;
    let tail = r#""}}"#;
    let room = MAX_DOCUMENT_CHARS - head.len() - tail.len();
    let exact = format!("{head}{}{tail}", "a".repeat(room));
    assert_eq!(exact.len(), MAX_DOCUMENT_CHARS);
    assert!(parse(&exact).is_ok());
    let over = format!("{head}{}{tail}", "a".repeat(room + 1));
    assert!(parse(&over).is_err());
    // Pretty-printing does not count against the limit.
    let indented = format!("\n\n{}\n", exact.replace(',', ",\n        "));
    assert!(indented.len() > MAX_DOCUMENT_CHARS);
    assert!(parse(&indented).is_ok());
}

#[test]
fn accepted_documents() {
    let cases = [
        // Statement as a single object, strings instead of arrays.
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}}"#.to_string(),
        // Version 2008-10-17 and no Version at all.
        r#"{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}}"#.into(),
        r#"{"Statement": {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}}"#.into(),
        // Id and Sid.
        r#"{"Version": "2012-10-17", "Id": "p1", "Statement": [{"Sid": "s1", "Effect": "Deny", "Action": "iot:Publish", "Resource": "*"}]}"#.into(),
        // NotAction, NotResource, wildcards, Greengrass.
        statement(r#"{"Effect": "Allow", "NotAction": ["iot:Get*", "iot:?ublish"], "NotResource": "arn:aws:iot:*:*:topic/$aws/*"}"#),
        statement(r#"{"Effect": "Allow", "Action": ["greengrass:Discover", "greengrass:*", "iot:AssumeRoleWithCertificate"], "Resource": "*"}"#),
        statement(r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#),
        // Every documented data-plane action.
        statement(
            r#"{"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive",
            "iot:RetainPublish", "iot:DeleteConnection", "iot:GetRetainedMessage", "iot:ListRetainedMessages",
            "iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow", "iot:ListNamedShadowsForThing",
            "iot:DescribeJobExecution", "iot:GetPendingJobExecutions", "iot:StartNextPendingJobExecution",
            "iot:UpdateJobExecution"], "Resource": "*"}"#,
        ),
        // Action names in any case.
        statement(r#"{"Effect": "Allow", "Action": "IOT:publish", "Resource": "*"}"#),
        // Names AWS does not check against a list (aws/aws-sdk-js#3993): unknown ones, other
        // services', a space inside or after the name.
        statement(r#"{"Effect": "Allow", "Action": ["iot:GetThingSadow", "iot:Fly*", "s3:GetObject", "iot:Publish ", "iot: Receive"], "Resource": "*"}"#),
        // Conditions of every family, empty value lists, scalar JSON values.
        statement(
            r#"{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "Condition": {
                "StringLikeIfExists": {"iot:ClientId": "c-*"},
                "ForAllValues:StringEquals": {"iot:ConnectAttributes": []},
                "NumericLessThan": {"k": 10},
                "Bool": {"iot:Connection.Thing.IsAttached": true},
                "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                "NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
                "ArnLike": {"iot:LastWillTopic": "arn:aws:iot:*:*:topic/lw/*"},
                "Null": {"iot:Connection.Thing.ThingName": "false"}
            }}"#,
        ),
        // Variables and escapes anywhere in the resource.
        statement(r#"{"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:1:topic/${iot:ClientId}/${*}/${?}/${$}"}"#),
    ];
    for document in &cases {
        if let Err(e) = parse(document) {
            panic!("{e}\n{document}");
        }
    }
}

#[test]
fn arbitrary_input_never_panics() {
    // Truncations and byte flips of a valid document: every result must be
    // a clean Ok or Err.
    let document = statement(
        r#"{"Sid": "é", "Effect": "Allow", "Action": ["iot:Publish", "iot:Get*"], "Resource": "arn:aws:iot:us-east-1:1:topic/${iot:ClientId}/${x, 'd'}/?*", "Condition": {"ForAnyValue:StringLikeIfExists": {"k": ["${*}", 1, true]}, "IpAddress": {"aws:SourceIp": "::1/128"}}}"#,
    );
    for end in 0..=document.len() {
        if let Some(prefix) = document.get(..end) {
            exercise(prefix);
        }
    }
    let bytes = document.as_bytes();
    for i in 0..bytes.len() {
        for replacement in [b'"', b'{', b'}', b'$', b'*', b':', b'[', b'\\', b'0'] {
            let mut mutated = bytes.to_vec();
            mutated[i] = replacement;
            if let Ok(text) = String::from_utf8(mutated) {
                exercise(&text);
            }
        }
    }
}

/// Parses `document` and, when it is valid, evaluates awkward requests
/// against it: nothing may panic.
fn exercise(document: &str) {
    let Ok(policy) = parse(document) else {
        return;
    };
    let contexts = [
        MapContext::new(),
        MapContext::new()
            .with("iot:ClientId", "é*?$")
            .with("k", "")
            .with("aws:SourceIp", "::ffff:1.2.3.4"),
    ];
    let resources = [
        "",
        "*",
        "arn:aws:iot:us-east-1:1:topic/é*?$/x",
        "arn:aws:iot:us-east-1:1:topic/${iot:ClientId}/d/?*",
        "arn:",
        "日本語",
    ];
    for ctx in &contexts {
        for resource in resources {
            for action in [
                "iot:Publish",
                "IOT:GETTHINGSHADOW",
                "greengrass:Discover",
                "",
                "é",
            ] {
                let _ = evaluate([&policy], action, resource, ctx);
            }
        }
    }
}
