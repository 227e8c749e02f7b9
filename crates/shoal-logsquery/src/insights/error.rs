//! A query StartQuery refuses (`MalformedQueryException`): what is wrong and where. AWS words
//! these as "unexpected symbol found X at line 1 and position 10"; the Display keeps that shape.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Character offset in the query text, from 0.
    pub position: usize,
    /// Line of `position`, from 1.
    pub line: usize,
    /// Character offset of `position` within its line, from 1 (AWS's "position").
    pub column: usize,
    pub message: String,
}

impl QueryError {
    /// An error at character offset `position` of `text`; line and column are worked out here
    /// so callers only track one number.
    pub(crate) fn new(text: &str, position: usize, message: impl Into<String>) -> Self {
        let mut line = 1;
        let mut column = 1;
        for c in text.chars().take(position) {
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        QueryError {
            position,
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} and position {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for QueryError {}
