//! Feeds arbitrary text to the IoT policy parser, and evaluates what it accepts against a few
//! requests: neither may panic, whatever the wildcards, variables and conditions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_policy::{evaluate, parse, MapContext};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = parse(text) else {
        return;
    };
    let ctx = MapContext::new()
        .with("iot:ClientId", "dev-1")
        .with("iot:Connection.Thing.ThingName", "dev-1")
        .with("aws:SourceIp", "10.0.0.7")
        .with("aws:CurrentTime", "2026-01-01T00:00:00Z");
    for (action, resource) in [
        ("iot:Connect", "arn:aws:iot:us-east-1:123456789012:client/dev-1"),
        ("iot:Publish", "arn:aws:iot:us-east-1:123456789012:topic/a/b/c"),
        ("iot:Subscribe", "arn:aws:iot:us-east-1:123456789012:topicfilter/a/#"),
        ("iot:Receive", "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/x"),
    ] {
        let _ = evaluate([&policy], action, resource, &ctx);
    }
    let _ = policy.condition_keys().count();
});
