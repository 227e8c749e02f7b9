//! Matching rules at the policy level: wildcards, variables and their
//! escapes, NotAction/NotResource, language versions, action case.

use shoal_policy::{evaluate, parse, Decision, MapContext, Policy};

use Decision::{Allowed, ExplicitDeny, ImplicitDeny};

const ARN: &str = "arn:aws:iot:us-east-1:123456789012:";

fn policy(effect: &str, action: &str, resource: &str) -> Policy {
    let document = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "{effect}", "Action": {action}, "Resource": {resource}}}]}}"#
    );
    parse(&document).unwrap_or_else(|e| panic!("{e}\n{document}"))
}

fn allow_publish(resource: &str) -> Policy {
    policy("Allow", r#""iot:Publish""#, &format!("\"{ARN}{resource}\""))
}

fn publish(p: &Policy, topic: &str, ctx: &MapContext) -> Decision {
    evaluate([p], "iot:Publish", &format!("{ARN}topic/{topic}"), ctx)
}

#[test]
fn wildcard_edge_cases() {
    let none = MapContext::new();
    let cases: &[(&str, &str, Decision)] = &[
        ("topic/*", "a", Allowed),
        ("topic/*", "", Allowed),
        ("topic/*", "a/b/c", Allowed),
        ("topic/a*", "a", Allowed),
        ("topic/a*b", "ab", Allowed),
        ("topic/a*b", "a/x/b", Allowed),
        ("topic/a*b", "a/x/bc", ImplicitDeny),
        ("topic/*/b", "x/y/b", Allowed),
        ("topic/*/b/*", "x/b/y", Allowed),
        ("topic/*/b/*", "x/c/y", ImplicitDeny),
        ("topic/a?c", "abc", Allowed),
        ("topic/a?c", "a/c", Allowed),
        ("topic/a?c", "ac", ImplicitDeny),
        ("topic/a?c", "abbc", ImplicitDeny),
        ("topic/??", "ab", Allowed),
        ("topic/??", "a", ImplicitDeny),
        ("topic/??", "é€", Allowed),
        ("topic/room?/*", "room1/temp", Allowed),
        ("topic/room?/*", "room12/temp", ImplicitDeny),
        ("topic/*?", "", ImplicitDeny),
        ("topic/a**b", "aXb", Allowed),
        (
            "topic/$aws/things/*/shadow/*",
            "$aws/things/t/shadow/update",
            Allowed,
        ),
        // Topic names are case-sensitive.
        ("topic/Room", "room", ImplicitDeny),
    ];
    for (pattern, topic, expected) in cases {
        let p = allow_publish(pattern);
        assert_eq!(publish(&p, topic, &none), *expected, "{pattern} vs {topic}");
    }
    // A bare "*" resource covers every resource type.
    let any = policy("Allow", r#""iot:*""#, r#""*""#);
    for resource in [
        "client/c",
        "topic/t",
        "topicfilter/f",
        "thing/x",
        "rolealias/r",
    ] {
        let arn = format!("{ARN}{resource}");
        assert_eq!(
            evaluate([&any], "iot:Connect", &arn, &none),
            Allowed,
            "{resource}"
        );
    }
    // "*" inside an ARN crosses colons and slashes.
    let region_any = policy("Allow", r#""iot:Publish""#, r#""arn:aws:iot:*""#);
    assert_eq!(publish(&region_any, "a:b/c", &none), Allowed);
}

#[test]
fn escapes_are_literal_characters() {
    let none = MapContext::new();
    let star = allow_publish("topic/a${*}b");
    assert_eq!(publish(&star, "a*b", &none), Allowed);
    assert_eq!(publish(&star, "axb", &none), ImplicitDeny);
    let question = allow_publish("topic/a${?}");
    assert_eq!(publish(&question, "a?", &none), Allowed);
    assert_eq!(publish(&question, "ab", &none), ImplicitDeny);
    let dollar = allow_publish("topic/${$}{iot:ClientId}");
    let ctx = MapContext::new().with("iot:ClientId", "c1");
    assert_eq!(publish(&dollar, "${iot:ClientId}", &ctx), Allowed);
    assert_eq!(publish(&dollar, "c1", &ctx), ImplicitDeny);
}

#[test]
fn variable_values_are_not_wildcards() {
    let p = allow_publish("topic/${iot:Connection.Thing.ThingName}/*");
    let sneaky = MapContext::new().with("iot:Connection.Thing.ThingName", "*");
    assert_eq!(publish(&p, "lamp/x", &sneaky), ImplicitDeny);
    assert_eq!(publish(&p, "*/x", &sneaky), Allowed);
    let question = MapContext::new().with("iot:Connection.Thing.ThingName", "l?mp");
    assert_eq!(publish(&p, "lamp/x", &question), ImplicitDeny);
    assert_eq!(publish(&p, "l?mp/x", &question), Allowed);
    // Empty values are values.
    let empty = MapContext::new().with("iot:Connection.Thing.ThingName", "");
    assert_eq!(publish(&p, "/x", &empty), Allowed);
}

#[test]
fn variables_without_values() {
    let none = MapContext::new();
    // Allow with an unresolvable variable: nothing is allowed, not even the
    // literal text of the variable.
    let p = allow_publish("topic/${iot:Connection.Thing.ThingName}");
    assert_eq!(
        publish(&p, "${iot:Connection.Thing.ThingName}", &none),
        ImplicitDeny
    );
    assert_eq!(publish(&p, "", &none), ImplicitDeny);
    // Deny with an unresolvable variable does not apply.
    let deny = policy(
        "Deny",
        r#""iot:Publish""#,
        &format!(r#""{ARN}topic/${{iot:Connection.Thing.ThingName}}/*""#),
    );
    let allow = allow_publish("topic/*");
    assert_eq!(
        evaluate(
            [&deny, &allow],
            "iot:Publish",
            &format!("{ARN}topic/a/b"),
            &none
        ),
        Allowed
    );
    let thing = MapContext::new().with("iot:Connection.Thing.ThingName", "a");
    assert_eq!(
        evaluate(
            [&deny, &allow],
            "iot:Publish",
            &format!("{ARN}topic/a/b"),
            &thing
        ),
        ExplicitDeny
    );
    // A default value stands in for a missing one.
    let with_default = allow_publish("topic/${iot:Connection.Thing.ThingName, 'unregistered'}/*");
    assert_eq!(publish(&with_default, "unregistered/x", &none), Allowed);
    assert_eq!(publish(&with_default, "a/x", &thing), Allowed);
    assert_eq!(
        publish(&with_default, "unregistered/x", &thing),
        ImplicitDeny
    );
}

#[test]
fn thing_attributes_and_certificate_fields() {
    let p = allow_publish(
        "topic/${iot:Connection.Thing.Attributes[floor]}/${iot:Certificate.Subject.CommonName}",
    );
    let ctx = MapContext::new()
        .with("iot:Connection.Thing.Attributes[floor]", "3")
        .with("iot:Certificate.Subject.CommonName", "bulb");
    assert_eq!(publish(&p, "3/bulb", &ctx), Allowed);
    let missing_cn = MapContext::new().with("iot:Connection.Thing.Attributes[floor]", "3");
    assert_eq!(publish(&p, "3/bulb", &missing_cn), ImplicitDeny);
    // Variable names are case-insensitive; the context sees the documented
    // spelling, and attribute names keep theirs.
    let q = allow_publish("topic/${IOT:connection.thing.attributes[floor]}");
    assert_eq!(publish(&q, "3", &ctx), Allowed);
}

#[test]
fn version_2008_has_no_variables() {
    let document = format!(
        r#"{{"Version": "2008-10-17", "Statement": {{"Effect": "Allow", "Action": "iot:Publish", "Resource": "{ARN}topic/${{iot:ClientId}}/*"}}}}"#
    );
    let old = parse(&document).unwrap_or_else(|e| panic!("{e}"));
    let ctx = MapContext::new().with("iot:ClientId", "c1");
    assert_eq!(publish(&old, "c1/x", &ctx), ImplicitDeny);
    assert_eq!(publish(&old, "${iot:ClientId}/x", &ctx), Allowed);
    let unversioned = parse(&document.replace(r#""Version": "2008-10-17", "#, ""))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(publish(&unversioned, "c1/x", &ctx), ImplicitDeny);
    assert_eq!(publish(&unversioned, "${iot:ClientId}/x", &ctx), Allowed);
}

#[test]
fn actions_match_without_case() {
    let none = MapContext::new();
    let topic = format!("{ARN}topic/t");
    let mixed = policy("Allow", r#""IoT:pUbLiSh""#, r#""*""#);
    assert_eq!(evaluate([&mixed], "iot:Publish", &topic, &none), Allowed);
    assert_eq!(evaluate([&mixed], "IOT:PUBLISH", &topic, &none), Allowed);
    assert_eq!(
        evaluate([&mixed], "iot:Receive", &topic, &none),
        ImplicitDeny
    );
    let get = policy("Allow", r#""iot:get*""#, r#""*""#);
    let thing = format!("{ARN}thing/t");
    assert_eq!(
        evaluate([&get], "iot:GetThingShadow", &thing, &none),
        Allowed
    );
    assert_eq!(
        evaluate([&get], "iot:GetRetainedMessage", &topic, &none),
        Allowed
    );
    assert_eq!(
        evaluate([&get], "iot:UpdateThingShadow", &thing, &none),
        ImplicitDeny
    );
    let one = policy("Allow", r#""iot:?eceive""#, r#""*""#);
    assert_eq!(evaluate([&one], "iot:Receive", &topic, &none), Allowed);
    // Requests for actions outside the known list are matched by pattern.
    let gg = policy("Allow", r#"["greengrass:*"]"#, r#""*""#);
    assert_eq!(evaluate([&gg], "greengrass:Discover", "*", &none), Allowed);
    assert_eq!(evaluate([&gg], "iot:Connect", "*", &none), ImplicitDeny);
    assert_eq!(evaluate([&mixed], "iot:Fly", &topic, &none), ImplicitDeny);
    let all = policy("Allow", r#""*""#, r#""*""#);
    assert_eq!(evaluate([&all], "greengrass:Discover", "*", &none), Allowed);
    assert_eq!(evaluate([&all], "anything", "*", &none), Allowed);
}

#[test]
fn not_action_and_not_resource() {
    let none = MapContext::new();
    let topic = |t: &str| format!("{ARN}topic/{t}");
    let not_action = parse(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": ["iot:Publish", "iot:Retain*"], "Resource": "*"}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        evaluate([&not_action], "iot:Receive", &topic("a"), &none),
        Allowed
    );
    assert_eq!(
        evaluate([&not_action], "iot:Publish", &topic("a"), &none),
        ImplicitDeny
    );
    assert_eq!(
        evaluate([&not_action], "iot:RetainPublish", &topic("a"), &none),
        ImplicitDeny
    );

    let deny_outside = parse(&format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Effect": "Allow", "Action": "iot:Publish", "Resource": "*"}},
            {{"Effect": "Deny", "Action": "iot:Publish", "NotResource": ["{ARN}topic/${{iot:ClientId}}/*", "{ARN}topic/shared/*"]}}
        ]}}"#
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let ctx = MapContext::new().with("iot:ClientId", "c1");
    assert_eq!(
        evaluate([&deny_outside], "iot:Publish", &topic("c1/x"), &ctx),
        Allowed
    );
    assert_eq!(
        evaluate([&deny_outside], "iot:Publish", &topic("shared/x"), &ctx),
        Allowed
    );
    assert_eq!(
        evaluate([&deny_outside], "iot:Publish", &topic("c2/x"), &ctx),
        ExplicitDeny
    );
    // Without a client ID the NotResource list cannot be decided, so the
    // deny does not apply.
    assert_eq!(
        evaluate([&deny_outside], "iot:Publish", &topic("c2/x"), &none),
        Allowed
    );
}

#[test]
fn conditions_with_variables_and_missing_keys() {
    let p = parse(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*",
              "Condition": {"StringEquals": {"iot:ClientId": "${iot:Connection.Thing.ThingName}"}}},
            {"Effect": "Deny", "Action": "iot:Connect", "Resource": "*",
              "Condition": {"StringNotLike": {"iot:DomainName": "*.example.com"}}}
        ]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let client = format!("{ARN}client/c");
    let ok = MapContext::new()
        .with("iot:ClientId", "lamp")
        .with("iot:Connection.Thing.ThingName", "lamp")
        .with("iot:DomainName", "iot.example.com");
    assert_eq!(evaluate([&p], "iot:Connect", &client, &ok), Allowed);
    let other_domain = ok.clone().with("iot:DomainName", "evil.test");
    assert_eq!(
        evaluate([&p], "iot:Connect", &client, &other_domain),
        ExplicitDeny
    );
    // A negated operator holds when the key is missing (IAM rule).
    let mut no_domain = ok.clone();
    no_domain.0.remove("iot:DomainName");
    assert_eq!(
        evaluate([&p], "iot:Connect", &client, &no_domain),
        ExplicitDeny
    );
    let not_thing = ok.clone().with("iot:ClientId", "other");
    assert_eq!(
        evaluate([&p], "iot:Connect", &client, &not_thing),
        ImplicitDeny
    );
}
