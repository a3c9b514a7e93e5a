//! Recursive-descent parser: `or := and {OR and}`, `and := unary {AND unary}`,
//! `unary := '(' or ')' | predicate`.

use super::lexer::{lex, Tok, Token};
use super::{Expr, FilterError, Literal, Op, Path, Predicate, Segment, MAX_DEPTH};

pub(crate) fn parse(input: &str) -> Result<Option<Expr>, FilterError> {
    let tokens = lex(input)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut p = Parser {
        tokens,
        i: 0,
        end: input.len(),
    };
    let e = p.or_expr(0)?;
    if let Some(t) = p.peek() {
        let msg = if t.tok == Tok::RParen {
            "unbalanced ')'"
        } else {
            "expected AND, OR or the end of the filter"
        };
        return Err(FilterError::new(t.pos, msg));
    }
    Ok(Some(e))
}

struct Parser {
    tokens: Vec<Token>,
    i: usize,
    end: usize,
}

fn kw(t: &Tok, k: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(k))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.i)
    }

    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.tokens.get(self.i + k).map(|t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.i).cloned();
        if t.is_some() {
            self.i += 1;
        }
        t
    }

    fn eat_kw(&mut self, k: &str) -> bool {
        if self.peek().is_some_and(|t| kw(&t.tok, k)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn or_expr(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut items = vec![self.and_expr(depth)?];
        while self.eat_kw("OR") {
            items.push(self.and_expr(depth)?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Or(Vec::new()))
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut items = vec![self.unary(depth)?];
        while self.eat_kw("AND") {
            items.push(self.unary(depth)?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, FilterError> {
        match self.peek() {
            Some(Token {
                tok: Tok::LParen,
                pos,
            }) => {
                let open = *pos;
                if depth >= MAX_DEPTH {
                    return Err(FilterError::new(open, "parentheses nested too deeply"));
                }
                self.i += 1;
                let e = self.or_expr(depth + 1)?;
                match self.next() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => Ok(e),
                    Some(t) => Err(FilterError::new(t.pos, "expected ')'")),
                    None => Err(FilterError::new(self.end, "missing ')'")),
                }
            }
            Some(_) => self.predicate().map(Expr::Predicate),
            None => Err(FilterError::new(self.end, "expected a condition")),
        }
    }

    fn predicate(&mut self) -> Result<Predicate, FilterError> {
        // `HAS [NOT] FIELD path`, unless `has` is itself a field name (`has = 1`).
        let is_has = self.peek().is_some_and(|t| kw(&t.tok, "HAS"))
            && self
                .peek_at(1)
                .is_some_and(|t| kw(t, "FIELD") || kw(t, "NOT"));
        if is_has {
            self.i += 1;
            let negated = self.eat_kw("NOT");
            if !self.eat_kw("FIELD") {
                return Err(FilterError::new(self.pos(), "expected FIELD"));
            }
            let path = self.path()?;
            return Ok(Predicate {
                path,
                op: Op::HasField { negated },
            });
        }
        let path = self.path()?;
        let op_pos = self.pos();
        let op = match self.next() {
            Some(Token {
                tok: Tok::Cmp(c), ..
            }) => Op::Compare(c, self.literal()?),
            Some(Token { tok, pos }) => {
                let mut negated = false;
                let mut tok = tok;
                let mut pos = pos;
                if kw(&tok, "NOT") {
                    negated = true;
                    match self.next() {
                        Some(t) => {
                            tok = t.tok;
                            pos = t.pos;
                        }
                        None => {
                            return Err(FilterError::new(
                                self.end,
                                "expected GLOB, IN or CONTAINS after NOT",
                            ))
                        }
                    }
                }
                if kw(&tok, "GLOB") {
                    let lit_pos = self.pos();
                    match self.next() {
                        Some(Token {
                            tok: Tok::Str(s), ..
                        }) => Op::Glob {
                            negated,
                            pattern: s,
                        },
                        _ => {
                            return Err(FilterError::new(
                                lit_pos,
                                "expected a quoted pattern after GLOB",
                            ))
                        }
                    }
                } else if kw(&tok, "IN") {
                    Op::In {
                        negated,
                        values: self.list()?,
                    }
                } else if kw(&tok, "CONTAINS") {
                    Op::Contains {
                        negated,
                        value: self.literal()?,
                    }
                } else if negated {
                    return Err(FilterError::new(
                        pos,
                        "expected GLOB, IN or CONTAINS after NOT",
                    ));
                } else {
                    return Err(FilterError::new(
                        pos,
                        "expected an operator (=, !=, <, <=, >, >=, GLOB, IN, CONTAINS)",
                    ));
                }
            }
            None => return Err(FilterError::new(op_pos, "expected an operator")),
        };
        Ok(Predicate { path, op })
    }

    fn list(&mut self) -> Result<Vec<Literal>, FilterError> {
        match self.next() {
            Some(Token {
                tok: Tok::LParen, ..
            }) => {}
            Some(t) => return Err(FilterError::new(t.pos, "expected '(' after IN")),
            None => return Err(FilterError::new(self.end, "expected '(' after IN")),
        }
        let mut values = vec![self.literal()?];
        loop {
            match self.next() {
                Some(Token {
                    tok: Tok::Comma, ..
                }) => values.push(self.literal()?),
                Some(Token {
                    tok: Tok::RParen, ..
                }) => return Ok(values),
                Some(t) => return Err(FilterError::new(t.pos, "expected ',' or ')'")),
                None => return Err(FilterError::new(self.end, "missing ')' after IN list")),
            }
        }
    }

    fn literal(&mut self) -> Result<Literal, FilterError> {
        let pos = self.pos();
        match self.next().map(|t| t.tok) {
            Some(Tok::Str(s)) => Ok(Literal::String(s)),
            Some(Tok::Num(n)) => Ok(Literal::Number(n)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            _ => Err(FilterError::new(
                pos,
                "expected a value (string, number, TRUE or FALSE)",
            )),
        }
    }

    fn path(&mut self) -> Result<Path, FilterError> {
        match self.next() {
            Some(Token {
                tok: Tok::Word(w),
                pos,
            }) => parse_path(&w, pos),
            Some(t) => Err(FilterError::new(t.pos, "expected a field name")),
            None => Err(FilterError::new(self.end, "expected a field name")),
        }
    }
}

/// Splits a word like `a.b[0].c[#-1]` into segments. `base` is the word's offset in the filter.
pub(crate) fn parse_path(word: &str, base: usize) -> Result<Path, FilterError> {
    let b = word.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    loop {
        // A key: everything up to '.' or '['.
        let start = i;
        while i < b.len() && b[i] != b'.' && b[i] != b'[' {
            i += 1;
        }
        if i == start {
            return Err(FilterError::new(base + i, "empty field name"));
        }
        segments.push(Segment::Key(word[start..i].to_string()));
        // Array indexes.
        while i < b.len() && b[i] == b'[' {
            let open = i;
            i += 1;
            let inner = i;
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
            if i >= b.len() {
                return Err(FilterError::new(base + open, "unclosed '['"));
            }
            let text = &word[inner..i];
            i += 1;
            let seg = if let Some(rest) = text.strip_prefix("#-") {
                parse_index(rest).map(Segment::FromEnd)
            } else {
                parse_index(text).map(Segment::Index)
            };
            match seg {
                Some(s) => segments.push(s),
                None => {
                    return Err(FilterError::new(
                        base + inner,
                        "expected an array index: a number or #-number",
                    ))
                }
            }
        }
        if i >= b.len() {
            return Ok(Path { segments });
        }
        if b[i] == b'.' {
            i += 1;
            if i >= b.len() {
                return Err(FilterError::new(base + i, "empty field name"));
            }
        } else {
            return Err(FilterError::new(
                base + i,
                "expected '.' or '[' after an array index",
            ));
        }
    }
}

fn parse_index(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
