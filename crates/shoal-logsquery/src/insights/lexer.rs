//! Splits a query into tokens, each with its character offset. `#` starts a comment to the end
//! of the line; newlines are whitespace, but a token remembers whether it starts a line, since a
//! command on a new line needs no `|`.
//!
//! A `/` starts a regular expression where an operand is expected (after `like`, `=~`, an
//! operator, `(`, `,`, or `parse [field]`), and is a division after an operand.

use super::error::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: a field name, keyword, command or function name.
    Ident(String),
    /// A `` `quoted` `` field name.
    Quoted(String),
    Str(String),
    Regex(String),
    Num(f64),
    /// Digits followed by letters: `5m`.
    Period(u64, String),
    Pipe,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~`
    Tilde,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Character offset of the token's first character.
    pub pos: usize,
    /// First token on its line (and not the first of the query).
    pub line_start: bool,
    /// The token's text, for error messages.
    pub text: String,
}

impl Tok {
    /// True when the token can end an operand, so a `/` after it divides.
    fn ends_operand(&self) -> bool {
        if let Tok::Ident(w) = self {
            return !["like", "and", "or", "not", "in"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k));
        }
        matches!(
            self,
            Tok::Quoted(_)
                | Tok::Str(_)
                | Tok::Regex(_)
                | Tok::Num(_)
                | Tok::Period(..)
                | Tok::RParen
                | Tok::RBracket
        )
    }

    pub(crate) fn is_word(&self, word: &str) -> bool {
        matches!(self, Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }
}

/// Characters a bare field name may hold; the printer backticks any other name.
pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '@' || c == '$'
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '$' | '.')
}

pub(crate) fn lex(text: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let err = |pos: usize, msg: String| QueryError::new(text, pos, msg);
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    let mut new_line = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            new_line = true;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let next = chars.get(i + 1).copied();
        let tok = match c {
            '|' => one(&mut i, Tok::Pipe),
            ',' => one(&mut i, Tok::Comma),
            '(' => one(&mut i, Tok::LParen),
            ')' => one(&mut i, Tok::RParen),
            '[' => one(&mut i, Tok::LBracket),
            ']' => one(&mut i, Tok::RBracket),
            '+' => one(&mut i, Tok::Plus),
            '-' => one(&mut i, Tok::Minus),
            '*' => one(&mut i, Tok::Star),
            '%' => one(&mut i, Tok::Percent),
            '^' => one(&mut i, Tok::Caret),
            '=' if next == Some('~') => two(&mut i, Tok::Tilde),
            '=' if next == Some('=') => two(&mut i, Tok::Eq),
            '=' => one(&mut i, Tok::Eq),
            '!' if next == Some('=') => two(&mut i, Tok::Ne),
            '<' if next == Some('=') => two(&mut i, Tok::Le),
            '<' => one(&mut i, Tok::Lt),
            '>' if next == Some('=') => two(&mut i, Tok::Ge),
            '>' => one(&mut i, Tok::Gt),
            '/' if regex_allowed(&out) => {
                let (body, end) = delimited(&chars, i, '/', true)
                    .ok_or_else(|| err(start, "unterminated regular expression".into()))?;
                i = end;
                Tok::Regex(body)
            }
            '/' => one(&mut i, Tok::Slash),
            '"' | '\'' => {
                let (body, end) = delimited(&chars, i, c, false)
                    .ok_or_else(|| err(start, "unterminated string".into()))?;
                i = end;
                Tok::Str(body)
            }
            '`' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&ch| ch == '`')
                    .ok_or_else(|| err(start, "unterminated quoted field name".into()))?;
                let name: String = chars[i + 1..i + 1 + end].iter().collect();
                if name.is_empty() {
                    return Err(err(start, "empty field name".into()));
                }
                i += end + 2;
                Tok::Quoted(name)
            }
            c if c.is_ascii_digit() => match number(&chars, &mut i) {
                Some(t) => t,
                None => {
                    while i < chars.len() && (is_ident_char(chars[i]) || chars[i].is_ascii_digit())
                    {
                        i += 1;
                    }
                    let t: String = chars[start..i].iter().collect();
                    return Err(err(start, format!("invalid number {t}")));
                }
            },
            c if is_ident_start(c) => {
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                Tok::Ident(chars[start..i].iter().collect())
            }
            other => return Err(err(start, format!("unexpected symbol found {other}"))),
        };
        out.push(Token {
            tok,
            pos: start,
            line_start: new_line && !out.is_empty(),
            text: chars[start..i].iter().collect(),
        });
        new_line = false;
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: chars.len(),
        line_start: false,
        text: String::new(),
    });
    Ok(out)
}

fn one(i: &mut usize, t: Tok) -> Tok {
    *i += 1;
    t
}

fn two(i: &mut usize, t: Tok) -> Tok {
    *i += 2;
    t
}

/// A `/` is a regex after a non-operand, or right after `parse` or `parse field`.
fn regex_allowed(out: &[Token]) -> bool {
    let n = out.len();
    let Some(last) = out.last() else { return true };
    if !last.tok.ends_operand() {
        return true;
    }
    let command_start = |k: usize| k == 0 || out[k - 1].tok == Tok::Pipe || out[k].line_start;
    // `filter /re/`, `parse /re/`: right after a command word.
    let command_word = |t: &Tok| matches!(t, Tok::Ident(w) if super::parser::is_command_word(w));
    if command_word(&last.tok) && command_start(n - 1) {
        return true;
    }
    n >= 2
        && out[n - 2].tok.is_word("parse")
        && command_start(n - 2)
        && matches!(last.tok, Tok::Ident(_) | Tok::Quoted(_))
}

/// The body of a string or regex opening at `chars[open]`; returns it and the offset after the
/// closing delimiter. In strings `\n`, `\t`, `\r`, `\\` and an escaped quote are unescaped and
/// other escapes kept as written; in regexes only `\/` is unescaped (the regex engine reads the
/// rest).
fn delimited(chars: &[char], open: usize, close: char, regex: bool) -> Option<(String, usize)> {
    let mut body = String::new();
    let mut i = open + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == close {
            return Some((body, i + 1));
        }
        if c == '\\' {
            let e = *chars.get(i + 1)?;
            match e {
                _ if e == close => body.push(e),
                _ if regex => {
                    body.push('\\');
                    body.push(e);
                }
                'n' => body.push('\n'),
                't' => body.push('\t'),
                'r' => body.push('\r'),
                '\\' | '"' | '\'' => body.push(e),
                _ => {
                    body.push('\\');
                    body.push(e);
                }
            }
            i += 2;
            continue;
        }
        body.push(c);
        i += 1;
    }
    None
}

/// Digits, an optional fraction and exponent; digits followed by letters are a period (`5m`).
fn number(chars: &[char], i: &mut usize) -> Option<Tok> {
    let start = *i;
    let digits = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(i);
    let int_end = *i;
    let at = |k: usize| chars.get(k).copied().unwrap_or(' ');
    if at(*i).is_ascii_alphabetic() && !exponent_follows(chars, *i) {
        let unit_start = *i;
        while *i < chars.len() && chars[*i].is_ascii_alphabetic() {
            *i += 1;
        }
        let amount: String = chars[start..int_end].iter().collect();
        let unit: String = chars[unit_start..*i].iter().collect();
        return Some(Tok::Period(amount.parse().ok()?, unit));
    }
    if at(*i) == '.' && at(*i + 1).is_ascii_digit() {
        *i += 1;
        digits(i);
    }
    if exponent_follows(chars, *i) {
        *i += 1;
        if matches!(at(*i), '+' | '-') {
            *i += 1;
        }
        digits(i);
    }
    if is_ident_char(at(*i)) {
        return None;
    }
    let text: String = chars[start..*i].iter().collect();
    text.parse().ok().map(Tok::Num)
}

fn exponent_follows(chars: &[char], i: usize) -> bool {
    let at = |k: usize| chars.get(k).copied().unwrap_or(' ');
    matches!(at(i), 'e' | 'E')
        && (at(i + 1).is_ascii_digit()
            || (matches!(at(i + 1), '+' | '-') && at(i + 2).is_ascii_digit()))
}
