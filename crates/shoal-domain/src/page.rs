//! Pagination limits. Most registry list operations take `maxResults` 1..=250
//! (`RegistryMaxResults` in the model) and return an opaque `nextToken`.

use crate::error::{Result, ServiceError};
use crate::ids::validation_error;

/// AWS's default page size for registry listings when `maxResults` is absent.
pub const DEFAULT_PAGE: usize = 250;

/// Checks `maxResults` against the model's bounds.
pub fn max_results(field: &str, value: Option<i64>, max: i64) -> Result<usize> {
    match value {
        None => Ok(DEFAULT_PAGE.min(max as usize)),
        Some(v) if v < 1 => Err(validation_error(
            field,
            &v.to_string(),
            "Member must have value greater than or equal to 1",
        )),
        Some(v) if v > max => Err(validation_error(
            field,
            &v.to_string(),
            &format!("Member must have value less than or equal to {max}"),
        )),
        Some(v) => Ok(v as usize),
    }
}

/// A `nextToken` is the last key of the previous page, hex-encoded so that it is opaque and
/// survives any query-string handling.
pub fn encode_token(last_key: &str) -> String {
    let mut s = String::with_capacity(last_key.len() * 2);
    for b in last_key.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub fn decode_token(token: &str) -> Result<String> {
    let bad = || ServiceError::invalid("The specified nextToken is not valid");
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes.ok_or_else(bad)?).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        assert_eq!(decode_token(&encode_token("thing-ü")).unwrap(), "thing-ü");
        assert!(decode_token("zz").is_err());
        assert!(decode_token("abc").is_err());
    }

    #[test]
    fn max_results_bounds() {
        assert_eq!(max_results("maxResults", None, 250).unwrap(), 250);
        assert!(max_results("maxResults", Some(0), 250).is_err());
        assert!(max_results("maxResults", Some(251), 250).is_err());
        assert_eq!(max_results("maxResults", Some(7), 250).unwrap(), 7);
    }
}
