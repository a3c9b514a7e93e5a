//! A typed filter builder: values are quoted and escaped, numbers never use exponents, and
//! groups are parenthesised, so no input can change the structure of the filter.

use std::fmt::{self, Write as _};

use super::FilterError;

/// A value in a built filter.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterValue {
    /// A string, written single-quoted with `\'` and `\\` escapes.
    String(String),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A floating-point number, written without exponent. A non-finite value makes the
    /// predicate always false.
    Float(f64),
    /// `TRUE` / `FALSE`.
    Bool(bool),
}

impl FilterValue {
    fn is_finite(&self) -> bool {
        !matches!(self, FilterValue::Float(f) if !f.is_finite())
    }
}

impl fmt::Display for FilterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterValue::String(s) => {
                f.write_char('\'')?;
                for c in s.chars() {
                    if c == '\'' || c == '\\' {
                        f.write_char('\\')?;
                    }
                    f.write_char(c)?;
                }
                f.write_char('\'')
            }
            FilterValue::Int(n) => write!(f, "{n}"),
            FilterValue::UInt(n) => write!(f, "{n}"),
            // `Display` for f64 never uses an exponent (1e-10 prints 0.0000000001).
            FilterValue::Float(n) => write!(f, "{n}"),
            FilterValue::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident as $as:ty),* $(,)?) => {$(
        #[allow(clippy::unnecessary_cast, clippy::cast_lossless)]
        impl From<$t> for FilterValue {
            fn from(x: $t) -> Self { FilterValue::$v(x as $as) }
        }
    )*};
}
value_from!(i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int as i64,
    u8 => UInt as u64, u16 => UInt as u64, u32 => UInt as u64, u64 => UInt as u64,
    usize => UInt as u64, isize => Int as i64, f32 => Float as f64, f64 => Float as f64);

impl From<bool> for FilterValue {
    fn from(b: bool) -> Self {
        FilterValue::Bool(b)
    }
}
impl From<&str> for FilterValue {
    fn from(s: &str) -> Self {
        FilterValue::String(s.to_string())
    }
}
impl From<String> for FilterValue {
    fn from(s: String) -> Self {
        FilterValue::String(s)
    }
}
impl From<&String> for FilterValue {
    fn from(s: &String) -> Self {
        FilterValue::String(s.clone())
    }
}

/// Starts a predicate on a metadata path such as `"genre"`, `"info.year"` or `"tags[0]"`.
///
/// The path is checked when the filter is rendered: an invalid path (spaces, quotes, an
/// unclosed `[`) renders as an always-false condition, and [`Condition::build`] reports it.
pub fn field(path: impl Into<String>) -> Field {
    Field { path: path.into() }
}

/// A metadata path, from [`field`].
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    path: String,
}

/// A filter condition; combine with [`Condition::and`] / [`Condition::or`], render with
/// `to_string()` (or [`Condition::build`] to also check it).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    node: Node,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Pred {
        path: String,
        op: &'static str,
        rhs: Rhs,
    },
    Has {
        path: String,
        negated: bool,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Raw(String),
    Const(bool),
}

#[derive(Clone, Debug, PartialEq)]
enum Rhs {
    One(FilterValue),
    List(Vec<FilterValue>),
}

impl Field {
    fn pred(self, op: &'static str, rhs: Rhs) -> Condition {
        Condition {
            node: Node::Pred {
                path: self.path,
                op,
                rhs,
            },
        }
    }

