//! Evaluation throughput for one device: 3 policies × 10 statements with
//! policy variables, checked against a mix of allowed and denied publish,
//! subscribe and receive requests, on one thread.
//!
//! Run with `cargo run --release -p shoal-policy --example bench [millions]`.
//! `tests/allocations.rs` reuses the fleet defined here.

use std::hint::black_box;
use std::time::Instant;

use shoal_policy::{evaluate, parse, Context, Decision, MapContext, Policy};

pub const ARN: &str = "arn:aws:iot:us-east-1:123456789012:";

/// The device's own policy: its client ID, telemetry, shadow, commands and
/// jobs, all under its thing name.
const DEVICE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/telemetry/*"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
    {"Effect": "Allow", "Action": "iot:Receive", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/${iot:Connection.Thing.ThingName}/commands/*"},
    {"Effect": "Allow", "Action": "iot:Receive", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/commands/*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*"},
    {"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/telemetry/forbidden"}
  ]
}"#;

/// The fleet's policy: topics by attribute and thing type, shadow access,
/// an attached-thing condition, admin topics denied.
const FLEET: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/fleet/${iot:Connection.Thing.Attributes[fleet]}/status"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/fleet/${iot:Connection.Thing.Attributes[fleet]}/broadcast/*"},
    {"Effect": "Allow", "Action": "iot:Receive", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/fleet/${iot:Connection.Thing.Attributes[fleet]}/broadcast/*"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/type/${iot:Connection.Thing.ThingTypeName}/${iot:Connection.Thing.ThingName}/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/type/${iot:Connection.Thing.ThingTypeName}/all"},
    {"Effect": "Allow", "Action": "iot:Receive", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/type/${iot:Connection.Thing.ThingTypeName}/all"},
    {"Effect": "Allow", "Action": ["iot:GetThingShadow", "iot:UpdateThingShadow"], "Resource": "arn:aws:iot:us-east-1:123456789012:thing/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/dt/${iot:ClientId}/*", "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
    {"Effect": "Deny", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/fleet/*/admin/*"},
    {"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/fleet/*/admin/*"}
  ]
}"#;

/// The operators' policy: shared broadcast topics, logs and metrics, and a
/// network condition on everything under the thing name.
const OPS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/logs/${iot:Connection.Thing.ThingName}/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/broadcast/*"},
    {"Effect": "Allow", "Action": "iot:Receive", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/broadcast/*"},
    {"Effect": "Deny", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/broadcast/internal/*"},
    {"Effect": "Deny", "Action": "iot:Receive", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/broadcast/internal/*"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/metrics/${iot:Connection.Thing.ThingName}/??/*"},
    {"Effect": "Allow", "Action": "iot:RetainPublish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/state"},
    {"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/*/shadow/delete"},
    {"Effect": "Allow", "Action": ["iot:DescribeJobExecution", "iot:GetPendingJobExecutions", "iot:UpdateJobExecution"], "Resource": "arn:aws:iot:us-east-1:123456789012:thing/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
  ]
}"#;

/// The three policies attached to the device's certificate.
pub fn fleet_policies() -> Vec<Policy> {
    [DEVICE, FLEET, OPS]
        .iter()
        .map(|d| parse(d).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// What a connection knows about its device, answered without allocating,
/// as the MQTT broker's context will.
pub struct DeviceContext {
    pub client_id: String,
    pub thing_name: String,
    pub thing_type: String,
    pub fleet: String,
    pub source_ip: String,
}

impl Context for DeviceContext {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "iot:ClientId" => Some(&self.client_id),
            "iot:Connection.Thing.ThingName" => Some(&self.thing_name),
            "iot:Connection.Thing.ThingTypeName" => Some(&self.thing_type),
            "iot:Connection.Thing.Attributes[fleet]" => Some(&self.fleet),
            "iot:Connection.Thing.IsAttached" => Some("true"),
            "aws:SourceIp" => Some(&self.source_ip),
            _ => None,
        }
    }
}

pub fn device() -> DeviceContext {
    DeviceContext {
        client_id: "lamp-0042".into(),
        thing_name: "lamp-0042".into(),
        thing_type: "lamp".into(),
        fleet: "north".into(),
        source_ip: "10.1.2.3".into(),
    }
}

