//! Printing then parsing gives the same tree, SET clauses and variables included; nothing
//! panics on any input.

use proptest::prelude::*;

use super::*;
use crate::ast::{
    Assignment, BinaryOp, CastType, Expr, Select, SelectItem, Statement, SubQuery, UnaryOp,
};
use crate::{parse, Context, Template};
// ---- print then parse ----

#[test]
fn printing_examples() {
    let cases = [
        (
            "select a as b, * from 'x/+' where not a = 1 or b",
            "SELECT a AS b, * FROM 'x/+' WHERE NOT a = 1 OR b",
        ),
        (
            "SELECT VALUE (a + b) * -c FROM '#'",
            "SELECT VALUE (a + b) * -c FROM '#'",
        ),
        (
            "SELECT (* * 2) AS x FROM '#'",
            "SELECT (* * 2) AS x FROM '#'",
        ),
        (
            "SELECT VALUE CAST(x as INT) FROM 'a'",
            "SELECT VALUE cast(x AS Int) FROM 'a'",
        ),
        ("SELECT VALUE 1e3 FROM 'a'", "SELECT VALUE 1000.0 FROM 'a'"),
        (
            "set @a = -b, @c = @a.x[0] select value @c from 'a' where @a contains 1",
            "SET @a = -b, @c = @a.x[0] SELECT VALUE @c FROM 'a' WHERE @a CONTAINS 1",
        ),
    ];
    for (input, printed) in cases {
        let stmt = parse(input, V2).unwrap();
        assert_eq!(stmt.to_string(), printed);
        assert_eq!(parse(printed, V2).unwrap(), stmt);
    }
}

const IDENTS: &str = "[a-z_][a-z0-9_]{0,5}";

fn ident() -> impl Strategy<Value = String> {
    proptest::string::string_regex(IDENTS)
        .unwrap()
        .prop_filter("not a keyword", |s| {
            !crate::parser::is_reserved(s) && s != "value"
        })
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(Expr::Null),
        any::<bool>().prop_map(Expr::Bool),
        (0..=i64::MAX).prop_map(Expr::Int),
        prop_oneof![0.0f64..1e6, 0.0f64..1e-3, 1e15f64..1e25].prop_map(Expr::Decimal),
        "[a-z '\"\\\\\n\t\u{1}é{}$]{0,6}".prop_map(Expr::String),
        ident().prop_map(Expr::Field),
        Just(Expr::Wildcard),
        // A placeholder `@vN`, made the statement's N-th variable (mod how many it may read)
        // by `variables_in_scope`.
        (0..3usize).prop_map(|n| Expr::Variable(format!("v{n}"))),
    ]
}

const FUNCTIONS: &[&str] = &[
    "abs",
    "concat",
    "get",
    "topic",
    "upper",
    "substring",
    "timestamp",
];

const CASTS: &[CastType] = &[
    CastType::String,
    CastType::Varchar,
    CastType::Int,
    CastType::Integer,
    CastType::Double,
    CastType::Decimal,
    CastType::Bool,
    CastType::Boolean,
];

const OPS: &[BinaryOp] = &[
    BinaryOp::Or,
    BinaryOp::And,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Lt,
    BinaryOp::Le,
    BinaryOp::Gt,
    BinaryOp::Ge,
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::In,
    BinaryOp::Contains,
];

fn select_of(e: BoxedStrategy<Expr>) -> impl Strategy<Value = Select> {
    let item = prop_oneof![
        1 => Just(SelectItem::Wildcard),
        4 => (e.clone(), proptest::option::of(proptest::collection::vec(ident(), 1..3)))
            .prop_map(|(expr, alias)| SelectItem::Expr { expr, alias }),
    ];
    prop_oneof![
        e.prop_map(Select::Value),
        proptest::collection::vec(item, 1..4).prop_map(Select::Items),
    ]
}

fn expr() -> BoxedStrategy<Expr> {
    leaf()
        .prop_recursive(4, 48, 4, |inner| {
            let b = |e: Expr| Box::new(e);
            prop_oneof![
                (inner.clone(), ident()).prop_map(move |(e, n)| Expr::Member(b(e), n)),
                (inner.clone(), inner.clone()).prop_map(move |(e, i)| Expr::Index(b(e), b(i))),
                (
                    prop_oneof![Just(UnaryOp::Not), Just(UnaryOp::Neg)],
                    inner.clone()
                )
                    .prop_map(move |(op, e)| Expr::Unary(op, b(e))),
                (proptest::sample::select(OPS), inner.clone(), inner.clone())
                    .prop_map(move |(op, l, r)| Expr::Binary(op, b(l), b(r))),
                (
                    proptest::sample::select(FUNCTIONS),
                    proptest::collection::vec(inner.clone(), 0..3)
                )
                    .prop_map(|(name, args)| Expr::Call {
                        name: name.to_string(),
                        args
                    }),
                (inner.clone(), proptest::sample::select(CASTS))
                    .prop_map(move |(e, ty)| Expr::Cast { expr: b(e), ty }),
                (
                    proptest::option::of(inner.clone()),
                    proptest::collection::vec((inner.clone(), inner.clone()), 1..3),
                    proptest::option::of(inner.clone())
                )
                    .prop_map(move |(operand, whens, else_)| Expr::Case {
                        operand: operand.map(b),
                        whens,
                        else_: else_.map(b),
                    }),
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Expr::Array),
                proptest::collection::vec(("[a-z'{} ]{0,4}", inner.clone()), 0..3)
                    .prop_map(Expr::Object),
                (
                    select_of(inner.clone()),
                    inner.clone(),
                    proptest::option::of(inner)
                )
                    .prop_map(|(select, from, where_)| Expr::SubQuery(Box::new(
                        SubQuery {
                            select,
                            from,
                            where_
                        }
                    ))),
            ]
        })
        .boxed()
}

