//! Reading a few paths of a JSON payload without building the document: the WHERE index needs
//! only the fields its conjuncts name, and most messages match no rule, so they should cost a
//! syntax check and those fields, not a tree of every string in them. The payload is still
//! checked as a whole (a payload that is not JSON has no fields, as for the evaluator).

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The paths to read, as a tree of field names; each path has its place in the output.
#[derive(Debug, Default)]
pub(crate) struct PathSet {
    root: Node,
    len: usize,
}

#[derive(Debug, Default)]
struct Node {
    children: Vec<(String, Node)>,
    /// The output slot of the path ending here.
    slot: Option<usize>,
}

impl PathSet {
    /// Adds a path; returns its slot.
    pub fn add(&mut self, path: &[String]) -> usize {
        let mut node = &mut self.root;
        for name in path {
            let i = match node.children.iter().position(|(n, _)| n == name) {
                Some(i) => i,
                None => {
                    node.children.push((name.clone(), Node::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i].1;
        }
        *node.slot.get_or_insert_with(|| {
            self.len += 1;
            self.len - 1
        })
    }

    /// The value at each path (`None`: Undefined) into `out`; false when the payload is not
    /// JSON (every path is then Undefined).
    pub fn read(&self, payload: &[u8], out: &mut Vec<Option<Value>>) -> bool {
        out.clear();
        out.resize(self.len, None);
        if let Some(ok) = quick::read(&self.root, payload, out) {
            return ok;
        }
        out.iter_mut().for_each(|v| *v = None);
        self.read_with_serde(payload, out)
    }

    /// `read` by serde's visitor alone (the quick path's fallback, and its reference in tests).
    pub(crate) fn read_with_serde(&self, payload: &[u8], out: &mut Vec<Option<Value>>) -> bool {
        out.clear();
        out.resize(self.len, None);
        let mut de = serde_json::Deserializer::from_slice(payload);
        let ok = NodeSeed {
            node: &self.root,
            out: &mut *out,
        }
        .deserialize(&mut de)
        .is_ok()
            && de.end().is_ok();
        if !ok {
            out.iter_mut().for_each(|v| *v = None);
        }
        ok
    }
}

/// The common case without serde's visitor: a flat object whose wanted fields are top-level
/// and whose keys have no escapes. The fields' own values are read by serde_json, so they are
/// exactly what the document would hold; what is skipped is only delimited (strings, brackets),
/// not checked, so a payload that is not quite JSON may still give its fields. That can only
/// make a rule a candidate that the evaluator, which parses the payload, then refuses: the
/// index may keep too many, never too few. Anything else goes to the visitor (`None`).
mod quick {
    use super::Node;
    use serde_json::Value;

    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }

    /// The end of the string whose opening quote is at `i` (after its closing quote).
    fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'"' => return Some(i + 1),
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        None
    }

    /// The end of the value starting at `i`.
    fn value_end(b: &[u8], i: usize) -> Option<usize> {
        match *b.get(i)? {
            b'"' => string_end(b, i),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut j = i;
                while j < b.len() {
                    match b[j] {
                        b'"' => {
                            j = string_end(b, j)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                None
            }
            _ => {
                let mut j = i;
                while j < b.len()
                    && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    j += 1;
                }
                (j > i).then_some(j)
            }
        }
    }

    /// `Some(true)`: the slots are filled; `None`: not the common case, or not read here.
    pub(super) fn read(root: &Node, b: &[u8], out: &mut [Option<Value>]) -> Option<bool> {
        if root.children.iter().any(|(_, c)| !c.children.is_empty()) {
            return None;
        }
        let mut i = ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i = ws(b, i + 1);
        if b.get(i) == Some(&b'}') {
            return (ws(b, i + 1) == b.len()).then_some(true);
        }
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let end = string_end(b, i)?;
            let key = &b[i + 1..end - 1];
            if key.contains(&b'\\') {
                return None;
            }
            i = ws(b, end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            let start = ws(b, i + 1);
            let stop = value_end(b, start)?;
            if let Some((_, child)) = root.children.iter().find(|(n, _)| n.as_bytes() == key) {
                if let Some(slot) = child.slot {
                    out[slot] = Some(serde_json::from_slice(&b[start..stop]).ok()?);
                }
            }
            i = ws(b, stop);
            match b.get(i) {
                Some(b',') => i = ws(b, i + 1),
                Some(b'}') => return (ws(b, i + 1) == b.len()).then_some(true),
                _ => return None,
            }
        }
    }
}

/// Fills the slots under `node` from the value being read.
struct NodeSeed<'a> {
    node: &'a Node,
    out: &'a mut Vec<Option<Value>>,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    // Fields of anything but an object are Undefined: the value is read and dropped.
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(found) = map.next_key_seed(KeySeed(self.node))? {
            let Some(child) = found else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if child.slot.is_some() {
                // A path ends here: its whole value, and any longer paths read from it.
                let v: Value = map.next_value()?;
                match child.slot {
                    // A leaf (the usual case): the value itself, not a copy.
                    Some(slot) if child.children.is_empty() => self.out[slot] = Some(v),
                    _ => fill(child, &v, self.out),
                }
            } else {
                // A later duplicate key replaces the earlier value in the document; here the
                // slots it does not set keep the earlier reading, which can only keep a rule
                // the evaluator then refuses, never leave out one it would take.
                map.next_value_seed(NodeSeed {
                    node: child,
                    out: &mut *self.out,
                })?;
            }
        }
        Ok(())
    }
}

/// Reads a key and finds the child it names, without copying it.
struct KeySeed<'a>(&'a Node);

impl<'de, 'a> DeserializeSeed<'de> for KeySeed<'a> {
    type Value = Option<&'a Node>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'a> Visitor<'de> for KeySeed<'a> {
    type Value = Option<&'a Node>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .children
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, c)| c))
    }
}

/// Sets the slots of `node` and its descendants from a value already read.
fn fill(node: &Node, v: &Value, out: &mut [Option<Value>]) {
    if let Some(slot) = node.slot {
        out[slot] = Some(v.clone());
    }
    for (name, child) in &node.children {
        match v.get(name.as_str()).filter(|_| v.is_object()) {
            Some(x) => fill(child, x, out),
            None => clear(child, out),
        }
    }
}

fn clear(node: &Node, out: &mut [Option<Value>]) {
    if let Some(slot) = node.slot {
        out[slot] = None;
    }
    for (_, child) in &node.children {
        clear(child, out);
    }
}
