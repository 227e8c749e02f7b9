//! The intrinsic functions of provisioning templates. The developer guide lists `Ref`,
//! `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::Sub` and `Fn::FindInMap`
//! (https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html#intrinsic-functions);
//! the condition functions with `Fn::If` (`conditions.rs`) and `Fn::GetAtt` (`attributes.rs`)
//! are CloudFormation's, whose template language the guide borrows. The argument shapes are
//! CloudFormation's too: the guide gives none of its own.
//!
//! A value evaluates to a string, a list, any other JSON unchanged, or to nothing:
//! `{"Ref": "AWS::NoValue"}` removes the property or list element that holds it
//! (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html).

mod attributes;
mod conditions;

use crate::error::{Result, ServiceError};
use crate::ids::Partition;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Functions nest; a template that nests deeper than this is refused rather than recursed into.
/// Conditions naming conditions and `Fn::GetAtt` reading another resource count as nesting.
const MAX_DEPTH: usize = 32;

/// The pseudo parameter that stands for no value.
const NO_VALUE: &str = "AWS::NoValue";

pub(super) fn invalid(why: impl std::fmt::Display) -> ServiceError {
    ServiceError::invalid(format!("Invalid registration template. {why}"))
}

/// The sections of a template that functions read.
pub(super) struct Sections<'a> {
    pub mappings: &'a Map<String, Value>,
    pub conditions: &'a Map<String, Value>,
    pub resources: &'a Map<String, Value>,
}

/// What one evaluation resolves: the parameters (given or defaulted), the template's sections,
/// and what it has worked out so far. Conditions and resources are each evaluated once and
/// remembered, so a chain of conditions that each name the previous one twice costs n, not 2^n.
pub(super) struct Scope<'a> {
    values: &'a BTreeMap<String, String>,
    sections: Sections<'a>,
    /// Where the resources are provisioned; only the `Arn` attributes need it.
    partition: Option<&'a Partition>,
    decided: RefCell<BTreeMap<String, bool>>,
    /// The conditions being decided, outermost first: naming one of them again is a cycle.
    deciding: RefCell<Vec<String>>,
    /// Each resource's evaluated properties; `None` when its condition is false.
    evaluated: RefCell<BTreeMap<String, Option<Map<String, Value>>>>,
    /// The resources being evaluated, outermost first.
    evaluating: RefCell<Vec<String>>,
}

/// `names` from the one equal to `name` on, then `name` again: how a cycle closes.
fn cycle(names: &[String], name: &str) -> Option<String> {
    let start = names.iter().position(|n| n == name)?;
    let mut chain: Vec<&str> = names[start..].iter().map(String::as_str).collect();
    chain.push(name);
    Some(chain.join(" -> "))
}

impl<'a> Scope<'a> {
    pub fn new(
        values: &'a BTreeMap<String, String>,
        sections: Sections<'a>,
        partition: Option<&'a Partition>,
    ) -> Scope<'a> {
        Scope {
            values,
            sections,
            partition,
            decided: RefCell::default(),
            deciding: RefCell::default(),
            evaluated: RefCell::default(),
            evaluating: RefCell::default(),
        }
    }
}

