//! The parts of a request every API needs: the raw path split for routing, labels
//! percent-decoded only after matching, and the query string as decoded pairs.

use crate::error::ApiError;
use percent_encoding::percent_decode_str;

/// Decodes one percent-encoded label or query component.
pub fn decode(raw: &str) -> Result<String, ApiError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::invalid("Request URI contains invalid percent-encoded UTF-8"))
}

/// The raw path split on '/', without the leading empty segment. Routing matches on these raw
/// segments, so an encoded '/' (`%2F`) inside a label never splits it.
pub fn segments(path: &str) -> Vec<&str> {
    let p = path.strip_prefix('/').unwrap_or(path);
    if p.is_empty() {
        Vec::new()
    } else {
        p.split('/').collect()
    }
}

/// Query parameters, decoded, in order of appearance.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Result<Query, ApiError> {
        let mut v = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, val) = pair.split_once('=').unwrap_or((pair, ""));
            v.push((decode(k)?, decode(val)?));
        }
        Ok(Query(v))
    }

    /// Every parameter, in order.
    pub fn pairs(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    /// A boolean member; AWS SDKs send `true` / `false`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(format!(
                "Invalid value '{other}' for boolean parameter {name}"
            ))),
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid(format!("Invalid value '{v}' for integer parameter {name}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_decode_after_split() {
        assert_eq!(segments("/topics/a%2Fb"), vec!["topics", "a%2Fb"]);
        assert_eq!(decode("a%2Fb%20c").unwrap(), "a/b c");
        assert_eq!(segments("/"), Vec::<&str>::new());
    }

    #[test]
    fn query_pairs() {
        let q = Query::parse("maxResults=7&nextToken=ab%3D&recursive=true&x").unwrap();
        assert_eq!(q.int("maxResults").unwrap(), Some(7));
        assert_eq!(q.get("nextToken"), Some("ab="));
        assert_eq!(q.bool("recursive").unwrap(), Some(true));
        assert_eq!(q.get("x"), Some(""));
        assert!(Query::parse("maxResults=x")
            .unwrap()
            .int("maxResults")
            .is_err());
    }
}
