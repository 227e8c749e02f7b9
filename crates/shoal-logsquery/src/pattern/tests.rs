//! Table tests from the examples of AWS's "Filter pattern syntax" pages (each example event
//! with the patterns the page says match it or not), error positions, and a property test
//! that no input makes parsing or matching panic.

use proptest::prelude::*;

use super::*;

#[track_caller]
fn check(pattern: &str, cases: &[(&str, bool)]) {
    let p = parse(pattern).unwrap_or_else(|e| panic!("{pattern:?}: {e}"));
    for (message, want) in cases {
        assert_eq!(p.matches(message), *want, "{pattern:?} on {message:?}");
    }
}

/// Each row: a pattern and whether it matches each of `events`.
#[track_caller]
fn table(events: &[&str], rows: &[(&str, &[bool])]) {
    for (pattern, wants) in rows {
        let cases: Vec<(&str, bool)> = events.iter().copied().zip(wants.iter().copied()).collect();
        check(pattern, &cases);
    }
}

#[track_caller]
fn error_at(pattern: &str, position: usize) {
    let e = parse(pattern).expect_err(pattern);
    assert_eq!(e.position, position, "{pattern:?}: {e}");
}

// Unstructured events of "Using filter patterns to match terms in unstructured log events".
const E400: &str = "[ERROR 400] BAD REQUEST";
const E401: &str = "[ERROR 401] UNAUTHORIZED REQUEST";
const E419: &str = "[ERROR 419] MISSING ARGUMENTS";
const E420: &str = "[ERROR 420] INVALID ARGUMENTS";
const E500: &str = "[ERROR 500] INTERNAL SERVER ERROR";

#[test]
fn terms_follow_the_unstructured_examples() {
    table(
        &[E400, E401, E419, E420],
        &[
            ("ERROR", &[true, true, true, true]),
            ("ERROR ARGUMENTS", &[false, false, true, true]),
            ("?ERROR ?ARGUMENTS", &[true, true, true, true]),
            ("ERROR -ARGUMENTS", &[true, true, false, false]),
        ],
    );
    check("?ERROR ?ARGUMENTS", &[("[INFO 200] OK", false)]);
    check("\"INTERNAL SERVER ERROR\"", &[(E500, true), (E400, false)]);
}

#[test]
fn terms_are_case_sensitive_substrings() {
    let fatal = "[ERROR] A fatal exception has occurred";
    let exiting = "Exiting with ERRORCODE: -1";
    check("ERROR", &[(fatal, true), (exiting, true)]);
    check("ERROR -Exiting", &[(fatal, true), (exiting, false)]);
    check(
        "ERROR Exception",
        &[
            ("[ERROR] Caught IllegalArgumentException", true),
            ("[ERROR] Unhandled Exception", true),
            (fatal, false),
        ],
    );
    check(
        "Failed to process the request",
        &[
            ("[WARN] Failed to process the request", true),
            (
                "[ERROR] Unable to continue: Failed to process the request",
                true,
            ),
            ("[WARN] failed to process the request", false),
        ],
    );
}

// The three events of "OR pattern matching".
const BOTH: &str = "ERROR WARN message";
const ERROR_ONLY: &str = "ERROR message";
const WARN_ONLY: &str = "WARN message";

