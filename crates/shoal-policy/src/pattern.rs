//! Compiled patterns: the strings of `Action`, `Resource` and condition values,
//! with wildcards and policy variables turned into pieces once at parse time so
//! that matching never allocates.
//!
//! The rules come from IAM, which AWS IoT follows
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-variables.html>):
//! `*` matches any run of characters and `?` exactly one
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>);
//! MQTT's `+` and `#` are plain characters. `${key}` is replaced by the value
//! of `key` from the request, `${key, 'default'}` falls back to `default`, and
//! `${*}`, `${?}`, `${$}` stand for a literal `*`, `?`, `$`
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>).
//! A substituted value is matched literally: a `*` in a client ID is not a
//! wildcard.

use crate::context::{canonical_key, Context};

/// Which syntax a string is written in; it depends on where it appears.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (Action, Resource, `StringLike`, `ArnLike`)
    /// rather than literal characters (`StringEquals`).
    pub wildcards: bool,
    /// `${...}` is a policy variable. Only policies written in language
    /// version 2012-10-17 have variables; in 2008-10-17 the text is literal.
    pub variables: bool,
    /// Characters compare without regard to case (action names,
    /// `StringEqualsIgnoreCase`).
    pub ignore_case: bool,
}

/// A policy variable: the context key it reads and its optional default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    key: Box<str>,
    default: Option<Box<str>>,
}

impl Var {
    fn resolve<'a>(&'a self, ctx: &'a dyn Context) -> Option<&'a str> {
        ctx.get(&self.key).or(self.default.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Characters to match as written.
    Lit(Box<str>),
    /// `?`: exactly one character.
    One,
    /// The value of `vars[i]`, matched as written.
    Var(usize),
}

/// The pieces between two `*` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    pieces: Vec<Piece>,
    /// Characters this part always consumes (literals and `?`), to place a
    /// trailing part without searching.
    fixed_chars: usize,
}

/// The result of matching a pattern against a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Match,
    NoMatch,
    /// A variable had no value and no default, so the pattern cannot be
    /// compared at all. AWS then treats the statement as not applying.
    Unresolved,
}

/// A compiled pattern: parts separated by `*`. A pattern without `*` has one
/// part, which must cover the whole string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    parts: Vec<Part>,
    vars: Vec<Var>,
    ignore_case: bool,
}

/// Variables are resolved into a stack array before matching so that a `*`
/// search never looks a key up twice; no real policy has more per string.
const INLINE_VARS: usize = 8;

