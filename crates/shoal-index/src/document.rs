//! A document as the services hand it over: its name, its fields as (path, value) pairs, and the
//! JSON that a search returns for it.

use crate::tokens;

#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Str(String),
    /// A number and the text it was written as (shown in buckets as written).
    Num(f64, String),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexDoc {
    /// Unique within its scope: the thing's or group's name. Results are ordered by it.
    pub name: String,
    pub fields: Vec<(String, FieldValue)>,
    /// What SearchIndex returns for the document, stored as given.
    pub source: Vec<u8>,
}

impl IndexDoc {
    /// Every term the document is found by.
    pub(crate) fn terms(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.fields.len() * 5);
        for (path, value) in &self.fields {
            out.push(tokens::has(path));
            let (text, number) = match value {
                FieldValue::Str(s) => (s.as_str(), tokens::as_number(s)),
                FieldValue::Num(n, text) => (text.as_str(), Some(*n)),
                FieldValue::Bool(true) => ("true", Some(1.0)),
                FieldValue::Bool(false) => ("false", Some(0.0)),
            };
            for w in tokens::words(text) {
                out.push(tokens::word(path, &w));
                out.push(tokens::word("", &w));
            }
            out.push(tokens::whole(path, text));
            if let Some(n) = number {
                out.push(tokens::num(path, n));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}
