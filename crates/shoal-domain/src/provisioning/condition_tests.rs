//! Conditions, `Fn::If`, `AWS::NoValue` and resource conditions, as the developer guide's
//! provision-template.html describes them, and the ways they fail.

use super::tests::map;
use super::*;
use std::collections::BTreeMap;

/// A template with parameters `P` and `Q` (default "q"), a mapping `M.k.v` = "q", the given
/// `Conditions` section and one thing named by the expression `name`.
fn conditional(conditions: &str, name: &str) -> String {
    format!(
        r#"{{"Parameters": {{"P": {{"Type": "String"}}, "Q": {{"Type": "String", "Default": "q"}}}},
            "Mappings": {{"M": {{"k": {{"v": "q"}}}}}},
            "Conditions": {conditions},
            "Resources": {{"thing": {{"Type": "AWS::IoT::Thing", "Properties": {{"ThingName": {name}}}}}}}}}"#
    )
}

fn thing_name(template: &str, p: &str) -> Result<String, crate::ServiceError> {
    Template::parse(template)?
        .evaluate(&map(&[("P", p)]), &BTreeMap::new())
        .map(|plan| plan.thing.unwrap().name)
}

#[test]
fn the_condition_functions() {
    let equals_p = |v: &str| format!(r#"{{"Fn::Equals": [{{"Ref": "P"}}, "{v}"]}}"#);
    // (the Conditions section, P, whether condition C holds)
    let table: Vec<(String, &str, bool)> = vec![
        (format!(r#"{{"C": {}}}"#, equals_p("prod")), "prod", true),
        (format!(r#"{{"C": {}}}"#, equals_p("prod")), "test", false),
        // Scalars compare as text: parameters are strings.
        (
            r#"{"C": {"Fn::Equals": [{"Ref": "P"}, 1]}}"#.into(),
            "1",
            true,
        ),
        (
            r#"{"C": {"Fn::Equals": [{"Fn::FindInMap": ["M", "k", "v"]}, {"Ref": "Q"}]}}"#.into(),
            "",
            true,
        ),
        (
            r#"{"C": {"Fn::Equals": [["a", "b"], ["a", "b"]]}}"#.into(),
            "",
            true,
        ),
        (r#"{"C": {"Fn::Equals": [["a"], "a"]}}"#.into(), "", false),
        (
            format!(r#"{{"C": {{"Fn::Not": [{}]}}}}"#, equals_p("prod")),
            "prod",
            false,
        ),
        (
            format!(r#"{{"C": {{"Fn::Not": [{}]}}}}"#, equals_p("prod")),
            "test",
            true,
        ),
        (
            format!(
                r#"{{"C": {{"Fn::And": [{}, {{"Fn::Equals": [{{"Ref": "Q"}}, "q"]}}]}}}}"#,
                equals_p("a")
            ),
            "a",
            true,
        ),
        (
            format!(
                r#"{{"C": {{"Fn::And": [{}, {{"Fn::Equals": [{{"Ref": "Q"}}, "q"]}}]}}}}"#,
                equals_p("a")
            ),
            "b",
            false,
        ),
        (
            format!(
                r#"{{"C": {{"Fn::Or": [{}, {}]}}}}"#,
                equals_p("a"),
                equals_p("b")
            ),
            "b",
            true,
        ),
        (
            format!(
                r#"{{"C": {{"Fn::Or": [{}, {}]}}}}"#,
                equals_p("a"),
                equals_p("b")
            ),
            "c",
            false,
        ),
        // Nested functions.
        (
            format!(
                r#"{{"C": {{"Fn::And": [{{"Fn::Not": [{}]}}, {{"Fn::Or": [{}, {{"Fn::Equals": [{{"Fn::Join": ["", ["q"]]}}, {{"Ref": "Q"}}]}}]}}]}}}}"#,
                equals_p("x"),
                equals_p("y")
            ),
            "z",
            true,
        ),
        (
            format!(
                r#"{{"C": {{"Fn::And": [{{"Fn::Not": [{}]}}, {{"Fn::Or": [{}, {}]}}]}}}}"#,
                equals_p("x"),
                equals_p("y"),
                equals_p("w")
            ),
            "z",
            false,
        ),
        // Conditions naming conditions, declared in any order.
        (
            format!(
                r#"{{"C": {{"Fn::And": [{{"Condition": "IsTest"}}, {{"Fn::Not": [{{"Condition": "IsProd"}}]}}]}},
                      "IsTest": {{"Fn::Not": [{{"Condition": "IsProd"}}]}},
                      "IsProd": {}}}"#,
                equals_p("prod")
            ),
            "test",
            true,
        ),
        (
            format!(
                r#"{{"C": {{"Fn::Or": [{{"Condition": "IsProd"}}, {{"Condition": "IsProd"}}]}}, "IsProd": {}}}"#,
                equals_p("prod")
            ),
            "prod",
            true,
        ),
        (
            format!(
                r#"{{"C": {{"Condition": "IsProd"}}, "IsProd": {}}}"#,
                equals_p("prod")
            ),
            "dev",
            false,
        ),
    ];
    for (conditions, p, holds) in &table {
        let name = thing_name(
            &conditional(conditions, r#"{"Fn::If": ["C", "yes", "no"]}"#),
            p,
        );
        assert_eq!(
            name.as_deref().map_err(|e| e.message.clone()),
            Ok(if *holds { "yes" } else { "no" }),
            "{conditions} with P={p}"
        );
    }
}

#[test]
fn fn_if_chooses_and_no_value_removes() {
    let t = Template::parse(
        r#"{
        "Parameters": {"Env": {"Type": "String"}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {
                "ThingName": {"Fn::Join": ["-", ["lamp", {"Fn::If": ["IsProd", "p", "t"]}]]},
                "ThingTypeName": {"Fn::If": ["IsProd", "lamp", {"Ref": "AWS::NoValue"}]},
                "AttributePayload": {"env": {"Ref": "Env"}, "debug": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "on"]}},
                "ThingGroups": ["all", {"Fn::If": ["IsProd", "prod", {"Ref": "AWS::NoValue"}]}],
                "BillingGroup": {"Ref": "AWS::NoValue"}
            }},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "*"},
                    {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
                ]
            }}}
        },
        "DeviceConfiguration": {"Debug": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "true"]}, "Env": {"Ref": "Env"}}
    }"#,
    )
    .unwrap();
    let eval = |env: &str| t.evaluate(&map(&[("Env", env)]), &BTreeMap::new()).unwrap();
    let statements = |plan: &Plan| {
        let PolicySpec::Document { document, .. } = &plan.policies[0] else {
            panic!("a document");
        };
        let v: serde_json::Value = serde_json::from_str(document).unwrap();
        v["Statement"].as_array().unwrap().len()
    };

    let prod = eval("prod");
    let thing = prod.thing.as_ref().unwrap();
    assert_eq!(thing.name, "lamp-p");
    assert_eq!(thing.type_name.as_deref(), Some("lamp"));
    assert_eq!(thing.attributes.clone().unwrap(), map(&[("env", "prod")]));
    assert_eq!(thing.groups.clone().unwrap(), ["all", "prod"]);
    assert_eq!(thing.billing_group, None);
    assert_eq!(statements(&prod), 1);
    assert_eq!(prod.device_configuration, map(&[("Env", "prod")]));

    let test = eval("test");
    let thing = test.thing.as_ref().unwrap();
    assert_eq!(thing.name, "lamp-t");
    assert_eq!(thing.type_name, None, "removed, not empty");
    assert_eq!(
        thing.attributes.clone().unwrap(),
        map(&[("env", "test"), ("debug", "on")])
    );
    assert_eq!(thing.groups.clone().unwrap(), ["all"]);
    assert_eq!(statements(&test), 2);
    assert_eq!(
        test.device_configuration,
        map(&[("Env", "test"), ("Debug", "true")])
    );

    // Only the chosen value is evaluated.
    let lazy = conditional(
        r#"{"C": {"Fn::Equals": [{"Ref": "P"}, "a"]}}"#,
        r#"{"Fn::If": ["C", "fine", {"Ref": "Undeclared"}]}"#,
    );
    assert_eq!(thing_name(&lazy, "a").unwrap(), "fine");
    let e = thing_name(&lazy, "b").unwrap_err();
    assert!(e.message.contains("Undeclared"), "{}", e.message);
}

