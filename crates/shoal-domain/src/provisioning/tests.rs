//! The developer guide's templates (provision-template.html, jit-provisioning.html), evaluated
//! as AWS describes them, and the ways a template or its evaluation fails (conditions:
//! `condition_tests.rs`).

use super::*;
use std::collections::BTreeMap;

pub(super) fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The guide's bulk-registration template (a certificate from a CSR).
const BULK: &str = r#"{
    "Parameters" : {
        "ThingName" : { "Type" : "String" },
        "SerialNumber" : { "Type" : "String" },
        "Location" : { "Type" : "String", "Default" : "WA" },
        "CSR" : { "Type" : "String" }
    },
    "Resources" : {
        "thing" : {
            "Type" : "AWS::IoT::Thing",
            "Properties" : {
                "ThingName" : {"Ref" : "ThingName"},
                "AttributePayload" : { "version" : "v1", "serialNumber" :  {"Ref" : "SerialNumber"}},
                "ThingTypeName" :  "lightBulb-versionA",
                "ThingGroups" : ["v1-lightbulbs", {"Ref" : "Location"}]
            }
        },
        "certificate" : {
            "Type" : "AWS::IoT::Certificate",
            "Properties" : { "CertificateSigningRequest": {"Ref" : "CSR"}, "Status" : "ACTIVE" }
        },
        "policy" : {
            "Type" : "AWS::IoT::Policy",
            "Properties" : {
                "PolicyDocument" : "{ \"Version\": \"2012-10-17\", \"Statement\": [{ \"Effect\": \"Allow\", \"Action\":[\"iot:Publish\"], \"Resource\": [\"arn:aws:iot:us-east-1:123456789012:topic/foo/bar\"] }] }"
            }
        }
    }
}"#;

/// The guide's JITP template (the certificate's subject fields as parameters).
const JITP: &str = r#"{
   "Parameters":{
      "AWS::IoT::Certificate::CommonName":{ "Type":"String" },
      "AWS::IoT::Certificate::SerialNumber":{ "Type":"String" },
      "AWS::IoT::Certificate::Country":{ "Type":"String" },
      "AWS::IoT::Certificate::Id":{ "Type":"String" }
   },
   "Resources":{
      "thing":{
         "Type":"AWS::IoT::Thing",
         "Properties":{
            "ThingName":{ "Ref":"AWS::IoT::Certificate::CommonName" },
            "AttributePayload":{ "version":"v1", "serialNumber":{ "Ref":"AWS::IoT::Certificate::SerialNumber" } },
            "ThingTypeName":"lightBulb-versionA",
            "ThingGroups":[ "v1-lightbulbs", { "Ref":"AWS::IoT::Certificate::Country" } ]
         },
         "OverrideSettings":{ "AttributePayload":"MERGE", "ThingTypeName":"REPLACE", "ThingGroups":"DO_NOTHING" }
      },
      "certificate":{
         "Type":"AWS::IoT::Certificate",
         "Properties":{ "CertificateId":{ "Ref":"AWS::IoT::Certificate::Id" }, "Status":"ACTIVE" },
         "OverrideSettings":{ "Status":"DO_NOTHING" }
      },
      "policy":{
         "Type":"AWS::IoT::Policy",
         "Properties":{
            "PolicyDocument":"{ \"Version\": \"2012-10-17\", \"Statement\": [{ \"Effect\": \"Allow\", \"Action\":[\"iot:Publish\"], \"Resource\": [\"arn:aws:iot:us-east-1:123456789012:topic/foo/bar\"] }] }"
         }
      }
   }
}"#;

