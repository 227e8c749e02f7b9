//! The statement tree. It carries no positions, so a printed and re-parsed statement compares
//! equal to the original; the parser reports positions in its errors instead.

/// The SQL version a rule declares in `awsIotSqlVersion` (iot-rule-sql-version.html). It
/// decides which syntax parses (literals, nested queries, `encode`/`decode`, `cast(.. AS
/// Decimal|Bool)` are 2016-03-23 only) and how whole-number decimals are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SqlVersion {
    /// `2015-10-08`, AWS's default when a rule names no version.
    #[default]
    V2015_10_08,
    /// `2016-03-23`.
    V2016_03_23,
    /// `beta`: AWS's newest; Shoal treats it as 2016-03-23.
    Beta,
}

impl SqlVersion {
    /// The version for `awsIotSqlVersion`, or `None` for a value AWS does not accept.
    pub fn from_name(name: &str) -> Option<SqlVersion> {
        match name {
            "2015-10-08" => Some(SqlVersion::V2015_10_08),
            "2016-03-23" => Some(SqlVersion::V2016_03_23),
            "beta" => Some(SqlVersion::Beta),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SqlVersion::V2015_10_08 => "2015-10-08",
            SqlVersion::V2016_03_23 => "2016-03-23",
            SqlVersion::Beta => "beta",
        }
    }

    /// Whether the 2016-03-23 features are available.
    pub fn is_v2(self) -> bool {
        !matches!(self, SqlVersion::V2015_10_08)
    }
}

/// `[SET @v = expr, ...] SELECT ... FROM 'topic/filter' [WHERE ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub version: SqlVersion,
    /// The SET clause's assignments, in the order they are evaluated (iot-sql-set.html); empty
    /// when the statement has no SET.
    pub set: Vec<Assignment>,
    pub select: Select,
    /// The MQTT topic filter of the FROM clause, unquoted.
    pub from: String,
    pub where_: Option<Expr>,
}

/// `@name = expr` in a SET clause. Each variable is assigned once, and its expression sees
/// only the variables assigned before it (iot-sql-set.html, "Syntax rules").
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The variable's name without its `@`.
    pub name: String,
    pub expr: Expr,
}

