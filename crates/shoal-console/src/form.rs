//! `application/x-www-form-urlencoded` bodies and query strings, bounded.

/// Fields a form may have.
const MAX_FIELDS: usize = 256;

/// The pairs of a form body or query string (`+` is a space), at most `MAX_FIELDS`.
pub fn parse(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .take(MAX_FIELDS)
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A form's fields by name.
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn from_body(body: &[u8]) -> Form {
        Form(parse(&String::from_utf8_lossy(body)))
    }
    pub fn from_query(q: &str) -> Form {
        Form(parse(q))
    }
    /// The first value of `name`, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }
    pub fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name)).filter(|v| !v.is_empty())
    }
    /// Every value of `name` (checkboxes, multi-selects).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_are_bounded() {
        let f = Form::from_body(b"a=1+2&b=%3Cx%3E&a=3&c");
        assert_eq!(f.get("a"), "1 2");
        assert_eq!(f.get("b"), "<x>");
        assert_eq!(f.all("a"), vec!["1 2", "3"]);
        assert_eq!(f.get("c"), "");
        assert_eq!(f.opt("c"), None);
        let many = "x=1&".repeat(10_000);
        assert_eq!(parse(&many).len(), MAX_FIELDS);
    }
}