impl Scope<'_> {
    fn reference(&self, name: &str) -> Result<String> {
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| invalid(format!("No value for the parameter {name}")))
    }

    /// Evaluates every function in `v`; `None` when `v` is, or chooses, `AWS::NoValue`.
    pub fn eval(&self, v: &Value) -> Result<Option<Value>> {
        self.eval_opt(v, 0)
    }

    /// A value that must be there: `AWS::NoValue` can only remove a property or list element.
    fn eval_at(&self, v: &Value, depth: usize) -> Result<Value> {
        self.eval_opt(v, depth)?.ok_or_else(|| {
            invalid(format!(
                "{NO_VALUE} removes a property or a list element; it is not a value here"
            ))
        })
    }

    fn eval_opt(&self, v: &Value, depth: usize) -> Result<Option<Value>> {
        if depth > MAX_DEPTH {
            return Err(invalid("Functions nest too deep"));
        }
        match v {
            Value::Object(o) if o.len() == 1 => {
                let (k, arg) = o.iter().next().expect("one entry");
                let value = match k.as_str() {
                    "Ref" => return self.ref_(arg, depth),
                    "Fn::If" => return self.if_(arg, depth),
                    "Fn::Join" => self.join(arg, depth)?,
                    "Fn::Select" => self.select(arg, depth)?,
                    "Fn::Split" => self.split(arg, depth)?,
                    "Fn::Sub" => self.sub(arg, depth)?,
                    "Fn::FindInMap" => self.find_in_map(arg, depth)?,
                    "Fn::GetAtt" => self.get_att(arg, depth)?,
                    f @ ("Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or") => {
                        return Err(invalid(format!(
                            "{f} is a condition function: declare the condition in the Conditions section and name it in Fn::If"
                        )))
                    }
                    f if f.starts_with("Fn::") => {
                        return Err(invalid(format!("The function {f} is not supported")))
                    }
                    _ => self.object(o, depth)?,
                };
                Ok(Some(value))
            }
            Value::Object(o) => self.object(o, depth).map(Some),
            Value::Array(items) => self.items(items, depth).map(|i| Some(Value::Array(i))),
            other => Ok(Some(other.clone())),
        }
    }

    /// An object's members, less those that evaluate to `AWS::NoValue`.
    fn object(&self, o: &Map<String, Value>, depth: usize) -> Result<Value> {
        let mut out = Map::new();
        for (k, v) in o {
            if let Some(v) = self.eval_opt(v, depth + 1)? {
                out.insert(k.clone(), v);
            }
        }
        Ok(Value::Object(out))
    }

    /// A list's elements, less those that evaluate to `AWS::NoValue`.
    fn items(&self, items: &[Value], depth: usize) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            out.extend(self.eval_opt(i, depth + 1)?);
        }
        Ok(out)
    }

    /// `{"Ref": name}`: a parameter's value, or nothing for `AWS::NoValue`.
    fn ref_(&self, arg: &Value, depth: usize) -> Result<Option<Value>> {
        let name = self.string(arg, depth)?;
        if name == NO_VALUE {
            return Ok(None);
        }
        self.reference(&name).map(|v| Some(Value::String(v)))
    }

    /// An argument that must evaluate to a string.
    fn string(&self, v: &Value, depth: usize) -> Result<String> {
        match self.eval_at(v, depth + 1)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(invalid(format!("Expected a string, found {other}"))),
        }
    }

    /// An argument that must evaluate to a list.
    fn list(&self, v: &Value, depth: usize) -> Result<Vec<Value>> {
        match self.eval_at(v, depth + 1)? {
            Value::Array(items) => Ok(items),
            other => Err(invalid(format!("Expected a list, found {other}"))),
        }
    }

    fn args<'v>(&self, f: &str, arg: &'v Value, n: usize) -> Result<&'v [Value]> {
        match arg {
            Value::Array(items) if items.len() == n => Ok(items),
            _ => Err(invalid(format!("{f} takes a list of {n} arguments"))),
        }
    }

    /// `{"Fn::Join": [delimiter, [values]]}`.
    fn join(&self, arg: &Value, depth: usize) -> Result<Value> {
        let a = self.args("Fn::Join", arg, 2)?;
        let delim = self.string(&a[0], depth)?;
        let parts = self
            .list(&a[1], depth)?
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(invalid(format!("Fn::Join joins strings, not {other}"))),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Value::String(parts.join(&delim)))
    }

    /// `{"Fn::Select": [index, [values]]}`: "does not check for null values or if the index is
    /// out of bounds of the array. Both conditions result in a provisioning error".
    fn select(&self, arg: &Value, depth: usize) -> Result<Value> {
        let a = self.args("Fn::Select", arg, 2)?;
        let index: usize = self
            .string(&a[0], depth)?
            .parse()
            .map_err(|_| invalid("Fn::Select takes an index that is a number"))?;
        let items = self.list(&a[1], depth)?;
        match items.get(index) {
            Some(Value::Null) | None => Err(invalid(format!(
                "Fn::Select index {index} is out of bounds or null"
            ))),
            Some(v) => Ok(v.clone()),
        }
    }

    /// `{"Fn::Split": [delimiter, string]}`.
    fn split(&self, arg: &Value, depth: usize) -> Result<Value> {
        let a = self.args("Fn::Split", arg, 2)?;
        let delim = self.string(&a[0], depth)?;
        if delim.is_empty() {
            return Err(invalid("Fn::Split needs a delimiter"));
        }
        let s = self.string(&a[1], depth)?;
        Ok(Value::Array(
            s.split(delim.as_str())
                .map(|p| Value::String(p.to_string()))
                .collect(),
        ))
    }

    /// `{"Fn::Sub": "text ${Name}"}` or `{"Fn::Sub": ["text ${Name}", {"Name": value}]}`;
    /// `${!Literal}` writes `${Literal}`, and `${LogicalId.Attribute}` is `Fn::GetAtt`'s value.
    fn sub(&self, arg: &Value, depth: usize) -> Result<Value> {
        let (text, vars) = match arg {
            Value::String(s) => (s.clone(), BTreeMap::new()),
            Value::Array(a) if a.len() == 2 => {
                let text = self.string(&a[0], depth)?;
                let Value::Object(m) = &a[1] else {
                    return Err(invalid("Fn::Sub takes a string and a map of variables"));
                };
                let mut vars = BTreeMap::new();
                for (k, v) in m {
                    vars.insert(k.clone(), self.string(v, depth)?);
                }
                (text, vars)
            }
            _ => return Err(invalid("Fn::Sub takes a string, or a string and a map")),
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| invalid("Fn::Sub has an unclosed ${"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else {
                out.push_str(&self.variable(name, depth)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Value::String(out))
    }

    /// A `${name}` of `Fn::Sub`: a parameter, else a resource's attribute.
    fn variable(&self, name: &str, depth: usize) -> Result<String> {
        if !self.values.contains_key(name) {
            if let Some((id, attribute)) = name.split_once('.') {
                if self.sections.resources.contains_key(id) {
                    return self.attribute(id, attribute, depth);
                }
            }
        }
        self.reference(name)
    }

    /// `{"Fn::FindInMap": [map, top key, second key]}` over the `Mappings` section.
    fn find_in_map(&self, arg: &Value, depth: usize) -> Result<Value> {
        let a = self.args("Fn::FindInMap", arg, 3)?;
        let (map, top, key) = (
            self.string(&a[0], depth)?,
            self.string(&a[1], depth)?,
            self.string(&a[2], depth)?,
        );
        self.sections
            .mappings
            .get(&map)
            .and_then(|m| m.get(&top))
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| invalid(format!("Fn::FindInMap found nothing at {map}.{top}.{key}")))
    }
}
