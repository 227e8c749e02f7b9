//! AWS's documented example policies, evaluated as AWS IoT documents them.
//!
//! Policies come from the developer guide's example pages:
//! connect-policy.html, pub-sub-policy.html, thing-policy-examples.html,
//! certificate-policy-examples.html, cert-policy-variables.html and
//! basic-policy-variables.html under
//! <https://docs.aws.amazon.com/iot/latest/developerguide/>.

use shoal_policy::{evaluate, parse, Context, Decision, MapContext, Policy};

use Decision::{Allowed, ExplicitDeny, ImplicitDeny};

const ARN: &str = "arn:aws:iot:us-east-1:123456789012:";

/// connect-policy.html: connect with client ID `client1` only.
const CONNECT_CLIENT1: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["iot:Connect"],
        "Resource": ["arn:aws:iot:us-east-1:123456789012:client/client1"]
    }]
}"#;

/// connect-policy.html: deny client1 and client2, allow client ID = thing name.
const CONNECT_DENY_SOME: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
      {
        "Effect": "Deny",
        "Action": ["iot:Connect"],
        "Resource": [
          "arn:aws:iot:us-east-1:123456789012:client/client1",
          "arn:aws:iot:us-east-1:123456789012:client/client2"
        ]
      },
      {
        "Effect": "Allow",
        "Action": ["iot:Connect"],
        "Resource": ["arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"]
      }
    ]
}"#;

/// pub-sub-policy.html, registered devices (5): publish under the thing name.
const PUBLISH_UNDER_THING: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Publish"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/*"]
        }
    ]
}"#;

/// pub-sub-policy.html, unregistered devices (5): publish under the client ID.
const PUBLISH_UNDER_CLIENT: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": [
                "arn:aws:iot:us-east-1:123456789012:client/client1",
                "arn:aws:iot:us-east-1:123456789012:client/client2",
                "arn:aws:iot:us-east-1:123456789012:client/client3"
            ]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Publish"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:ClientId}/*"]
        }
    ]
}"#;

/// pub-sub-policy.html, registered devices (6): subscribe to and receive
/// `<thing>/room*`; topicfilter/ for Subscribe, topic/ for Receive.
const ROOMS: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Subscribe"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/${iot:Connection.Thing.ThingName}/room*"]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Receive"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/room*"]
        }
    ]
}"#;

/// pub-sub-policy.html (4): `+` in a policy is a literal character.
const LITERAL_PLUS: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
      {
        "Effect": "Allow",
        "Action": ["iot:Connect"],
        "Resource": ["arn:aws:iot:us-east-1:123456789012:client/client1"]
      },
      {
        "Effect": "Allow",
        "Action": ["iot:Subscribe"],
        "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/some/+/topic"]
      }
    ]
}"#;

/// pub-sub-policy.html, unregistered devices (9): everything under the
/// client ID except `<client>/bar`.
const ALL_BUT_BAR: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": [
                "arn:aws:iot:us-east-1:123456789012:client/client1",
                "arn:aws:iot:us-east-1:123456789012:client/client2"
            ]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Publish"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:ClientId}/*"]
        },
        {
            "Effect": "Deny",
            "Action": ["iot:Publish"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/${iot:ClientId}/bar"]
        }
    ]
}"#;

/// pub-sub-policy.html (11): subscribe to and receive `my/topic`.
const MY_TOPIC: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Subscribe"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topicfilter/my/topic"]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Receive"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/my/topic"]
        }
    ]
}"#;

/// thing-policy-examples.html: connect only when the certificate is
/// attached to the thing.
const IS_ATTACHED: &str = r#"{
    "Version":"2012-10-17",
    "Statement":[
        {
            "Effect":"Allow",
            "Action":["iot:Connect"],
            "Resource":[ "*" ],
            "Condition": {
                "Bool": {
                    "iot:Connection.Thing.IsAttached": ["true"]
                }
            }
        }
    ]
}"#;

