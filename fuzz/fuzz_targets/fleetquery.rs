//! Feeds arbitrary text to the fleet-indexing query parser. Beyond not panicking (nor
//! overflowing the stack: nesting is bounded), what it must guarantee: an error points inside
//! the query, and a parsed query stays within AWS's twelve terms.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match shoal_fleetquery::parse(text) {
        Ok(q) => {
            assert!(q.term_count() <= shoal_fleetquery::MAX_TERMS);
            // What prints must parse again, unless printing (fully parenthesised, with
            // escapes) pushed it past a limit the input was within: a query with a leading
            // wildcard longer than 100 characters, or groups nested deeper than allowed.
            let printed = q.to_string();
            if let Err(e) = shoal_fleetquery::parse(&printed) {
                let limit = shoal_fleetquery::MAX_LEADING_WILDCARD_QUERY;
                let longer = e.reason.contains("leading wildcard") && printed.chars().count() > limit;
                let deeper = e.reason.contains("nest deeper");
                assert!(longer || deeper, "{printed}: {e}");
            }
        }
        Err(e) => assert!(e.position <= text.chars().count(), "{e:?}"),
    }
});
