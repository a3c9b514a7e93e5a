//! The HTTP side: routing, auth, request decoding and reply rendering.
// Early-return helpers carry a full `Response` as their error; it is not a hot path.
#![allow(clippy::result_large_err)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::{Bytes, BytesMut};

use super::commands::{self, Plan, Post};
use super::conn::{BackendError, Conn, Pool};
use super::json::{self, Command, JsonOpts};
use super::resp::{Frame, Value};
use super::scripts::ScriptMap;
use crate::secret::{ct_eq, Secret};
use crate::serve::BodyError;
use crate::stats::{Endpoint, Stats};

const SSE_KEEPALIVE: Duration = Duration::from_secs(15);

/// One accepted REST token and the pool of its ACL user.
#[derive(Debug)]
pub(crate) struct TokenEntry {
    pub token: Secret,
    pub pool: Arc<Pool>,
}

/// Shared state of the Redis REST service.
#[derive(Debug)]
pub(crate) struct AppState {
    pub tokens: Vec<TokenEntry>,
    pub scripts: ScriptMap,
    pub stats: Stats,
    pub sync: AtomicU64,
    pub max_body: usize,
    pub max_pipeline: usize,
}

impl AppState {
    fn find(&self, token: &[u8]) -> Option<&Arc<Pool>> {
        let mut found = None;
        for e in &self.tokens {
            if ct_eq(e.token.expose().as_bytes(), token) {
                found = Some(&e.pool);
            }
        }
        found
    }
}

/// Builds the axum router.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let mut resp = route(&st, req).await;
    let n = st.sync.fetch_add(1, Ordering::Relaxed) + 1;
    resp.headers_mut()
        .insert("upstash-sync-token", HeaderValue::from(n));
    resp
}

fn json_resp(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn err_resp(status: StatusCode, msg: &str) -> Response {
    json_resp(status, json::error_body(msg))
}

fn bad(msg: &str) -> Response {
    err_resp(StatusCode::BAD_REQUEST, msg)
}

fn backend_err(pool: &Pool, e: &BackendError) -> Response {
    // Idle connections are probably dead too: reconnect lazily on the next request.
    pool.clear();
    tracing::warn!(error = %e, "redis backend failure");
    err_resp(StatusCode::INTERNAL_SERVER_ERROR, &e.0)
}

fn resp2_resp(status: StatusCode, body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r
}

/// Output format requested by the client.
#[derive(Debug, Clone, Copy)]
struct Format {
    resp2: bool,
    json: JsonOpts,
}

fn parse_format(headers: &HeaderMap) -> Result<Format, Response> {
    let base64 = headers
        .get("upstash-encoding")
        .map(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"base64"))
        .unwrap_or(false);
    let resp2 = match headers.get("upstash-response-format") {
        None => false,
        Some(v) => {
            let v = v.as_bytes().trim_ascii();
            if v.eq_ignore_ascii_case(b"json") {
                false
            } else if v.eq_ignore_ascii_case(b"resp2") {
                true
            } else {
                return Err(bad(
                    "ERR invalid Upstash-Response-Format header: expected json or resp2",
                ));
            }
        }
    };
    if resp2 && base64 {
        return Err(bad(
            "ERR Upstash-Response-Format: resp2 cannot be combined with Upstash-Encoding: base64",
        ));
    }
    Ok(Format {
        resp2,
        json: JsonOpts { base64 },
    })
}

fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (&str, Option<&str>)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.find('=') {
            Some(i) => (&p[..i], Some(&p[i + 1..])),
            None => (p, None),
        })
}

fn decode(s: &str) -> Bytes {
    let v: Vec<u8> = percent_encoding::percent_decode_str(s).collect();
    Bytes::from(v)
}

fn request_token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<Bytes> {
    if let Some(v) = headers.get(AUTHORIZATION) {
        let v = v.as_bytes().trim_ascii();
        if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") {
            return Some(Bytes::copy_from_slice(v[7..].trim_ascii()));
        }
    }
    query_pairs(query)
        .find(|(k, _)| *k == "_token")
        .map(|(_, v)| decode(v.unwrap_or("")))
}

