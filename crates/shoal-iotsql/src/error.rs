//! The two ways a rule goes wrong: a statement (or template) that does not parse, which
//! CreateTopicRule answers with `SqlParseException`, and an evaluation that cannot produce a
//! payload, which the rules engine hands to the rule's error action.

use std::fmt;

/// A malformed statement or template: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Character offset (not byte offset) in the text, from 0.
    pub position: usize,
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(position: usize, reason: impl Into<String>) -> Self {
        ParseError {
            position,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.reason, self.position + 1)
    }
}

impl std::error::Error for ParseError {}

/// Why a statement that parsed could not be evaluated for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// The payload is not JSON and the statement reads a JSON name from it. AWS's binary
    /// payload rules (binary-payloads.html): only `*` and functions may be used then.
    BinaryPayloadField(String),
    /// `SELECT *` together with other items on a binary payload (binary-payloads.html, rule 2).
    BinaryPayloadSelect,
    /// [`crate::Statement::evaluate`] was asked for JSON but the result is the raw binary
    /// payload (`SELECT *` on a non-JSON payload); use `evaluate_output`.
    BinaryOutput,
    /// [`crate::Statement::evaluate`] was asked for JSON but `SELECT VALUE` gave `Undefined`,
    /// which AWS serializes as an empty payload; use `evaluate_output`.
    UndefinedOutput,
    /// The evaluation needed more than [`crate::MAX_EVAL_STEPS`] steps.
    TooComplex,
    /// A SET variable (named without its `@`) was given the binary payload itself:
    /// "non-JSON payloads must first be encoded/decoded" (iot-sql-set.html, "SET clause
    /// limits").
    BinaryPayloadVariable(String),
    /// A SET variable's value, or all of them together, is larger than
    /// [`crate::MAX_VARIABLE_BYTES`] as minified JSON (iot-sql-set.html, "SET clause limits").
    VariableTooLarge(String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::BinaryPayloadField(name) => {
                write!(
                    f,
                    "the payload is not JSON but the statement reads `{name}`"
                )
            }
            EvalError::BinaryPayloadSelect => {
                f.write_str("the payload is not JSON: `*` must be the only SELECT item")
            }
            EvalError::BinaryOutput => f.write_str("the result is the binary payload, not JSON"),
            EvalError::UndefinedOutput => f.write_str("the result is Undefined (an empty payload)"),
            EvalError::TooComplex => {
                f.write_str("the statement needs too much work for this message")
            }
            EvalError::BinaryPayloadVariable(name) => write!(
                f,
                "the payload is not JSON: variable `@{name}` needs it encoded or decoded first"
            ),
            EvalError::VariableTooLarge(name) => write!(
                f,
                "variable `@{name}` takes the SET variables past {} bytes of JSON",
                crate::MAX_VARIABLE_BYTES
            ),
        }
    }
}

impl std::error::Error for EvalError {}