/// thing-policy-examples.html: publish when the thing has a type and an
/// attribute value, and is attached.
const TYPE_AND_ATTRIBUTE: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["iot:Publish"],
        "Resource": "arn:aws:iot:us-east-1:123456789012:topic/device/stats",
        "Condition": {
            "StringEquals": {
                "iot:Connection.Thing.Attributes[attributeName]": "attributeValue",
                "iot:Connection.Thing.ThingTypeName": "Thing_Type_Name"
            },
            "Bool": {
                "iot:Connection.Thing.IsAttached": "true"
            }
        }
    }]
}"#;

/// thing-policy-examples.html: publish under an attribute's value.
const UNDER_ATTRIBUTE: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["iot:Publish"],
        "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.Attributes[attributeName]}/*"
    }]
}"#;

/// certificate-policy-examples.html (12) and (13): topics named after the
/// certificate ID and the subject's common name.
const CERTIFICATE_TOPICS: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iot:Publish"],
            "Resource": [
                "arn:aws:iot:us-east-1:123456789012:topic/${iot:CertificateId}",
                "arn:aws:iot:us-east-1:123456789012:topic/${iot:Certificate.Subject.CommonName}"
            ]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"]
        }
    ]
}"#;

/// certificate-policy-examples.html (14): admin topics when the third common
/// name is `Administrator`.
const ADMIN_BY_INDEX: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["iot:Publish"],
        "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/admin/*"],
        "Condition": {
            "StringEquals": {
                "iot:Certificate.Subject.CommonName.2": "Administrator"
            }
        }
    }]
}"#;

/// certificate-policy-examples.html (15): any common name `Administrator`.
const ADMIN_BY_LIST: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["iot:Publish"],
        "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/admin/${iot:Connection.Thing.ThingName}"],
        "Condition": {
            "ForAnyValue:StringEquals": {
                "iot:Certificate.Subject.CommonName.List": "Administrator"
            }
        }
    }]
}"#;

/// cert-policy-variables.html: publish only for some organizations.
const ORGANIZATIONS: &str = r#"{
    "Version":"2012-10-17",
    "Statement":[
      {
        "Effect":"Allow",
        "Action":["iot:Publish"],
        "Resource":["arn:aws:iot:us-east-1:123456789012:topic/my/topic/${iot:Connection.Thing.ThingName}"],
        "Condition":{
          "ForAllValues:StringEquals":{
            "iot:Certificate.Subject.Organization.List":["Example Corp", "AnyCompany"]
          }
        }
      }
    ]
}"#;

/// basic-policy-variables.html: client ID in the topic, source IP condition.
const SOURCE_IP: &str = r#"{
    "Version":"2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:client/clientid1"]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Publish"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/my/topic/${iot:ClientId}"],
            "Condition": {
                "IpAddress": {"aws:SourceIp": "123.45.167.89"}
            }
        }
    ]
}"#;

/// A broad allow, to combine with the other policies.
const ALLOW_ALL_PUBLISH: &str = r#"{
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Action": "iot:Publish", "Resource": "*"}
}"#;

/// A second policy attached to the same principal with an explicit deny.
const DENY_SECRETS: &str = r#"{
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Deny",
        "Action": ["iot:Publish", "iot:Subscribe"],
        "Resource": [
            "arn:aws:iot:us-east-1:123456789012:topic/secret/*",
            "arn:aws:iot:us-east-1:123456789012:topicfilter/secret/*"
        ]
    }
}"#;

struct Row {
    name: &'static str,
    policies: &'static [&'static str],
    context: &'static [(&'static str, &'static str)],
    action: &'static str,
    /// Resource without the `arn:aws:iot:us-east-1:123456789012:` prefix,
    /// unless it starts with "arn:" or is "*".
    resource: &'static str,
    expected: Decision,
}

