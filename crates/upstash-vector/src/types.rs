//! Wire types: records, queries, options and results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A sparse vector: parallel lists of dimension indices and their values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseVector {
    /// Indices of the non-zero dimensions.
    pub indices: Vec<i32>,
    /// Values at those indices.
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Builds a sparse vector from its indices and values.
    pub fn new(indices: impl Into<Vec<i32>>, values: impl Into<Vec<f32>>) -> Self {
        SparseVector {
            indices: indices.into(),
            values: values.into(),
        }
    }

    /// Checks that both lists have the same length and at most 1000 entries.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.indices.len() != self.values.len() {
            return Err("sparse vector indices and values differ in length");
        }
        if self.indices.len() > 1000 {
            return Err("sparse vector has more than 1000 entries");
        }
        Ok(())
    }
}

/// A record to upsert: an id with a dense and/or sparse vector (or only `data` on an index
/// with an embedding model), optional metadata and data.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upsert<M = serde_json::Value> {
    /// Record id (non-empty).
    pub id: String,
    /// Dense vector (dense and hybrid indexes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
    /// Sparse vector (sparse and hybrid indexes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse_vector: Option<SparseVector>,
    /// Filterable metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<M>,
    /// Free text stored with the record (embedded instead of a vector when no vector is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl<M> Upsert<M> {
    fn empty(id: impl Into<String>) -> Self {
        Upsert {
            id: id.into(),
            vector: None,
            sparse_vector: None,
            metadata: None,
            data: None,
        }
    }

    /// A record with a dense vector.
    pub fn dense(id: impl Into<String>, vector: impl Into<Vec<f32>>) -> Self {
        Upsert {
            vector: Some(vector.into()),
            ..Self::empty(id)
        }
    }

    /// A record with a sparse vector.
    pub fn sparse(id: impl Into<String>, sparse: SparseVector) -> Self {
        Upsert {
            sparse_vector: Some(sparse),
            ..Self::empty(id)
        }
    }

    /// A record with both vectors (hybrid indexes).
    pub fn hybrid(
        id: impl Into<String>,
        vector: impl Into<Vec<f32>>,
        sparse: SparseVector,
    ) -> Self {
        Upsert {
            vector: Some(vector.into()),
            sparse_vector: Some(sparse),
            ..Self::empty(id)
        }
    }

    /// A record given only as text, embedded by the index's model (`upsert-data`).
    pub fn data(id: impl Into<String>, data: impl Into<String>) -> Self {
        Upsert {
            data: Some(data.into()),
            ..Self::empty(id)
        }
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: M) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Sets the stored data text.
    pub fn with_data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Whether the record carries a vector (otherwise it goes to `upsert-data`).
    pub(crate) fn has_vector(&self) -> bool {
        self.vector.is_some() || self.sparse_vector.is_some()
    }
}

/// A record as returned by fetch, range, random and query.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vector<M = serde_json::Value> {
    /// Record id.
    pub id: String,
    /// Dense vector, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
    /// Sparse vector, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse_vector: Option<SparseVector>,
    /// Metadata, when requested and present.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub metadata: Option<M>,
    /// Data, when requested and present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

fn none<M>() -> Option<M> {
    None
}

/// One query hit.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryResult<M = serde_json::Value> {
    /// Record id.
    pub id: String,
    /// Similarity score (normalised to [0, 1] for dense indexes).
    pub score: f32,
    /// Dense vector, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
    /// Sparse vector, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse_vector: Option<SparseVector>,
    /// Metadata, when requested and present.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub metadata: Option<M>,
    /// Data, when requested and present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v,)*
            /// A value this version does not know.
            #[serde(other)]
            Unknown,
        }
        impl $name {
            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)* $name::Unknown => "UNKNOWN" }
            }
        }
    };
}

wire_enum!(
    /// Dense similarity function of an index.
    SimilarityFunction {
        /// `(1 + cos) / 2`
        Cosine = "COSINE",
        /// `1 / (1 + squared distance)`
        Euclidean = "EUCLIDEAN",
        /// `(1 + dot) / 2`
        DotProduct = "DOT_PRODUCT",
    }
);

wire_enum!(
    /// Kind of index.
    IndexType {
        /// Dense vectors only.
        Dense = "DENSE",
        /// Sparse vectors only.
        Sparse = "SPARSE",
        /// Both.
        Hybrid = "HYBRID",
    }
);