#[test]
fn a_resource_whose_condition_is_false_is_not_provisioned() {
    let t = Template::parse(
        r#"{
        "Parameters": {"Mode": {"Type": "String"}, "CSR": {"Type": "String", "Default": "csr-text"}},
        "Conditions": {
            "ByCsr": {"Fn::Equals": [{"Ref": "Mode"}, "csr"]},
            "ById": {"Fn::Not": [{"Condition": "ByCsr"}]}
        },
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "t"}},
            "csrCert": {"Type": "AWS::IoT::Certificate", "Condition": "ByCsr",
                        "Properties": {"CertificateSigningRequest": {"Ref": "CSR"}}},
            "idCert": {"Type": "AWS::IoT::Certificate", "Condition": "ById",
                       "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}},
            "debug": {"Type": "AWS::IoT::Policy", "Condition": "ById", "Properties": {"PolicyName": "debug"}}
        }
    }"#,
    )
    .unwrap();
    // Two certificates are declared, one is provisioned; the skipped one's properties are not
    // evaluated (no certificate id is supplied here).
    let by_csr = t
        .evaluate(&map(&[("Mode", "csr")]), &BTreeMap::new())
        .unwrap();
    assert_eq!(
        by_csr.certificate.unwrap().source,
        CertificateSource::Csr("csr-text".into())
    );
    assert!(by_csr.policies.is_empty());
    assert_eq!(by_csr.thing.unwrap().name, "t");

    let by_id = t
        .evaluate(
            &map(&[("Mode", "id")]),
            &map(&[("AWS::IoT::Certificate::Id", "c-1")]),
        )
        .unwrap();
    assert_eq!(
        by_id.certificate.unwrap().source,
        CertificateSource::Id("c-1".into())
    );
    assert_eq!(
        by_id.policies,
        [PolicySpec::Named {
            logical_id: "debug".into(),
            name: "debug".into()
        }]
    );
}

