//! HTTP side of the Vector service: routing, auth, body decoding, every endpoint.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::Serialize;
use serde_json::{Map, Value};
use upstash_vector::filter::{self, Filter};

use super::config::{IndexKind, COMMANDS};
use super::store::{fuse, Namespace, Record, Sparse};
use super::{embed, IndexData, IndexState, Resumable, VectorState};
use crate::secret::ct_eq;

const EMBED_MSG: &str = "Embedding data for this index is not allowed. The index must be created with an embedding model to use it.";
const DEFAULT_TOP_K: usize = 10;
const MAX_TOP_K: usize = 1000;
const MAX_SPARSE: usize = 1000;
const MAX_METADATA: usize = 48 * 1024;
const MAX_DATA: usize = 1024 * 1024;

/// An error answer: `{"error": msg, "status": code}`.
#[derive(Debug)]
pub(crate) struct ApiErr {
    status: u16,
    msg: String,
}

fn err(status: u16, msg: impl Into<String>) -> ApiErr {
    ApiErr {
        status,
        msg: msg.into(),
    }
}

type Res<T> = Result<T, ApiErr>;

pub(crate) fn router(state: Arc<VectorState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn json_resp(status: u16, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error_resp(e: ApiErr) -> Response {
    let body = serde_json::json!({"error": e.msg, "status": e.status});
    json_resp(e.status, serde_json::to_vec(&body).unwrap_or_default())
}

fn ok<T: Serialize>(result: T) -> Res<Vec<u8>> {
    #[derive(Serialize)]
    struct Env<T> {
        result: T,
    }
    serde_json::to_vec(&Env { result }).map_err(|_| err(500, "cannot encode the result"))
}

fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

async fn handle(State(st): State<Arc<VectorState>>, req: Request) -> Response {
    match route(&st, req).await {
        Ok(body) => json_resp(200, body),
        Err(e) => error_resp(e),
    }
}

async fn route(st: &Arc<VectorState>, req: Request) -> Res<Vec<u8>> {
    let (parts, body) = req.into_parts();
    let token = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let path = parts.uri.path().trim_matches('/').to_string();
    let query_all = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "all" || p.starts_with("all=")));
    let mut segs: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    let unauthorized = || err(401, "Unauthorized: Invalid auth token");
    let token_ok = |ix: &IndexState| {
        token
            .as_deref()
            .is_some_and(|t| ct_eq(t.as_bytes(), ix.token.expose().as_bytes()))
    };
    // `/<index>/<cmd>...` or `/<cmd>...` with the index chosen by token.
    let by_name = segs
        .first()
        .and_then(|s| st.indexes.iter().find(|i| i.cfg.name == *s))
        .cloned();
    let ix = match by_name {
        Some(ix) => {
            segs.remove(0);
            if !token_ok(&ix) {
                return Err(unauthorized());
            }
            ix
        }
        None => st
            .indexes
            .iter()
            .find(|i| token_ok(i))
            .cloned()
            .ok_or_else(unauthorized)?,
    };
    let cmd = segs.first().copied().unwrap_or("");
    if !COMMANDS.contains(&cmd) || cmd == "_local" || segs.len() > 2 {
        return Err(err(404, "Not Found"));
    }
    let ns = segs.get(1).map(|s| decode_segment(s));
    let bytes = crate::serve::read_body(body, st.max_body)
        .await
        .map_err(|e| match e {
            crate::serve::BodyError::TooLarge => err(413, "Request body is too large"),
            crate::serve::BodyError::Broken => err(400, "Broken request body"),
        })?;
    let body = parse_body(&bytes, cmd == "delete")?;
    let cmd = cmd.to_string();
    let st2 = st.clone();
    // Searches can take milliseconds on large namespaces: keep them off the async workers.
    tokio::task::spawn_blocking(move || dispatch(&st2, &ix, &cmd, ns, query_all, body))
        .await
        .map_err(|_| err(500, "internal error"))?
}

/// JSON whatever the content type; empty and `null` mean no body. For delete, a body that
/// is not JSON is one raw id.
fn parse_body(bytes: &[u8], raw_id_ok: bool) -> Res<Option<Value>> {
    let text = std::str::from_utf8(bytes).map_err(|_| err(400, "Request body is not UTF-8"))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Null) => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(_) if raw_id_ok => Ok(Some(Value::String(text.trim().to_string()))),
        Err(e) => Err(err(400, format!("Invalid JSON body: {e}"))),
    }
}

