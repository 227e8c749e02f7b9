//! AWS IoT SQL for Shoal's rules engine (L0): the statement language of a topic rule, from
//! text to a tree and from a message to the payload its actions get, and the substitution
//! templates of the actions' fields.
//!
//! It owns: the lexer and parser (`[SET @v = ...] SELECT ... FROM 'filter' [WHERE ...]`,
//! errors with their character position, bounds on length and nesting), the printer (print
//! then parse gives the same tree), AWS's values with Undefined beside Null and its
//! conversions, the operators' tables, the functions, nested object queries, SET variables,
//! the differences between SQL versions 2015-10-08 and 2016-03-23, and `${...}` templates.
//!
//! It must not use: tokio, I/O, the store, or any other Shoal crate. Whatever a function needs
//! from outside (the time, UUIDs, shadows, the client, principal and account) the caller puts
//! in the [`Context`], so evaluation is deterministic.
//!
//! It follows AWS's developer guide, pages under
//! <https://docs.aws.amazon.com/iot/latest/developerguide/>: `iot-sql-reference.html`,
//! `iot-sql-set.html`, `iot-sql-select.html`, `iot-sql-from.html`, `iot-sql-where.html`,
//! `iot-sql-data-types.html`, `iot-sql-operators.html`, `iot-sql-functions.html`,
//! `iot-sql-literals.html`, `iot-sql-case.html`, `iot-sql-json.html`,
//! `iot-substitution-templates.html`, `iot-sql-nested-queries.html`, `binary-payloads.html` and
//! `iot-rule-sql-version.html`.
//!
//! ```
//! use shoal_iotsql::{parse, Context, SqlVersion};
//! let stmt = parse("SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50",
//!                  SqlVersion::V2016_03_23).unwrap();
//! let ctx = Context::new("topic/subtopic", br#"{"color":"red","temperature":100}"#, 0);
//! assert_eq!(stmt.evaluate(&ctx).unwrap(), Some(serde_json::json!({"rgb": "red"})));
//! ```

mod ast;
mod error;
mod eval;
mod functions;
mod index;
mod json;
mod lexer;
mod ops;
mod parser;
mod print;
mod scan;
mod set;
mod template;
mod value;

pub use ast::{
    Assignment, BinaryOp, CastType, Expr, Select, SelectItem, SqlVersion, Statement, SubQuery,
    UnaryOp,
};
pub use error::{EvalError, ParseError};
pub use eval::{Context, NoShadows, Output, ShadowSource, MAX_EVAL_STEPS, MAX_MESSAGE_STEPS};
pub use index::RuleIndex;
pub use parser::{parse, MAX_DEPTH, MAX_STATEMENT_BYTES};
pub use set::{MAX_VARIABLES, MAX_VARIABLE_BYTES, MAX_VARIABLE_NAME_CHARS};
pub use template::{Part, Template, MAX_TEMPLATE_BYTES, MAX_TEMPLATE_EXPRESSIONS};

#[cfg(test)]
mod tests;
