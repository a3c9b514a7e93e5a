//! A small RESP2 codec: command encoding, reply framing and parsing.
//!
//! Replies keep their raw bytes so that `Upstash-Response-Format: resp2` can pass them through
//! unchanged; bulk strings are zero-copy slices of those raw bytes.

use bytes::{BufMut, Bytes, BytesMut};

/// Maximum nesting depth accepted in a reply.
const MAX_DEPTH: usize = 128;

/// A parsed RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+...` simple string.
    Simple(Bytes),
    /// `-...` error.
    Error(Bytes),
    /// `:...` integer.
    Int(i64),
    /// `$n` bulk string.
    Bulk(Bytes),
    /// `$-1` or `*-1`.
    Nil,
    /// `*n` array.
    Array(Vec<Value>),
}

impl Value {
    /// An error value from a message.
    pub fn error(msg: impl Into<String>) -> Value {
        Value::Error(Bytes::from(msg.into()))
    }

    /// The simple string `OK`.
    pub fn ok() -> Value {
        Value::Simple(Bytes::from_static(b"OK"))
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_))
    }
}

/// A reply together with its raw wire bytes (when it came from Redis).
#[derive(Debug, Clone)]
pub struct Frame {
    /// Raw RESP2 bytes as received; `None` for locally produced replies.
    pub raw: Option<Bytes>,
    /// The parsed value.
    pub value: Value,
}

impl Frame {
    /// A locally produced frame.
    pub fn local(value: Value) -> Frame {
        Frame { raw: None, value }
    }

    /// Appends this frame's RESP2 bytes to `out`.
    pub fn write_raw(&self, out: &mut BytesMut) {
        match &self.raw {
            Some(raw) => out.extend_from_slice(raw),
            None => encode_value(&self.value, out),
        }
    }
}

/// Protocol error while framing a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RESP protocol error: {}", self.0)
    }
}

/// Result of [`frame_len`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameLen {
    /// A complete frame of this many bytes is at the start of the buffer.
    Complete(usize),
    /// More bytes needed; at least this many in total.
    Incomplete(usize),
}

/// Encodes one command as a RESP2 array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    let mut total = 16;
    for a in args {
        total += a.as_ref().len() + 16;
    }
    out.reserve(total);
    out.put_u8(b'*');
    put_usize(out, args.len());
    out.put_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.put_u8(b'$');
        put_usize(out, a.len());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

/// Encodes a value as RESP2.
pub fn encode_value(v: &Value, out: &mut BytesMut) {
    match v {
        Value::Simple(s) => {
            out.put_u8(b'+');
            out.put_slice(s);
            out.put_slice(b"\r\n");
        }
        Value::Error(s) => {
            out.put_u8(b'-');
            // Errors must be single-line.
            for &c in s.iter() {
                out.put_u8(if c == b'\r' || c == b'\n' { b' ' } else { c });
            }
            out.put_slice(b"\r\n");
        }
        Value::Int(i) => {
            out.put_u8(b':');
            out.put_slice(i.to_string().as_bytes());
            out.put_slice(b"\r\n");
        }
        Value::Bulk(b) => {
            out.put_u8(b'$');
            put_usize(out, b.len());
            out.put_slice(b"\r\n");
            out.put_slice(b);
            out.put_slice(b"\r\n");
        }
        Value::Nil => out.put_slice(b"$-1\r\n"),
        Value::Array(items) => {
            out.put_u8(b'*');
            put_usize(out, items.len());
            out.put_slice(b"\r\n");
            for it in items {
                encode_value(it, out);
            }
        }
    }
}

fn put_usize(out: &mut BytesMut, n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&buf[i..]);
}

/// Finds the end of the line starting at `pos`; returns the index of `\r`.
fn find_crlf(buf: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos;
    while i + 1 < buf.len() {
        match buf[i..].iter().position(|&c| c == b'\r') {
            Some(off) => {
                let at = i + off;
                if at + 1 >= buf.len() {
                    return None;
                }
                if buf[at + 1] == b'\n' {
                    return Some(at);
                }
                i = at + 1;
            }
            None => return None,
        }
    }
    None
}

fn parse_int(line: &[u8]) -> Result<i64, ProtocolError> {
    let (neg, digits) = match line.first() {
        Some(b'-') => (true, &line[1..]),
        Some(b'+') => (false, &line[1..]),
        _ => (false, line),
    };
    if digits.is_empty() || digits.len() > 19 {
        return Err(ProtocolError("bad integer"));
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ProtocolError("bad integer"));
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(i64::from(d - b'0')))
            .ok_or(ProtocolError("integer overflow"))?;
    }
    Ok(if neg { -n } else { n })
}

