//! `upstash-local`: runs the local Upstash services and prints the env block to export.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use upstash_local::{Config, LocalStack};

const USAGE: &str = "usage: upstash-local [--config FILE] [--redis-url URL] [--redis-port PORT] [--qstash-port PORT]

Starts the local Upstash services on 127.0.0.1 and prints `export NAME=value` lines on stdout
once every service accepts connections, e.g. eval \"$(upstash-local)\" in another shell setup.
Logs go to stderr (RUST_LOG controls the level). Ctrl-C / SIGTERM stop everything.

  --config FILE       TOML config (see the README); default: dev tokens, Redis REST on 8079,
                      QStash on 8080, Kafka REST on 8081, Vector on 8082
  --redis-url URL     use an existing redis-server instead of spawning one
  --redis-port PORT   REST port of the Redis service (0 = ephemeral)
  --qstash-port PORT  port of the QStash service (0 = ephemeral)";

struct Args {
    config: Option<String>,
    redis_url: Option<String>,
    redis_port: Option<u16>,
    qstash_port: Option<u16>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        config: None,
        redis_url: None,
        redis_port: None,
        qstash_port: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--config" | "-c" => args.config = Some(value("--config")?),
            "--redis-url" => args.redis_url = Some(value("--redis-url")?),
            "--redis-port" => {
                let v = value("--redis-port")?;
                args.redis_port = Some(
                    v.parse()
                        .map_err(|_| format!("invalid --redis-port {v:?}"))?,
                );
            }
            "--qstash-port" => {
                let v = value("--qstash-port")?;
                args.qstash_port = Some(
                    v.parse()
                        .map_err(|_| format!("invalid --qstash-port {v:?}"))?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if e.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("upstash-local: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut config = match &args.config {
        Some(path) => match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("upstash-local: {e}");
                return ExitCode::from(2);
            }
        },
        None => {
            let mut c = Config::default();
            c.redis.port = upstash_local::DEFAULT_REDIS_PORT;
            c.vector.port = upstash_local::DEFAULT_VECTOR_PORT;
            c.qstash.port = upstash_local::DEFAULT_QSTASH_PORT;
            c.kafka.port = upstash_local::DEFAULT_KAFKA_PORT;
            c
        }
    };
    if let Some(url) = args.redis_url {
        config.redis.redis_url = Some(url);
    }
    if let Some(port) = args.redis_port {
        config.redis.port = port;
    }
    if let Some(port) = args.qstash_port {
        config.qstash.port = port;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("upstash-local: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let stack = match LocalStack::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("upstash-local: {e}");
                return ExitCode::FAILURE;
            }
        };
        print!("{}", stack.env_block());
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        wait_for_signal().await;
        tracing::info!("shutting down");
        stack.shutdown().await;
        ExitCode::SUCCESS
    })
}
