//! A cursor over the pattern text, shared by the four pattern forms. It walks bytes but reports
//! errors at character offsets, so a position means the same thing to a person whatever the
//! pattern holds.

use super::error::PatternError;

pub(super) struct Cursor<'a> {
    src: &'a str,
    /// Byte offset, always on a character boundary.
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Cursor { src, pos: 0 }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// The text between two byte offsets this cursor has passed.
    pub(super) fn slice(&self, from: usize, to: usize) -> &'a str {
        &self.src[from..to]
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos == self.src.len()
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Consumes `token` if the text continues with it.
    pub(super) fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    pub(super) fn skip_ws(&mut self) {
        self.take_while(char::is_whitespace);
    }

    pub(super) fn take_while(&mut self, mut keep: impl FnMut(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !keep(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.src[start..self.pos]
    }

    /// An error at byte offset `byte` of the pattern.
    pub(super) fn error_at(&self, byte: usize, message: impl Into<String>) -> PatternError {
        PatternError::new(self.src[..byte].chars().count(), message)
    }

    pub(super) fn error(&self, message: impl Into<String>) -> PatternError {
        self.error_at(self.pos, message)
    }

    /// Only whitespace may follow a JSON, space-delimited or regex pattern.
    pub(super) fn expect_end(&mut self) -> Result<(), PatternError> {
        self.skip_ws();
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error("unexpected text after the end of the pattern"))
        }
    }

    /// A double-quoted string, the cursor on its opening quote. `\"` and `\\` stand for a quote
    /// and a backslash (the escaping AWS's own CDK applies when it quotes a term); any other
    /// backslash is kept as written.
    pub(super) fn quoted(&mut self) -> Result<String, PatternError> {
        let open = self.pos;
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error_at(open, "unterminated quoted string")),
                Some('"') => return Ok(out),
                Some('\\') => match self.peek() {
                    Some(c @ ('"' | '\\')) => {
                        self.bump();
                        out.push(c);
                    }
                    _ => out.push('\\'),
                },
                Some(c) => out.push(c),
            }
        }
    }
}
