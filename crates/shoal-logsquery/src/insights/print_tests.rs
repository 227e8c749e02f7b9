//! Printing: canonical text for documented queries, and print-then-parse giving the same tree
//! for generated queries.

use proptest::prelude::*;
use regex::Regex;

use super::parse_tests::AWS_SAMPLES;
use super::{
    parse, BinOp, Command, Expr, LikePattern, Order, ParseCommand, ParsePattern, Pattern, Period,
    Projection, Query, SortKey, Stats,
};

#[test]
fn the_console_query_prints_as_written() {
    let text = "fields @timestamp, @message, @logStream, @log, status | filter @message like /ERROR/ | sort @timestamp desc | limit 10000";
    assert_eq!(parse(text).unwrap().to_string(), text);
}

#[test]
fn canonical_text() {
    let cases = [
        (
            "FIELDS @message | PARSE @message \"* [*] *\" as loggingTime, loggingType, loggingMessage | FILTER loggingType IN [\"ERROR\", \"INFO\"] | DISPLAY loggingMessage, loggingType = \"ERROR\" as isError",
            "fields @message | parse @message \"* [*] *\" as loggingTime, loggingType, loggingMessage | filter loggingType in [\"ERROR\", \"INFO\"] | display loggingMessage, loggingType = \"ERROR\" as isError",
        ),
        (
            "fields @timestamp, @message\n| filter (range>3000 and accountId=123456789012)\n| sort @timestamp desc\n| limit 20",
            "fields @timestamp, @message | filter range > 3000 and accountId = 123456789012 | sort @timestamp desc | limit 20",
        ),
        (
            "# comment\nfilter not (a=1 or b=2) and -x^2 < (1+2)*3 # trailing",
            "filter not (a = 1 or b = 2) and -x ^ 2 < (1 + 2) * 3",
        ),
        ("filter @message =~ 'it\\'s'", "filter @message =~ \"it's\""),
        ("fields `my field`, `and`, a.b.0, (-5) ^ 2", "fields `my field`, `and`, a.b.0, (-5) ^ 2"),
        ("stats COUNT(*) AS n BY bin(5min)", "stats COUNT(*) as n by bin(5min)"),
        ("filter x not like \"a\\\"b\\\\\" | sort x", "filter x not like \"a\\\"b\\\\\" | sort x"),
    ];
    for (input, expected) in cases {
        let q = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(q.to_string(), expected, "{input}");
    }
}

#[test]
fn documented_queries_survive_printing() {
    for text in AWS_SAMPLES.iter().filter(|q| !q.contains("limit any")) {
        let q = parse(text).unwrap();
        let printed = q.to_string();
        let again = parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(again, q, "{printed}");
        assert_eq!(again.to_string(), printed);
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-zA-Z0-9_]{0,5}",
        Just("@timestamp".to_string()),
        Just("@message".to_string()),
        Just("@logStream".to_string()),
        "[a-z]{1,3}\\.[a-z0-9]{1,3}",
        // Keywords and odd names print backticked.
        prop_oneof![Just("and"), Just("in"), Just("desc"), Just("NOT")].prop_map(String::from),
        "[a-z]{1,3}[ /:-][a-z0-9]{1,3}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 \"'\\\\\n\t*#|é/]{0,8}"
}

fn regex_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("a"),
        Just("Z9"),
        Just("/"),
        Just("."),
        Just("\\d"),
        Just("\\."),
        Just(" "),
        Just("x+"),
        Just("#"),
        Just("(?i)"),
    ];
    prop::collection::vec(piece, 1..5).prop_map(|v| v.concat())
}

fn pattern(text: String) -> Pattern {
    let regex = Regex::new(&text).unwrap();
    Pattern { text, regex }
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..100_000).prop_map(f64::from),
        (0.0f64..1.0e9),
        (-1.0e6f64..0.0),
    ]
}

fn period() -> impl Strategy<Value = Period> {
    (
        1u64..100,
        prop_oneof![
            Just("s"),
            Just("m"),
            Just("h"),
            Just("d"),
            Just("min"),
            Just("hrs"),
            Just("mo"),
            Just("y")
        ],
    )
        .prop_map(|(amount, unit)| Period {
            amount,
            unit: unit.to_string(),
        })
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        name().prop_map(Expr::Field),
        text().prop_map(Expr::Str),
        number().prop_map(Expr::Num),
    ]
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call {
        name: name.to_string(),
        args,
    }
}

fn bin_op() -> impl Strategy<Value = BinOp> {
    use BinOp::*;
    prop::sample::select(vec![
        Or, And, Eq, Ne, Lt, Le, Gt, Ge, Add, Sub, Mul, Div, Mod, Pow,
    ])
}

