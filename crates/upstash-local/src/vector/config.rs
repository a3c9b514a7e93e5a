//! `[vector]` and `[[vector.indexes]]` configuration.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::secret::Secret;
use crate::Error;

/// Vector REST port used when a config file's `[vector]` section does not set one.
pub const DEFAULT_VECTOR_PORT: u16 = 8082;

/// Dense similarity function of an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Metric {
    /// `(1 + cos) / 2`
    Cosine,
    /// `1 / (1 + squared distance)`
    Euclidean,
    /// `(1 + dot) / 2`
    DotProduct,
}

impl Metric {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cosine => "COSINE",
            Metric::Euclidean => "EUCLIDEAN",
            Metric::DotProduct => "DOT_PRODUCT",
        }
    }
}

/// Dense, sparse or hybrid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IndexKind {
    /// Dense vectors only.
    Dense,
    /// Sparse vectors only.
    Sparse,
    /// Both.
    Hybrid,
}

impl IndexKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Dense => "DENSE",
            IndexKind::Sparse => "SPARSE",
            IndexKind::Hybrid => "HYBRID",
        }
    }

    /// Whether records carry a dense vector.
    pub fn has_dense(self) -> bool {
        self != IndexKind::Sparse
    }

    /// Whether records carry a sparse vector.
    pub fn has_sparse(self) -> bool {
        self != IndexKind::Dense
    }
}

/// `[vector]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct VectorConfig {
    /// REST port; 0 = ephemeral. In a file it defaults to 8082; `Config::default()` uses 0.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Keep the data in this directory (one JSON snapshot per index, written at most once a
    /// second after a change and at shutdown); default: in memory only.
    pub data_dir: Option<PathBuf>,
    /// Largest accepted request body in bytes.
    pub max_request_bytes: usize,
    /// Most resumable queries alive at once per index.
    pub max_resumable_queries: usize,
    /// The indexes; empty means one dense 384-dimension cosine index named `default` with a
    /// local embedding model.
    pub indexes: Vec<VectorIndexConfig>,
}

fn default_port() -> u16 {
    DEFAULT_VECTOR_PORT
}

impl Default for VectorConfig {
    fn default() -> Self {
        VectorConfig {
            port: 0,
            data_dir: None,
            max_request_bytes: 64 * 1024 * 1024,
            max_resumable_queries: 1000,
            indexes: Vec::new(),
        }
    }
}

/// `[[vector.indexes]]`: one index, served under `/<name>` and, for requests without that
/// prefix, selected by its token.
#[derive(Clone, Deserialize)]
pub struct VectorIndexConfig {
    /// Name, the URL path prefix (letters, digits, `-`, `_`).
    pub name: String,
    /// REST token (default `upstash-local-vector-<name>-token`).
    #[serde(default)]
    pub token: Option<Secret>,
    /// Dense dimension (required for dense and hybrid indexes).
    #[serde(default)]
    pub dimension: usize,
    /// Similarity function (default COSINE).
    #[serde(default = "default_metric")]
    pub metric: Metric,
    /// DENSE (default), SPARSE or HYBRID.
    #[serde(default = "default_kind", rename = "type")]
    pub kind: IndexKind,
    /// Dense embedding model name reported by `info` (e.g. `BGE_SMALL_EN_V1_5`); when set,
    /// `data` is embedded by a deterministic local hashing model of the index's dimension.
    #[serde(default)]
    pub dense_model: Option<String>,
    /// Sparse embedding model name (`BM25` or `BGE_M3`); when set, `data` is embedded by a
    /// local BM25-like model (hashed lowercase words).
    #[serde(default)]
    pub sparse_model: Option<String>,
}

fn default_metric() -> Metric {
    Metric::Cosine
}

fn default_kind() -> IndexKind {
    IndexKind::Dense
}