fn dispatch(
    st: &VectorState,
    ix: &IndexState,
    cmd: &str,
    ns: Option<String>,
    query_all: bool,
    body: Option<Value>,
) -> Res<Vec<u8>> {
    let index_level = matches!(
        cmd,
        "info"
            | "list-namespaces"
            | "rename-namespace"
            | "resumable-query-next"
            | "resumable-query-end"
    );
    if index_level && ns.is_some() {
        return Err(err(404, "Not Found"));
    }
    let ns = ns.unwrap_or_default();
    let write = |f: &mut dyn FnMut(&mut IndexData) -> Res<Vec<u8>>| -> Res<Vec<u8>> {
        let mut d = ix.data.write().map_err(|_| err(500, "lock poisoned"))?;
        let r = f(&mut d);
        ix.dirty.store(true, Ordering::Release);
        r
    };
    let read = |f: &mut dyn FnMut(&IndexData) -> Res<Vec<u8>>| -> Res<Vec<u8>> {
        let d = ix.data.read().map_err(|_| err(500, "lock poisoned"))?;
        f(&d)
    };
    match cmd {
        "upsert" => {
            let recs = parse_upserts(ix, body, false)?;
            write(&mut |d| {
                let n = ns_mut(d, &ns, ix.cfg.dimension);
                for r in recs.iter().cloned() {
                    n.put(r);
                }
                ok("Success")
            })
        }
        "upsert-data" => {
            let recs = parse_upserts(ix, body, true)?;
            write(&mut |d| {
                let n = ns_mut(d, &ns, ix.cfg.dimension);
                for r in recs.iter().cloned() {
                    n.put(r);
                }
                ok("Success")
            })
        }
        "query" | "query-data" => {
            let data = cmd == "query-data";
            let (queries, batch) = match body {
                Some(Value::Array(a)) => {
                    let single = a.len() == 1;
                    (a, !single)
                }
                Some(v) => (vec![v], false),
                None => return Err(err(400, "Query body is required")),
            };
            let parsed: Vec<Q> = queries
                .iter()
                .map(|q| parse_query(ix, q, data))
                .collect::<Res<_>>()?;
            read(&mut |d| {
                let mut outs = Vec::with_capacity(parsed.len());
                for q in &parsed {
                    outs.push(run_query(ix, d.namespaces.get(&ns), q, q.top_k));
                }
                let rendered: Vec<Vec<Out<'_>>> = outs
                    .iter()
                    .zip(&parsed)
                    .map(|(hits, q)| render_hits(d.namespaces.get(&ns), hits, q.include))
                    .collect();
                if batch {
                    ok(rendered)
                } else {
                    ok(rendered.into_iter().next().unwrap_or_default())
                }
            })
        }
        "fetch" => {
            let obj = object(body)?;
            let include = Include::from(&obj);
            let ids = obj.get("ids").filter(|v| !v.is_null());
            let prefix = obj.get("prefix").and_then(Value::as_str);
            if ids.is_some() && prefix.is_some() {
                return Err(err(400, "Only one of ids or prefix must be provided."));
            }
            if let Some(ids) = ids {
                let ids = id_list(ids)?;
                read(&mut |d| {
                    let n = d.namespaces.get(&ns);
                    let out: Vec<Option<Out<'_>>> = ids
                        .iter()
                        .map(|id| {
                            let n = n?;
                            n.position(id).map(|p| out_of(n, p, None, include))
                        })
                        .collect();
                    ok(out)
                })
            } else if let Some(prefix) = prefix {
                read(&mut |d| {
                    let out: Vec<Out<'_>> = match d.namespaces.get(&ns) {
                        Some(n) => (0..n.rows().len())
                            .filter(|&p| n.row(p).is_some_and(|r| r.id.starts_with(prefix)))
                            .take(1000)
                            .map(|p| out_of(n, p, None, include))
                            .collect(),
                        None => Vec::new(),
                    };
                    ok(out)
                })
            } else {
                Err(err(400, "One of ids or prefix must be provided."))
            }
        }
        "random" => read(&mut |d| {
            let Some(n) = d.namespaces.get(&ns).filter(|n| n.len() > 0) else {
                return ok(Value::Null);
            };
            let live: Vec<usize> = (0..n.rows().len())
                .filter(|&p| n.row(p).is_some())
                .collect();
            let p = live[fastrand::usize(..live.len())];
            ok(out_of(n, p, None, Include::all()))
        }),
        "delete" => {
            enum By {
                Ids(Vec<String>),
                Prefix(String),
                Filter(Filter),
            }
            let by = match body {
                None => {
                    return Err(err(
                        400,
                        "Only and only one of the ids, prefix, or filter must be provided.",
                    ))
                }
                Some(v @ (Value::Array(_) | Value::String(_) | Value::Number(_))) => {
                    By::Ids(id_list(&v)?)
                }
                Some(Value::Object(o)) => {
                    let ids = o.get("ids").filter(|v| !v.is_null());
                    let prefix = o.get("prefix").filter(|v| !v.is_null());
                    let fl = o.get("filter").filter(|v| !v.is_null());
                    let given = [ids.is_some(), prefix.is_some(), fl.is_some()]
                        .iter()
                        .filter(|b| **b)
                        .count();
                    if given != 1 {
                        return Err(err(
                            400,
                            "Only and only one of the ids, prefix, or filter must be provided.",
                        ));
                    }
                    if let Some(ids) = ids {
                        By::Ids(id_list(ids)?)
                    } else if let Some(p) = prefix {
                        By::Prefix(
                            p.as_str()
                                .ok_or_else(|| err(400, "prefix must be a string"))?
                                .to_string(),
                        )
                    } else {
                        let text = fl
                            .and_then(Value::as_str)
                            .ok_or_else(|| err(400, "filter must be a string"))?;
                        match parse_filter(text)? {
                            Some(f) => By::Filter(f),
                            None => return Err(err(400, "filter must not be empty")),
                        }
                    }
                }
                Some(_) => return Err(err(400, "Invalid delete body")),
            };
            write(&mut |d| {
                let Some(n) = d.namespaces.get_mut(&ns) else {
                    return ok(serde_json::json!({"deleted": 0}));
                };
                let victims: Vec<String> = match &by {
                    By::Ids(ids) => ids.clone(),
                    By::Prefix(p) => n
                        .rows()
                        .iter()
                        .filter(|r| r.alive && r.id.starts_with(p.as_str()))
                        .map(|r| r.id.clone())
                        .collect(),
                    By::Filter(f) => (0..n.rows().len())
                        .filter(|&p| n.passes(p, Some(f)))
                        .filter_map(|p| n.row(p).map(|r| r.id.clone()))
                        .collect(),
                };
                let deleted = victims.iter().filter(|id| n.remove(id)).count();
                ok(serde_json::json!({"deleted": deleted}))
            })
        }
        "range" => {
            let obj = object(body)?;
            let include = Include::from(&obj);
            let start = match obj.get("cursor") {
                None | Some(Value::Null) => 0,
                Some(Value::String(s)) if s.is_empty() => 0,
                Some(Value::String(s)) => {
                    s.parse::<usize>().map_err(|_| err(400, "Invalid cursor"))?
                }
                Some(Value::Number(n)) => {
                    n.as_u64().ok_or_else(|| err(400, "Invalid cursor"))? as usize
                }
                Some(_) => return Err(err(400, "Invalid cursor")),
            };
            let limit = obj
                .get("limit")
                .and_then(Value::as_i64)
                .ok_or_else(|| err(400, "limit is required"))?;
            if limit <= 0 {
                return Err(err(400, "limit must be positive"));
            }
            let limit = limit as usize;
            let prefix = obj.get("prefix").and_then(Value::as_str).unwrap_or("");
            read(&mut |d| {
                #[derive(Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Page<'a> {
                    next_cursor: String,
                    vectors: Vec<Out<'a>>,
                }
                let Some(n) = d.namespaces.get(&ns) else {
                    return ok(Page {
                        next_cursor: String::new(),
                        vectors: Vec::new(),
                    });
                };
                let mut matching = (start..n.rows().len())
                    .filter(|&p| n.row(p).is_some_and(|r| r.id.starts_with(prefix)));
                let vectors: Vec<Out<'_>> = matching
                    .by_ref()
                    .take(limit)
                    .map(|p| out_of(n, p, None, include))
                    .collect();
                let next_cursor = matching.next().map(|p| p.to_string()).unwrap_or_default();
                ok(Page {
                    next_cursor,
                    vectors,
                })
            })
        }
        "reset" => write(&mut |d| {
            let dim = ix.cfg.dimension;
            if query_all {
                for n in d.namespaces.values_mut() {
                    *n = Namespace::new(dim);
                }
            } else if let Some(n) = d.namespaces.get_mut(&ns) {
                *n = Namespace::new(dim);
            }
            ok("Success")
        }),
        "info" => read(&mut |d| ok(info(ix, d))),
        "update" => {
            let obj = object(body)?;
            let id = obj
                .get("id")
                .ok_or_else(|| err(400, "id is required"))
                .and_then(id_of)?;
            let vector = obj
                .get("vector")
                .filter(|v| !v.is_null())
                .map(|v| parse_dense(ix, v))
                .transpose()?;
            let sparse = obj
                .get("sparseVector")
                .filter(|v| !v.is_null())
                .map(parse_sparse)
                .transpose()?;
            check_kind(ix, vector.is_some(), sparse.is_some(), true)?;
            let data = match obj.get("data") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(err(400, "data must be a string")),
            };
            let metadata = match obj.get("metadata") {
                None => None,
                Some(m) => Some(check_metadata(m)?),
            };
            let patch = match obj.get("metadataUpdateMode").and_then(Value::as_str) {
                None => false,
                Some(m) if m.eq_ignore_ascii_case("OVERWRITE") => false,
                Some(m) if m.eq_ignore_ascii_case("PATCH") => true,
                Some(_) => return Err(err(400, "metadataUpdateMode must be OVERWRITE or PATCH")),
            };
            let embedded = match &data {
                Some(text) if has_models(ix) => Some(embed_doc(ix, text)),
                _ => None,
            };
            write(&mut |d| {
                let Some(n) = d.namespaces.get_mut(&ns) else {
                    return ok(serde_json::json!({"updated": 0}));
                };
                let Some(p) = n.position(&id) else {
                    return ok(serde_json::json!({"updated": 0}));
                };
                let (mut dv, mut sv) = (vector.clone(), sparse.clone());
                if let Some((edv, esv)) = &embedded {
                    dv = dv.or_else(|| edv.clone());
                    sv = sv.or_else(|| esv.clone());
                }
                if let Some(v) = &dv {
                    n.set_dense(p, v);
                }
                let Some(row) = n.row_mut(p) else {
                    return ok(serde_json::json!({"updated": 0}));
                };
                if let Some(s) = &sv {
                    row.sparse = Some(s.clone());
                }
                if let Some(t) = &data {
                    row.data = Some(t.clone());
                }
                if let Some(m) = &metadata {
                    if patch {
                        let mut cur = row.metadata.take().unwrap_or(Value::Object(Map::new()));
                        merge_patch(&mut cur, m);
                        row.metadata = Some(cur);
                    } else {
                        row.metadata = (!m.is_null()).then(|| m.clone());
                    }
                }
                ok(serde_json::json!({"updated": 1}))
            })
        }
        "list-namespaces" => read(&mut |d| ok(d.namespaces.keys().collect::<Vec<_>>())),
        "delete-namespace" => {
            if ns.is_empty() {
                return Err(err(400, "Cannot delete the default namespace"));
            }
            write(&mut |d| {
                if d.namespaces.remove(&ns).is_none() {
                    return Err(err(
                        404,
                        format!(
                            "Namespace {ns} for the index {} does not exist",
                            ix.cfg.name
                        ),
                    ));
                }
                ok("Success")
            })
        }
        "rename-namespace" => {
            let obj = object(body)?;
            let from = obj
                .get("namespace")
                .and_then(Value::as_str)
                .ok_or_else(|| err(400, "namespace is required"))?
                .to_string();
            let to = obj
                .get("newNamespace")
                .and_then(Value::as_str)
                .ok_or_else(|| err(400, "newNamespace is required"))?
                .to_string();
            let replace = obj
                .get("deleteExisting")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if from.is_empty() || to.is_empty() {
                return Err(err(400, "The default namespace cannot be renamed"));
            }
            write(&mut |d| {
                if !d.namespaces.contains_key(&from) {
                    return Err(err(
                        404,
                        format!(
                            "Namespace {from} for the index {} does not exist",
                            ix.cfg.name
                        ),
                    ));
                }
                if from == to {
                    return ok(serde_json::json!({"renamed": true}));
                }
                if d.namespaces.contains_key(&to) && !replace {
                    return Err(err(400, format!("Namespace {to} already exists")));
                }
                if let Some(n) = d.namespaces.remove(&from) {
                    d.namespaces.insert(to.clone(), n);
                }
                ok(serde_json::json!({"renamed": true}))
            })
        }
        "resumable-query" | "resumable-query-data" => {
            let data = cmd == "resumable-query-data";
            let Some(q) = body else {
                return Err(err(400, "Query body is required"));
            };
            let parsed = parse_query(ix, &q, data)?;
            let max_idle = q.get("maxIdle").and_then(Value::as_u64).unwrap_or(3600);
            let mut d = ix.data.write().map_err(|_| err(500, "lock poisoned"))?;
            sweep(&mut d);
            #[derive(Serialize)]
            struct Start<'a> {
                uuid: String,
                scores: Vec<Out<'a>>,
            }
            if !d.namespaces.contains_key(&ns) {
                return ok(Start {
                    uuid: String::new(),
                    scores: Vec::new(),
                });
            }
            if d.resumables.len() >= st.max_resumable {
                return Err(err(400, "Too many active resumable queries"));
            }
            let n = d.namespaces.get(&ns);
            let all = run_query(ix, n, &parsed, usize::MAX);
            let ranked: Vec<(f32, String)> = match n {
                Some(n) => all
                    .iter()
                    .filter_map(|&(s, p)| n.row(p).map(|r| (s, r.id.clone())))
                    .collect(),
                None => Vec::new(),
            };
            let uuid = new_uuid();
            let first = parsed.top_k.min(ranked.len());
            d.resumables.insert(
                uuid.clone(),
                Resumable {
                    namespace: ns.clone(),
                    ranked,
                    offset: first,
                    include: parsed.include,
                    max_idle: Duration::from_secs(max_idle),
                    last_used: Instant::now(),
                },
            );
            let d = &*d;
            let n = d.namespaces.get(&ns);
            let hits: Vec<(f32, usize)> = all.into_iter().take(first).collect();
            ok(Start {
                uuid,
                scores: render_hits(n, &hits, parsed.include),
            })
        }
        "resumable-query-next" => {
            let obj = object(body)?;
            let uuid = obj
                .get("uuid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let k = obj
                .get("additionalK")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_TOP_K as u64) as usize;
            let mut d = ix.data.write().map_err(|_| err(500, "lock poisoned"))?;
            sweep(&mut d);
            let Some(r) = d.resumables.get_mut(&uuid) else {
                return Err(err(400, "Resumable query not found or already stopped"));
            };
            r.last_used = Instant::now();
            let end = r.offset.saturating_add(k).min(r.ranked.len());
            let slice: Vec<(f32, String)> = r.ranked[r.offset..end].to_vec();
            r.offset = end;
            let (nsname, include) = (r.namespace.clone(), r.include);
            let d = &*d;
            let n = d.namespaces.get(&nsname);
            let hits: Vec<(f32, usize)> = match n {
                Some(n) => slice
                    .iter()
                    .filter_map(|(s, id)| n.position(id).map(|p| (*s, p)))
                    .collect(),
                None => Vec::new(),
            };
            ok(render_hits(n, &hits, include))
        }
        "resumable-query-end" => {
            let obj = object(body)?;
            let uuid = obj.get("uuid").and_then(Value::as_str).unwrap_or("");
            let mut d = ix.data.write().map_err(|_| err(500, "lock poisoned"))?;
            sweep(&mut d);
            if d.resumables.remove(uuid).is_none() {
                return Err(err(400, "Resumable query not found or already stopped"));
            }
            ok("Success")
        }
        _ => Err(err(404, "Not Found")),
    }
}

