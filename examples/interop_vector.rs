//! The Rust half of the Vector interop check (`tests/interop/vector.mjs` drives it).
//!
//! Runs one operation of `upstash-vector` against the index named by `UPSTASH_VECTOR_REST_URL`
//! / `UPSTASH_VECTOR_REST_TOKEN` (an `upstash-local` in CI) and prints its result as one JSON
//! value, so that a driver can compare it with what `@upstash/vector` sees on the same index.
//!
//! ```text
//! eval "$(upstash-local)"   # or any Upstash Vector index
//! cargo run --example interop_vector -- upsert my-ns 20
//! cargo run --example interop_vector -- query my-ns 3 5 "group = 'red'"
//! ```
//!
//! Operations (`NS` is a namespace; `-` means the default one):
//! - `upsert NS COUNT [PREFIX]`: upserts ids `PREFIX0..` (default `r`) with [`item_vector`] and
//!   [`item_metadata`]; prints `"Success"`
//! - `query NS SEED TOP_K [FILTER]`: queries with `item_vector(SEED)`, metadata and vectors
//!   included; prints `[{id, score, metadata, vector}]`
//! - `fetch NS ID,ID,..`: prints `[null | {id, metadata, vector}]`
//! - `range NS LIMIT`: pages through the namespace; prints `[{cursor, nextCursor, ids}]`
//! - `delete NS ID,ID,..` and `delete-filter NS FILTER`: print the number deleted
//! - `info`: prints `{vectorCount, dimension, similarityFunction, namespaces: {ns: count}}`
//! - `namespaces`: prints the namespace names
//!
//! Errors go to stderr and the exit status is non-zero.

use std::error::Error as StdError;
use std::process::ExitCode;

use serde_json::{json, Value};
use upstash_vector::{Include, Index, Query, Range, Upsert};

type BoxError = Box<dyn StdError + Send + Sync>;

/// Item `i`'s vector: values that are exact in f32 (multiples of 1/128), so both SDKs send
/// the same numbers.
fn item_vector(i: u64, dim: usize) -> Vec<f32> {
    (0..dim as u64)
        .map(|j| ((i * 131 + j * 17 + 7) % 257) as f32 / 128.0 - 1.0)
        .collect()
}

/// Item `i`'s metadata (the driver builds the same objects): every fifth item has no
/// `price`, every seventh has `price: null`.
fn item_metadata(i: u64) -> Value {
    let group = ["red", "green", "blue"][(i % 3) as usize];
    let mut m = json!({
        "i": i,
        "group": group,
        "name": format!("item-{i}"),
        "tags": [format!("t{}", i % 4), "all"],
        "nested": {"even": i % 2 == 0},
    });
    if i % 5 != 0 {
        m["price"] = if i % 7 == 0 {
            Value::Null
        } else {
            json!(i as f64 * 1.5)
        };
    }
    m
}

fn arg<'a>(args: &'a [String], i: usize, what: &str) -> Result<&'a str, BoxError> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| format!("missing argument {i}: {what}").into())
}

fn ids(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn run(args: &[String]) -> Result<Value, BoxError> {
    let root = Index::from_env()?;
    let op = arg(args, 0, "operation")?;
    let index = match args.get(1).map(String::as_str) {
        Some("-") | None => root.clone(),
        Some(ns) => root.namespace(ns),
    };
    let out = match op {
        "upsert" => {
            let count: u64 = arg(args, 2, "count")?.parse()?;
            let prefix = args.get(3).map_or("r", String::as_str);
            let dim = root.info().await?.dimension as usize;
            let items: Vec<Upsert> = (0..count)
                .map(|i| {
                    Upsert::dense(format!("{prefix}{i}"), item_vector(i, dim))
                        .with_metadata(item_metadata(i))
                })
                .collect();
            index.upsert(items).await?;
            json!("Success")
        }
        "query" => {
            let seed: u64 = arg(args, 2, "seed")?.parse()?;
            let k: u32 = arg(args, 3, "top k")?.parse()?;
            let dim = root.info().await?.dimension as usize;
            let mut q = Query::vector(item_vector(seed, dim))
                .top_k(k)
                .include_metadata(true)
                .include_vectors(true);
            if let Some(f) = args.get(4) {
                q = q.filter(f.as_str());
            }
            let hits = index.query(q).await?;
            Value::Array(
                hits.into_iter()
                    .map(|h| json!({"id": h.id, "score": h.score, "metadata": h.metadata, "vector": h.vector}))
                    .collect(),
            )
        }
        "fetch" => {
            let found = index
                .fetch(ids(arg(args, 2, "ids")?), Include::all())
                .await?;
            Value::Array(
                found
                    .into_iter()
                    .map(|v| {
                        v.map_or(
                            Value::Null,
                            |v| json!({"id": v.id, "metadata": v.metadata, "vector": v.vector}),
                        )
                    })
                    .collect(),
            )
        }
        "range" => {
            let limit: u32 = arg(args, 2, "limit")?.parse()?;
            let mut pages = Vec::new();
            let mut cursor = "0".to_owned();
            loop {
                let page = index
                    .range(&Range::new(limit).cursor(cursor.clone()))
                    .await?;
                let page_ids: Vec<&str> = page.vectors.iter().map(|v| v.id.as_str()).collect();
                pages.push(
                    json!({"cursor": cursor, "nextCursor": page.next_cursor, "ids": page_ids}),
                );
                if page.next_cursor.is_empty() || pages.len() > 10_000 {
                    break;
                }
                cursor = page.next_cursor;
            }
            Value::Array(pages)
        }
        "delete" => json!(index.delete(ids(arg(args, 2, "ids")?)).await?),
        "delete-filter" => json!(index.delete_filter(arg(args, 2, "filter")?).await?),
        "info" => {
            let info = root.info().await?;
            let namespaces: serde_json::Map<String, Value> = info
                .namespaces
                .iter()
                .map(|(k, v)| (k.clone(), json!(v.vector_count)))
                .collect();
            json!({
                "vectorCount": info.vector_count,
                "dimension": info.dimension,
                "similarityFunction": info.similarity_function.map(|s| s.as_str()),
                "namespaces": namespaces,
            })
        }
        "namespaces" => json!(root.list_namespaces().await?),
        other => return Err(format!("unknown operation {other:?}").into()),
    };
    Ok(out)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
