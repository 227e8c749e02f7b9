//! The crate's tests: AWS's documented examples with their documented outputs (or, where the
//! page's output disagrees with AWS's own operator tables, the tables' and a comment saying
//! so), the SET clause, the IN and CONTAINS operators, the Undefined/Null rules, the
//! operators' tables, errors at their positions, the bounds, and a property test that printing
//! then parsing gives the same tree.

use serde_json::Value as Json;

use crate::ast::SqlVersion;
use crate::{parse, Context, Output};

pub(super) const V1: SqlVersion = SqlVersion::V2015_10_08;
pub(super) const V2: SqlVersion = SqlVersion::V2016_03_23;

pub(super) fn run_v(sql: &str, payload: &str, version: SqlVersion) -> Option<Json> {
    let stmt = parse(sql, version).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let ctx = Context::new("a/b", payload.as_bytes(), 1_481_825_251_155);
    stmt.evaluate(&ctx).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub(super) fn run(sql: &str, payload: &str) -> Option<Json> {
    run_v(sql, payload, V2)
}

/// `SELECT VALUE expr` for one expression, with SQL 2016-03-23.
pub(super) fn val(expr: &str, payload: &str) -> Option<Json> {
    let stmt = parse(&format!("SELECT VALUE {expr} FROM 'a/b'"), V2)
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    let ctx = Context::new("things/myThings/thingOne", payload.as_bytes(), 0);
    match stmt.evaluate_output(&ctx).unwrap() {
        Some(Output::Json(v)) => Some(v),
        Some(Output::Empty) => None,
        other => panic!("{expr}: {other:?}"),
    }
}

pub(super) fn v(expr: &str) -> Option<Json> {
    val(expr, "{}")
}

pub(super) fn err_at(sql: &str, version: SqlVersion) -> (usize, String) {
    let e = parse(sql, version).expect_err(sql);
    (e.position, e.reason)
}

mod functions;
mod in_contains;
mod index;
mod json;
mod props;
mod select;
mod set;