fn sweep(d: &mut IndexData) {
    let now = Instant::now();
    d.resumables
        .retain(|_, r| now.duration_since(r.last_used) <= r.max_idle);
}

fn new_uuid() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

fn ns_mut<'a>(d: &'a mut IndexData, ns: &str, dim: usize) -> &'a mut Namespace {
    d.namespaces
        .entry(ns.to_string())
        .or_insert_with(|| Namespace::new(dim))
}

/// What to return with each record.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Include {
    metadata: bool,
    vectors: bool,
    data: bool,
}

impl Include {
    fn all() -> Include {
        Include {
            metadata: true,
            vectors: true,
            data: true,
        }
    }
}

impl From<&Map<String, Value>> for Include {
    fn from(o: &Map<String, Value>) -> Include {
        let f = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
        Include {
            metadata: f("includeMetadata"),
            vectors: f("includeVectors"),
            data: f("includeData"),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Out<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<&'a [f32]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sparse_vector: Option<&'a Sparse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
}

fn out_of(n: &Namespace, p: usize, score: Option<f32>, inc: Include) -> Out<'_> {
    let row = &n.rows()[p];
    Out {
        id: &row.id,
        score,
        vector: if inc.vectors { n.dense(p) } else { None },
        sparse_vector: if inc.vectors {
            row.sparse.as_ref()
        } else {
            None
        },
        metadata: if inc.metadata {
            row.metadata.as_ref()
        } else {
            None
        },
        data: if inc.data { row.data.as_deref() } else { None },
    }
}

fn render_hits<'a>(n: Option<&'a Namespace>, hits: &[(f32, usize)], inc: Include) -> Vec<Out<'a>> {
    match n {
        Some(n) => hits
            .iter()
            .map(|&(s, p)| out_of(n, p, Some(s), inc))
            .collect(),
        None => Vec::new(),
    }
}