/// The guide's fleet-provisioning template (mappings, Fn::Join, Fn::FindInMap, device
/// configuration, a policy document as an object).
const FLEET: &str = r#"{
    "Parameters" : {
        "ThingName" : { "Type" : "String" },
        "SerialNumber": { "Type": "String" },
        "DeviceLocation": { "Type": "String" }
    },
    "Mappings": { "LocationTable": { "Seattle": { "LocationUrl": "https://example.aws" } } },
    "Resources" : {
        "thing" : {
            "Type" : "AWS::IoT::Thing",
            "Properties" : {
                "AttributePayload" : { "version" : "v1", "serialNumber" : "serialNumber" },
                "ThingName" : {"Ref" : "ThingName"},
                "ThingTypeName" : {"Fn::Join":["",["ThingPrefix_",{"Ref":"SerialNumber"}]]},
                "ThingGroups" : ["v1-lightbulbs", "WA"],
                "BillingGroup": "LightBulbBillingGroup"
            },
            "OverrideSettings" : { "AttributePayload" : "MERGE", "ThingTypeName" : "REPLACE", "ThingGroups" : "DO_NOTHING" }
        },
        "certificate" : {
            "Type" : "AWS::IoT::Certificate",
            "Properties" : { "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status" : "Active" }
        },
        "policy" : {
            "Type" : "AWS::IoT::Policy",
            "Properties" : {
                "PolicyDocument" : {
                    "Version": "2012-10-17",
                    "Statement": [{ "Effect": "Allow", "Action":["iot:Publish"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/foo/bar"] }]
                }
            }
        }
    },
    "DeviceConfiguration": {
        "FallbackUrl": "https://www.example.com/test-site",
        "LocationUrl": { "Fn::FindInMap": ["LocationTable",{"Ref": "DeviceLocation"}, "LocationUrl"]}
    }
}"#;

#[test]
fn the_bulk_registration_example() {
    let t = Template::parse(BULK).unwrap();
    let plan = t
        .evaluate(
            &map(&[
                ("ThingName", "bulb-1"),
                ("SerialNumber", "123"),
                ("CSR", "csr-text"),
            ]),
            &BTreeMap::new(),
        )
        .unwrap();
    let thing = plan.thing.unwrap();
    assert_eq!(thing.name, "bulb-1");
    assert_eq!(thing.type_name.as_deref(), Some("lightBulb-versionA"));
    assert_eq!(
        thing.attributes.unwrap(),
        map(&[("version", "v1"), ("serialNumber", "123")])
    );
    // Location's default.
    assert_eq!(thing.groups.unwrap(), ["v1-lightbulbs", "WA"]);
    assert_eq!(thing.on_attributes, Override::DoNothing);
    let cert = plan.certificate.unwrap();
    assert_eq!(cert.source, CertificateSource::Csr("csr-text".into()));
    assert!(cert.active);
    assert!(
        matches!(&plan.policies[..], [PolicySpec::Document { document, .. }] if document.contains("iot:Publish"))
    );
    assert!(plan.device_configuration.is_empty());
}

#[test]
fn the_jitp_example_takes_the_certificate_s_fields() {
    let t = Template::parse(JITP).unwrap();
    let system = map(&[
        ("AWS::IoT::Certificate::CommonName", "bulb-7"),
        ("AWS::IoT::Certificate::SerialNumber", "SN-7"),
        ("AWS::IoT::Certificate::Country", "US"),
        ("AWS::IoT::Certificate::Id", "abc123"),
    ]);
    let plan = t.evaluate(&BTreeMap::new(), &system).unwrap();
    let thing = plan.thing.unwrap();
    assert_eq!(thing.name, "bulb-7");
    assert_eq!(thing.groups.unwrap(), ["v1-lightbulbs", "US"]);
    assert_eq!(
        (thing.on_attributes, thing.on_type, thing.on_groups),
        (Override::Merge, Override::Replace, Override::DoNothing)
    );
    let cert = plan.certificate.unwrap();
    assert_eq!(cert.source, CertificateSource::Id("abc123".into()));
    assert_eq!(cert.on_status, Override::DoNothing);
    // "the device provisioning fails if the certificate doesn't have all of the properties".
    let mut short = system.clone();
    short.remove("AWS::IoT::Certificate::Country");
    assert!(t.evaluate(&BTreeMap::new(), &short).is_err());
}

#[test]
fn the_fleet_example_with_mappings_and_device_configuration() {
    let t = Template::parse(FLEET).unwrap();
    let plan = t
        .evaluate(
            &map(&[
                ("ThingName", "lamp-9"),
                ("SerialNumber", "42"),
                ("DeviceLocation", "Seattle"),
            ]),
            // Fleet templates use the certificate id without declaring it.
            &map(&[("AWS::IoT::Certificate::Id", "cert-9")]),
        )
        .unwrap();
    let thing = plan.thing.unwrap();
    assert_eq!(thing.type_name.as_deref(), Some("ThingPrefix_42"));
    assert_eq!(
        thing.billing_group.as_deref(),
        Some("LightBulbBillingGroup")
    );
    assert!(plan.certificate.unwrap().active, "\"Active\" in any case");
    assert_eq!(
        plan.device_configuration,
        map(&[
            ("FallbackUrl", "https://www.example.com/test-site"),
            ("LocationUrl", "https://example.aws")
        ])
    );
    let PolicySpec::Document { document, .. } = &plan.policies[0] else {
        panic!("a document");
    };
    let v: serde_json::Value = serde_json::from_str(document).unwrap();
    assert_eq!(v["Statement"][0]["Action"][0], "iot:Publish");
    // A location the map does not hold fails the provisioning.
    let err = t
        .evaluate(
            &map(&[
                ("ThingName", "l"),
                ("SerialNumber", "1"),
                ("DeviceLocation", "Oslo"),
            ]),
            &map(&[("AWS::IoT::Certificate::Id", "c")]),
        )
        .unwrap_err();
    assert!(err.message.contains("Fn::FindInMap"), "{}", err.message);
}

fn one_thing(name: &str) -> String {
    format!(
        r#"{{"Parameters": {{"P": {{"Type": "String"}}}},
            "Resources": {{"thing": {{"Type": "AWS::IoT::Thing", "Properties": {{"ThingName": {name}}}}}}}}}"#
    )
}