    /// `path = value`
    pub fn eq(self, v: impl Into<FilterValue>) -> Condition {
        self.pred("=", Rhs::One(v.into()))
    }
    /// `path != value` (false when the field is missing)
    pub fn ne(self, v: impl Into<FilterValue>) -> Condition {
        self.pred("!=", Rhs::One(v.into()))
    }
    /// `path < value`
    pub fn lt(self, v: impl Into<FilterValue>) -> Condition {
        self.pred("<", Rhs::One(v.into()))
    }
    /// `path <= value`
    pub fn lte(self, v: impl Into<FilterValue>) -> Condition {
        self.pred("<=", Rhs::One(v.into()))
    }
    /// `path > value`
    pub fn gt(self, v: impl Into<FilterValue>) -> Condition {
        self.pred(">", Rhs::One(v.into()))
    }
    /// `path >= value`
    pub fn gte(self, v: impl Into<FilterValue>) -> Condition {
        self.pred(">=", Rhs::One(v.into()))
    }
    /// `path GLOB 'pattern'` (the pattern's `*`, `?`, `[..]` keep their meaning)
    pub fn glob(self, pattern: impl Into<String>) -> Condition {
        self.pred("GLOB", Rhs::One(FilterValue::String(pattern.into())))
    }
    /// `path NOT GLOB 'pattern'`
    pub fn not_glob(self, pattern: impl Into<String>) -> Condition {
        self.pred("NOT GLOB", Rhs::One(FilterValue::String(pattern.into())))
    }
    /// `path IN (a, b, ...)`; an empty list is always false.
    pub fn is_in<V: Into<FilterValue>>(self, values: impl IntoIterator<Item = V>) -> Condition {
        let list: Vec<FilterValue> = values.into_iter().map(Into::into).collect();
        if list.is_empty() {
            return Condition::always_false();
        }
        self.pred("IN", Rhs::List(list))
    }
    /// `path NOT IN (a, b, ...)`; an empty list is always true.
    pub fn not_in<V: Into<FilterValue>>(self, values: impl IntoIterator<Item = V>) -> Condition {
        let list: Vec<FilterValue> = values.into_iter().map(Into::into).collect();
        if list.is_empty() {
            return Condition::always_true();
        }
        self.pred("NOT IN", Rhs::List(list))
    }
    /// `path CONTAINS value` (the field is an array holding `value`)
    pub fn contains(self, v: impl Into<FilterValue>) -> Condition {
        self.pred("CONTAINS", Rhs::One(v.into()))
    }
    /// `path NOT CONTAINS value`
    pub fn not_contains(self, v: impl Into<FilterValue>) -> Condition {
        self.pred("NOT CONTAINS", Rhs::One(v.into()))
    }
    /// `HAS FIELD path`
    pub fn exists(self) -> Condition {
        Condition {
            node: Node::Has {
                path: self.path,
                negated: false,
            },
        }
    }
    /// `HAS NOT FIELD path`
    pub fn not_exists(self) -> Condition {
        Condition {
            node: Node::Has {
                path: self.path,
                negated: true,
            },
        }
    }
}

impl Condition {
    /// A filter string used as is (wrapped in parentheses when combined). Not escaped: never
    /// build one from user input.
    pub fn raw(filter: impl Into<String>) -> Condition {
        Condition {
            node: Node::Raw(filter.into()),
        }
    }

    /// A condition that holds for every record.
    pub fn always_true() -> Condition {
        Condition {
            node: Node::Const(true),
        }
    }

    /// A condition that holds for no record.
    pub fn always_false() -> Condition {
        Condition {
            node: Node::Const(false),
        }
    }

    /// `self AND other`
    pub fn and(self, other: Condition) -> Condition {
        let mut items = match self.node {
            Node::And(v) => v,
            n => vec![n],
        };
        match other.node {
            Node::And(v) => items.extend(v),
            n => items.push(n),
        }
        Condition {
            node: Node::And(items),
        }
    }

    /// `self OR other`
    pub fn or(self, other: Condition) -> Condition {
        let mut items = match self.node {
            Node::Or(v) => v,
            n => vec![n],
        };
        match other.node {
            Node::Or(v) => items.extend(v),
            n => items.push(n),
        }
        Condition {
            node: Node::Or(items),
        }
    }

    /// `AND` of every condition (`always_true` when empty).
    pub fn all(conds: impl IntoIterator<Item = Condition>) -> Condition {
        conds
            .into_iter()
            .reduce(Condition::and)
            .unwrap_or_else(Condition::always_true)
    }

    /// `OR` of every condition (`always_false` when empty).
    pub fn any(conds: impl IntoIterator<Item = Condition>) -> Condition {
        conds
            .into_iter()
            .reduce(Condition::or)
            .unwrap_or_else(Condition::always_false)
    }

    /// Renders the filter and checks it with the parser (catches invalid paths and raw parts).
    pub fn build(&self) -> Result<String, FilterError> {
        if let Some(e) = first_bad_path(&self.node) {
            return Err(e);
        }
        let s = self.to_string();
        super::validate(&s)?;
        Ok(s)
    }
}

fn path_ok(path: &str) -> Result<(), FilterError> {
    let mut chars = path.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.[]#-".contains(c));
    if !first_ok || !rest_ok {
        return Err(FilterError::new(0, "invalid field path"));
    }
    super::parser::parse_path(path, 0).map(|_| ())
}