fn object(body: Option<Value>) -> Res<Map<String, Value>> {
    match body {
        Some(Value::Object(o)) => Ok(o),
        None => Ok(Map::new()),
        Some(_) => Err(err(400, "Request body must be a JSON object")),
    }
}

fn id_of(v: &Value) -> Res<String> {
    let id = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(err(400, "id must be a string")),
    };
    if id.is_empty() {
        return Err(err(400, "id must not be empty"));
    }
    Ok(id)
}

fn id_list(v: &Value) -> Res<Vec<String>> {
    match v {
        Value::Array(a) => a.iter().map(id_of).collect(),
        other => Ok(vec![id_of(other)?]),
    }
}

fn parse_filter(text: &str) -> Res<Option<Filter>> {
    filter::parse(text).map_err(|e| err(400, e.to_string()))
}

fn parse_f32s(v: &Value, what: &str) -> Res<Vec<f32>> {
    let a = v
        .as_array()
        .ok_or_else(|| err(400, format!("{what} must be an array of numbers")))?;
    a.iter()
        .map(|x| {
            x.as_f64()
                .map(|f| f as f32)
                .filter(|f| f.is_finite())
                .ok_or_else(|| err(400, format!("{what} must be an array of numbers")))
        })
        .collect()
}

fn parse_dense(ix: &IndexState, v: &Value) -> Res<Vec<f32>> {
    let vec = parse_f32s(v, "vector")?;
    if !ix.cfg.kind.has_dense() {
        return Err(err(422, "This index does not support dense vectors"));
    }
    if vec.len() != ix.cfg.dimension {
        return Err(err(
            422,
            format!(
                "Invalid vector dimension: {}, expected: {}",
                vec.len(),
                ix.cfg.dimension
            ),
        ));
    }
    Ok(vec)
}

