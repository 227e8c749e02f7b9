//! A recursive-descent parser from statement text to [`Statement`], with AWS's precedence
//! (OR < AND < NOT < comparisons, IN and CONTAINS < `+ -` < `* / %` < unary minus < `.`/`[]`),
//! errors at their character position, and bounds on length and nesting so a hostile statement
//! cannot exhaust memory or the stack. The SET clause's rules (iot-sql-set.html) are checked
//! here: at most [`MAX_VARIABLES`] variables, each set once, each read only after it is set.

use crate::ast::{
    Assignment, BinaryOp, CastType, Expr, Select, SelectItem, SqlVersion, Statement, SubQuery,
    UnaryOp,
};
use crate::error::ParseError;
use crate::functions;
use crate::lexer::{Lexer, Tok};
use crate::set::{self, MAX_VARIABLES};

/// Longest statement accepted, in bytes. AWS's quota page gives no figure for the SQL text of
/// a rule, so Shoal bounds it at 64 KiB, far above any real rule.
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;

/// Deepest expression tree (and parser recursion) accepted.
pub const MAX_DEPTH: usize = 64;

/// Words that cannot name a field. `VALUE` is a keyword only right after `SELECT`, since
/// `value` is a common payload key, and `SET` only at the start of a statement, where no field
/// can stand. `IN` and `CONTAINS` are operators (iot-sql-operators.html).
const RESERVED: &[&str] = &[
    "select", "from", "where", "as", "case", "when", "then", "else", "end", "and", "or", "not",
    "true", "false", "null", "in", "contains",
];

/// The reserved words an expression can start with.
const STARTS_EXPR: &[&str] = &["case", "not", "true", "false", "null"];

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// Parses a rule's SQL statement for the given `awsIotSqlVersion`.
pub fn parse(sql: &str, version: SqlVersion) -> Result<Statement, ParseError> {
    if sql.len() > MAX_STATEMENT_BYTES {
        return Err(ParseError::new(
            0,
            format!("the statement is longer than {MAX_STATEMENT_BYTES} bytes"),
        ));
    }
    let chars: Vec<char> = sql.chars().collect();
    let mut p = Parser::new(&chars, 0, version)?;
    let stmt = p.statement()?;
    Ok(stmt)
}

/// Parses one expression starting at `start` (a substitution template's `${`), which must be
/// followed by `}`; returns it and the position just after the `}`.
pub(crate) fn parse_embedded(
    chars: &[char],
    start: usize,
    version: SqlVersion,
) -> Result<(Expr, usize), ParseError> {
    let mut p = Parser::new(chars, start, version)?;
    p.in_template = true;
    let e = p.expr()?;
    if p.tok != Tok::RBrace {
        return Err(p.unexpected("`}`"));
    }
    Ok((e, p.lexer.pos))
}

pub(crate) struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok,
    pos: usize,
    version: SqlVersion,
    nesting: usize,
    /// The SET variables assigned so far: the only ones an expression may read.
    variables: Vec<String>,
    /// Parsing a substitution template's `${...}`, which is parsed apart from its statement.
    in_template: bool,
}

impl<'a> Parser<'a> {
    fn new(chars: &'a [char], start: usize, version: SqlVersion) -> Result<Self, ParseError> {
        let mut lexer = Lexer::new(chars, start);
        let (tok, pos) = lexer.next_token()?;
        Ok(Parser {
            lexer,
            tok,
            pos,
            version,
            nesting: 0,
            variables: Vec::new(),
            in_template: false,
        })
    }

    fn advance(&mut self) -> Result<(), ParseError> {
        let (tok, pos) = self.lexer.next_token()?;
        self.tok = tok;
        self.pos = pos;
        Ok(())
    }

    fn unexpected(&self, wanted: &str) -> ParseError {
        ParseError::new(
            self.pos,
            format!("expected {wanted}, found {}", self.tok.describe()),
        )
    }

