//! The `Conditions` section, the condition functions and `Fn::If`, as CloudFormation defines
//! them (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-conditions.html
//! and https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/conditions-section-structure.html).
//! A condition is `Fn::Equals`, `Fn::Not`, `Fn::And` or `Fn::Or`; their operands are condition
//! functions or `{"Condition": "Name"}`. `Fn::If` picks a value by a condition's name, and a
//! resource's `"Condition": "Name"` decides whether it is provisioned at all.

use super::{cycle, invalid, Scope, MAX_DEPTH};
use crate::error::Result;
use serde_json::Value;

/// `Fn::And` and `Fn::Or` take "a minimum of 2 and a maximum of 10 conditions".
const MIN_OPERANDS: usize = 2;
const MAX_OPERANDS: usize = 10;

/// A scalar as the text it stands for: parameters are strings, so `"1"` equals `1`.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Scope<'_> {
    /// Decides every declared condition, used or not: CloudFormation evaluates the whole section
    /// when a stack is created, so a broken condition (a cycle, an unknown name) always fails.
    pub fn decide_all(&self) -> Result<()> {
        for name in self.sections.conditions.keys() {
            self.condition(name, 0)?;
        }
        Ok(())
    }

    /// The value of the condition the `Conditions` section declares as `name`.
    pub(super) fn condition(&self, name: &str, depth: usize) -> Result<bool> {
        if let Some(&decided) = self.decided.borrow().get(name) {
            return Ok(decided);
        }
        let declaration = self.sections.conditions.get(name).ok_or_else(|| {
            invalid(format!(
                "No condition named {name} in the Conditions section"
            ))
        })?;
        if let Some(chain) = cycle(&self.deciding.borrow(), name) {
            return Err(invalid(format!(
                "The conditions refer to each other: {chain}"
            )));
        }
        self.deciding.borrow_mut().push(name.to_string());
        let decided = self.operand(declaration, depth + 1);
        self.deciding.borrow_mut().pop();
        let decided = decided?;
        self.decided.borrow_mut().insert(name.to_string(), decided);
        Ok(decided)
    }

    /// A condition function, or `{"Condition": "Name"}` for a declared one.
    fn operand(&self, v: &Value, depth: usize) -> Result<bool> {
        if depth > MAX_DEPTH {
            return Err(invalid("Functions nest too deep"));
        }
        let not_a_condition = || {
            invalid(format!(
                "A condition is Fn::Equals, Fn::Not, Fn::And, Fn::Or or {{\"Condition\": name}}, not {v}"
            ))
        };
        let (f, arg) = match v.as_object() {
            Some(o) if o.len() == 1 => o.iter().next().expect("one entry"),
            _ => return Err(not_a_condition()),
        };
        match f.as_str() {
            "Condition" => match arg {
                Value::String(name) => self.condition(name, depth),
                other => Err(invalid(format!(
                    "Condition takes a condition's name, not {other}"
                ))),
            },
            "Fn::Equals" => self.equals(arg, depth),
            "Fn::Not" => Ok(!self.operands("Fn::Not", arg, 1, 1, depth)?[0]),
            "Fn::And" => Ok(self
                .operands("Fn::And", arg, MIN_OPERANDS, MAX_OPERANDS, depth)?
                .iter()
                .all(|c| *c)),
            "Fn::Or" => Ok(self
                .operands("Fn::Or", arg, MIN_OPERANDS, MAX_OPERANDS, depth)?
                .iter()
                .any(|c| *c)),
            _ => Err(not_a_condition()),
        }
    }

    /// The operands of `Fn::Not` (one), `Fn::And` and `Fn::Or`, all decided: an operand that
    /// fails fails the condition even when the others already settle it.
    fn operands(
        &self,
        f: &str,
        arg: &Value,
        min: usize,
        max: usize,
        depth: usize,
    ) -> Result<Vec<bool>> {
        match arg {
            Value::Array(items) if (min..=max).contains(&items.len()) => {
                items.iter().map(|c| self.operand(c, depth + 1)).collect()
            }
            _ if min == max => Err(invalid(format!("{f} takes a list of {min} condition"))),
            _ => Err(invalid(format!(
                "{f} takes a list of {min} to {max} conditions"
            ))),
        }
    }

    /// `{"Fn::Equals": [value, value]}`: the values may use `Ref`, `Fn::FindInMap` and the other
    /// value functions; scalars compare as text, anything else as JSON.
    fn equals(&self, arg: &Value, depth: usize) -> Result<bool> {
        let a = self.args("Fn::Equals", arg, 2)?;
        let (x, y) = (
            self.eval_at(&a[0], depth + 1)?,
            self.eval_at(&a[1], depth + 1)?,
        );
        Ok(match (scalar_text(&x), scalar_text(&y)) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        })
    }

    /// `{"Fn::If": [condition name, value if true, value if false]}`. Only the chosen value is
    /// evaluated, and it may be `{"Ref": "AWS::NoValue"}` to remove the property.
    pub(super) fn if_(&self, arg: &Value, depth: usize) -> Result<Option<Value>> {
        let a = self.args("Fn::If", arg, 3)?;
        let Value::String(name) = &a[0] else {
            return Err(invalid(format!(
                "Fn::If takes a condition's name first, not {}",
                a[0]
            )));
        };
        let chosen = if self.condition(name, depth + 1)? {
            &a[1]
        } else {
            &a[2]
        };
        self.eval_opt(chosen, depth + 1)
    }
}
