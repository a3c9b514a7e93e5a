//! # upstash-vector
//!
//! A client for Upstash Vector: every REST endpoint, namespaces, typed metadata, dense,
//! sparse and hybrid vectors, and the metadata [`filter`] language (parser, evaluator and an
//! escaping builder), which `upstash-local` reuses to run the same filters server-side.
//!
//! ```no_run
//! # async fn demo() -> upstash_vector::Result<()> {
//! use upstash_vector::{filter::field, Include, Index, Query, Upsert};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Movie { title: String, year: u32 }
//!
//! let index: Index<Movie> = Index::from_env()?.with_metadata();
//! let movies = index.namespace("movies");
//! movies
//!     .upsert([Upsert::dense("m1", vec![0.1, 0.9]).with_metadata(Movie { title: "Alien".into(), year: 1979 })])
//!     .await?;
//! let hits = movies
//!     .query(Query::vector(vec![0.1, 0.8]).top_k(3).include_metadata(true).filter(field("year").lt(2000)))
//!     .await?;
//! for hit in hits {
//!     println!("{} {} {:?}", hit.id, hit.score, hit.metadata.map(|m| m.title));
//! }
//! let all = movies.fetch(["m1"], Include::all()).await?;
//! # Ok(()) }
//! ```
//!
//! Scores on dense indexes are normalised to `[0, 1]`: cosine `(1 + cos) / 2`, Euclidean
//! `1 / (1 + squared distance)`, dot product `(1 + dot) / 2`. Sparse scores are raw inner
//! products; hybrid scores are fused (RRF by default).
#![forbid(unsafe_code)]

mod client;
mod error;
pub mod filter;
mod types;

pub use client::{ChunkFailure, ChunkedUpsert, Index, IndexBuilder, Range, ResumableQuery};
pub use error::{Error, Result};
pub use types::{
    DenseIndexInfo, FusionAlgorithm, Include, IndexType, Info, MetadataUpdateMode, NamespaceInfo,
    Query, QueryMode, QueryResult, RangePage, SimilarityFunction, SparseIndexInfo, SparseVector,
    Update, Upsert, Vector, WeightingStrategy,
};
