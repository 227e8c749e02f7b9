//! Parsing: AWS's documented queries parse, and malformed ones fail at the right place.

use super::{parse, BinOp, Command, Expr, LikePattern, Order, ParsePattern, MAX_LIMIT};

/// Queries from the Logs Insights pages (query syntax, filter, parse, stats, sort, limit and
/// the sample queries), as written there.
pub(crate) const AWS_SAMPLES: &[&str] = &[
    "fields @timestamp, @message, @logStream, @log, status | filter @message like /ERROR/ | sort @timestamp desc | limit 10000",
    "fields @timestamp, @message | sort @timestamp desc | limit 25",
    "fields @timestamp, @message | filter (range>3000) | sort @timestamp desc | limit 20",
    "fields @timestamp, @message\n| filter (range>3000 and accountId=123456789012)\n| sort @timestamp desc\n| limit 20",
    "stats count(*) by queryType, bin(1h)",
    "parse @message \"user=*, method:*, latency := *\" as @user, @method, @latency | stats avg(@latency) by @method, @user",
    "parse @message /user=(?<user2>.*?), method:(?<method2>.*?), latency := (?<latency2>.*?)/ | stats avg(latency2) by @method2, @user2",
    "FIELDS @message | PARSE @message \"* [*] *\" as loggingTime, loggingType, loggingMessage | FILTER loggingType IN [\"ERROR\", \"INFO\"] | DISPLAY loggingMessage, loggingType = \"ERROR\" as isError",
    "parse @message /(?<NetworkInterface>eni-.*?) / | display NetworkInterface, @message",
    "stats sum(packets) as packetsTransferred by srcAddr, dstAddr | sort packetsTransferred desc | limit 15",
    "filter @message like /Exception/ | stats count(*) as exceptionCount by bin(1h) | sort exceptionCount desc",
    "filter @type = \"REPORT\" | stats avg(@duration), max(@duration), min(@duration) by bin(5m)",
    "filter @type = \"REPORT\"\n| stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB,\n  min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB,\n  avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB,\n  max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB,\n  provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB",
    "filter action=\"REJECT\" | stats count(*) as numRejections by srcAddr | sort numRejections desc | limit 20",
    "fields @timestamp, @message | filter @message not like /Exception/",
    "filter @message like /(?i)error/ | fields @timestamp, @message",
    "filter @message =~ \"ERROR\" and not ispresent(details.reason)",
    "stats count_distinct(userIdentity.arn) by eventSource, eventName, awsRegion",
    "fields @timestamp, @message | filter logGroup not in [\"a\", \"b\"] | dedup @logStream",
    "parse '\"HTTP/*\"' as @version | filter ispresent(@version) | stats count(@version) as requests by bin(6h)",
    "fields `httpVersions.HTTP/1.1` | stats sum(`httpVersions.HTTP/1.1`) as http1",
    "# errors per stream\nfilter @message like /ERROR/ # only errors\nstats count(*) by @logStream",
    "fields concat(@logStream, \"/\", toupper(level)) as where, strlen(@message) as len | filter len > 100 and strcontains(@message, \"timeout\") = 1",
    "fields @timestamp, @message | limit any 1",
];

#[test]
fn documented_queries_parse() {
    for q in AWS_SAMPLES {
        // `limit any` is newer than this implementation; it must fail cleanly.
        let parsed = parse(q);
        if q.contains("limit any") {
            let e = parsed.unwrap_err();
            assert_eq!(e.message, "unexpected symbol found any", "{q}");
            continue;
        }
        parsed.unwrap_or_else(|e| panic!("{q}: {e}"));
    }
}

#[test]
fn the_console_query_has_the_expected_tree() {
    let q = parse(AWS_SAMPLES[0]).unwrap();
    let c = q.commands();
    assert_eq!(c.len(), 4);
    let Command::Fields(f) = &c[0] else { panic!() };
    let names: Vec<String> = f.iter().map(|p| p.expr.to_string()).collect();
    assert_eq!(
        names,
        ["@timestamp", "@message", "@logStream", "@log", "status"]
    );
    let Command::Filter(Expr::Like {
        expr,
        pattern: LikePattern::Regex(p),
        negated: false,
        tilde: false,
    }) = &c[1]
    else {
        panic!("{:?}", c[1])
    };
    assert_eq!(**expr, Expr::Field("@message".into()));
    assert_eq!(p.text, "ERROR");
    let Command::Sort(keys) = &c[2] else { panic!() };
    assert_eq!(keys[0].order, Some(Order::Desc));
    assert_eq!(c[3], Command::Limit(MAX_LIMIT));
}

