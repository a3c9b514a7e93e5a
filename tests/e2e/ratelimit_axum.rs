//! The tower layer in a real axum server, limiting through upstash-local.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::http::HeaderName;
use axum::routing::get;
use axum::Router;
use upstash_local::testing;
use upstash_ratelimit::layer::{Fallback, ForwardedFor, Header, RatelimitLayer};
use upstash_ratelimit::{Algorithm, Ratelimit};
use upstash_redis::Redis;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

fn redis() -> Redis {
    let stack = testing::shared();
    Redis::new(stack.redis_rest_url(), stack.redis_token()).unwrap()
}

#[tokio::test]
async fn layer_limits_with_headers_and_per_route_rules() {
    let per_ip = Ratelimit::builder(redis(), Algorithm::fixed_window(2, "1 h").unwrap())
        .prefix(testing::prefix("rl-axum-ip"))
        .build()
        .unwrap();
    let per_key = Ratelimit::builder(redis(), Algorithm::fixed_window(1, "1 h").unwrap())
        .prefix(testing::prefix("rl-axum-key"))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .layer(RatelimitLayer::new(
            per_ip,
            ForwardedFor::trusting([IpAddr::V4(Ipv4Addr::LOCALHOST)]),
        ))
        .merge(
            Router::new()
                .route("/api", get(|| async { "api" }))
                .route_layer(RatelimitLayer::new(
                    per_key,
                    Header(HeaderName::from_static("x-api-key")),
                )),
        );
    let base = serve(app).await;
    let http = reqwest::Client::new();

    let get_as = |ip: &'static str| {
        http.get(format!("{base}/"))
            .header("x-forwarded-for", ip)
            .send()
    };
    for remaining in ["1", "0"] {
        let r = get_as("10.0.0.1").await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["ratelimit-limit"], "2");
        assert_eq!(r.headers()["ratelimit-remaining"], remaining);
        let reset: i64 = r.headers()["ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0..=3600).contains(&reset));
    }
    let r = get_as("10.0.0.1").await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry));
    assert_eq!(r.headers()["ratelimit-remaining"], "0");
    // Another client behind the same trusted proxy has its own limit.
    assert_eq!(get_as("10.0.0.2").await.unwrap().status(), 200);

    // Per-route rule keyed by header; no key is a 400.
    let api = |key: Option<&'static str>| {
        let mut req = http.get(format!("{base}/api"));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        req.send()
    };
    assert_eq!(api(None).await.unwrap().status(), 400);
    assert_eq!(api(Some("k1")).await.unwrap().status(), 200);
    assert_eq!(api(Some("k1")).await.unwrap().status(), 429);
    assert_eq!(api(Some("k2")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn untrusted_peers_cannot_spoof_forwarded_for() {
    let rl = Ratelimit::builder(redis(), Algorithm::fixed_window(1, "1 h").unwrap())
        .prefix(testing::prefix("rl-axum-spoof"))
        .build()
        .unwrap();
    let app = Router::new().route("/", get(|| async { "x" })).layer(
        RatelimitLayer::new(
            rl,
            ForwardedFor::trusting([IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9))]),
        )
        .on_missing_key(Fallback::Allow),
    );
    let base = serve(app).await;
    let http = reqwest::Client::new();
    let send = |ip: &'static str| {
        http.get(format!("{base}/"))
            .header("x-forwarded-for", ip)
            .send()
    };
    assert_eq!(send("1.1.1.1").await.unwrap().status(), 200);
    // The peer (127.0.0.1) is not a trusted proxy: the header is ignored, same key.
    assert_eq!(send("2.2.2.2").await.unwrap().status(), 429);
}
