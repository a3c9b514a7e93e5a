//! End-to-end tests of the Vector client against upstash-local's Vector service: every
//! endpoint, score formulas per metric, the filter language, namespaces, range paging,
//! validation errors and persistence across a restart.
//!
//! One stack with several indexes serves the whole binary; each test uses its own namespace.

use std::sync::OnceLock;

use futures_util::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use upstash_local::{testing, Config, LocalStack, Metric, VectorIndexConfig};
use upstash_vector::filter::field;
use upstash_vector::{
    Error, FusionAlgorithm, Include, Index, IndexType, Query, QueryMode, Range, SimilarityFunction,
    SparseVector, Update, Upsert, WeightingStrategy,
};

fn indexes() -> Vec<VectorIndexConfig> {
    vec![
        VectorIndexConfig::dense("cos", 2, Metric::Cosine),
        VectorIndexConfig::dense("euc", 2, Metric::Euclidean),
        VectorIndexConfig::dense("dot", 2, Metric::DotProduct),
        VectorIndexConfig::sparse("sparse"),
        VectorIndexConfig::hybrid("hybrid", 2, Metric::Cosine),
        VectorIndexConfig::dense("embed", 32, Metric::Cosine)
            .with_models(Some("BGE_SMALL_EN_V1_5"), None),
        VectorIndexConfig::hybrid("hyembed", 32, Metric::Cosine)
            .with_models(Some("BGE_M3"), Some("BM25")),
    ]
}

fn stack() -> &'static LocalStack {
    static STACK: OnceLock<LocalStack> = OnceLock::new();
    STACK.get_or_init(|| {
        let mut c = Config::default();
        c.vector.indexes = indexes();
        testing::dedicated(c)
    })
}

fn index_on(stack: &LocalStack, name: &str) -> Index {
    Index::new(
        stack.vector_url(name).expect("index url"),
        stack.vector_token(name).expect("index token"),
    )
    .expect("client")
}

/// A handle on a fresh namespace of index `name`.
fn ns(name: &str, test: &str) -> Index {
    index_on(stack(), name).namespace(&testing::prefix(test))
}

fn approx(a: f32, b: f32) -> bool {
    (a - b).abs() < 1e-5
}

/// The best hit's score for `query` (the namespace holds at least one vector).
async fn top_score(index: &Index, query: Vec<f32>) -> f32 {
    let r = index.query(Query::vector(query)).await.expect("query");
    r[0].score
}

#[tokio::test]
async fn upsert_fetch_delete_roundtrip() {
    let idx = ns("cos", "roundtrip");
    idx.upsert([
        Upsert::dense("a", vec![0.1, 0.2]).with_metadata(json!({"k": 1})),
        Upsert::dense("b", vec![0.3, 0.4]).with_data("bee"),
        Upsert::dense("c", vec![0.5, 0.6]),
    ])
    .await
    .expect("upsert");
    let got = idx
        .fetch(["a", "missing", "b"], Include::all())
        .await
        .expect("fetch");
    assert_eq!(got.len(), 3);
    let a = got[0].as_ref().expect("a");
    assert_eq!(
        a.vector.as_deref(),
        Some(&[0.1f32, 0.2][..]),
        "f32 round trip"
    );
    assert_eq!(a.metadata, Some(json!({"k": 1})));
    assert!(got[1].is_none());
    assert_eq!(
        got[2].as_ref().and_then(|b| b.data.clone()),
        Some("bee".into())
    );
    // Without includes only ids come back.
    let bare = idx.fetch(["a"], Include::none()).await.expect("fetch");
    let bare = bare[0].as_ref().expect("a");
    assert!(bare.vector.is_none() && bare.metadata.is_none());
    // Upsert replaces the whole record.
    idx.upsert([Upsert::dense("a", vec![1.0, 0.0])])
        .await
        .expect("upsert");
    let a = idx.fetch(["a"], Include::all()).await.expect("fetch");
    assert_eq!(a[0].as_ref().and_then(|v| v.metadata.clone()), None);
    // Prefix fetch and delete.
    idx.upsert([
        Upsert::dense("p:1", vec![1.0, 1.0]),
        Upsert::dense("p:2", vec![1.0, 1.0]),
    ])
    .await
    .expect("upsert");
    let p = idx
        .fetch_prefix("p:", Include::none())
        .await
        .expect("prefix");
    assert_eq!(
        p.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["p:1", "p:2"]
    );
    assert_eq!(idx.delete_prefix("p:").await.expect("delete"), 2);
    assert_eq!(idx.delete(["a", "b"]).await.expect("delete"), 2);
    assert_eq!(idx.delete(["a", "b"]).await.expect("delete"), 0);
    idx.upsert([
        Upsert::dense("f1", vec![1.0, 1.0]).with_metadata(json!({"drop": true})),
        Upsert::dense("f2", vec![1.0, 1.0]).with_metadata(json!({"drop": false})),
    ])
    .await
    .expect("upsert");
    assert_eq!(
        idx.delete_filter(field("drop").eq(true))
            .await
            .expect("delete"),
        1
    );
    let left = idx.fetch_prefix("", Include::none()).await.expect("prefix");
    assert_eq!(
        left.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["c", "f2"]
    );
}

