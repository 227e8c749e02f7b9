//! Feeds arbitrary text to the AWS IoT SQL parser (a rule's `sql`, from the API) and evaluates
//! what parses against a JSON message and a binary one: no panic, errors point inside the
//! statement, and what parses prints to text that parses to the same statement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_iotsql::{parse, Context, SqlVersion};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for version in [SqlVersion::V2015_10_08, SqlVersion::V2016_03_23] {
        match parse(text, version) {
            Ok(stmt) => {
                let again = parse(&stmt.to_string(), version).expect("printed SQL parses");
                assert_eq!(again, stmt);
                for payload in [&br#"{"a":{"b":[1,"x",null,true]},"t":21.5,"s":"hi"}"#[..], &[0u8, 159, 146, 150][..]] {
                    let ctx = Context::new("dt/plant/1", payload, 1_700_000_000_000);
                    let _ = stmt.evaluate(&ctx);
                }
            }
            Err(e) => assert!(e.position <= text.chars().count(), "{e:?}"),
        }
    }
});
