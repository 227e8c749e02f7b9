//! Running queries without stats: filter, fields, parse, sort, limit, dedup, display, and
//! merging runs over halves of the data.

use super::testing::{column, events, fields_of, run, run_split, Event};
use super::{parse, MAX_LIMIT};

fn json_events() -> Vec<Event> {
    events(&[
        r#"{"level":"INFO","status":200,"latency":12.5,"details":{"reason":"ok"},"tags":["a","b"]}"#,
        r#"{"level":"ERROR","status":500,"latency":300,"details":{"reason":"timeout"},"tags":["c"]}"#,
        r#"{"level":"WARN","status":404,"latency":7,"user agent":"curl/8"}"#,
        r#"{"level":"ERROR","status":503,"latency":1200.25,"details":{"reason":"overload"},"ok":false}"#,
        "plain text ERROR line without json",
        r#"{"level":"INFO","status":"201","latency":"3"}"#,
    ])
}

#[test]
fn console_query_over_json_messages() {
    let r = run(
        "fields @timestamp, @message, @logStream, @log, status | filter @message like /ERROR/ | sort @timestamp desc | limit 10000",
        &json_events(),
    );
    assert_eq!(r.records_scanned, 6);
    assert_eq!(r.records_matched, 3);
    assert_eq!(
        r.bytes_scanned,
        json_events()
            .iter()
            .map(|e| e.message.len() as u64)
            .sum::<u64>()
    );
    assert_eq!(r.rows.len(), 3);
    // Newest first; a row lacks the fields its event lacks; @ptr ends each row.
    assert_eq!(
        fields_of(&r.rows[0]),
        ["@timestamp", "@message", "@logStream", "@log", "@ptr"]
    );
    assert_eq!(
        fields_of(&r.rows[1]),
        [
            "@timestamp",
            "@message",
            "@logStream",
            "@log",
            "status",
            "@ptr"
        ]
    );
    assert_eq!(
        column(&r, "@timestamp"),
        [
            "2019-09-12 18:07:35.000",
            "2019-09-12 18:07:34.000",
            "2019-09-12 18:07:32.000"
        ]
    );
    assert_eq!(column(&r, "status"), ["", "503", "500"]);
    assert_eq!(column(&r, "@ptr"), ["p00004", "p00003", "p00001"]);
    assert_eq!(column(&r, "@log"), ["123456789012:app"; 3]);
    assert_eq!(
        column(&r, "@logStream"),
        ["stream-0", "stream-1", "stream-1"]
    );
}

#[test]
fn without_fields_rows_show_timestamp_and_message() {
    let r = run("filter status = 404", &json_events());
    assert_eq!(r.rows.len(), 1);
    assert_eq!(fields_of(&r.rows[0]), ["@timestamp", "@message", "@ptr"]);
}