#[test]
fn condition_errors() {
    let equals = r#"{"Fn::Equals": [{"Ref": "P"}, "a"]}"#;
    let if_c = r#"{"Fn::If": ["C", "yes", "no"]}"#;
    let cases: Vec<(String, &str, &str)> = vec![
        (format!(r#"{{"C": {equals}}}"#), r#"{"Fn::If": ["Nope", "a", "b"]}"#, "No condition named Nope"),
        (format!(r#"{{"C": {equals}}}"#), r#"{"Fn::If": [{"Ref": "P"}, "a", "b"]}"#, "condition's name first"),
        (format!(r#"{{"C": {equals}}}"#), r#"{"Fn::If": ["C", "a"]}"#, "Fn::If takes a list of 3"),
        (format!(r#"{{"C": {equals}}}"#), r#"{"Fn::Equals": ["a", "a"]}"#, "Fn::Equals is a condition function"),
        (format!(r#"{{"C": {equals}}}"#), r#"{"Fn::Join": [{"Ref": "AWS::NoValue"}, ["a"]]}"#, "not a value here"),
        // Cycles, direct and through Fn::If.
        (r#"{"C": {"Condition": "A"}, "A": {"Fn::Not": [{"Condition": "B"}]}, "B": {"Fn::Or": [{"Condition": "A"}, {"Condition": "A"}]}}"#.into(), if_c, "The conditions refer to each other: A -> B -> A"),
        (r#"{"C": {"Fn::Not": [{"Condition": "C"}]}}"#.into(), if_c, "refer to each other: C -> C"),
        (r#"{"C": {"Fn::Equals": [{"Fn::If": ["C", "x", "y"]}, "x"]}}"#.into(), if_c, "refer to each other: C -> C"),
        (r#"{"C": {"Condition": "Missing"}}"#.into(), if_c, "No condition named Missing"),
        (r#"{"C": {"Condition": 1}}"#.into(), if_c, "Condition takes a condition's name"),
        // Operand counts.
        (format!(r#"{{"C": {{"Fn::And": [{equals}]}}}}"#), if_c, "Fn::And takes a list of 2 to 10 conditions"),
        (format!(r#"{{"C": {{"Fn::Or": [{}]}}}}"#, [equals; 11].join(",")), if_c, "Fn::Or takes a list of 2 to 10 conditions"),
        (format!(r#"{{"C": {{"Fn::Not": [{equals}, {equals}]}}}}"#), if_c, "Fn::Not takes a list of 1 condition"),
        (r#"{"C": {"Fn::Not": {"Condition": "C"}}}"#.into(), if_c, "Fn::Not takes a list of 1 condition"),
        (r#"{"C": {"Fn::Equals": ["a"]}}"#.into(), if_c, "Fn::Equals takes a list of 2"),
        // What is not a condition.
        (r#"{"C": {"Fn::And": [true, {"Condition": "C"}]}}"#.into(), if_c, "A condition is Fn::Equals"),
        (r#"{"C": {"Ref": "P"}}"#.into(), if_c, "A condition is Fn::Equals"),
        (r#"{"C": {"Fn::Equals": [{"Fn::GetAtt": ["thing", "ThingName"]}, "a"]}}"#.into(), if_c, "conditions refer only to parameters, mappings and other conditions"),
        // Every condition is decided, used or not.
        (format!(r#"{{"C": {equals}, "Unused": {{"Fn::Equals": [{{"Ref": "Undeclared"}}, "a"]}}}}"#), if_c, "No value for the parameter Undeclared"),
    ];
    for (conditions, name, why) in &cases {
        let e = thing_name(&conditional(conditions, name), "a").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidRequest);
        assert!(
            e.message.starts_with("Invalid registration template. "),
            "{}",
            e.message
        );
        assert!(
            e.message.contains(why),
            "{conditions} / {name}: {}",
            e.message
        );
    }
    // A resource's Condition must name a declared condition.
    let resource_condition = |condition: &str| {
        Template::parse(&format!(
            r#"{{"Resources": {{"t": {{"Type": "AWS::IoT::Thing", "Condition": {condition}, "Properties": {{"ThingName": "t"}}}}}}}}"#
        ))
        .unwrap()
        .evaluate(&BTreeMap::new(), &BTreeMap::new())
        .unwrap_err()
        .message
    };
    assert!(resource_condition(r#""Nope""#).contains("No condition named Nope"));
    assert!(resource_condition("true").contains("t.Condition takes a condition's name"));
}

#[test]
fn condition_chains_are_bounded() {
    // N00 names N01 twice, N01 names N02 twice, ...: decided once each, and refused past the
    // nesting bound rather than recursed into.
    let chain = |n: usize| {
        let mut conditions: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#""N{i:02}": {{"Fn::And": [{{"Condition": "N{next:02}"}}, {{"Condition": "N{next:02}"}}]}}"#,
                    next = i + 1
                )
            })
            .collect();
        conditions.push(format!(
            r#""N{n:02}": {{"Fn::Equals": [{{"Ref": "P"}}, "a"]}}"#
        ));
        thing_name(
            &conditional(
                &format!("{{{}}}", conditions.join(",")),
                r#"{"Fn::If": ["N00", "yes", "no"]}"#,
            ),
            "a",
        )
    };
    assert_eq!(chain(12).unwrap(), "yes");
    let e = chain(40).unwrap_err();
    assert!(e.message.contains("nest too deep"), "{}", e.message);
}
