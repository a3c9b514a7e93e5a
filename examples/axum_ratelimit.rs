//! An axum service rate limited by upstash-ratelimit.
//!
//! - `/` : 10 requests per 10 s per client IP (sliding window); `X-Forwarded-For` is trusted
//!   only from 127.0.0.1 (a reverse proxy on the same host).
//! - `/api`: 5 requests per minute per API key (the `x-api-key` header; 400 without it).
//! - `/check`: a handler that calls the limiter itself and refunds on failure.
//!
//! ```sh
//! cargo run --example axum_ratelimit                  # starts upstash-local in-process
//! UPSTASH_REDIS_REST_URL=... UPSTASH_REDIS_REST_TOKEN=... cargo run --example axum_ratelimit
//! curl -i localhost:3000/            # RateLimit-Limit / -Remaining / -Reset headers
//! curl -i -H 'x-api-key: k1' localhost:3000/api
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::routing::get;
use axum::Router;
use upstash_ratelimit::layer::{ForwardedFor, Header, RatelimitLayer};
use upstash_ratelimit::{Algorithm, LimitOptions, Ratelimit};
use upstash_redis::Redis;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Use the configured database, or a local stack when none is configured.
    let (redis, _stack) = match Redis::from_env() {
        Ok(redis) => (redis, None),
        Err(_) => {
            let stack = upstash_local::LocalStack::start(upstash_local::Config::default()).await?;
            println!(
                "no UPSTASH_REDIS_REST_URL: using upstash-local at {}",
                stack.redis_rest_url()
            );
            (
                Redis::new(stack.redis_rest_url(), stack.redis_token())?,
                Some(stack),
            )
        }
    };

    let per_ip = Ratelimit::builder(redis.clone(), Algorithm::sliding_window(10, "10 s")?)
        .prefix("example:ip")
        .build()?;
    let per_key = Ratelimit::builder(redis.clone(), Algorithm::fixed_window(5, "1m")?)
        .prefix("example:key")
        .build()?;
    let manual = Ratelimit::builder(redis, Algorithm::token_bucket(1, "1 s", 3)?)
        .prefix("example:manual")
        .build()?;

    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .layer(RatelimitLayer::new(
            per_ip,
            ForwardedFor::trusting([IpAddr::V4(Ipv4Addr::LOCALHOST)]),
        ))
        .merge(
            Router::new()
                .route("/api", get(|| async { "api\n" }))
                .route_layer(RatelimitLayer::new(
                    per_key,
                    Header(HeaderName::from_static("x-api-key")),
                )),
        )
        .merge(Router::new().route("/check", get(check)).with_state(manual));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

/// Calls the limiter in the handler: take a token, do the work, refund it if the work failed.
async fn check(State(limiter): State<Ratelimit>) -> (StatusCode, String) {
    let res = match limiter.limit("global").await {
        Ok(res) => res,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("limiter: {e}\n")),
    };
    if !res.success {
        return (StatusCode::TOO_MANY_REQUESTS, "slow down\n".into());
    }
    let work_failed = fastrand_bool();
    if work_failed {
        // Give the token back.
        let _ = limiter.limit_with("global", LimitOptions::rate(-1)).await;
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "work failed; token refunded\n".into(),
        );
    }
    (StatusCode::OK, format!("ok, {} left\n", res.remaining))
}

fn fastrand_bool() -> bool {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 4 == 0)
        .unwrap_or(false)
}
