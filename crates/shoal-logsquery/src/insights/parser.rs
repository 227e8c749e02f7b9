//! Commands: the pipeline of a query and each command's arguments. Expressions are in
//! `parse_expr.rs`. Everything StartQuery would refuse is refused here with its position, so
//! running a parsed query cannot fail.
//!
//! Syntax: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html>;
//! commands and keywords are case-insensitive (the parse page writes `FIELDS ... | PARSE`).

use regex::Regex;

use super::ast::{Command, Order, ParseCommand, ParsePattern, Pattern, Projection, SortKey, Stats};
use super::error::QueryError;
use super::lexer::{lex, Tok, Token};
use super::MAX_LIMIT;

const COMMANDS: &[&str] = &[
    "fields", "display", "filter", "stats", "sort", "limit", "parse", "dedup",
];

/// Words that are never field names unless backticked.
pub(crate) const RESERVED: &[&str] = &["and", "or", "not", "like", "in", "as", "by", "asc", "desc"];

/// Where an aggregation (`count(*)`, `avg(x)`) may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggContext {
    Forbidden,
    Allowed,
    Inside,
    /// After stats, `count(*)` names the stats column of that name.
    AfterStats,
}

pub(crate) struct Parser<'t> {
    pub text: &'t str,
    pub toks: Vec<Token>,
    pub i: usize,
    pub agg: AggContext,
    /// Current nesting of expressions, bounded so a hostile query cannot exhaust the stack.
    pub depth: usize,
}

/// The deepest nesting of parentheses, calls, `not` and `-` an expression may have.
pub const MAX_NESTING: usize = 64;

pub(crate) fn parse_commands(text: &str) -> Result<Vec<Command>, QueryError> {
    let mut p = Parser {
        text,
        toks: lex(text)?,
        i: 0,
        agg: AggContext::Forbidden,
        depth: 0,
    };
    p.pipeline()
}

