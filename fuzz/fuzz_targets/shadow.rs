//! Feeds arbitrary bytes to the device-shadow update parser and applies what it accepts to an
//! empty and to an existing shadow: neither may panic, and an applied update keeps AWS's size
//! and depth limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_domain::shadow::{update, UpdateRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = UpdateRequest::parse(data) else {
        return;
    };
    let Ok(first) = update(None, &req, 1_000) else {
        return;
    };
    let _ = update(Some(first.shadow.clone()), &req, 2_000);
});
