//! Connections to redis-server and a small pool per ACL user.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::resp::{self, Frame, FrameLen, Value};
use crate::secret::Secret;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_CHUNK: usize = 16 * 1024;

/// Failure talking to redis-server (I/O, protocol, auth).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

impl BackendError {
    fn io(ctx: &str, e: &std::io::Error) -> BackendError {
        BackendError(format!("ERR redis backend unavailable ({ctx}): {e}"))
    }
}

/// Where redis-server listens, and which database to select.
#[derive(Debug, Clone)]
pub struct RedisAddr {
    /// `host:port`.
    pub host_port: String,
    /// Database index (SELECT) when non-zero.
    pub db: u32,
}

/// Credentials for one ACL user.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// ACL user name (None = legacy `AUTH password` or no auth).
    pub user: Option<String>,
    /// Password (None = no AUTH at all).
    pub pass: Option<Secret>,
}

/// One RESP2 connection.
#[derive(Debug)]
pub struct Conn {
    /// The thread that opened it.
    home: std::thread::ThreadId,
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
}

impl Conn {
    /// Connects and authenticates.
    pub async fn connect(addr: &RedisAddr, creds: &Credentials) -> Result<Conn, BackendError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr.host_port))
            .await
            .map_err(|_| BackendError("ERR redis backend unavailable (connect timeout)".into()))?
            .map_err(|e| BackendError::io("connect", &e))?;
        stream
            .set_nodelay(true)
            .map_err(|e| BackendError::io("nodelay", &e))?;
        let mut conn = Conn {
            home: std::thread::current().id(),
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(1024),
        };
        let mut n = 0;
        if let Some(pass) = &creds.pass {
            match &creds.user {
                Some(u) => conn.push(&[b"AUTH".as_slice(), u.as_bytes(), pass.expose().as_bytes()]),
                None => conn.push(&[b"AUTH".as_slice(), pass.expose().as_bytes()]),
            }
            n += 1;
        }
        if addr.db != 0 {
            let db = addr.db.to_string();
            conn.push(&[b"SELECT".as_slice(), db.as_bytes()]);
            n += 1;
        }
        if n > 0 {
            conn.flush().await?;
            for _ in 0..n {
                let f = conn.read().await?;
                if let Value::Error(e) = f.value {
                    return Err(BackendError(format!(
                        "ERR redis backend rejected the connection setup: {}",
                        String::from_utf8_lossy(&e)
                    )));
                }
            }
        }
        Ok(conn)
    }

    /// Queues a command in the write buffer.
    pub fn push<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        resp::encode_command(args, &mut self.wbuf);
    }

    /// Writes out every queued command.
    pub async fn flush(&mut self) -> Result<(), BackendError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let res = self.stream.write_all(&self.wbuf).await;
        self.wbuf.clear();
        if self.wbuf.capacity() > 1 << 20 {
            self.wbuf = BytesMut::with_capacity(1024);
        }
        res.map_err(|e| BackendError::io("write", &e))
    }

    /// Reads one reply. Cancel-safe: partial data stays buffered.
    pub async fn read(&mut self) -> Result<Frame, BackendError> {
        loop {
            match resp::frame_len(&self.rbuf) {
                Ok(FrameLen::Complete(n)) => {
                    let raw = self.rbuf.split_to(n).freeze();
                    let value =
                        resp::parse_frame(&raw).map_err(|e| BackendError(format!("ERR {e}")))?;
                    return Ok(Frame {
                        raw: Some(raw),
                        value,
                    });
                }
                Ok(FrameLen::Incomplete(need)) => {
                    let want = need.saturating_sub(self.rbuf.len()).max(READ_CHUNK);
                    self.rbuf.reserve(want.min(64 << 20));
                    loop {
                        let n = self
                            .stream
                            .read_buf(&mut self.rbuf)
                            .await
                            .map_err(|e| BackendError::io("read", &e))?;
                        if n == 0 {
                            return Err(BackendError(
                                "ERR redis backend unavailable (connection closed)".into(),
                            ));
                        }
                        // Skip re-framing until a pending bulk string can be complete.
                        if self.rbuf.len() >= need || self.rbuf.capacity() == self.rbuf.len() {
                            break;
                        }
                    }
                }
                Err(e) => return Err(BackendError(format!("ERR {e}"))),
            }
        }
    }

    /// Sends one command and reads its reply.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame, BackendError> {
        self.push(args);
        self.flush().await?;
        self.read().await
    }
}