/// The request body, or Upstash's error for one that is too large or broken.
async fn read_body(body: Body, max: usize) -> Result<Bytes, Response> {
    crate::serve::read_body(body, max)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => bad("ERR max request size exceeded"),
            BodyError::Broken => bad("ERR failed to read the request body"),
        })
}

async fn route(st: &Arc<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let query = parts.uri.query();
    let local = path.starts_with("/_local/");
    if !local {
        st.stats.request();
    }
    let method = &parts.method;
    let (is_get, is_post) = match *method {
        Method::GET | Method::HEAD => (true, false),
        Method::POST | Method::PUT => (false, true),
        _ => return err_resp(StatusCode::METHOD_NOT_ALLOWED, "ERR method not allowed"),
    };
    let pool = match request_token(&parts.headers, query).and_then(|t| st.find(&t).cloned()) {
        Some(p) => p,
        None => {
            return err_resp(
                StatusCode::UNAUTHORIZED,
                "WRONGPASS invalid or missing auth token",
            )
        }
    };
    let fmt = match parse_format(&parts.headers) {
        Ok(f) => f,
        Err(r) => return r,
    };
    match path {
        "/_local/stats" => {
            let body = serde_json::to_vec(&st.stats.snapshot()).unwrap_or_default();
            json_resp(StatusCode::OK, body)
        }
        "/_local/stats/reset" => {
            if !is_post {
                return err_resp(StatusCode::METHOD_NOT_ALLOWED, "ERR method not allowed");
            }
            st.stats.reset();
            json_resp(StatusCode::OK, b"{\"result\":\"OK\"}".to_vec())
        }
        "/pipeline" | "/pipeline/" | "/multi-exec" | "/multi-exec/" => {
            let multi = path.starts_with("/multi");
            st.stats.endpoint(if multi {
                Endpoint::MultiExec
            } else {
                Endpoint::Pipeline
            });
            if !is_post {
                return err_resp(StatusCode::METHOD_NOT_ALLOWED, "ERR method not allowed");
            }
            if multi && fmt.resp2 {
                return bad("ERR Upstash-Response-Format: resp2 is not supported for /multi-exec");
            }
            let body = match read_body(body, st.max_body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let cmds = match json::parse_commands(&body, st.max_pipeline) {
                Ok(c) => c,
                Err(e) => return bad(&e),
            };
            if cmds.is_empty() {
                return bad(if multi {
                    "ERR transaction is empty"
                } else {
                    "ERR pipeline is empty"
                });
            }
            if multi {
                run_multi(st, &pool, cmds, fmt).await
            } else {
                run_pipeline(st, &pool, cmds, fmt).await
            }
        }
        "/" | "" => {
            st.stats.endpoint(Endpoint::Single);
            if is_get {
                return bad("ERR no command given: POST a JSON array or use /<command>/<args>");
            }
            let body = match read_body(body, st.max_body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            match json::parse_command(&body) {
                Ok(cmd) => run_single(st, &pool, cmd, fmt).await,
                Err(e) => bad(&e),
            }
        }
        "/monitor" | "/monitor/" => {
            st.stats.endpoint(Endpoint::Sse);
            run_sse(&pool, SseKind::Monitor, Vec::new()).await
        }
        _ => {
            let (kind, rest) = if let Some(r) = path.strip_prefix("/subscribe/") {
                (Some(SseKind::Subscribe), r)
            } else if let Some(r) = path.strip_prefix("/psubscribe/") {
                (Some(SseKind::PSubscribe), r)
            } else {
                (None, path.strip_prefix('/').unwrap_or(path))
            };
            let mut args: Command = rest.split('/').map(decode).collect();
            if args.len() > 1 && args.last().is_some_and(|a| a.is_empty()) {
                args.pop();
            }
            if let Some(kind) = kind {
                st.stats.endpoint(Endpoint::Sse);
                args.retain(|a| !a.is_empty());
                if args.is_empty() {
                    return bad("ERR no channel given");
                }
                return run_sse(&pool, kind, args).await;
            }
            st.stats.endpoint(Endpoint::Single);
            if is_post {
                let body = match read_body(body, st.max_body).await {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                if !body.is_empty() {
                    args.push(body);
                }
            }
            for (k, v) in query_pairs(query) {
                if k == "_token" {
                    continue;
                }
                args.push(decode(k));
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    args.push(decode(v));
                }
            }
            run_single(st, &pool, args, fmt).await
        }
    }
}

fn finish(frame: Frame, post: Post) -> Frame {
    if post == Post::None {
        return frame;
    }
    let (value, changed) = commands::post(post, frame.value);
    Frame {
        raw: if changed { None } else { frame.raw },
        value,
    }
}

/// `SCAN ... WITHTYPE`: turns `[cursor, [k1, k2]]` into `[cursor, [k1, t1, k2, t2]]`.
async fn fill_types(conn: &mut Conn, frame: &mut Frame) -> Result<(), BackendError> {
    let Value::Array(parts) = &mut frame.value else {
        return Ok(());
    };
    let Some(Value::Array(keys)) = parts.get_mut(1) else {
        return Ok(());
    };
    for k in keys.iter() {
        if let Value::Bulk(k) = k {
            conn.push(&[b"TYPE".as_slice(), k]);
        }
    }
    conn.flush().await?;
    let mut out = Vec::with_capacity(keys.len() * 2);
    for k in keys.drain(..) {
        let is_key = matches!(k, Value::Bulk(_));
        out.push(k);
        if is_key {
            out.push(conn.read().await?.value);
        }
    }
    *keys = out;
    frame.raw = None;
    Ok(())
}

async fn exec_one(pool: &Arc<Pool>, cmd: &Command, post: Post) -> Result<Frame, BackendError> {
    let mut pc = pool.get().await?;
    let conn = pc.conn()?;
    let mut f = conn.call(cmd).await?;
    if post == Post::ScanWithType {
        fill_types(conn, &mut f).await?;
    }
    pc.done();
    Ok(f)
}

fn render_single(frame: &Frame, fmt: Format) -> Response {
    let status = if frame.value.is_error() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    if fmt.resp2 {
        let body = match &frame.raw {
            Some(raw) => raw.clone(),
            None => {
                let mut b = BytesMut::new();
                frame.write_raw(&mut b);
                b.freeze()
            }
        };
        return resp2_resp(status, body);
    }
    let mut out = Vec::with_capacity(frame.raw.as_ref().map_or(32, |r| r.len() + 16));
    json::write_item(&mut out, &frame.value, fmt.json);
    json_resp(status, out)
}

async fn run_single(st: &AppState, pool: &Arc<Pool>, cmd: Command, fmt: Format) -> Response {
    let frame = match commands::prepare(cmd, &st.scripts) {
        Plan::Reject(msg) => return bad(&msg),
        Plan::Local(v) => {
            st.stats.commands(1);
            Frame::local(v)
        }
        Plan::Remote(cmd, post) => {
            st.stats.commands(1);
            match exec_one(pool, &cmd, post).await {
                Ok(f) => finish(f, post),
                Err(e) => return backend_err(pool, &e),
            }
        }
    };
    render_single(&frame, fmt)
}

async fn run_pipeline(
    st: &AppState,
    pool: &Arc<Pool>,
    cmds: Vec<Command>,
    fmt: Format,
) -> Response {
    let plans: Vec<Plan> = cmds
        .into_iter()
        .map(|c| commands::prepare(c, &st.scripts))
        .collect();
    let remote = plans
        .iter()
        .filter(|p| matches!(p, Plan::Remote(..)))
        .count();
    st.stats.commands(
        plans
            .iter()
            .filter(|p| !matches!(p, Plan::Reject(_)))
            .count(),
    );
    let mut replies: Vec<Frame> = Vec::with_capacity(remote);
    if remote > 0 {
        let res: Result<(), BackendError> = async {
            let mut pc = pool.get().await?;
            let conn = pc.conn()?;
            for p in &plans {
                if let Plan::Remote(cmd, _) = p {
                    conn.push(cmd);
                }
            }
            conn.flush().await?;
            for _ in 0..remote {
                replies.push(conn.read().await?);
            }
            let posts = plans.iter().filter_map(|p| match p {
                Plan::Remote(_, post) => Some(*post),
                _ => None,
            });
            for (f, post) in replies.iter_mut().zip(posts) {
                if post == Post::ScanWithType {
                    fill_types(conn, f).await?;
                }
            }
            pc.done();
            Ok(())
        }
        .await;
        if let Err(e) = res {
            return backend_err(pool, &e);
        }
    }
    let mut replies = replies.into_iter();
    let mut frames = plans.into_iter().map(|p| match p {
        Plan::Local(v) => Frame::local(v),
        Plan::Reject(msg) => Frame::local(Value::error(msg)),
        Plan::Remote(_, post) => match replies.next() {
            Some(f) => finish(f, post),
            None => Frame::local(Value::error("ERR missing reply")),
        },
    });
    if fmt.resp2 {
        let mut out = BytesMut::new();
        for f in frames {
            f.write_raw(&mut out);
        }
        return resp2_resp(StatusCode::OK, out.freeze());
    }
    let mut out = Vec::with_capacity(64);
    out.push(b'[');
    if let Some(f) = frames.next() {
        json::write_item(&mut out, &f.value, fmt.json);
    }
    for f in frames {
        out.push(b',');
        json::write_item(&mut out, &f.value, fmt.json);
    }
    out.push(b']');
    json_resp(StatusCode::OK, out)
}

async fn run_multi(st: &AppState, pool: &Arc<Pool>, cmds: Vec<Command>, fmt: Format) -> Response {
    let plans: Vec<Plan> = cmds
        .into_iter()
        .map(|c| commands::prepare(c, &st.scripts))
        .collect();
    if let Some(Plan::Reject(msg)) = plans.iter().find(|p| matches!(p, Plan::Reject(_))) {
        return bad(&format!(
            "EXECABORT Transaction discarded because of: {msg}"
        ));
    }
    st.stats.commands(plans.len());
    let remote = plans
        .iter()
        .filter(|p| matches!(p, Plan::Remote(..)))
        .count();
    let mut results: Vec<Value> = Vec::new();
    if remote > 0 {
        // The pooled connection is held exclusively for the whole request, so concurrent
        // transactions never interleave on it.
        let res: Result<Result<Vec<Value>, String>, BackendError> = async {
            let mut pc = pool.get().await?;
            let conn = pc.conn()?;
            conn.push(&[b"MULTI".as_slice()]);
            for p in &plans {
                if let Plan::Remote(cmd, _) = p {
                    conn.push(cmd);
                }
            }
            conn.push(&[b"EXEC".as_slice()]);
            conn.flush().await?;
            let mut first_err: Option<String> = None;
            for _ in 0..remote + 1 {
                let f = conn.read().await?;
                if let Value::Error(e) = f.value {
                    if first_err.is_none() {
                        first_err = Some(String::from_utf8_lossy(&e).into_owned());
                    }
                }
            }
            let mut exec = conn.read().await?;
            if let Value::Array(items) = &mut exec.value {
                let posts = plans.iter().filter_map(|p| match p {
                    Plan::Remote(_, post) => Some(*post),
                    _ => None,
                });
                for (v, post) in items.iter_mut().zip(posts) {
                    if post == Post::ScanWithType {
                        let mut f = Frame::local(std::mem::replace(v, Value::Nil));
                        fill_types(conn, &mut f).await?;
                        *v = f.value;
                    }
                }
            }
            pc.done();
            if let Some(e) = first_err {
                return Ok(Err(format!(
                    "EXECABORT Transaction discarded because of: {e}"
                )));
            }
            Ok(match exec.value {
                Value::Array(items) => Ok(items),
                Value::Error(e) => Err(String::from_utf8_lossy(&e).into_owned()),
                _ => Err("EXECABORT Transaction discarded".to_string()),
            })
        }
        .await;
        match res {
            Ok(Ok(items)) => results = items,
            Ok(Err(msg)) => return bad(&msg),
            Err(e) => return backend_err(pool, &e),
        }
    }
    let mut results = results.into_iter();
    let mut out = Vec::with_capacity(64);
    out.push(b'[');
    for (i, p) in plans.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let v = match p {
            Plan::Local(v) => v,
            Plan::Reject(m) => Value::error(m),
            Plan::Remote(_, post) => {
                let v = results
                    .next()
                    .unwrap_or_else(|| Value::error("ERR missing reply"));
                commands::post(post, v).0
            }
        };
        json::write_item(&mut out, &v, fmt.json);
    }
    out.push(b']');
    json_resp(StatusCode::OK, out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SseKind {
    Subscribe,
    PSubscribe,
    Monitor,
}

fn push_text(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Simple(b) | Value::Bulk(b) | Value::Error(b) => {
            out.extend_from_slice(String::from_utf8_lossy(b).as_bytes());
        }
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Nil => {}
        Value::Array(items) => {
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_text(out, it);
            }
        }
    }
}

/// Formats one SSE event: the text, split into one `data:` line per payload line.
fn sse_event(v: &Value, first_monitor: bool) -> Bytes {
    let mut text = Vec::with_capacity(64);
    if first_monitor {
        text.extend_from_slice(b"\"OK\"");
    } else {
        push_text(&mut text, v);
    }
    let mut out = Vec::with_capacity(text.len() + 16);
    let mut rest: &[u8] = &text;
    loop {
        let cut = rest.iter().position(|&c| c == b'\n' || c == b'\r');
        out.extend_from_slice(b"data: ");
        match cut {
            Some(i) => {
                out.extend_from_slice(&rest[..i]);
                out.push(b'\n');
                let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = &rest[i + skip..];
            }
            None => {
                out.extend_from_slice(rest);
                out.push(b'\n');
                break;
            }
        }
    }
    out.push(b'\n');
    Bytes::from(out)
}

struct SseState {
    conn: Conn,
    pending: Option<Bytes>,
}

async fn run_sse(pool: &Arc<Pool>, kind: SseKind, channels: Vec<Bytes>) -> Response {
    let mut conn = match Conn::connect(pool.addr(), pool.creds()).await {
        Ok(c) => c,
        Err(e) => return backend_err(pool, &e),
    };
    let mut args: Vec<Bytes> = Vec::with_capacity(channels.len() + 1);
    args.push(Bytes::from_static(match kind {
        SseKind::Subscribe => b"SUBSCRIBE",
        SseKind::PSubscribe => b"PSUBSCRIBE",
        SseKind::Monitor => b"MONITOR",
    }));
    args.extend(channels);
    let first = match conn.call(&args).await {
        Ok(f) => f,
        Err(e) => return backend_err(pool, &e),
    };
    if let Value::Error(e) = &first.value {
        return bad(&String::from_utf8_lossy(e));
    }
    let state = SseState {
        conn,
        pending: Some(sse_event(&first.value, kind == SseKind::Monitor)),
    };
    // The stream owns the dedicated connection: when the HTTP client goes away the body is
    // dropped and so is the Redis connection.
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(p) = s.pending.take() {
            return Some((Ok::<Bytes, std::io::Error>(p), s));
        }
        tokio::select! {
            r = s.conn.read() => match r {
                Ok(f) => {
                    let ev = sse_event(&f.value, false);
                    Some((Ok(ev), s))
                }
                Err(_) => None,
            },
            _ = tokio::time::sleep(SSE_KEEPALIVE) => Some((Ok(Bytes::from_static(b": keepalive\n\n")), s)),
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_lines() {
        let v = Value::Array(vec![
            Value::Bulk(Bytes::from_static(b"message")),
            Value::Bulk(Bytes::from_static(b"ch")),
            Value::Bulk(Bytes::from_static(b"a,b\nc\r\nd")),
        ]);
        assert_eq!(
            &sse_event(&v, false)[..],
            b"data: message,ch,a,b\ndata: c\ndata: d\n\n"
        );
    }
}
