//! The `Condition` element: operators, compiled once, tested per request.
//!
//! Semantics follow the IAM reference, which AWS IoT policies share
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>):
//!
//! - Several values for one key are OR'ed; several keys, and several
//!   operators, are AND'ed.
//! - A key missing from the request makes a condition false, except that a
//!   negated operator (`StringNotEquals`, `ArnNotLike`, `NotIpAddress`, ...)
//!   is then true, `...IfExists` is then true, and `Null` tests exactly for
//!   the key's absence.
//! - Policy variables may appear in the values of string, ARN and `Bool`
//!   operators only.
//! - `ForAnyValue:` and `ForAllValues:` test every value of a multi-valued key
//!   such as `iot:ConnectAttributes`
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html>,
//!   <https://docs.aws.amazon.com/iot/latest/developerguide/connect-policy.html>):
//!   `ForAnyValue` holds when at least one request value passes and is false
//!   without values; `ForAllValues` holds when every request value passes,
//!   and so also when there are none. Single-valued contexts see them as the
//!   plain operator with those empty-set rules.

use std::net::IpAddr;

use serde_json::Value;

use crate::cidr::Cidr;
use crate::context::{canonical_key, strip_prefix_ignore_case, Context};
use crate::date::parse_instant;
use crate::error::PolicyError;
use crate::pattern::{split_arn, Outcome, Pattern, Syntax};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Equals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

impl Compare {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Compare::Equals => request == policy,
            Compare::LessThan => request < policy,
            Compare::LessThanEquals => request <= policy,
            Compare::GreaterThan => request > policy,
            Compare::GreaterThanEquals => request >= policy,
        }
    }
}

/// An ARN value for the `Arn...` operators: IAM compares each of the six
/// colon-separated components on its own, so `*` never crosses a colon and
/// a value with another number of components does not match. A value without
/// any colon (such as `*`) is matched against the whole ARN.
#[derive(Debug, Clone)]
enum ArnPattern {
    Components(Vec<Pattern>),
    Whole(Pattern),
}