#[test]
fn filters() {
    let ev = json_events();
    let ptrs = |q: &str| column(&run(q, &ev), "@ptr");
    assert_eq!(ptrs("filter status >= 500"), ["p00001", "p00003"]);
    assert_eq!(ptrs("filter status = \"201\""), ["p00005"]);
    // A numeric string compares as a number against a number.
    assert_eq!(ptrs("filter status > 200 and status < 300"), ["p00005"]);
    assert_eq!(
        ptrs("filter status != 200"),
        ["p00001", "p00002", "p00003", "p00005"]
    );
    assert_eq!(ptrs("filter latency > 100.5"), ["p00001", "p00003"]);
    assert_eq!(
        ptrs("filter level in [\"WARN\", \"INFO\"]"),
        ["p00000", "p00002", "p00005"]
    );
    assert_eq!(
        ptrs("filter level not in [\"WARN\", \"INFO\"]"),
        ["p00001", "p00003"]
    );
    assert_eq!(ptrs("filter status in [404, 500]"), ["p00001", "p00002"]);
    assert_eq!(ptrs("filter @message like \"timeout\""), ["p00001"]);
    assert_eq!(
        ptrs("filter @message =~ /ERR.R/ and not (status = 503)"),
        ["p00001", "p00004"]
    );
    assert_eq!(ptrs("filter @message like /(?i)error line/"), ["p00004"]);
    assert_eq!(
        ptrs("filter @message not like /ERROR/"),
        ["p00000", "p00002", "p00005"]
    );
    assert_eq!(
        ptrs("filter details.reason like /o/ or level = \"WARN\""),
        ["p00000", "p00001", "p00002", "p00003"]
    );
    assert_eq!(
        ptrs("filter ispresent(details.reason) and not isempty(tags.0)"),
        ["p00000", "p00001"]
    );
    assert_eq!(ptrs("filter tags.1 = \"b\""), ["p00000"]);
    assert_eq!(ptrs("filter `user agent` like \"curl\""), ["p00002"]);
    assert_eq!(ptrs("filter tolower(level) = \"warn\""), ["p00002"]);
    assert_eq!(
        ptrs("filter strcontains(@message, \"overload\")"),
        ["p00003"]
    );
    assert_eq!(
        ptrs("filter strlen(level) = 4 and status < 300"),
        ["p00000", "p00005"]
    );
    // JSON booleans read as 1 and 0.
    assert_eq!(ptrs("filter ok = 0"), ["p00003"]);
    assert_eq!(
        ptrs("filter @logStream = \"stream-1\" and @timestamp > 1568311653000"),
        ["p00003", "p00005"]
    );
    // A missing field satisfies no comparison, not even `!=`.
    assert_eq!(ptrs("filter missing != 1"), Vec::<String>::new());
    assert_eq!(ptrs("filter not ispresent(status)"), ["p00004"]);
}

#[test]
fn fields_display_and_computed_values() {
    let r = run(
        "fields level, latency * 2 as double, concat(level, \"-\", status) as tag, strlen(level) | filter ispresent(status) | limit 2",
        &json_events(),
    );
    assert_eq!(
        fields_of(&r.rows[0]),
        ["level", "double", "tag", "strlen(level)", "@ptr"]
    );
    assert_eq!(column(&r, "double"), ["25", "600"]);
    assert_eq!(column(&r, "tag"), ["INFO-200", "ERROR-500"]);
    assert_eq!(column(&r, "strlen(level)"), ["4", "5"]);
    // `display` shows only its fields; the last one wins.
    let r = run(
        "fields level, status | display status | filter status = 404 | display level, status + 1 as next",
        &json_events(),
    );
    assert_eq!(
        r.rows,
        vec![vec![
            ("level".to_string(), "WARN".to_string()),
            ("next".to_string(), "405".to_string()),
            ("@ptr".to_string(), "p00002".to_string()),
        ]]
    );
    // Fields from several `fields` commands add up.
    let r = run("fields level | fields status | limit 1", &json_events());
    assert_eq!(fields_of(&r.rows[0]), ["level", "status", "@ptr"]);
    let r = run(
        "fields @ingestionTime, fromMillis(0) as epoch | limit 1",
        &json_events(),
    );
    assert_eq!(column(&r, "@ingestionTime"), ["2019-09-12 18:07:32.000"]);
    assert_eq!(column(&r, "epoch"), ["1970-01-01 00:00:00.000"]);
}

#[test]
fn aliases_are_visible_to_later_commands_only() {
    let ev = json_events();
    let r = run(
        "fields status as level | filter level = 404 | display level",
        &ev,
    );
    assert_eq!(column(&r, "level"), ["404"]);
    // Before the alias, `level` is still the JSON field.
    let r = run(
        "filter level = \"WARN\" | fields status as level | display level",
        &ev,
    );
    assert_eq!(column(&r, "level"), ["404"]);
}