#[tokio::test]
async fn score_formulas_per_metric() {
    let cos = ns("cos", "scores");
    cos.upsert([
        Upsert::dense("same", vec![1.0, 0.0]),
        Upsert::dense("ortho", vec![0.0, 1.0]),
        Upsert::dense("opposite", vec![-1.0, 0.0]),
    ])
    .await
    .expect("upsert");
    let r = cos
        .query(Query::vector(vec![1.0, 0.0]).top_k(3))
        .await
        .expect("query");
    let got: Vec<(&str, f32)> = r.iter().map(|h| (h.id.as_str(), h.score)).collect();
    assert_eq!(got, vec![("same", 1.0), ("ortho", 0.5), ("opposite", 0.0)]);

    let euc = ns("euc", "scores");
    euc.upsert([Upsert::dense("p", vec![3.0, 4.0])])
        .await
        .expect("upsert");
    let score = top_score(&euc, vec![0.0, 0.0]).await;
    assert!(approx(score, 1.0 / 26.0), "{score}");

    let dot = ns("dot", "scores");
    dot.upsert([Upsert::dense("p", vec![0.8, 0.6])])
        .await
        .expect("upsert");
    let score = top_score(&dot, vec![0.6, 0.8]).await;
    assert!(approx(score, 0.98), "{score}");

    // Ties keep insertion order.
    let ties = ns("cos", "ties");
    ties.upsert((0..5).map(|i| Upsert::dense(format!("t{i}"), vec![2.0, 2.0])))
        .await
        .expect("upsert");
    let r = ties
        .query(Query::vector(vec![1.0, 1.0]).top_k(5))
        .await
        .expect("query");
    let ids: Vec<&str> = r.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["t0", "t1", "t2", "t3", "t4"]);
}

#[tokio::test]
async fn query_options_batches_and_includes() {
    let idx = ns("cos", "batch");
    idx.upsert([
        Upsert::dense("x", vec![1.0, 0.0])
            .with_metadata(json!({"n": 1}))
            .with_data("dx"),
        Upsert::dense("y", vec![0.0, 1.0]).with_metadata(json!({"n": 2})),
    ])
    .await
    .expect("upsert");
    let r = idx
        .query(
            Query::vector(vec![1.0, 0.1])
                .top_k(1)
                .include_metadata(true)
                .include_vectors(true)
                .include_data(true),
        )
        .await
        .expect("query");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].id, "x");
    assert_eq!(r[0].metadata, Some(json!({"n": 1})));
    assert_eq!(r[0].vector.as_deref(), Some(&[1.0f32, 0.0][..]));
    assert_eq!(r[0].data.as_deref(), Some("dx"));
    let many = idx
        .query_many(vec![
            Query::vector(vec![1.0, 0.0]).top_k(1),
            Query::vector(vec![0.0, 1.0]).top_k(1),
        ])
        .await
        .expect("batch");
    assert_eq!(many.len(), 2);
    assert_eq!((many[0][0].id.as_str(), many[1][0].id.as_str()), ("x", "y"));
    let one = idx
        .query_many(vec![Query::vector(vec![0.0, 1.0]).top_k(2)])
        .await
        .expect("single batch");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].len(), 2);
    // A one-element batch on the wire is answered with a flat list.
    let raw = reqwest::Client::new()
        .post(format!(
            "{}/query/{}",
            stack().vector_url("cos").expect("url"),
            idx.namespace_name().replace(':', "%3A")
        ))
        .bearer_auth(stack().vector_token("cos").expect("token"))
        .body(r#"[{"vector":[1,0],"topK":1}]"#)
        .send()
        .await
        .expect("send");
    let v: Value = raw
        .bytes()
        .await
        .map(|b| serde_json::from_slice::<Value>(&b).expect("json"))
        .expect("body");
    assert_eq!(v["result"][0]["id"], "x");
    // Unknown namespace: empty.
    let none = index_on(stack(), "cos").namespace("never-created-ns");
    assert!(none
        .query(Query::vector(vec![1.0, 0.0]))
        .await
        .expect("q")
        .is_empty());
}

/// Metadata of the filter dataset.
fn dataset() -> Vec<(&'static str, Value)> {
    vec![
        (
            "ist",
            json!({"city": "Istanbul", "country": "Turkey", "pop": 15460000, "lat": 41.0082,
            "capital": false, "tags": ["old", "big"], "geo": {"continent": "Asia"}, "code": null,
            "quote": "City's \"best\""}),
        ),
        (
            "ank",
            json!({"city": "Ankara", "country": "Turkey", "pop": 5663000, "lat": 39.93,
            "capital": true, "tags": ["capital"], "geo": {"continent": "Asia"}}),
        ),
        (
            "ber",
            json!({"city": "Berlin", "country": "Germany", "pop": 3645000, "lat": 52.52,
            "capital": true, "tags": ["capital", "big"], "geo": {"continent": "Europe"}}),
        ),
        (
            "tiny",
            json!({"city": "Hum", "pop": 30, "tags": [], "geo": {}}),
        ),
        ("bare", json!({})),
    ]
}