fn parse_sparse(v: &Value) -> Res<Sparse> {
    let o = v.as_object().ok_or_else(|| {
        err(
            400,
            "sparseVector must be an object with indices and values",
        )
    })?;
    let idx = o
        .get("indices")
        .and_then(Value::as_array)
        .ok_or_else(|| err(400, "sparseVector.indices must be an array"))?;
    let vals = parse_f32s(
        o.get("values").unwrap_or(&Value::Null),
        "sparseVector.values",
    )?;
    if idx.len() != vals.len() {
        return Err(err(
            422,
            "sparseVector indices and values must have the same length",
        ));
    }
    if idx.len() > MAX_SPARSE {
        return Err(err(422, "sparseVector has more than 1000 entries"));
    }
    let mut pairs = Vec::with_capacity(idx.len());
    for (i, v) in idx.iter().zip(vals) {
        let i = i
            .as_i64()
            .and_then(|i| i32::try_from(i).ok())
            .ok_or_else(|| err(400, "sparseVector.indices must be 32-bit integers"))?;
        pairs.push((i, v));
    }
    Ok(Sparse::normalised(pairs))
}

/// Which vectors an index needs: dense needs the dense one, sparse the sparse one, hybrid both
/// (for updates: both or neither).
fn check_kind(ix: &IndexState, dense: bool, sparse: bool, update: bool) -> Res<()> {
    match ix.cfg.kind {
        IndexKind::Dense if sparse => Err(err(422, "This index does not support sparse vectors")),
        IndexKind::Sparse if dense => Err(err(422, "This index does not support dense vectors")),
        IndexKind::Hybrid if dense != sparse && (update || dense || sparse) => Err(err(
            422,
            "Hybrid indexes require both a dense and a sparse vector",
        )),
        _ => Ok(()),
    }
}

