//! Storage of one namespace (rows in insertion order, dense vectors in one f32 arena) and
//! exact search.
//!
//! Dense search is exact but avoids reading every f32 vector: each vector also has an 8-bit
//! copy (one `i8` arena, a scale per row). A query first scans the 8-bit arena (a quarter of
//! the memory traffic) and gets, for every row, an interval that provably contains the score
//! the f32 kernel would compute. Only rows whose upper bound reaches the k-th best lower bound
//! are scored again in f32, with the same kernel as a full scan, so results, scores and tie
//! order are the same as scoring every row in f32.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

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
    /// 8-bit copy of `dense` (same layout).
    quant: Vec<i8>,
    /// What the pre-scan reads per row (parallel to `rows`).
    scan: Vec<ScanRow>,
    dead: usize,
}

/// Per-row facts the 8-bit pre-scan needs, kept apart from [`Row`] so a scan reads 32 bytes
/// per row besides the vector.
#[derive(Clone, Copy, Debug, Default)]
struct ScanRow {
    /// Alive with a dense vector.
    live: bool,
    /// The f32 norm, as the exact kernel uses it.
    norm: f32,
    /// Σ v² in f64.
    sq_norm: f64,
    /// Quantisation step: `v[i] ≈ scale * quant[i]`.
    scale: f32,
    /// max |v[i] − scale * quant[i]| (exact; infinite when not representable).
    err: f64,
    /// Σ |quant[i]|.
    abs: u32,
}

/// Quantises `v` into `out`: `(scale, max error, Σ|q|)`.
fn quantise(v: &[f32], out: &mut [i8]) -> (f32, f64, u32) {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        out.fill(0);
        let err = if max == 0.0 { 0.0 } else { f64::INFINITY };
        return (0.0, err, 0);
    }
    let scale = max / 127.0;
    let (mut err, mut abs) = (0.0f64, 0u32);
    for (o, &x) in out.iter_mut().zip(v) {
        let q = (x / scale).round().clamp(-127.0, 127.0);
        // `q` is an integer in [-127, 127].
        *o = q as i8;
        abs += u32::from(o.unsigned_abs());
        // Exact in f64: an f32 times a 7-bit integer, then one rounding of a tiny difference.
        err = err.max((f64::from(x) - f64::from(scale) * f64::from(q)).abs());
    }
    if !err.is_finite() || scale == 0.0 {
        err = f64::INFINITY;
    }
    (scale, err, abs)
}