impl Parser<'_> {
    pub(crate) fn peek(&self) -> &Token {
        &self.toks[self.i]
    }

    pub(crate) fn peek_at(&self, ahead: usize) -> &Tok {
        &self.toks[(self.i + ahead).min(self.toks.len() - 1)].tok
    }

    pub(crate) fn advance(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if t.tok != Tok::Eof {
            self.i += 1;
        }
        t
    }

    pub(crate) fn error_at(&self, pos: usize, message: impl Into<String>) -> QueryError {
        QueryError::new(self.text, pos, message)
    }

    /// "unexpected symbol found X", AWS's wording for a token out of place.
    pub(crate) fn unexpected(&self) -> QueryError {
        let t = self.peek();
        if t.tok == Tok::Eof {
            self.error_at(t.pos, "unexpected end of query")
        } else {
            self.error_at(t.pos, format!("unexpected symbol found {}", t.text))
        }
    }

    pub(crate) fn eat(&mut self, tok: &Tok) -> bool {
        if &self.peek().tok == tok {
            self.advance();
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, tok: &Tok) -> Result<(), QueryError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    pub(crate) fn eat_word(&mut self, word: &str) -> bool {
        if self.peek().tok.is_word(word) {
            self.advance();
            true
        } else {
            false
        }
    }

    /// A field name: a bare word that is not a keyword, or a backticked name.
    pub(crate) fn name(&mut self) -> Result<String, QueryError> {
        match &self.peek().tok {
            Tok::Quoted(n) => {
                let n = n.clone();
                self.advance();
                Ok(n)
            }
            Tok::Ident(n) if !is_reserved(n) => {
                let n = n.clone();
                self.advance();
                Ok(n)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn pipeline(&mut self) -> Result<Vec<Command>, QueryError> {
        if self.peek().tok == Tok::Eof {
            return Err(self.error_at(0, "the query is empty"));
        }
        let mut commands = Vec::new();
        let mut stats_seen = false;
        let mut cut_seen = false;
        loop {
            let pos = self.peek().pos;
            self.agg = if stats_seen {
                AggContext::AfterStats
            } else {
                AggContext::Forbidden
            };
            let command = self.command()?;
            match &command {
                Command::Stats(_) if stats_seen => {
                    return Err(self.error_at(pos, "only one stats command is supported"))
                }
                Command::Stats(_) if cut_seen => {
                    return Err(self.error_at(pos, "stats after limit or dedup is not supported"))
                }
                Command::Stats(_) => stats_seen = true,
                Command::Parse(_) if stats_seen => {
                    return Err(self.error_at(pos, "parse after stats is not supported"))
                }
                Command::Limit(_) | Command::Dedup(_) => cut_seen = true,
                _ => {}
            }
            commands.push(command);
            let next = self.peek();
            if next.tok == Tok::Pipe {
                self.advance();
            } else if next.tok == Tok::Eof {
                return Ok(commands);
            } else if !(next.line_start && is_command(&next.tok)) {
                return Err(self.unexpected());
            }
        }
    }

    fn command(&mut self) -> Result<Command, QueryError> {
        let t = self.peek().clone();
        let Tok::Ident(word) = &t.tok else {
            return Err(self.unexpected());
        };
        let word = word.to_ascii_lowercase();
        if !COMMANDS.contains(&word.as_str()) {
            return Err(self.error_at(t.pos, format!("unexpected symbol found {}", t.text)));
        }
        self.advance();
        Ok(match word.as_str() {
            "fields" => Command::Fields(self.projections()?),
            "display" => Command::Display(self.projections()?),
            "filter" => Command::Filter(self.expr()?),
            "stats" => Command::Stats(self.stats()?),
            "sort" => Command::Sort(self.sort_keys()?),
            "limit" => Command::Limit(self.limit()?),
            "parse" => Command::Parse(self.parse_command()?),
            _ => Command::Dedup(self.list(|p| p.expr())?),
        })
    }

    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, QueryError>,
    ) -> Result<Vec<T>, QueryError> {
        let mut out = vec![item(self)?];
        while self.eat(&Tok::Comma) {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn projections(&mut self) -> Result<Vec<Projection>, QueryError> {
        self.list(|p| {
            let expr = p.expr()?;
            let alias = if p.eat_word("as") {
                Some(p.name()?)
            } else {
                None
            };
            Ok(Projection { expr, alias })
        })
    }

    /// Stats items aggregate; outside its aggregations an item may only use the names of
    /// earlier items (`max(a) as hi, min(a) as lo, hi - lo as spread`).
    fn stats(&mut self) -> Result<Stats, QueryError> {
        let mut aliases: Vec<String> = Vec::new();
        let items = self.list(|p| {
            let pos = p.peek().pos;
            p.agg = AggContext::Allowed;
            let expr = p.expr();
            p.agg = AggContext::Forbidden;
            let expr = expr?;
            let mut uses = Vec::new();
            super::parse_expr::bare_fields(&expr, &mut uses);
            if let Some(f) = uses.iter().find(|f| !aliases.contains(f)) {
                return Err(p.error_at(
                    pos,
                    format!("{f} in stats must be inside an aggregation function such as avg({f})"),
                ));
            }
            if uses.is_empty() && !super::parse_expr::has_aggregate(&expr) {
                return Err(p.error_at(pos, "stats needs an aggregation function such as count(*)"));
            }
            let alias = if p.eat_word("as") {
                Some(p.name()?)
            } else {
                None
            };
            aliases.extend(alias.clone());
            Ok(Projection { expr, alias })
        })?;
        let by = if self.eat_word("by") {
            self.projections()?
        } else {
            Vec::new()
        };
        Ok(Stats { items, by })
    }

    fn sort_keys(&mut self) -> Result<Vec<SortKey>, QueryError> {
        let pos = self.peek().pos;
        let keys = self.list(|p| {
            let expr = p.expr()?;
            let order = if p.eat_word("asc") {
                Some(Order::Asc)
            } else if p.eat_word("desc") {
                Some(Order::Desc)
            } else {
                None
            };
            Ok(SortKey { expr, order })
        })?;
        if keys.len() > super::MAX_SORT_KEYS {
            return Err(self.error_at(
                pos,
                format!("sort takes at most {} fields", super::MAX_SORT_KEYS),
            ));
        }
        Ok(keys)
    }

    fn limit(&mut self) -> Result<u32, QueryError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Num(n) if n.fract() == 0.0 && n >= 1.0 && n <= f64::from(MAX_LIMIT) => {
                self.advance();
                Ok(n as u32)
            }
            Tok::Num(_) => Err(self.error_at(
                t.pos,
                format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
            )),
            _ => Err(self.unexpected()),
        }
    }

    fn parse_command(&mut self) -> Result<ParseCommand, QueryError> {
        let source = match self.peek().tok {
            Tok::Ident(_) | Tok::Quoted(_) => Some(self.name()?),
            _ => None,
        };
        let t = self.peek().clone();
        match t.tok {
            Tok::Str(glob) => {
                self.advance();
                let stars = glob.matches('*').count();
                if stars == 0 {
                    return Err(self.error_at(t.pos, "the parse pattern has no * to extract"));
                }
                if !self.peek().tok.is_word("as") {
                    return Err(self.unexpected());
                }
                self.advance();
                let names_pos = self.peek().pos;
                let names = self.list(|p| p.name())?;
                if names.len() != stars {
                    return Err(self.error_at(
                        names_pos,
                        format!(
                            "the parse pattern has {stars} * but {} field names",
                            names.len()
                        ),
                    ));
                }
                let regex =
                    Regex::new(&glob_regex(&glob)).map_err(|e| regex_error(self, t.pos, &e))?;
                Ok(ParseCommand {
                    source,
                    pattern: ParsePattern::Glob {
                        glob: Pattern { text: glob, regex },
                        names,
                    },
                })
            }
            Tok::Regex(text) => {
                self.advance();
                let pattern = self.pattern(text, t.pos)?;
                if pattern.regex.capture_names().flatten().next().is_none() {
                    return Err(self.error_at(
                        t.pos,
                        "the parse regular expression has no named group such as (?<name>...)",
                    ));
                }
                Ok(ParseCommand {
                    source,
                    pattern: ParsePattern::Regex(pattern),
                })
            }
            _ => Err(self.unexpected()),
        }
    }

    /// Compiles a `/regex/` at `pos`.
    pub(crate) fn pattern(&self, text: String, pos: usize) -> Result<Pattern, QueryError> {
        let regex = Regex::new(&text).map_err(|e| regex_error(self, pos, &e))?;
        Ok(Pattern { text, regex })
    }
}

fn regex_error(p: &Parser<'_>, pos: usize, e: &regex::Error) -> QueryError {
    let detail = e.to_string();
    let last = detail.lines().last().unwrap_or("").trim().to_string();
    p.error_at(pos, format!("invalid regular expression: {last}"))
}

/// The regex of a parse glob: each `*` captures as little as lets the rest match, except a
/// final `*`, which takes the rest of the value. The match may start anywhere.
pub(crate) fn glob_regex(glob: &str) -> String {
    let mut re = String::from("(?s)");
    let parts: Vec<&str> = glob.split('*').collect();
    for (k, part) in parts.iter().enumerate() {
        re.push_str(&regex::escape(part));
        if k + 1 < parts.len() {
            let last = k + 2 == parts.len() && parts[k + 1].is_empty();
            re.push_str(if last { "(.*)" } else { "(.*?)" });
        }
    }
    re
}

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| word.eq_ignore_ascii_case(r))
}

fn is_command(t: &Tok) -> bool {
    matches!(t, Tok::Ident(w) if is_command_word(w))
}

pub(crate) fn is_command_word(w: &str) -> bool {
    COMMANDS.iter().any(|c| w.eq_ignore_ascii_case(c))
}