/// The same device as a map.
pub fn device_map() -> MapContext {
    MapContext::new()
        .with("iot:ClientId", "lamp-0042")
        .with("iot:Connection.Thing.ThingName", "lamp-0042")
        .with("iot:Connection.Thing.ThingTypeName", "lamp")
        .with("iot:Connection.Thing.Attributes[fleet]", "north")
        .with("iot:Connection.Thing.IsAttached", "true")
        .with("aws:SourceIp", "10.1.2.3")
}

/// The request mix: action, resource without the ARN prefix, expected
/// decision.
pub const REQUESTS: &[(&str, &str, Decision)] = &[
    (
        "iot:Publish",
        "topic/lamp-0042/telemetry/temperature",
        Decision::Allowed,
    ),
    (
        "iot:Publish",
        "topic/lamp-0042/telemetry/forbidden",
        Decision::ExplicitDeny,
    ),
    (
        "iot:Publish",
        "topic/lamp-0043/telemetry/temperature",
        Decision::ImplicitDeny,
    ),
    ("iot:Publish", "topic/fleet/north/status", Decision::Allowed),
    (
        "iot:Publish",
        "topic/fleet/north/admin/reset",
        Decision::ExplicitDeny,
    ),
    (
        "iot:Publish",
        "topic/$aws/things/lamp-0042/shadow/update",
        Decision::Allowed,
    ),
    (
        "iot:Publish",
        "topic/$aws/things/lamp-0042/shadow/delete",
        Decision::ExplicitDeny,
    ),
    (
        "iot:Publish",
        "topic/metrics/lamp-0042/v2/cpu",
        Decision::Allowed,
    ),
    (
        "iot:Subscribe",
        "topicfilter/broadcast/news",
        Decision::Allowed,
    ),
    (
        "iot:Subscribe",
        "topicfilter/broadcast/internal/keys",
        Decision::ExplicitDeny,
    ),
    (
        "iot:Subscribe",
        "topicfilter/lamp-0043/commands/#",
        Decision::ImplicitDeny,
    ),
    (
        "iot:Subscribe",
        "topicfilter/$aws/things/lamp-0042/shadow/update/accepted",
        Decision::Allowed,
    ),
    (
        "iot:Subscribe",
        "topicfilter/type/lamp/all",
        Decision::Allowed,
    ),
    (
        "iot:Receive",
        "topic/lamp-0042/commands/reboot",
        Decision::Allowed,
    ),
    (
        "iot:Receive",
        "topic/broadcast/internal/keys",
        Decision::ExplicitDeny,
    ),
    ("iot:Receive", "topic/other/thing", Decision::ImplicitDeny),
];

/// The requests with full ARNs.
pub fn requests() -> Vec<(&'static str, String, Decision)> {
    REQUESTS
        .iter()
        .map(|(action, resource, expected)| (*action, format!("{ARN}{resource}"), *expected))
        .collect()
}

fn run(name: &str, policies: &[Policy], ctx: &dyn Context, millions: u64) {
    let requests = requests();
    for (action, resource, expected) in &requests {
        let got = evaluate(policies, action, resource, ctx);
        assert_eq!(got, *expected, "{action} {resource}");
    }
    let total = millions * 1_000_000;
    let mut allowed = 0u64;
    let start = Instant::now();
    let mut i = 0;
    while i < total {
        for (action, resource, _) in &requests {
            let decision = evaluate(
                black_box(policies),
                black_box(action),
                black_box(resource),
                ctx,
            );
            allowed += u64::from(decision == Decision::Allowed);
        }
        i += requests.len() as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let evaluations = i as f64;
    println!(
        "{name}: {i} evaluations in {elapsed:.3} s = {:.0} evaluations/s ({:.0} ns each, {allowed} allowed)",
        evaluations / elapsed,
        elapsed * 1e9 / evaluations,
    );
}

#[allow(dead_code)]
fn main() {
    let millions = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let policies = fleet_policies();
    let statements: usize = policies.iter().map(Policy::statement_count).sum();
    println!(
        "{} policies, {statements} statements, {} requests in the mix",
        policies.len(),
        REQUESTS.len()
    );
    run("struct context", &policies, &device(), millions);
    run("MapContext", &policies, &device_map(), millions);
}