const THING: &str = "iot:Connection.Thing.ThingName";
const CLIENT: &str = "iot:ClientId";

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // connect-policy.html
    Row { name: "client1 may connect", policies: &[CONNECT_CLIENT1], context: &[(CLIENT, "client1")], action: "iot:Connect", resource: "client/client1", expected: Allowed },
    Row { name: "client2 may not", policies: &[CONNECT_CLIENT1], context: &[(CLIENT, "client2")], action: "iot:Connect", resource: "client/client2", expected: ImplicitDeny },
    Row { name: "connect does not grant publish", policies: &[CONNECT_CLIENT1], context: &[], action: "iot:Publish", resource: "topic/client1", expected: ImplicitDeny },
    Row { name: "thing-named client connects", policies: &[CONNECT_DENY_SOME], context: &[(THING, "lamp-1")], action: "iot:Connect", resource: "client/lamp-1", expected: Allowed },
    Row { name: "client1 denied even as a thing", policies: &[CONNECT_DENY_SOME], context: &[(THING, "client1")], action: "iot:Connect", resource: "client/client1", expected: ExplicitDeny },
    Row { name: "client2 denied without a thing", policies: &[CONNECT_DENY_SOME], context: &[], action: "iot:Connect", resource: "client/client2", expected: ExplicitDeny },
    Row { name: "client ID other than the thing", policies: &[CONNECT_DENY_SOME], context: &[(THING, "lamp-1")], action: "iot:Connect", resource: "client/lamp-2", expected: ImplicitDeny },
    Row { name: "no thing: variable unresolved", policies: &[CONNECT_DENY_SOME], context: &[(CLIENT, "lamp-1")], action: "iot:Connect", resource: "client/lamp-1", expected: ImplicitDeny },
    // pub-sub-policy.html (5)
    Row { name: "publish under own thing", policies: &[PUBLISH_UNDER_THING], context: &[(THING, "lamp-1")], action: "iot:Publish", resource: "topic/lamp-1/state", expected: Allowed },
    Row { name: "publish deep under own thing", policies: &[PUBLISH_UNDER_THING], context: &[(THING, "lamp-1")], action: "iot:Publish", resource: "topic/lamp-1/a/b/c", expected: Allowed },
    Row { name: "publish the thing topic itself", policies: &[PUBLISH_UNDER_THING], context: &[(THING, "lamp-1")], action: "iot:Publish", resource: "topic/lamp-1", expected: ImplicitDeny },
    Row { name: "publish under another thing", policies: &[PUBLISH_UNDER_THING], context: &[(THING, "lamp-1")], action: "iot:Publish", resource: "topic/lamp-2/state", expected: ImplicitDeny },
    Row { name: "publish without a thing", policies: &[PUBLISH_UNDER_THING], context: &[(CLIENT, "lamp-1")], action: "iot:Publish", resource: "topic/lamp-1/state", expected: ImplicitDeny },
    Row { name: "subscribe not granted", policies: &[PUBLISH_UNDER_THING], context: &[(THING, "lamp-1")], action: "iot:Subscribe", resource: "topicfilter/lamp-1/state", expected: ImplicitDeny },
    Row { name: "publish under own client ID", policies: &[PUBLISH_UNDER_CLIENT], context: &[(CLIENT, "client2")], action: "iot:Publish", resource: "topic/client2/x", expected: Allowed },
    Row { name: "client ID with a wildcard is literal", policies: &[PUBLISH_UNDER_CLIENT], context: &[(CLIENT, "*")], action: "iot:Publish", resource: "topic/other/x", expected: ImplicitDeny },
    Row { name: "client ID '*' owns only '*/'", policies: &[PUBLISH_UNDER_CLIENT], context: &[(CLIENT, "*")], action: "iot:Publish", resource: "topic/*/x", expected: Allowed },
    // pub-sub-policy.html (6): topicfilter/ vs topic/
    Row { name: "subscribe to a room filter", policies: &[ROOMS], context: &[(THING, "t1")], action: "iot:Subscribe", resource: "topicfilter/t1/room1", expected: Allowed },
    Row { name: "subscribe with MQTT wildcard in filter", policies: &[ROOMS], context: &[(THING, "t1")], action: "iot:Subscribe", resource: "topicfilter/t1/room+", expected: Allowed },
    Row { name: "subscribe checked on topic/ resource", policies: &[ROOMS], context: &[(THING, "t1")], action: "iot:Subscribe", resource: "topic/t1/room1", expected: ImplicitDeny },
    Row { name: "receive on a room topic", policies: &[ROOMS], context: &[(THING, "t1")], action: "iot:Receive", resource: "topic/t1/room2", expected: Allowed },
    Row { name: "receive checked on topicfilter/", policies: &[ROOMS], context: &[(THING, "t1")], action: "iot:Receive", resource: "topicfilter/t1/room2", expected: ImplicitDeny },
    Row { name: "receive another thing's room", policies: &[ROOMS], context: &[(THING, "t1")], action: "iot:Receive", resource: "topic/t2/room2", expected: ImplicitDeny },
    // pub-sub-policy.html (4)
    Row { name: "literal + filter", policies: &[LITERAL_PLUS], context: &[], action: "iot:Subscribe", resource: "topicfilter/some/+/topic", expected: Allowed },
    Row { name: "+ is not a wildcard", policies: &[LITERAL_PLUS], context: &[], action: "iot:Subscribe", resource: "topicfilter/some/x/topic", expected: ImplicitDeny },
    Row { name: "# is not a wildcard", policies: &[LITERAL_PLUS], context: &[], action: "iot:Subscribe", resource: "topicfilter/some/#", expected: ImplicitDeny },
    // pub-sub-policy.html (9)
    Row { name: "publish under client", policies: &[ALL_BUT_BAR], context: &[(CLIENT, "client1")], action: "iot:Publish", resource: "topic/client1/foo", expected: Allowed },
    Row { name: "explicit deny of bar", policies: &[ALL_BUT_BAR], context: &[(CLIENT, "client1")], action: "iot:Publish", resource: "topic/client1/bar", expected: ExplicitDeny },
    Row { name: "bar of another client", policies: &[ALL_BUT_BAR], context: &[(CLIENT, "client1")], action: "iot:Publish", resource: "topic/client2/bar", expected: ImplicitDeny },
    Row { name: "bar/deeper is allowed", policies: &[ALL_BUT_BAR], context: &[(CLIENT, "client1")], action: "iot:Publish", resource: "topic/client1/bar/x", expected: Allowed },
    // pub-sub-policy.html (11)
    Row { name: "subscribe my/topic", policies: &[MY_TOPIC], context: &[(THING, "t")], action: "iot:Subscribe", resource: "topicfilter/my/topic", expected: Allowed },
    Row { name: "receive my/topic", policies: &[MY_TOPIC], context: &[(THING, "t")], action: "iot:Receive", resource: "topic/my/topic", expected: Allowed },
    Row { name: "publish my/topic not granted", policies: &[MY_TOPIC], context: &[(THING, "t")], action: "iot:Publish", resource: "topic/my/topic", expected: ImplicitDeny },
    Row { name: "subscribe my/topic/sub", policies: &[MY_TOPIC], context: &[(THING, "t")], action: "iot:Subscribe", resource: "topicfilter/my/topic/sub", expected: ImplicitDeny },
    // thing-policy-examples.html
    Row { name: "attached thing connects", policies: &[IS_ATTACHED], context: &[("iot:Connection.Thing.IsAttached", "true")], action: "iot:Connect", resource: "client/any", expected: Allowed },
    Row { name: "unattached thing may not", policies: &[IS_ATTACHED], context: &[("iot:Connection.Thing.IsAttached", "false")], action: "iot:Connect", resource: "client/any", expected: ImplicitDeny },
    Row { name: "no thing at all may not", policies: &[IS_ATTACHED], context: &[], action: "iot:Connect", resource: "client/any", expected: ImplicitDeny },
    Row { name: "type and attribute match", policies: &[TYPE_AND_ATTRIBUTE], context: &[("iot:Connection.Thing.Attributes[attributeName]", "attributeValue"), ("iot:Connection.Thing.ThingTypeName", "Thing_Type_Name"), ("iot:Connection.Thing.IsAttached", "true")], action: "iot:Publish", resource: "topic/device/stats", expected: Allowed },
    Row { name: "wrong attribute value", policies: &[TYPE_AND_ATTRIBUTE], context: &[("iot:Connection.Thing.Attributes[attributeName]", "other"), ("iot:Connection.Thing.ThingTypeName", "Thing_Type_Name"), ("iot:Connection.Thing.IsAttached", "true")], action: "iot:Publish", resource: "topic/device/stats", expected: ImplicitDeny },
    Row { name: "wrong thing type", policies: &[TYPE_AND_ATTRIBUTE], context: &[("iot:Connection.Thing.Attributes[attributeName]", "attributeValue"), ("iot:Connection.Thing.ThingTypeName", "Other"), ("iot:Connection.Thing.IsAttached", "true")], action: "iot:Publish", resource: "topic/device/stats", expected: ImplicitDeny },
    Row { name: "not attached", policies: &[TYPE_AND_ATTRIBUTE], context: &[("iot:Connection.Thing.Attributes[attributeName]", "attributeValue"), ("iot:Connection.Thing.ThingTypeName", "Thing_Type_Name"), ("iot:Connection.Thing.IsAttached", "false")], action: "iot:Publish", resource: "topic/device/stats", expected: ImplicitDeny },
    Row { name: "attribute missing", policies: &[TYPE_AND_ATTRIBUTE], context: &[("iot:Connection.Thing.ThingTypeName", "Thing_Type_Name"), ("iot:Connection.Thing.IsAttached", "true")], action: "iot:Publish", resource: "topic/device/stats", expected: ImplicitDeny },
    Row { name: "publish under attribute", policies: &[UNDER_ATTRIBUTE], context: &[("iot:Connection.Thing.Attributes[attributeName]", "red")], action: "iot:Publish", resource: "topic/red/1", expected: Allowed },
    Row { name: "other attribute value", policies: &[UNDER_ATTRIBUTE], context: &[("iot:Connection.Thing.Attributes[attributeName]", "red")], action: "iot:Publish", resource: "topic/blue/1", expected: ImplicitDeny },
    Row { name: "certificate not attached: unresolved", policies: &[UNDER_ATTRIBUTE], context: &[(THING, "lamp")], action: "iot:Publish", resource: "topic/red/1", expected: ImplicitDeny },
    // certificate-policy-examples.html
    Row { name: "topic named after certificate ID", policies: &[CERTIFICATE_TOPICS], context: &[("iot:CertificateId", "abc123")], action: "iot:Publish", resource: "topic/abc123", expected: Allowed },
    Row { name: "topic named after common name", policies: &[CERTIFICATE_TOPICS], context: &[("iot:CertificateId", "abc123"), ("iot:Certificate.Subject.CommonName", "bulb")], action: "iot:Publish", resource: "topic/bulb", expected: Allowed },
    Row { name: "one unresolved pattern does not block the other", policies: &[CERTIFICATE_TOPICS], context: &[("iot:Certificate.Subject.CommonName", "bulb")], action: "iot:Publish", resource: "topic/bulb", expected: Allowed },
    Row { name: "other topic", policies: &[CERTIFICATE_TOPICS], context: &[("iot:CertificateId", "abc123")], action: "iot:Publish", resource: "topic/xyz", expected: ImplicitDeny },
    Row { name: "third common name is Administrator", policies: &[ADMIN_BY_INDEX], context: &[("iot:Certificate.Subject.CommonName.2", "Administrator")], action: "iot:Publish", resource: "topic/admin/x", expected: Allowed },
    Row { name: "no third common name", policies: &[ADMIN_BY_INDEX], context: &[("iot:Certificate.Subject.CommonName", "Administrator")], action: "iot:Publish", resource: "topic/admin/x", expected: ImplicitDeny },
    // cert-policy-variables.html, single-valued context
    Row { name: "organization listed", policies: &[ORGANIZATIONS], context: &[(THING, "t"), ("iot:Certificate.Subject.Organization.List", "AnyCompany")], action: "iot:Publish", resource: "topic/my/topic/t", expected: Allowed },
    Row { name: "organization not listed", policies: &[ORGANIZATIONS], context: &[(THING, "t"), ("iot:Certificate.Subject.Organization.List", "Evil Inc")], action: "iot:Publish", resource: "topic/my/topic/t", expected: ImplicitDeny },
    // basic-policy-variables.html
    Row { name: "publish from the allowed IP", policies: &[SOURCE_IP], context: &[(CLIENT, "clientid1"), ("aws:SourceIp", "123.45.167.89")], action: "iot:Publish", resource: "topic/my/topic/clientid1", expected: Allowed },
    Row { name: "publish from another IP", policies: &[SOURCE_IP], context: &[(CLIENT, "clientid1"), ("aws:SourceIp", "123.45.167.90")], action: "iot:Publish", resource: "topic/my/topic/clientid1", expected: ImplicitDeny },
    Row { name: "publish with no known IP", policies: &[SOURCE_IP], context: &[(CLIENT, "clientid1")], action: "iot:Publish", resource: "topic/my/topic/clientid1", expected: ImplicitDeny },
    // Several policies on one principal: explicit deny wins.
    Row { name: "allowed by the broad policy", policies: &[ALLOW_ALL_PUBLISH, DENY_SECRETS], context: &[], action: "iot:Publish", resource: "topic/public/x", expected: Allowed },
    Row { name: "deny in the second policy wins", policies: &[ALLOW_ALL_PUBLISH, DENY_SECRETS], context: &[], action: "iot:Publish", resource: "topic/secret/x", expected: ExplicitDeny },
    Row { name: "deny in the first policy wins", policies: &[DENY_SECRETS, ALLOW_ALL_PUBLISH], context: &[], action: "iot:Publish", resource: "topic/secret/x", expected: ExplicitDeny },
    Row { name: "deny without any allow", policies: &[DENY_SECRETS], context: &[], action: "iot:Subscribe", resource: "topicfilter/secret/x", expected: ExplicitDeny },
    Row { name: "no policy at all", policies: &[], context: &[], action: "iot:Publish", resource: "topic/x", expected: ImplicitDeny },
    Row { name: "grant split across policies", policies: &[CONNECT_CLIENT1, PUBLISH_UNDER_CLIENT], context: &[(CLIENT, "client1")], action: "iot:Publish", resource: "topic/client1/t", expected: Allowed },
    // Action names are case-insensitive.
    Row { name: "request action in another case", policies: &[ALLOW_ALL_PUBLISH], context: &[], action: "IOT:PUBLISH", resource: "topic/x", expected: Allowed },
];

