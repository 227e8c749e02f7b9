//! Resource tags (TagResource / UntagResource), kept in each taggable resource's record.
//! Limits from https://docs.aws.amazon.com/iot/latest/developerguide/tagging-iot.html:
//! at most 50 tags per resource, keys 1..=128, values 0..=256.

use crate::error::{Result, ServiceError};
use crate::ids::check;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MAX_TAGS: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags(pub BTreeMap<String, String>);

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || c.is_whitespace()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

pub fn check_tag(key: &str, value: &str) -> Result<()> {
    check(
        "tags.member.Key",
        key,
        1,
        128,
        "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$",
        is_tag_char,
    )?;
    check("tags.member.Value", value, 0, 256, "[\\s\\S]*", |_| true)?;
    if key.starts_with("aws:") {
        return Err(ServiceError::invalid(
            "Tag keys starting with 'aws:' are reserved",
        ));
    }
    Ok(())
}

impl Tags {
    /// Adds or replaces tags, refusing to go past AWS's per-resource limit.
    pub fn merge(&mut self, new: &[(String, String)]) -> Result<()> {
        for (k, v) in new {
            check_tag(k, v)?;
        }
        let mut next = self.0.clone();
        for (k, v) in new {
            next.insert(k.clone(), v.clone());
        }
        if next.len() > MAX_TAGS {
            return Err(ServiceError::limit(format!(
                "A resource can have at most {MAX_TAGS} tags"
            )));
        }
        self.0 = next;
        Ok(())
    }

    pub fn remove(&mut self, keys: &[String]) {
        for k in keys {
            self.0.remove(k);
        }
    }
}