/// Expressions without aggregations.
fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            inner
                .clone()
                .prop_filter("a negated literal is a literal", |e| !matches!(
                    e,
                    Expr::Num(_)
                ))
                .prop_map(|e| Expr::Neg(Box::new(e))),
            (bin_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::Binary {
                op,
                left: Box::new(l),
                right: Box::new(r),
            }),
            (
                inner.clone(),
                prop_oneof![
                    text().prop_map(LikePattern::Str),
                    regex_text().prop_map(|t| LikePattern::Regex(pattern(t)))
                ],
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(|(e, pattern, negated, tilde)| Expr::Like {
                    expr: Box::new(e),
                    pattern,
                    negated,
                    // `not like` has no `=~` spelling.
                    tilde: tilde && !negated,
                }),
            (
                inner.clone(),
                prop::collection::vec(inner.clone(), 0..3),
                any::<bool>()
            )
                .prop_map(|(e, list, negated)| Expr::In {
                    expr: Box::new(e),
                    list,
                    negated
                }),
            inner.clone().prop_map(|e| call("strlen", vec![e])),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|a| call("concat", a)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| call("coalesce", vec![a, b])),
            inner.clone().prop_map(|e| call("toUpper", vec![e])),
            period().prop_map(|p| call("bin", vec![Expr::Period(p)])),
            (inner, period()).prop_map(|(e, p)| call("datefloor", vec![e, Expr::Period(p)])),
        ]
    })
}

fn aggregate() -> impl Strategy<Value = Expr> {
    let agg = prop_oneof![
        Just(call("count", vec![Expr::Star])),
        Just(call("count", vec![])),
        (
            prop::sample::select(vec!["count", "count_distinct", "sum", "avg", "min", "max"]),
            expr()
        )
            .prop_map(|(f, e)| call(f, vec![e])),
    ];
    (
        agg.clone(),
        prop::option::of((bin_op(), prop_oneof![agg, number().prop_map(Expr::Num)])),
    )
        .prop_map(|(a, more)| match more {
            None => a,
            Some((op, b)) => Expr::Binary {
                op,
                left: Box::new(a),
                right: Box::new(b),
            },
        })
}

fn projection(e: impl Strategy<Value = Expr>) -> impl Strategy<Value = Projection> {
    (e, prop::option::of(name())).prop_map(|(expr, alias)| Projection { expr, alias })
}

fn parse_command() -> impl Strategy<Value = Command> {
    let glob = (
        prop::collection::vec("[a-z :=\\[\\]\"]{0,3}", 2..4),
        prop::option::of(name()),
    )
        .prop_flat_map(|(parts, source)| {
            let stars = parts.len() - 1;
            (
                Just(parts),
                Just(source),
                prop::collection::vec(name(), stars),
            )
        });
    let glob = glob.prop_map(|(parts, source, names)| {
        let text = parts.join("*");
        let regex = Regex::new(&super::parser::glob_regex(&text)).unwrap();
        Command::Parse(ParseCommand {
            source,
            pattern: ParsePattern::Glob {
                glob: Pattern { text, regex },
                names,
            },
        })
    });
    let re = (
        prop::option::of(name()),
        "[a-z][a-z0-9_]{0,4}",
        regex_text(),
    )
        .prop_map(|(source, group, rest)| {
            Command::Parse(ParseCommand {
                source,
                pattern: ParsePattern::Regex(pattern(format!("{rest}(?<{group}>\\w+)"))),
            })
        });
    prop_oneof![glob, re]
}

fn order() -> impl Strategy<Value = Option<Order>> {
    prop_oneof![Just(None), Just(Some(Order::Asc)), Just(Some(Order::Desc))]
}

/// Commands allowed anywhere except after stats (`parse`) or before it (`limit`, `dedup`).
fn command(before_stats: bool, after_stats: bool) -> BoxedStrategy<Command> {
    let mut options: Vec<BoxedStrategy<Command>> = vec![
        prop::collection::vec(projection(expr()), 1..4)
            .prop_map(Command::Fields)
            .boxed(),
        prop::collection::vec(projection(expr()), 1..3)
            .prop_map(Command::Display)
            .boxed(),
        expr().prop_map(Command::Filter).boxed(),
        prop::collection::vec(
            (expr(), order()).prop_map(|(expr, order)| SortKey { expr, order }),
            1..3,
        )
        .prop_map(Command::Sort)
        .boxed(),
    ];
    if !after_stats {
        options.push(parse_command().boxed());
    }
    if !before_stats {
        options.push((1u32..=10_000).prop_map(Command::Limit).boxed());
        options.push(
            prop::collection::vec(expr(), 1..3)
                .prop_map(Command::Dedup)
                .boxed(),
        );
    }
    prop::strategy::Union::new(options).boxed()
}

fn query() -> impl Strategy<Value = Vec<Command>> {
    let stats = (
        prop::collection::vec(projection(aggregate()), 1..3),
        prop::collection::vec(
            projection(prop_oneof![
                name().prop_map(Expr::Field),
                period().prop_map(|p| call("bin", vec![Expr::Period(p)]))
            ]),
            0..3,
        ),
    )
        .prop_map(|(items, by)| Command::Stats(Stats { items, by }));
    prop_oneof![
        prop::collection::vec(command(false, false), 1..5),
        (
            prop::collection::vec(command(true, false), 0..3),
            stats,
            prop::collection::vec(command(false, true), 0..3)
        )
            .prop_map(|(mut before, stats, after)| {
                before.push(stats);
                before.extend(after);
                before
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_gives_the_same_tree(commands in query()) {
        let q = Query::from_commands(commands);
        let printed = q.to_string();
        let again = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}\n{e}")))?;
        prop_assert_eq!(&again, &q, "{}", printed);
    }
}