fn resource(row: &Row) -> String {
    if row.resource.starts_with("arn:") || row.resource == "*" {
        row.resource.to_string()
    } else {
        format!("{ARN}{}", row.resource)
    }
}

fn policies(documents: &[&str]) -> Vec<Policy> {
    documents
        .iter()
        .map(|d| parse(d).unwrap_or_else(|e| panic!("{e}\n{d}")))
        .collect()
}

#[test]
fn documented_examples() {
    let mut failures = Vec::new();
    for row in ROWS {
        let policies = policies(row.policies);
        let ctx: MapContext = row.context.iter().copied().collect();
        let got = evaluate(&policies, row.action, &resource(row), &ctx);
        if got != row.expected {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                row.name, row.expected, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A context where some keys have several values, as a certificate with
/// several common names has.
struct Lists(Vec<(&'static str, Vec<&'static str>)>);

impl Context for Lists {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.first().copied())
    }

    fn for_each_value(&self, key: &str, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        match self.0.iter().find(|(k, _)| *k == key) {
            Some((_, values)) => {
                for v in values {
                    if !visit(v) {
                        break;
                    }
                }
                true
            }
            None => false,
        }
    }
}

#[test]
fn multi_valued_certificate_attributes() {
    let admin = policies(&[ADMIN_BY_LIST]);
    let resource = format!("{ARN}topic/admin/t");
    let with_names = |names: Vec<&'static str>| {
        Lists(vec![
            (THING, vec!["t"]),
            ("iot:Certificate.Subject.CommonName.List", names),
        ])
    };
    let ctx = with_names(vec!["Device", "Administrator"]);
    assert_eq!(evaluate(&admin, "iot:Publish", &resource, &ctx), Allowed);
    let ctx = with_names(vec!["Device", "Operator"]);
    assert_eq!(
        evaluate(&admin, "iot:Publish", &resource, &ctx),
        ImplicitDeny
    );

    let orgs = policies(&[ORGANIZATIONS]);
    let resource = format!("{ARN}topic/my/topic/t");
    let with_orgs = |orgs: Vec<&'static str>| {
        Lists(vec![
            (THING, vec!["t"]),
            ("iot:Certificate.Subject.Organization.List", orgs),
        ])
    };
    let ctx = with_orgs(vec!["Example Corp", "AnyCompany"]);
    assert_eq!(evaluate(&orgs, "iot:Publish", &resource, &ctx), Allowed);
    let ctx = with_orgs(vec!["Example Corp", "Evil Inc"]);
    assert_eq!(
        evaluate(&orgs, "iot:Publish", &resource, &ctx),
        ImplicitDeny
    );
    // ForAllValues over no values holds: the documented IAM pitfall.
    let ctx = Lists(vec![(THING, vec!["t"])]);
    assert_eq!(evaluate(&orgs, "iot:Publish", &resource, &ctx), Allowed);
}