impl fmt::Debug for VectorIndexConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VectorIndexConfig")
            .field("name", &self.name)
            .field("token", &self.token)
            .field("dimension", &self.dimension)
            .field("metric", &self.metric)
            .field("kind", &self.kind)
            .field("dense_model", &self.dense_model)
            .field("sparse_model", &self.sparse_model)
            .finish()
    }
}

impl VectorIndexConfig {
    /// A dense index with no embedding model.
    pub fn dense(name: &str, dimension: usize, metric: Metric) -> Self {
        VectorIndexConfig {
            name: name.into(),
            token: None,
            dimension,
            metric,
            kind: IndexKind::Dense,
            dense_model: None,
            sparse_model: None,
        }
    }

    /// A sparse index with no embedding model.
    pub fn sparse(name: &str) -> Self {
        VectorIndexConfig {
            kind: IndexKind::Sparse,
            ..Self::dense(name, 0, Metric::Cosine)
        }
    }

    /// A hybrid index with no embedding model.
    pub fn hybrid(name: &str, dimension: usize, metric: Metric) -> Self {
        VectorIndexConfig {
            kind: IndexKind::Hybrid,
            ..Self::dense(name, dimension, metric)
        }
    }

    /// Sets the embedding model names (enabling the local embedders).
    pub fn with_models(mut self, dense: Option<&str>, sparse: Option<&str>) -> Self {
        self.dense_model = dense.map(str::to_string);
        self.sparse_model = sparse.map(str::to_string);
        self
    }

    /// The token in force.
    pub fn effective_token(&self) -> Secret {
        self.token
            .clone()
            .unwrap_or_else(|| Secret::new(format!("upstash-local-vector-{}-token", self.name)))
    }
}

/// Endpoint names, which cannot be index names.
pub(crate) const COMMANDS: &[&str] = &[
    "upsert",
    "upsert-data",
    "query",
    "query-data",
    "fetch",
    "random",
    "delete",
    "range",
    "reset",
    "info",
    "update",
    "list-namespaces",
    "delete-namespace",
    "rename-namespace",
    "resumable-query",
    "resumable-query-data",
    "resumable-query-next",
    "resumable-query-end",
    "_local",
];

impl VectorConfig {
    /// The configured indexes, or the default one.
    pub fn effective_indexes(&self) -> Vec<VectorIndexConfig> {
        if self.indexes.is_empty() {
            vec![VectorIndexConfig::dense("default", 384, Metric::Cosine)
                .with_models(Some("BGE_SMALL_EN_V1_5"), None)]
        } else {
            self.indexes.clone()
        }
    }

    /// Checks names, tokens and dimensions.
    pub fn validate(&self) -> Result<(), Error> {
        let idx = self.effective_indexes();
        let mut tokens: Vec<String> = Vec::new();
        for (i, ix) in idx.iter().enumerate() {
            let name_ok = !ix.name.is_empty()
                && ix
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok || COMMANDS.contains(&ix.name.as_str()) {
                return Err(Error::Config(format!(
                    "vector index name {:?} must be letters, digits, '-' or '_' and not an endpoint name",
                    ix.name
                )));
            }
            if idx[..i].iter().any(|o| o.name == ix.name) {
                return Err(Error::Config(format!(
                    "vector index name {:?} is duplicated",
                    ix.name
                )));
            }
            if ix.kind.has_dense() && !(1..=10_000).contains(&ix.dimension) {
                return Err(Error::Config(format!(
                    "vector index {:?} needs a dimension between 1 and 10000",
                    ix.name
                )));
            }
            let t = ix.effective_token();
            let t = t.expose();
            if t.is_empty() || t.contains(|c: char| c.is_whitespace() || c.is_control()) {
                return Err(Error::Config(
                    "every vector token must be non-empty, without whitespace".into(),
                ));
            }
            if tokens.iter().any(|o| o == t) {
                return Err(Error::Config("vector tokens must be distinct".into()));
            }
            tokens.push(t.to_string());
        }
        if self.max_request_bytes == 0 {
            return Err(Error::Config(
                "vector max_request_bytes must be positive".into(),
            ));
        }
        Ok(())
    }
}
