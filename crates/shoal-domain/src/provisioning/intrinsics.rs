//! The intrinsic functions of provisioning templates, as the developer guide lists them:
//! `Ref`, `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::Sub` and `Fn::FindInMap`. Their argument
//! shapes are CloudFormation's (the guide's text comes from there and gives none of its own).
//! A value evaluates to a string, a list, or (unchanged) any other JSON.

use crate::error::{Result, ServiceError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Functions nest; a template that nests deeper than this is refused rather than recursed into.
const MAX_DEPTH: usize = 32;

pub(super) fn invalid(why: impl std::fmt::Display) -> ServiceError {
    ServiceError::invalid(format!("Invalid registration template. {why}"))
}

/// What `Ref` and `${...}` resolve: the parameters (given or defaulted) and the mappings.
pub(super) struct Scope<'a> {
    pub values: &'a BTreeMap<String, String>,
    pub mappings: &'a Map<String, Value>,
}

impl Scope<'_> {
    fn reference(&self, name: &str) -> Result<String> {
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| invalid(format!("No value for the parameter {name}")))
    }

    /// Evaluates every function in `v`.
    pub fn eval(&self, v: &Value) -> Result<Value> {
        self.eval_at(v, 0)
    }

    fn eval_at(&self, v: &Value, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(invalid("Functions nest too deep"));
        }
        match v {
            Value::Object(o) if o.len() == 1 => {
                let (k, arg) = o.iter().next().expect("one entry");
                match k.as_str() {
                    "Ref" => Ok(Value::String(
                        self.reference(self.string(arg, depth)?.as_str())?,
                    )),
                    "Fn::Join" => self.join(arg, depth),
                    "Fn::Select" => self.select(arg, depth),
                    "Fn::Split" => self.split(arg, depth),
                    "Fn::Sub" => self.sub(arg, depth),
                    "Fn::FindInMap" => self.find_in_map(arg, depth),
                    f if f.starts_with("Fn::") => {
                        Err(invalid(format!("The function {f} is not supported")))
                    }
                    _ => self.object(o, depth),
                }
            }
            Value::Object(o) => self.object(o, depth),
            Value::Array(items) => Ok(Value::Array(
                items
                    .iter()
                    .map(|i| self.eval_at(i, depth + 1))
                    .collect::<Result<_>>()?,
            )),
            other => Ok(other.clone()),
        }
    }

    fn object(&self, o: &Map<String, Value>, depth: usize) -> Result<Value> {
        let mut out = Map::new();
        for (k, v) in o {
            out.insert(k.clone(), self.eval_at(v, depth + 1)?);
        }
        Ok(Value::Object(out))
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
    /// `${!Literal}` writes `${Literal}`.
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
            } else {
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&self.reference(name)?),
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Value::String(out))
    }

    /// `{"Fn::FindInMap": [map, top key, second key]}` over the `Mappings` section.
    fn find_in_map(&self, arg: &Value, depth: usize) -> Result<Value> {
        let a = self.args("Fn::FindInMap", arg, 3)?;
        let (map, top, key) = (
            self.string(&a[0], depth)?,
            self.string(&a[1], depth)?,
            self.string(&a[2], depth)?,
        );
        self.mappings
            .get(&map)
            .and_then(|m| m.get(&top))
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| invalid(format!("Fn::FindInMap found nothing at {map}.{top}.{key}")))
    }
}
