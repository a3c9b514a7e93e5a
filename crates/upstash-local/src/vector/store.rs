//! Storage of one namespace (rows in insertion order, dense vectors in one f32 arena) and
//! exact search.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use upstash_vector::filter::Filter;

use super::config::Metric;

/// A sparse vector, sorted by index without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sparse {
    pub indices: Vec<i32>,
    pub values: Vec<f32>,
}

impl Sparse {
    /// Sorts by index and sums duplicates; drops zeros.
    pub fn normalised(mut pairs: Vec<(i32, f32)>) -> Sparse {
        pairs.sort_by_key(|p| p.0);
        let mut s = Sparse::default();
        for (i, v) in pairs {
            if s.indices.last() == Some(&i) {
                if let Some(last) = s.values.last_mut() {
                    *last += v;
                }
            } else {
                s.indices.push(i);
                s.values.push(v);
            }
        }
        s
    }

    /// Inner product with `q`, weighting each query term by `w(index)`; `None` when no index
    /// is shared.
    pub fn dot_weighted(&self, q: &Sparse, w: &dyn Fn(i32) -> f32) -> Option<f32> {
        let (mut a, mut b) = (0, 0);
        let mut sum = 0.0f32;
        let mut hit = false;
        while a < self.indices.len() && b < q.indices.len() {
            match self.indices[a].cmp(&q.indices[b]) {
                std::cmp::Ordering::Less => a += 1,
                std::cmp::Ordering::Greater => b += 1,
                std::cmp::Ordering::Equal => {
                    sum += self.values[a] * q.values[b] * w(q.indices[b]);
                    hit = true;
                    a += 1;
                    b += 1;
                }
            }
        }
        hit.then_some(sum)
    }
}

/// One stored record (the dense vector lives in the arena at the same position).
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub id: String,
    pub alive: bool,
    pub has_dense: bool,
    pub norm: f32,
    pub sparse: Option<Sparse>,
    pub metadata: Option<Value>,
    pub data: Option<String>,
}

/// A record as written to a snapshot and as given to `put`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse: Option<Sparse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// One namespace.
#[derive(Debug, Default)]
pub(crate) struct Namespace {
    dim: usize,
    ids: HashMap<String, usize>,
    rows: Vec<Row>,
    dense: Vec<f32>,
    dead: usize,
}

fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}

/// Dot product written with 16 independent lanes so that it vectorises without fast-math.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let ca = a.chunks_exact(16);
    let cb = b.chunks_exact(16);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Squared Euclidean distance, 16 lanes.
pub(crate) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let ca = a.chunks_exact(16);
    let cb = b.chunks_exact(16);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// Normalised dense score of one row against the query.
fn dense_score(metric: Metric, q: &[f32], qnorm: f32, v: &[f32], vnorm: f32) -> f32 {
    match metric {
        Metric::Cosine => {
            let denom = qnorm * vnorm;
            if denom == 0.0 {
                0.5
            } else {
                ((1.0 + dot(q, v) / denom) / 2.0).clamp(0.0, 1.0)
            }
        }
        Metric::Euclidean => 1.0 / (1.0 + l2sq(q, v)),
        Metric::DotProduct => (1.0 + dot(q, v)) / 2.0,
    }
}

/// Rows at least this large (rows * dim) are scored on several threads.
const PARALLEL_MIN: usize = 1 << 20;

