//! Request parsing (JSON command arrays) and response writing (RESP2 -> JSON).
//!
//! A tiny purpose-built JSON reader: strings without escapes are zero-copy slices of the
//! request body, numbers keep their literal text exactly as written.

use base64::Engine as _;
use bytes::Bytes;

use super::resp::Value;

/// One command: name followed by arguments.
pub type Command = Vec<Bytes>;

struct Reader<'a> {
    src: &'a Bytes,
    pos: usize,
}

type PResult<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> PResult<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("ERR invalid request body: expected {what}"))
        }
    }

    fn end(&mut self) -> PResult<()> {
        self.ws();
        if self.pos == self.src.len() {
            Ok(())
        } else {
            Err("ERR invalid request body: trailing characters after JSON value".into())
        }
    }

    /// Parses `[scalar, ...]`.
    fn command(&mut self) -> PResult<Command> {
        self.expect(
            b'[',
            "a JSON array command like [\"SET\",\"key\",\"value\"]",
        )?;
        let mut out = Vec::with_capacity(4);
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(out);
        }
        loop {
            self.ws();
            out.push(self.scalar()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => return Err("ERR invalid request body: expected ',' or ']'".into()),
            }
        }
    }

    fn scalar(&mut self) -> PResult<Bytes> {
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => {
                self.literal(b"null")?;
                Err("ERR null is not a valid command argument".into())
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[' | b'{') => Err(
                "ERR invalid command argument: nested arrays and objects are not allowed (send them as JSON strings)".into(),
            ),
            _ => Err("ERR invalid request body: expected a string, number or boolean".into()),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> PResult<Bytes> {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(Bytes::from_static(word))
        } else {
            Err("ERR invalid request body: invalid literal".into())
        }
    }

    fn digits(&mut self) -> usize {
        let s = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - s
    }

    fn number(&mut self) -> PResult<Bytes> {
        let start = self.pos;
        let bad = || "ERR invalid request body: malformed number".to_string();
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(bad()),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(bad());
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(bad());
            }
        }
        Ok(self.src.slice(start..self.pos))
    }

    fn hex4(&mut self) -> PResult<u32> {
        let h = self
            .src
            .get(self.pos..self.pos + 4)
            .ok_or("ERR invalid request body: bad \\u escape")?;
        let mut v = 0u32;
        for &c in h {
            let d = (c as char)
                .to_digit(16)
                .ok_or("ERR invalid request body: bad \\u escape")?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> PResult<Bytes> {
        // at '"'
        self.pos += 1;
        let start = self.pos;
        let bytes = &self.src[..];
        // fast path: no escapes
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(self.src.slice(start..i));
                }
                b'\\' => break,
                _ => i += 1,
            }
        }
        if i >= bytes.len() {
            return Err("ERR invalid request body: unterminated string".into());
        }
        let mut out: Vec<u8> = Vec::with_capacity(i - start + 16);
        out.extend_from_slice(&bytes[start..i]);
        self.pos = i;
        loop {
            let Some(c) = self.peek() else {
                return Err("ERR invalid request body: unterminated string".into());
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(Bytes::from(out)),
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err("ERR invalid request body: unterminated string".into());
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                // high surrogate: try to combine with a following low one
                                if self.src[self.pos..].starts_with(b"\\u") {
                                    let save = self.pos;
                                    self.pos += 2;
                                    let lo = self.hex4()?;
                                    if (0xDC00..0xE000).contains(&lo) {
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                    } else {
                                        self.pos = save;
                                        cp = 0xFFFD;
                                    }
                                } else {
                                    cp = 0xFFFD;
                                }
                            } else if (0xDC00..0xE000).contains(&cp) {
                                cp = 0xFFFD;
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            let mut tmp = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                        }
                        _ => return Err("ERR invalid request body: bad string escape".into()),
                    }
                }
                _ => out.push(c),
            }
        }
    }
}

/// Parses a single command body: a JSON array of strings, numbers and booleans.
pub fn parse_command(body: &Bytes) -> PResult<Command> {
    let mut r = Reader { src: body, pos: 0 };
    let cmd = r.command()?;
    r.end()?;
    Ok(cmd)
}

/// Parses a pipeline / transaction body: a JSON array of command arrays.
pub fn parse_commands(body: &Bytes, max: usize) -> PResult<Vec<Command>> {
    let mut r = Reader { src: body, pos: 0 };
    r.expect(
        b'[',
        "a JSON array of commands like [[\"SET\",\"k\",\"v\"],[\"GET\",\"k\"]]",
    )?;
    let mut out = Vec::new();
    r.ws();
    if r.peek() == Some(b']') {
        r.pos += 1;
        r.end()?;
        return Ok(out);
    }
    loop {
        if out.len() >= max {
            return Err(format!(
                "ERR max pipeline length exceeded (at most {max} commands per request)"
            ));
        }
        out.push(r.command()?);
        r.ws();
        match r.peek() {
            Some(b',') => r.pos += 1,
            Some(b']') => {
                r.pos += 1;
                r.end()?;
                return Ok(out);
            }
            _ => return Err("ERR invalid request body: expected ',' or ']'".into()),
        }
    }
}

