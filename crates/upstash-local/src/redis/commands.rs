//! Command guards, rewrites and small Upstash emulations applied before forwarding.

use bytes::Bytes;

use super::json::Command;
use super::resp::Value;
use super::scripts::ScriptMap;

/// What to do after Redis replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    /// Forward the reply unchanged.
    None,
    /// SCRIPT LOAD of a rewritten script: reply with the original SHA-1.
    ScriptSha([u8; 40]),
    /// `SCAN ... WITHTYPE` (Upstash): add each key's type after it.
    ScanWithType,
}

/// A command ready to run.
#[derive(Debug)]
pub enum Plan {
    /// Answered locally with this reply (no round trip).
    Local(Value),
    /// Rejected before reaching Redis.
    Reject(String),
    /// Sent to Redis.
    Remote(Command, Post),
}

fn upper(name: &[u8], buf: &mut [u8; 24]) -> Option<usize> {
    if name.len() > buf.len() {
        return None;
    }
    for (b, c) in buf.iter_mut().zip(name) {
        *b = c.to_ascii_uppercase();
    }
    Some(name.len())
}

fn unsupported(name: &[u8]) -> Plan {
    Plan::Reject(format!(
        "ERR Command is not supported by the REST API: '{}'",
        String::from_utf8_lossy(name).to_ascii_lowercase()
    ))
}

/// Applies guards and rewrites to one command.
pub fn prepare(mut cmd: Command, scripts: &ScriptMap) -> Plan {
    let Some(first) = cmd.first() else {
        return Plan::Reject("ERR empty command".into());
    };
    let mut buf = [0u8; 24];
    let Some(n) = upper(first, &mut buf) else {
        return Plan::Remote(cmd, Post::None);
    };
    let name = &buf[..n];
    let sub = |cmd: &Command, i: usize| -> Vec<u8> {
        cmd.get(i)
            .map(|s| s.to_ascii_uppercase())
            .unwrap_or_default()
    };
    match name {
        b"SELECT" | b"AUTH" | b"HELLO" | b"RESET" | b"QUIT" | b"MULTI" | b"EXEC" | b"WATCH"
        | b"UNWATCH" | b"DISCARD" | b"SUBSCRIBE" | b"PSUBSCRIBE" | b"UNSUBSCRIBE"
        | b"PUNSUBSCRIBE" | b"SSUBSCRIBE" | b"SUNSUBSCRIBE" | b"MONITOR" | b"SYNC" | b"PSYNC"
        | b"BLPOP" | b"BRPOP" | b"BRPOPLPUSH" | b"BLMOVE" | b"BLMPOP" | b"BZPOPMIN"
        | b"BZPOPMAX" | b"BZMPOP" | b"WAIT" | b"WAITAOF" | b"SHUTDOWN" | b"DEBUG"
        | b"REPLICAOF" | b"SLAVEOF" | b"FAILOVER" | b"MIGRATE" | b"CLUSTER" | b"READONLY"
        | b"READWRITE" | b"ASKING" | b"REPLCONF" => unsupported(first),
        b"CLIENT" => {
            if sub(&cmd, 1) == b"SETINFO" {
                Plan::Local(Value::ok())
            } else {
                unsupported(first)
            }
        }
        b"CONFIG" => {
            if sub(&cmd, 1) == b"SET" {
                let mut i = 2;
                while i < cmd.len() {
                    let p = sub(&cmd, i);
                    if matches!(
                        &p[..],
                        b"DIR"
                            | b"DBFILENAME"
                            | b"APPENDFILENAME"
                            | b"APPENDDIRNAME"
                            | b"LOGFILE"
                            | b"PORT"
                            | b"BIND"
                            | b"REQUIREPASS"
                            | b"ACLFILE"
                            | b"UNIXSOCKET"
                            | b"DAEMONIZE"
                            | b"TLS-PORT"
                    ) {
                        return Plan::Reject(format!(
                            "ERR CONFIG SET {} is not supported by the REST API",
                            String::from_utf8_lossy(&p).to_ascii_lowercase()
                        ));
                    }
                    i += 2;
                }
            }
            Plan::Remote(cmd, Post::None)
        }
        b"XREAD" | b"XREADGROUP" => {
            for a in cmd.iter().skip(1) {
                if a.eq_ignore_ascii_case(b"STREAMS") {
                    break;
                }
                if a.eq_ignore_ascii_case(b"BLOCK") {
                    return Plan::Reject(format!(
                        "ERR Blocking {} is not supported by the REST API",
                        String::from_utf8_lossy(first).to_ascii_lowercase()
                    ));
                }
            }
            Plan::Remote(cmd, Post::None)
        }
        b"DEL" | b"UNLINK" if cmd.len() == 1 => Plan::Local(Value::Int(0)),
        b"SCAN" => {
            let before = cmd.len();
            let mut i = 0;
            cmd.retain(|a| {
                i += 1;
                i <= 2 || !a.eq_ignore_ascii_case(b"WITHTYPE")
            });
            let post = if cmd.len() != before {
                Post::ScanWithType
            } else {
                Post::None
            };
            Plan::Remote(cmd, post)
        }
        b"EVAL" | b"EVAL_RO" => {
            if let Some((body, _)) = cmd.get(1).and_then(|s| scripts.rewrite(s)) {
                cmd[1] = body;
            }
            Plan::Remote(cmd, Post::None)
        }
        b"EVALSHA" | b"EVALSHA_RO" => {
            if let Some(sha) = cmd.get(1).and_then(|s| scripts.translate(s)) {
                cmd[1] = sha;
            }
            Plan::Remote(cmd, Post::None)
        }
        b"SCRIPT" => {
            let s = sub(&cmd, 1);
            if s == b"LOAD" && cmd.len() == 3 {
                if let Some((body, orig)) = scripts.rewrite(&cmd[2]) {
                    cmd[2] = body;
                    return Plan::Remote(cmd, Post::ScriptSha(orig));
                }
            } else if s == b"EXISTS" {
                for a in cmd.iter_mut().skip(2) {
                    if let Some(sha) = scripts.translate(a) {
                        *a = sha;
                    }
                }
            }
            Plan::Remote(cmd, Post::None)
        }
        b"FUNCTION" => {
            if sub(&cmd, 1) == b"LOAD" && cmd.len() >= 3 {
                let last = cmd.len() - 1;
                if let Some(body) = super::scripts::strip_function_flags(&cmd[last]) {
                    cmd[last] = Bytes::from(body);
                }
            }
            Plan::Remote(cmd, Post::None)
        }
        _ => Plan::Remote(cmd, Post::None),
    }
}