impl Namespace {
    pub fn new(dim: usize) -> Namespace {
        Namespace {
            dim,
            ..Namespace::default()
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len() - self.dead
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied()
    }

    pub fn row(&self, pos: usize) -> Option<&Row> {
        self.rows.get(pos).filter(|r| r.alive)
    }

    pub fn dense(&self, pos: usize) -> Option<&[f32]> {
        let r = self.row(pos)?;
        if !r.has_dense {
            return None;
        }
        self.dense.get(pos * self.dim..(pos + 1) * self.dim)
    }

    /// Inserts or replaces (keeping the position of an existing id).
    pub fn put(&mut self, rec: Record) {
        let has_dense = rec.vector.is_some();
        let norm_v = rec.vector.as_deref().map_or(0.0, norm);
        let row = Row {
            id: rec.id.clone(),
            alive: true,
            has_dense,
            norm: norm_v,
            sparse: rec.sparse,
            metadata: rec.metadata,
            data: rec.data,
        };
        let pos = match self.ids.get(&rec.id) {
            Some(&p) => {
                self.rows[p] = row;
                p
            }
            None => {
                let p = self.rows.len();
                self.rows.push(row);
                self.dense.resize(self.dense.len() + self.dim, 0.0);
                self.ids.insert(rec.id, p);
                p
            }
        };
        let slot = &mut self.dense[pos * self.dim..(pos + 1) * self.dim];
        match &rec.vector {
            Some(v) if v.len() == self.dim => slot.copy_from_slice(v),
            _ => slot.fill(0.0),
        }
    }

    /// Mutable access to a live row's non-vector fields.
    pub fn row_mut(&mut self, pos: usize) -> Option<&mut Row> {
        self.rows.get_mut(pos).filter(|r| r.alive)
    }

    /// Replaces the dense vector of a live row.
    pub fn set_dense(&mut self, pos: usize, v: &[f32]) {
        if v.len() != self.dim || pos >= self.rows.len() {
            return;
        }
        self.dense[pos * self.dim..(pos + 1) * self.dim].copy_from_slice(v);
        self.rows[pos].norm = norm(v);
        self.rows[pos].has_dense = true;
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let Some(p) = self.ids.remove(id) else {
            return false;
        };
        let r = &mut self.rows[p];
        r.alive = false;
        r.metadata = None;
        r.data = None;
        r.sparse = None;
        self.dead += 1;
        if self.dead > 1024 && self.dead > self.len() {
            self.compact();
        }
        true
    }

    fn compact(&mut self) {
        let old_rows = std::mem::take(&mut self.rows);
        let old_dense = std::mem::take(&mut self.dense);
        self.ids.clear();
        self.dead = 0;
        for (p, r) in old_rows.into_iter().enumerate() {
            if r.alive {
                let np = self.rows.len();
                self.ids.insert(r.id.clone(), np);
                self.rows.push(r);
                self.dense
                    .extend_from_slice(&old_dense[p * self.dim..(p + 1) * self.dim]);
            }
        }
    }

    /// Live records in insertion order (for snapshots).
    pub fn records(&self) -> Vec<Record> {
        (0..self.rows.len())
            .filter_map(|p| {
                let r = self.row(p)?;
                Some(Record {
                    id: r.id.clone(),
                    vector: self.dense(p).map(<[f32]>::to_vec),
                    sparse: r.sparse.clone(),
                    metadata: r.metadata.clone(),
                    data: r.data.clone(),
                })
            })
            .collect()
    }

    /// Whether a live row passes the filter.
    pub fn passes(&self, pos: usize, filter: Option<&Filter>) -> bool {
        match (self.row(pos), filter) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(r), Some(f)) => f.matches(r.metadata.as_ref().unwrap_or(&Value::Null)),
        }
    }

    /// Every live, filter-passing row with a dense vector, scored; sorted best first
    /// (ties by insertion order), cut to `k`.
    pub fn dense_search(
        &self,
        q: &[f32],
        metric: Metric,
        filter: Option<&Filter>,
        k: usize,
    ) -> Vec<(f32, usize)> {
        let n = self.rows.len();
        let dim = self.dim;
        if n == 0 || dim == 0 || q.len() != dim {
            return Vec::new();
        }
        let qnorm = norm(q);
        let mut scores = vec![0.0f32; n];
        let score_range = |start: usize, out: &mut [f32]| {
            for (i, s) in out.iter_mut().enumerate() {
                let p = start + i;
                let v = &self.dense[p * dim..(p + 1) * dim];
                *s = dense_score(metric, q, qnorm, v, self.rows[p].norm);
            }
        };
        let threads = std::thread::available_parallelism()
            .map(|t| t.get())
            .unwrap_or(1)
            .min(8);
        if threads > 1 && n * dim >= PARALLEL_MIN {
            let chunk = n.div_ceil(threads);
            std::thread::scope(|s| {
                for (c, out) in scores.chunks_mut(chunk).enumerate() {
                    let f = &score_range;
                    s.spawn(move || f(c * chunk, out));
                }
            });
        } else {
            score_range(0, &mut scores);
        }
        let cands: Vec<(f32, usize)> = scores
            .into_iter()
            .enumerate()
            .filter(|&(p, _)| self.rows[p].alive && self.rows[p].has_dense)
            .filter(|&(p, _)| filter.is_none() || self.passes(p, filter))
            .map(|(p, s)| (s, p))
            .collect();
        top_k(cands, k)
    }

    /// Sparse inner-product search (rows sharing no index with the query are skipped).
    pub fn sparse_search(
        &self,
        q: &Sparse,
        idf: bool,
        filter: Option<&Filter>,
        k: usize,
    ) -> Vec<(f32, usize)> {
        let weights: HashMap<i32, f32> = if idf {
            let total = self
                .rows
                .iter()
                .filter(|r| r.alive && r.sparse.is_some())
                .count() as f32;
            let mut df: HashMap<i32, f32> = q.indices.iter().map(|&i| (i, 0.0)).collect();
            for r in self.rows.iter().filter(|r| r.alive) {
                if let Some(s) = &r.sparse {
                    for i in &s.indices {
                        if let Some(c) = df.get_mut(i) {
                            *c += 1.0;
                        }
                    }
                }
            }
            df.into_iter()
                .map(|(i, n)| (i, ((total - n + 0.5) / (n + 0.5) + 1.0).ln()))
                .collect()
        } else {
            HashMap::new()
        };
        let w = |i: i32| -> f32 {
            if idf {
                weights.get(&i).copied().unwrap_or(0.0)
            } else {
                1.0
            }
        };
        let cands: Vec<(f32, usize)> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.alive)
            .filter_map(|(p, r)| r.sparse.as_ref()?.dot_weighted(q, &w).map(|s| (s, p)))
            .filter(|&(_, p)| filter.is_none() || self.passes(p, filter))
            .collect();
        top_k(cands, k)
    }
}