#[test]
fn precedence_and_case() {
    let q = parse("FILTER a = 1 OR b = 2 AND NOT c < 3 + 4 * 5 ^ 2").unwrap();
    let Command::Filter(Expr::Binary {
        op: BinOp::Or,
        right,
        ..
    }) = &q.commands()[0]
    else {
        panic!()
    };
    let Expr::Binary {
        op: BinOp::And,
        right: not,
        ..
    } = &**right
    else {
        panic!()
    };
    let Expr::Not(cmp) = &**not else { panic!() };
    assert_eq!(cmp.to_string(), "c < 3 + 4 * 5 ^ 2");
    // `-5` is a literal; a period and `*` only where they belong.
    let q = parse("fields -5 as n, datefloor(@timestamp, 1d) as day").unwrap();
    let Command::Fields(f) = &q.commands()[0] else {
        panic!()
    };
    assert_eq!(f[0].expr, Expr::Num(-5.0));
}

#[test]
fn new_lines_separate_commands() {
    let q = parse("fields a\nfilter a > 1\nsort a desc\nlimit 5").unwrap();
    assert_eq!(q.commands().len(), 4);
    // A field list may continue on the next line.
    let q = parse("fields a,\n  b").unwrap();
    assert_eq!(q.commands().len(), 1);
}

#[test]
fn parse_patterns() {
    let q = parse("parse @message \"[*] *\" as level, rest").unwrap();
    let Command::Parse(p) = &q.commands()[0] else {
        panic!()
    };
    assert_eq!(p.source.as_deref(), Some("@message"));
    let ParsePattern::Glob { glob, names } = &p.pattern else {
        panic!()
    };
    assert_eq!(glob.text, "[*] *");
    assert_eq!(names, &["level", "rest"]);
    let q = parse("parse /id=(?<id>\\d+)/").unwrap();
    let Command::Parse(p) = &q.commands()[0] else {
        panic!()
    };
    assert_eq!(p.source, None);
    assert!(matches!(&p.pattern, ParsePattern::Regex(r) if r.text == "id=(?<id>\\d+)"));
}

#[test]
fn division_and_regex_slashes() {
    let q = parse("fields a / 2 as half | filter b like /x\\/y/").unwrap();
    assert_eq!(
        q.to_string(),
        "fields a / 2 as half | filter b like /x\\/y/"
    );
    let Command::Filter(Expr::Like {
        pattern: LikePattern::Regex(p),
        ..
    }) = &q.commands()[1]
    else {
        panic!()
    };
    assert_eq!(p.text, "x/y");
}

