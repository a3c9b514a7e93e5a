//! Support for the Upstash-only `allow-key-locking` script flag.
//!
//! Redis 7 rejects unknown shebang flags, so the flag is removed before a script is forwarded.
//! Redis then caches the script under the SHA-1 of the rewritten text, so we remember
//! `sha1(original) -> sha1(rewritten)` and translate EVALSHA / SCRIPT EXISTS arguments.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use bytes::Bytes;
use sha1::{Digest, Sha1};

const FLAG: &[u8] = b"allow-key-locking";

/// Map from original script SHA-1 to the SHA-1 Redis knows.
#[derive(Debug, Default)]
pub struct ScriptMap {
    any: AtomicBool,
    map: RwLock<HashMap<[u8; 40], [u8; 40]>>,
}

/// Lower-case hex SHA-1 of `data`.
pub fn sha1_hex(data: &[u8]) -> [u8; 40] {
    let digest = Sha1::digest(data);
    let mut out = [0u8; 40];
    // encode_to_slice only fails on a length mismatch, which cannot happen here.
    let _ = hex::encode_to_slice(digest, &mut out);
    out
}

/// Removes `allow-key-locking` from a `#!lua` shebang. Returns `None` when unchanged.
pub fn strip_flag(script: &[u8]) -> Option<Vec<u8>> {
    if !script.starts_with(b"#!") {
        return None;
    }
    let line_end = script
        .iter()
        .position(|&c| c == b'\n')
        .unwrap_or(script.len());
    let line = &script[..line_end];
    if !line.windows(FLAG.len()).any(|w| w == FLAG) {
        return None;
    }
    let mut new_line: Vec<u8> = Vec::with_capacity(line.len());
    for (i, tok) in line
        .split(|&c| c == b' ')
        .filter(|t| !t.is_empty())
        .enumerate()
    {
        let tok: Vec<u8> = if let Some(flags) = tok.strip_prefix(b"flags=") {
            let kept: Vec<&[u8]> = flags
                .split(|&c| c == b',')
                .filter(|f| !f.is_empty() && *f != FLAG)
                .collect();
            if kept.is_empty() {
                continue;
            }
            let mut t = b"flags=".to_vec();
            t.extend_from_slice(&kept.join(&b","[..]));
            t
        } else {
            tok.to_vec()
        };
        if i > 0 {
            new_line.push(b' ');
        }
        new_line.extend_from_slice(&tok);
    }
    let mut out = new_line;
    out.extend_from_slice(&script[line_end..]);
    Some(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// For `FUNCTION LOAD`: strips the flag from the shebang and from quoted entries of
/// `flags={...}` tables (`'allow-key-locking'` / `"allow-key-locking"`). `None` when unchanged.
pub fn strip_function_flags(code: &[u8]) -> Option<Vec<u8>> {
    let mut out = strip_flag(code).unwrap_or_else(|| code.to_vec());
    let mut changed = out.len() != code.len();
    for q in [b'\'', b'"'] {
        let mut pat = vec![q];
        pat.extend_from_slice(FLAG);
        pat.push(q);
        while let Some(at) = find(&out, &pat) {
            let mut start = at;
            let mut end = at + pat.len();
            // Remove a following comma (and spaces), else a preceding one.
            let mut e = end;
            while out.get(e).is_some_and(|c| *c == b' ') {
                e += 1;
            }
            if out.get(e) == Some(&b',') {
                end = e + 1;
            } else {
                let mut s = start;
                while s > 0 && out[s - 1] == b' ' {
                    s -= 1;
                }
                if s > 0 && out[s - 1] == b',' {
                    start = s - 1;
                }
            }
            out.drain(start..end);
            changed = true;
        }
    }
    changed.then_some(out)
}

impl ScriptMap {
    /// Rewrites a script body if needed, recording the SHA mapping.
    /// Returns the new body and the original SHA-1.
    pub fn rewrite(&self, script: &[u8]) -> Option<(Bytes, [u8; 40])> {
        let new = strip_flag(script)?;
        let orig = sha1_hex(script);
        let rewritten = sha1_hex(&new);
        if let Ok(mut m) = self.map.write() {
            m.insert(orig, rewritten);
            self.any.store(true, Ordering::Release);
        }
        Some((Bytes::from(new), orig))
    }

    /// Translates a SHA-1 given by a client; `None` when no mapping applies.
    pub fn translate(&self, sha: &[u8]) -> Option<Bytes> {
        if !self.any.load(Ordering::Acquire) || sha.len() != 40 {
            return None;
        }
        let mut key = [0u8; 40];
        for (k, c) in key.iter_mut().zip(sha) {
            *k = c.to_ascii_lowercase();
        }
        let m = self.map.read().ok()?;
        m.get(&key).map(|v| Bytes::copy_from_slice(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_flags() {
        assert_eq!(strip_flag(b"return 1"), None);
        assert_eq!(strip_flag(b"#!lua flags=no-writes\nreturn 1"), None);
        assert_eq!(
            strip_flag(b"#!lua flags=allow-key-locking\nreturn 1").unwrap(),
            b"#!lua\nreturn 1"
        );
        assert_eq!(
            strip_flag(b"#!lua flags=no-writes,allow-key-locking,allow-oom\nreturn 1").unwrap(),
            b"#!lua flags=no-writes,allow-oom\nreturn 1"
        );
        assert_eq!(
            strip_flag(b"#!lua name=lib flags=allow-key-locking").unwrap(),
            b"#!lua name=lib"
        );
    }

    #[test]
    fn strips_function_flags() {
        assert_eq!(strip_function_flags(b"#!lua name=l\nx"), None);
        assert_eq!(
            strip_function_flags(b"#!lua name=l\nflags={'no-writes', 'allow-key-locking'}")
                .unwrap(),
            b"#!lua name=l\nflags={'no-writes'}"
        );
        assert_eq!(
            strip_function_flags(b"flags={\"allow-key-locking\",\"no-writes\"}").unwrap(),
            b"flags={\"no-writes\"}"
        );
        assert_eq!(
            strip_function_flags(b"flags={'allow-key-locking'}").unwrap(),
            b"flags={}"
        );
    }

    #[test]
    fn maps_shas() {
        let m = ScriptMap::default();
        let (body, orig) = m
            .rewrite(b"#!lua flags=allow-key-locking\nreturn 1")
            .unwrap();
        assert_eq!(&body[..], b"#!lua\nreturn 1");
        let upper: Vec<u8> = orig.iter().map(|c| c.to_ascii_uppercase()).collect();
        assert_eq!(
            &m.translate(&upper).unwrap()[..],
            &sha1_hex(b"#!lua\nreturn 1")[..]
        );
        assert!(m.translate(&[b'0'; 40]).is_none());
    }
}
