//! The best `n` records by a sort, for `sort ... | limit n` (and the 10,000-row default).
//!
//! Scans often arrive in time order, so with `sort @timestamp desc` every record beats the
//! worst kept one; a binary heap would then pay a sift of about log2(n) comparisons per
//! record. Instead candidates collect in a buffer of up to 2n entries, which is cut back to the
//! best n with a linear-time selection. After a cut, the n-th entry is the bar: a record that
//! does not beat it is dropped after one comparison, and one that does reuses the buffers of
//! an entry a cut dropped. Each record costs a constant number of comparisons on average.

use super::collect::Ranked;
use super::eval::Env;
use super::plan::SortSpec;
use super::Record;

#[derive(Debug)]
pub(crate) struct TopN {
    cap: usize,
    items: Vec<Ranked>,
    /// Entries dropped by a cut, kept for their allocations.
    spare: Vec<Ranked>,
    /// Set after the first cut: `items[cap - 1]` is the worst of the best `cap`.
    cut: bool,
}

impl TopN {
    pub(crate) fn new(cap: usize) -> TopN {
        TopN {
            cap: cap.max(1),
            items: Vec::new(),
            spare: Vec::new(),
            cut: false,
        }
    }

    pub(crate) fn push<'a>(&mut self, spec: &'a SortSpec, env: &mut Env<'a>, r: &Record<'_>) {
        if self.cut && !self.items[self.cap - 1].is_beaten_by(spec, env, r.ptr) {
            return;
        }
        let entry = match self.spare.pop() {
            Some(mut e) => {
                e.refill(spec, env, r);
                e
            }
            None => Ranked::new(spec, env, r),
        };
        self.items.push(entry);
        self.cut_if_full();
    }

    /// Adds an entry from another run's top-N.
    pub(crate) fn push_entry(&mut self, e: Ranked) {
        if self.cut && e >= self.items[self.cap - 1] {
            return;
        }
        self.items.push(e);
        self.cut_if_full();
    }

    fn cut_if_full(&mut self) {
        if self.items.len() >= 2 * self.cap {
            self.items.select_nth_unstable(self.cap - 1);
            self.spare.extend(self.items.drain(self.cap..));
            self.cut = true;
        }
    }

    pub(crate) fn into_items(self) -> Vec<Ranked> {
        self.items
    }

    /// The kept entries, best first.
    pub(crate) fn into_sorted(self) -> Vec<Ranked> {
        let cap = self.cap;
        let mut items = self.items;
        items.sort_unstable();
        items.truncate(cap);
        items
    }
}
