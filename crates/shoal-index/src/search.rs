//! Searching one scope: a page of documents in name order, the names of every match (dynamic
//! thing groups), and counts.

use crate::compile::{compile, MatchError};
use crate::schema::Fields;
use crate::{FleetIndex, IndexError};
use shoal_fleetquery::Query;
use std::ops::Bound;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query as TQuery, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Order, TantivyDocument, Term};

/// One page of a search: each document's stored JSON, and the name to resume after when more
/// documents match.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub sources: Vec<Vec<u8>>,
    pub resume_after: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Query(#[from] MatchError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl From<std::io::Error> for SearchError {
    fn from(e: std::io::Error) -> Self {
        SearchError::Index(IndexError::Io(e))
    }
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError::Index(IndexError::Tantivy(e))
    }
}

/// The query limited to a scope (and to names after `after`).
pub(crate) fn scoped(
    f: &Fields,
    scope: &str,
    q: &Query,
    after: Option<&str>,
) -> Result<Box<dyn TQuery>, MatchError> {
    let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = vec![
        (
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(f.scope, scope),
                IndexRecordOption::Basic,
            )),
        ),
        (Occur::Must, compile(f, q)?),
    ];
    if let Some(a) = after {
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Excluded(Term::from_field_text(f.name, a)),
                Bound::Unbounded,
            )),
        ));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

impl FleetIndex {
    /// Documents matching `q` in name order, at most `limit`, after the name `after`.
    pub fn search(
        &self,
        scope: &str,
        q: &Query,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, SearchError> {
        let query = scoped(&self.fields, scope, q, after)?;
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(limit + 1).order_by_string_fast_field("name", Order::Asc);
        let hits = searcher.search(&*query, &top)?;
        let more = hits.len() > limit;
        let mut sources = Vec::with_capacity(limit.min(hits.len()));
        let mut last = None;
        for (name, addr) in hits.into_iter().take(limit) {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let bytes = doc
                .get_first(self.fields.source)
                .and_then(|v| v.as_bytes())
                .unwrap_or_default();
            sources.push(bytes.to_vec());
            last = name;
        }
        Ok(Page {
            sources,
            resume_after: if more { last } else { None },
        })
    }

    /// The names of every document matching `q`.
    pub fn names(&self, scope: &str, q: &Query) -> Result<Vec<String>, SearchError> {
        let query = scoped(&self.fields, scope, q, None)?;
        let searcher = self.reader.searcher();
        let weight = query.weight(tantivy::query::EnableScoring::disabled_from_searcher(
            &searcher,
        ))?;
        let mut out = Vec::new();
        for seg in searcher.segment_readers() {
            let Some(names) = seg.fast_fields().str("name")? else {
                continue;
            };
            let alive = seg.alive_bitset();
            let mut ords = Vec::new();
            weight.for_each_no_score(seg, &mut |docs| {
                for &d in docs {
                    if alive.is_none_or(|a| a.is_alive(d)) {
                        ords.extend(names.term_ords(d));
                    }
                }
            })?;
            // Resolving sorted ordinals walks the dictionary once, instead of a lookup each.
            ords.sort_unstable();
            names.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
                out.push(String::from_utf8_lossy(bytes).into_owned());
            })?;
        }
        out.sort_unstable();
        Ok(out)
    }

    /// How many documents match `q`.
    pub fn count(&self, scope: &str, q: &Query) -> Result<u64, SearchError> {
        let query = scoped(&self.fields, scope, q, None)?;
        let searcher = self.reader.searcher();
        Ok(searcher.search(&*query, &Count)? as u64)
    }
}
