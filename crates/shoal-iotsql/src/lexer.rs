//! Tokens of AWS IoT SQL, read lazily so the parser can read the FROM clause's topic filter
//! by its own rule.
//!
//! Positions are character offsets. AWS IoT SQL has no comments (iot-sql-reference.html:
//! "Comments are not currently supported").

use crate::error::ParseError;
use crate::set::MAX_VARIABLE_NAME_CHARS;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: a keyword (matched case-insensitively by the parser) or a name.
    Word(String),
    /// A number literal; `is_int` when it has neither a decimal point nor an exponent.
    Number {
        text: String,
        is_int: bool,
    },
    /// A string literal in single or double quotes (AWS's examples use both:
    /// `decode(encoded_temp, "base64")`), escapes resolved.
    Str(String),
    /// `@name`, a SET variable (iot-sql-set.html), without its `@`.
    Variable(String),
    Comma,
    Dot,
    Colon,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Star,
    Plus,
    Minus,
    Slash,
    Percent,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Number { text, .. } => format!("number `{text}`"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Variable(name) => format!("variable `@{name}`"),
            Tok::Eof => "the end of the statement".to_string(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Colon => ":",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Star => "*",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Eq => "=",
            Tok::Ne => "<>",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            _ => "?",
        }
    }
}

pub(crate) struct Lexer<'a> {
    chars: &'a [char],
    pub(crate) pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(chars: &'a [char], pos: usize) -> Self {
        Lexer { chars, pos }
    }

    fn peek_char(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn skip_space(&mut self) {
        while self.peek_char(0).is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// The next token and the position it starts at.
    pub(crate) fn next_token(&mut self) -> Result<(Tok, usize), ParseError> {
        self.skip_space();
        let start = self.pos;
        let Some(c) = self.peek_char(0) else {
            return Ok((Tok::Eof, start));
        };
        let single = |t: Tok| (t, 1usize);
        let (tok, len) = match c {
            ',' => single(Tok::Comma),
            ':' => single(Tok::Colon),
            '(' => single(Tok::LParen),
            ')' => single(Tok::RParen),
            '[' => single(Tok::LBracket),
            ']' => single(Tok::RBracket),
            '{' => single(Tok::LBrace),
            '}' => single(Tok::RBrace),
            '*' => single(Tok::Star),
            '+' => single(Tok::Plus),
            '-' => single(Tok::Minus),
            '/' => single(Tok::Slash),
            '%' => single(Tok::Percent),
            '=' => single(Tok::Eq),
            '<' => match self.peek_char(1) {
                Some('=') => (Tok::Le, 2),
                Some('>') => (Tok::Ne, 2),
                _ => (Tok::Lt, 1),
            },
            '>' => match self.peek_char(1) {
                Some('=') => (Tok::Ge, 2),
                _ => (Tok::Gt, 1),
            },
            // `!=` is not on AWS's operator page, but SQL users write it; it means `<>`.
            '!' if self.peek_char(1) == Some('=') => (Tok::Ne, 2),
            '\'' | '"' => return self.string(c).map(|s| (Tok::Str(s), start)),
            '@' => return self.variable().map(|name| (Tok::Variable(name), start)),
            '.' if !self.peek_char(1).is_some_and(|d| d.is_ascii_digit()) => single(Tok::Dot),
            c if c.is_ascii_digit() || c == '.' => return self.number().map(|t| (t, start)),
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let mut end = self.pos;
                while self.chars.get(end).is_some_and(|&c| is_word_char(c)) {
                    end += 1;
                }
                let word: String = self.chars[self.pos..end].iter().collect();
                self.pos = end;
                return Ok((Tok::Word(word), start));
            }
            other => {
                return Err(ParseError::new(
                    start,
                    format!("unexpected character `{other}`"),
                ))
            }
        };
        self.pos += len;
        Ok((tok, start))
    }

    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let digits = |lx: &mut Self| {
            let s = lx.pos;
            while lx.peek_char(0).is_some_and(|c| c.is_ascii_digit()) {
                lx.pos += 1;
            }
            lx.pos - s
        };
        let int_digits = digits(self);
        let mut is_int = true;
        if self.peek_char(0) == Some('.') && self.peek_char(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            digits(self);
            is_int = false;
        } else if int_digits == 0 {
            return Err(ParseError::new(start, "a number needs digits"));
        }
        if matches!(self.peek_char(0), Some('e' | 'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek_char(0), Some('+' | '-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                self.pos = save;
                return Err(ParseError::new(save, "an exponent needs digits"));
            }
            is_int = false;
        }
        if self.peek_char(0).is_some_and(is_word_char) {
            return Err(ParseError::new(
                self.pos,
                "a number must not run into a name",
            ));
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        Ok(Tok::Number { text, is_int })
    }

    /// A quoted string. A doubled quote stands for one (standard SQL); a backslash escapes
    /// `\\ \' \" \/ \n \r \t \b \f \uXXXX` (JSON's escapes).
    fn string(&mut self, quote: char) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek_char(0) else {
                return Err(ParseError::new(start, "unterminated string"));
            };
            self.pos += 1;
            if c == quote {
                if self.peek_char(0) == Some(quote) {
                    self.pos += 1;
                    out.push(quote);
                    continue;
                }
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let at = self.pos - 1;
            let Some(e) = self.peek_char(0) else {
                return Err(ParseError::new(start, "unterminated string"));
            };
            self.pos += 1;
            let resolved = match e {
                '\\' | '\'' | '"' | '/' => e,
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'u' => {
                    let hex: String = self.chars[self.pos..].iter().take(4).collect();
                    let code = (hex.len() == 4)
                        .then(|| u32::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .and_then(char::from_u32)
                        .ok_or_else(|| ParseError::new(at, "invalid \\u escape"))?;
                    self.pos += 4;
                    code
                }
                _ => return Err(ParseError::new(at, format!("invalid escape `\\{e}`"))),
            };
            out.push(resolved);
        }
    }

    /// `@name`. "Variable names can contain letters, numbers, and underscores" and "can be up
    /// to 64 characters long" (iot-sql-set.html); letters are taken to be ASCII ones.
    fn variable(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut end = self.pos;
        while self
            .chars
            .get(end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            end += 1;
        }
        if self.chars.get(end).is_some_and(|&c| is_word_char(c)) {
            return Err(ParseError::new(
                end,
                "a variable name holds only letters, digits and underscores",
            ));
        }
        if end == self.pos {
            return Err(ParseError::new(start, "a variable needs a name after `@`"));
        }
        if end - self.pos > MAX_VARIABLE_NAME_CHARS {
            return Err(ParseError::new(
                start,
                format!("a variable name is at most {MAX_VARIABLE_NAME_CHARS} characters long"),
            ));
        }
        let name = self.chars[self.pos..end].iter().collect();
        self.pos = end;
        Ok(name)
    }

    /// The FROM clause's topic filter, which "you must enclose in single quotes"
    /// (iot-sql-from.html).
    pub(crate) fn topic(&mut self) -> Result<(String, usize), ParseError> {
        self.skip_space();
        let start = self.pos;
        match self.peek_char(0) {
            Some('\'') => Ok((self.string('\'')?, start)),
            _ => Err(ParseError::new(
                start,
                "FROM needs a topic filter in single quotes",
            )),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}
