//! The SET clause (iot-sql-set.html): its documented limits, and the variables of one
//! evaluation. Each variable is evaluated once per message, in the order the clause lists
//! them and before WHERE, so a function in its expression (`newuuid()`, `get_thing_shadow`)
//! runs once however often the variable is read.
//!
//! A variable holds a value, not an expression: reading it never re-evaluates anything, so a
//! chain of variables cannot deepen the tree ([`crate::MAX_DEPTH`] bounds each expression as
//! written). Reading one is charged for the whole value it copies (not just its top level, as
//! a payload field is), so a chain of variables that double each other's size cannot run
//! past [`crate::MAX_EVAL_STEPS`] either.

use std::io;

use crate::ast::{Assignment, Expr};
use crate::error::EvalError;
use crate::eval::Evaluator;
use crate::value::Value;

/// "Maximum of 10 unique variables per SQL statement" (iot-sql-set.html, "SET clause limits").
pub const MAX_VARIABLES: usize = 10;

/// "Variable names can be up to 64 characters long" (iot-sql-set.html, "Syntax rules").
pub const MAX_VARIABLE_NAME_CHARS: usize = 64;

/// "Maximum variable value size of 128 KiB (minified UTF-8 JSON string)" and "Maximum total
/// value size of 128 KiB for all variables" (iot-sql-set.html, "SET clause limits").
pub const MAX_VARIABLE_BYTES: usize = 128 * 1024;

/// Which argument of a call, if any, reads a variable where AWS allows none: "certain
/// parameters such as roleArn parameters and parameters that switch the mode of a function
/// similar to transform("enrichArray", attributes, values) do not support variables"
/// (iot-sql-set.html, "Using variables"). Of the functions Shoal evaluates, those are
/// `get_thing_shadow`'s roleArn (its last argument) and `transform`'s mode (its first).
pub(crate) fn fixed_argument_reading_variable(name: &str, args: &[Expr]) -> Option<&'static str> {
    let (what, arg) = match name {
        "get_thing_shadow" => ("roleArn", args.last()?),
        "transform" => ("mode", args.first()?),
        _ => return None,
    };
    arg.reads_variable().then_some(what)
}

/// One variable's value for the message being evaluated.
struct Variable {
    name: String,
    value: Value,
    /// How many values `value` holds, all levels counted: what copying it costs.
    nodes: u64,
}

/// The variables one evaluation has assigned so far.
#[derive(Default)]
pub(crate) struct Variables {
    vars: Vec<Variable>,
    /// Their minified JSON sizes added up.
    bytes: usize,
}

impl Evaluator<'_, '_> {
    /// Evaluates the SET clause's assignments in order, each seeing the ones before it.
    pub(crate) fn assign(&self, set: &[Assignment]) -> Result<(), EvalError> {
        for a in set {
            let value = self.eval(&a.expr, self.root)?;
            let nodes =
                nodes(&value).ok_or_else(|| EvalError::BinaryPayloadVariable(a.name.clone()))?;
            self.charge(nodes)?;
            let too_large = || EvalError::VariableTooLarge(a.name.clone());
            let mut vars = self.vars.borrow_mut();
            let room = MAX_VARIABLE_BYTES - vars.bytes;
            let bytes = json_bytes(&value, room).ok_or_else(too_large)?;
            vars.bytes += bytes;
            vars.vars.push(Variable {
                name: a.name.clone(),
                value,
                nodes,
            });
        }
        Ok(())
    }

    /// `@name`: the variable's value, charged for all of it. The parser lets a statement read
    /// only variables it sets, so a name not found (a template's, evaluated alone) is
    /// Undefined.
    pub(crate) fn variable(&self, name: &str) -> Result<Value, EvalError> {
        let vars = self.vars.borrow();
        match vars.vars.iter().find(|v| v.name == name) {
            Some(v) => {
                self.charge(v.nodes)?;
                Ok(v.value.clone())
            }
            None => Ok(Value::Undefined),
        }
    }
}

/// The number of values in `v`, all levels counted; `None` when it holds the binary payload,
/// which "must first be encoded/decoded" before a variable takes it (iot-sql-set.html).
fn nodes(v: &Value) -> Option<u64> {
    Some(
        1 + match v {
            Value::Bytes(_) => return None,
            Value::Array(items) => items.iter().map(nodes).sum::<Option<u64>>()?,
            Value::Object(fields) => fields.values().map(nodes).sum::<Option<u64>>()?,
            _ => 0,
        },
    )
}

/// The length of `v` as minified JSON (nothing for Undefined, which serializes to nothing),
/// or `None` past `room` bytes; the writing stops as soon as it passes.
fn json_bytes(v: &Value, room: usize) -> Option<usize> {
    let Some(json) = v.to_json() else {
        return Some(0);
    };
    let mut counter = Counter { len: 0, room };
    serde_json::to_writer(&mut counter, &json).ok()?;
    Some(counter.len)
}

/// A writer that only counts, and fails once it has been given more than `room` bytes.
struct Counter {
    len: usize,
    room: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.len += buf.len();
        if self.len > self.room {
            return Err(io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