impl ArnPattern {
    fn matches(&self, value: &str, ctx: &dyn Context) -> Outcome {
        match self {
            ArnPattern::Whole(pattern) => pattern.matches(value, ctx),
            ArnPattern::Components(components) => {
                let mut parts = value.splitn(6, ':');
                for component in components {
                    let Some(part) = parts.next() else {
                        return Outcome::NoMatch;
                    };
                    match component.matches(part, ctx) {
                        Outcome::Match => {}
                        other => return other,
                    }
                }
                if parts.next().is_some() {
                    return Outcome::NoMatch;
                }
                Outcome::Match
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Test {
    /// String operators; the syntax of each pattern carries Equals/Like and
    /// IgnoreCase.
    String(Vec<Pattern>),
    Arn(Vec<ArnPattern>),
    /// Compared without regard to case, as `true`/`false`.
    Bool(Vec<Pattern>),
    Numeric(Compare, Vec<f64>),
    Date(Compare, Vec<i64>),
    Ip(Vec<Cidr>),
    /// Base64 text, compared as written.
    Binary(Vec<Box<str>>),
    /// `true` asks for the key to be absent, `false` for it to be present.
    Null(Vec<bool>),
}

/// One key under one operator.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    key: Box<str>,
    qualifier: Qualifier,
    if_exists: bool,
    negated: bool,
    test: Test,
}

/// Every operator name, without qualifier or `IfExists`.
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

/// Compiles a whole `Condition` block.
pub(crate) fn compile_block(block: &Value, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(operators) = block else {
        return Err(PolicyError::malformed("Condition must be a JSON object"));
    };
    let mut conditions = Vec::new();
    for (operator, keys) in operators {
        let Value::Object(keys) = keys else {
            return Err(PolicyError::malformed(format!(
                "condition operator {operator} must map keys to values"
            )));
        };
        for (key, values) in keys {
            conditions.push(compile(operator, key, values, variables)?);
        }
    }
    Ok(conditions)
}

fn compile(
    operator: &str,
    key: &str,
    values: &Value,
    variables: bool,
) -> Result<Condition, PolicyError> {
    let unknown = || PolicyError::malformed(format!("unknown condition operator \"{operator}\""));
    let (qualifier, rest) = if let Some(rest) = strip_prefix_ignore_case(operator, "ForAnyValue:") {
        (Qualifier::ForAnyValue, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(operator, "ForAllValues:") {
        (Qualifier::ForAllValues, rest)
    } else {
        (Qualifier::Single, operator)
    };
    let known = |name: &str| {
        OPERATORS
            .iter()
            .find(|op| op.eq_ignore_ascii_case(name))
            .copied()
    };
    let (base, if_exists) = match known(rest) {
        Some(base) => (base, false),
        None => {
            let cut = rest
                .len()
                .checked_sub("IfExists".len())
                .ok_or_else(unknown)?;
            let (head, tail) = (rest.get(..cut), rest.get(cut..));
            match (head.and_then(known), tail) {
                // IAM allows IfExists on every operator but Null.
                (Some(base), Some(tail))
                    if tail.eq_ignore_ascii_case("IfExists") && base != "Null" =>
                {
                    (base, true)
                }
                _ => return Err(unknown()),
            }
        }
    };
    if key.is_empty() {
        return Err(PolicyError::malformed(format!(
            "condition operator {operator} has an empty key"
        )));
    }
    let texts = condition_values(operator, key, values)?;
    let invalid = |text: &str| {
        PolicyError::malformed(format!(
            "invalid value \"{text}\" for condition {operator} on {key}"
        ))
    };
    let string_syntax = |wildcards, ignore_case| Syntax {
        wildcards,
        variables,
        ignore_case,
    };
    let strings = |syntax: Syntax| texts.iter().map(|t| Pattern::compile(t, syntax)).collect();
    let numbers = || -> Result<Vec<f64>, PolicyError> {
        texts
            .iter()
            .map(|t| parse_number(t).ok_or_else(|| invalid(t)))
            .collect()
    };
    let dates = || -> Result<Vec<i64>, PolicyError> {
        texts
            .iter()
            .map(|t| parse_instant(t).ok_or_else(|| invalid(t)))
            .collect()
    };
    let compare = |name: &str| {
        let suffixes = [
            ("LessThan", Compare::LessThan),
            ("LessThanEquals", Compare::LessThanEquals),
            ("GreaterThan", Compare::GreaterThan),
            ("GreaterThanEquals", Compare::GreaterThanEquals),
        ];
        suffixes
            .iter()
            .find(|(suffix, _)| name.ends_with(suffix))
            .map_or(Compare::Equals, |(_, compare)| *compare)
    };
    let negated = matches!(
        base,
        "StringNotEquals"
            | "StringNotEqualsIgnoreCase"
            | "StringNotLike"
            | "NumericNotEquals"
            | "DateNotEquals"
            | "NotIpAddress"
            | "ArnNotEquals"
            | "ArnNotLike"
    );
    let test = match base {
        "StringEquals" | "StringNotEquals" => Test::String(strings(string_syntax(false, false))),
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
            Test::String(strings(string_syntax(false, true)))
        }
        "StringLike" | "StringNotLike" => Test::String(strings(string_syntax(true, false))),
        "Bool" => {
            // Without variables the value can be checked now; IAM's Bool
            // compares "true"/"false".
            let patterns: Vec<Pattern> = strings(string_syntax(false, true));
            for (text, pattern) in texts.iter().zip(&patterns) {
                if !pattern.has_variables()
                    && !pattern.matches_plain("true")
                    && !pattern.matches_plain("false")
                {
                    return Err(invalid(text));
                }
            }
            Test::Bool(patterns)
        }
        "ArnEquals" | "ArnLike" | "ArnNotEquals" | "ArnNotLike" => Test::Arn(
            texts
                .iter()
                .map(|t| {
                    let components = split_arn(t, variables);
                    if components.len() > 1 {
                        ArnPattern::Components(
                            components
                                .iter()
                                .map(|c| Pattern::compile(c, string_syntax(true, false)))
                                .collect(),
                        )
                    } else {
                        ArnPattern::Whole(Pattern::compile(t, string_syntax(true, false)))
                    }
                })
                .collect(),
        ),
        "IpAddress" | "NotIpAddress" => Test::Ip(
            texts
                .iter()
                .map(|t| Cidr::parse(t).ok_or_else(|| invalid(t)))
                .collect::<Result<_, _>>()?,
        ),
        "BinaryEquals" => Test::Binary(texts.iter().map(|t| t.clone().into_boxed_str()).collect()),
        "Null" => Test::Null(
            texts
                .iter()
                .map(|t| match t.to_ascii_lowercase().as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(invalid(t)),
                })
                .collect::<Result<_, _>>()?,
        ),
        numeric if numeric.starts_with("Numeric") => Test::Numeric(compare(numeric), numbers()?),
        date if date.starts_with("Date") => Test::Date(compare(date), dates()?),
        _ => return Err(unknown()),
    };
    Ok(Condition {
        key: canonical_key(key).into_boxed_str(),
        qualifier,
        if_exists,
        negated,
        test,
    })
}

/// The values under a key: one scalar or an array of them (possibly empty:
/// AWS's own `ForAllValues:StringEquals` example lists none). Numbers and
/// booleans are taken as their JSON text.
fn condition_values(operator: &str, key: &str, values: &Value) -> Result<Vec<String>, PolicyError> {
    let scalar = |value: &Value| match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(PolicyError::malformed(format!(
            "condition {operator} on {key} must have string, number or boolean values"
        ))),
    };
    match values {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

/// Integers and decimals, as IAM's numeric operators take them; not `NaN`
/// or `inf`, which Rust's float parser would accept.
fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let plausible = !digits.is_empty()
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.');
    if !plausible {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

impl Condition {
    /// Whether the condition holds for the request.
    /// The condition key, in the documented spelling when AWS defines it.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The context keys the values' policy variables read.
    pub(crate) fn variable_keys(&self) -> Vec<&str> {
        match &self.test {
            Test::String(patterns) | Test::Bool(patterns) => {
                patterns.iter().flat_map(|p| p.variable_keys()).collect()
            }
            Test::Arn(patterns) => patterns
                .iter()
                .flat_map(|a| match a {
                    ArnPattern::Whole(p) => p.variable_keys().collect::<Vec<_>>(),
                    ArnPattern::Components(ps) => {
                        ps.iter().flat_map(|p| p.variable_keys()).collect()
                    }
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn holds(&self, ctx: &dyn Context) -> bool {
        if let Test::Null(wanted) = &self.test {
            let absent = match self.qualifier {
                Qualifier::Single => ctx.get(&self.key).is_none(),
                _ => !ctx.for_each_value(&self.key, &mut |_| false),
            };
            return wanted.contains(&absent);
        }
        match self.qualifier {
            Qualifier::Single => match ctx.get(&self.key) {
                Some(value) => self.test_value(value, ctx),
                None => self.if_exists || self.negated,
            },
            Qualifier::ForAnyValue => {
                let mut any = false;
                let present = ctx.for_each_value(&self.key, &mut |value| {
                    any = self.test_value(value, ctx);
                    !any
                });
                any || (!present && self.if_exists)
            }
            Qualifier::ForAllValues => {
                let mut all = true;
                ctx.for_each_value(&self.key, &mut |value| {
                    all = self.test_value(value, ctx);
                    all
                });
                all
            }
        }
    }

    /// Tests one request value against the policy values (OR'ed), then
    /// applies the operator's negation.
    ///
    /// A policy value whose variable cannot be resolved never matches; for a
    /// negated operator it makes the test fail instead of pass, since IAM
    /// treats a statement with an unresolvable variable as not applying.
    fn test_value(&self, value: &str, ctx: &dyn Context) -> bool {
        let matched = match &self.test {
            Test::String(patterns) | Test::Bool(patterns) => {
                return self.fold(patterns.iter().map(|p| p.matches(value, ctx)));
            }
            Test::Arn(patterns) => {
                return self.fold(patterns.iter().map(|p| p.matches(value, ctx)));
            }
            Test::Numeric(compare, numbers) => match parse_number(value) {
                Some(n) => numbers.iter().any(|want| compare.holds(n, *want)),
                None => return false,
            },
            Test::Date(compare, instants) => match parse_instant(value) {
                Some(t) => instants.iter().any(|want| compare.holds(t, *want)),
                None => return false,
            },
            Test::Ip(ranges) => match value.trim().parse::<IpAddr>() {
                Ok(ip) => ranges.iter().any(|r| r.contains(ip)),
                Err(_) => return false,
            },
            Test::Binary(values) => values.iter().any(|v| **v == *value),
            Test::Null(_) => return false,
        };
        matched != self.negated
    }

    /// ORs the outcomes of the policy values, then negates if needed; an
    /// unresolved value can only make the result false.
    fn fold(&self, outcomes: impl Iterator<Item = Outcome>) -> bool {
        let mut unresolved = false;
        for outcome in outcomes {
            match outcome {
                Outcome::Match => return !self.negated,
                Outcome::Unresolved => unresolved = true,
                Outcome::NoMatch => {}
            }
        }
        self.negated && !unresolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::MapContext;

    fn cond(json: &str) -> Vec<Condition> {
        let value: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        compile_block(&value, true).unwrap_or_else(|e| panic!("{e}"))
    }

    fn holds(json: &str, ctx: &MapContext) -> bool {
        cond(json).iter().all(|c| c.holds(ctx))
    }

    fn rejected(json: &str) -> bool {
        let value: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        compile_block(&value, true).is_err()
    }

    #[test]
    fn string_operators() {
        let ctx = MapContext::new().with("k", "Hello*");
        assert!(holds(r#"{"StringEquals": {"k": "Hello*"}}"#, &ctx));
        assert!(!holds(r#"{"StringEquals": {"k": "Hello"}}"#, &ctx));
        assert!(!holds(r#"{"StringEquals": {"k": "hello*"}}"#, &ctx));
        assert!(holds(r#"{"StringEquals": {"k": ["x", "Hello*"]}}"#, &ctx));
        assert!(holds(r#"{"StringNotEquals": {"k": ["x", "y"]}}"#, &ctx));
        assert!(!holds(
            r#"{"StringNotEquals": {"k": ["x", "Hello*"]}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"StringEqualsIgnoreCase": {"k": "HELLO*"}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"StringNotEqualsIgnoreCase": {"k": "hello*"}}"#,
            &ctx
        ));
        assert!(holds(r#"{"StringLike": {"k": "H?llo*"}}"#, &ctx));
        assert!(!holds(r#"{"StringLike": {"k": "h*"}}"#, &ctx));
        assert!(holds(r#"{"StringNotLike": {"k": "h*"}}"#, &ctx));
    }

    #[test]
    fn missing_keys() {
        let ctx = MapContext::new();
        assert!(!holds(r#"{"StringEquals": {"k": "v"}}"#, &ctx));
        assert!(holds(r#"{"StringNotEquals": {"k": "v"}}"#, &ctx));
        assert!(holds(r#"{"StringEqualsIfExists": {"k": "v"}}"#, &ctx));
        assert!(holds(
            r#"{"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
            &ctx
        ));
        assert!(holds(r#"{"Null": {"k": "true"}}"#, &ctx));
        assert!(!holds(r#"{"Null": {"k": "false"}}"#, &ctx));
        let present = MapContext::new().with("k", "w");
        assert!(!holds(r#"{"StringEqualsIfExists": {"k": "v"}}"#, &present));
        assert!(holds(r#"{"Null": {"k": "false"}}"#, &present));
    }

    #[test]
    fn keys_and_operators_are_anded() {
        let ctx = MapContext::new().with("a", "1").with("b", "2");
        assert!(holds(r#"{"StringEquals": {"a": "1", "b": "2"}}"#, &ctx));
        assert!(!holds(r#"{"StringEquals": {"a": "1", "b": "3"}}"#, &ctx));
        assert!(holds(
            r#"{"StringEquals": {"a": "1"}, "NumericEquals": {"b": 2}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"StringEquals": {"a": "1"}, "NumericEquals": {"b": 3}}"#,
            &ctx
        ));
    }

    #[test]
    fn variables_in_values() {
        let ctx = MapContext::new()
            .with("iot:ClientId", "dev-1")
            .with("iot:Connection.Thing.ThingName", "dev-1");
        assert!(holds(
            r#"{"StringEquals": {"iot:ClientId": "${iot:Connection.Thing.ThingName}"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"StringLike": {"iot:ClientId": "${iot:Connection.Thing.ThingName}*"}}"#,
            &ctx
        ));
        // Unresolvable: neither the positive nor the negated form holds.
        assert!(!holds(
            r#"{"StringEquals": {"iot:ClientId": "${iot:Nope}"}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"StringNotEquals": {"iot:ClientId": "${iot:Nope}"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"StringEquals": {"iot:ClientId": ["${iot:Nope}", "dev-1"]}}"#,
            &ctx
        ));
    }

    #[test]
    fn numeric_date_bool_binary() {
        let ctx = MapContext::new()
            .with("n", "10")
            .with("aws:CurrentTime", "2024-05-01T12:00:00Z")
            .with("aws:EpochTime", "1714564800")
            .with("iot:Connection.Thing.IsAttached", "TRUE")
            .with("b", "QmluYXJ5");
        assert!(holds(r#"{"NumericEquals": {"n": "10.0"}}"#, &ctx));
        assert!(holds(r#"{"NumericLessThanEquals": {"n": 10}}"#, &ctx));
        assert!(!holds(r#"{"NumericLessThan": {"n": 10}}"#, &ctx));
        assert!(holds(r#"{"NumericGreaterThan": {"n": "9.5"}}"#, &ctx));
        assert!(holds(r#"{"NumericGreaterThanEquals": {"n": "10"}}"#, &ctx));
        assert!(holds(r#"{"NumericNotEquals": {"n": ["1", "2"]}}"#, &ctx));
        assert!(holds(
            r#"{"DateLessThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"DateEquals": {"aws:EpochTime": "2024-05-01T12:00:00Z"}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2025-01-01"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"Bool": {"iot:Connection.Thing.IsAttached": "true"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"Bool": {"iot:Connection.Thing.IsAttached": true}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"Bool": {"iot:Connection.Thing.IsAttached": "false"}}"#,
            &ctx
        ));
        assert!(holds(r#"{"BinaryEquals": {"b": "QmluYXJ5"}}"#, &ctx));
        let bad = MapContext::new().with("n", "ten");
        assert!(!holds(r#"{"NumericEquals": {"n": "10"}}"#, &bad));
        assert!(!holds(r#"{"NumericNotEquals": {"n": "10"}}"#, &bad));
    }

    #[test]
    fn ip_addresses() {
        let ctx = MapContext::new().with("aws:SourceIp", "203.0.113.9");
        assert!(holds(
            r#"{"IpAddress": {"aws:SourceIp": ["198.51.100.0/24", "203.0.113.0/24"]}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"NotIpAddress": {"aws:SourceIp": "2001:db8::/32"}}"#,
            &ctx
        ));
        let junk = MapContext::new().with("aws:SourceIp", "not-an-ip");
        assert!(!holds(
            r#"{"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#,
            &junk
        ));
    }

    #[test]
    fn arn_operators_match_component_by_component() {
        let ctx = MapContext::new().with(
            "iot:LastWillTopic",
            "arn:aws:iot:us-east-1:123456789012:topic/my/lastwill/topicName",
        );
        assert!(holds(
            r#"{"ArnEquals": {"iot:LastWillTopic": "arn:aws:iot:*:*:topic/*my/lastwill/topicName*"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"ArnLike": {"iot:LastWillTopic": "arn:aws:iot:us-east-?:*:topic/my/*"}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"ArnLike": {"iot:LastWillTopic": "arn:aws:iot:*:topic/my/*"}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"ArnNotLike": {"iot:LastWillTopic": "arn:aws:iot:*:*:topic/other/*"}}"#,
            &ctx
        ));
        // The documented difference from StringLike: * does not cross ':'.
        let tricky = MapContext::new().with(
            "k",
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
        );
        assert!(holds(
            r#"{"StringLike": {"k": "arn:aws:someservice:*:111122223333:finance/*"}}"#,
            &tricky
        ));
        assert!(!holds(
            r#"{"ArnLike": {"k": "arn:aws:someservice:*:111122223333:finance/*"}}"#,
            &tricky
        ));
    }

    #[test]
    fn operator_names() {
        assert!(rejected(r#"{"StringEqualz": {"k": "v"}}"#));
        assert!(rejected(r#"{"NullIfExists": {"k": "true"}}"#));
        assert!(rejected(r#"{"ForSomeValues:StringEquals": {"k": "v"}}"#));
        assert!(rejected(r#"{"IfExists": {"k": "v"}}"#));
        assert!(!rejected(r#"{"stringequals": {"k": "v"}}"#));
        assert!(!rejected(
            r#"{"ForAnyValue:StringLikeIfExists": {"k": "v"}}"#
        ));
    }

    #[test]
    fn invalid_values() {
        assert!(rejected(r#"{"NumericEquals": {"k": "ten"}}"#));
        assert!(rejected(r#"{"NumericEquals": {"k": "NaN"}}"#));
        assert!(rejected(r#"{"DateEquals": {"k": "soon"}}"#));
        assert!(rejected(r#"{"IpAddress": {"k": "10.0.0.0/99"}}"#));
        assert!(rejected(r#"{"Null": {"k": "maybe"}}"#));
        assert!(rejected(r#"{"Bool": {"k": "yes"}}"#));
        assert!(rejected(r#"{"StringEquals": {"k": {"nested": 1}}}"#));
        assert!(rejected(r#"{"StringEquals": {"k": [null]}}"#));
        assert!(rejected(r#"{"StringEquals": "v"}"#));
        assert!(rejected(r#"{"StringEquals": {"": "v"}}"#));
        assert!(rejected(r#"[]"#));
        assert!(!rejected(r#"{"Bool": {"k": "${iot:Other}"}}"#));
    }

    /// A context with one multi-valued key, like `iot:ConnectAttributes`.
    struct Attributes(Vec<&'static str>);

    impl Context for Attributes {
        fn get(&self, key: &str) -> Option<&str> {
            (key == "iot:ConnectAttributes")
                .then(|| self.0.first().copied())
                .flatten()
        }

        fn for_each_value(&self, key: &str, visit: &mut dyn FnMut(&str) -> bool) -> bool {
            if key != "iot:ConnectAttributes" {
                return false;
            }
            for v in &self.0 {
                if !visit(v) {
                    break;
                }
            }
            true
        }
    }

    #[test]
    fn set_qualifiers() {
        let all = cond(
            r#"{"ForAllValues:StringEquals": {"iot:ConnectAttributes": ["PersistentConnect", "LastWill"]}}"#,
        );
        let any = cond(
            r#"{"ForAnyValue:StringEquals": {"iot:ConnectAttributes": ["PersistentConnect"]}}"#,
        );
        let none = cond(r#"{"ForAllValues:StringEquals": {"iot:ConnectAttributes": []}}"#);
        let not_all = cond(
            r#"{"ForAllValues:StringNotEquals": {"iot:ConnectAttributes": ["PersistentConnect"]}}"#,
        );
        let both = Attributes(vec!["PersistentConnect", "LastWill"]);
        let persistent = Attributes(vec!["PersistentConnect"]);
        let other = Attributes(vec!["PersistentConnect", "Shiny"]);
        let clean = Attributes(vec![]);
        let check = |c: &[Condition], ctx: &Attributes| c.iter().all(|c| c.holds(ctx));
        assert!(check(&all, &both));
        assert!(check(&all, &persistent));
        assert!(!check(&all, &other));
        assert!(check(&all, &clean));
        assert!(check(&any, &both));
        assert!(!check(&any, &clean));
        assert!(!check(&any, &Attributes(vec!["LastWill"])));
        assert!(check(&none, &clean));
        assert!(!check(&none, &persistent));
        assert!(check(&not_all, &Attributes(vec!["LastWill"])));
        assert!(!check(&not_all, &both));
        let null = cond(r#"{"ForAnyValue:Null": {"iot:ConnectAttributes": "false"}}"#);
        assert!(check(&null, &clean));
    }
}