#[tokio::test]
async fn filter_language_end_to_end() {
    let idx = ns("cos", "filters");
    idx.upsert(
        dataset()
            .into_iter()
            .map(|(id, m)| Upsert::dense(id, vec![1.0, 0.5]).with_metadata(m)),
    )
    .await
    .expect("upsert");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("country = 'Turkey'", vec!["ist", "ank"]),
        ("country != 'Turkey'", vec!["ber"]),
        ("pop > 5000000", vec!["ist", "ank"]),
        ("pop >= 3645000 AND pop < 6000000", vec!["ank", "ber"]),
        ("pop <= 30", vec!["tiny"]),
        ("lat = 41.0082", vec!["ist"]),
        ("capital = true", vec!["ank", "ber"]),
        ("capital != TRUE", vec!["ist"]),
        ("city GLOB 'A*'", vec!["ank"]),
        ("city GLOB '?er*'", vec!["ber"]),
        ("city GLOB '[A-C]*'", vec!["ank", "ber"]),
        ("city GLOB '[^A-C]*'", vec!["ist", "tiny"]),
        ("city NOT GLOB '*n*'", vec!["tiny"]),
        ("country IN ('Germany', 'France')", vec!["ber"]),
        ("country NOT IN ('Germany')", vec!["ist", "ank"]),
        ("tags CONTAINS 'big'", vec!["ist", "ber"]),
        ("tags NOT CONTAINS 'big'", vec!["ank", "tiny"]),
        ("HAS FIELD code", vec!["ist"]),
        ("HAS NOT FIELD country", vec!["tiny", "bare"]),
        ("HAS FIELD geo.continent", vec!["ist", "ank", "ber"]),
        ("geo.continent = 'Europe'", vec!["ber"]),
        ("tags[0] = 'capital'", vec!["ank", "ber"]),
        ("tags[#-1] = 'big'", vec!["ist", "ber"]),
        (
            "country = 'Turkey' AND capital = true OR city = 'Berlin'",
            vec!["ank", "ber"],
        ),
        (
            "country = 'Turkey' AND (capital = true OR city = 'Berlin')",
            vec!["ank"],
        ),
        ("quote = 'City\\'s \"best\"'", vec!["ist"]),
        ("CITY = 'Berlin' or city = 'Hum'", vec!["tiny"]),
        ("", vec!["ist", "ank", "ber", "tiny", "bare"]),
    ];
    for (f, want) in cases {
        let r = idx
            .query(Query::vector(vec![1.0, 0.5]).top_k(10).filter(f))
            .await
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        let ids: Vec<&str> = r.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, want, "filter {f}");
    }
    // The builder produces the same answers.
    let built = field("country")
        .eq("Turkey")
        .and(field("pop").gt(10_000_000));
    let r = idx
        .query(Query::vector(vec![1.0, 0.5]).filter(built))
        .await
        .expect("query");
    assert_eq!(r.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["ist"]);
    // Syntax errors: 400 with a position.
    for (f, pos) in [
        ("tags[] = 'x'", 5),
        ("tags[ = 'x'", 4),
        (".invalidPath = 1", 0),
        ("country = ", 10),
        ("country IN ()", 12),
    ] {
        let e = idx
            .query(Query::vector(vec![1.0, 0.5]).filter(f))
            .await
            .expect_err(f);
        assert_eq!(e.status(), Some(400), "{f}");
        assert!(
            e.to_string().contains(&format!("position {pos}")),
            "{f}: {e}"
        );
    }
}