fn statement() -> impl Strategy<Value = Statement> {
    let topic = (
        proptest::collection::vec(prop_oneof!["[a-z0-9]{1,3}", Just("+".to_string())], 1..4),
        any::<bool>(),
    )
        .prop_map(|(levels, hash)| {
            let mut t = levels.join("/");
            if hash {
                t.push_str("/#");
            }
            t
        });
    let set = proptest::collection::vec((ident(), expr()), 0..4);
    (set, select_of(expr()), topic, proptest::option::of(expr())).prop_map(
        |(set, mut select, from, mut where_)| {
            // Each variable once, each expression reading only those set before it.
            let mut names: Vec<String> = Vec::new();
            let mut assignments = Vec::new();
            for (name, mut expr) in set {
                if names.contains(&name) {
                    continue;
                }
                variables_in_scope(&mut expr, &names);
                names.push(name.clone());
                assignments.push(Assignment { name, expr });
            }
            match &mut select {
                Select::Value(e) => variables_in_scope(e, &names),
                Select::Items(items) => {
                    for item in items {
                        if let SelectItem::Expr { expr, .. } = item {
                            variables_in_scope(expr, &names);
                        }
                    }
                }
            }
            if let Some(w) = &mut where_ {
                variables_in_scope(w, &names);
            }
            Statement {
                version: V2,
                set: assignments,
                select,
                from,
                where_,
            }
        },
    )
}

/// Turns each placeholder `@vN` into the N-th name of `names` (mod its length), or into a
/// field when there is none, so the statement reads only variables it has set.
fn variables_in_scope(e: &mut Expr, names: &[String]) {
    walk_mut(e, &mut |e| {
        if let Expr::Variable(placeholder) = e {
            let n: usize = placeholder[1..].parse().unwrap_or(0);
            *e = match names.len() {
                0 => Expr::Field(placeholder.clone()),
                len => Expr::Variable(names[n % len].clone()),
            };
        }
    });
}

/// Calls `f` on `e` and on every expression inside it.
fn walk_mut(e: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    f(e);
    match e {
        Expr::Null
        | Expr::Bool(_)
        | Expr::Int(_)
        | Expr::Decimal(_)
        | Expr::String(_)
        | Expr::Field(_)
        | Expr::Variable(_)
        | Expr::Wildcard => {}
        Expr::Member(inner, _) | Expr::Unary(_, inner) | Expr::Cast { expr: inner, .. } => {
            walk_mut(inner, f)
        }
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            walk_mut(a, f);
            walk_mut(b, f);
        }
        Expr::Call { args: items, .. } | Expr::Array(items) => {
            items.iter_mut().for_each(|i| walk_mut(i, f));
        }
        Expr::Object(fields) => fields.iter_mut().for_each(|(_, v)| walk_mut(v, f)),
        Expr::Case {
            operand,
            whens,
            else_,
        } => {
            operand.iter_mut().for_each(|o| walk_mut(o, f));
            for (w, t) in whens {
                walk_mut(w, f);
                walk_mut(t, f);
            }
            else_.iter_mut().for_each(|o| walk_mut(o, f));
        }
        Expr::SubQuery(q) => {
            walk_mut(&mut q.from, f);
            q.where_.iter_mut().for_each(|w| walk_mut(w, f));
            match &mut q.select {
                Select::Value(v) => walk_mut(v, f),
                Select::Items(items) => {
                    for item in items {
                        if let SelectItem::Expr { expr, .. } = item {
                            walk_mut(expr, f);
                        }
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_gives_the_same_tree(stmt in statement()) {
        let text = stmt.to_string();
        let back = parse(&text, V2).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, stmt, "{}", text);
    }

    #[test]
    fn any_text_parses_or_fails_without_panicking(text in "\\PC{0,60}") {
        let _ = parse(&text, V2);
        let _ = Template::parse(&text, V2);
    }

    #[test]
    fn evaluation_never_panics(stmt in statement(), payload in prop_oneof![
        Just(r#"{"a":1,"b":[1,2,{"c":"x"}],"value":"5"}"#.to_string()),
        Just("not json".to_string()),
    ]) {
        let ctx = Context::new("a/b", payload.as_bytes(), 0);
        let _ = stmt.evaluate_output(&ctx);
    }
}

#[test]
fn numbers_too_large_for_a_double_still_print_and_parse_back() {
    for sql in [
        "SELECT VALUE 1e999 FROM 'a'",
        "SELECT VALUE -1e999 FROM 'a'",
        "SELECT VALUE 99999999999999999999 FROM 'a'",
    ] {
        if let Ok(stmt) = parse(sql, V2) {
            let again = parse(&stmt.to_string(), V2)
                .unwrap_or_else(|e| panic!("{sql} printed as {stmt}: {e}"));
            assert_eq!(again, stmt, "{sql}");
        }
    }
}