#[test]
fn the_intrinsic_functions() {
    let name = |expr: &str, p: &str| {
        Template::parse(&one_thing(expr))
            .unwrap()
            .evaluate(&map(&[("P", p)]), &BTreeMap::new())
            .map(|plan| plan.thing.unwrap().name)
    };
    assert_eq!(
        name(r#"{"Fn::Join": ["-", ["a", {"Ref": "P"}]]}"#, "b").unwrap(),
        "a-b"
    );
    assert_eq!(
        name(
            r#"{"Fn::Select": ["1", {"Fn::Split": [",", {"Ref": "P"}]}]}"#,
            "x,y,z"
        )
        .unwrap(),
        "y"
    );
    assert_eq!(
        name(r#"{"Fn::Select": [0, ["first"]]}"#, "").unwrap(),
        "first"
    );
    assert_eq!(name(r#"{"Fn::Sub": "dev-${P}"}"#, "7").unwrap(), "dev-7");
    assert_eq!(
        name(r#"{"Fn::Sub": ["${A}-${P}", {"A": "x"}]}"#, "7").unwrap(),
        "x-7"
    );
    assert_eq!(
        name(r#"{"Fn::Sub": "${!Literal}"}"#, "").unwrap(),
        "${Literal}"
    );
    // Out of bounds, unknown function, undeclared reference, unclosed substitution.
    for bad in [
        r#"{"Fn::Select": ["5", ["a"]]}"#,
        r#"{"Fn::Base64": "a"}"#,
        r#"{"Ref": "Nope"}"#,
        r#"{"Fn::Sub": "${P"}"#,
        r#"{"Fn::Join": ["-"]}"#,
    ] {
        assert!(name(bad, "p").is_err(), "{bad}");
    }
}

#[test]
fn a_policy_document_may_be_named() {
    let plan = Template::parse(
        r#"{"Resources": {"p": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "a", "PolicyDocument": "{}"}}}}"#,
    )
    .unwrap()
    .evaluate(&BTreeMap::new(), &BTreeMap::new())
    .unwrap();
    assert!(matches!(
        &plan.policies[..],
        [PolicySpec::Document { name: Some(n), document, .. }] if n == "a" && document == "{}"
    ));
}

#[test]
fn malformed_templates_are_refused() {
    let bad = [
        "not json".to_string(),
        r#"{"Resources": {}, "Outputs": {}}"#.to_string(),
        r#"{"Resources": {}, "Conditions": []}"#.to_string(),
        r#"{"Resources": {}, "Conditions": {"C": true}}"#.to_string(),
        r#"{"Parameters": {"P": {"Type": "Number"}}, "Resources": {}}"#.to_string(),
        r#"{"Parameters": {}}"#.to_string(),
        "x".repeat(MAX_TEMPLATE_CHARS + 1),
    ];
    for b in &bad {
        assert!(Template::parse(b).is_err(), "{b:.60}");
    }
    let eval = |resources: &str| {
        Template::parse(&format!(r#"{{"Resources": {resources}}}"#))
            .unwrap()
            .evaluate(&BTreeMap::new(), &BTreeMap::new())
    };
    for bad in [
        r#"{"p": {"Type": "AWS::IoT::Policy", "Properties": {}}}"#,
        r#"{"c": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": "a", "CertificateSigningRequest": "b"}}}"#,
        r#"{"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "t"}, "OverrideSettings": {"ThingTypeName": "MERGE"}}}"#,
        r#"{"x": {"Type": "AWS::S3::Bucket"}}"#,
        r#"{"t": {"Type": "AWS::IoT::Thing", "Properties": {}}}"#,
    ] {
        assert!(eval(bad).is_err(), "{bad}");
    }
    let e = eval(r#"{"p": {"Type": "AWS::IoT::Policy", "Properties": {}}}"#).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid registration template. Neither policyName nor policyDocument is present in the Template."
    );
    let nested =
        Template::parse(r#"{"Resources": {}, "DeviceConfiguration": {"a": {"b": "c"}}}"#).unwrap();
    assert!(nested.evaluate(&BTreeMap::new(), &BTreeMap::new()).is_err());
}

fn partition() -> crate::ids::Partition {
    crate::ids::Partition::new(
        crate::ids::AccountId::parse("123456789012").unwrap(),
        crate::ids::Region::parse("eu-west-1").unwrap(),
    )
}

/// A policy that names its thing and certificate. "a_policy" sorts before the resources it
/// reads: references, not declaration order, decide what is evaluated first.
const GET_ATT: &str = r#"{
    "Parameters": {"ThingName": {"Type": "String"}},
    "Resources": {
        "a_policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect",
                 "Resource": {"Fn::Join": ["", ["arn:aws:iot:eu-west-1:123456789012:client/", {"Fn::GetAtt": ["thing", "ThingName"]}]]}},
                {"Effect": "Allow", "Action": "iot:Publish",
                 "Resource": {"Fn::Sub": "arn:aws:iot:eu-west-1:123456789012:topic/${thing.ThingName}/${certificate.Id}"}},
                {"Effect": "Allow", "Action": "iot:UpdateThingShadow", "Resource": {"Fn::GetAtt": ["thing", "Arn"]}}
            ]
        }}},
        "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}},
        "named": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "base"}},
        "thing": {"Type": "AWS::IoT::Thing", "Properties": {
            "ThingName": {"Ref": "ThingName"},
            "AttributePayload": {
                "certificate": {"Fn::GetAtt": ["certificate", "CertificateId"]},
                "certificateArn": {"Fn::GetAtt": ["certificate", "Arn"]},
                "policy": {"Fn::GetAtt": ["named", "Id"]},
                "policyArn": {"Fn::GetAtt": ["named", "Arn"]}
            }
        }}
    },
    "DeviceConfiguration": {"ThingArn": {"Fn::GetAtt": ["thing", "Arn"]}}
}"#;

#[test]
fn get_att_reads_names_ids_and_arns() {
    let t = Template::parse(GET_ATT).unwrap();
    let given = map(&[("ThingName", "lamp-1")]);
    let system = map(&[("AWS::IoT::Certificate::Id", "c0ffee")]);
    let plan = t.evaluate_in(&partition(), &given, &system).unwrap();
    let thing_arn = "arn:aws:iot:eu-west-1:123456789012:thing/lamp-1";
    assert_eq!(
        plan.thing.unwrap().attributes.unwrap(),
        map(&[
            ("certificate", "c0ffee"),
            (
                "certificateArn",
                "arn:aws:iot:eu-west-1:123456789012:cert/c0ffee"
            ),
            ("policy", "base"),
            (
                "policyArn",
                "arn:aws:iot:eu-west-1:123456789012:policy/base"
            ),
        ])
    );
    assert_eq!(plan.device_configuration, map(&[("ThingArn", thing_arn)]));
    let PolicySpec::Document { document, .. } = &plan.policies[0] else {
        panic!("a document first");
    };
    let v: serde_json::Value = serde_json::from_str(document).unwrap();
    assert_eq!(
        v["Statement"][0]["Resource"],
        "arn:aws:iot:eu-west-1:123456789012:client/lamp-1"
    );
    assert_eq!(
        v["Statement"][1]["Resource"],
        "arn:aws:iot:eu-west-1:123456789012:topic/lamp-1/c0ffee"
    );
    assert_eq!(v["Statement"][2]["Resource"], thing_arn);
    // Without an account and region, names and ids resolve but ARNs do not.
    let e = t.evaluate(&given, &system).unwrap_err();
    assert!(
        e.message.contains("needs the account and region"),
        "{}",
        e.message
    );
}

#[test]
fn get_att_errors() {
    let eval = |resources: &str, name: &str| {
        let body = format!(
            r#"{{"Parameters": {{"P": {{"Type": "String"}}}},
                "Conditions": {{"Never": {{"Fn::Equals": ["a", "b"]}}}},
                "Resources": {{"thing": {{"Type": "AWS::IoT::Thing", "Properties": {{"ThingName": {name}}}}}, {resources}}}}}"#
        );
        Template::parse(&body).unwrap().evaluate_in(
            &partition(),
            &map(&[("P", "p")]),
            &BTreeMap::new(),
        )
    };
    let csr = r#""c": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateSigningRequest": "csr"}}"#;
    let doc = r#""p": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {"Version": "2012-10-17"}}}"#;
    let named = r#""p": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": {"Fn::GetAtt": ["thing", "ThingName"]}}}"#;
    let skipped = r#""p": {"Type": "AWS::IoT::Policy", "Condition": "Never", "Properties": {"PolicyName": "x"}}"#;
    let cases = [
        (
            csr,
            r#"{"Fn::GetAtt": ["thing", "Id"]}"#,
            "the id AWS assigns",
        ),
        (
            csr,
            r#"{"Fn::GetAtt": ["c", "Id"]}"#,
            "no id until it is registered",
        ),
        (
            doc,
            r#"{"Fn::GetAtt": ["p", "PolicyName"]}"#,
            "named when it is provisioned",
        ),
        (
            csr,
            r#"{"Fn::GetAtt": ["c", "Color"]}"#,
            "has no attribute Color",
        ),
        (
            csr,
            r#"{"Fn::GetAtt": ["nothing", "Arn"]}"#,
            "not a resource of the template",
        ),
        (
            csr,
            r#"{"Fn::GetAtt": ["c"]}"#,
            "Fn::GetAtt takes a list of 2",
        ),
        (
            csr,
            r#"{"Fn::GetAtt": [{"Ref": "P"}, "Arn"]}"#,
            "logical name first",
        ),
        (
            csr,
            r#"{"Fn::Sub": "${nothing.Arn}"}"#,
            "No value for the parameter nothing.Arn",
        ),
        (
            named,
            r#"{"Fn::GetAtt": ["p", "PolicyName"]}"#,
            "refer to each other: p -> thing -> p",
        ),
        (
            csr,
            r#"{"Fn::GetAtt": ["thing", "ThingName"]}"#,
            "refer to each other: thing -> thing",
        ),
        (
            skipped,
            r#"{"Fn::GetAtt": ["p", "Arn"]}"#,
            "not provisioned: its condition is false",
        ),
    ];
    for (resources, name, why) in cases {
        let e = eval(resources, name).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidRequest);
        assert!(e.message.contains(why), "{name}: {}", e.message);
    }
}