fn check_metadata(m: &Value) -> Res<Value> {
    if !(m.is_object() || m.is_null()) {
        return Err(err(400, "metadata must be a JSON object"));
    }
    if serde_json::to_vec(m).map_or(0, |b| b.len()) > MAX_METADATA {
        return Err(err(400, "metadata is larger than 48 KB"));
    }
    Ok(m.clone())
}

fn has_models(ix: &IndexState) -> bool {
    let c = &ix.cfg;
    match c.kind {
        IndexKind::Dense => c.dense_model.is_some(),
        IndexKind::Sparse => c.sparse_model.is_some(),
        IndexKind::Hybrid => c.dense_model.is_some() && c.sparse_model.is_some(),
    }
}

fn embed_doc(ix: &IndexState, text: &str) -> (Option<Vec<f32>>, Option<Sparse>) {
    let k = ix.cfg.kind;
    (
        k.has_dense().then(|| embed::dense(text, ix.cfg.dimension)),
        k.has_sparse().then(|| embed::sparse_doc(text)),
    )
}

fn parse_upserts(ix: &IndexState, body: Option<Value>, data_only: bool) -> Res<Vec<Record>> {
    let items = match body {
        Some(Value::Array(a)) => a,
        Some(v @ Value::Object(_)) => vec![v],
        _ => return Err(err(400, "Upsert body must be an object or an array")),
    };
    let mut out = Vec::with_capacity(items.len());
    for it in &items {
        let o = it
            .as_object()
            .ok_or_else(|| err(400, "each record must be an object"))?;
        let id = o
            .get("id")
            .ok_or_else(|| err(400, "id is required"))
            .and_then(id_of)?;
        let metadata = match o.get("metadata") {
            None | Some(Value::Null) => None,
            Some(m) => Some(check_metadata(m)?),
        };
        let data = match o.get("data") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= MAX_DATA => Some(s.clone()),
            Some(Value::String(_)) => return Err(err(400, "data is larger than 1 MB")),
            Some(_) => return Err(err(400, "data must be a string")),
        };
        let (vector, sparse) = if data_only {
            let Some(text) = &data else {
                return Err(err(400, "data is required"));
            };
            if !has_models(ix) {
                return Err(err(422, EMBED_MSG));
            }
            embed_doc(ix, text)
        } else {
            let vector = o
                .get("vector")
                .filter(|v| !v.is_null())
                .map(|v| parse_dense(ix, v))
                .transpose()?;
            let sparse = o
                .get("sparseVector")
                .filter(|v| !v.is_null())
                .map(parse_sparse)
                .transpose()?;
            match (&vector, &sparse, &data) {
                (None, None, Some(text)) => {
                    if !has_models(ix) {
                        return Err(err(422, EMBED_MSG));
                    }
                    embed_doc(ix, text)
                }
                (None, None, None) => {
                    return Err(err(400, "a record needs a vector, a sparseVector or data"))
                }
                _ => {
                    check_kind(ix, vector.is_some(), sparse.is_some(), false)?;
                    if ix.cfg.kind == IndexKind::Dense && vector.is_none() {
                        return Err(err(422, "This index requires dense vectors"));
                    }
                    if ix.cfg.kind == IndexKind::Sparse && sparse.is_none() {
                        return Err(err(422, "This index requires sparse vectors"));
                    }
                    (vector, sparse)
                }
            }
        };
        out.push(Record {
            id,
            vector,
            sparse,
            metadata,
            data,
        });
    }
    Ok(out)
}