#[test]
fn alternatives_and_exclusions() {
    table(
        &[BOTH, ERROR_ONLY, WARN_ONLY],
        &[
            ("ERROR", &[true, true, false]),
            ("?ERROR ?WARN", &[true, true, true]),
            ("ERROR WARN", &[true, false, false]),
            ("ERROR -WARN", &[false, true, false]),
            // An exclusion alone keeps every other event.
            ("-ERROR", &[false, false, true]),
        ],
    );
    // Term groups as the CDK's anyTermGroup writes them.
    check(
        r#"?"ERROR" "MainThread" ?"WARN" "Deadlock""#,
        &[
            ("ERROR in MainThread", true),
            ("ERROR elsewhere", false),
            ("WARN Deadlock found", true),
            ("WARN only", false),
        ],
    );
    check(
        r#""say \"hi\"""#,
        &[(r#"he said say "hi""#, true), ("say hi", false)],
    );
    check(
        r#"-"Connect failed""#,
        &[("Connect failed", false), ("Connected", true)],
    );
}

#[test]
fn match_everything() {
    for p in ["", "   ", "\" \"", "\"\""] {
        let pattern = parse(p).unwrap();
        assert!(pattern.matches_all(), "{p:?}");
        assert!(pattern.matches("anything"));
        assert!(pattern.matches(""));
    }
    assert!(!parse("ERROR").unwrap().matches_all());
    assert!(!parse("{ $.a = * }").unwrap().matches_all());
    assert!("ERROR".parse::<Pattern>().unwrap().matches(E400));
}

#[test]
fn space_delimited_or_and_exclusion() {
    table(
        &[BOTH, ERROR_ONLY, WARN_ONLY],
        &[
            ("[w1=ERROR, w2]", &[false, true, false]),
            ("[w1=ERROR || w1=WARN, w2]", &[false, true, true]),
        ],
    );
    check(
        "[w1=ERROR || W1=WARNING, w2]",
        &[
            ("ERROR message", true),
            ("WARNING message", true),
            ("INFO message", false),
        ],
    );
    check(
        "[w1!=ERROR && w1!=WARNING, w2]",
        &[
            ("ERROR message", false),
            ("WARNING message", false),
            ("INFO message", true),
            (WARN_ONLY, true),
        ],
    );
}

const APACHE: &str =
    r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;

#[test]
fn space_delimited_apache_example() {
    for p in [
        "[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        "[..., request =*.html*, status_code = 4*, bytes]",
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
        "[ip, server, username, timestamp, request, status_code, bytes > 1000]",
        "[ip, user, ...]",
        "[..., status_code, bytes]",
        "[ip, user, ..., status_code, bytes]",
        "[..., request=*.html*, status_code=4*,]",
        "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]",
        "[ip, user, username, timestamp = *2000*, request = \"GET /index.html HTTP/1.0\", status_code, bytes]",
        "[..., request = %GET /[a-z]+\\.html%, status_code, bytes]",
        "[...]",
    ] {
        check(p, &[(APACHE, true)]);
    }
    for p in [
        "[ip, user, username, timestamp, request, status_code = 200, bytes]",
        "[ip, user, username, timestamp, request, status_code, bytes > 2000]",
        "[ip, user, username, timestamp, request, status_code]",
        "[ip, user, username, timestamp, request = *.gif*, status_code, bytes]",
        "[..., bytes = 1534, status_code = 404]",
    ] {
        check(p, &[(APACHE, false)]);
    }
}

#[test]
fn space_delimited_apache_lines() {
    let lines = [
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#,
        r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324"#,
        r#"127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355"#,
    ];
    table(
        &lines,
        &[
            (
                "[ip, user, username, timestamp, request, status_code = 200, bytes]",
                &[true, false, true],
            ),
            (
                "[..., status_code = 5*, bytes > 5000]",
                &[false, true, false],
            ),
            (
                "[ip, ..., status_code, bytes >= 4355]",
                &[false, true, true],
            ),
            (
                "[ip, ..., status_code, ..., bytes < 2000]",
                &[true, false, false],
            ),
            // Empty entries are anonymous fields.
            ("[ip, , username, ...]", &[true, true, true]),
            ("[ip, ..., status_code = 500,]", &[false, true, false]),
        ],
    );
    check(
        "[a, , b]",
        &[("x y z", true), ("x y", false), ("x y z w", false)],
    );
}

// The JSON event of "Using filter patterns to match terms in JSON log events".
const TRAIL: &str = r#"{"eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111",
  "arrayKey": ["value", "another value"],
  "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
  "SomeObject": null, "ThisFlag": true}"#;

#[test]
fn json_examples_on_the_trail_event() {
    for p in [
        r#"{ $.eventType = "UpdateTrail" }"#,
        "{ $.sourceIPAddress != 123.123.* }",
        r#"{ $.arrayKey[0] = "value" }"#,
        "{ $.objectList[1].id = 2 }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        "{ $.ThisFlag IS TRUE }",
        r#"{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }"#,
        "{ $.eventType = Update* }",
        "{ $.eventType = *Trail }",
        r#"{ $.eventType = "*date*" }"#,
        "{$.eventType=UpdateTrail}",
        "{ $.eventType != %^Create% }",
    ] {
        check(p, &[(TRAIL, true)]);
    }
    for p in [
        "{ $.ThisFlag IS FALSE }",
        "{ $.SomeObject NOT EXISTS }",
        "{ $.eventType IS NULL }",
        "{ $.sourceIPAddress = 123.123.* }",
        r#"{ $.arrayKey[2] = "value" }"#,
        "{ $.objectList[1].id = 1 }",
        "{ $.objectList.id = 1 }",
        // A `*` inside a value is a literal asterisk.
        "{ $.eventType = Upd*ail }",
        // A selector on an array or an object matches with neither = nor !=.
        r#"{ $.arrayKey = "value" }"#,
        r#"{ $.arrayKey != "value" }"#,
        "{ $.objectList[0] != 1 }",
        "{ $.eventType = updatetrail }",
    ] {
        check(p, &[(TRAIL, false)]);
    }
}

#[test]
fn json_or_example() {
    let (bar, baz) = (r#"{"foo": "bar"}"#, r#"{"foo": "baz"}"#);
    check("{$.foo = bar}", &[(bar, true), (baz, false)]);
    check("{$.foo = baz }", &[(bar, false), (baz, true)]);
    check("{$.foo = bar || $.foo = baz }", &[(bar, true), (baz, true)]);
}

const USERS: &str = r#"{"user": {"id": 1, "email": "John.Stiles@example.com"},
  "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
  "actions": ["GET", "PUT", "DELETE"],
  "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]}"#;

#[test]
fn json_compound_examples() {
    for p in [
        r#"{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }"#,
        r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }"#,
        r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nonmatch" }"#,
        "{ $.coordinates[1][2] = 6 && $.actions[2] = DELETE }",
        "{ ((($.user.id = 1))) }",
    ] {
        check(p, &[(USERS, true)]);
    }
    for p in [
        r#"{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }"#,
        r#"{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }"#,
        r#"{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") && $.actions[2] = "nonmatch" }"#,
    ] {
        check(p, &[(USERS, false)]);
    }
    let array = r#"{"users": [1, 2, 3]}"#;
    check("{$.users = 1}", &[(array, false)]);
    check("{$.users != 1}", &[(array, false)]);
}

#[test]
fn json_numeric_comparisons() {
    let event = r#"{"latency": 750, "numbers": [5, 0.0001], "errorCode": 400,
      "processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}], "bandwidth": 80,
      "refreshRate": 60, "responseTime": 5, "number": [0.001], "code": "400"}"#;
    for (p, want) in [
        ("{ $.latency >= 500 }", true),
        ("{ $.numbers[0] < 10e3 }", true),
        ("{ $.numbers[1] < 10e-3 }", true),
        ("{ $.processes[4].averageRuntime <= 55.5 }", true),
        ("{ $.errorCode = 400 }", true),
        ("{ $.errorCode != 500 }", true),
        ("{ $.latency > +1000 }", false),
        ("{ $.bandwidth > 75 }", true),
        ("{ $.latency < 50 }", false),
        ("{ $.refreshRate >= 60 }", true),
        ("{ $.responseTime <= 5 }", true),
        ("{ $.number[0] = 1e-3 }", true),
        ("{ $.number[0] != 1e+3 }", true),
        ("{ $.latency = * }", true),
        ("{ $.missing = * }", false),
        ("{ $.code = 400 }", true),
        ("{ $.code > 399 }", true),
        ("{ $.errorCode = \"400\" }", true),
    ] {
        check(p, &[(event, want)]);
    }
}

