//! Feeds arbitrary text to the filter-pattern parser (FilterLogEvents' filterPattern) and
//! matches what parses against a JSON event, a space-delimited line and plain text: no panic,
//! and an error points inside the pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_logsquery::pattern;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match pattern::parse(text) {
        Ok(p) => {
            for m in [
                r#"{"logLevel":"ERROR","n":3,"a":{"b":[1,"x",null,true]}}"#,
                "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 2326",
                "",
            ] {
                let _ = p.matches(m);
            }
        }
        Err(e) => assert!(e.position <= text.chars().count(), "{e:?}"),
    }
});
