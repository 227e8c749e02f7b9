//! A filter pattern AWS would refuse. PutMetricFilter, PutSubscriptionFilter, FilterLogEvents
//! and StartLiveTail answer such a pattern with `InvalidParameterException` ("Invalid filter
//! pattern"); the gateway maps this error to that, the position and message are for people.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// Character offset in the pattern string, from 0.
    pub position: usize,
    pub message: String,
}

impl PatternError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        PatternError {
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid filter pattern: {} at position {}",
            self.message,
            self.position + 1
        )
    }
}

impl std::error::Error for PatternError {}
