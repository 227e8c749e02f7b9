//! S3's XML: writing result documents (the root in S3's namespace, elements escaped), and
//! reading the few request bodies Shoal takes (CreateBucketConfiguration,
//! CompleteMultipartUpload) tolerantly: namespace or not, whitespace between elements, the
//! elements S3 documents and nothing more. Request bodies are bounded before they get here.

use crate::error::xml_escape;

pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// A document under construction.
pub struct Doc(String);

impl Doc {
    /// `<?xml ...?><root xmlns="...">`.
    pub fn new(root: &str) -> Doc {
        Doc(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{NS}\">"
        ))
    }

    /// `<name>text</name>`, the text escaped.
    pub fn el(&mut self, name: &str, text: &str) -> &mut Doc {
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
        self.0.push_str(&xml_escape(text));
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Doc {
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Doc {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
        self
    }

    pub fn end(mut self, root: &str) -> String {
        self.close(root);
        self.0
    }
}

/// The ISO 8601 form S3 writes in XML, with milliseconds: `2026-01-02T03:04:05.000Z`.
pub fn timestamp(ms: i64) -> String {
    let secs = shoal_sigv4::format_iso8601(ms.div_euclid(1000));
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// The text of each `<name>` element in `xml`, in order, entities decoded; None when an element
/// is not closed.
pub fn texts(xml: &str, name: &str) -> Option<Vec<String>> {
    blocks(xml, name).map(|v| v.into_iter().map(unescape).collect())
}

/// The inner text of each `<name>...</name>` (or `<name attr="...">`) in `xml`, raw.
pub fn blocks<'a>(xml: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut rest = xml;
    let close = format!("</{name}>");
    while let Some(i) = find_open(rest, name) {
        let after = &rest[i..];
        let gt = after.find('>')?;
        if after[..gt].ends_with('/') {
            out.push("");
            rest = &after[gt + 1..];
            continue;
        }
        let inner = &after[gt + 1..];
        let end = inner.find(&close)?;
        out.push(&inner[..end]);
        rest = &inner[end + close.len()..];
    }
    Some(out)
}

/// Where `<name` starts as a whole element name (`<name>`, `<name ` or `<name/`).
fn find_open(s: &str, name: &str) -> Option<usize> {
    let pat = format!("<{name}");
    let mut from = 0;
    while let Some(i) = s[from..].find(&pat) {
        let at = from + i;
        match s[at + pat.len()..].chars().next() {
            Some('>') | Some(' ') | Some('/') | Some('\t') | Some('\r') | Some('\n') => {
                return Some(at)
            }
            _ => from = at + pat.len(),
        }
    }
    None
}

fn unescape(s: &str) -> String {
    s.trim()
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_documents() {
        let mut d = Doc::new("R");
        d.open("A").el("Key", "a<&>\"b").close("A");
        let s = d.end("R");
        assert!(s.ends_with(&format!(
            "<R xmlns=\"{NS}\"><A><Key>a&lt;&amp;&gt;&quot;b</Key></A></R>"
        )));
        assert_eq!(timestamp(1_767_323_045_007), "2026-01-02T03:04:05.007Z");
    }

    #[test]
    fn reads_tolerantly() {
        let body = "<CompleteMultipartUpload xmlns=\"x\">\n <Part><ETag>&quot;a1&quot;</ETag><PartNumber>1</PartNumber></Part>\n<Part>\n<PartNumber>2</PartNumber><ETag>\"b2\"</ETag><ChecksumCRC32>x==</ChecksumCRC32></Part></CompleteMultipartUpload>";
        let parts = blocks(body, "Part").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(texts(parts[0], "ETag").unwrap(), vec!["\"a1\""]);
        assert_eq!(texts(parts[1], "PartNumber").unwrap(), vec!["2"]);
        // A prefix of another name is not the element.
        assert_eq!(
            blocks("<PartNumber>1</PartNumber>", "Part").unwrap().len(),
            0
        );
        assert!(blocks("<Part><ETag>x</Part>", "ETag").is_none());
    }
}
