//! The [`Index`] client.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{stream, Stream, StreamExt as _, TryStreamExt as _};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use upstash_core::{Auth, ClientOptions, Request, Response, Transport};

use crate::types::{Include, Info, Query, QueryResult, RangePage, Update, Upsert, Vector};
use crate::{Error, Result};

/// Characters kept as they are in a namespace path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An Upstash Vector index (or one namespace of it), with metadata of type `M`.
///
/// Cloning is cheap (clones share the HTTP connection pool). [`Index::namespace`] gives a
/// handle on another namespace; [`Index::with_metadata`] changes the metadata type.
///
/// ```no_run
/// # async fn demo() -> upstash_vector::Result<()> {
/// use upstash_vector::{filter::field, Index, Query, Upsert};
/// let index = Index::from_env()?;
/// index.upsert([Upsert::dense("a", vec![0.1, 0.2]).with_metadata(serde_json::json!({"genre": "sf"}))]).await?;
/// let hits = index
///     .query(Query::vector(vec![0.1, 0.2]).top_k(5).include_metadata(true).filter(field("genre").eq("sf")))
///     .await?;
/// # Ok(()) }
/// ```
pub struct Index<M = serde_json::Value> {
    inner: Arc<Inner>,
    namespace: Option<Arc<str>>,
    _metadata: PhantomData<fn() -> M>,
}

struct Inner {
    transport: Transport,
}

impl<M> Clone for Index<M> {
    fn clone(&self) -> Self {
        Index {
            inner: self.inner.clone(),
            namespace: self.namespace.clone(),
            _metadata: PhantomData,
        }
    }
}

impl<M> fmt::Debug for Index<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("transport", &self.inner.transport)
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// Options for [`Index`]; from [`Index::builder`].
#[derive(Debug)]
pub struct IndexBuilder {
    url: String,
    token: upstash_core::Secret,
    options: ClientOptions,
}

impl IndexBuilder {
    // Default timeout 60 s (queries over large indexes take longer than commands); the
    // retry policy treats only reads, upserts and resets as idempotent.
    upstash_core::client_option_setters!(options);

    /// Builds the client; fails on an invalid URL or token.
    pub fn build<M>(self) -> Result<Index<M>> {
        upstash_core::env::check_credential("Vector REST token", self.token.expose())?;
        let b = self.options.transport_builder(
            self.url,
            Auth::Bearer(self.token),
            concat!("upstash-vector-rs@v", env!("CARGO_PKG_VERSION")),
        );
        Ok(Index {
            inner: Arc::new(Inner {
                transport: b.build()?,
            }),
            namespace: None,
            _metadata: PhantomData,
        })
    }
}

impl Index<serde_json::Value> {
    /// A client for the index at `url` with its REST token.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Result<Self> {
        Self::builder(url, token).build()
    }

    /// A client from `UPSTASH_VECTOR_REST_URL` and `UPSTASH_VECTOR_REST_TOKEN`; the error
    /// names the missing variable.
    pub fn from_env() -> Result<Self> {
        Self::builder_from_env()?.build()
    }

    /// A builder initialised from the environment.
    pub fn builder_from_env() -> Result<IndexBuilder> {
        let url = upstash_core::env::var("UPSTASH_VECTOR_REST_URL")?;
        let token = upstash_core::env::var("UPSTASH_VECTOR_REST_TOKEN")?;
        Ok(Self::builder(url, token))
    }

    /// A builder with every option at its default.
    pub fn builder(url: impl Into<String>, token: impl Into<String>) -> IndexBuilder {
        IndexBuilder {
            url: url.into(),
            token: upstash_core::Secret::new(token.into()),
            options: ClientOptions::with_timeout(Some(Duration::from_secs(60))),
        }
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    result: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Decodes `{"result": ...}` or `{"error": ..., "status": ...}`.
pub(crate) fn decode<T: DeserializeOwned>(resp: &Response) -> Result<T> {
    if !resp.status.is_success() {
        return match serde_json::from_slice::<ErrorBody>(&resp.body) {
            Ok(e) => Err(Error::Api {
                status: resp.status.as_u16(),
                message: upstash_core::snippet(e.error.as_bytes()),
            }),
            Err(_) => Err(Error::Core(resp.status_error())),
        };
    }
    let env: Envelope<T> = serde_json::from_slice(&resp.body).map_err(|e| Error::Decode {
        message: e.to_string(),
        body_snippet: upstash_core::snippet(&resp.body),
    })?;
    if let Some(message) = env.error {
        return Err(Error::Api {
            status: resp.status.as_u16(),
            message: upstash_core::snippet(message.as_bytes()),
        });
    }
    match env.result {
        Some(r) => Ok(r),
        // `null` results (random on an empty namespace) decode into Option types.
        None => serde_json::from_value(serde_json::Value::Null).map_err(|_| Error::Decode {
            message: "the response has no result".into(),
            body_snippet: upstash_core::snippet(&resp.body),
        }),
    }
}

/// `/{cmd}` or `/{cmd}/{namespace}` with the namespace percent-encoded.
pub(crate) fn command_path(cmd: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("/{cmd}/{}", utf8_percent_encode(ns, SEGMENT)),
        _ => format!("/{cmd}"),
    }
}