impl Pattern {
    pub(crate) fn compile(text: &str, syntax: Syntax) -> Pattern {
        let mut builder = Builder {
            parts: Vec::new(),
            pieces: Vec::new(),
            literal: String::new(),
            vars: Vec::new(),
        };
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if syntax.variables && rest.starts_with("${") {
                if let Some((element, after)) = variable(rest) {
                    match element {
                        Element::Char(c) => builder.literal.push(c),
                        Element::Var(var) => builder.var(var),
                    }
                    rest = after;
                    continue;
                }
            }
            match c {
                '*' if syntax.wildcards => builder.star(),
                '?' if syntax.wildcards => {
                    builder.flush();
                    builder.pieces.push(Piece::One);
                }
                _ => builder.literal.push(c),
            }
            rest = rest.get(c.len_utf8()..).unwrap_or("");
        }
        builder.star();
        Pattern {
            parts: builder.parts,
            vars: builder.vars,
            ignore_case: syntax.ignore_case,
        }
    }

    /// The context keys its variables read.
    pub(crate) fn variable_keys(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|v| &*v.key)
    }

    /// Whether the pattern uses policy variables.
    pub(crate) fn has_variables(&self) -> bool {
        !self.vars.is_empty()
    }

    /// Matches a pattern that has no variables (action names, validation).
    pub(crate) fn matches_plain(&self, text: &str) -> bool {
        self.vars.is_empty() && self.glob(text, &|_| "")
    }

    /// Matches `text`, taking variable values from `ctx`.
    ///
    /// When the literal text the pattern opens with already rules `text` out,
    /// the answer is `NoMatch` even if a variable later in the pattern has no
    /// value: no value could make it match. This also spares the context
    /// lookups for most statements on the hot path.
    pub(crate) fn matches(&self, text: &str, ctx: &dyn Context) -> Outcome {
        if let Some(Piece::Lit(lit)) = self.parts.first().and_then(|p| p.pieces.first()) {
            if !self.ignore_case && !text.starts_with(&**lit) {
                return Outcome::NoMatch;
            }
        }
        let matched = if self.vars.is_empty() {
            self.glob(text, &|_| "")
        } else if self.vars.len() <= INLINE_VARS {
            let mut values = [""; INLINE_VARS];
            for (slot, var) in values.iter_mut().zip(&self.vars) {
                match var.resolve(ctx) {
                    Some(value) => *slot = value,
                    None => return Outcome::Unresolved,
                }
            }
            self.glob(text, &|i| values.get(i).copied().unwrap_or(""))
        } else {
            if self.vars.iter().any(|var| var.resolve(ctx).is_none()) {
                return Outcome::Unresolved;
            }
            self.glob(text, &|i| {
                self.vars
                    .get(i)
                    .and_then(|var| var.resolve(ctx))
                    .unwrap_or("")
            })
        };
        if matched {
            Outcome::Match
        } else {
            Outcome::NoMatch
        }
    }

    /// Glob matching over the parts. The first part is anchored at the start
    /// and the last at the end; each middle part is taken at its leftmost
    /// occurrence, which is always safe because a part without `*` consumes a
    /// fixed number of characters, so the earliest placement leaves the most
    /// text for the parts after it. No backtracking beyond that is needed.
    fn glob<'v>(&self, text: &str, value: &impl Fn(usize) -> &'v str) -> bool {
        let Some((first, rest)) = self.parts.split_first() else {
            return text.is_empty();
        };
        let Some(mut pos) = self.part_at(first, text, 0, value) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return pos == text.len();
        };
        for part in middle {
            match self.find_part(part, text, pos, value) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        self.part_at_end(last, text, pos, value)
    }

    /// Matches `part` starting exactly at `pos`; returns where it ends.
    fn part_at<'v>(
        &self,
        part: &Part,
        text: &str,
        mut pos: usize,
        value: &impl Fn(usize) -> &'v str,
    ) -> Option<usize> {
        for piece in &part.pieces {
            pos = match piece {
                Piece::Lit(lit) => self.literal_at(lit, text, pos)?,
                Piece::Var(i) => self.literal_at(value(*i), text, pos)?,
                Piece::One => pos + text.get(pos..)?.chars().next()?.len_utf8(),
            };
        }
        Some(pos)
    }

    fn literal_at(&self, lit: &str, text: &str, pos: usize) -> Option<usize> {
        let rest = text.get(pos..)?;
        if !self.ignore_case {
            return rest.starts_with(lit).then_some(pos + lit.len());
        }
        let mut chars = rest.char_indices();
        for want in lit.chars() {
            let (_, got) = chars.next()?;
            if !chars_eq_ignore_case(want, got) {
                return None;
            }
        }
        let consumed = chars.next().map_or(rest.len(), |(i, _)| i);
        Some(pos + consumed)
    }

    /// The leftmost placement of `part` at or after `from`; returns its end.
    fn find_part<'v>(
        &self,
        part: &Part,
        text: &str,
        from: usize,
        value: &impl Fn(usize) -> &'v str,
    ) -> Option<usize> {
        // A case-sensitive part that opens with literal text can only start
        // where that text occurs: jump there instead of trying every position.
        let anchor = match part.pieces.first() {
            Some(Piece::Lit(lit)) if !self.ignore_case => Some(&**lit),
            Some(Piece::Var(i)) if !self.ignore_case => Some(value(*i)).filter(|v| !v.is_empty()),
            _ => None,
        };
        let mut start = from;
        loop {
            if let Some(anchor) = anchor {
                start += text.get(start..)?.find(anchor)?;
            }
            if let Some(end) = self.part_at(part, text, start, value) {
                return Some(end);
            }
            start += text.get(start..)?.chars().next()?.len_utf8();
        }
    }

    /// Whether `part` can end exactly at the end of `text`, starting at or
    /// after `from`. It consumes a known number of characters, so there is
    /// only one candidate start.
    fn part_at_end<'v>(
        &self,
        part: &Part,
        text: &str,
        from: usize,
        value: &impl Fn(usize) -> &'v str,
    ) -> bool {
        let mut needed = part.fixed_chars;
        for piece in &part.pieces {
            if let Piece::Var(i) = piece {
                needed += value(*i).chars().count();
            }
        }
        let Some(tail) = text.get(from..) else {
            return false;
        };
        let mut start = tail.len();
        let mut chars = tail.char_indices().rev();
        for _ in 0..needed {
            match chars.next() {
                Some((i, _)) => start = i,
                None => return false,
            }
        }
        self.part_at(part, text, from + start, value) == Some(text.len())
    }
}

/// Case-insensitive comparison of single characters, so both sides advance
/// one character at a time whatever their case.
fn chars_eq_ignore_case(a: char, b: char) -> bool {
    a == b
        || (a.is_ascii() && b.is_ascii() && a.eq_ignore_ascii_case(&b))
        || (!a.is_ascii() && !b.is_ascii() && a.to_lowercase().eq(b.to_lowercase()))
}