#[test]
fn parse_glob_and_regex() {
    let ev = events(&[
        "2019-09-12 [ERROR] disk full",
        "2019-09-12 [INFO] started",
        "no brackets here",
        "user=ann, method:GET, latency := 12",
    ]);
    let r = run(
        "parse @message \"* [*] *\" as day, level, text | filter level in [\"ERROR\", \"INFO\"] | display text, level",
        &ev,
    );
    assert_eq!(column(&r, "text"), ["disk full", "started"]);
    assert_eq!(column(&r, "level"), ["ERROR", "INFO"]);
    // A record the pattern misses stays, without the fields.
    let r = run(
        "parse @message \"[*]\" as level | display level, @message",
        &ev,
    );
    assert_eq!(r.rows.len(), 4);
    assert_eq!(column(&r, "level"), ["ERROR", "INFO", "", ""]);
    let r = run(
        "parse @message /user=(?<user>\\w+), method:(?<method>\\w+), latency := (?<latency>\\d+)/ | filter latency > 10 | display user, method, latency * 1000 as us",
        &ev,
    );
    assert_eq!(r.rows.len(), 1);
    assert_eq!(column(&r, "user"), ["ann"]);
    assert_eq!(column(&r, "method"), ["GET"]);
    assert_eq!(column(&r, "us"), ["12000"]);
    // Parsing a computed or JSON field.
    let r = run(
        "fields toupper(@message) as up | parse up \"[*]\" as lvl | filter ispresent(lvl) | display lvl",
        &ev,
    );
    assert_eq!(column(&r, "lvl"), ["ERROR", "INFO"]);
}

#[test]
fn sort_and_limit() {
    let ev = json_events();
    let r = run(
        "fields latency | filter ispresent(latency) | sort latency desc | limit 3",
        &ev,
    );
    assert_eq!(column(&r, "latency"), ["1200.25", "300", "12.5"]);
    let r = run("sort level, latency desc | display level, latency", &ev);
    assert_eq!(
        column(&r, "level"),
        ["ERROR", "ERROR", "INFO", "INFO", "WARN", ""]
    );
    assert_eq!(
        column(&r, "latency"),
        ["1200.25", "300", "12.5", "3", "7", ""]
    );
    // Missing values sort last in both directions.
    let r = run("sort status asc | display status", &ev);
    assert_eq!(
        column(&r, "status"),
        ["200", "201", "404", "500", "503", ""]
    );
    // `limit` without `sort` keeps the first records, in scan order.
    let r = run("fields status | limit 2", &ev);
    assert_eq!(column(&r, "@ptr"), ["p00000", "p00001"]);
    // `limit` before `sort` sorts only what the limit kept.
    let r = run("limit 3 | sort status desc | display status", &ev);
    assert_eq!(column(&r, "status"), ["500", "404", "200"]);
    // A filter after a limit filters what the limit kept.
    let r = run(
        "sort latency desc | limit 3 | filter status < 500 | display status",
        &ev,
    );
    assert_eq!(column(&r, "status"), ["200"]);
    // Two sorts: the later one leads.
    let r = run(
        "sort latency | sort level desc | display level, latency",
        &ev,
    );
    assert_eq!(column(&r, "latency")[..3], ["7", "3", "12.5"]);
}

#[test]
fn stops_early_only_without_sort() {
    let ev = events(&["a"; 20]);
    let q = parse("fields @message | limit 5").unwrap();
    let mut run = q.new_run();
    let mut pushed = 0;
    for e in &ev {
        if !run.wants_more() {
            break;
        }
        run.push(&e.record());
        pushed += 1;
    }
    assert_eq!(pushed, 5);
    assert_eq!(run.finish().rows.len(), 5);
    let q = parse("sort @timestamp desc | limit 5").unwrap();
    let mut run = q.new_run();
    ev.iter().for_each(|e| run.push(&e.record()));
    assert!(run.wants_more());
}

#[test]
fn default_limit_is_ten_thousand() {
    let ev = events(&vec!["x"; MAX_LIMIT as usize + 5]);
    let r = run("fields @message", &ev);
    assert_eq!(r.rows.len(), MAX_LIMIT as usize);
    let r = run("sort @timestamp desc", &ev);
    assert_eq!(r.rows.len(), MAX_LIMIT as usize);
    assert_eq!(column(&r, "@ptr")[0], format!("p{:05}", MAX_LIMIT + 4));
}