pub(crate) fn json_request(
    path: String,
    body: &impl Serialize,
    idempotent: bool,
) -> Result<Request> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| Error::InvalidInput(format!("cannot serialise the request: {e}")))?;
    Ok(Request::post_json(path, bytes).idempotent(idempotent))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FetchBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ids: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<&'a str>,
    #[serde(flatten)]
    include: Include,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RangeBody<'a> {
    cursor: &'a str,
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<&'a str>,
    #[serde(flatten)]
    include: Include,
}

#[derive(Deserialize)]
struct Deleted {
    deleted: u64,
}

#[derive(Deserialize)]
struct Updated {
    updated: u64,
}

#[derive(Deserialize)]
struct Renamed {
    renamed: bool,
}

#[derive(Deserialize)]
#[serde(bound = "M: DeserializeOwned")]
struct ResumableStart<M> {
    uuid: String,
    #[serde(default = "Vec::new")]
    scores: Vec<QueryResult<M>>,
}

/// Options of [`Index::range`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    /// Where to start: `""` or `"0"` for the beginning, else a previous `next_cursor`.
    pub cursor: String,
    /// Page size (> 0).
    pub limit: u32,
    /// Only ids starting with this prefix.
    pub prefix: Option<String>,
    /// What to return with each record.
    pub include: Include,
}

impl Range {
    /// From the beginning, `limit` records per page.
    pub fn new(limit: u32) -> Self {
        Range {
            cursor: "0".into(),
            limit,
            prefix: None,
            include: Include::default(),
        }
    }

    /// Starts at `cursor`.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = cursor.into();
        self
    }

    /// Only ids with this prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// What to return with each record.
    pub fn include(mut self, include: Include) -> Self {
        self.include = include;
        self
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::InvalidInput("a record id is empty".into()));
    }
    Ok(())
}

impl<M> Index<M> {
    /// A handle on namespace `name` (`""` is the default namespace).
    pub fn namespace(&self, name: &str) -> Index<M> {
        Index {
            inner: self.inner.clone(),
            namespace: (!name.is_empty()).then(|| Arc::from(name)),
            _metadata: PhantomData,
        }
    }

    /// The same index and namespace with metadata typed as `N`.
    pub fn with_metadata<N>(&self) -> Index<N> {
        Index {
            inner: self.inner.clone(),
            namespace: self.namespace.clone(),
            _metadata: PhantomData,
        }
    }

    /// This handle's namespace (`""` for the default one).
    pub fn namespace_name(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }

    fn path(&self, cmd: &str) -> String {
        command_path(cmd, self.namespace.as_deref())
    }

    async fn call<T: DeserializeOwned>(&self, req: Request) -> Result<T> {
        let resp = self.inner.transport.send(&req).await?;
        decode(&resp)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: String,
        body: &impl Serialize,
        idempotent: bool,
    ) -> Result<T> {
        self.call(json_request(path, body, idempotent)?).await
    }

    /// Resets this namespace (removes every record; the namespace stays).
    pub async fn reset(&self) -> Result<()> {
        let _: serde_json::Value = self
            .call(
                Request::new(upstash_core::http::Method::POST, self.path("reset")).idempotent(true),
            )
            .await?;
        Ok(())
    }

    /// Resets every namespace of the index.
    pub async fn reset_all(&self) -> Result<()> {
        let _: serde_json::Value = self
            .call(Request::new(upstash_core::http::Method::POST, "/reset?all").idempotent(true))
            .await?;
        Ok(())
    }