/// Integer dot product of two 8-bit vectors (32 lanes; compiles to `pmaddwd` on SSE2).
fn idot(a: &[i8], b: &[i8]) -> i64 {
    let mut acc = [0i32; 32];
    let ca = a.chunks_exact(32);
    let cb = b.chunks_exact(32);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..32 {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    // Each lane sums at most dim / 32 products of at most 127², far from i32::MAX for the
    // dimensions configs accept (at most 10 000); the total is widened.
    let mut s: i64 = acc.iter().map(|&x| i64::from(x)).sum();
    for (x, y) in ra.iter().zip(rb) {
        s += i64::from(*x) * i64::from(*y);
    }
    s
}

/// An f64 ordered by `total_cmp`, for the bounded heaps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key(f64);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
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

/// Namespaces at least this large (rows * dim) are searched through the 8-bit pre-scan.
const PRESCAN_MIN: usize = 1 << 16;

/// At most this many scan threads.
const MAX_THREADS: usize = 8;

/// Unit roundoff of f32.
const U32: f64 = 1.0 / 16_777_216.0;

impl Metric {
    /// Whether a ranking key this far out still maps distinct keys to distinct f32 scores
    /// (away from the cosine clamp at -1 and from f32 overflow).
    fn key_is_safe(self, key: f64) -> bool {
        match self {
            Metric::Cosine => key > -1.0 + 1e-3,
            Metric::Euclidean | Metric::DotProduct => key.abs() < 1e30,
        }
    }
}

/// Query-side constants of the pre-scan bounds.
///
/// The ranking key is a monotone image of the f32 score: the cosine itself, the dot
/// product, or minus the squared distance. For each row the 8-bit dot product gives the true
/// (real-number) dot product within a rigorous error bound; widening that by the rounding
/// error of the f32 kernel and by a separation margin gives `[lo, hi]` such that a row whose
/// `hi` is below another row's `lo` has a strictly lower f32 score.
#[derive(Debug)]
struct Bounds {
    metric: Metric,
    dim: f64,
    qscale: f64,
    qerr: f64,
    qabs: f64,
    qnorm: f32,
    q_sq_norm: f64,
}

impl Bounds {
    fn key_interval(&self, r: &ScanRow, idot: i64) -> (f64, f64) {
        let rscale = f64::from(r.scale);
        let approx = self.qscale * rscale * idot as f64;
        // q·v − q̃·ṽ = Σ q̃(v−ṽ) + Σ (q−q̃)ṽ + Σ (q−q̃)(v−ṽ).
        let quant = r.err * self.qscale * self.qabs
            + self.qerr * rscale * f64::from(r.abs)
            + self.dim * self.qerr * r.err;
        let norms = f64::from(self.qnorm) * f64::from(r.norm);
        // The f32 kernels' rounding, with a factor 2 to spare; plus f64 noise.
        let kernel = (self.dim + 64.0) * 2.0 * U32;
        // f64 rounding, and the absolute error of f32 subnormals in the kernels.
        let noise = 1e-12 * (approx.abs() + quant + norms) + self.dim * 1e-37;
        let (lo, hi) = match self.metric {
            Metric::Cosine => {
                let denom = f64::from(self.qnorm * r.norm);
                if denom == 0.0 {
                    // The kernel gives exactly 0.5, the score of a zero cosine.
                    (0.0, 0.0)
                } else {
                    let slack = quant + kernel * norms * 1.001 + noise;
                    let lo = ((approx - slack) / denom).clamp(-1.0, 1.0);
                    let hi = ((approx + slack) / denom).clamp(-1.0, 1.0);
                    // The division, and distinct keys giving distinct f32 scores.
                    (lo - 4.0 * U32, hi + 4.0 * U32)
                }
            }
            Metric::DotProduct => {
                let slack = quant + kernel * norms * 1.001 + noise;
                let (lo, hi) = (approx - slack, approx + slack);
                let sep = 4.0 * U32 * (1.0 + lo.abs().max(hi.abs()));
                (lo - sep, hi + sep)
            }
            Metric::Euclidean => {
                let base = self.q_sq_norm + r.sq_norm;
                let slack = quant + 1e-12 * base + noise;
                let l2_lo = (base - 2.0 * (approx + slack)).max(0.0) * (1.0 - kernel) - noise;
                let l2_hi = (base - 2.0 * (approx - slack)) * (1.0 + kernel) + noise;
                let sep = 8.0 * U32 * (1.0 + l2_hi);
                (-(l2_hi + sep), -(l2_lo - sep))
            }
        };
        (
            if lo.is_nan() { f64::NEG_INFINITY } else { lo },
            if hi.is_nan() { f64::INFINITY } else { hi },
        )
    }
}

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
                self.scan.push(ScanRow::default());
                self.dense.resize(self.dense.len() + self.dim, 0.0);
                self.quant.resize(self.quant.len() + self.dim, 0);
                self.ids.insert(rec.id, p);
                p
            }
        };
        match &rec.vector {
            Some(v) if v.len() == self.dim => self.write_dense(pos, v),
            _ => {
                self.dense[pos * self.dim..(pos + 1) * self.dim].fill(0.0);
                self.quant[pos * self.dim..(pos + 1) * self.dim].fill(0);
                self.scan[pos] = ScanRow::default();
                self.rows[pos].has_dense = false;
            }
        }
    }

    /// Stores `v` (of length `dim`) at `pos` in both arenas.
    fn write_dense(&mut self, pos: usize, v: &[f32]) {
        let range = pos * self.dim..(pos + 1) * self.dim;
        self.dense[range.clone()].copy_from_slice(v);
        let (scale, err, abs) = quantise(v, &mut self.quant[range]);
        let n = norm(v);
        self.rows[pos].norm = n;
        self.rows[pos].has_dense = true;
        self.scan[pos] = ScanRow {
            live: true,
            norm: n,
            sq_norm: v.iter().map(|&x| f64::from(x) * f64::from(x)).sum(),
            scale,
            err,
            abs,
        };
    }

    /// Mutable access to a live row's non-vector fields.
    pub fn row_mut(&mut self, pos: usize) -> Option<&mut Row> {
        self.rows.get_mut(pos).filter(|r| r.alive)
    }

    /// Replaces the dense vector of a live row.
    pub fn set_dense(&mut self, pos: usize, v: &[f32]) {
        if v.len() != self.dim || pos >= self.rows.len() || !self.rows[pos].alive {
            return;
        }
        self.write_dense(pos, v);
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
        self.scan[p].live = false;
        self.dead += 1;
        if self.dead > 1024 && self.dead > self.len() {
            self.compact();
        }
        true
    }

    fn compact(&mut self) {
        let old_rows = std::mem::take(&mut self.rows);
        let old_dense = std::mem::take(&mut self.dense);
        let old_quant = std::mem::take(&mut self.quant);
        let old_scan = std::mem::take(&mut self.scan);
        self.ids.clear();
        self.dead = 0;
        for ((p, r), sc) in old_rows.into_iter().enumerate().zip(old_scan) {
            if r.alive {
                let np = self.rows.len();
                self.ids.insert(r.id.clone(), np);
                self.rows.push(r);
                self.scan.push(sc);
                let range = p * self.dim..(p + 1) * self.dim;
                self.dense.extend_from_slice(&old_dense[range.clone()]);
                self.quant.extend_from_slice(&old_quant[range]);
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
        if n == 0 || self.dim == 0 || q.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let qnorm = norm(q);
        // The pre-scan pays off when k is small next to the namespace.
        if n * self.dim >= PRESCAN_MIN && k.saturating_mul(8) <= self.len() {
            if let Some(r) = self.prescan_search(q, qnorm, metric, filter, k) {
                return r;
            }
        }
        self.full_search(q, qnorm, metric, filter, k)
    }

    /// Scores every row in f32.
    fn full_search(
        &self,
        q: &[f32],
        qnorm: f32,
        metric: Metric,
        filter: Option<&Filter>,
        k: usize,
    ) -> Vec<(f32, usize)> {
        let dim = self.dim;
        let score_range = |start: usize, end: usize| -> Vec<(f32, usize)> {
            (start..end)
                .filter(|&p| self.scan[p].live)
                .map(|p| {
                    let v = &self.dense[p * dim..(p + 1) * dim];
                    (dense_score(metric, q, qnorm, v, self.scan[p].norm), p)
                })
                .filter(|&(_, p)| filter.is_none() || self.passes(p, filter))
                .collect()
        };
        let cands = self.split(score_range);
        top_k(cands.into_iter().flatten().collect(), k)
    }

    /// Runs `f` over `[start, end)` slices of the rows, on several threads when the
    /// namespace is large.
    fn split<T: Send>(&self, f: impl Fn(usize, usize) -> T + Sync) -> Vec<T> {
        let n = self.rows.len();
        let threads = std::thread::available_parallelism()
            .map(|t| t.get())
            .unwrap_or(1)
            .min(MAX_THREADS);
        if threads <= 1 || n * self.dim < PARALLEL_MIN {
            return vec![f(0, n)];
        }
        let chunk = n.div_ceil(threads);
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (start, end) = ((t * chunk).min(n), ((t + 1) * chunk).min(n));
                    s.spawn(move || f(start, end))
                })
                .collect();
            // A scan never panics; if a thread did, run its slice again here.
            handles
                .into_iter()
                .enumerate()
                .map(|(t, h)| {
                    h.join()
                        .unwrap_or_else(|_| f((t * chunk).min(n), ((t + 1) * chunk).min(n)))
                })
                .collect()
        })
    }

    /// Exact top-k through the 8-bit pre-scan; `None` when the bounds cannot decide safely
    /// (the caller then scores every row).
    fn prescan_search(
        &self,
        q: &[f32],
        qnorm: f32,
        metric: Metric,
        filter: Option<&Filter>,
        k: usize,
    ) -> Option<Vec<(f32, usize)>> {
        let dim = self.dim;
        let mut qq = vec![0i8; dim];
        let (qscale, qerr, qabs) = quantise(q, &mut qq);
        if !qerr.is_finite() || !qnorm.is_finite() {
            return None;
        }
        let bounds = Bounds {
            metric,
            dim: dim as f64,
            qscale: f64::from(qscale),
            qerr,
            qabs: f64::from(qabs),
            qnorm,
            q_sq_norm: q.iter().map(|&x| f64::from(x) * f64::from(x)).sum(),
        };
        // Per slice: the k best lower bounds among passing rows, and every passing row whose
        // upper bound reached the slice's k-th lower bound when it was seen.
        let parts = self.split(|start, end| {
            let mut best: BinaryHeap<Reverse<Key>> = BinaryHeap::with_capacity(k + 1);
            let mut cands: Vec<(f64, usize)> = Vec::new();
            for p in start..end {
                let sr = &self.scan[p];
                if !sr.live {
                    continue;
                }
                let dot = idot(&qq, &self.quant[p * dim..(p + 1) * dim]);
                let (lo, hi) = bounds.key_interval(sr, dot);
                if best.len() == k && best.peek().is_some_and(|m| hi < m.0 .0) {
                    continue;
                }
                if filter.is_some() && !self.passes(p, filter) {
                    continue;
                }
                cands.push((hi, p));
                best.push(Reverse(Key(lo)));
                if best.len() > k {
                    best.pop();
                }
            }
            (best.into_vec(), cands)
        });
        let mut lows: Vec<Key> = parts
            .iter()
            .flat_map(|(b, _)| b.iter().map(|r| r.0))
            .collect();
        let threshold = if lows.len() >= k {
            let (_, kth, _) = lows.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
            kth.0
        } else {
            f64::NEG_INFINITY
        };
        if threshold != f64::NEG_INFINITY && !metric.key_is_safe(threshold) {
            return None;
        }
        let rescored: Vec<(f32, usize)> = parts
            .iter()
            .flat_map(|(_, c)| c.iter())
            .filter(|&&(hi, _)| hi >= threshold)
            .map(|&(_, p)| {
                let v = &self.dense[p * dim..(p + 1) * dim];
                (dense_score(metric, q, qnorm, v, self.scan[p].norm), p)
            })
            .collect();
        Some(top_k(rescored, k))
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

    fn rng(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed | 1;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    fn put(ns: &mut Namespace, id: usize, v: Vec<f32>, group: usize) {
        ns.put(Record {
            id: format!("v{id}"),
            vector: Some(v),
            sparse: None,
            metadata: Some(serde_json::json!({ "g": group })),
            data: None,
        });
    }

    /// The pre-scan returns exactly what scoring every row in f32 returns: same rows, same
    /// f32 scores, same tie order, with filters, deletions, duplicates, zero vectors,
    /// near-duplicates and values of very different magnitudes.
    #[test]
    fn prescan_matches_full_scan() {
        let dim = 48;
        let mut r = rng(9);
        let mut ns = Namespace::new(dim);
        let base: Vec<f32> = (0..dim).map(|_| r()).collect();
        for i in 0..3000 {
            let v: Vec<f32> = match i % 7 {
                // Exact duplicates of one vector: ties everywhere.
                0 => base.clone(),
                // Near-duplicates: scores closer than the 8-bit error.
                1 => base.iter().map(|x| x + r() * 1e-4).collect(),
                2 => vec![0.0; dim],
                3 => (0..dim).map(|_| r() * 1e6).collect(),
                4 => (0..dim).map(|_| r() * 1e-6).collect(),
                _ => (0..dim).map(|_| r()).collect(),
            };
            put(&mut ns, i, v, i % 5);
        }
        for i in (0..3000).step_by(11) {
            ns.remove(&format!("v{i}"));
        }
        assert!(ns.len() * dim >= PRESCAN_MIN);
        let filter = upstash_vector::filter::parse("g = 2 OR g = 3")
            .expect("filter")
            .expect("not empty");
        let queries: Vec<Vec<f32>> = vec![
            base.clone(),
            base.iter().map(|x| -x).collect(),
            (0..dim).map(|_| r()).collect(),
            (0..dim).map(|_| r() * 1e5).collect(),
            vec![0.0; dim],
        ];
        for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
            // The pre-scan decides on its own for ordinary queries (no fallback).
            let q = &queries[2];
            assert!(ns.prescan_search(q, norm(q), metric, None, 10).is_some());
            assert!(ns
                .prescan_search(q, norm(q), metric, Some(&filter), 10)
                .is_some());
            for q in &queries {
                for k in [1, 3, 10, 100] {
                    for f in [None, Some(&filter)] {
                        let qnorm = norm(q);
                        let full = ns.full_search(q, qnorm, metric, f, k);
                        let fast = ns.dense_search(q, metric, f, k);
                        assert_eq!(fast.len(), full.len());
                        for (a, b) in fast.iter().zip(&full) {
                            assert_eq!(a.1, b.1, "{metric:?} k={k}");
                            assert_eq!(a.0.to_bits(), b.0.to_bits());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn quantise_error_is_exact_bound() {
        let mut r = rng(3);
        let v: Vec<f32> = (0..100).map(|_| r() * 3.0).collect();
        let mut out = vec![0i8; 100];
        let (scale, err, abs) = quantise(&v, &mut out);
        let mut max = 0.0f64;
        for (x, q) in v.iter().zip(&out) {
            max = max.max((f64::from(*x) - f64::from(scale) * f64::from(*q)).abs());
        }
        assert_eq!(max, err);
        assert!(err <= f64::from(scale) / 2.0 * 1.0001);
        assert_eq!(
            abs,
            out.iter().map(|q| u32::from(q.unsigned_abs())).sum::<u32>()
        );
        let qa: Vec<i8> = (0..70).map(|i| (i % 255 - 127) as i8).collect();
        let naive: i64 = qa.iter().map(|&x| i64::from(x) * i64::from(x)).sum();
        assert_eq!(idot(&qa, &qa), naive);
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
