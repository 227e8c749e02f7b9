//! Substitution templates (iot-substitution-templates.html): `${expression}` inside a rule
//! action's fields, such as a republish topic `${topic()}/republish`. An expression is
//! evaluated against the original message, not the SELECT's output (AWS: "you cannot
//! reference an alias created using the AS clause"). `$$` stands for one `$`, which is how a
//! republish action names a reserved topic (`$$aws/things/...`, republish-rule-action.html).

use crate::ast::{Expr, SqlVersion};
use crate::error::{EvalError, ParseError};
use crate::eval::{Context, Evaluator};
use crate::parser;

/// Longest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// Most `${...}` expressions in one template.
pub const MAX_TEMPLATE_EXPRESSIONS: usize = 64;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Literal(String),
    Expr(Expr),
}

/// A parsed substitution template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub version: SqlVersion,
    pub parts: Vec<Part>,
}

impl Template {
    /// Splits `text` into literal text and `${...}` expressions, each parsed as a SELECT
    /// expression is.
    pub fn parse(text: &str, version: SqlVersion) -> Result<Template, ParseError> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(ParseError::new(
                0,
                format!("the template is longer than {MAX_TEMPLATE_BYTES} bytes"),
            ));
        }
        let chars: Vec<char> = text.chars().collect();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut exprs = 0;
        let mut i = 0;
        while i < chars.len() {
            match (chars[i], chars.get(i + 1)) {
                ('$', Some('$')) => {
                    literal.push('$');
                    i += 2;
                }
                ('$', Some('{')) => {
                    exprs += 1;
                    if exprs > MAX_TEMPLATE_EXPRESSIONS {
                        return Err(ParseError::new(
                            i,
                            format!(
                                "a template holds at most {MAX_TEMPLATE_EXPRESSIONS} expressions"
                            ),
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    let (e, end) = parser::parse_embedded(&chars, i + 2, version)?;
                    parts.push(Part::Expr(e));
                    i = end;
                }
                (c, _) => {
                    literal.push(c);
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { version, parts })
    }

    /// Whether an expression may read the payload.
    fn reads_payload(&self) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Literal(_) => false,
            Part::Expr(e) => !payload_free(e),
        })
    }

    /// Whether the template has no expression (its text is fixed).
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// The text with each expression's value in place: strings as they are, other values in
    /// their string form (arrays and objects as JSON), Null as `null`, Undefined as nothing
    /// (AWS: Undefined "is converted to an empty string when serialized by itself").
    pub fn render(&self, ctx: &Context) -> Result<String, EvalError> {
        // A template of the message's context alone (`load/${topic(3)}`) does not read the
        // payload: it is not parsed for it.
        let undefined = crate::value::Value::Undefined;
        let root = if self.reads_payload() {
            ctx.root(self.version)
        } else {
            &undefined
        };
        let ev = Evaluator::new(ctx, self.version, root);
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Expr(e) => {
                    let v = ev.eval(e, root)?;
                    match v.to_sql_string() {
                        Some(s) => out.push_str(&s),
                        None if v == crate::value::Value::Null => out.push_str("null"),
                        None => {}
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The functions of the message's context, which read no field of the payload
/// (iot-sql-functions.html).
const CONTEXT_FUNCTIONS: &[&str] = &[
    "topic",
    "clientid",
    "principal",
    "timestamp",
    "newuuid",
    "accountid",
];

/// Whether `e` is evaluated without the payload: literals, operators over them and the
/// context's functions; anything else (a field, `*`, another function) may read it.
fn payload_free(e: &Expr) -> bool {
    match e {
        Expr::Null | Expr::Bool(_) | Expr::Int(_) | Expr::Decimal(_) | Expr::String(_) => true,
        Expr::Unary(_, a) => payload_free(a),
        Expr::Binary(_, a, b) => payload_free(a) && payload_free(b),
        Expr::Cast { expr, .. } => payload_free(expr),
        Expr::Call { name, args } => {
            CONTEXT_FUNCTIONS.contains(&name.as_str()) && args.iter().all(payload_free)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::SqlVersion::V2016_03_23 as V2;

    #[test]
    fn only_templates_that_may_read_the_payload_parse_it() {
        for (t, reads) in [
            ("load/${topic(3)}", false),
            ("${clientid()}-${timestamp()}-${upper('x')}", true),
            ("${concat(topic(1), 'x')}", true),
            ("a/${topic(2) = 'b'}/${accountid()}", false),
            ("a/${n}", true),
            ("a/${encode(*, 'base64')}", true),
            ("plain", false),
        ] {
            assert_eq!(
                Template::parse(t, V2).unwrap().reads_payload(),
                reads,
                "{t}"
            );
        }
        // The same text either way, whatever the payload.
        let ctx = Context::new("a/b/c", b"{\"n\":1}", 0);
        let t = Template::parse("x/${topic(3)}/${n}", V2).unwrap();
        assert_eq!(t.render(&ctx).unwrap(), "x/c/1");
        let ctx = Context::new("a/b/c", b"\xff not json", 0);
        let t = Template::parse("x/${topic(3)}", V2).unwrap();
        assert_eq!(t.render(&ctx).unwrap(), "x/c");
    }
}
