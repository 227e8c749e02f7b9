//! The AWS IoT fleet-indexing query language (L0): a lexer and a parser from the query string
//! to a [`Query`] tree, with AWS's limits (twelve terms, one leading wildcard in a query of at
//! most 100 characters). Evaluation is the index's business; this crate knows no fields and
//! does no I/O, so the API, dynamic thing groups and fleet metrics share one parser.
//!
//! The syntax follows <https://docs.aws.amazon.com/iot/latest/developerguide/query-syntax.html>:
//! `field:value`, quoted phrases, `*` and `?` wildcards, `[a TO b]` / `{a TO b}` ranges,
//! `field>n`, `<`, `>=`, `<=`, `AND`/`OR`/`NOT`/`-`, parentheses, `field:(a OR b)`, `field:*`,
//! and a bare `*`. Adjacent clauses are joined with AND, AWS's default operator.
//!
//! ```
//! use shoal_fleetquery::{parse, Query, Value};
//! let q = parse("thingName:TempSensor* AND attributes.temperature>60").unwrap();
//! assert!(matches!(q, Query::And(ref parts) if parts.len() == 2));
//! assert!(parse("thingName:(a OR").is_err());
//! ```

mod ast;
mod error;
mod lexer;
mod parser;

pub use ast::{Pattern, Piece, Query, Value};
pub use error::QueryError;
pub use parser::{parse, MAX_LEADING_WILDCARD_QUERY, MAX_NESTING, MAX_QUERY_CHARS, MAX_TERMS};

#[cfg(test)]
mod tests;