/// Determines whether `buf` starts with a complete reply frame.
pub fn frame_len(buf: &[u8]) -> Result<FrameLen, ProtocolError> {
    let mut pos = 0usize;
    // Stack of remaining element counts for open arrays.
    let mut stack: Vec<i64> = Vec::new();
    loop {
        // Parse one element header at pos.
        let Some(&kind) = buf.get(pos) else {
            return Ok(FrameLen::Incomplete(pos + 1));
        };
        let Some(end) = find_crlf(buf, pos + 1) else {
            return Ok(FrameLen::Incomplete(buf.len() + 1));
        };
        let line = &buf[pos + 1..end];
        pos = end + 2;
        match kind {
            b'+' | b'-' => {}
            b':' => {
                parse_int(line)?;
            }
            b'$' => {
                let n = parse_int(line)?;
                if n >= 0 {
                    let n = usize::try_from(n).map_err(|_| ProtocolError("bad length"))?;
                    let need = pos
                        .checked_add(n)
                        .and_then(|x| x.checked_add(2))
                        .ok_or(ProtocolError("bad length"))?;
                    if buf.len() < need {
                        return Ok(FrameLen::Incomplete(need));
                    }
                    if &buf[need - 2..need] != b"\r\n" {
                        return Err(ProtocolError("bulk string not terminated"));
                    }
                    pos = need;
                } else if n != -1 {
                    return Err(ProtocolError("bad bulk length"));
                }
            }
            b'*' => {
                let n = parse_int(line)?;
                if n > 0 {
                    if stack.len() >= MAX_DEPTH {
                        return Err(ProtocolError("reply nested too deeply"));
                    }
                    stack.push(n);
                    continue;
                } else if n < -1 {
                    return Err(ProtocolError("bad array length"));
                }
            }
            _ => return Err(ProtocolError("unknown reply type")),
        }
        // One element completed: pop finished arrays.
        loop {
            match stack.last_mut() {
                None => return Ok(FrameLen::Complete(pos)),
                Some(rem) => {
                    *rem -= 1;
                    if *rem == 0 {
                        stack.pop();
                    } else {
                        break;
                    }
                }
            }
        }
    }
}

/// Parses a complete frame (as validated by [`frame_len`]).
pub fn parse_frame(raw: &Bytes) -> Result<Value, ProtocolError> {
    let mut pos = 0;
    parse_at(raw, &mut pos, 0)
}

fn parse_at(raw: &Bytes, pos: &mut usize, depth: usize) -> Result<Value, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError("reply nested too deeply"));
    }
    let kind = *raw.get(*pos).ok_or(ProtocolError("truncated"))?;
    let end = find_crlf(raw, *pos + 1).ok_or(ProtocolError("truncated"))?;
    let start = *pos + 1;
    *pos = end + 2;
    match kind {
        b'+' => Ok(Value::Simple(raw.slice(start..end))),
        b'-' => Ok(Value::Error(raw.slice(start..end))),
        b':' => Ok(Value::Int(parse_int(&raw[start..end])?)),
        b'$' => {
            let n = parse_int(&raw[start..end])?;
            if n < 0 {
                return Ok(Value::Nil);
            }
            let n = usize::try_from(n).map_err(|_| ProtocolError("bad length"))?;
            let s = *pos;
            let e = s.checked_add(n).ok_or(ProtocolError("bad length"))?;
            if e + 2 > raw.len() {
                return Err(ProtocolError("truncated"));
            }
            *pos = e + 2;
            Ok(Value::Bulk(raw.slice(s..e)))
        }
        b'*' => {
            let n = parse_int(&raw[start..end])?;
            if n < 0 {
                return Ok(Value::Nil);
            }
            let n = usize::try_from(n).map_err(|_| ProtocolError("bad length"))?;
            // Each element is at least 3 bytes; bound the allocation by the input.
            let mut items = Vec::with_capacity(n.min(raw.len() / 3 + 1));
            for _ in 0..n {
                items.push(parse_at(raw, pos, depth + 1)?);
            }
            Ok(Value::Array(items))
        }
        _ => Err(ProtocolError("unknown reply type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: Value) {
        let mut out = BytesMut::new();
        encode_value(&v, &mut out);
        let raw = out.freeze();
        assert_eq!(frame_len(&raw), Ok(FrameLen::Complete(raw.len())));
        for cut in 0..raw.len() {
            assert!(matches!(
                frame_len(&raw[..cut]),
                Ok(FrameLen::Incomplete(_))
            ));
        }
        assert_eq!(parse_frame(&raw), Ok(v));
    }

    #[test]
    fn roundtrips() {
        roundtrip(Value::ok());
        roundtrip(Value::error("ERR x"));
        roundtrip(Value::Int(-42));
        roundtrip(Value::Bulk(Bytes::from_static(b"a\r\nb")));
        roundtrip(Value::Nil);
        roundtrip(Value::Array(vec![]));
        roundtrip(Value::Array(vec![
            Value::Int(1),
            Value::Array(vec![Value::Bulk(Bytes::new()), Value::Nil]),
            Value::Simple(Bytes::from_static(b"x")),
        ]));
    }

    #[test]
    fn rejects_garbage() {
        assert!(frame_len(b"?abc\r\n").is_err());
        assert!(frame_len(b":abc\r\n").is_err());
        assert!(frame_len(b"$3\r\nabcd\r\n").is_err());
        assert!(frame_len(b"*-5\r\n").is_err());
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut rng = fastrand::Rng::with_seed(9);
        let alphabet = b"+-:$*\r\n0123-1x";
        for _ in 0..20_000 {
            let len = rng.usize(0..20);
            let s: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(0..alphabet.len())])
                .collect();
            let b = Bytes::from(s);
            if let Ok(FrameLen::Complete(n)) = frame_len(&b) {
                assert!(n <= b.len());
                assert!(parse_frame(&b.slice(..n)).is_ok());
            }
        }
    }

    #[test]
    fn encodes_commands() {
        let mut out = BytesMut::new();
        encode_command(&["SET", "k", ""], &mut out);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }
}
