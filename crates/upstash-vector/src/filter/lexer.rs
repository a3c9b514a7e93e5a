//! Tokens of the filter language, each with its byte offset.

use super::{CompareOp, FilterError};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    Comma,
    Cmp(CompareOp),
    /// An identifier-shaped word: a path or a keyword (decided by the parser).
    Word(String),
    Str(String),
    Num(f64),
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '#' | '-')
}

pub(crate) fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let pos = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push(Token {
                    tok: Tok::LParen,
                    pos,
                });
                i += 1;
            }
            b')' => {
                out.push(Token {
                    tok: Tok::RParen,
                    pos,
                });
                i += 1;
            }
            b',' => {
                out.push(Token {
                    tok: Tok::Comma,
                    pos,
                });
                i += 1;
            }
            b'=' => {
                // `==` is accepted as `=`.
                i += if bytes.get(i + 1) == Some(&b'=') {
                    2
                } else {
                    1
                };
                out.push(Token {
                    tok: Tok::Cmp(CompareOp::Eq),
                    pos,
                });
            }
            b'!' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    out.push(Token {
                        tok: Tok::Cmp(CompareOp::Ne),
                        pos,
                    });
                    i += 2;
                } else {
                    return Err(FilterError::new(pos, "expected '=' after '!'"));
                }
            }
            b'<' => {
                let (op, len) = match bytes.get(i + 1) {
                    Some(b'=') => (CompareOp::Le, 2),
                    Some(b'>') => (CompareOp::Ne, 2),
                    _ => (CompareOp::Lt, 1),
                };
                out.push(Token {
                    tok: Tok::Cmp(op),
                    pos,
                });
                i += len;
            }
            b'>' => {
                let (op, len) = match bytes.get(i + 1) {
                    Some(b'=') => (CompareOp::Ge, 2),
                    _ => (CompareOp::Gt, 1),
                };
                out.push(Token {
                    tok: Tok::Cmp(op),
                    pos,
                });
                i += len;
            }
            b'\'' | b'"' => {
                let (s, next) = lex_string(input, i)?;
                out.push(Token {
                    tok: Tok::Str(s),
                    pos,
                });
                i = next;
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let (n, next) = lex_number(input, i)?;
                out.push(Token {
                    tok: Tok::Num(n),
                    pos,
                });
                i = next;
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or('\0');
                if !is_word_start(ch) {
                    return Err(FilterError::new(pos, "unexpected character"));
                }
                let end = input[i..]
                    .char_indices()
                    .find(|&(_, c)| !is_word_char(c))
                    .map_or(input.len(), |(k, _)| i + k);
                out.push(Token {
                    tok: Tok::Word(input[i..end].to_string()),
                    pos,
                });
                i = end;
            }
        }
    }
    Ok(out)
}

/// A quoted string starting at `start` (the quote). Returns the unescaped text and the offset
/// after the closing quote. `\x` stands for `x` for any character `x`.
fn lex_string(input: &str, start: usize) -> Result<(String, usize), FilterError> {
    let mut chars = input[start..].char_indices();
    let quote = match chars.next() {
        Some((_, q)) => q,
        None => return Err(FilterError::new(start, "unterminated string")),
    };
    let mut s = String::new();
    while let Some((k, c)) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some((_, e)) => s.push(e),
                None => break,
            }
        } else if c == quote {
            return Ok((s, start + k + c.len_utf8()));
        } else {
            s.push(c);
        }
    }
    Err(FilterError::new(start, "unterminated string"))
}

/// A number: `[+-]digits[.digits][(e|E)[+-]digits]`.
fn lex_number(input: &str, start: usize) -> Result<(f64, usize), FilterError> {
    let b = input.as_bytes();
    let mut i = start;
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == digits_start {
        return Err(FilterError::new(start, "expected a number"));
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac {
            return Err(FilterError::new(start, "expected digits after '.'"));
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        let exp = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j == exp {
            return Err(FilterError::new(start, "expected digits in the exponent"));
        }
        i = j;
    }
    if b.get(i)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return Err(FilterError::new(i, "unexpected character after a number"));
    }
    let n: f64 = input[start..i]
        .parse()
        .map_err(|_| FilterError::new(start, "invalid number"))?;
    if !n.is_finite() {
        return Err(FilterError::new(start, "number out of range"));
    }
    Ok((n, i))
}
