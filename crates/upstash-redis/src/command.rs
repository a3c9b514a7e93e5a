//! A command as a list of byte-string arguments, and its two wire forms: a JSON array (the
//! normal form, also used in pipelines) and a path-style URL with a raw body (the only form
//! that carries non-UTF-8 arguments).

use bytes::Bytes;
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::{Error, Result, ToArgs};

/// A Redis command: its name followed by its arguments.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    args: Vec<Bytes>,
}

impl std::fmt::Debug for Command {
    /// Shows only the command name and argument count: arguments can be user data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Command({} + {} args)",
            self.name(),
            self.args.len().saturating_sub(1)
        )
    }
}

impl Command {
    /// A command with the given name (`"GET"`, `"HSET"`, `"JSON.GET"`, ...).
    pub fn new(name: &'static str) -> Self {
        let mut args = Vec::with_capacity(4);
        args.push(Bytes::from_static(name.as_bytes()));
        Self { args }
    }

    /// A command from a name that is not a static string.
    pub fn from_name(name: &str) -> Self {
        Self {
            args: vec![Bytes::copy_from_slice(name.as_bytes())],
        }
    }

    /// Appends arguments.
    pub fn arg(mut self, arg: impl ToArgs) -> Self {
        arg.write_args(&mut self.args);
        self
    }

    /// Appends a count of keys and then the keys themselves, as `EVAL`-style commands take
    /// them, writing the keys only once.
    pub(crate) fn push_counted(&mut self, keys: &impl ToArgs) {
        let at = self.args.len();
        self.args.push(Bytes::new());
        keys.write_args(&mut self.args);
        let count = self.args.len() - at - 1;
        self.args[at] = Bytes::copy_from_slice(itoa::Buffer::new().format(count).as_bytes());
    }

    /// Appends arguments in place.
    pub fn push_arg(&mut self, arg: impl ToArgs) {
        arg.write_args(&mut self.args);
    }

    /// The command name as written (for logs and errors).
    pub fn name(&self) -> String {
        self.args
            .first()
            .map(|n| String::from_utf8_lossy(n).to_ascii_uppercase())
            .unwrap_or_default()
    }

    /// All parts, the name first.
    pub fn args(&self) -> &[Bytes] {
        &self.args
    }

    /// Whether every part is valid UTF-8, so the command fits a JSON body.
    pub(crate) fn is_json_safe(&self) -> bool {
        self.args.iter().all(|a| std::str::from_utf8(a).is_ok())
    }

    /// Whether the command only reads, so sending it twice has no extra effect.
    pub(crate) fn is_read_only(&self) -> bool {
        self.args.first().is_some_and(|n| is_read_only(n))
    }

    /// The command as a JSON array of strings, or `None` when an argument is not UTF-8 (it
    /// must then travel path style): [`Command::write_json`] into a buffer sized up front,
    /// each argument checked once, as it is written.
    pub(crate) fn to_json(&self) -> Option<Vec<u8>> {
        let size = self.args.iter().map(|a| a.len() + 3).sum::<usize>() + 2;
        let mut out = Vec::with_capacity(size);
        self.write_json(&mut out, 0).ok()?;
        Some(out)
    }