/// A bounded pool of authenticated connections for one ACL user.
#[derive(Debug)]
pub struct Pool {
    addr: RedisAddr,
    creds: Credentials,
    idle: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
    size: usize,
}

impl Pool {
    /// Creates an empty pool; connections are made lazily.
    pub fn new(addr: RedisAddr, creds: Credentials, size: usize) -> Arc<Pool> {
        let size = size.max(1);
        Arc::new(Pool {
            addr,
            creds,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Arc::new(Semaphore::new(size)),
            size,
        })
    }

    /// Address of the backend.
    pub fn addr(&self) -> &RedisAddr {
        &self.addr
    }

    /// Credentials used by this pool.
    pub fn creds(&self) -> &Credentials {
        &self.creds
    }

    /// Takes a connection for exclusive use by one request.
    pub async fn get(self: &Arc<Self>) -> Result<PooledConn, BackendError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| BackendError("ERR connection pool closed".into()))?;
        // A socket is watched by the runtime that opened it. On a current-thread runtime (the
        // REST service runs one per thread) only this thread's connections are taken, so no
        // reply has to cross threads; a multi-thread runtime's workers share one driver.
        let own_thread_only = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        let me = std::thread::current().id();
        let idle = self.idle.lock().ok().and_then(|mut v| {
            let at = if own_thread_only {
                v.iter().rposition(|c| c.home == me)?
            } else {
                v.len().checked_sub(1)?
            };
            Some(v.swap_remove(at))
        });
        let conn = match idle {
            Some(c) => c,
            None => Conn::connect(&self.addr, &self.creds).await?,
        };
        Ok(PooledConn {
            conn: Some(conn),
            clean: false,
            pool: Arc::clone(self),
            _permit: permit,
        })
    }

    /// Drops every idle connection (e.g. after a backend failure).
    pub fn clear(&self) {
        if let Ok(mut v) = self.idle.lock() {
            v.clear();
        }
    }
}

/// A connection borrowed from a [`Pool`]; returned on drop only if marked clean.
#[derive(Debug)]
pub struct PooledConn {
    conn: Option<Conn>,
    clean: bool,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl PooledConn {
    /// The connection. Call [`PooledConn::done`] once every reply has been read.
    pub fn conn(&mut self) -> Result<&mut Conn, BackendError> {
        self.clean = false;
        self.conn
            .as_mut()
            .ok_or_else(|| BackendError("ERR connection already released".into()))
    }

    /// Marks the connection as reusable (all replies consumed, no open state).
    pub fn done(&mut self) {
        self.clean = true;
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if !self.clean {
            return;
        }
        let Some(conn) = self.conn.take() else { return };
        if !conn.rbuf.is_empty() {
            return;
        }
        let home = conn.home;
        let evicted = match self.pool.idle.lock() {
            Ok(mut v) => keep_idle(&mut v, conn, self.pool.size, |c| c.home != home),
            Err(_) => None,
        };
        // Closed outside the lock.
        drop(evicted);
    }
}

/// Parses `redis://[user[:pass]@]host[:port][/db]`.
pub fn parse_redis_url(url: &str) -> Result<(RedisAddr, Credentials), String> {
    let rest = if let Some(r) = url.strip_prefix("redis://") {
        r
    } else if url.starts_with("rediss://") {
        return Err("rediss:// (TLS) is not supported by upstash-local; use redis://".into());
    } else {
        return Err("redis URL must start with redis://".into());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| "invalid percent-encoding in redis URL".to_string())
    };
    let creds = match userinfo {
        None => Credentials {
            user: None,
            pass: None,
        },
        Some(ui) => {
            let (u, p) = match ui.find(':') {
                Some(i) => (&ui[..i], Some(&ui[i + 1..])),
                None => (ui, None),
            };
            let user = if u.is_empty() { None } else { Some(decode(u)?) };
            let pass = match p {
                Some(p) => Some(Secret::new(decode(p)?)),
                None => None,
            };
            Credentials { user, pass }
        }
    };
    if hostport.is_empty() {
        return Err("redis URL has no host".into());
    }
    let host_port = if hostport.starts_with('[') {
        if hostport.contains("]:") {
            hostport.to_string()
        } else {
            format!("{hostport}:6379")
        }
    } else if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:6379")
    };
    let path = path.split('?').next().unwrap_or("");
    let db = if path.is_empty() {
        0
    } else {
        path.parse::<u32>()
            .map_err(|_| "invalid database number in redis URL".to_string())?
    };
    Ok((RedisAddr { host_port, db }, creds))
}

