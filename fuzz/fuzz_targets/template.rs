//! Feeds arbitrary text to the provisioning-template parser and evaluates what it accepts with
//! a device's usual parameters: neither may panic or run without bound (nesting, conditions and
//! `Fn::GetAtt` chains are capped).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_domain::provisioning::Template;
use shoal_domain::{AccountId, Partition, Region};
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = Template::parse(text) else {
        return;
    };
    let given = BTreeMap::from([
        ("ThingName".to_string(), "t-1".to_string()),
        ("SerialNumber".to_string(), "42".to_string()),
        ("CSR".to_string(), "csr".to_string()),
    ]);
    let system = BTreeMap::from([("AWS::IoT::Certificate::Id".to_string(), "ab".repeat(32))]);
    let _ = t.evaluate(&given, &system);
    let part = Partition::new(
        AccountId::parse("123456789012").expect("account"),
        Region::parse("us-east-1").expect("region"),
    );
    let _ = t.evaluate_in(&part, &given, &system);
});
