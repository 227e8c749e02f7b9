//! The developer guide's templates (provision-template.html, jit-provisioning.html), evaluated
//! as AWS describes them, and the ways a template or its evaluation fails.

use super::*;
use std::collections::BTreeMap;

fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
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
        r#"{"Fn::If": ["c", "a", "b"]}"#,
        r#"{"Ref": "Nope"}"#,
        r#"{"Fn::Sub": "${P"}"#,
        r#"{"Fn::Join": ["-"]}"#,
    ] {
        assert!(name(bad, "p").is_err(), "{bad}");
    }
}

#[test]
fn malformed_templates_are_refused() {
    let bad = [
        "not json".to_string(),
        r#"{"Resources": {}, "Conditions": {}}"#.to_string(),
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
        r#"{"p": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "a", "PolicyDocument": "{}"}}}"#,
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