wire_enum!(
    /// Weighting of sparse query values.
    WeightingStrategy {
        /// Inverse document frequency.
        Idf = "IDF",
    }
);

wire_enum!(
    /// How hybrid indexes fuse dense and sparse results.
    FusionAlgorithm {
        /// Reciprocal rank fusion (default).
        Rrf = "RRF",
        /// Distribution-based score fusion.
        Dbsf = "DBSF",
    }
);

wire_enum!(
    /// Which part of a hybrid index a data query searches.
    QueryMode {
        /// Both parts, fused (default).
        Hybrid = "HYBRID",
        /// The dense part only.
        Dense = "DENSE",
        /// The sparse part only.
        Sparse = "SPARSE",
    }
);

wire_enum!(
    /// How `update` treats metadata.
    MetadataUpdateMode {
        /// Replace the metadata (default).
        Overwrite = "OVERWRITE",
        /// Merge as a JSON Merge Patch (RFC 7396): `null` removes a key.
        Patch = "PATCH",
    }
);

/// A similarity query; `data` queries go to `query-data`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    /// Dense query vector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
    /// Sparse query vector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse_vector: Option<SparseVector>,
    /// Text to embed (indexes with an embedding model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// How many hits (server default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Return metadata.
    #[serde(skip_serializing_if = "is_false")]
    pub include_metadata: bool,
    /// Return vectors.
    #[serde(skip_serializing_if = "is_false")]
    pub include_vectors: bool,
    /// Return data.
    #[serde(skip_serializing_if = "is_false")]
    pub include_data: bool,
    /// Metadata filter (see [`crate::filter`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Sparse weighting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighting_strategy: Option<WeightingStrategy>,
    /// Hybrid fusion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fusion_algorithm: Option<FusionAlgorithm>,
    /// Hybrid data query mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_mode: Option<QueryMode>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Query {
    /// A dense query.
    pub fn vector(v: impl Into<Vec<f32>>) -> Self {
        Query {
            vector: Some(v.into()),
            ..Query::default()
        }
    }

    /// A sparse query.
    pub fn sparse(v: SparseVector) -> Self {
        Query {
            sparse_vector: Some(v),
            ..Query::default()
        }
    }

    /// A hybrid query with both vectors.
    pub fn hybrid(dense: impl Into<Vec<f32>>, sparse: SparseVector) -> Self {
        Query {
            vector: Some(dense.into()),
            sparse_vector: Some(sparse),
            ..Query::default()
        }
    }

    /// A text query, embedded by the index's model.
    pub fn data(text: impl Into<String>) -> Self {
        Query {
            data: Some(text.into()),
            ..Query::default()
        }
    }

    /// Sets `topK`.
    pub fn top_k(mut self, k: u32) -> Self {
        self.top_k = Some(k);
        self
    }

    /// Returns metadata with each hit.
    pub fn include_metadata(mut self, yes: bool) -> Self {
        self.include_metadata = yes;
        self
    }

    /// Returns vectors with each hit.
    pub fn include_vectors(mut self, yes: bool) -> Self {
        self.include_vectors = yes;
        self
    }

    /// Returns data with each hit.
    pub fn include_data(mut self, yes: bool) -> Self {
        self.include_data = yes;
        self
    }

    /// Sets the metadata filter: a string, or a [`crate::filter::Condition`].
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Sets the sparse weighting strategy.
    pub fn weighting_strategy(mut self, w: WeightingStrategy) -> Self {
        self.weighting_strategy = Some(w);
        self
    }

    /// Sets the hybrid fusion algorithm.
    pub fn fusion_algorithm(mut self, f: FusionAlgorithm) -> Self {
        self.fusion_algorithm = Some(f);
        self
    }

    /// Sets the query mode of a hybrid data query.
    pub fn query_mode(mut self, m: QueryMode) -> Self {
        self.query_mode = Some(m);
        self
    }
}

/// What fetch, range and random return with each record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Include {
    /// Metadata.
    #[serde(skip_serializing_if = "is_false")]
    pub include_metadata: bool,
    /// Vectors.
    #[serde(skip_serializing_if = "is_false")]
    pub include_vectors: bool,
    /// Data.
    #[serde(skip_serializing_if = "is_false")]
    pub include_data: bool,
}