#[test]
fn dedup() {
    let ev = json_events();
    // Without sort: the first record of each level.
    let r = run("dedup level | display level", &ev);
    assert_eq!(column(&r, "level"), ["INFO", "ERROR", "WARN", ""]);
    assert_eq!(column(&r, "@ptr"), ["p00000", "p00001", "p00002", "p00004"]);
    // After sort: the best record of each level, in sort order.
    let r = run(
        "filter ispresent(level) | sort latency desc | dedup level | display level, latency",
        &ev,
    );
    assert_eq!(column(&r, "level"), ["ERROR", "INFO", "WARN"]);
    assert_eq!(column(&r, "latency"), ["1200.25", "12.5", "7"]);
    let r = run(
        "filter ispresent(level) | sort latency desc | dedup level | limit 2",
        &ev,
    );
    assert_eq!(r.rows.len(), 2);
}

#[test]
fn merged_halves_answer_as_one_run() {
    let mut msgs = Vec::new();
    for i in 0..200 {
        msgs.push(format!(
            r#"{{"n":{},"k":"{}","err":{}}}"#,
            (i * 37) % 101,
            i % 7,
            i % 3 == 0
        ));
    }
    let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
    let mut ev = events(&refs);
    // Equal timestamps exercise the @ptr tie-break.
    for e in ev.iter_mut() {
        e.timestamp -= e.timestamp % 5000;
    }
    for q in [
        "fields n, k | filter err = 1 | sort @timestamp desc | limit 25",
        "fields n | sort n, k desc | limit 40",
        "fields n | limit 30",
        "sort n desc | dedup k | display k, n",
        "dedup k | display k",
        "fields n | sort n | limit 10 | sort k | filter n > 3",
    ] {
        let whole = run(q, &ev);
        for at in [0, 1, 77, 199, 200] {
            assert_eq!(run_split(q, &ev, at), whole, "{q} split at {at}");
        }
    }
}

#[test]
fn runs_can_move_between_threads() {
    fn is_send<T: Send>() {}
    is_send::<super::Run>();
    is_send::<super::Query>();
    let q = parse("filter @message like /b/ | sort @timestamp desc | limit 3").unwrap();
    let ev = events(&["ab", "b", "c", "bb", "abc", "x"]);
    let (a, b) = ev.split_at(3);
    let (ra, rb) = std::thread::scope(|s| {
        let ja = s.spawn(|| {
            let mut r = q.new_run();
            a.iter().for_each(|e| r.push(&e.record()));
            r
        });
        let jb = s.spawn(|| {
            let mut r = q.new_run();
            b.iter().for_each(|e| r.push(&e.record()));
            r
        });
        (ja.join().unwrap(), jb.join().unwrap())
    });
    let mut ra = ra;
    ra.merge(rb);
    assert_eq!(column(&ra.finish(), "@message"), ["abc", "bb", "b"]);
}

#[test]
fn top_n_matches_a_full_sort() {
    // Keys in a scrambled order with repeats; cuts happen at 2n candidates.
    let msgs: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"n":{}}}"#, (i * 7919) % 97))
        .collect();
    let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
    let ev = events(&refs);
    for n in [1, 3, 10, 96, 250, 600] {
        let r = run(&format!("sort n desc | limit {n} | display n"), &ev);
        let mut expected: Vec<(i64, &str)> = ev
            .iter()
            .enumerate()
            .map(|(i, e)| (-((i as i64 * 7919) % 97), e.ptr.as_str()))
            .collect();
        expected.sort();
        expected.truncate(n);
        let want: Vec<String> = expected.iter().map(|(k, _)| (-k).to_string()).collect();
        let want_ptrs: Vec<&str> = expected.iter().map(|(_, p)| *p).collect();
        assert_eq!(column(&r, "n"), want, "limit {n}");
        assert_eq!(column(&r, "@ptr"), want_ptrs, "limit {n}");
    }
}