#[tokio::test]
async fn range_paging_and_stream() {
    let idx = ns("cos", "range");
    // Inserted in an order that differs from the lexicographic one.
    let ids: Vec<String> = (0..20).map(|i| format!("id-{i}")).collect();
    idx.upsert(
        ids.iter()
            .map(|id| Upsert::dense(id.clone(), vec![1.0, 1.0])),
    )
    .await
    .expect("upsert");
    let p1 = idx.range(&Range::new(4)).await.expect("page");
    assert_eq!(
        p1.vectors.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["id-0", "id-1", "id-2", "id-3"]
    );
    assert_eq!(p1.next_cursor, "4");
    let p2 = idx
        .range(&Range::new(8).cursor(p1.next_cursor.clone()))
        .await
        .expect("page");
    assert_eq!(p2.vectors.len(), 8);
    assert_eq!(p2.vectors[0].id, "id-4");
    let p3 = idx
        .range(&Range::new(8).cursor(p2.next_cursor.clone()))
        .await
        .expect("page");
    assert_eq!(p3.vectors.len(), 8);
    assert_eq!(p3.next_cursor, "", "exactly full last page ends the range");
    let all: Vec<String> = idx
        .range_stream(Range::new(3))
        .map_ok(|v| v.id)
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(all, ids);
    let pre = idx
        .range(&Range::new(5).prefix("id-1"))
        .await
        .expect("prefix page");
    assert_eq!(pre.vectors.len(), 5);
    assert_eq!(pre.vectors[0].id, "id-1");
    assert_eq!(pre.vectors[1].id, "id-10");
    // After a reset the positions start again.
    idx.reset().await.expect("reset");
    idx.upsert((0..7).map(|i| Upsert::dense(format!("r{i}"), vec![1.0, 0.0])))
        .await
        .expect("upsert");
    let p = idx.range(&Range::new(5)).await.expect("page");
    assert_eq!(p.next_cursor, "5");
    assert!(matches!(
        idx.range(&Range::new(0)).await,
        Err(Error::InvalidInput(_))
    ));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Movie {
    title: String,
    year: u32,
}

#[tokio::test]
async fn typed_metadata_update_and_random() {
    let idx: Index<Movie> = ns("cos", "typed").with_metadata();
    idx.upsert([Upsert::dense("m", vec![1.0, 0.0]).with_metadata(Movie {
        title: "Alien".into(),
        year: 1979,
    })])
    .await
    .expect("upsert");
    let hits = idx
        .query(Query::vector(vec![1.0, 0.0]).include_metadata(true))
        .await
        .expect("query");
    assert_eq!(hits[0].metadata.as_ref().map(|m| m.year), Some(1979));
    assert!(idx
        .update(Update::new("m").metadata(Movie {
            title: "Aliens".into(),
            year: 1986
        }))
        .await
        .expect("update"));
    assert!(!idx
        .update(Update::new("nope").vector(vec![0.0, 1.0]))
        .await
        .expect("update"));
    assert!(idx
        .update(Update::new("m").vector(vec![0.0, 1.0]))
        .await
        .expect("update"));
    let f = idx.fetch(["m"], Include::all()).await.expect("fetch");
    let m = f[0].as_ref().expect("m");
    assert_eq!(m.vector.as_deref(), Some(&[0.0f32, 1.0][..]));
    assert_eq!(
        m.metadata.as_ref().map(|m| m.title.as_str()),
        Some("Aliens")
    );
    // PATCH as in the Python SDK's test.
    let raw = idx.with_metadata::<Value>();
    raw.upsert([
        Upsert::dense("p", vec![1.0, 0.0]).with_metadata(json!({"field": "v", "field2": "w"}))
    ])
    .await
    .expect("upsert");
    raw.update(Update::new("p").patch_metadata(json!({"new_field": "new_value", "field2": null})))
        .await
        .expect("patch");
    raw.update(Update::new("p").data("some data"))
        .await
        .expect("data");
    let p = raw.fetch(["p"], Include::all()).await.expect("fetch");
    let p = p[0].as_ref().expect("p");
    assert_eq!(
        p.metadata,
        Some(json!({"field": "v", "new_field": "new_value"}))
    );
    assert_eq!(p.data.as_deref(), Some("some data"));
    let r = raw.random().await.expect("random").expect("some");
    assert!(r.id == "m" || r.id == "p");
    let empty = index_on(stack(), "cos").namespace("never-used-random");
    assert!(empty.random().await.expect("random").is_none());
}

#[tokio::test]
async fn namespaces_are_isolated_and_managed() {
    let base = index_on(stack(), "euc");
    let a = base.namespace(&testing::prefix("ns-a"));
    let b = base.namespace(&testing::prefix("ns-b"));
    a.upsert([Upsert::dense("same-id", vec![1.0, 0.0])])
        .await
        .expect("upsert");
    b.upsert([Upsert::dense("same-id", vec![0.0, 1.0])])
        .await
        .expect("upsert");
    let fa = a.fetch(["same-id"], Include::all()).await.expect("fetch");
    let fb = b.fetch(["same-id"], Include::all()).await.expect("fetch");
    assert_ne!(
        fa[0].as_ref().and_then(|v| v.vector.clone()),
        fb[0].as_ref().and_then(|v| v.vector.clone())
    );
    a.reset().await.expect("reset");
    assert!(a.fetch(["same-id"], Include::none()).await.expect("fetch")[0].is_none());
    assert!(b.fetch(["same-id"], Include::none()).await.expect("fetch")[0].is_some());
    let names = base.list_namespaces().await.expect("list");
    assert!(names.contains(&String::new()));
    assert!(names.contains(&a.namespace_name().to_string()));
    let info = base.info().await.expect("info");
    assert!(info.namespaces.contains_key(b.namespace_name()));
    assert_eq!(
        info.similarity_function,
        Some(SimilarityFunction::Euclidean)
    );
    assert_eq!(info.index_type, Some(IndexType::Dense));
    assert_eq!(info.dimension, 2);
    let renamed = format!("{}-renamed", b.namespace_name());
    assert!(base
        .rename_namespace(b.namespace_name(), &renamed, false)
        .await
        .expect("rename"));
    let moved = base.namespace(&renamed);
    assert!(moved
        .fetch(["same-id"], Include::none())
        .await
        .expect("fetch")[0]
        .is_some());
    base.delete_namespace(&renamed).await.expect("delete ns");
    let e = base.delete_namespace(&renamed).await.expect_err("gone");
    assert!(e.is_not_found(), "{e}");
}

#[tokio::test]
async fn validation_errors() {
    let idx = ns("cos", "validation");
    let e = idx
        .upsert([Upsert::dense("a", vec![1.0, 2.0, 3.0])])
        .await
        .expect_err("dimension");
    assert!(e.is_dimension_mismatch(), "{e}");
    assert_eq!(e.status(), Some(422));
    assert!(e
        .to_string()
        .contains("Invalid vector dimension: 3, expected: 2"));
    let e = idx
        .query(Query::vector(vec![1.0]))
        .await
        .expect_err("dimension");
    assert_eq!(e.status(), Some(422));
    let e = idx
        .upsert([Upsert::data("d", "text")])
        .await
        .expect_err("no model");
    assert!(e.is_embedding_not_allowed(), "{e}");
    let bad = Index::new(stack().vector_url("cos").expect("url"), "wrong-token").expect("client");
    let e = bad.info().await.expect_err("auth");
    assert!(e.is_unauthorized(), "{e}");
}

#[tokio::test]
async fn sparse_and_hybrid() {
    let sp = ns("sparse", "sparse");
    sp.upsert([
        Upsert::sparse("a", SparseVector::new(vec![1, 2], vec![0.5, 1.0])),
        Upsert::sparse("b", SparseVector::new(vec![2, 3], vec![2.0, 1.0])),
        Upsert::sparse("c", SparseVector::new(vec![9], vec![1.0])),
    ])
    .await
    .expect("upsert");
    let r = sp
        .query(Query::sparse(SparseVector::new(vec![1, 2], vec![1.0, 1.0])))
        .await
        .expect("query");
    let got: Vec<(&str, f32)> = r.iter().map(|h| (h.id.as_str(), h.score)).collect();
    assert_eq!(
        got,
        vec![("b", 2.0), ("a", 1.5)],
        "raw inner products, no non-overlap"
    );
    let r = sp
        .query(
            Query::sparse(SparseVector::new(vec![1, 2], vec![1.0, 1.0]))
                .weighting_strategy(WeightingStrategy::Idf),
        )
        .await
        .expect("idf");
    // N = 3; idf(1) = ln((3-1+0.5)/(1+0.5)+1), idf(2) = ln((3-2+0.5)/(2+0.5)+1).
    let idf1 = ((2.5f32 / 1.5) + 1.0).ln();
    let idf2 = ((1.5f32 / 2.5) + 1.0).ln();
    let a = r.iter().find(|h| h.id == "a").expect("a").score;
    assert!(approx(a, 0.5 * idf1 + idf2), "{a}");

    let hy = ns("hybrid", "hybrid");
    let e = hy
        .upsert([Upsert::dense("x", vec![1.0, 0.0])])
        .await
        .expect_err("needs both");
    assert_eq!(e.status(), Some(422));
    hy.upsert([
        Upsert::hybrid("d1", vec![1.0, 0.0], SparseVector::new(vec![7], vec![1.0])),
        Upsert::hybrid("d2", vec![0.0, 1.0], SparseVector::new(vec![8], vec![3.0])),
    ])
    .await
    .expect("upsert");
    let r = hy
        .query(Query::hybrid(
            vec![1.0, 0.0],
            SparseVector::new(vec![7], vec![1.0]),
        ))
        .await
        .expect("hybrid");
    assert_eq!(r[0].id, "d1");
    assert!(
        approx(r[0].score, 1.0 / 61.0 + 1.0 / 61.0),
        "RRF, rank from 1: {}",
        r[0].score
    );
    let r = hy
        .query(
            Query::hybrid(vec![0.0, 1.0], SparseVector::new(vec![8], vec![1.0]))
                .fusion_algorithm(FusionAlgorithm::Dbsf),
        )
        .await
        .expect("dbsf");
    assert_eq!(r[0].id, "d2");
    let dense_only = hy
        .query(Query::vector(vec![1.0, 0.0]))
        .await
        .expect("dense part");
    assert_eq!(dense_only[0].score, 1.0);
    let sparse_only = hy
        .query(Query::sparse(SparseVector::new(vec![8], vec![2.0])))
        .await
        .expect("sparse part");
    assert_eq!(sparse_only[0].score, 6.0);
}

#[tokio::test]
async fn embedding_data_endpoints() {
    let idx = ns("embed", "embed");
    idx.upsert_data([
        ("a", "the quick brown fox", Some(json!({"k": "a"}))),
        ("b", "upstash vector is a vector database", None),
        ("c", "redis is fast", None),
    ])
    .await
    .expect("upsert data");
    let r = idx
        .query(
            Query::data("vector database upstash")
                .top_k(1)
                .include_data(true),
        )
        .await
        .expect("query data");
    assert_eq!(r[0].id, "b");
    assert_eq!(
        r[0].data.as_deref(),
        Some("upstash vector is a vector database")
    );
    let info = index_on(stack(), "embed").info().await.expect("info");
    assert_eq!(
        info.dense_index.map(|d| d.embedding_model),
        Some("BGE_SMALL_EN_V1_5".into())
    );
    let hy = ns("hyembed", "hyembed");
    hy.upsert([
        Upsert::data("x", "Upstash is a serverless data platform"),
        Upsert::data("y", "serverless functions run code"),
    ])
    .await
    .expect("upsert data");
    let r = hy
        .query(Query::data("upstash").query_mode(QueryMode::Sparse))
        .await
        .expect("sparse mode");
    assert_eq!(r.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["x"]);
    let r = hy
        .query(Query::data("serverless platform"))
        .await
        .expect("hybrid mode");
    assert_eq!(r[0].id, "x");
}

#[tokio::test]
async fn resumable_query() {
    let idx = ns("cos", "resumable");
    idx.upsert((0..10).map(|i| Upsert::dense(format!("r{i}"), vec![1.0, i as f32 / 10.0])))
        .await
        .expect("upsert");
    let (first, mut rq) = idx
        .resumable_query(Query::vector(vec![1.0, 0.0]).top_k(3), None)
        .await
        .expect("start");
    assert_eq!(
        first.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["r0", "r1", "r2"]
    );
    let next = rq.next(4).await.expect("next");
    assert_eq!(
        next.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["r3", "r4", "r5", "r6"]
    );
    let uuid = rq.uuid().to_string();
    rq.stop().await.expect("stop");
    // `next` after `end` is an error on the server.
    let raw = reqwest::Client::new()
        .post(format!(
            "{}/resumable-query-next",
            stack().vector_url("cos").expect("url")
        ))
        .bearer_auth(stack().vector_token("cos").expect("token"))
        .body(json!({"uuid": uuid, "additionalK": 1}).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status().as_u16(), 400);
    let missing = index_on(stack(), "cos").namespace("no-such-resumable-ns");
    let (first, mut rq) = missing
        .resumable_query(Query::vector(vec![1.0, 0.0]), None)
        .await
        .expect("start");
    assert!(first.is_empty() && rq.uuid().is_empty());
    assert!(rq.next(5).await.expect("noop").is_empty());
}

#[tokio::test]
async fn wire_compatibility_quirks() {
    let url = stack().vector_url("dot").expect("url");
    let token = stack().vector_token("dot").expect("token");
    let http = reqwest::Client::new();
    let ns = testing::prefix("wire").replace(':', "_");
    // GET with a JSON body and no content type, numeric ids, legacy delete bodies.
    let send = |method: reqwest::Method, path: String, body: &str| {
        http.request(method, format!("{url}/{path}"))
            .bearer_auth(&token)
            .body(body.to_string())
            .send()
    };
    let r = send(
        reqwest::Method::PUT,
        format!("upsert/{ns}"),
        r#"[{"id":1,"vector":[0.6,0.8]},{"id":"2","vector":[0.8,0.6]}]"#,
    )
    .await
    .expect("upsert");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = send(
        reqwest::Method::GET,
        format!("fetch/{ns}"),
        r#"{"ids":[1]}"#,
    )
    .await
    .expect("fetch")
    .bytes()
    .await
    .map(|b| serde_json::from_slice::<Value>(&b).expect("json"))
    .expect("body");
    assert_eq!(v["result"][0]["id"], "1");
    let v: Value = send(reqwest::Method::DELETE, format!("delete/{ns}"), "2")
        .await
        .expect("delete")
        .bytes()
        .await
        .map(|b| serde_json::from_slice::<Value>(&b).expect("json"))
        .expect("body");
    assert_eq!(v, json!({"result": {"deleted": 1}}));
    let r = send(
        reqwest::Method::POST,
        format!("delete/{ns}"),
        r#"{"ids":["1"],"prefix":"x"}"#,
    )
    .await
    .expect("delete");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r
        .bytes()
        .await
        .map(|b| serde_json::from_slice::<Value>(&b).expect("json"))
        .expect("body");
    assert_eq!(v["status"], 400);
    assert!(v["error"]
        .as_str()
        .is_some_and(|m| m.contains("Only and only one")));
    // Empty and `null` bodies are "no body"; the index is also reachable without the prefix,
    // chosen by its token.
    let root = url
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .expect("base");
    for body in ["", "null"] {
        let r = http
            .post(format!("{root}/info"))
            .bearer_auth(&token)
            .body(body)
            .send()
            .await
            .expect("info");
        let v: Value = r
            .bytes()
            .await
            .map(|b| serde_json::from_slice::<Value>(&b).expect("json"))
            .expect("body");
        assert_eq!(v["result"]["similarityFunction"], "DOT_PRODUCT");
    }
    let r = http.post(format!("{url}/info")).send().await.expect("info");
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r
        .bytes()
        .await
        .map(|b| serde_json::from_slice::<Value>(&b).expect("json"))
        .expect("body");
    assert_eq!(
        v,
        json!({"error": "Unauthorized: Invalid auth token", "status": 401})
    );
}

#[tokio::test]
async fn restart_keeps_data() {
    let dir = std::env::temp_dir().join(format!("upstash-vector-e2e-{:016x}", fastrand_u64()));
    let config = || {
        let mut c = Config::default();
        c.vector.indexes = vec![VectorIndexConfig::dense("keep", 2, Metric::Cosine)];
        c.vector.data_dir = Some(dir.clone());
        c
    };
    let first = testing::dedicated(config());
    let idx = index_on(&first, "keep").namespace("persisted");
    idx.upsert([
        Upsert::dense("a", vec![0.1, 0.2]).with_metadata(json!({"x": 1})),
        Upsert::dense("b", vec![0.3, 0.4]).with_data("d"),
    ])
    .await
    .expect("upsert");
    idx.delete(["b"]).await.expect("delete");
    first.shutdown().await;
    let second = testing::dedicated(config());
    let idx = index_on(&second, "keep").namespace("persisted");
    let got = idx.fetch(["a", "b"], Include::all()).await.expect("fetch");
    let a = got[0].as_ref().expect("a survived");
    assert_eq!(a.vector.as_deref(), Some(&[0.1f32, 0.2][..]));
    assert_eq!(a.metadata, Some(json!({"x": 1})));
    assert!(got[1].is_none());
    second.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

#[tokio::test]
async fn more_score_values_per_metric() {
    // Hand-computed: cos([1,1],[1,0]) = 1/√2 → (1 + 0.70710677) / 2.
    let cos = ns("cos", "scores2");
    cos.upsert([Upsert::dense("x", vec![1.0, 0.0])])
        .await
        .expect("upsert");
    let score = top_score(&cos, vec![1.0, 1.0]).await;
    assert!(approx(score, 0.853_553_4), "{score}");
    // Cosine ignores length: [2,0] scores like [1,0].
    let score = top_score(&cos, vec![5.0, 0.0]).await;
    assert!(approx(score, 1.0), "{score}");
    // Euclidean: squared distance from [1,1] to [2,3] is 1 + 4 = 5 → 1/6.
    let euc = ns("euc", "scores2");
    euc.upsert([
        Upsert::dense("far", vec![2.0, 3.0]),
        Upsert::dense("same", vec![1.0, 1.0]),
    ])
    .await
    .expect("upsert");
    let r = euc
        .query(Query::vector(vec![1.0, 1.0]).top_k(2))
        .await
        .expect("query");
    assert_eq!(r[0].id, "same");
    assert!(approx(r[0].score, 1.0), "{}", r[0].score);
    assert!(approx(r[1].score, 1.0 / 6.0), "{}", r[1].score);
    // Dot product: [0.5,0.5]·[-1,0.2] = -0.4 → (1 - 0.4) / 2 = 0.3; best first.
    let dot = ns("dot", "scores2");
    dot.upsert([
        Upsert::dense("neg", vec![-1.0, 0.2]),
        Upsert::dense("pos", vec![1.0, 1.0]),
    ])
    .await
    .expect("upsert");
    let r = dot
        .query(Query::vector(vec![0.5, 0.5]).top_k(2))
        .await
        .expect("query");
    let got: Vec<&str> = r.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(got, ["pos", "neg"]);
    assert!(approx(r[0].score, 1.0), "{}", r[0].score);
    assert!(approx(r[1].score, 0.3), "{}", r[1].score);
}

#[tokio::test]
async fn filter_language_remaining_rules() {
    let idx = ns("cos", "filters2");
    idx.upsert(
        dataset()
            .into_iter()
            .map(|(id, m)| Upsert::dense(id, vec![1.0, 0.5]).with_metadata(m)),
    )
    .await
    .expect("upsert");
    idx.upsert([Upsert::dense("odd", vec![1.0, 0.5]).with_metadata(
        json!({"odd-name#1": 5, "neg": -2.5, "flag": false, "arr": [1, 2.5, "x", true]}),
    )])
    .await
    .expect("upsert");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        // Integers and floats compare numerically; negative and decimal literals.
        ("pop = 15460000.0", vec!["ist"]),
        ("neg < -2", vec!["odd"]),
        ("neg >= -2.5 AND neg <= -2.5", vec!["odd"]),
        ("pop > -5", vec!["ist", "ank", "ber", "tiny"]),
        // Booleans may be written 1 / 0.
        ("capital = 1", vec!["ank", "ber"]),
        ("flag = 0", vec!["odd"]),
        ("flag = FALSE", vec!["odd"]),
        // Type mismatches match nothing, except `!=` on a present field.
        ("city > 5", vec![]),
        ("pop = 'big'", vec![]),
        ("country != 5", vec!["ist", "ank", "ber"]),
        ("pop GLOB '*'", vec![]),
        ("city CONTAINS 'Berlin'", vec![]),
        // Missing fields: false for everything but HAS NOT FIELD.
        ("pop != 30", vec!["ist", "ank", "ber"]),
        ("country NOT IN ('Nowhere')", vec!["ist", "ank", "ber"]),
        (
            "tags NOT CONTAINS 'nothing'",
            vec!["ist", "ank", "ber", "tiny"],
        ),
        ("city NOT GLOB 'Z*'", vec!["ist", "ank", "ber", "tiny"]),
        // null is present; it equals nothing.
        ("code = 0", vec![]),
        ("code != 'x'", vec!["ist"]),
        (
            "HAS NOT FIELD code",
            vec!["ank", "ber", "tiny", "bare", "odd"],
        ),
        // Keywords and booleans are case-insensitive; both quote kinds; optional spaces.
        (
            "city glob 'B*' and capital = True or has field neg",
            vec!["ber", "odd"],
        ),
        ("has not field geo and not_there not in (1)", vec![]),
        ("city = \"Berlin\"", vec!["ber"]),
        ("pop>=5663000", vec!["ist", "ank"]),
        // Identifier characters '-' and '#'.
        ("odd-name#1 = 5", vec!["odd"]),
        // IN over numbers and mixed literals; CONTAINS over mixed arrays.
        ("pop IN (30, 3645000)", vec!["ber", "tiny"]),
        ("arr CONTAINS 2.5", vec!["odd"]),
        ("arr CONTAINS true", vec!["odd"]),
        // GLOB is case-sensitive and matches the whole string.
        ("city GLOB 'berlin'", vec![]),
        ("city GLOB 'Berl'", vec![]),
        ("city GLOB '*l?n'", vec!["ber"]),
        // Paths: out of range, into a non-array, into a non-object.
        ("tags[5] = 'big'", vec![]),
        ("tags[#-3] = 'x'", vec![]),
        ("city[0] = 'B'", vec![]),
        ("city.x = 'B'", vec![]),
        ("HAS FIELD geo", vec!["ist", "ank", "ber", "tiny"]),
        ("HAS FIELD tags[0]", vec!["ist", "ank", "ber"]),
        // AND binds tighter than OR, on both sides.
        (
            "city = 'Hum' OR country = 'Turkey' AND capital = true",
            vec!["ank", "tiny"],
        ),
        (
            "(city = 'Hum' OR country = 'Turkey') AND pop < 6000000",
            vec!["ank", "tiny"],
        ),
    ];
    for (f, want) in cases {
        let r = idx
            .query(Query::vector(vec![1.0, 0.5]).top_k(10).filter(f))
            .await
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        let ids: Vec<&str> = r.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, want, "filter {f}");
    }
    // The same filters work for delete: only matching records go.
    assert_eq!(idx.delete_filter("flag = false").await.expect("delete"), 1);
    for f in [
        "city = 'Ber",
        "pop > ",
        "a = 1 AND",
        "(a = 1",
        "a ~ 1",
        "NOT a = 1",
    ] {
        let e = idx
            .query(Query::vector(vec![1.0, 0.5]).filter(f))
            .await
            .expect_err(f);
        assert_eq!(e.status(), Some(400), "{f}: {e}");
        assert!(e.to_string().contains("position "), "{f}: {e}");
    }
}

