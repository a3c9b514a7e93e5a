//! The Redis service: an Upstash-REST-compatible HTTP server in front of a real redis-server.

pub(crate) mod commands;
pub(crate) mod conn;
pub(crate) mod json;
pub(crate) mod resp;
pub(crate) mod scripts;
pub(crate) mod server;
pub(crate) mod spawn;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Config, UserConfig};
use crate::secret::Secret;
use crate::serve::HttpServer;
use crate::stats::Stats;
use crate::Error;
use conn::{Conn, Credentials, Pool, RedisAddr};
use resp::Value;
use server::{AppState, TokenEntry};
use spawn::RedisProcess;

/// Commands granted to the read-only token's ACL user `default_ro`.
const READONLY_RULES: &[&str] = &[
    "+@read",
    "-@dangerous",
    "-scan",
    "-keys",
    "+ping",
    "+echo",
    "+eval_ro",
    "+evalsha_ro",
    "+fcall_ro",
];

/// Threads serving the REST endpoint: one per core, at most four (one redis-server behind
/// them is the limit beyond that).
fn http_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// A running Redis REST service.
#[derive(Debug)]
pub(crate) struct RedisService {
    pub rest_addr: SocketAddr,
    pub token: Secret,
    pub readonly_token: Secret,
    pub users: Vec<(String, Secret)>,
    pub tcp_url: Secret,
    pub stats: Stats,
    http: HttpServer,
    process: Option<RedisProcess>,
}

async fn acl_setuser(admin: &mut Conn, args: Vec<Bytes>) -> Result<(), Error> {
    let f = admin
        .call(&args)
        .await
        .map_err(|e| Error::Backend(e.to_string()))?;
    if let Value::Error(e) = f.value {
        let user = args
            .get(2)
            .map(|u| String::from_utf8_lossy(u).into_owned())
            .unwrap_or_default();
        return Err(Error::Backend(format!(
            "ACL SETUSER {user} failed: {}",
            String::from_utf8_lossy(&e)
        )));
    }
    Ok(())
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn user_rules(u: &UserConfig, pass: &Secret) -> Vec<Bytes> {
    let mut args = vec![b("ACL"), b("SETUSER"), b(&u.name), b("reset"), b("on")];
    args.push(b(&format!(">{}", pass.expose())));
    for k in &u.keys {
        if k.starts_with('~') || k.starts_with('%') || k == "allkeys" {
            args.push(b(k));
        } else {
            args.push(b(&format!("~{k}")));
        }
    }
    for c in &u.channels {
        if c.starts_with('&') || c == "allchannels" {
            args.push(b(c));
        } else {
            args.push(b(&format!("&{c}")));
        }
    }
    for c in &u.commands {
        args.push(b(c));
    }
    args
}

impl RedisService {
    pub(crate) async fn start(config: &Config) -> Result<RedisService, Error> {
        config.validate()?;
        let rc = &config.redis;
        let (process, addr, admin_creds, external_url) = match &rc.redis_url {
            Some(url) => {
                let (addr, creds) = conn::parse_redis_url(url).map_err(Error::Config)?;
                (None, addr, creds, Some(url.clone()))
            }
            None => {
                let p = RedisProcess::start(rc).await?;
                let addr = RedisAddr {
                    host_port: format!("127.0.0.1:{}", p.port),
                    db: 0,
                };
                let creds = Credentials {
                    user: None,
                    pass: None,
                };
                (Some(p), addr, creds, None)
            }
        };
        let mut admin = Conn::connect(&addr, &admin_creds)
            .await
            .map_err(|e| Error::Backend(e.to_string()))?;

        // Read-only user, like Upstash's `default_ro`.
        let ro_pass = Secret::random(32);
        let mut args = vec![
            b("ACL"),
            b("SETUSER"),
            b("default_ro"),
            b("reset"),
            b("on"),
            b(&format!(">{}", ro_pass.expose())),
            b("~*"),
            b("&*"),
        ];
        args.extend(READONLY_RULES.iter().map(|r| b(r)));
        acl_setuser(&mut admin, args).await?;

        let mut user_creds = Vec::new();
        for u in &rc.users {
            let pass = Secret::random(32);
            acl_setuser(&mut admin, user_rules(u, &pass)).await?;
            user_creds.push((u, pass));
        }

        // Full-rights credentials: the spawned server's `default` user gets a random password.
        let (std_creds, tcp_url) = match external_url {
            Some(url) => (admin_creds.clone(), Secret::new(url)),
            None => {
                let pass = Secret::random(32);
                acl_setuser(
                    &mut admin,
                    vec![
                        b("ACL"),
                        b("SETUSER"),
                        b("default"),
                        b("on"),
                        b("resetpass"),
                        b(&format!(">{}", pass.expose())),
                    ],
                )
                .await?;
                let url = conn::build_redis_url(&addr.host_port, "default", pass.expose());
                (
                    Credentials {
                        user: Some("default".into()),
                        pass: Some(pass),
                    },
                    Secret::new(url),
                )
            }
        };
        drop(admin);

        let size = rc.pool_size;
        let mut tokens = vec![
            TokenEntry {
                token: rc.token.clone(),
                pool: Pool::new(addr.clone(), std_creds, size),
            },
            TokenEntry {
                token: rc.readonly_token.clone(),
                pool: Pool::new(
                    addr.clone(),
                    Credentials {
                        user: Some("default_ro".into()),
                        pass: Some(ro_pass),
                    },
                    size,
                ),
            },
        ];
        let mut users = Vec::new();
        for (u, pass) in user_creds {
            tokens.push(TokenEntry {
                token: u.token.clone(),
                pool: Pool::new(
                    addr.clone(),
                    Credentials {
                        user: Some(u.name.clone()),
                        pass: Some(pass),
                    },
                    size,
                ),
            });
            users.push((u.name.clone(), u.token.clone()));
        }
        let stats = Stats::default();
        let state = Arc::new(AppState {
            tokens,
            scripts: scripts::ScriptMap::default(),
            stats: stats.clone(),
            sync: AtomicU64::new(0),
            max_body: rc.max_request_bytes,
            max_pipeline: rc.max_pipeline_commands,
        });
        let (http, rest_addr) = HttpServer::spawn_per_thread(
            &config.server.host,
            rc.port,
            server::router(state),
            "redis",
            http_threads(),
        )
        .await?;
        tracing::info!(url = %format!("http://{rest_addr}"), "redis REST service listening");
        Ok(RedisService {
            rest_addr,
            token: rc.token.clone(),
            readonly_token: rc.readonly_token.clone(),
            users,
            tcp_url,
            stats,
            http,
            process,
        })
    }

    /// Takes what is needed to stop the service (so it can run on the owning runtime).
    pub(crate) fn stopper(&mut self) -> Stopper {
        Stopper {
            http: self.http.take(),
            process: self.process.take(),
        }
    }
}

/// Stops a [`RedisService`]: HTTP server first (its open subscriptions end when redis-server
/// goes), then redis-server.
#[derive(Debug)]
pub(crate) struct Stopper {
    http: HttpServer,
    process: Option<RedisProcess>,
}

impl Stopper {
    pub(crate) async fn stop(mut self) {
        self.http.signal();
        if let Some(mut p) = self.process.take() {
            p.stop().await;
        }
        self.http.stop().await;
    }
}