    fn is_word(&self, kw: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn expect_word(&mut self, kw: &str) -> Result<(), ParseError> {
        if !self.is_word(kw) {
            return Err(self.unexpected(&format!("`{kw}`")));
        }
        self.advance()
    }

    fn expect(&mut self, tok: Tok) -> Result<(), ParseError> {
        if self.tok != tok {
            return Err(self.unexpected(&tok.describe()));
        }
        self.advance()
    }

    fn need_v2(&self, pos: usize, what: &str) -> Result<(), ParseError> {
        if self.version.is_v2() {
            Ok(())
        } else {
            Err(ParseError::new(
                pos,
                format!("{what} needs SQL version 2016-03-23"),
            ))
        }
    }

    /// Rejects a tree taller than [`MAX_DEPTH`].
    fn bound(&self, e: Expr, pos: usize) -> Result<Expr, ParseError> {
        if e.depth() > MAX_DEPTH {
            return Err(ParseError::new(
                pos,
                format!("the expression is nested more than {MAX_DEPTH} deep"),
            ));
        }
        Ok(e)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(ParseError::new(
                self.pos,
                format!("the expression is nested more than {MAX_DEPTH} deep"),
            ));
        }
        Ok(())
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        let set = if self.is_word("set") {
            self.advance()?;
            self.set_clause()?
        } else {
            Vec::new()
        };
        if self.is_word("set") {
            // "The SET keyword can only be used once per SQL statement" (iot-sql-set.html).
            return Err(ParseError::new(
                self.pos,
                "SET can only be used once per statement",
            ));
        }
        self.expect_word("select")?;
        let select = self.select_body()?;
        if !self.is_word("from") {
            return Err(self.unexpected("`FROM`"));
        }
        // The lexer stands just after FROM: read the filter as raw text.
        let (from, from_pos) = self.lexer.topic()?;
        check_topic_filter(&from).map_err(|r| ParseError::new(from_pos, r))?;
        self.advance()?;
        let where_ = if self.is_word("where") {
            self.advance()?;
            Some(self.expr()?)
        } else {
            None
        };
        if self.tok != Tok::Eof {
            return Err(self.unexpected("the end of the statement"));
        }
        Ok(Statement {
            version: self.version,
            set,
            select,
            from,
            where_,
        })
    }

    /// After `SET`: `@a = expr [, @b = expr ...]`, up to (not including) `SELECT`.
    fn set_clause(&mut self) -> Result<Vec<Assignment>, ParseError> {
        let mut set = Vec::new();
        loop {
            let pos = self.pos;
            let Tok::Variable(name) = &self.tok else {
                return Err(self.unexpected("a variable such as `@name`"));
            };
            let name = name.clone();
            // "Each variable can only be assigned once (variables are immutable)" and
            // "Maximum of 10 unique variables per SQL statement".
            if self.variables.contains(&name) {
                return Err(ParseError::new(
                    pos,
                    format!("variable `@{name}` is already set: a variable is set only once"),
                ));
            }
            if set.len() == MAX_VARIABLES {
                return Err(ParseError::new(
                    pos,
                    format!("a statement sets at most {MAX_VARIABLES} variables"),
                ));
            }
            self.advance()?;
            self.expect(Tok::Eq)?;
            let expr = self.expr()?;
            // Only now: its own expression cannot read it.
            self.variables.push(name.clone());
            set.push(Assignment { name, expr });
            if self.tok != Tok::Comma {
                return Ok(set);
            }
            self.advance()?;
        }
    }

    fn select_body(&mut self) -> Result<Select, ParseError> {
        if self.is_word("value") {
            // `SELECT value FROM`, `SELECT value, x`, `SELECT value AS v`: a field named value.
            let save = (self.lexer.pos, self.tok.clone(), self.pos);
            self.advance()?;
            // VALUE is the keyword when an expression follows it (`SELECT VALUE [a, b]`,
            // `SELECT VALUE *`); otherwise it is a field named value.
            let starts_expr = matches!(
                self.tok,
                Tok::Number { .. }
                    | Tok::Str(_)
                    | Tok::Variable(_)
                    | Tok::Word(_)
                    | Tok::LParen
                    | Tok::LBracket
                    | Tok::LBrace
                    | Tok::Star
                    | Tok::Minus
            );
            // A reserved word that cannot start an expression (`FROM`, `AS`, `IN`, `AND`, ...)
            // means `value` is the field.
            let keyword_after = matches!(&self.tok, Tok::Word(w)
                if is_reserved(w) && !STARTS_EXPR.iter().any(|k| k.eq_ignore_ascii_case(w)));
            let field = !starts_expr || keyword_after;
            if !field {
                return Ok(Select::Value(self.expr()?));
            }
            (self.lexer.pos, self.tok, self.pos) = save;
        }
        let mut items = Vec::new();
        loop {
            if self.tok == Tok::Star {
                self.advance()?;
                items.push(SelectItem::Wildcard);
            } else {
                let expr = self.expr()?;
                let alias = if self.is_word("as") {
                    self.advance()?;
                    Some(self.alias()?)
                } else {
                    None
                };
                items.push(SelectItem::Expr { expr, alias });
            }
            if self.tok != Tok::Comma {
                break;
            }
            self.advance()?;
        }
        Ok(Select::Items(items))
    }

    /// `name` or `a.b.c` (AWS's `SELECT foo.bar AS bar.baz`, iot-sql-json.html).
    fn alias(&mut self) -> Result<Vec<String>, ParseError> {
        let mut parts = Vec::new();
        loop {
            match &self.tok {
                Tok::Word(w) if !is_reserved(w) => parts.push(w.clone()),
                _ => return Err(self.unexpected("a name after AS")),
            }
            self.advance()?;
            if self.tok != Tok::Dot {
                return Ok(parts);
            }
            self.advance()?;
        }
    }