/// Output options for JSON rendering.
#[derive(Debug, Clone, Copy)]
pub struct JsonOpts {
    /// `Upstash-Encoding: base64`.
    pub base64: bool,
}

/// Writes a JSON string literal (invalid UTF-8 becomes U+FFFD).
pub fn write_str(out: &mut Vec<u8>, bytes: &[u8]) {
    let s = String::from_utf8_lossy(bytes);
    out.reserve(s.len() + 2);
    out.push(b'"');
    let b = s.as_bytes();
    let mut last = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[last..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        last = i + 1;
    }
    out.extend_from_slice(&b[last..]);
    out.push(b'"');
}

fn write_b64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    let n = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.resize(start + n, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

/// Writes a reply value as JSON.
pub fn write_value(out: &mut Vec<u8>, v: &Value, opts: JsonOpts) {
    match v {
        Value::Simple(s) => {
            if opts.base64 && &s[..] != b"OK" {
                write_b64(out, s);
            } else {
                write_str(out, s);
            }
        }
        Value::Bulk(s) => {
            if opts.base64 {
                write_b64(out, s);
            } else {
                write_str(out, s);
            }
        }
        // Nested errors (e.g. inside a script's table reply) become their message.
        Value::Error(s) => write_str(out, s),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::Array(items) => {
            out.push(b'[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, it, opts);
            }
            out.push(b']');
        }
    }
}

/// Writes `{"result":...}` or `{"error":"..."}` for one reply.
pub fn write_item(out: &mut Vec<u8>, v: &Value, opts: JsonOpts) {
    match v {
        Value::Error(e) => write_error(out, e),
        _ => {
            out.extend_from_slice(b"{\"result\":");
            write_value(out, v, opts);
            out.push(b'}');
        }
    }
}

/// Writes `{"error":"..."}`.
pub fn write_error(out: &mut Vec<u8>, msg: &[u8]) {
    out.extend_from_slice(b"{\"error\":");
    write_str(out, msg);
    out.push(b'}');
}

/// `{"error":"..."}` as an owned body.
pub fn error_body(msg: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 12);
    write_error(&mut out, msg.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Vec<String>, String> {
        parse_command(&Bytes::from(s.to_string())).map(|v| {
            v.into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect()
        })
    }

    #[test]
    fn parses_scalars() {
        assert_eq!(
            p(r#" ["SET", "k\"\u00e9\ud83d\ude00", 1.50, -0, 1e-7, true, false] "#).unwrap(),
            vec!["SET", "k\"é😀", "1.50", "-0", "1e-7", "true", "false"]
        );
        assert!(p(r#"["a", null]"#).unwrap_err().contains("null"));
        assert!(p(r#"["a", [1]]"#).is_err());
        assert!(p(r#"["a", {}]"#).is_err());
        assert!(p(r#"["a" "b"]"#).is_err());
        assert!(p(r#"["a"] x"#).is_err());
        assert!(p(r#"["a", 01]"#).is_err());
        assert!(p(r#"["a", 1.]"#).is_err());
        assert!(p(r#"["a", "\ud800"]"#).unwrap()[1] == "\u{FFFD}");
        assert!(p(r#"["a"#).is_err());
        assert!(p(r#"["a\"#).is_err());
        assert!(p("").is_err());
        assert!(p("[").is_err());
        assert_eq!(p("[]").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet = b"[]{}\",:-+.eE0123456789tfnrlu\\ \n\xff";
        for _ in 0..20_000 {
            let len = rng.usize(0..24);
            let s: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(0..alphabet.len())])
                .collect();
            let b = Bytes::from(s);
            let _ = parse_command(&b);
            let _ = parse_commands(&b, 5);
        }
    }

    #[test]
    fn parses_pipelines() {
        let b = Bytes::from_static(br#"[["SET","a",1],["GET","a"]]"#);
        assert_eq!(parse_commands(&b, 10).unwrap().len(), 2);
        assert!(parse_commands(&b, 1).is_err());
        assert!(parse_commands(&Bytes::from_static(b"[1]"), 10).is_err());
    }

    #[test]
    fn writes_values() {
        let mut out = Vec::new();
        let v = Value::Array(vec![
            Value::ok(),
            Value::Bulk(Bytes::from_static(b"OK")),
            Value::Int(3),
            Value::Nil,
            Value::Bulk(Bytes::from_static(b"\xff\n\"")),
        ]);
        write_item(&mut out, &v, JsonOpts { base64: false });
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "{\"result\":[\"OK\",\"OK\",3,null,\"\u{FFFD}\\n\\\"\"]}"
        );
        out.clear();
        write_item(&mut out, &v, JsonOpts { base64: true });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"result\":[\"OK\",\"T0s=\",3,null,\"/woi\"]}"
        );
    }
}
