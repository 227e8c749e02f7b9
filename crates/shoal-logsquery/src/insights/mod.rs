//! The CloudWatch Logs Insights query language
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html>), pure:
//! [`parse`] reads a query into a [`Query`] (or a [`QueryError`] at a position), `Display`
//! prints it back canonically, and a [`Run`] answers it over records pushed one by one.
//!
//! Commands: `fields`, `display`, `filter`, `parse` (glob or named-group regex), `stats`
//! (`count`, `count_distinct`, `sum`, `avg`, `min`, `max`, grouped `by` fields and `bin()`),
//! `sort`, `limit` and `dedup`, separated by `|` or new lines, with `#` comments. Fields are a
//! log event's own (`@timestamp`, `@message`, `@logStream`, `@log`, `@ingestionTime`, `@ptr`),
//! those discovered in a JSON message (`details.reason`, `tags.0`), and those `fields ... as`
//! and `parse` define.
//!
//! Not supported (StartQuery-style errors name them): a second `stats`, `parse` after `stats`,
//! `limit` or `dedup` before `stats`, `limit any`, and the commands and functions this module
//! does not list (`pattern`, `diff`, `anomaly`, `unnest`, `filterIndex`, `pct`, `stddev`,
//! IP functions...). `count_distinct` is exact.
//!
//! ```
//! use shoal_logsquery::insights::{parse, Record};
//! let q = parse("fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc | limit 2").unwrap();
//! let mut run = q.new_run();
//! for (i, msg) in ["ERROR a", "ok", "ERROR b", "ERROR c"].iter().enumerate() {
//!     let ptr = i.to_string();
//!     run.push(&Record { timestamp: i as i64 * 1000, ingestion_time: 0, message: msg,
//!                        log_stream: "s", log_group: "g", ptr: &ptr });
//! }
//! let results = run.finish();
//! assert_eq!(results.rows[0][1], ("@message".to_string(), "ERROR c".to_string()));
//! assert_eq!(results.records_matched, 3);
//! ```

mod ast;
mod collect;
mod compile;
mod error;
mod eval;
mod functions;
mod json;
mod lexer;
mod parse_expr;
mod parser;
mod plan;
mod print;
mod run;
mod stats;
mod time;
mod topn;
mod value;

use std::fmt;
use std::sync::Arc;

pub use ast::{
    BinOp, Command, Expr, LikePattern, Order, ParseCommand, ParsePattern, Pattern, Period,
    Projection, SortKey, Stats,
};
pub use error::QueryError;
pub use parser::MAX_NESTING;
pub use run::Run;

/// The most rows a query returns, and the largest `limit` ("If you omit limit, the query will
/// return as many as 10,000 log events", <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Limit.html>).
pub const MAX_LIMIT: u32 = 10_000;

/// The most keys one `sort` takes.
pub const MAX_SORT_KEYS: usize = 16;

/// A log event as the store hands it to a run.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// `@timestamp`, milliseconds since the epoch.
    pub timestamp: i64,
    /// `@ingestionTime`, milliseconds since the epoch.
    pub ingestion_time: i64,
    pub message: &'a str,
    /// `@logStream`.
    pub log_stream: &'a str,
    /// `@log` (`account-id:log-group-name` in AWS).
    pub log_group: &'a str,
    /// Opaque id returned as `@ptr`, for GetLogRecord.
    pub ptr: &'a str,
}

/// What GetQueryResults reports: the rows and the scan statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Results {
    /// Each row's (field, value) pairs, in the query's column order.
    pub rows: Vec<Vec<(String, String)>>,
    pub records_scanned: u64,
    pub records_matched: u64,
    pub bytes_scanned: u64,
}

/// A parsed query: its commands and what running it needs (names resolved, regexes compiled).
#[derive(Clone)]
pub struct Query {
    commands: Vec<Command>,
    plan: Arc<plan::Plan>,
}

/// Reads a query; the error gives the position of what StartQuery would refuse.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    Ok(Query::from_commands(parser::parse_commands(text)?))
}

impl Query {
    /// A query from commands built directly (they are not checked as `parse` checks text).
    pub fn from_commands(commands: Vec<Command>) -> Query {
        let plan = Arc::new(compile::compile(&commands));
        Query { commands, plan }
    }

    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// True for a query whose rows are aggregates (they carry no `@ptr`).
    pub fn is_stats(&self) -> bool {
        self.plan.stats.is_some()
    }

    pub fn new_run(&self) -> Run {
        Run::new(self.plan.clone())
    }
}

impl PartialEq for Query {
    fn eq(&self, other: &Self) -> bool {
        self.commands == other.commands
    }
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Query").field(&self.commands).finish()
    }
}

/// The canonical text: commands joined by ` | `.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, c) in self.commands.iter().enumerate() {
            if k > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod alloc_tests;
#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod print_tests;
#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod stats_tests;
#[cfg(test)]
mod testing;