/// A parsed query.
struct Q {
    dense: Option<Vec<f32>>,
    sparse: Option<Sparse>,
    idf: bool,
    dbsf: bool,
    top_k: usize,
    include: Include,
    filter: Option<Filter>,
}

fn parse_query(ix: &IndexState, v: &Value, data: bool) -> Res<Q> {
    let o = v
        .as_object()
        .ok_or_else(|| err(400, "a query must be a JSON object"))?;
    let top_k = match o.get("topK") {
        None | Some(Value::Null) => DEFAULT_TOP_K,
        Some(k) => {
            let k = k
                .as_i64()
                .ok_or_else(|| err(400, "topK must be an integer"))?;
            if k < 0 {
                return Err(err(400, "topK must not be negative"));
            }
            (k as usize).min(MAX_TOP_K)
        }
    };
    let filter = match o.get("filter") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => parse_filter(s)?,
        Some(_) => return Err(err(400, "filter must be a string")),
    };
    let mut idf = o
        .get("weightingStrategy")
        .and_then(Value::as_str)
        .is_some_and(|w| w.eq_ignore_ascii_case("IDF"));
    let dbsf = o
        .get("fusionAlgorithm")
        .and_then(Value::as_str)
        .is_some_and(|w| w.eq_ignore_ascii_case("DBSF"));
    let (dense, sparse) = if data {
        let text = o
            .get("data")
            .and_then(Value::as_str)
            .ok_or_else(|| err(400, "data is required"))?;
        if !has_models(ix) {
            return Err(err(422, EMBED_MSG));
        }
        let mode = o
            .get("queryMode")
            .and_then(Value::as_str)
            .unwrap_or("HYBRID");
        let (want_d, want_s) = match ix.cfg.kind {
            IndexKind::Dense => (true, false),
            IndexKind::Sparse => (false, true),
            IndexKind::Hybrid if mode.eq_ignore_ascii_case("DENSE") => (true, false),
            IndexKind::Hybrid if mode.eq_ignore_ascii_case("SPARSE") => (false, true),
            IndexKind::Hybrid => (true, true),
        };
        // BM25 scores use IDF on the query side.
        if want_s && o.get("weightingStrategy").is_none() {
            idf = true;
        }
        (
            want_d.then(|| embed::dense(text, ix.cfg.dimension)),
            want_s.then(|| embed::sparse_query(text)),
        )
    } else {
        let dense = o
            .get("vector")
            .filter(|v| !v.is_null())
            .map(|v| parse_dense(ix, v))
            .transpose()?;
        let sparse = o
            .get("sparseVector")
            .filter(|v| !v.is_null())
            .map(parse_sparse)
            .transpose()?;
        match ix.cfg.kind {
            IndexKind::Dense if dense.is_none() => return Err(err(400, "vector is required")),
            IndexKind::Sparse if sparse.is_none() => {
                return Err(err(400, "sparseVector is required"))
            }
            IndexKind::Hybrid if dense.is_none() && sparse.is_none() => {
                return Err(err(400, "vector or sparseVector is required"))
            }
            _ => {}
        }
        check_kind(ix, dense.is_some(), sparse.is_some(), false).or_else(|e| {
            if ix.cfg.kind == IndexKind::Hybrid {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        (dense, sparse)
    };
    Ok(Q {
        dense,
        sparse,
        idf,
        dbsf,
        top_k,
        include: Include::from(o),
        filter,
    })
}

/// Runs a query: `(score, position)` best first.
fn run_query(ix: &IndexState, n: Option<&Namespace>, q: &Q, k: usize) -> Vec<(f32, usize)> {
    let Some(n) = n else { return Vec::new() };
    let f = q.filter.as_ref();
    match (&q.dense, &q.sparse) {
        (Some(d), None) => n.dense_search(d, ix.cfg.metric, f, k),
        (None, Some(s)) => n.sparse_search(s, q.idf, f, k),
        (Some(d), Some(s)) => {
            let depth = if k == usize::MAX { usize::MAX } else { k };
            let dl = n.dense_search(d, ix.cfg.metric, f, depth);
            let sl = n.sparse_search(s, q.idf, f, depth);
            fuse(&dl, &sl, q.dbsf, k)
        }
        (None, None) => Vec::new(),
    }
}

fn info(ix: &IndexState, d: &IndexData) -> Value {
    let c = &ix.cfg;
    let mut count = 0usize;
    let mut namespaces = Map::new();
    let mut size = 0usize;
    for (name, n) in &d.namespaces {
        count += n.len();
        size += n.len() * (c.dimension * 4 + 64);
        namespaces.insert(
            name.clone(),
            serde_json::json!({"vectorCount": n.len(), "pendingVectorCount": 0}),
        );
    }
    let mut o = serde_json::json!({
        "vectorCount": count,
        "pendingVectorCount": 0,
        "indexSize": size,
        "dimension": if c.kind.has_dense() { c.dimension } else { 0 },
        "similarityFunction": c.metric.as_str(),
        "indexType": c.kind.as_str(),
        "namespaces": namespaces,
    });
    if let Some(m) = o.as_object_mut() {
        if c.kind.has_dense() {
            m.insert(
                "denseIndex".into(),
                serde_json::json!({
                    "dimension": c.dimension,
                    "similarityFunction": c.metric.as_str(),
                    "embeddingModel": c.dense_model.clone().unwrap_or_default(),
                }),
            );
        }
        if c.kind.has_sparse() {
            m.insert(
                "sparseIndex".into(),
                serde_json::json!({"embeddingModel": c.sparse_model.clone().unwrap_or_default()}),
            );
        }
    }
    o
}

/// RFC 7396 JSON Merge Patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_rfc7396() {
        let mut t = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        merge_patch(
            &mut t,
            &serde_json::json!({"a": null, "b": {"c": null, "x": 9}, "e": [2, 3]}),
        );
        assert_eq!(t, serde_json::json!({"b": {"d": 3, "x": 9}, "e": [2, 3]}));
    }

    #[test]
    fn uuids_look_like_uuids() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
    }
}
