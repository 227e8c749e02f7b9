//! Fields discovered in JSON messages. Logs Insights flattens a JSON log event's keys with dots
//! (`details.reason`, array items as `tags.0`;
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html>).
//! Rather than flatten every message, a run parses a message only when a query reads one of
//! its discovered fields, once per log event, and walks the tree along the dotted name.

use std::borrow::Cow;

use serde_json::Value as Json;

use super::value::Value;

/// The message as a JSON object, or `None` when it is not one.
pub(crate) fn parse_message(message: &str) -> Option<Json> {
    if !message.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<Json>(message)
        .ok()
        .filter(Json::is_object)
}

/// The scalar at a flattened `path`. A key may itself hold dots (`EC2.InstanceId`), so each
/// dot is tried as a separator: the whole remaining path as a key first, then each prefix.
pub(crate) fn lookup<'j>(v: &'j Json, path: &str) -> Option<&'j Json> {
    match v {
        Json::Object(map) => {
            if let Some(found) = map.get(path) {
                if is_scalar(found) {
                    return Some(found);
                }
            }
            path.match_indices('.').find_map(|(i, _)| {
                map.get(&path[..i])
                    .and_then(|child| lookup(child, &path[i + 1..]))
            })
        }
        Json::Array(items) => {
            let (index, rest) = match path.split_once('.') {
                Some((i, rest)) => (i, Some(rest)),
                None => (path, None),
            };
            let item = items.get(index.parse::<usize>().ok()?)?;
            match rest {
                None if is_scalar(item) => Some(item),
                None => None,
                Some(rest) => lookup(item, rest),
            }
        }
        _ => None,
    }
}

fn is_scalar(v: &Json) -> bool {
    !matches!(v, Json::Object(_) | Json::Array(_) | Json::Null)
}

/// A JSON scalar as a query value: strings as text, numbers as numbers, and booleans as 1 and
/// 0, as Logs Insights converts them.
pub(crate) fn to_value(v: &Json) -> Value<'static> {
    match v {
        Json::String(s) => Value::Str(Cow::Owned(s.clone())),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => n.as_f64().map_or(Value::Missing, Value::Num),
        },
        Json::Bool(b) => Value::Int(i64::from(*b)),
        Json::Null | Json::Array(_) | Json::Object(_) => Value::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_paths() {
        let j = parse_message(
            r#"{"status":200,"details":{"reason":"timeout","codes":[4,5]},"EC2.InstanceId":"i-1",
                "a":{"b.c":{"d":true}},"tags":[{"k":"v"}],"nothing":null}"#,
        )
        .unwrap();
        let get = |p: &str| lookup(&j, p).map(to_value);
        assert_eq!(get("status"), Some(Value::Int(200)));
        assert_eq!(get("details.reason"), Some(Value::Str("timeout".into())));
        assert_eq!(get("details.codes.1"), Some(Value::Int(5)));
        assert_eq!(get("EC2.InstanceId"), Some(Value::Str("i-1".into())));
        assert_eq!(get("a.b.c.d"), Some(Value::Int(1)));
        assert_eq!(get("tags.0.k"), Some(Value::Str("v".into())));
        assert_eq!(get("details"), None);
        assert_eq!(get("nothing"), None);
        assert_eq!(get("details.codes.9"), None);
    }

    #[test]
    fn only_objects_are_json_messages() {
        assert!(parse_message("[1,2]").is_none());
        assert!(parse_message("ERROR {not json").is_none());
        assert!(parse_message("  {\"a\":1}").is_some());
    }
}
