//! The fleet index (L2): thing and thing-group documents in tantivy, queries of the fleet query
//! language compiled to tantivy queries, and exact aggregations read from the term dictionary.
//!
//! The index is derived data. The services decide what a document holds (`IndexDoc`: a name,
//! (path, value) fields and the JSON a search returns) and when it changes; this crate only
//! stores and searches. Every document belongs to a *scope* (an account/region partition and an
//! index name), and every query is limited to one scope. Deleting the folder loses nothing that
//! the store cannot rebuild.
//!
//! Aggregations walk the postings of one field's terms and count the documents that also match
//! the query, instead of using tantivy's aggregation module: its percentiles are DDSketch
//! estimates, while AWS's documented results (and the seed's) interpolate between the exact
//! values, and its statistics lack a sum of squares.
//!
//! This crate must not depend on the domain, the store, HTTP or MQTT.

mod aggregate;
mod compile;
mod document;
mod schema;
mod search;
mod tokens;

pub use compile::MatchError;
pub use document::{FieldValue, IndexDoc};
pub use search::{Page, SearchError};

use std::path::Path;
use std::sync::Mutex;
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("index files: {0}")]
    Io(#[from] std::io::Error),
}

pub type IndexResult<T> = Result<T, IndexError>;

/// Memory the writer may buffer before it flushes a segment.
const WRITER_HEAP: usize = 128 << 20;

pub struct FleetIndex {
    fields: schema::Fields,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
}

impl FleetIndex {
    /// Opens the index in `dir`, or creates it. An index of another schema version, or one that
    /// cannot be opened, is discarded: `fresh` is then true and the caller rebuilds it.
    pub fn open(dir: &Path) -> IndexResult<(FleetIndex, bool)> {
        let marker = dir.join("shoal-index-version");
        let current = std::fs::read_to_string(&marker).ok();
        let (schema, fields) = schema::build();
        let existing = if current.as_deref() == Some(schema::VERSION) {
            MmapDirectory::open(dir)
                .ok()
                .and_then(|d| Index::open(d).ok())
                .filter(|i| i.schema() == schema)
        } else {
            None
        };
        let fresh = existing.is_none();
        let index = match existing {
            Some(i) => i,
            None => {
                if dir.exists() {
                    std::fs::remove_dir_all(dir)?;
                }
                std::fs::create_dir_all(dir)?;
                let i = Index::create_in_dir(dir, schema)?;
                std::fs::write(&marker, schema::VERSION)?;
                i
            }
        };
        Self::with_index(index, fields).map(|i| (i, fresh))
    }

    /// An index in memory, for tests.
    pub fn in_memory() -> IndexResult<FleetIndex> {
        let (schema, fields) = schema::build();
        Self::with_index(Index::create_in_ram(schema), fields)
    }

    fn with_index(index: Index, fields: schema::Fields) -> IndexResult<FleetIndex> {
        let writer = index.writer_with_num_threads(1, WRITER_HEAP)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(FleetIndex {
            fields,
            writer: Mutex::new(writer),
            reader,
        })
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds or replaces documents; visible after the next `commit`.
    pub fn put(&self, scope: &str, docs: impl IntoIterator<Item = IndexDoc>) -> IndexResult<()> {
        self.add(scope, docs, true)
    }

    /// Adds documents to a scope that was just cleared: nothing to replace, so no delete
    /// per document (a rebuild of a million would queue a million).
    pub fn put_new(
        &self,
        scope: &str,
        docs: impl IntoIterator<Item = IndexDoc>,
    ) -> IndexResult<()> {
        self.add(scope, docs, false)
    }

    fn add(
        &self,
        scope: &str,
        docs: impl IntoIterator<Item = IndexDoc>,
        replace: bool,
    ) -> IndexResult<()> {
        let w = self.writer();
        for doc in docs {
            let f = &self.fields;
            if replace {
                w.delete_term(Term::from_field_text(f.key, &schema::key(scope, &doc.name)));
            }
            let mut d = TantivyDocument::new();
            d.add_text(f.key, schema::key(scope, &doc.name));
            d.add_text(f.scope, scope);
            d.add_text(f.name, &doc.name);
            for t in doc.terms() {
                d.add_text(f.terms, t);
            }
            d.add_bytes(f.source, &doc.source);
            w.add_document(d)?;
        }
        Ok(())
    }

    pub fn delete(&self, scope: &str, names: impl IntoIterator<Item = String>) {
        let w = self.writer();
        for n in names {
            w.delete_term(Term::from_field_text(
                self.fields.key,
                &schema::key(scope, &n),
            ));
        }
    }

    /// Removes every document of a scope (before a rebuild, or when indexing is turned off).
    pub fn clear(&self, scope: &str) {
        self.writer()
            .delete_term(Term::from_field_text(self.fields.scope, scope));
    }

    /// Makes everything written so far durable and visible to searches.
    pub fn commit(&self) -> IndexResult<()> {
        self.writer().commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Hands the memory a large build freed back to the system. glibc keeps freed heap pages
    /// for reuse; after a rebuild of a million things that is over a gigabyte of resident
    /// memory the process no longer uses.
    pub fn release_memory(&self) {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free pages to the kernel; it touches no live memory.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests;