/// Best `k` by score (descending), ties by position (ascending).
pub(crate) fn top_k(mut cands: Vec<(f32, usize)>, k: usize) -> Vec<(f32, usize)> {
    let cmp = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if k == 0 {
        return Vec::new();
    }
    if cands.len() > k {
        cands.select_nth_unstable_by(k - 1, cmp);
        cands.truncate(k);
    }
    cands.sort_by(cmp);
    cands
}

/// Fuses two ranked lists: reciprocal rank fusion (`1 / (60 + rank)`, rank from 1) or
/// distribution-based score fusion (each list scaled by its mean ± 3 standard deviations).
pub(crate) fn fuse(
    dense: &[(f32, usize)],
    sparse: &[(f32, usize)],
    dbsf: bool,
    k: usize,
) -> Vec<(f32, usize)> {
    let mut acc: HashMap<usize, f32> = HashMap::new();
    for list in [dense, sparse] {
        if dbsf {
            let n = list.len() as f32;
            if n == 0.0 {
                continue;
            }
            let mean = list.iter().map(|x| x.0).sum::<f32>() / n;
            let var = list.iter().map(|x| (x.0 - mean).powi(2)).sum::<f32>() / n;
            let sd = var.sqrt();
            let (lo, hi) = (mean - 3.0 * sd, mean + 3.0 * sd);
            for &(s, p) in list {
                let v = if hi > lo { (s - lo) / (hi - lo) } else { 1.0 };
                *acc.entry(p).or_default() += v;
            }
        } else {
            for (rank, &(_, p)) in list.iter().enumerate() {
                *acc.entry(p).or_default() += 1.0 / (60.0 + rank as f32 + 1.0);
            }
        }
    }
    top_k(acc.into_iter().map(|(p, s)| (s, p)).collect(), k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.25).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((l2sq(&a, &b) - naive).abs() < 1e-2);
    }

    #[test]
    fn scores_and_ties() {
        let mut ns = Namespace::new(2);
        for (id, v) in [
            ("a", [1.0, 0.0]),
            ("b", [0.0, 1.0]),
            ("c", [-1.0, 0.0]),
            ("d", [1.0, 0.0]),
        ] {
            ns.put(Record {
                id: id.into(),
                vector: Some(v.to_vec()),
                sparse: None,
                metadata: None,
                data: None,
            });
        }
        let r = ns.dense_search(&[1.0, 0.0], Metric::Cosine, None, 10);
        assert_eq!(r, vec![(1.0, 0), (1.0, 3), (0.5, 1), (0.0, 2)]);
        assert!(ns.remove("a"));
        let r = ns.dense_search(&[1.0, 0.0], Metric::Cosine, None, 1);
        assert_eq!(r, vec![(1.0, 3)]);
        let e = Namespace::new(2);
        assert!(e
            .dense_search(&[1.0, 0.0], Metric::Cosine, None, 1)
            .is_empty());
    }

    #[test]
    fn rrf() {
        let f = fuse(&[(0.9, 0), (0.8, 1)], &[(5.0, 1), (4.0, 2)], false, 3);
        assert_eq!(f[0].1, 1);
        assert!((f[0].0 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-6);
    }
}