    /// Appends the command as a JSON array of strings.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>, index: usize) -> Result<()> {
        out.push(b'[');
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let text = std::str::from_utf8(arg).map_err(|_| {
                Error::InvalidArgument(format!(
                    "argument {i} of command {index} ({}) is not valid UTF-8; binary values can \
                     only be sent as single commands, not in pipelines or transactions",
                    self.name()
                ))
            })?;
            write_json_string(out, text);
        }
        out.push(b']');
        Ok(())
    }

    /// The path-style form: arguments before the last binary one become percent-encoded path
    /// segments, that argument becomes the raw body, later arguments become query pairs
    /// (`?EX=100`, a lone trailing argument as `?NX`).
    ///
    /// Fails when a path segment would be `.` or `..`: URL parsers resolve those (encoded as
    /// `%2E` too), so the server would see another command.
    pub(crate) fn to_path_style(&self) -> Result<(String, Bytes)> {
        let body_at = self
            .args
            .iter()
            .rposition(|a| std::str::from_utf8(a).is_err())
            .unwrap_or(self.args.len().saturating_sub(1));
        let mut path = String::new();
        for (i, arg) in self.args[..body_at].iter().enumerate() {
            if arg.as_ref() == b"." || arg.as_ref() == b".." {
                return Err(Error::InvalidArgument(format!(
                    "argument {i} of {} is `.` or `..`, which cannot travel as a URL path \
                     segment; commands with a non-UTF-8 argument are sent path style",
                    self.name()
                )));
            }
            path.push('/');
            path.extend(percent_encode(arg, SEGMENT));
        }
        let rest = &self.args[body_at.saturating_add(1).min(self.args.len())..];
        for (i, pair) in rest.chunks(2).enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.extend(percent_encode(&pair[0], SEGMENT));
            if let Some(value) = pair.get(1) {
                path.push('=');
                path.extend(percent_encode(value, SEGMENT));
            }
        }
        let body = self.args.get(body_at).cloned().unwrap_or_default();
        Ok((path, body))
    }
}