fn first_bad_path(n: &Node) -> Option<FilterError> {
    match n {
        Node::Pred { path, .. } | Node::Has { path, .. } => path_ok(path).err(),
        Node::And(v) | Node::Or(v) => v.iter().find_map(first_bad_path),
        Node::Raw(_) | Node::Const(_) => None,
    }
}

const FALSE_TEXT: &str = "(HAS FIELD _ AND HAS NOT FIELD _)";
const TRUE_TEXT: &str = "(HAS FIELD _ OR HAS NOT FIELD _)";

fn render(n: &Node, f: &mut fmt::Formatter<'_>, in_and: bool) -> fmt::Result {
    match n {
        Node::Const(true) => f.write_str(TRUE_TEXT),
        Node::Const(false) => f.write_str(FALSE_TEXT),
        Node::Raw(r) => {
            if r.trim().is_empty() {
                f.write_str(TRUE_TEXT)
            } else {
                write!(f, "({r})")
            }
        }
        Node::Has { path, negated } => {
            if path_ok(path).is_err() {
                return f.write_str(FALSE_TEXT);
            }
            let not = if *negated { "NOT " } else { "" };
            write!(f, "HAS {not}FIELD {path}")
        }
        Node::Pred { path, op, rhs } => {
            let finite = match rhs {
                Rhs::One(v) => v.is_finite(),
                Rhs::List(l) => l.iter().all(FilterValue::is_finite),
            };
            if path_ok(path).is_err() || !finite {
                return f.write_str(FALSE_TEXT);
            }
            write!(f, "{path} {op} ")?;
            match rhs {
                Rhs::One(v) => write!(f, "{v}"),
                Rhs::List(l) => {
                    f.write_char('(')?;
                    for (i, v) in l.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{v}")?;
                    }
                    f.write_char(')')
                }
            }
        }
        Node::And(items) => join(items, " AND ", f, true),
        Node::Or(items) => {
            if in_and {
                f.write_char('(')?;
                join(items, " OR ", f, false)?;
                f.write_char(')')
            } else {
                join(items, " OR ", f, false)
            }
        }
    }
}

fn join(items: &[Node], sep: &str, f: &mut fmt::Formatter<'_>, in_and: bool) -> fmt::Result {
    for (i, n) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        render(n, f, in_and)?;
    }
    Ok(())
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        render(&self.node, f, false)
    }
}

impl From<Condition> for String {
    fn from(c: Condition) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_escapes() {
        let c = field("a")
            .eq("it's \\ fine")
            .or(field("b").gt(1.5).and(field("c").lt(-2)));
        assert_eq!(c.to_string(), r"a = 'it\'s \\ fine' OR b > 1.5 AND c < -2");
        let c = field("a")
            .eq(1)
            .and(field("b").eq(2).or(field("c").is_in(["x", "y"])));
        assert_eq!(c.to_string(), "a = 1 AND (b = 2 OR c IN ('x', 'y'))");
        assert_eq!(field("x").eq(1e-10).to_string(), "x = 0.0000000001");
        assert_eq!(field("x").eq(true).to_string(), "x = TRUE");
        assert_eq!(
            field("x").is_in(Vec::<i32>::new()).to_string(),
            "(HAS FIELD _ AND HAS NOT FIELD _)"
        );
        assert!(field("bad path").eq(1).build().is_err());
        assert_eq!(field("bad path").eq(1).to_string(), FALSE_TEXT);
        assert_eq!(
            field("x").eq(f64::NAN).to_string(),
            "(HAS FIELD _ AND HAS NOT FIELD _)"
        );
        assert_eq!(
            Condition::raw("a = 1 OR b = 2")
                .and(field("c").exists())
                .build(),
            Ok("(a = 1 OR b = 2) AND HAS FIELD c".to_string())
        );
    }

    #[test]
    fn injection_is_inert() {
        let evil = "x' OR user_id = 'bob";
        let f = field("user_id").eq(evil).build().expect("valid");
        let parsed = crate::filter::parse(&f).expect("parse").expect("some");
        assert!(parsed.matches(&serde_json::json!({"user_id": evil})));
        assert!(!parsed.matches(&serde_json::json!({"user_id": "bob"})));
    }
}