/// Applies the post-processing step to a reply value.
pub fn post(post: Post, v: Value) -> (Value, bool) {
    match (post, v) {
        (Post::ScriptSha(orig), Value::Bulk(_)) => {
            (Value::Bulk(Bytes::copy_from_slice(&orig)), true)
        }
        (_, v) => (v, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(parts: &[&str]) -> Command {
        parts
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn guards() {
        let m = ScriptMap::default();
        assert!(matches!(
            prepare(cmd(&["blpop", "a", "0"]), &m),
            Plan::Reject(_)
        ));
        assert!(matches!(
            prepare(cmd(&["client", "list"]), &m),
            Plan::Reject(_)
        ));
        assert!(matches!(
            prepare(cmd(&["client", "setinfo", "lib-name", "x"]), &m),
            Plan::Local(_)
        ));
        assert!(matches!(
            prepare(cmd(&["xread", "block", "0", "streams", "s", "$"]), &m),
            Plan::Reject(_)
        ));
        assert!(matches!(
            prepare(cmd(&["xread", "count", "1", "streams", "block", "0"]), &m),
            Plan::Remote(..)
        ));
        assert!(matches!(
            prepare(cmd(&["unlink"]), &m),
            Plan::Local(Value::Int(0))
        ));
        assert!(matches!(prepare(cmd(&["get", "k"]), &m), Plan::Remote(..)));
        assert!(matches!(prepare(vec![], &m), Plan::Reject(_)));
        match prepare(cmd(&["scan", "0", "withtype", "count", "5"]), &m) {
            Plan::Remote(c, Post::ScanWithType) => assert_eq!(c.len(), 4),
            other => panic!("{other:?}"),
        }
    }
}