/// connect-policy.html: persistent sessions and last will through
/// `iot:ConnectAttributes` (multi-valued).
#[test]
fn connect_attributes() {
    let only_persistent_and_last_will = policies(&[r#"{
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": "*",
            "Condition": {
                "ForAllValues:StringEquals": {
                    "iot:ConnectAttributes": ["PersistentConnect", "LastWill"]
                }
            }
        }]
    }"#]);
    let no_persistent = policies(&[r#"{
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["iot:Connect"],
                "Resource": "*",
                "Condition": {
                    "ForAnyValue:StringEquals": {"iot:ConnectAttributes": ["PersistentConnect"]}
                }
            }
        ]
    }"#]);
    let defaults_only = policies(&[r#"{
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"iot:ConnectAttributes": []}}
        }]
    }"#]);
    let client = format!("{ARN}client/c");
    let attrs = |values: Vec<&'static str>| Lists(vec![("iot:ConnectAttributes", values)]);
    let check = |p: &[Policy], ctx: &Lists| evaluate(p, "iot:Connect", &client, ctx);

    assert_eq!(
        check(
            &only_persistent_and_last_will,
            &attrs(vec!["PersistentConnect"])
        ),
        Allowed
    );
    assert_eq!(
        check(
            &only_persistent_and_last_will,
            &attrs(vec!["LastWill", "PersistentConnect"])
        ),
        Allowed
    );
    assert_eq!(
        check(
            &only_persistent_and_last_will,
            &attrs(vec!["LastWill", "NewFeature"])
        ),
        ImplicitDeny
    );
    assert_eq!(check(&no_persistent, &attrs(vec!["LastWill"])), Allowed);
    assert_eq!(
        check(
            &no_persistent,
            &attrs(vec!["LastWill", "PersistentConnect"])
        ),
        ExplicitDeny
    );
    assert_eq!(check(&defaults_only, &attrs(vec![])), Allowed);
    assert_eq!(
        check(&defaults_only, &attrs(vec!["LastWill"])),
        ImplicitDeny
    );
}

#[test]
fn decide_reports_one_policy() {
    use shoal_policy::Effect;
    let p = policies(&[ALL_BUT_BAR]).remove(0);
    let ctx = MapContext::new().with(CLIENT, "client1");
    let topic = |t: &str| format!("{ARN}topic/{t}");
    assert_eq!(
        p.decide("iot:Publish", &topic("client1/foo"), &ctx),
        Some(Effect::Allow)
    );
    assert_eq!(
        p.decide("iot:Publish", &topic("client1/bar"), &ctx),
        Some(Effect::Deny)
    );
    assert_eq!(p.decide("iot:Publish", &topic("client2/foo"), &ctx), None);
    assert_eq!(p.decide("iot:Receive", &topic("client1/foo"), &ctx), None);
    assert_eq!(p.statement_count(), 3);
}