struct Builder {
    parts: Vec<Part>,
    pieces: Vec<Piece>,
    literal: String,
    vars: Vec<Var>,
}

impl Builder {
    fn flush(&mut self) {
        if !self.literal.is_empty() {
            let lit = std::mem::take(&mut self.literal);
            self.pieces.push(Piece::Lit(lit.into_boxed_str()));
        }
    }

    fn var(&mut self, var: Var) {
        self.flush();
        let index = match self.vars.iter().position(|v| *v == var) {
            Some(index) => index,
            None => {
                self.vars.push(var);
                self.vars.len() - 1
            }
        };
        self.pieces.push(Piece::Var(index));
    }

    fn star(&mut self) {
        self.flush();
        let pieces = std::mem::take(&mut self.pieces);
        let fixed_chars = pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(lit) => lit.chars().count(),
                Piece::One => 1,
                Piece::Var(_) => 0,
            })
            .sum();
        self.parts.push(Part {
            pieces,
            fixed_chars,
        });
    }
}

enum Element {
    Char(char),
    Var(Var),
}

/// Reads `${...}` at the start of `text`. Returns `None` when the text there
/// is not a well-formed variable, in which case the `$` is an ordinary
/// character (an unterminated `${` cannot be a variable).
fn variable(text: &str) -> Option<(Element, &str)> {
    let body = text.strip_prefix("${")?;
    let close = body.find('}')?;
    let inner = body.get(..close)?;
    let after = body.get(close + 1..)?;
    let element = match inner {
        "*" => Element::Char('*'),
        "?" => Element::Char('?'),
        "$" => Element::Char('$'),
        _ => {
            let (name, default) = match inner.split_once(',') {
                Some((name, default)) => (name.trim(), Some(quoted(default.trim())?)),
                None => (inner.trim(), None),
            };
            if name.is_empty() || name.contains(|c: char| c == '$' || c == '{' || c.is_whitespace())
            {
                return None;
            }
            Element::Var(Var {
                key: canonical_key(name).into_boxed_str(),
                default: default.map(String::into_boxed_str),
            })
        }
    };
    Some((element, after))
}

/// A default value: single-quoted, with `''` standing for one quote.
fn quoted(text: &str) -> Option<String> {
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // A lone quote inside would have ended the value.
            if chars.next() != Some('\'') {
                return None;
            }
        }
        out.push(c);
    }
    Some(out)
}

