//! The subscriptions of one account as a tree of topic levels, so that routing a message costs
//! the depth of its topic rather than the number of subscriptions. Matching follows MQTT §4.7
//! with AWS IoT's difference: `a/#` does not match `a`
//! (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences); and a
//! filter starting with a wildcard does not match a topic starting with `$` (MQTT §4.7.2).

use std::collections::HashMap;

#[derive(Debug)]
struct Node<V> {
    children: HashMap<Box<str>, Node<V>>,
    plus: Option<Box<Node<V>>>,
    /// Entries whose filter ends here.
    here: Vec<V>,
    /// Entries whose filter is this node's path followed by `/#`.
    hash: Vec<V>,
}

impl<V> Default for Node<V> {
    fn default() -> Self {
        Node {
            children: HashMap::new(),
            plus: None,
            here: Vec::new(),
            hash: Vec::new(),
        }
    }
}

impl<V> Node<V> {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.here.is_empty()
            && self.hash.is_empty()
    }
}

#[derive(Debug)]
pub struct SubTree<V> {
    root: Node<V>,
    len: usize,
}

impl<V> Default for SubTree<V> {
    fn default() -> Self {
        SubTree {
            root: Node::default(),
            len: 0,
        }
    }
}

impl<V> SubTree<V> {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Adds `value` under `filter`, or returns the existing entry `same` recognises.
    pub fn upsert(&mut self, filter: &str, value: V, same: impl Fn(&V) -> bool) -> &mut V {
        let slot = slot(&mut self.root, filter);
        match slot.iter().position(same) {
            Some(i) => &mut slot[i],
            None => {
                slot.push(value);
                self.len += 1;
                let last = slot.len() - 1;
                &mut slot[last]
            }
        }
    }

    /// Whether any filter could match a topic starting with `levels` (a wildcard on the way
    /// counts, except at the first level, which never matches a `$` topic).
    pub fn has_under(&self, levels: &[&str]) -> bool {
        let mut node = &self.root;
        for (i, level) in levels.iter().enumerate() {
            if i > 0 && (!node.hash.is_empty() || node.plus.is_some()) {
                return true;
            }
            match node.children.get(*level) {
                Some(child) => node = child,
                None => return false,
            }
        }
        true
    }

    /// Removes the entries under `filter` that `remove` picks, and nodes left empty.
    pub fn remove(&mut self, filter: &str, remove: impl Fn(&V) -> bool) {
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = remove_in(&mut self.root, &levels, &remove);
        self.len -= removed;
    }

    /// Calls `f` with every entry whose filter matches `topic`.
    pub fn matches<'a>(&'a self, topic: &str, mut f: impl FnMut(&'a V)) {
        let levels: Vec<&str> = topic.split('/').collect();
        let reserved = topic.starts_with('$');
        walk(&self.root, &levels, reserved, &mut f);
    }
}

/// The list of entries with exactly this (valid) filter, created if needed.
fn slot<'n, V>(root: &'n mut Node<V>, filter: &str) -> &'n mut Vec<V> {
    let mut node = root;
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level == "#" {
            return &mut node.hash;
        }
        node = if level == "+" {
            node.plus.get_or_insert_with(Box::default)
        } else {
            node.children.entry(level.into()).or_default()
        };
        if levels.peek().is_none() {
            return &mut node.here;
        }
    }
    &mut node.here
}

fn walk<'a, V>(
    node: &'a Node<V>,
    levels: &[&str],
    first_reserved: bool,
    f: &mut impl FnMut(&'a V),
) {
    let Some((level, rest)) = levels.split_first() else {
        node.here.iter().for_each(&mut *f);
        return;
    };
    if !first_reserved {
        // `#` needs at least one more level: AWS's `a/#` does not match `a`.
        node.hash.iter().for_each(&mut *f);
        if let Some(plus) = &node.plus {
            walk(plus, rest, false, f);
        }
    }
    if let Some(child) = node.children.get(*level) {
        walk(child, rest, false, f);
    }
}

fn remove_in<V>(node: &mut Node<V>, levels: &[&str], remove: &impl Fn(&V) -> bool) -> usize {
    match levels.split_first() {
        None => {
            let before = node.here.len();
            node.here.retain(|v| !remove(v));
            before - node.here.len()
        }
        Some((&"#", _)) => {
            let before = node.hash.len();
            node.hash.retain(|v| !remove(v));
            before - node.hash.len()
        }
        Some((&"+", rest)) => {
            let Some(plus) = node.plus.as_mut() else {
                return 0;
            };
            let n = remove_in(plus, rest, remove);
            if plus.is_empty() {
                node.plus = None;
            }
            n
        }
        Some((level, rest)) => {
            let Some(child) = node.children.get_mut(*level) else {
                return 0;
            };
            let n = remove_in(child, rest, remove);
            if child.is_empty() {
                node.children.remove(*level);
            }
            n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matching(t: &SubTree<&'static str>, topic: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        t.matches(topic, |v| out.push(*v));
        out.sort();
        out
    }

    #[test]
    fn matches_as_aws_iot() {
        let mut t = SubTree::default();
        for f in [
            "a/b",
            "a/+",
            "a/#",
            "#",
            "+/b",
            "+",
            "$aws/events/#",
            "a/+/c",
        ] {
            t.upsert(f, f, |v| *v == f);
        }
        assert_eq!(matching(&t, "a/b"), ["#", "+/b", "a/#", "a/+", "a/b"]);
        // `a/#` does not match `a` on AWS; `#` and `+` do.
        assert_eq!(matching(&t, "a"), ["#", "+"]);
        assert_eq!(matching(&t, "a/x/c"), ["#", "a/#", "a/+/c"]);
        assert_eq!(matching(&t, "a/"), ["#", "a/#", "a/+"]);
        // Wildcards at the first level never match reserved topics.
        assert_eq!(matching(&t, "$aws/events/presence/x"), ["$aws/events/#"]);
        assert_eq!(t.len(), 8);
    }

    #[test]
    fn removal_prunes_and_counts() {
        let mut t = SubTree::default();
        t.upsert("a/+/c", ("x", 1), |v| v.0 == "x");
        t.upsert("a/+/c", ("y", 1), |v| v.0 == "y");
        *t.upsert("a/+/c", ("x", 2), |v| v.0 == "x") = ("x", 2);
        assert_eq!(t.len(), 2);
        t.remove("a/+/c", |v| v.0 == "x");
        assert_eq!(t.len(), 1);
        let mut got = Vec::new();
        t.matches("a/b/c", |v| got.push(*v));
        assert_eq!(got, [("y", 1)]);
        t.remove("a/+/c", |_| true);
        t.remove("never/there", |_| true);
        assert_eq!(t.len(), 0);
        assert!(t.root.is_empty());
    }
}
