//! The tantivy schema: a few fixed fields, and one inverted field (`terms`) that holds every
//! path's terms (see `tokens`).

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, STORED, STRING,
};

/// Bumped whenever the schema or the term encoding changes; an index written with another
/// version is discarded and rebuilt from the store.
pub const VERSION: &str = "1";

#[derive(Clone, Copy)]
pub struct Fields {
    /// `SCOPE \0 NAME`: what an update deletes before it adds.
    pub key: Field,
    /// The partition and index the document belongs to; every query is limited to one.
    pub scope: Field,
    /// The document's name, for ordering results and resuming after a page.
    pub name: Field,
    pub terms: Field,
    pub source: Field,
}

pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let key = b.add_text_field("key", STRING);
    let scope = b.add_text_field("scope", STRING);
    let name = b.add_text_field("name", STRING | FAST);
    // Document frequencies only: no positions (phrases are matched as all of their words) and no
    // scoring, which keeps the postings small.
    let terms = b.add_text_field(
        "terms",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        ),
    );
    let source = b.add_bytes_field("source", STORED);
    let schema = b.build();
    (
        schema,
        Fields {
            key,
            scope,
            name,
            terms,
            source,
        },
    )
}

pub fn key(scope: &str, name: &str) -> String {
    format!("{scope}\u{0}{name}")
}
