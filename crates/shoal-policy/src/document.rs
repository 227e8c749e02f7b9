//! Parsing and validating a policy document (JSON text) into a [`Policy`].
//!
//! The grammar is IAM's, which AWS IoT policies follow
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html>,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>):
//! a JSON object with an optional `Version` and `Id` and a `Statement` that is
//! one statement object or a non-empty array of them. Each statement has an
//! `Effect`, exactly one of `Action`/`NotAction`, exactly one of
//! `Resource`/`NotResource`, and optionally `Condition` and `Sid`. IoT policies
//! are attached to principals, so `Principal` has no place in them. Anything
//! else is refused, as AWS answers `MalformedPolicyException`.

use serde_json::{Map, Value};

use crate::actions::ActionSet;
use crate::condition::compile_block;
use crate::error::PolicyError;
use crate::evaluate::{Effect, Policy, ResourceSet, Statement};
use crate::pattern::{Pattern, Syntax};

/// `CreatePolicy` and `CreatePolicyVersion` limit the document to 2048
/// characters, whitespace excluded
/// (<https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicy.html>).
pub const MAX_DOCUMENT_CHARS: usize = 2048;

/// The policy language versions. Variables exist only in 2012-10-17; a
/// document without `Version` is 2008-10-17, where `${...}` is plain text
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html>).
const VERSION_2012: &str = "2012-10-17";
const VERSION_2008: &str = "2008-10-17";

/// Parses and validates an IoT policy document (JSON text).
pub fn parse(document: &str) -> Result<Policy, PolicyError> {
    let length = document.chars().filter(|c| !c.is_whitespace()).count();
    if length == 0 {
        return Err(PolicyError::malformed("the document is empty"));
    }
    if length > MAX_DOCUMENT_CHARS {
        return Err(PolicyError::malformed(format!(
            "the document has {length} characters excluding whitespace; at most {MAX_DOCUMENT_CHARS} are allowed"
        )));
    }
    let value: Value = serde_json::from_str(document)
        .map_err(|e| PolicyError::malformed(format!("invalid JSON ({e})")))?;
    let Value::Object(top) = value else {
        return Err(PolicyError::malformed("the document must be a JSON object"));
    };
    only_keys(&top, &["Version", "Id", "Statement"], "the document")?;
    let variables = match top.get("Version") {
        None => false,
        Some(Value::String(v)) if v == VERSION_2012 => true,
        Some(Value::String(v)) if v == VERSION_2008 => false,
        Some(other) => {
            return Err(PolicyError::malformed(format!(
                "Version must be \"{VERSION_2012}\" or \"{VERSION_2008}\", not {other}"
            )))
        }
    };
    if let Some(id) = top.get("Id") {
        if !id.is_string() {
            return Err(PolicyError::malformed("Id must be a string"));
        }
    }
    let statements: Vec<&Value> = match top.get("Statement") {
        None => return Err(PolicyError::malformed("the document has no Statement")),
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(PolicyError::malformed("Statement must not be empty"))
        }
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => {
            return Err(PolicyError::malformed(
                "Statement must be an object or an array of objects",
            ))
        }
    };
    let mut policy = Policy {
        denies: Vec::new(),
        allows: Vec::new(),
    };
    for (i, statement) in statements.into_iter().enumerate() {
        let (effect, statement) = parse_statement(statement, i, variables)?;
        match effect {
            Effect::Deny => policy.denies.push(statement),
            Effect::Allow => policy.allows.push(statement),
        }
    }
    Ok(policy)
}

fn parse_statement(
    value: &Value,
    index: usize,
    variables: bool,
) -> Result<(Effect, Statement), PolicyError> {
    let Value::Object(fields) = value else {
        return Err(PolicyError::malformed(format!(
            "statement {index} must be a JSON object"
        )));
    };
    let at = |detail: String| PolicyError::malformed(format!("statement {index}: {detail}"));
    only_keys(
        fields,
        &[
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ],
        &format!("statement {index}"),
    )?;
    if let Some(sid) = fields.get("Sid") {
        if !sid.is_string() {
            return Err(at("Sid must be a string".into()));
        }
    }
    let effect = match fields.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(at(format!(
                "Effect must be \"Allow\" or \"Deny\", not {other}"
            )))
        }
        None => return Err(at("Effect is missing".into())),
    };

    let (action_key, negated) = one_of(fields, "Action", "NotAction").map_err(at)?;
    let actions = strings(fields, action_key).map_err(at)?;
    let actions = ActionSet::compile(&actions, negated).map_err(|e| at(detail_of(&e)))?;

    let (resource_key, negated) = one_of(fields, "Resource", "NotResource").map_err(at)?;
    let resources = strings(fields, resource_key).map_err(at)?;
    let syntax = Syntax {
        wildcards: true,
        variables,
        ignore_case: false,
    };
    let mut patterns = Vec::with_capacity(resources.len());
    for resource in resources {
        // IoT resources are ARNs (arn:aws:iot:region:account:type/name) or
        // "*" (https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html).
        if resource != "*" && !resource.starts_with("arn:") {
            return Err(at(format!(
                "{resource_key} \"{resource}\" must be an ARN or \"*\""
            )));
        }
        patterns.push(Pattern::compile(resource, syntax));
    }
    let resources = ResourceSet { patterns, negated };

    let conditions = match fields.get("Condition") {
        Some(block) => compile_block(block, variables).map_err(|e| at(detail_of(&e)))?,
        None => Vec::new(),
    };
    Ok((
        effect,
        Statement {
            actions,
            resources,
            conditions,
        },
    ))
}

/// Which of two mutually exclusive elements is present, and whether it is
/// the negated one.
fn one_of<'k>(
    fields: &Map<String, Value>,
    plain: &'k str,
    negated: &'k str,
) -> Result<(&'k str, bool), String> {
    match (fields.contains_key(plain), fields.contains_key(negated)) {
        (true, false) => Ok((plain, false)),
        (false, true) => Ok((negated, true)),
        (true, true) => Err(format!("{plain} and {negated} cannot both be present")),
        (false, false) => Err(format!("{plain} or {negated} is required")),
    }
}

/// A string or a non-empty array of non-empty strings.
fn strings<'v>(fields: &'v Map<String, Value>, key: &str) -> Result<Vec<&'v str>, String> {
    let non_empty = |s: &'v str| {
        if s.is_empty() {
            Err(format!("{key} must not contain an empty string"))
        } else {
            Ok(s)
        }
    };
    match fields.get(key) {
        Some(Value::String(s)) => Ok(vec![non_empty(s)?]),
        Some(Value::Array(items)) if items.is_empty() => Err(format!("{key} must not be empty")),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => non_empty(s),
                _ => Err(format!("{key} must contain only strings")),
            })
            .collect(),
        _ => Err(format!("{key} must be a string or an array of strings")),
    }
}

fn only_keys(fields: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), PolicyError> {
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(PolicyError::malformed(format!(
            "{what} has an unknown element \"{unknown}\""
        ))),
        None => Ok(()),
    }
}

/// The detail of a nested error, to prefix it with the statement number.
fn detail_of(error: &PolicyError) -> String {
    error
        .message
        .strip_prefix("Policy document is malformed: ")
        .unwrap_or(&error.message)
        .to_string()
}
