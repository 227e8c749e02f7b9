//! The values of one field over the documents matching a query, read from the field's terms:
//! for each term of the field's section, its postings are intersected with the matches. The
//! work is one pass over the field's postings, whatever the query.

use crate::search::{scoped, SearchError};
use crate::tokens::{self, NUM, WHOLE};
use crate::FleetIndex;
use shoal_fleetquery::Query;
use std::collections::HashMap;
use tantivy::postings::BlockSegmentPostings;
use tantivy::query::EnableScoring;
use tantivy::SegmentReader;

impl FleetIndex {
    /// Every numeric value of `path` in the matching documents, ascending, with how many times
    /// it occurs; and how many documents matched at all.
    pub fn numbers(
        &self,
        scope: &str,
        q: &Query,
        path: &str,
    ) -> Result<(Vec<(f64, u64)>, u64), SearchError> {
        let mut out = Vec::new();
        let matched = self.walk(scope, q, path, NUM, &mut |term, n| {
            if let Some(v) = tokens::decode_num(term) {
                out.push((v, n));
            }
        })?;
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        // The same number from two segments is one value.
        out.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 += b.1;
                true
            } else {
                false
            }
        });
        Ok((out, matched))
    }

    /// Every whole value of `path` in the matching documents, with its count; and how many
    /// documents matched at all.
    pub fn values(
        &self,
        scope: &str,
        q: &Query,
        path: &str,
    ) -> Result<(HashMap<String, u64>, u64), SearchError> {
        let mut out: HashMap<String, u64> = HashMap::new();
        let matched = self.walk(scope, q, path, WHOLE, &mut |term, n| {
            *out.entry(term.to_string()).or_default() += n;
        })?;
        Ok((out, matched))
    }

    /// Calls `each(term suffix, documents)` for every term of the path's section that occurs in
    /// matching documents; returns the number of matching documents.
    fn walk(
        &self,
        scope: &str,
        q: &Query,
        path: &str,
        marker: char,
        each: &mut dyn FnMut(&str, u64),
    ) -> Result<u64, SearchError> {
        let query = scoped(&self.fields, scope, q, None)?;
        let searcher = self.reader.searcher();
        let weight = query.weight(EnableScoring::disabled_from_searcher(&searcher))?;
        let (first, after) = tokens::section(path, marker);
        let mut matched = 0;
        for seg in searcher.segment_readers() {
            let hits = matches(seg, &*weight)?;
            let n = hits.iter().map(|w| w.count_ones() as u64).sum::<u64>();
            if n == 0 {
                continue;
            }
            matched += n;
            let inverted = seg.inverted_index(self.fields.terms)?;
            let mut stream = inverted
                .terms()
                .range()
                .ge(first.as_bytes())
                .lt(after.as_bytes())
                .into_stream()?;
            // Every live document matches (an aggregation over the whole fleet): a term's
            // document frequency is its count, and no postings need reading.
            let all = n == seg.num_docs() as u64 && seg.alive_bitset().is_none();
            let mut block = BlockSegmentPostings::empty();
            while stream.advance() {
                let info = stream.value();
                let count = if all {
                    info.doc_freq as u64
                } else {
                    // One postings reader, reset for each term: high-cardinality fields (a
                    // number per thing) have as many terms as documents.
                    inverted.reset_block_postings_from_terminfo(info, &mut block)?;
                    let mut count = 0;
                    while !block.docs().is_empty() {
                        for &d in block.docs() {
                            if hits[(d / 64) as usize] & (1 << (d % 64)) != 0 {
                                count += 1;
                            }
                        }
                        block.advance();
                    }
                    count
                };
                if count > 0 {
                    let suffix = std::str::from_utf8(&stream.key()[first.len()..]).unwrap_or("");
                    each(suffix, count);
                }
            }
        }
        Ok(matched)
    }
}

/// The live documents of a segment that match, one bit each.
fn matches(seg: &SegmentReader, weight: &dyn tantivy::query::Weight) -> tantivy::Result<Vec<u64>> {
    let mut bits = vec![0u64; (seg.max_doc() as usize).div_ceil(64)];
    let alive = seg.alive_bitset();
    weight.for_each_no_score(seg, &mut |docs| {
        for &d in docs {
            if alive.is_none_or(|a| a.is_alive(d)) {
                bits[(d / 64) as usize] |= 1 << (d % 64);
            }
        }
    })?;
    Ok(bits)
}