    /// Index statistics and configuration (covers every namespace).
    pub async fn info(&self) -> Result<Info> {
        self.call(Request::new(upstash_core::http::Method::POST, "/info").idempotent(true))
            .await
    }

    /// Names of every namespace, `""` included.
    pub async fn list_namespaces(&self) -> Result<Vec<String>> {
        self.call(
            Request::new(upstash_core::http::Method::POST, "/list-namespaces").idempotent(true),
        )
        .await
    }

    /// Deletes namespace `name` and its records (404 when it does not exist).
    pub async fn delete_namespace(&self, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::InvalidInput(
                "the default namespace cannot be deleted".into(),
            ));
        }
        let _: serde_json::Value = self
            .call(Request::new(
                upstash_core::http::Method::POST,
                command_path("delete-namespace", Some(name)),
            ))
            .await?;
        Ok(())
    }

    /// Renames namespace `from` to `to`; `delete_existing` replaces an existing `to`.
    pub async fn rename_namespace(
        &self,
        from: &str,
        to: &str,
        delete_existing: bool,
    ) -> Result<bool> {
        let body = serde_json::json!({
            "namespace": from, "newNamespace": to, "deleteExisting": delete_existing
        });
        let r: Renamed = self.post("/rename-namespace".into(), &body, false).await?;
        Ok(r.renamed)
    }

    /// Deletes records by id; returns how many existed.
    pub async fn delete<I, S>(&self, ids: I) -> Result<u64>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        let body = serde_json::json!({ "ids": ids });
        let d: Deleted = self.post(self.path("delete"), &body, false).await?;
        Ok(d.deleted)
    }

    /// Deletes every record whose id starts with `prefix`.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let body = serde_json::json!({ "prefix": prefix });
        let d: Deleted = self.post(self.path("delete"), &body, false).await?;
        Ok(d.deleted)
    }

    /// Deletes every record whose metadata matches `filter` (a string or a
    /// [`crate::filter::Condition`]).
    pub async fn delete_filter(&self, filter: impl Into<String>) -> Result<u64> {
        let body = serde_json::json!({ "filter": filter.into() });
        let d: Deleted = self.post(self.path("delete"), &body, false).await?;
        Ok(d.deleted)
    }

    /// Continues a resumable query (not retried: the server advances on each call).
    async fn resumable_next_raw(&self, uuid: &str, k: u32) -> Result<serde_json::Value> {
        let body = serde_json::json!({ "uuid": uuid, "additionalK": k });
        self.post("/resumable-query-next".into(), &body, false)
            .await
    }

    async fn resumable_end_raw(&self, uuid: &str) -> Result<()> {
        let body = serde_json::json!({ "uuid": uuid });
        let _: serde_json::Value = self
            .post("/resumable-query-end".into(), &body, false)
            .await?;
        Ok(())
    }
}

impl<M: Serialize + DeserializeOwned> Index<M> {
    /// Upserts records (replacing existing ids entirely). Records with vectors go to
    /// `upsert`; records with only `data` go to `upsert-data`; mixing both is an error.
    pub async fn upsert(&self, items: impl IntoIterator<Item = Upsert<M>>) -> Result<()> {
        let items: Vec<Upsert<M>> = items.into_iter().collect();
        self.upsert_slice(&items).await
    }

