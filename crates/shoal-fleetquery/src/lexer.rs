//! Splits a query string into tokens. Words end at whitespace (Java's `isWhitespace`, which AWS
//! tokenizes on) and at the syntax characters; a backslash makes the next character literal.

use crate::ast::Piece;
use crate::error::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    LParen,
    RParen,
    Colon,
    /// `[` or `{`: true when inclusive.
    Open(bool),
    /// `]` or `}`: true when inclusive.
    Close(bool),
    Cmp(Cmp),
    Quoted(String),
    /// A word: its pieces (text and unescaped wildcards), and whether any character was escaped
    /// (an escaped word is never an operator).
    Word(Vec<Piece>, bool),
    /// `-` or `+` before a clause.
    Minus,
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// A token and the character offset where it starts.
pub type Spanned = (Tok, usize);

pub fn lex(input: &str) -> Result<Vec<Spanned>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            // Lucene's flexible syntax, whose `<`/`>` AWS documents, reads `field=value` as
            // `field:value` (AWS's own seed writes `attributes.fw_version=2.0`).
            ':' | '=' => Some(Tok::Colon),
            '[' => Some(Tok::Open(true)),
            '{' => Some(Tok::Open(false)),
            ']' => Some(Tok::Close(true)),
            '}' => Some(Tok::Close(false)),
            _ => None,
        };
        if let Some(t) = simple {
            out.push((t, start));
            i += 1;
            continue;
        }
        if c == '<' || c == '>' {
            let eq = chars.get(i + 1) == Some(&'=');
            let cmp = match (c, eq) {
                ('<', false) => Cmp::Lt,
                ('<', true) => Cmp::Le,
                ('>', false) => Cmp::Gt,
                _ => Cmp::Ge,
            };
            out.push((Tok::Cmp(cmp), start));
            i += 1 + usize::from(eq);
            continue;
        }
        if c == '"' {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(QueryError::new(start, "unterminated quoted phrase")),
                    Some('"') => break,
                    Some('\\') => match chars.get(i + 1) {
                        Some(n) => {
                            s.push(*n);
                            i += 1;
                        }
                        None => return Err(QueryError::new(i, "escape character at end of query")),
                    },
                    Some(ch) => s.push(*ch),
                }
                i += 1;
            }
            i += 1;
            out.push((Tok::Quoted(s), start));
            continue;
        }
        if (c == '-' || c == '+')
            && chars
                .get(i + 1)
                .is_some_and(|n| !n.is_whitespace() && *n != ')')
        {
            out.push((if c == '-' { Tok::Minus } else { Tok::Plus }, start));
            i += 1;
            continue;
        }
        let (word, escaped, end) = word(&chars, i)?;
        out.push((Tok::Word(word, escaped), start));
        i = end;
    }
    Ok(out)
}

/// Reads a word from `i`: its pieces, whether anything was escaped, and where it ends.
fn word(chars: &[char], mut i: usize) -> Result<(Vec<Piece>, bool, usize), QueryError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut escaped = false;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            break;
        }
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err(QueryError::new(i, "escape character at end of query"));
                };
                text.push(n);
                escaped = true;
                i += 2;
                continue;
            }
            '*' | '?' => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(if c == '*' { Piece::Any } else { Piece::One });
            }
            '(' | ')' | ':' | '=' | '"' | '[' | ']' | '{' | '}' | '<' | '>' => break,
            _ => text.push(c),
        }
        i += 1;
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok((pieces, escaped, i))
}
