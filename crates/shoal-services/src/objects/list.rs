//! ListObjectsV2 over the object records: keys in UTF-8 byte order (the store's key order),
//! grouped by a delimiter into common prefixes, resumed after the last item of a page
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html).

use super::{no_bucket, ObjectInfo, Objects, OBJECT};
use crate::records::{decode, store_error};
use shoal_domain::error::Result;
use shoal_domain::objects::{BucketName, StorageError};
use shoal_domain::Partition;

/// Records read from the store per step.
const STEP: usize = 1000;
/// A key beyond every key that starts with a given prefix: the prefix followed by the greatest
/// character (a key that continues past it is skipped by the prefix test as well).
const BEYOND: char = '\u{10FFFF}';

#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub prefix: String,
    pub delimiter: String,
    pub max_keys: usize,
    pub start_after: Option<String>,
    /// The `NextContinuationToken` of the previous page.
    pub continuation: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ListItem {
    Object(String, ObjectInfo),
    CommonPrefix(String),
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub items: Vec<ListItem>,
    pub truncated: bool,
    /// Set when truncated: resumes after the page's last item.
    pub next: Option<String>,
}

/// A continuation token: the last item, and whether it was a common prefix, in hex (opaque to
/// clients, and never a key they could mistake for their own).
fn token(item: &ListItem) -> String {
    match item {
        ListItem::Object(k, _) => format!("k{}", hex::encode(k)),
        ListItem::CommonPrefix(p) => format!("p{}", hex::encode(p)),
    }
}

/// A continuation token that resumes after every key under the common prefix `p` (ListObjects
/// v1's marker when it names one).
pub fn after_common_prefix(p: &str) -> String {
    token(&ListItem::CommonPrefix(p.to_string()))
}

fn untoken(t: &str) -> Result<(String, bool)> {
    let bad =
        || StorageError::InvalidArgument.error("The continuation token provided is incorrect");
    let (kind, rest) = (t.get(..1).ok_or_else(bad)?, t.get(1..).ok_or_else(bad)?);
    let bytes = hex::decode(rest).map_err(|_| bad())?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    match kind {
        "k" => Ok((s, false)),
        "p" => Ok((s, true)),
        _ => Err(bad()),
    }
}

impl Objects {
    pub fn list(
        &self,
        part: &Partition,
        bucket: &BucketName,
        req: &ListRequest,
    ) -> Result<ListPage> {
        self.bucket(part, bucket).map_err(|_| no_bucket())?;
        let base = format!("{bucket}/");
        let scan_prefix = format!("{base}{}", req.prefix);
        // Where to resume: the token wins over start-after.
        let (mut after, mut skip) = match (&req.continuation, &req.start_after) {
            (Some(t), _) => {
                let (item, is_prefix) = untoken(t)?;
                if is_prefix {
                    (Some(format!("{base}{item}{BEYOND}")), Some(item))
                } else {
                    (Some(format!("{base}{item}")), None)
                }
            }
            (None, Some(s)) if !s.is_empty() => (Some(format!("{base}{s}")), None),
            _ => (None, None),
        };
        let mut page = ListPage::default();
        if req.max_keys == 0 {
            return Ok(page);
        }
        'scan: loop {
            let recs = self
                .store
                .list(&part.key(), OBJECT, &scan_prefix, after.as_deref(), STEP)
                .map_err(store_error)?;
            if recs.is_empty() {
                break;
            }
            for rec in &recs {
                after = Some(rec.key.clone());
                let key = &rec.key[base.len()..];
                if skip.as_deref().is_some_and(|p| key.starts_with(p)) {
                    continue;
                }
                if page.items.len() == req.max_keys {
                    page.truncated = true;
                    break 'scan;
                }
                let rest = &key[req.prefix.len()..];
                let cut = (!req.delimiter.is_empty())
                    .then(|| rest.find(&req.delimiter))
                    .flatten();
                if let Some(i) = cut {
                    let common = key[..req.prefix.len() + i + req.delimiter.len()].to_string();
                    // Seek past every key under it instead of reading them.
                    after = Some(format!("{base}{common}{BEYOND}"));
                    skip = Some(common.clone());
                    page.items.push(ListItem::CommonPrefix(common));
                    continue 'scan;
                }
                page.items
                    .push(ListItem::Object(key.to_string(), decode(rec)?));
            }
        }
        if page.truncated {
            page.next = page.items.last().map(token);
        }
        Ok(page)
    }
}