#[test]
fn json_patterns_skip_events_that_are_not_json_objects() {
    let p = "{ $.SomeOtherObject NOT EXISTS }";
    check(
        p,
        &[
            ("plain text", false),
            ("[1, 2]", false),
            ("{not json", false),
            ("42", false),
        ],
    );
    check(p, &[("  {\"a\": 1}  ", true)]);
}

#[test]
fn json_regex_values() {
    let event = r#"{"message": "listen tcp :80: bind: address already in use"}"#;
    check(
        "{ $.message = %bind: address already in use% }",
        &[(event, true)],
    );
    check("{ $.message != %bind% }", &[(event, false)]);
    check(
        "{ $.message = %^listen% && $.message = %use$% }",
        &[(event, true)],
    );
}

#[test]
fn regex_examples() {
    check(
        "%AUTHORIZED%",
        &[
            (E401, true),
            ("[SUCCESS 200] AUTHORIZED REQUEST", true),
            (E400, false),
        ],
    );
    check(
        "%^[hc]at%",
        &[("hat trick", true), ("cat", true), ("a cat", false)],
    );
    check("%[hc]at$%", &[("the cat", true), ("cats", false)]);
    check(
        "%colou?r%",
        &[("color", true), ("colour", true), ("colouur", false)],
    );
    check("%a{3,5}%", &[("aaa", true), ("aa", false)]);
    check("%ab*c%", &[("ac", true), ("abbc", true)]);
    check("%ab+c%", &[("ac", false), ("abc", true)]);
    check("%.at%", &[("bat", true), ("at", false)]);
    check(
        "%10\\.10\\.0\\.1%",
        &[("from 10.10.0.1", true), ("10a10b0c1", false)],
    );
    check(
        "%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%",
        &[
            ("client 192.168.0.1 connected", true),
            ("no address", false),
        ],
    );
    check(
        "%[Ee]rror|[Ff]ail%",
        &[("error", true), ("Failed", true), ("ok", false)],
    );
    check(" %ERROR% ", &[("ERROR", true)]);
}