impl Include {
    /// Only ids.
    pub fn none() -> Self {
        Include::default()
    }

    /// Metadata, vectors and data.
    pub fn all() -> Self {
        Include {
            include_metadata: true,
            include_vectors: true,
            include_data: true,
        }
    }

    /// Metadata only.
    pub fn metadata() -> Self {
        Include {
            include_metadata: true,
            ..Include::default()
        }
    }
}

/// One page of [`crate::Index::range`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangePage<M = serde_json::Value> {
    /// Cursor of the next page; empty when nothing remains.
    #[serde(deserialize_with = "string_or_number")]
    pub next_cursor: String,
    /// The records of this page, in insertion order.
    #[serde(default = "Vec::new")]
    pub vectors: Vec<Vector<M>>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Null => Ok(String::new()),
        _ => Err(serde::de::Error::custom("expected a cursor string")),
    }
}

/// A record update: a new vector, data or metadata for an existing id.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Update<M = serde_json::Value> {
    /// The id to update.
    pub id: String,
    /// New dense vector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
    /// New sparse vector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse_vector: Option<SparseVector>,
    /// New data (re-embedded on indexes with a model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// New metadata (or a patch, see `metadata_update_mode`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<M>,
    /// OVERWRITE (default) or PATCH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_update_mode: Option<MetadataUpdateMode>,
}

impl<M> Update<M> {
    /// An update of `id` that changes nothing yet.
    pub fn new(id: impl Into<String>) -> Self {
        Update {
            id: id.into(),
            vector: None,
            sparse_vector: None,
            data: None,
            metadata: None,
            metadata_update_mode: None,
        }
    }

    /// Sets a new dense vector.
    pub fn vector(mut self, v: impl Into<Vec<f32>>) -> Self {
        self.vector = Some(v.into());
        self
    }

    /// Sets a new sparse vector.
    pub fn sparse_vector(mut self, v: SparseVector) -> Self {
        self.sparse_vector = Some(v);
        self
    }

    /// Sets new data.
    pub fn data(mut self, d: impl Into<String>) -> Self {
        self.data = Some(d.into());
        self
    }

    /// Replaces the metadata.
    pub fn metadata(mut self, m: M) -> Self {
        self.metadata = Some(m);
        self.metadata_update_mode = Some(MetadataUpdateMode::Overwrite);
        self
    }

    /// Merges `patch` into the metadata (RFC 7396: `null` removes a key).
    pub fn patch_metadata(mut self, patch: M) -> Self {
        self.metadata = Some(patch);
        self.metadata_update_mode = Some(MetadataUpdateMode::Patch);
        self
    }
}

/// Statistics and configuration of an index.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    /// Records in all namespaces.
    pub vector_count: u64,
    /// Records not yet indexed.
    #[serde(default)]
    pub pending_vector_count: u64,
    /// Approximate size in bytes.
    #[serde(default)]
    pub index_size: u64,
    /// Dense dimension (0 for sparse indexes).
    #[serde(default)]
    pub dimension: u32,
    /// Dense similarity function.
    pub similarity_function: Option<SimilarityFunction>,
    /// Dense, sparse or hybrid.
    #[serde(default)]
    pub index_type: Option<IndexType>,
    /// The dense part, on dense and hybrid indexes.
    #[serde(default)]
    pub dense_index: Option<DenseIndexInfo>,
    /// The sparse part, on sparse and hybrid indexes.
    #[serde(default)]
    pub sparse_index: Option<SparseIndexInfo>,
    /// Per-namespace counts.
    #[serde(default)]
    pub namespaces: BTreeMap<String, NamespaceInfo>,
}

/// The dense part of [`Info`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DenseIndexInfo {
    /// Dimension.
    pub dimension: u32,
    /// Similarity function.
    pub similarity_function: SimilarityFunction,
    /// Embedding model name, `""` when none.
    #[serde(default)]
    pub embedding_model: String,
}

/// The sparse part of [`Info`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SparseIndexInfo {
    /// Embedding model name, `""` when none.
    #[serde(default)]
    pub embedding_model: String,
}

/// Per-namespace counts in [`Info`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceInfo {
    /// Records.
    pub vector_count: u64,
    /// Records not yet indexed.
    #[serde(default)]
    pub pending_vector_count: u64,
}
