//! How a field's value becomes terms. Every term of a document lives in one inverted field,
//! prefixed by its path and a marker byte, so that any path (attributes, shadow keys at any
//! depth, named shadows) is searchable without a schema change, and so that a path's terms are
//! one contiguous range of the term dictionary (ranges, wildcards and aggregations walk it).

/// `PATH \x01 word`: a whitespace-separated word of the value, lowercased (AWS matches values
/// case-insensitively and splits them on whitespace only). With an empty path: the bare-term
/// search over every field.
pub const WORD: char = '\u{1}';
/// `PATH \x02 hex`: the value as a number, in 16 hex digits that sort as the numbers do.
pub const NUM: char = '\u{2}';
/// `PATH \x03`: the document has the field (`field:*`).
pub const HAS: char = '\u{3}';
/// `PATH \x04 value`: the whole value as written, for buckets and cardinality.
pub const WHOLE: char = '\u{4}';

pub fn word(path: &str, w: &str) -> String {
    format!("{path}{WORD}{w}")
}

pub fn num(path: &str, v: f64) -> String {
    format!("{path}{NUM}{:016x}", tantivy::f64_to_u64(v))
}

pub fn has(path: &str) -> String {
    format!("{path}{HAS}")
}

pub fn whole(path: &str, v: &str) -> String {
    format!("{path}{WHOLE}{v}")
}

/// The first term of a path's section and the first term after it.
pub fn section(path: &str, marker: char) -> (String, String) {
    let next = char::from_u32(marker as u32 + 1).expect("markers are small");
    (format!("{path}{marker}"), format!("{path}{next}"))
}

/// The number behind a `NUM` term's hex digits.
pub fn decode_num(hex: &str) -> Option<f64> {
    u64::from_str_radix(hex, 16).ok().map(tantivy::u64_to_f64)
}

/// Words of a value: split on whitespace (Java's `isWhitespace`, per AWS), lowercased.
pub fn words(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(char::is_whitespace)
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// A value that AWS would index as a number: a JSON number, finite.
/// <https://docs.aws.amazon.com/iot/latest/developerguide/query-syntax.html> ("Numbers")
pub fn as_number(v: &str) -> Option<f64> {
    let v = v.trim();
    let json_like = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        && v.chars().any(|c| c.is_ascii_digit());
    json_like
        .then(|| v.parse::<f64>().ok())
        .flatten()
        .filter(|n| n.is_finite())
}
