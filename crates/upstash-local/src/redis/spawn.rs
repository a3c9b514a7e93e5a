//! Spawning a private redis-server.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, ChildStdin, Command};

use super::conn::{Conn, Credentials, RedisAddr};
use super::resp::Value;
use crate::config::RedisConfig;
use crate::Error;

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Shell wrapper: runs redis-server in the background and kills it as soon as our end of the
/// stdin pipe closes (explicit shutdown, drop, or our process dying in any way).
const WRAPPER: &str = r#"exec 3<&0
"$0" "$@" </dev/null 3<&- &
pid=$!
( read _ignored <&3; kill $pid 2>/dev/null ) &
exec 3<&-
trap 'kill $pid 2>/dev/null' TERM INT
wait $pid"#;

/// A running redis-server owned by this process.
#[derive(Debug)]
pub(crate) struct RedisProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// TCP port redis-server listens on (127.0.0.1).
    pub port: u16,
}

fn find_binary(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = Path::new(name);
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub(crate) fn free_port() -> Result<u16, Error> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl RedisProcess {
    /// Starts redis-server on a free loopback port and waits until it answers PING.
    pub(crate) async fn start(cfg: &RedisConfig) -> Result<RedisProcess, Error> {
        Self::start_with(cfg, &|| Ok(Vec::new())).await
    }

    /// [`RedisProcess::start`] with further `redis-server` arguments (test clusters), made
    /// anew for each attempt (so a port they name is picked again on a retry).
    pub(crate) async fn start_with(
        cfg: &RedisConfig,
        extra: &dyn Fn() -> Result<Vec<String>, Error>,
    ) -> Result<RedisProcess, Error> {
        let bin = find_binary(&cfg.redis_server).ok_or_else(|| {
            Error::RedisServerMissing(format!(
                "redis-server binary `{}` not found in PATH; install it (e.g. `apt-get install redis-server`) or set redis_url / --redis-url to use an existing server",
                cfg.redis_server
            ))
        })?;
        let mut last_err = None;
        for _ in 0..3 {
            match Self::try_start(&bin, cfg, &extra()?).await {
                Ok(p) => return Ok(p),
                Err(e) => {
                    tracing::warn!(error = %e, "redis-server did not start, retrying");
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Backend("redis-server did not start".into())))
    }

    async fn try_start(
        bin: &Path,
        cfg: &RedisConfig,
        extra: &[String],
    ) -> Result<RedisProcess, Error> {
        let port = free_port()?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(WRAPPER).arg(bin);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
        cmd.args(extra);
        cmd.args(["--save", "", "--daemonize", "no", "--loglevel", "warning"]);
        match &cfg.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                let dir = std::fs::canonicalize(dir)?;
                cmd.arg("--dir").arg(dir);
                cmd.args(["--appendonly", "yes"]);
            }
            None => {
                cmd.args(["--appendonly", "no"]);
            }
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        for out in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(target: "redis_server", "{line}");
                }
            });
        }
        let mut proc = RedisProcess { child, stdin, port };
        let addr = RedisAddr {
            host_port: format!("127.0.0.1:{port}"),
            db: 0,
        };
        let creds = Credentials {
            user: None,
            pass: None,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = proc.child.try_wait() {
                return Err(Error::Backend(format!(
                    "redis-server exited during startup ({status}); port {port} may be in use"
                )));
            }
            if let Ok(mut c) = Conn::connect(&addr, &creds).await {
                if let Ok(f) = c.call(&[b"PING".as_slice()]).await {
                    if matches!(f.value, Value::Simple(_)) {
                        return Ok(proc);
                    }
                }
            }
            if Instant::now() > deadline {
                proc.stop().await;
                return Err(Error::Backend(format!(
                    "redis-server did not answer PING on port {port} within {START_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops redis-server and waits for it (bounded).
    pub(crate) async fn stop(&mut self) {
        self.stdin.take();
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}