/// Exact search on a namespace large enough for the 8-bit pre-scan, loaded with
/// `upsert_chunked`: rankings equal a brute force computed here in f64.
#[tokio::test]
async fn large_namespace_search_is_exact_and_chunked_upsert() {
    const N: usize = 3000;
    const DIM: usize = 32;
    let idx = ns("embed", "large");
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let vectors: Vec<Vec<f32>> = (0..N).map(|_| (0..DIM).map(|_| next()).collect()).collect();
    let items = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| Upsert::dense(format!("v{i}"), v.clone()).with_metadata(json!({"g": i % 4})));
    let report = idx.upsert_chunked(items, 1000, 2).await.expect("chunked");
    assert_eq!(report.requests, 3);
    assert_eq!(report.upserted, N);
    assert!(report.is_complete());
    let info = index_on(stack(), "embed").info().await.expect("info");
    assert_eq!(info.namespaces[idx.namespace_name()].vector_count, N as u64);
    for (qi, filter) in [(0usize, None), (17, Some("g = 1")), (2999, Some("g != 0"))] {
        let q: Vec<f32> = vectors[qi].iter().map(|x| -x * 0.5 + 0.01).collect();
        let mut query = Query::vector(q.clone()).top_k(10);
        if let Some(f) = filter {
            query = query.filter(f);
        }
        let got = idx.query(query).await.expect("query");
        let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
        let mut want: Vec<(f64, usize)> = vectors
            .iter()
            .enumerate()
            .filter(|(i, _)| match filter {
                Some("g = 1") => i % 4 == 1,
                Some(_) => i % 4 != 0,
                None => true,
            })
            .map(|(i, v)| {
                let d: f64 = v
                    .iter()
                    .zip(&q)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum();
                ((1.0 + d / (norm(v) * norm(&q))) / 2.0, i)
            })
            .collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        want.truncate(10);
        let got_ids: Vec<String> = got.iter().map(|h| h.id.clone()).collect();
        let want_ids: Vec<String> = want.iter().map(|(_, i)| format!("v{i}")).collect();
        assert_eq!(got_ids, want_ids, "query {qi} {filter:?}");
        for (h, (w, _)) in got.iter().zip(&want) {
            assert!((f64::from(h.score) - w).abs() < 1e-5, "{} vs {w}", h.score);
        }
    }
    // A chunk that fails is reported with its records; the others are stored.
    let items = (0..5).map(|i| {
        let dim = if i == 3 { DIM + 1 } else { DIM };
        Upsert::dense(format!("c{i}"), vec![0.5; dim])
    });
    let report = idx.upsert_chunked(items, 2, 1).await.expect("chunked");
    assert_eq!(report.requests, 3);
    assert_eq!(report.upserted, 3);
    let failures = report.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].offset, 2);
    assert_eq!(failures[0].items.len(), 2);
    assert!(failures[0].error.is_dimension_mismatch());
    let e = report.into_result().expect_err("a chunk failed");
    assert_eq!(e.status(), Some(422));
    let got = idx
        .fetch(["c0", "c1", "c2", "c3", "c4"], Include::none())
        .await
        .expect("fetch");
    let present: Vec<bool> = got.iter().map(Option::is_some).collect();
    assert_eq!(present, [true, true, false, false, true]);
    assert!(idx
        .upsert_chunked(Vec::<Upsert>::new(), 0, 1)
        .await
        .is_err());
}