    pub(crate) fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let e = self.binary(1);
        self.nesting -= 1;
        e
    }

    /// Precedence climbing over the left-associative binary levels; level 3 is NOT.
    fn binary(&mut self, level: u8) -> Result<Expr, ParseError> {
        if level == 3 {
            return self.not();
        }
        if level > 6 {
            return self.unary();
        }
        let start = self.pos;
        let mut left = self.binary(level + 1)?;
        while let Some(op) = self.binary_op().filter(|op| op.precedence() == level) {
            self.advance()?;
            let right = self.binary(level + 1)?;
            left = self.bound(Expr::Binary(op, Box::new(left), Box::new(right)), start)?;
        }
        Ok(left)
    }

    fn binary_op(&self) -> Option<BinaryOp> {
        Some(match &self.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("or") => BinaryOp::Or,
            Tok::Word(w) if w.eq_ignore_ascii_case("and") => BinaryOp::And,
            Tok::Eq => BinaryOp::Eq,
            Tok::Ne => BinaryOp::Ne,
            Tok::Lt => BinaryOp::Lt,
            Tok::Le => BinaryOp::Le,
            Tok::Gt => BinaryOp::Gt,
            Tok::Ge => BinaryOp::Ge,
            Tok::Plus => BinaryOp::Add,
            Tok::Minus => BinaryOp::Sub,
            Tok::Star => BinaryOp::Mul,
            Tok::Slash => BinaryOp::Div,
            Tok::Percent => BinaryOp::Mod,
            Tok::Word(w) if w.eq_ignore_ascii_case("in") => BinaryOp::In,
            Tok::Word(w) if w.eq_ignore_ascii_case("contains") => BinaryOp::Contains,
            _ => return None,
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.is_word("not") {
            let start = self.pos;
            self.advance()?;
            self.enter()?;
            let inner = self.not();
            self.nesting -= 1;
            return self.bound(Expr::Unary(UnaryOp::Not, Box::new(inner?)), start);
        }
        self.binary(4)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.tok == Tok::Minus {
            let start = self.pos;
            self.advance()?;
            self.enter()?;
            let inner = self.unary();
            self.nesting -= 1;
            return self.bound(Expr::Unary(UnaryOp::Neg, Box::new(inner?)), start);
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let mut e = self.primary()?;
        loop {
            match self.tok {
                Tok::Dot => {
                    self.advance()?;
                    let Tok::Word(name) = &self.tok else {
                        return Err(self.unexpected("a name after `.`"));
                    };
                    let name = name.clone();
                    self.advance()?;
                    e = self.bound(Expr::Member(Box::new(e), name), start)?;
                }
                Tok::LBracket => {
                    self.advance()?;
                    let index = self.expr()?;
                    self.expect(Tok::RBracket)?;
                    e = self.bound(Expr::Index(Box::new(e), Box::new(index)), start)?;
                }
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let tok = self.tok.clone();
        match tok {
            Tok::Number { text, is_int } => {
                self.advance()?;
                number(&text, is_int).ok_or_else(|| ParseError::new(start, "number out of range"))
            }
            Tok::Str(s) => {
                self.advance()?;
                Ok(Expr::String(s))
            }
            Tok::Star => {
                self.advance()?;
                Ok(Expr::Wildcard)
            }
            Tok::Variable(name) => {
                // Variables are usable in SELECT, WHERE and "Other SET variable assignments"
                // (iot-sql-set.html), once set: reading one that is not is an error here, not
                // an Undefined at run time.
                if self.in_template {
                    // iot-sql-set.html lets action templates read the statement's variables;
                    // a template does not know its statement here, so Shoal refuses them
                    // rather than render them empty.
                    return Err(ParseError::new(
                        start,
                        format!(
                            "variable `@{name}`: Shoal's substitution templates cannot read SET \
                             variables yet"
                        ),
                    ));
                }
                if !self.variables.contains(&name) {
                    return Err(ParseError::new(
                        start,
                        format!("variable `@{name}` is not set: SET must assign it first"),
                    ));
                }
                self.advance()?;
                Ok(Expr::Variable(name))
            }
            Tok::LParen => {
                self.advance()?;
                let e = if self.is_word("select") {
                    self.need_v2(start, "a nested object query")?;
                    self.advance()?;
                    self.subquery(start)?
                } else {
                    self.expr()?
                };
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Tok::LBracket => {
                self.need_v2(start, "an array literal")?;
                self.advance()?;
                let items = self.list(Tok::RBracket)?;
                self.bound(Expr::Array(items), start)
            }
            Tok::LBrace => {
                self.need_v2(start, "an object literal")?;
                self.advance()?;
                let mut fields = Vec::new();
                if self.tok != Tok::RBrace {
                    loop {
                        let Tok::Str(key) = &self.tok else {
                            return Err(self.unexpected("a quoted key"));
                        };
                        let key = key.clone();
                        self.advance()?;
                        self.expect(Tok::Colon)?;
                        fields.push((key, self.expr()?));
                        if self.tok != Tok::Comma {
                            break;
                        }
                        self.advance()?;
                    }
                }
                self.expect(Tok::RBrace)?;
                self.bound(Expr::Object(fields), start)
            }
            Tok::Word(w) => self.word(w, start),
            _ => Err(self.unexpected("an expression")),
        }
    }

    /// Comma-separated expressions up to `close`, which is consumed.
    fn list(&mut self, close: Tok) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        if self.tok != close {
            loop {
                items.push(self.expr()?);
                if self.tok != Tok::Comma {
                    break;
                }
                self.advance()?;
            }
        }
        self.expect(close)?;
        Ok(items)
    }

    fn word(&mut self, w: String, start: usize) -> Result<Expr, ParseError> {
        let lower = w.to_ascii_lowercase();
        match lower.as_str() {
            "true" | "false" | "null" => {
                self.advance()?;
                return Ok(match lower.as_str() {
                    "true" => Expr::Bool(true),
                    "false" => Expr::Bool(false),
                    _ => Expr::Null,
                });
            }
            "case" => {
                self.advance()?;
                return self.case(start);
            }
            _ if is_reserved(&lower) => return Err(self.unexpected("an expression")),
            _ => {}
        }
        self.advance()?;
        if self.tok != Tok::LParen {
            return Ok(Expr::Field(w));
        }
        self.advance()?;
        if lower == "cast" {
            let expr = self.expr()?;
            self.expect_word("as")?;
            let ty_pos = self.pos;
            let ty = match &self.tok {
                Tok::Word(t) => CastType::from_keyword(t, self.version).ok_or_else(|| {
                    ParseError::new(
                        ty_pos,
                        format!(
                            "cast cannot produce type `{t}` in SQL version {}",
                            self.version.name()
                        ),
                    )
                })?,
                _ => return Err(self.unexpected("a type after AS")),
            };
            self.advance()?;
            self.expect(Tok::RParen)?;
            return self.bound(
                Expr::Cast {
                    expr: Box::new(expr),
                    ty,
                },
                start,
            );
        }
        functions::check_name(&lower, self.version).map_err(|r| ParseError::new(start, r))?;
        let args = self.list(Tok::RParen)?;
        if let Some(what) = set::fixed_argument_reading_variable(&lower, &args) {
            return Err(ParseError::new(
                start,
                format!("the {what} argument of `{lower}` cannot read a variable"),
            ));
        }
        self.bound(Expr::Call { name: lower, args }, start)
    }

    fn case(&mut self, start: usize) -> Result<Expr, ParseError> {
        let operand = if self.is_word("when") {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        let mut whens = Vec::new();
        while self.is_word("when") {
            self.advance()?;
            let w = self.expr()?;
            self.expect_word("then")?;
            whens.push((w, self.expr()?));
        }
        if whens.is_empty() {
            // "Case statements require at least one WHEN clause" (iot-sql-case.html).
            return Err(self.unexpected("`WHEN`"));
        }
        let else_ = if self.is_word("else") {
            self.advance()?;
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect_word("end")?;
        self.bound(
            Expr::Case {
                operand,
                whens,
                else_,
            },
            start,
        )
    }

    /// After `( SELECT`: the nested query up to (not including) `)`.
    fn subquery(&mut self, start: usize) -> Result<Expr, ParseError> {
        self.enter()?;
        let select = self.select_body()?;
        self.expect_word("from")?;
        let from = self.expr()?;
        let where_ = if self.is_word("where") {
            self.advance()?;
            Some(self.expr()?)
        } else {
            None
        };
        self.nesting -= 1;
        self.bound(
            Expr::SubQuery(Box::new(SubQuery {
                select,
                from,
                where_,
            })),
            start,
        )
    }
}

fn number(text: &str, is_int: bool) -> Option<Expr> {
    if is_int {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Expr::Int(i));
        }
    }
    // An integer beyond i64 becomes a Decimal, as AWS's 34-digit Int would lose nothing
    // representable here anyway.
    let f: f64 = text.parse().ok()?;
    f.is_finite().then_some(Expr::Decimal(f))
}

/// The MQTT rules for a filter: `#` only as the whole last level, `+` only as a whole level.
fn check_topic_filter(filter: &str) -> Result<(), String> {
    if filter.is_empty() {
        return Err("the topic filter is empty".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err("`#` must be the whole last level of the topic filter".into());
        }
        if level.contains('+') && *level != "+" {
            return Err("`+` must be a whole level of the topic filter".into());
        }
    }
    Ok(())
}