/// Builds a plain `redis://` URL.
pub fn build_redis_url(host_port: &str, user: &str, pass: &str) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!("redis://{}:{}@{host_port}", enc(user), enc(pass))
}

/// Puts `conn` back among at most `cap` idle connections. When they are full, the oldest one
/// `foreign` picks out (another thread's) makes room and is returned to be closed: a thread
/// that went quiet must not leave the busy ones opening a connection per request. With no
/// such one, `conn` itself is returned.
fn keep_idle<T>(idle: &mut Vec<T>, conn: T, cap: usize, foreign: impl Fn(&T) -> bool) -> Option<T> {
    if idle.len() < cap {
        idle.push(conn);
        return None;
    }
    match idle.iter().position(foreign) {
        Some(at) => {
            let evicted = idle.remove(at);
            idle.push(conn);
            Some(evicted)
        }
        None => Some(conn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_idle_list_gives_way_to_the_returning_thread() {
        // (thread, id) pairs; cap 3.
        let mut idle = vec![("a", 1), ("a", 2)];
        assert_eq!(keep_idle(&mut idle, ("b", 3), 3, |c| c.0 != "b"), None);
        // Full: b's next connection evicts a's oldest.
        assert_eq!(
            keep_idle(&mut idle, ("b", 4), 3, |c| c.0 != "b"),
            Some(("a", 1))
        );
        assert_eq!(idle, vec![("a", 2), ("b", 3), ("b", 4)]);
        // Full of b's own and a's: a evicts b's oldest.
        assert_eq!(
            keep_idle(&mut idle, ("a", 5), 3, |c| c.0 != "a"),
            Some(("b", 3))
        );
        // One of a's remains: it goes.
        assert_eq!(
            keep_idle(&mut idle, ("b", 6), 3, |c| c.0 != "b"),
            Some(("a", 2))
        );
        // Full of b only: b's extra connection is the one closed.
        let mut only_b = vec![("b", 1), ("b", 2)];
        assert_eq!(
            keep_idle(&mut only_b, ("b", 3), 2, |c| c.0 != "b"),
            Some(("b", 3))
        );
        assert_eq!(only_b, vec![("b", 1), ("b", 2)]);
    }

    #[test]
    fn parses_urls() {
        let (a, c) = parse_redis_url("redis://u:p%40ss@localhost:6380/2").unwrap();
        assert_eq!(a.host_port, "localhost:6380");
        assert_eq!(a.db, 2);
        assert_eq!(c.user.as_deref(), Some("u"));
        assert_eq!(c.pass.unwrap().expose(), "p@ss");
        let (a, c) = parse_redis_url("redis://127.0.0.1").unwrap();
        assert_eq!(a.host_port, "127.0.0.1:6379");
        assert!(c.pass.is_none());
        assert!(parse_redis_url("http://x").is_err());
        assert!(parse_redis_url("redis://h/x").is_err());
    }
}