    /// Upserts a large batch as several requests of at most `chunk_size` records (Upstash
    /// recommends at most 1000 per request), with at most `concurrency` requests in flight.
    ///
    /// Every chunk is tried even when another one fails; the report gives back the records of
    /// each failed chunk with its error, so they can be retried. `Err` only for bad arguments
    /// (`chunk_size` or `concurrency` of 0).
    ///
    /// ```no_run
    /// # async fn demo(index: upstash_vector::Index) -> upstash_vector::Result<()> {
    /// use upstash_vector::Upsert;
    /// let items = (0..10_000).map(|i| Upsert::dense(format!("doc-{i}"), vec![0.1; 384]));
    /// let report = index.upsert_chunked(items, 1000, 4).await?;
    /// for failure in report.failures() {
    ///     eprintln!("{} records from #{} failed: {}", failure.items.len(), failure.offset, failure.error);
    /// }
    /// report.into_result()?;
    /// # Ok(()) }
    /// ```
    pub async fn upsert_chunked(
        &self,
        items: impl IntoIterator<Item = Upsert<M>>,
        chunk_size: usize,
        concurrency: usize,
    ) -> Result<ChunkedUpsert<M>> {
        if chunk_size == 0 || concurrency == 0 {
            return Err(Error::InvalidInput(
                "chunk_size and concurrency must be at least 1".into(),
            ));
        }
        let mut chunks: Vec<(usize, Vec<Upsert<M>>)> = Vec::new();
        let mut offset = 0;
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let chunk: Vec<Upsert<M>> = items.by_ref().take(chunk_size).collect();
            let len = chunk.len();
            chunks.push((offset, chunk));
            offset += len;
        }
        let requests = chunks.len();
        let outcomes: Vec<(usize, Vec<Upsert<M>>, Result<()>)> = stream::iter(chunks)
            .map(|(offset, chunk)| async move {
                let r = self.upsert_slice(&chunk).await;
                (offset, chunk, r)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut failures: Vec<ChunkFailure<M>> = outcomes
            .into_iter()
            .filter_map(|(offset, items, r)| {
                r.err().map(|error| ChunkFailure {
                    offset,
                    items,
                    error,
                })
            })
            .collect();
        failures.sort_by_key(|f| f.offset);
        let failed: usize = failures.iter().map(|f| f.items.len()).sum();
        Ok(ChunkedUpsert {
            requests,
            upserted: offset - failed,
            failures,
        })
    }

    async fn upsert_slice(&self, items: &[Upsert<M>]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut with_vec = 0;
        for it in items {
            check_id(&it.id)?;
            if let Some(s) = &it.sparse_vector {
                s.validate().map_err(|m| Error::InvalidInput(m.into()))?;
            }
            if it.has_vector() {
                with_vec += 1;
            } else if it.data.is_none() {
                return Err(Error::InvalidInput(
                    "a record has neither a vector nor data".into(),
                ));
            }
        }
        let cmd = if with_vec == items.len() {
            "upsert"
        } else if with_vec == 0 {
            "upsert-data"
        } else {
            return Err(Error::InvalidInput(
                "records with vectors and records with only data cannot be mixed in one upsert"
                    .into(),
            ));
        };
        let _: serde_json::Value = self.post(self.path(cmd), &items, true).await?;
        Ok(())
    }

    /// Upserts text records embedded by the index's model (`upsert-data`).
    pub async fn upsert_data<I, S, D>(&self, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (S, D, Option<M>)>,
        S: Into<String>,
        D: Into<String>,
    {
        let items: Vec<Upsert<M>> = items
            .into_iter()
            .map(|(id, d, m)| {
                let mut u = Upsert::data(id, d);
                u.metadata = m;
                u
            })
            .collect();
        self.upsert(items).await
    }

    /// Runs one query. A query with `data` goes to `query-data`.
    pub async fn query(&self, query: Query) -> Result<Vec<QueryResult<M>>> {
        let cmd = if query.data.is_some() {
            "query-data"
        } else {
            "query"
        };
        self.post(self.path(cmd), &query, true).await
    }

    /// Runs several queries in one request; always one result list per query. All queries
    /// must be of the same kind (all with `data`, or none).
    pub async fn query_many(&self, queries: Vec<Query>) -> Result<Vec<Vec<QueryResult<M>>>> {
        match queries.len() {
            0 => Ok(Vec::new()),
            // The server answers a one-element batch with a flat list.
            1 => {
                let q = queries.into_iter().next().unwrap_or_default();
                Ok(vec![self.query(q).await?])
            }
            _ => {
                let data = queries.iter().filter(|q| q.data.is_some()).count();
                let cmd = if data == queries.len() {
                    "query-data"
                } else if data == 0 {
                    "query"
                } else {
                    return Err(Error::InvalidInput(
                        "data queries and vector queries cannot be mixed in one batch".into(),
                    ));
                };
                self.post(self.path(cmd), &queries, true).await
            }
        }
    }

    /// Fetches records by id; `None` for ids that do not exist, in the order of `ids`.
    pub async fn fetch<I, S>(&self, ids: I, include: Include) -> Result<Vec<Option<Vector<M>>>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        let body = FetchBody {
            ids: Some(&ids),
            prefix: None,
            include,
        };
        self.post(self.path("fetch"), &body, true).await
    }

    /// Fetches the records whose id starts with `prefix` (at most 1000).
    pub async fn fetch_prefix(&self, prefix: &str, include: Include) -> Result<Vec<Vector<M>>> {
        let body = FetchBody {
            ids: None,
            prefix: Some(prefix),
            include,
        };
        let found: Vec<Option<Vector<M>>> = self.post(self.path("fetch"), &body, true).await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// A random record, or `None` when the namespace is empty.
    pub async fn random(&self) -> Result<Option<Vector<M>>> {
        self.call(
            Request::new(upstash_core::http::Method::POST, self.path("random")).idempotent(true),
        )
        .await
    }

    /// One page of records in insertion order.
    pub async fn range(&self, range: &Range) -> Result<RangePage<M>> {
        if range.limit == 0 {
            return Err(Error::InvalidInput("range limit must be positive".into()));
        }
        let body = RangeBody {
            cursor: &range.cursor,
            limit: range.limit,
            prefix: range.prefix.as_deref(),
            include: range.include,
        };
        self.post(self.path("range"), &body, true).await
    }

    /// Every record from `range.cursor` on, fetching pages of `range.limit` as the stream is
    /// consumed.
    pub fn range_stream(
        &self,
        range: Range,
    ) -> impl Stream<Item = Result<Vector<M>>> + Send + 'static
    where
        M: Send + 'static,
    {
        let index = self.clone();
        stream::try_unfold(Some(range), move |state| {
            let index = index.clone();
            async move {
                let Some(range) = state else {
                    return Ok::<_, Error>(None);
                };
                let page = index.range(&range).await?;
                let next =
                    (!page.next_cursor.is_empty()).then(|| range.clone().cursor(page.next_cursor));
                Ok(Some((stream::iter(page.vectors.into_iter().map(Ok)), next)))
            }
        })
        .try_flatten()
    }

    /// Updates one record; returns whether it existed.
    pub async fn update(&self, update: Update<M>) -> Result<bool> {
        check_id(&update.id)?;
        let u: Updated = self.post(self.path("update"), &update, false).await?;
        Ok(u.updated > 0)
    }

    /// Starts a resumable query: the first `top_k` hits and a handle to fetch more.
    /// `max_idle` bounds how long the server keeps it between calls (default 1 h).
    pub async fn resumable_query(
        &self,
        query: Query,
        max_idle: Option<Duration>,
    ) -> Result<(Vec<QueryResult<M>>, ResumableQuery<M>)> {
        let cmd = if query.data.is_some() {
            "resumable-query-data"
        } else {
            "resumable-query"
        };
        let mut body = serde_json::to_value(&query)
            .map_err(|e| Error::InvalidInput(format!("cannot serialise the query: {e}")))?;
        if let (Some(idle), Some(obj)) = (max_idle, body.as_object_mut()) {
            obj.insert("maxIdle".into(), idle.as_secs().into());
        }
        let start: ResumableStart<M> = self.post(self.path(cmd), &body, false).await?;
        let handle = ResumableQuery {
            index: self.clone(),
            stopped: start.uuid.is_empty(),
            uuid: start.uuid,
        };
        Ok((start.scores, handle))
    }
}

/// A server-side query cursor from [`Index::resumable_query`]. Call [`ResumableQuery::stop`]
/// when done; dropping it unstopped ends it in the background when a tokio runtime is running.
pub struct ResumableQuery<M = serde_json::Value> {
    index: Index<M>,
    uuid: String,
    stopped: bool,
}

impl<M> fmt::Debug for ResumableQuery<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResumableQuery")
            .field("uuid", &self.uuid)
            .field("stopped", &self.stopped)
            .finish()
    }
}

