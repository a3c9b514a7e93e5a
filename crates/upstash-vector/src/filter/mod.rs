//! The Upstash Vector metadata filter language: a parser with error positions, an evaluator
//! over JSON metadata, and a builder that escapes values.
//!
//! The same code validates filters offline in the client and evaluates them in `upstash-local`.
//!
//! ```
//! use upstash_vector::filter::{self, field};
//!
//! // Parse and evaluate a filter string.
//! let f = filter::parse("genre = 'sci-fi' AND year >= 2000 OR tags CONTAINS 'classic'")
//!     .expect("valid")
//!     .expect("not empty");
//! let meta = serde_json::json!({"genre": "sci-fi", "year": 2010, "tags": []});
//! assert!(f.matches(&meta));
//!
//! // Errors carry the byte position.
//! let err = filter::parse("year >= ").unwrap_err();
//! assert_eq!(err.position(), 8);
//!
//! // Build a filter; values are escaped, so user input cannot change its structure.
//! let user_input = "x' OR user_id = 'bob";
//! let f = field("user_id").eq(user_input).and(field("year").gt(1999));
//! assert_eq!(f.to_string(), r"user_id = 'x\' OR user_id = \'bob' AND year > 1999");
//! ```
//!
//! # Language
//!
//! | form | true when |
//! |---|---|
//! | `p = v`, `p != v` | `p` exists and equals / does not equal `v` (`!=` on a missing field is false; on a present field of another type it is true) |
//! | `p < v`, `<=`, `>`, `>=` | `p` is a number and the comparison holds |
//! | `p GLOB 'pat'`, `p NOT GLOB 'pat'` | `p` is a string that matches / does not match the case-sensitive glob (`*`, `?`, `[abc]`, `[a-z]`, `[^abc]`) |
//! | `p IN (v, ...)`, `p NOT IN (v, ...)` | like an OR of `=` / an AND of `!=` |
//! | `p CONTAINS v`, `p NOT CONTAINS v` | `p` is an array with / without an element equal to `v` |
//! | `HAS FIELD p`, `HAS NOT FIELD p` | `p` resolves / does not resolve (a JSON `null` counts as present) |
//! | `a AND b`, `a OR b`, `( ... )` | `AND` binds tighter than `OR` |
//!
//! Paths walk objects with `.` and arrays with `[n]` (0-based) or `[#-n]` (from the end).
//! Values are strings (`'...'` or `"..."` with `\'`, `\"`, `\\` escapes), numbers (`-1.5`) and
//! booleans (`TRUE`/`FALSE`, case-insensitive; `1` and `0` also equal a boolean `true`/`false`).
//! Keywords are case-insensitive. A missing path makes every predicate false except
//! `HAS NOT FIELD`.

mod builder;
mod eval;
mod glob;
mod lexer;
mod parser;

use std::fmt;

pub use builder::{field, Condition, Field, FilterValue};
pub use glob::glob_match;

/// Deepest nesting of parentheses accepted.
pub const MAX_DEPTH: usize = 64;

/// A parsed filter, ready to evaluate against metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    expr: Expr,
}

impl Filter {
    /// Whether `metadata` (a JSON object) satisfies the filter.
    pub fn matches(&self, metadata: &serde_json::Value) -> bool {
        eval::eval(&self.expr, metadata)
    }

    /// The syntax tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}

/// Parses a filter. An empty or all-whitespace filter means "no filter" and gives `Ok(None)`.
pub fn parse(input: &str) -> Result<Option<Filter>, FilterError> {
    parser::parse(input).map(|e| e.map(|expr| Filter { expr }))
}

/// Checks a filter's syntax without keeping the tree.
pub fn validate(input: &str) -> Result<(), FilterError> {
    parse(input).map(|_| ())
}

/// A syntax error in a filter, with the byte offset where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    position: usize,
    message: String,
}

impl FilterError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        FilterError {
            position,
            message: message.into(),
        }
    }

    /// Byte offset in the filter string where the error was detected.
    pub fn position(&self) -> usize {
        self.position
    }

    /// What was wrong (never quotes the filter text).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid filter at position {}: {}",
            self.position, self.message
        )
    }
}

impl std::error::Error for FilterError {}

/// A filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// All of these hold.
    And(Vec<Expr>),
    /// Any of these holds.
    Or(Vec<Expr>),
    /// One predicate on one path.
    Predicate(Predicate),
}

/// A predicate on a metadata path.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    /// The metadata path.
    pub path: Path,
    /// The test applied to the value at `path`.
    pub op: Op,
}

/// The test a predicate applies.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `=`, `!=`, `<`, `<=`, `>`, `>=`.
    Compare(CompareOp, Literal),
    /// `GLOB` / `NOT GLOB`.
    Glob {
        /// `NOT GLOB`.
        negated: bool,
        /// The pattern text (unescaped).
        pattern: String,
    },
    /// `IN (...)` / `NOT IN (...)`.
    In {
        /// `NOT IN`.
        negated: bool,
        /// The listed values (at least one).
        values: Vec<Literal>,
    },
    /// `CONTAINS` / `NOT CONTAINS`.
    Contains {
        /// `NOT CONTAINS`.
        negated: bool,
        /// The element looked for.
        value: Literal,
    },
    /// `HAS FIELD` / `HAS NOT FIELD`.
    HasField {
        /// `HAS NOT FIELD`.
        negated: bool,
    },
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// A literal value in a filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A quoted string (unescaped).
    String(String),
    /// A number.
    Number(f64),
    /// `TRUE` or `FALSE`.
    Bool(bool),
}

/// A metadata path: `a.b[0].c[#-1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The steps, outermost first.
    pub segments: Vec<Segment>,
}

/// One step of a [`Path`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// `[n]`: an array element counted from the start (0-based).
    Index(usize),
    /// `[#-n]`: an array element counted from the end (`[#-1]` is the last).
    FromEnd(usize),
}
