//! Feeds arbitrary text to the Logs Insights parser (StartQuery's queryString). Beyond not
//! panicking (nesting is bounded), an error points inside the query, and a parsed query runs
//! over a few records without panicking, and prints to text that parses to the same query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_logsquery::insights;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match insights::parse(text) {
        Ok(q) => {
            if let Ok(again) = insights::parse(&q.to_string()) {
                assert_eq!(again, q, "{q}");
            }
            let mut run = q.new_run();
            for (i, m) in [r#"{"logLevel":"ERROR","n":3,"a":{"b":[1,"x"]}}"#, "plain ERROR text", ""]
                .iter()
                .enumerate()
            {
                run.push(&insights::Record {
                    timestamp: i as i64 * 1000,
                    ingestion_time: 0,
                    message: m,
                    log_stream: "s",
                    log_group: "1:g",
                    ptr: "p",
                });
            }
            let _ = run.finish();
        }
        Err(e) => assert!(e.position <= text.chars().count(), "{e:?}"),
    }
});