/// Characters escaped in path segments and query parts: everything but unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Writes a JSON string literal.
pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let escape: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(c >> 4) as usize]);
            out.push(HEX[(c & 0xf) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Commands that never change data: safe to send twice, so the transport may retry them
/// after an unknown outcome.
fn is_read_only(name: &[u8]) -> bool {
    let mut upper = [0u8; 24];
    if name.len() > upper.len() {
        return false;
    }
    for (d, s) in upper.iter_mut().zip(name) {
        *d = s.to_ascii_uppercase();
    }
    matches!(
        &upper[..name.len()],
        b"GET"
            | b"MGET"
            | b"STRLEN"
            | b"GETRANGE"
            | b"SUBSTR"
            | b"LCS"
            | b"EXISTS"
            | b"TTL"
            | b"PTTL"
            | b"EXPIRETIME"
            | b"PEXPIRETIME"
            | b"TYPE"
            | b"KEYS"
            | b"SCAN"
            | b"RANDOMKEY"
            | b"DBSIZE"
            | b"DUMP"
            | b"OBJECT"
            | b"HGET"
            | b"HGETALL"
            | b"HMGET"
            | b"HKEYS"
            | b"HVALS"
            | b"HLEN"
            | b"HEXISTS"
            | b"HSTRLEN"
            | b"HSCAN"
            | b"HRANDFIELD"
            | b"HTTL"
            | b"HPTTL"
            | b"HEXPIRETIME"
            | b"HPEXPIRETIME"
            | b"LRANGE"
            | b"LLEN"
            | b"LINDEX"
            | b"LPOS"
            | b"SMEMBERS"
            | b"SISMEMBER"
            | b"SMISMEMBER"
            | b"SCARD"
            | b"SRANDMEMBER"
            | b"SSCAN"
            | b"SINTER"
            | b"SUNION"
            | b"SDIFF"
            | b"SINTERCARD"
            | b"ZRANGE"
            | b"ZRANGEBYSCORE"
            | b"ZRANGEBYLEX"
            | b"ZREVRANGE"
            | b"ZREVRANGEBYSCORE"
            | b"ZREVRANGEBYLEX"
            | b"ZSCORE"
            | b"ZMSCORE"
            | b"ZCARD"
            | b"ZCOUNT"
            | b"ZLEXCOUNT"
            | b"ZRANK"
            | b"ZREVRANK"
            | b"ZSCAN"
            | b"ZRANDMEMBER"
            | b"ZUNION"
            | b"ZINTER"
            | b"ZDIFF"
            | b"ZINTERCARD"
            | b"XRANGE"
            | b"XREVRANGE"
            | b"XLEN"
            | b"XINFO"
            | b"XPENDING"
            | b"GEOPOS"
            | b"GEODIST"
            | b"GEOHASH"
            | b"GEOSEARCH"
            | b"GEORADIUS_RO"
            | b"GEORADIUSBYMEMBER_RO"
            | b"PFCOUNT"
            | b"BITCOUNT"
            | b"BITPOS"
            | b"GETBIT"
            | b"BITFIELD_RO"
            | b"PING"
            | b"ECHO"
            | b"TIME"
            | b"INFO"
            | b"EVAL_RO"
            | b"EVALSHA_RO"
            | b"FCALL_RO"
            | b"JSON.GET"
            | b"JSON.MGET"
            | b"JSON.TYPE"
            | b"JSON.STRLEN"
            | b"JSON.ARRLEN"
            | b"JSON.OBJKEYS"
            | b"JSON.OBJLEN"
            | b"JSON.ARRINDEX"
            | b"JSON.RESP"
            | b"TOUCH"
    )
}

/// Serialises commands as a JSON array of arrays (the `/pipeline` and `/multi-exec` body).
pub(crate) fn pipeline_body<'a>(
    commands: impl IntoIterator<Item = &'a Command>,
) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(256);
    body.push(b'[');
    for (i, cmd) in commands.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        cmd.write_json(&mut body, i)?;
    }
    body.push(b']');
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(cmd: &Command) -> String {
        let mut out = Vec::new();
        assert!(cmd.write_json(&mut out, 0).is_ok());
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn json_form_escapes() {
        let cmd = Command::new("SET").arg("k\"\\\n\u{1}é").arg(10);
        assert_eq!(json(&cmd), r#"["SET","k\"\\\n\u0001é","10"]"#);
        let parsed: Vec<String> = serde_json::from_str(&json(&cmd)).unwrap_or_default();
        assert_eq!(parsed[1], "k\"\\\n\u{1}é");
    }

    #[test]
    fn binary_is_rejected_from_json() {
        let cmd = Command::new("SET").arg("k").arg(vec![0xffu8]);
        assert!(!cmd.is_json_safe());
        assert!(
            matches!(cmd.write_json(&mut Vec::new(), 3), Err(Error::InvalidArgument(m)) if !m.contains('\u{fffd}'))
        );
    }

    #[test]
    fn path_style_form() {
        let cmd = Command::new("SET")
            .arg("a/b c")
            .arg(vec![0u8, 0xff])
            .arg("EX")
            .arg(100)
            .arg("NX");
        let (path, body) = cmd.to_path_style().unwrap_or_default();
        assert_eq!(path, "/SET/a%2Fb%20c?EX=100&NX");
        assert_eq!(body.as_ref(), &[0u8, 0xff]);
        // Dot segments would be resolved away by any URL parser: refused, not sent wrongly.
        for key in [".", ".."] {
            let cmd = Command::new("SET").arg(key).arg(vec![0u8, 0xff]);
            assert!(matches!(
                cmd.to_path_style(),
                Err(Error::InvalidArgument(_))
            ));
        }
        let cmd = Command::new("SET").arg("...").arg(vec![0u8, 0xff]);
        assert_eq!(cmd.to_path_style().unwrap_or_default().0, "/SET/...");
    }

    #[test]
    fn read_only_classification() {
        assert!(Command::new("get").arg("k").is_read_only());
        assert!(Command::from_name("evalsha_ro").is_read_only());
        assert!(!Command::new("INCR").is_read_only());
        assert!(!Command::from_name("AVERYLONGCOMMANDNAMETHATISLONG").is_read_only());
    }

    #[test]
    fn debug_hides_arguments() {
        let cmd = Command::new("SET").arg("secret-key").arg("secret-value");
        assert_eq!(format!("{cmd:?}"), "Command(SET + 2 args)");
    }
}