impl<M: DeserializeOwned> ResumableQuery<M> {
    /// The server's id of the query (`""` when the namespace did not exist).
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// The next `k` hits (empty when exhausted or when the query never started).
    pub async fn next(&mut self, k: u32) -> Result<Vec<QueryResult<M>>> {
        if self.uuid.is_empty() {
            return Ok(Vec::new());
        }
        if self.stopped {
            return Err(Error::ResumableStopped);
        }
        let v = self.index.resumable_next_raw(&self.uuid, k).await?;
        serde_json::from_value(v).map_err(|e| Error::Decode {
            message: e.to_string(),
            body_snippet: String::new(),
        })
    }

    /// Ends the query on the server.
    pub async fn stop(mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        self.index.resumable_end_raw(&self.uuid).await
    }
}

impl<M> Drop for ResumableQuery<M> {
    fn drop(&mut self) {
        if self.stopped || self.uuid.is_empty() {
            return;
        }
        let index: Index<()> = self.index.with_metadata();
        let uuid = std::mem::take(&mut self.uuid);
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move {
                    let _ = index.resumable_end_raw(&uuid).await;
                });
            }
            Err(_) => {
                tracing::warn!("resumable query dropped without stop(); it expires after maxIdle")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::field;
    use crate::types::*;
    use bytes::Bytes;
    use serde_json::json;
    use upstash_core::http::{HeaderMap, StatusCode};

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).expect("status"),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    fn body(r: &Request) -> serde_json::Value {
        serde_json::from_slice(&r.body).expect("json body")
    }

    #[test]
    fn paths_encode_namespaces() {
        assert_eq!(command_path("query", None), "/query");
        assert_eq!(command_path("query", Some("")), "/query");
        assert_eq!(command_path("query", Some("ns")), "/query/ns");
        assert_eq!(command_path("fetch", Some("a b/c?")), "/fetch/a%20b%2Fc%3F");
    }

    #[test]
    fn query_body_is_camel_case_without_unset_fields() {
        let q = Query::vector(vec![0.1, 0.2])
            .top_k(3)
            .include_metadata(true)
            .filter(field("a").eq("x"))
            .fusion_algorithm(FusionAlgorithm::Dbsf)
            .weighting_strategy(WeightingStrategy::Idf)
            .query_mode(QueryMode::Sparse);
        let r = json_request(command_path("query", Some("ns")), &q, true).expect("req");
        assert_eq!(r.path, "/query/ns");
        assert!(r.idempotent);
        assert_eq!(
            body(&r),
            json!({"vector": [0.1, 0.2], "topK": 3, "includeMetadata": true, "filter": "a = 'x'",
                   "fusionAlgorithm": "DBSF", "weightingStrategy": "IDF", "queryMode": "SPARSE"})
        );
        // f32 stays f32 on the wire.
        assert!(
            String::from_utf8_lossy(&r.body).contains("0.1,0.2"),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let q = Query::hybrid(vec![1.0], SparseVector::new(vec![1, 5], vec![0.5, 0.25]));
        let r = json_request("/query".into(), &q, true).expect("req");
        assert_eq!(
            body(&r),
            json!({"vector": [1.0], "sparseVector": {"indices": [1, 5], "values": [0.5, 0.25]}})
        );
    }

    #[test]
    fn upsert_and_update_bodies() {
        let items = vec![
            Upsert::dense("a", vec![1.0, 2.0]).with_metadata(json!({"k": 1})),
            Upsert::sparse("b", SparseVector::new(vec![3], vec![1.5])).with_data("txt"),
        ];
        let r = json_request("/upsert".into(), &items, true).expect("req");
        assert_eq!(
            body(&r),
            json!([{"id": "a", "vector": [1.0, 2.0], "metadata": {"k": 1}},
                   {"id": "b", "sparseVector": {"indices": [3], "values": [1.5]}, "data": "txt"}])
        );
        let u: Update = Update::new("a").patch_metadata(json!({"k": null}));
        let r = json_request("/update".into(), &u, false).expect("req");
        assert_eq!(
            body(&r),
            json!({"id": "a", "metadata": {"k": null}, "metadataUpdateMode": "PATCH"})
        );
        let range = RangeBody {
            cursor: "0",
            limit: 5,
            prefix: Some("p"),
            include: Include::metadata(),
        };
        let r = json_request("/range".into(), &range, true).expect("req");
        assert_eq!(
            body(&r),
            json!({"cursor": "0", "limit": 5, "prefix": "p", "includeMetadata": true})
        );
    }

    #[test]
    fn decodes_results_and_errors() {
        let v: Vec<QueryResult> = decode(&resp(
            200,
            r#"{"result":[{"id":"a","score":0.5,"metadata":{"x":1}},{"id":"b","score":0.25}]}"#,
        ))
        .expect("ok");
        assert_eq!(v[0].metadata, Some(json!({"x": 1})));
        assert_eq!(v[1].metadata, None);
        let r: Option<Vector> = decode(&resp(200, r#"{"result":null}"#)).expect("ok");
        assert!(r.is_none());
        let f: Vec<Option<Vector>> =
            decode(&resp(200, r#"{"result":[null,{"id":"x","vector":[0.1]}]}"#)).expect("ok");
        assert_eq!(
            f[1].as_ref().and_then(|v| v.vector.clone()),
            Some(vec![0.1])
        );
        let p: RangePage =
            decode(&resp(200, r#"{"result":{"nextCursor":5,"vectors":[]}}"#)).expect("ok");
        assert_eq!(p.next_cursor, "5");
        let e = decode::<serde_json::Value>(&resp(
            422,
            r#"{"error":"Invalid vector dimension: 2, expected: 3","status":422}"#,
        ))
        .expect_err("err");
        assert!(e.is_dimension_mismatch());
        let e = decode::<serde_json::Value>(&resp(
            401,
            r#"{"error":"Unauthorized: Invalid auth token","status":401}"#,
        ))
        .expect_err("err");
        assert!(e.is_unauthorized());
        let e =
            decode::<serde_json::Value>(&resp(502, "<html>bad gateway</html>")).expect_err("err");
        assert_eq!(e.status(), Some(502));
        let e = decode::<Vec<QueryResult>>(&resp(200, "<html>")).expect_err("err");
        assert!(matches!(e, Error::Decode { .. }));
        let info: Info = decode(&resp(
            200,
            r#"{"result":{"vectorCount":3,"pendingVectorCount":0,"indexSize":10,"dimension":2,
              "similarityFunction":"COSINE","indexType":"DENSE",
              "denseIndex":{"dimension":2,"similarityFunction":"COSINE","embeddingModel":""},
              "namespaces":{"":{"vectorCount":1,"pendingVectorCount":0},"ns":{"vectorCount":2,"pendingVectorCount":0}}}}"#,
        ))
        .expect("info");
        assert_eq!(info.namespaces.len(), 2);
        assert_eq!(info.similarity_function, Some(SimilarityFunction::Cosine));
        let unknown: SimilarityFunction = serde_json::from_str("\"HAMMING\"").expect("other");
        assert_eq!(unknown, SimilarityFunction::Unknown);
    }

    #[test]
    fn debug_hides_token() {
        let idx = Index::new("http://127.0.0.1:1", "secret-token-123").expect("index");
        assert!(!format!("{idx:?}").contains("secret-token-123"));
        assert!(Index::new("http://127.0.0.1:1", "bad token").is_err());
    }

    #[tokio::test]
    async fn client_side_validation() {
        let idx = Index::new("http://127.0.0.1:9", "t").expect("index");
        let mixed = vec![Upsert::dense("a", vec![1.0]), Upsert::data("b", "text")];
        assert!(matches!(
            idx.upsert(mixed).await,
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            idx.upsert([Upsert::dense("", vec![1.0])]).await,
            Err(Error::InvalidInput(_))
        ));
        let bad = SparseVector::new(vec![1, 2], vec![1.0]);
        assert!(matches!(
            idx.upsert([Upsert::sparse("a", bad)]).await,
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            idx.range(&Range::new(0)).await,
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            idx.delete_namespace("").await,
            Err(Error::InvalidInput(_))
        ));
    }
}

/// What [`Index::upsert_chunked`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct ChunkedUpsert<M = serde_json::Value> {
    /// Requests sent (one per chunk).
    pub requests: usize,
    /// Records in the chunks that succeeded.
    pub upserted: usize,
    /// The chunks that failed, in input order.
    pub failures: Vec<ChunkFailure<M>>,
}

/// One chunk that [`Index::upsert_chunked`] could not upsert.
#[derive(Debug)]
#[non_exhaustive]
pub struct ChunkFailure<M = serde_json::Value> {
    /// Position of the chunk's first record in the input.
    pub offset: usize,
    /// The chunk's records, to retry.
    pub items: Vec<Upsert<M>>,
    /// Why the request failed.
    pub error: Error,
}

impl<M> ChunkedUpsert<M> {
    /// The chunks that failed, in input order.
    pub fn failures(&self) -> &[ChunkFailure<M>] {
        &self.failures
    }

    /// Whether every chunk succeeded.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }

    /// The number of records upserted, or the error of the first failed chunk.
    pub fn into_result(self) -> Result<usize> {
        match self.failures.into_iter().next() {
            Some(f) => Err(f.error),
            None => Ok(self.upserted),
        }
    }
}
