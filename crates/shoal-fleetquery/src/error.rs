//! A malformed query: what is wrong and where (a character offset), which the API returns as
//! `InvalidQueryException`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Character offset in the query string, from 0.
    pub position: usize,
    pub reason: String,
}

impl QueryError {
    pub(crate) fn new(position: usize, reason: impl Into<String>) -> Self {
        QueryError {
            position,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.reason, self.position + 1)
    }
}

impl std::error::Error for QueryError {}