/// What a SELECT produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Select {
    /// `SELECT VALUE expr`: the value itself, not an object (iot-sql-select.html).
    Value(Expr),
    /// `SELECT a, b AS c, *`: an object.
    Items(Vec<SelectItem>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`: every field of the payload (or the raw payload when it is not JSON).
    Wildcard,
    /// `expr [AS a.b]`; a dotted alias builds nested objects.
    Expr {
        expr: Expr,
        alias: Option<Vec<String>>,
    },
}

/// A nested object query, `(SELECT ... FROM expr [WHERE ...])` (iot-sql-nested-queries.html).
#[derive(Debug, Clone, PartialEq)]
pub struct SubQuery {
    pub select: Select,
    /// The array (or object) the query runs over, evaluated in the enclosing scope.
    pub from: Expr,
    pub where_: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// `item IN array` (iot-sql-operators.html).
    In,
    /// `array CONTAINS item`, `string CONTAINS substring` (iot-sql-operators.html).
    Contains,
}

impl BinaryOp {
    /// Binding strength: OR < AND < comparisons < + - < * / %. NOT sits between AND and the
    /// comparisons (`NOT a = b` is `NOT (a = b)`), unary minus above `*`. AWS's operator page
    /// gives IN and CONTAINS no precedence of their own: like `=` they compare two values and
    /// give a Boolean, so they bind as the comparisons do (`NOT 3 IN arr` is `NOT (3 IN arr)`,
    /// `a + 1 IN arr` is `(a + 1) IN arr`).
    pub(crate) fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::In
            | BinaryOp::Contains => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 6,
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::In => "IN",
            BinaryOp::Contains => "CONTAINS",
        }
    }
}

/// The type keywords `cast(x AS type)` accepts (iot-sql-functions.html#iot-sql-function-cast),
/// kept as written so the printer gives them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastType {
    String,
    Nvarchar,
    Text,
    Ntext,
    Varchar,
    Int,
    Integer,
    Double,
    /// 2016-03-23 only.
    Decimal,
    /// 2016-03-23 only.
    Bool,
    /// 2016-03-23 only.
    Boolean,
}

impl CastType {
    pub(crate) fn from_keyword(word: &str, version: SqlVersion) -> Option<CastType> {
        let t = match word.to_ascii_lowercase().as_str() {
            "string" => CastType::String,
            "nvarchar" => CastType::Nvarchar,
            "text" => CastType::Text,
            "ntext" => CastType::Ntext,
            "varchar" => CastType::Varchar,
            "int" => CastType::Int,
            "integer" => CastType::Integer,
            "double" => CastType::Double,
            "decimal" if version.is_v2() => CastType::Decimal,
            "bool" if version.is_v2() => CastType::Bool,
            "boolean" if version.is_v2() => CastType::Boolean,
            _ => return None,
        };
        Some(t)
    }

    pub(crate) fn keyword(self) -> &'static str {
        match self {
            CastType::String => "String",
            CastType::Nvarchar => "Nvarchar",
            CastType::Text => "Text",
            CastType::Ntext => "Ntext",
            CastType::Varchar => "varchar",
            CastType::Int => "Int",
            CastType::Integer => "Integer",
            CastType::Double => "Double",
            CastType::Decimal => "Decimal",
            CastType::Bool => "Bool",
            CastType::Boolean => "Boolean",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    /// A literal with a decimal point or an exponent (always finite and not negative: a minus
    /// sign is [`UnaryOp::Neg`]).
    Decimal(f64),
    String(String),
    /// A top-level name: a field of the payload (or of the element a nested query visits).
    Field(String),
    /// `@name`: a variable of the SET clause (iot-sql-set.html), named without its `@`. It is
    /// never a payload path, whatever its name.
    Variable(String),
    /// `*` as a value: the whole payload (`encode(*, 'base64')`, `aws_lambda(arn, *)`).
    Wildcard,
    /// `expr.name`.
    Member(Box<Expr>, String),
    /// `expr[index]`.
    Index(Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A function call; `name` is lower-cased (AWS's function names are case-insensitive).
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Cast {
        expr: Box<Expr>,
        ty: CastType,
    },
    /// `CASE [operand] WHEN .. THEN .. [ELSE ..] END`; with no operand each WHEN is a condition.
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
    },
    /// `[a, b]` (2016-03-23).
    Array(Vec<Expr>),
    /// `{'k': v}` (2016-03-23).
    Object(Vec<(String, Expr)>),
    /// `(SELECT ...)` (2016-03-23).
    SubQuery(Box<SubQuery>),
}

impl Expr {
    /// Height of the tree (a leaf is 1). The parser bounds it so evaluation, printing and
    /// dropping a tree cannot exhaust the stack.
    pub(crate) fn depth(&self) -> usize {
        let mut children = 0;
        self.for_each_child(&mut |c| children = children.max(c.depth()));
        children + 1
    }

    /// Whether the tree reads a SET variable anywhere.
    pub(crate) fn reads_variable(&self) -> bool {
        if matches!(self, Expr::Variable(_)) {
            return true;
        }
        let mut found = false;
        self.for_each_child(&mut |c| found = found || c.reads_variable());
        found
    }

    /// Calls `f` on each expression directly inside this one.
    fn for_each_child<'e>(&'e self, f: &mut dyn FnMut(&'e Expr)) {
        match self {
            Expr::Null
            | Expr::Bool(_)
            | Expr::Int(_)
            | Expr::Decimal(_)
            | Expr::String(_)
            | Expr::Field(_)
            | Expr::Variable(_)
            | Expr::Wildcard => {}
            Expr::Member(e, _) | Expr::Unary(_, e) | Expr::Cast { expr: e, .. } => f(e),
            Expr::Index(a, b) | Expr::Binary(_, a, b) => {
                f(a);
                f(b);
            }
            Expr::Call { args, .. } | Expr::Array(args) => args.iter().for_each(f),
            Expr::Object(fields) => fields.iter().for_each(|(_, e)| f(e)),
            Expr::Case {
                operand,
                whens,
                else_,
            } => {
                operand.iter().for_each(|e| f(e));
                for (w, t) in whens {
                    f(w);
                    f(t);
                }
                else_.iter().for_each(|e| f(e));
            }
            Expr::SubQuery(q) => {
                f(&q.from);
                q.where_.iter().for_each(&mut *f);
                match &q.select {
                    Select::Value(e) => f(e),
                    Select::Items(items) => {
                        for item in items {
                            if let SelectItem::Expr { expr, .. } = item {
                                f(expr);
                            }
                        }
                    }
                }
            }
        }
    }
}