/// Splits an ARN into its six colon-separated components (the last keeps any
/// further colons), ignoring colons inside `${...}` such as `${aws:username}`.
pub(crate) fn split_arn(text: &str, variables: bool) -> Vec<&str> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0;
    let mut depth_end: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if let Some(end) = depth_end {
            if i < end {
                continue;
            }
            depth_end = None;
        }
        if variables && c == '$' && text.get(i..).is_some_and(|r| r.starts_with("${")) {
            if let Some(close) = text.get(i..).and_then(|r| r.find('}')) {
                depth_end = Some(i + close + 1);
                continue;
            }
        }
        if c == ':' && parts.len() < 5 {
            parts.push(text.get(start..i).unwrap_or(""));
            start = i + 1;
        }
    }
    parts.push(text.get(start..).unwrap_or(""));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::MapContext;

    const GLOB: Syntax = Syntax {
        wildcards: true,
        variables: true,
        ignore_case: false,
    };

    fn check(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern, GLOB).matches(text, &MapContext::new()) == Outcome::Match
    }

    #[test]
    fn wildcards() {
        assert!(check("*", ""));
        assert!(check("*", "anything"));
        assert!(check("a*", "a"));
        assert!(check("a*c", "abc"));
        assert!(check("a*c", "ac"));
        assert!(!check("a*c", "ab"));
        assert!(check("*b*", "abc"));
        assert!(check("a*b*c", "aXbYbZc"));
        assert!(check("a*bc", "abcbc"));
        assert!(!check("a*bc", "abcb"));
        assert!(check("a?c", "abc"));
        assert!(!check("a?c", "ac"));
        assert!(check("a?c", "aéc"));
        assert!(check("*?", "x"));
        assert!(!check("*?", ""));
        assert!(check("**", "xyz"));
        assert!(check("*a?", "bab"));
        assert!(check("?*?", "ab"));
        assert!(!check("?*?", "a"));
        assert!(check("exact", "exact"));
        assert!(!check("exact", "exactly"));
        assert!(!check("exact", "exac"));
        assert!(check("", ""));
        assert!(!check("", "x"));
        assert!(check("some/+/topic", "some/+/topic"));
        assert!(!check("some/+/topic", "some/x/topic"));
        assert!(check("a/#", "a/#"));
        assert!(check("*é*", "xéy"));
    }

    #[test]
    fn escapes_are_literal() {
        assert!(check("a${*}b", "a*b"));
        assert!(!check("a${*}b", "axb"));
        assert!(check("a${?}", "a?"));
        assert!(!check("a${?}", "ab"));
        assert!(check("${$}{x}", "${x}"));
        assert!(check("cost${$}", "cost$"));
    }

    #[test]
    fn variables_are_matched_literally() {
        let ctx = MapContext::new().with("iot:ClientId", "a*?");
        let p = Pattern::compile("topic/${iot:ClientId}/*", GLOB);
        assert_eq!(p.matches("topic/a*?/x", &ctx), Outcome::Match);
        assert_eq!(p.matches("topic/abc/x", &ctx), Outcome::NoMatch);
        assert_eq!(
            p.matches("topic/a*?/x", &MapContext::new()),
            Outcome::Unresolved
        );
        let repeated = Pattern::compile("${iot:ClientId}/*/${iot:ClientId}", GLOB);
        assert_eq!(repeated.matches("a*?/mid/a*?", &ctx), Outcome::Match);
        assert_eq!(repeated.matches("a*?/mid/a*", &ctx), Outcome::NoMatch);
    }

    #[test]
    fn a_mismatched_literal_prefix_decides_before_variables() {
        let p = Pattern::compile("arn:x/${iot:Missing}/*", GLOB);
        let none = MapContext::new();
        assert_eq!(p.matches("arn:y/a/b", &none), Outcome::NoMatch);
        assert_eq!(p.matches("arn:x/a/b", &none), Outcome::Unresolved);
    }

    #[test]
    fn variable_names_are_case_insensitive_and_defaults_apply() {
        let ctx = MapContext::new().with("iot:ClientId", "c1");
        let p = Pattern::compile("${IOT:clientID}", GLOB);
        assert_eq!(p.matches("c1", &ctx), Outcome::Match);
        let d = Pattern::compile("${iot:Missing, 'anon''s'}", GLOB);
        assert_eq!(d.matches("anon's", &ctx), Outcome::Match);
        let bad_default = Pattern::compile("${iot:Missing, anon}", GLOB);
        assert_eq!(
            bad_default.matches("${iot:Missing, anon}", &ctx),
            Outcome::Match
        );
    }

    #[test]
    fn malformed_variables_are_text() {
        assert!(check("${unterminated", "${unterminated"));
        assert!(check("${}", "${}"));
        assert!(check("${a b}", "${a b}"));
        assert!(check("$", "$"));
        assert!(check("$x", "$x"));
    }

    #[test]
    fn without_variables_or_wildcards_everything_is_literal() {
        let literal = Syntax {
            wildcards: false,
            variables: false,
            ignore_case: false,
        };
        let p = Pattern::compile("${iot:ClientId}*?", literal);
        assert!(p.matches_plain("${iot:ClientId}*?"));
        assert!(!p.matches_plain("${iot:ClientId}xx"));
    }

    #[test]
    fn ignore_case() {
        let syntax = Syntax {
            wildcards: true,
            variables: false,
            ignore_case: true,
        };
        let p = Pattern::compile("iot:*Shadow", syntax);
        assert!(p.matches_plain("IOT:getthingSHADOW"));
        assert!(!p.matches_plain("iot:Publish"));
        let u = Pattern::compile("ÉCOLE", syntax);
        assert!(u.matches_plain("école"));
    }

    #[test]
    fn many_variables_fall_back_to_lookups() {
        let text: String = (0..10).map(|i| format!("${{k{i}}}/")).collect();
        let p = Pattern::compile(&text, GLOB);
        let ctx: MapContext = (0..10)
            .map(|i| (format!("k{i}"), format!("v{i}")))
            .collect();
        let expected: String = (0..10).map(|i| format!("v{i}/")).collect();
        assert_eq!(p.matches(&expected, &ctx), Outcome::Match);
        assert_eq!(p.matches("nope", &ctx), Outcome::NoMatch);
        assert_eq!(
            p.matches(&expected, &MapContext::new()),
            Outcome::Unresolved
        );
    }

    #[test]
    fn arn_split_keeps_variables_whole() {
        assert_eq!(
            split_arn("arn:aws:iot:us-east-1:1:topic/a:b", true),
            ["arn", "aws", "iot", "us-east-1", "1", "topic/a:b"]
        );
        assert_eq!(
            split_arn("arn:aws:s3:::b/${aws:username}", true),
            ["arn", "aws", "s3", "", "", "b/${aws:username}"]
        );
        assert_eq!(
            split_arn("arn:${aws:x}:s3", true),
            ["arn", "${aws:x}", "s3"]
        );
        assert_eq!(split_arn("arn:${aws:x}:s3", false).len(), 4);
        assert_eq!(split_arn("*", true), ["*"]);
    }
}