#[test]
fn error_positions() {
    error_at("foo.bar", 3);
    error_at("ERROR [x]", 6);
    error_at("ERROR\"x\"", 5);
    error_at("\"unterminated", 0);
    error_at("? ERROR", 1);
    error_at("\"é\" x.y", 5);
    error_at("{ $.a = }", 8);
    error_at("{ $.a IS NOT NULL }", 9);
    error_at("{ $.a EXISTS }", 6);
    error_at("{ $.a > abc }", 8);
    error_at("{ $.a > \"5\" }", 8);
    error_at("{ $.a > %5% }", 8);
    error_at("{ $[0] = 1 }", 3);
    error_at("{ $ = 1 }", 3);
    error_at("{ $.a = 1 } x", 12);
    error_at("{ $.a = 1", 0);
    error_at("{ $.a = @x }", 8);
    error_at("{ $.a = 1 && }", 13);
    error_at("{ ($.a = 1 }", 11);
    error_at("{ $.a == 1 }", 7);
    error_at("{ }", 2);
    error_at("%%", 0);
    error_at("%something!%", 10);
    error_at("%(a)%", 1);
    error_at("%é%", 1);
    error_at("%abc", 0);
    error_at("%a% b", 4);
    error_at("%a{2}{3}{4}{5}{6}{7}{8}{9}{10}%", 1);
    error_at("[]", 1);
    error_at("[a b]", 3);
    error_at("[a, b", 0);
    error_at("[a = %x%, b = %y%, c = %z%]", 23);
    error_at("{ $.a = %x% && $.b = %y% && $.c = %z% }", 34);
    let message = parse("foo.bar").unwrap_err().to_string();
    assert!(message.contains("position 4"), "{message}");
}

#[test]
fn bounds() {
    assert!(parse(&"a".repeat(MAX_PATTERN_CHARS)).is_ok());
    error_at(&"a".repeat(MAX_PATTERN_CHARS + 1), MAX_PATTERN_CHARS);
    error_at(&"é".repeat(MAX_PATTERN_CHARS + 1), MAX_PATTERN_CHARS);
    let nested = |n: usize| format!("{{ {}$.a = 1{} }}", "(".repeat(n), ")".repeat(n));
    check(&nested(MAX_NESTING), &[(r#"{"a": 1}"#, true)]);
    error_at(&nested(MAX_NESTING + 1), 2 + MAX_NESTING);
}

/// Events worth throwing random patterns at: plain text, JSON, bracketed and quoted fields.
const EVENTS: [&str; 5] = [
    "",
    "ERROR WARN message",
    APACHE,
    TRAIL,
    r#"{"a": [1, {"b": null}], "c": "x y", "d": -2.5e3}"#,
];

fn exercise(pattern: &str, message: &str) -> Result<(), TestCaseError> {
    match parse(pattern) {
        Ok(p) => {
            for event in EVENTS.iter().copied().chain([message]) {
                let _ = p.matches(event);
            }
        }
        Err(e) => prop_assert!(e.position <= pattern.chars().count(), "{:?}", e),
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(pattern in "\\PC{0,80}", message in "\\PC{0,40}") {
        exercise(&pattern, &message)?;
    }

    #[test]
    fn pattern_like_text_never_panics(
        pattern in r#"[{}\[\]()$.abc019 =!<>&|*%?",\\-]{0,60}"#,
        message in r#"[{}\[\]"abc019 :,.-]{0,40}"#,
    ) {
        exercise(&pattern, &message)?;
    }

    #[test]
    fn json_like_patterns_never_panic(
        pattern in r#"\{ ?(\(?\$\.[ab](\[[0-9]\])?(\.[ab])? ?(=|!=|<|>=|IS|NOT) ?("[a*]"|[0-9]|%a%|\*|NULL|TRUE|EXISTS)\)? ?(&&|\|\|)? ?){1,4}\}"#,
    ) {
        exercise(&pattern, r#"{"a": [1, {"b": "a"}], "b": 2}"#)?;
    }
}