/// (query, character position, message).
const ERRORS: &[(&str, usize, &str)] = &[
    ("", 0, "the query is empty"),
    ("   # only a comment", 0, "the query is empty"),
    ("fields", 6, "unexpected end of query"),
    ("fields @timestamp |", 19, "unexpected end of query"),
    ("filter @message like", 20, "unexpected end of query"),
    ("fieldz a", 0, "unexpected symbol found fieldz"),
    ("fields a b", 9, "unexpected symbol found b"),
    ("filter a = 1 )", 13, "unexpected symbol found )"),
    ("sort a asc desc", 11, "unexpected symbol found desc"),
    ("filter a ~ b", 9, "unexpected symbol found ~"),
    ("filter x in [1, 2", 17, "unexpected end of query"),
    ("filter x in (1, 2)", 12, "unexpected symbol found ("),
    (
        "fields a | limit 0",
        17,
        "limit must be a whole number from 1 to 10000",
    ),
    (
        "fields a | limit 10001",
        17,
        "limit must be a whole number from 1 to 10000",
    ),
    (
        "fields a | limit 2.5",
        17,
        "limit must be a whole number from 1 to 10000",
    ),
    ("fields a | limit many", 17, "unexpected symbol found many"),
    ("filter x = \"abc", 11, "unterminated string"),
    ("fields `a", 7, "unterminated quoted field name"),
    (
        "filter @message like /ab",
        21,
        "unterminated regular expression",
    ),
    (
        "filter @message like /(/",
        21,
        "invalid regular expression: error: unclosed group",
    ),
    ("filter @message like 5", 21, "unexpected symbol found 5"),
    (
        "stats avg(x) by bin(5parsecs)",
        20,
        "invalid time period 5parsecs",
    ),
    (
        "stats count(*) by bin(x)",
        22,
        "expected a time period such as 5m, found x",
    ),
    (
        "fields 5m",
        7,
        "a time period is only allowed in bin, datefloor and dateceil",
    ),
    (
        "filter /x/",
        7,
        "a regular expression is only allowed after like, =~ or parse",
    ),
    (
        "stats x",
        6,
        "x in stats must be inside an aggregation function such as avg(x)",
    ),
    (
        "stats 1 + 2",
        6,
        "stats needs an aggregation function such as count(*)",
    ),
    ("filter count(*) > 1", 7, "count is only allowed in stats"),
    (
        "stats sum(avg(x))",
        10,
        "aggregation functions cannot be nested",
    ),
    ("stats sum(*)", 10, "unexpected symbol found *"),
    ("fields foo(x)", 7, "unknown function foo"),
    ("fields strlen(a, b)", 7, "strlen takes 1 arguments, not 2"),
    (
        "fields concat()",
        7,
        "concat takes at least 1 arguments, not 0",
    ),
    (
        "parse @message \"* [*]\" as a",
        26,
        "the parse pattern has 2 * but 1 field names",
    ),
    (
        "parse @message \"plain\" as a",
        15,
        "the parse pattern has no * to extract",
    ),
    ("parse @message \"a*\"", 19, "unexpected end of query"),
    (
        "parse @message /(\\d+)/",
        15,
        "the parse regular expression has no named group such as (?<name>...)",
    ),
    (
        "parse @message /(?<n>\\d+)/ as n",
        27,
        "unexpected symbol found as",
    ),
    ("parse @message 5", 15, "unexpected symbol found 5"),
    (
        "stats count(*) | stats count(*)",
        17,
        "only one stats command is supported",
    ),
    (
        "limit 5 | stats count(*)",
        10,
        "stats after limit or dedup is not supported",
    ),
    (
        "stats count(*) | parse \"a*\" as x",
        17,
        "parse after stats is not supported",
    ),
    ("fields a, 1.5x", 10, "invalid number 1.5x"),
    (
        "fields a, 1x",
        10,
        "a time period is only allowed in bin, datefloor and dateceil",
    ),
];

#[test]
fn errors_carry_their_position() {
    for (query, position, message) in ERRORS {
        let e = parse(query).expect_err(query);
        assert_eq!(
            (e.position, e.message.as_str()),
            (*position, *message),
            "{query}"
        );
    }
}

#[test]
fn error_display_gives_line_and_position() {
    let e = parse("fields a b").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unexpected symbol found b at line 1 and position 10"
    );
    let e = parse("fields a\n| filter b like").unwrap_err();
    assert_eq!((e.line, e.column, e.position), (2, 16, 24));
    // Positions count characters, not bytes.
    let e = parse("filter a = \"é\" b").unwrap_err();
    assert_eq!(e.position, 15);
}

#[test]
fn nesting_is_bounded() {
    let ok = format!("filter {}a{}", "(".repeat(40), ")".repeat(40));
    assert!(parse(&ok).is_ok());
    for deep in [
        format!("filter {}a{}", "(".repeat(5000), ")".repeat(5000)),
        format!("filter {}a", "not ".repeat(5000)),
        format!("fields {}1 as x", "-".repeat(5000)),
        format!("fields {}a{}", "strlen(".repeat(5000), ")".repeat(5000)),
    ] {
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.message, "the expression nests too deeply");
    }
}

#[test]
fn hand_built_trees_with_wrong_arities_do_not_panic() {
    use super::testing::{events, Event};
    let q = super::Query::from_commands(vec![
        Command::Fields(vec![super::Projection {
            expr: Expr::Call {
                name: "substr".into(),
                args: vec![],
            },
            alias: Some("s".into()),
        }]),
        Command::Filter(Expr::Call {
            name: "bin".into(),
            args: vec![Expr::Field("x".into())],
        }),
    ]);
    let mut run = q.new_run();
    events(&["a"])
        .iter()
        .for_each(|e: &Event| run.push(&e.record()));
    assert!(run.finish().rows.is_empty());
}

#[test]
fn stats_items_may_use_earlier_aliases_only() {
    assert!(parse("stats max(a) as hi, min(a) as lo, hi - lo as spread").is_ok());
    let e = parse("stats hi - lo as spread, max(a) as hi").unwrap_err();
    assert_eq!(e.position, 6);
    // After stats, an aggregation names the column printed that way.
    assert!(parse("stats count(*) by x | sort count(*) desc").is_ok());
}
