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
                fill(child, &v, self.out);
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
